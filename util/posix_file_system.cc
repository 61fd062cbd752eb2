// The POSIX FileSystem: pread (or a read-only mapping) for random access, a
// user-space buffer in front of write(2) for appends (or a shared mapping:
// posix_mmap_writable_file.h), fdatasync for sync, fcntl locks for LOCK files
// (posix_file_lock.h).
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "fsdb/env.h"
#include "util/file_size_limit.h"
#include "util/io_error.h"
#include "util/posix_file_lock.h"
#include "util/posix_mmap_writable_file.h"

namespace fsdb {
namespace {

constexpr size_t kWriteBufferBytes = 64 * 1024;

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  Status read(size_t n, std::string_view* result, char* scratch) override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, scratch + got, n - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        *result = {};
        return io_error(path_, "read", errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    *result = std::string_view(scratch, got);
    return Status::OK();
  }

  Status skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) == static_cast<off_t>(-1)) {
      return io_error(path_, "lseek", errno);
    }
    return Status::OK();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, scratch + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        *result = {};
        return io_error(path_, "pread at offset " + std::to_string(offset + got), errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    *result = std::string_view(scratch, got);
    return Status::OK();
  }

  Status size(uint64_t* bytes) const override {
    struct stat st;
    if (::fstat(fd_, &st) != 0) return io_error(path_, "fstat", errno);
    *bytes = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  int fd_;
};

// A read-only shared mapping of a whole file, taken at open: reads return
// views into it. The size is fixed at open (the file must not change).
class PosixMappedFile final : public RandomAccessFile {
 public:
  PosixMappedFile(std::string path, const char* base, uint64_t size)
      : path_(std::move(path)), base_(base), size_(size) {}
  ~PosixMappedFile() override { ::munmap(const_cast<char*>(base_), static_cast<size_t>(size_)); }

  Status read(uint64_t offset, size_t n, std::string_view* result,
              char* /*scratch*/) const override {
    if (offset >= size_) {
      *result = {};
      return Status::OK();
    }
    const uint64_t available = size_ - offset;
    *result = std::string_view(base_ + offset, n < available ? n : static_cast<size_t>(available));
    return Status::OK();
  }

  Status size(uint64_t* bytes) const override {
    *bytes = size_;
    return Status::OK();
  }

  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  const char* base_;
  uint64_t size_;
};

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t initial_size)
      : path_(std::move(path)), fd_(fd), size_(initial_size), written_(initial_size) {
    buffer_.reserve(kWriteBufferBytes);
  }
  ~PosixWritableFile() override {
    if (fd_ >= 0) (void)close();
  }

  Status append(std::string_view data) override {
    if (fd_ < 0) return closed_error();
    size_ += data.size();
    if (buffer_.size() + data.size() <= kWriteBufferBytes) {
      buffer_.append(data);
      return Status::OK();
    }
    Status s = flush_buffer();
    if (!s.ok()) return s;
    if (data.size() <= kWriteBufferBytes) {
      buffer_.append(data);
      return Status::OK();
    }
    return write_all(data);  // large appends skip the copy
  }

  Status flush() override {
    if (fd_ < 0) return closed_error();
    return flush_buffer();
  }

  Status sync() override {
    if (fd_ < 0) return closed_error();
    Status s = flush_buffer();
    if (!s.ok()) return s;
    if (::fdatasync(fd_) != 0) return io_error(path_, "fdatasync", errno);
    return Status::OK();
  }

  Status close() override {
    if (fd_ < 0) return Status::OK();
    Status s = flush_buffer();
    if (::close(fd_) != 0 && s.ok()) s = io_error(path_, "close", errno);
    fd_ = -1;
    return s;
  }

  uint64_t size() const override { return size_; }
  const std::string& path() const override { return path_; }

 private:
  Status closed_error() const { return Status::IOError(path_ + ": file already closed"); }

  Status flush_buffer() {
    if (buffer_.empty()) return Status::OK();
    Status s = write_all(buffer_);
    buffer_.clear();
    return s;
  }

  Status write_all(std::string_view data) {
    if (data.size() > size_limit_ - std::min(written_, size_limit_)) {
      return Status::IOError(path_ + ": a write of " + std::to_string(data.size()) +
                             " bytes at offset " + std::to_string(written_) +
                             " would pass the process's file size limit (RLIMIT_FSIZE) of " +
                             std::to_string(size_limit_) + " bytes");
    }
    while (!data.empty()) {
      ssize_t w = ::write(fd_, data.data(), data.size());
      if (w < 0) {
        if (errno == EINTR) continue;
        return io_error(path_, "write at offset " + std::to_string(written_), errno);
      }
      data.remove_prefix(static_cast<size_t>(w));
      written_ += static_cast<uint64_t>(w);
    }
    return Status::OK();
  }

  std::string path_;
  int fd_;
  uint64_t size_;     // what was appended, the buffer included
  uint64_t written_;  // what reached the file: where the next write(2) lands
  std::string buffer_;
  const uint64_t size_limit_ = file_size_limit_bytes();  // read at open
};

class PosixFileSystem final : public FileSystem {
 public:
  Status new_sequential_file(const std::string& path,
                             std::unique_ptr<SequentialFile>* file) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(path, "open", errno);
    *file = std::make_unique<PosixSequentialFile>(path, fd);
    return Status::OK();
  }

  Status new_random_access_file(const std::string& path,
                                std::unique_ptr<RandomAccessFile>* file) override {
    return new_random_access_file(path, RandomAccessFileOptions{}, file);
  }

  Status new_random_access_file(const std::string& path, const RandomAccessFileOptions& options,
                                std::unique_ptr<RandomAccessFile>* file) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return io_error(path, "open", errno);
    if (options.use_mmap) {
      struct stat st;
      if (::fstat(fd, &st) != 0) {
        const int err = errno;
        ::close(fd);
        return io_error(path, "fstat", err);
      }
      // An empty file cannot be mapped, and a failed mapping (address space,
      // a file system without mmap) costs only the copy: both fall back to pread.
      if (st.st_size > 0) {
        void* base = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
        if (base != MAP_FAILED) {
          ::close(fd);  // the mapping keeps the file's pages reachable
          *file = std::make_unique<PosixMappedFile>(path, static_cast<const char*>(base),
                                                    static_cast<uint64_t>(st.st_size));
          return Status::OK();
        }
      }
    }
    *file = std::make_unique<PosixRandomAccessFile>(path, fd);
    return Status::OK();
  }

  Status new_writable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    return new_writable_file(path, WritableFileOptions{}, file);
  }

  Status new_writable_file(const std::string& path, const WritableFileOptions& options,
                           std::unique_ptr<WritableFile>* file) override {
    // A mapping needs the file open for reading too.
    const int access = options.use_mmap ? O_RDWR : O_WRONLY;
    int fd = ::open(path.c_str(), access | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_error(path, "open for writing", errno);
    if (options.use_mmap) {
      if (auto mapped = open_mmap_writable_file(path, fd)) {
        *file = std::move(mapped);
        return Status::OK();
      }
    }
    *file = std::make_unique<PosixWritableFile>(path, fd, 0);
    return Status::OK();
  }

  Status new_appendable_file(const std::string& path,
                             std::unique_ptr<WritableFile>* file) override {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return io_error(path, "open for appending", errno);
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      int err = errno;
      ::close(fd);
      return io_error(path, "fstat", err);
    }
    *file = std::make_unique<PosixWritableFile>(path, fd, static_cast<uint64_t>(st.st_size));
    return Status::OK();
  }

  bool file_exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  Status is_directory(const std::string& path, bool* is_dir) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return io_error(path, "stat", errno);
    *is_dir = S_ISDIR(st.st_mode);
    return Status::OK();
  }

  Status get_children(const std::string& dir, std::vector<std::string>* names) override {
    names->clear();
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return io_error(dir, "opendir", errno);
    // readdir is safe on a DIR* that no other thread uses (glibc); readdir_r is
    // deprecated.
    while (struct dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
      std::string_view name(e->d_name);
      if (name == "." || name == "..") continue;
      names->emplace_back(name);
    }
    ::closedir(d);
    return Status::OK();
  }

  Status get_file_size(const std::string& path, uint64_t* bytes) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return io_error(path, "stat", errno);
    *bytes = static_cast<uint64_t>(st.st_size);
    return Status::OK();
  }

  Status remove_file(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return io_error(path, "unlink", errno);
    return Status::OK();
  }

  Status create_dir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) == 0) return Status::OK();
    int err = errno;
    struct stat st;
    if (err == EEXIST && ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
      return Status::OK();
    }
    return io_error(path, "mkdir", err);
  }

  Status create_new_dir(const std::string& path) override {
    if (::mkdir(path.c_str(), 0755) != 0) return io_error(path, "mkdir", errno);
    return Status::OK();
  }

  Status remove_dir(const std::string& path) override {
    if (::rmdir(path.c_str()) != 0) return io_error(path, "rmdir", errno);
    return Status::OK();
  }

  Status rename_file(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return io_error(from, "rename to " + to, errno);
    }
    return Status::OK();
  }

  Status link_file(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) == 0) return Status::OK();
    const int err = errno;
    if (err == EXDEV || err == EPERM || err == EMLINK || err == ENOTSUP) {
      return Status::NotSupported(from + ": link to " + to + ": " +
                                  std::error_code(err, std::generic_category()).message());
    }
    return io_error(from, "link to " + to, err);
  }

  Status sync_dir(const std::string& path) override {
    int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return io_error(path, "open directory", errno);
    Status s;
    if (::fsync(fd) != 0) s = io_error(path, "fsync directory", errno);
    ::close(fd);
    return s;
  }

  Status lock_file(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return lock_file_exclusive(path, lock);
  }
  Status lock_file_shared(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return fsdb::lock_file_shared(path, lock);
  }
};

}  // namespace

Status io_error(const std::string& path, std::string_view operation, int err) {
  std::string msg = path;
  msg += ": ";
  msg += operation;
  msg += ": ";
  msg += std::error_code(err, std::generic_category()).message();  // strerror, thread-safe
  if (err == ENOENT) return Status::NotFound(msg);
  return Status::IOError(msg);
}

std::shared_ptr<FileSystem> posix_file_system() {
  static const std::shared_ptr<FileSystem> instance = std::make_shared<PosixFileSystem>();
  return instance;
}

Status read_file_to_string(FileSystem& fs, const std::string& path, std::string* data) {
  data->clear();
  std::unique_ptr<SequentialFile> file;
  Status s = fs.new_sequential_file(path, &file);
  if (!s.ok()) return s;
  constexpr size_t kChunk = 64 * 1024;
  std::string scratch(kChunk, '\0');
  while (true) {
    std::string_view piece;
    s = file->read(kChunk, &piece, scratch.data());
    if (!s.ok()) return s;
    if (piece.empty()) return Status::OK();
    data->append(piece);
  }
}

Status write_string_to_file(FileSystem& fs, std::string_view data, const std::string& path,
                            bool sync) {
  std::unique_ptr<WritableFile> file;
  Status s = fs.new_writable_file(path, &file);
  if (!s.ok()) return s;
  s = file->append(data);
  if (s.ok() && sync) s = file->sync();
  Status c = file->close();
  if (s.ok()) s = c;
  if (!s.ok()) (void)fs.remove_file(path);
  return s;
}

}  // namespace fsdb
