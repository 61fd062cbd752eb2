#include "sstable/block_memory.h"

#include <sys/mman.h>

#include <bit>
#include <cstdlib>
#include <mutex>
#include <new>

#include "util/background_thread.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define FSDB_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define FSDB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define FSDB_POISON(p, n) ((void)(p), (void)(n))
#define FSDB_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace fsdb {

namespace {
constexpr size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

// What a request is rounded up to a multiple of: 64 bytes (the alignment) up
// to 2 KiB, then 1/32 of the power of two below the request, so a slot is at
// most 1/32 larger than its request.
size_t rounding_step(size_t bytes) {
  return bytes <= 2048 ? 64 : size_t{1} << (std::bit_width(bytes - 1) - 6);
}
}  // namespace

size_t BlockMemory::class_of(size_t bytes) {
  const size_t slot = round_up(bytes, rounding_step(bytes));
  if (slot <= 2048) return slot / 64 - 1;  // 0..31
  // 2^k < bytes <= 2^(k+1), k in [11, 16]: 32 classes per k.
  const int k = std::bit_width(bytes - 1) - 1;
  const size_t index = (slot - (size_t{1} << k)) / rounding_step(bytes);  // 1..32
  return 31 + static_cast<size_t>(k - 11) * 32 + index;
}

size_t BlockMemory::slot_bytes(size_t bytes) {
  if (bytes > kMaxPooledBytes) return bytes;
  if (bytes == 0) bytes = 1;
  return round_up(bytes, rounding_step(bytes));
}

BlockMemory::BlockMemory(size_t prepare_up_to_bytes) : prepare_up_to_bytes_(prepare_up_to_bytes) {
  // Started here, when the cache is made (a DB's open), not on a read.
  if (prepare_up_to_bytes_ >= kChunkBytes) {
    try {
      preparer_ = std::make_unique<BackgroundThread>(/*max_queued=*/1, "fsdb:cachemem");
    } catch (...) {
      // No thread: reads fault their chunks in themselves.
    }
  }
}

BlockMemory::~BlockMemory() {
  // Joins the helper first: a preparation in flight finishes into prepared_.
  preparer_.reset();
  std::free(prepared_);
  for (char* chunk : chunks_) {
    FSDB_UNPOISON(chunk, kChunkBytes);
    std::free(chunk);
  }
}

char* BlockMemory::new_chunk() {
  void* chunk = std::aligned_alloc(kChunkBytes, kChunkBytes);
  if (chunk == nullptr) throw std::bad_alloc();
  // Small pages, also where transparent huge pages are always on: see "Why
  // not huge pages" in the header. Best effort.
  madvise(chunk, kChunkBytes, MADV_NOHUGEPAGE);
  return static_cast<char*>(chunk);
}

void BlockMemory::prepare_chunk() {
  char* chunk = nullptr;
  try {
    chunk = new_chunk();
  } catch (const std::bad_alloc&) {
    // No memory now: carve() will ask the system itself, and fail there.
  }
  if (chunk != nullptr) {
    bool populated = false;
#ifdef MADV_POPULATE_WRITE
    // One call faults in every page (kernel 5.14 and later).
    populated = madvise(chunk, kChunkBytes, MADV_POPULATE_WRITE) == 0;
#endif
    if (!populated) {
      // A write per page faults each in.
      for (size_t i = 0; i < kChunkBytes; i += 4096) {
        static_cast<volatile char*>(static_cast<void*>(chunk))[i] = 0;
      }
    }
  }
  {
    std::lock_guard<SpinMutex> guard(chunk_mutex_);
    preparing_ = false;
    // Readers may have taken chunks of their own meanwhile: keep this one
    // only if it still fits the bound.
    if ((chunks_.size() + 1) * kChunkBytes <= prepare_up_to_bytes_) {
      prepared_ = chunk;
      chunk = nullptr;
    }
  }
  std::free(chunk);
}

void BlockMemory::request_preparation() {
  if (preparer_ == nullptr) return;
  {
    std::lock_guard<SpinMutex> guard(chunk_mutex_);
    if (preparing_ || prepared_ != nullptr ||
        (chunks_.size() + 1) * kChunkBytes > prepare_up_to_bytes_) {
      return;
    }
    preparing_ = true;
  }
  bool queued = false;
  try {
    queued = preparer_->try_submit([this] { prepare_chunk(); });
  } catch (...) {
    // No memory for the task: carve() takes chunks itself.
  }
  if (!queued) {
    std::lock_guard<SpinMutex> guard(chunk_mutex_);
    preparing_ = false;
  }
}

char* BlockMemory::carve(size_t slot) {
  bool took_chunk = false;
  char* p = nullptr;
  {
    std::lock_guard<SpinMutex> guard(chunk_mutex_);
    if (static_cast<size_t>(bump_end_ - bump_) < slot) {
      // Room for the chunk's entry first: a throw leaves nothing half done.
      chunks_.reserve(chunks_.size() + 1);
      // The tail of the old chunk (less than one slot) stays unused.
      char* chunk = prepared_;
      if (chunk != nullptr) {
        prepared_ = nullptr;
        ++prepared_chunks_taken_;
      } else {
        chunk = new_chunk();
      }
      chunks_.push_back(chunk);
      bump_ = chunk;
      bump_end_ = bump_ + kChunkBytes;
      took_chunk = true;
    }
    p = bump_;
    bump_ += slot;
  }
  if (took_chunk) request_preparation();
  return p;
}

void* BlockMemory::allocate(size_t bytes) {
  if (bytes > kMaxPooledBytes) {
    void* p = std::aligned_alloc(kAlignment, round_up(bytes, kAlignment));
    if (p == nullptr) throw std::bad_alloc();
    return p;
  }
  if (bytes == 0) bytes = 1;
  FreeList& list = free_[class_of(bytes)];
  {
    std::lock_guard<SpinMutex> guard(list.mutex);
    if (FreeSlot* slot = list.head; slot != nullptr) {
      FSDB_UNPOISON(slot, sizeof(FreeSlot));
      list.head = slot->next;
      FSDB_UNPOISON(slot, bytes);
      return slot;
    }
  }
  char* p = carve(slot_bytes(bytes));
  FSDB_UNPOISON(p, bytes);
  return p;
}

void BlockMemory::deallocate(void* p, size_t bytes) {
  if (bytes > kMaxPooledBytes) {
    std::free(p);
    return;
  }
  if (bytes == 0) bytes = 1;
  FreeList& list = free_[class_of(bytes)];
  auto* slot = static_cast<FreeSlot*>(p);
  FSDB_UNPOISON(slot, sizeof(FreeSlot));  // a slot smaller than its header is never handed out
  std::lock_guard<SpinMutex> guard(list.mutex);
  slot->next = list.head;
  list.head = slot;
  FSDB_POISON(slot, slot_bytes(bytes));
}

size_t BlockMemory::reserved_bytes() const {
  std::lock_guard<SpinMutex> guard(chunk_mutex_);
  return (chunks_.size() + (prepared_ != nullptr ? 1 : 0)) * kChunkBytes;
}

size_t BlockMemory::prepared_chunks_taken() const {
  std::lock_guard<SpinMutex> guard(chunk_mutex_);
  return prepared_chunks_taken_;
}

}  // namespace fsdb
