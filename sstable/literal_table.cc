#include "sstable/literal_table.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_c_literalCompressionMode
#include <zstd.h>

#include <algorithm>
#include <array>
#include <memory>

namespace fsdb {

namespace {

// Literal values every fitted code covers, whether the sample holds them or
// not: text, digits and small integers.
constexpr size_t kLastSymbol = 127;
constexpr uint32_t kFrameMagic = 0xFD2FB528;
// Byte 8 of a zstd dictionary, after its magic number and id: the literal code.
constexpr size_t kLiteralTableOffset = 8;

struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
};
struct CDictDeleter {
  void operator()(ZSTD_CDict* d) const { ZSTD_freeCDict(d); }
};
struct DDictDeleter {
  void operator()(ZSTD_DDict* d) const { ZSTD_freeDDict(d); }
};

// Where the literals section of a frame's first block starts (RFC 8878,
// 3.1.1), or 0 when that block is not a compressed one.
size_t literals_section_offset(std::string_view frame) {
  if (frame.size() < 6) return 0;
  const uint32_t magic = static_cast<uint8_t>(frame[0]) | static_cast<uint8_t>(frame[1]) << 8 |
                         static_cast<uint8_t>(frame[2]) << 16 |
                         static_cast<uint32_t>(static_cast<uint8_t>(frame[3])) << 24;
  if (magic != kFrameMagic) return 0;
  const auto descriptor = static_cast<uint8_t>(frame[4]);
  const bool single_segment = (descriptor >> 5) & 1;
  static constexpr size_t kDictionaryIdBytes[] = {0, 1, 2, 4};
  static constexpr size_t kContentSizeBytes[] = {0, 2, 4, 8};
  size_t pos = 5;
  if (!single_segment) ++pos;  // window descriptor
  pos += kDictionaryIdBytes[descriptor & 3];
  const size_t size_flag = descriptor >> 6;
  pos += size_flag == 0 ? (single_segment ? 1 : 0) : kContentSizeBytes[size_flag];
  if (pos + 4 > frame.size()) return 0;  // the block header and one byte
  const auto block_type = (static_cast<uint8_t>(frame[pos]) >> 1) & 3;
  return block_type == 2 ? pos + 3 : 0;
}

// Adds the raw literals of the frame's first block to `counts` (none when the
// block is raw or RLE, or its literals were compressed after all).
void count_raw_literals(std::string_view frame, std::array<uint64_t, 256>* counts) {
  const size_t pos = literals_section_offset(frame);
  if (pos == 0) return;
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(frame[i])); };
  const uint32_t first = byte(pos);
  if ((first & 3) != 0) return;  // not raw literals
  size_t header = 0;
  size_t literals = 0;
  switch ((first >> 2) & 3) {
    case 0:
    case 2:
      header = 1;
      literals = first >> 3;
      break;
    case 1:
      if (pos + 2 > frame.size()) return;
      header = 2;
      literals = (first >> 4) | byte(pos + 1) << 4;
      break;
    default:
      if (pos + 3 > frame.size()) return;
      header = 3;
      literals = (first >> 4) | byte(pos + 1) << 4 | byte(pos + 2) << 12;
      break;
  }
  if (pos + header + literals > frame.size()) return;
  for (size_t i = 0; i < literals; ++i) ++(*counts)[byte(pos + header + i)];
}

// The size of the literal code's description at the start of `table`, or 0.
size_t literal_table_bytes(std::string_view table) {
  if (table.empty()) return 0;
  const auto header = static_cast<uint8_t>(table[0]);
  // Below 128: the weights are entropy coded in `header` bytes; from 128 on,
  // header - 127 weights follow, 4 bits each.
  const size_t bytes = header < 128 ? 1 + header : 1 + (header - 127 + 1) / 2;
  return bytes <= table.size() ? bytes : 0;
}

// Compresses every sample with `dictionary` (the same parameters as a
// table's blocks); returns the total compressed size, or 0 on any failure.
// With `literals_raw` the literals are left uncompressed and counted into
// `counts`; with `check` every frame must decompress to its sample and
// `reusing` counts the frames whose literals name the dictionary's code.
size_t compress_samples(std::string_view dictionary, std::string_view samples,
                        const std::vector<size_t>& sample_sizes, int zstd_level, bool literals_raw,
                        std::array<uint64_t, 256>* counts, bool check, size_t* reusing) {
  std::unique_ptr<ZSTD_CDict, CDictDeleter> cdict(
      ZSTD_createCDict(dictionary.data(), dictionary.size(), zstd_level));
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  if (!cdict || !cctx) return 0;
  if (literals_raw && ZSTD_isError(ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_literalCompressionMode,
                                                          static_cast<int>(ZSTD_ps_disable)))) {
    return 0;
  }
  std::unique_ptr<ZSTD_DDict, DDictDeleter> ddict;
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx;
  if (check) {
    ddict.reset(ZSTD_createDDict(dictionary.data(), dictionary.size()));
    dctx.reset(ZSTD_createDCtx());
    if (!ddict || !dctx) return 0;
  }
  std::string frame;
  std::string decompressed;
  size_t total = 0;
  size_t offset = 0;
  for (size_t size : sample_sizes) {
    const std::string_view sample = samples.substr(offset, size);
    offset += size;
    if (ZSTD_isError(ZSTD_CCtx_refCDict(cctx.get(), cdict.get()))) return 0;
    frame.resize(ZSTD_compressBound(sample.size()));
    const size_t n =
        ZSTD_compress2(cctx.get(), frame.data(), frame.size(), sample.data(), sample.size());
    if (ZSTD_isError(n)) return 0;
    frame.resize(n);
    total += n;
    if (literals_raw) count_raw_literals(frame, counts);
    if (check) {
      decompressed.resize(sample.size());
      const size_t got =
          ZSTD_decompress_usingDDict(dctx.get(), decompressed.data(), decompressed.size(),
                                     frame.data(), frame.size(), ddict.get());
      if (ZSTD_isError(got) || got != sample.size() || decompressed != sample) return 0;
      // Literals section type 3: the previous (here the dictionary's) code.
      const size_t literals = literals_section_offset(frame);
      if (literals != 0 && (static_cast<uint8_t>(frame[literals]) & 3) == 3) ++*reusing;
    }
  }
  return total;
}

// zstd's description of the literal code it builds for a stream with the
// histogram `counts`, or "" if it does not build one.
std::string literal_table_for(const std::vector<uint64_t>& counts) {
  // One zstd block holds the stream (128 KiB); a larger histogram (a sample
  // of large blocks) is scaled down, keeping every value that occurs.
  constexpr uint64_t kMaxStream = 96 << 10;
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0) return "";
  std::string stream;
  for (size_t s = 0; s < counts.size(); ++s) {
    uint64_t c = counts[s];
    if (total > kMaxStream && c > 0) c = std::max<uint64_t>(1, c * kMaxStream / total);
    stream.append(c, static_cast<char>(s));
  }
  // A fixed shuffle (xorshift64, Fisher-Yates): the same sample always gives
  // the same dictionary.
  uint64_t state = 0x9E3779B97F4A7C15;
  for (size_t i = stream.size(); i > 1; --i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    std::swap(stream[i - 1], stream[state % i]);
  }
  std::unique_ptr<ZSTD_CCtx, CCtxDeleter> cctx(ZSTD_createCCtx());
  if (!cctx) return "";
  std::string frame(ZSTD_compressBound(stream.size()), '\0');
  const size_t n =
      ZSTD_compress2(cctx.get(), frame.data(), frame.size(), stream.data(), stream.size());
  if (ZSTD_isError(n)) return "";
  frame.resize(n);
  size_t pos = literals_section_offset(frame);
  if (pos == 0) return "";
  const auto first = static_cast<uint8_t>(frame[pos]);
  if ((first & 3) != 2) return "";  // literals not compressed with a new code
  // Compressed literals: a 3-, 3-, 4- or 5-byte header by size format.
  static constexpr size_t kHeaderBytes[] = {3, 3, 4, 5};
  pos += kHeaderBytes[(first >> 2) & 3];
  if (pos >= frame.size()) return "";
  const size_t bytes = literal_table_bytes(std::string_view(frame).substr(pos));
  return bytes == 0 ? "" : frame.substr(pos, bytes);
}

}  // namespace

bool fit_literal_table(std::string* dictionary, std::string_view samples,
                       const std::vector<size_t>& sample_sizes, int zstd_level, size_t max_bytes) {
  const size_t old_table = literal_table_bytes(
      std::string_view(*dictionary).substr(std::min(dictionary->size(), kLiteralTableOffset)));
  if (old_table == 0) return false;

  // The literals zstd leaves after matching against this dictionary.
  std::array<uint64_t, 256> literals{};
  size_t unused = 0;
  if (compress_samples(*dictionary, samples, sample_sizes, zstd_level, /*literals_raw=*/true,
                       &literals, /*check=*/false, &unused) == 0) {
    return false;
  }
  // The code: zstd's own, built for these literals by compressing a stream
  // with exactly their histogram (in an order that leaves nothing to match),
  // plus one occurrence of every value up to kLastSymbol, so that a block
  // naming it may hold any of them, and of 255: a dictionary's code must
  // extend to the last byte value. Other values that never occur in the
  // sample get no code; a block holding one carries its own.
  std::vector<uint64_t> counts(literals.begin(), literals.end());
  for (size_t s = 0; s <= kLastSymbol; ++s) ++counts[s];
  counts[255] = std::max<uint64_t>(counts[255], 1);
  const std::string table = literal_table_for(counts);
  if (table.empty()) return false;

  std::string fitted = dictionary->substr(0, kLiteralTableOffset) + table +
                       dictionary->substr(kLiteralTableOffset + old_table);
  if (fitted.size() > max_bytes) return false;
  // Keep it only if it round-trips and most blocks of the sample name it
  // (zstd names it only where that is no larger than a code of their own).
  size_t reusing = 0;
  if (compress_samples(fitted, samples, sample_sizes, zstd_level, /*literals_raw=*/false, nullptr,
                       /*check=*/true, &reusing) == 0 ||
      2 * reusing < sample_sizes.size()) {
    return false;
  }
  *dictionary = std::move(fitted);
  return true;
}

}  // namespace fsdb
