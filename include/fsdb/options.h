// Options for opening a DB, and per-call options for reads and writes.
//
// Every field has a default that suits a general-purpose embedded store;
// DB::open checks each value and answers InvalidArgument naming the field when
// one is out of range.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "fsdb/env.h"

namespace fsdb {

class Snapshot;

enum class Compression { kNone, kZstd };

// How DB::open treats damage in a write-ahead log it replays (the RocksDB modes).
enum class WalRecoveryMode : uint8_t {
  // A damaged tail (no valid fragment after the damage) is dropped and reported;
  // so is damage that no sync covered (the log's sync marks show it), with the
  // records after it: what a power cut leaves of writes never synced. Other
  // damage with valid data after it is Corruption.
  kTolerateCorruptedTail,
  // Only zero-filled space or a recycled file's stale fragments may follow the
  // last record; a torn tail or any damage is Corruption.
  kAbsoluteConsistency,
  // Stop at the first damage wherever it is and report it: the records returned
  // form a consistent prefix of the log. Never Corruption.
  kPointInTime,
  // Skip every damaged record (each range is reported) and go on with the next
  // valid one. Can lose records from the middle of the log.
  kSkipAnyCorruptedRecords,
};

// What the DB did, reported to an EventListener as it happens.
struct MemtableSealedInfo {
  uint64_t memtable_bytes = 0;  // arena bytes of the sealed memtable
  uint64_t entries = 0;         // versions it holds
  size_t sealed_waiting = 0;    // sealed memtables now waiting for flush
};
struct FlushInfo {
  uint64_t file_number = 0;  // the new level-0 table (0: the memtable was empty)
  uint64_t file_bytes = 0;
  uint64_t entries = 0;
  double seconds = 0;
};
struct CompactionInfo {
  int level = 0;  // inputs from `level` and `level + 1`, outputs at level + 1
  size_t input_files = 0;
  size_t output_files = 0;
  uint64_t input_bytes = 0;
  uint64_t output_bytes = 0;
  uint64_t versions_dropped = 0;
  bool trivial_move = false;  // a file moved down without being rewritten
  bool manual = false;        // from compact_range()
  double seconds = 0;
};
// A compaction that failed on an I/O error (a full disk, a failed read or
// write) before its result reached the MANIFEST. Nothing in the DB changed:
// its outputs are deleted, its inputs stay, writes go on. Its inputs are
// compacted again after a back-off (Options::background_error_resume_interval_ms,
// doubled after each failure in a row, at most 32 times it; it ends early
// with resume() or a success that takes them); other compactions go on
// meanwhile. A write that needs the room only
// compaction can make (level 0 at l0_stop_writes_trigger) while none can run
// fails with this error instead of waiting. Corruption, and a failure of the
// MANIFEST edit itself, stop writes instead (on_background_error). (A file
// system that checks its own data may report damage as an I/O error: that
// is retried, and never stops writes.)
struct CompactionFailureInfo {
  Status status;
  int level = 0;                   // the compaction's input level
  bool manual = false;             // from compact_range(), which returned `status` too
  uint32_t failures_in_a_row = 0;  // compactions failed since the last one that succeeded
  uint64_t retry_in_ms = 0;        // until background compactions start again
};
struct RecoveryInfo {
  size_t logs_replayed = 0;
  // A secondary's catch-up: the records read this time (it reads on from
  // where the state before it stopped).
  uint64_t records_replayed = 0;
  uint64_t tables_written = 0;  // level-0 tables made from replayed logs
  // Torn or damaged log tails dropped (zero-filled space holds nothing), and
  // the whole of the logs dropped below.
  uint64_t bytes_dropped = 0;
  uint64_t last_sequence = 0;
  // kPointInTime: logs after the one where replay stopped at damage. They are
  // not replayed, and are deleted once the recovered state is recorded.
  size_t logs_dropped = 0;
  // What was dropped from the end of a log or of the MANIFEST, each as
  // "<path>: offset <n>: <bytes> bytes: <why>", separated by "; ". Empty when
  // nothing was. A power cut can leave records written after the last sync
  // behind damage; they are dropped with it (their writes were not synced, so
  // no durable write is lost).
  std::string dropped_tail;
  // kPointInTime only: replay stopped at damage that the default mode
  // refuses (in synced data, or the damaged end of a log that a later log
  // follows). What came after it is not in the DB.
  bool stopped_at_damage = false;
};

// A background error stopped writes (every write returns it until the error
// is cleared; reads go on).
struct BackgroundErrorInfo {
  Status status;
  // resume() can clear it once its cause is gone (an I/O error or a full disk
  // in a flush, a compaction's MANIFEST edit or the WAL; a compaction that
  // fails before its edit stops no writes: CompactionFailureInfo). Not
  // corruption, nor a write that
  // failed inside the memtable, was abandoned by an exception or ran out of
  // memory: those need a reopen.
  bool resumable = false;
  // The DB retries resume() itself (Options::max_background_error_resumes).
  bool retried_automatically = false;
};
// The end of a recovery: from a resumable error until a resume() took writes
// again, or the DB stopped retrying.
struct ErrorRecoveryInfo {
  Status error;  // the error that stopped writes
  // OK: writes are taken again. Otherwise why the retries stopped: what the
  // last one returned when the attempts ran out, or an error that needs a
  // reopen.
  Status result;
  // The DB's own resume() calls in this recovery (0 when the application's
  // resume() took writes first, or the retries are off).
  uint64_t attempts = 0;
};

// Whether writes are held back (RocksDB's write stall conditions).
enum class WriteStallCondition : uint8_t {
  kNormal,
  // Level 0 holds l0_slowdown_writes_trigger files or more: below
  // l0_stop_writes_trigger each write group waits 1 ms, so that compaction
  // keeps up; from it on, a write that needs a new memtable waits (kStopped
  // while it does).
  kDelayed,
  // A write waits for room: it needs a new memtable (the active one is
  // full, or flush() asks for a switch) while max_sealed_memtables memtables
  // wait for flush or level 0 holds l0_stop_writes_trigger files. It goes on
  // once a flush or a compaction makes room; it does not fail for waiting,
  // except once no compaction runs or can start because the one that would
  // make room backs off after failing (CompactionFailureInfo): then it fails. (A background error,
  // which refuses writes, is reported by on_background_error instead.)
  kStopped,
};
struct WriteStallInfo {
  WriteStallCondition condition = WriteStallCondition::kNormal;
  WriteStallCondition previous = WriteStallCondition::kNormal;
  size_t level0_files = 0;
  size_t sealed_memtables = 0;  // waiting for flush
};

// Receives the DB's events. Callbacks run on the DB's own threads, never
// under a DB lock: on_recovery on the thread that opens the DB,
// on_memtable_sealed on the writer's, the others on the DB's event thread,
// one at a time and in order — never on the thread that flushes or compacts,
// so a callback's write that waits for room (a write stall) gets it from
// them. flush() and compact_range() return after the callbacks for the work
// they waited for. Reports still queued when close() begins, and that of the
// flush close() makes itself, are delivered by close() on its own thread
// (the DB then refuses writes). Callbacks may read and write the DB, but must
// not wait for background work (flush(), compact_range(), close()): the
// thread that would report it may be the caller. They should return quickly
// (the event thread reports nothing else meanwhile), must be thread-safe, and
// must not throw.
class EventListener {
 public:
  virtual ~EventListener() = default;
  virtual void on_recovery(const RecoveryInfo& /*info*/) {}
  virtual void on_memtable_sealed(const MemtableSealedInfo& /*info*/) {}
  virtual void on_flush_completed(const FlushInfo& /*info*/) {}
  virtual void on_compaction_completed(const CompactionInfo& /*info*/) {}
  // A compaction failed without stopping writes (CompactionFailureInfo). In
  // order with the completed flushes and compactions.
  virtual void on_compaction_failed(const CompactionFailureInfo& /*info*/) {}
  // When an error stops writes, from the DB's event thread: the first
  // one, each one met after a resume() cleared the one before (the flush it
  // let run failed again, say), and one that needs a reopen met while a
  // resumable one stands (it replaces it and ends the recovery). An error a
  // resume() cleared before the thread got to it is not reported.
  virtual void on_background_error(const BackgroundErrorInfo& /*info*/) {}
  // When a recovery begun by a resumable error reported above ends: a
  // resume() (the DB's own or the application's) took writes again, or the
  // DB stops retrying (the attempts ran out, or a later error needs a
  // reopen). Errors met by the resume() calls on the way belong to the same
  // recovery. Not at close().
  virtual void on_error_recovery_end(const ErrorRecoveryInfo& /*info*/) {}
  // When the write stall condition changes, from the DB's event thread. A
  // change that lasts less than the thread takes to look may go unreported
  // (the next report then says where it went), and so may the last changes
  // of a closing DB.
  virtual void on_write_stall_changed(const WriteStallInfo& /*info*/) {}
};

// DB::open() and repair_db() refuse a value outside the range given here with
// InvalidArgument naming the option.
struct Options {
  // Opening a directory without a DB creates one (RocksDB and LevelDB default
  // to false: set it to false so that a mistyped path is an error rather than
  // a new, empty DB).
  bool create_if_missing = true;
  bool error_if_exists = false;
  // Auto-seal threshold of the active memtable: 4 KiB to 2 GiB.
  size_t memtable_bytes = 64 << 20;
  size_t memtable_max_entries = 0;  // 0 = no count threshold
  size_t memtable_shards = 0;       // 0 = hardware threads; at most 256
  size_t max_sealed_memtables = 2;  // this many waiting for flush: a full memtable waits (>= 1)
  Compression compression = Compression::kZstd;
  int zstd_level = 3;  // -7 to 22
  // Each table shares one zstd dictionary of at most this many bytes among its
  // data blocks, built from a sample of its first blocks: small blocks no
  // longer each carry their own entropy tables, so tables are smaller and
  // blocks decompress faster (docs/format.md). 0 = every block on its own;
  // else 256 B to 1 MiB.
  size_t compression_dictionary_bytes = 4096;
  // Tables above the bottommost level (level-0 flushes, and compactions with
  // older data below their key range) store zstd's literal bytes raw instead
  // of Huffman-coding them: their blocks decompress about twice as fast and
  // compress about 1.3x as fast, for ~15% more bytes. Those levels hold the
  // newest data, often the most read, and are rewritten soon; the bottommost
  // level, most of a settled DB, keeps the full coding (the trade RocksDB
  // offers with a lighter compression_per_level than bottommost_compression).
  // A table keeps its coding until compaction rewrites it; a light one is
  // rewritten rather than moved into the bottommost level. The frames are
  // standard zstd either way: any setting reads any DB. false = full coding
  // everywhere.
  bool light_upper_level_compression = true;
  // The zstd level of those lighter tables (the configured zstd_level when
  // that is lower). Level 1 compresses such blocks about twice as fast as
  // level 3 and decompresses them faster, for ~2% more bytes, so a flush
  // takes less of the CPU the writers need. Negative levels are faster still
  // but on some data find far fewer matches (level-0 tables of
  // half-compressible values came out 1.5-1.7x larger at -3 than at -2).
  // Level 0 is zstd's default, 3. Between -7 and 22.
  int light_upper_level_zstd_level = 1;
  size_t block_bytes = 4096;    // data block size before compression: 256 B to 64 MiB
  int bloom_bits_per_key = 10;  // 0 = no filter; at most 64
  // Uncompressed blocks kept in memory, counted by the memory they hold (their
  // bytes, header and allocation rounding); 0 = no cache.
  size_t block_cache_bytes = 64 << 20;
  // Read table files through memory mappings (no system call or copy per block
  // read; LevelDB's default on 64-bit systems) instead of pread. The catch: an
  // I/O error on a mapped page, or a table file truncated by another process
  // while the DB has it open, kills the process with SIGBUS where pread would
  // return an IOError. Every byte read is still checksummed either way.
  bool use_mmap_reads = true;
  // Append to the WAL through a shared mapping of the file instead of write(2):
  // a write group reaches the OS page cache (and survives a crash of the
  // process) with a memcpy rather than a system call. fdatasync still makes it
  // durable. The log's space is reserved 1 MiB ahead with fallocate, so a full
  // disk is an error from the write, never a fault. Only on file systems that
  // honour such a reservation when a mapped page is first written (ext4, XFS,
  // tmpfs); elsewhere (btrfs, ZFS, network file systems) logs use write(2).
  // After a crash the log may end in zeros (up to 1 MiB and 64 KiB: the room
  // made ready ahead of the data), which recovery reads as its end. The catch: on
  // a file system that shut itself down after an I/O error, the next write
  // kills the process with SIGBUS where write(2) would return an IOError
  // (docs/wal.md); false if the process must survive that.
  bool use_mmap_writes = true;
  // An iterator walking a table block after block (a scan) has a background
  // thread read and decompress its next few blocks while it walks the current
  // one: a scan runs on two cores instead of one. Seeks and point reads are
  // unaffected. One thread per DB.
  bool scan_readahead = true;
  // Level-0 table counts: 1 <= compaction <= slowdown <= stop.
  int l0_compaction_trigger = 4;
  // Each write group waits 1 ms from here up to the stop trigger.
  int l0_slowdown_writes_trigger = 8;
  // From here a write that needs a new memtable waits for compaction (or
  // fails, while that compaction backs off after failing).
  int l0_stop_writes_trigger = 12;
  size_t level1_bytes = 256 << 20;  // level n+1 targets 10x level n; at least 4 KiB
  // Compaction outputs: 0.5x-2x (docs/architecture.md); at least 4 KiB.
  size_t target_file_bytes = 8 << 20;
  int max_background_compactions = 1;  // compaction threads, 1 to 16 (flushes have their own)
  // A background error that resume() can clear (see BackgroundErrorInfo) is
  // retried by the DB itself: its event thread calls resume() every
  // background_error_resume_interval_ms until writes are taken again, at most
  // this many times per recovery (EventListener::on_error_recovery_end;
  // RocksDB's max_bgerror_resume_count and bgerror_resume_retry_interval).
  // Writes fail meanwhile, as before; a full disk that gets space again, or a
  // device that comes back, needs no action from the application. UINT32_MAX
  // = no limit; 0 = only the application's resume(), or a reopen, clears the
  // error. A retry on a disk that still fails may leave a table behind until
  // a later MANIFEST no longer may name it (architecture.md).
  uint32_t max_background_error_resumes = UINT32_MAX;
  // Also the first back-off of compactions that fail without stopping writes
  // (CompactionFailureInfo).
  uint32_t background_error_resume_interval_ms = 1000;  // at least 1
  std::shared_ptr<FileSystem> file_system;              // null = posix
  std::shared_ptr<EventListener> listener;              // null = none
  // What recovery does about a damaged WAL (see WalRecoveryMode).
  WalRecoveryMode wal_recovery_mode = WalRecoveryMode::kTolerateCorruptedTail;
};

struct WriteOptions {
  bool sync = false;         // fdatasync the WAL before acknowledging
  bool disable_wal = false;  // skip the log: lost on a crash until flushed
};

struct ReadOptions {
  const Snapshot* snapshot = nullptr;  // null = the latest state
  // Check each table block's checksum when it is read from the file (a block
  // in the block cache was checked when it was read). false saves the hash,
  // and the block is then not cached: a later read that checks must never be
  // handed bytes nobody checked.
  bool verify_checksums = true;
  // Keep the blocks read in the block cache; false for a scan that should not
  // push out what other reads use.
  bool fill_cache = true;
  // Iterators only (get and multi_get ignore them): the iterator returns only
  // keys in [iterate_lower_bound, iterate_upper_bound); nullopt is unbounded.
  // A seek outside the range lands at its nearest end, and at a bound the
  // iterator stops (not valid) instead of reading on: tables whose keys lie
  // outside the range are not opened, and deleted or hidden versions past a
  // bound are never stepped over (RocksDB's iterate_lower/upper_bound, held
  // here by value).
  std::optional<std::string> iterate_lower_bound;
  std::optional<std::string> iterate_upper_bound;
};

}  // namespace fsdb
