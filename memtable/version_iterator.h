// MemtableVersionIterator: the engine's view of a memtable, every version in
// internal order (user key ascending, sequence descending), as an
// InternalIterator. Forward steps follow level 0; prev() and seek_to_last()
// search for the predecessor from the top level, O(log n), as there are no
// backward links.
//
// Thread safety: one thread at a time; concurrent writers to the list are fine
// (a version added while iterating may or may not be seen).
// Ownership: shares the list's core, so it stays valid even after the list (or
// FrozenMemtable) it came from is destroyed.
#pragma once

#include <memory>

#include "memtable/skiplist_core.h"
#include "util/internal_iterator.h"

namespace fsdb::memtable_detail {

class MemtableVersionIterator final : public InternalIterator {
 public:
  explicit MemtableVersionIterator(std::shared_ptr<const SkipListCore> core)
      : core_(std::move(core)) {}

  bool valid() const override { return node_ != nullptr; }
  void seek_to_first() override {
    core_->start_lanes(core_->first_lane(), core_->first_far_lane(), &lanes_);
    arrive(core_->first());
  }
  void seek_to_last() override {
    lanes_ = WalkLanes{};
    node_ = core_->find_last();
  }
  void seek(std::string_view user_key, SequenceNumber seq) override {
    const Node* lane = nullptr;
    const Node* far = nullptr;
    const Node* node = core_->find_greater_or_equal(
        user_key, pack_sequence_and_kind(seq, kValueKindForSeek), &lane, &far);
    core_->start_lanes(lane, far, &lanes_);
    arrive(node);
  }
  void seek_for_prev(std::string_view user_key, SequenceNumber seq) override {
    // The last version <= (key, seq): the one before the first version > it.
    // (key, seq, kTombstone) is the largest internal key with this (key, seq).
    const uint64_t packed = pack_sequence_and_kind(seq, ValueKind::kTombstone);
    const Node* n = core_->find_greater_or_equal(user_key, packed);
    lanes_ = WalkLanes{};
    if (n != nullptr && compare_node(n, user_key, packed) == 0) {
      node_ = n;
    } else {
      node_ = core_->find_less_than(user_key, packed);
    }
  }
  void next() override { arrive(core_->next(node_, 0)); }
  void prev() override { node_ = core_->find_less_than(node_->user_key(), node_->packed()); }

  std::string_view user_key() const override { return node_->user_key(); }
  SequenceNumber sequence() const override { return node_->sequence(); }
  ValueKind kind() const override { return node_->kind(); }
  std::string_view value() const override { return node_->value(); }
  Status status() const override { return Status::OK(); }

 private:
  void arrive(const Node* node) {
    node_ = node;
    if (node_ != nullptr) core_->prefetch_ahead(node_, &lanes_);
  }

  std::shared_ptr<const SkipListCore> core_;
  const Node* node_ = nullptr;
  // Ahead of a forward walk (SkipListCore::prefetch_ahead()); null after a
  // backward positioning, which only costs the walk its lanes.
  WalkLanes lanes_;
};

}  // namespace fsdb::memtable_detail
