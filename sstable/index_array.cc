#include "sstable/index_array.h"

#include <algorithm>

#include "util/internal_key.h"

namespace fsdb {

Status IndexArray::build(const Block& index_block, uint64_t data_end) {
  keys_.clear();
  entries_.clear();
  common_prefix_.clear();
  // See kIndexRestartInterval (format.h). Below 4 GiB, as key offsets are 32-bit.
  const uint64_t max_key_bytes =
      std::min<uint64_t>(uint64_t{kIndexRestartInterval} * index_block.size(), UINT32_MAX);
  BlockIterator it(&index_block);
  for (it.seek_to_first(); it.valid(); it.next()) {
    BlockHandle h;
    // Messages are built only on error: this runs for every entry at open.
    auto corrupt = [&](const std::string& what) {
      return Status::Corruption("index entry " + std::to_string(entries_.size()) + what);
    };
    auto names_block = [&](const char* what) {
      return corrupt(" names a block (offset " + std::to_string(h.offset) + ", size " +
                     std::to_string(h.size) + ")" + what);
    };
    if (it.key().size() < kInternalKeyTrailerBytes) {
      return corrupt(": key shorter than its trailer");
    }
    std::string_view value = it.value();
    if (!h.decode_from(&value) || !value.empty()) return corrupt(": bad block handle");
    // Written to avoid overflow: a corrupt handle may hold any 64-bit values.
    if (h.offset > data_end || h.size > data_end - h.offset ||
        kBlockTrailerBytes > data_end - h.offset - h.size) {
      return names_block(" past the end of the data");
    }
    // The writer never writes an empty data block, and writes them in key
    // order, one after the other: separators rise strictly, and so do the
    // blocks. Held to that, the entries are at most one per ten bytes of data
    // and a lookup finds one block, whatever a damaged index says.
    if (h.size == 0) return names_block(", which is empty");
    if (!entries_.empty()) {
      const BlockHandle& before = entries_.back().handle;
      if (h.offset < before.offset + before.size + kBlockTrailerBytes) {
        return names_block(", which does not follow the block before it");
      }
      if (compare_encoded_internal_keys(key(entries_.size() - 1), it.key()) >= 0) {
        return corrupt(": its key does not sort after the one before it");
      }
    }
    if (keys_.size() + it.key().size() > max_key_bytes) {
      return corrupt(": the index's keys expand to more than " +
                     std::to_string(kIndexRestartInterval) + " times its block's size (" +
                     std::to_string(index_block.size()) + " bytes)");
    }
    entries_.push_back(
        Entry{0, h, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(it.key().size())});
    keys_.append(it.key());
  }
  if (!it.status().ok()) return it.status();
  if (entries_.empty()) return Status::OK();

  // Separators are sorted, so the prefix common to a run of them is that of
  // its first and last. The last separator is left out: the builder ends the
  // index with a short successor of the table's last key ("1" after
  // "0000000000999999"), which shares little with the others and would leave
  // every window equal. It gets the largest window if it lacks the prefix;
  // lower_bound() handles targets past the prefix.
  const size_t n = entries_.size();
  const std::string_view first = extract_user_key(key(0));
  const std::string_view last = extract_user_key(key(n >= 2 ? n - 2 : 0));
  size_t common = 0;
  while (common < first.size() && common < last.size() && first[common] == last[common]) ++common;
  common_prefix_.assign(first.substr(0, common));
  for (size_t i = 0; i < n; ++i) {
    const std::string_view user_key = extract_user_key(key(i));
    entries_[i].window = user_key.starts_with(common_prefix_) ? window_of(user_key) : UINT64_MAX;
  }
  return Status::OK();
}

uint64_t IndexArray::window_of(std::string_view user_key) const {
  // Zero padding keeps the order: a shorter key is smaller, and a real zero byte
  // ties with padding, which the full comparison then settles.
  uint64_t w = 0;
  for (size_t i = 0; i < 8; ++i) {
    const size_t pos = common_prefix_.size() + i;
    const uint64_t byte = pos < user_key.size() ? static_cast<unsigned char>(user_key[pos]) : 0;
    w = (w << 8) | byte;
  }
  return w;
}

size_t IndexArray::lower_bound(std::string_view target) const {
  const std::string_view user_key = extract_user_key(target);
  // A target outside the common prefix sorts before or after every separator.
  const int prefix_order = user_key.substr(0, common_prefix_.size()).compare(common_prefix_);
  if (prefix_order < 0 || (prefix_order == 0 && user_key.size() < common_prefix_.size())) {
    return 0;
  }
  if (prefix_order > 0) {
    // Past every separator with the prefix: only the last one may lack it.
    const size_t last = entries_.size() - 1;
    return compare_encoded_internal_keys(key(last), target) >= 0 ? last : entries_.size();
  }
  const uint64_t window = window_of(user_key);
  size_t lo = 0, hi = entries_.size();
  while (lo < hi) {
    const size_t mid = lo + (hi - lo) / 2;
    // Fetch both possible next probes while this one is compared: the lower
    // levels of the search miss the CPU caches, and this overlaps the misses.
    __builtin_prefetch(entries_.data() + lo + (mid - lo) / 2);
    __builtin_prefetch(entries_.data() + mid + 1 + (hi - mid - 1) / 2);  // may be one past the end
    const Entry& e = entries_[mid];
    const bool less = e.window != window ? e.window < window
                                         : compare_encoded_internal_keys(key(mid), target) < 0;
    if (less) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

}  // namespace fsdb
