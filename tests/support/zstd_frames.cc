#include "tests/support/zstd_frames.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_getFrameHeader
#include <zstd.h>

#include <string>

namespace fsdb::test {

LiteralsCoding first_block_literals(std::string_view stored) {
  static constexpr char kMagic[4] = {'\x28', '\xB5', '\x2F', '\xFD'};
  const std::string frame = std::string(kMagic, 4) + std::string(stored);
  ZSTD_frameHeader header;
  if (ZSTD_getFrameHeader(&header, frame.data(), frame.size()) != 0 ||
      header.frameType != ZSTD_frame || frame.size() < header.headerSize + 4) {
    return LiteralsCoding::kUnreadable;
  }
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(frame[i]); };
  // Block header: 3 bytes little-endian; bits 1-2 are the block type.
  const unsigned block_type = (byte(header.headerSize) >> 1) & 3;
  constexpr unsigned kCompressedBlock = 2;
  if (block_type != kCompressedBlock) return LiteralsCoding::kNoLiterals;
  // A compressed block starts with its literals section, whose first two
  // bits are the literals block type.
  switch (byte(header.headerSize + 3) & 3) {
    case 0:
      return LiteralsCoding::kRaw;
    case 1:
      return LiteralsCoding::kRle;
    case 2:
      return LiteralsCoding::kHuffman;
    default:
      return LiteralsCoding::kHuffmanReused;
  }
}

}  // namespace fsdb::test
