#include "sstable/block_cache.h"

#include <vector>

namespace fsdb {

namespace {
// Bookkeeping per entry (hash node, Block object, control block) counted with its bytes.
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

namespace {
template <typename E>
void unlink(E* e) {
  e->prev->next = e->next;
  e->next->prev = e->prev;
}
template <typename E>
void link_front(E* head, E* e) {
  e->next = head->next;
  e->prev = head;
  head->next->prev = e;
  head->next = e;
}
}  // namespace

std::shared_ptr<const Block> BlockCache::lookup(uint64_t cache_id, uint64_t offset) {
  const Key key{cache_id, offset};
  Shard& shard = shard_for(key);
  std::shared_ptr<const Block> result;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto found = shard.table.find(key);
    if (found != shard.table.end()) {
      Entry* e = &found->second;
      if (shard.tick - e->promoted_at > shard.table.size() / 4) {
        unlink(e);
        link_front(&shard.head, e);
        e->promoted_at = ++shard.tick;
      }
      result = e->block;
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
  std::vector<std::shared_ptr<const Block>> evicted;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    auto [it, inserted] = shard.table.try_emplace(key);
    Entry* e = &it->second;
    if (!inserted) {
      shard.usage -= e->charge;
      evicted.push_back(std::move(e->block));
      unlink(e);
    }
    e->block = std::move(block);
    e->charge = charge;
    e->key = &it->first;
    e->promoted_at = ++shard.tick;
    link_front(&shard.head, e);
    shard.usage += charge;
    while (shard.usage > shard_capacity_) {
      Entry* victim = shard.head.prev;
      shard.usage -= victim->charge;
      unlink(victim);
      evicted.push_back(std::move(victim->block));
      shard.table.erase(*victim->key);
    }
  }
}

void BlockCache::erase_table(uint64_t cache_id) {
  for (Shard& shard : shards_) {
    std::vector<std::shared_ptr<const Block>> evicted;
    std::lock_guard<std::mutex> lock(shard.mutex);
    for (auto it = shard.table.begin(); it != shard.table.end();) {
      if (it->first.cache_id == cache_id) {
        shard.usage -= it->second.charge;
        unlink(&it->second);
        evicted.push_back(std::move(it->second.block));
        it = shard.table.erase(it);
      } else {
        ++it;
      }
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
