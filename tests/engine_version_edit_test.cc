// engine/: VersionEdit encoding, file names, Version and VersionSet.
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/filename.h"
#include "engine/version.h"
#include "engine/version_edit.h"
#include "engine/version_set.h"
#include "fsdb/env.h"
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
  for (const char* junk :
       {"", "x.log", "12.txt", "MANIFEST-", "MANIFEST-12a", "-1.sst", "99999999999999999999999.sst",
        "LOCK2", ".sst",
        // past kMaxFileNumber: a stray file, not the DB's
        "18446744073709551615.log", "4611686018427387904.sst", "MANIFEST-18446744073709551615"}) {
    EXPECT_FALSE(parse_file_name(junk, &type, &number)) << junk;
  }
  ASSERT_TRUE(parse_file_name("4611686018427387903.sst", &type, &number));
  EXPECT_EQ(number, kMaxFileNumber);
}

}  // namespace
}  // namespace fsdb

namespace fsdb {
namespace {

FileMetaData file(uint64_t number, std::string_view smallest, std::string_view largest,
                  SequenceNumber largest_seq = 1) {
  FileMetaData f;
  f.number = number;
  f.file_size = 1000 * number;
  f.smallest = ikey(smallest, largest_seq, ValueKind::kValue);
  f.largest = ikey(largest, 1, ValueKind::kValue);
  f.smallest_seq = 1;
  f.largest_seq = largest_seq;
  return f;
}

TEST(VersionTest, ApplyEditsKeepsLevelZeroNewestFirstAndDeeperLevelsSorted) {
  Version empty;
  VersionEdit e1;
  e1.add_file(0, file(1, "a", "m", 10));
  e1.add_file(0, file(2, "c", "z", 20));
  e1.add_file(1, file(3, "n", "p"));
  e1.add_file(1, file(4, "a", "f"));
  std::shared_ptr<const Version> v1;
  FSDB_ASSERT_OK(empty.apply_edit(e1, &v1));
  ASSERT_EQ(v1->file_count(0), 2u);
  EXPECT_EQ(v1->files(0)[0]->number, 2u) << "newest first";
  EXPECT_EQ(v1->files(1)[0]->number, 4u) << "sorted by key";
  EXPECT_EQ(v1->level_bytes(1), 7000u);
  EXPECT_EQ(v1->total_files(), 4u);

  ASSERT_NE(v1->find_file(1, "b"), nullptr);
  EXPECT_EQ((*v1->find_file(1, "b"))->number, 4u);
  EXPECT_EQ(v1->find_file(1, "h"), nullptr) << "between files";
  EXPECT_EQ(v1->find_file(1, "q"), nullptr) << "after every file";
  EXPECT_EQ(v1->overlapping_files(0, "n", "o").size(), 1u);
  EXPECT_EQ(v1->overlapping_files(1, std::nullopt, std::nullopt).size(), 2u);

  VersionEdit e2;
  e2.remove_file(0, 1);
  e2.add_file(1, file(5, "g", "h"));
  std::shared_ptr<const Version> v2;
  FSDB_ASSERT_OK(v1->apply_edit(e2, &v2));
  EXPECT_EQ(v2->file_count(0), 1u);
  EXPECT_EQ(v2->file_count(1), 3u);
  EXPECT_EQ(v1->file_count(0), 2u) << "the old version is unchanged";
  EXPECT_EQ(v2->files(1)[2].get(), v1->files(1)[1].get()) << "untouched files are shared";
}

TEST(VersionTest, InconsistentEditsAreCorruption) {
  Version empty;
  VersionEdit overlap;
  overlap.add_file(1, file(1, "a", "m"));
  overlap.add_file(1, file(2, "m", "z"));
  std::shared_ptr<const Version> v;
  Status s = empty.apply_edit(overlap, &v);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.message().find("overlap at level 1"), std::string::npos) << s.to_string();

  VersionEdit missing;
  missing.remove_file(2, 9);
  EXPECT_TRUE(empty.apply_edit(missing, &v).is_corruption());

  VersionEdit twice;
  twice.add_file(0, file(1, "a", "b"));
  twice.add_file(3, file(1, "c", "d"));
  EXPECT_TRUE(empty.apply_edit(twice, &v).is_corruption());

  // Its keys would be out of reach of find_file(), at any level.
  for (int level : {0, 2}) {
    VersionEdit inverted;
    inverted.add_file(level, file(4, "q", "b"));
    s = empty.apply_edit(inverted, &v);
    EXPECT_TRUE(s.is_corruption()) << s.to_string();
    EXPECT_NE(s.message().find("file 4 whose smallest key sorts after its largest"),
              std::string::npos)
        << s.to_string();
  }
  // One user key's versions run from the newest (smallest) to the oldest.
  VersionEdit one_key;
  FileMetaData versions = file(5, "k", "k");
  versions.smallest = ikey("k", 90, ValueKind::kValue);
  versions.largest = ikey("k", 10, ValueKind::kTombstone);
  one_key.add_file(1, versions);
  EXPECT_TRUE(empty.apply_edit(one_key, &v).ok());
}

// A deeper level's files that meet a range are found by binary search: the
// same files, in the same order, as a scan of the level, for ranges that
// start and end on file boundaries, inside files, between them and beyond
// them, open or not.
TEST(VersionTest, OverlappingFilesOfADeeperLevelAreTheOnesAScanFinds) {
  VersionEdit edit;
  std::vector<std::string> bounds;
  for (int i = 0; i < 200; ++i) {
    char lo[16];
    char hi[16];
    std::snprintf(lo, sizeof(lo), "k%04d", 10 * i);
    std::snprintf(hi, sizeof(hi), "k%04d", 10 * i + 4 + i % 3);
    edit.add_file(3, file(static_cast<uint64_t>(i) + 1, lo, hi));
    bounds.emplace_back(lo);
    bounds.emplace_back(hi);
  }
  std::shared_ptr<const Version> v;
  FSDB_ASSERT_OK(Version().apply_edit(edit, &v));
  std::vector<std::optional<std::string>> points = {std::nullopt, "", "a", "k", "z"};
  for (const std::string& b : bounds) {
    points.emplace_back(b);
    points.emplace_back(b + "5");         // inside or between files
    points.emplace_back(b.substr(0, 4));  // a prefix: before the file
  }
  int checked = 0;
  for (size_t i = 0; i < points.size(); i += 2) {
    for (size_t j = 0; j < points.size(); j += 7) {
      const std::optional<std::string_view> begin = points[i];
      const std::optional<std::string_view> end = points[j];
      std::vector<uint64_t> expected;
      for (const FileRef& f : v->files(3)) {
        if ((!begin || f->largest_user_key() >= *begin) &&
            (!end || f->smallest_user_key() <= *end)) {
          expected.push_back(f->number);
        }
      }
      std::vector<uint64_t> got;
      for (const FileRef& f : v->overlapping_files(3, begin, end)) got.push_back(f->number);
      ASSERT_EQ(got, expected) << (begin ? *begin : "-") << " .. " << (end ? *end : "-");
      ++checked;
    }
  }
  EXPECT_GT(checked, 10000);
}

// An edit that makes the MANIFEST roll over is in the new MANIFEST whole,
// its log number included: the engine deletes the older logs as soon as the
// edit is applied, so a MANIFEST that named one of them would replay it again
// after a crash (or fail on it, if it was damaged).
TEST(VersionSetTest, AnEditThatRollsTheManifestOverKeepsItsLogNumber) {
  test::ScratchDir dir;
  for (const uint64_t max_manifest_bytes : {uint64_t{1}, uint64_t{1} << 20}) {
    SCOPED_TRACE(max_manifest_bytes);
    const std::string db = dir.file("db" + std::to_string(max_manifest_bytes));
    FSDB_ASSERT_OK(posix_file_system()->create_dir(db));
    {
      VersionSet versions(db, posix_file_system(), max_manifest_bytes);
      FSDB_ASSERT_OK(versions.create_new());
      VersionEdit edit;
      edit.set_log_number(5);
      const uint64_t table = versions.new_file_number();
      edit.add_file(0, file(table, "a", "b", 10));
      FSDB_ASSERT_OK(versions.log_and_apply(&edit));
      EXPECT_EQ(versions.log_number(), 5u);
      // recover() checks that the files the MANIFEST names are there.
      for (const std::string& name : {table_file_name(db, table), log_file_name(db, 5)}) {
        FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), "", name, true));
      }
    }
    VersionSet recovered(db, posix_file_system(), max_manifest_bytes);
    FSDB_ASSERT_OK(recovered.recover());
    EXPECT_EQ(recovered.log_number(), 5u);
    EXPECT_EQ(recovered.current()->file_count(0), 1u);
  }
}

}  // namespace
}  // namespace fsdb
