// BlockCache: a sharded cache of uncompressed blocks (CLOCK, an LRU
// approximation; see below), shared by every table of a DB.
//
// Keys are (cache id, block offset): each TableReader takes a fresh cache id
// from new_cache_id() when it opens, so two tables (or one file reopened) never
// share entries. Capacity is in bytes (a block's size plus bookkeeping),
// divided evenly among 16 shards, each a CLOCK ring under its own mutex.
//
// The bookkeeping of a cached block lives in the block itself (BlockCacheHook,
// block.h): a hit reads the bucket and the block's first cache line, nothing
// else.
//
// Eviction is CLOCK (second chance), an approximation of LRU: the blocks of a
// shard sit on a ring in insertion order; a hit only sets the block's
// `referenced` bit; to make room, the clock hand walks the ring, clearing set
// bits and evicting the first block whose bit was clear. A hit thus writes
// nothing but the block's own hook — an LRU list would unlink and relink it,
// touching two other blocks (two more cache misses on a large cache) — and a
// block used since the hand last passed survives the next pass.
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

  size_t capacity() const { return capacity_; }
  size_t usage() const;
  uint64_t hits() const;
  uint64_t misses() const;

 private:
  using Hook = BlockCacheHook;
  static uint64_t hash_of(uint64_t cache_id, uint64_t offset);
  // A chained hash table whose buckets point straight at the blocks' hooks
  // (block.h), and the clock ring through the same hooks.
  struct alignas(64) Shard {
    ~Shard();
    Hook** find_slot(uint64_t cache_id, uint64_t offset, uint64_t hash);
    void add_to_table(Hook* h);
    void remove_from_table(Hook* h);
    void grow();
    // Puts h on the ring just behind the hand: the last block it reaches.
    void add_to_ring(Hook* h);
    void remove_from_ring(Hook* h);
    // The block the clock evicts next (the ring is not empty).
    Hook* pick_victim();

    mutable std::mutex mutex;
    std::vector<Hook*> buckets;  // size is zero or a power of two
    size_t count = 0;
    Hook* hand = nullptr;  // null: the ring is empty
    size_t usage = 0;
    // Per shard, under the mutex: counters shared by all threads would move
    // one cache line between cores on every lookup.
    uint64_t hits = 0;
    uint64_t misses = 0;
  };
  static constexpr size_t kNumShards = 16;

  const size_t capacity_;
  const size_t shard_capacity_;
  std::array<Shard, kNumShards> shards_;
  // Relaxed: ids need only be unique, which fetch_add guarantees at any order.
  std::atomic<uint64_t> next_cache_id_{1};
};

}  // namespace fsdb
