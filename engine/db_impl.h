// DBImpl: the storage engine behind fsdb::DB.
//
// Write path: writers join a GroupCommit queue. The group's leader makes room
// (rotating a full memtable, or stalling while too many memtables wait for
// flush), assigns each member a contiguous range of sequence numbers, appends
// the group's batches to the WAL with one write and at most one fdatasync, and
// returns. Every member then inserts its own batch into the memtable the leader
// chose — concurrently, since the skip list is lock-free — and reports to the
// SequencePublisher, which advances the visible sequence only once everything
// at or below it is in a memtable. Readers read at the visible sequence, so they
// never see half of a batch.
//
// Read path: a ReadView (the active memtable, the sealed ones newest first, the
// current Version) is swapped whole under view_mu_ whenever any of them
// changes; a reader copies the shared_ptr and reads without any lock.
//
// Background: one thread flushes sealed memtables, oldest first, to level-0
// SSTables and records each in the MANIFEST together with the WAL number that
// is no longer needed; then it deletes that WAL and drops the memtable. A
// second thread runs leveled compactions (engine/compaction.h). Writers slow
// down (1 ms per write group) once level 0 holds l0_slowdown_writes_trigger
// files and wait once it holds l0_stop_writes_trigger. A third, the event
// thread, reports background errors and write stalls to the listener and
// retries resume() after an error it can clear.
//
// Locking: mu_ guards the memtable switch, the sealed queue, background state
// and snapshots; it is never held across a WAL append or a table build. Lock
// order: mu_ before view_mu_; the GroupCommit queue's own mutex is never held
// while calling into the engine.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "engine/compaction.h"
#include "engine/sequence_publisher.h"
#include "engine/table_cache.h"
#include "engine/version_set.h"
#include "fsdb/db.h"
#include "fsdb/skiplist.h"
#include "util/striped_counters.h"
#include "wal/group_commit.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

namespace fsdb {

class BackgroundThread;

class DBImpl final : public DB {
 public:
  enum class OpenMode {
    kReadWrite,
    kReadOnly,   // DB::open_read_only()
    kSecondary,  // DB::open_as_secondary(): read-only, beside a writer, no lock
  };
  DBImpl(const Options& options, std::string dbname, OpenMode mode = OpenMode::kReadWrite);
  ~DBImpl() override;

  // kSecondary, before open(): the DB this one replaces (a catch-up), and
  // an attempt at this open that failed. Their open tables and the block
  // cache are taken over instead of opened again; both must outlive open()
  // (or be null). An attempt that stopped before it made its table cache
  // and VersionSet (one that found no DB there yet) has nothing to give and
  // is passed over.
  void take_over_from(const DBImpl* previous, const DBImpl* failed_attempt) {
    const auto usable = [](const DBImpl* db) -> const DBImpl* {
      return db != nullptr && db->table_cache_ != nullptr && db->versions_ != nullptr ? db
                                                                                      : nullptr;
    };
    donors_ = {usable(previous), usable(failed_attempt)};
  }

  // Takes the lock, recovers (or creates) the DB and starts background work;
  // read-only, takes a shared lock and recovers into memory only; secondary,
  // recovers into memory only, takes no lock and opens every live table
  // (a writer may delete their files afterwards).
  Status open();

  Status put(const WriteOptions& options, std::string_view key, std::string_view value) override;
  Status remove(const WriteOptions& options, std::string_view key) override;
  Status write(const WriteOptions& options, WriteBatch* batch) override;
  Status get(const ReadOptions& options, std::string_view key, std::string* value) override;
  std::vector<Status> multi_get(const ReadOptions& options, std::span<const std::string_view> keys,
                                std::vector<std::string>* values) override;
  std::unique_ptr<Iterator> new_iterator(const ReadOptions& options) override;
  const Snapshot* get_snapshot() override;
  void release_snapshot(const Snapshot* snapshot) override;
  Status flush() override;
  Status compact_range(std::optional<std::string_view> begin,
                       std::optional<std::string_view> end) override;
  Status sync_wal() override;
  Status checkpoint(const std::string& dir) override;
  std::optional<std::string> property(std::string_view name) override;
  bool map_property(std::string_view name, std::map<std::string, std::string>* values) override;
  Status close() override;
  Status resume() override;

 private:
  // Where a background error came from, which decides whether resume() can
  // clear it and what it must redo first.
  enum class ErrorSource {
    // The memtable may no longer follow the log (part of a batch applied), or
    // the DB's state is otherwise unknown: only reopening recovers.
    kUnrecoverable,
    // A WAL append, sync or switch: the log may end inside a record.
    kLog,
    // A flush or a compaction (its table, the directory, the MANIFEST edit):
    // nothing in memory is affected, and the work can be done again.
    kBackgroundWork,
  };
  // A memtable and the WAL that holds its writes.
  struct Memtable {
    std::shared_ptr<ConcurrentSkipList> list;      // active
    std::shared_ptr<const FrozenMemtable> frozen;  // sealed
    uint64_t log_number = 0;
    bool unlogged = false;  // holds disable_wal writes: must be flushed before close
  };
  // What a reader needs, swapped as a whole.
  struct ReadView {
    std::shared_ptr<ConcurrentSkipList> mem;
    std::vector<std::shared_ptr<const FrozenMemtable>> sealed;  // newest first
    std::shared_ptr<const Version> version;
  };
  // One request in a write group: a batch to write, or (batch null) a request
  // to rotate the memtable (flush) or to sync the WAL (sync_wal). Control
  // requests go through the same queue so that only a group leader ever
  // touches the WAL or switches memtables.
  struct Writer {
    WriteBatch* batch = nullptr;
    bool disable_wal = false;
    bool rotate = false;
    // resume(): the leader clears a resumable background error (see resume_locked).
    bool resume = false;
    // A rotation refused while the group's writes went on (level 0 full and
    // its compaction backing off): this request's own error.
    Status rotate_error;
    // Set on the leader's own writer when its group rotated the memtable.
    std::optional<MemtableSealedInfo> sealed_event;
    SequenceNumber first_sequence = 0;
    // The publisher slot of the write's range; before begin(), the slot the
    // writer's thread used last (begin()'s hint).
    SequencePublisher::Ticket ticket = SequencePublisher::kNoHint;
    // Between the range's begin() and its finish(): whoever ends the write,
    // normally or by an exception, must finish the range.
    bool range_open = false;
    // The memtable the leader chose. A raw pointer is enough: the memtable is
    // sealed (and may be dropped) only after every range begun in it finished.
    ConcurrentSkipList* memtable = nullptr;
  };
  // Counted on every write, by whichever thread writes: striped, so that
  // writer threads do not pass one counter's cache line back and forth.
  enum WriteCounter : size_t { kUserWrites, kUserBytes, kWalBytes, kNumWriteCounters };
  struct Stats {
    StripedCounters<kNumWriteCounters> writes;
    std::atomic<uint64_t> wal_syncs{0};
    std::atomic<uint64_t> rotations{0};
    std::atomic<uint64_t> resumes{0};
    std::atomic<uint64_t> stalls{0};
    std::atomic<uint64_t> stall_micros{0};
    std::atomic<uint64_t> flushes{0};
    std::atomic<uint64_t> flush_bytes{0};
    std::atomic<uint64_t> flush_micros{0};
    std::atomic<uint64_t> delays{0};
    std::atomic<uint64_t> delay_micros{0};
    std::atomic<uint64_t> compactions{0};
    std::atomic<uint64_t> trivial_moves{0};
    std::atomic<uint64_t> compaction_bytes_read{0};
    std::atomic<uint64_t> compaction_bytes_written{0};
    std::atomic<uint64_t> compaction_micros{0};
    std::atomic<uint64_t> compaction_failures{0};
    std::atomic<uint64_t> versions_dropped{0};
  };
  class SnapshotImpl;

  // For a directory without CURRENT: Corruption if it holds a DB's files
  // (a DB that lost its CURRENT), else OK.
  Status check_directory_without_current() const;
  // NotSupported for `operation` on a DB opened read-only; else OK.
  Status refuse_if_read_only(const char* operation) const;
  // "opened read-only" or "opened as a secondary", for messages.
  std::string opened_as() const {
    return secondary_ ? "opened as a secondary" : "opened read-only";
  }
  Status recover();
  // kSecondary: opens (or takes over from donors_) every table of the
  // current version, so that reads need no file the writer may delete.
  Status open_live_tables();
  // The MANIFEST CURRENT names and its size ("?" where unreadable): the
  // writer appends to it (or replaces it) before it removes a log.
  std::string manifest_mark() const;
  // Replays one WAL; *stop_here when no later WAL may be replayed (a
  // point-in-time recovery stopped at damage). *torn_tail is set when the log
  // ended in a torn write (what was dropped), else cleared.
  // *damaged: the log reader refused damage (in the default mode: damage
  // with valid records after it).
  // A secondary passes the log's ReplayedLog: the replay goes on from it and
  // leaves its memtables there (the last one not sealed).
  struct ReplayedLog;
  Status replay_log(uint64_t log_number, SequenceNumber* max_sequence, VersionEdit* edit,
                    RecoveryInfo* info, bool* stop_here,
                    std::optional<wal::DroppedRange>* torn_tail, bool* damaged,
                    ReplayedLog* replayed);
  // kSecondary, after the logs: their memtables become sealed_ and mem_.
  Status install_replayed_logs(SequenceNumber max_sequence);
  // Whether any of these WALs holds a record the reader accepts.
  Status any_log_holds_records(std::span<const uint64_t> log_numbers, bool* holds);
  Status new_log_file(uint64_t* number, std::unique_ptr<wal::LogWriter>* writer);
  std::shared_ptr<ConcurrentSkipList> new_memtable() const;

  // The group leader's work; runs serialised by group_commit_. lead() runs
  // lead_write_group() and, if it throws, records the error first.
  Status lead(wal::GroupCommit::Group group);
  Status lead_write_group(wal::GroupCommit::Group group);
  // A write without the WAL needs nothing a leader does but a sequence range,
  // and an unsynced write to a mapped WAL only that and a copy of its record:
  // takes them directly (w.first_sequence, w.ticket, w.memtable, the record
  // appended under sequence_mu_) and returns kBegun, or kQueue when the write
  // must go through the queue (a rotation is due or running, a slowdown, an
  // error, a closing DB, a leader using the log, a log that is not mapped),
  // or kFailed with *status when the WAL refused the record.
  enum class DirectWrite { kQueue, kBegun, kFailed };
  DirectWrite begin_direct_write(Writer& w, Status* status);
  // Marks the active memtable as holding writes the WAL does not have.
  void note_unlogged_write();
  // Ends a write's range that an exception interrupted, and stops writes.
  void abandon_range(Writer& w) noexcept;
  // Puts the DB in the error state after an exception inside a write.
  void record_write_exception() noexcept;
  // REQUIRES: mu_ held (through `lock`). Rotates the active memtable when it is
  // full (or when `force` and it is not empty), stalling while too many sealed
  // memtables wait for flush.
  // *level0_blocked (optional): the write was refused because it needs a new
  // memtable, level 0 is full and its compaction is backing off.
  Status make_room_for_write(std::unique_lock<std::mutex>& lock, bool force,
                             bool* level0_blocked = nullptr);
  // Submits a control request (batch-less Writer) through the write queue.
  // *rotate_refused (optional): the memtable switch was refused for want of
  // room in level 0 while its compaction backs off (Writer::rotate_error).
  Status submit_control(bool rotate, bool sync, bool* rotate_refused = nullptr);
  // flush(), telling a refusal for want of room in level 0 apart.
  Status flush_memtables(bool* rotate_refused);
  // REQUIRES: mu_ held. Seals the active memtable and starts a new WAL.
  Status rotate_memtable(std::unique_lock<std::mutex>& lock);
  // REQUIRES: mu_ held, no write range in flight, direct writes blocked. Makes
  // `log` (just created, numbered `log_number`) the WAL and seals the active
  // memtable, whose writes are in the WAL before it.
  Status switch_memtable(std::unique_ptr<wal::LogWriter> log, uint64_t log_number);
  // REQUIRES: mu_ held (through `lock`), by a write group's leader with direct
  // writes blocked. resume()'s work: a new WAL if the error came from the log,
  // the waiting memtables flushed, then writes allowed again.
  Status resume_locked(std::unique_lock<std::mutex>& lock);
  Status apply_to_memtable(const Writer& w);
  // Whether `mem` reached memtable_bytes or memtable_max_entries.
  bool memtable_full(const ConcurrentSkipList& mem) const;
  void report_sealed_event(const Writer& w);

  std::shared_ptr<const ReadView> read_view() const;
  // REQUIRES: mu_ held.
  void install_read_view();
  SequenceNumber read_sequence(const ReadOptions& options);
  // The tables' part of get_from_view().
  Status get_from_tables(const ReadView& view, const ReadOptions& options, std::string_view key,
                         SequenceNumber seq, std::string* value);
  Status get_from_view(const ReadView& view, const ReadOptions& options, std::string_view key,
                       SequenceNumber seq, std::string* value);

  void background_loop();
  void compaction_loop();
  // The event thread: reports each error that stops writes to the
  // listener and, when resume() can clear it, calls resume() every
  // background_error_resume_interval_ms, at most max_background_error_resumes
  // times per recovery; reports changes of the write stall condition and
  // each completed flush and compaction.
  void event_loop();
  // A flush's or a compaction's report, handed to the event thread. Not
  // called on the thread that flushed or compacted: a listener that writes
  // may wait for room that only that thread's next flush or compaction
  // would make. REQUIRES: mu_ held.
  using CompletedWork = std::variant<FlushInfo, CompactionInfo, CompactionFailureInfo>;
  void report_completed(const CompletedWork& work);
  // Waits until the event thread has delivered every report queued so far,
  // so that flush() and compact_range() return after their listener calls.
  // Returns at once when the DB closes (close() delivers what is left).
  void wait_for_completed_reports(std::unique_lock<std::mutex>& lock);
  void deliver_completed(const CompletedWork& work);
  // REQUIRES: mu_ held. Whether a write waits for room that is still
  // missing, or level 0 is at the slowdown trigger (see WriteStallCondition).
  WriteStallCondition write_stall_condition() const;
  // compact_range() once the memtable is flushed: every file in the range
  // down the levels. With `level0_only`, only level 0's files go down one
  // level (moved where they can be), to make room there.
  Status compact_files_in_range(std::optional<std::string_view> begin,
                                std::optional<std::string_view> end, bool level0_only = false);
  // REQUIRES: mu_ held. The compaction the background thread should run next.
  // `now` decides whether the inputs of a compaction that failed still rest.
  std::optional<Compaction> pick_background_compaction(std::chrono::steady_clock::time_point now);
  // Runs one compaction (merging its inputs, or moving a file down) and
  // installs the result. The caller registered its inputs in compacting_.
  // *abandoned (optional) tells whether it failed only because close() asked
  // it to stop: that is not a background error. *edit_tried (optional) tells
  // whether a failure came from the MANIFEST edit, which may have reached the
  // MANIFEST all the same.
  Status run_compaction(const Compaction& c, bool* abandoned = nullptr, bool* edit_tried = nullptr);
  // REQUIRES: mu_ held. A compaction failed for a reason of its own (not
  // close()): an I/O error before its MANIFEST edit leaves the DB as it was,
  // so writes go on and compactions pause for a back-off
  // (CompactionFailureInfo); anything else is a background error.
  void record_compaction_failure(const Status& s, bool edit_tried, const Compaction& c);
  // REQUIRES: mu_ held. A compaction succeeded: if it took resting inputs,
  // or the back-off had run out, compactions work again.
  void record_compaction_success(const Compaction& c);
  // REQUIRES: mu_ held. No compaction fails any more: the error, the count
  // and the resting inputs go.
  void clear_compaction_error();
  // REQUIRES: mu_ held. compacting_, and while the back-off lasts the inputs
  // of the compactions that failed: what no compaction may take at `now`.
  std::set<uint64_t> busy_for_compaction(std::chrono::steady_clock::time_point now) const;
  // checkpoint()'s work, once the call is registered: `temp` is `dir` +
  // ".checkpoint-tmp".
  Status make_checkpoint(const std::string& dir, const std::string& temp);
  // Builds the compaction's output tables; fills `edit` with them.
  Status write_compaction_outputs(const Compaction& c, const Version& base, VersionEdit* edit,
                                  uint64_t* bytes_written, uint64_t* dropped, bool* abandoned);
  // Writes `mem` as a level-0 table; meta is empty (number 0) when it held nothing.
  Status write_level0_table(const FrozenMemtable& mem, FileMetaData* meta);
  // How an output table is built: above the bottommost level, zstd literals
  // are stored raw and the zstd level is at most
  // Options::light_upper_level_zstd_level (light_upper_level_compression).
  TableOptions output_table_options(bool bottommost) const;
  // Whether a trivial move `c` must rewrite its table instead (its coding
  // does not suit the level it would land in).
  bool rewrite_instead_of_move(const Compaction& c, const Version& base) const;
  Status flush_oldest_sealed();
  // close(), once no write can land any more: writes the memtables that hold
  // writes made without the WAL out to tables, oldest first.
  Status flush_unlogged_at_close();
  // Removes files no live Version, pending output or WAL still needs; temporary
  // files too when `at_open` (nothing else can be writing one then); with
  // `tables_only`, only tables (at open, before recovery writes anything).
  void delete_obsolete_files(bool at_open = false, bool tables_only = false);
  // REQUIRES: mu_ held. After an edit went into the MANIFEST: the uncertain
  // outputs no MANIFEST that recovery could read names any more may go.
  void release_settled_outputs();
  // REQUIRES: mu_ held. The first error is the one reported (one that
  // resume() cannot clear replaces one it could); every one counts for
  // whether resume() may clear it.
  void record_background_error(const Status& s, ErrorSource source = ErrorSource::kUnrecoverable);
  // REQUIRES: mu_ held. The error that stops writes, a resume() under way, or
  // "none" (the property fsdb.background-error).
  std::string describe_background_error() const;
  // REQUIRES: mu_ held. The last failure of compactions failing in a row
  // (see record_compaction_failure()), or "none" (fsdb.compaction-error).
  std::string describe_compaction_error() const;

  // The counters of fsdb.stats, read once for both its forms (property() and
  // map_property()). Takes mu_.
  struct StatsSnapshot {
    uint64_t writes = 0, user_bytes = 0, wal_bytes = 0, wal_syncs = 0;
    uint64_t memtable_bytes = 0, sealed_memtables = 0, rotations = 0;
    uint64_t flushes = 0, flush_bytes = 0, flush_micros = 0;
    uint64_t compactions = 0, trivial_moves = 0, compaction_bytes_read = 0,
             compaction_bytes_written = 0, compaction_micros = 0, versions_dropped = 0,
             compaction_failures = 0;
    uint64_t delays = 0, delay_micros = 0, stalls = 0, stall_micros = 0;
    const char* write_stall = "";
    uint64_t block_cache_bytes = 0, block_cache_capacity = 0, block_cache_hits = 0,
             block_cache_misses = 0, block_cache_memory_bytes = 0;
    uint64_t bloom_checks = 0, bloom_useful = 0;
    uint64_t files = 0, file_bytes = 0, open_tables = 0, sequence = 0;
    std::string background_error, compaction_error;

    // Bytes flushed and compacted per byte the user wrote.
    double write_amplification() const {
      return user_bytes == 0 ? 0.0
                             : static_cast<double>(flush_bytes + compaction_bytes_written) /
                                   static_cast<double>(user_bytes);
    }
    double block_cache_hit_rate() const {
      const uint64_t lookups = block_cache_hits + block_cache_misses;
      return lookups == 0 ? 0.0
                          : static_cast<double>(block_cache_hits) / static_cast<double>(lookups);
    }
  };
  StatsSnapshot stats_snapshot(const ReadView& view);

  const Options options_;
  const std::string dbname_;
  // Opened by DB::open_read_only(): nothing is written, and no flush,
  // compaction or event thread runs; the logs' writes stay in sealed_
  // (never flushed).
  const bool read_only_;
  // Opened by DB::open_as_secondary(): read_only_ too, and no lock is held.
  const bool secondary_;
  // options.wal_recovery_mode as given (a secondary reads in kPointInTime,
  // but accepts a missing first log as the writer does).
  const WalRecoveryMode requested_recovery_mode_;
  std::array<const DBImpl*, 2> donors_{};  // see take_over_from(); used by open() only

  // kSecondary: what the replay of one log left, so that the next state (a
  // catch-up) reads on from there instead of from the log's start, and adds
  // what follows to the same memtable. The writer only appends to a log, and
  // in sequence order, so what a later state adds has higher sequences than
  // the records this state replayed; but a state may read at a higher
  // sequence still (the MANIFEST's last sequence counts sequences handed out
  // to writes not logged yet), so records at or below the sequence of a
  // state that reads the memtable go into a new one (open_read_through).
  struct ReplayedLog {
    uint64_t number = 0;
    // A later state may go on from `position`: the last replay of this log
    // returned OK, and the log ended cleanly, in zeros (room reserved for
    // it) or in a record being written, not at damage. False while a replay
    // runs: one that stopped part-way may have left part of a record in
    // `open`, so the next attempt replays the log from its start.
    bool resumable = false;
    wal::LogPosition position;  // just past the last record replayed
    // Where that record began, and its checksum: a replay that goes on
    // from `position` first reads it again, to know the log is the same.
    wal::LogPosition last_record_start;
    uint64_t last_record_checksum = 0;
    SequenceNumber max_sequence = 0;  // the highest sequence its records gave
    std::vector<std::shared_ptr<const FrozenMemtable>> frozen;  // full memtables, oldest first
    // The memtable the last records went into, not sealed (or null). It may
    // be read by earlier states, each at its own last sequence ...
    std::shared_ptr<ConcurrentSkipList> open;
    // ... the highest of which is this: a later state adds to `open` only
    // records above it (otherwise it starts a memtable of its own).
    SequenceNumber open_read_through = 0;
    // The versions `open` held at `position`. More means an attempt this
    // state does not know of (one that failed) added to it: the log is then
    // replayed from its start instead.
    size_t open_entries = 0;
  };
  // kSecondary: by log number. Copied from the failed attempt before this
  // one, else from the state this one replaces, at the start of recover();
  // written by recover() only, before this state is read or replaced.
  std::vector<ReplayedLog> replayed_logs_;
  // The DB's identity (engine/db_identity.h), read or made by recover();
  // empty when a read-only open found none.
  std::string identity_;
  const std::shared_ptr<FileSystem> fs_;
  std::unique_ptr<FileLock> db_lock_;
  std::unique_ptr<VersionSet> versions_;
  std::unique_ptr<TableCache> table_cache_;

  // A leader begins one publisher range per member before any member can
  // finish, and its members' ranges end only after it has taken sequence_mu_
  // again (to give up the log). So a group holds at most all slots but one:
  // a direct writer that waits for a slot while holding sequence_mu_ always
  // has one range to wait for that ends without that lock.
  static wal::GroupCommitOptions write_group_options() {
    wal::GroupCommitOptions o;
    o.max_group_requests =
        std::min(o.max_group_requests, SequencePublisher::kMaxRangesInFlight - 1);
    return o;
  }
  wal::GroupCommit group_commit_{write_group_options()};
  // Appended to by the write group leader while it owns it
  // (leader_owns_log_), and by direct writers under sequence_mu_ otherwise;
  // switched under mu_ with writers drained and direct writers held off.
  std::unique_ptr<wal::LogWriter> log_;
  std::vector<std::string_view> group_records_;  // leader only: the group's WAL records
  // Sequence ranges are handed out under sequence_mu_, by group leaders and by
  // direct writers, and begun in the publisher (which keeps the last one
  // handed out: publisher_.allocated()) in the same order. Held for a few
  // dozen instructions, never across I/O. It and the flags it guards have a
  // cache line of their own: every direct write takes it.
  alignas(64) SpinMutex sequence_mu_;
  bool direct_writes_blocked_ = false;  // guarded by sequence_mu_: a leader is making room
  // Guarded by sequence_mu_: a leader is appending to or syncing log_, so
  // direct writers must not append (they go through the queue meanwhile).
  bool leader_owns_log_ = false;
  // Whether the active memtable holds WAL-less writes: a hint of
  // mem_.unlogged, so that only the first such write per memtable takes mu_.
  alignas(64) std::atomic<bool> active_memtable_unlogged_{false};
  SequencePublisher publisher_;
  // Whether a write group must take mu_ before it writes: a background error,
  // a closing DB. Set under mu_; read by leaders without it, so that a group
  // that needs nothing from mu_ does not take it.
  std::atomic<bool> writes_need_attention_{false};
  // Files in level 0 of the current Version (set under mu_ with each new view).
  std::atomic<size_t> level0_files_{0};

  mutable std::mutex mu_;
  std::condition_variable bg_cv_;    // background work, or its completion
  Memtable mem_;                     // guarded by mu_
  std::deque<Memtable> sealed_;      // guarded by mu_; oldest at the front
  Status bg_error_;                  // guarded by mu_
  bool bg_error_resumable_ = false;  // guarded by mu_: resume() may clear bg_error_
  bool bg_error_in_log_ = false;     // guarded by mu_: resume() must start a new WAL
  // Guarded by mu_: errors that stopped writes (bg_error_ set while it was
  // OK, or a resumable one replaced by one only a reopen clears), so that
  // the event thread sees each one, however soon it follows a resume().
  uint64_t bg_error_count_ = 0;
  // Guarded by mu_: the event thread tried resume() as often as it may
  // for the current error.
  bool bg_error_retries_over_ = false;
  // Guarded by mu_: the error a resume() cleared while it still holds writes
  // (flushing the memtables that waited); OK otherwise.
  Status resuming_from_;
  bool shutting_down_ = false;                   // guarded by mu_
  std::deque<CompletedWork> completed_reports_;  // guarded by mu_
  uint64_t completed_reports_queued_ = 0;        // guarded by mu_
  uint64_t completed_reports_delivered_ = 0;     // guarded by mu_
  std::thread::id event_thread_id_;              // guarded by mu_
  // Guarded by mu_: a write group's leader waits in make_room_for_write()
  // for a flush or a compaction (the write stall condition kStopped).
  bool write_waiting_for_room_ = false;
  bool flush_running_ = false;          // guarded by mu_
  std::set<uint64_t> pending_outputs_;  // guarded by mu_: tables being written
  // Guarded by mu_: tables whose MANIFEST edit failed, which the MANIFEST may
  // name all the same, with the number of the MANIFEST in use then. They stay
  // in pending_outputs_ until a later MANIFEST, written whole from a Version
  // that lacks them, has replaced that one (release_settled_outputs()).
  std::map<uint64_t, uint64_t> uncertain_outputs_;
  std::set<uint64_t> compacting_;  // guarded by mu_: inputs of running compactions
  int compactions_running_ = 0;    // guarded by mu_
  // Guarded by mu_: while compactions fail (see record_compaction_failure()),
  // the last failure, how many failed in a row, the inputs of the one that
  // failed and when they may be compacted again. compaction_error_ is OK
  // otherwise.
  Status compaction_error_;
  uint32_t compaction_failures_in_a_row_ = 0;
  std::set<uint64_t> resting_inputs_;
  std::chrono::steady_clock::time_point compaction_retry_at_;
  bool manual_compaction_ = false;  // guarded by mu_: compact_range() owns compaction
  int checkpoints_running_ = 0;     // guarded by mu_: close() waits for them
  // Read by compactions between entries: a closing DB abandons them.
  std::atomic<bool> stop_compactions_{false};
  std::multiset<SequenceNumber> snapshots_;  // guarded by mu_
  bool closed_ = false;                      // guarded by mu_
  // A rotation's event, reported by the leader once it has released mu_.
  std::optional<MemtableSealedInfo> sealed_event_;  // guarded by mu_

  mutable std::mutex view_mu_;
  std::shared_ptr<const ReadView> view_;  // guarded by view_mu_

  Stats stats_;
  // Where iterators read the next blocks of a scan ahead (null: off). Shared
  // with the iterators, which may finish after close().
  std::shared_ptr<BackgroundThread> readahead_;
  std::thread bg_thread_;
  std::vector<std::thread> compaction_threads_;
  std::thread event_thread_;
};

// Called by every direct write (one that does not pass the write queue) once
// it holds its sequence range and has released the sequence lock, before it
// touches the memtable: a test can hold a write inside that window. Process
// wide; null (the default) calls nothing.
using DirectWriteHook = void (*)();
void set_direct_write_hook_for_testing(DirectWriteHook hook);

}  // namespace fsdb
