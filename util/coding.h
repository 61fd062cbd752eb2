// Fixed-width little-endian and varint encodings used by every on-disk format.
//
// Encoders append to a std::string. Decoders read from a std::string_view that
// they advance past what they consumed, and return false, without reading past
// the end, when the input is too short or malformed.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace fsdb {

inline constexpr size_t kMaxVarint32Bytes = 5;
inline constexpr size_t kMaxVarint64Bytes = 10;

inline void encode_fixed16(char* dst, uint16_t v) {
  dst[0] = static_cast<char>(v);
  dst[1] = static_cast<char>(v >> 8);
}
inline void encode_fixed32(char* dst, uint32_t v) {
  for (int i = 0; i < 4; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}
inline void encode_fixed64(char* dst, uint64_t v) {
  for (int i = 0; i < 8; ++i) dst[i] = static_cast<char>(v >> (8 * i));
}

inline uint16_t decode_fixed16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
inline uint32_t decode_fixed32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) |
         (static_cast<uint32_t>(u[2]) << 16) | (static_cast<uint32_t>(u[3]) << 24);
}
inline uint64_t decode_fixed64(const char* p) {
  return static_cast<uint64_t>(decode_fixed32(p)) |
         (static_cast<uint64_t>(decode_fixed32(p + 4)) << 32);
}

inline void put_fixed16(std::string* dst, uint16_t v) {
  char buf[2];
  encode_fixed16(buf, v);
  dst->append(buf, sizeof(buf));
}
inline void put_fixed32(std::string* dst, uint32_t v) {
  char buf[4];
  encode_fixed32(buf, v);
  dst->append(buf, sizeof(buf));
}
inline void put_fixed64(std::string* dst, uint64_t v) {
  char buf[8];
  encode_fixed64(buf, v);
  dst->append(buf, sizeof(buf));
}

// Writes v as a varint at dst (which must have room for kMaxVarint64Bytes) and
// returns the byte after it.
inline char* encode_varint64(char* dst, uint64_t v) {
  auto* p = reinterpret_cast<unsigned char*>(dst);
  while (v >= 0x80) {
    *p++ = static_cast<unsigned char>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<unsigned char>(v);
  return reinterpret_cast<char*>(p);
}
inline char* encode_varint32(char* dst, uint32_t v) { return encode_varint64(dst, v); }

inline void put_varint64(std::string* dst, uint64_t v) {
  char buf[kMaxVarint64Bytes];
  dst->append(buf, static_cast<size_t>(encode_varint64(buf, v) - buf));
}
inline void put_varint32(std::string* dst, uint32_t v) { put_varint64(dst, v); }

// The number of bytes the varint encoding of v takes.
inline size_t varint_length(uint64_t v) {
  size_t len = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++len;
  }
  return len;
}

// Decodes a varint of at most max_bytes from [p, limit). Returns the byte after
// it, or nullptr if the input ends first, the varint is longer than max_bytes, or
// the value does not fit in `bits` bits.
const char* decode_varint(const char* p, const char* limit, uint64_t* value, size_t max_bytes,
                          unsigned bits);

inline bool get_varint64(std::string_view* input, uint64_t* value) {
  const char* end = input->data() + input->size();
  const char* q = decode_varint(input->data(), end, value, kMaxVarint64Bytes, 64);
  if (q == nullptr) return false;
  input->remove_prefix(static_cast<size_t>(q - input->data()));
  return true;
}
inline bool get_varint32(std::string_view* input, uint32_t* value) {
  uint64_t v = 0;
  const char* end = input->data() + input->size();
  const char* q = decode_varint(input->data(), end, &v, kMaxVarint32Bytes, 32);
  if (q == nullptr) return false;
  *value = static_cast<uint32_t>(v);
  input->remove_prefix(static_cast<size_t>(q - input->data()));
  return true;
}
inline bool get_fixed32(std::string_view* input, uint32_t* value) {
  if (input->size() < 4) return false;
  *value = decode_fixed32(input->data());
  input->remove_prefix(4);
  return true;
}
inline bool get_fixed64(std::string_view* input, uint64_t* value) {
  if (input->size() < 8) return false;
  *value = decode_fixed64(input->data());
  input->remove_prefix(8);
  return true;
}

// A varint length followed by that many bytes.
inline void put_length_prefixed(std::string* dst, std::string_view value) {
  put_varint64(dst, value.size());
  dst->append(value);
}
inline bool get_length_prefixed(std::string_view* input, std::string_view* result) {
  std::string_view in = *input;
  uint64_t len = 0;
  if (!get_varint64(&in, &len) || len > in.size()) return false;
  *result = in.substr(0, static_cast<size_t>(len));
  in.remove_prefix(static_cast<size_t>(len));
  *input = in;
  return true;
}

}  // namespace fsdb
