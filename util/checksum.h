// Checksums for everything fsdb reads back: XXH3-64 from the xxHash library.
//
// On disk fsdb stores either the full 64-bit value or its low 32 bits, as each
// format in docs/format.md says; both come from the same function so a reader
// and a writer can never disagree on the seed or variant.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace fsdb {

// XXH3-64 of data (seed 0).
uint64_t checksum64(std::string_view data);
// XXH3-64 over two pieces as if they were contiguous, without copying them.
uint64_t checksum64(std::string_view a, std::string_view b);
// The low 32 bits of checksum64.
inline uint32_t checksum32(std::string_view data) {
  return static_cast<uint32_t>(checksum64(data));
}
inline uint32_t checksum32(std::string_view a, std::string_view b) {
  return static_cast<uint32_t>(checksum64(a, b));
}

}  // namespace fsdb
