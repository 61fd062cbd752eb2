// engine/: DB::open_read_only(). A read-only DB reads what a DB opened for
// writing would (tables, and its logs replayed into memory), writes nothing
// to its directory, refuses every call that would, and shares the DB with
// other readers but never with a writer.
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fsdb/db.h"
#include "fsdb/write_batch.h"
#include "tests/support/db_contents.h"
#include "tests/support/directory_files.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

std::string key_of(int i) { return "key" + std::to_string(100000 + i); }

using Model = test::KeyValues;

using test::directory_files;

std::string newest_log(const std::string& dir) {
  std::string newest;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.ends_with(".log") && name > newest) newest = name;
  }
  return newest.empty() ? newest : dir + "/" + newest;
}

struct RecoveryListener final : EventListener {
  void on_recovery(const RecoveryInfo& recovered) override { info = recovered; }
  RecoveryInfo info;
};

class DBReadOnlyTest : public ::testing::Test {
 protected:
  DBReadOnlyTest() {
    options_.memtable_bytes = 64 << 10;  // several tables
    options_.l0_compaction_trigger = 2;  // and more than one level
  }

  // Tables on several levels, then writes (overwrites and deletions among
  // them) left in the log of a DB closed without a flush.
  Model fill_and_close() {
    std::unique_ptr<DB> db;
    EXPECT_TRUE(DB::open(options_, dir_.path(), &db).ok());
    Model model;
    const std::string value(150, 'v');
    for (int i = 0; i < 3000; ++i) {
      EXPECT_TRUE(db->put(key_of(i), value + std::to_string(i)).ok());
      model[key_of(i)] = value + std::to_string(i);
    }
    EXPECT_TRUE(db->compact_range(std::nullopt, std::nullopt).ok());
    // A memtable that never fills: these writes stay in the log.
    EXPECT_TRUE(db->close().ok());
    Options big_memtable = options_;
    big_memtable.memtable_bytes = 64 << 20;
    EXPECT_TRUE(DB::open(big_memtable, dir_.path(), &db).ok());
    // Rounds 0 and 2 write the even keys, round 1 the odd ones: the last
    // round's versions must win over the first's.
    for (int round = 0; round < 3; ++round) {
      for (int i = round % 2; i < 3000; i += 2) {
        const std::string v = "round" + std::to_string(round) + "-" + std::to_string(i);
        EXPECT_TRUE(db->put(key_of(i), v).ok());
        model[key_of(i)] = v;
      }
    }
    for (int i = 0; i < 3000; i += 7) {
      EXPECT_TRUE(db->remove(key_of(i)).ok());
      model.erase(key_of(i));
    }
    EXPECT_TRUE(db->close().ok());
    return model;
  }

  test::ScratchDir dir_;
  Options options_;
};

TEST_F(DBReadOnlyTest, ReadsTablesAndLogsAndWritesNothing) {
  const Model model = fill_and_close();
  const auto before = directory_files(dir_.path());

  // A small memtable: the log's writes are replayed into several of them,
  // and a newer version in a later one must win over an older one.
  Options small = options_;
  small.memtable_bytes = 64 << 10;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open_read_only(small, dir_.path(), &db));
  EXPECT_EQ(test::db_contents(*db), model);
  const std::optional<std::string> sealed = db->property("fsdb.num-sealed-memtables");
  ASSERT_TRUE(sealed.has_value());
  EXPECT_GT(std::stoi(*sealed), 1) << "the log should fill several memtables";
  EXPECT_EQ(db->property("fsdb.write-stall"), "read-only");
  std::map<std::string, std::string> stats;
  ASSERT_TRUE(db->map_property("fsdb.stats", &stats));
  EXPECT_EQ(stats["write_stall"], "read-only");
  EXPECT_EQ(stats["sealed_memtables"], *sealed);
  std::string value;
  FSDB_EXPECT_OK(db->get(key_of(1), &value));
  EXPECT_EQ(value, model.at(key_of(1)));
  EXPECT_TRUE(db->get(key_of(0), &value).is_not_found()) << "removed in the log";
  const std::string key2 = key_of(2), key7 = key_of(7);
  std::vector<std::string_view> keys = {key2, key7};
  std::vector<std::string> values;
  std::vector<Status> got = db->multi_get(ReadOptions(), keys, &values);
  FSDB_EXPECT_OK(got[0]);
  EXPECT_EQ(values[0], "round2-2") << "the last round's version, in a later memtable";
  EXPECT_TRUE(got[1].is_not_found());
  const Snapshot* snapshot = db->get_snapshot();
  ReadOptions at_snapshot;
  at_snapshot.snapshot = snapshot;
  FSDB_EXPECT_OK(db->get(at_snapshot, key_of(5), &value));
  db->release_snapshot(snapshot);

  // Every call that would write is refused, naming itself and the DB.
  WriteBatch batch;
  batch.put("k", "v");
  const std::vector<std::pair<std::string, Status>> refused = {
      {"put", db->put("k", "v")},
      {"remove", db->remove(key_of(1))},
      {"write", db->write(WriteOptions(), &batch)},
      {"flush", db->flush()},
      {"compact_range", db->compact_range(std::nullopt, std::nullopt)},
      {"sync_wal", db->sync_wal()},
      {"checkpoint", db->checkpoint(dir_.path() + "-copy")},
      {"resume", db->resume()},
  };
  for (const auto& [name, s] : refused) {
    EXPECT_TRUE(s.is_not_supported()) << name << ": " << s.to_string();
    EXPECT_NE(s.to_string().find(name + ": " + dir_.path() + " was opened read-only"),
              std::string::npos)
        << s.to_string();
  }
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "-copy"));
  EXPECT_EQ(test::db_contents(*db), model) << "a refused write changed nothing";
  FSDB_ASSERT_OK(db->close());
  db.reset();

  // Nothing was created, removed or changed (an open for writing makes a new
  // MANIFEST and a new log, and flushes what it replays).
  EXPECT_EQ(directory_files(dir_.path()), before);

  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  EXPECT_EQ(test::db_contents(*db), model);
}

TEST_F(DBReadOnlyTest, ReadersShareTheDBAndExcludeAWriter) {
  const Model model = fill_and_close();
  std::unique_ptr<DB> reader;
  std::unique_ptr<DB> second_reader;
  FSDB_ASSERT_OK(DB::open_read_only(options_, dir_.path(), &reader));
  FSDB_ASSERT_OK(DB::open_read_only(options_, dir_.path(), &second_reader));
  std::unique_ptr<DB> writer;
  Status s = DB::open(options_, dir_.path(), &writer);
  EXPECT_TRUE(s.is_busy()) << s.to_string();
  EXPECT_NE(s.to_string().find("in use"), std::string::npos) << s.to_string();

  // The first reader gone, the second still holds the DB against a writer.
  FSDB_ASSERT_OK(reader->close());
  reader.reset();
  s = DB::open(options_, dir_.path(), &writer);
  EXPECT_TRUE(s.is_busy()) << s.to_string();
  EXPECT_EQ(test::db_contents(*second_reader), model);
  FSDB_ASSERT_OK(second_reader->close());
  second_reader.reset();

  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &writer));
  s = DB::open_read_only(options_, dir_.path(), &reader);
  EXPECT_TRUE(s.is_busy()) << s.to_string();
  FSDB_ASSERT_OK(writer->put("after", "x"));
  FSDB_ASSERT_OK(writer->close());
  writer.reset();
  FSDB_ASSERT_OK(DB::open_read_only(options_, dir_.path(), &reader));
  std::string value;
  FSDB_EXPECT_OK(reader->get("after", &value));
}

// A checkpoint has no LOCK file: the read-only open makes one, empty, and
// changes nothing else.
TEST_F(DBReadOnlyTest, ACheckpointOpensReadOnlyWithOnlyItsLockMade) {
  const Model model = fill_and_close();
  const std::string copy = dir_.path() + "-checkpoint";
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  FSDB_ASSERT_OK(db->checkpoint(copy));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  auto expected = directory_files(copy);
  ASSERT_FALSE(expected.contains("LOCK"));
  FSDB_ASSERT_OK(DB::open_read_only(options_, copy, &db));
  EXPECT_EQ(test::db_contents(*db), model);
  FSDB_ASSERT_OK(db->close());
  db.reset();
  expected["LOCK"] = "";
  EXPECT_EQ(directory_files(copy), expected);
  std::filesystem::remove_all(copy);
}

TEST_F(DBReadOnlyTest, NoDBIsRefusedAndNothingIsCreated) {
  const std::string missing = dir_.file("missing");
  std::unique_ptr<DB> db;
  Options create;
  create.create_if_missing = true;  // ignored
  Status s = DB::open_read_only(create, missing, &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find(missing + ": does not exist"), std::string::npos) << s.to_string();
  EXPECT_FALSE(std::filesystem::exists(missing));

  s = DB::open_read_only(create, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("no DB here"), std::string::npos) << s.to_string();
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path())) << "not even a LOCK file";
}

// A log's torn end is read up to, reported, and left on disk: dropping it is
// a writer's job. The next open for writing drops it.
TEST_F(DBReadOnlyTest, ADamagedLogEndIsReadUpToAndLeftAsItIs) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 50; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'x')));
  FSDB_ASSERT_OK(db->close());
  db.reset();
  // The last record loses its last bytes, as a crash in its write leaves it.
  const std::string log = newest_log(dir_.path());
  ASSERT_FALSE(log.empty());
  std::string bytes = directory_files(dir_.path()).at(log.substr(log.rfind('/') + 1));
  const size_t end = bytes.find_last_not_of('\0');
  ASSERT_NE(end, std::string::npos);
  std::filesystem::resize_file(log, end + 1 - 60);
  const auto before = directory_files(dir_.path());

  auto listener = std::make_shared<RecoveryListener>();
  Options options = options_;
  options.listener = listener;
  FSDB_ASSERT_OK(DB::open_read_only(options, dir_.path(), &db));
  EXPECT_NE(listener->info.dropped_tail.find(".log: offset "), std::string::npos)
      << listener->info.dropped_tail;
  std::string value;
  FSDB_EXPECT_OK(db->get(key_of(48), &value));
  EXPECT_TRUE(db->get(key_of(49), &value).is_not_found()) << "the torn write";
  FSDB_ASSERT_OK(db->close());
  db.reset();
  EXPECT_EQ(directory_files(dir_.path()), before);

  listener->info = RecoveryInfo();
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db));
  EXPECT_NE(listener->info.dropped_tail.find(".log: offset "), std::string::npos);
  FSDB_EXPECT_OK(db->get(key_of(48), &value));
}

// A DB that lost its CURRENT is refused read-only as an open for writing
// refuses it, with the same error.
TEST_F(DBReadOnlyTest, DamageIsRefusedAsAnOpenForWritingRefusesIt) {
  fill_and_close();
  std::filesystem::remove(dir_.path() + "/CURRENT");
  std::unique_ptr<DB> db;
  Status read_only = DB::open_read_only(options_, dir_.path(), &db);
  Status writable = DB::open(options_, dir_.path(), &db);
  EXPECT_TRUE(read_only.is_corruption()) << read_only.to_string();
  EXPECT_EQ(read_only.to_string(), writable.to_string());
}

}  // namespace
}  // namespace fsdb
