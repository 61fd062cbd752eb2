// LogWriter: appends records to one write-ahead log file in the format of
// log_format.h.
//
// Records are framed into an in-memory buffer and handed to the WritableFile in
// one append followed by one flush (one write(2) on the posix file system):
// add_record() buffers until `buffer_bytes` are pending, add_records() writes a
// whole group at once and syncs it when asked, which is what group commit needs.
//
// After any failed append, flush or sync the writer is broken: the file may end
// in a partial fragment, so every later call returns the first error and the
// caller must move to a new log file. A record becomes durable only when a
// sync() (or add_records(..., sync = true)) that started after it returns OK.
// The first append after a sync begins with a sync mark (log_format.h) saying
// how far the log was durable, and once the log was synced, the first record
// boundary of every block repeats it: recovery tells damage to synced data
// from the out-of-order loss of unsynced data that a power cut can leave.
//
// Thread safety: none; one thread at a time calls it (the engine: a write
// group leader, or a direct writer under the engine's sequence lock).
// Ownership: the writer owns its file and closes it when destroyed (as close()
// does: right after a sync, with a synced sync mark).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "fsdb/env.h"
#include "fsdb/status.h"

namespace fsdb::wal {

struct LogWriterOptions {
  // add_record() hands the buffer to the file once this many bytes are pending.
  size_t buffer_bytes = 256 * 1024;
  // create() opens the file as a shared mapping (WritableFileOptions::use_mmap):
  // handing a group to the OS is a memcpy, not a write(2).
  bool use_mmap = false;
};

class LogWriter {
 public:
  // `file` may already hold a log (opened for appending): framing continues at
  // its current size, in the middle of its last block.
  LogWriter(std::unique_ptr<WritableFile> file, uint64_t log_number,
            const LogWriterOptions& options = {});
  ~LogWriter();
  LogWriter(const LogWriter&) = delete;
  LogWriter& operator=(const LogWriter&) = delete;

  // Creates (or truncates) `path` and returns a writer for log `log_number` on it.
  static Status create(FileSystem& fs, const std::string& path, uint64_t log_number,
                       const LogWriterOptions& options, std::unique_ptr<LogWriter>* writer);

  // Buffers one record; writes the buffer to the file when it is full. The
  // record is not even handed to the OS until flush(), sync() or add_records().
  Status add_record(std::string_view record);

  // Frames every record (after anything add_record() left pending) into one
  // buffer, writes it with a single append + flush, then syncs once if `sync`.
  // Either all of it is accepted or the writer is broken and returns the error.
  Status add_records(std::span<const std::string_view> records, bool sync);
  // If framing or the file throws (std::bad_alloc), both calls fail the
  // writer (every later call returns the error, nothing buffered is written)
  // and let the exception through.

  // Hands every pending byte to the OS (survives a process crash).
  Status flush();
  // flush(), then fdatasync (survives a power cut).
  Status sync();
  // flush() and close the file. Further calls fail. Right after a sync,
  // close() first appends a sync mark and syncs it, for recovery to read.
  Status close();

  uint64_t log_number() const { return log_number_; }
  // Bytes of the log, including framed bytes not yet handed to the file.
  uint64_t size() const { return file_offset_ + buffered_; }
  // The size the log had when its last successful sync began: bytes below it
  // survive a power cut.
  uint64_t synced_size() const { return synced_offset_; }
  const std::string& path() const { return file_->path(); }
  // The error that broke the writer, or OK.
  const Status& sticky_error() const { return error_; }
  // Whether add_records() without a sync makes no system call (the file is a
  // shared mapping): cheap enough to call under a spin lock.
  bool appends_are_memory_copies() const { return file_->appends_are_memory_copies(); }

 private:
  void frame_record(std::string_view record);
  // Frames a sync mark (after padding to the next block if this one has less
  // than a mark's room) when a sync has made more of the log durable than the
  // last mark said; with `per_block`, also when the log was ever synced and
  // the current block holds no mark yet, so that damage to the page where a
  // sync's data ends, which holds the mark after it, does not erase every
  // proof of that sync. Returns whether it framed one.
  bool frame_sync_mark_if_due(bool per_block);
  // Makes room for `bytes` more framed bytes.
  char* reserve(size_t bytes);
  // Hands the buffered bytes to the file; `sync_follows`: the caller syncs
  // right after (WritableFile::append_before_sync()).
  Status write_buffer(bool sync_follows = false);
  Status fail(Status s);
  void fail_on_exception() noexcept;

  std::unique_ptr<WritableFile> file_;
  const uint64_t log_number_;
  const LogWriterOptions options_;
  // Framed bytes not yet appended to file_. A raw array: framing writes every
  // byte, so the zero-fill a std::string resize does would be wasted work.
  std::unique_ptr<char[]> buffer_;
  size_t buffered_ = 0;
  size_t capacity_ = 0;
  uint64_t file_offset_ = 0;  // bytes appended to file_ so far
  size_t block_offset_ = 0;   // position in the current block of the next byte framed
  // A file opened for appending starts at 0: nothing is known to be durable.
  uint64_t synced_offset_ = 0;          // file_offset_ when the last successful sync began
  uint64_t marked_offset_ = 0;          // the offset the last sync mark framed carries
  uint64_t marked_block_ = UINT64_MAX;  // the block that holds the last sync mark
  bool closed_ = false;
  Status error_;
};

}  // namespace fsdb::wal
