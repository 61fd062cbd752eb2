// LogReader: reads the records of one write-ahead log file back, in order,
// checking every fragment's checksum, type, format version and log number.
//
// What happens at a bad spot depends on the recovery mode (WalRecoveryMode). A
// bad spot is a fragment whose checksum fails, whose header is cut off by the end
// of the file, zero-filled space, a stale fragment (checksum fine, but written for
// another log number: a recycled file's old contents), a non-zero block trailer,
// or fragments out of sequence. The reader then looks for any later fragment of
// this log with a valid checksum. If there is none, the bad spot starts the
// *tail*: bytes a crash left behind (a torn write, zero-filled space) that never
// held an acknowledged-durable record. If there is one, the reader reads the
// sync marks of the whole log (format version 2): damage at or past the
// largest offset a mark says was synced lies in data no sync covered, which a
// power cut can lose in any order (a later page reached the disk, an earlier
// one did not), and starts an *unsynced* tail. Damage below it, or in a log
// without sync marks (version 1), is corruption in the middle of the log.
//
// Thread safety: none; one thread uses a reader. Ownership: the reader owns its
// file. A record returned by read_record() stays valid until the next call.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fsdb/env.h"
#include "fsdb/status.h"
#include "wal/wal_recovery_mode.h"

namespace fsdb::wal {

enum class LogTailKind : uint8_t {
  kNone,        // the log ends cleanly after its last record
  kTorn,        // a partial or damaged write at the end, no valid fragment after it
  kZeroFilled,  // zeros up to the end of the file
  kStale,       // fragments of another log number (a recycled file) up to the end
  kCorruption,  // kPointInTime only: the reader stopped at damage with valid data after it
  // Damage with valid fragments after it, all past the log's synced offset:
  // what a power cut leaves when the disk kept a later unsynced page and lost
  // an earlier one. Dropped in kTolerateCorruptedTail and kPointInTime.
  kUnsynced,
};
std::string_view log_tail_kind_name(LogTailKind kind);

struct DroppedRange {
  uint64_t offset = 0;  // where the dropped bytes start (the record's first fragment)
  uint64_t bytes = 0;
  std::string reason;  // "checksum mismatch in fragment at offset 40"
};

struct LogReadReport {
  uint64_t records = 0;      // records returned so far
  uint64_t valid_bytes = 0;  // offset just past the last record returned
  LogTailKind tail_kind = LogTailKind::kNone;
  DroppedRange tail;                  // meaningful when tail_kind != kNone
  std::vector<DroppedRange> skipped;  // kSkipAnyCorruptedRecords: damage skipped mid-log
  // Whether the log is of format version 2, whose writer marks every sync,
  // and the largest synced offset its marks carry: those read so far, and at
  // damage with valid data after it, those after it until one shows the
  // damage was synced (a mark claiming an offset past itself is ignored).
  bool has_sync_marks = false;
  uint64_t synced_through = 0;
};

// Where a later reader of the same log can go on from (a secondary that
// reads a live log again): just past the last record returned, with what
// the fragments before it said about syncs, so that the later reader's
// report() speaks for the whole log. (A mark only vouches for offsets
// before itself, so damage past the position is judged by the marks after
// it, as for a reader of the whole log.)
struct LogPosition {
  uint64_t offset = 0;
  bool has_sync_marks = false;
  uint64_t synced_through = 0;
};

class LogReader {
 public:
  LogReader(std::unique_ptr<RandomAccessFile> file, uint64_t log_number, WalRecoveryMode mode);
  ~LogReader();
  LogReader(const LogReader&) = delete;
  LogReader& operator=(const LogReader&) = delete;

  static Status open(FileSystem& fs, const std::string& path, uint64_t log_number,
                     WalRecoveryMode mode, std::unique_ptr<LogReader>* reader);

  // The next record, or false at the end of the log or on an error (then
  // status() is not OK). After false, further calls return false.
  bool read_record(std::string_view* record);

  // OK, Corruption ("<path>: offset <n>: <what>"), IOError, or NotSupported for a
  // fragment of an unknown format version.
  const Status& status() const { return status_; }
  const LogReadReport& report() const { return report_; }
  // Offset of the first fragment of the record last returned.
  uint64_t last_record_offset() const { return last_record_offset_; }
  const std::string& path() const { return file_->path(); }

  // Just past the last record returned (where resume_at() of a reader of
  // the same file goes on). Meaningful only while the log has given no
  // damage: a reader that stopped at a bad spot has looked past it.
  LogPosition position() const {
    return {report_.valid_bytes, report_.has_sync_marks, report_.synced_through};
  }
  // Before the first read_record(): reads from `position` (another reader's
  // position() for this file) instead of the start. A log is only ever
  // appended to, so the records before it are the ones that reader returned.
  // report().records then counts the records after it.
  void resume_at(const LogPosition& position);

  // For a log that its writer may still be appending to (a secondary reads
  // beside a writer): closing it trims the room reserved past its data, so
  // a read that comes back short ends the log there instead of failing.
  void set_live(bool live) { live_ = live; }

 private:
  struct Chunk;
  enum class Parse : uint8_t;
  struct Fragment;

  Status block_view(Chunk& chunk, uint64_t block_index, std::string_view* block);
  Status parse_fragment(uint64_t offset, Fragment* fragment);
  Status find_next_valid_fragment(uint64_t from, std::optional<uint64_t>* found);
  // Reads the valid fragments from `from` on, noting their format versions
  // and sync marks in report_, until the end of the file or a mark shows the
  // log was synced past `enough`.
  Status scan_sync_marks(uint64_t from, uint64_t enough);
  void note_fragment(uint8_t version, uint8_t type, std::string_view payload, uint64_t offset);
  Status is_all_zero(uint64_t from, uint64_t to, bool* zero);
  // Handles a bad spot: decides tail or mid-log damage and acts per the mode.
  // Returns true when reading should go on (at offset_), false to stop.
  bool on_bad_spot(uint64_t region_start, uint64_t fragment_offset, bool fragment_valid,
                   bool fragment_starts_record, bool stale, std::string reason);
  bool stop(Status s);

  std::unique_ptr<RandomAccessFile> file_;
  const uint64_t log_number_;
  const WalRecoveryMode mode_;
  uint64_t file_size_ = 0;
  bool live_ = false;                   // see set_live()
  std::unique_ptr<Chunk> main_;         // blocks the record loop reads
  std::unique_ptr<Chunk> scan_;         // blocks the look-ahead scans read
  uint64_t offset_ = 0;                 // next fragment to parse
  bool in_record_ = false;              // between a FIRST and its LAST
  uint64_t record_start_ = 0;           // offset of the FIRST being assembled
  std::string assembled_;               // payload of a multi-fragment record
  std::optional<uint64_t> skip_start_;  // kSkipAnyCorruptedRecords: open skipped range
  std::string skip_reason_;
  uint64_t last_record_offset_ = 0;
  bool done_ = false;
  Status status_;
  LogReadReport report_;
};

}  // namespace fsdb::wal
