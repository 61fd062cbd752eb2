// TableProperties: what a table's builder records about it, stored in the
// properties block so that tools and the engine can learn a table's shape
// without scanning it.
//
// Encoding: a block (block_builder.h layout, restart interval 1) of
// (name, value) entries sorted by name; integers are varint64, keys and names
// raw bytes. Unknown names are ignored on read so later versions can add fields.
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fsdb/status.h"
#include "util/internal_key.h"

namespace fsdb {

struct TableProperties {
  uint64_t num_entries = 0;
  uint64_t num_tombstones = 0;
  uint64_t num_data_blocks = 0;
  uint64_t raw_key_bytes = 0;      // sum of encoded internal key sizes
  uint64_t raw_value_bytes = 0;    // sum of value sizes
  uint64_t data_bytes_raw = 0;     // data blocks before compression
  uint64_t data_bytes_stored = 0;  // data blocks as stored, trailers included
  uint64_t index_bytes = 0;
  uint64_t filter_bytes = 0;
  std::string smallest_key;  // encoded internal keys; empty for an empty table
  std::string largest_key;
  SequenceNumber smallest_sequence = 0;
  SequenceNumber largest_sequence = 0;
  uint64_t creation_time = 0;  // seconds since the Unix epoch
  std::string compression;     // "none" or "zstd"
  int64_t zstd_level = 0;
  // 1: the blocks' zstd frames store their literals raw (the lighter coding
  // of tables above the bottommost level); 0 or absent: Huffman-coded.
  uint64_t zstd_raw_literals = 0;
  uint64_t bloom_bits_per_key = 0;
  // Where the table's compression dictionary block is (its stored bytes, not
  // counting the trailer); size 0: the table has none.
  uint64_t dictionary_offset = 0;
  uint64_t dictionary_bytes = 0;

  std::string encode() const;
  // Parses a properties block's bytes; Corruption (without location) if malformed.
  static Status decode(std::string contents, TableProperties* props);
  // One "name: value" line per field, for tools and tests.
  std::string to_string() const;
};

}  // namespace fsdb
