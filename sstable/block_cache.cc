#include "sstable/block_cache.h"

namespace fsdb {

namespace {

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
  for (Slot& slot : slots) {
    if (slot.hook != nullptr) slot.hook->self.reset();  // may destroy the block, and its hook
  }
}

size_t BlockCache::Shard::find(uint64_t cache_id, uint64_t offset, uint64_t hash) const {
  if (slots.empty()) return kNotFound;
  const size_t mask = slots.size() - 1;
  const auto tag = static_cast<uint32_t>(hash);
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& slot = slots[i];
    if (slot.hook == nullptr) return kNotFound;  // at most half full: an empty slot ends every run
    if (slot.hash == tag && slot.hook->offset == offset && slot.hook->cache_id == cache_id) {
      return i;
    }
  }
}

size_t BlockCache::Shard::find_hook(const Hook* h) const {
  if (slots.empty()) return kNotFound;
  const size_t mask = slots.size() - 1;
  for (size_t i = h->hash & mask;; i = (i + 1) & mask) {
    if (slots[i].hook == h) return i;
    if (slots[i].hook == nullptr) return kNotFound;
  }
}

void BlockCache::Shard::add(Hook* h) {
  // At most half full: probe runs stay short, and a miss soon meets an empty slot.
  if (2 * (count + 1) > slots.size()) grow();
  const size_t mask = slots.size() - 1;
  size_t i = h->hash & mask;
  while (slots[i].hook != nullptr) i = (i + 1) & mask;
  // Enters with its bit set: a block the hand reaches right after it was added
  // (its slot may lie anywhere ahead of the hand) still gets a second chance.
  slots[i] = Slot{h, static_cast<uint32_t>(h->hash), 1};
  ++count;
}

void BlockCache::Shard::erase_at(size_t i) {
  // Backward-shift deletion: a later slot of the run moves into the hole
  // unless its home lies cyclically in (hole, slot] (then it is already as
  // near its home as it can be), so no probe run is ever cut by the hole.
  const size_t mask = slots.size() - 1;
  size_t hole = i;
  for (size_t j = (i + 1) & mask; slots[j].hook != nullptr; j = (j + 1) & mask) {
    const size_t home = slots[j].hash & mask;
    const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
    if (stays) continue;
    slots[hole] = slots[j];
    hole = j;
  }
  slots[hole] = Slot{};
  --count;
}

void BlockCache::Shard::grow() {
  std::vector<Slot> bigger(slots.empty() ? 256 : slots.size() * 2);
  const size_t mask = bigger.size() - 1;
  for (const Slot& slot : slots) {
    if (slot.hook == nullptr) continue;
    // The stored 32 bits are enough for the home of any table up to 2^32 slots.
    size_t i = slot.hash & mask;
    while (bigger[i].hook != nullptr) i = (i + 1) & mask;
    bigger[i] = slot;
  }
  slots.swap(bigger);
  hand = 0;
}

size_t BlockCache::Shard::pick_victim() {
  // Terminates: the table holds a block, and each step past a block clears its
  // bit, so within one lap some block has none.
  const size_t mask = slots.size() - 1;
  for (;; hand = (hand + 1) & mask) {
    Slot& slot = slots[hand];
    if (slot.hook == nullptr) continue;
    if (slot.referenced == 0) return hand;
    slot.referenced = 0;
  }
}

BlockCache::BlockCache(size_t capacity_bytes)
    : capacity_(capacity_bytes),
      shard_capacity_(capacity_bytes / kNumShards),
      memory_(std::make_shared<BlockMemory>(capacity_bytes)) {}

BlockCache::~BlockCache() = default;

uint64_t BlockCache::new_cache_id() {
  return next_cache_id_.fetch_add(1, std::memory_order_relaxed);
}

std::shared_ptr<const Block> BlockCache::lookup(uint64_t cache_id, uint64_t offset) {
  const uint64_t hash = hash_of(cache_id, offset);
  Shard& shard = shards_[hash >> 60];  // the top bits pick the shard, the low bits the bucket
  std::lock_guard<std::mutex> lock(shard.mutex);
  const size_t i = shard.find(cache_id, offset, hash);
  if (i == Shard::kNotFound) {
    ++shard.misses;
    return nullptr;
  }
  Slot& slot = shard.slots[i];
  slot.referenced = 1;
  ++shard.hits;
  return slot.hook->self;
}

void BlockCache::insert(uint64_t cache_id, uint64_t offset, std::shared_ptr<const Block> block) {
  const uint64_t hash = hash_of(cache_id, offset);
  const size_t charge = block->memory_bytes();
  if (charge > shard_capacity_) return;
  Shard& shard = shards_[hash >> 60];
  // Released after the lock is dropped: freeing a block's memory is not work
  // to do while other threads wait on the shard.
  // (If recording one runs out of memory, the block is freed right there; a
  // block out of the shard must never keep its own reference.)
  std::vector<std::shared_ptr<const Block>> evicted;
  const auto evict = [&evicted](Hook* gone) {
    std::shared_ptr<const Block> out = std::move(gone->self);
    evicted.push_back(std::move(out));
  };
  {
    std::lock_guard<std::mutex> lock(shard.mutex);
    Hook* const h = &block->cache_hook_;
    if (h->self != nullptr) return;  // already cached (here or in another cache)
    const size_t existing = shard.find(cache_id, offset, hash);
    if (existing != Shard::kNotFound) {  // replace the block cached under this key
      Hook* old = shard.slots[existing].hook;
      shard.erase_at(existing);
      shard.usage -= old->charge;
      evict(old);
    }
    h->cache_id = cache_id;
    h->offset = offset;
    h->hash = hash;
    h->charge = charge;
    // In the shard before it holds itself: add() may grow the shard and throw.
    shard.add(h);
    h->self = std::move(block);
    shard.usage += charge;
    while (shard.usage > shard_capacity_) {
      const size_t victim_slot = shard.pick_victim();
      Hook* victim = shard.slots[victim_slot].hook;
      if (victim == h) {
        // The hand came round to the block just added: it fits on its own
        // (charge <= capacity), so some other block is the one to go.
        shard.slots[victim_slot].referenced = 1;
        shard.hand = (shard.hand + 1) & (shard.slots.size() - 1);
        continue;
      }
      shard.erase_at(victim_slot);
      shard.usage -= victim->charge;
      evict(victim);
    }
  }
}

void BlockCache::erase_table(uint64_t cache_id) {
  for (Shard& shard : shards_) {
    std::vector<std::shared_ptr<const Block>> evicted;
    std::lock_guard<std::mutex> lock(shard.mutex);
    // Collected first: erasing moves slots, which a scan in place could skip.
    std::vector<Hook*> doomed;
    for (const Slot& slot : shard.slots) {
      if (slot.hook != nullptr && slot.hook->cache_id == cache_id) doomed.push_back(slot.hook);
    }
    for (Hook* h : doomed) {
      shard.erase_at(shard.find_hook(h));
      shard.usage -= h->charge;
      evicted.push_back(std::move(h->self));
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
