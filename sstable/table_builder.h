// TableBuilder: writes one SSTable from entries that arrive in internal-key
// order (user key ascending, sequence descending; util/internal_key.h).
//
// Data blocks of about block_bytes (restart every 16 keys) are compressed with
// zstd when that saves at least 1/8 of the block, using one compression context
// for the whole build. With a compression dictionary (the default), the first
// data blocks are held back, uncompressed, as the sample the dictionary is
// built from (compression_dictionary.h); then they and every later block are
// compressed with it. A whole-table bloom filter over user keys, the
// dictionary, an index block of shortest separators, the properties block and
// the footer follow. docs/format.md gives the layout.
//
// The file is written through a FileSystem and synced and closed by finish().
// A build that is abandoned (abandon(), a failed finish(), or destruction before
// finish()) removes its file, so a half-written table is never left behind.
//
// Thread safety: one thread at a time. Ownership: the builder owns its file and
// its compression context.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fsdb/env.h"
#include "sstable/block_builder.h"
#include "sstable/bloom_filter.h"
#include "sstable/format.h"
#include "sstable/table_options.h"
#include "sstable/table_properties.h"
#include "util/internal_key.h"

struct ZSTD_CCtx_s;
struct ZSTD_CDict_s;

namespace fsdb {

class TableBuilder {
 public:
  static constexpr int kDataRestartInterval = 16;
  // Index entries are prefix-compressed too (every fsdb::kIndexRestartInterval
  // entries, format.h): separators of neighbouring blocks share most of their
  // bytes. Readers decode the whole index once at open (IndexArray), so the
  // interval costs nothing per lookup.

  // Creates (or truncates) the file at `path`.
  static Status open(FileSystem& fs, const std::string& path, const TableOptions& options,
                     std::unique_ptr<TableBuilder>* builder);
  ~TableBuilder();
  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;

  // InvalidArgument if the entry does not sort strictly after the previous one
  // (nothing is written then). An I/O error ends the build: it and every later
  // call return the error, and the file is removed.
  Status add(std::string_view user_key, SequenceNumber sequence, ValueKind kind,
             std::string_view value);
  // Writes the remaining blocks and the footer, syncs and closes the file. On
  // failure the file is removed.
  Status finish();
  // Stops the build and removes the file.
  void abandon();

  uint64_t num_entries() const { return props_.num_entries; }
  // Bytes written to the file so far, plus the sample blocks held back (at their
  // uncompressed size); after finish(): the file size.
  uint64_t file_size() const { return offset_ + samples_.size(); }
  // Complete after a successful finish().
  const TableProperties& properties() const { return props_; }
  const std::string& path() const { return path_; }

 private:
  TableBuilder(FileSystem& fs, std::string path, const TableOptions& options,
               std::unique_ptr<WritableFile> file);

  // How write_block() may store a block.
  enum class Packing { kRaw, kCompressed, kData };  // kData: with the dictionary, if any

  void flush_data_block();
  // Builds the dictionary from the held-back sample (if it is large enough and
  // makes the sample smaller), then writes the sample's blocks and their index
  // entries. whole_table: the sample is all the table will hold.
  void end_sampling(bool whole_table);
  // The bytes the sample's blocks would take as stored now.
  uint64_t stored_sample_bytes();
  // zstd with the context's current dictionary (if any); false when that is not
  // worthwhile, and the block is stored raw. *stored points into compressed_.
  bool compress(std::string_view raw, std::string_view* stored);
  // Writes a block and its trailer; compresses it when allowed and worthwhile.
  void write_block(std::string_view raw, Packing packing, BlockHandle* handle);
  // Writes a data block and accounts for it in the properties.
  void write_data_block(std::string_view raw, BlockHandle* handle);
  void append(std::string_view data);
  void fail(Status s);

  FileSystem& fs_;
  const std::string path_;
  const TableOptions options_;
  bool raw_literals_ = false;  // zstd stores literals raw (TableOptions::zstd_compress_literals)
  std::unique_ptr<WritableFile> file_;
  ZSTD_CCtx_s* cctx_ = nullptr;
  ZSTD_CDict_s* cdict_ = nullptr;  // the dictionary, digested for compression
  std::string dictionary_;

  // The held-back first data blocks (raw, back to back), their sizes, and each
  // one's index separator (empty until the next block's first key is known).
  bool sampling_ = false;
  std::string samples_;
  std::vector<size_t> sample_sizes_;
  std::vector<std::string> sample_separators_;

  BlockBuilder data_block_{kDataRestartInterval};
  BlockBuilder index_block_{kIndexRestartInterval};
  std::unique_ptr<BloomFilterBuilder> filter_;  // null when bloom_bits_per_key == 0

  std::string last_key_;    // encoded internal key of the last entry added
  std::string key_;         // scratch: the entry being added
  std::string compressed_;  // scratch: zstd output, reused across blocks
  std::string trailer_;

  bool pending_index_entry_ = false;  // a block was flushed; its separator waits for the next key
  BlockHandle pending_handle_;

  Status status_;
  bool done_ = false;  // finished or abandoned
  uint64_t offset_ = 0;
  TableProperties props_;
};

// The shortest encoded internal key `s` with a <= s and s < b, falling back to
// `a` itself (a < b, both encoded internal keys). Index separators.
void shortest_separator(std::string_view a, std::string_view b, std::string* out);
// A short encoded internal key >= a (the last block's index entry).
void short_successor(std::string_view a, std::string* out);

}  // namespace fsdb
