// VersionEdit: one change to the set of live files, as recorded in the MANIFEST.
//
// The MANIFEST is a log (WAL framing, checksummed) of VersionEdits; replaying
// them from the first yields the current version: which SSTables are live at
// which level, the WAL that must still be replayed, the next file number and the
// last sequence. docs/format.md gives the encoding byte by byte.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fsdb/status.h"
#include "util/internal_key.h"
#include "util/thread_wait.h"

namespace fsdb {

class TableReader;

inline constexpr int kNumLevels = 7;

// The open reader of a table, remembered by its FileMetaData so that a lookup
// reaches it without the TableCache's lock and reference count. The
// FileMetaData owns a reference to the reader, so the pointer get() returns
// is valid for as long as the caller holds a Version naming the file, and the
// reader is closed only after the last such Version is gone: whichever thread
// drops the last reference closes it, ordered after every read by the
// reference counts. (Counting on the TableCache to keep the reader instead
// was not enough: it drops a reader when obsolete-file deletion finds no live
// Version naming the file, and it sees that through weak_ptr::expired(), a
// relaxed load that orders nothing against the reads of the thread that
// released the Version.) A copy starts empty.
class CachedTableReader {
 public:
  CachedTableReader() = default;
  CachedTableReader(const CachedTableReader&) {}
  CachedTableReader& operator=(const CachedTableReader& other) {
    if (this == &other) return *this;
    std::lock_guard<SpinMutex> guard(mu_);
    owner_.reset();
    reader_.store(nullptr, std::memory_order_relaxed);  // relaxed: not yet shared
    return *this;
  }
  // Acquire: pairs with set(), so the reader's construction is visible.
  const TableReader* get() const { return reader_.load(std::memory_order_acquire); }
  // The first reader set stays; racing setters hold the same reader (the
  // TableCache's) and change nothing.
  void set(std::shared_ptr<const TableReader> reader) const {
    std::lock_guard<SpinMutex> guard(mu_);
    if (owner_ != nullptr) return;
    owner_ = std::move(reader);
    reader_.store(owner_.get(), std::memory_order_release);  // release: see get()
  }

 private:
  mutable SpinMutex mu_;
  mutable std::shared_ptr<const TableReader> owner_;  // guarded by mu_; set once
  mutable std::atomic<const TableReader*> reader_{nullptr};
};

// What the version set knows of one SSTable.
struct FileMetaData {
  uint64_t number = 0;
  uint64_t file_size = 0;
  std::string smallest;  // encoded internal keys (util/internal_key.h)
  std::string largest;
  SequenceNumber smallest_seq = 0;
  SequenceNumber largest_seq = 0;
  uint64_t entries = 0;
  uint64_t tombstones = 0;
  // How many times compaction picking stepped over this file for a cheaper one
  // after its level's pointer (engine/compaction.h). Not persisted: a hint
  // kept while the DB is open. Guarded by the DB mutex.
  mutable int times_passed_over = 0;
  CachedTableReader reader;

  std::string_view smallest_user_key() const { return extract_user_key(smallest); }
  std::string_view largest_user_key() const { return extract_user_key(largest); }
};

class VersionEdit {
 public:
  void set_log_number(uint64_t n) { log_number_ = n; }
  void set_next_file_number(uint64_t n) { next_file_number_ = n; }
  void set_last_sequence(SequenceNumber s) { last_sequence_ = s; }
  void set_compact_pointer(int level, std::string internal_key) {
    compact_pointers_.emplace_back(level, std::move(internal_key));
  }
  void add_file(int level, FileMetaData file) { new_files_.emplace_back(level, std::move(file)); }
  void remove_file(int level, uint64_t number) { deleted_files_.emplace_back(level, number); }

  const std::optional<uint64_t>& log_number() const { return log_number_; }
  const std::optional<uint64_t>& next_file_number() const { return next_file_number_; }
  const std::optional<SequenceNumber>& last_sequence() const { return last_sequence_; }
  const std::vector<std::pair<int, std::string>>& compact_pointers() const {
    return compact_pointers_;
  }
  const std::vector<std::pair<int, FileMetaData>>& new_files() const { return new_files_; }
  const std::vector<std::pair<int, uint64_t>>& deleted_files() const { return deleted_files_; }

  void encode_to(std::string* dst) const;
  // Corruption naming the field when `src` is malformed; never reads past it.
  Status decode_from(std::string_view src);

  // A one-line human description, for `fsdb manifest dump`.
  std::string debug_string() const;

 private:
  std::optional<uint64_t> log_number_;
  std::optional<uint64_t> next_file_number_;
  std::optional<SequenceNumber> last_sequence_;
  std::vector<std::pair<int, std::string>> compact_pointers_;
  std::vector<std::pair<int, uint64_t>> deleted_files_;
  std::vector<std::pair<int, FileMetaData>> new_files_;
};

}  // namespace fsdb
