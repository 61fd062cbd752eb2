#include "tools/crashtest/value_codec.h"

#include <charconv>
#include <cstdio>

namespace fsdb::crashtest {
namespace {

uint64_t mix(uint64_t x) {
  // splitmix64 finaliser: a cheap, well-spread hash of the value's fields.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Reads "<tag><digits>." at *pos.
bool read_field(std::string_view s, size_t* pos, char tag, uint64_t* out) {
  if (*pos >= s.size() || s[*pos] != tag) return false;
  const char* begin = s.data() + *pos + 1;
  const char* end = s.data() + s.size();
  auto [ptr, ec] = std::from_chars(begin, end, *out);
  if (ec != std::errc() || ptr == begin || ptr == end || *ptr != '.') return false;
  *pos = static_cast<size_t>(ptr - s.data()) + 1;
  return true;
}

}  // namespace

std::string key_name(uint32_t index) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "key%06u", index);
  return buf;
}

std::optional<uint32_t> parse_key_name(std::string_view key) {
  if (key.size() < 9 || key.substr(0, 3) != "key") return std::nullopt;
  uint32_t index = 0;
  auto [ptr, ec] = std::from_chars(key.data() + 3, key.data() + key.size(), index);
  if (ec != std::errc() || ptr != key.data() + key.size()) return std::nullopt;
  if (key_name(index) != key) return std::nullopt;
  return index;
}

std::string make_value(const ValueId& id, uint32_t max_padding) {
  char buf[96];
  const int n = std::snprintf(buf, sizeof(buf), "v1.e%llu.t%u.c%llu.k%u.",
                              static_cast<unsigned long long>(id.epoch), id.thread,
                              static_cast<unsigned long long>(id.counter), id.key);
  std::string value(buf, static_cast<size_t>(n));
  const uint64_t h = mix(id.epoch * 0x100000001b3ULL ^ mix(id.thread) ^ mix(id.counter << 20) ^
                         mix(static_cast<uint64_t>(id.key) << 40));
  // One value in 128 is large (32-40 KiB): its log record spans log blocks
  // (first, middle and last fragments) and it fills table blocks on its own.
  const bool large = max_padding != 0 && (h >> 57) == 0;
  const size_t padding = max_padding == 0 ? 0
                         : large          ? (size_t{32} << 10) + h % (size_t{8} << 10)
                                          : h % (max_padding + 1);
  value.reserve(value.size() + padding);
  for (size_t i = 0; i < padding; ++i)
    value.push_back(static_cast<char>('a' + (h >> (i % 48)) % 26));
  return value;
}

std::optional<ValueId> parse_value(std::string_view value, uint32_t max_padding) {
  if (value.substr(0, 3) != "v1.") return std::nullopt;
  size_t pos = 3;
  uint64_t epoch = 0, thread = 0, counter = 0, key = 0;
  if (!read_field(value, &pos, 'e', &epoch) || !read_field(value, &pos, 't', &thread) ||
      !read_field(value, &pos, 'c', &counter) || !read_field(value, &pos, 'k', &key)) {
    return std::nullopt;
  }
  if (thread > UINT32_MAX || key > UINT32_MAX) return std::nullopt;
  ValueId id{epoch, static_cast<uint32_t>(thread), counter, static_cast<uint32_t>(key)};
  if (make_value(id, max_padding) != value) return std::nullopt;
  return id;
}

}  // namespace fsdb::crashtest
