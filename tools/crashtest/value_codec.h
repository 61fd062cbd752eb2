// Keys and values of the crash harness: every value names the write that made it.
//
// A key is "key" + six digits of its index, so the DB's byte order is the
// index order. A value is
//   "v1.e<epoch>.t<thread>.c<counter>.k<key index>." + padding
// where the padding length is a hash of the other fields (at most max_padding,
// but 32-40 KiB for one value in 128, so that records span log blocks). A value read back is
// parsed and then rebuilt from its fields and compared byte for byte, so a torn
// or foreign value can never pass as one the harness wrote.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fsdb::crashtest {

// Who wrote a value: the cycle (epoch), the writer thread, the thread's write
// counter, and the key the value was written to.
struct ValueId {
  uint64_t epoch = 0;
  uint32_t thread = 0;
  uint64_t counter = 0;
  uint32_t key = 0;
  friend bool operator==(const ValueId&, const ValueId&) = default;
};

std::string key_name(uint32_t index);
// The key index, or nullopt when `key` is not a harness key.
std::optional<uint32_t> parse_key_name(std::string_view key);

// The one value the write `id` puts; `max_padding` bounds the padding of all
// but the large values (none when it is 0).
std::string make_value(const ValueId& id, uint32_t max_padding);
// The writer of `value`, or nullopt when it is not exactly make_value(id, max_padding).
std::optional<ValueId> parse_value(std::string_view value, uint32_t max_padding);

}  // namespace fsdb::crashtest
