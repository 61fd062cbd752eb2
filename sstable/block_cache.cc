#include "sstable/block_cache.h"

namespace fsdb {

namespace {
// Bookkeeping per entry (the Entry, the Block object and its control block)
// counted with the block's bytes.
constexpr size_t kEntryOverheadBytes = 160;

inline uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

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

uint64_t BlockCache::hash_of(const Key& k) {
  return mix64(k.cache_id * 0x9e3779b97f4a7c15ull ^ k.offset);
}

BlockCache::Shard::~Shard() {
  for (Entry* e = head.next; e != &head;) {
    Entry* next = e->next;
    delete e;
    e = next;
  }
}

BlockCache::Entry** BlockCache::Shard::find_slot(const Key& key, uint64_t hash) {
  if (buckets.empty()) return nullptr;
  Entry** slot = &buckets[hash & (buckets.size() - 1)];
  while (*slot != nullptr && !((*slot)->hash == hash && (*slot)->key == key)) {
    slot = &(*slot)->hash_next;
  }
  return slot;
}

void BlockCache::Shard::add_to_table(Entry* e) {
  if (count + 1 > buckets.size()) grow();
  Entry*& bucket = buckets[e->hash & (buckets.size() - 1)];
  e->hash_next = bucket;
  bucket = e;
  ++count;
}

void BlockCache::Shard::grow() {
  std::vector<Entry*> bigger(buckets.empty() ? 256 : buckets.size() * 2, nullptr);
  for (Entry* chain : buckets) {
    while (chain != nullptr) {
      Entry* next = chain->hash_next;
      Entry*& bucket = bigger[chain->hash & (bigger.size() - 1)];
      chain->hash_next = bucket;
      bucket = chain;
      chain = next;
    }
  }
  buckets.swap(bigger);
}

BlockCache::BlockCache(size_t capacity_bytes)
    : capacity_(capacity_bytes), shard_capacity_(capacity_bytes / kNumShards) {}

BlockCache::~BlockCache() = default;

uint64_t BlockCache::new_cache_id() {
  return next_cache_id_.fetch_add(1, std::memory_order_relaxed);
}

BlockCache::Shard& BlockCache::shard_for(const Key& key) {
  // The top bits pick the shard; the shard's buckets use the low bits.
  return shards_[hash_of(key) >> 60];
}

std::shared_ptr<const Block> BlockCache::lookup(uint64_t cache_id, uint64_t offset) {
  const Key key{cache_id, offset};
  const uint64_t hash = hash_of(key);
  Shard& shard = shards_[hash >> 60];
  std::shared_ptr<const Block> result;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    Entry** slot = shard.find_slot(key, hash);
    if (slot != nullptr && *slot != nullptr) {
      Entry* e = *slot;
      if (shard.tick - e->promoted_at > shard.count / 4) {
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
  const uint64_t hash = hash_of(key);
  const size_t charge = block->size() + kEntryOverheadBytes;
  if (charge > shard_capacity_) return;
  Shard& shard = shards_[hash >> 60];
  // Evicted entries are freed after the lock is dropped: releasing a block's
  // memory is not work to do while other threads wait on the shard.
  std::vector<std::unique_ptr<Entry>> evicted;
  std::shared_ptr<const Block> replaced;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    Entry** slot = shard.find_slot(key, hash);
    Entry* e = slot != nullptr ? *slot : nullptr;
    if (e != nullptr) {  // replace the block of an existing entry
      shard.usage -= e->charge;
      unlink(e);
      replaced = std::move(e->block);
    } else {
      e = new Entry;
      e->key = key;
      e->hash = hash;
      shard.add_to_table(e);
    }
    e->block = std::move(block);
    e->charge = charge;
    e->promoted_at = ++shard.tick;
    link_front(&shard.head, e);
    shard.usage += charge;
    while (shard.usage > shard_capacity_) {
      Entry* victim = shard.head.prev;
      shard.usage -= victim->charge;
      unlink(victim);
      Entry** victim_slot = shard.find_slot(victim->key, victim->hash);
      *victim_slot = victim->hash_next;
      --shard.count;
      evicted.emplace_back(victim);
    }
  }
}

void BlockCache::erase_table(uint64_t cache_id) {
  for (Shard& shard : shards_) {
    std::vector<std::unique_ptr<Entry>> evicted;
    std::lock_guard<std::mutex> lock(shard.mutex);
    for (Entry*& bucket : shard.buckets) {
      Entry** slot = &bucket;
      while (*slot != nullptr) {
        Entry* e = *slot;
        if (e->key.cache_id == cache_id) {
          *slot = e->hash_next;
          --shard.count;
          shard.usage -= e->charge;
          unlink(e);
          evicted.emplace_back(e);
        } else {
          slot = &e->hash_next;
        }
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
