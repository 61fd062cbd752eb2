// TableReader: an open SSTable.
//
// open() reads and checks the footer (magic number, checksum, format version),
// then the properties, compression dictionary, index and filter blocks, which
// stay in memory for the reader's lifetime (the index decoded into an
// IndexArray, the dictionary digested for zstd). Data blocks are read on demand, through
// the block cache when the options name one. Every problem with the file's bytes is reported as
// Corruption naming the file and the offset of the block at fault:
//   "Corruption: /db/000012.sst: block at offset 8192: checksum mismatch"
//
// Thread safety: after open() a TableReader is immutable; get() and
// new_iterator() may be called from many threads at once. Each iterator is used
// by one thread at a time. Ownership: the reader owns its file; iterators borrow
// the reader and must not outlive it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "fsdb/env.h"
#include "sstable/block.h"
#include "sstable/bloom_filter.h"
#include "sstable/compression_dictionary.h"
#include "sstable/format.h"
#include "sstable/index_array.h"
#include "sstable/table_options.h"
#include "sstable/table_properties.h"
#include "util/internal_iterator.h"
#include "util/internal_key.h"

namespace fsdb {

// What get() found for a user key at a sequence.
struct TableGetResult {
  bool found = false;  // false: the table holds no version of the key at or below the sequence
  ValueKind kind = ValueKind::kValue;  // kTombstone: the newest visible version is a deletion
  SequenceNumber sequence = 0;
  std::string value;  // empty for a tombstone
};

class TableReader {
 public:
  // Opens the table in `file` (file_size bytes). `path` names the file in error
  // messages; file_number is the engine's number for it.
  static Status open(const TableOptions& options, std::unique_ptr<RandomAccessFile> file,
                     uint64_t file_size, std::string path, uint64_t file_number,
                     std::unique_ptr<TableReader>* reader);
  // Opens the file at `path` through `fs`.
  static Status open(FileSystem& fs, const std::string& path, uint64_t file_number,
                     const TableOptions& options, std::unique_ptr<TableReader>* reader);
  ~TableReader();
  TableReader(const TableReader&) = delete;
  TableReader& operator=(const TableReader&) = delete;

  // The newest version of user_key with sequence <= `sequence`. The bloom filter
  // is consulted first, so most absent keys cost no block read.
  Status get(const TableReadOptions& read_options, std::string_view user_key,
             SequenceNumber sequence, TableGetResult* result) const {
    return get(read_options, user_key, filter_hash(user_key), sequence, result);
  }
  // The same, with filter_hash(user_key) computed by the caller (once for
  // every table it searches).
  Status get(const TableReadOptions& read_options, std::string_view user_key, uint64_t hash,
             SequenceNumber sequence, TableGetResult* result) const;
  // The hash the bloom filter of every table uses for user_key.
  static uint64_t filter_hash(std::string_view user_key) { return bloom_hash(user_key); }
  // Starts fetching the part of the bloom filter that decides `hash`, so that
  // a caller about to search several tables overlaps their filters' cache
  // misses.
  void prefetch_filter(uint64_t hash) const {
    if (has_filter_) filter_.prefetch(hash);
  }
  Status get(std::string_view user_key, SequenceNumber sequence, TableGetResult* result) const {
    return get(options_.read_options(), user_key, sequence, result);
  }

  std::unique_ptr<InternalIterator> new_iterator(const TableReadOptions& read_options) const;
  std::unique_ptr<InternalIterator> new_iterator() const {
    return new_iterator(options_.read_options());
  }

  // False only if the table certainly holds no version of user_key.
  bool may_contain(std::string_view user_key) const;

  // For repair: every entry of every data block that reads back whole, in
  // the table's order, to `entry` (its encoded internal key and value); the
  // error of every block that does not (a checksum, decompression or format
  // error naming the block's offset) to `damaged`, and on with the next
  // block. Checksums are always verified; the block cache is not filled.
  // Entries of a block whose format breaks off after its checksum held are
  // passed on up to the break. Returns the first error that is not the
  // block's own (an I/O error): the walk stops there.
  Status salvage(const std::function<void(std::string_view, std::string_view)>& entry,
                 const std::function<void(const Status&)>& damaged) const;

  const TableProperties& properties() const { return properties_; }
  // Null when the table's blocks are compressed without a dictionary.
  const DecompressionDictionary* dictionary() const { return dictionary_.get(); }
  const std::string& path() const { return path_; }
  uint64_t file_number() const { return file_number_; }
  uint64_t file_size() const { return file_size_; }

 private:
  friend class TableIterator;

  TableReader(const TableOptions& options, std::unique_ptr<RandomAccessFile> file,
              uint64_t file_size, std::string path, uint64_t file_number);

  Status open_blocks();
  // Reads a meta block (index, filter, properties) at open.
  Status read_meta_block(const BlockHandle& handle, std::string_view what, std::string* contents);
  // A data block: from the cache, else from the file (then cached if allowed).
  Status read_data_block(const TableReadOptions& read_options, const BlockHandle& handle,
                         std::shared_ptr<const Block>* block) const;
  // A block iterator's failure as a Corruption naming this file and the block.
  Status block_error(uint64_t block_offset, const Status& s) const;

  const TableOptions options_;
  const std::unique_ptr<RandomAccessFile> file_;
  const uint64_t file_size_;
  const std::string path_;
  const uint64_t file_number_;
  uint64_t cache_id_ = 0;
  uint64_t data_end_ = 0;  // where the footer starts

  Footer footer_;
  IndexArray index_;
  std::string filter_data_;
  bool has_filter_ = false;
  BloomFilter filter_;
  TableProperties properties_;
  std::unique_ptr<DecompressionDictionary> dictionary_;
};

// Reads and digests the compression dictionary that `properties` locate (null
// if they name none). data_end is where the table's footer starts; a handle
// past it, a checksum mismatch (checked when verify_checksum is set) or bytes
// that are no dictionary are Corruption naming `path` and the block's offset.
Status read_compression_dictionary(const RandomAccessFile& file, std::string_view path,
                                   uint64_t data_end, bool verify_checksum,
                                   const TableProperties& properties,
                                   std::unique_ptr<DecompressionDictionary>* dictionary);

}  // namespace fsdb
