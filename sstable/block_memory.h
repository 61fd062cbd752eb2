// BlockMemory: where a block cache's blocks live.
//
// A cache of uncompressed blocks turns over its whole capacity again and again:
// every miss allocates a block of about block_bytes and every eviction frees
// one. Through malloc that churn costs more than it should: each block is
// zero-filled before it is decompressed into (std::string::resize), and a
// thread's malloc arena grows a page at a time while the cache fills (a
// system call and a page fault per block; on a virtual machine a fault costs
// microseconds).
//
// BlockMemory carves blocks out of 2 MiB chunks in size classes 1/32 apart (at
// most ~3% rounding, ~1.5% on average), and keeps freed slots on a free list
// per class for the next block of that size. Slots are 64-byte aligned.
// Requests above kMaxPooledBytes (a table with huge values) go to the system
// allocator.
//
// Memory is returned to the system when the BlockMemory dies: the block cache
// owns it, and every block allocated from it holds a reference (see
// pooled_block_writer.h), so it outlives the last block. Until then the
// chunks it holds are bounded by the most the cache ever held at once (its
// capacity plus the blocks pinned by readers), per size class.
//
// Faulting ahead: a fresh chunk's pages fault on their first touch, inside
// whatever read touched them, while a cache fills from empty (every read
// after an open). With a nonzero `prepare_up_to_bytes` (the block cache
// passes its capacity) a helper thread, started with the pool, takes and
// faults in the next chunk while the current one is carved, so the reads
// find it ready. It prepares one chunk at a time, and keeps it only if the
// chunks taken plus that one are within the bound when it is done: the
// memory is what a full cache would hold anyway. A cache that stops growing
// below its capacity keeps that one chunk idle.
//
// Why not huge pages: on a virtual machine whose host takes the guest's free
// memory back (free page reporting works on free 2 MiB blocks), a fresh huge
// page was nearly always one the host had to back again: ~3 ms per chunk,
// slower than a filling cache uses chunks, so the helper fell behind and
// reads paid the rest (up to a quarter of a short read benchmark). With small
// pages (the chunks are advised MADV_NOHUGEPAGE, so also where transparent
// huge pages are always on) and the helper faulting a whole chunk in with one
// call, the same benchmark ran faster in 8 of 9 runs; warm, the two were
// within noise, huge pages perhaps a few percent ahead on seeks
// (docs/performance.md, *Block memory faulted ahead*).
//
// Under AddressSanitizer a free slot is poisoned, so a use after free is
// still reported.
//
// Thread safety: allocate and deallocate may be called from any thread; each
// size class has its own lock, held for a few instructions, and the chunks
// one more. The helper only ever takes that lock; the destructor joins it
// (so it must not run on the helper: no task of the helper holds a block).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <vector>

#include "util/thread_wait.h"

namespace fsdb {

class BackgroundThread;

class BlockMemory {
 public:
  static constexpr size_t kAlignment = 64;
  static constexpr size_t kChunkBytes = size_t{2} << 20;
  static constexpr size_t kMaxPooledBytes = size_t{128} << 10;

  // `prepare_up_to_bytes`: see "Faulting ahead" above; 0 prepares nothing.
  explicit BlockMemory(size_t prepare_up_to_bytes = 0);
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

  // Bytes taken from the system in chunks, the prepared one included (not
  // counting requests above kMaxPooledBytes).
  size_t reserved_bytes() const;
  // Chunks the helper prepared that a carve then took (a statistic).
  size_t prepared_chunks_taken() const;

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
  // A new chunk from the system. Throws std::bad_alloc.
  static char* new_chunk();
  // On the helper thread: takes and faults in the next chunk.
  void prepare_chunk();
  // Asks the helper for the next chunk if one is due (see "Faulting ahead").
  // Called without chunk_mutex_.
  void request_preparation();

  const size_t prepare_up_to_bytes_;

  std::array<FreeList, kClasses> free_;
  mutable SpinMutex chunk_mutex_;
  std::vector<char*> chunks_;  // guarded by chunk_mutex_, like the five below
  char* bump_ = nullptr;
  char* bump_end_ = nullptr;
  char* prepared_ = nullptr;  // a faulted-in chunk ready for carve(), or null
  bool preparing_ = false;    // a preparation is queued or running
  size_t prepared_chunks_taken_ = 0;
  // The helper (null without a bound, or if it could not start). The
  // destructor joins it first, finishing a preparation in flight.
  std::unique_ptr<BackgroundThread> preparer_;
};

}  // namespace fsdb
