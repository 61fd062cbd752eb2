// util/posix_file_system.cc: the posix FileSystem, through the public seam.
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/env.h"
#include "tests/support/test_util.h"
#include "util/posix_mmap_writable_file.h"

namespace fsdb {
namespace {

class PosixFileSystemTest : public ::testing::Test {
 protected:
  // Opens `name` for appends through a mapping; false if this file system
  // has it written with write(2) instead.
  bool open_mapped(const std::string& name, std::string* path, std::unique_ptr<WritableFile>* f) {
    *path = dir_.file(name);
    WritableFileOptions options;
    options.use_mmap = true;
    const Status s = fs_->new_writable_file(*path, options, f);
    EXPECT_TRUE(s.ok()) << s.to_string();
    return s.ok() && (*f)->appends_are_memory_copies();
  }

  std::shared_ptr<FileSystem> fs_ = posix_file_system();
  test::ScratchDir dir_;
};

TEST_F(PosixFileSystemTest, AppendFlushSyncAndReadBack) {
  const std::string path = dir_.file("a.log");
  std::unique_ptr<WritableFile> w;
  FSDB_ASSERT_OK(fs_->new_writable_file(path, &w));
  std::string expected;
  for (int i = 0; i < 1000; ++i) {
    std::string piece = "record-" + std::to_string(i) + std::string(i % 97, 'x');
    FSDB_ASSERT_OK(w->append(piece));
    expected += piece;
  }
  // A large append bypasses the buffer and must keep its place in the order.
  const std::string big(200 * 1024, 'B');
  FSDB_ASSERT_OK(w->append(big));
  expected += big;
  FSDB_ASSERT_OK(w->append("tail"));
  expected += "tail";
  EXPECT_EQ(w->size(), expected.size());
  FSDB_ASSERT_OK(w->sync());
  FSDB_ASSERT_OK(w->close());
  EXPECT_FALSE(w->append("x").ok()) << "append after close must fail";

  uint64_t size = 0;
  FSDB_ASSERT_OK(fs_->get_file_size(path, &size));
  EXPECT_EQ(size, expected.size());
  std::string read_back;
  FSDB_ASSERT_OK(read_file_to_string(*fs_, path, &read_back));
  EXPECT_EQ(read_back, expected);
}

TEST_F(PosixFileSystemTest, SequentialReadAndSkip) {
  const std::string path = dir_.file("s");
  FSDB_ASSERT_OK(write_string_to_file(*fs_, "0123456789", path, true));
  std::unique_ptr<SequentialFile> f;
  FSDB_ASSERT_OK(fs_->new_sequential_file(path, &f));
  char scratch[16];
  std::string_view got;
  FSDB_ASSERT_OK(f->read(3, &got, scratch));
  EXPECT_EQ(got, "012");
  FSDB_ASSERT_OK(f->skip(4));
  FSDB_ASSERT_OK(f->read(16, &got, scratch));
  EXPECT_EQ(got, "789") << "a short read means end of file";
  FSDB_ASSERT_OK(f->read(16, &got, scratch));
  EXPECT_TRUE(got.empty());
}

TEST_F(PosixFileSystemTest, PositionalReadsFromManyThreads) {
  const std::string path = dir_.file("r");
  std::string data(1 << 16, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 31);
  FSDB_ASSERT_OK(write_string_to_file(*fs_, data, path, false));
  std::unique_ptr<RandomAccessFile> f;
  FSDB_ASSERT_OK(fs_->new_random_access_file(path, &f));
  uint64_t size = 0;
  FSDB_ASSERT_OK(f->size(&size));
  EXPECT_EQ(size, data.size());
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      char scratch[512];
      for (uint64_t off = static_cast<uint64_t>(t) * 100; off < data.size(); off += 4093) {
        std::string_view got;
        if (!f->read(off, sizeof(scratch), &got, scratch).ok() ||
            got != std::string_view(data).substr(off, sizeof(scratch))) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
  char scratch[8];
  std::string_view got;
  FSDB_ASSERT_OK(f->read(data.size() + 10, sizeof(scratch), &got, scratch));
  EXPECT_TRUE(got.empty()) << "a read past the end returns nothing, not an error";
}

TEST_F(PosixFileSystemTest, MappedReadsReturnTheFileWithoutCopying) {
  const std::string path = dir_.file("m");
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  FSDB_ASSERT_OK(write_string_to_file(*fs_, data, path, false));
  RandomAccessFileOptions options;
  options.use_mmap = true;
  std::unique_ptr<RandomAccessFile> f;
  FSDB_ASSERT_OK(fs_->new_random_access_file(path, options, &f));
  uint64_t size = 0;
  FSDB_ASSERT_OK(f->size(&size));
  EXPECT_EQ(size, data.size());
  char scratch[4096];
  std::string_view got;
  FSDB_ASSERT_OK(f->read(5000, sizeof(scratch), &got, scratch));
  EXPECT_EQ(got, std::string_view(data).substr(5000, sizeof(scratch)));
  EXPECT_FALSE(got.data() >= scratch && got.data() < scratch + sizeof(scratch))
      << "a mapped read points into the mapping, not the scratch buffer";
  FSDB_ASSERT_OK(f->read(data.size() - 10, sizeof(scratch), &got, scratch));
  EXPECT_EQ(got, std::string_view(data).substr(data.size() - 10)) << "short at the end";
  FSDB_ASSERT_OK(f->read(data.size() + 1, sizeof(scratch), &got, scratch));
  EXPECT_TRUE(got.empty());

  // An empty file cannot be mapped: it is read the ordinary way.
  const std::string empty = dir_.file("empty");
  FSDB_ASSERT_OK(write_string_to_file(*fs_, "", empty, false));
  FSDB_ASSERT_OK(fs_->new_random_access_file(empty, options, &f));
  FSDB_ASSERT_OK(f->read(0, 10, &got, scratch));
  EXPECT_TRUE(got.empty());
  // A missing file is an error naming it, as without mappings.
  Status s = fs_->new_random_access_file(dir_.file("missing"), options, &f);
  EXPECT_TRUE(s.is_not_found()) << s.to_string();
  EXPECT_NE(s.to_string().find("missing"), std::string::npos) << s.to_string();
}

TEST_F(PosixFileSystemTest, MappedWritesReserveAheadGrowAndTruncateAtClose) {
  const std::string path = dir_.file("w");
  WritableFileOptions options;
  options.use_mmap = true;
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_->new_writable_file(path, options, &f));
  // 70 MiB in uneven pieces: past several 1 MiB reservations and the first
  // 64 MiB mapping window.
  std::string expected;
  std::string piece;
  for (size_t i = 0; expected.size() < (70u << 20); ++i) {
    piece.assign(1 + (i * 7919) % 300000, static_cast<char>('a' + i % 26));
    FSDB_ASSERT_OK(f->append(piece));
    expected += piece;
    EXPECT_EQ(f->size(), expected.size());
    if (i == 3) {
      FSDB_ASSERT_OK(f->sync());
      uint64_t on_disk = 0;
      FSDB_ASSERT_OK(fs_->get_file_size(path, &on_disk));
      EXPECT_GE(on_disk, expected.size()) << "the size covers the data";
      EXPECT_LE(on_disk, expected.size() + MmapWritableFileLimits::kMaxLeadBytes)
          << "and runs at most the prepared lead past it";
    }
  }
  FSDB_ASSERT_OK(f->flush());
  FSDB_ASSERT_OK(f->sync());
  FSDB_ASSERT_OK(f->close());
  EXPECT_FALSE(f->append("x").ok()) << "closed";
  std::string got;
  FSDB_ASSERT_OK(read_file_to_string(*fs_, path, &got));
  ASSERT_EQ(got.size(), expected.size()) << "close() cuts the reserved tail";
  EXPECT_TRUE(got == expected);
}

// Appends that a sync follows go through pwrite(2) rather than the mapping;
// mixed with the mapping's own appends (small ones within a page, large ones
// past reservations and the first 64 MiB window), the file holds every byte
// in order, and each sync covers what came before it.
TEST_F(PosixFileSystemTest, MappedFileTakesAppendsBeforeASyncThroughWrite) {
  std::string path;
  std::unique_ptr<WritableFile> f;
  ASSERT_TRUE(open_mapped("synced", &path, &f)) << "not a mapped file here";
  std::string expected;
  std::string piece;
  for (size_t i = 0; expected.size() < (66u << 20); ++i) {
    const size_t bytes = i % 10 == 9 ? 1 + (i * 7919) % 900000 : 1 + (i * 131) % 300;
    piece.assign(bytes, static_cast<char>('a' + i % 26));
    if (i % 2 == 0) {
      FSDB_ASSERT_OK(f->append_before_sync(piece));
      expected += piece;
      if (i % 8 == 0) {
        FSDB_ASSERT_OK(f->sync());
      }
    } else {
      FSDB_ASSERT_OK(f->append(piece));
      expected += piece;
    }
    ASSERT_EQ(f->size(), expected.size());
  }
  FSDB_ASSERT_OK(f->close());
  std::string got;
  FSDB_ASSERT_OK(read_file_to_string(*fs_, path, &got));
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
}

// A helper thread raises the file's size and faults its pages in ahead of the
// data, so that appends only copy; it stays within kMaxLeadBytes of the data,
// and what it prepared but the data never reached goes at close().
TEST_F(PosixFileSystemTest, MappedWritesArePreparedAheadInTheBackground) {
  using Limits = MmapWritableFileLimits;
  std::string path;
  std::unique_ptr<WritableFile> f;
  if (!open_mapped("ahead", &path, &f)) GTEST_SKIP() << "no mapped writes on this file system";
  std::string expected;
  const std::string piece(1000, 'r');
  auto on_disk = [&] {
    uint64_t bytes = 0;
    EXPECT_TRUE(fs_->get_file_size(path, &bytes).ok());
    return bytes;
  };
  // An append grows the file by one step of its own; the helper then prepares
  // until the lead is reached, without further appends.
  FSDB_ASSERT_OK(f->append(piece));
  expected += piece;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (on_disk() < expected.size() + Limits::kPrepareLeadBytes &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GE(on_disk(), expected.size() + Limits::kPrepareLeadBytes)
      << "the helper did not prepare the lead";
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_LE(on_disk(), expected.size() + Limits::kMaxLeadBytes) << "and went no further";
  // Appends through and past the prepared room, racing the helper (under
  // ThreadSanitizer too): every byte lands where it belongs.
  for (int i = 0; expected.size() < (6u << 20); ++i) {
    std::string p(1 + (i * 7919) % 20000, static_cast<char>('a' + i % 26));
    FSDB_ASSERT_OK(f->append(p));
    expected += p;
    if (i % 64 == 0) {
      const uint64_t bytes = on_disk();
      EXPECT_GE(bytes, expected.size());
      EXPECT_LE(bytes, expected.size() + Limits::kMaxLeadBytes);
    }
  }
  FSDB_ASSERT_OK(f->close());
  std::string got;
  FSDB_ASSERT_OK(read_file_to_string(*fs_, path, &got));
  ASSERT_EQ(got.size(), expected.size()) << "close() cuts the prepared tail";
  EXPECT_TRUE(got == expected);
}

// Stands in for the kernel's MADV_POPULATE_WRITE: records every step and
// fails the ones a test picks with EFAULT, as an I/O error would.
struct PopulateFaults {
  struct Step {
    uint64_t from, to;
    bool failed;
  };
  static inline std::mutex mu;
  // The rest is guarded by mu.
  static inline std::vector<Step> steps;
  static inline uint64_t fail_from = UINT64_MAX;  // steps starting here or later fail ...
  static inline bool fail_once = false;           // ... only the first of them, if set ...
  static inline bool helper_only = false;         // ... and only on the helper, if set
  static inline std::thread::id appending_thread;
  static int hook(const std::string&, uint64_t from, uint64_t to) {
    std::lock_guard<std::mutex> guard(mu);
    bool failed =
        from >= fail_from && !(helper_only && std::this_thread::get_id() == appending_thread);
    if (failed && fail_once) fail_from = UINT64_MAX;
    steps.push_back({from, to, failed});
    return failed ? EFAULT : 0;
  }
  PopulateFaults(uint64_t from, bool once, bool on_helper_only) {
    std::lock_guard<std::mutex> guard(mu);
    steps.clear();
    fail_from = from;
    fail_once = once;
    helper_only = on_helper_only;
    appending_thread = std::this_thread::get_id();
    set_mmap_populate_hook_for_testing(&hook);
  }
  ~PopulateFaults() { set_mmap_populate_hook_for_testing(nullptr); }
  std::vector<Step> taken() const {
    std::lock_guard<std::mutex> guard(mu);
    return steps;
  }
};

// A step whose pages could not be faulted in (on the helper thread here) is
// redone before an append may copy into them, never taken as done: an append
// into such a page would be a SIGBUS instead of an error.
TEST_F(PosixFileSystemTest, MappedWritesRedoAStepWhosePagesCouldNotBeFaultedIn) {
  const PopulateFaults faults(/*from=*/512 << 10, /*once=*/true, /*on_helper_only=*/true);
  std::string path;
  std::unique_ptr<WritableFile> f;
  if (!open_mapped("redo", &path, &f)) GTEST_SKIP() << "no mapped writes on this file system";
  // The first append asks the helper for 1 MiB of room; its first step that
  // starts at 512 KiB or later fails. Waiting for that failure makes it the
  // helper's, whatever the threads' speeds.
  std::string expected(1000, 'f');
  FSDB_ASSERT_OK(f->append(expected));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto helper_failed = [&] {
    const std::vector<PopulateFaults::Step> steps = faults.taken();
    return std::any_of(steps.begin(), steps.end(),
                       [](const PopulateFaults::Step& s) { return s.failed; });
  };
  while (!helper_failed() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(helper_failed()) << "the helper never reached the failing offset";
  for (int i = 0; expected.size() < (6u << 20); ++i) {
    std::string piece(1 + (i * 7919) % 20000, static_cast<char>('a' + i % 26));
    FSDB_ASSERT_OK(f->append(piece)) << "at offset " << expected.size();
    expected += piece;
  }
  FSDB_ASSERT_OK(f->close());
  const std::vector<PopulateFaults::Step> steps = faults.taken();
  const auto failed = std::find_if(steps.begin(), steps.end(),
                                   [](const PopulateFaults::Step& s) { return s.failed; });
  ASSERT_NE(failed, steps.end());
  const uint64_t hole = failed->from;
  EXPECT_TRUE(std::any_of(
      failed + 1, steps.end(),
      [&](const PopulateFaults::Step& s) { return !s.failed && s.from <= hole && hole < s.to; }))
      << "the pages from offset " << hole << " were never faulted in again";
  std::string got;
  FSDB_ASSERT_OK(read_file_to_string(*fs_, path, &got));
  ASSERT_EQ(got.size(), expected.size());
  EXPECT_TRUE(got == expected);
}

// When the pages cannot be faulted in at all, the append that needs them fails
// with an error naming the file and the bytes, and so does everything after
// it; what was appended before stays, and close() cuts the file there.
TEST_F(PosixFileSystemTest, MappedWritesFailCleanlyWhenPagesCannotBeFaultedIn) {
  const PopulateFaults faults(/*from=*/2 << 20, /*once=*/false, /*on_helper_only=*/false);
  std::string path;
  std::unique_ptr<WritableFile> f;
  if (!open_mapped("efault", &path, &f)) GTEST_SKIP() << "no mapped writes on this file system";
  std::string expected;
  Status failure;
  for (int i = 0; expected.size() < (8u << 20); ++i) {
    std::string piece(1 + (i * 7919) % 20000, static_cast<char>('a' + i % 26));
    failure = f->append(piece);
    if (!failure.ok()) break;
    expected += piece;
  }
  ASSERT_FALSE(failure.ok()) << "every append succeeded";
  EXPECT_TRUE(failure.is_io_error()) << failure.to_string();
  EXPECT_NE(failure.to_string().find(path), std::string::npos) << failure.to_string();
  EXPECT_NE(failure.to_string().find("writable"), std::string::npos) << failure.to_string();
  // Appends stop where the last step that worked ends, within one piece.
  uint64_t faulted_in = 0;
  for (const PopulateFaults::Step& step : faults.taken()) {
    if (!step.failed) faulted_in = std::max(faulted_in, step.to);
  }
  EXPECT_GE(faulted_in, 2u << 20);
  EXPECT_LE(expected.size(), faulted_in) << "appended into pages never faulted in";
  EXPECT_GT(expected.size() + 20000, faulted_in) << "failed before the room ran out";
  EXPECT_FALSE(f->append("x").ok()) << "the file takes nothing more";
  EXPECT_FALSE(f->sync().ok());
  EXPECT_FALSE(f->close().ok());
  std::string got;
  FSDB_ASSERT_OK(read_file_to_string(*fs_, path, &got));
  ASSERT_EQ(got.size(), expected.size()) << "close() cuts the file after the last append";
  EXPECT_TRUE(got == expected);
}

// A process killed in the middle of an append must leave a clean prefix of what
// it appended, then zeros: the log reader takes valid data after a hole for
// damage in the middle of the log. (A plain memcpy stores out of order, its
// first bytes last, and left such holes.)
TEST_F(PosixFileSystemTest, MappedAppendKilledMidwayLeavesAPrefixThenZeros) {
  auto pattern_byte = [](uint64_t offset) {
    return static_cast<char>(1 + (offset * 131 + offset / 977) % 255);  // never zero
  };
  std::mt19937_64 rng(7);
  for (int round = 0; round < 40; ++round) {
    const std::string path = dir_.file("killed-" + std::to_string(round));
    // The child says when its file exists, so that the kill lands in the
    // appends however slowly the child starts (sanitizer builds).
    int started[2];
    ASSERT_EQ(::pipe(started), 0);
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::close(started[0]);
      WritableFileOptions options;
      options.use_mmap = true;
      std::unique_ptr<WritableFile> f;
      if (!fs_->new_writable_file(path, options, &f).ok()) ::_exit(2);
      const char ready = 1;
      if (::write(started[1], &ready, 1) != 1) ::_exit(4);
      std::string piece;
      uint64_t offset = 0;
      for (uint64_t i = 0; offset < (512u << 20); ++i) {
        piece.resize(257 + (i * 7919) % 16000);
        for (char& c : piece) c = pattern_byte(offset++);
        if (!f->append(piece).ok()) ::_exit(3);
      }
      ::_exit(0);
    }
    ::close(started[1]);
    char ready = 0;
    const ssize_t got_ready = ::read(started[0], &ready, 1);
    ::close(started[0]);
    ASSERT_EQ(got_ready, 1) << "the child could not create " << path;
    std::this_thread::sleep_for(std::chrono::microseconds(2000 + rng() % 20000));
    ::kill(child, SIGKILL);
    int wstatus = 0;
    ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
    ASSERT_TRUE(WIFSIGNALED(wstatus)) << "the child ended before it was killed";
    std::string got;
    FSDB_ASSERT_OK(read_file_to_string(*fs_, path, &got));
    size_t prefix = 0;
    while (prefix < got.size() && got[prefix] == pattern_byte(prefix)) ++prefix;
    const size_t stray = static_cast<size_t>(
        std::find_if(got.begin() + prefix, got.end(), [](char c) { return c != 0; }) - got.begin());
    ASSERT_EQ(stray, got.size()) << "round " << round << ": " << prefix
                                 << " bytes written in order, then a hole, then data at offset "
                                 << stray;
  }
}

// A mapped file that cannot grow (here: the process's file size limit makes
// raising the size fail, as a full disk makes the reservation fail) returns
// an error naming the file and keeps refusing; nothing is written through the
// mapping past the end of the file, which would be a SIGBUS.
TEST_F(PosixFileSystemTest, MappedFileThatCannotGrowReturnsAnError) {
  const std::string path = dir_.file("limited");
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct rlimit limit {};
    limit.rlim_cur = limit.rlim_max = 256 << 10;
    ::signal(SIGXFSZ, SIG_IGN);  // an error return instead of the signal
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(10);
    WritableFileOptions options;
    options.use_mmap = true;
    std::unique_ptr<WritableFile> f;
    if (!fs_->new_writable_file(path, options, &f).ok()) ::_exit(11);
    const std::string piece(1000, 'p');
    Status s;
    for (int i = 0; i < 1000 && s.ok(); ++i) s = f->append(piece);
    if (s.ok()) ::_exit(12);                                         // never refused
    if (!s.is_io_error()) ::_exit(13);                               // not an I/O error
    if (s.to_string().find(path) == std::string::npos) ::_exit(14);  // the file is not named
    if (f->append("x").ok()) ::_exit(15);                            // took data after failing
    if (f->size() > (256u << 10)) ::_exit(16);                       // counted bytes it lost
    ::_exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus)) << "killed by signal " << WTERMSIG(wstatus);
  EXPECT_EQ(WEXITSTATUS(wstatus), 0) << "see the exit codes in the child";
}

// In a child process whose file size limit (RLIMIT_FSIZE) is `limit`, with
// SIGXFSZ at its default action (which ends the process): appends to a
// mapped file at `path` until one is refused. The helper that grows the file
// ahead of the data must stop short of the limit, and so must every block
// reservation; the append that would pass it fails with an error.
void expect_mapped_file_stops_at_the_limit(FileSystem& fs, const std::string& path,
                                           uint64_t limit) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct rlimit rlimit {};
    rlimit.rlim_cur = rlimit.rlim_max = limit;
    if (::setrlimit(RLIMIT_FSIZE, &rlimit) != 0) ::_exit(10);
    WritableFileOptions options;
    options.use_mmap = true;
    std::unique_ptr<WritableFile> f;
    if (!fs.new_writable_file(path, options, &f).ok()) ::_exit(11);
    if (!f->appends_are_memory_copies()) ::_exit(0);  // write(2): not this test's subject
    const std::string piece(1000, 'p');
    Status s;
    uint64_t appended = 0;
    for (uint64_t i = 0; i < limit / piece.size() + 100 && s.ok(); ++i) {
      s = f->append(piece);
      if (s.ok()) appended += piece.size();
      // Give the helper time to run ahead (and past the limit, if it would).
      if (i % 256 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (s.ok()) ::_exit(12);                                         // never refused
    if (s.to_string().find(path) == std::string::npos) ::_exit(13);  // the file is not named
    if (s.to_string().find("RLIMIT_FSIZE") == std::string::npos) ::_exit(14);
    if (appended + (64 << 10) < limit) ::_exit(15);  // refused far before the limit
    (void)f->close();  // returns the same error: the file took no more data
    uint64_t on_disk = 0;
    if (!fs.get_file_size(path, &on_disk).ok() || on_disk != appended) ::_exit(16);
    ::_exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus)) << "killed by signal " << WTERMSIG(wstatus) << " (SIGXFSZ is "
                                  << SIGXFSZ << ")";
  EXPECT_EQ(WEXITSTATUS(wstatus), 0) << "see the exit codes in the child";
}

// Raising a file's size past RLIMIT_FSIZE raises SIGXFSZ.
TEST_F(PosixFileSystemTest, MappedFileStopsAtTheFileSizeLimitWithoutASignal) {
  expect_mapped_file_stops_at_the_limit(*fs_, dir_.file("rlimit"), 3 << 20);
}

// tmpfs checks the limit even for a reservation that keeps the file's size
// (fallocate with FALLOC_FL_KEEP_SIZE), and raises SIGXFSZ past it: the
// reservations made at open and ahead of the data must stop at the limit
// too, whether or not it is a whole number of reservation steps.
TEST_F(PosixFileSystemTest, MappedFileOnTmpfsReservesNothingPastTheFileSizeLimit) {
  struct statfs info {};
  if (::statfs("/dev/shm", &info) != 0 || info.f_type != TMPFS_MAGIC) {
    GTEST_SKIP() << "no tmpfs at /dev/shm";
  }
  char dir[] = "/dev/shm/fsdb-rlimit-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  for (const uint64_t limit : {uint64_t{512} << 10, (uint64_t{3} << 20) + (512 << 10)}) {
    SCOPED_TRACE("limit " + std::to_string(limit));
    const std::string path = std::string(dir) + "/log";
    expect_mapped_file_stops_at_the_limit(*fs_, path, limit);
    ::unlink(path.c_str());
  }
  ::rmdir(dir);
}

// The same for a file written with write(2) (tables, the MANIFEST, a log
// where mappings are not used): a write past the limit would raise SIGXFSZ,
// so it fails with an error naming the file and the limit, and the bytes
// before it are in the file.
TEST_F(PosixFileSystemTest, WrittenFileStopsAtTheFileSizeLimitWithoutASignal) {
  const std::string path = dir_.file("rlimit-write");
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    struct rlimit limit {};
    limit.rlim_cur = limit.rlim_max = 1 << 20;
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(10);
    std::unique_ptr<WritableFile> f;
    if (!fs_->new_writable_file(path, &f).ok()) ::_exit(11);
    if (f->appends_are_memory_copies()) ::_exit(17);  // not the write(2) file
    const std::string piece(1000, 'p');
    Status s;
    uint64_t accepted = 0;
    for (int i = 0; i < 2000 && s.ok(); ++i) {
      s = f->append(piece);
      if (s.ok()) s = f->flush();  // each piece reaches write(2) now
      if (s.ok()) accepted += piece.size();
    }
    if (s.ok()) ::_exit(12);                                         // never refused
    if (s.to_string().find(path) == std::string::npos) ::_exit(13);  // the file is not named
    if (s.to_string().find("RLIMIT_FSIZE") == std::string::npos) ::_exit(14);
    if (accepted != (1u << 20) / piece.size() * piece.size()) ::_exit(15);
    uint64_t on_disk = 0;
    if (!fs_->get_file_size(path, &on_disk).ok() || on_disk != accepted) ::_exit(16);
    ::_exit(0);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  ASSERT_TRUE(WIFEXITED(wstatus)) << "killed by signal " << WTERMSIG(wstatus) << " (SIGXFSZ is "
                                  << SIGXFSZ << ")";
  EXPECT_EQ(WEXITSTATUS(wstatus), 0) << "see the exit codes in the child";
}

TEST_F(PosixFileSystemTest, MappedWriteToAFullDiskIsAnErrorNotACrash) {
  // /dev/full cannot be mapped or preallocated: an ordinary file is returned,
  // and its full-disk error names the file.
  WritableFileOptions options;
  options.use_mmap = true;
  std::unique_ptr<WritableFile> f;
  Status s = fs_->new_writable_file("/dev/full", options, &f);
  if (!s.ok()) GTEST_SKIP() << s.to_string();
  s = f->append(std::string(1 << 17, 'x'));
  if (s.ok()) s = f->sync();
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.to_string().find("/dev/full"), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("write at offset 0"), std::string::npos) << s.to_string();
}

TEST_F(PosixFileSystemTest, AppendableFileContinuesAtTheEnd) {
  const std::string path = dir_.file("ap");
  FSDB_ASSERT_OK(write_string_to_file(*fs_, "abc", path, true));
  std::unique_ptr<WritableFile> w;
  FSDB_ASSERT_OK(fs_->new_appendable_file(path, &w));
  EXPECT_EQ(w->size(), 3u);
  FSDB_ASSERT_OK(w->append("def"));
  FSDB_ASSERT_OK(w->close());
  std::string got;
  FSDB_ASSERT_OK(read_file_to_string(*fs_, path, &got));
  EXPECT_EQ(got, "abcdef");
}

TEST_F(PosixFileSystemTest, DirectoryOperations) {
  const std::string sub = dir_.file("sub");
  FSDB_ASSERT_OK(fs_->create_dir(sub));
  FSDB_ASSERT_OK(fs_->create_dir(sub)) << "creating an existing directory is OK";
  bool is_dir = false;
  FSDB_ASSERT_OK(fs_->is_directory(sub, &is_dir));
  EXPECT_TRUE(is_dir);

  FSDB_ASSERT_OK(write_string_to_file(*fs_, "1", sub + "/one", true));
  FSDB_ASSERT_OK(write_string_to_file(*fs_, "2", sub + "/two.tmp", true));
  FSDB_ASSERT_OK(fs_->rename_file(sub + "/two.tmp", sub + "/two"));
  FSDB_ASSERT_OK(fs_->sync_dir(sub));
  std::vector<std::string> names;
  FSDB_ASSERT_OK(fs_->get_children(sub, &names));
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"one", "two"}));

  FSDB_ASSERT_OK(fs_->is_directory(sub + "/one", &is_dir));
  EXPECT_FALSE(is_dir);
  Status s = fs_->create_dir(sub + "/one");
  EXPECT_TRUE(s.is_io_error()) << "a file in the way: " << s.to_string();

  EXPECT_FALSE(fs_->remove_dir(sub).ok()) << "not empty";
  FSDB_ASSERT_OK(fs_->remove_file(sub + "/one"));
  FSDB_ASSERT_OK(fs_->remove_file(sub + "/two"));
  EXPECT_FALSE(fs_->file_exists(sub + "/one"));
  FSDB_ASSERT_OK(fs_->remove_dir(sub));
  EXPECT_FALSE(fs_->file_exists(sub));
}

TEST_F(PosixFileSystemTest, ErrorsNameTheFileAndTheSystemError) {
  const std::string missing = dir_.file("no-such-file");
  std::unique_ptr<SequentialFile> f;
  Status s = fs_->new_sequential_file(missing, &f);
  EXPECT_TRUE(s.is_not_found()) << s.to_string();
  EXPECT_NE(s.to_string().find(missing), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("No such file or directory"), std::string::npos);

  s = fs_->remove_file(missing);
  EXPECT_NE(s.to_string().find(missing), std::string::npos) << s.to_string();
  uint64_t size = 0;
  EXPECT_TRUE(fs_->get_file_size(missing, &size).is_not_found());
  s = fs_->rename_file(missing, dir_.file("x"));
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("rename"), std::string::npos) << s.to_string();

  std::unique_ptr<WritableFile> w;
  s = fs_->new_writable_file(dir_.file("no-dir/file"), &w);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("no-dir/file"), std::string::npos) << s.to_string();
}

TEST_F(PosixFileSystemTest, FullDiskIsAnIOErrorNamingTheFile) {
  if (::access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  std::unique_ptr<WritableFile> w;
  FSDB_ASSERT_OK(fs_->new_appendable_file("/dev/full", &w));
  FSDB_ASSERT_OK(w->append("buffered"));  // sits in the user-space buffer
  Status s = w->flush();
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.to_string().find("/dev/full"), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("No space left on device"), std::string::npos) << s.to_string();
}

TEST_F(PosixFileSystemTest, LockIsExclusiveInThisProcessAndAcrossProcesses) {
  const std::string path = dir_.file("LOCK");
  std::unique_ptr<FileLock> lock;
  FSDB_ASSERT_OK(fs_->lock_file(path, &lock));
  std::unique_ptr<FileLock> second;
  Status s = fs_->lock_file(path, &second);
  EXPECT_TRUE(s.is_busy()) << s.to_string();

  // Another process cannot take it either.
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int fd = ::open(path.c_str(), O_RDWR);
    struct flock fl {};
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    ::_exit(fd >= 0 && ::fcntl(fd, F_SETLK, &fl) != 0 ? 0 : 1);
  }
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_TRUE(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0)
      << "the child process could take the lock";

  lock.reset();
  FSDB_ASSERT_OK(fs_->lock_file(path, &second)) << "released when the holder is destroyed";
}

// What another process gets when it asks for `type` on `path`: true if granted.
bool another_process_can_lock(const std::string& path, short type) {
  pid_t child = ::fork();
  if (child < 0) return false;
  if (child == 0) {
    int fd = ::open(path.c_str(), type == F_WRLCK ? O_RDWR : O_RDONLY);
    struct flock fl {};
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    ::_exit(fd >= 0 && ::fcntl(fd, F_SETLK, &fl) == 0 ? 0 : 1);
  }
  int wstatus = 0;
  if (::waitpid(child, &wstatus, 0) != child) return false;
  return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
}

// One file, however its path is spelled: two writers in one process under
// "d/LOCK" and "d/./LOCK" would both get the lock (fcntl locks belong to the
// process), and the first to let go would drop the other's.
TEST_F(PosixFileSystemTest, ALockIsOneFileHoweverItsPathIsSpelled) {
  const std::string path = dir_.file("LOCK");
  const std::string other_spelling = dir_.path() + "/./LOCK";
  const std::string link = dir_.file("LINK");
  std::unique_ptr<FileLock> writer;
  FSDB_ASSERT_OK(fs_->lock_file(path, &writer));
  ASSERT_EQ(::link(path.c_str(), link.c_str()), 0);
  std::unique_ptr<FileLock> second;
  for (const std::string& name : {other_spelling, link}) {
    Status s = fs_->lock_file(name, &second);
    EXPECT_TRUE(s.is_busy()) << name << ": " << s.to_string();
    s = fs_->lock_file_shared(name, &second);
    EXPECT_TRUE(s.is_busy()) << name << ": " << s.to_string();
  }
  writer.reset();
  std::unique_ptr<FileLock> reader;
  FSDB_ASSERT_OK(fs_->lock_file_shared(path, &reader));
  FSDB_ASSERT_OK(fs_->lock_file_shared(other_spelling, &second));
  reader.reset();  // the other spelling's holder keeps the file locked
  EXPECT_FALSE(another_process_can_lock(path, F_WRLCK));
  Status s = fs_->lock_file(link, &writer);
  EXPECT_TRUE(s.is_busy()) << s.to_string();
  second.reset();
  EXPECT_TRUE(another_process_can_lock(path, F_WRLCK));
}

TEST_F(PosixFileSystemTest, SharedLocksExcludeOnlyTheExclusiveOne) {
  const std::string path = dir_.file("LOCK");
  std::unique_ptr<FileLock> reader;
  FSDB_ASSERT_OK(fs_->lock_file_shared(path, &reader)) << "created if missing";
  std::unique_ptr<FileLock> second_reader;
  FSDB_ASSERT_OK(fs_->lock_file_shared(path, &second_reader));
  std::unique_ptr<FileLock> writer;
  Status s = fs_->lock_file(path, &writer);
  EXPECT_TRUE(s.is_busy()) << s.to_string();
  EXPECT_NE(s.to_string().find("read-only"), std::string::npos) << s.to_string();
  EXPECT_TRUE(another_process_can_lock(path, F_RDLCK));
  EXPECT_FALSE(another_process_can_lock(path, F_WRLCK));

  // One reader gone: the other still holds the lock (fcntl would have dropped
  // every lock of this process on the file with the first close).
  reader.reset();
  EXPECT_FALSE(another_process_can_lock(path, F_WRLCK));
  s = fs_->lock_file(path, &writer);
  EXPECT_TRUE(s.is_busy()) << s.to_string();

  second_reader.reset();
  EXPECT_TRUE(another_process_can_lock(path, F_WRLCK)) << "released with the last reader";
  FSDB_ASSERT_OK(fs_->lock_file(path, &writer));
  s = fs_->lock_file_shared(path, &reader);
  EXPECT_TRUE(s.is_busy()) << s.to_string();
  EXPECT_FALSE(another_process_can_lock(path, F_RDLCK));
  writer.reset();
  FSDB_ASSERT_OK(fs_->lock_file_shared(path, &reader)) << "released when the writer is destroyed";
}

}  // namespace
}  // namespace fsdb
