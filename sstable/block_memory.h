// BlockMemory: where a block cache's blocks live.
//
// A cache of uncompressed blocks turns over its whole capacity again and again:
// every miss allocates a block of about block_bytes and every eviction frees
// one. Through malloc that churn costs more than it should: each block is
// zero-filled before it is decompressed into (std::string::resize), a thread's
// malloc arena grows a page at a time while the cache fills (a system call and
// a page fault per block; on a virtual machine a fault costs microseconds), and
// a cache spread over tens of MiB of 4 KiB pages misses the TLB on most hits.
//
// BlockMemory carves blocks out of 2 MiB chunks (asked for as transparent huge
// pages) in size classes 1/32 apart (at most ~3% rounding, ~1.5% on average),
// and keeps freed slots on a free list per class for the next block of that
// size. Slots are 64-byte aligned. Requests above kMaxPooledBytes (a table
// with huge values) go to the system allocator.
//
// Memory is returned to the system when the BlockMemory dies: the block cache
// owns it, and every block allocated from it holds a reference (see
// pooled_block_writer.h), so it outlives the last block. Until then the
// chunks it holds are bounded by the most the cache ever held at once (its
// capacity plus the blocks pinned by readers), per size class.
//
// Under AddressSanitizer a free slot is poisoned, so a use after free is
// still reported.
//
// Thread safety: allocate and deallocate may be called from any thread; each
// size class has its own lock, held for a few instructions.
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <vector>

#include "util/thread_wait.h"

namespace fsdb {

class BlockMemory {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  static constexpr size_t kMaxPooledBytes = size_t{128} << 10;

  BlockMemory() = default;
  ~BlockMemory();
  BlockMemory(const BlockMemory&) = delete;
  BlockMemory& operator=(const BlockMemory&) = delete;

  // The bytes a request of `bytes` occupies (its slot).
  static size_t slot_bytes(size_t bytes);
  // At least `bytes` (> 0) bytes, kAlignment-aligned. Throws std::bad_alloc
  // when the system has no memory left.
  void* allocate(size_t bytes);
  // `bytes` as given to allocate().
  void deallocate(void* p, size_t bytes);

  // Bytes taken from the system in chunks (not counting requests above
  // kMaxPooledBytes).
  size_t reserved_bytes() const;

 private:
  // Classes: 64-byte steps up to 2 KiB, then 32 steps per doubling up to
  // kMaxPooledBytes.
  static constexpr size_t kClasses = 32 + 6 * 32;
  static size_t class_of(size_t bytes);

  struct FreeSlot {
    FreeSlot* next;
  };
  struct alignas(64) FreeList {
    SpinMutex mutex;
    FreeSlot* head = nullptr;  // guarded by mutex
  };

  // A fresh slot from the current chunk (a new one when it is used up).
  char* carve(size_t slot);

  std::array<FreeList, kClasses> free_;
  mutable SpinMutex chunk_mutex_;
  std::vector<char*> chunks_;  // guarded by chunk_mutex_, like the two below
  char* bump_ = nullptr;
  char* bump_end_ = nullptr;
};

}  // namespace fsdb
