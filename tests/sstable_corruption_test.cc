// sstable/: damaged tables. Every flipped bit and every truncation must be
// reported as Corruption naming the file (and the block, where there is one);
// no damage may crash the reader, read outside the file, or change an answer
// silently.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "fsdb/env.h"
#include "sstable/block.h"
#include "sstable/block_builder.h"
#include "sstable/block_cache.h"
#include "sstable/format.h"
#include "sstable/string_file.h"
#include "sstable/table_builder.h"
#include "sstable/table_reader.h"
#include "tests/support/test_util.h"
#include "util/checksum.h"
#include "util/coding.h"

namespace fsdb {
namespace {

constexpr char kPath[] = "/db/000012.sst";

struct Entry {
  std::string user_key;
  SequenceNumber sequence;
  ValueKind kind;
  std::string value;
};

// Parameter: whether the table is built with a compression dictionary.
class CorruptionTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    // Enough keys for more blocks than a dictionary's sample (32), so that the
    // dictionary is judged on its sample alone.
    for (int i = 0; i < 150; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "key%04d", i);
      // Two versions of every third key; repetitive values so zstd compresses blocks.
      if (i % 3 == 0) entries_.push_back({key, 200, ValueKind::kValue, std::string(30, 'n') + key});
      entries_.push_back({key, 100, i % 7 == 0 ? ValueKind::kTombstone : ValueKind::kValue,
                          i % 7 == 0 ? "" : std::string(40, 'o') + key});
    }
    options_.block_bytes = 256;
    options_.compression_dictionary_bytes = GetParam() ? 1024 : 0;
    test::ScratchDir dir;
    auto fs = posix_file_system();
    const std::string path = dir.file("table.sst");
    std::unique_ptr<TableBuilder> builder;
    ASSERT_TRUE(TableBuilder::open(*fs, path, options_, &builder).ok());
    for (const Entry& e : entries_) {
      ASSERT_TRUE(builder->add(e.user_key, e.sequence, e.kind, e.value).ok());
    }
    ASSERT_TRUE(builder->finish().ok());
    ASSERT_TRUE(read_file_to_string(*fs, path, &image_).ok());
    ASSERT_GT(builder->properties().num_data_blocks, 3u);
    // Each variant really is what it claims to be.
    ASSERT_EQ(builder->properties().dictionary_bytes != 0, GetParam());
  }

  Status open(const std::string& image, std::unique_ptr<TableReader>* reader,
              const TableOptions& options) {
    return TableReader::open(options, std::make_unique<StringRandomAccessFile>(kPath, image),
                             image.size(), kPath, 12, reader);
  }
  Status open(const std::string& image, std::unique_ptr<TableReader>* reader) {
    return open(image, reader, options_);
  }

  // Reads everything; fails the test on a wrong answer; returns the first error
  // seen (OK if every read succeeded).
  Status read_all(const TableReader& reader) {
    Status first_error;
    auto note = [&](const Status& s) {
      if (!s.ok() && first_error.ok()) first_error = s;
    };
    auto it = reader.new_iterator();
    size_t n = 0;
    for (it->seek_to_first(); it->valid(); it->next(), ++n) {
      EXPECT_LT(n, entries_.size());
      if (n >= entries_.size()) break;
      EXPECT_EQ(it->user_key(), entries_[n].user_key);
      EXPECT_EQ(it->sequence(), entries_[n].sequence);
      EXPECT_EQ(it->value(), entries_[n].value);
    }
    note(it->status());
    if (it->status().ok()) {
      EXPECT_EQ(n, entries_.size());
    }
    n = entries_.size();
    for (it->seek_to_last(); it->valid(); it->prev()) {
      EXPECT_GT(n, 0u);
      if (n == 0) break;
      --n;
      EXPECT_EQ(it->user_key(), entries_[n].user_key);
      EXPECT_EQ(it->value(), entries_[n].value);
    }
    note(it->status());
    if (it->status().ok()) {
      EXPECT_EQ(n, 0u);
    }
    for (const Entry& e : entries_) {
      TableGetResult result;
      Status s = reader.get(e.user_key, e.sequence, &result);
      note(s);
      if (s.ok()) {
        EXPECT_TRUE(result.found) << e.user_key;
        EXPECT_EQ(result.sequence, e.sequence);
        EXPECT_EQ(result.kind, e.kind);
        EXPECT_EQ(result.value, e.value);
      }
    }
    return first_error;
  }

  Footer footer() {
    Footer f;
    EXPECT_TRUE(
        f.decode_from(std::string_view(image_).substr(image_.size() - Footer::kEncodedBytes),
                      "footer")
            .ok());
    return f;
  }
  std::string with_footer(const Footer& f) {
    std::string image = image_.substr(0, image_.size() - Footer::kEncodedBytes);
    f.encode_to(&image);
    return image;
  }

  TableOptions options_;
  std::vector<Entry> entries_;
  std::string image_;
};

TEST_P(CorruptionTest, IntactTableReadsBack) {
  std::unique_ptr<TableReader> reader;
  FSDB_ASSERT_OK(open(image_, &reader));
  FSDB_EXPECT_OK(read_all(*reader));
}

// Every byte of the table, damaged two ways: one flipped bit (a different bit
// position from byte to byte) and all eight bits inverted.
TEST_P(CorruptionTest, EveryFlippedByteIsDetected) {
  for (size_t offset = 0; offset < image_.size(); ++offset) {
    for (const int mask : {1 << (offset % 8), 0xff}) {
      SCOPED_TRACE("byte " + std::to_string(offset) + " xor " + std::to_string(mask));
      std::string damaged = image_;
      damaged[offset] = static_cast<char>(damaged[offset] ^ mask);
      std::unique_ptr<TableReader> reader;
      Status s = open(damaged, &reader);
      // Open may succeed when the damage is in a data block; then reading
      // everything must hit it, and read_all fails the test on any wrong answer.
      if (s.ok()) s = read_all(*reader);
      ASSERT_TRUE(s.is_corruption()) << s.to_string();
      EXPECT_NE(s.message().find(kPath), std::string::npos) << s.to_string();
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST_P(CorruptionTest, DamageWithoutChecksumVerificationNeverCrashes) {
  // With verification off, a flip can change an answer (that is what the option
  // trades away), but the reader must still stay inside its buffers; ASan and
  // UBSan builds check that.
  TableOptions unverified = options_;
  unverified.verify_checksums = false;
  for (size_t offset = 0; offset < image_.size(); ++offset) {
    std::string damaged = image_;
    damaged[offset] = static_cast<char>(damaged[offset] ^ 0xff);
    std::unique_ptr<TableReader> reader;
    if (!open(damaged, &reader, unverified).ok()) continue;
    auto it = reader->new_iterator();
    size_t steps = 0;
    for (it->seek_to_first(); it->valid() && steps < 1000; it->next()) ++steps;
    for (it->seek_to_last(); it->valid() && steps < 2000; it->prev()) ++steps;
    for (const Entry& e : entries_) {
      TableGetResult result;
      (void)reader->get(e.user_key, e.sequence, &result);
      it->seek(e.user_key, e.sequence);
      it->seek_for_prev(e.user_key, e.sequence);
    }
  }
}

TEST_P(CorruptionTest, EveryTruncationFailsToOpen) {
  for (size_t size = 0; size < image_.size(); ++size) {
    std::unique_ptr<TableReader> reader;
    Status s = open(image_.substr(0, size), &reader);
    ASSERT_TRUE(s.is_corruption()) << size << ": " << s.to_string();
    EXPECT_NE(s.message().find(kPath), std::string::npos) << s.to_string();
  }
}

TEST_P(CorruptionTest, FileShorterThanReportedIsCorruption) {
  // The file system reports a size the file does not have (a lost tail).
  std::unique_ptr<TableReader> reader;
  Status s = TableReader::open(
      options_,
      std::make_unique<StringRandomAccessFile>(kPath, image_.substr(0, image_.size() - 100)),
      image_.size(), kPath, 12, &reader);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
}

TEST_P(CorruptionTest, WrongMagicNumber) {
  std::string damaged = image_;
  encode_fixed64(damaged.data() + damaged.size() - 8, 0x1234);
  std::unique_ptr<TableReader> reader;
  Status s = open(damaged, &reader);
  ASSERT_TRUE(s.is_corruption());
  EXPECT_NE(s.message().find("bad magic number"), std::string::npos) << s.to_string();
  EXPECT_NE(s.message().find(std::string(kPath) + ": footer at offset " +
                             std::to_string(image_.size() - Footer::kEncodedBytes)),
            std::string::npos)
      << s.to_string();
}

TEST_P(CorruptionTest, WrongFormatVersion) {
  Footer f = footer();
  f.format_version = kTableFormatVersion + 1;
  std::unique_ptr<TableReader> reader;
  Status s = open(with_footer(f), &reader);
  ASSERT_TRUE(s.is_corruption());
  EXPECT_NE(s.message().find("unsupported table format version " +
                             std::to_string(kTableFormatVersion + 1)),
            std::string::npos)
      << s.to_string();
}

TEST_P(CorruptionTest, BlockHandlesPastTheEnd) {
  const uint64_t data_end = image_.size() - Footer::kEncodedBytes;
  const std::vector<BlockHandle> bad = {
      {data_end, 1}, {0, data_end}, {UINT64_MAX - 3, 10}, {5, UINT64_MAX}, {data_end - 8, 0}};
  for (const BlockHandle& h : bad) {
    for (int which = 0; which < 3; ++which) {
      Footer f = footer();
      (which == 0 ? f.index : which == 1 ? f.filter : f.properties) = h;
      std::unique_ptr<TableReader> reader;
      Status s = open(with_footer(f), &reader);
      ASSERT_TRUE(s.is_corruption()) << s.to_string();
      EXPECT_NE(
          s.message().find(std::string(kPath) + ": block at offset " + std::to_string(h.offset)),
          std::string::npos)
          << s.to_string();
    }
  }
}

TEST_P(CorruptionTest, IndexEntryPastTheEndWithValidChecksums) {
  // Rebuild the file around a new index block whose last handle runs past the
  // data, every checksum correct: only the handle check can catch it.
  TableOptions raw = options_;
  raw.compression = Compression::kNone;
  test::ScratchDir dir;
  auto fs = posix_file_system();
  const std::string path = dir.file("raw.sst");
  std::unique_ptr<TableBuilder> builder;
  FSDB_ASSERT_OK(TableBuilder::open(*fs, path, raw, &builder));
  for (const Entry& e : entries_)
    FSDB_ASSERT_OK(builder->add(e.user_key, e.sequence, e.kind, e.value));
  FSDB_ASSERT_OK(builder->finish());
  std::string image;
  FSDB_ASSERT_OK(read_file_to_string(*fs, path, &image));
  Footer f;
  FSDB_ASSERT_OK(
      f.decode_from(std::string_view(image).substr(image.size() - Footer::kEncodedBytes), "f"));

  std::unique_ptr<Block> index_block;
  FSDB_ASSERT_OK(Block::parse(image.substr(f.index.offset, f.index.size), &index_block));
  BlockBuilder index(16);
  BlockIterator it(index_block.get());
  for (it.seek_to_first(); it.valid(); it.next()) {
    std::string value(it.value());
    std::string_view peek = value;
    BlockHandle h;
    ASSERT_TRUE(h.decode_from(&peek));
    if (h.offset + h.size + kBlockTrailerBytes == f.filter.offset) {  // the last data block
      value.clear();
      BlockHandle{h.offset, h.size + 5000}.encode_to(&value);
    }
    index.add(it.key(), value);
  }
  const std::string props =
      image.substr(f.properties.offset, f.properties.size + kBlockTrailerBytes);
  std::string rebuilt = image.substr(0, f.index.offset);
  const std::string_view index_bytes = index.finish();
  const uint64_t index_offset = rebuilt.size();
  rebuilt.append(index_bytes);
  const char type = 0;
  rebuilt.push_back(type);
  put_fixed64(&rebuilt, checksum64(index_bytes, std::string_view(&type, 1)));
  f.index = {index_offset, index_bytes.size()};
  f.properties.offset = rebuilt.size();
  rebuilt.append(props);
  f.encode_to(&rebuilt);

  std::unique_ptr<TableReader> reader;
  Status s = open(rebuilt, &reader, raw);
  ASSERT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(
      s.message().find(std::string(kPath) + ": block at offset " + std::to_string(index_offset)),
      std::string::npos)
      << s.to_string();
  EXPECT_NE(s.message().find("past the end of the data"), std::string::npos) << s.to_string();
}

TEST_P(CorruptionTest, DataBlockChecksumMismatchNamesTheBlock) {
  // Data blocks start at offset 0: damage a byte of the first one.
  std::unique_ptr<TableReader> reader;
  std::string damaged = image_;
  damaged[3] ^= 0x10;
  FSDB_ASSERT_OK(open(damaged, &reader));  // data blocks are read lazily
  TableGetResult result;
  Status s = reader->get(entries_[0].user_key, entries_[0].sequence, &result);
  ASSERT_TRUE(s.is_corruption());
  EXPECT_EQ(s.to_string(),
            std::string("Corruption: ") + kPath + ": block at offset 0: checksum mismatch");
  auto it = reader->new_iterator();
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_EQ(it->status().to_string(), s.to_string());
  // Reads elsewhere in the table still work.
  FSDB_EXPECT_OK(reader->get(entries_.back().user_key, entries_.back().sequence, &result));
  EXPECT_TRUE(result.found);
}

TEST_P(CorruptionTest, CorruptBlockIsNeverServedFromTheCache) {
  TableOptions cached = options_;
  cached.block_cache = std::make_shared<BlockCache>(1 << 20);
  std::string damaged = image_;
  damaged[3] ^= 0x10;
  std::unique_ptr<TableReader> reader;
  FSDB_ASSERT_OK(open(damaged, &reader, cached));
  TableGetResult result;
  // Unverified read: may return anything, but must not poison the cache.
  (void)reader->get(TableReadOptions{false, true}, entries_[0].user_key, entries_[0].sequence,
                    &result);
  Status s = reader->get(entries_[0].user_key, entries_[0].sequence, &result);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
}

// Version 2 exactly when the table has a dictionary; a version-1 footer in
// front of a dictionary is damage.
TEST_P(CorruptionTest, FormatVersionSaysWhetherThereIsADictionary) {
  Footer f = footer();
  if (!GetParam()) {
    EXPECT_EQ(f.format_version, kTableFormatVersionWithoutDictionary);
    return;
  }
  ASSERT_EQ(f.format_version, kTableFormatVersion);
  f.format_version = kTableFormatVersionWithoutDictionary;
  std::unique_ptr<TableReader> reader;
  Status s = open(with_footer(f), &reader);
  ASSERT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.message().find(std::string(kPath) + ": block at offset " +
                             std::to_string(f.properties.offset) +
                             ": a version-1 table cannot have a compression dictionary"),
            std::string::npos)
      << s.to_string();
}

INSTANTIATE_TEST_SUITE_P(Dictionary, CorruptionTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& param_info) {
                           return param_info.param ? "WithDictionary" : "WithoutDictionary";
                         });

// The seed corpus of fuzz/table_reader_fuzzer.cc: small valid tables of each
// shape (compressed with a filter, raw with tombstones and no filter, empty).
// They are built and checked here; with FSDB_FUZZ_CORPUS_DIR set they are also
// written there (fuzz/corpus/table_reader/ holds the committed copies).
TEST(FuzzSeedTest, SeedTablesAreValid) {
  struct Seed {
    const char* name;
    Compression compression;
    size_t dictionary_bytes;
    int bloom_bits;
    int entries;
  };
  const Seed seeds[] = {{"zstd_bloom.sst", Compression::kZstd, 0, 10, 40},
                        {"zstd_dictionary.sst", Compression::kZstd, 1024, 10, 300},
                        {"raw_no_filter.sst", Compression::kNone, 0, 0, 25},
                        {"empty.sst", Compression::kZstd, 512, 10, 0}};
  const char* out_dir = std::getenv("FSDB_FUZZ_CORPUS_DIR");
  test::ScratchDir dir;
  auto fs = posix_file_system();
  for (const Seed& seed : seeds) {
    TableOptions options;
    options.compression = seed.compression;
    options.compression_dictionary_bytes = seed.dictionary_bytes;
    options.bloom_bits_per_key = seed.bloom_bits;
    options.block_bytes = 128;
    const std::string path = dir.file(seed.name);
    std::unique_ptr<TableBuilder> builder;
    FSDB_ASSERT_OK(TableBuilder::open(*fs, path, options, &builder));
    for (int i = 0; i < seed.entries; ++i) {
      char key[16];
      std::snprintf(key, sizeof(key), "key%04d", i);
      const bool tombstone = i % 5 == 4;
      FSDB_ASSERT_OK(builder->add(key, 100 - static_cast<uint64_t>(i % 3),
                                  tombstone ? ValueKind::kTombstone : ValueKind::kValue,
                                  tombstone ? "" : std::string(i % 17, 'v') + key));
    }
    FSDB_ASSERT_OK(builder->finish());
    std::unique_ptr<TableReader> reader;
    FSDB_ASSERT_OK(TableReader::open(*fs, path, 1, options, &reader));
    EXPECT_EQ(reader->properties().num_entries, static_cast<uint64_t>(seed.entries));
    EXPECT_EQ(reader->dictionary() != nullptr, seed.dictionary_bytes != 0 && seed.entries != 0)
        << seed.name;
    if (out_dir != nullptr) {
      std::string image;
      FSDB_ASSERT_OK(read_file_to_string(*fs, path, &image));
      FSDB_ASSERT_OK(
          write_string_to_file(*fs, image, std::string(out_dir) + "/" + seed.name, false));
    }
  }
}

}  // namespace
}  // namespace fsdb
