#include "memtable/arena.h"

#include <algorithm>
#include <new>
#include <thread>

namespace fsdb::memtable_detail {
namespace {

// Relaxed: only uniqueness of the values matters, not their order with anything.
std::atomic<uint64_t> next_arena_id{1};
std::atomic<uint64_t> next_thread_id{1};

uint64_t this_thread_id() {
  thread_local const uint64_t id = next_thread_id.fetch_add(1, std::memory_order_relaxed);
  return id;
}

// A small per-thread cache (arena id -> shard), so the hot path finds its shard
// without scanning. Arena ids are never reused, so a stale entry can never match
// a newer arena at the same address.
struct ShardCacheEntry {
  uint64_t arena_id = 0;
  ArenaShard* shard = nullptr;
};
constexpr size_t kShardCacheEntries = 4;
thread_local ShardCacheEntry shard_cache[kShardCacheEntries];
thread_local size_t shard_cache_victim = 0;

char* allocate_block(size_t bytes) {
  if (bytes == ShardedArena::kMaxBlockBytes) {
    if (char* stocked = HugeBlockPool::instance().take()) return stocked;
  }
  char* p = bytes % kHugePageBytes == 0 ? allocate_huge_block(bytes)
                                        : static_cast<char*>(std::malloc(bytes));
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

}  // namespace

void ArenaShard::FreeBlock::operator()(char* p) const {
  if (bytes == ShardedArena::kMaxBlockBytes && HugeBlockPool::instance().give(p)) return;
  std::free(p);
}

ShardedArena::ShardedArena(size_t first_block_bytes, size_t shards, uint32_t max_block_number)
    : id_(next_arena_id.fetch_add(1, std::memory_order_relaxed)),
      first_block_bytes_(std::clamp<size_t>(first_block_bytes, 256, kMaxBlockBytes)),
      bases_(new std::atomic<char*>[kMaxBlockNumber + 1]),
      max_block_number_(std::min(max_block_number, kMaxBlockNumber)) {
  // Relaxed: nothing reads the table before the arena is shared.
  for (uint32_t i = 0; i <= kMaxBlockNumber; ++i) {
    bases_[i].store(nullptr, std::memory_order_relaxed);
  }
  if (shards == 0) shards = std::max(1u, std::thread::hardware_concurrency());
  shards_.reserve(shards);
  for (size_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<ArenaShard>());
    shards_.back()->next_block_bytes_ = first_block_bytes_;
  }
  shared_.exclusive_ = false;
  shared_.next_block_bytes_ = first_block_bytes_;
}

ArenaShard& ShardedArena::shard_for_this_thread() {
  for (const auto& e : shard_cache) {
    if (e.arena_id == id_) return *e.shard;
  }
  ArenaShard& shard = lookup_or_claim();
  ShardCacheEntry& slot = shard_cache[shard_cache_victim++ % kShardCacheEntries];
  slot.arena_id = id_;
  slot.shard = &shard;
  return shard;
}

ArenaShard& ShardedArena::lookup_or_claim() {
  const uint64_t me = this_thread_id();
  // The shard may already be ours (the cache entry was evicted). Relaxed: a
  // thread can only match the id its own CAS wrote, and its own earlier writes
  // to the shard are visible to it in program order.
  for (const auto& s : shards_) {
    if (s->owner_.load(std::memory_order_relaxed) == me) return *s;
  }
  for (const auto& s : shards_) {
    uint64_t expected = 0;
    // acq_rel: a claimed shard is never released, so there is no earlier
    // owner's state to acquire; the CAS only has to make the claim exclusive,
    // and acq_rel is the plainly sufficient order for a once-per-thread step.
    // (The relaxed pre-check only skips claimed shards cheaply.)
    if (s->owner_.load(std::memory_order_relaxed) == 0 &&
        s->owner_.compare_exchange_strong(expected, me, std::memory_order_acq_rel)) {
      return *s;
    }
  }
  return shared_;
}

uint32_t ShardedArena::take_block_number() {
  // Relaxed: the numbers only have to be distinct; a CAS rather than a
  // fetch_add so that refusals past the cap leave the counter alone (it
  // cannot wrap around to entry 0, however many writes are refused).
  uint32_t number = next_block_.load(std::memory_order_relaxed);
  do {
    if (number > max_block_number_) throw std::bad_alloc();
  } while (!next_block_.compare_exchange_weak(number, number + 1, std::memory_order_relaxed));
  return number;
}

ShardedArena::Allocation ShardedArena::allocate_slow(ArenaShard& shard, size_t bytes, int region) {
  std::unique_lock<std::mutex> lock;
  if (!shard.exclusive_) lock = std::unique_lock<std::mutex>(shared_mutex_);
  ArenaShard::Region& r = shard.regions_[region];
  if (static_cast<size_t>(r.limit - r.cursor) < bytes) {
    // A node bigger than a quarter of the next block gets a block of its own, so
    // that the tail of the current block is not thrown away for it.
    const bool dedicated = bytes > shard.next_block_bytes_ / 4;
    const size_t block_bytes = dedicated ? bytes : shard.next_block_bytes_;
    // The number first: once they have run out, a refused allocation takes
    // no memory at all. (A number taken for a block the system then refuses
    // is lost; the system running out is the rarer end.)
    const uint32_t number = take_block_number();
    std::unique_ptr<char, ArenaShard::FreeBlock> owned(allocate_block(block_bytes),
                                                       ArenaShard::FreeBlock{block_bytes});
    char* block = owned.get();
    shard.blocks_.push_back(std::move(owned));
    // Relaxed: statistics only.
    shard.reserved_.store(shard.reserved_.load(std::memory_order_relaxed) + block_bytes,
                          std::memory_order_relaxed);
    // Relaxed: published by the links to the nodes built in the block (node_at()).
    bases_[number].store(block, std::memory_order_relaxed);
    // Either way the blocks to come grow: block numbers are a bounded resource
    // (kMaxBlockNumber), so many big nodes must not each take one while the
    // block size stays small.
    shard.next_block_bytes_ = std::min(shard.next_block_bytes_ * 2, kMaxBlockBytes);
    if (dedicated) {
      count_used(shard, bytes);
      return {block, number};
    }
    r.cursor = block;
    r.limit = block + block_bytes;
    r.block = number;
  }
  char* result = r.cursor;
  r.cursor += bytes;
  count_used(shard, bytes);
  return {result, r.block};
}

size_t ShardedArena::memory_usage() const {
  size_t total = 0;
  // Relaxed: a statistic; each counter is read atomically, the sum is approximate
  // while writers run and exact once they have stopped.
  for_each_shard([&](const ArenaShard& s) { total += s.used_.load(std::memory_order_relaxed); });
  return total;
}

size_t ShardedArena::approximate_memory_usage() const {
  size_t total = 0;
  // Relaxed: as in memory_usage().
  for_each_shard(
      [&](const ArenaShard& s) { total += s.published_used_.load(std::memory_order_relaxed); });
  return total;
}

size_t ShardedArena::memory_reserved() const {
  size_t total = 0;
  // Relaxed: as in memory_usage().
  for_each_shard(
      [&](const ArenaShard& s) { total += s.reserved_.load(std::memory_order_relaxed); });
  return total;
}

}  // namespace fsdb::memtable_detail
