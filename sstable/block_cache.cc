#include "sstable/block_cache.h"

namespace fsdb {

namespace {
// Bookkeeping per block (the Block object, its hook and its reference-count
// block) counted with the block's bytes.
constexpr size_t kEntryOverheadBytes = 160;

inline uint64_t mix64(uint64_t x) {  // splitmix64 finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  x ^= x >> 31;
  return x;
}

}  // namespace

uint64_t BlockCache::hash_of(uint64_t cache_id, uint64_t offset) {
  return mix64(cache_id * 0x9e3779b97f4a7c15ull ^ offset);
}

BlockCache::Shard::~Shard() {
  while (hand != nullptr) {
    Hook* h = hand;
    remove_from_ring(h);
    h->self.reset();  // may destroy the block, and with it *h
  }
}

void BlockCache::Shard::add_to_ring(Hook* h) {
  if (hand == nullptr) {
    h->prev = h->next = h;
    hand = h;
    return;
  }
  h->next = hand;
  h->prev = hand->prev;
  hand->prev->next = h;
  hand->prev = h;
}

void BlockCache::Shard::remove_from_ring(Hook* h) {
  if (h->next == h) {
    hand = nullptr;
    return;
  }
  h->prev->next = h->next;
  h->next->prev = h->prev;
  if (hand == h) hand = h->next;
}

BlockCache::Hook* BlockCache::Shard::pick_victim() {
  // Terminates: each step clears a bit, so within one lap some block has none.
  while (hand->referenced) {
    hand->referenced = false;
    hand = hand->next;
  }
  return hand;
}

void BlockCache::Shard::remove_from_table(Hook* h) {
  Hook** slot = find_slot(h->cache_id, h->offset, h->hash);
  *slot = h->hash_next;
  --count;
}

BlockCache::Hook** BlockCache::Shard::find_slot(uint64_t cache_id, uint64_t offset, uint64_t hash) {
  if (buckets.empty()) return nullptr;
  Hook** slot = &buckets[hash & (buckets.size() - 1)];
  while (*slot != nullptr &&
         !((*slot)->offset == offset && (*slot)->cache_id == cache_id && (*slot)->hash == hash)) {
    slot = &(*slot)->hash_next;
  }
  return slot;
}

void BlockCache::Shard::add_to_table(Hook* h) {
  // At most half full: a hit then rarely walks past another block's hook
  // first, and each hook it reads is a cache miss (buckets cost 8 bytes,
  // blocks 4 KiB).
  if (2 * (count + 1) > buckets.size()) grow();
  Hook*& bucket = buckets[h->hash & (buckets.size() - 1)];
  h->hash_next = bucket;
  bucket = h;
  ++count;
}

void BlockCache::Shard::grow() {
  std::vector<Hook*> bigger(buckets.empty() ? 256 : buckets.size() * 2, nullptr);
  for (Hook* chain : buckets) {
    while (chain != nullptr) {
      Hook* next = chain->hash_next;
      Hook*& bucket = bigger[chain->hash & (bigger.size() - 1)];
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

std::shared_ptr<const Block> BlockCache::lookup(uint64_t cache_id, uint64_t offset) {
  const uint64_t hash = hash_of(cache_id, offset);
  Shard& shard = shards_[hash >> 60];  // the top bits pick the shard, the low bits the bucket
  std::lock_guard<std::mutex> lock(shard.mutex);
  Hook** slot = shard.find_slot(cache_id, offset, hash);
  if (slot == nullptr || *slot == nullptr) {
    ++shard.misses;
    return nullptr;
  }
  Hook* h = *slot;
  h->referenced = true;
  ++shard.hits;
  return h->self;
}

void BlockCache::insert(uint64_t cache_id, uint64_t offset, std::shared_ptr<const Block> block) {
  const uint64_t hash = hash_of(cache_id, offset);
  const size_t charge = block->size() + kEntryOverheadBytes;
  if (charge > shard_capacity_) return;
  Shard& shard = shards_[hash >> 60];
  // Released after the lock is dropped: freeing a block's memory is not work
  // to do while other threads wait on the shard.
  std::vector<std::shared_ptr<const Block>> evicted;
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    Hook* const h = &block->cache_hook_;
    if (h->self != nullptr) return;  // already cached (here or in another cache)
    Hook** slot = shard.find_slot(cache_id, offset, hash);
    if (slot != nullptr && *slot != nullptr) {  // replace the block cached under this key
      Hook* old = *slot;
      shard.remove_from_table(old);
      shard.remove_from_ring(old);
      shard.usage -= old->charge;
      evicted.push_back(std::move(old->self));
    }
    h->cache_id = cache_id;
    h->offset = offset;
    h->hash = hash;
    h->charge = charge;
    h->referenced = false;
    h->self = std::move(block);
    shard.add_to_table(h);
    shard.add_to_ring(h);
    shard.usage += charge;
    while (shard.usage > shard_capacity_) {
      Hook* victim = shard.pick_victim();
      if (victim == h) {
        // The hand came round to the block just added: it fits on its own
        // (charge <= capacity), so some other block is the one to go.
        h->referenced = true;
        continue;
      }
      shard.remove_from_table(victim);
      shard.remove_from_ring(victim);
      shard.usage -= victim->charge;
      evicted.push_back(std::move(victim->self));
    }
  }
}

void BlockCache::erase_table(uint64_t cache_id) {
  for (Shard& shard : shards_) {
    std::vector<std::shared_ptr<const Block>> evicted;
    std::lock_guard<std::mutex> lock(shard.mutex);
    for (Hook*& bucket : shard.buckets) {
      Hook** slot = &bucket;
      while (*slot != nullptr) {
        Hook* h = *slot;
        if (h->cache_id == cache_id) {
          *slot = h->hash_next;
          --shard.count;
          shard.usage -= h->charge;
          shard.remove_from_ring(h);
          evicted.push_back(std::move(h->self));
        } else {
          slot = &h->hash_next;
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

uint64_t BlockCache::hits() const {
  uint64_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    total += shard.hits;
  }
  return total;
}

uint64_t BlockCache::misses() const {
  uint64_t total = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard<std::mutex> lock(shard.mutex);
    total += shard.misses;
  }
  return total;
}

}  // namespace fsdb
