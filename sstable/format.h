// The on-disk framing shared by the table builder and reader: block handles,
// the per-block trailer and the fixed-size footer. docs/format.md gives
// the layout byte by byte.
//
// A table file is: data blocks, the filter block, the compression dictionary
// (if any), the index block, the properties block, then the footer. Each block
// is followed by a 9-byte trailer:
//   compression type (1 byte) | XXH3-64 of (stored bytes, type byte) (fixed64)
// The full 64 bits are kept: 4 more bytes per ~4 KiB block buys a checksum whose
// false-accept odds are negligible even over petabytes.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "fsdb/status.h"

namespace fsdb {

// On disk (little-endian) the bytes spell "FSDBSST1".
inline constexpr uint64_t kTableMagicNumber = 0x31545353'42445346ull;
// Version 2 tables may hold blocks compressed with a table-wide dictionary
// (kZstdWithDictionary, located by the properties block); a builder writes 2
// only for such a table and 1 otherwise, so that tables without a dictionary
// stay readable by version-1 readers. Readers accept both.
inline constexpr uint32_t kTableFormatVersionWithoutDictionary = 1;
inline constexpr uint32_t kTableFormatVersion = 2;
inline constexpr size_t kBlockTrailerBytes = 1 + 8;
// Blocks larger than this are never compressed, and a reader refuses a
// compressed block that claims to inflate past it: a corrupt size field must not
// make the reader allocate without bound.
inline constexpr size_t kMaxCompressibleBlockBytes = 32u << 20;
// Index blocks restart their key prefix sharing every this many entries.
// A key shares at most the bytes of the one before it, so none is longer than
// its restart group's stored key bytes, and all of them expanded take at most
// this many times the block: a reader refuses an index that claims more (a
// crafted kilobyte file would otherwise expand to gigabytes at open).
inline constexpr int kIndexRestartInterval = 16;

// The compression type byte of a block trailer.
enum class BlockCompression : uint8_t {
  kNone = 0,
  // A zstd frame (with its content size) minus the frame's leading 4-byte magic
  // number, which is the same in every frame: 4 bytes saved per block.
  kZstd = 1,
  // The same, compressed with the table's dictionary (compression_dictionary.h).
  kZstdWithDictionary = 2,
};
inline constexpr uint32_t kZstdFrameMagic = 0xFD2FB528;  // little-endian on disk in a frame
inline constexpr size_t kZstdFrameMagicBytes = 4;

// Where a block lives: the offset of its first byte and the size of its stored
// (possibly compressed) bytes, not counting the trailer.
struct BlockHandle {
  uint64_t offset = 0;
  uint64_t size = 0;

  static constexpr size_t kMaxEncodedBytes = 20;  // two varint64s
  void encode_to(std::string* dst) const;
  // Decodes a varint pair from the front of *input. False if malformed.
  bool decode_from(std::string_view* input);
};

// The last kFooterBytes of a table.
//   index handle, filter handle, properties handle: 3 x (fixed64 offset, fixed64 size)
//   format version: fixed32
//   checksum: fixed64, XXH3-64 of bytes [0, 52) followed by the magic number's 8 bytes
//   magic number: fixed64
struct Footer {
  static constexpr size_t kEncodedBytes = 3 * 16 + 4 + 8 + 8;

  BlockHandle index;
  BlockHandle filter;  // size 0 = the table has no filter
  BlockHandle properties;
  uint32_t format_version = kTableFormatVersionWithoutDictionary;

  void encode_to(std::string* dst) const;
  // Checks the magic number, the checksum and the version, in that order.
  // `where` names the file and offset for error messages.
  Status decode_from(std::string_view input, std::string_view where);
};

// "<path>: block at offset <offset>: <what>" as a Corruption status.
Status block_corruption(std::string_view path, uint64_t offset, std::string_view what);

// OK if the block `handle` names, with its trailer, lies inside [0, data_end)
// (data_end: where the footer starts); else Corruption naming `path`, the
// offset and `what` block it is.
Status check_block_handle(std::string_view path, const BlockHandle& handle, uint64_t data_end,
                          std::string_view what);

}  // namespace fsdb
