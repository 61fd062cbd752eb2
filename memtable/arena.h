// ShardedArena: the bump allocator behind one skip list.
//
// Memory comes from per-thread shards. The first time a thread allocates from an
// arena it claims a free shard for good (one CAS); from then on it bump-allocates
// from that shard with plain loads and stores, no atomic read-modify-write. A
// thread that finds every shard claimed allocates from one extra shared shard
// guarded by a mutex: any number of threads works, the ones beyond the shard
// count just pay for a lock. Blocks start at `first_block_bytes` and double up
// to kMaxBlockBytes (2 MiB, backed by a transparent huge page where the kernel
// allows it), so a big memtable needs few mallocs and wastes little at block
// tails. Nothing is freed before the arena is destroyed, which frees all
// blocks at once.
//
// A shard bump-allocates in kArenaRegions places at once, each with a current
// block of its own: the skip list puts its tall nodes (the ones searches visit
// on the upper levels) in one region and the rest in the other, so that the
// upper levels are packed into a fraction of the memory.
//
// Every block gets a number, and a place in the block is addressed by a 32-bit
// NodeRef (block number << 19 | offset / 4): the skip list's links are refs,
// half the size of pointers. That bounds an arena to 8191 blocks, 16 GiB of
// full-size blocks; past that, allocation fails (std::bad_alloc).
//
// Thread safety: allocate() from any number of threads; node_at() and the
// accounting getters from any thread at any time (the getters read relaxed
// counters: a concurrent reader sees a recent value, never a torn one).
// Ownership: the arena owns every block; pointers it returns stay valid until it
// is destroyed. Its full-size (2 MiB) blocks then go to HugeBlockPool, up to
// its limit, for the next arena to reuse.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "memtable/huge_block_pool.h"
#include "memtable/skiplist_node.h"

namespace fsdb::memtable_detail {

// Per-shard statistics of the list, kept next to the shard's bump pointer so the
// owning thread updates them without sharing a cache line with other writers.
struct ShardStats {
  std::atomic<uint64_t> entries{0};      // nodes linked (versions, tombstones included)
  std::atomic<int64_t> live_delta{0};    // seed-API inserts minus successful removes
  std::atomic<uint64_t> key_bytes{0};    // user key bytes of the linked nodes
  std::atomic<uint64_t> value_bytes{0};  // value bytes of the linked nodes
  std::atomic<uint64_t> attempts{0};     // insert attempts, failures included
};

// Allocation regions of a shard (see the top of this file).
inline constexpr int kArenaRegions = 2;

class alignas(64) ArenaShard {
 public:
  ArenaShard() = default;
  ArenaShard(const ArenaShard&) = delete;
  ArenaShard& operator=(const ArenaShard&) = delete;

  // Adds `delta` to one of this shard's counters. A claimed shard has a single
  // writer, so a relaxed load plus store is enough and avoids a locked
  // instruction; the shared shard has many writers and needs the RMW. Relaxed:
  // the counters are statistics, nothing is published through them.
  template <typename T>
  void bump(std::atomic<T>& counter, T delta) {
    if (exclusive_) {
      counter.store(counter.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
    } else {
      counter.fetch_add(delta, std::memory_order_relaxed);
    }
  }

  ShardStats stats;
  // Writers currently inside a write on this shard; seal() waits for zero. Only
  // seq_cst operations touch it (the Dekker handshake with the sealed flag).
  std::atomic<uint32_t> active_writers{0};
  // The seed API's sequence this shard's writer holds and has not yet
  // committed (SkipListCore::stable_sequence()): 0 when none, or a marker
  // while it is taking one. On the shared shard, which has many writers, the
  // number of writers holding or taking one.
  std::atomic<uint64_t> seed_sequence{0};

  // Whether one thread owns this shard (false: the shared shard).
  bool exclusive() const { return exclusive_; }

 private:
  friend class ShardedArena;
  // The thread that claimed this shard (0: free). Written once by CAS.
  std::atomic<uint64_t> owner_{0};
  bool exclusive_ = true;
  struct Region {
    char* cursor = nullptr;  // next free byte of the current block
    char* limit = nullptr;   // end of the current block
    uint32_t block = 0;      // the current block's number
  };
  Region regions_[kArenaRegions];
  size_t next_block_bytes_ = 0;
  // Frees a block, or hands a full-size one to HugeBlockPool.
  struct FreeBlock {
    size_t bytes = 0;
    void operator()(char* p) const;
  };
  std::vector<std::unique_ptr<char, FreeBlock>> blocks_;
  // Bytes handed out / bytes held in blocks. Single writer (the owner, or the
  // holder of the shared shard's mutex); read by anyone, hence atomic.
  std::atomic<uint64_t> used_{0};
  std::atomic<uint64_t> reserved_{0};
  // When used_ reaches this, it is published again (owner only).
  uint64_t publish_at_ = 0;
  // used_ as last published for threads that poll the total before every
  // write (the engine's memtable-full check). used_ changes with every
  // allocation, and each read of it from another core costs the owner a
  // transfer of its hot line on its next allocation (measured: 10% of a
  // 2-thread write's time). Published every ShardedArena::publish_step()
  // bytes, on a line of its own, it is read from there nearly for free.
  alignas(64) std::atomic<uint64_t> published_used_{0};
};

class ShardedArena {
 public:
  // Nodes need their 4-byte links aligned, nothing more.
  static constexpr size_t kAlignment = 4;
  // Blocks grow to one 2 MiB huge page: full-size blocks are huge-page aligned
  // and advised as such, which removes most TLB misses of random searches.
  // It is also the most a NodeRef's offset can reach (19 bits of 4 bytes).
  static constexpr size_t kMaxBlockBytes = HugeBlockPool::kBlockBytes;
  static constexpr int kOffsetBits = 19;
  static constexpr int kShortRegion = 0;
  static constexpr int kTallRegion = 1;
  static constexpr uint32_t kMaxBlockNumber = (uint32_t{1} << (32 - kOffsetBits)) - 1;

  // A block of the arena and a place in it.
  struct Allocation {
    char* memory;
    uint32_t block;
  };

  // shards == 0 means std::thread::hardware_concurrency(). max_block_number
  // (at most kMaxBlockNumber) is lowered only by tests of running out.
  ShardedArena(size_t first_block_bytes, size_t shards,
               uint32_t max_block_number = kMaxBlockNumber);
  ShardedArena(const ShardedArena&) = delete;
  ShardedArena& operator=(const ShardedArena&) = delete;

  // The shard the calling thread allocates from (claimed on first use).
  ArenaShard& shard_for_this_thread();

  // `bytes` rounded up to kAlignment, from `shard`'s `region`, aligned to
  // kAlignment.
  // REQUIRES: shard came from shard_for_this_thread() on this thread.
  Allocation allocate(ArenaShard& shard, size_t bytes, int region = kShortRegion);

  // The reference of `p`, which lies in the first kMaxBlockBytes of the block
  // of `a` (a node's start always does, even in a larger dedicated block).
  NodeRef ref_of(const Allocation& a, const char* p) const {
    // Relaxed: the base was stored under the shard's ownership before the
    // block's first allocation: by this thread (its own shard) or by an
    // earlier holder of the shared shard's mutex, whose lock this thread's
    // allocation from the block acquired.
    const char* base = bases_[a.block].load(std::memory_order_relaxed);
    return (a.block << kOffsetBits) | static_cast<NodeRef>(static_cast<size_t>(p - base) >> 2);
  }
  // The node `ref` refers to; null for 0.
  // REQUIRES: `ref` was read (acquire) from a link of this arena's list, or
  // made by this thread.
  Node* node_at(NodeRef ref) const {
    // Relaxed: the base was stored before any node of the block was built,
    // and so before the release CAS that published the link `ref` came from,
    // which the caller's acquire load synchronized with. Entry 0 is null, so
    // ref 0 decodes to null without a branch. (Address arithmetic, not
    // pointer arithmetic: the offset is added to a base that may be null.)
    const uintptr_t base =
        reinterpret_cast<uintptr_t>(bases_[ref >> kOffsetBits].load(std::memory_order_relaxed));
    return reinterpret_cast<Node*>(  // NOLINT(performance-no-int-to-ptr): see above
        base + (static_cast<uintptr_t>(ref & kOffsetMask) << 2));
  }

  // Where `shard`'s next allocation of `bytes` from `region` will start: a
  // hint for prefetching. Null when it would not fit in the current block (or
  // there is none yet), and always for the shared shard, whose cursor other
  // threads move under its mutex.
  // REQUIRES: shard came from shard_for_this_thread() on this thread.
  static const char* next_free(const ArenaShard& shard, int region, size_t bytes) {
    if (!shard.exclusive_) return nullptr;
    const ArenaShard::Region& r = shard.regions_[region];
    return static_cast<size_t>(r.limit - r.cursor) >= bytes ? r.cursor : nullptr;
  }

  size_t memory_usage() const;     // bytes handed out
  size_t memory_reserved() const;  // bytes held in blocks
  // memory_usage() as the shards last published it: never above it, and
  // below it by less than publish_step() per shard (the shared one included).
  // Unlike memory_usage(), reading it does not slow the writers down.
  size_t approximate_memory_usage() const;
  // A shard publishes its usage each time it has grown by this much: 1/16 of
  // the first block, so the lag stays small next to a list sized by it.
  size_t publish_step() const { return first_block_bytes_ / 16; }

  // Visits every shard (the claimable ones and the shared one).
  template <typename F>
  void for_each_shard(F&& f) const {
    for (const auto& s : shards_) f(*s);
    f(shared_);
  }
  size_t shard_count() const { return shards_.size(); }
  uint64_t id() const { return id_; }

 private:
  static constexpr uint32_t kOffsetMask = (uint32_t{1} << kOffsetBits) - 1;
  Allocation allocate_slow(ArenaShard& shard, size_t bytes, int region);
  // Counts `bytes` more handed out by `shard`. REQUIRES: the shard's writer.
  void count_used(ArenaShard& shard, size_t bytes) {
    // Relaxed: statistics; single writer (the owner, or the holder of the
    // shared shard's mutex).
    const uint64_t used = shard.used_.load(std::memory_order_relaxed) + bytes;
    shard.used_.store(used, std::memory_order_relaxed);
    if (used >= shard.publish_at_) {
      // Relaxed: a statistic as well; readers need a recent value, nothing
      // is published through it.
      shard.published_used_.store(used, std::memory_order_relaxed);
      shard.publish_at_ = used + publish_step();
    }
  }
  ArenaShard& lookup_or_claim();
  // A number for a new block; throws std::bad_alloc past max_block_number_.
  uint32_t take_block_number();

  const uint64_t id_;  // unique over the process lifetime: keys the per-thread shard cache
  const size_t first_block_bytes_;
  std::vector<std::unique_ptr<ArenaShard>> shards_;
  ArenaShard shared_;
  std::mutex shared_mutex_;
  // Block number -> base address; entry 0 stays null. Entries are written once,
  // before any node in the block exists.
  std::unique_ptr<std::atomic<char*>[]> bases_;
  const uint32_t max_block_number_;
  // Relaxed: only has to hand out distinct numbers (take_block_number()).
  std::atomic<uint32_t> next_block_{1};
};

inline ShardedArena::Allocation ShardedArena::allocate(ArenaShard& shard, size_t bytes,
                                                       int region) {
  bytes = (bytes + kAlignment - 1) & ~(kAlignment - 1);
  ArenaShard::Region& r = shard.regions_[region];
  if (shard.exclusive_ && static_cast<size_t>(r.limit - r.cursor) >= bytes) {
    char* result = r.cursor;
    r.cursor += bytes;
    count_used(shard, bytes);
    return {result, r.block};
  }
  return allocate_slow(shard, bytes, region);
}

}  // namespace fsdb::memtable_detail
