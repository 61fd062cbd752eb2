// How the first block of a zstd frame codes its literal bytes, read from the
// frame's bytes (RFC 8878): lets a test check what a table builder asked zstd
// for, which the decompressed content cannot show.
#pragma once

#include <string_view>

namespace fsdb::test {

enum class LiteralsCoding {
  kUnreadable,     // not a zstd frame, or cut short
  kNoLiterals,     // the first block is stored raw or as one repeated byte
  kRaw,            // literals stored as they are
  kRle,            // one literal byte, repeated
  kHuffman,        // Huffman-coded, with the block's own code
  kHuffmanReused,  // Huffman-coded with an earlier code (the dictionary's)
};

// `stored`: a frame as fsdb's tables store it, without its leading 4-byte
// magic number (docs/format.md), and anything after it.
LiteralsCoding first_block_literals(std::string_view stored);

}  // namespace fsdb::test
