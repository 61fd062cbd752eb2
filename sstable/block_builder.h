// BlockBuilder: lays out one block of sorted key/value entries.
//
// Each entry stores its key as a delta against the previous key:
//   shared (varint32) | non_shared (varint32) | value_len (varint32) | key[shared..] | value
// Every `restart_interval`-th entry is a restart point that stores its whole key
// (shared = 0); the block ends with the restart offsets (fixed32 each) and their
// count (fixed32), so a reader can binary-search restarts and then scan at most
// restart_interval entries.
//
// Thread safety: one thread at a time. The caller guarantees keys arrive in the
// order it wants readers to see; the builder does not compare them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fsdb {

class BlockBuilder {
 public:
  explicit BlockBuilder(int restart_interval);

  void add(std::string_view key, std::string_view value);
  // Appends the restart array and returns the finished block, valid until the
  // next reset().
  std::string_view finish();
  void reset();

  // The size finish() would return now.
  size_t size_estimate() const { return buffer_.size() + 4 * (restarts_.size() + 1); }
  bool empty() const { return entries_ == 0; }
  std::string_view last_key() const { return last_key_; }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  int since_restart_ = 0;
  uint64_t entries_ = 0;
  bool finished_ = false;
  std::string last_key_;
};

}  // namespace fsdb
