#include "util/posix_file_lock.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <utility>

#include "util/io_error.h"

namespace fsdb {
namespace {

// A file, whatever path names it.
using FileId = std::pair<dev_t, ino_t>;

// What this process holds of one LOCK file: one descriptor carries the fcntl
// lock for every holder here.
struct HeldLock {
  int fd = -1;
  bool exclusive = false;
  int holders = 0;
};

std::mutex held_mutex;
std::map<FileId, HeldLock>& held_locks() {
  static std::map<FileId, HeldLock> held;
  return held;
}

// A lock on a file this process holds in held_locks().
class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(FileId id) : id_(id) {}
  ~PosixFileLock() override {
    std::lock_guard<std::mutex> guard(held_mutex);
    auto it = held_locks().find(id_);
    if (it == held_locks().end() || --it->second.holders > 0) return;
    struct flock fl {};
    fl.l_type = F_UNLCK;
    fl.l_whence = SEEK_SET;
    (void)::fcntl(it->second.fd, F_SETLK, &fl);
    ::close(it->second.fd);
    held_locks().erase(it);
  }

 private:
  FileId id_;
};

// A shared lock where the LOCK file could not be made: nothing to release.
class UnbackedFileLock final : public FileLock {};

// The held entry for the file at `path`, or end(). Looked up by the file's
// identity before any descriptor of it is opened: closing a second
// descriptor would drop the lock the first one carries.
std::map<FileId, HeldLock>::iterator find_held(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return held_locks().end();  // missing: not held here
  return held_locks().find(FileId{st.st_dev, st.st_ino});
}

// Takes the fcntl lock on `fd` and records it; closes `fd` on failure.
Status lock_and_record(const std::string& path, int fd, bool exclusive,
                       std::unique_ptr<FileLock>* lock) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return io_error(path, "stat lock file", err);
  }
  struct flock fl {};
  fl.l_type = exclusive ? F_WRLCK : F_RDLCK;
  fl.l_whence = SEEK_SET;
  if (::fcntl(fd, F_SETLK, &fl) != 0) {
    const int err = errno;
    ::close(fd);
    if (err == EACCES || err == EAGAIN) {
      return Status::Busy(path + (exclusive ? ": locked by another process"
                                            : ": locked for writing by another process"));
    }
    return io_error(path, "lock", err);
  }
  const FileId id{st.st_dev, st.st_ino};
  held_locks()[id] = HeldLock{fd, exclusive, /*holders=*/1};
  *lock = std::make_unique<PosixFileLock>(id);
  return Status::OK();
}

}  // namespace

Status lock_file_exclusive(const std::string& path, std::unique_ptr<FileLock>* lock) {
  // Held across the lookup, the open and the fcntl: a second thread of this
  // process must not take the same file in between.
  std::lock_guard<std::mutex> guard(held_mutex);
  if (auto held = find_held(path); held != held_locks().end()) {
    return Status::Busy(path + (held->second.exclusive ? ": already locked by this process"
                                                       : ": open read-only in this process"));
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return io_error(path, "open lock file", errno);
  return lock_and_record(path, fd, /*exclusive=*/true, lock);
}

Status lock_file_shared(const std::string& path, std::unique_ptr<FileLock>* lock) {
  std::lock_guard<std::mutex> guard(held_mutex);
  if (auto held = find_held(path); held != held_locks().end()) {
    if (held->second.exclusive) return Status::Busy(path + ": already locked by this process");
    ++held->second.holders;
    *lock = std::make_unique<PosixFileLock>(held->first);
    return Status::OK();
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0 && (errno == EROFS || errno == EACCES || errno == EPERM)) {
      // No LOCK, and none can be made: on a read-only file system no writer
      // can come either; in a directory this user may not write, one that
      // may would not be kept out (DB::open_read_only() says so).
      *lock = std::make_unique<UnbackedFileLock>();
      return Status::OK();
    }
  }
  if (fd < 0) return io_error(path, "open lock file", errno);
  return lock_and_record(path, fd, /*exclusive=*/false, lock);
}

}  // namespace fsdb
