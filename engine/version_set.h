// VersionSet: the current Version, the MANIFEST that makes it durable, and the
// DB-wide counters (next file number, last sequence, live WAL number).
//
// The MANIFEST is a log in the WAL's framing (checksummed records, docs/format.md)
// whose first record describes a whole version and whose later records are
// VersionEdits. CURRENT names the live MANIFEST; it is replaced atomically
// (write a temporary file, sync it, rename it over CURRENT, sync the directory).
// Every open starts a fresh MANIFEST, and so does log_and_apply() once the live
// one outgrows `max_manifest_bytes`, so the MANIFEST never grows without bound.
//
// Thread safety: every method may be called from any thread. log_and_apply()
// calls are serialised among themselves (one MANIFEST writer), and the file
// I/O they do never holds the lock that current() takes.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "engine/version.h"
#include "fsdb/env.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

namespace fsdb {

class VersionSet {
 public:
  VersionSet(std::string dbname, std::shared_ptr<FileSystem> fs, uint64_t max_manifest_bytes);
  ~VersionSet();
  VersionSet(const VersionSet&) = delete;
  VersionSet& operator=(const VersionSet&) = delete;

  // Makes a new, empty DB in an existing directory: a MANIFEST and CURRENT.
  Status create_new();
  // Reads CURRENT and the MANIFEST it names and rebuilds the current version;
  // checks that every table it names is in the directory (and, with
  // `require_first_log`, the first log to replay); then starts a fresh
  // MANIFEST holding it. A torn last record (a crash during an edit that was
  // never acknowledged) is dropped; any other damage, or a missing file, is
  // Corruption, and leaves the directory as it was. `read_only`: no fresh
  // MANIFEST; log_and_apply() then refuses (the MANIFEST is closed).
  Status recover(bool require_first_log = true, bool read_only = false);
  // After recover(): what it dropped from the MANIFEST's end ("<path>:
  // offset N: M bytes: why"), or empty.
  const std::string& recovered_manifest_tail() const { return recovered_manifest_tail_; }

  // Records `edit` in the MANIFEST (synced) and installs the version it makes.
  // Fills in the edit's next file number and last sequence.
  // Refused (IOError) after close().
  Status log_and_apply(VersionEdit* edit);
  // For a checkpoint: writes into `dir` (an existing directory) a MANIFEST
  // that holds the current version whole, and a CURRENT naming it, both
  // synced; *version is that version, whose tables the copy needs. The
  // version and the counters are taken as one state (no edit falls between).
  // The copy has no log to replay: its log number is 0.
  Status write_checkpoint(const std::string& dir, std::shared_ptr<const Version>* version);
  // For repair_db(): a MANIFEST numbered `manifest_number` whose one record is
  // `edit` (which must hold the whole version and every counter), written
  // and synced under the temporary name numbered `temp_number` and then
  // renamed (so that it is whole whenever it exists), and CURRENT naming it.
  // *installed tells whether CURRENT was replaced (then an error is the
  // directory's sync's, or the rename's though it happened); when it was
  // not, the new MANIFEST is removed, unless CURRENT did not read back (then
  // it may name it, and the MANIFEST stays).
  // Nothing else of this VersionSet is used or changed.
  Status write_manifest_for_repair(uint64_t manifest_number, uint64_t temp_number,
                                   const VersionEdit& edit, bool* installed);
  // Closes the MANIFEST (its last sync mark, synced). The DB calls it before
  // it releases its LOCK: no byte of the directory is written after that.
  Status close();

  std::shared_ptr<const Version> current() const;

  uint64_t new_file_number() { return next_file_number_.fetch_add(1, std::memory_order_relaxed); }
  // Numbers at or below `number` are never handed out again: a crash can leave
  // files (logs, tables) numbered past the MANIFEST's next file number, and a
  // new file must not reuse, and so truncate, one of them.
  // Relaxed: file numbers only need to be unique, which the atomic max gives.
  void mark_file_number_used(uint64_t number) {
    uint64_t next = next_file_number_.load(std::memory_order_relaxed);
    while (next <= number &&
           !next_file_number_.compare_exchange_weak(next, number + 1, std::memory_order_relaxed)) {
    }
  }
  uint64_t log_number() const { return log_number_.load(std::memory_order_acquire); }
  // The highest sequence number handed out: what was recovered or set, or what
  // the tracked source (the write path's allocator) says, whichever is higher.
  SequenceNumber last_sequence() const {
    const SequenceNumber own = last_sequence_.load(std::memory_order_acquire);
    // Acquire: pairs with the write path's release store of an allocation.
    const SequenceNumber tracked =
        sequence_source_ != nullptr ? sequence_source_->load(std::memory_order_acquire) : 0;
    return std::max(own, tracked);
  }
  void set_last_sequence(SequenceNumber s) { last_sequence_.store(s, std::memory_order_release); }
  // From now on last_sequence() follows `source` too. The write path advances
  // its own counter (on the cache line it already holds) rather than one here,
  // which every write would otherwise have to pull from the last writer's core.
  // REQUIRES: before any concurrent use; `source` outlives this VersionSet's use.
  void track_last_sequence(const std::atomic<SequenceNumber>* source) { sequence_source_ = source; }
  // Relaxed: read without manifest_mu_ by the obsolete-file pass, for which an
  // older (smaller) number only keeps an old MANIFEST one pass longer; a number
  // is stored only once CURRENT names its MANIFEST.
  uint64_t manifest_file_number() const { return manifest_number_.load(std::memory_order_relaxed); }
  uint64_t manifest_bytes() const;

  // The largest key each level's last compaction reached (empty: none yet);
  // recorded in the MANIFEST so the rotation survives reopening.
  std::array<std::string, kNumLevels> compact_pointers() const;

  // Numbers of the files that some live Version (the current one, or one pinned
  // by a reader) still refers to. Files not in this set, and not being written,
  // may be deleted.
  std::set<uint64_t> live_files() const;

  // The MANIFEST's edits, for `fsdb manifest dump`: one line each.
  static Status dump_manifest(FileSystem& fs, const std::string& path,
                              std::vector<std::string>* lines);

  // What the MANIFEST that CURRENT names holds, read as recover() reads it
  // (also by the fsdb tool, on a DB it does not open).
  struct ManifestContents {
    std::string path;
    uint64_t number = 0;
    std::shared_ptr<const Version> version;
    uint64_t log_number = 0;
    uint64_t next_file_number = 0;
    SequenceNumber last_sequence = 0;
    std::array<std::string, kNumLevels> compact_pointers;
    // What was dropped at the end as a torn write ("offset N: M bytes: why"),
    // or empty.
    std::string dropped_tail;
  };
  // Where a successful read of a MANIFEST stopped, and what it had read: a
  // later read of the same MANIFEST (a secondary's next catch-up) reads on
  // from there instead of from its start. A MANIFEST is only appended to,
  // and a DB never reuses its numbers, so the records before `position`
  // are the ones that read saw. (A DB made again at the same path does
  // reuse them: a file shorter than `position`, one without the same last
  // record before it, or one that does not read on from there, is read
  // from its start.)
  struct ManifestProgress {
    uint64_t number = 0;  // 0: nothing read yet
    wal::LogPosition position;
    ManifestContents contents;
    // Where the last record that read returned began, and its checksum: a
    // read on from here reads it again first, and goes on only if it finds
    // the same record there.
    wal::LogPosition last_record_start;
    uint64_t last_record_checksum = 0;
  };

  // Corruption naming the file (and offset) if CURRENT or the MANIFEST is
  // damaged or lacks a required entry; `out->path` is set once CURRENT names
  // a MANIFEST. With `progress`, reads on from it if it is of the same
  // MANIFEST, and after a successful read holds where this one stopped.
  static Status read_manifest(FileSystem& fs, const std::string& dbname, ManifestContents* out,
                              ManifestProgress* progress = nullptr);
  // The same for the MANIFEST at `path`, numbered `number`, whatever CURRENT says.
  static Status read_manifest_file(FileSystem& fs, const std::string& path, uint64_t number,
                                   ManifestContents* out, ManifestProgress* progress = nullptr);

  // For a read-only recover() (a secondary's catch-up): the MANIFEST is read
  // on from `progress` (another VersionSet's manifest_progress()).
  void resume_manifest_from(ManifestProgress progress) { progress_ = std::move(progress); }
  const ManifestProgress& manifest_progress() const { return progress_; }

 private:
  // read_manifest_file() from the start, or (`resume`) on from `progress`,
  // which must be of this MANIFEST; `progress` (if not null) is updated only
  // on success.
  static Status read_manifest_records(FileSystem& fs, const std::string& path, uint64_t number,
                                      bool resume, ManifestContents* out,
                                      ManifestProgress* progress);
  // A MANIFEST in `dir` that starts with `version` whole; `log_number` is the
  // log number it records (that of the edit that made `version`, if any).
  Status write_snapshot_manifest(const std::string& dir, uint64_t manifest_number,
                                 const Version& version, uint64_t log_number,
                                 std::unique_ptr<wal::LogWriter>* writer);
  Status set_current_file(const std::string& dir, uint64_t manifest_number);
  void install(std::shared_ptr<const Version> v);

  const std::string dbname_;
  const std::shared_ptr<FileSystem> fs_;
  const uint64_t max_manifest_bytes_;
  // Set by resume_manifest_from() and by a read-only recover(); not touched
  // after recover() returns.
  ManifestProgress progress_;

  // Counters are atomics so that readers of them need no lock; their stores are
  // ordered by the callers' own synchronisation (mutexes in the engine), the
  // acquire/release pairs only make the values themselves safe to read.
  std::atomic<uint64_t> next_file_number_{2};
  std::atomic<uint64_t> log_number_{0};
  std::atomic<SequenceNumber> last_sequence_{0};
  const std::atomic<SequenceNumber>* sequence_source_ = nullptr;

  mutable std::mutex manifest_mu_;            // serialises log_and_apply; held across MANIFEST I/O
  std::atomic<uint64_t> manifest_number_{0};  // written under manifest_mu_
  std::unique_ptr<wal::LogWriter> manifest_;  // guarded by manifest_mu_
  bool closed_ = false;                       // guarded by manifest_mu_

  mutable std::mutex mu_;  // guards the two fields below; never held across I/O
  std::shared_ptr<const Version> current_;
  std::array<std::string, kNumLevels> compact_pointers_;
  std::string recovered_manifest_tail_;                         // set by recover(), read after it
  mutable std::vector<std::weak_ptr<const Version>> versions_;  // every installed version
};

}  // namespace fsdb
