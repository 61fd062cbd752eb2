// engine/compaction: picking, version garbage collection, and compaction in a
// running DB (snapshots, iterators, manual compaction, write slowdowns).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/compaction.h"
#include "engine/filename.h"
#include "fsdb/db.h"
#include "sstable/table_reader.h"
#include "tests/support/test_util.h"
#include "tests/support/zstd_frames.h"

namespace fsdb {
namespace {

std::string key_of(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%08d", i);
  return buf;
}

// ------------------------------------------------------------- the collector

struct Entry {
  std::string key;
  SequenceNumber seq;
  ValueKind kind;
};

// Which entries (given in internal order) a collector keeps.
std::vector<SequenceNumber> kept(std::vector<SequenceNumber> snapshots,
                                 const std::vector<Entry>& entries, bool base_level = true) {
  VersionGarbageCollector gc(std::move(snapshots));
  std::vector<SequenceNumber> out;
  for (const Entry& e : entries) {
    if (gc.keep(e.key, e.seq, e.kind, [&](std::string_view) { return base_level; })) {
      out.push_back(e.seq);
    }
  }
  return out;
}

TEST(VersionGarbageCollectorTest, WithoutSnapshotsOnlyTheNewestVersionSurvives) {
  EXPECT_EQ(kept({}, {{"a", 9, ValueKind::kValue},
                      {"a", 5, ValueKind::kValue},
                      {"a", 2, ValueKind::kTombstone},
                      {"b", 7, ValueKind::kValue}}),
            (std::vector<SequenceNumber>{9, 7}));
}

TEST(VersionGarbageCollectorTest, EachSnapshotKeepsTheVersionItReads) {
  // Snapshots at 4 and 8: readers at 4, at 8 and at the latest need 3, 7 and 9.
  EXPECT_EQ(kept({8, 4}, {{"a", 9, ValueKind::kValue},
                          {"a", 7, ValueKind::kValue},
                          {"a", 6, ValueKind::kValue},
                          {"a", 3, ValueKind::kValue},
                          {"a", 1, ValueKind::kValue}}),
            (std::vector<SequenceNumber>{9, 7, 3}));
  // A version exactly at a snapshot is the one that snapshot reads.
  EXPECT_EQ(kept({5}, {{"a", 6, ValueKind::kValue}, {"a", 5, ValueKind::kValue}}),
            (std::vector<SequenceNumber>{6, 5}));
}

TEST(VersionGarbageCollectorTest, TombstonesGoOnlyAtTheBaseLevelAndBelowEverySnapshot) {
  const std::vector<Entry> deleted = {{"a", 9, ValueKind::kTombstone}, {"a", 5, ValueKind::kValue}};
  EXPECT_EQ(kept({}, deleted), (std::vector<SequenceNumber>{}))
      << "base level, no snapshot: the tombstone and what it hides go";
  EXPECT_EQ(kept({}, deleted, /*base_level=*/false), (std::vector<SequenceNumber>{9}))
      << "older versions may sit below: the tombstone must stay";
  EXPECT_EQ(kept({7}, deleted), (std::vector<SequenceNumber>{9, 5}))
      << "the snapshot at 7 still reads 5, so the tombstone must hide it from later readers";
  EXPECT_EQ(kept({10}, deleted), (std::vector<SequenceNumber>{}))
      << "a snapshot after the tombstone sees the key deleted too";
}

// ------------------------------------------------------------------ picking

FileMetaData file(uint64_t number, std::string_view smallest, std::string_view largest,
                  uint64_t bytes, SequenceNumber seq = 1) {
  FileMetaData f;
  f.number = number;
  f.file_size = bytes;
  append_internal_key(&f.smallest, smallest, seq, ValueKind::kValue);
  append_internal_key(&f.largest, largest, seq, ValueKind::kValue);
  f.smallest_seq = f.largest_seq = seq;
  return f;
}

std::shared_ptr<const Version> version_of(const VersionEdit& edit) {
  std::shared_ptr<const Version> v;
  EXPECT_TRUE(Version().apply_edit(edit, &v).ok());
  return v;
}

TEST(CompactionPickerTest, LevelZeroByFileCountDeeperLevelsBySize) {
  Options options;
  options.l0_compaction_trigger = 2;
  options.level1_bytes = 1000;
  EXPECT_EQ(level_target_bytes(options, 1), 1000u);
  EXPECT_EQ(level_target_bytes(options, 3), 100000u);

  VersionEdit edit;
  edit.add_file(0, file(10, "a", "m", 100, 20));
  edit.add_file(1, file(3, "a", "c", 600));
  edit.add_file(1, file(4, "d", "f", 600));
  edit.add_file(2, file(5, "b", "e", 50));
  auto v = version_of(edit);
  EXPECT_DOUBLE_EQ(compaction_score(options, *v, 0), 0.5);
  EXPECT_DOUBLE_EQ(compaction_score(options, *v, 1), 1.2);
  std::array<std::string, kNumLevels> pointers;
  auto c = pick_compaction(options, *v, pointers, {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->level, 1);
  ASSERT_EQ(c->inputs[0].size(), 1u);
  EXPECT_EQ(c->inputs[0][0]->number, 3u) << "no pointer yet: the first file";
  ASSERT_EQ(c->inputs[1].size(), 1u);
  EXPECT_EQ(c->inputs[1][0]->number, 5u);
  EXPECT_FALSE(c->trivial_move);

  // The pointer moves on to the next file, which overlaps nothing below.
  pointers[1] = c->inputs[0][0]->largest;
  c = pick_compaction(options, *v, pointers, {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->inputs[0][0]->number, 4u);
  EXPECT_FALSE(c->trivial_move) << "4 [d,f] overlaps 5 [b,e]";

  // Busy inputs are not picked twice: with 4 busy, 3 is taken instead; with
  // 5 (below both) busy too, nothing.
  c = pick_compaction(options, *v, pointers, {4});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->inputs[0][0]->number, 3u);
  EXPECT_FALSE(pick_compaction(options, *v, pointers, {4, 5}).has_value());

  // Below its target nothing is picked.
  options.level1_bytes = 10000;
  EXPECT_FALSE(pick_compaction(options, *v, pointers, {}).has_value());
}

TEST(CompactionPickerTest, AnOversizedLevelShedsAFileByATrivialMoveBeforeLevelZeroIsCompacted) {
  Options options;
  options.l0_compaction_trigger = 2;
  options.level1_bytes = 1000;
  // Level 0 scores 3, level 1 1.2; the level-2 file ends at `below_end`.
  auto shape = [](std::string_view below_end) {
    VersionEdit edit;
    for (uint64_t n = 20; n < 26; ++n) edit.add_file(0, file(n, "a", "z", 100, n));
    edit.add_file(1, file(3, "a", "c", 600));
    edit.add_file(1, file(4, "d", "f", 600));
    edit.add_file(2, file(5, "b", below_end, 50));
    return version_of(edit);
  };
  auto v = shape("c");  // file 4 overlaps nothing below: movable
  ASSERT_GT(compaction_score(options, *v, 0), compaction_score(options, *v, 1));
  std::array<std::string, kNumLevels> pointers;
  auto c = pick_compaction(options, *v, pointers, {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->level, 1);
  EXPECT_TRUE(c->trivial_move);
  ASSERT_EQ(c->inputs[0].size(), 1u);
  EXPECT_EQ(c->inputs[0][0]->number, 4u);
  // Without a movable file the scores decide: level 0 goes first.
  v = shape("e");  // now file 4 [d, f] overlaps [b, e]
  c = pick_compaction(options, *v, pointers, {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->level, 0);
}

// Level 1 over its target with three files whose overlap with level 2, per
// byte of their own, differs.
std::shared_ptr<const Version> three_files_over_level_two() {
  VersionEdit edit;
  edit.add_file(1, file(3, "a", "c", 500));  // over 6 and 7: 900 bytes below, ratio 1.8
  edit.add_file(1, file(4, "d", "f", 500));  // over 8: 100 bytes below, ratio 0.2
  edit.add_file(1, file(5, "g", "i", 100));  // over 9: 100 bytes below, ratio 1.0
  edit.add_file(2, file(6, "a", "a", 450));
  edit.add_file(2, file(7, "b", "c", 450));
  edit.add_file(2, file(8, "e", "e", 100));
  edit.add_file(2, file(9, "h", "h", 100));
  return version_of(edit);
}

TEST(CompactionPickerTest, DeeperLevelsTakeTheFileOverlappingTheFewestBytesBelowPerByte) {
  Options options;
  options.level1_bytes = 1000;
  auto v = three_files_over_level_two();
  std::array<std::string, kNumLevels> pointers;
  auto c = pick_compaction(options, *v, pointers, {});
  ASSERT_TRUE(c.has_value());
  ASSERT_EQ(c->inputs[0].size(), 1u);
  EXPECT_EQ(c->inputs[0][0]->number, 4u) << "the smallest ratio in the window wins";
  pointers[1] = v->files(1)[1]->largest;  // just past file 4
  c = pick_compaction(options, *v, pointers, {});
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->inputs[0][0]->number, 4u);
  ASSERT_EQ(c->inputs[1].size(), 1u);
  EXPECT_EQ(c->inputs[1][0]->number, 8u);
}

TEST(CompactionPickerTest, AFileSteppedOverInTwoSweepsIsTakenInTheNext) {
  Options options;
  options.level1_bytes = 1000;
  auto v = three_files_over_level_two();
  // File 4 is always the cheapest and file 3 never is. The level never
  // shrinks here (nothing is applied), so only the pass-over counts can move
  // the pick away from file 4; as the DB does, each pick
  // counts the files it stepped over and moves the pointer past the file taken.
  std::array<std::string, kNumLevels> pointers;
  std::vector<uint64_t> taken;
  for (int round = 0; round < 6; ++round) {
    auto c = pick_compaction(options, *v, pointers, {});
    ASSERT_TRUE(c.has_value());
    ASSERT_EQ(c->inputs[0].size(), 1u);
    for (const FileRef& f : c->passed_over) ++f->times_passed_over;
    // In a DB the file taken leaves the level; here it stays, and starts over
    // like a new file in its place.
    c->inputs[0][0]->times_passed_over = 0;
    taken.push_back(c->inputs[0][0]->number);
    pointers[1] = c->inputs[0][0]->largest;
  }
  EXPECT_EQ(taken, (std::vector<uint64_t>{4, 4, 3, 5, 4, 4}))
      << "files 3 and 5 are stepped over twice each, then taken";
}

// -------------------------------------------------------------- output files

// Where an OutputCutter cuts a stream of keys each adding `entry_bytes`.
std::vector<std::string> cuts(const std::vector<FileRef>& grandparents, uint64_t target_bytes,
                              const std::vector<std::string>& keys, uint64_t entry_bytes) {
  OutputCutter cutter(grandparents, target_bytes);
  std::vector<std::string> first_keys_of_later_outputs;
  uint64_t open_bytes = 0;
  for (const std::string& key : keys) {
    if (cutter.cut_before(key, open_bytes)) {
      first_keys_of_later_outputs.push_back(key);
      open_bytes = 0;
    }
    open_bytes += entry_bytes;
  }
  return first_keys_of_later_outputs;
}

std::vector<FileRef> files_of(std::vector<FileMetaData> metas) {
  std::vector<FileRef> refs;
  for (FileMetaData& m : metas) refs.push_back(std::make_shared<const FileMetaData>(std::move(m)));
  return refs;
}

TEST(OutputCutterTest, WithNothingBelowOutputsAreCutAtTheTargetSize) {
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) keys.push_back(key_of(i));
  EXPECT_EQ(cuts({}, 300, keys, 100), (std::vector<std::string>{key_of(3), key_of(6), key_of(9)}));
}

TEST(OutputCutterTest, PastHalfTheTargetOutputsEndWhereAFileBelowEnds) {
  // Below: [key1, key2], [key3, key6], [key7, key9]. Target 400 bytes, 100 a key.
  const auto below =
      files_of({file(20, key_of(1), key_of(2), 1000), file(21, key_of(3), key_of(6), 1000),
                file(22, key_of(7), key_of(9), 1000)});
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) keys.push_back(key_of(i));
  // key3 steps past [key1, key2] with 300 bytes open (>= 200): cut. key7 steps
  // past [key3, key6] with 400 open: cut. Nothing ends after key9.
  EXPECT_EQ(cuts(below, 400, keys, 100), (std::vector<std::string>{key_of(3), key_of(7)}));
  // Under half the target a boundary is not enough: key3 finds 300 < 350 open.
  EXPECT_EQ(cuts(below, 700, keys, 100), (std::vector<std::string>{key_of(7)}));
}

TEST(OutputCutterTest, WithoutABoundaryBelowOutputsAreCutAtTwiceTheTarget) {
  const auto below = files_of({file(20, key_of(0), key_of(99), 1000)});
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) keys.push_back(key_of(i));
  EXPECT_EQ(cuts(below, 200, keys, 100), (std::vector<std::string>{key_of(4), key_of(8)}));
}

TEST(OutputCutterTest, AnOutputOverlappingTenTargetsBelowIsCut) {
  // Many small files below, each 300 bytes, one key each: passing four of them
  // (1200 >= 10 * 100) cuts even though the output holds only 4 bytes.
  std::vector<FileMetaData> metas;
  std::vector<std::string> keys;
  for (int i = 0; i < 10; ++i) {
    metas.push_back(file(20 + i, key_of(i), key_of(i), 300));
    keys.push_back(key_of(i));
  }
  EXPECT_EQ(cuts(files_of(std::move(metas)), 100, keys, 1),
            (std::vector<std::string>{key_of(4), key_of(8)}));
}

TEST(CompactionPickerTest, AnOutputIsBottommostWhenNothingBelowOverlapsItsRange) {
  VersionEdit edit;
  edit.add_file(0, file(7, "d", "f", 50));
  edit.add_file(1, file(3, "a", "c", 50));
  edit.add_file(1, file(4, "e", "g", 50));
  edit.add_file(1, file(8, "h", "y", 50));
  edit.add_file(2, file(5, "b", "b", 50));
  edit.add_file(3, file(6, "x", "z", 50));
  auto v = version_of(edit);
  const auto compaction = [&](int level, std::vector<FileRef> upper, std::vector<FileRef> lower) {
    Compaction c;
    c.level = level;
    c.inputs[0] = std::move(upper);
    c.inputs[1] = std::move(lower);
    return c;
  };
  // d..g into level 1: levels 2 and 3 hold nothing in d..g.
  EXPECT_TRUE(output_is_bottommost(compaction(0, v->files(0), {v->files(1)[1]}), *v));
  // a..g: level 2's "b" is below.
  EXPECT_FALSE(
      output_is_bottommost(compaction(0, v->files(0), {v->files(1)[0], v->files(1)[1]}), *v));
  // a..c into level 2, which holds "b": level 3 holds nothing in a..c.
  EXPECT_TRUE(output_is_bottommost(compaction(1, {v->files(1)[0]}, v->files(2)), *v));
  // h..y into level 2: level 3's x..z is below, two levels down.
  EXPECT_FALSE(output_is_bottommost(compaction(1, {v->files(1)[2]}, {}), *v));
  // Into the last level.
  EXPECT_TRUE(output_is_bottommost(compaction(kNumLevels - 2, {v->files(3)[0]}, {}), *v));
}

TEST(CompactionPickerTest, ALoneFileWithNothingBelowMovesDown) {
  Options options;
  options.level1_bytes = 100;
  VersionEdit edit;
  edit.add_file(1, file(3, "x", "z", 600));
  edit.add_file(2, file(5, "a", "c", 50));
  auto v = version_of(edit);
  auto c = pick_compaction(options, *v, {}, {});
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->trivial_move);

  auto range = pick_range_compaction(*v, 1, std::string_view("y"), std::nullopt);
  ASSERT_TRUE(range.has_value());
  EXPECT_TRUE(range->manual);
  EXPECT_FALSE(pick_range_compaction(*v, 1, std::nullopt, std::string_view("b")).has_value());
}

// ------------------------------------------------------------- in the engine

class CompactionDBTest : public ::testing::Test {
 protected:
  Options small_options() {
    Options o;
    o.memtable_bytes = 32 << 10;
    o.l0_compaction_trigger = 2;
    o.level1_bytes = 128 << 10;
    o.target_file_bytes = 32 << 10;
    o.block_bytes = 1024;
    return o;
  }
  std::string get(std::string_view key, const Snapshot* snap = nullptr) {
    ReadOptions ro;
    ro.snapshot = snap;
    std::string v;
    Status s = db_->get(ro, key, &v);
    return s.ok() ? v : s.is_not_found() ? "NOT_FOUND" : s.to_string();
  }
  uint64_t number(const char* property) { return std::stoull(*db_->property(property)); }
  // Until level 0 is empty and no compaction is pending or running (at most
  // a minute).
  void wait_until_level0_is_compacted() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (number("fsdb.compaction-pending") != 0 || number("fsdb.num-running-compactions") != 0 ||
           number("fsdb.num-files-at-level0") != 0) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << *db_->property("fsdb.levels");
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  test::ScratchDir dir_;
  std::unique_ptr<DB> db_;
};

// Every live table's path, by file number.
std::map<uint64_t, std::string> table_files(const std::string& dir) {
  std::map<uint64_t, std::string> tables;
  std::vector<std::string> names;
  EXPECT_TRUE(posix_file_system()->get_children(dir, &names).ok());
  for (const std::string& name : names) {
    FileType type;
    uint64_t number;
    if (parse_file_name(name, &type, &number) && type == FileType::kTable) {
      tables[number] = dir + "/" + name;
    }
  }
  return tables;
}

// The zstd level every live table records in its properties.
std::map<uint64_t, int64_t> table_zstd_levels(const std::string& dir) {
  std::map<uint64_t, int64_t> levels;
  for (const auto& [number, path] : table_files(dir)) {
    std::unique_ptr<TableReader> reader;
    const Status s = TableReader::open(*posix_file_system(), path, number, TableOptions(), &reader);
    EXPECT_TRUE(s.ok()) << s.to_string();
    if (s.ok()) levels[number] = reader->properties().zstd_level;
  }
  return levels;
}

// How the first block of every live table codes its literals.
std::map<uint64_t, test::LiteralsCoding> table_literals(const std::string& dir) {
  std::map<uint64_t, test::LiteralsCoding> codings;
  for (const auto& [number, path] : table_files(dir)) {
    std::string bytes;
    EXPECT_TRUE(read_file_to_string(*posix_file_system(), path, &bytes).ok());
    codings[number] = test::first_block_literals(bytes);
  }
  return codings;
}

// Flushes store zstd's literals raw at the light level
// (light_upper_level_compression, light_upper_level_zstd_level); a full
// compaction, whose outputs are the bottommost level, codes them fully at
// zstd_level; with the option off, everything is coded fully at zstd_level.
// Reads are the same throughout.
TEST_F(CompactionDBTest, TablesAboveTheBottommostLevelStoreLiteralsRaw) {
  struct Setting {
    bool light;
    int zstd_level;
    int light_level;
    int64_t flush_level;  // the level the flushes must record
  };
  // Level 0 is zstd's default level, 3.
  for (const Setting setting :
       {Setting{true, 4, 2, 2}, Setting{false, 4, 2, 4}, Setting{true, 1, 2, 1},
        Setting{true, 0, 1, 1}, Setting{true, 2, 0, 2}}) {
    const bool light = setting.light;
    SCOPED_TRACE(std::string(light ? "light_upper_level_compression" : "full coding everywhere") +
                 ", zstd_level " + std::to_string(setting.zstd_level) + ", light level " +
                 std::to_string(setting.light_level));
    test::ScratchDir dir;
    Options options;
    options.light_upper_level_compression = light;
    options.zstd_level = setting.zstd_level;
    options.light_upper_level_zstd_level = setting.light_level;
    options.memtable_bytes = 256 << 10;
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db_));
    std::mt19937_64 rng(test::test_seed(31));
    std::map<std::string, std::string> model;
    for (int table = 0; table < 3; ++table) {
      for (int i = 0; i < 1500; ++i) {
        std::string half(50, ' ');
        for (char& c : half) c = static_cast<char>(' ' + rng() % 95);
        const std::string key = key_of(static_cast<int>(rng() % 4000));
        model[key] = half + half;
        FSDB_ASSERT_OK(db_->put(key, half + half));
      }
      FSDB_ASSERT_OK(db_->flush());
    }
    const auto flushed = table_literals(dir.path());
    ASSERT_GE(flushed.size(), 3u);
    for (const auto& [number, level] : table_zstd_levels(dir.path())) {
      EXPECT_EQ(level, setting.flush_level) << "table " << number;
    }
    for (const auto& [number, coding] : flushed) {
      if (light) {
        EXPECT_EQ(coding, test::LiteralsCoding::kRaw) << "table " << number;
      } else {
        EXPECT_TRUE(coding == test::LiteralsCoding::kHuffman ||
                    coding == test::LiteralsCoding::kHuffmanReused)
            << "table " << number << ": " << static_cast<int>(coding);
      }
    }
    FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
    const auto compacted = table_literals(dir.path());
    ASSERT_FALSE(compacted.empty());
    for (const auto& [number, level] : table_zstd_levels(dir.path())) {
      EXPECT_EQ(level, setting.zstd_level) << "table " << number;
    }
    for (const auto& [number, coding] : compacted) {
      EXPECT_FALSE(flushed.contains(number)) << "table " << number << " was not rewritten";
      EXPECT_TRUE(coding == test::LiteralsCoding::kHuffman ||
                  coding == test::LiteralsCoding::kHuffmanReused)
          << "table " << number << ": " << static_cast<int>(coding);
    }
    for (const auto& [key, value] : model) ASSERT_EQ(get(key), value) << key;
    FSDB_ASSERT_OK(db_->close());
    db_.reset();
  }
}

// Ascending keys make level-0 tables that overlap nothing below: they move
// down by a MANIFEST edit alone. A move into the bottommost level would keep
// the flush's lighter coding there, so such a table is rewritten instead.
TEST_F(CompactionDBTest, ALightTableIsRewrittenNotMovedIntoTheBottommostLevel) {
  Options options;
  options.memtable_bytes = 64 << 10;
  options.l0_compaction_trigger = 1;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  std::mt19937_64 rng(test::test_seed(32));
  for (int table = 0; table < 4; ++table) {
    for (int i = 0; i < 400; ++i) {
      std::string half(50, ' ');
      for (char& c : half) c = static_cast<char>(' ' + rng() % 95);
      FSDB_ASSERT_OK(db_->put(key_of(table * 1000 + i), half + half));
    }
    FSDB_ASSERT_OK(db_->flush());
  }
  ASSERT_NO_FATAL_FAILURE(wait_until_level0_is_compacted());
  // Usually four tables, one per flush; fewer when two flushes landed before
  // a compaction took them together.
  EXPECT_GE(number("fsdb.num-files-at-level1"), 1u) << *db_->property("fsdb.levels");
  for (const auto& [number, coding] : table_literals(dir_.path())) {
    EXPECT_TRUE(coding == test::LiteralsCoding::kHuffman ||
                coding == test::LiteralsCoding::kHuffmanReused)
        << "table " << number << ": " << static_cast<int>(coding);
  }
  EXPECT_NE(db_->property("fsdb.stats")->find("+0 moves"), std::string::npos)
      << *db_->property("fsdb.stats");
}

// A table written fully coded but at another zstd level (here: with the light
// coding off and level 1, then reopened with the defaults) would keep that
// level in the bottommost level if it were moved: it is rewritten too.
TEST_F(CompactionDBTest, ATableAtAnotherZstdLevelIsRewrittenNotMovedIntoTheBottommostLevel) {
  Options first;
  first.light_upper_level_compression = false;
  first.zstd_level = 1;
  FSDB_ASSERT_OK(DB::open(first, dir_.path(), &db_));
  std::mt19937_64 rng(test::test_seed(33));
  for (int i = 0; i < 400; ++i) {
    std::string half(50, ' ');
    for (char& c : half) c = static_cast<char>(' ' + rng() % 95);
    FSDB_ASSERT_OK(db_->put(key_of(i), half + half));
  }
  FSDB_ASSERT_OK(db_->flush());
  FSDB_ASSERT_OK(db_->close());
  db_.reset();
  const auto written = table_zstd_levels(dir_.path());
  ASSERT_EQ(written.size(), 1u);
  ASSERT_EQ(written.begin()->second, 1);
  ASSERT_NE(table_literals(dir_.path()).begin()->second, test::LiteralsCoding::kRaw);

  Options second;  // zstd_level 3, light coding on
  second.l0_compaction_trigger = 1;
  FSDB_ASSERT_OK(DB::open(second, dir_.path(), &db_));
  ASSERT_NO_FATAL_FAILURE(wait_until_level0_is_compacted());
  EXPECT_EQ(number("fsdb.num-files-at-level1"), 1u) << *db_->property("fsdb.levels");
  const auto bottom = table_zstd_levels(dir_.path());
  ASSERT_EQ(bottom.size(), 1u);
  EXPECT_FALSE(written.contains(bottom.begin()->first)) << "the table was moved, not rewritten";
  EXPECT_EQ(bottom.begin()->second, second.zstd_level);
  for (int i = 0; i < 400; ++i) EXPECT_NE(get(key_of(i)), "NOT_FOUND") << i;
}

TEST_F(CompactionDBTest, WriteVolumePropertiesAddUpAndBackgroundWorkSettles) {
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  uint64_t written = 0;
  for (int i = 0; i < 6000; ++i) {
    const std::string k = key_of(i * 7919 % 6000);
    const std::string v(80, static_cast<char>('a' + i % 26));
    FSDB_ASSERT_OK(db_->put(k, v));
    written += k.size() + v.size();
  }
  FSDB_ASSERT_OK(db_->flush());
  // The background work a benchmark waits for before it reads write volumes.
  for (int spins = 0;
       number("fsdb.compaction-pending") != 0 || number("fsdb.num-running-compactions") != 0;
       ++spins) {
    ASSERT_LT(spins, 5000) << *db_->property("fsdb.levels");
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(number("fsdb.num-sealed-memtables"), 0u);
  // User bytes count each batch's encoding: its keys, values and framing.
  EXPECT_GE(number("fsdb.user-bytes-written"), written);
  EXPECT_LT(number("fsdb.user-bytes-written"), written + 6000 * 32);
  EXPECT_GT(number("fsdb.flush-bytes-written"), 0u);
  EXPECT_GT(number("fsdb.compaction-bytes-written"), 0u)
      << "level 0 held 2+ files: compactions ran";
  EXPECT_GT(number("fsdb.num-compactions"), 0u);
  const std::string stats = *db_->property("fsdb.stats");
  // The same figures as fsdb.stats' write amplification line is made of.
  const double wamp = static_cast<double>(number("fsdb.flush-bytes-written") +
                                          number("fsdb.compaction-bytes-written")) /
                      static_cast<double>(number("fsdb.user-bytes-written"));
  char expected[64];
  std::snprintf(expected, sizeof(expected), "write amplification: %.2f", wamp);
  EXPECT_NE(stats.find(expected), std::string::npos) << stats;
  // The map form: the same counters, unrounded, by name.
  std::map<std::string, std::string> values;
  ASSERT_TRUE(db_->map_property("fsdb.stats", &values));
  EXPECT_EQ(values["user_bytes_written"], std::to_string(number("fsdb.user-bytes-written")));
  EXPECT_EQ(values["flush_bytes_written"], std::to_string(number("fsdb.flush-bytes-written")));
  EXPECT_EQ(values["compaction_bytes_written"],
            std::to_string(number("fsdb.compaction-bytes-written")));
  EXPECT_EQ(values["compactions"], std::to_string(number("fsdb.num-compactions")));
  EXPECT_EQ(values["sealed_memtables"], "0");
  uint64_t files = 0;
  for (int level = 0; level < kNumLevels; ++level) {
    files += number(("fsdb.num-files-at-level" + std::to_string(level)).c_str());
  }
  EXPECT_EQ(values["files"], std::to_string(files));
  EXPECT_NEAR(std::stod(values["write_amplification"]), wamp, 1e-4);
  EXPECT_EQ(values["write_stall"], "normal");
  EXPECT_EQ(values["background_error"], "none");
  EXPECT_FALSE(db_->map_property("fsdb.sequence", &values)) << "no map form";
  EXPECT_TRUE(values.empty());
}

TEST_F(CompactionDBTest, SnapshotsReadTheSameAcrossManyCompactions) {
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  std::mt19937 rng(test::test_seed(11));
  std::map<std::string, std::string> model;
  struct Held {
    const Snapshot* snapshot;
    std::map<std::string, std::string> model;
  };
  std::vector<Held> held;
  for (int round = 0; round < 12; ++round) {
    for (int i = 0; i < 600; ++i) {
      const std::string k = key_of(static_cast<int>(rng() % 800));
      if (rng() % 5 == 0) {
        FSDB_ASSERT_OK(db_->remove(k));
        model.erase(k);
      } else {
        const std::string v =
            "r" + std::to_string(round) + "-" + std::to_string(i) + std::string(60, 'v');
        FSDB_ASSERT_OK(db_->put(k, v));
        model[k] = v;
      }
    }
    if (round % 3 == 0) held.push_back({db_->get_snapshot(), model});
  }
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  EXPECT_GT(number("fsdb.num-compactions"), 3u);
  for (const Held& h : held) {
    ReadOptions ro;
    ro.snapshot = h.snapshot;
    auto it = db_->new_iterator(ro);
    auto m = h.model.begin();
    for (it->seek_to_first(); it->valid(); it->next(), ++m) {
      ASSERT_NE(m, h.model.end());
      ASSERT_EQ(it->key(), m->first);
      ASSERT_EQ(it->value(), m->second);
    }
    ASSERT_EQ(m, h.model.end());
    FSDB_ASSERT_OK(it->status());
  }
  for (int i = 0; i < 800; ++i) {
    auto m = model.find(key_of(i));
    ASSERT_EQ(get(key_of(i)), m == model.end() ? "NOT_FOUND" : m->second) << i;
  }
  for (const Held& h : held) db_->release_snapshot(h.snapshot);
}

TEST_F(CompactionDBTest, AnIteratorOutlivesTheFilesCompactionReplaces) {
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "old" + std::to_string(i)));
  FSDB_ASSERT_OK(db_->flush());
  auto it = db_->new_iterator();
  it->seek_to_first();
  ASSERT_TRUE(it->valid());
  // Overwrite everything and compact it all: the iterator's inputs are replaced.
  for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "new" + std::to_string(i)));
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  int n = 0;
  for (; it->valid(); it->next(), ++n) {
    ASSERT_EQ(it->key(), key_of(n));
    ASSERT_EQ(it->value(), "old" + std::to_string(n));
  }
  EXPECT_EQ(n, 2000);
  FSDB_ASSERT_OK(it->status());
  it.reset();
  EXPECT_EQ(get(key_of(7)), "new7");
}

TEST_F(CompactionDBTest, FullCompactionReclaimsOverwritesAndDeletes) {
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  const std::string value(100, 'x');
  for (int pass = 0; pass < 3; ++pass) {
    for (int i = 0; i < 3000; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), value));
  }
  for (int i = 0; i < 3000; i += 2) FSDB_ASSERT_OK(db_->remove(key_of(i)));
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  // Everything is in one level, and only the 1500 live keys remain.
  int levels_with_files = 0;
  for (int level = 0; level < kNumLevels; ++level) {
    const std::string p = "fsdb.num-files-at-level" + std::to_string(level);
    if (number(p.c_str()) > 0) ++levels_with_files;
  }
  EXPECT_EQ(levels_with_files, 1) << *db_->property("fsdb.levels");
  auto it = db_->new_iterator();
  int live = 0;
  for (it->seek_to_first(); it->valid(); it->next()) ++live;
  EXPECT_EQ(live, 1500);
  std::vector<std::string> names;
  FSDB_ASSERT_OK(posix_file_system()->get_children(dir_.path(), &names));
  uint64_t table_bytes = 0;
  for (const std::string& name : names) {
    FileType type;
    uint64_t n;
    uint64_t size = 0;
    if (parse_file_name(name, &type, &n) && type == FileType::kTable) {
      FSDB_ASSERT_OK(posix_file_system()->get_file_size(dir_.file(name), &size));
      table_bytes += size;
    }
  }
  // 1500 entries of ~115 bytes, compressible: well under one copy of the input.
  EXPECT_LT(table_bytes, 1500u * 120u) << *db_->property("fsdb.stats");
  const std::string stats = *db_->property("fsdb.stats");
  EXPECT_NE(stats.find("versions dropped"), std::string::npos);
  EXPECT_NE(stats.find("write amplification"), std::string::npos);
  // A reopened DB agrees.
  db_.reset();
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  EXPECT_EQ(get(key_of(1)), value);
  EXPECT_EQ(get(key_of(2)), "NOT_FOUND");
}

// The step into the bottom level takes only the bottom files under the level
// above; the rest of the range is rewritten too. Here the bottom level holds
// versions a released snapshot needed (keys x...), and the level above only
// new keys (a...), which share no file with them.
TEST_F(CompactionDBTest, FullCompactionRewritesBottomFilesTheLevelAboveDoesNotCover) {
  struct Dropped final : EventListener {
    void on_compaction_completed(const CompactionInfo& info) override {
      versions_dropped += info.versions_dropped;
    }
    std::atomic<uint64_t> versions_dropped{0};
  };
  auto listener = std::make_shared<Dropped>();
  Options options = small_options();
  options.listener = listener;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  for (int i = 0; i < 500; ++i) FSDB_ASSERT_OK(db_->put("x" + key_of(i), "old"));
  const Snapshot* snapshot = db_->get_snapshot();
  for (int i = 0; i < 500; ++i) FSDB_ASSERT_OK(db_->put("x" + key_of(i), "new"));
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  EXPECT_EQ(get("x" + key_of(7), snapshot), "old");
  db_->release_snapshot(snapshot);
  EXPECT_EQ(number("fsdb.num-files-at-level0"), 0u);

  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db_->put("a" + key_of(i), "v"));
  listener->versions_dropped = 0;
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  // The 500 old versions of x... go, though no file above held an x key.
  EXPECT_EQ(listener->versions_dropped.load(), 500u) << *db_->property("fsdb.levels");
  EXPECT_EQ(get("x" + key_of(7)), "new");
  EXPECT_EQ(get("a" + key_of(7)), "v");
}

TEST_F(CompactionDBTest, FullCompactionLeavesNoReplacedTableOnDisk) {
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  const std::string value(100, 'y');
  for (int pass = 0; pass < 2; ++pass) {
    for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), value));
  }
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  // With no reader holding an older version, the directory holds exactly the
  // live tables as soon as compact_range returns (not at the next flush or open).
  uint64_t live_tables = 0;
  for (int level = 0; level < kNumLevels; ++level) {
    live_tables += number(("fsdb.num-files-at-level" + std::to_string(level)).c_str());
  }
  std::vector<std::string> names;
  FSDB_ASSERT_OK(posix_file_system()->get_children(dir_.path(), &names));
  uint64_t tables_on_disk = 0;
  for (const std::string& name : names) {
    FileType type;
    uint64_t n;
    if (parse_file_name(name, &type, &n) && type == FileType::kTable) ++tables_on_disk;
  }
  EXPECT_GT(live_tables, 0u);
  EXPECT_EQ(tables_on_disk, live_tables) << *db_->property("fsdb.levels");
}

// A file system whose table syncs are slow, so that level 0 fills faster than
// compaction drains it.
class SlowTableSyncFileSystem final : public FileSystemWrapper {
 public:
  class SlowFile final : public WritableFileWrapper {
   public:
    using WritableFileWrapper::WritableFileWrapper;
    Status sync() override {
      std::this_thread::sleep_for(std::chrono::milliseconds(40));
      return WritableFileWrapper::sync();
    }
  };

  SlowTableSyncFileSystem() : FileSystemWrapper(posix_file_system()) {}
  Status new_writable_file(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = FileSystemWrapper::new_writable_file(p, f);
    if (s.ok() && p.ends_with(".sst")) *f = std::make_unique<SlowFile>(std::move(*f));
    return s;
  }
};

// Stops one chosen thread at a point of a file system until the test opens
// the gate; every other thread passes.
class ThreadGate {
 public:
  void hold(std::thread::id id) {
    std::lock_guard<std::mutex> guard(mu_);
    held_ = id;
  }
  // False if nothing was held within a minute (the test then fails, not hangs).
  bool wait_until_held() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::minutes(1), [&] { return waiting_; });
  }
  void open() {
    std::lock_guard<std::mutex> guard(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Where the file system calls it: waits while the gate holds this thread.
  void pass() {
    std::unique_lock<std::mutex> lock(mu_);
    if (std::this_thread::get_id() != held_) return;
    waiting_ = true;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::thread::id held_;
  bool waiting_ = false;
  bool open_ = false;
};

// Holds the directory listings made by one thread (a compact_range() caller).
class GatedListingFileSystem final : public FileSystemWrapper {
 public:
  GatedListingFileSystem() : FileSystemWrapper(posix_file_system()) {}
  Status get_children(const std::string& dir, std::vector<std::string>* names) override {
    gate.pass();
    return FileSystemWrapper::get_children(dir, names);
  }
  ThreadGate gate;
};

// close() must wait for a compact_range() running on another thread: that
// call writes the MANIFEST and deletes obsolete files from its own thread, and
// once close() has released the directory's LOCK, its deletion pass would
// remove the tables of the next DB opened there.
TEST_F(CompactionDBTest, CloseWaitsForACompactRangeOnAnotherThread) {
  auto fs = std::make_shared<GatedListingFileSystem>();
  Options options = small_options();
  options.file_system = fs;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  for (int i = 0; i < 3000; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), std::string(50, 'v')));
  FSDB_ASSERT_OK(db_->flush());

  Status compacted;
  std::thread compactor([&] {
    fs->gate.hold(std::this_thread::get_id());
    compacted = db_->compact_range(std::nullopt, std::nullopt);
  });
  // The compaction is installed and its deletion pass is about to list the
  // directory.
  if (!fs->gate.wait_until_held()) {
    fs->gate.open();
    compactor.join();
    FAIL() << "compact_range() never listed the directory: " << compacted.to_string();
  }
  std::atomic<bool> closed{false};
  Status close_status;
  std::thread closer([&] {
    close_status = db_->close();
    closed = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_FALSE(closed.load()) << "close() returned while compact_range() was still running";
  fs->gate.open();
  compactor.join();
  closer.join();
  FSDB_EXPECT_OK(close_status);
  // It completed, or stopped before its next compaction and said why.
  if (!compacted.ok()) {
    EXPECT_NE(compacted.to_string().find("closing"), std::string::npos) << compacted.to_string();
  }

  // Whatever happened, a DB opened afterwards keeps what it writes.
  db_.reset();
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  FSDB_ASSERT_OK(db_->put("fresh", "value"));
  FSDB_ASSERT_OK(db_->flush());
  db_.reset();
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  EXPECT_EQ(get("fresh"), "value");
  for (int i = 0; i < 3000; i += 97) EXPECT_EQ(get(key_of(i)), std::string(50, 'v'));
}

// compact_range() after close() fails cleanly and says why.
TEST_F(CompactionDBTest, CompactRangeAfterCloseSaysTheDBIsClosing) {
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  for (int i = 0; i < 1000; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "v"));
  FSDB_ASSERT_OK(db_->close());
  Status s = db_->compact_range(std::nullopt, std::nullopt);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("closing"), std::string::npos) << s.to_string();
}

TEST_F(CompactionDBTest, SeveralCompactionThreadsLoseNothing) {
  Options options = small_options();
  options.max_background_compactions = 3;
  options.level1_bytes = 64 << 10;
  options.target_file_bytes = 16 << 10;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  std::mt19937 rng(test::test_seed(12));
  std::map<std::string, std::string> model;
  for (int i = 0; i < 20000; ++i) {
    const std::string k = key_of(static_cast<int>(rng() % 5000));
    const std::string v = std::to_string(i) + std::string(40 + rng() % 60, 'c');
    FSDB_ASSERT_OK(db_->put(k, v));
    model[k] = v;
  }
  FSDB_ASSERT_OK(db_->flush());
  const std::string levels = *db_->property("fsdb.levels");
  EXPECT_GT(number("fsdb.num-compactions"), 5u) << levels;
  for (const auto& [k, v] : model) ASSERT_EQ(get(k), v) << k << "\n" << levels;
  db_.reset();
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  auto it = db_->new_iterator();
  auto m = model.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++m) {
    ASSERT_NE(m, model.end());
    ASSERT_EQ(it->key(), m->first);
    ASSERT_EQ(it->value(), m->second);
  }
  EXPECT_EQ(m, model.end());
}

// Sequences of settled bottom-level values are zeroed (they compress away),
// but never those a live snapshot still tells apart.
TEST_F(CompactionDBTest, BottomLevelValuesEveryReaderSeesLoseTheirSequence) {
  FSDB_ASSERT_OK(DB::open(small_options(), dir_.path(), &db_));
  for (int i = 0; i < 500; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "old"));
  const Snapshot* snap = db_->get_snapshot();
  for (int i = 0; i < 500; i += 2) FSDB_ASSERT_OK(db_->put(key_of(i), "new"));
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));

  auto table_sequences = [&] {
    std::map<std::string, std::vector<SequenceNumber>> seqs;
    std::vector<std::string> names;
    EXPECT_TRUE(posix_file_system()->get_children(dir_.path(), &names).ok());
    for (const std::string& name : names) {
      FileType type;
      uint64_t n;
      if (!parse_file_name(name, &type, &n) || type != FileType::kTable) continue;
      std::unique_ptr<TableReader> reader;
      EXPECT_TRUE(
          TableReader::open(*posix_file_system(), dir_.file(name), n, TableOptions(), &reader)
              .ok());
      auto it = reader->new_iterator();
      for (it->seek_to_first(); it->valid(); it->next()) {
        seqs[std::string(it->user_key())].push_back(it->sequence());
      }
    }
    return seqs;
  };
  auto seqs = table_sequences();
  ASSERT_EQ(seqs.size(), 500u);
  // Odd keys: one version, seen by every reader. Even keys: the snapshot still
  // reads "old", so both versions stay, and the old one is in the first stripe.
  EXPECT_EQ(seqs[key_of(1)], (std::vector<SequenceNumber>{0}));
  ASSERT_EQ(seqs[key_of(2)].size(), 2u);
  EXPECT_GT(seqs[key_of(2)][0], 0u) << "the new version is newer than the snapshot";
  EXPECT_EQ(seqs[key_of(2)][1], 0u);
  EXPECT_EQ(get(key_of(2), snap), "old");
  EXPECT_EQ(get(key_of(2)), "new");
  db_->release_snapshot(snap);
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  seqs = table_sequences();
  EXPECT_EQ(seqs[key_of(2)], (std::vector<SequenceNumber>{0})) << "no snapshot left";
  EXPECT_EQ(get(key_of(2)), "new");
  EXPECT_EQ(get(key_of(3)), "old");
}

TEST_F(CompactionDBTest, IteratorsWalkLevelsOfManyFilesBothWays) {
  Options options = small_options();
  options.target_file_bytes = 8 << 10;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  std::map<std::string, std::string> model;
  std::mt19937 values(7);
  for (int i = 0; i < 6000; i += 2) {  // even keys only: odd ones fall in gaps
    std::string v(80, '\0');
    for (char& c : v) c = static_cast<char>('a' + values() % 26);  // barely compressible
    model[key_of(i)] = v;
    FSDB_ASSERT_OK(db_->put(key_of(i), v));
  }
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  int deeper_files = 0;
  for (int level = 1; level < kNumLevels; ++level) {
    deeper_files +=
        static_cast<int>(number(("fsdb.num-files-at-level" + std::to_string(level)).c_str()));
  }
  ASSERT_GT(deeper_files, 5) << *db_->property("fsdb.levels");
  auto it = db_->new_iterator();
  auto m = model.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++m) {
    ASSERT_NE(m, model.end());
    ASSERT_EQ(it->key(), m->first);
  }
  ASSERT_EQ(m, model.end());
  auto r = model.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++r) {
    ASSERT_NE(r, model.rend());
    ASSERT_EQ(it->key(), r->first);
  }
  ASSERT_EQ(r, model.rend());
  std::mt19937 rng(test::test_seed(13));
  for (int n = 0; n < 2000; ++n) {
    const std::string target = key_of(static_cast<int>(rng() % 6100));
    if (rng() % 2 == 0) {
      it->seek(target);
      auto want = model.lower_bound(target);
      ASSERT_EQ(it->valid(), want != model.end()) << target;
      if (it->valid()) {
        ASSERT_EQ(it->key(), want->first);
        it->prev();
        if (want == model.begin()) {
          ASSERT_FALSE(it->valid());
        } else {
          ASSERT_TRUE(it->valid());
          ASSERT_EQ(it->key(), std::prev(want)->first);
        }
      }
    } else {
      it->seek_for_prev(target);
      auto want = model.upper_bound(target);
      ASSERT_EQ(it->valid(), want != model.begin()) << target;
      if (it->valid()) {
        ASSERT_EQ(it->key(), std::prev(want)->first);
        it->next();
        ASSERT_EQ(it->valid(), want != model.end());
        if (it->valid()) {
          ASSERT_EQ(it->key(), want->first);
        }
      }
    }
  }
  FSDB_ASSERT_OK(it->status());
}

TEST_F(CompactionDBTest, WritesSlowDownWhileLevelZeroIsFull) {
  // Compaction starts at 2 level-0 files and, with slow table syncs, takes
  // tens of milliseconds: writes in between see 2 files and are delayed.
  Options options = small_options();
  options.file_system = std::make_shared<SlowTableSyncFileSystem>();
  options.memtable_bytes = 8 << 10;
  options.l0_compaction_trigger = 2;
  options.l0_slowdown_writes_trigger = 2;
  options.l0_stop_writes_trigger = 100;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  for (int i = 0; i < 1500; ++i) {
    FSDB_ASSERT_OK(db_->put(key_of(i), std::string(100, 'w'))) << i;
  }
  const std::string stats = *db_->property("fsdb.stats");
  EXPECT_EQ(stats.find("delays: 0 "), std::string::npos) << "some writes were delayed: " << stats;
  for (int i = 0; i < 1500; i += 37) ASSERT_EQ(get(key_of(i)), std::string(100, 'w'));
}

TEST_F(CompactionDBTest, WritesStopWhileFlushesLagButNeverFail) {
  // One sealed memtable may wait; with slow table syncs the next fills first.
  Options options = small_options();
  options.file_system = std::make_shared<SlowTableSyncFileSystem>();
  options.memtable_bytes = 8 << 10;
  options.max_sealed_memtables = 1;
  options.l0_slowdown_writes_trigger = 100;
  options.l0_stop_writes_trigger = 100;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  for (int i = 0; i < 1500; ++i) {
    FSDB_ASSERT_OK(db_->put(key_of(i), std::string(100, 's'))) << i;
  }
  EXPECT_GT(number("fsdb.num-stalls"), 0u) << *db_->property("fsdb.stats");
  for (int i = 0; i < 1500; i += 37) ASSERT_EQ(get(key_of(i)), std::string(100, 's'));
}

// The listener hears the write stall condition change as writes wait for
// slow flushes (stopped: a full memtable, and max_sealed_memtables wait) and
// level 0 fills (delayed), and go back to normal once the background work
// is done; each report names the condition before it. The property says the
// same.
TEST_F(CompactionDBTest, TheListenerHearsWriteStallsBeginAndEnd) {
  class StallListener final : public EventListener {
   public:
    void on_write_stall_changed(const WriteStallInfo& info) override {
      std::lock_guard<std::mutex> guard(mu_);
      changes_.push_back(info);
    }
    std::vector<WriteStallInfo> changes() {
      std::lock_guard<std::mutex> guard(mu_);
      return changes_;
    }

   private:
    std::mutex mu_;
    std::vector<WriteStallInfo> changes_;
  };
  auto listener = std::make_shared<StallListener>();
  Options options = small_options();
  options.file_system = std::make_shared<SlowTableSyncFileSystem>();
  options.listener = listener;
  options.memtable_bytes = 8 << 10;
  options.max_sealed_memtables = 1;
  options.l0_compaction_trigger = 2;
  options.l0_slowdown_writes_trigger = 2;
  options.l0_stop_writes_trigger = 100;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  EXPECT_EQ(*db_->property("fsdb.write-stall"), "normal");
  for (int i = 0; i < 1500; ++i) {
    FSDB_ASSERT_OK(db_->put(key_of(i), std::string(100, 's'))) << i;
  }
  FSDB_ASSERT_OK(db_->flush());
  // Until compaction has brought level 0 under the slowdown trigger.
  for (int waited = 0; waited < 60000 && *db_->property("fsdb.write-stall") != "normal"; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(*db_->property("fsdb.write-stall"), "normal") << *db_->property("fsdb.levels");
  std::vector<WriteStallInfo> changes;
  for (int waited = 0; waited < 30000; ++waited) {
    changes = listener->changes();
    if (!changes.empty() && changes.back().condition == WriteStallCondition::kNormal) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_FALSE(changes.empty());
  EXPECT_EQ(changes.back().condition, WriteStallCondition::kNormal) << "back to normal";
  bool stopped = false;
  bool delayed = false;
  WriteStallCondition before = WriteStallCondition::kNormal;
  for (const WriteStallInfo& change : changes) {
    EXPECT_EQ(change.previous, before);
    EXPECT_NE(change.condition, change.previous);
    if (change.condition == WriteStallCondition::kStopped) {
      stopped = true;
      EXPECT_GE(change.sealed_memtables, 1u);
    }
    if (change.condition == WriteStallCondition::kDelayed) {
      delayed = true;
      EXPECT_GE(change.level0_files, 2u);
    }
    before = change.condition;
  }
  EXPECT_GT(number("fsdb.num-stalls"), 0u) << "writes waited for flushes";
  EXPECT_TRUE(stopped) << "a write waited for a flush";
  EXPECT_TRUE(delayed) << "level 0 held two files while compaction ran";
}

// Holds the table creations of one thread: a manual compaction (on the
// thread that called compact_range) stops before its first output while the
// flush thread goes on. Holds its directory listings too (listing_gate):
// after a step is installed, the thread lists the directory for files to
// delete, and stops there.
class GatedTableFileSystem final : public FileSystemWrapper {
 public:
  GatedTableFileSystem() : FileSystemWrapper(posix_file_system()) {}
  Status new_writable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    if (path.ends_with(".sst")) gate.pass();
    return FileSystemWrapper::new_writable_file(path, file);
  }
  Status get_children(const std::string& dir, std::vector<std::string>* names) override {
    listing_gate.pass();
    return FileSystemWrapper::get_children(dir, names);
  }
  ThreadGate gate;
  ThreadGate listing_gate;
};

// A writer that waits on a full level 0 goes on as soon as a manual
// compaction has emptied level 0, not only when compact_range() returns (a
// full compaction of a large DB takes minutes after its first step).
TEST(CompactionWakeTest, ManualCompactionWakesWritersWaitingOnLevel0) {
  test::ScratchDir dir;
  auto fs = std::make_shared<GatedTableFileSystem>();
  // The writer's progress. No listener: its reports would wake the writer too.
  std::atomic<int> written{0};
  Options options;
  options.file_system = fs;
  options.memtable_bytes = 64 << 10;
  options.max_sealed_memtables = 1;
  options.l0_compaction_trigger = 3;
  options.l0_slowdown_writes_trigger = 3;
  options.l0_stop_writes_trigger = 3;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  const std::string value(100, 'v');
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), value));
  FSDB_ASSERT_OK(db->flush());  // level 0: one table
  for (int i = 100; i < 200; ++i) FSDB_ASSERT_OK(db->put(key_of(i), value));
  auto level0 = [&] { return std::stoull(*db->property("fsdb.num-files-at-level0")); };

  // The manual compaction flushes (level 0: two tables), then stops at its
  // first output.
  Status manual;
  std::thread compactor([&] {
    fs->gate.hold(std::this_thread::get_id());
    manual = db->compact_range(std::nullopt, std::nullopt);
  });
  if (!fs->gate.wait_until_held()) {
    fs->gate.open();
    compactor.join();
    FAIL() << "the manual compaction never created a table";
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  ASSERT_EQ(level0(), 2u);

  // A writer fills level 0 to the stop trigger and waits.
  std::atomic<bool> stop{false};
  Status writer_status;
  std::thread writer([&] {
    for (int i = 200; !stop.load(); ++i) {
      writer_status = db->put(key_of(i), value);
      if (!writer_status.ok()) return;
      written.fetch_add(1);
    }
  });
  int last = -1;
  while (std::stoull(*db->property("fsdb.num-stalls")) == 0 || written.load() != last) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << *db->property("fsdb.levels");
    last = written.load();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(level0(), 3u) << "the writer waits on level 0";

  // The compaction's first step takes the two tables it picked; after it,
  // level 0 holds one table and the writer may go on. The compacting thread
  // is held where it lists the directory once the step is installed, before
  // compact_range() can return: the writer must make progress meanwhile.
  fs->listing_gate.hold(compactor.get_id());
  fs->gate.open();
  bool progressed = false;
  if (fs->listing_gate.wait_until_held()) {
    const int before = written.load();
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < until && !progressed) {
      progressed = written.load() > before;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  fs->listing_gate.open();
  compactor.join();
  stop = true;
  writer.join();
  FSDB_EXPECT_OK(manual);
  FSDB_EXPECT_OK(writer_status);
  EXPECT_TRUE(progressed) << "the writer waited for the whole manual compaction";
}

}  // namespace
}  // namespace fsdb

namespace fsdb {
namespace {

// A listener that writes from on_compaction_completed() while the manual
// compaction it hears of holds compaction (compact_range() runs on the
// caller's thread, and background compactions wait for it): its writes fill
// level 0 to the stop trigger, and only a compaction makes room again. The
// reports come from the event thread, and compact_range() waits for them
// only once compaction is the background's again. (They used to come from
// the compacting thread itself, which then waited for itself for good.)
TEST(CompactionListenerTest, AListenerThatWritesDuringAManualCompactionDoesNotHangIt) {
  struct WritingListener final : EventListener {
    void on_compaction_completed(const CompactionInfo& info) override {
      if (!info.manual || !armed.exchange(false)) return;
      const std::string value(100, 'l');
      for (int i = 0; i < 3000; ++i) {
        if (!db.load()->put("listener" + std::to_string(i), value).ok()) return;
        written.fetch_add(1);
      }
    }
    std::atomic<DB*> db{nullptr};
    std::atomic<bool> armed{false};
    std::atomic<int> written{0};
  };
  test::ScratchDir dir;
  auto listener = std::make_shared<WritingListener>();
  Options options;
  options.listener = listener;
  options.memtable_bytes = 64 << 10;
  options.max_sealed_memtables = 1;
  options.l0_compaction_trigger = 2;
  options.l0_slowdown_writes_trigger = 2;
  options.l0_stop_writes_trigger = 3;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  listener->db = db.get();
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'v')));
  listener->armed = true;
  std::atomic<bool> done{false};
  Status compacted;
  std::thread compactor([&] {
    compacted = db->compact_range(std::nullopt, std::nullopt);
    done = true;
  });
  for (int waited = 0; !done && waited < 60000; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!done) {
    // Deadlocked: nothing ends the two threads; end the test binary loudly.
    std::fprintf(stderr,
                 "compact_range() still runs after 60 s, its listener having written %d of "
                 "3000 keys: hung\n",
                 listener->written.load());
    std::abort();
  }
  compactor.join();
  FSDB_ASSERT_OK(compacted);
  // compact_range() returned after its listener calls.
  EXPECT_EQ(listener->written.load(), 3000);
  EXPECT_GT(std::stoull(*db->property("fsdb.num-stalls")), 0u) << "the listener's writes waited";
  std::string value;
  FSDB_EXPECT_OK(db->get("listener2999", &value));
  listener->db = nullptr;
}

}  // namespace
}  // namespace fsdb
