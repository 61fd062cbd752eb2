// engine/: a compaction that fails on an I/O error before its MANIFEST edit
// changes nothing in the DB, so it does not stop writes: the DB reports it
// (EventListener::on_compaction_failed), pauses compactions for a back-off
// that doubles with each failure in a row, and tries again. Only a write that
// needs the room compaction would make (level 0 at its stop trigger) fails,
// with the compaction's error, instead of waiting for it; resume() ends the
// back-off. Nothing acknowledged is lost on the way.
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "tests/support/test_util.h"
#include "util/thread_name.h"

namespace fsdb {
namespace {

using std::chrono::milliseconds;

std::string key_of(int i) { return "key" + std::to_string(100000 + i); }

// Fails the creation of every table that the flush thread does not make
// (compactions run on the compaction threads and on compact_range()'s
// caller), while armed.
class FailingCompactionOutputs final : public FileSystemWrapper {
 public:
  FailingCompactionOutputs() : FileSystemWrapper(posix_file_system()) {}
  Status new_writable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    if (armed.load() && path.ends_with(".sst") && current_thread_name() != "fsdb:flush") {
      failures.fetch_add(1);
      return Status::IOError(path + ": injected: No space left on device");
    }
    return FileSystemWrapper::new_writable_file(path, file);
  }
  std::atomic<bool> armed{false};
  std::atomic<int> failures{0};
};

class CompactionListener final : public EventListener {
 public:
  void on_compaction_failed(const CompactionFailureInfo& info) override {
    std::lock_guard<std::mutex> guard(mu_);
    failures_.push_back(info);
    cv_.notify_all();
  }
  void on_compaction_completed(const CompactionInfo& /*info*/) override {
    std::lock_guard<std::mutex> guard(mu_);
    ++completed_;
    cv_.notify_all();
  }
  void on_background_error(const BackgroundErrorInfo& info) override {
    std::lock_guard<std::mutex> guard(mu_);
    background_errors_.push_back(info.status.to_string());
  }
  // Wait 30 s at most: a hang check, not a timing.
  std::vector<CompactionFailureInfo> wait_for_failures(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return failures_.size() >= n; });
    return failures_;
  }
  bool wait_for_completions(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [&] { return completed_ >= n; });
  }
  int completed() {
    std::lock_guard<std::mutex> guard(mu_);
    return completed_;
  }
  std::vector<std::string> background_errors() {
    std::lock_guard<std::mutex> guard(mu_);
    return background_errors_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<CompactionFailureInfo> failures_;
  int completed_ = 0;
  std::vector<std::string> background_errors_;
};

struct Fixture {
  explicit Fixture(uint32_t interval_ms) {
    fs = std::make_shared<FailingCompactionOutputs>();
    listener = std::make_shared<CompactionListener>();
    options.file_system = fs;
    options.listener = listener;
    options.background_error_resume_interval_ms = interval_ms;
  }
  // Writes keys [first, first + n) and flushes them into one level-0 table.
  Status write_table(DB& db, int first, int n) {
    for (int i = first; i < first + n; ++i) {
      Status s = db.put(key_of(i), "value" + std::to_string(i));
      if (!s.ok()) return s;
    }
    return db.flush();
  }
  static constexpr int kPerTable = 100;
  // Opens the DB and leaves level 0 at its stop trigger (3 tables), the
  // compaction that would drain it failed and backing off, and kPerTable
  // more keys in the memtable: keys [0, 4 * kPerTable) written in all.
  void open_with_level0_full_while_compaction_fails(std::unique_ptr<DB>* out) {
    options.l0_compaction_trigger = 2;
    options.l0_slowdown_writes_trigger = 3;
    options.l0_stop_writes_trigger = 3;
    FSDB_ASSERT_OK(DB::open(options, dir.path(), out));
    DB& db = **out;
    fs->armed = true;
    FSDB_ASSERT_OK(write_table(db, 0, kPerTable));
    FSDB_ASSERT_OK(write_table(db, kPerTable, kPerTable));
    ASSERT_EQ(listener->wait_for_failures(1).size(), 1u);
    FSDB_ASSERT_OK(write_table(db, 2 * kPerTable, kPerTable));
    ASSERT_EQ(*db.property("fsdb.num-files-at-level0"), "3");
    for (int i = 3 * kPerTable; i < 4 * kPerTable; ++i) {
      FSDB_ASSERT_OK(db.put(key_of(i), "value" + std::to_string(i))) << "the memtable has room";
    }
  }
  test::ScratchDir dir;
  std::shared_ptr<FailingCompactionOutputs> fs;
  std::shared_ptr<CompactionListener> listener;
  Options options;
};

void expect_keys(DB& db, int n) {
  std::string value;
  for (int i = 0; i < n; ++i) {
    Status s = db.get(key_of(i), &value);
    ASSERT_TRUE(s.ok()) << key_of(i) << ": " << s.to_string();
    ASSERT_EQ(value, "value" + std::to_string(i));
  }
}

TEST(DBCompactionErrorTest, AFailingCompactionLeavesWritesOnAndIsRetriedAfterABackOff) {
  Fixture f(/*interval_ms=*/20);
  f.options.l0_compaction_trigger = 2;
  f.options.l0_slowdown_writes_trigger = 100;  // no stall: writes must go on by themselves
  f.options.l0_stop_writes_trigger = 100;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  f.fs->armed = true;
  constexpr int kPerTable = 100;
  FSDB_ASSERT_OK(f.write_table(*db, 0, kPerTable));
  FSDB_ASSERT_OK(f.write_table(*db, kPerTable, kPerTable));

  const std::vector<CompactionFailureInfo> failures = f.listener->wait_for_failures(3);
  ASSERT_GE(failures.size(), 3u) << "the compaction is tried again";
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(failures[i].failures_in_a_row, i + 1);
    EXPECT_EQ(failures[i].retry_in_ms, uint64_t{20} << i) << "the back-off doubles";
    EXPECT_FALSE(failures[i].manual);
    EXPECT_EQ(failures[i].level, 0);
    EXPECT_TRUE(failures[i].status.is_io_error());
    EXPECT_NE(failures[i].status.to_string().find("No space left"), std::string::npos)
        << failures[i].status.to_string();
  }
  // Meanwhile the DB takes writes, flushes them, and says what is wrong.
  EXPECT_EQ(*db->property("fsdb.background-error"), "none");
  EXPECT_NE(db->property("fsdb.compaction-error")->find("No space left"), std::string::npos)
      << *db->property("fsdb.compaction-error");
  EXPECT_GE(std::stoull(*db->property("fsdb.num-compaction-failures")), 3u);
  EXPECT_NE(db->property("fsdb.stats")->find("compaction error: IO error"), std::string::npos)
      << *db->property("fsdb.stats");
  FSDB_ASSERT_OK(f.write_table(*db, 2 * kPerTable, kPerTable)) << "writes go on";
  EXPECT_EQ(*db->property("fsdb.num-files-at-level0"), "3");
  EXPECT_EQ(f.listener->completed(), 0);

  // Once the disk has room, a retry succeeds with no call from the application.
  f.fs->armed = false;
  ASSERT_TRUE(f.listener->wait_for_completions(1)) << "the compaction is never retried";
  for (int waited = 0; waited < 30000 && *db->property("fsdb.num-files-at-level0") != "0";
       ++waited) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_EQ(*db->property("fsdb.num-files-at-level0"), "0");
  EXPECT_EQ(*db->property("fsdb.compaction-error"), "none");
  EXPECT_TRUE(f.listener->background_errors().empty()) << f.listener->background_errors()[0];
  expect_keys(*db, 3 * kPerTable);
  FSDB_ASSERT_OK(db->close());
  db.reset();
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  expect_keys(*db, 3 * kPerTable);
}

// Level 0 at its stop trigger, and the compaction that would drain it fails:
// a write that needs a new memtable gets the compaction's error at once, and
// writes that fit in the memtable go on. resume() makes the next compaction
// start without waiting out its back-off (a minute here).
TEST(DBCompactionErrorTest, AWriteThatNeedsAFailingCompactionFailsAndResumeRetriesIt) {
  Fixture f(/*interval_ms=*/60000);
  std::unique_ptr<DB> db;
  ASSERT_NO_FATAL_FAILURE(f.open_with_level0_full_while_compaction_fails(&db));
  constexpr int kPerTable = Fixture::kPerTable;
  // The flush needs a new memtable, which needs room in level 0. Run on its
  // own thread so that a wait with no end fails the test instead of hanging it.
  std::future<Status> flushed = std::async(std::launch::async, [&] { return db->flush(); });
  if (flushed.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    f.fs->armed = false;  // lets the flush end, so that the test can
    (void)db->resume();
    FAIL() << "the write waits for a compaction that fails";
  }
  const Status s = flushed.get();
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.to_string().find("l0_stop_writes_trigger"), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("No space left"), std::string::npos) << s.to_string();
  EXPECT_EQ(*db->property("fsdb.background-error"), "none");

  f.fs->armed = false;
  FSDB_ASSERT_OK(db->resume());
  ASSERT_TRUE(f.listener->wait_for_completions(1))
      << "resume() does not end the back-off of a failing compaction";
  // A flush waits for level 0 to drain now, and makes it.
  FSDB_ASSERT_OK(db->flush());
  expect_keys(*db, 4 * kPerTable);
  EXPECT_EQ(*db->property("fsdb.compaction-error"), "none");
  FSDB_ASSERT_OK(db->close());
  db.reset();
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  expect_keys(*db, 4 * kPerTable);
}

// compact_range() with level 0 full, its compaction backing off and writes in
// the memtable: its own flush has no room until level 0 is compacted, so it
// compacts level 0 first (whatever the range), then flushes, then compacts
// the range.
TEST(DBCompactionErrorTest, ACompactRangeMakesTheRoomItsOwnFlushNeeds) {
  Fixture f(/*interval_ms=*/60000);
  std::unique_ptr<DB> db;
  ASSERT_NO_FATAL_FAILURE(f.open_with_level0_full_while_compaction_fails(&db));
  constexpr int kPerTable = Fixture::kPerTable;
  ASSERT_TRUE(db->flush().is_io_error()) << "level 0 has no room";
  f.fs->armed = false;  // the disk has room again; the back-off still runs
  // A range that covers few of level 0's keys: the room is made all the same.
  FSDB_ASSERT_OK(db->compact_range(key_of(0), key_of(10)));
  EXPECT_LE(std::stoi(*db->property("fsdb.num-files-at-level0")), 1);
  EXPECT_EQ(*db->property("fsdb.compaction-error"), "none");
  expect_keys(*db, 4 * kPerTable);
}

// compact_range() returns the failure to its caller, who asked for the work;
// the DB goes on taking writes, and the next compact_range() does the work.
TEST(DBCompactionErrorTest, AFailedManualCompactionReturnsItsErrorAndWritesGoOn) {
  Fixture f(/*interval_ms=*/60000);
  f.options.l0_compaction_trigger = 50;  // compaction only when asked
  f.options.l0_slowdown_writes_trigger = 50;
  f.options.l0_stop_writes_trigger = 50;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  constexpr int kPerTable = 100;
  for (int t = 0; t < 3; ++t) FSDB_ASSERT_OK(f.write_table(*db, t * kPerTable, kPerTable));
  f.fs->armed = true;
  const Status s = db->compact_range(std::nullopt, std::nullopt);
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  const std::vector<CompactionFailureInfo> failures = f.listener->wait_for_failures(1);
  ASSERT_EQ(failures.size(), 1u) << "reported before compact_range() returns";
  EXPECT_TRUE(failures[0].manual);
  EXPECT_EQ(failures[0].failures_in_a_row, 1u);
  EXPECT_EQ(*db->property("fsdb.background-error"), "none");
  FSDB_ASSERT_OK(f.write_table(*db, 3 * kPerTable, kPerTable)) << "writes go on";

  f.fs->armed = false;
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));
  EXPECT_EQ(*db->property("fsdb.num-files-at-level0"), "0");
  EXPECT_EQ(*db->property("fsdb.compaction-error"), "none");
  EXPECT_TRUE(f.listener->background_errors().empty());
  expect_keys(*db, 4 * kPerTable);
}

}  // namespace
}  // namespace fsdb
