// SkipListCore: the lock-free multi-version skip list behind ConcurrentSkipList,
// FrozenMemtable, SkipListSnapshot and the engine's version cursor.
//
// Entries are versions (user key, sequence, kind) in internal order (user key
// ascending, then sequence descending; util/internal_key.h). A write commits
// with one CAS at level 0; the upper levels are linked afterwards, best effort,
// recomputing only the level whose CAS failed. Each thread keeps the splice of
// its last write (prev/next at every level) and starts the next search from it,
// so ascending and nearby writes skip most of the search.
//
// The seed API's sequence numbers come from one counter; each writer shows the
// sequence it holds, until its write commits, in its arena shard. A snapshot
// reads the counter, then waits for the shards holding a sequence at or below
// it, so every sequence it covers is settled (a snapshot never sees a write
// that commits after it). A writer touches one shared cache line, the
// counter; the snapshot, the rarer operation, reads every shard.
//
// Thread safety: any number of concurrent writers and readers; seal() may run
// concurrently with writers. Nodes are never unlinked or freed before the core
// is destroyed, which is what makes lock-free reads safe.
// Ownership: shared (std::shared_ptr) by the live list, its FrozenMemtable,
// snapshots and cursors; the arena and every node die with the last owner.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "fsdb/skiplist.h"
#include "memtable/arena.h"
#include "memtable/skiplist_node.h"
#include "util/internal_key.h"

namespace fsdb::memtable_detail {

// What a write does when the list already holds versions of its key.
enum class WriteMode {
  kAddVersion,      // engine: add (key, seq, kind); only an identical (key, seq, kind) conflicts
  kInsertIfAbsent,  // seed insert: only if no version of the key exists
  kTombstoneIfLive  // seed remove: only if the newest version is a value
};

enum class WriteStatus { kCommitted, kRejected, kSealed, kOutOfMemory };

struct WriteOutcome {
  WriteStatus status;
  // kInsertIfAbsent rejected: the newest existing version of the key.
  const Node* existing = nullptr;
};

// The packed trailer that sorts before every real version of a key.
inline constexpr uint64_t kFrontOfKeyPacked = ~uint64_t{0};

class SkipListCore {
 public:
  // max_arena_blocks (at most ShardedArena::kMaxBlockNumber) is lowered only
  // by tests of running out.
  explicit SkipListCore(const SkipListOptions& options,
                        uint32_t max_arena_blocks = ShardedArena::kMaxBlockNumber);
  SkipListCore(const SkipListCore&) = delete;
  SkipListCore& operator=(const SkipListCore&) = delete;

  // kAddVersion uses (seq, kind); the seed modes take a fresh sequence from the
  // list's counter and ignore both.
  WriteOutcome write(WriteMode mode, std::string_view key, std::string_view value, ValueKind kind,
                     SequenceNumber seq);

  // First node >= (key, packed), or null. With `lane`, also the first node at
  // or after it that is linked on level 1 (or null): where a walk along level
  // 0 from the result can start its lane (see prefetch_ahead()); with `far`,
  // the first on level 2, where it can start its far lanes.
  const Node* find_greater_or_equal(std::string_view key, uint64_t packed,
                                    const Node** lane = nullptr, const Node** far = nullptr) const;
  // Last node < (key, packed), or null if there is none.
  const Node* find_less_than(std::string_view key, uint64_t packed) const;
  const Node* find_last() const;
  const Node* first() const { return next(head_, 0); }
  // The first node linked on level 1, or null: the lane of a walk from first()
  // (see start_lanes()).
  const Node* first_lane() const { return next(head_, 1); }

  // A walk along level 0 visits nodes in key order, which is not the order
  // they were allocated in: every step is a cache miss, and the next one can
  // only start once it is over. Called on arriving at `x`, prefetch_ahead()
  // requests the memory of x's successor, so that whatever the walker does
  // with x overlaps that miss. It also keeps two lanes ahead of the walk: the
  // first node of level 1 at or after x and the next one, both requested.
  // When the walk reaches the first, the lanes move one level-1 step on (a
  // second chain of misses, running about two nodes ahead of the walk), and
  // the node after the new first lane is requested too. Most nodes are then
  // in cache or on their way when the walk gets there: a full walk takes
  // half the time. (Nodes are never unlinked, so the walk always reaches
  // the first lane.) start_lanes() starts the lanes at a node of level 1 at
  // or after the walk's start (null: no lanes); it reads that node's links.
  //
  // A chain of level-1 lanes advances one step per memory latency, two nodes;
  // far lanes on level 2 advance four. Up to three nodes of level 2 ahead are
  // kept requested; when the walk reaches the first, the newest of the others
  // (requested a far step ago) gives the next one and its own level-0 and
  // level-1 successors, and the level-1 successor requested at the previous
  // far step gives its successors on levels 0 and 1. Most nodes are then
  // requested five to ten nodes before the walk gets to them.
  void start_lanes(const Node* lane, WalkLanes* lanes) const;
  // Also starts far lanes at `far`, a node of level 2 at or after `lane`
  // that the caller has just read (the head's level-2 successor).
  void start_lanes(const Node* lane, const Node* far, WalkLanes* lanes) const;
  const Node* first_far_lane() const { return next(head_, 2); }
  void prefetch_ahead(const Node* x, WalkLanes* lanes) const;
  // The successor of `n` at `level` (acquire: see Node::next_ref).
  const Node* next(const Node* n, int level) const { return arena_.node_at(n->next_ref(level)); }

  // Newest version of `key` with sequence <= seq.
  const Node* find_visible(std::string_view key, SequenceNumber seq) const {
    const Node* n = find_greater_or_equal(key, pack_sequence_and_kind(seq, kValueKindForSeek));
    return (n != nullptr && n->user_key() == key) ? n : nullptr;
  }

  // find_visible() of every key, into out[i] (null: none). The searches run
  // interleaved, a few at a time: each step compares a node requested one
  // round earlier and requests the next, so the cache misses of several
  // searches overlap instead of following one another.
  void find_visible_many(std::span<const std::string_view> keys, SequenceNumber seq,
                         const Node** out) const;

  // The seed API's snapshot sequence: every seed write with a sequence at or
  // below it has committed or given up.
  SequenceNumber stable_sequence() const;

  // Refuses every later write and waits until the writers inside have left.
  void seal_and_wait();
  // Acquire: pairs with the release stores of the flag (a notification only).
  bool is_sealed() const { return sealed_.load(std::memory_order_acquire); }

  static double ratio(double a, double b) { return b == 0 ? 0.0 : a / b; }
  size_t memory_usage() const { return arena_.memory_usage(); }
  size_t approximate_memory_usage() const { return arena_.approximate_memory_usage(); }
  size_t memory_reserved() const { return arena_.memory_reserved(); }
  size_t live_entries() const;
  size_t entry_count() const;
  uint64_t key_bytes() const;
  uint64_t value_bytes() const;
  // Derived statistics, shared by ConcurrentSkipList and FrozenMemtable.
  double memory_utilization() const {
    return ratio(static_cast<double>(memory_usage()), static_cast<double>(memory_reserved()));
  }
  size_t memory_idle() const {
    const size_t reserved = memory_reserved();
    const size_t used = memory_usage();
    return reserved > used ? reserved - used : 0;
  }
  double avg_key_size() const {
    return ratio(static_cast<double>(key_bytes()), static_cast<double>(entry_count()));
  }
  double avg_value_size() const {
    return ratio(static_cast<double>(value_bytes()), static_cast<double>(entry_count()));
  }
  size_t total_attempts() const;
  size_t max_memory_bytes() const { return max_memory_bytes_; }
  size_t max_entries() const { return max_entries_; }
  bool is_under_backpressure() const;

  // Test hook: checks that level 0 is strictly ordered and that every upper
  // level is an ordered subsequence of the level below. Single-threaded use.
  bool check_invariants(std::string* why) const;

 private:
  struct Splice;
  WriteOutcome write_inside(ArenaShard& shard, WriteMode mode, std::string_view key,
                            std::string_view value, ValueKind kind, SequenceNumber seq);
  Node* next(Node* n, int level) const { return arena_.node_at(n->next_ref(level)); }
  void find_splice(Splice& splice, std::string_view key, uint64_t packed) const;
  bool splice_brackets(const Splice& splice, int level, std::string_view key,
                       uint64_t packed) const;
  // Starting at `before` (< key) on `level`, finds prev < (key, packed) <= next,
  // stopping early at `after` (known to be >= key, or null), into `splice`.
  void find_splice_for_level(std::string_view key, uint64_t packed, Node* before, const Node* after,
                             int level, Splice& splice) const;
  // Prefetches the successors of x on the few levels below `level` (n: x's
  // successor at `level`, being fetched already).
  void prefetch_column(const Node* x, const Node* n, int level) const;
  // Far lanes (prefetch_ahead()): requests the level-0 and level-1
  // successors of `far`, a far lane requested a far step ago.
  void fan_out(const Node* far, WalkLanes* lanes) const;
  // The walk has reached lanes->far[0].
  void far_step(WalkLanes* lanes) const;
  // Reserves room for one entry of `node_bytes` under the limits; false (and the
  // list auto-sealed) when a limit is already reached.
  bool admit(size_t node_bytes, bool* reached_limit);
  void release_admission(size_t node_bytes);
  // An admitted write whose memory the arena could not provide: its entry
  // slot and `bytes`, the part of it the arena did not hand out, go back.
  void cancel_admission(size_t bytes);
  void raise_max_height(int height);

  const size_t max_memory_bytes_;
  const size_t max_entries_;
  ShardedArena arena_;
  std::unique_ptr<char[]> head_storage_;
  Node* head_;
  std::atomic<int> max_height_{1};
  std::atomic<bool> sealed_{false};

  // Marks a shard whose writer is about to take a seed sequence.
  static constexpr uint64_t kTakingSequence = ~uint64_t{0};
  // Shows that this thread, writing through `shard`, is about to take seed
  // sequences; settle_seed_sequence() ends it.
  static void announce_seed_writer(ArenaShard& shard);
  static void settle_seed_sequence(ArenaShard& shard);

  // The last seed sequence handed out.
  alignas(64) std::atomic<uint64_t> last_seed_sequence_{0};
  // Admission counters, used only when the matching limit is set.
  alignas(64) std::atomic<uint64_t> admitted_bytes_{0};
  std::atomic<uint64_t> admitted_entries_{0};
};

}  // namespace fsdb::memtable_detail
