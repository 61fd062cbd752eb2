// engine/: VersionBuilder, which reads a MANIFEST's edits into one version,
// against Version::apply_edit(), which makes a version per edit.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/version.h"
#include "engine/version_builder.h"
#include "engine/version_edit.h"
#include "engine/version_set.h"
#include "fsdb/env.h"
#include "tests/support/read_counting_file_system.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

std::string ikey(std::string_view user, SequenceNumber seq) {
  std::string out;
  append_internal_key(&out, user, seq, ValueKind::kValue);
  return out;
}

FileMetaData file(uint64_t number, std::string_view smallest, std::string_view largest,
                  SequenceNumber largest_seq) {
  FileMetaData f;
  f.number = number;
  f.file_size = 1000 + number;
  f.smallest = ikey(smallest, largest_seq);
  f.largest = ikey(largest, 1);
  f.smallest_seq = 1;
  f.largest_seq = largest_seq;
  return f;
}

// Each level's file numbers, in the version's order.
std::string layout(const Version& v) {
  std::string out;
  for (int level = 0; level < kNumLevels; ++level) {
    out += "L" + std::to_string(level) + ":";
    for (const FileRef& f : v.files(level)) out += " " + std::to_string(f->number);
    out += "\n";
  }
  return out;
}

// Random edits, some of them wrong in each way an edit can be: both ways of
// applying them must accept the same ones, refuse the others with the same
// message, and give the same version after each.
TEST(VersionBuilderTest, AcceptsAndRefusesWhatApplyEditDoes) {
  std::mt19937_64 rng(20261207);
  auto pick = [&](uint64_t n) { return static_cast<uint64_t>(rng() % n); };
  auto random_key = [&] {
    return std::string{static_cast<char>('a' + pick(26)), static_cast<char>('a' + pick(26))};
  };
  std::shared_ptr<const Version> version = std::make_shared<const Version>();
  VersionBuilder builder;
  uint64_t next_number = 1;
  int accepted = 0;
  int refused = 0;
  std::map<std::string, int> refusals;  // by reason
  size_t most_files = 0;
  for (int round = 0; round < 3000; ++round) {
    SCOPED_TRACE("edit " + std::to_string(round));
    VersionEdit edit;
    std::vector<std::pair<int, FileRef>> live;
    for (int level = 0; level < kNumLevels; ++level) {
      for (const FileRef& f : version->files(level)) live.emplace_back(level, f);
    }
    const uint64_t removals = live.empty() ? 0 : pick(3);
    for (uint64_t i = 0; i < removals; ++i) {
      const auto& [level, f] = live[pick(live.size())];
      switch (pick(12)) {
        case 0:
          edit.remove_file((level + 1) % kNumLevels, f->number);  // not at that level
          break;
        case 1:
          edit.remove_file(level, next_number + 100);  // no such file
          break;
        case 2:  // moved down a level, as a trivial move is
          edit.remove_file(level, f->number);
          if (level + 1 < kNumLevels) edit.add_file(level + 1, *f);
          break;
        default:
          edit.remove_file(level, f->number);  // sometimes twice in one edit
          break;
      }
    }
    const uint64_t additions = pick(4);
    for (uint64_t i = 0; i < additions; ++i) {
      std::string a = random_key();
      std::string b = a;
      b[1] = static_cast<char>(b[1] + pick(3));
      if (a < b && pick(16) == 0) std::swap(a, b);  // now and then inverted
      uint64_t number = next_number++;
      if (!live.empty() && pick(16) == 0) number = live[pick(live.size())].second->number;
      if (!edit.new_files().empty() && pick(16) == 0) number = edit.new_files()[0].second.number;
      // Mostly deeper levels, whose files must not overlap.
      const int level = pick(4) == 0 ? 0 : 1 + static_cast<int>(pick(kNumLevels - 1));
      edit.add_file(level, file(number, a, b, 1 + pick(1000)));
    }
    std::shared_ptr<const Version> next;
    const Status expected = version->apply_edit(edit, &next);
    const Status got = builder.apply(edit);
    ASSERT_EQ(got.to_string(), expected.to_string());
    if (expected.ok()) {
      ++accepted;
      version = next;
    } else {
      ++refused;
      for (const char* reason : {"which is not at level", "whose smallest key sorts after",
                                 "which is already live", "overlap at level"}) {
        if (expected.message().find(reason) != std::string::npos) ++refusals[reason];
      }
    }
    ASSERT_EQ(layout(*builder.build()), layout(*version));
    most_files = std::max(most_files, version->total_files());
  }
  // Both outcomes, and every kind of refusal, came up often enough to count.
  EXPECT_GE(accepted, 500);
  EXPECT_GE(refused, 500);
  ASSERT_EQ(refusals.size(), 4u) << ::testing::PrintToString(refusals);
  for (const auto& [reason, count] : refusals) EXPECT_GE(count, 20) << reason;
  EXPECT_GE(most_files, 30u);
}

TEST(VersionBuilderTest, StartsFromAVersionAndSharesItsFiles) {
  VersionEdit first;
  first.add_file(0, file(1, "a", "m", 10));
  first.add_file(0, file(2, "c", "z", 20));
  first.add_file(1, file(3, "n", "p", 5));
  first.add_file(1, file(4, "a", "f", 5));
  std::shared_ptr<const Version> base;
  FSDB_ASSERT_OK(Version().apply_edit(first, &base));

  VersionBuilder builder(*base);
  VersionEdit second;
  second.remove_file(0, 1);
  second.add_file(1, file(5, "g", "h", 30));
  second.add_file(0, file(6, "b", "d", 40));
  FSDB_ASSERT_OK(builder.apply(second));
  const std::shared_ptr<const Version> built = builder.build();
  EXPECT_EQ(layout(*built), "L0: 6 2\nL1: 4 5 3\nL2:\nL3:\nL4:\nL5:\nL6:\n");
  EXPECT_EQ(built->files(1)[0].get(), base->files(1)[0].get()) << "untouched files are shared";
  EXPECT_EQ(layout(*base), "L0: 2 1\nL1: 4 3\nL2:\nL3:\nL4:\nL5:\nL6:\n")
      << "the base is unchanged";

  // A refused edit changes nothing, though it removed and added files first.
  VersionEdit overlapping;
  overlapping.remove_file(1, 3);
  overlapping.add_file(1, file(7, "a", "b", 50));
  const Status s = builder.apply(overlapping);
  EXPECT_EQ(s.to_string(), "Corruption: files 7 and 4 overlap at level 1");
  EXPECT_EQ(layout(*builder.build()), layout(*built));
}

// A MANIFEST read back gives the version its writer had, whatever the
// number of edits over whatever number of files.
TEST(VersionBuilderTest, AManifestReadsBackAsTheVersionItsWriterHad) {
  test::ScratchDir dir;
  auto fs = posix_file_system();
  VersionSet versions(dir.path(), fs, uint64_t{1} << 30);
  FSDB_ASSERT_OK(versions.create_new());
  VersionEdit wide;
  uint64_t number = 10;
  for (int i = 0; i < 500; ++i) {
    char lo[16];
    char hi[16];
    std::snprintf(lo, sizeof(lo), "%06d", 2 * i);
    std::snprintf(hi, sizeof(hi), "%06d", 2 * i + 1);
    wide.add_file(2, file(number++, lo, hi, 1));
  }
  FSDB_ASSERT_OK(versions.log_and_apply(&wide));
  uint64_t previous = 0;
  for (int i = 0; i < 300; ++i) {
    VersionEdit flush;
    flush.add_file(0, file(number++, "000000", "999999", 10 + i));
    if (i % 4 == 3) flush.remove_file(0, previous);
    previous = number - 1;
    FSDB_ASSERT_OK(versions.log_and_apply(&flush));
  }
  VersionSet::ManifestContents contents;
  FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &contents));
  EXPECT_EQ(layout(*contents.version), layout(*versions.current()));
  EXPECT_EQ(contents.version->file_count(2), 500u);
  EXPECT_EQ(contents.version->file_count(0), 225u);
}

// A read that goes on from an earlier read of the same MANIFEST reads only
// from the block where that one's last record began, and gives what a read from the
// start gives; a read of another MANIFEST, or after a torn end, starts over.
TEST(VersionBuilderTest, AReadOfAManifestGoesOnFromWhereTheLastOneStopped) {
  test::ScratchDir dir;
  auto fs = std::make_shared<test::ReadCountingFileSystem>("MANIFEST");
  VersionSet versions(dir.path(), fs, uint64_t{1} << 30);
  FSDB_ASSERT_OK(versions.create_new());
  uint64_t number = 10;
  auto flush = [&](int edits) {
    for (int i = 0; i < edits; ++i) {
      VersionEdit edit;
      char lo[16];
      std::snprintf(lo, sizeof(lo), "%06llu", static_cast<unsigned long long>(number));
      edit.add_file(1 + static_cast<int>(number % 3), file(number, lo, std::string(lo) + "z", 1));
      ++number;
      ASSERT_TRUE(versions.log_and_apply(&edit).ok());
    }
  };
  ASSERT_NO_FATAL_FAILURE(flush(1500));
  const uint64_t manifest_bytes = versions.manifest_bytes();
  ASSERT_GT(manifest_bytes, 96u << 10);

  VersionSet::ManifestProgress progress;
  VersionSet::ManifestContents first;
  FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &first, &progress));
  EXPECT_EQ(fs->bytes_read.exchange(0), manifest_bytes);
  EXPECT_EQ(progress.number, first.number);
  EXPECT_EQ(layout(*first.version), layout(*versions.current()));

  ASSERT_NO_FATAL_FAILURE(flush(20));
  VersionSet::ManifestContents second;
  FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &second, &progress));
  // From the block where the last record read began (which it may share
  // with the one before: two blocks) to the end.
  EXPECT_LE(fs->bytes_read.exchange(0), versions.manifest_bytes() - manifest_bytes + 2 * 32768);
  VersionSet::ManifestContents whole;
  FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &whole));
  fs->bytes_read = 0;
  EXPECT_EQ(layout(*second.version), layout(*whole.version));
  EXPECT_EQ(layout(*second.version), layout(*versions.current()));
  EXPECT_EQ(second.next_file_number, whole.next_file_number);
  EXPECT_EQ(second.last_sequence, whole.last_sequence);
  EXPECT_EQ(second.log_number, whole.log_number);
  EXPECT_EQ(second.compact_pointers, whole.compact_pointers);
  EXPECT_EQ(second.version->total_files(), 1520u);

  // Nothing new: the last record's blocks read again, the same contents.
  VersionSet::ManifestContents third;
  FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &third, &progress));
  EXPECT_LE(fs->bytes_read.exchange(0), 2 * 32768u);
  EXPECT_EQ(layout(*third.version), layout(*whole.version));

  // Progress of another MANIFEST number is not used.
  VersionSet::ManifestProgress other = progress;
  other.number += 1000;
  VersionSet::ManifestContents fourth;
  FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &fourth, &other));
  EXPECT_EQ(fs->bytes_read.exchange(0), versions.manifest_bytes());
  EXPECT_EQ(layout(*fourth.version), layout(*whole.version));

  // A torn end (an append in progress): read up to it; the next read starts over.
  FSDB_ASSERT_OK(versions.close());
  {
    std::unique_ptr<WritableFile> append;
    FSDB_ASSERT_OK(fs->new_appendable_file(whole.path, &append));
    FSDB_ASSERT_OK(append->append(std::string("\x01\x02\x03", 3)));
    FSDB_ASSERT_OK(append->close());
  }
  VersionSet::ManifestContents torn;
  FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &torn, &progress));
  EXPECT_FALSE(torn.dropped_tail.empty());
  EXPECT_EQ(layout(*torn.version), layout(*whole.version));
  EXPECT_EQ(progress.number, 0u);
  fs->bytes_read = 0;
  FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &torn, &progress));
  EXPECT_GT(fs->bytes_read.load(), manifest_bytes);
}

// A DB destroyed and made again at the same path numbers its MANIFEST the
// same way: progress kept from the first is of "the same" MANIFEST, but a
// read must not go on from it. The new file may be shorter than where the
// last read stopped, or longer, with other edits at that offset.
TEST(VersionBuilderTest, AManifestMadeAgainUnderItsNumberIsReadWhole) {
  test::ScratchDir dir;
  auto fs = posix_file_system();
  // A new DB's MANIFEST with `edits` edits of one table each, numbered from
  // `first`; returns the version its writer had.
  auto remake = [&](int edits, uint64_t first) {
    std::filesystem::remove_all(dir.path());
    std::filesystem::create_directory(dir.path());
    VersionSet versions(dir.path(), fs, uint64_t{1} << 30);
    EXPECT_TRUE(versions.create_new().ok());
    for (int i = 0; i < edits; ++i) {
      VersionEdit edit;
      const uint64_t number = first + static_cast<uint64_t>(i);
      char lo[16];
      std::snprintf(lo, sizeof(lo), "%06llu", static_cast<unsigned long long>(number));
      edit.add_file(1, file(number, lo, std::string(lo) + "z", 1));
      EXPECT_TRUE(versions.log_and_apply(&edit).ok());
    }
    std::string made = layout(*versions.current());
    EXPECT_TRUE(versions.close().ok());
    return made;
  };

  for (const int edits_again : {100, 2000}) {
    SCOPED_TRACE("made again with " + std::to_string(edits_again) + " edits");
    // Numbers of two varint bytes in both: the edits have the same lengths,
    // so the new file has a record boundary where the first read stopped.
    remake(1000, 200);
    VersionSet::ManifestProgress progress;
    VersionSet::ManifestContents first;
    FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &first, &progress));
    ASSERT_NE(progress.number, 0u);

    const std::string made_again = remake(edits_again, 5000);
    VersionSet::ManifestContents whole;
    FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &whole));
    ASSERT_EQ(whole.number, progress.number) << "the same number, or this tests nothing";
    ASSERT_EQ(layout(*whole.version), made_again);

    VersionSet::ManifestContents again;
    FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &again, &progress));
    EXPECT_EQ(layout(*again.version), made_again);
    EXPECT_EQ(again.next_file_number, whole.next_file_number);
    EXPECT_EQ(again.last_sequence, whole.last_sequence);
    EXPECT_EQ(again.log_number, whole.log_number);
    // And the progress is that of the new file: a read on from it finds it whole.
    VersionSet::ManifestContents on;
    FSDB_ASSERT_OK(VersionSet::read_manifest(*fs, dir.path(), &on, &progress));
    EXPECT_EQ(layout(*on.version), made_again);
  }
}

}  // namespace
}  // namespace fsdb
