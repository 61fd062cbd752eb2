// Per-table zstd dictionaries.
//
// A 4 KiB data block compressed on its own spends a good part of its output on
// the entropy tables zstd writes in front of it (Huffman for literals, FSE for
// sequences), and its reader spends a good part of the decompression building
// them again. A table built with a dictionary shares one set of tables,
// computed from a sample of the table's own first data blocks: every block
// names them instead of carrying its own, and a reader builds them once, when
// it opens the table (ZSTD_DDict). On 100-byte half-compressible values that
// makes blocks ~5% smaller and their decompression 15-35% faster.
//
// The dictionary is not trained (zstd's trainers take tens of milliseconds per
// table); it is the tail of the sample as content plus the entropy statistics
// of the sample compressed against it (ZDICT_finalizeDictionary), with the
// literal code then fitted to the sample (literal_table.h, so that blocks
// actually use it): ~5 ms per table.
//
// Thread safety: build_compression_dictionary() is a pure function. A
// DecompressionDictionary is immutable after create() and may be used by many
// threads at once.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fsdb/status.h"

struct ZSTD_DDict_s;

namespace fsdb {

// Fewer sample blocks than this give statistics too rough to pay for the
// dictionary's own bytes; such tables are compressed without one.
inline constexpr size_t kMinDictionarySampleBlocks = 8;

// A dictionary of at most max_bytes for data like `samples` (the concatenation
// of blocks whose sizes are `sample_sizes`), tuned for zstd_level. False when
// the sample is too small or zstd cannot build one (incompressible or
// uniform data): the table is then compressed without a dictionary.
bool build_compression_dictionary(std::string_view samples, const std::vector<size_t>& sample_sizes,
                                  size_t max_bytes, int zstd_level, std::string* dictionary);

// The digested form of a table's dictionary that its blocks decompress with.
class DecompressionDictionary {
 public:
  // Corruption (without location; the caller adds the file and offset) if the
  // bytes are not a zstd dictionary.
  static Status create(std::string bytes, std::unique_ptr<DecompressionDictionary>* dictionary);
  ~DecompressionDictionary();
  DecompressionDictionary(const DecompressionDictionary&) = delete;
  DecompressionDictionary& operator=(const DecompressionDictionary&) = delete;

  const ZSTD_DDict_s* get() const { return ddict_; }
  size_t size() const { return bytes_.size(); }

 private:
  DecompressionDictionary() = default;

  std::string bytes_;  // referenced, not copied, by ddict_
  ZSTD_DDict_s* ddict_ = nullptr;
};

}  // namespace fsdb
