// engine/: the DB's own resume() after a background error, and the listener's
// error events. An error resume() can clear is retried every
// background_error_resume_interval_ms, at most max_background_error_resumes
// times; writes come back by themselves once the cause is gone, losing
// nothing acknowledged. Corruption is reported and never retried; close()
// ends the retries without waiting for the next one.
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "tests/support/racing_writers.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

using std::chrono::milliseconds;

std::string key_of(int i) { return "key" + std::to_string(100000 + i); }

Status no_space() { return Status::IOError("injected: No space left on device"); }

uint64_t resumes(DB& db) { return std::stoull(*db.property("fsdb.num-resumes")); }

class RecordingListener final : public EventListener {
 public:
  void on_background_error(const BackgroundErrorInfo& info) override {
    std::lock_guard<std::mutex> guard(mu_);
    errors_.push_back(info);
    cv_.notify_all();
  }
  void on_error_recovery_end(const ErrorRecoveryInfo& info) override {
    // An end that says writes are taken again comes after the resume() that
    // took them, never while it still flushes (and might yet fail).
    if (DB* target = db.load(); target != nullptr && info.result.ok()) {
      const uint64_t resumed = std::stoull(*target->property("fsdb.num-resumes"));
      EXPECT_GT(resumed, resumes_at_last_end_) << "an end reported before its resume() took writes";
      resumes_at_last_end_ = resumed;
    }
    std::lock_guard<std::mutex> guard(mu_);
    ends_.push_back(info);
    cv_.notify_all();
  }
  std::atomic<DB*> db{nullptr};  // when set, checked at each end
  // Waits (30 s at most: a hang check, not a timing) until at least `n`
  // errors were reported.
  std::vector<BackgroundErrorInfo> wait_for_errors(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return errors_.size() >= n; });
    return errors_;
  }
  std::vector<ErrorRecoveryInfo> wait_for_ends(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return ends_.size() >= n; });
    return ends_;
  }
  std::vector<BackgroundErrorInfo> errors() {
    std::lock_guard<std::mutex> guard(mu_);
    return errors_;
  }
  std::vector<ErrorRecoveryInfo> ends() {
    std::lock_guard<std::mutex> guard(mu_);
    return ends_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<BackgroundErrorInfo> errors_;
  std::vector<ErrorRecoveryInfo> ends_;
  uint64_t resumes_at_last_end_ = 0;  // only the event thread calls the listener
};

// Waits (30 s at most) until no background error stops writes and no
// resume() is under way.
bool wait_until_writes_are_taken(DB& db) {
  for (int waited = 0; waited < 30000; ++waited) {
    if (*db.property("fsdb.background-error") == "none") return true;
    std::this_thread::sleep_for(milliseconds(1));
  }
  return false;
}

struct Fixture {
  explicit Fixture(uint32_t max_resumes, uint32_t interval_ms) {
    fault = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
    listener = std::make_shared<RecordingListener>();
    options.file_system = fault;
    options.listener = listener;
    options.max_background_error_resumes = max_resumes;
    options.background_error_resume_interval_ms = interval_ms;
  }
  test::ScratchDir dir;
  std::shared_ptr<FaultInjectionFileSystem> fault;
  std::shared_ptr<RecordingListener> listener;
  Options options;
};

// The power goes: only what was synced stays.
void power_cut(FaultInjectionFileSystem& fault, std::unique_ptr<DB>* db) {
  fault.set_active(false);
  db->reset();
  fault.drop_unsynced_data();
  fault.set_active(true);
}

// A flush fails on a full disk. The DB retries resume() while the disk stays
// full (writes stay refused, and say that the DB retries), and once it has
// space again, writes are taken with no call from the application. Every
// write acknowledged before, logged or not, survives a power cut after.
TEST(DBAutoResumeTest, WritesComeBackByThemselvesOnceTheDiskHasSpace) {
  Fixture f(/*max_resumes=*/UINT32_MAX, /*interval_ms=*/10);
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  f.listener->db = db.get();
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), "logged"));
  WriteOptions unlogged;
  unlogged.disable_wal = true;
  for (int i = 100; i < 120; ++i) FSDB_ASSERT_OK(db->put(unlogged, key_of(i), "unlogged"));
  f.fault->fail_after(0, no_space());
  ASSERT_FALSE(db->flush().ok());

  const auto errors = f.listener->wait_for_errors(1);
  ASSERT_GE(errors.size(), 1u);
  EXPECT_TRUE(errors[0].resumable);
  EXPECT_TRUE(errors[0].retried_automatically);
  EXPECT_NE(errors[0].status.to_string().find("No space left on device"), std::string::npos)
      << errors[0].status.to_string();
  // The retries meet the full disk: each fails to create a new log (and to
  // remove it), one or two faults the file system injects.
  const uint64_t faults = f.fault->injected_faults();
  for (int waited = 0; waited < 30000 && f.fault->injected_faults() < faults + 4; ++waited) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_GE(f.fault->injected_faults(), faults + 4) << "the DB retries";
  EXPECT_NE(*db->property("fsdb.background-error"), "none");
  Status refused = db->put("refused", "x");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.to_string().find("retries resume() every 10 ms"), std::string::npos)
      << refused.to_string();
  EXPECT_TRUE(f.listener->ends().empty()) << "still retrying";

  f.fault->clear_faults();
  const auto ends = f.listener->wait_for_ends(1);
  ASSERT_EQ(ends.size(), 1u);
  FSDB_EXPECT_OK(ends[0].result);
  EXPECT_GE(ends[0].attempts, 2u) << "at least one that failed, one that worked";
  EXPECT_EQ(ends[0].error.to_string(), errors[0].status.to_string());
  EXPECT_GE(resumes(*db), 1u);
  EXPECT_EQ(*db->property("fsdb.num-sealed-memtables"), "0") << "resume() flushed them";
  WriteOptions sync;
  sync.sync = true;
  FSDB_ASSERT_OK(db->put(sync, "after", "synced"));

  f.listener->db = nullptr;
  power_cut(*f.fault, &db);
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  std::string v;
  for (int i = 0; i < 120; ++i) {
    ASSERT_TRUE(db->get(key_of(i), &v).ok()) << key_of(i);
    ASSERT_EQ(v, i < 100 ? "logged" : "unlogged") << key_of(i);
  }
  FSDB_ASSERT_OK(db->get("after", &v));
  EXPECT_TRUE(db->get("refused", &v).is_not_found());
}

// A failed WAL append, retried by the DB while writers keep writing: they are
// refused until the disk has space, then taken again; every acknowledged
// write is there after a reopen.
TEST(DBAutoResumeTest, WritersRacingAWalErrorLoseNothingAcknowledged) {
  Fixture f(/*max_resumes=*/UINT32_MAX, /*interval_ms=*/2);
  f.fault->set_appends_claim_memory_copies(true);
  f.options.memtable_bytes = 64 << 10;  // rotations and flushes all along
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  f.listener->db = db.get();

  test::RacingWriters writers(db.get(), 3);
  for (int round = 0; round < 6; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::this_thread::sleep_for(milliseconds(20));
    const uint64_t resumes_before = resumes(*db);
    f.fault->fail_after(round * 7 % 11, no_space());
    // Until the error is in place (the writers' calls, a flush's, or a
    // compaction's met the fault).
    for (int wait = 0; wait < 30000 && *db->property("fsdb.background-error") == "none"; ++wait) {
      std::this_thread::sleep_for(milliseconds(1));
    }
    ASSERT_NE(*db->property("fsdb.background-error"), "none");
    std::this_thread::sleep_for(milliseconds(10));  // retries on the full disk
    f.fault->clear_faults();
    // Writes come back with no resume() from here.
    ASSERT_TRUE(wait_until_writes_are_taken(*db)) << *db->property("fsdb.background-error");
    EXPECT_GT(resumes(*db), resumes_before);
  }
  const uint64_t taken_before = writers.taken();
  for (int wait = 0; wait < 30000 && writers.taken() < taken_before + 100; ++wait) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  EXPECT_GE(writers.taken(), taken_before + 100) << "writes are taken again";
  writers.stop();
  EXPECT_GT(writers.refused(), 0u);
  EXPECT_GE(f.listener->ends().size(), 1u);
  ASSERT_TRUE(wait_until_writes_are_taken(*db));
  f.listener->db = nullptr;
  FSDB_ASSERT_OK(db->close());
  db.reset();

  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  writers.expect_all_present(*db);
}

// The retries stop after max_background_error_resumes attempts, reported
// once, with the error the last one met; the refused writes then name only
// the application's resume() or a reopen, and the application's resume()
// still works once the disk has space.
TEST(DBAutoResumeTest, RetriesStopAfterTheirLimit) {
  Fixture f(/*max_resumes=*/3, /*interval_ms=*/1);
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), "v"));
  f.fault->fail_after(0, no_space());
  ASSERT_FALSE(db->flush().ok());

  const auto ends = f.listener->wait_for_ends(1);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_FALSE(ends[0].result.ok());
  EXPECT_NE(ends[0].result.to_string().find("No space left on device"), std::string::npos)
      << ends[0].result.to_string();
  EXPECT_EQ(ends[0].attempts, 3u);
  // The first error, and any an attempt met after clearing it (a failed
  // attempt that could not clear it leaves it as it was).
  EXPECT_GE(f.listener->errors().size(), 1u);
  EXPECT_LE(f.listener->errors().size(), 4u);
  EXPECT_EQ(resumes(*db), 0u);
  Status refused = db->put("refused", "x");
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.to_string().find("retries"), std::string::npos) << refused.to_string();
  EXPECT_NE(refused.to_string().find("resume() or reopen"), std::string::npos)
      << refused.to_string();

  f.fault->clear_faults();
  FSDB_ASSERT_OK(db->resume());
  FSDB_ASSERT_OK(db->put("after", "x"));
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(f.listener->ends().size(), 1u) << "the end of the retries is reported once";
}

// With max_background_error_resumes = 0 the DB never resumes by itself: the
// error is reported as not retried, writes stay refused after the cause is
// gone, and the application's resume() ends the recovery (0 attempts).
TEST(DBAutoResumeTest, NoRetriesWhenTurnedOff) {
  Fixture f(/*max_resumes=*/0, /*interval_ms=*/1);
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  f.listener->db = db.get();
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), "v"));
  f.fault->fail_after(0, no_space());
  ASSERT_FALSE(db->flush().ok());
  const auto errors = f.listener->wait_for_errors(1);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].resumable);
  EXPECT_FALSE(errors[0].retried_automatically);
  f.fault->clear_faults();
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_FALSE(db->put("refused", "x").ok()) << "nothing resumed it";
  EXPECT_EQ(resumes(*db), 0u);
  EXPECT_TRUE(f.listener->ends().empty());

  FSDB_ASSERT_OK(db->resume());
  const auto ends = f.listener->wait_for_ends(1);
  ASSERT_EQ(ends.size(), 1u);
  FSDB_EXPECT_OK(ends[0].result);
  EXPECT_EQ(ends[0].attempts, 0u);
  FSDB_ASSERT_OK(db->put("after", "x"));
  f.listener->db = nullptr;
}

// The application's resume() while the DB retries: both may run; the
// recovery ends once, when writes are taken again.
TEST(DBAutoResumeTest, AnApplicationResumeDuringTheRetriesEndsThemOnce) {
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    Fixture f(/*max_resumes=*/UINT32_MAX, /*interval_ms=*/1);
    std::unique_ptr<DB> db;
    FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
    f.listener->db = db.get();
    for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), "v"));
    f.fault->fail_after(round, no_space());
    ASSERT_FALSE(db->flush().ok());
    f.listener->wait_for_errors(1);
    f.fault->clear_faults();
    FSDB_ASSERT_OK(db->resume());
    const auto ends = f.listener->wait_for_ends(1);
    ASSERT_EQ(ends.size(), 1u);
    FSDB_EXPECT_OK(ends[0].result);
    FSDB_ASSERT_OK(db->put("after", "x"));
    std::this_thread::sleep_for(milliseconds(20));
    EXPECT_EQ(f.listener->ends().size(), 1u);
    f.listener->db = nullptr;
  }
}

// Corruption is reported as not resumable and never retried.
TEST(DBAutoResumeTest, CorruptionIsReportedAndNotRetried) {
  Fixture f(/*max_resumes=*/UINT32_MAX, /*interval_ms=*/1);
  f.options.file_system = nullptr;       // the real files, damaged below
  f.options.l0_compaction_trigger = 50;  // compaction only when asked
  f.options.l0_slowdown_writes_trigger = 50;
  f.options.l0_stop_writes_trigger = 50;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i < 500; ++i) FSDB_ASSERT_OK(db->put(key_of(i * 2 + t), std::string(80, 'v')));
    FSDB_ASSERT_OK(db->flush());
  }
  FSDB_ASSERT_OK(db->close());
  db.reset();
  ASSERT_FALSE(test::corrupt_a_table(f.dir.path()).empty());
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  ASSERT_TRUE(db->compact_range(std::nullopt, std::nullopt).is_corruption());
  const auto errors = f.listener->wait_for_errors(1);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_TRUE(errors[0].status.is_corruption()) << errors[0].status.to_string();
  EXPECT_FALSE(errors[0].resumable);
  EXPECT_FALSE(errors[0].retried_automatically);
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(resumes(*db), 0u);
  EXPECT_TRUE(f.listener->ends().empty());
  Status refused = db->put("k", "v");
  EXPECT_FALSE(refused.ok());
  EXPECT_EQ(refused.to_string().find("resume()"), std::string::npos) << refused.to_string();
}

// Table reads that, once armed, wait at the first data block read until
// released and then return it with one byte flipped: a compaction in flight
// that finds corruption at a chosen moment.
class GatedCorruptReadsFileSystem final : public FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  using FileSystemWrapper::new_random_access_file;

  Status new_random_access_file(const std::string& path,
                                std::unique_ptr<RandomAccessFile>* file) override {
    Status s = FileSystemWrapper::new_random_access_file(path, file);
    if (s.ok() && path.ends_with(".sst")) *file = std::make_unique<File>(this, std::move(*file));
    return s;
  }
  void arm() { armed_.store(true); }
  // Waits until a read is held (30 s at most).
  bool wait_until_held() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [this] { return holding_; });
  }
  // Lets the held read go, corrupted.
  void release() {
    std::lock_guard<std::mutex> guard(mu_);
    released_ = true;
    cv_.notify_all();
  }

 private:
  class File final : public RandomAccessFile {
   public:
    File(GatedCorruptReadsFileSystem* fs, std::unique_ptr<RandomAccessFile> base)
        : fs_(fs), base_(std::move(base)) {}
    Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
      Status s = base_->read(offset, n, result, scratch);
      if (!s.ok() || result->empty() || !fs_->armed_.exchange(false)) return s;
      std::unique_lock<std::mutex> lock(fs_->mu_);
      fs_->holding_ = true;
      fs_->cv_.notify_all();
      fs_->cv_.wait(lock, [this] { return fs_->released_; });
      if (result->data() != scratch) {
        std::memcpy(scratch, result->data(), result->size());
        *result = std::string_view(scratch, result->size());
      }
      scratch[result->size() / 2] ^= 0x5a;
      return s;
    }
    Status size(uint64_t* bytes) const override { return base_->size(bytes); }
    const std::string& path() const override { return base_->path(); }

   private:
    GatedCorruptReadsFileSystem* fs_;
    std::unique_ptr<RandomAccessFile> base_;
  };
  std::atomic<bool> armed_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  bool holding_ = false;
  bool released_ = false;
};

// A compaction that was running when a WAL error stopped writes finds
// corruption: that error, which resume() cannot clear, replaces the first,
// is reported, and ends the recovery; refused writes say to reopen.
TEST(DBAutoResumeTest, CorruptionDuringARecoveryEndsItAndIsReported) {
  Fixture f(/*max_resumes=*/UINT32_MAX, /*interval_ms=*/3600 * 1000);  // no retry runs
  auto gate = std::make_shared<GatedCorruptReadsFileSystem>(f.fault);
  f.options.file_system = gate;
  f.options.l0_compaction_trigger = 50;  // compaction only when asked
  f.options.l0_slowdown_writes_trigger = 50;
  f.options.l0_stop_writes_trigger = 50;
  f.options.block_cache_bytes = 0;  // every block read reaches the file
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
  for (int t = 0; t < 2; ++t) {
    for (int i = 0; i < 500; ++i) FSDB_ASSERT_OK(db->put(key_of(i * 2 + t), std::string(80, 'v')));
    FSDB_ASSERT_OK(db->flush());
  }
  std::string v;
  FSDB_ASSERT_OK(db->get(key_of(0), &v));  // the tables are open: what follows reads blocks
  FSDB_ASSERT_OK(db->get(key_of(1), &v));
  gate->arm();
  Status compacted;
  std::thread compaction([&] { compacted = db->compact_range(std::nullopt, std::nullopt); });
  const bool held = gate->wait_until_held();
  if (!held) {
    gate->release();
    compaction.join();
  }
  ASSERT_TRUE(held) << "the compaction reads a block";
  f.fault->fail_after(0, no_space());
  EXPECT_FALSE(db->put("refused", "x").ok());  // the WAL append fails
  f.fault->clear_faults();
  auto errors = f.listener->wait_for_errors(1);
  ASSERT_GE(errors.size(), 1u);
  EXPECT_TRUE(errors[0].resumable) << errors[0].status.to_string();
  gate->release();
  compaction.join();
  EXPECT_TRUE(compacted.is_corruption()) << compacted.to_string();

  errors = f.listener->wait_for_errors(2);
  ASSERT_EQ(errors.size(), 2u);
  EXPECT_TRUE(errors[1].status.is_corruption()) << errors[1].status.to_string();
  EXPECT_FALSE(errors[1].resumable);
  const auto ends = f.listener->wait_for_ends(1);
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_TRUE(ends[0].result.is_corruption()) << ends[0].result.to_string();
  EXPECT_EQ(ends[0].attempts, 0u);
  Status refused = db->put("k", "v");
  EXPECT_FALSE(refused.ok());
  EXPECT_TRUE(refused.is_corruption()) << refused.to_string();
  EXPECT_EQ(refused.to_string().find("resume()"), std::string::npos) << refused.to_string();
  Status resumed = db->resume();
  EXPECT_TRUE(resumed.is_corruption()) << resumed.to_string();
}

// close() ends the retries: it neither waits for the next one (an hour away
// here) nor hangs while one meets the full disk again and again.
TEST(DBAutoResumeTest, CloseEndsTheRetries) {
  for (const uint32_t interval_ms : {3600u * 1000u, 1u}) {
    SCOPED_TRACE("interval " + std::to_string(interval_ms) + " ms");
    Fixture f(/*max_resumes=*/UINT32_MAX, interval_ms);
    std::unique_ptr<DB> db;
    FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
    for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), "v"));
    f.fault->fail_after(0, no_space());
    ASSERT_FALSE(db->flush().ok());
    f.listener->wait_for_errors(1);
    std::this_thread::sleep_for(milliseconds(20));  // retries under way, or waiting
    const auto start = std::chrono::steady_clock::now();
    EXPECT_FALSE(db->close().ok()) << "close() reports the error still in place";
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(60))
        << "close() waited for the retries";
    EXPECT_TRUE(f.listener->ends().empty()) << "no end is reported at close()";
    db.reset();
    f.fault->clear_faults();
    FSDB_ASSERT_OK(DB::open(f.options, f.dir.path(), &db));
    std::string v;
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(db->get(key_of(i), &v).ok()) << key_of(i);
  }
}

}  // namespace
}  // namespace fsdb
