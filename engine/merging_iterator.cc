#include "engine/merging_iterator.h"

#include <algorithm>
#include <string>

namespace fsdb {
namespace {

// A child with its position cached: heap comparisons read these fields
// instead of making three virtual calls per side. Refreshed after every move
// of the child (the views stay valid until it moves again).
struct Child {
  std::unique_ptr<InternalIterator> iter;
  std::string_view user_key;
  uint64_t packed = 0;  // sequence << 8 | kind
  bool valid = false;

  void refresh() {
    valid = iter->valid();
    if (valid) {
      user_key = iter->user_key();
      packed = pack_sequence_and_kind(iter->sequence(), iter->kind());
    }
  }
};

class MergingIterator final : public InternalIterator {
 public:
  explicit MergingIterator(std::vector<std::unique_ptr<InternalIterator>> children) {
    children_.resize(children.size());
    for (size_t i = 0; i < children.size(); ++i) children_[i].iter = std::move(children[i]);
    heap_.reserve(children_.size());
  }

  bool valid() const override { return !heap_.empty() && status_.ok(); }

  void seek_to_first() override {
    for (auto& c : children_) c.iter->seek_to_first();
    rebuild(Direction::kForward);
  }
  void seek_to_last() override {
    for (auto& c : children_) c.iter->seek_to_last();
    rebuild(Direction::kBackward);
  }
  void seek(std::string_view user_key, SequenceNumber seq) override {
    for (auto& c : children_) c.iter->seek(user_key, seq);
    rebuild(Direction::kForward);
  }
  void seek_for_prev(std::string_view user_key, SequenceNumber seq) override {
    for (auto& c : children_) c.iter->seek_for_prev(user_key, seq);
    rebuild(Direction::kBackward);
  }

  void next() override {
    if (direction_ != Direction::kForward) {
      turn(Direction::kForward);
      return;
    }
    Child* top = heap_.front();
    top->iter->next();
    replace_top(top);
  }

  void prev() override {
    if (direction_ != Direction::kBackward) {
      turn(Direction::kBackward);
      return;
    }
    Child* top = heap_.front();
    top->iter->prev();
    replace_top(top);
  }

  std::string_view user_key() const override { return heap_.front()->user_key; }
  SequenceNumber sequence() const override { return heap_.front()->packed >> 8; }
  ValueKind kind() const override { return static_cast<ValueKind>(heap_.front()->packed & 0xff); }
  std::string_view value() const override { return heap_.front()->iter->value(); }
  Status status() const override { return status_; }

 private:
  enum class Direction { kForward, kBackward };

  // True if a must come out of the heap before b.
  bool before(const Child* a, const Child* b) const {
    const int c = compare_internal_keys(a->user_key, a->packed, b->user_key, b->packed);
    return direction_ == Direction::kForward ? c < 0 : c > 0;
  }

  // Refreshes a child that moved; false (with any error collected) if it is
  // exhausted.
  bool admit(Child* c) {
    c->refresh();
    if (c->valid) return true;
    if (status_.ok() && !c->iter->status().ok()) status_ = c->iter->status();
    return false;
  }

  // Moves heap_[i] down to its place.
  void sift_down(size_t i) {
    const size_t n = heap_.size();
    Child* const moving = heap_[i];
    for (;;) {
      size_t child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && before(heap_[child + 1], heap_[child])) ++child;
      if (!before(heap_[child], moving)) break;
      heap_[i] = heap_[child];
      i = child;
    }
    heap_[i] = moving;
  }

  void rebuild(Direction direction) {
    direction_ = direction;
    status_ = Status::OK();
    heap_.clear();
    for (auto& c : children_) {
      if (admit(&c)) heap_.push_back(&c);
    }
    for (size_t i = heap_.size() / 2; i-- > 0;) sift_down(i);
  }

  // Changes direction and takes one step: every child but the current one
  // moves to the first entry past the current key in the new direction, the
  // current one steps, and the heap is rebuilt for the new direction.
  void turn(Direction direction) {
    const std::string key(user_key());
    const SequenceNumber seq = sequence();
    const ValueKind k = kind();
    const bool forward = direction == Direction::kForward;
    Child* current = heap_.front();
    for (auto& c : children_) {
      InternalIterator* it = c.iter.get();
      if (&c == current) continue;
      if (forward) {
        it->seek(key, seq);
      } else {
        it->seek_for_prev(key, seq);
      }
      if (it->valid() && it->user_key() == key && it->sequence() == seq && it->kind() == k) {
        forward ? it->next() : it->prev();
      }
    }
    forward ? current->iter->next() : current->iter->prev();
    rebuild(direction);
  }

  // The front child has moved: sift it down to its new place, or drop it.
  // In a merge one source often supplies many entries in a row; then the
  // front stays the front after one or two comparisons.
  void replace_top(Child* top) {
    if (!admit(top)) {
      heap_.front() = heap_.back();
      heap_.pop_back();
      if (heap_.empty()) return;
    }
    sift_down(0);
  }

  std::vector<Child> children_;
  std::vector<Child*> heap_;
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
