#include "engine/merging_iterator.h"

#include <algorithm>
#include <string>

namespace fsdb {
namespace {

int compare_positions(const InternalIterator& a, const InternalIterator& b) {
  return compare_internal_keys(a.user_key(), pack_sequence_and_kind(a.sequence(), a.kind()),
                               b.user_key(), pack_sequence_and_kind(b.sequence(), b.kind()));
}

class MergingIterator final : public InternalIterator {
 public:
  explicit MergingIterator(std::vector<std::unique_ptr<InternalIterator>> children)
      : children_(std::move(children)) {
    heap_.reserve(children_.size());
  }

  bool valid() const override { return !heap_.empty() && status_.ok(); }

  void seek_to_first() override {
    for (auto& c : children_) c->seek_to_first();
    rebuild(Direction::kForward);
  }
  void seek_to_last() override {
    for (auto& c : children_) c->seek_to_last();
    rebuild(Direction::kBackward);
  }
  void seek(std::string_view user_key, SequenceNumber seq) override {
    for (auto& c : children_) c->seek(user_key, seq);
    rebuild(Direction::kForward);
  }
  void seek_for_prev(std::string_view user_key, SequenceNumber seq) override {
    for (auto& c : children_) c->seek_for_prev(user_key, seq);
    rebuild(Direction::kBackward);
  }

  void next() override {
    if (direction_ != Direction::kForward) {
      turn(Direction::kForward);
      return;
    }
    InternalIterator* top = heap_.front();
    top->next();
    replace_top(top);
  }

  void prev() override {
    if (direction_ != Direction::kBackward) {
      turn(Direction::kBackward);
      return;
    }
    InternalIterator* top = heap_.front();
    top->prev();
    replace_top(top);
  }

  std::string_view user_key() const override { return heap_.front()->user_key(); }
  SequenceNumber sequence() const override { return heap_.front()->sequence(); }
  ValueKind kind() const override { return heap_.front()->kind(); }
  std::string_view value() const override { return heap_.front()->value(); }
  Status status() const override { return status_; }

 private:
  enum class Direction { kForward, kBackward };

  // True if a should sit below b in the heap (b is closer to the front).
  bool heap_less(const InternalIterator* a, const InternalIterator* b) const {
    const int c = compare_positions(*a, *b);
    return direction_ == Direction::kForward ? c > 0 : c < 0;
  }

  // Collects errors; an errored child ends iteration with its status.
  bool admit(InternalIterator* c) {
    if (c->valid()) return true;
    if (status_.ok() && !c->status().ok()) status_ = c->status();
    return false;
  }

  void rebuild(Direction direction) {
    direction_ = direction;
    status_ = Status::OK();
    heap_.clear();
    for (auto& c : children_) {
      if (admit(c.get())) heap_.push_back(c.get());
    }
    std::make_heap(
        heap_.begin(), heap_.end(),
        [this](const InternalIterator* a, const InternalIterator* b) { return heap_less(a, b); });
  }

  // Changes direction and takes one step: every child but the current one
  // moves to the first entry past the current key in the new direction, the
  // current one steps, and the heap is rebuilt for the new direction.
  void turn(Direction direction) {
    const std::string key(user_key());
    const SequenceNumber seq = sequence();
    const ValueKind k = kind();
    const bool forward = direction == Direction::kForward;
    InternalIterator* current = heap_.front();
    for (auto& c : children_) {
      if (c.get() == current) continue;
      if (forward) {
        c->seek(key, seq);
      } else {
        c->seek_for_prev(key, seq);
      }
      if (c->valid() && c->user_key() == key && c->sequence() == seq && c->kind() == k) {
        forward ? c->next() : c->prev();
      }
    }
    forward ? current->next() : current->prev();
    rebuild(direction);
  }

  // The front child has moved: restore the heap.
  void replace_top(InternalIterator* top) {
    if (heap_.size() == 1) {  // the common end of a merge: one source left
      if (!admit(top)) heap_.clear();
      return;
    }
    auto cmp = [this](const InternalIterator* a, const InternalIterator* b) {
      return heap_less(a, b);
    };
    std::pop_heap(heap_.begin(), heap_.end(), cmp);
    heap_.pop_back();
    if (admit(top)) {
      heap_.push_back(top);
      std::push_heap(heap_.begin(), heap_.end(), cmp);
    }
  }

  std::vector<std::unique_ptr<InternalIterator>> children_;
  std::vector<InternalIterator*> heap_;
  Direction direction_ = Direction::kForward;
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> new_merging_iterator(
    std::vector<std::unique_ptr<InternalIterator>> children) {
  if (children.size() == 1) return std::move(children.front());
  return std::make_unique<MergingIterator>(std::move(children));
}

}  // namespace fsdb
