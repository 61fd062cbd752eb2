// The posix file system's appendable file over a shared mapping
// (WritableFileOptions::use_mmap): an append is a copy into the page cache, no
// system call. Private to util/.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "fsdb/env.h"

namespace fsdb {

struct MmapWritableFileLimits {
  // Disk blocks are reserved (fallocate, KEEP_SIZE) this many bytes at a time.
  static constexpr uint64_t kReserveBytes = 1 << 20;
  // An append that finds no room raises the file's size itself, in steps this big.
  static constexpr uint64_t kSizeStepBytes = 64 << 10;
  // Address space mapped at first; grown with mremap.
  static constexpr uint64_t kWindowBytes = 64 << 20;
  // A helper thread keeps up to this much room ready past the data (the
  // file's size raised and its pages faulted in for writing), so that
  // appends rarely do it themselves ...
  static constexpr uint64_t kPrepareLeadBytes = 1 << 20;
  // ... asked once the room falls this far short, and growing the file this
  // much per hold of the lock an outrun append would wait for.
  static constexpr uint64_t kPrepareStepBytes = 256 << 10;
  // How far the file's size may run past the data while the file is open.
  static constexpr uint64_t kMaxLeadBytes = kPrepareLeadBytes + kSizeStepBytes;
};

// Tests only: when set, called instead of faulting in the file's bytes
// [from, to) for writing (MADV_POPULATE_WRITE). Returns 0, or the errno the
// kernel would have set (EFAULT: the pages could not be faulted in, as with
// an I/O error or a file system that shut down). The pages themselves stay
// writable, so a test can tell a failed step redone from one skipped. The
// hook is process-wide: it sees every mapped file opened while it is set.
using MmapPopulateHook = int (*)(const std::string& path, uint64_t from, uint64_t to);
void set_mmap_populate_hook_for_testing(MmapPopulateHook hook);

// Takes `fd` (open for reading and writing, empty). Null, with `fd` untouched,
// if the file system cannot preallocate or map it, or is not known to honour
// a reservation on a later write fault: the caller then writes with write(2).
std::unique_ptr<WritableFile> open_mmap_writable_file(const std::string& path, int fd);

}  // namespace fsdb
