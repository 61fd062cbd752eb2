#include "sstable/pooled_block_writer.h"

#include <cstring>
#include <new>

namespace fsdb {

namespace {
// Where a header's slot starts: its offset in the slot is stored in the 8
// bytes right in front of the header (reserve() leaves room for them), so the
// allocator needs nothing but the pool and stays 16 bytes, which puts the
// Block's hook in the header's first cache line, beside the reference count.
char* slot_of_header(void* header, uint64_t* header_offset) {
  std::memcpy(header_offset, static_cast<char*>(header) - sizeof(uint64_t), sizeof(uint64_t));
  return static_cast<char*>(header) - *header_offset;
}

// The header room finish() is about to hand to allocate_shared. Passed this
// way, not in the allocator, because the allocator is stored in every count
// block: at 16 bytes (the pool's shared_ptr alone) the Block's hook starts 32
// bytes into the header, in its first cache line with the reference count.
// allocate_shared calls allocate() once, on the calling thread, before it
// returns.
thread_local char* header_to_hand_out = nullptr;

// Hands allocate_shared the header room at the end of the block's slot: the
// reference count and the Block go there, right behind the block's bytes.
// deallocate() (the count block is freed after its Block is destroyed)
// returns the whole slot. The allocator is copied into the count block and
// holds the pool's reference, so the pool outlives the slot.
template <typename T>
struct SlotAllocator {
  using value_type = T;
  std::shared_ptr<BlockMemory> memory;

  explicit SlotAllocator(std::shared_ptr<BlockMemory> m) : memory(std::move(m)) {}
  template <typename U>
  SlotAllocator(const SlotAllocator<U>& other)  // NOLINT: rebinding converts
      : memory(other.memory) {}

  T* allocate(size_t n) {
    static_assert(alignof(T) <= BlockMemory::kAlignment);
    // Only the count block is allocated: a standard library whose count block
    // does not fit the room kept for it fails to compile, not every read.
    static_assert(sizeof(T) <= PooledBlockWriter::kHeaderBytes,
                  "PooledBlockWriter::kHeaderBytes is too small for this standard library");
    char* header = header_to_hand_out;
    header_to_hand_out = nullptr;
    if (n * sizeof(T) > PooledBlockWriter::kHeaderBytes || header == nullptr) {
      throw std::bad_alloc();  // a count block larger than the room: see kHeaderBytes
    }
    return reinterpret_cast<T*>(header);
  }
  void deallocate(T* p, size_t) {
    uint64_t header_offset;
    char* slot = slot_of_header(p, &header_offset);
    memory->deallocate(slot, header_offset + PooledBlockWriter::kHeaderBytes);
  }
  template <typename U>
  bool operator==(const SlotAllocator<U>& other) const {
    return memory == other.memory;
  }
};
}  // namespace

PooledBlockWriter::~PooledBlockWriter() {
  if (slot_ != nullptr) memory_->deallocate(slot_, slot_request());
}

char* PooledBlockWriter::reserve(size_t bytes) {
  if (slot_ != nullptr) memory_->deallocate(slot_, slot_request());
  slot_ = nullptr;
  // The header starts on a cache line, with 8 bytes for its offset in front.
  const uint64_t header_offset = (bytes + sizeof(uint64_t) + BlockMemory::kAlignment - 1) /
                                 BlockMemory::kAlignment * BlockMemory::kAlignment;
  slot_ = static_cast<char*>(memory_->allocate(header_offset + kHeaderBytes));
  std::memcpy(slot_ + header_offset - sizeof(uint64_t), &header_offset, sizeof(uint64_t));
  header_offset_ = header_offset;
  contents_bytes_ = bytes;
  return slot_;
}

Status PooledBlockWriter::finish(std::shared_ptr<const Block>* block) {
  // allocate_shared either succeeds, after which the count block owns the
  // slot, or throws having built nothing: this writer's destructor frees it.
  header_to_hand_out = slot_ + header_offset_;
  std::shared_ptr<Block> b = std::allocate_shared<Block>(
      SlotAllocator<Block>(memory_), Block::PrivateTag{}, std::string_view(slot_, contents_bytes_),
      BlockMemory::slot_bytes(slot_request()));
  slot_ = nullptr;
  Status s = b->init();
  if (s.ok()) *block = std::move(b);
  return s;
}

}  // namespace fsdb
