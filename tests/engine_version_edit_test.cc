// engine/: VersionEdit encoding and file names.
#include <cstring>
#include <memory>
#include <string>

#include "engine/filename.h"
#include "engine/version_edit.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

std::string ikey(std::string_view user, SequenceNumber seq, ValueKind kind) {
  std::string out;
  append_internal_key(&out, user, seq, kind);
  return out;
}

VersionEdit sample_edit() {
  VersionEdit e;
  e.set_log_number(7);
  e.set_next_file_number(12);
  e.set_last_sequence(123456789);
  e.set_compact_pointer(2, ikey("m", 5, ValueKind::kValue));
  e.remove_file(0, 9);
  e.remove_file(3, 10);
  FileMetaData f;
  f.number = 11;
  f.file_size = 4096;
  f.smallest = ikey(std::string("a\0b", 3), 100, ValueKind::kValue);
  f.largest = ikey("\xff\xff", 3, ValueKind::kTombstone);
  f.smallest_seq = 3;
  f.largest_seq = 100;
  f.entries = 50;
  f.tombstones = 2;
  e.add_file(1, f);
  return e;
}

TEST(VersionEditTest, RoundTripsEveryField) {
  const VersionEdit e = sample_edit();
  std::string encoded;
  e.encode_to(&encoded);
  VersionEdit d;
  FSDB_ASSERT_OK(d.decode_from(encoded));
  std::string again;
  d.encode_to(&again);
  EXPECT_EQ(again, encoded);
  EXPECT_EQ(d.log_number(), 7u);
  EXPECT_EQ(d.next_file_number(), 12u);
  EXPECT_EQ(d.last_sequence(), 123456789u);
  ASSERT_EQ(d.new_files().size(), 1u);
  EXPECT_EQ(d.new_files()[0].first, 1);
  EXPECT_EQ(d.new_files()[0].second.smallest_user_key(), std::string_view("a\0b", 3));
  EXPECT_EQ(d.new_files()[0].second.tombstones, 2u);
  EXPECT_EQ(d.deleted_files().size(), 2u);
  EXPECT_EQ(d.debug_string(), e.debug_string());
}

TEST(VersionEditTest, EveryTruncationIsRejectedCleanly) {
  std::string encoded;
  sample_edit().encode_to(&encoded);
  int accepted = 0;
  for (size_t len = 0; len < encoded.size(); ++len) {
    VersionEdit d;
    // An exact-size copy, so ASan sees any over-read.
    std::unique_ptr<char[]> exact(new char[len + 1]);
    std::memcpy(exact.get(), encoded.data(), len);
    if (d.decode_from(std::string_view(exact.get(), len)).ok()) ++accepted;
  }
  // A cut that falls exactly between fields decodes to a shorter, valid edit; the
  // MANIFEST's record checksums are what catch such a cut.
  EXPECT_LT(accepted, 8);
}

TEST(VersionEditTest, BadFieldsAreCorruptionNamingTheField) {
  std::string bad;
  put_varint32(&bad, 99);
  VersionEdit d;
  Status s = d.decode_from(bad);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_NE(s.message().find("unknown tag 99"), std::string::npos) << s.to_string();

  std::string bad_level;
  put_varint32(&bad_level, 5);  // deleted file
  put_varint32(&bad_level, kNumLevels);
  put_varint64(&bad_level, 1);
  s = d.decode_from(bad_level);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_NE(s.message().find("deleted file"), std::string::npos) << s.to_string();
}

TEST(FileNameTest, NamesRoundTripThroughTheParser) {
  struct Case {
    std::string path;
    FileType type;
    uint64_t number;
  };
  const Case cases[] = {
      {log_file_name("/db", 7), FileType::kLog, 7},
      {table_file_name("/db", 123456789), FileType::kTable, 123456789},
      {manifest_file_name("/db", 5), FileType::kManifest, 5},
      {temp_file_name("/db", 8), FileType::kTemp, 8},
      {current_file_name("/db"), FileType::kCurrent, 0},
      {lock_file_name("/db"), FileType::kLock, 0},
  };
  for (const Case& c : cases) {
    ASSERT_EQ(c.path.substr(0, 4), "/db/");
    FileType type;
    uint64_t number = 99;
    ASSERT_TRUE(parse_file_name(c.path.substr(4), &type, &number)) << c.path;
    EXPECT_EQ(type, c.type) << c.path;
    EXPECT_EQ(number, c.number) << c.path;
  }
  EXPECT_EQ(log_file_name("/db", 7), "/db/000007.log");
  FileType type;
  uint64_t number;
  for (const char* junk : {"", "x.log", "12.txt", "MANIFEST-", "MANIFEST-12a", "-1.sst",
                           "99999999999999999999999.sst", "LOCK2", ".sst"}) {
    EXPECT_FALSE(parse_file_name(junk, &type, &number)) << junk;
  }
}

}  // namespace
}  // namespace fsdb
