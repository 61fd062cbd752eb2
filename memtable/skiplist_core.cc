#include "memtable/skiplist_core.h"

#include <algorithm>
#include <bit>
#include <new>
#include <string>
#include <thread>

namespace fsdb::memtable_detail {
namespace {

// Per-thread xorshift64*: heights need speed and independence between
// threads, not cryptographic quality.
int random_height() {
  thread_local uint64_t state =
      0x9E3779B97F4A7C15ull ^ reinterpret_cast<uintptr_t>(&state) ^
      static_cast<uint64_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  const uint64_t r = state * 0x2545F4914F6CDD1Dull;
  // Each trailing zero bit is one more level: P(height > h) = 2^-h.
  const int height = 1 + std::countr_zero(r | (uint64_t{1} << 63));
  return height < kMaxHeight ? height : kMaxHeight;
}

// Into every cache level: the node is needed within a few instructions.
inline void prefetch(const void* p) { __builtin_prefetch(p, 0, 3); }

// Requests the lines of [p, p + bytes) that this thread is about to write,
// at most the first four: a longer entry's copy streams the rest. A read
// prefetch (without -mprfchw compilers emit the same instruction for a write
// prefetch anyway): the arena's lines are written by their shard's owner
// alone, so unless another core still caches one (a block the pool's
// stocker has just faulted in, or a recycled one), they arrive exclusive and
// the stores need nothing more.
//
// Always inlined: GCC 12 split an earlier version off into a function of its
// own, found that function free of side effects (prefetches do not count)
// and deleted the call, silently.
[[gnu::always_inline]] inline void prefetch_lines(const char* p, size_t bytes) {
  if (p == nullptr || bytes == 0) return;
  prefetch(p);
  const size_t to_next_line = 64 - (reinterpret_cast<uintptr_t>(p) & 63);
  if (to_next_line < bytes) prefetch(p + to_next_line);
  if (to_next_line + 64 < bytes) prefetch(p + to_next_line + 64);
  if (to_next_line + 128 < bytes) prefetch(p + to_next_line + 128);
}

constexpr size_t kMaxLength = 0xffffffffu;

// Nodes this tall or taller (one in four) are allocated from an arena region of
// their own (ShardedArena::kTallRegion). A search above level 1 compares only
// such nodes: packed together they span a quarter of the list's memory instead
// of all of it, so more of the upper levels stay in cache and far fewer pages
// (TLB entries) cover them. Measured on a 1M-entry list: random gets ~15% and
// random inserts ~12% faster (docs/memtable.md, The arena).
constexpr int kTallNodeHeight = 3;
// A tall node's value longer than this lives elsewhere, in the other region
// (skiplist_node.h), so that tall nodes stay small: with 100-byte values the
// tall nodes of a 1M-entry list then take 11 MB instead of 34. Measured: random
// gets ~15% faster again, at 2 bytes per entry (8 per tall node).
constexpr size_t kLongestValueInTallNode = 16;

// How many levels below the current one prefetch_column() reaches. One: on
// the Intel Xeon host, one level instead of three made random inserts 5.5%
// faster with one thread and 9% with two (median of 12 alternating rounds,
// faster in 10 of 12 each), gets unchanged; a prefetch two or three levels
// down is used only with probability 1/4 or 1/8, and the unused ones hold
// fill buffers the search's own misses need.
constexpr int kPrefetchDepth = 1;

}  // namespace

// A search that has just moved to x at `level` next compares x's successor
// `n` there; if n is past the target, it goes on one level down from x, and
// with probability 1/2 again from x one level further down, and so on. x's
// successors on the next kPrefetchDepth levels are in x's tower, which is
// already in cache: fetching them now, while `n` is being compared, overlaps
// their cache misses with n's instead of paying them one after the other.
void SkipListCore::prefetch_column(const Node* x, const Node* n, int level) const {
  NodeRef last = 0;
  for (int d = 1; d <= kPrefetchDepth && level - d >= 0; ++d) {
    // Relaxed: only a prefetch hint; the link is loaded again with acquire if
    // used. A ref read this way may name a block whose base this thread cannot
    // see yet (null): node_at() then yields a wild address, harmless to a
    // prefetch, which never faults.
    const NodeRef ref = x->link(level - d).load(std::memory_order_relaxed);
    if (ref == 0) continue;
    if (ref == last) continue;  // the same node as one level up
    last = ref;
    const Node* below = arena_.node_at(ref);
    if (below != n) prefetch(below->key_line());
  }
}

struct SkipListCore::Splice {
  // Levels [0, height) are valid; prev[height] is the head and next[height]
  // null. next_ref[i] is the link value that made next[i]: what the CAS that
  // inserts between prev[i] and next[i] expects to find.
  int height = 0;
  Node* prev[kMaxHeight + 1];
  Node* next[kMaxHeight + 1];
  NodeRef next_ref[kMaxHeight + 1];
};

SkipListCore::SkipListCore(const SkipListOptions& options, uint32_t max_arena_blocks)
    : max_memory_bytes_(options.max_memory_bytes),
      max_entries_(options.max_entries),
      arena_(options.arena_block_bytes, options.shards, max_arena_blocks) {
  // The head is not an entry: it lives outside the arena so that an empty list
  // uses no arena memory. It has the full tower and an empty key it never
  // compares with.
  // (new[] of char is aligned for any fundamental type, the links' included.)
  head_storage_ = std::make_unique<char[]>(Node::allocation_bytes(kMaxHeight, 0, 0));
  head_ = Node::construct(head_storage_.get(), kMaxHeight, {}, {}, 0);
}

void SkipListCore::raise_max_height(int height) {
  // Relaxed: max_height_ is only a hint of where searches start. A reader that
  // sees the old value starts lower (correct, a little slower); one that sees
  // the new value before the links exist finds null at the top of the head and
  // moves down. The links themselves are published by their own CAS.
  int current = max_height_.load(std::memory_order_relaxed);
  while (height > current &&
         !max_height_.compare_exchange_weak(current, height, std::memory_order_relaxed)) {
  }
}

void SkipListCore::find_splice_for_level(std::string_view key, uint64_t packed, Node* before,
                                         const Node* after, int level, Splice& splice) const {
  Node* x = before;
  for (;;) {
    const NodeRef ref = x->next_ref(level);
    Node* n = arena_.node_at(ref);
    if (n != nullptr) prefetch(&n->link(level));
    prefetch_column(x, n, level);
    if (n == after || n == nullptr || compare_node(n, key, packed) >= 0) {
      splice.prev[level] = x;
      splice.next[level] = n;
      splice.next_ref[level] = ref;
      return;
    }
    x = n;
  }
}

bool SkipListCore::splice_brackets(const Splice& splice, int level, std::string_view key,
                                   uint64_t packed) const {
  Node* prev = splice.prev[level];
  Node* next = splice.next[level];
  if (prev->next_ref(level) != splice.next_ref[level]) return false;  // linked in between
  if (prev != head_ && compare_node(prev, key, packed) >= 0) return false;
  if (next != nullptr && compare_node(next, key, packed) < 0) return false;
  return true;
}

void SkipListCore::find_splice(Splice& splice, std::string_view key, uint64_t packed) const {
  // Relaxed: a hint (see raise_max_height).
  const int max_height = max_height_.load(std::memory_order_relaxed);
  int recompute;
  if (splice.height < max_height) {
    splice.height = max_height;
    splice.prev[max_height] = head_;
    splice.next[max_height] = nullptr;
    splice.next_ref[max_height] = 0;
    recompute = max_height;
  } else if (splice_brackets(splice, 0, key, packed)) {
    return;  // ascending or nearby write: nothing to search
  } else {
    // The lowest level whose splice still brackets the key. Brackets widen with
    // the level, so a binary search finds it in a few probes; whatever it
    // picks is verified, so a non-monotone stale splice costs time, not
    // correctness.
    int lo = 1;
    int hi = splice.height;  // level `height` (the head, no bound) always brackets
    while (lo < hi) {
      const int mid = (lo + hi) / 2;
      if (splice_brackets(splice, mid, key, packed)) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    recompute = hi;
  }
  for (int i = recompute - 1; i >= 0; --i) {
    find_splice_for_level(key, packed, splice.prev[i + 1], splice.next[i + 1], i, splice);
  }
}

bool SkipListCore::admit(size_t node_bytes, bool* reached_limit) {
  *reached_limit = false;
  // Relaxed on both counters: the bound needs only that each RMW sees a distinct
  // prefix of the modification order (so at most one writer crosses a limit);
  // no other data is published through them.
  if (max_entries_ != 0) {
    const uint64_t before = admitted_entries_.fetch_add(1, std::memory_order_relaxed);
    if (before >= max_entries_) {
      admitted_entries_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    if (before + 1 >= max_entries_) *reached_limit = true;
  }
  if (max_memory_bytes_ != 0) {
    const uint64_t before = admitted_bytes_.fetch_add(node_bytes, std::memory_order_relaxed);
    if (before >= max_memory_bytes_) {
      admitted_bytes_.fetch_sub(node_bytes, std::memory_order_relaxed);
      if (max_entries_ != 0) admitted_entries_.fetch_sub(1, std::memory_order_relaxed);
      return false;
    }
    if (before + node_bytes >= max_memory_bytes_) *reached_limit = true;
  }
  return true;
}

void SkipListCore::release_admission(size_t /*node_bytes*/) {
  // The node's bytes stay counted: the arena handed them out and keeps them.
  // Only the entry slot goes back. Relaxed: see admit().
  if (max_entries_ != 0) admitted_entries_.fetch_sub(1, std::memory_order_relaxed);
}

void SkipListCore::cancel_admission(size_t bytes) {
  // Relaxed: see admit().
  if (max_entries_ != 0) admitted_entries_.fetch_sub(1, std::memory_order_relaxed);
  if (max_memory_bytes_ != 0) admitted_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

WriteOutcome SkipListCore::write(WriteMode mode, std::string_view key, std::string_view value,
                                 ValueKind kind, SequenceNumber seq) {
  ArenaShard& shard = arena_.shard_for_this_thread();
  shard.bump(shard.stats.attempts, uint64_t{1});
  // Dekker handshake with seal_and_wait(), both sides seq_cst: either this
  // writer sees sealed_, or the sealer sees this writer's increment and waits.
  shard.active_writers.fetch_add(1, std::memory_order_seq_cst);
  WriteOutcome outcome{WriteStatus::kSealed};
  if (!sealed_.load(std::memory_order_seq_cst)) {
    if (key.size() > kMaxLength || value.size() > kMaxLength) {
      outcome = {WriteStatus::kOutOfMemory};  // lengths are stored as 32 bits
    } else {
      try {
        outcome = write_inside(shard, mode, key, value, kind, seq);
      } catch (const std::bad_alloc&) {
        // The arena could not get a block: refuse this write, but leave the
        // writer count balanced so that seal() cannot hang.
        outcome = {WriteStatus::kOutOfMemory};
      }
    }
  }
  // seq_cst (at least release): everything this writer linked happens-before
  // the sealer's load that sees the count drop.
  shard.active_writers.fetch_sub(1, std::memory_order_seq_cst);
  return outcome;
}

WriteOutcome SkipListCore::write_inside(ArenaShard& shard, WriteMode mode, std::string_view key,
                                        std::string_view value, ValueKind kind,
                                        SequenceNumber seq) {
  const bool seed = mode != WriteMode::kAddVersion;
  if (mode == WriteMode::kTombstoneIfLive) {
    kind = ValueKind::kTombstone;
    value = {};
  } else if (mode == WriteMode::kInsertIfAbsent) {
    kind = ValueKind::kValue;
  }
  // Seed writes search for the front of the key's versions: their sequence is
  // stamped only just before the commit CAS, and is then newer than every
  // version already there.
  const uint64_t search_packed = seed ? kFrontOfKeyPacked : pack_sequence_and_kind(seq, kind);

  const int height = random_height();
  raise_max_height(height);

  const bool tall = height >= kTallNodeHeight;
  const bool value_elsewhere = tall && value.size() > kLongestValueInTallNode;
  auto rounded = [](size_t bytes) {
    return (bytes + ShardedArena::kAlignment - 1) & ~(ShardedArena::kAlignment - 1);
  };
  const size_t node_bytes = rounded(
      value_elsewhere ? Node::allocation_bytes_value_elsewhere(height, key.size(), value.size())
                      : Node::allocation_bytes(height, key.size(), value.size()));
  const int node_region = tall ? ShardedArena::kTallRegion : ShardedArena::kShortRegion;
  // The new node goes where its region's last node ended, into lines this
  // thread has not touched yet: building it there is two or three cache
  // misses, and the first locked instruction after it (the commit CAS, or
  // the seed writer's announcement) waits for all of them. Requested now,
  // they arrive during the search. Measured on a 1M-entry list: random
  // inserts 10% faster (twelve alternating rounds, faster in all twelve;
  // docs/performance.md, Memtable).
  prefetch_lines(ShardedArena::next_free(shard, node_region, node_bytes), node_bytes);
  if (value_elsewhere) {
    prefetch_lines(ShardedArena::next_free(shard, ShardedArena::kShortRegion, value.size()),
                   value.size());
  }

  // The splice of this thread's last write and the list it belongs to (arena
  // ids are never reused, so a splice is never applied to another list).
  thread_local uint64_t splice_list_id = 0;
  thread_local Splice splice;
  if (splice_list_id != arena_.id()) {
    splice_list_id = arena_.id();
    splice.height = 0;
  }
  find_splice(splice, key, search_packed);

  // Whether the level-0 neighbourhood allows the write; `existing` for the caller.
  const Node* existing = nullptr;
  auto allowed = [&](const Node* next0) {
    const bool same_key = next0 != nullptr && next0->user_key() == key;
    switch (mode) {
      case WriteMode::kAddVersion:
        return !(same_key && next0->packed() == search_packed);
      case WriteMode::kInsertIfAbsent:
        if (same_key) existing = next0;
        return !same_key;
      case WriteMode::kTombstoneIfLive:
        return same_key && next0->kind() == ValueKind::kValue;
    }
    return false;
  };
  if (!allowed(splice.next[0])) return {WriteStatus::kRejected, existing};

  const size_t entry_bytes = node_bytes + (value_elsewhere ? rounded(value.size()) : 0);
  bool reached_limit = false;
  const bool limited = max_entries_ != 0 || max_memory_bytes_ != 0;
  if (limited && !admit(entry_bytes, &reached_limit)) {
    // Release: a thread that sees the flag through is_sealed() (acquire) also
    // sees the counters that made us set it.
    sealed_.store(true, std::memory_order_release);
    return {WriteStatus::kOutOfMemory};
  }

  char* value_bytes = nullptr;
  ShardedArena::Allocation allocation{};
  try {
    if (value_elsewhere) {
      value_bytes = arena_.allocate(shard, value.size(), ShardedArena::kShortRegion).memory;
      std::memcpy(value_bytes, value.data(), value.size());
    }
    allocation = arena_.allocate(shard, node_bytes, node_region);
  } catch (const std::bad_alloc&) {
    // Refused without sealing (the caller answers kOutOfMemory): the limits
    // must not keep room for an entry that is not there. A value already
    // copied stays counted, as the arena keeps its bytes.
    if (limited) cancel_admission(value_bytes == nullptr ? entry_bytes : node_bytes);
    throw;
  }
  Node* node = Node::construct(allocation.memory, height, key, value, search_packed, value_bytes);
  const NodeRef node_ref = arena_.ref_of(allocation, reinterpret_cast<const char*>(node));

  if (seed) announce_seed_writer(shard);
  for (;;) {
    if (seed) {
      // seq_cst: the sequence must come after every version this thread has
      // already observed at the front of the key (they were stamped before
      // their own commit, which our acquire loads observed), which any RMW
      // guarantees by coherence; seq_cst also orders it after the shard's
      // announcement and with the snapshots' loads (stable_sequence()).
      const uint64_t s = last_seed_sequence_.fetch_add(1, std::memory_order_seq_cst) + 1;
      // Release: a snapshot that reads a value above its own sequence here
      // stops waiting for this shard, so it must also see every commit this
      // shard made before (with sequences at or below its own): the release
      // orders those commits, and the settle that followed each, before this
      // store. (The seq_cst fetch_add above already acts as a full barrier on
      // the machines this runs on; release says so in the memory model.) One
      // that must wait for this commit waits for the release store of
      // settle_seed_sequence(). On a retry the shard shows the abandoned,
      // older sequence until this store: a snapshot that sees that one waits,
      // as it would have to for this one.
      if (shard.exclusive()) shard.seed_sequence.store(s, std::memory_order_release);
      node->set_packed(pack_sequence_and_kind(s, kind));
    }
    // Relaxed: the node is still private; the CAS below publishes this link.
    node->link(0).store(splice.next_ref[0], std::memory_order_relaxed);
    NodeRef expected = splice.next_ref[0];
    // Release on success publishes the whole node (and its arena block's base)
    // to readers' acquire loads. Relaxed on failure: the retry reloads the
    // links with acquire loads.
    if (splice.prev[0]->link(0).compare_exchange_strong(
            expected, node_ref, std::memory_order_release, std::memory_order_relaxed)) {
      break;
    }
    // Nothing was published; the sequence is abandoned, and the next round
    // takes a newer one.
    find_splice_for_level(key, search_packed, splice.prev[0], nullptr, 0, splice);
    if (!allowed(splice.next[0])) {
      if (seed) settle_seed_sequence(shard);
      release_admission(entry_bytes);
      return {WriteStatus::kRejected, existing};
    }
  }
  if (seed) settle_seed_sequence(shard);

  // Upper levels, best effort: readers are correct with any subset linked.
  const uint64_t node_packed = node->packed();
  for (int i = 1; i < height; ++i) {
    for (;;) {
      Node* prev = splice.prev[i];
      Node* next = splice.next[i];
      // Seed writes searched for the front of the key; make sure the splice also
      // brackets the node's real (key, sequence) before linking it.
      if (next != nullptr && compare_node(next, key, node_packed) < 0) {
        find_splice_for_level(key, node_packed, prev, nullptr, i, splice);
        continue;
      }
      // Relaxed: private until the CAS.
      node->link(i).store(splice.next_ref[i], std::memory_order_relaxed);
      NodeRef expected = splice.next_ref[i];
      // Release/relaxed: as for level 0.
      if (prev->link(i).compare_exchange_strong(expected, node_ref, std::memory_order_release,
                                                std::memory_order_relaxed)) {
        break;
      }
      find_splice_for_level(key, node_packed, prev, nullptr, i, splice);
    }
  }
  // The next write of this thread most likely lands right after this node.
  // (splice.next_ref[i] is still the value of node's link i, as it must be.)
  for (int i = 0; i < height; ++i) splice.prev[i] = node;

  shard.bump(shard.stats.entries, uint64_t{1});
  shard.bump(shard.stats.key_bytes, static_cast<uint64_t>(key.size()));
  shard.bump(shard.stats.value_bytes, static_cast<uint64_t>(value.size()));
  if (mode == WriteMode::kInsertIfAbsent) shard.bump(shard.stats.live_delta, int64_t{1});
  if (mode == WriteMode::kTombstoneIfLive) shard.bump(shard.stats.live_delta, int64_t{-1});
  if (reached_limit) sealed_.store(true, std::memory_order_release);  // release: see above
  return {WriteStatus::kCommitted, node};
}

void SkipListCore::announce_seed_writer(ArenaShard& shard) {
  // Seq_cst, as the writer's fetch_add of the counter after it and the
  // snapshot's loads of the counter and then of this word: if the fetch_add
  // comes before the snapshot's load of the counter (the sequence is one the
  // snapshot covers), so does this store, and the snapshot's later load of
  // the word finds it (or what the writer stored after it).
  if (shard.exclusive()) {
    shard.seed_sequence.store(kTakingSequence, std::memory_order_seq_cst);
  } else {
    shard.seed_sequence.fetch_add(1, std::memory_order_seq_cst);
  }
}

void SkipListCore::settle_seed_sequence(ArenaShard& shard) {
  // Release: the commit CAS happens-before a snapshot whose (acquire) load
  // sees this, so a snapshot that waited for this shard finds the node.
  if (shard.exclusive()) {
    shard.seed_sequence.store(0, std::memory_order_release);
  } else {
    shard.seed_sequence.fetch_sub(1, std::memory_order_release);
  }
}

SequenceNumber SkipListCore::stable_sequence() const {
  // Seq_cst: see announce_seed_writer().
  const SequenceNumber s = last_seed_sequence_.load(std::memory_order_seq_cst);
  arena_.for_each_shard([&](const ArenaShard& shard) {
    for (int spins = 0;; ++spins) {
      // Seq_cst: see announce_seed_writer(); it includes acquire, which pairs
      // with settle_seed_sequence().
      const uint64_t held = shard.seed_sequence.load(std::memory_order_seq_cst);
      if (held == 0) return;
      // A sequence above s commits after this snapshot and is not its concern.
      // (The shared shard only counts its writers: wait for all of them.)
      if (shard.exclusive() && held != kTakingSequence && held > s) return;
      // Writers hold a sequence only for the few instructions around their CAS.
      if (spins >= 64) std::this_thread::yield();
    }
  });
  return s;
}

void SkipListCore::seal_and_wait() {
  sealed_.store(true, std::memory_order_seq_cst);  // Dekker with write(): see there
  arena_.for_each_shard([](const ArenaShard& shard) {
    for (int spins = 0; shard.active_writers.load(std::memory_order_seq_cst) != 0; ++spins) {
      if (spins >= 64) std::this_thread::yield();
    }
  });
}

namespace {
// The lines a walk reads of a node: its links, key and the start of its value.
inline void prefetch_entry(const Node* n) {
  const char* line = static_cast<const char*>(n->key_line());
  prefetch(line);
  prefetch(line + 64);
}
// Values elsewhere belong to tall nodes, and every tall node is on level 2:
// called for each far lane once its own lines have arrived (a far step after
// it was requested), so the value is requested a far step before the walk
// reads it.
inline void prefetch_value_elsewhere(const Node* n) {
  if (const char* value = n->value_elsewhere()) prefetch(value);
}
}  // namespace

void SkipListCore::start_lanes(const Node* lane, WalkLanes* lanes) const {
  *lanes = WalkLanes{};
  lanes->node[0] = lane;
  // The lane comes from a search that has just read it, or from the head.
  lanes->node[1] = lane != nullptr ? next(lane, 1) : nullptr;
  if (lanes->node[1] != nullptr) prefetch_entry(lanes->node[1]);
}

void SkipListCore::start_lanes(const Node* lane, const Node* far, WalkLanes* lanes) const {
  start_lanes(lane, lanes);
  lanes->far[0] = far;
  if (far == nullptr) return;
  prefetch_value_elsewhere(far);
  lanes->far[1] = next(far, 2);
  if (lanes->far[1] != nullptr) {
    prefetch(&lanes->far[1]->link(2));
    prefetch_entry(lanes->far[1]);
  }
  fan_out(far, lanes);
}

void SkipListCore::fan_out(const Node* far, WalkLanes* lanes) const {
  const Node* after = next(far, 0);
  if (after != nullptr) prefetch_entry(after);
  lanes->fan = next(far, 1);
  if (lanes->fan != nullptr) {
    prefetch(&lanes->fan->link(1));
    prefetch_entry(lanes->fan);
  }
}

void SkipListCore::far_step(WalkLanes* lanes) const {
  // The level-1 node after the far lane just reached was requested a far step
  // ago: request what follows it on levels 0 and 1.
  if (const Node* fan = lanes->fan; fan != nullptr) {
    const Node* after = next(fan, 0);
    if (after != nullptr) prefetch_entry(after);
    const Node* up = next(fan, 1);
    if (up != nullptr) prefetch_entry(up);
    lanes->fan = nullptr;
  }
  lanes->far[0] = lanes->far[1];
  lanes->far[1] = lanes->far[2];
  lanes->far[2] = nullptr;
  lanes->steps_since_far = 0;
  const int newest = lanes->far[1] != nullptr ? 1 : 0;
  const Node* far = lanes->far[newest];
  if (far == nullptr) return;
  prefetch_value_elsewhere(far);
  // Requested a far step ago, and reached through a level-2 link: it has one.
  const Node* further = next(far, 2);
  lanes->far[newest + 1] = further;
  if (further != nullptr) {
    prefetch(&further->link(2));
    prefetch_entry(further);
  }
  fan_out(far, lanes);
}

void SkipListCore::prefetch_ahead(const Node* x, WalkLanes* lanes) const {
  const Node* n = next(x, 0);
  if (n != nullptr) prefetch_entry(n);
  if (x == lanes->far[0]) far_step(lanes);
  if (x != lanes->node[0]) return;
  // The walk is at the first lane. The second was requested a lane step ago,
  // so reading its links now costs no wait; every lane was reached through a
  // level-1 link, so it has one.
  const Node* lane = lanes->node[1];
  lanes->node[0] = lane;
  lanes->node[1] = nullptr;
  if (lane == nullptr) return;
  lanes->node[1] = next(lane, 1);
  if (lanes->node[1] != nullptr) prefetch_entry(lanes->node[1]);
  // Two far lanes become three once the second has had time to arrive.
  if (lanes->far[2] == nullptr && lanes->far[1] != nullptr && ++lanes->steps_since_far >= 3) {
    lanes->far[2] = next(lanes->far[1], 2);
    if (lanes->far[2] != nullptr) {
      prefetch(&lanes->far[2]->link(2));
      prefetch_entry(lanes->far[2]);
    }
  }
  // The node after a lane on level 0 is reached only through the lane:
  // request it a lane step before the walk needs it.
  const Node* after = next(lane, 0);
  if (after != nullptr) prefetch_entry(after);
}

const Node* SkipListCore::find_greater_or_equal(std::string_view key, uint64_t packed,
                                                const Node** lane, const Node** far) const {
  if (lane != nullptr) *lane = nullptr;
  if (far != nullptr) *far = nullptr;
  const Node* x = head_;
  int level = max_height_.load(std::memory_order_relaxed) - 1;  // relaxed: a hint, see above
  const Node* last_bigger = nullptr;
  const Node* column_of = nullptr;  // the node whose column was last prefetched
  for (;;) {
    const Node* n = next(x, level);
    if (n != nullptr) prefetch(&n->link(level));
    if (x != column_of) {
      prefetch_column(x, n, level);
      column_of = x;
    }
    // A node already known to be >= the target needs no second comparison.
    const int cmp = (n == nullptr || n == last_bigger) ? 1 : compare_node(n, key, packed);
    if (cmp < 0) {
      x = n;
    } else if (cmp == 0 || level == 0) {
      // Found on level >= 1: n itself is linked there. Found on level 0: the
      // bound of the descent from level 1 (null if the search began on 0).
      if (lane != nullptr && level >= 1) *lane = n;
      if (far != nullptr && level >= 2) *far = n;
      return n;
    } else {
      if (lane != nullptr && level == 1) *lane = n;
      if (far != nullptr && level == 2) *far = n;
      last_bigger = n;
      --level;
    }
  }
}

void SkipListCore::find_visible_many(std::span<const std::string_view> keys, SequenceNumber seq,
                                     const Node** out) const {
  // Enough searches in flight to overlap their misses, few enough that a
  // round comes back to a node before its line is evicted.
  constexpr size_t kInFlight = 16;
  struct Search {
    const Node* x;            // < the target, on `level`
    const Node* n;            // x's successor on `level`, requested last round
    const Node* last_bigger;  // as in find_greater_or_equal()
    int level;
  };
  const uint64_t packed = pack_sequence_and_kind(seq, kValueKindForSeek);
  auto request = [](const Node* n, int level) {
    if (n == nullptr) return;
    prefetch(&n->link(level));
    prefetch(n->key_line());
  };
  for (size_t base = 0; base < keys.size(); base += kInFlight) {
    const size_t count = std::min(kInFlight, keys.size() - base);
    Search searches[kInFlight];
    // Relaxed: a hint where searches start (see find_greater_or_equal()).
    const int top = max_height_.load(std::memory_order_relaxed) - 1;
    for (size_t i = 0; i < count; ++i) {
      const Node* n = next(head_, top);
      searches[i] = Search{head_, n, nullptr, top};
      request(n, top);
    }
    size_t running = count;
    while (running > 0) {
      for (size_t i = 0; i < count; ++i) {
        Search& s = searches[i];
        if (s.level < 0) continue;  // done
        const std::string_view key = keys[base + i];
        // The same steps as find_greater_or_equal(), until one needs a node
        // that is not in cache yet: that one is requested for the next round.
        for (;;) {
          const int cmp =
              (s.n == nullptr || s.n == s.last_bigger) ? 1 : compare_node(s.n, key, packed);
          if (cmp < 0) {
            s.x = s.n;
            s.n = next(s.x, s.level);
            request(s.n, s.level);
            break;
          }
          if (cmp == 0 || s.level == 0) {
            out[base + i] = (s.n != nullptr && s.n->user_key() == key) ? s.n : nullptr;
            s.level = -1;
            --running;
            break;
          }
          s.last_bigger = s.n;
          --s.level;
          s.n = next(s.x, s.level);  // x's links are in cache
          if (s.n != nullptr && s.n != s.last_bigger) {
            request(s.n, s.level);
            break;
          }
        }
      }
    }
  }
}

const Node* SkipListCore::find_less_than(std::string_view key, uint64_t packed) const {
  const Node* x = head_;
  int level = max_height_.load(std::memory_order_relaxed) - 1;  // relaxed: a hint
  const Node* last_bigger = nullptr;
  for (;;) {
    const Node* n = next(x, level);
    if (n != nullptr && n != last_bigger && compare_node(n, key, packed) < 0) {
      x = n;
    } else {
      if (level == 0) return x == head_ ? nullptr : x;
      last_bigger = n;
      --level;
    }
  }
}

const Node* SkipListCore::find_last() const {
  const Node* x = head_;
  int level = max_height_.load(std::memory_order_relaxed) - 1;  // relaxed: a hint
  for (;;) {
    const Node* n = next(x, level);
    if (n != nullptr) {
      x = n;
    } else {
      if (level == 0) return x == head_ ? nullptr : x;
      --level;
    }
  }
}

size_t SkipListCore::live_entries() const {
  int64_t total = 0;
  // Relaxed (here and below): statistics, exact once writers have stopped.
  arena_.for_each_shard(
      [&](const ArenaShard& s) { total += s.stats.live_delta.load(std::memory_order_relaxed); });
  return total > 0 ? static_cast<size_t>(total) : 0;
}

size_t SkipListCore::entry_count() const {
  uint64_t total = 0;
  // Relaxed: statistics (as in live_entries()).
  arena_.for_each_shard(
      [&](const ArenaShard& s) { total += s.stats.entries.load(std::memory_order_relaxed); });
  return total;
}

uint64_t SkipListCore::key_bytes() const {
  uint64_t total = 0;
  // Relaxed: statistics.
  arena_.for_each_shard(
      [&](const ArenaShard& s) { total += s.stats.key_bytes.load(std::memory_order_relaxed); });
  return total;
}

uint64_t SkipListCore::value_bytes() const {
  uint64_t total = 0;
  // Relaxed: statistics.
  arena_.for_each_shard(
      [&](const ArenaShard& s) { total += s.stats.value_bytes.load(std::memory_order_relaxed); });
  return total;
}

size_t SkipListCore::total_attempts() const {
  uint64_t total = 0;
  // Relaxed: statistics.
  arena_.for_each_shard(
      [&](const ArenaShard& s) { total += s.stats.attempts.load(std::memory_order_relaxed); });
  return total;
}

bool SkipListCore::is_under_backpressure() const {
  if (max_memory_bytes_ != 0 && memory_usage() * 10 >= max_memory_bytes_ * 9) return true;
  if (max_entries_ != 0 && entry_count() * 10 >= max_entries_ * 9) return true;
  return false;
}

bool SkipListCore::check_invariants(std::string* why) const {
  const int top = max_height_.load(std::memory_order_relaxed);  // relaxed: quiescent list
  for (int level = 0; level < top; ++level) {
    const Node* prev = nullptr;
    const Node* below = next(head_, 0);
    for (const Node* n = next(head_, level); n != nullptr; n = next(n, level)) {
      if (prev != nullptr && compare_node(prev, n->user_key(), n->packed()) >= 0) {
        *why = "level " + std::to_string(level) + " out of order";
        return false;
      }
      if (level > 0) {
        while (below != nullptr && below != n) below = next(below, 0);
        if (below == nullptr) {
          *why = "level " + std::to_string(level) + " holds a node missing from level 0";
          return false;
        }
      }
      prev = n;
    }
  }
  return true;
}

}  // namespace fsdb::memtable_detail
