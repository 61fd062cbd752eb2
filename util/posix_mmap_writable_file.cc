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
#include "util/file_size_limit.h"
#include "util/io_error.h"

namespace fsdb {
namespace {

std::atomic<MmapPopulateHook> populate_hook{nullptr};

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
// (started with the file) does it instead and keeps up to
// kPrepareLeadBytes ready past the data. An append finds its room ready and
// only copies; one that outruns the helper grows the file itself,
// kSizeStepBytes at a time.
//
// The mapping covers kWindowBytes of address space at first. Only an append
// moves it (mremap): the helper grows the file within the window, so the
// appending thread's view of the mapping never changes under it.
// close() stops the helper, then truncates the file to what was appended.
//
// The process's file size limit (RLIMIT_FSIZE, read at open) bounds every
// growth: raising the size past it would raise SIGXFSZ, whose default action
// ends the process. The helper stops short of it; an append that would need
// more fails with an error naming the file.
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
    // tmpfs checks RLIMIT_FSIZE even for a reservation that keeps the size,
    // and raises SIGXFSZ past it: no reservation goes past the limit.
    const uint64_t size_limit = file_size_limit();
    const uint64_t reserve = std::min(Limits::kReserveBytes, size_limit);
    if (reserve == 0) return nullptr;  // under one size step: write(2) refuses what passes it
    if (::fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, static_cast<off_t>(reserve)) != 0) {
      return nullptr;
    }
    void* base = ::mmap(nullptr, Limits::kWindowBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
      (void)::ftruncate(fd, 0);  // frees the reserved blocks
      return nullptr;
    }
    std::unique_ptr<PosixMmapWritableFile> file(
        new PosixMmapWritableFile(path, fd, static_cast<char*>(base), size_limit, reserve));
    file->start_helper();
    return file;
  }

  // Bytes the file may grow to (RLIMIT_FSIZE), rounded down to a size step.
  static uint64_t file_size_limit() {
    const uint64_t limit = file_size_limit_bytes();
    return limit == UINT64_MAX ? limit : limit / Limits::kSizeStepBytes * Limits::kSizeStepBytes;
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

  Status append(std::string_view data) override { return append_bytes(data, false); }

  // The same bytes through pwrite(2) instead of the mapping: a sync is about
  // to write back the pages they land in, and a page a sync has written back
  // is write-protected again, so the next store into it through the mapping
  // takes a fault (on ext4 a page_mkwrite) before the copy. A synced write
  // after a synced write always lands in such a page. pwrite copies through
  // the kernel's own mapping of the same page-cache pages (the mapping sees
  // the bytes) without that fault: an fdatasync-per-write loop ran 15-20%
  // faster here. It copies front to back, as copy_in_order() does, and stops
  // between pages at most: a killed process leaves a prefix. The file is
  // already ready_ long, so its size does not change.
  Status append_before_sync(std::string_view data) override { return append_bytes(data, true); }

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
    // A preparation still queued does nothing (close() would only truncate
    // it again); joining the helper leaves this thread the only user of the
    // file. Relaxed: a hint; the join orders the rest.
    helper_off_.store(true, std::memory_order_relaxed);
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
  PosixMmapWritableFile(std::string path, int fd, char* base, uint64_t size_limit,
                        uint64_t reserved)
      : path_(std::move(path)),
        fd_(fd),
        size_limit_(size_limit),
        base_(base),
        window_(Limits::kWindowBytes),
        reserved_(reserved) {}

  // At open rather than at the first append, which runs under the engine's
  // sequence lock: creating a thread is a few tens of microseconds.
  void start_helper() {
    try {
      preparer_ = std::make_unique<BackgroundThread>(/*max_queued=*/1, "fsdb:logprep");
    } catch (...) {
      // No thread (or no memory for one): appends grow the file themselves,
      // as they do whenever the helper falls behind.
      helper_off_.store(true, std::memory_order_relaxed);  // relaxed: before any other thread runs
    }
  }

  Status closed_error() const { return Status::IOError(path_ + ": file already closed"); }

  Status append_bytes(std::string_view data, bool through_pwrite) {
    if (fd_ < 0) return closed_error();
    if (!error_.ok()) return error_;
    const uint64_t end = size_ + data.size();
    // Acquire: pairs with the release store that published ready_, so the
    // file is that long and its pages are mapped before this copy stores
    // into them (or pwrite writes below the file's size).
    if (end > ready_.load(std::memory_order_acquire)) {
      Status s = grow_now(end);
      if (!s.ok()) return error_ = s;
    }
    if (through_pwrite) {
      for (size_t done = 0; done < data.size();) {
        const ssize_t n =
            ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(size_ + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
          // The file takes no more data, as after a failed growth; size_
          // stays where the last whole append left it.
          return error_ = io_error(path_, "pwrite at offset " + std::to_string(size_ + done),
                                   n < 0 ? errno : EIO);
        }
        done += static_cast<size_t>(n);
      }
    } else {
      copy_in_order(base_ + size_, data.data(), data.size());
    }
    size_ = end;
    // Relaxed: only decides whether to ask for more room; the room itself is
    // checked with the acquire load above. At the end of the window the
    // helper can do nothing: the next growth moves the mapping, here.
    const uint64_t ready = ready_.load(std::memory_order_relaxed);
    if (ready - size_ < Limits::kPrepareLeadBytes - Limits::kPrepareStepBytes && ready < window_ &&
        ready < size_limit_) {
      request_preparation(size_ + Limits::kPrepareLeadBytes);
    }
    return Status::OK();
  }

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
    // Tells the helper to stop after its current step: std::mutex is not
    // fair, and the helper would otherwise take the lock straight back.
    appender_waiting_.store(true, std::memory_order_relaxed);  // relaxed: a hint
    std::lock_guard<std::mutex> guard(grow_mu_);
    appender_waiting_.store(false, std::memory_order_relaxed);
    // Relaxed: published under grow_mu_, which this thread holds.
    if (end <= ready_.load(std::memory_order_relaxed)) return Status::OK();
    return grow_locked(end, /*may_move_mapping=*/true);
  }

  // Makes [0, bytes) (rounded up to kSizeStepBytes) writable through the
  // mapping: blocks reserved, the file that long, the mapping that wide, the
  // pages faulted in; then publishes it in ready_. Without
  // `may_move_mapping` (the helper) it stops at the end of the window.
  // Every step is redone or skipped by the next call after a failure: the
  // room counts as made only once ready_ says so, whatever the file's size.
  // REQUIRES: grow_mu_ held.
  Status grow_locked(uint64_t bytes, bool may_move_mapping) {
    if (!may_move_mapping) bytes = std::min({bytes, window_, size_limit_});
    // Relaxed: only this function stores it, under grow_mu_.
    const uint64_t ready = ready_.load(std::memory_order_relaxed);
    if (bytes <= ready) return Status::OK();
    if (bytes > size_limit_) {
      return Status::IOError(path_ + ": an append up to offset " + std::to_string(bytes) +
                             " would pass the process's file size limit (RLIMIT_FSIZE) of " +
                             std::to_string(size_limit_) + " bytes");
    }
    if (bytes > reserved_) {
      // Not past the limit (see open()); still at least `bytes`, checked above.
      const uint64_t want = std::min(round_up(bytes, Limits::kReserveBytes), size_limit_);
      if (::fallocate(fd_, FALLOC_FL_KEEP_SIZE, static_cast<off_t>(reserved_),
                      static_cast<off_t>(want - reserved_)) != 0) {
        return io_error(path_, "fallocate at offset " + std::to_string(reserved_), errno);
      }
      reserved_ = want;
    }
    uint64_t new_size = std::min({round_up(bytes, Limits::kSizeStepBytes), reserved_, size_limit_});
    if (!may_move_mapping) new_size = std::min(new_size, window_);
    // Over reserved blocks: raising the size allocates nothing. A step that
    // failed after this one may have left the file longer already.
    if (new_size > file_size_) {
      if (::ftruncate(fd_, static_cast<off_t>(new_size)) != 0) {
        return io_error(path_, "ftruncate to " + std::to_string(new_size), errno);
      }
      file_size_ = new_size;
    }
    if (new_size > window_) {
      const uint64_t window = round_up(new_size, Limits::kWindowBytes);
      void* moved = ::mremap(base_, window_, window, MREMAP_MAYMOVE);
      if (moved == MAP_FAILED) return io_error(path_, "mremap", errno);
      base_ = static_cast<char*>(moved);
      window_ = window;
    }
    // Take the write faults of the new pages now, in one call, rather than
    // one at a time inside later appends (a fault per 4 KiB page, each a trap
    // into the kernel, and on ext4 a page_mkwrite). Only a hint: a kernel
    // without it (before 5.14) faults page by page. But a page it cannot
    // fault in for writing (EFAULT: an I/O error, a file system that shut
    // down) would make an append's store a SIGBUS: that is an error here,
    // before appends may use the pages.
    if (const int error = populate_for_writing(ready, new_size);
        error == EFAULT || error == EHWPOISON) {
      return io_error(
          path_,
          "making bytes " + std::to_string(ready) + ".." + std::to_string(new_size) + " writable",
          error);
    }
    // Release: pairs with append()'s acquire load.
    ready_.store(new_size, std::memory_order_release);
    return Status::OK();
  }

  // Faults in the file's bytes [from, to) for writing; 0 or the errno.
  int populate_for_writing(uint64_t from, uint64_t to) const {
    // Relaxed: a test sets the hook before it opens its files and clears it
    // after closing them (which joins the helper): thread creation and the
    // join order those, and the hook guards its own state.
    if (const MmapPopulateHook hook = populate_hook.load(std::memory_order_relaxed)) {
      return hook(path_, from, to);
    }
#ifdef MADV_POPULATE_WRITE
    if (::madvise(base_ + from, to - from, MADV_POPULATE_WRITE) != 0) return errno;
#endif
    return 0;
  }

  // On the appending thread, when the room ready runs short: asks the helper
  // to make the file `target` bytes long.
  void request_preparation(uint64_t target) {
    // Relaxed, both: hints. The flag only keeps requests from piling up in
    // the queue; the preparation synchronises with appends through grow_mu_
    // and ready_.
    if (helper_off_.load(std::memory_order_relaxed) ||
        preparation_requested_.exchange(true, std::memory_order_relaxed)) {
      return;
    }
    bool queued = false;
    try {
      queued = preparer_->try_submit([this, target] { prepare_ahead(target); });
    } catch (...) {
      // No memory for the task: this append has its room; a later one asks again.
    }
    if (!queued) preparation_requested_.store(false, std::memory_order_relaxed);
  }

  // On the helper thread. One step per hold of grow_mu_, and none once an
  // append waits for the lock, so that an append that outruns the helper
  // waits for one step (rarely two). Never moves the mapping: at the end of
  // the window the appending thread does that.
  void prepare_ahead(uint64_t target) {
    try {
      // Relaxed: hints (see request_preparation() and grow_now()).
      while (!helper_off_.load(std::memory_order_relaxed) &&
             !appender_waiting_.load(std::memory_order_relaxed)) {
        std::lock_guard<std::mutex> guard(grow_mu_);
        // Relaxed: stored only under grow_mu_, which this thread holds.
        const uint64_t ready = ready_.load(std::memory_order_relaxed);
        if (ready >= std::min({target, window_, size_limit_})) break;
        // A failure here is left for the append that needs the room: it
        // retries and reports it, naming the file and offset. The helper
        // stops for good, so that appends no longer ask it.
        if (!grow_locked(std::min(ready + Limits::kPrepareStepBytes, target),
                         /*may_move_mapping=*/false)
                 .ok()) {
          helper_off_.store(true, std::memory_order_relaxed);
        }
      }
    } catch (...) {
      // Out of memory for an error message, or a mutex that failed: the
      // same as a failed growth. Nothing may escape into the helper thread.
      helper_off_.store(true, std::memory_order_relaxed);
    }
    // Cleared only now, so that the appends made meanwhile (which still saw
    // too little ready) queued no second request: the next append looks at
    // what is ready now and asks again if it must. The file's size thus runs
    // at most kMaxLeadBytes past the data.
    preparation_requested_.store(false, std::memory_order_relaxed);  // relaxed: see above
  }

  const std::string path_;
  int fd_;
  const uint64_t size_limit_;  // RLIMIT_FSIZE at open, in whole size steps
  uint64_t size_ = 0;          // bytes appended (appending thread only)
  Status error_;  // a failed growth: the file takes no more data (appending thread only)
  // [0, ready_) is within the file and the mapping: an append below it only copies.
  std::atomic<uint64_t> ready_{0};
  std::mutex grow_mu_;
  // The mapping: written under grow_mu_, by the appending thread only.
  char* base_;
  uint64_t window_;         // bytes mapped (may run past the end of the file)
  uint64_t reserved_;       // bytes of disk blocks allocated to the file; grow_mu_
  uint64_t file_size_ = 0;  // the file's size until close; grow_mu_
  // The helper does nothing more: it failed, could not start, or the file is closing.
  std::atomic<bool> helper_off_{false};
  std::atomic<bool> preparation_requested_{false};
  std::atomic<bool> appender_waiting_{false};
  // Declared last: destroyed (joined) first, while everything its task uses
  // still exists. close() joins it earlier.
  std::unique_ptr<BackgroundThread> preparer_;
};

}  // namespace

void set_mmap_populate_hook_for_testing(MmapPopulateHook hook) {
  populate_hook.store(hook, std::memory_order_relaxed);  // relaxed: see populate_for_writing()
}

std::unique_ptr<WritableFile> open_mmap_writable_file(const std::string& path, int fd) {
  return PosixMmapWritableFile::open(path, fd);
}

}  // namespace fsdb
