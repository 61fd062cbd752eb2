// BlockCache: a sharded LRU cache of uncompressed blocks, shared by every table
// of a DB.
//
// Keys are (cache id, block offset): each TableReader takes a fresh cache id
// from new_cache_id() when it opens, so two tables (or one file reopened) never
// share entries. Capacity is in bytes (a block's size plus bookkeeping),
// divided evenly among 16 shards, each an LRU list under its own mutex.
//
// LRU order: a hit moves an entry to the front of its shard's list unless it is
// already among the most recent quarter of the list's promotions. Eviction order
// is then LRU up to that quarter, and a hit on a hot block costs no writes to
// its list neighbours (three cache misses on a large cache).
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
  // than a shard's capacity is not cached.
  void insert(uint64_t cache_id, uint64_t offset, std::shared_ptr<const Block> block);
  // Drops every block of one table (when its file is deleted).
  void erase_table(uint64_t cache_id);

  size_t capacity() const { return capacity_; }
  size_t usage() const;
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  struct Key {
    uint64_t cache_id;
    uint64_t offset;
    bool operator==(const Key&) const = default;
  };
  static uint64_t hash_of(const Key& k);
  // One cached block. Chained in its shard's hash table through hash_next, and
  // in the shard's LRU list through prev/next, whose sentinel is Shard::head
  // (head.next = most recently used). Owned by the shard.
  struct Entry {
    Key key{};
    uint64_t hash = 0;
    std::shared_ptr<const Block> block;
    size_t charge = 0;
    uint64_t promoted_at = 0;  // the shard's tick when this entry last moved to the front
    Entry* hash_next = nullptr;
    Entry* prev = nullptr;
    Entry* next = nullptr;
  };
  // A chained hash table whose buckets point straight at entries: a hit costs
  // the bucket and the entry, not the extra node hop of std::unordered_map.
  struct Shard {
    Shard() { head.prev = head.next = &head; }
    ~Shard();
    Entry** find_slot(const Key& key, uint64_t hash);
    void add_to_table(Entry* e);
    void grow();

    mutable std::mutex mutex;
    std::vector<Entry*> buckets;  // size is zero or a power of two
    size_t count = 0;
    Entry head;
    uint64_t tick = 0;
    size_t usage = 0;
  };
  static constexpr size_t kNumShards = 16;

  Shard& shard_for(const Key& key);

  const size_t capacity_;
  const size_t shard_capacity_;
  std::array<Shard, kNumShards> shards_;
  // Statistics and id allocation only: no other memory is published through
  // these counters, so relaxed ordering is enough (ids need only be unique,
  // which fetch_add guarantees at any ordering).
  std::atomic<uint64_t> next_cache_id_{1};
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace fsdb
