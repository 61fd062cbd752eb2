// TableBuilder: writes one SSTable from entries that arrive in internal-key
// order (user key ascending, sequence descending; util/internal_key.h).
//
// Data blocks of about block_bytes (restart every 16 keys) are compressed with
// zstd when that saves at least 1/8 of the block, using one compression context
// for the whole build. A whole-table bloom filter over user keys, an index block
// of shortest separators, the properties block and the footer follow.
// docs/format.md gives the layout.
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

#include "fsdb/env.h"
#include "sstable/block_builder.h"
#include "sstable/bloom_filter.h"
#include "sstable/format.h"
#include "sstable/table_options.h"
#include "sstable/table_properties.h"
#include "util/internal_key.h"

struct ZSTD_CCtx_s;

namespace fsdb {

class TableBuilder {
 public:
  static constexpr int kDataRestartInterval = 16;
  // Index entries are prefix-compressed too: separators of neighbouring blocks
  // share most of their bytes. Readers decode the whole index once at open
  // (IndexArray), so the interval costs nothing per lookup.
  static constexpr int kIndexRestartInterval = 16;

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
  // Bytes written to the file so far (after finish(): the file size).
  uint64_t file_size() const { return offset_; }
  // Complete after a successful finish().
  const TableProperties& properties() const { return props_; }
  const std::string& path() const { return path_; }

 private:
  TableBuilder(FileSystem& fs, std::string path, const TableOptions& options,
               std::unique_ptr<WritableFile> file);

  void flush_data_block();
  // Writes a block and its trailer; compresses it when allowed and worthwhile.
  void write_block(std::string_view raw, bool may_compress, BlockHandle* handle);
  void append(std::string_view data);
  void fail(Status s);

  FileSystem& fs_;
  const std::string path_;
  const TableOptions options_;
  std::unique_ptr<WritableFile> file_;
  ZSTD_CCtx_s* cctx_ = nullptr;

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
