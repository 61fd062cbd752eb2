// IndexArray: a table's index block decoded once at open into a flat array of
// (separator key, block handle) entries.
//
// Lookups binary-search it directly: no varint decoding, no prefix expansion and
// no linear scan per lookup. Each entry also carries 8 bytes of its user key, the
// bytes right after the prefix that every separator of the table shares, as a
// big-endian integer ("window"): most binary-search steps are decided by
// comparing windows and touch one cache line instead of two; only ties compare
// whole keys. It costs about (separator size + 32) bytes per data block in
// memory, ~1% of a table's data, for the reader's lifetime. It is derived from
// the checksummed index block and never stored.
//
// Thread safety: immutable after build(); safe to read from many threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sstable/block.h"
#include "sstable/format.h"

namespace fsdb {

class IndexArray {
 public:
  // Decodes every entry of `index_block`. Every handle must lie inside
  // [0, data_end) with room for its trailer. Errors say what is wrong; the
  // caller adds the file and the block offset.
  Status build(const Block& index_block, uint64_t data_end);

  size_t size() const { return entries_.size(); }
  std::string_view key(size_t i) const {
    return std::string_view(keys_.data() + entries_[i].key_offset, entries_[i].key_size);
  }
  const BlockHandle& handle(size_t i) const { return entries_[i].handle; }
  // The first entry whose separator >= target (encoded internal keys), or size().
  size_t lower_bound(std::string_view target) const;

 private:
  struct Entry {
    uint64_t
        window;  // user key bytes [common_prefix_, +8), zero-padded, big-endian (max: no prefix)
    BlockHandle handle;
    uint32_t key_offset;
    uint32_t key_size;
  };
  uint64_t window_of(std::string_view user_key) const;

  std::string keys_;
  std::vector<Entry> entries_;
  std::string common_prefix_;  // shared by every separator but perhaps the last
};

}  // namespace fsdb
