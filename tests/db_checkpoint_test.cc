// engine/: DB::checkpoint(), the online backup. The copy opens as a DB of its
// own holding every write acknowledged before the call and, while writers
// run, one consistent state: each writer's writes up to some point and none
// after. Tables are hard links where the file system has them, copies
// otherwise; a directory that exists is refused, and a failed call leaves
// nothing behind.
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "tests/support/db_contents.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

std::string key_of(int i) { return "key" + std::to_string(100000 + i); }

using Model = test::KeyValues;

Model contents(DB& db) { return test::db_contents(db); }

std::vector<std::filesystem::path> tables_in(const std::string& dir) {
  std::vector<std::filesystem::path> tables;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".sst") tables.push_back(entry.path());
  }
  return tables;
}

class DBCheckpointTest : public ::testing::Test {
 protected:
  DBCheckpointTest() {
    options_.memtable_bytes = 64 << 10;  // a few tables, so there is something to link
    options_.l0_compaction_trigger = 2;
  }
  std::string copy_path() const { return scratch_.file("copy"); }
  // No compaction: the tables stay as they are while a test looks at them.
  void without_compaction() {
    options_.l0_compaction_trigger = 50;
    options_.l0_slowdown_writes_trigger = 50;
    options_.l0_stop_writes_trigger = 50;
  }
  // Closes the DB, reopens it and expects `expected` in it.
  void expect_after_reopen(std::unique_ptr<DB>* db, const Model& expected) {
    FSDB_ASSERT_OK((*db)->close());
    db->reset();
    FSDB_ASSERT_OK(DB::open(options_, dir_.path(), db));
    EXPECT_EQ(contents(**db), expected);
  }

  test::ScratchDir dir_;
  test::ScratchDir scratch_;  // where copies go
  Options options_;
};

// Tables on several levels, the memtable, deletions and writes made without
// the WAL: the copy holds all of them, and nothing written after the call.
TEST_F(DBCheckpointTest, ACopyOpensWithEveryWriteMadeBeforeAndNoneAfter) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  Model model;
  const std::string value(200, 'v');
  for (int i = 0; i < 3000; ++i) {
    FSDB_ASSERT_OK(db->put(key_of(i), value + std::to_string(i)));
    model[key_of(i)] = value + std::to_string(i);
  }
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));  // deeper levels
  for (int i = 0; i < 3000; i += 7) {
    FSDB_ASSERT_OK(db->remove(key_of(i)));
    model.erase(key_of(i));
  }
  WriteOptions no_wal;
  no_wal.disable_wal = true;
  for (int i = 3000; i < 3100; ++i) {
    FSDB_ASSERT_OK(db->put(no_wal, key_of(i), "unlogged"));
    model[key_of(i)] = "unlogged";
  }

  FSDB_ASSERT_OK(db->checkpoint(copy_path()));
  EXPECT_FALSE(std::filesystem::exists(copy_path() + ".checkpoint-tmp"));
  Model after = model;
  for (int i = 0; i < 500; ++i) {
    FSDB_ASSERT_OK(db->put(key_of(i), "after"));
    after[key_of(i)] = "after";
  }
  FSDB_ASSERT_OK(db->remove(key_of(1)));
  after.erase(key_of(1));

  std::unique_ptr<DB> copy;
  FSDB_ASSERT_OK(DB::open(options_, copy_path(), &copy));
  EXPECT_EQ(contents(*copy), model);
  // The copy is a DB of its own: writes to it leave the original alone.
  FSDB_ASSERT_OK(copy->put(key_of(2), "in the copy"));
  FSDB_ASSERT_OK(copy->close());
  EXPECT_EQ(contents(*db), after);
  expect_after_reopen(&db, after);
}

TEST_F(DBCheckpointTest, TablesAreHardLinksOfTheOriginals) {
  without_compaction();  // which could delete an original before it is compared
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'x')));
  FSDB_ASSERT_OK(db->checkpoint(copy_path()));
  const auto tables = tables_in(copy_path());
  ASSERT_FALSE(tables.empty());
  for (const auto& table : tables) {
    EXPECT_TRUE(
        std::filesystem::equivalent(table, std::filesystem::path(dir_.path()) / table.filename()))
        << table << " is not a link to the original";
  }
}

// A file system without hard links (the FileSystem default) gets copies.
class NoLinks final : public FileSystemWrapper {
 public:
  NoLinks() : FileSystemWrapper(posix_file_system()) {}
  Status link_file(const std::string& from, const std::string& to) override {
    return Status::NotSupported(from + ": link to " + to + ": no hard links here");
  }
};

TEST_F(DBCheckpointTest, WithoutHardLinksTablesAreCopied) {
  without_compaction();  // which could delete an original before it is compared
  options_.file_system = std::make_shared<NoLinks>();
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'x')));
  const Model model = contents(*db);
  FSDB_ASSERT_OK(db->checkpoint(copy_path()));
  const auto tables = tables_in(copy_path());
  ASSERT_FALSE(tables.empty());
  for (const auto& table : tables) {
    EXPECT_EQ(std::filesystem::hard_link_count(table), 1u) << table;
    EXPECT_EQ(std::filesystem::file_size(table),
              std::filesystem::file_size(std::filesystem::path(dir_.path()) / table.filename()));
  }
  std::unique_ptr<DB> copy;
  FSDB_ASSERT_OK(DB::open(options_, copy_path(), &copy));
  EXPECT_EQ(contents(*copy), model);
}

TEST_F(DBCheckpointTest, ADirectoryThatExistsOrHasNoParentIsRefused) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  FSDB_ASSERT_OK(db->put("k", "v"));
  std::filesystem::create_directory(copy_path());
  Status s = db->checkpoint(copy_path() + "/");
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find(copy_path() + ": exists"), std::string::npos) << s.to_string();
  EXPECT_TRUE(std::filesystem::is_empty(copy_path())) << "nothing written into it";

  const std::string orphan = scratch_.file("no/such/parent");
  s = db->checkpoint(orphan);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("no/such/parent.checkpoint-tmp"), std::string::npos)
      << s.to_string();
  EXPECT_FALSE(std::filesystem::exists(scratch_.file("no")));

  std::filesystem::create_directory(scratch_.file("left.checkpoint-tmp"));
  s = db->checkpoint(scratch_.file("left"));
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("interrupted"), std::string::npos) << s.to_string();
  EXPECT_FALSE(std::filesystem::exists(scratch_.file("left")));
}

// Neither links nor copies can be made: the call fails naming the table, and
// leaves neither the copy nor its temporary directory.
class FailingCopies final : public FileSystemWrapper {
 public:
  FailingCopies() : FileSystemWrapper(posix_file_system()) {}
  Status link_file(const std::string& from, const std::string& to) override {
    return Status::NotSupported(from + ": link to " + to + ": no hard links here");
  }
  Status new_writable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    if (path.find(".checkpoint-tmp/") != std::string::npos && path.ends_with(".sst")) {
      return Status::IOError(path + ": injected: No space left on device");
    }
    return FileSystemWrapper::new_writable_file(path, file);
  }
};

TEST_F(DBCheckpointTest, AFailedCheckpointLeavesNothingBehind) {
  options_.file_system = std::make_shared<FailingCopies>();
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'x')));
  const Status s = db->checkpoint(copy_path());
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.to_string().find(".sst: injected"), std::string::npos) << s.to_string();
  EXPECT_FALSE(std::filesystem::exists(copy_path()));
  EXPECT_FALSE(std::filesystem::exists(copy_path() + ".checkpoint-tmp"));
  // The DB itself goes on.
  FSDB_ASSERT_OK(db->put("after", "v"));
  EXPECT_EQ(*db->property("fsdb.background-error"), "none");
}

// A link that fails after it was made (or any failure but NotSupported) is
// an error, never a cue to copy: copying over the new name would empty the
// original, which it shares its bytes with.
class LinksThatReportFailure final : public FileSystemWrapper {
 public:
  LinksThatReportFailure() : FileSystemWrapper(posix_file_system()) {}
  Status link_file(const std::string& from, const std::string& to) override {
    (void)FileSystemWrapper::link_file(from, to);
    return Status::IOError(from + ": link to " + to + ": injected: Input/output error");
  }
};

TEST_F(DBCheckpointTest, AFailedLinkNeverEmptiesTheOriginal) {
  options_.file_system = std::make_shared<LinksThatReportFailure>();
  without_compaction();  // which would delete tables while their sizes are compared
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'x')));
  FSDB_ASSERT_OK(db->flush());
  const Model model = contents(*db);
  std::map<std::string, uintmax_t> sizes;
  for (const auto& table : tables_in(dir_.path())) {
    sizes[table.filename().string()] = std::filesystem::file_size(table);
  }
  const Status s = db->checkpoint(copy_path());
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_FALSE(std::filesystem::exists(copy_path()));
  EXPECT_FALSE(std::filesystem::exists(copy_path() + ".checkpoint-tmp"));
  for (const auto& [name, size] : sizes) {
    EXPECT_EQ(std::filesystem::file_size(std::filesystem::path(dir_.path()) / name), size) << name;
  }
  expect_after_reopen(&db, model);
}

// Two calls into one directory at once: one makes the copy, the other is
// refused, and neither touches the other's files.
TEST_F(DBCheckpointTest, TwoCallsIntoOneDirectoryMakeOneCopy) {
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  for (int i = 0; i < 3000; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'x')));
  const Model model = contents(*db);
  Status results[2];
  std::thread other([&] { results[1] = db->checkpoint(copy_path()); });
  results[0] = db->checkpoint(copy_path());
  other.join();
  ASSERT_NE(results[0].ok(), results[1].ok())
      << results[0].to_string() << " / " << results[1].to_string();
  const Status& refused = results[0].ok() ? results[1] : results[0];
  EXPECT_TRUE(refused.is_invalid_argument()) << refused.to_string();
  std::unique_ptr<DB> copy;
  FSDB_ASSERT_OK(DB::open(options_, copy_path(), &copy));
  EXPECT_EQ(contents(*copy), model);
  expect_after_reopen(&db, model);
}

// Writers and compactions run through the call. Each writer writes its own
// keys in order, so a consistent state holds a prefix of each writer's keys:
// at least those acknowledged before the call, and no gaps.
TEST_F(DBCheckpointTest, ACopyTakenWhileWritersRunHoldsAPrefixOfEachWriter) {
  constexpr int kWriters = 3;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options_, dir_.path(), &db));
  std::atomic<int> acknowledged[kWriters] = {};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  const auto writer_key = [](int w, int i) {
    return "w" + std::to_string(w) + "-" + std::to_string(1000000 + i);
  };
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; !stop.load(); ++i) {
        if (!db->put(writer_key(w, i), std::string(100, 'a' + w)).ok()) return;
        acknowledged[w].store(i + 1);
      }
    });
  }
  while (acknowledged[kWriters - 1].load() < 5000) std::this_thread::yield();
  int before[kWriters];
  for (int w = 0; w < kWriters; ++w) before[w] = acknowledged[w].load();
  const Status s = db->checkpoint(copy_path());
  stop = true;
  for (std::thread& t : writers) t.join();
  FSDB_ASSERT_OK(s);

  std::unique_ptr<DB> copy;
  FSDB_ASSERT_OK(DB::open(options_, copy_path(), &copy));
  int held[kWriters] = {};
  for (const auto& [key, value] : contents(*copy)) {
    const int w = key[1] - '0';
    ASSERT_EQ(key, writer_key(w, held[w])) << "a gap in writer " << w << "'s writes";
    ++held[w];
  }
  for (int w = 0; w < kWriters; ++w) {
    EXPECT_GE(held[w], before[w]) << "writer " << w << " lost acknowledged writes";
    EXPECT_LE(held[w], acknowledged[w].load());
  }
}

}  // namespace
}  // namespace fsdb
