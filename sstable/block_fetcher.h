// read_block: reads one block and its trailer from a table file, checks the
// trailer checksum (when asked), and returns the uncompressed bytes.
//
// Decompression reuses one ZSTD_DCtx per thread (thread_local), so no read path
// creates a context per block.
//
// Thread safety: safe to call from many threads on the same file (positional reads).
#pragma once

#include <string>
#include <string_view>

#include "fsdb/env.h"
#include "sstable/compression_dictionary.h"
#include "sstable/format.h"

namespace fsdb {

// Where read_block() puts a block's uncompressed bytes: a string, or memory
// the block will live in (PooledBlockWriter), so that nothing is copied or
// zero-filled on the way.
class BlockDestination {
 public:
  // Room for exactly `bytes` bytes, asked for once per read. Whatever a failed
  // read left there is the destination's to discard.
  virtual char* reserve(size_t bytes) = 0;

 protected:
  ~BlockDestination() = default;
};

// Every error names `path` and handle.offset. The caller has checked that the
// handle and its trailer lie inside the file's data area. `dictionary` is the
// table's compression dictionary, null if it has none (a block compressed
// with one is then Corruption).
Status read_block(const RandomAccessFile& file, std::string_view path, const BlockHandle& handle,
                  bool verify_checksum, const DecompressionDictionary* dictionary,
                  BlockDestination* destination);
// The same, into a string (cleared on failure).
Status read_block(const RandomAccessFile& file, std::string_view path, const BlockHandle& handle,
                  bool verify_checksum, const DecompressionDictionary* dictionary,
                  std::string* contents);

}  // namespace fsdb
