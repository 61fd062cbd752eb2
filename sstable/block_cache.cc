#include "sstable/block_cache.h"

namespace fsdb {

namespace {
// Bookkeeping per entry (list node, hash node, Block object) counted with its bytes.
constexpr size_t kEntryOverheadBytes = 128;

inline uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}
}  // namespace

size_t BlockCache::KeyHash::operator()(const Key& k) const {
  return static_cast<size_t>(mix64(k.cache_id * 0x9e3779b97f4a7c15ull ^ k.offset));
}

BlockCache::BlockCache(size_t capacity_bytes)
    : capacity_(capacity_bytes), shard_capacity_(capacity_bytes / kNumShards) {}

BlockCache::~BlockCache() = default;

uint64_t BlockCache::new_cache_id() {
  return next_cache_id_.fetch_add(1, std::memory_order_relaxed);
}

BlockCache::Shard& BlockCache::shard_for(const Key& key) {
  // The top bits pick the shard; the hash table uses the low bits.
  return shards_[KeyHash()(key) >> 60];
}

std::shared_ptr<const Block> BlockCache::lookup(uint64_t cache_id, uint64_t offset) {
  const Key key{cache_id, offset};
  Shard& shard = shard_for(key);
  std::shared_ptr<const Block> result;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto found = shard.index.find(key);
    if (found != shard.index.end()) {
      shard.lru.splice(shard.lru.begin(), shard.lru, found->second);
      result = found->second->block;
    }
  }
  (result ? hits_ : misses_).fetch_add(1, std::memory_order_relaxed);
  return result;
}

void BlockCache::insert(uint64_t cache_id, uint64_t offset, std::shared_ptr<const Block> block) {
  const Key key{cache_id, offset};
  const size_t charge = block->size() + kEntryOverheadBytes;
  if (charge > shard_capacity_) return;
  Shard& shard = shard_for(key);
  // Evicted blocks are released after the lock is dropped: freeing a block's
  // memory is not work to do while other threads wait on the shard.
  std::list<Entry> evicted;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto found = shard.index.find(key);
    if (found != shard.index.end()) {
      shard.usage -= found->second->charge;
      evicted.splice(evicted.end(), shard.lru, found->second);
      shard.index.erase(found);
    }
    shard.lru.push_front(Entry{key, std::move(block), charge});
    shard.index.emplace(key, shard.lru.begin());
    shard.usage += charge;
    while (shard.usage > shard_capacity_) {
      auto last = std::prev(shard.lru.end());
      shard.usage -= last->charge;
      shard.index.erase(last->key);
      evicted.splice(evicted.end(), shard.lru, last);
    }
  }
}

void BlockCache::erase_table(uint64_t cache_id) {
  for (Shard& shard : shards_) {
    std::list<Entry> evicted;
    std::lock_guard<std::mutex> lock(shard.mutex);
    for (auto it = shard.lru.begin(); it != shard.lru.end();) {
      auto next = std::next(it);
      if (it->key.cache_id == cache_id) {
        shard.usage -= it->charge;
        shard.index.erase(it->key);
        evicted.splice(evicted.end(), shard.lru, it);
      }
      it = next;
    }
  }
}

size_t BlockCache::usage() const {
  size_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    total += shard.usage;
  }
  return total;
}

}  // namespace fsdb
