// TableIterator: an InternalIterator over one table, a two-level walk of the
// decoded index (IndexArray) and the data blocks it points to.
//
// The current data block is held by std::shared_ptr, which pins it in the block
// cache's sense: eviction cannot free it while the iterator is on it. A read or
// decode error stops the iterator (valid() false) with a Corruption or I/O
// status naming the file and the block offset; the next seek starts afresh.
//
// Readahead: once the iterator has stepped from block to block twice in one
// direction (a scan, not a seek), and read_options.readahead names a
// background thread, it asks that thread to read the next kReadaheadBlocks
// blocks of the same direction while it walks the current one; reading a block
// from the file is mostly zstd decompression, which then runs beside the scan
// on another core. A block the thread has not started is read by the iterator
// itself (the request is withdrawn), one it is reading is waited for, so the
// scan never goes slower than without readahead. A seek or a change of
// direction withdraws what was requested.
//
// Thread safety: one thread at a time. Ownership: borrows its TableReader, which
// must outlive it (the destructor waits for a block the background thread is
// reading for it).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "sstable/block.h"
#include "sstable/table_options.h"
#include "util/internal_iterator.h"

namespace fsdb {

class TableReader;

class TableIterator final : public InternalIterator {
 public:
  static constexpr size_t kReadaheadBlocks = 4;

  TableIterator(const TableReader* table, const TableReadOptions& read_options);
  ~TableIterator() override;
  TableIterator(const TableIterator&) = delete;
  TableIterator& operator=(const TableIterator&) = delete;

  bool valid() const override { return valid_; }
  void seek_to_first() override;
  void seek_to_last() override;
  void seek(std::string_view user_key, SequenceNumber seq) override;
  void seek_for_prev(std::string_view user_key, SequenceNumber seq) override;
  void next() override;
  void prev() override;

  std::string_view user_key() const override { return current_.user_key; }
  SequenceNumber sequence() const override { return current_.sequence; }
  ValueKind kind() const override { return current_.kind; }
  std::string_view value() const override { return data_iter_.value(); }
  Status status() const override { return status_; }

 private:
  struct AheadBlock;  // a block requested from the background thread
  // Loads the data block at index position index_pos_; false (and the
  // iterator invalid) past either end of the index or on an error.
  // `step` is +1 / -1 when the iterator walked there from the neighbouring
  // block, 0 after a seek.
  bool load_data_block(int step = 0);
  // Reads block `index`: from what was requested ahead if it is there.
  Status read_block(size_t index, std::shared_ptr<const Block>* block);
  // Requests the blocks after index_pos_ in the direction of the walk.
  void read_ahead();
  // Withdraws every request; waits for one the background thread is reading.
  void drop_ahead();
  void skip_empty_blocks_forward();
  void skip_empty_blocks_backward();
  // Parses the current entry's key, or records corruption; sets valid_.
  void settle();
  void set_error(Status s);
  void clear();

  const TableReader* const table_;
  const TableReadOptions read_options_;
  // Position in the table's IndexArray; index size (or -1 as size_t max) when
  // past the last (first) block.
  size_t index_pos_ = 0;
  std::shared_ptr<const Block> data_block_;
  uint64_t data_block_offset_ = 0;
  BlockIterator data_iter_;
  ParsedInternalKey current_;
  bool valid_ = false;
  Status status_;
  std::string target_;
  // Readahead: consecutive steps in one direction so far (+ forward, -
  // backward) and the blocks requested, nearest first.
  int walk_ = 0;
  std::vector<std::shared_ptr<AheadBlock>> ahead_;
};

}  // namespace fsdb
