// sstable/: BlockMemory (the block cache's memory) and PooledBlockWriter.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sstable/block.h"
#include "sstable/block_builder.h"
#include "sstable/block_memory.h"
#include "sstable/pooled_block_writer.h"
#include "util/internal_key.h"

namespace fsdb {
namespace {

TEST(BlockMemoryTest, SlotsCoverTheirRequestWithinAThirtySecond) {
  for (size_t bytes = 1; bytes <= BlockMemory::kMaxPooledBytes; bytes += (bytes < 9000 ? 1 : 97)) {
    const size_t slot = BlockMemory::slot_bytes(bytes);
    ASSERT_GE(slot, bytes);
    ASSERT_EQ(slot % BlockMemory::kAlignment, 0u) << bytes;
    if (bytes > 2048) {
      ASSERT_LE(slot - bytes, bytes / 32) << bytes;
    } else {
      ASSERT_LT(slot - bytes, BlockMemory::kAlignment) << bytes;
    }
  }
  // Past the pooled sizes a request is its own size.
  EXPECT_EQ(BlockMemory::slot_bytes(BlockMemory::kMaxPooledBytes + 1),
            BlockMemory::kMaxPooledBytes + 1);
}

TEST(BlockMemoryTest, AFreedSlotServesTheNextRequestOfItsClass) {
  BlockMemory memory;
  void* a = memory.allocate(4100);
  ASSERT_EQ(reinterpret_cast<uintptr_t>(a) % BlockMemory::kAlignment, 0u);
  std::memset(a, 0xab, 4100);
  void* b = memory.allocate(4100);
  EXPECT_NE(a, b);
  memory.deallocate(a, 4100);
  // 4100 and 4200 round to the same 4224-byte slot.
  ASSERT_EQ(BlockMemory::slot_bytes(4100), BlockMemory::slot_bytes(4200));
  EXPECT_EQ(memory.allocate(4200), a);
  // Another class never gets it.
  memory.deallocate(a, 4200);
  void* c = memory.allocate(8000);
  EXPECT_NE(c, a);
  memory.deallocate(b, 4100);
  memory.deallocate(c, 8000);
}

TEST(BlockMemoryTest, MemoryComesInChunksAndIsReused) {
  BlockMemory memory;
  EXPECT_EQ(memory.reserved_bytes(), 0u);
  constexpr size_t kBlocks = 2000;
  constexpr size_t kBytes = 4200;
  std::vector<void*> blocks;
  for (size_t i = 0; i < kBlocks; ++i) blocks.push_back(memory.allocate(kBytes));
  const size_t reserved = memory.reserved_bytes();
  const size_t per_chunk = BlockMemory::kChunkBytes / BlockMemory::slot_bytes(kBytes);
  EXPECT_EQ(reserved, (kBlocks + per_chunk - 1) / per_chunk * BlockMemory::kChunkBytes);
  // Freed and taken again (a cache turning over): no new memory.
  for (int round = 0; round < 3; ++round) {
    for (void* p : blocks) memory.deallocate(p, kBytes);
    for (void*& p : blocks) p = memory.allocate(kBytes - 50 * round);
  }
  EXPECT_EQ(memory.reserved_bytes(), reserved);
  for (size_t i = 0; i < blocks.size(); ++i) memory.deallocate(blocks[i], kBytes - 100);
}

TEST(BlockMemoryTest, HugeRequestsBypassThePool) {
  BlockMemory memory;
  const size_t bytes = BlockMemory::kMaxPooledBytes + 12345;
  char* p = static_cast<char*>(memory.allocate(bytes));
  std::memset(p, 1, bytes);
  EXPECT_EQ(memory.reserved_bytes(), 0u);
  memory.deallocate(p, bytes);
}

// Waits (up to 20 s) until `memory` holds `bytes` in chunks.
bool wait_for_reserved(const BlockMemory& memory, size_t bytes) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (memory.reserved_bytes() != bytes) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

TEST(BlockMemoryTest, AHelperFaultsInTheNextChunkWhileTheBoundAllowsIt) {
  constexpr size_t kChunk = BlockMemory::kChunkBytes;
  BlockMemory memory(3 * kChunk);
  constexpr size_t kBytes = 4200;
  const size_t per_chunk = kChunk / BlockMemory::slot_bytes(kBytes);
  std::vector<void*> blocks;
  auto fill_chunk = [&] {
    for (size_t i = 0; i < per_chunk; ++i) {
      blocks.push_back(memory.allocate(kBytes));
      std::memset(blocks.back(), 0x5a, kBytes);
    }
  };
  // The first chunk is the caller's; taking it asks for the second.
  blocks.push_back(memory.allocate(kBytes));
  ASSERT_TRUE(wait_for_reserved(memory, 2 * kChunk)) << memory.reserved_bytes();
  EXPECT_EQ(memory.prepared_chunks_taken(), 0u);
  fill_chunk();  // runs past the first chunk: the prepared one is taken
  EXPECT_EQ(memory.prepared_chunks_taken(), 1u);
  // Two taken and one prepared make three chunks: still within the bound.
  ASSERT_TRUE(wait_for_reserved(memory, 3 * kChunk)) << memory.reserved_bytes();
  fill_chunk();
  EXPECT_EQ(memory.prepared_chunks_taken(), 2u);
  // Three taken: a fourth would pass the bound, so none is prepared (given
  // time, a wrong one would show in reserved_bytes()) and the next one comes
  // from the caller.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(memory.reserved_bytes(), 3 * kChunk);
  fill_chunk();
  EXPECT_EQ(memory.prepared_chunks_taken(), 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(memory.reserved_bytes(), 4 * kChunk);
  for (void* p : blocks) memory.deallocate(p, kBytes);
}

TEST(BlockMemoryTest, WithoutABoundNothingIsPrepared) {
  BlockMemory memory;
  std::vector<void*> blocks;
  for (int i = 0; i < 2000; ++i) blocks.push_back(memory.allocate(4200));
  // 2000 slots of 4224 bytes, 496 to a chunk: five chunks, and given time no
  // sixth made ahead.
  ASSERT_EQ(BlockMemory::kChunkBytes / BlockMemory::slot_bytes(4200), 496u);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(memory.reserved_bytes(), 5 * BlockMemory::kChunkBytes);
  EXPECT_EQ(memory.prepared_chunks_taken(), 0u);
  for (void* p : blocks) memory.deallocate(p, 4200);
}

// A pool destroyed while its helper may be preparing a chunk frees it too
// (AddressSanitizer's leak check would say otherwise).
TEST(BlockMemoryTest, DestroyedWhileAChunkIsBeingPrepared) {
  for (int i = 0; i < 20; ++i) {
    BlockMemory memory(size_t{64} << 20);
    memory.deallocate(memory.allocate(100), 100);
  }
}

// Threads allocate, fill with their own pattern, check it and free, in random
// sizes: two live allocations sharing memory show up as a broken pattern (and
// under ThreadSanitizer as a race). `prepare_up_to_bytes` > 0 has a helper
// thread hand over chunks at the same time.
void check_concurrent_allocations_never_overlap(size_t prepare_up_to_bytes) {
  BlockMemory memory(prepare_up_to_bytes);
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  std::atomic<int> broken{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t + 1);
      struct Live {
        unsigned char* p;
        size_t bytes;
        unsigned char fill;
      };
      std::vector<Live> live;
      for (int op = 0; op < 20000; ++op) {
        if (live.size() < 64 && (live.empty() || rng() % 2 == 0)) {
          const size_t bytes = 1 + rng() % (rng() % 8 == 0 ? 40000 : 6000);
          auto* p = static_cast<unsigned char*>(memory.allocate(bytes));
          const auto fill = static_cast<unsigned char>(rng());
          std::memset(p, fill, bytes);
          live.push_back({p, bytes, fill});
        } else {
          const size_t i = rng() % live.size();
          const Live l = live[i];
          for (size_t j = 0; j < l.bytes; j += 61) {
            if (l.p[j] != l.fill) {
              broken.fetch_add(1);
              break;
            }
          }
          memory.deallocate(l.p, l.bytes);
          live[i] = live.back();
          live.pop_back();
        }
      }
      for (const Live& l : live) memory.deallocate(l.p, l.bytes);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(broken.load(), 0);
}

TEST(BlockMemoryTest, ConcurrentAllocationsNeverOverlap) {
  check_concurrent_allocations_never_overlap(0);
}

TEST(BlockMemoryTest, ConcurrentAllocationsNeverOverlapWhileChunksArePrepared) {
  check_concurrent_allocations_never_overlap(size_t{64} << 20);
}

std::string block_image(int entries) {
  BlockBuilder builder(16);
  for (int i = 0; i < entries; ++i) {
    char key[32];
    std::snprintf(key, sizeof(key), "key%08d", i);
    std::string ikey;
    append_internal_key(&ikey, key, 5, ValueKind::kValue);
    builder.add(ikey, "value" + std::to_string(i));
  }
  return std::string(builder.finish());
}

TEST(PooledBlockWriterTest, ABlockOutlivesItsPoolsOwnerAndIsChargedForItsSlot) {
  const std::string image = block_image(300);
  auto memory = std::make_shared<BlockMemory>();
  std::shared_ptr<const Block> block;
  {
    PooledBlockWriter writer(memory);
    std::copy(image.begin(), image.end(), writer.reserve(image.size()));
    ASSERT_TRUE(writer.finish(&block).ok());
  }
  EXPECT_EQ(block->size(), image.size());
  EXPECT_EQ(block->memory_bytes(), BlockMemory::slot_bytes((image.size() + 8 + 63) / 64 * 64 +
                                                           PooledBlockWriter::kHeaderBytes));
  EXPECT_GE(block->memory_bytes(), image.size() + sizeof(Block));
  EXPECT_GT(memory->reserved_bytes(), 0u);
  // The block keeps the pool alive: its bytes stay readable (AddressSanitizer
  // would report them freed) after the last other owner lets go.
  memory.reset();
  BlockIterator it(block.get());
  int n = 0;
  for (it.seek_to_first(); it.valid(); it.next()) ++n;
  EXPECT_TRUE(it.status().ok());
  EXPECT_EQ(n, 300);
}

TEST(PooledBlockWriterTest, AMalformedBlockIsRefusedAndItsSlotReturned) {
  auto memory = std::make_shared<BlockMemory>();
  void* slot = nullptr;
  {
    PooledBlockWriter writer(memory);
    char* out = writer.reserve(64);
    std::memset(out, 0xff, 64);  // a restart count far past the block
    slot = out;
    std::shared_ptr<const Block> block;
    EXPECT_TRUE(writer.finish(&block).is_corruption());
    EXPECT_EQ(block, nullptr);
  }
  // The same request gets the same slot back: the failed block did not keep it.
  PooledBlockWriter writer(memory);
  EXPECT_EQ(writer.reserve(64), slot);
}

}  // namespace
}  // namespace fsdb
