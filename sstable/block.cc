#include "sstable/block.h"

#include <algorithm>
#include <cstring>

#include "util/coding.h"
#include "util/internal_key.h"

namespace fsdb {

Status Block::parse(std::string contents, std::unique_ptr<Block>* block) {
  auto b = std::make_unique<Block>(PrivateTag{}, std::move(contents));
  Status s = b->init();
  if (s.ok()) *block = std::move(b);
  return s;
}

Status Block::parse_shared(std::string contents, std::shared_ptr<const Block>* block) {
  auto b = std::make_shared<Block>(PrivateTag{}, std::move(contents));
  Status s = b->init();
  if (s.ok()) *block = std::move(b);
  return s;
}

Status Block::init() {
  const size_t size = contents_.size();
  if (size < 4 || size > UINT32_MAX) return Status::Corruption("block too small or too large");
  const uint32_t n = decode_fixed32(contents_.data() + size - 4);
  if (n > (size - 4) / 4) return Status::Corruption("bad restart count");
  num_restarts_ = n;
  data_end_ = static_cast<uint32_t>(size - 4 - 4 * static_cast<size_t>(n));
  if (n == 0 && data_end_ != 0) return Status::Corruption("entries without restart points");
  if (data_end_ == 0) {
    // An empty block (an empty table's index) keeps the builder's lone restart at 0.
    if (n > 1 || (n == 1 && restart_point(0) != 0)) return Status::Corruption("bad restart array");
    num_restarts_ = 0;
    return Status::OK();
  }
  // Restart offsets must rise strictly from 0 and stay inside the data, so the
  // iterator can trust them without rechecking.
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t r = restart_point(i);
    if (r >= data_end_ || (i == 0 && r != 0) || (i > 0 && r <= restart_point(i - 1))) {
      return Status::Corruption("bad restart array");
    }
  }
  return Status::OK();
}

uint32_t Block::restart_point(uint32_t index) const {
  return decode_fixed32(contents_.data() + data_end_ + 4 * static_cast<size_t>(index));
}

void BlockIterator::reset(const Block* block) {
  block_ = block;
  status_ = Status::OK();
  key_size_ = 0;
  value_ = {};
  current_ = next_offset_ = block == nullptr ? 0 : block->data_end_;
}

void BlockIterator::corrupt(std::string_view what) {
  if (status_.ok()) status_ = Status::Corruption(what);
  invalidate();
  key_size_ = 0;
  value_ = {};
}

void BlockIterator::seek_to_restart(uint32_t index) {
  key_size_ = 0;
  next_offset_ = block_->restart_point(index);
}

namespace {
// Decodes the three varint32 header fields of an entry in [p, limit).
inline const char* decode_entry_header(const char* p, const char* limit, uint32_t* shared,
                                       uint32_t* non_shared, uint32_t* value_len) {
  if (limit - p < 3) return nullptr;
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  if ((u[0] | u[1] | u[2]) < 0x80) {  // the common case: three one-byte varints
    *shared = u[0];
    *non_shared = u[1];
    *value_len = u[2];
    return p + 3;
  }
  uint64_t v = 0;
  if ((p = decode_varint(p, limit, &v, kMaxVarint32Bytes, 32)) == nullptr) return nullptr;
  *shared = static_cast<uint32_t>(v);
  if ((p = decode_varint(p, limit, &v, kMaxVarint32Bytes, 32)) == nullptr) return nullptr;
  *non_shared = static_cast<uint32_t>(v);
  if ((p = decode_varint(p, limit, &v, kMaxVarint32Bytes, 32)) == nullptr) return nullptr;
  *value_len = static_cast<uint32_t>(v);
  return p;
}
}  // namespace

bool BlockIterator::parse_next_entry() {
  current_ = next_offset_;
  const char* base = block_->contents_.data();
  const char* limit = base + block_->data_end_;
  if (current_ >= block_->data_end_) {
    invalidate();
    return false;
  }
  uint32_t shared = 0, non_shared = 0, value_len = 0;
  const char* p = decode_entry_header(base + current_, limit, &shared, &non_shared, &value_len);
  if (p == nullptr || shared > key_size_ ||
      static_cast<uint64_t>(non_shared) + value_len > static_cast<uint64_t>(limit - p)) {
    corrupt("malformed block entry");
    return false;
  }
  // The buffer only grows, so after the first few entries this is one memcpy.
  const size_t key_size = size_t{shared} + non_shared;
  if (key_buffer_.size() < key_size) key_buffer_.resize(std::max(key_size, 2 * key_buffer_.size()));
  std::memcpy(key_buffer_.data() + shared, p, non_shared);
  key_size_ = static_cast<uint32_t>(key_size);
  value_ = std::string_view(p + non_shared, value_len);
  next_offset_ = static_cast<uint32_t>(p + non_shared + value_len - base);
  return true;
}

bool BlockIterator::restart_key(uint32_t index, std::string_view* key) {
  const char* base = block_->contents_.data();
  const char* limit = base + block_->data_end_;
  uint32_t shared = 0, non_shared = 0, value_len = 0;
  const char* p = decode_entry_header(base + block_->restart_point(index), limit, &shared,
                                      &non_shared, &value_len);
  if (p == nullptr || shared != 0 || non_shared > static_cast<size_t>(limit - p) ||
      non_shared < kInternalKeyTrailerBytes) {
    corrupt("malformed restart entry");
    return false;
  }
  *key = std::string_view(p, non_shared);
  return true;
}

void BlockIterator::seek_to_first() {
  if (block_ == nullptr || block_->num_restarts_ == 0) return invalidate();
  seek_to_restart(0);
  parse_next_entry();
}

void BlockIterator::seek_to_last() {
  if (block_ == nullptr || block_->num_restarts_ == 0) return invalidate();
  seek_to_restart(block_->num_restarts_ - 1);
  while (parse_next_entry() && next_offset_ < block_->data_end_) {
  }
}

namespace {
constexpr uint32_t kPrefetchedRestarts = 8;
}  // namespace

void BlockIterator::seek(std::string_view target) {
  if (block_ == nullptr || block_->num_restarts_ == 0) return invalidate();
  if (target.size() < kInternalKeyTrailerBytes) return corrupt("seek target too short");
  // The last restart whose key is < target: the answer is at or after it.
  uint32_t lo = 0, hi = block_->num_restarts_ - 1;
  if (block_->num_restarts_ <= kPrefetchedRestarts) {
    // A 4 KiB data block has 2-3 restarts: ask for all their lines at once so
    // the cache misses of the binary search overlap instead of queueing.
    for (uint32_t i = 0; i < block_->num_restarts_; ++i) {
      __builtin_prefetch(block_->contents_.data() + block_->restart_point(i));
    }
  }
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo + 1) / 2;
    std::string_view k;
    if (!restart_key(mid, &k)) return;
    if (compare_encoded_internal_keys(k, target) < 0) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  seek_from_restart(lo, target);
}

void BlockIterator::seek_from_restart(uint32_t index, std::string_view target) {
  seek_to_restart(index);
  // The scan reads the interval's entries in order: ask for all their lines
  // now (a 4 KiB block's interval of 16 entries spans about 30), so that the
  // misses overlap instead of following one another.
  const char* base = block_->contents_.data();
  const uint32_t end =
      index + 1 < block_->num_restarts_ ? block_->restart_point(index + 1) : block_->data_end_;
  // size_t: a block may end within 64 bytes of 2^32.
  for (size_t at = next_offset_; at < end; at += 64) __builtin_prefetch(base + at);
  while (parse_next_entry()) {
    if (key_size_ < kInternalKeyTrailerBytes) return corrupt("key shorter than its trailer");
    if (compare_encoded_internal_keys(key(), target) >= 0) return;
  }
}

void BlockIterator::next() { parse_next_entry(); }

void BlockIterator::prev() {
  const uint32_t original = current_;
  if (original == 0) return invalidate();  // at the first entry
  // The last restart point before the current entry (restart 0 is at offset 0,
  // so one exists); found here rather than tracked on every forward step.
  uint32_t lo = 0, hi = block_->num_restarts_ - 1;
  while (lo < hi) {
    const uint32_t mid = lo + (hi - lo + 1) / 2;
    if (block_->restart_point(mid) < original) {
      lo = mid;
    } else {
      hi = mid - 1;
    }
  }
  seek_to_restart(lo);
  while (parse_next_entry() && next_offset_ < original) {
  }
}

}  // namespace fsdb
