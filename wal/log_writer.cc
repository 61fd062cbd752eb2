#include "wal/log_writer.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "wal/log_format.h"

namespace fsdb::wal {

LogWriter::LogWriter(std::unique_ptr<WritableFile> file, uint64_t log_number,
                     const LogWriterOptions& options)
    : file_(std::move(file)),
      log_number_(log_number),
      options_(options),
      file_offset_(file_->size()),
      block_offset_(static_cast<size_t>(file_offset_ % kBlockBytes)) {
  reserve(options_.buffer_bytes + kBlockBytes);
}

char* LogWriter::reserve(size_t bytes) {
  if (buffered_ + bytes > capacity_) {
    const size_t capacity = std::max(capacity_ * 2, buffered_ + bytes);
    auto grown = std::make_unique_for_overwrite<char[]>(capacity);
    if (buffered_ > 0) std::memcpy(grown.get(), buffer_.get(), buffered_);
    buffer_ = std::move(grown);
    capacity_ = capacity;
  }
  return buffer_.get() + buffered_;
}

LogWriter::~LogWriter() {
  if (!closed_) (void)close();
}

Status LogWriter::create(FileSystem& fs, const std::string& path, uint64_t log_number,
                         const LogWriterOptions& options, std::unique_ptr<LogWriter>* writer) {
  std::unique_ptr<WritableFile> file;
  WritableFileOptions file_options;
  file_options.use_mmap = options.use_mmap;
  Status s = fs.new_writable_file(path, file_options, &file);
  if (!s.ok()) return s;
  *writer = std::make_unique<LogWriter>(std::move(file), log_number, options);
  return Status::OK();
}

void LogWriter::frame_record(std::string_view record) {
  bool first = true;
  // Runs at least once, so that an empty record still gets its (empty) FULL fragment.
  for (;;) {
    const size_t left_in_block = kBlockBytes - block_offset_;
    if (left_in_block < kHeaderBytes) {
      // Too small for a header: zero-fill the trailer; the reader skips it.
      std::memset(reserve(left_in_block), 0, left_in_block);
      buffered_ += left_in_block;
      block_offset_ = 0;
      continue;
    }
    const size_t room = left_in_block - kHeaderBytes;
    const size_t n = record.size() < room ? record.size() : room;
    const bool last = n == record.size();
    FragmentType type;
    if (first && last) {
      type = FragmentType::kFull;
    } else if (first) {
      type = FragmentType::kFirst;
    } else if (last) {
      type = FragmentType::kLast;
    } else {
      type = FragmentType::kMiddle;
    }
    char* fragment = reserve(kHeaderBytes + n);
    buffered_ += kHeaderBytes + n;
    if (n > 0) std::memcpy(fragment + kHeaderBytes, record.data(), n);
    encode_fragment_header(fragment, type, log_number_, n);
    record.remove_prefix(n);
    block_offset_ += kHeaderBytes + n;
    if (block_offset_ == kBlockBytes) block_offset_ = 0;
    first = false;
    if (last) break;
  }
}

bool LogWriter::frame_sync_mark_if_due(bool per_block) {
  bool due = synced_offset_ > marked_offset_;
  if (!due && per_block && synced_offset_ > 0) due = size() / kBlockBytes != marked_block_;
  if (!due) return false;
  size_t left_in_block = kBlockBytes - block_offset_;
  constexpr size_t kMarkBytes = kHeaderBytes + kSyncMarkPayloadBytes;
  if (left_in_block < kHeaderBytes) {
    std::memset(reserve(left_in_block), 0, left_in_block);
    buffered_ += left_in_block;
    block_offset_ = 0;
  } else if (left_in_block < kMarkBytes) {
    // Too small for a mark: a mark without an offset pads the block, and the
    // real one starts the next.
    char* padding = reserve(left_in_block);
    buffered_ += left_in_block;
    std::memset(padding + kHeaderBytes, 0, left_in_block - kHeaderBytes);
    encode_fragment_header(padding, FragmentType::kSyncMark, log_number_,
                           left_in_block - kHeaderBytes);
    block_offset_ = 0;
  }
  marked_block_ = size() / kBlockBytes;
  char* fragment = reserve(kMarkBytes);
  buffered_ += kMarkBytes;
  encode_fixed64(fragment + kHeaderBytes, synced_offset_);
  encode_fragment_header(fragment, FragmentType::kSyncMark, log_number_, kSyncMarkPayloadBytes);
  block_offset_ += kMarkBytes;
  if (block_offset_ == kBlockBytes) block_offset_ = 0;
  marked_offset_ = synced_offset_;
  return true;
}

Status LogWriter::fail(Status s) {
  if (error_.ok()) error_ = s;
  buffered_ = 0;
  return s;
}

Status LogWriter::write_buffer(bool sync_follows) {
  if (buffered_ == 0) return Status::OK();
  const std::string_view bytes(buffer_.get(), buffered_);
  Status s = sync_follows ? file_->append_before_sync(bytes) : file_->append(bytes);
  if (s.ok()) s = file_->flush();
  if (!s.ok()) return fail(std::move(s));
  file_offset_ += buffered_;
  buffered_ = 0;
  if (capacity_ > 4 * (options_.buffer_bytes + kBlockBytes)) {
    // A huge group grew the buffer; do not keep that memory for the log's lifetime.
    buffer_.reset();
    capacity_ = 0;
    reserve(options_.buffer_bytes + kBlockBytes);
  }
  return Status::OK();
}

Status LogWriter::add_record(std::string_view record) {
  if (!error_.ok()) return error_;
  if (closed_) return Status::IOError(file_->path() + ": log writer is closed");
  try {
    frame_sync_mark_if_due(/*per_block=*/true);
    frame_record(record);
    if (buffered_ >= options_.buffer_bytes) return write_buffer();
  } catch (...) {
    fail_on_exception();
    throw;
  }
  return Status::OK();
}

void LogWriter::fail_on_exception() noexcept {
  // The buffer may end inside a record, and the file may have taken part of
  // the buffer: nothing may follow either.
  try {
    (void)fail(Status::IOError(file_->path() +
                               ": an append was interrupted by an exception; the log takes "
                               "no more records"));
  } catch (...) {
    // Out of memory for the message too: 15 characters allocate nothing.
    (void)fail(Status::IOError("log interrupted"));
  }
}

Status LogWriter::add_records(std::span<const std::string_view> records, bool sync) {
  if (!error_.ok()) return error_;
  if (closed_) return Status::IOError(file_->path() + ": log writer is closed");
  Status s;
  try {
    for (std::string_view record : records) {
      frame_sync_mark_if_due(/*per_block=*/true);
      frame_record(record);
    }
    s = write_buffer(/*sync_follows=*/sync);
  } catch (...) {
    fail_on_exception();
    throw;
  }
  if (!s.ok()) return s;
  if (sync) {
    s = file_->sync();
    if (!s.ok()) return fail(std::move(s));
    synced_offset_ = file_offset_;
  }
  return Status::OK();
}

Status LogWriter::flush() {
  if (!error_.ok()) return error_;
  if (closed_) return Status::IOError(file_->path() + ": log writer is closed");
  return write_buffer();
}

Status LogWriter::sync() {
  if (!error_.ok()) return error_;
  if (closed_) return Status::IOError(file_->path() + ": log writer is closed");
  Status s = write_buffer(/*sync_follows=*/true);
  if (!s.ok()) return s;
  s = file_->sync();
  if (!s.ok()) return fail(std::move(s));
  synced_offset_ = file_offset_;
  return Status::OK();
}

Status LogWriter::close() {
  if (closed_) return error_;
  // A log closed right after a sync gets a last mark, so that recovery knows
  // all of it was synced (damage anywhere in it is then not a power cut's
  // doing). The mark is synced too: an unsynced one could be torn by a power
  // cut, and a torn end of a log that a later log follows reads as damage.
  bool marked = false;
  if (error_.ok()) {
    try {
      marked = frame_sync_mark_if_due(/*per_block=*/false);
    } catch (...) {
      fail_on_exception();
    }
  }
  Status s = flush();
  if (s.ok() && marked) {
    s = file_->sync();
    if (s.ok()) {
      synced_offset_ = file_offset_;
    } else {
      s = fail(std::move(s));
    }
  }
  Status c = file_->close();
  closed_ = true;
  if (s.ok() && !c.ok()) s = fail(std::move(c));
  return s;
}

}  // namespace fsdb::wal
