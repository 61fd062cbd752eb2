// Internal keys: what the memtable, the SSTables and the engine order entries by.
//
// Every entry is a version of a user key: (user key, sequence number, kind).
// Versions sort by user key ascending (unsigned bytes), then sequence descending
// (newest first), then kind descending, so that a reader at sequence S finds the
// newest visible version of a key with one seek to (key, S).
//
// Encoded form (SSTables, the MANIFEST): the user key's bytes followed by a
// fixed64 little-endian trailer (sequence << 8 | kind). docs/format.md.
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "util/coding.h"

namespace fsdb {

using SequenceNumber = uint64_t;
// Sequences take 56 bits so that sequence and kind pack into one fixed64.
inline constexpr SequenceNumber kMaxSequenceNumber = (uint64_t{1} << 56) - 1;
inline constexpr size_t kInternalKeyTrailerBytes = 8;

enum class ValueKind : uint8_t {
  kTombstone = 0,
  kValue = 1,
};
// The largest kind: a seek target built with it sorts before every real entry of
// the same (key, sequence).
inline constexpr ValueKind kValueKindForSeek = ValueKind::kValue;

inline bool is_valid_kind(uint8_t k) { return k <= static_cast<uint8_t>(ValueKind::kValue); }

inline uint64_t pack_sequence_and_kind(SequenceNumber seq, ValueKind kind) {
  return (seq << 8) | static_cast<uint8_t>(kind);
}

struct ParsedInternalKey {
  std::string_view user_key;
  SequenceNumber sequence = 0;
  ValueKind kind = ValueKind::kValue;
};

inline void append_internal_key(std::string* dst, std::string_view user_key, SequenceNumber seq,
                                ValueKind kind) {
  dst->append(user_key);
  put_fixed64(dst, pack_sequence_and_kind(seq, kind));
}

// False if `encoded` is shorter than the trailer or names an unknown kind.
inline bool parse_internal_key(std::string_view encoded, ParsedInternalKey* out) {
  if (encoded.size() < kInternalKeyTrailerBytes) return false;
  const size_t n = encoded.size() - kInternalKeyTrailerBytes;
  const uint64_t packed = decode_fixed64(encoded.data() + n);
  const auto kind = static_cast<uint8_t>(packed & 0xff);
  if (!is_valid_kind(kind)) return false;
  out->user_key = encoded.substr(0, n);
  out->sequence = packed >> 8;
  out->kind = static_cast<ValueKind>(kind);
  return true;
}

// The user key of an encoded internal key (which must be at least 8 bytes).
inline std::string_view extract_user_key(std::string_view encoded) {
  return encoded.substr(0, encoded.size() - kInternalKeyTrailerBytes);
}

// Unsigned lexicographic comparison of user keys: <0, 0, >0. Eight bytes at a
// time (big-endian words compare like the bytes they hold) and inlined, unlike
// a memcmp call: it runs for every key a search visits, and keys are short.
inline int compare_user_keys(std::string_view a, std::string_view b) {
  const size_t common = a.size() < b.size() ? a.size() : b.size();
  size_t i = 0;
  for (; i + 8 <= common; i += 8) {
    uint64_t x;
    uint64_t y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      if constexpr (std::endian::native == std::endian::little) {
        x = __builtin_bswap64(x);
        y = __builtin_bswap64(y);
      }
      return x < y ? -1 : 1;
    }
  }
  for (; i < common; ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

// Whether two user keys are the same bytes; inlined like compare_user_keys().
inline bool user_keys_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && compare_user_keys(a, b) == 0;
}

// Internal order: user key ascending, then (sequence, kind) descending.
inline int compare_internal_keys(std::string_view a_user, uint64_t a_packed,
                                 std::string_view b_user, uint64_t b_packed) {
  int c = compare_user_keys(a_user, b_user);
  if (c != 0) return c;
  if (a_packed > b_packed) return -1;
  if (a_packed < b_packed) return 1;
  return 0;
}
inline int compare_internal_keys(const ParsedInternalKey& a, const ParsedInternalKey& b) {
  return compare_internal_keys(a.user_key, pack_sequence_and_kind(a.sequence, a.kind), b.user_key,
                               pack_sequence_and_kind(b.sequence, b.kind));
}
// For encoded internal keys (each at least 8 bytes).
inline int compare_encoded_internal_keys(std::string_view a, std::string_view b) {
  return compare_internal_keys(extract_user_key(a), decode_fixed64(a.data() + a.size() - 8),
                               extract_user_key(b), decode_fixed64(b.data() + b.size() - 8));
}

}  // namespace fsdb
