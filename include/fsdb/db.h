// fsdb::DB — an embedded, persistent, ordered key-value store.
//
// Keys and values are arbitrary bytes (embedded NUL bytes included), ordered as
// unsigned bytes. A write acknowledged with WriteOptions::sync survives a power
// cut; one acknowledged without it survives a process crash (it is in the OS
// once put() returns) and a power cut once a later sync write, sync_wal() or
// flush() returns. Nothing acknowledged is ever lost to a crash at any moment,
// except writes made with WriteOptions::disable_wal: they skip the log, so a
// crash loses them unless a flush() (or close()) wrote them out first.
//
// Consistency: a read (get, multi_get, a new iterator, a new snapshot) sees
// every write acknowledged before it started, in any thread, and never part
// of a batch.
//
// Thread safety: a DB may be used from any number of threads at once without
// external locking. Only one DB object, in one process, may have a directory
// open at a time (a LOCK file enforces it; a second open gets Busy).
//
// Errors: every call returns a Status. A background error (a failed flush: a
// full disk, an I/O error) makes every later write return it; resume() once
// the cause is gone (space freed) takes writes again without closing, and
// reopening recovers everything acknowledged (writes with disable_wal only if
// a flush wrote them out, which resume() also does). A write that runs out of
// memory (std::bad_alloc, which reaches its caller) is treated the same way:
// its outcome is unknown (until reopening, reads may see part of its batch),
// later writes fail, reads go on.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fsdb/iterator.h"
#include "fsdb/options.h"
#include "fsdb/status.h"
#include "fsdb/write_batch.h"

namespace fsdb {

// A point in the DB's history: reads at a snapshot see exactly the writes
// acknowledged before it was taken. Obtain with DB::get_snapshot(); give back
// with DB::release_snapshot().
class Snapshot {
 public:
  virtual ~Snapshot() = default;
  virtual uint64_t sequence() const = 0;
};

class DB {
 public:
  // Opens (or, with create_if_missing, on by default, creates) the DB in directory `path`.
  static Status open(const Options& options, const std::string& path, std::unique_ptr<DB>* db);
  // Opens the DB in `path` for reading only (RocksDB's OpenForReadOnly): it
  // changes nothing in the directory, not even what an open recovers (logs
  // are replayed into memory; a damaged end stays on disk for the next
  // writer to drop); only a missing LOCK file is made (a checkpoint has
  // none). Writes, flush(), compact_range(), sync_wal(), checkpoint() and
  // resume() return NotSupported. Reads see the DB as it was at this call.
  // Any number of read-only opens may hold a DB at once (a shared lock on
  // its LOCK file), but none while it is open for writing: Busy then, and an
  // open for writing is Busy while one is held. Where LOCK is missing and
  // cannot be made (a read-only file system, a directory this user may not
  // write), it opens without a lock, and a writer that may write there is
  // not kept out. create_if_missing and error_if_exists are ignored:
  // InvalidArgument if `path` holds no DB.
  static Status open_read_only(const Options& options, const std::string& path,
                               std::unique_ptr<DB>* db);
  // Opens the DB in `path` to read it beside a writer that may hold it
  // open, in this process or another (RocksDB's secondary instance). It
  // takes no lock and changes nothing in the directory. Reads see the DB as
  // it was at this call: the tables its MANIFEST named, every one opened
  // (the writer may delete their files afterwards; the space of those stays
  // held until a catch-up or close() lets them go and no iterator or
  // snapshot taken before reads them), and the writes of its logs up to their
  // last whole record, replayed into memory: every write the writer had
  // acknowledged, but for disable_wal ones not yet flushed (they are in no
  // file), and the writes after them in the order they were logged. A
  // write still being logged, and any after it, are not seen until the next
  // try_catch_up_with_primary(). Where the writer replaces a file this call
  // reads (a compaction, a flush, a rewritten MANIFEST), it reads again, up
  // to ten times: Busy if the writer changed the DB each time. Writes,
  // flush(), compact_range(), sync_wal(), checkpoint() and resume() return
  // NotSupported; InvalidArgument if `path` holds no DB. Logs are read as a
  // point-in-time recovery (kPointInTime) reads them: up to the first
  // damage, which the end of a log being written looks like; the writer's
  // own recovery judges real damage. The listener hears of each recovery
  // (on_recovery), this call's and each catch-up's. After close(), reads
  // and catch-ups return InvalidArgument ("the DB is closed"), and
  // property() answers only "fsdb.num-catch-ups"; an iterator made before
  // reads on, and it and a snapshot taken before hold the tables and
  // memtables of their state until they are destroyed or released.
  static Status open_as_secondary(const Options& options, const std::string& path,
                                  std::unique_ptr<DB>* db);

  DB() = default;
  DB(const DB&) = delete;
  DB& operator=(const DB&) = delete;
  // Loses nothing that was acknowledged: it runs close() and drops its error
  // (call close() to see it), so it waits for background work and writes out
  // what disable_wal writes left in memtables.
  virtual ~DB() = default;

  // A key and value larger than WriteBatch::kMaxEntryBytes together are
  // refused with InvalidArgument (in a batch: the whole batch), before
  // anything is logged.
  virtual Status put(const WriteOptions& options, std::string_view key, std::string_view value) = 0;
  virtual Status remove(const WriteOptions& options, std::string_view key) = 0;
  virtual Status write(const WriteOptions& options, WriteBatch* batch) = 0;
  // NotFound if the key is absent.
  virtual Status get(const ReadOptions& options, std::string_view key, std::string* value) = 0;
  // One Status per key, in order; values[i] is set where statuses[i] is OK.
  virtual std::vector<Status> multi_get(const ReadOptions& options,
                                        std::span<const std::string_view> keys,
                                        std::vector<std::string>* values) = 0;
  virtual std::unique_ptr<Iterator> new_iterator(const ReadOptions& options) = 0;

  virtual const Snapshot* get_snapshot() = 0;
  virtual void release_snapshot(const Snapshot* snapshot) = 0;

  // Seals the active memtable and waits until it (and every memtable sealed
  // before it) is an SSTable.
  virtual Status flush() = 0;
  // Compacts every file overlapping [begin, end] (nullopt = unbounded) down to
  // the bottom level. A close() on another thread stops it at its next
  // compaction (it then returns an IOError saying the DB is closing).
  virtual Status compact_range(std::optional<std::string_view> begin,
                               std::optional<std::string_view> end) = 0;
  // Makes every acknowledged write durable (fdatasync of the WAL).
  virtual Status sync_wal() = 0;
  // An online backup (RocksDB's Checkpoint): makes in `dir`, a directory that
  // must not exist yet (its parent must), a copy of the DB that DB::open
  // opens, while this DB goes on taking reads and writes. The copy holds
  // every write acknowledged before the call (it flushes the memtables
  // first) in the tables of one version of the DB; writes made meanwhile
  // may be in it or not, each batch whole or not at all. Tables are hard
  // links where the file system allows (no space is used until this DB
  // compacts them away), else copies; everything is synced. The copy is
  // built in `dir` + ".checkpoint-tmp" and renamed to `dir` at the end, so
  // `dir` appears whole or not at all; a failed call removes what it made.
  // A second call into the same `dir` while one runs is refused; close()
  // waits for a call under way. (Another process that creates `dir`, empty,
  // while the call runs has it replaced.)
  virtual Status checkpoint(const std::string& dir) = 0;
  // "fsdb.stats", "fsdb.levels", "fsdb.num-files-at-level<N>", "fsdb.memtable-bytes",
  // "fsdb.sequence", "fsdb.num-rotations", "fsdb.num-flushes", "fsdb.num-compactions",
  // "fsdb.num-stalls"; the bytes written by the user (keys, values and batch framing),
  // by flushes and by compactions: "fsdb.user-bytes-written", "fsdb.flush-bytes-written",
  // "fsdb.compaction-bytes-written"; background work: "fsdb.compaction-pending" (1
  // when some level needs compaction), "fsdb.num-running-compactions",
  // "fsdb.num-sealed-memtables" (waiting for flush; opened read-only, the
  // memtables the logs were replayed into); "fsdb.num-write-groups" (writes
  // led through the write queue, in groups: synced writes, and any write while
  // the memtable is being switched; others write directly); "fsdb.num-resumes"
  // (resume() calls, the application's or the DB's own, that took writes again
  // after an error); "fsdb.write-stall" ("normal", "delayed" or "stopped": see
  // WriteStallCondition; "read-only" for a DB opened read-only); "fsdb.background-error" (the error
  // that stops writes; while a resume() that cleared it still holds writes, "resume() under way
  // after: " and the error; else "none"); "fsdb.compaction-error" (while compactions fail without
  // stopping writes, the last failure and how many failed in a row; else "none"; see
  // CompactionFailureInfo) and "fsdb.num-compaction-failures"; "fsdb.db-id" (the DB's
  // identity, 32 hex digits made with the DB and kept by checkpoints; nullopt opened read-only
  // on a DB that has none); opened as a secondary, "fsdb.num-catch-ups"
  // (try_catch_up_with_primary() calls that succeeded). nullopt for an unknown name.
  virtual std::optional<std::string> property(std::string_view name) = 0;
  // A property's map form (RocksDB's GetMapProperty), for programs that
  // chart or alert on it: "fsdb.stats" gives the counters of its text form,
  // unrounded, by name ("writes", "user_bytes_written", "flush_micros",
  // "block_cache_hits", ...): sizes in bytes, times in microseconds, counts,
  // "write_amplification" as a decimal, and "write_stall", "background_error"
  // and "compaction_error" as in their own properties. Fills `values` and
  // returns true, or clears it and returns false for a name without a map
  // form.
  virtual bool map_property(std::string_view name, std::map<std::string, std::string>* values) {
    (void)name;
    values->clear();
    return false;
  }
  // Flushes the memtables that hold writes made with disable_wal, waits for
  // background work (and for a compact_range() running on another thread),
  // syncs the WAL and releases the directory. Optional before the
  // destructor; reports errors the destructor cannot.
  virtual Status close() = 0;
  // After a background error, once its cause is gone: clears the error and
  // takes writes again, without closing the DB (RocksDB's Resume). It first
  // does again what failed: a failed WAL write or sync gets a new WAL, and
  // every memtable waiting for a flush (the one on the failed WAL among them)
  // is written out before any new write goes to the new WAL; a failed flush or
  // compaction is retried. Returns OK when the memtables that waited are
  // tables and writes are open again, or the error that stops them still (the
  // DB stays stopped, and resume() may be called again). OK at once when there
  // is no error. Compactions failing without stopping writes
  // (CompactionFailureInfo) end their back-off: they are tried again at once,
  // and writes that need their room wait for them rather than fail. An error resume() cannot clear
  // (corruption, or a write that failed inside the memtable or ran out of memory, after which the
  // memtable may not follow the log) is returned with "reopen" in its message: only reopening
  // recovers from those. Writes wait while resume() runs; reads go on. The DB also calls it itself,
  // from a thread of its own, after an error it can clear (Options::max_background_error_resumes);
  // the listener hears of the errors that stop writes and of the end of each recovery
  // (EventListener).
  virtual Status resume() = 0;
  // A DB opened by open_as_secondary(): reads the DB again as it is now
  // (the writer's tables, flushes and compactions since, and its logs up to
  // their last whole record), keeping open the tables it already has, and
  // shows that from then on. The live logs are read on from where the last
  // state stopped, not again from their start, so the cost follows what
  // the writer wrote since (a log that ended in damage, or one a failed
  // catch-up read part of, is read again from its start). Iterators and snapshots taken before keep
  // seeing the state they began in. On error the DB shows what it showed
  // before. Any other DB: NotSupported.
  virtual Status try_catch_up_with_primary() {
    return Status::NotSupported(
        "try_catch_up_with_primary: only a DB opened with open_as_secondary() follows a writer");
  }

  // Conveniences with default options.
  Status put(std::string_view key, std::string_view value) {
    return put(WriteOptions(), key, value);
  }
  Status remove(std::string_view key) { return remove(WriteOptions(), key); }
  Status write(WriteBatch* batch) { return write(WriteOptions(), batch); }
  Status get(std::string_view key, std::string* value) { return get(ReadOptions(), key, value); }
  std::unique_ptr<Iterator> new_iterator() { return new_iterator(ReadOptions()); }
};

// Deletes a DB's files and its directory (the DB must not be open). A `lost`
// directory that repair_db() left is the user's and is kept (so is the DB's
// directory then).
Status destroy_db(const std::string& path, const Options& options = {});

// What repair_db() found and did. Every damage it met is in `problems`, one
// line each naming the file and, where there is one, the offset.
struct RepairReport {
  // CURRENT and the MANIFEST it names read without damage (a torn last edit
  // may have been dropped, as the open drops it).
  bool manifest_read_whole = false;
  size_t tables_read = 0;        // read through, every checksum right
  size_t tables_salvaged = 0;    // damaged: the blocks that read back were kept
  size_t tables_unreadable = 0;  // not even opened (footer, index): nothing kept
  size_t tables_obsolete = 0;    // left out: the MANIFEST shows them replaced
  size_t tables_missing = 0;     // named by the MANIFEST, not in the directory
  // Left out: damaged, named by no edit of a MANIFEST that read whole but
  // may lack its last edits; a flush's or compaction's output a crash cut
  // short (an edit names a table only once it is whole).
  size_t tables_unfinished = 0;
  size_t logs_replayed = 0;
  uint64_t log_records_replayed = 0;
  uint64_t keys_kept = 0;  // keys the repaired DB holds
  size_t tables_written = 0;
  uint64_t bytes_written = 0;
  std::vector<std::string> problems;
  std::string lost_dir;  // where the DB's earlier files went ("" when none moved)
  // CURRENT names the new MANIFEST: the DB is the repaired one, even when
  // repair_db() returns an error (one that came after: syncing the
  // directory, moving the old files).
  bool installed = false;
};

// Rebuilds a DB that does not open, or reads with errors, from what its files
// still hold (LevelDB's and RocksDB's RepairDB). The DB must not be open.
//
// It reads every table (salvaging the blocks of a damaged one that read back
// whole) and replays every log not yet flushed as the open replays it (what a
// crash tore at the end of the last log is dropped; damage the open refuses,
// such as damage in data a sync had covered, is skipped and the records after
// it kept, in the last log only up to any damage past its last sync), then
// writes the newest version of every key into
// new tables at the bottom level, under a new MANIFEST. The earlier files are
// then moved, not deleted, into `path`/lost.
//
// What the MANIFEST still tells is used, so that no overwritten or deleted
// value comes back: read whole and complete, it names the only tables and
// logs that count; otherwise the tables its readable edits removed and the
// logs they show flushed stay out, and every other table counts. Where the
// MANIFEST tells nothing of a table or log (none is left, or the records that
// named its replacement are lost), a flushed log or a replaced table that a
// crash left undeleted may bring back values overwritten or deleted since.
// Data in a damaged block or record, or in a missing file, is lost, and a
// deletion lost that way may bring an older value back; each is reported.
//
// An I/O error (as opposed to damage) stops it: before the new MANIFEST is in
// place the DB is left as it was (what the repair wrote is removed); after
// (RepairReport::installed), the DB is the repaired one. A table the disk
// cannot read at all can be moved out of the directory first. Needs free
// space about the size of the DB. A crash at any point leaves the DB as it
// was or repaired (earlier files not yet moved are then deleted by its next
// open), and running it again is safe either way.
Status repair_db(const std::string& path, const Options& options = {},
                 RepairReport* report = nullptr);

}  // namespace fsdb
