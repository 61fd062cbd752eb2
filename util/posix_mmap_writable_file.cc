#include "util/posix_mmap_writable_file.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "util/background_thread.h"
#include "util/io_error.h"

namespace fsdb {
namespace {

// Appends by copying into a shared mapping of the file. Disk blocks are
// reserved ahead with fallocate (KEEP_SIZE), kReserveBytes at a time, so that
// a page fault on the mapping never needs space the disk may not have. A page
// past the end of a file cannot be written through a mapping, so the file's
// size is raised over reserved blocks ahead of the data, and the new pages
// are faulted in for writing at the same time (MADV_POPULATE_WRITE).
//
// That preparation is the expensive part of an append: on ext4 about 90 us
// per 64 KiB (the kernel allocates, zeroes and maps each page), ~470 ns per
// 140-byte record, three times the copy itself. The engine appends while
// holding the lock that orders its writers' sequences, so a helper thread
// (started at the first append) does it instead and keeps up to
// kPrepareLeadBytes ready past the data. An append finds its room ready and
// only copies; one that outruns the helper grows the file itself,
// kSizeStepBytes at a time.
//
// The mapping covers kWindowBytes of address space at first. Only an append
// moves it (mremap): the helper grows the file within the window, so the
// appending thread's view of the mapping never changes under it.
// close() stops the helper, then truncates the file to what was appended.
//
// Threads: one appending thread at a time (the WritableFile contract) and the
// helper. The helper touches the file only under grow_mu_, as does an append
// that grows the file; the bytes an append copies lie below ready_, where the
// helper never writes. base_ is written only by the appending thread (under
// grow_mu_), so that thread reads it without the lock.
class PosixMmapWritableFile final : public WritableFile {
  using Limits = MmapWritableFileLimits;

 public:
  static std::unique_ptr<WritableFile> open(const std::string& path, int fd) {
    if (!reservation_covers_write_faults(fd)) return nullptr;
    if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(Limits::kReserveBytes)) != 0) {
      return nullptr;
    }
    void* base = ::mmap(nullptr, Limits::kWindowBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
      (void)::ftruncate(fd, 0);  // frees the reserved blocks
      return nullptr;
    }
    return std::unique_ptr<WritableFile>(
        new PosixMmapWritableFile(path, fd, static_cast<char*>(base)));
  }

  // A store through the mapping into a page with no room behind it gets
  // SIGBUS, not an error. ext4 and XFS write into the blocks fallocate
  // reserved (ext4 keeps a reserve for converting them to written extents),
  // and tmpfs's fallocate allocates the pages themselves. Copy-on-write file
  // systems (btrfs, ZFS) allocate anew on every write fault whatever was
  // reserved, and others are unknown: they get write(2), which reports a full
  // disk as an error.
  static bool reservation_covers_write_faults(int fd) {
    struct statfs info;
    if (::fstatfs(fd, &info) != 0) return false;
    switch (static_cast<unsigned long>(info.f_type)) {
      case EXT4_SUPER_MAGIC:  // ext2/ext3 share it; without extents fallocate fails: write(2)
      case XFS_SUPER_MAGIC:
      case TMPFS_MAGIC:
        return true;
      default:
        return false;
    }
  }

  ~PosixMmapWritableFile() override {
    if (fd_ >= 0) (void)close();
  }

  Status append(std::string_view data) override {
    if (fd_ < 0) return closed_error();
    if (!error_.ok()) return error_;
    const uint64_t end = size_ + data.size();
    // Acquire: pairs with the release store that published ready_, so the
    // file is that long and its pages are mapped before this copy stores
    // into them.
    if (end > ready_.load(std::memory_order_acquire)) {
      Status s = grow_now(end);
      if (!s.ok()) return error_ = s;
    }
    copy_in_order(base_ + size_, data.data(), data.size());
    size_ = end;
    // Relaxed: only decides whether to ask for more room; the room itself is
    // checked with the acquire load above. At the end of the window the
    // helper can do nothing: the next growth moves the mapping, here.
    const uint64_t ready = ready_.load(std::memory_order_relaxed);
    if (ready - size_ < Limits::kPrepareLeadBytes - Limits::kPrepareStepBytes && ready < window_) {
      request_preparation(size_ + Limits::kPrepareLeadBytes);
    }
    return Status::OK();
  }

  // The data is in the page cache already.
  Status flush() override { return fd_ < 0 ? closed_error() : error_; }

  Status sync() override {
    if (fd_ < 0) return closed_error();
    if (!error_.ok()) return error_;
    // Writes back the pages dirtied through the mapping too, and the size.
    if (::fdatasync(fd_) != 0) return io_error(path_, "fdatasync", errno);
    return Status::OK();
  }

  Status close() override {
    if (fd_ < 0) return Status::OK();
    // Joins the helper (after any preparation it has queued): nothing but
    // this thread uses the file from here on.
    preparer_.reset();
    Status s = error_;
    ::munmap(base_, window_);
    // The file ends where the data does; the reserved blocks past it go.
    if (::ftruncate(fd_, static_cast<off_t>(size_)) != 0 && s.ok()) {
      s = io_error(path_, "ftruncate", errno);
    }
    if (::close(fd_) != 0 && s.ok()) s = io_error(path_, "close", errno);
    fd_ = -1;
    return s;
  }

  uint64_t size() const override { return size_; }
  bool appends_are_memory_copies() const override { return true; }
  const std::string& path() const override { return path_; }

 private:
  PosixMmapWritableFile(std::string path, int fd, char* base)
      : path_(std::move(path)),
        fd_(fd),
        base_(base),
        window_(Limits::kWindowBytes),
        reserved_(Limits::kReserveBytes) {}

  Status closed_error() const { return Status::IOError(path_ + ": file already closed"); }

  // The stores into the mapping are the file's contents the moment they
  // execute, so a process killed during an append leaves whatever the copy
  // had stored. memcpy stores out of order (its first and last bytes after or
  // before the middle), which could leave a hole with whole records after it:
  // damage in the middle of the log to its reader. Copying upwards, 16 bytes
  // per store, leaves a prefix and at most one torn store, too short to hold
  // a log fragment.
  static void copy_in_order(char* to, const char* from, size_t n) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
      std::memcpy(to + i, from + i, 16);
      // A compiler barrier: the stores keep their order (the CPU executes a
      // thread's stores in order as far as a signal landing on it can tell).
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
    for (; i < n; ++i) {
      to[i] = from[i];
      std::atomic_signal_fence(std::memory_order_seq_cst);
    }
  }

  static uint64_t round_up(uint64_t n, uint64_t step) { return (n + step - 1) / step * step; }

  // The appending thread, out of ready room: grows the file to hold `end`
  // bytes, unless the helper (whose preparation this waits for) just did.
  Status grow_now(uint64_t end) {
    std::lock_guard<std::mutex> guard(grow_mu_);
    // Relaxed: published under grow_mu_, which this thread holds.
    if (end <= ready_.load(std::memory_order_relaxed)) return Status::OK();
    return grow_locked(end, /*may_move_mapping=*/true);
  }

  // Makes [0, bytes) (rounded up to kSizeStepBytes) writable through the
  // mapping: blocks reserved, the file that long, the mapping that wide, the
  // pages faulted in; then publishes it in ready_. Without
  // `may_move_mapping` (the helper) it stops at the end of the window.
  // REQUIRES: grow_mu_ held.
  Status grow_locked(uint64_t bytes, bool may_move_mapping) {
    if (!may_move_mapping) bytes = std::min(bytes, window_);
    if (bytes <= file_size_) return Status::OK();
    if (bytes > reserved_) {
      const uint64_t want = round_up(bytes, Limits::kReserveBytes);
      if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(reserved_),
                      static_cast<off_t>(want - reserved_)) != 0) {
        return io_error(path_, "fallocate at offset " + std::to_string(reserved_), errno);
      }
      reserved_ = want;
    }
    uint64_t new_size = std::min(round_up(bytes, Limits::kSizeStepBytes), reserved_);
    if (!may_move_mapping) new_size = std::min(new_size, window_);
    // Over reserved blocks: raising the size allocates nothing.
    if (::ftruncate(fd_, static_cast<off_t>(new_size)) != 0) {
      return io_error(path_, "ftruncate to " + std::to_string(new_size), errno);
    }
    const uint64_t old_size = file_size_;
    file_size_ = new_size;
    if (new_size > window_) {
      const uint64_t window = round_up(new_size, Limits::kWindowBytes);
      void* moved = ::mremap(base_, window_, window, MREMAP_MAYMOVE);
      if (moved == MAP_FAILED) return io_error(path_, "mremap", errno);
      base_ = static_cast<char*>(moved);
      window_ = window;
    }
#ifdef MADV_POPULATE_WRITE
    // Take the write faults of the new pages now, in one call, rather than
    // one at a time inside later appends (a fault per 4 KiB page, each a trap
    // into the kernel, and on ext4 a page_mkwrite). Only a hint: a kernel
    // without it (before 5.14) faults page by page.
    (void)::madvise(base_ + old_size, new_size - old_size, MADV_POPULATE_WRITE);
#endif
    // Release: pairs with append()'s acquire load.
    ready_.store(new_size, std::memory_order_release);
    return Status::OK();
  }

  // On the appending thread, when the room ready runs short: asks the helper
  // to make the file `target` bytes long.
  void request_preparation(uint64_t target) {
    // Relaxed: the flag only keeps requests from piling up in the queue; the
    // preparation synchronises with appends through grow_mu_ and ready_.
    if (helper_unavailable_ || preparation_requested_.exchange(true, std::memory_order_relaxed)) {
      return;
    }
    try {
      if (!preparer_) preparer_ = std::make_unique<BackgroundThread>(/*max_queued=*/1);
      if (preparer_->try_submit([this, target] { prepare_ahead(target); })) return;
    } catch (...) {
      // No thread (or no memory for one): appends grow the file themselves,
      // as they do whenever the helper falls behind.
      helper_unavailable_ = true;
    }
    preparation_requested_.store(false, std::memory_order_relaxed);
  }

  // On the helper thread. One step per hold of grow_mu_, so that an append
  // that outruns the helper waits for one step at most. Never moves the
  // mapping: at the end of the window the appending thread does that.
  void prepare_ahead(uint64_t target) {
    for (;;) {
      std::lock_guard<std::mutex> guard(grow_mu_);
      if (preparation_failed_ || file_size_ >= std::min(target, window_)) break;
      // A failure here is left for the append that needs the room: it
      // retries and reports it, naming the file and offset.
      if (!grow_locked(std::min(file_size_ + Limits::kPrepareStepBytes, target),
                       /*may_move_mapping=*/false)
               .ok()) {
        preparation_failed_ = true;
      }
    }
    // Cleared only now, so that the appends made meanwhile (which still saw
    // too little ready) queued no second request: the next append looks at
    // what is ready now and asks again if it must. The file's size thus runs
    // at most kMaxLeadBytes past the data.
    preparation_requested_.store(false, std::memory_order_relaxed);  // relaxed: see above
  }

  const std::string path_;
  int fd_;
  uint64_t size_ = 0;  // bytes appended (appending thread only)
  Status error_;       // a failed growth: the file takes no more data (appending thread only)
  // [0, ready_) is within the file and the mapping: an append below it only copies.
  std::atomic<uint64_t> ready_{0};
  std::mutex grow_mu_;
  // The mapping: written under grow_mu_, by the appending thread only.
  char* base_;
  uint64_t window_;                  // bytes mapped (may run past the end of the file)
  uint64_t reserved_;                // bytes of disk blocks allocated to the file; grow_mu_
  uint64_t file_size_ = 0;           // the file's size until close; grow_mu_
  bool preparation_failed_ = false;  // grow_mu_
  std::atomic<bool> preparation_requested_{false};
  bool helper_unavailable_ = false;  // appending thread only
  // Declared last: destroyed (joined) first, while everything its task uses
  // still exists. close() joins it earlier.
  std::unique_ptr<BackgroundThread> preparer_;
};

}  // namespace

std::unique_ptr<WritableFile> open_mmap_writable_file(const std::string& path, int fd) {
  return PosixMmapWritableFile::open(path, fd);
}

}  // namespace fsdb
