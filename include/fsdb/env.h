// fsdb::FileSystem — the one seam between fsdb and the operating system.
//
// Every byte fsdb reads or writes goes through a FileSystem, so that tests and
// the crash harness can substitute FaultInjectionFileSystem (power loss, torn
// writes, EIO, ENOSPC) for the posix default. Every error carries the path and,
// for system errors, strerror(errno): "IO error: /db/000007.log: write: No space left on device".
//
// Thread safety: a FileSystem is safe to use from many threads at once. A
// RandomAccessFile may be read from many threads at once (positional reads). A
// SequentialFile or WritableFile is used by one thread at a time; callers
// serialise access to it.
//
// Ownership: files are returned as std::unique_ptr and closed when destroyed (a
// WritableFile destroyed without close() flushes but does not sync).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fsdb/status.h"

namespace fsdb {

// Reads a file from front to back.
class SequentialFile {
 public:
  virtual ~SequentialFile() = default;
  // Reads up to n bytes. *result points into scratch (which must hold n bytes) or
  // into memory the file owns until the next call. Fewer than n bytes, including
  // none, means the end of the file was reached.
  virtual Status read(size_t n, std::string_view* result, char* scratch) = 0;
  // Skips n bytes forward.
  virtual Status skip(uint64_t n) = 0;
  virtual const std::string& path() const = 0;
};

// Reads a file at any offset; thread-safe.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to n bytes at offset. *result points into scratch (n bytes) or into
  // memory the file owns for its lifetime. Fewer than n bytes means end of file.
  virtual Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const = 0;
  // The file's size in bytes.
  virtual Status size(uint64_t* bytes) const = 0;
  virtual const std::string& path() const = 0;
};

// How a RandomAccessFile is opened.
struct RandomAccessFileOptions {
  // Map the file into memory and serve reads straight from the mapping: no
  // system call and no copy per read, the result points into the mapping. For
  // files that do not change while open (fsdb's tables). The price of a
  // mapping: an I/O error on one of its pages, or the file shrinking under it
  // (another process truncating it), raises SIGBUS instead of returning an
  // error. A file system that cannot map a file (or a fault-injecting one,
  // whose errors must stay errors) returns an ordinary file instead.
  bool use_mmap = false;
};

// How a WritableFile is opened.
struct WritableFileOptions {
  // Append by copying into a shared mapping of the file instead of write(2):
  // an appended byte is in the page cache, and so survives a crash of the
  // process, as soon as append() returns, for the price of a memcpy instead of
  // a system call. Space is reserved ahead with fallocate (a full disk is an
  // error from append(), never a fault), so until close() truncates it the
  // file may end in zeros, which fsdb's log reader takes for the end of the log.
  // For append-only files read by readers that know that (fsdb's WAL). A file
  // system that cannot map or preallocate, or whose write faults may need
  // space beyond the reservation (copy-on-write file systems; posix: anything
  // but ext4, XFS and tmpfs), returns an ordinary file.
  bool use_mmap = false;
};

// Appends to a file. Appended bytes may sit in a user-space buffer until
// flush(); they are durable only after sync().
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual Status append(std::string_view data) = 0;
  // append(), for bytes the caller syncs right after. A file may write them
  // another way that is cheaper when a sync follows: a mapped file writes
  // them with pwrite(2), as a store into a page that a sync has just written
  // back takes a write fault first. (A wrapper that only overrides append()
  // sees these bytes too: this default calls it.)
  virtual Status append_before_sync(std::string_view data) { return append(data); }
  // Hands every appended byte to the operating system (survives a process crash).
  virtual Status flush() = 0;
  // flush(), then makes the data durable (fdatasync: survives a power cut). The
  // file's directory entry is durable only after FileSystem::sync_dir().
  virtual Status sync() = 0;
  // flush() and release the descriptor; further calls fail.
  virtual Status close() = 0;
  // Bytes in the file, including those appended and not yet flushed.
  virtual uint64_t size() const = 0;
  virtual const std::string& path() const = 0;
  // Whether append() is a copy into memory the operating system already owns
  // (a shared mapping): no system call, and flushed as it returns. A caller
  // may then append while holding a lock that other threads spin on.
  virtual bool appends_are_memory_copies() const { return false; }
};

// An advisory lock on a file, held until this object is destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  virtual Status new_sequential_file(const std::string& path,
                                     std::unique_ptr<SequentialFile>* file) = 0;
  virtual Status new_random_access_file(const std::string& path,
                                        std::unique_ptr<RandomAccessFile>* file) = 0;
  // With options; the default ignores them (a file system without mappings).
  virtual Status new_random_access_file(const std::string& path,
                                        const RandomAccessFileOptions& options,
                                        std::unique_ptr<RandomAccessFile>* file) {
    (void)options;
    return new_random_access_file(path, file);
  }
  // Creates the file, or truncates it if it exists.
  virtual Status new_writable_file(const std::string& path,
                                   std::unique_ptr<WritableFile>* file) = 0;
  // With options; the default ignores them.
  virtual Status new_writable_file(const std::string& path, const WritableFileOptions& options,
                                   std::unique_ptr<WritableFile>* file) {
    (void)options;
    return new_writable_file(path, file);
  }
  // Opens the file for appending at its end, creating it if missing.
  virtual Status new_appendable_file(const std::string& path,
                                     std::unique_ptr<WritableFile>* file) = 0;

  virtual bool file_exists(const std::string& path) = 0;
  // NotFound if the path does not exist; *is_dir tells whether it is a directory.
  virtual Status is_directory(const std::string& path, bool* is_dir) = 0;
  // The names (not paths) in a directory, without "." and "..", in no set order.
  virtual Status get_children(const std::string& dir, std::vector<std::string>* names) = 0;
  virtual Status get_file_size(const std::string& path, uint64_t* bytes) = 0;
  virtual Status remove_file(const std::string& path) = 0;
  // Creates a directory; OK if it already exists as a directory.
  virtual Status create_dir(const std::string& path) = 0;
  // Creates a directory that must not exist yet: an IOError if anything has
  // the name, so that two callers never share it. The default checks, then
  // creates; a file system that can do both in one step should.
  virtual Status create_new_dir(const std::string& path) {
    if (file_exists(path)) return Status::IOError(path + ": exists");
    return create_dir(path);
  }
  virtual Status remove_dir(const std::string& path) = 0;
  // Atomically replaces `to` with `from` (rename(2)). Durable after sync_dir().
  virtual Status rename_file(const std::string& from, const std::string& to) = 0;
  // A second name `to` (which must not exist) for the file `from`: a hard
  // link (link(2)), sharing its bytes. Durable after sync_dir(). NotSupported
  // where a link cannot be made there at all (the default; two devices, a
  // file system without links, a file with too many): a caller may copy
  // instead. An IOError otherwise (`to` exists, a missing file, no space).
  virtual Status link_file(const std::string& from, const std::string& to) {
    return Status::NotSupported(from + ": link to " + to + ": no hard links in this file system");
  }
  // Makes the directory's entries (creations, renames, removals) durable.
  virtual Status sync_dir(const std::string& path) = 0;
  // Takes an exclusive advisory lock on `path` (created if missing). Busy if
  // another process, or another lock in this process, holds it.
  virtual Status lock_file(const std::string& path, std::unique_ptr<FileLock>* lock) = 0;
  // Takes a shared advisory lock on `path`, as a DB opened read-only does: any
  // number may be held at once, none while an exclusive one is. Busy if an
  // exclusive lock is held. The default takes an exclusive one (for a file
  // system without shared locks): read-only opens then exclude each other
  // too.
  virtual Status lock_file_shared(const std::string& path, std::unique_ptr<FileLock>* lock) {
    return lock_file(path, lock);
  }
};

// A WritableFile that forwards every call to another: subclass it to change a
// few calls of a file handed out by a FileSystemWrapper.
class WritableFileWrapper : public WritableFile {
 public:
  explicit WritableFileWrapper(std::unique_ptr<WritableFile> base) : base_(std::move(base)) {}
  Status append(std::string_view data) override { return base_->append(data); }
  Status flush() override { return base_->flush(); }
  Status sync() override { return base_->sync(); }
  Status close() override { return base_->close(); }
  uint64_t size() const override { return base_->size(); }
  const std::string& path() const override { return base_->path(); }
  bool appends_are_memory_copies() const override { return base_->appends_are_memory_copies(); }

 protected:
  WritableFile& base() const { return *base_; }

 private:
  std::unique_ptr<WritableFile> base_;
};

// A FileSystem that forwards every call to another: subclass it and override
// only the calls you want to change (count, delay, fail, log...).
class FileSystemWrapper : public FileSystem {
 public:
  explicit FileSystemWrapper(std::shared_ptr<FileSystem> base) : base_(std::move(base)) {}
  FileSystem& base() const { return *base_; }

  Status new_sequential_file(const std::string& path,
                             std::unique_ptr<SequentialFile>* file) override {
    return base_->new_sequential_file(path, file);
  }
  Status new_random_access_file(const std::string& path,
                                std::unique_ptr<RandomAccessFile>* file) override {
    return base_->new_random_access_file(path, file);
  }
  // The calls with options open ordinary files through the plain calls above,
  // so that a subclass overriding a plain call sees every file the engine
  // opens; a subclass that wants mappings overrides these too.
  Status new_random_access_file(const std::string& path, const RandomAccessFileOptions& options,
                                std::unique_ptr<RandomAccessFile>* file) override {
    (void)options;
    return new_random_access_file(path, file);
  }
  Status new_writable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    return base_->new_writable_file(path, file);
  }
  Status new_writable_file(const std::string& path, const WritableFileOptions& options,
                           std::unique_ptr<WritableFile>* file) override {
    (void)options;
    return new_writable_file(path, file);
  }
  Status new_appendable_file(const std::string& path,
                             std::unique_ptr<WritableFile>* file) override {
    return base_->new_appendable_file(path, file);
  }
  bool file_exists(const std::string& path) override { return base_->file_exists(path); }
  Status is_directory(const std::string& path, bool* is_dir) override {
    return base_->is_directory(path, is_dir);
  }
  Status get_children(const std::string& dir, std::vector<std::string>* names) override {
    return base_->get_children(dir, names);
  }
  Status get_file_size(const std::string& path, uint64_t* bytes) override {
    return base_->get_file_size(path, bytes);
  }
  Status remove_file(const std::string& path) override { return base_->remove_file(path); }
  Status create_dir(const std::string& path) override { return base_->create_dir(path); }
  Status remove_dir(const std::string& path) override { return base_->remove_dir(path); }
  Status rename_file(const std::string& from, const std::string& to) override {
    return base_->rename_file(from, to);
  }
  Status link_file(const std::string& from, const std::string& to) override {
    return base_->link_file(from, to);
  }
  Status sync_dir(const std::string& path) override { return base_->sync_dir(path); }
  Status lock_file(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return base_->lock_file(path, lock);
  }
  Status lock_file_shared(const std::string& path, std::unique_ptr<FileLock>* lock) override {
    return base_->lock_file_shared(path, lock);
  }

 private:
  std::shared_ptr<FileSystem> base_;
};

// The default: POSIX files (pread or mmap, write, fdatasync, fcntl locks). A
// shared instance; it holds no state of its own.
std::shared_ptr<FileSystem> posix_file_system();

// Reads a whole file into *data.
Status read_file_to_string(FileSystem& fs, const std::string& path, std::string* data);
// Writes `data` to a new file at path (replacing it), and syncs it when `sync`.
// On failure the partial file is removed. The directory is not synced.
Status write_string_to_file(FileSystem& fs, std::string_view data, const std::string& path,
                            bool sync);

// A FileSystem over another that can fake what the hardware does badly: power
// loss, torn writes, and I/O errors on chosen calls. It tracks for each file the
// length at its last sync and which creations, renames and removals were made
// durable by a sync of their directory.
class FaultInjectionFileSystem : public FileSystem {
 public:
  explicit FaultInjectionFileSystem(std::shared_ptr<FileSystem> base);
  ~FaultInjectionFileSystem() override;

  // Power loss: every file returns to its length at its last sync; files
  // created, and renames made, since their directory's last sync are undone;
  // removals not made durable bring the file back; a directory created since
  // its parent's last sync goes, with everything in it. Files still open belong to
  // the process that "lost power": every later call on them fails with IOError.
  // Call it once the DB using this file system has been destroyed or abandoned.
  void drop_unsynced_data();
  // Inactive: every write, sync, rename, removal and creation fails with IOError.
  void set_active(bool active);
  bool is_active() const;
  // The (n+1)-th mutating call from now on fails with `error`, and so does every
  // mutating call after it until clear_faults().
  void fail_after(int n_ops, Status error);
  // Writable files claim appends_are_memory_copies() (as a mapped file does),
  // so that the engine takes the paths it keeps for mapped logs — unsynced
  // writers appending under its sequence lock — while every append still goes
  // through this file system, its faults and its power cuts.
  void set_appends_claim_memory_copies(bool claim);
  // Whether writable files asked for with use_mmap (the engine's WAL) are
  // opened mapped from the base file system; off by default.
  void set_map_writable_files(bool map);
  // With drop_unsynced_data(): keep a random prefix of each file's unsynced tail
  // instead of dropping it whole (a torn write).
  void set_torn_writes(bool torn, uint64_t seed);
  // With drop_unsynced_data(): each 4 KiB page of a file's unsynced tail
  // reaches the disk or not, independently (the page cache writes pages back
  // in no set order); a lost page reads as zeros, a kept one sometimes as an
  // older version of itself (a prefix of its bytes, zeros after), and the
  // file ends with the last page kept, or (half of the time) at its unsynced
  // size, sometimes with up to ~1 MiB of zeros past it (a mapped log's size
  // raised ahead of its data). With torn writes too, this applies to the
  // torn prefix. Shares its random source with set_torn_writes(): the later
  // call's seed is the one in force.
  void set_lost_pages(bool lost, uint64_t seed);
  // Each mutating call (and read, when include_reads) fails with `error` with the
  // given probability. Half of the appends that fail so write a random part
  // of their bytes first (a disk that fills mid-way through a write(2)). A
  // sync that fails so loses the file's unsynced bytes at the next
  // drop_unsynced_data(), even if a later sync of the file succeeds (Linux
  // drops the dirty pages of a failed writeback: still readable, never
  // written).
  void set_random_failures(double probability, Status error, bool include_reads, uint64_t seed);
  // Ends fail_after and random failures and makes the file system active again.
  void clear_faults();
  // Mutating calls seen so far (appends, syncs, creations, renames, removals).
  uint64_t mutating_calls() const;
  // Faults injected so far.
  uint64_t injected_faults() const;

  Status new_sequential_file(const std::string& path,
                             std::unique_ptr<SequentialFile>* file) override;
  Status new_random_access_file(const std::string& path,
                                std::unique_ptr<RandomAccessFile>* file) override;
  // Never maps: injected read errors must reach the reader as errors, and
  // drop_unsynced_data() rewrites files that a mapping could still be reading.
  Status new_random_access_file(const std::string& path, const RandomAccessFileOptions& options,
                                std::unique_ptr<RandomAccessFile>* file) override {
    (void)options;
    return new_random_access_file(path, file);
  }
  Status new_writable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override;
  // Maps (options.use_mmap) only after set_map_writable_files(true): the
  // base file system's mapped file, its every append and sync still through
  // this file system. A power cut drops what was not synced once the file is
  // closed (drop_unsynced_data() is for after the DB is gone).
  Status new_writable_file(const std::string& path, const WritableFileOptions& options,
                           std::unique_ptr<WritableFile>* file) override;
  Status new_appendable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override;
  bool file_exists(const std::string& path) override;
  Status is_directory(const std::string& path, bool* is_dir) override;
  Status get_children(const std::string& dir, std::vector<std::string>* names) override;
  Status get_file_size(const std::string& path, uint64_t* bytes) override;
  Status remove_file(const std::string& path) override;
  Status create_dir(const std::string& path) override;
  Status remove_dir(const std::string& path) override;
  Status rename_file(const std::string& from, const std::string& to) override;
  // A link is a creation of `to`, undone by a power cut until its directory
  // is synced; with set_links(false), NotSupported (a file system without
  // links, where the engine copies instead).
  Status link_file(const std::string& from, const std::string& to) override;
  void set_links(bool supported);
  Status sync_dir(const std::string& path) override;
  Status lock_file(const std::string& path, std::unique_ptr<FileLock>* lock) override;
  Status lock_file_shared(const std::string& path, std::unique_ptr<FileLock>* lock) override;

  struct State;  // shared with the file wrappers

 private:
  std::shared_ptr<FileSystem> base_;
  std::shared_ptr<State> state_;
};

}  // namespace fsdb
