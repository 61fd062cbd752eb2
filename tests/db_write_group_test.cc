// Write groups against the sequence publisher's slots: a group's members'
// ranges end only after its leader has taken the sequence lock again, so a
// group must leave a slot to the writers that wait for one under that lock.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

// Holds every sync of a log, once armed, until the test lets that many through.
class GatedLogSyncFileSystem final : public FileSystemWrapper {
 public:
  GatedLogSyncFileSystem() : FileSystemWrapper(posix_file_system()) {}

  class GatedFile final : public WritableFileWrapper {
   public:
    GatedFile(std::unique_ptr<WritableFile> base, GatedLogSyncFileSystem* fs)
        : WritableFileWrapper(std::move(base)), fs_(fs) {}
    Status sync() override {
      fs_->pass();
      return WritableFileWrapper::sync();
    }

   private:
    GatedLogSyncFileSystem* fs_;
  };

  Status new_writable_file(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = FileSystemWrapper::new_writable_file(p, f);
    if (s.ok() && p.ends_with(".log")) *f = std::make_unique<GatedFile>(std::move(*f), this);
    return s;
  }

  void arm() {
    std::lock_guard<std::mutex> guard(mu_);
    armed_ = true;
  }
  // Lets the first `n` held syncs through (all of them: UINT64_MAX).
  void let_through(uint64_t n) {
    std::lock_guard<std::mutex> guard(mu_);
    allowed_ = n;
    cv_.notify_all();
  }
  // Whether `n` syncs have arrived since arm() within a minute.
  bool wait_for_arrivals(uint64_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::minutes(1), [&] { return arrived_ >= n; });
  }

 private:
  void pass() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!armed_) return;
    const uint64_t mine = ++arrived_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return allowed_ >= mine; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  uint64_t arrived_ = 0;
  uint64_t allowed_ = 0;
};

// The scenario, in a child process (it would hang for good): an exit code.
int run_full_group_and_a_write_without_the_log(const std::string& dir) {
  auto fs = std::make_shared<GatedLogSyncFileSystem>();
  Options options;
  options.file_system = fs;
  options.use_mmap_writes = false;  // every logged write goes through the queue
  std::unique_ptr<DB> db;
  if (!DB::open(options, dir, &db).ok()) return 10;
  fs->arm();
  WriteOptions synced;
  synced.sync = true;
  std::atomic<int> failures{0};
  const auto put = [&](int i) {
    if (!db->put(synced, "key" + std::to_string(i), "value").ok()) failures.fetch_add(1);
  };
  // A first group of one holds the log in its sync...
  std::vector<std::thread> writers;
  writers.emplace_back(put, 0);
  if (!fs->wait_for_arrivals(1)) return 11;
  // ...while more writers queue than the publisher has slots.
  constexpr int kQueued = 1100;
  for (int i = 1; i <= kQueued; ++i) writers.emplace_back(put, i);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // all queued
  // The next group takes as many of them as it may, and holds the log in its
  // sync with every member's range begun.
  fs->let_through(1);
  if (!fs->wait_for_arrivals(2)) return 12;
  // A write without the log needs no leader: it takes a slot under the
  // sequence lock. It must find one (and so must the leader the lock after it).
  std::atomic<bool> unlogged_done{false};
  std::thread unlogged([&] {
    WriteOptions no_log;
    no_log.disable_wal = true;
    if (!db->put(no_log, "unlogged", "value").ok()) failures.fetch_add(1);
    unlogged_done = true;
  });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!unlogged_done && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!unlogged_done) return 13;  // it waits for a slot no range will give back
  fs->let_through(UINT64_MAX);
  unlogged.join();
  for (std::thread& t : writers) t.join();
  if (failures.load() != 0) return 14;
  std::string value;
  for (int i = 0; i <= kQueued; i += 100) {
    if (!db->get("key" + std::to_string(i), &value).ok()) return 15;
  }
  if (!db->get("unlogged", &value).ok()) return 16;
  return db->close().ok() ? 0 : 17;
}

TEST(DBWriteGroupTest, AFullGroupLeavesASlotToAWriteWithoutTheLog) {
  test::ScratchDir dir;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(run_full_group_and_a_write_without_the_log(dir.path()));
  int wstatus = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(3);
  pid_t done = 0;
  while ((done = ::waitpid(child, &wstatus, WNOHANG)) == 0 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (done == 0) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &wstatus, 0);
    FAIL() << "the DB hung";
  }
  ASSERT_TRUE(WIFEXITED(wstatus)) << "killed by signal " << WTERMSIG(wstatus);
  EXPECT_EQ(WEXITSTATUS(wstatus), 0)
      << "see the exit codes in run_full_group_and_a_write_without_the_log()";
}

}  // namespace
}  // namespace fsdb
