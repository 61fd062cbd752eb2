// engine/: a MANIFEST write that fails may still have reached the file.
//
// Regression test. When a compaction's MANIFEST append succeeded but its sync
// failed, log_and_apply() reported the error and run_compaction() deleted the
// compaction's outputs as "never named by the MANIFEST" — but the record was in
// the MANIFEST, so the reopened DB named tables that no longer existed
// (Corruption: a live table file is missing). Found by tools/crashtest's errors
// mode (seed 301).
#include <atomic>
#include <chrono>
#include <functional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

// Forwards to posix; once armed, fails MANIFEST writes. By default each sync()
// fails after the bytes were written (the record is in the file, its
// durability unknown); with `fail_edits`, instead, every append to a MANIFEST
// that already holds something fails, as a full disk would: at open, the fresh
// MANIFEST's snapshot is written, and the edit naming the tables the replay
// wrote is not.
class FailingManifestFileSystem final : public FileSystemWrapper {
 public:
  std::atomic<bool> armed{false};
  std::atomic<bool> fail_edits{false};
  std::atomic<int> failures{0};
  // Runs in the failing sync() before it returns (set before arming).
  std::function<void()> before_failing;

  class File final : public WritableFileWrapper {
   public:
    File(std::unique_ptr<WritableFile> base, FailingManifestFileSystem* fs)
        : WritableFileWrapper(std::move(base)), fs_(fs) {}
    Status append(std::string_view data) override {
      if (failing() && fs_->fail_edits.load() && size() > 0) {
        fs_->failures.fetch_add(1);
        return Status::IOError(path() + ": injected write failure: no space left on device");
      }
      return WritableFileWrapper::append(data);
    }
    Status sync() override {
      if (failing() && !fs_->fail_edits.load()) {
        (void)flush();
        if (fs_->before_failing) fs_->before_failing();
        fs_->failures.fetch_add(1);
        return Status::IOError(path() + ": injected fdatasync failure");
      }
      return WritableFileWrapper::sync();
    }

   private:
    bool failing() const {
      return fs_->armed.load() && path().find("MANIFEST") != std::string::npos;
    }
    FailingManifestFileSystem* fs_;
  };

  FailingManifestFileSystem() : FileSystemWrapper(posix_file_system()) {}
  Status new_writable_file(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = FileSystemWrapper::new_writable_file(p, f);
    if (s.ok()) *f = std::make_unique<File>(std::move(*f), this);
    return s;
  }
  Status new_appendable_file(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = FileSystemWrapper::new_appendable_file(p, f);
    if (s.ok()) *f = std::make_unique<File>(std::move(*f), this);
    return s;
  }
};

std::string key_of(int i) { return "key" + std::to_string(100000 + i); }

void write_tables(DB& db, int tables, int keys_per_table) {
  for (int t = 0; t < tables; ++t) {
    for (int i = 0; i < keys_per_table; ++i) {
      ASSERT_TRUE(db.put(key_of(i * tables + t), "value" + std::to_string(t)).ok());
    }
    ASSERT_TRUE(db.flush().ok());
  }
}

// Compaction happens only when asked for.
Options manual_compaction_options(std::shared_ptr<FileSystem> fs) {
  Options options;
  options.file_system = std::move(fs);
  options.max_background_error_resumes = 0;  // the error stays until the test ends it
  options.l0_compaction_trigger = 50;
  options.l0_slowdown_writes_trigger = 50;
  options.l0_stop_writes_trigger = 50;
  return options;
}

// Every key write_tables() wrote reads back with its value.
void expect_every_table_key(DB& db, int tables, int keys_per_table) {
  std::string value;
  for (int i = 0; i < tables * keys_per_table; ++i) {
    Status s = db.get(key_of(i), &value);
    ASSERT_TRUE(s.ok()) << key_of(i) << ": " << s.to_string();
    EXPECT_EQ(value, "value" + std::to_string(i % tables));
  }
}

TEST(DBManifestSyncErrorTest, FailedCompactionKeepsOutputsTheManifestMayName) {
  test::ScratchDir dir;
  auto fs = std::make_shared<FailingManifestFileSystem>();
  const Options options = manual_compaction_options(fs);
  constexpr int kTables = 4, kKeys = 200;
  {
    std::unique_ptr<DB> db;
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
    write_tables(*db, kTables, kKeys);
    fs->armed = true;
    Status s = db->compact_range(std::nullopt, std::nullopt);
    EXPECT_FALSE(s.ok()) << "the MANIFEST sync failed";
    EXPECT_GT(fs->failures.load(), 0);
    (void)db->close();
  }
  fs->armed = false;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  expect_every_table_key(*db, kTables, kKeys);
  std::unique_ptr<Iterator> it = db->new_iterator();
  int n = 0;
  for (it->seek_to_first(); it->valid(); it->next()) ++n;
  FSDB_EXPECT_OK(it->status());
  EXPECT_EQ(n, kTables * kKeys);
}

// close() stops compactions; one that fails for a reason of its own while
// close() waits for it is still a background error: close() reports it (and
// deletes no file, leaving the next open to decide).
TEST(DBManifestSyncErrorTest, CompactionThatFailsDuringCloseIsReportedByClose) {
  test::ScratchDir dir;
  auto fs = std::make_shared<FailingManifestFileSystem>();
  std::atomic<bool> sync_reached{false};
  std::atomic<bool> closing{false};
  fs->before_failing = [&] {
    sync_reached = true;
    while (!closing.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    // close() raises its stop flag first thing; give it time to.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  };
  const Options options = manual_compaction_options(fs);
  constexpr int kTables = 4, kKeys = 200;
  {
    std::unique_ptr<DB> db;
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
    write_tables(*db, kTables, kKeys);
    fs->armed = true;
    Status manual;
    std::thread compactor([&] { manual = db->compact_range(std::nullopt, std::nullopt); });
    while (!sync_reached.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    closing = true;
    Status s = db->close();
    compactor.join();
    EXPECT_TRUE(s.is_io_error()) << "close() must report it: " << s.to_string();
    EXPECT_NE(s.to_string().find("injected fdatasync failure"), std::string::npos) << s.to_string();
    EXPECT_FALSE(manual.ok());
  }
  fs->armed = false;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  expect_every_table_key(*db, kTables, kKeys);
}

TEST(DBManifestSyncErrorTest, FailedFlushKeepsItsTable) {
  test::ScratchDir dir;
  auto fs = std::make_shared<FailingManifestFileSystem>();
  Options options;
  options.file_system = fs;
  options.max_background_error_resumes = 0;  // the error stays until the test ends it
  options.l0_compaction_trigger = 2;  // compactions (and their cleanups) may run around the flush
  {
    std::unique_ptr<DB> db;
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
    write_tables(*db, 3, 100);
    for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), "last"));
    fs->armed = true;
    EXPECT_FALSE(db->flush().ok());
    // Any cleanup the DB does after the failure must spare the table.
    (void)db->compact_range(std::nullopt, std::nullopt);
    (void)db->close();
  }
  fs->armed = false;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  std::string value;
  for (int i = 0; i < 100; ++i) {
    Status s = db->get(key_of(i), &value);
    ASSERT_TRUE(s.ok()) << key_of(i) << ": " << s.to_string();
    EXPECT_EQ(value, "last");
  }
}

// An open whose replay wrote tables and then failed (at its MANIFEST write, as
// on a full disk) leaves those tables behind. The next open removes them
// before its replay writes new ones: retrying an open does not take more room
// each time.
TEST(DBManifestSyncErrorTest, FailedOpensDoNotPileUpReplayedTables) {
  test::ScratchDir dir;
  auto fs = std::make_shared<FailingManifestFileSystem>();
  fs->fail_edits = true;
  Options options;
  options.file_system = fs;
  options.max_background_error_resumes = 0;  // the error stays until the test ends it
  constexpr int kKeys = 3000;
  {
    std::unique_ptr<DB> db;
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
    for (int i = 0; i < kKeys; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(100, 'v')));
    FSDB_ASSERT_OK(db->close());  // the writes stay in the log: nothing was flushed
  }
  const auto tables = [&] {
    std::vector<std::string> names;
    EXPECT_TRUE(posix_file_system()->get_children(dir.path(), &names).ok());
    std::set<std::string> found;
    for (const std::string& n : names) {
      if (n.ends_with(".sst")) found.insert(n);
    }
    return found;
  };
  ASSERT_TRUE(tables().empty());
  Options small = options;
  small.memtable_bytes = 64 << 10;  // the replay writes several tables
  fs->armed = true;
  std::unique_ptr<DB> db;
  EXPECT_FALSE(DB::open(small, dir.path(), &db).ok());
  std::set<std::string> before = tables();
  ASSERT_GT(before.size(), 1u) << "the replay wrote tables before the open failed";
  for (int attempt = 2; attempt <= 4; ++attempt) {
    EXPECT_FALSE(DB::open(small, dir.path(), &db).ok());
    // Each open writes about as many tables (how many depends on the
    // memtable's random node heights); none of the earlier ones is left.
    const std::set<std::string> after = tables();
    for (const std::string& name : before) {
      EXPECT_EQ(after.count(name), 0u)
          << name << " left by an earlier failed open, at open " << attempt;
    }
    EXPECT_LE(after.size(), before.size() + 1) << "open " << attempt;
    before = after;
  }
  fs->armed = false;
  FSDB_ASSERT_OK(DB::open(small, dir.path(), &db));
  std::string value;
  for (int i = 0; i < kKeys; ++i) {
    Status s = db->get(key_of(i), &value);
    ASSERT_TRUE(s.ok()) << key_of(i) << ": " << s.to_string();
    EXPECT_EQ(value, std::string(100, 'v'));
  }
}

}  // namespace
}  // namespace fsdb
