#include "sstable/index_array.h"

#include "util/internal_key.h"

namespace fsdb {

Status IndexArray::build(const Block& index_block, uint64_t data_end) {
  keys_.clear();
  entries_.clear();
  BlockIterator it(&index_block);
  for (it.seek_to_first(); it.valid(); it.next()) {
    if (it.key().size() < kInternalKeyTrailerBytes) {
      return Status::Corruption("index key shorter than its trailer");
    }
    std::string_view value = it.value();
    BlockHandle h;
    if (!h.decode_from(&value) || !value.empty()) {
      return Status::Corruption("bad block handle in the index");
    }
    // Written to avoid overflow: a corrupt handle may hold any 64-bit values.
    if (h.offset > data_end || h.size > data_end - h.offset ||
        kBlockTrailerBytes > data_end - h.offset - h.size) {
      return Status::Corruption("index entry " + std::to_string(entries_.size()) +
                                " names a block (offset " + std::to_string(h.offset) + ", size " +
                                std::to_string(h.size) + ") past the end of the data");
    }
    if (keys_.size() + it.key().size() > UINT32_MAX) return Status::Corruption("index too large");
    entries_.push_back(
        Entry{h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(it.key().size())});
    keys_.append(it.key());
  }
  return it.status();
}

size_t IndexArray::lower_bound(std::string_view target) const {
  size_t lo = 0, hi = entries_.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    if (compare_encoded_internal_keys(key(mid), target) < 0) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace fsdb
