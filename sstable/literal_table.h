// The literal table of a table's compression dictionary.
//
// zstd compresses each block's literals (the bytes no match covers) with a
// Huffman code. A block can name the dictionary's code instead of carrying its
// own, and then its reader skips building a decoding table for it: measured on
// the benchmark's tables, such a block decompressed in half the time. zstd
// names the dictionary's code only when the block comes out no larger with it
// than with a code of its own plus that code's description (~40 bytes).
// ZDICT_finalizeDictionary gives every one of the 256 byte values a code, so
// when only ~100 values occur, the rest take ~8% of the code space and every
// literal pays for it: nearly every block carried its own code.
//
// fit_literal_table() replaces that code with one zstd builds for the bytes
// the sample's literals actually hold; values 0..127 and 255 get a code even
// when the sample lacks them (the rare ones the longest), other values the
// sample lacks get none. A block with a literal outside the code carries its
// own, as before. Measured on a table of the benchmark's DB: every block
// names the fitted code, the table is 0.7% smaller, and a block decompresses
// in 2.4 us of CPU instead of 3.4. Larger blocks gain more from a code of
// their own (with 8 KiB blocks about two thirds name the fitted one).
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace fsdb {

// Bytes a dictionary may grow by when fit_literal_table() replaces its code:
// build the dictionary this much below its budget.
inline constexpr size_t kLiteralTableReserve = 64;

// Replaces the literal code of `dictionary` (as ZDICT_finalizeDictionary
// wrote it) by one fitted to the literals of `samples` compressed with it at
// `zstd_level`, if most blocks of the sample then name it, every one
// decompresses to itself, and the dictionary stays within `max_bytes`.
// Returns whether it did.
bool fit_literal_table(std::string* dictionary, std::string_view samples,
                       const std::vector<size_t>& sample_sizes, int zstd_level, size_t max_bytes);

}  // namespace fsdb
