// BlockCache: a sharded cache of uncompressed blocks (CLOCK, an LRU
// approximation; see below), shared by every table of a DB.
//
// Keys are (cache id, block offset): each TableReader takes a fresh cache id
// from new_cache_id() when it opens, so two tables (or one file reopened) never
// share entries. Capacity is in bytes (the memory a block holds:
// Block::memory_bytes()), divided evenly among 16 shards, each under its own
// mutex. Blocks read for the cache live in its BlockMemory (block_memory.h).
//
// Each shard is one open-addressing table (linear probing, at most half
// full) of 16-byte slots: the block's hook pointer, 32 bits of its key's
// hash, and its CLOCK bit. A lookup compares hashes inside the table and
// reads a block only when its hash matches; a miss, an insert and an
// eviction's removal read no block at all. (A table of pointers into the
// blocks — chains, or a ring through them — costs a memory access per step,
// each to a different 4 KiB block, and in a scan every block read makes
// three such walks.) The key itself stays in the block's hook (block.h),
// checked on every hash match.
//
// Eviction is CLOCK (second chance) over the table itself, as RocksDB's
// HyperClockCache does: a hit sets the slot's bit; to make room the hand
// sweeps the slots in table order, clearing set bits and evicting the first
// block whose bit was clear. A block enters with its bit set, so it survives
// at least one pass of the hand, and a block used since the hand last passed
// survives the next one.
//
// Pinning: lookups and inserts hand out std::shared_ptr<const Block>. The
// reference count is the pin: eviction removes a block from the cache, but its
// memory lives until the last iterator or lookup using it lets go, so an
// evicted block is never freed under a reader. (Pinned blocks evicted from the
// cache no longer count against its capacity.)
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "sstable/block.h"
#include "sstable/block_memory.h"

namespace fsdb {

class BlockCache {
 public:
  explicit BlockCache(size_t capacity_bytes);
  ~BlockCache();
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  uint64_t new_cache_id();

  // The cached block, now most recently used, or null.
  std::shared_ptr<const Block> lookup(uint64_t cache_id, uint64_t offset);
  // Caches `block` (replacing any entry with the same key) and evicts least
  // recently used blocks until the shard fits its capacity again. A block larger
  // than a shard's capacity, or already in a cache, is not cached.
  void insert(uint64_t cache_id, uint64_t offset, std::shared_ptr<const Block> block);
  // Drops every block of one table (when its file is deleted).
  void erase_table(uint64_t cache_id);

  // Where the blocks read for this cache live (block_memory.h).
  const std::shared_ptr<BlockMemory>& memory() const { return memory_; }

  size_t capacity() const { return capacity_; }
  size_t usage() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  using Hook = BlockCacheHook;
  static uint64_t hash_of(uint64_t cache_id, uint64_t offset);
  // One slot of a shard's table. hook == nullptr: empty.
  struct Slot {
    Hook* hook = nullptr;
    uint32_t hash = 0;        // the low 32 bits of hook->hash (the home slot)
    uint32_t referenced = 0;  // CLOCK: used since the hand last passed
  };
  struct alignas(64) Shard {
    ~Shard();
    static constexpr size_t kNotFound = ~size_t{0};
    // The slot holding (cache_id, offset), or kNotFound.
    size_t find(uint64_t cache_id, uint64_t offset, uint64_t hash) const;
    // The slot holding h (by address: reads no block), or kNotFound.
    size_t find_hook(const Hook* h) const;
    // REQUIRES: no slot holds h's key.
    void add(Hook* h);
    // Empties slot i, moving later slots of the same probe run back into it.
    void erase_at(size_t i);
    void grow();
    // The slot the clock evicts next (the table is not empty).
    size_t pick_victim();

    mutable std::mutex mutex;
    std::vector<Slot> slots;  // size is zero or a power of two
    size_t count = 0;
    size_t hand = 0;  // the clock hand: a slot index
    size_t usage = 0;
    // Per shard, under the mutex: counters shared by all threads would move
    // one cache line between cores on every lookup.
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  static constexpr size_t kNumShards = 16;

  const size_t capacity_;
  const size_t shard_capacity_;
  const std::shared_ptr<BlockMemory> memory_;
  std::array<Shard, kNumShards> shards_;
  // Relaxed: ids need only be unique, which fetch_add guarantees at any order.
  std::atomic<uint64_t> next_cache_id_{1};
};

}  // namespace fsdb
