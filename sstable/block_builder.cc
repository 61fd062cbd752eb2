#include "sstable/block_builder.h"

#include <algorithm>
#include <cassert>

#include "util/coding.h"

namespace fsdb {

BlockBuilder::BlockBuilder(int restart_interval) : restart_interval_(restart_interval) {
  assert(restart_interval_ >= 1);
  restarts_.push_back(0);
}

void BlockBuilder::reset() {
  buffer_.clear();
  restarts_.clear();
  restarts_.push_back(0);
  since_restart_ = 0;
  entries_ = 0;
  finished_ = false;
  last_key_.clear();
}

void BlockBuilder::add(std::string_view key, std::string_view value) {
  assert(!finished_);
  size_t shared = 0;
  if (since_restart_ < restart_interval_) {
    const size_t limit = std::min(last_key_.size(), key.size());
    while (shared < limit && last_key_[shared] == key[shared]) ++shared;
  } else {
    restarts_.push_back(static_cast<uint32_t>(buffer_.size()));
    since_restart_ = 0;
  }
  const size_t non_shared = key.size() - shared;
  char header[3 * kMaxVarint32Bytes];
  char* p = encode_varint32(header, static_cast<uint32_t>(shared));
  p = encode_varint32(p, static_cast<uint32_t>(non_shared));
  p = encode_varint32(p, static_cast<uint32_t>(value.size()));
  buffer_.append(header, static_cast<size_t>(p - header));
  buffer_.append(key.data() + shared, non_shared);
  buffer_.append(value);
  last_key_.resize(shared);
  last_key_.append(key.data() + shared, non_shared);
  ++since_restart_;
  ++entries_;
}

std::string_view BlockBuilder::finish() {
  if (!finished_) {
    for (uint32_t r : restarts_) put_fixed32(&buffer_, r);
    put_fixed32(&buffer_, static_cast<uint32_t>(restarts_.size()));
    finished_ = true;
  }
  return buffer_;
}

}  // namespace fsdb
