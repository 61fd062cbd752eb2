// Block: one uncompressed block in memory (the layout of block_builder.h), and
// BlockIterator, a cursor over its entries.
//
// Block::parse checks the restart array once; the iterator checks every entry it
// decodes against the block's bounds, so a malformed block yields a Corruption
// status, never a read outside the block. Messages here say what is wrong; the
// table layer adds the file and the block offset.
//
// Thread safety: a Block is immutable and may be read by many iterators on many
// threads. A BlockIterator is used by one thread at a time and must not outlive
// its Block. Ownership: a Block owns its bytes (a string of its own, or the
// front of the BlockMemory slot it sits in when PooledBlockWriter built it);
// blocks are shared between the
// block cache and readers through std::shared_ptr, which is what pins a block
// while an iterator or a lookup uses it. A block is in at most one BlockCache,
// under one key, at a time (its bookkeeping lives in cache_hook_).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "fsdb/status.h"

namespace fsdb {

class Block;

// The block cache's bookkeeping for one block, kept inside the Block so that a
// cache hit reads one object (the block's own first cache line, beside its
// reference count) instead of a separate cache entry. Guarded by the mutex of
// the cache shard that holds the block; meaningless while `self` is null.
struct BlockCacheHook {
  uint64_t cache_id = 0;
  uint64_t offset = 0;
  std::shared_ptr<const Block> self;  // the cache's reference; null: not cached
  uint64_t hash = 0;
  size_t charge = 0;
};

class Block {
 public:
  // Takes the block's bytes; fails if the restart array is malformed.
  static Status parse(std::string contents, std::unique_ptr<Block>* block);
  // The same, with the Block and its reference count in one allocation (for
  // blocks shared with the cache).
  static Status parse_shared(std::string contents, std::shared_ptr<const Block>* block);

  size_t size() const { return contents_.size(); }
  uint32_t num_restarts() const { return num_restarts_; }
  // The memory the block holds: its bytes, the Block, its reference count and
  // what the allocator rounds up. What a cache charges for it.
  size_t memory_bytes() const { return memory_bytes_; }

 private:
  friend class BlockIterator;
  friend class BlockCache;
  friend class PooledBlockWriter;
  struct PrivateTag {};

  // Bookkeeping of a block parsed from a string: the Block, its reference
  // count and the allocator's headers.
  static constexpr size_t kOwnedOverheadBytes = 160;

 public:
  // Public only so that std::make_shared can call it; the private tag keeps
  // every other caller on parse().
  Block(PrivateTag, std::string contents)
      : owned_(std::make_unique<std::string>(std::move(contents))),
        memory_bytes_(owned_->size() + kOwnedOverheadBytes) {
    contents_ = *owned_;
  }
  // Bytes that outlive the Block (PooledBlockWriter: its allocator frees them
  // with the Block's reference count).
  Block(PrivateTag, std::string_view contents, size_t memory_bytes)
      : contents_(contents), memory_bytes_(memory_bytes) {}
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;

 private:
  // Checks the restart array and fills in data_end_ and num_restarts_.
  Status init();

  uint32_t restart_point(uint32_t index) const;

  // The order is for a cache hit, which reads the hook (first, beside the
  // reference count in front of the Block) and then, to seek, where the bytes
  // and their restart array are: all within the Block's first 72 bytes, two
  // cache lines of a pooled block's header.
  mutable BlockCacheHook cache_hook_;
  std::string_view contents_;
  uint32_t data_end_ = 0;  // where the restart array begins
  uint32_t num_restarts_ = 0;
  std::unique_ptr<std::string> owned_;  // the bytes, when the Block owns them as a string
  size_t memory_bytes_;
};

// Walks a block's entries in stored order. seek() compares keys as encoded
// internal keys (util/internal_key.h), so it is for data and index blocks.
class BlockIterator {
 public:
  BlockIterator() = default;
  explicit BlockIterator(const Block* block) { reset(block); }
  void reset(const Block* block);

  bool valid() const { return block_ != nullptr && current_ < block_->data_end_; }
  const Status& status() const { return status_; }
  // REQUIRES: valid().
  std::string_view key() const { return std::string_view(key_buffer_.data(), key_size_); }
  std::string_view value() const { return value_; }

  void seek_to_first();
  void seek_to_last();
  // At the first entry whose key >= target (internal order).
  void seek(std::string_view target);
  // REQUIRES: valid().
  void next();
  void prev();

 private:
  void invalidate() { current_ = block_ == nullptr ? 0 : block_->data_end_; }
  void corrupt(std::string_view what);
  void seek_to_restart(uint32_t index);
  // Scans forward from restart point `index` to the first key >= target.
  void seek_from_restart(uint32_t index, std::string_view target);
  // Decodes the entry at next_offset_; false at the end of the data or on corruption.
  bool parse_next_entry();
  // Sets *key to the full key stored at a restart point (shared must be 0).
  bool restart_key(uint32_t index, std::string_view* key);

  const Block* block_ = nullptr;
  uint32_t current_ = 0;      // offset of the current entry; data_end_ when not valid
  uint32_t next_offset_ = 0;  // offset just past the current entry
  std::string key_buffer_;    // the current key in its first key_size_ bytes
  uint32_t key_size_ = 0;
  std::string_view value_;
  Status status_;
};

}  // namespace fsdb
