#include "util/coding.h"

namespace fsdb {

const char* decode_varint(const char* p, const char* limit, uint64_t* value, size_t max_bytes,
                          unsigned bits) {
  uint64_t result = 0;
  for (size_t i = 0; i < max_bytes && p < limit; ++i) {
    const auto byte = static_cast<unsigned char>(*p++);
    const unsigned shift = static_cast<unsigned>(7 * i);
    const uint64_t payload = byte & 0x7fu;
    // Reject encodings whose value would not fit: the bits shifted out must be zero.
    if (shift > 0 && shift < 64 && (payload >> (64 - shift)) != 0) return nullptr;
    if (shift >= 64 && payload != 0) return nullptr;
    if (shift < 64) result |= payload << shift;
    if ((byte & 0x80u) == 0) {
      if (bits < 64 && (result >> bits) != 0) return nullptr;
      *value = result;
      return p;
    }
  }
  return nullptr;
}

}  // namespace fsdb
