// engine/: a write interrupted by an exception (std::bad_alloc inside the log's
// append) still ends its sequence range, and stops writes. Were the range left
// open, readers would never see past it: a later write would be acknowledged
// and then never visible, and a read after it would wait forever (as would a
// rotation, for the range to drain).
//
// The exception reaches the caller; the DB takes no more writes (the log may
// end in part of a record); reads go on; reopening loses nothing acknowledged.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <thread>

#include "fsdb/db.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

// Forwards to posix; once armed, the next append to a log throws. With
// `hold` set, that append first waits until release() (or ten seconds).
class ThrowingLogFileSystem final : public FileSystemWrapper {
 public:
  std::atomic<bool> armed{false};
  bool hold = false;
  bool mapped = false;  // whether the log's appends were memory copies

  void wait_until_held() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(10), [&] { return held_; });
  }
  void release() {
    std::lock_guard<std::mutex> guard(mu_);
    released_ = true;
    cv_.notify_all();
  }

  class File final : public WritableFileWrapper {
   public:
    File(std::unique_ptr<WritableFile> base, ThrowingLogFileSystem* fs)
        : WritableFileWrapper(std::move(base)), fs_(fs) {}
    Status append(std::string_view data) override {
      if (fs_->armed.exchange(false)) {
        if (fs_->hold) {
          std::unique_lock<std::mutex> lock(fs_->mu_);
          fs_->held_ = true;
          fs_->cv_.notify_all();
          fs_->cv_.wait_for(lock, std::chrono::seconds(10), [&] { return fs_->released_; });
        }
        throw std::bad_alloc();
      }
      return WritableFileWrapper::append(data);
    }

   private:
    ThrowingLogFileSystem* fs_;
  };

  ThrowingLogFileSystem() : FileSystemWrapper(posix_file_system()) {}
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  bool released_ = false;

  Status new_writable_file(const std::string& path, const WritableFileOptions& options,
                           std::unique_ptr<WritableFile>* file) override {
    Status s = base().new_writable_file(path, options, file);
    if (s.ok() && path.ends_with(".log")) {
      mapped = mapped || (*file)->appends_are_memory_copies();
      *file = std::make_unique<File>(std::move(*file), this);
    }
    return s;
  }
};

std::string key_of(int i) { return "key" + std::to_string(100000 + i); }

// Runs `call` on a thread of its own. If it has not returned within a minute,
// the test binary exits with a failure instead of hanging: the stuck thread
// cannot be joined.
void must_return(const char* what, std::function<void()> call) {
  auto done = std::make_shared<std::atomic<bool>>(false);
  std::thread([call = std::move(call), done] {
    call();
    done->store(true);
  }).detach();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  while (!done->load()) {
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr, "FAILED: %s never returned (a write range was left open)\n", what);
      std::_Exit(1);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Reopens `dir` with default options and checks the first `count` keys hold
// what was acknowledged.
void expect_acknowledged_back(const std::string& dir, int count, std::unique_ptr<DB>* db) {
  ASSERT_TRUE(test::is_ok(DB::open(Options(), dir, db)));
  std::string value;
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(test::is_ok((*db)->get(ReadOptions(), key_of(i), &value))) << key_of(i);
    ASSERT_EQ(value, "v" + std::to_string(i));
  }
}

void check_interrupted_write(bool sync) {
  test::ScratchDir dir;
  auto fs = std::make_shared<ThrowingLogFileSystem>();
  Options options;
  options.file_system = fs;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  WriteOptions write_options;
  write_options.sync = sync;
  constexpr int kAcknowledged = 200;
  for (int i = 0; i < kAcknowledged; ++i) {
    FSDB_ASSERT_OK(db->put(write_options, key_of(i), "v" + std::to_string(i)));
  }
  if (!sync) {
    if (!fs->mapped)
      GTEST_SKIP() << "the test needs a file system that maps the WAL (ext4, XFS, tmpfs)";
    ASSERT_EQ(*db->property("fsdb.num-write-groups"), "0") << "the writes were not direct";
  }

  fs->armed = true;
  EXPECT_THROW((void)db->put(write_options, "interrupted", "x"), std::bad_alloc);
  EXPECT_FALSE(fs->armed) << "the write did not reach the log";

  must_return("a later write", [&] {
    Status s = db->put(write_options, "later", "y");
    EXPECT_TRUE(s.is_io_error()) << s.to_string();
    EXPECT_NE(s.to_string().find("abandoned by an exception"), std::string::npos) << s.to_string();
  });
  // A read waits for every acknowledged write to be visible, so for every
  // range below it to end.
  must_return("get()", [&] {
    std::string value;
    FSDB_EXPECT_OK(db->get(ReadOptions(), key_of(7), &value));
    EXPECT_EQ(value, "v7");
    EXPECT_TRUE(db->get(ReadOptions(), "later", &value).is_not_found());
  });
  must_return("get_snapshot()", [&] {
    const Snapshot* snapshot = db->get_snapshot();
    db->release_snapshot(snapshot);
  });
  must_return("close()", [&] { (void)db->close(); });
  db.reset();

  ASSERT_NO_FATAL_FAILURE(expect_acknowledged_back(dir.path(), kAcknowledged, &db));
  std::string value;
  EXPECT_TRUE(db->get(ReadOptions(), "later", &value).is_not_found());
  // The interrupted write's outcome is unknown to its caller. Here the log
  // threw before taking any of it, and its writer dropped what it had framed:
  // nothing of it may reach the file later (a close() that flushed it would
  // leave half a record with more after it).
  EXPECT_TRUE(db->get(ReadOptions(), "interrupted", &value).is_not_found());
  FSDB_EXPECT_OK(db->put("after reopening", "z"));
}

TEST(DBWriteExceptionTest, ADirectWriteEndsItsRange) { check_interrupted_write(/*sync=*/false); }

// A synced write goes through the group commit queue: its leader throws
// after it began the group's ranges.
TEST(DBWriteExceptionTest, AGroupLeaderEndsItsRange) { check_interrupted_write(/*sync=*/true); }

// A synced write waits in the group commit queue while its leader's log append
// throws. It leads next and must be refused: the log may end inside the
// leader's records, so nothing may be appended after them. (It was once
// written after the leader's half-framed records, and acknowledged.)
TEST(DBWriteExceptionTest, AWriteQueuedBehindAThrowingLeaderIsRefused) {
  test::ScratchDir dir;
  auto fs = std::make_shared<ThrowingLogFileSystem>();
  Options options;
  options.file_system = fs;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  WriteOptions sync;
  sync.sync = true;
  for (int i = 0; i < 50; ++i) FSDB_ASSERT_OK(db->put(sync, key_of(i), "v" + std::to_string(i)));

  fs->hold = true;
  fs->armed = true;
  std::thread leader([&] { EXPECT_THROW((void)db->put(sync, "leader", "1"), std::bad_alloc); });
  fs->wait_until_held();
  Status queued_status;
  std::thread queued([&] { queued_status = db->put(sync, "queued", "2"); });
  // Time for the second writer to queue behind the leader; if it comes later
  // still, it must be refused all the same.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  fs->release();
  leader.join();
  queued.join();
  EXPECT_FALSE(queued_status.ok()) << "a write after an interrupted group was acknowledged";
  must_return("close()", [&] { (void)db->close(); });
  db.reset();

  ASSERT_NO_FATAL_FAILURE(expect_acknowledged_back(dir.path(), 50, &db));
  std::string value;
  EXPECT_TRUE(db->get(ReadOptions(), "queued", &value).is_not_found());
  EXPECT_TRUE(db->get(ReadOptions(), "leader", &value).is_not_found());
}

}  // namespace
}  // namespace fsdb
