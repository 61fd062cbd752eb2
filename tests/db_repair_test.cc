// engine/: repair_db(), which rebuilds a DB from what its files still hold.
// A DB whose CURRENT or MANIFEST is lost or damaged, or one of whose tables
// is damaged or missing, opens again afterwards with every key the damage
// did not take, each at its newest value; what was lost is reported by file
// and offset; tables the MANIFEST shows replaced stay out, so that nothing
// deleted comes back; and the old files are kept in lost/.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "fsdb/env.h"
#include "tests/support/db_contents.h"
#include "tests/support/log_bytes.h"
#include "tests/support/test_util.h"
#include "wal/log_reader.h"
#include "wal/write_batch_encoding.h"

namespace fsdb {
namespace {

namespace fs = std::filesystem;

std::string key_of(int i) { return "key" + std::to_string(100000 + i); }

using Model = test::KeyValues;

Model contents(DB& db) { return test::db_contents(db); }

std::vector<fs::path> files_with(const std::string& dir, const std::string& extension) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file() && entry.path().extension() == extension) {
      out.push_back(entry.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<fs::path> manifests_in(const std::string& dir) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().starts_with("MANIFEST-")) out.push_back(entry.path());
  }
  return out;
}

void flip_byte(const fs::path& file, uint64_t offset) {
  ASSERT_TRUE(test::flip_byte(file.string(), offset)) << file << " at " << offset;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const std::string& line : lines) out += line + "\n";
  return out;
}

class DBRepairTest : public ::testing::Test {
 protected:
  DBRepairTest() {
    options_.memtable_bytes = 64 << 10;  // several tables
    options_.l0_compaction_trigger = 2;
  }

  // Tables on several levels, overwrites and deletions among them, and
  // writes only in the log; returns what the DB holds, closed.
  Model build_db() {
    std::unique_ptr<DB> db;
    EXPECT_TRUE(test::is_ok(DB::open(options_, dir_.path(), &db)));
    Model model;
    const std::string value(200, 'v');
    for (int i = 0; i < 2000; ++i) {
      EXPECT_TRUE(test::is_ok(db->put(key_of(i), value + std::to_string(i))));
      model[key_of(i)] = value + std::to_string(i);
    }
    EXPECT_TRUE(test::is_ok(db->compact_range(std::nullopt, std::nullopt)));
    for (int i = 0; i < 2000; i += 3) {
      EXPECT_TRUE(test::is_ok(db->put(key_of(i), "second " + std::to_string(i))));
      model[key_of(i)] = "second " + std::to_string(i);
    }
    for (int i = 1; i < 2000; i += 7) {
      EXPECT_TRUE(test::is_ok(db->remove(key_of(i))));
      model.erase(key_of(i));
    }
    EXPECT_TRUE(test::is_ok(db->flush()));
    // Left in the log: close() does not flush writes the log holds.
    for (int i = 2000; i < 2100; ++i) {
      EXPECT_TRUE(test::is_ok(db->put(key_of(i), "logged " + std::to_string(i))));
      model[key_of(i)] = "logged " + std::to_string(i);
    }
    EXPECT_TRUE(test::is_ok(db->remove(key_of(2))));
    model.erase(key_of(2));
    EXPECT_TRUE(test::is_ok(db->close()));
    return model;
  }

  Model contents_after_open() {
    std::unique_ptr<DB> db;
    Status s = DB::open(options_, dir_.path(), &db);
    EXPECT_TRUE(test::is_ok(s));
    if (!s.ok()) return {};
    return contents(*db);
  }

  // Damages the last record of the live MANIFEST (taking off the mark its
  // close() appended, as a writer that died leaves it): the open drops that
  // record as a torn write.
  void damage_last_manifest_edit() {
    const std::string current = read_file(dir_.file("CURRENT"));
    ASSERT_TRUE(current.ends_with("\n"));
    const std::string manifest = dir_.file(current.substr(0, current.size() - 1));
    std::string bytes = read_file(manifest);
    bytes.resize(test::bytes_before_closing_sync_mark(bytes));
    bytes[bytes.size() - 3] ^= 0x20;
    std::ofstream(manifest, std::ios::binary | std::ios::trunc) << bytes;
  }

  // "zombie" put and flushed into a table, then deleted, and the deletion
  // compacted to the bottom level (the tombstone gone with the value); the
  // first table, which that replaced, is then put back, as a crash between
  // the MANIFEST edit and the deletion of the file leaves it. "other" stays.
  void build_db_with_a_replaced_table_left_behind() {
    std::unique_ptr<DB> db;
    ASSERT_TRUE(test::is_ok(DB::open(options_, dir_.path(), &db)));
    ASSERT_TRUE(test::is_ok(db->put("zombie", "old value")));
    ASSERT_TRUE(test::is_ok(db->put("other", "kept")));
    ASSERT_TRUE(test::is_ok(db->flush()));
    const std::vector<fs::path> first = files_with(dir_.path(), ".sst");
    ASSERT_EQ(first.size(), 1u);
    const fs::path saved = dir_.file("saved-table");
    fs::copy_file(first[0], saved);
    ASSERT_TRUE(test::is_ok(db->remove("zombie")));
    ASSERT_TRUE(test::is_ok(db->flush()));
    ASSERT_TRUE(test::is_ok(db->compact_range(std::nullopt, std::nullopt)));
    ASSERT_TRUE(test::is_ok(db->close()));
    db.reset();
    ASSERT_FALSE(fs::exists(first[0]));
    fs::rename(saved, first[0]);
  }

  // Opens the DB (its log written, not mapped), writes key_of(0..19) each
  // synced and key_of(20..end-1) not, and copies the log as it is then: in
  // the OS, before a later sync or close() marks the rest synced. Returns the
  // log's path; the copy is log_copy().
  fs::path write_a_log_synced_then_not(std::unique_ptr<DB>* db, int end) {
    options_.use_mmap_writes = false;
    EXPECT_TRUE(test::is_ok(DB::open(options_, dir_.path(), db)));
    WriteOptions synced;
    synced.sync = true;
    for (int i = 0; i < 20; ++i) {
      EXPECT_TRUE(test::is_ok((*db)->put(synced, key_of(i), std::string(1000, 's'))));
    }
    for (int i = 20; i < end; ++i) {
      EXPECT_TRUE(test::is_ok((*db)->put(key_of(i), std::string(1000, 'u'))));
    }
    const std::vector<fs::path> logs = files_with(dir_.path(), ".log");
    EXPECT_EQ(logs.size(), 1u);
    fs::copy_file(logs.at(0), log_copy());
    return logs.at(0);
  }
  fs::path log_copy() const { return dir_.file("log-copy"); }

  // 3000 keys in level-0 tables of their own key ranges (no compaction),
  // closed; returns the tables' paths in order.
  std::vector<fs::path> build_level0_tables() {
    options_.l0_compaction_trigger = 50;
    options_.l0_slowdown_writes_trigger = 50;
    options_.l0_stop_writes_trigger = 50;
    std::unique_ptr<DB> db;
    EXPECT_TRUE(test::is_ok(DB::open(options_, dir_.path(), &db)));
    for (int i = 0; i < 3000; ++i) {
      EXPECT_TRUE(test::is_ok(db->put(key_of(i), std::string(150, 'x'))));
    }
    EXPECT_TRUE(test::is_ok(db->flush()));
    EXPECT_TRUE(test::is_ok(db->close()));
    return files_with(dir_.path(), ".sst");
  }

  // The DB's files as they are now, to go back to with restore_files().
  void save_files() {
    fs::create_directory(saved_files());
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      if (entry.is_regular_file())
        fs::copy_file(entry.path(), saved_files() / entry.path().filename());
    }
  }
  void restore_files() {
    for (const auto& entry : fs::directory_iterator(dir_.path())) {
      if (entry.is_regular_file()) fs::remove(entry.path());
    }
    fs::remove_all(dir_.file("lost"));
    for (const auto& entry : fs::directory_iterator(saved_files())) {
      fs::copy_file(entry.path(), dir_.file(entry.path().filename().string()));
    }
    fs::remove_all(saved_files());
  }
  fs::path saved_files() const { return dir_.file("saved-files"); }

  test::ScratchDir dir_;
  Options options_;
};

TEST_F(DBRepairTest, AHealthyDBKeepsEveryKeyAtItsNewestValue) {
  const Model model = build_db();
  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_TRUE(report.manifest_read_whole);
  EXPECT_TRUE(report.problems.empty()) << joined(report.problems);
  EXPECT_GT(report.tables_read, 0u);
  EXPECT_EQ(report.logs_replayed, 1u);
  EXPECT_EQ(report.log_records_replayed, 101u);
  EXPECT_EQ(report.keys_kept, model.size());
  EXPECT_GT(report.tables_written, 0u);
  EXPECT_EQ(report.lost_dir, dir_.file("lost"));
  EXPECT_FALSE(files_with(report.lost_dir, ".sst").empty());
  EXPECT_EQ(files_with(report.lost_dir, ".log").size(), 1u);

  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  EXPECT_EQ(contents(*db), model);
  // Writes go on, newer than everything repaired, and survive reopening.
  FSDB_ASSERT_OK(db->put(key_of(0), "after"));
  FSDB_ASSERT_OK(db->remove(key_of(3)));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  Model expected = model;
  expected[key_of(0)] = "after";
  expected.erase(key_of(3));
  EXPECT_EQ(contents_after_open(), expected);

  // Again: the same DB, the earlier files beside the first ones in lost/.
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_TRUE(report.problems.empty()) << joined(report.problems);
  EXPECT_EQ(contents_after_open(), expected);
  // destroy_db() leaves lost/ (and so the directory) to the user.
  FSDB_ASSERT_OK(destroy_db(dir_.path(), options_));
  EXPECT_TRUE(fs::exists(dir_.file("lost")));
  EXPECT_FALSE(fs::exists(dir_.file("CURRENT")));
}

TEST_F(DBRepairTest, ADBWithoutCurrentIsRebuilt) {
  const Model model = build_db();
  fs::remove(dir_.file("CURRENT"));
  std::unique_ptr<DB> db;
  EXPECT_FALSE(DB::open(options_, dir_.path(), &db).ok());
  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_FALSE(report.manifest_read_whole);
  EXPECT_FALSE(report.problems.empty());
  EXPECT_EQ(contents_after_open(), model);
}

TEST_F(DBRepairTest, ADamagedManifestIsRebuilt) {
  const Model model = build_db();
  EXPECT_EQ(contents_after_open(), model);  // an open starts a MANIFEST with the whole version
  const std::vector<fs::path> manifests = manifests_in(dir_.path());
  ASSERT_EQ(manifests.size(), 1u);
  flip_byte(manifests[0], 20);  // inside its first record: the list of every table is lost
  std::unique_ptr<DB> db;
  const Status opened = DB::open(options_, dir_.path(), &db);
  ASSERT_TRUE(opened.is_corruption()) << opened.to_string();
  db.reset();

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_FALSE(report.manifest_read_whole);
  EXPECT_NE(joined(report.problems).find(manifests[0].string()), std::string::npos)
      << joined(report.problems);
  EXPECT_EQ(contents_after_open(), model);
}

TEST_F(DBRepairTest, ADamagedTableKeepsTheEntriesOfItsOtherBlocks) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  Model model;
  for (int i = 0; i < 3000; ++i) {
    FSDB_ASSERT_OK(db->put(key_of(i), std::string(150, 'a' + i % 26)));
    model[key_of(i)] = std::string(150, 'a' + i % 26);
  }
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  const std::string damaged = test::corrupt_a_table(dir_.path());
  ASSERT_FALSE(damaged.empty());

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_TRUE(report.manifest_read_whole);
  EXPECT_EQ(report.tables_salvaged, 1u);
  const std::string problems = joined(report.problems);
  EXPECT_NE(problems.find(damaged + ": block at offset 0"), std::string::npos) << problems;
  // The block's problem names the file and the offset once, not twice over.
  EXPECT_EQ(problems.find(damaged + ": block at offset 0: " + damaged), std::string::npos)
      << problems;
  EXPECT_TRUE(fs::exists(report.lost_dir + "/" + fs::path(damaged).filename().string()));

  // Every key but those of the one damaged block, each with its value.
  const Model repaired = contents_after_open();
  EXPECT_LT(repaired.size(), model.size());
  EXPECT_GT(repaired.size(), model.size() - 40) << "more than one 4 KiB block lost";
  EXPECT_EQ(report.keys_kept, repaired.size());
  for (const auto& [key, value] : repaired) {
    auto it = model.find(key);
    ASSERT_NE(it, model.end()) << key;
    EXPECT_EQ(value, it->second) << key;
  }
}

TEST_F(DBRepairTest, AMissingTableIsReportedAndTheRestKept) {
  const std::vector<fs::path> tables = build_level0_tables();
  ASSERT_GE(tables.size(), 3u);
  fs::remove(tables[1]);
  std::unique_ptr<DB> db;
  EXPECT_TRUE(DB::open(options_, dir_.path(), &db).is_corruption());
  db.reset();

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_missing, 1u);
  EXPECT_NE(joined(report.problems).find(tables[1].string() + ": missing"), std::string::npos)
      << joined(report.problems);
  const Model repaired = contents_after_open();
  EXPECT_LT(repaired.size(), 3000u);
  EXPECT_GT(repaired.size(), 0u);
  EXPECT_EQ(report.keys_kept, repaired.size());
}

// A table a compaction replaced, left behind (as a crash between the
// MANIFEST edit and the deletion leaves it): its value for a key deleted
// since must not come back.
TEST_F(DBRepairTest, ATableTheManifestShowsReplacedStaysOut) {
  build_db_with_a_replaced_table_left_behind();

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_obsolete, 1u);
  const Model repaired = contents_after_open();
  EXPECT_EQ(repaired, (Model{{"other", "kept"}}));
}

// Without CURRENT, with a newer MANIFEST that holds nothing (an open cut
// short while writing its first record leaves one), and the live one
// damaged: the live one's edits that still read keep the replaced table out.
TEST_F(DBRepairTest, AnEmptyNewerManifestDefersToTheOlderOne) {
  build_db_with_a_replaced_table_left_behind();
  fs::remove(dir_.file("CURRENT"));
  const std::vector<fs::path> manifests = manifests_in(dir_.path());
  ASSERT_EQ(manifests.size(), 1u);
  flip_byte(manifests[0], 20);  // its first record; the edits after it read
  { std::ofstream empty(dir_.file("MANIFEST-000999"), std::ios::binary); }

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_obsolete, 1u) << joined(report.problems);
  EXPECT_EQ(contents_after_open(), (Model{{"other", "kept"}})) << joined(report.problems);
}

// The same with a damaged MANIFEST: the edit that removed the table still
// reads, and keeps it out.
TEST_F(DBRepairTest, ATableAReadableEditRemovedStaysOutOfADamagedManifest) {
  build_db_with_a_replaced_table_left_behind();
  const std::vector<fs::path> manifests = manifests_in(dir_.path());
  ASSERT_EQ(manifests.size(), 1u);
  flip_byte(manifests[0], 20);

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_FALSE(report.manifest_read_whole);
  EXPECT_EQ(report.tables_obsolete, 1u);
  EXPECT_EQ(contents_after_open(), (Model{{"other", "kept"}})) << joined(report.problems);
}

// A flushed log left behind, whose key was compacted since (its newest
// value settled at sequence 0, below any log record): a whole MANIFEST's
// first log keeps it out.
TEST_F(DBRepairTest, AFlushedLogLeftBehindStaysOut) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  FSDB_ASSERT_OK(db->put("key", "old value"));
  const std::vector<fs::path> logs = files_with(dir_.path(), ".log");
  ASSERT_EQ(logs.size(), 1u);
  const fs::path saved = dir_.file("saved-log");
  fs::copy_file(logs[0], saved);
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->put("key", "new value"));
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  ASSERT_FALSE(fs::exists(logs[0]));
  fs::rename(saved, logs[0]);

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_TRUE(report.manifest_read_whole);
  EXPECT_EQ(report.logs_replayed, 1u);  // the log the MANIFEST names, empty
  EXPECT_EQ(contents_after_open(), (Model{{"key", "new value"}}));
}

// Without any MANIFEST every table counts; of two tables holding the same
// settled key (sequence 0), the newer table's value is the one kept.
TEST_F(DBRepairTest, WithoutAManifestTheNewerTableWinsATie) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  FSDB_ASSERT_OK(db->put("key", "old value"));
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));
  const std::vector<fs::path> first = files_with(dir_.path(), ".sst");
  ASSERT_EQ(first.size(), 1u);
  const fs::path saved = dir_.file("saved-table");
  fs::copy_file(first[0], saved);
  FSDB_ASSERT_OK(db->put("key", "new value"));
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  ASSERT_EQ(files_with(dir_.path(), ".sst").size(), 1u);
  fs::rename(saved, first[0]);
  fs::remove(dir_.file("CURRENT"));
  for (const fs::path& m : manifests_in(dir_.path())) fs::remove(m);

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_read, 2u);
  EXPECT_EQ(contents_after_open(), (Model{{"key", "new value"}}));
}

// A MANIFEST whose last edit, a compaction's, is damaged: the compaction had
// deleted its inputs, so its output, which the MANIFEST no longer names, is
// the only copy of their data, and counts.
TEST_F(DBRepairTest, AnOutputOnlyADamagedLastEditNamedIsKept) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  Model model;
  for (int i = 0; i < 500; ++i) {
    FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'o')));
    model[key_of(i)] = std::string(100, 'o');
  }
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  damage_last_manifest_edit();  // the compaction's
  EXPECT_FALSE(DB::open(options_, dir_.path(), &db).ok());
  db.reset();
  save_files();

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_TRUE(report.manifest_read_whole);
  EXPECT_EQ(report.tables_missing, 1u) << joined(report.problems);
  EXPECT_EQ(contents_after_open(), model) << joined(report.problems);

  // The same with a block of that output damaged too: with its inputs gone
  // it is no unfinished output but the only copy, and is salvaged.
  restore_files();
  ASSERT_EQ(files_with(dir_.path(), ".sst").size(), 1u);
  ASSERT_FALSE(test::corrupt_a_table(dir_.path()).empty());
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_salvaged, 1u) << joined(report.problems);
  EXPECT_EQ(report.tables_unfinished, 0u);
  const Model salvaged = contents_after_open();
  EXPECT_GT(salvaged.size(), 400u);
  EXPECT_LT(salvaged.size(), 500u);
}

// A table a compaction moved to the next level is removed and added back by
// one edit: replaying the edits of a MANIFEST that lost its last one keeps it.
TEST_F(DBRepairTest, ATableMovedDownALevelIsKeptWhenTheLastEditIsLost) {
  options_.light_upper_level_compression = false;  // else a move into the bottom level rewrites
  options_.l0_compaction_trigger = 1;              // each flushed table moves to level 1
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  auto wait_for_the_move = [&] {
    for (int i = 0; i < 500 && db->property("fsdb.num-files-at-level0") != "0"; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    ASSERT_EQ(db->property("fsdb.num-files-at-level0"), "0");
  };
  FSDB_ASSERT_OK(db->put("moved", "value"));
  FSDB_ASSERT_OK(db->flush());
  const std::vector<fs::path> tables = files_with(dir_.path(), ".sst");
  ASSERT_EQ(tables.size(), 1u);
  wait_for_the_move();
  ASSERT_EQ(files_with(dir_.path(), ".sst"), tables) << "not moved: rewritten";
  FSDB_ASSERT_OK(db->put("later", "value"));
  FSDB_ASSERT_OK(db->flush());
  wait_for_the_move();
  FSDB_ASSERT_OK(db->close());
  db.reset();
  damage_last_manifest_edit();  // the second table's move

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_obsolete, 0u) << joined(report.problems);
  EXPECT_EQ(contents_after_open(), (Model{{"later", "value"}, {"moved", "value"}}))
      << joined(report.problems);
}

// A table no edit names that does not read whole: with a whole MANIFEST
// that lost its last edit, the output of a flush or compaction a crash cut
// short (left out, not counted as damage); with a damaged MANIFEST, whose
// lost records may have named it, a damaged table like any other.
TEST_F(DBRepairTest, AnUnnamedTableThatDoesNotReadIsAnUnfinishedOutput) {
  options_.l0_compaction_trigger = 50;  // the last edit is a flush's
  options_.l0_slowdown_writes_trigger = 50;
  options_.l0_stop_writes_trigger = 50;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 500; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'u')));
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->put("last", "edit"));
  const std::vector<fs::path> logs = files_with(dir_.path(), ".log");
  ASSERT_EQ(logs.size(), 1u);
  const fs::path saved = dir_.file("saved-log");
  fs::copy_file(logs[0], saved);
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->close());
  db.reset();
  // As a crash before the flush's edit was synced leaves it: the edit torn,
  // the log it would have retired still there.
  fs::rename(saved, logs[0]);
  const std::vector<fs::path> tables = files_with(dir_.path(), ".sst");
  ASSERT_FALSE(tables.empty());
  const fs::path unfinished = dir_.file("000900.sst");
  fs::copy_file(tables[0], unfinished);
  fs::resize_file(unfinished, fs::file_size(unfinished) / 2);
  damage_last_manifest_edit();
  save_files();

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_unfinished, 1u) << joined(report.problems);
  EXPECT_EQ(report.tables_unreadable, 0u);
  EXPECT_EQ(contents_after_open().size(), 501u) << joined(report.problems);

  // The same files with the MANIFEST's first record damaged too.
  restore_files();
  const std::vector<fs::path> manifests = manifests_in(dir_.path());
  ASSERT_EQ(manifests.size(), 1u);
  flip_byte(manifests[0], 20);
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_unfinished, 0u);
  EXPECT_EQ(report.tables_unreadable, 1u) << joined(report.problems);
  EXPECT_EQ(contents_after_open().size(), 501u) << joined(report.problems);
}

// Fails every rename to a name ending in `target` (CURRENT, or a new
// MANIFEST taking its name); with `keep_files`, every removal too, as a
// crash there leaves the files.
class FailingRename : public FileSystemWrapper {
 public:
  FailingRename(std::string target, bool keep_files)
      : FileSystemWrapper(posix_file_system()),
        target_(std::move(target)),
        keep_files_(keep_files) {}
  Status rename_file(const std::string& from, const std::string& to) override {
    if (to.find(target_) != std::string::npos) return Status::IOError(to + ": refused");
    return FileSystemWrapper::rename_file(from, to);
  }
  Status remove_file(const std::string& path) override {
    if (keep_files_) return Status::IOError(path + ": refused");
    return FileSystemWrapper::remove_file(path);
  }

 private:
  const std::string target_;
  const bool keep_files_;
};

// A repair that fails before its MANIFEST is in place leaves the DB as it
// was, and one run again (here without CURRENT at all) gives the same DB.
TEST_F(DBRepairTest, ARepairRunAgainAfterOneThatFailedKeepsEveryValue) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  FSDB_ASSERT_OK(db->put("key", "v1"));
  FSDB_ASSERT_OK(db->put("deleted", "x"));
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->put("key", "v2"));
  FSDB_ASSERT_OK(db->remove("deleted"));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  const Model expected = {{"key", "v2"}};

  Options failing = options_;
  failing.file_system = std::make_shared<FailingRename>("/CURRENT", /*keep_files=*/false);
  RepairReport report;
  EXPECT_TRUE(repair_db(dir_.path(), failing, &report).is_io_error());
  EXPECT_FALSE(report.installed);
  EXPECT_EQ(files_with(dir_.path(), ".sst").size(), 1u) << "the new tables are removed";
  EXPECT_EQ(manifests_in(dir_.path()).size(), 1u) << "and so is the new MANIFEST";

  // Crashes at the same point, and while the new MANIFEST takes its name,
  // leave the new files beside the old ones; without CURRENT the newest
  // MANIFEST is then the live one or the repair's own, whole.
  failing.file_system = std::make_shared<FailingRename>("/MANIFEST-", /*keep_files=*/true);
  EXPECT_TRUE(repair_db(dir_.path(), failing, &report).is_io_error());
  EXPECT_EQ(manifests_in(dir_.path()).size(), 1u);
  failing.file_system = std::make_shared<FailingRename>("/CURRENT", /*keep_files=*/true);
  EXPECT_TRUE(repair_db(dir_.path(), failing, &report).is_io_error());
  EXPECT_EQ(manifests_in(dir_.path()).size(), 2u);
  fs::remove(dir_.file("CURRENT"));
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(contents_after_open(), expected) << joined(report.problems);
  // The same once more, now that a repair has run.
  fs::remove(dir_.file("CURRENT"));
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(contents_after_open(), expected) << joined(report.problems);
}

// The same for a log that was flushed and left behind, and a damaged
// MANIFEST, whose edits that can still be read tell which logs were flushed.
TEST_F(DBRepairTest, ALogTheManifestShowsFlushedStaysOut) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  FSDB_ASSERT_OK(db->put("zombie", "old value"));
  FSDB_ASSERT_OK(db->put("other", "kept"));
  const std::vector<fs::path> logs = files_with(dir_.path(), ".log");
  ASSERT_EQ(logs.size(), 1u);
  const fs::path saved = dir_.file("saved-log");
  fs::copy_file(logs[0], saved);
  FSDB_ASSERT_OK(db->remove("zombie"));
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));
  FSDB_ASSERT_OK(db->put("later", "kept too"));
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->close());
  db.reset();
  ASSERT_FALSE(fs::exists(logs[0]));
  fs::rename(saved, logs[0]);
  const std::vector<fs::path> manifests = manifests_in(dir_.path());
  ASSERT_EQ(manifests.size(), 1u);
  flip_byte(manifests[0], 20);  // the first record; the edits after it still read

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_FALSE(report.manifest_read_whole);
  EXPECT_EQ(contents_after_open(), (Model{{"later", "kept too"}, {"other", "kept"}}))
      << joined(report.problems);
}

// Fails every move into lost/: the state a crash leaves right after the new
// MANIFEST is in place.
class NoMovesToLost : public FileSystemWrapper {
 public:
  NoMovesToLost() : FileSystemWrapper(posix_file_system()) {}
  Status rename_file(const std::string& from, const std::string& to) override {
    if (to.find("/lost/") != std::string::npos) return Status::IOError(to + ": refused");
    return FileSystemWrapper::rename_file(from, to);
  }
};

// The old files still in place after the new MANIFEST is: the DB opens as
// repaired, and a flushed log left behind is not replayed over the new
// tables (their values carry sequence 0, older than any log record).
TEST_F(DBRepairTest, OldFilesLeftInPlaceAreNotReadAgain) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  FSDB_ASSERT_OK(db->put("key", "old value"));
  const std::vector<fs::path> logs = files_with(dir_.path(), ".log");
  ASSERT_EQ(logs.size(), 1u);
  const fs::path saved = dir_.file("saved-log");
  fs::copy_file(logs[0], saved);
  FSDB_ASSERT_OK(db->put("key", "new value"));
  FSDB_ASSERT_OK(db->flush());
  FSDB_ASSERT_OK(db->close());
  db.reset();
  fs::rename(saved, logs[0]);  // flushed, left behind: repair leaves it out

  Options failing = options_;
  failing.file_system = std::make_shared<NoMovesToLost>();
  RepairReport report;
  const Status s = repair_db(dir_.path(), failing, &report);
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.to_string().find("the DB is repaired"), std::string::npos) << s.to_string();
  EXPECT_TRUE(fs::exists(logs[0]));
  EXPECT_EQ(contents_after_open(), (Model{{"key", "new value"}}));
  EXPECT_FALSE(fs::exists(logs[0])) << "the open deletes the debris";
}

// A table whose footer is gone cannot be read at all: it is reported, and
// the other tables' keys are kept.
TEST_F(DBRepairTest, ATableThatCannotBeOpenedIsReported) {
  const std::vector<fs::path> tables = build_level0_tables();
  ASSERT_GE(tables.size(), 3u);
  fs::resize_file(tables[0], fs::file_size(tables[0]) / 2);

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_EQ(report.tables_unreadable, 1u);
  EXPECT_EQ(report.tables_read, tables.size() - 1);
  EXPECT_NE(joined(report.problems).find(tables[0].string()), std::string::npos)
      << joined(report.problems);
  const Model repaired = contents_after_open();
  EXPECT_LT(repaired.size(), 3000u);
  EXPECT_GT(repaired.size(), 0u);
}

TEST_F(DBRepairTest, ADamagedLogRecordIsSkippedAndTheRecordsAfterItKept) {
  options_.use_mmap_writes = false;  // the log's size is what was written
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 40; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(1000, 'l')));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  const std::vector<fs::path> logs = files_with(dir_.path(), ".log");
  ASSERT_EQ(logs.size(), 1u);
  const uint64_t size = fs::file_size(logs[0]);
  ASSERT_GT(size, 40000);
  flip_byte(logs[0], size / 2);

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_NE(joined(report.problems).find(logs[0].string() + ": offset "), std::string::npos)
      << joined(report.problems);
  const Model repaired = contents_after_open();
  EXPECT_EQ(repaired.size(), 39u);
  EXPECT_TRUE(repaired.contains(key_of(0)));
  EXPECT_TRUE(repaired.contains(key_of(39)));  // after the damage
}

// Damage past the log's last sync, with records after it, is what a power
// cut leaves (pages written back out of order): recovery drops everything
// from the damage on, since keeping the records after it would leave a hole,
// and repair gives back exactly what recovery does.
TEST_F(DBRepairTest, ALogDamagedPastItsLastSyncGivesBackWhatRecoveryDoes) {
  options_.use_mmap_writes = false;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 40; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(1000, 'l')));
  const std::vector<fs::path> logs = files_with(dir_.path(), ".log");
  ASSERT_EQ(logs.size(), 1u);
  const fs::path unsynced = dir_.file("unsynced-log");
  fs::copy_file(logs[0], unsynced);  // as it was before close() synced it
  FSDB_ASSERT_OK(db->close());
  db.reset();
  fs::rename(unsynced, logs[0]);
  const uint64_t size = fs::file_size(logs[0]);
  ASSERT_GT(size, 40000);
  flip_byte(logs[0], size / 2);

  test::ScratchDir other;
  fs::copy(dir_.path(), other.path(), fs::copy_options::recursive);
  Model recovered;
  {
    Options existing = options_;
    existing.create_if_missing = false;
    std::unique_ptr<DB> copy;
    FSDB_ASSERT_OK(DB::open(existing, other.path(), &copy));
    recovered = contents(*copy);
  }
  ASSERT_GT(recovered.size(), 0u);
  ASSERT_LT(recovered.size(), 40u);
  EXPECT_FALSE(recovered.contains(key_of(39)));

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  EXPECT_NE(joined(report.problems).find("bytes at the end dropped"), std::string::npos)
      << joined(report.problems);
  EXPECT_EQ(contents_after_open(), recovered);
}

// Offsets of the log's records, by the first key of each.
std::map<std::string, uint64_t> record_offsets(const std::string& path) {
  std::map<std::string, uint64_t> offsets;
  std::unique_ptr<wal::LogReader> reader;
  const uint64_t number = std::stoull(fs::path(path).stem().string());
  EXPECT_TRUE(test::is_ok(wal::LogReader::open(
      *posix_file_system(), path, number, WalRecoveryMode::kSkipAnyCorruptedRecords, &reader)));
  if (reader == nullptr) return offsets;
  std::string_view record;
  while (reader->read_record(&record)) {
    wal::DecodedWriteBatch batch;
    if (wal::decode_write_batch(record, &batch).ok() && !batch.entries.empty()) {
      offsets[std::string(batch.entries[0].key)] = reader->last_record_offset();
    }
  }
  return offsets;
}

// A log with damage in data a sync covered (which recovery refuses, and
// repair salvages past) and, later, damage past its last sync with records
// after it (what a power cut leaves): the records between the two are kept,
// those from the second damage on are not, as recovery would drop them.
TEST_F(DBRepairTest, SalvagingALogStopsAtDamagePastItsLastSync) {
  std::unique_ptr<DB> db;
  const fs::path log = write_a_log_synced_then_not(&db, 40);
  FSDB_ASSERT_OK(db->close());
  db.reset();
  fs::rename(log_copy(), log);
  const std::map<std::string, uint64_t> offsets = record_offsets(log.string());
  ASSERT_EQ(offsets.size(), 40u);
  flip_byte(log, offsets.at(key_of(5)) + 20);
  flip_byte(log, offsets.at(key_of(30)) + 20);
  EXPECT_TRUE(DB::open(options_, dir_.path(), &db).is_corruption());
  db.reset();

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  Model expected;
  for (int i = 0; i < 30; ++i) {
    if (i != 5) expected[key_of(i)] = std::string(1000, i < 20 ? 's' : 'u');
  }
  EXPECT_EQ(contents_after_open(), expected) << joined(report.problems);
  EXPECT_NE(joined(report.problems).find("damage past the log's last sync"), std::string::npos)
      << joined(report.problems);
}

// The same two kinds of damage in a log that a later log with records
// follows: that log was synced and closed before the next one began, so its
// damage is no power cut's hole (here its closing mark is gone too), and
// every record that reads is kept.
TEST_F(DBRepairTest, SalvagingALogALaterLogFollowsKeepsEveryRecordThatReads) {
  std::unique_ptr<DB> db;
  const fs::path first = write_a_log_synced_then_not(&db, 26);
  FSDB_ASSERT_OK(db->flush());
  for (int i = 30; i < 40; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(1000, 'l')));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  // Only the logs hold the writes: no table, no MANIFEST (every log counts).
  for (const fs::path& table : files_with(dir_.path(), ".sst")) fs::remove(table);
  for (const fs::path& m : manifests_in(dir_.path())) fs::remove(m);
  fs::remove(dir_.file("CURRENT"));
  fs::rename(log_copy(), first);
  const std::map<std::string, uint64_t> offsets = record_offsets(first.string());
  ASSERT_EQ(offsets.size(), 26u);
  flip_byte(first, offsets.at(key_of(5)) + 20);
  flip_byte(first, offsets.at(key_of(22)) + 20);

  RepairReport report;
  FSDB_ASSERT_OK(repair_db(dir_.path(), options_, &report));
  Model expected;
  for (int i = 0; i < 26; ++i) {
    if (i != 5 && i != 22) expected[key_of(i)] = std::string(1000, i < 20 ? 's' : 'u');
  }
  for (int i = 30; i < 40; ++i) expected[key_of(i)] = std::string(1000, 'l');
  EXPECT_EQ(contents_after_open(), expected) << joined(report.problems);
}

TEST_F(DBRepairTest, AnOpenDBIsRefused) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  FSDB_ASSERT_OK(db->put("a", "1"));
  const Status s = repair_db(dir_.path(), options_);
  EXPECT_TRUE(s.is_busy()) << s.to_string();
  FSDB_ASSERT_OK(db->close());
  db.reset();
  EXPECT_EQ(contents_after_open(), (Model{{"a", "1"}}));
}

TEST_F(DBRepairTest, ADirectoryWithoutADBIsRefused) {
  Status s = repair_db(dir_.file("missing"), options_);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  s = repair_db(dir_.path(), options_);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_FALSE(fs::exists(dir_.file("lost")));
}

}  // namespace
}  // namespace fsdb
