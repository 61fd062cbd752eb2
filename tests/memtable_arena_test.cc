// Tests of the memtable's ShardedArena: alignment, exact accounting, block
// growth, dedicated blocks for big allocations, and more threads than shards.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>
#include <vector>

#include "memtable/arena.h"

namespace fsdb::memtable_detail {
namespace {

TEST(ShardedArenaTest, AlignedAndAccountedExactly) {
  ShardedArena arena(1024, 1);
  ArenaShard& shard = arena.shard_for_this_thread();
  EXPECT_EQ(&shard, &arena.shard_for_this_thread());  // cached, stable
  EXPECT_EQ(arena.memory_usage(), 0u);
  EXPECT_EQ(arena.memory_reserved(), 0u);
  size_t expected = 0;
  for (size_t bytes : {1, 7, 8, 9, 100, 13, 64}) {
    char* p = arena.allocate(shard, bytes).memory;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % ShardedArena::kAlignment, 0u);
    std::memset(p, 0xab, bytes);  // writable (ASan checks the bounds)
    expected += (bytes + 3) / 4 * 4;
  }
  EXPECT_EQ(arena.memory_usage(), expected);
  EXPECT_EQ(arena.memory_reserved(), 1024u);
}

TEST(ShardedArenaTest, BlocksGrowGeometricallyAndBigAllocationsGetTheirOwn) {
  ShardedArena arena(1024, 1);
  ArenaShard& shard = arena.shard_for_this_thread();
  arena.allocate(shard, 200);  // block 1: 1024 bytes
  arena.allocate(shard, 800);  // fits in block 1
  EXPECT_EQ(arena.memory_reserved(), 1024u);
  arena.allocate(shard, 100);  // 24 bytes left: block 2, twice as big
  EXPECT_EQ(arena.memory_reserved(), 1024u + 2048u);
  // Bigger than a quarter of the next block (4096): a block of its own, the
  // current block keeps serving small allocations.
  char* big = arena.allocate(shard, 3000).memory;
  std::memset(big, 1, 3000);
  EXPECT_EQ(arena.memory_reserved(), 1024u + 2048u + 3000u);
  arena.allocate(shard, 100);  // still from block 2
  EXPECT_EQ(arena.memory_reserved(), 1024u + 2048u + 3000u);
  EXPECT_EQ(arena.memory_usage(), 200u + 800u + 100u + 3000u + 100u);
  // Growth stops at kMaxBlockBytes.
  for (int i = 0; i < 20000; ++i) arena.allocate(shard, 1000);
  EXPECT_GE(arena.memory_reserved(), arena.memory_usage());
  EXPECT_LT(arena.memory_reserved() - arena.memory_usage(), 2 * ShardedArena::kMaxBlockBytes);
}

TEST(ShardedArenaTest, RegionsBumpInBlocksOfTheirOwn) {
  ShardedArena arena(1024, 1);
  ArenaShard& shard = arena.shard_for_this_thread();
  // Interleaved allocations: each region stays contiguous in its own block.
  const ShardedArena::Allocation short1 = arena.allocate(shard, 100, ShardedArena::kShortRegion);
  const ShardedArena::Allocation tall1 = arena.allocate(shard, 60, ShardedArena::kTallRegion);
  const ShardedArena::Allocation short2 = arena.allocate(shard, 100, ShardedArena::kShortRegion);
  const ShardedArena::Allocation tall2 = arena.allocate(shard, 60, ShardedArena::kTallRegion);
  EXPECT_NE(short1.block, tall1.block);
  EXPECT_EQ(short2.block, short1.block);
  EXPECT_EQ(tall2.block, tall1.block);
  EXPECT_EQ(short2.memory, short1.memory + 100);
  EXPECT_EQ(tall2.memory, tall1.memory + 60);
  std::memset(short1.memory, 1, 200);
  std::memset(tall1.memory, 2, 120);
  EXPECT_EQ(arena.node_at(arena.ref_of(tall2, tall2.memory)),
            reinterpret_cast<Node*>(tall2.memory));
  // The second region took the second block, which grew (1024, then 2048).
  EXPECT_EQ(arena.memory_reserved(), 1024u + 2048u);
  EXPECT_EQ(arena.memory_usage(), 320u);
  // A region that fills its block moves on without disturbing the other one.
  arena.allocate(shard, 1900, ShardedArena::kTallRegion);  // 1988 of 2048: still fits
  const ShardedArena::Allocation tall3 = arena.allocate(shard, 100, ShardedArena::kTallRegion);
  EXPECT_NE(tall3.block, tall1.block);
  EXPECT_EQ(arena.memory_reserved(), 1024u + 2048u + 4096u);
  const ShardedArena::Allocation short3 = arena.allocate(shard, 100, ShardedArena::kShortRegion);
  EXPECT_EQ(short3.block, short1.block);
  EXPECT_EQ(short3.memory, short1.memory + 200);
}

TEST(ShardedArenaTest, ReferencesNameEveryPlaceInEveryBlock) {
  ShardedArena arena(256, 1);
  ArenaShard& shard = arena.shard_for_this_thread();
  EXPECT_EQ(arena.node_at(0), nullptr);
  std::vector<std::pair<char*, NodeRef>> places;
  // Small allocations across growing blocks, dedicated ones, and one larger
  // than a full-size block (its start is still addressable).
  for (size_t bytes : {12, 40, 100, 200, 3000, 60, 5000000, 8, 700000, 16}) {
    for (int i = 0; i < 50; ++i) {
      const ShardedArena::Allocation a = arena.allocate(shard, bytes);
      // A node starts a few links into its allocation (and inside it).
      char* node = a.memory + std::min<size_t>((i % 4) * 4, bytes - 4);
      places.emplace_back(node, arena.ref_of(a, node));
    }
  }
  std::vector<NodeRef> refs;
  for (const auto& [p, ref] : places) {
    EXPECT_NE(ref, 0u);
    EXPECT_EQ(reinterpret_cast<char*>(arena.node_at(ref)), p);
    refs.push_back(ref);
  }
  std::sort(refs.begin(), refs.end());
  EXPECT_EQ(std::adjacent_find(refs.begin(), refs.end()), refs.end()) << "no two places share one";
}

TEST(ShardedArenaTest, RunningOutOfBlockNumbersIsABadAlloc) {
  // A lowered cap stands in for kMaxBlockNumber (8191 blocks, 16 GiB).
  constexpr uint32_t kCap = 40;
  ShardedArena arena(256, 1, kCap);
  ArenaShard& shard = arena.shard_for_this_thread();
  size_t allocations = 0;
  bool refused = false;
  std::vector<std::pair<char*, NodeRef>> places;
  for (; allocations < 100000; ++allocations) {
    try {
      const ShardedArena::Allocation a = arena.allocate(shard, 100 + allocations % 5000);
      places.emplace_back(a.memory, arena.ref_of(a, a.memory));
    } catch (const std::bad_alloc&) {
      refused = true;
      break;
    }
  }
  ASSERT_TRUE(refused);
  EXPECT_GT(allocations, kCap) << "blocks were shared, not one per allocation";
  for (const auto& [p, ref] : places) {
    ASSERT_EQ(reinterpret_cast<char*>(arena.node_at(ref)), p);
  }
  EXPECT_THROW(arena.allocate(shard, 1 << 20), std::bad_alloc) << "and it stays refused";
  // A refusal takes no memory: the list must not grow by a block per
  // refused write for as long as it lives.
  const size_t reserved = arena.memory_reserved();
  for (int i = 0; i < 100; ++i) EXPECT_THROW(arena.allocate(shard, 1 << 20), std::bad_alloc);
  EXPECT_EQ(arena.memory_reserved(), reserved);
}

TEST(ShardedArenaTest, FullSizeBlocksOfADeadArenaAreReusedUpToTheLimit) {
  constexpr size_t kBlock = ShardedArena::kMaxBlockBytes;
  HugeBlockPool& pool = HugeBlockPool::instance();
  // Only recycled blocks here: no stocking.
  pool.set_stock_target(0);
  // Start from an empty pool (other tests of this process may have filled it).
  std::vector<char*> drained;
  while (char* b = pool.take()) drained.push_back(b);
  for (char* b : drained) std::free(b);
  ASSERT_EQ(pool.size(), 0u);

  std::vector<char*> first_blocks;
  {
    // First block already full size: every block this arena takes is pooled.
    ShardedArena arena(kBlock, 1);
    ArenaShard& shard = arena.shard_for_this_thread();
    // Eight allocations fill a block; the first of each starts one.
    for (size_t i = 0; i < 8 * (HugeBlockPool::kMaxBlocks + 4); ++i) {
      char* p = arena.allocate(shard, kBlock / 8).memory;
      p[0] = p[kBlock / 8 - 1] = 0x5a;
      if (i % 8 == 0) first_blocks.push_back(p);
    }
    EXPECT_EQ(arena.memory_reserved(), kBlock * (HugeBlockPool::kMaxBlocks + 4));
    EXPECT_EQ(pool.size(), 0u) << "blocks go to the pool only when the arena dies";
  }
  EXPECT_EQ(pool.size(), HugeBlockPool::kMaxBlocks) << "the rest went back to the system";

  ShardedArena arena(kBlock, 1);
  ArenaShard& shard = arena.shard_for_this_thread();
  char* reused = arena.allocate(shard, 100).memory;
  EXPECT_EQ(pool.size(), HugeBlockPool::kMaxBlocks - 1);
  EXPECT_NE(std::find(first_blocks.begin(), first_blocks.end(), reused), first_blocks.end())
      << "the new arena's first block is one the dead arena gave back";
  std::memset(reused, 0, 100);  // writable
  // Smaller blocks are never pooled.
  {
    ShardedArena small(4096, 1);
    small.allocate(small.shard_for_this_thread(), 100);
  }
  EXPECT_EQ(pool.size(), HugeBlockPool::kMaxBlocks - 1);
}

// Once an arena has asked for a full-size block, the pool's stocker keeps
// blocks ready with their pages already faulted in (mincore reports every
// page of them resident), and arenas get those blocks.
TEST(ShardedArenaTest, StockerKeepsFaultedBlocksReady) {
  constexpr size_t kBlock = ShardedArena::kMaxBlockBytes;
  constexpr size_t kPage = 4096;
  HugeBlockPool& pool = HugeBlockPool::instance();
  pool.set_stock_target(0);
  while (char* b = pool.take()) std::free(b);
  const uint64_t stocked_before = pool.blocks_stocked();

  // (No take() here to check that the stock starts empty: the stocker starts
  // at once, and a test descheduled for the time one block takes would find
  // it made.)
  pool.set_stock_target(2);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (pool.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(pool.size(), 2u) << "the stocker refills to the target";
  EXPECT_EQ(pool.blocks_stocked(), stocked_before + 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(pool.size(), 2u) << "and stops there";

  char* block = pool.take();
  ASSERT_NE(block, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(block) % kBlock, 0u) << "huge-page aligned";
  std::vector<unsigned char> resident(kBlock / kPage);
  ASSERT_EQ(::mincore(block, kBlock, resident.data()), 0);
  EXPECT_EQ(static_cast<size_t>(std::count_if(resident.begin(), resident.end(),
                                              [](unsigned char r) { return (r & 1) != 0; })),
            resident.size())
      << "every page of a stocked block is already faulted in";
  std::memset(block, 0x5a, kBlock);  // writable, all of it (ASan checks the bounds)
  std::free(block);

  // An arena's full-size blocks come from the stock.
  while (pool.size() < 2 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_EQ(pool.size(), 2u);
  {
    ShardedArena arena(kBlock, 1);
    ArenaShard& shard = arena.shard_for_this_thread();
    std::memset(arena.allocate(shard, 1000).memory, 0, 1000);
    EXPECT_EQ(arena.memory_reserved(), kBlock);
  }
  pool.set_stock_target(0);
  while (char* b = pool.take()) std::free(b);
}

// fork() while the stocker is making blocks: the child's pool is usable (its
// mutex was not left held by a thread the child does not have) and the child
// gets a stocker of its own.
TEST(ShardedArenaTest, StockerSurvivesFork) {
#if defined(__SANITIZE_THREAD__)
  GTEST_SKIP() << "ThreadSanitizer does not support threads started after a multi-threaded fork";
#elif defined(__SANITIZE_ADDRESS__)
  // The parent's stocker can be inside the allocator when the test forks.
  // glibc's malloc locks its arenas around fork(); GCC 12's libasan
  // allocator does not, so the child's first allocation can wait forever on
  // a lock a parent thread held (seen: the child's stocker blocked on an
  // allocator mutex). That would deadlock any program, pool or not; the test
  // runs in the other builds.
  GTEST_SKIP() << "GCC 12's AddressSanitizer allocator is not fork-safe";
#else
  HugeBlockPool& pool = HugeBlockPool::instance();
  pool.set_stock_target(2);
  for (int round = 0; round < 8; ++round) {
    // Emptying the stock sets the stocker to work; fork while it is at it.
    while (char* b = pool.take()) std::free(b);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::alarm(30);  // a deadlocked child dies of SIGALRM, and the test fails
      while (char* b = pool.take()) std::free(b);
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (pool.size() < 2 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      ::_exit(pool.size() == 2 ? 0 : 3);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status)) << "round " << round << ": the child did not exit (signal "
                                   << (WIFSIGNALED(status) ? WTERMSIG(status) : 0) << ")";
    ASSERT_EQ(WEXITSTATUS(status), 0) << "round " << round << ": the child's stock stayed empty";
  }
  pool.set_stock_target(0);
  while (char* b = pool.take()) std::free(b);
#endif
}

TEST(ShardedArenaTest, MoreThreadsThanShards) {
  ShardedArena arena(4096, 2);
  constexpr int kThreads = 8;
  constexpr int kAllocations = 2000;
  std::vector<std::vector<char*>> pointers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ArenaShard& shard = arena.shard_for_this_thread();
      for (int i = 0; i < kAllocations; ++i) {
        char* p = arena.allocate(shard, 24).memory;
        std::memset(p, t, 24);
        pointers[t].push_back(p);
      }
    });
  }
  for (auto& th : threads) th.join();
  // Nobody's bytes were handed to anyone else.
  for (int t = 0; t < kThreads; ++t) {
    for (char* p : pointers[t]) {
      for (int b = 0; b < 24; ++b) ASSERT_EQ(p[b], static_cast<char>(t));
    }
  }
  EXPECT_EQ(arena.memory_usage(), size_t{kThreads} * kAllocations * 24);
  EXPECT_GE(arena.memory_reserved(), arena.memory_usage());
  // Each of the 2 shards and the shared one trails by less than one step.
  EXPECT_LE(arena.approximate_memory_usage(), arena.memory_usage());
  EXPECT_LT(arena.memory_usage() - arena.approximate_memory_usage(), 3 * arena.publish_step());
}

TEST(ShardedArenaTest, ApproximateUsageTrailsByLessThanAStep) {
  ShardedArena arena(4096, 1);
  ASSERT_EQ(arena.publish_step(), 256u);
  ArenaShard& shard = arena.shard_for_this_thread();
  EXPECT_EQ(arena.approximate_memory_usage(), 0u);
  bool lagged = false;
  for (size_t bytes : {4, 8, 100, 252, 256, 1000, 5000, 12, 40, 2048, 8, 4}) {
    for (int i = 0; i < 7; ++i) {
      arena.allocate(shard, bytes);
      const size_t exact = arena.memory_usage();
      const size_t approximate = arena.approximate_memory_usage();
      ASSERT_LE(approximate, exact);
      ASSERT_LT(exact - approximate, arena.publish_step()) << "after " << bytes;
      lagged |= approximate < exact;
    }
  }
  // It is not simply the exact figure.
  EXPECT_TRUE(lagged);
}

TEST(ShardedArenaTest, NextFreeIsWhereTheNextAllocationLands) {
  constexpr int kShort = ShardedArena::kShortRegion;
  constexpr int kTall = ShardedArena::kTallRegion;
  ShardedArena arena(1024, 1);
  ArenaShard& shard = arena.shard_for_this_thread();
  for (int region : {kShort, kTall}) {
    EXPECT_EQ(ShardedArena::next_free(shard, region, 8), nullptr);  // no block yet
  }
  const char* short_block = arena.allocate(shard, 100, kShort).memory;  // a 1024-byte block
  arena.allocate(shard, 60, kTall);
  // Each region's next allocation, odd sizes included (allocate() rounds them).
  for (size_t bytes : {1, 7, 64, 130, 33}) {
    for (int region : {kShort, kTall}) {
      const char* expected = ShardedArena::next_free(shard, region, bytes);
      ASSERT_NE(expected, nullptr) << bytes;
      EXPECT_EQ(arena.allocate(shard, bytes, region).memory, expected) << bytes;
    }
  }
  // What is left of the short region's block: a request that fills it gets
  // the cursor, one more byte gets null, and that allocation lands elsewhere.
  const char* cursor = ShardedArena::next_free(shard, kShort, 1);
  ASSERT_NE(cursor, nullptr);
  const size_t left = static_cast<size_t>(short_block + 1024 - cursor);
  ASSERT_GT(left, 0u);
  EXPECT_EQ(ShardedArena::next_free(shard, kShort, left), cursor);
  EXPECT_EQ(ShardedArena::next_free(shard, kShort, left + 1), nullptr);
  EXPECT_NE(arena.allocate(shard, left + 1, kShort).memory, cursor);
  // The shared shard's cursor moves under its mutex, for any thread: never a hint.
  std::thread([&] {
    ArenaShard& shared = arena.shard_for_this_thread();
    ASSERT_FALSE(shared.exclusive());
    arena.allocate(shared, 100);
    EXPECT_EQ(ShardedArena::next_free(shared, kShort, 8), nullptr);
  }).join();
}

}  // namespace
}  // namespace fsdb::memtable_detail
