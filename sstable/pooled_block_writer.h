// PooledBlockWriter: reads a block straight into the memory it will live in.
//
// reserve() takes one BlockMemory slot with room for the block's bytes and,
// behind them (at the next 64-byte boundary), for its header: the reference
// count and the Block object. read_block() decompresses into the front of the
// slot, so a block costs one allocation and no copy or zero fill; finish()
// builds the header in the room behind (std::allocate_shared with an
// allocator that hands it out), and the last reference returns the slot.
//
// Why the header goes behind the bytes: a cache hit reads the header (the
// hook it compares, the count it increments) and then seeks in the block,
// starting from the restart array at the end of the bytes. Side by side, the
// two are neighbouring cache lines, fetched together, instead of two misses
// one after the other.
//
// Lifetime: that allocator holds a reference to the BlockMemory, so the pool
// outlives every block taken from it, whatever is destroyed first.
//
// Thread safety: one writer per read; the blocks are like any other.
#pragma once

#include <memory>

#include "sstable/block.h"
#include "sstable/block_fetcher.h"
#include "sstable/block_memory.h"

namespace fsdb {

class PooledBlockWriter final : public BlockDestination {
 public:
  explicit PooledBlockWriter(std::shared_ptr<BlockMemory> memory) : memory_(std::move(memory)) {}
  // Returns the slot if finish() did not take it.
  ~PooledBlockWriter();
  PooledBlockWriter(const PooledBlockWriter&) = delete;
  PooledBlockWriter& operator=(const PooledBlockWriter&) = delete;

  char* reserve(size_t bytes) override;
  // The block read into the reserved bytes; fails as Block::parse() does.
  // REQUIRES: reserve() was called.
  Status finish(std::shared_ptr<const Block>* block);

  // Room for the reference count block: the Block, the count block's own
  // header (a vtable pointer and two counts) and the allocator it keeps (a
  // shared_ptr). A standard library whose count block is larger fails to
  // compile (a static_assert where the count block is allocated).
  static constexpr size_t kHeaderBytes = sizeof(Block) + 16 + 16;

 private:
  size_t slot_request() const { return header_offset_ + kHeaderBytes; }

  std::shared_ptr<BlockMemory> memory_;
  char* slot_ = nullptr;
  size_t header_offset_ = 0;  // where the header's room starts in the slot
  size_t contents_bytes_ = 0;
};

}  // namespace fsdb
