// RestartKeyArray: the keys at an index block's restart points, copied into
// one contiguous buffer when a table is opened.
//
// A point lookup binary-searches these ~2 keys per KiB of index instead of the
// index block itself: the array is a few tens of KiB for a 1M-entry table, stays
// in the CPU caches between lookups, and leaves one short linear scan of the
// index block per lookup. It is derived from the checked index block, never
// stored on disk.
//
// Thread safety: immutable after build(); safe to search from many threads.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "sstable/block.h"
#include "util/internal_key.h"

namespace fsdb {

class RestartKeyArray {
 public:
  // Copies the restart keys of `block`; Corruption if one is malformed.
  Status build(const Block& block) {
    BlockIterator it(&block);
    if (!it.restart_keys(&keys_, &ends_)) return it.status();
    return Status::OK();
  }

  // The last restart whose key < target (encoded internal keys), or 0.
  uint32_t last_restart_before(std::string_view target) const {
    uint32_t lo = 0;
    uint32_t hi = ends_.empty() ? 0 : static_cast<uint32_t>(ends_.size() - 1);
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo + 1) / 2;
      if (compare_encoded_internal_keys(key(mid), target) < 0) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return lo;
  }

  size_t size() const { return ends_.size(); }

 private:
  std::string_view key(uint32_t i) const {
    const uint32_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(keys_.data() + begin, ends_[i] - begin);
  }

  std::string keys_;
  std::vector<uint32_t> ends_;
};

}  // namespace fsdb
