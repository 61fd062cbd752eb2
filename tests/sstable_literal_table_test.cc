// sstable/literal_table.h: the dictionary's literal code fitted to the sample.
#include <gtest/gtest.h>
#include <zdict.h>
#include <zstd.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "sstable/compression_dictionary.h"
#include "sstable/literal_table.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

// A block shaped like a table's at the bottom level: entries of small length
// bytes, the key's unshared digits, an 8-byte trailer of zeros and a value of
// 50 random printable bytes written twice, then a restart array.
std::string table_like_block(std::mt19937_64& rng, uint64_t* next_key) {
  std::string block;
  while (block.size() < 4000) {
    char key[32];
    std::snprintf(key, sizeof(key), "%016llu", static_cast<unsigned long long>((*next_key)++));
    block.push_back(static_cast<char>(12));
    block.push_back(static_cast<char>(12));
    block.push_back(static_cast<char>(100));
    block.append(key + 12, 4);
    block.append(8, '\0');
    std::string half(50, ' ');
    for (char& c : half) c = static_cast<char>(' ' + rng() % 95);
    block += half + half;
  }
  for (int i = 0; i < 3; ++i) block.append("\x10\x00\x00\x00", 4);
  return block;
}

// The literals section type of a frame's first block (RFC 8878): 0 raw,
// 1 RLE, 2 a code of its own, 3 the previous (here the dictionary's) code;
// -1 if the block is not a compressed one.
int literals_type(const std::string& frame) {
  const auto byte = [&](size_t i) { return static_cast<unsigned>(static_cast<uint8_t>(frame[i])); };
  const unsigned descriptor = byte(4);
  const bool single_segment = (descriptor >> 5) & 1;
  static constexpr size_t kIdBytes[] = {0, 1, 2, 4};
  static constexpr size_t kSizeBytes[] = {0, 2, 4, 8};
  size_t pos = 5 + (single_segment ? 0 : 1) + kIdBytes[descriptor & 3];
  pos += (descriptor >> 6) == 0 ? (single_segment ? 1 : 0) : kSizeBytes[descriptor >> 6];
  if (((byte(pos) >> 1) & 3) != 2) return -1;
  return static_cast<int>(byte(pos + 3) & 3);
}

struct Compressed {
  size_t bytes = 0;
  size_t naming_the_dictionary = 0;
};

Compressed compress_all(const std::string& dictionary, const std::vector<std::string>& blocks,
                        int level = 3) {
  ZSTD_CDict* cdict = ZSTD_createCDict(dictionary.data(), dictionary.size(), level);
  ZSTD_DDict* ddict = ZSTD_createDDict(dictionary.data(), dictionary.size());
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  EXPECT_NE(cdict, nullptr);
  EXPECT_NE(ddict, nullptr);
  Compressed result;
  for (const std::string& block : blocks) {
    std::string frame(ZSTD_compressBound(block.size()), '\0');
    const size_t n = ZSTD_compress_usingCDict(cctx, frame.data(), frame.size(), block.data(),
                                              block.size(), cdict);
    EXPECT_FALSE(ZSTD_isError(n));
    frame.resize(n);
    result.bytes += n;
    if (literals_type(frame) == 3) ++result.naming_the_dictionary;
    std::string back(block.size(), '\0');
    const size_t got = ZSTD_decompress_usingDDict(dctx, back.data(), back.size(), frame.data(),
                                                  frame.size(), ddict);
    EXPECT_EQ(got, block.size());
    EXPECT_EQ(back, block);
  }
  ZSTD_freeCDict(cdict);
  ZSTD_freeDDict(ddict);
  ZSTD_freeCCtx(cctx);
  ZSTD_freeDCtx(dctx);
  return result;
}

struct Sample {
  std::string bytes;
  std::vector<size_t> sizes;
};

Sample sample_of(const std::vector<std::string>& blocks, size_t count) {
  Sample s;
  for (size_t i = 0; i < count; ++i) {
    s.bytes += blocks[i];
    s.sizes.push_back(blocks[i].size());
  }
  return s;
}

// What ZDICT_finalizeDictionary alone makes of the sample (as
// build_compression_dictionary() did before it fitted the literal code).
std::string unfitted_dictionary(const Sample& sample, size_t max_bytes) {
  const size_t content_bytes = std::min(sample.bytes.size(), max_bytes - kLiteralTableReserve);
  std::string dictionary(max_bytes - kLiteralTableReserve, '\0');
  ZDICT_params_t params{};
  params.compressionLevel = 3;
  params.dictID = 0x46534442;
  const size_t n = ZDICT_finalizeDictionary(
      dictionary.data(), dictionary.size(),
      sample.bytes.data() + sample.bytes.size() - content_bytes, content_bytes, sample.bytes.data(),
      sample.sizes.data(), static_cast<unsigned>(sample.sizes.size()), params);
  EXPECT_FALSE(ZDICT_isError(n)) << ZDICT_getErrorName(n);
  dictionary.resize(ZDICT_isError(n) ? 0 : n);
  return dictionary;
}

TEST(LiteralTableTest, BlocksNameTheFittedCodeAndComeOutNoLarger) {
  std::mt19937_64 rng(test::test_seed(31));
  uint64_t key = 0;
  std::vector<std::string> blocks;
  for (int i = 0; i < 232; ++i) blocks.push_back(table_like_block(rng, &key));
  const Sample sample = sample_of(blocks, 32);
  const std::vector<std::string> later(blocks.begin() + 32, blocks.end());

  const std::string unfitted = unfitted_dictionary(sample, 4096);
  ASSERT_FALSE(unfitted.empty());
  std::string fitted = unfitted;
  ASSERT_TRUE(fit_literal_table(&fitted, sample.bytes, sample.sizes, 3, 4096));
  EXPECT_NE(fitted, unfitted);
  EXPECT_LE(fitted.size(), 4096u);

  const Compressed before = compress_all(unfitted, later);
  const Compressed after = compress_all(fitted, later);
  // Measured: 0 of 200 blocks name ZDICT's code, 200 of 200 the fitted one.
  EXPECT_LT(before.naming_the_dictionary, later.size() / 10);
  EXPECT_GT(after.naming_the_dictionary, later.size() * 9 / 10);
  EXPECT_LE(after.bytes, before.bytes);

  // build_compression_dictionary() fits it, the same way every time.
  std::string built;
  ASSERT_TRUE(build_compression_dictionary(sample.bytes, sample.sizes, 4096, 3, &built));
  EXPECT_EQ(built, fitted);
  std::string again;
  ASSERT_TRUE(build_compression_dictionary(sample.bytes, sample.sizes, 4096, 3, &again));
  EXPECT_EQ(again, built);
  std::unique_ptr<DecompressionDictionary> digested;
  FSDB_ASSERT_OK(DecompressionDictionary::create(built, &digested));
}

TEST(LiteralTableTest, BlocksWithLiteralsOutsideTheCodeCarryTheirOwn) {
  std::mt19937_64 rng(test::test_seed(32));
  uint64_t key = 0;
  std::vector<std::string> blocks;
  for (int i = 0; i < 32; ++i) blocks.push_back(table_like_block(rng, &key));
  const Sample sample = sample_of(blocks, 32);
  std::string dictionary;
  ASSERT_TRUE(build_compression_dictionary(sample.bytes, sample.sizes, 4096, 3, &dictionary));
  // Bytes 128..254, which the sample's literals never hold: no code in the
  // dictionary, so these blocks must carry their own and still read back.
  std::vector<std::string> other;
  for (int i = 0; i < 20; ++i) {
    std::string block = table_like_block(rng, &key);
    for (size_t j = 0; j < block.size(); j += 3) block[j] = static_cast<char>(128 + rng() % 127);
    other.push_back(block);
  }
  const Compressed result = compress_all(dictionary, other);
  EXPECT_EQ(result.naming_the_dictionary, 0u);
  EXPECT_GT(result.bytes, 0u);
}

TEST(LiteralTableTest, FitsASampleWithMoreLiteralsThanOneZstdBlock) {
  // 32 blocks of ~8 KiB: ~115 KB of literals, more than fit_literal_table()
  // hands zstd at once, so the histogram is scaled down first.
  std::mt19937_64 rng(test::test_seed(34));
  uint64_t key = 0;
  std::vector<std::string> blocks;
  for (int i = 0; i < 72; ++i)
    blocks.push_back(table_like_block(rng, &key) + table_like_block(rng, &key));
  const Sample sample = sample_of(blocks, 32);
  const std::string unfitted = unfitted_dictionary(sample, 4096);
  std::string fitted = unfitted;
  ASSERT_TRUE(fit_literal_table(&fitted, sample.bytes, sample.sizes, 3, 4096));
  const std::vector<std::string> later(blocks.begin() + 32, blocks.end());
  // Larger blocks gain more from a code of their own: measured, 26 of 40
  // name the fitted code (and none ZDICT's).
  const Compressed after = compress_all(fitted, later);
  const Compressed before = compress_all(unfitted, later);
  EXPECT_GT(after.naming_the_dictionary, later.size() / 2);
  EXPECT_LT(before.naming_the_dictionary, later.size() / 10);
  EXPECT_LE(after.bytes, before.bytes);
}

TEST(LiteralTableTest, EveryZstdLevelGetsADictionaryItsBlocksReadBackWith) {
  std::mt19937_64 rng(test::test_seed(35));
  uint64_t key = 0;
  std::vector<std::string> blocks;
  for (int i = 0; i < 48; ++i) blocks.push_back(table_like_block(rng, &key));
  const Sample sample = sample_of(blocks, 32);
  const std::vector<std::string> later(blocks.begin() + 32, blocks.end());
  for (const int level : {-5, 1, 3, 9, 19}) {
    SCOPED_TRACE(level);
    std::string dictionary;
    ASSERT_TRUE(build_compression_dictionary(sample.bytes, sample.sizes, 4096, level, &dictionary));
    EXPECT_LE(dictionary.size(), 4096u);
    std::unique_ptr<DecompressionDictionary> digested;
    FSDB_ASSERT_OK(DecompressionDictionary::create(dictionary, &digested));
    EXPECT_GT(compress_all(dictionary, later, level).bytes, 0u);  // every block round-trips
  }
}

TEST(LiteralTableTest, LeavesWhatItCannotFitAlone) {
  std::mt19937_64 rng(test::test_seed(33));
  uint64_t key = 0;
  std::vector<std::string> blocks;
  for (int i = 0; i < 16; ++i) blocks.push_back(table_like_block(rng, &key));
  const Sample sample = sample_of(blocks, 16);
  // Not a dictionary: untouched.
  std::string garbage(600, 'x');
  EXPECT_FALSE(fit_literal_table(&garbage, sample.bytes, sample.sizes, 3, 4096));
  EXPECT_EQ(garbage, std::string(600, 'x'));
  // No room to grow: untouched.
  const std::string unfitted = unfitted_dictionary(sample, 4096);
  std::string tight = unfitted;
  EXPECT_FALSE(fit_literal_table(&tight, sample.bytes, sample.sizes, 3, unfitted.size() - 60));
  EXPECT_EQ(tight, unfitted);
  // The smallest dictionaries still work, fitted or not.
  std::string small;
  ASSERT_TRUE(build_compression_dictionary(sample.bytes, sample.sizes, 256, 3, &small));
  EXPECT_LE(small.size(), 256u);
  const std::vector<std::string> later(blocks.begin() + 8, blocks.end());
  EXPECT_GT(compress_all(small, later).bytes, 0u);
}

}  // namespace
}  // namespace fsdb
