// repair_db(): rebuilds a DB from what its files still hold.
//
// The sources are every table and every log that may hold data the DB still
// needs. They are merged into one sorted run at the bottom level, keeping the
// newest version of each key (a tombstone there has nothing left to hide, so
// it goes too), so that where each source sat in the tree no longer matters:
// putting the old tables back in levels would need the MANIFEST that is
// damaged, and level 0 alone would not do either (a read stops at the first
// level-0 table holding the key, which need not be the one with its newest
// version when tables from several levels are piled there).
//
// Order of work, so that a crash at any point loses nothing: the new tables
// are written and synced beside the old files; then a new MANIFEST naming
// only them (and an empty log numbered after every old one, so that no old
// log is replayed on top of them) is put in place by CURRENT's atomic rename;
// only then are the old files moved into lost/. Before the rename the DB is
// as it was (the new tables are debris its next open deletes); after it, it
// is the repaired DB.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/filename.h"
#include "engine/options_use.h"
#include "engine/version_edit.h"
#include "engine/version_set.h"
#include "fsdb/db.h"
#include "fsdb/skiplist.h"
#include "sstable/table_builder.h"
#include "sstable/table_reader.h"
#include "util/internal_key.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"
#include "wal/write_batch_encoding.h"

namespace fsdb {
namespace {

constexpr uint64_t kMaxManifestBytes = 4 << 20;

// One input of the merge. Sources are ranked newest first (logs by number
// descending, then tables by number descending): where two hold the very same
// internal key, the newer one's value is kept. In a DB the engine wrote that
// can only be two copies of one write, except for a table a crash left
// behind undeleted, whose bottom-level values (sequence 0) could otherwise
// win over the values that replaced them.
struct Source {
  // Declared before `iter`, so that they outlive it.
  std::shared_ptr<const TableReader> table;            // kept open while iter reads it
  std::shared_ptr<const ConcurrentSkipList> memtable;  // the same, for entries held in memory
  std::unique_ptr<InternalIterator> iter;
  size_t rank = 0;
};

class Repairer {
 public:
  Repairer(std::string dbname, const Options& options, RepairReport* report)
      : dbname_(std::move(dbname)),
        options_(options),
        fs_(options.file_system ? options.file_system : posix_file_system()),
        table_options_(table_options_from(options)),
        report_(report) {}

  Status run() {
    Status s = validate_options(options_, dbname_);
    if (!s.ok()) return s;
    bool is_dir = false;
    s = fs_->is_directory(dbname_, &is_dir);
    if (s.is_not_found() || (s.ok() && !is_dir)) {
      return Status::InvalidArgument(dbname_ + ": no such directory");
    }
    if (!s.ok()) return s;
    // Looked at before the lock is taken too, so that a directory without a
    // DB is left without a LOCK file.
    s = list_files();
    if (!s.ok()) return s;
    if (tables_.empty() && logs_.empty() && manifests_.empty() && !has_current_) {
      return Status::InvalidArgument(dbname_ + ": holds no DB (no table, log or MANIFEST)");
    }
    std::unique_ptr<FileLock> lock;
    s = fs_->lock_file(lock_file_name(dbname_), &lock);
    if (!s.ok()) return s.is_busy() ? Status::Busy(dbname_ + ": the DB is in use") : s;
    s = list_files();  // what the DB's last user left
    if (!s.ok()) return s;
    s = read_what_the_manifest_tells();
    if (!s.ok()) return s;
    std::vector<Source> sources;
    s = replay_logs(&sources);
    if (s.ok()) s = read_tables(&sources);
    std::vector<FileMetaData> outputs;
    if (s.ok()) s = write_outputs(std::move(sources), &outputs);
    if (s.ok()) s = install(outputs);
    if (!s.ok()) {
      remove_outputs(outputs);
      return s;
    }
    return archive_old_files();
  }

 private:
  void problem(std::string what) { report_->problems.push_back(std::move(what)); }

  uint64_t new_file_number() { return next_file_number_++; }

  std::shared_ptr<ConcurrentSkipList> new_memtable() const {
    SkipListOptions o;
    o.arena_block_bytes = 1 << 20;
    o.shards = 1;  // one thread fills it
    return std::make_shared<ConcurrentSkipList>(o);
  }

  Status list_files() {
    tables_.clear();
    logs_.clear();
    manifests_.clear();
    temps_.clear();
    has_current_ = false;
    std::vector<std::string> names;
    Status s = fs_->get_children(dbname_, &names);
    if (!s.ok()) return s;
    for (const std::string& name : names) {
      FileType type;
      uint64_t number = 0;
      if (!parse_file_name(name, &type, &number)) continue;
      next_file_number_ = std::max(next_file_number_, number + 1);
      switch (type) {
        case FileType::kTable:
          tables_.insert(number);
          break;
        case FileType::kLog:
          logs_.insert(number);
          break;
        case FileType::kManifest:
          manifests_.insert(number);
          break;
        case FileType::kCurrent:
          has_current_ = true;
          break;
        case FileType::kTemp:
          temps_.insert(number);
          break;
        case FileType::kLock:
          break;
      }
    }
    return Status::OK();
  }

  // What the MANIFEST still tells. Read whole (the one CURRENT names, or
  // without a usable CURRENT the newest one present) and complete, it names
  // every live table and the first log to replay: nothing else counts.
  // Otherwise the records that still read are replayed, skipping damage: a
  // table one of them removed stays out, and so does a log below the largest
  // log number one of them records; every other table counts.
  Status read_what_the_manifest_tells() {
    VersionSet::ManifestContents contents;
    Status s = VersionSet::read_manifest(*fs_, dbname_, &contents);
    // Damage is what repair is for; an I/O error may pass, and reading on
    // without what the MANIFEST tells could bring deleted data back.
    if (s.is_io_error()) return s;
    report_->manifest_read_whole = s.ok();
    if (s.ok()) return use_manifest(contents);
    problem(s.to_string());
    // The MANIFEST CURRENT names, if it does and it is there, replayed past
    // its damage; when nothing in it reads (or there is none), the MANIFESTs
    // newer than it (all of them without CURRENT), newest first: the first
    // that reads whole is the DB's state as an open or a repair that was cut
    // short before its CURRENT wrote left it (an open writes the whole live
    // state first; a repair's MANIFEST exists only whole). Failing that, what
    // the others still tell, newest first, from the first with a readable
    // edit: what it shows replaced or flushed stays so.
    size_t edits = 0;
    const uint64_t named_by_current = contents.path.empty() ? 0 : contents.number;
    if (named_by_current != 0 && fs_->file_exists(contents.path)) {
      s = replay_readable_edits(contents.path, contents.number, &edits);
      if (!s.ok() || edits > 0) return s;
    }
    for (auto it = manifests_.rbegin(); it != manifests_.rend() && *it > named_by_current; ++it) {
      VersionSet::ManifestContents newer;
      s = VersionSet::read_manifest_file(*fs_, manifest_file_name(dbname_, *it), *it, &newer);
      if (s.is_io_error()) return s;
      if (s.ok()) {
        problem(newer.path + ": read whole; used in place of CURRENT's");
        return use_manifest(newer);
      }
      problem(s.to_string());
    }
    for (auto it = manifests_.rbegin(); it != manifests_.rend() && edits == 0; ++it) {
      if (*it == named_by_current) continue;  // replayed above
      s = replay_readable_edits(manifest_file_name(dbname_, *it), *it, &edits);
      if (!s.ok()) return s;
    }
    if (edits == 0) problem(dbname_ + ": no MANIFEST edit reads: every table and log counts");
    return Status::OK();
  }

  // A MANIFEST that read whole: taken as it is when complete (no torn last
  // edit dropped, every table it names present, its first log present);
  // else its edits are replayed as a damaged one's are.
  Status use_manifest(const VersionSet::ManifestContents& contents) {
    bool complete = contents.dropped_tail.empty();
    const size_t missing_before = report_->tables_missing;
    bool first_log_missing = false;
    if (!complete) {
      problem(contents.path + ": " + contents.dropped_tail +
              " (its last edit, dropped: the tables it named may be the only copy of their data)");
    }
    std::set<uint64_t> live;
    for (int level = 0; level < kNumLevels; ++level) {
      for (const FileRef& f : contents.version->files(level)) {
        live.insert(f->number);
        if (!tables_.contains(f->number)) {
          complete = false;
          report_missing_table(f->number, contents.path, level, f->entries);
        }
      }
    }
    if (contents.log_number != 0 && !logs_.contains(contents.log_number)) {
      complete = false;
      first_log_missing = true;
      problem(log_file_name(dbname_, contents.log_number) + ": missing, though " + contents.path +
              " names it as the first log to replay (its writes are lost, or the MANIFEST lost "
              "its last edits)");
    }
    last_sequence_ = std::max(last_sequence_, contents.last_sequence);
    next_file_number_ = std::max(next_file_number_, contents.next_file_number);
    if (complete) {
      first_log_ = contents.log_number;
      // A table the MANIFEST does not name is debris: of a flush whose log
      // is still here, or of a compaction whose inputs are live. Its data is
      // in those; a copy of an older state is what it would add.
      for (uint64_t number : tables_) {
        if (!live.contains(number)) replaced_.insert(number);
      }
      return Status::OK();
    }
    problem(contents.path +
            ": may lack its last edits: tables it does not name count too, except those its "
            "edits removed");
    const bool only_the_tail_is_missing =
        report_->tables_missing == missing_before && !first_log_missing;
    // Every table an edit names was synced whole before the edit was
    // written: when a torn last edit is all that is missing (no file the
    // engine deletes only after an edit is gone), one it does not name that
    // does not read whole is a flush or compaction that a crash cut short,
    // not the only copy of anything.
    unnamed_damaged_is_debris_ = only_the_tail_is_missing;
    named_ = std::move(live);
    size_t edits = 0;
    return replay_readable_edits(contents.path, contents.number, &edits);
  }

  void report_missing_table(uint64_t number, const std::string& manifest, int level,
                            uint64_t entries) {
    if (!missing_reported_.insert(number).second) return;
    ++report_->tables_missing;
    problem(table_file_name(dbname_, number) + ": missing, though " + manifest +
            " names it at level " + std::to_string(level) + " (" + std::to_string(entries) +
            " entries lost)");
  }

  // The MANIFEST's records that still read, in order: the tables they
  // removed (and did not add back, as a move to the next level does) stay
  // out, and so do the logs below the largest log number they record.
  Status replay_readable_edits(const std::string& path, uint64_t number, size_t* edits) {
    *edits = 0;
    std::unique_ptr<wal::LogReader> reader;
    Status s = wal::LogReader::open(*fs_, path, number, WalRecoveryMode::kSkipAnyCorruptedRecords,
                                    &reader);
    if (!s.ok()) return s;                               // the file exists: an I/O error
    std::map<uint64_t, std::pair<int, uint64_t>> named;  // number -> level, entries
    std::string_view record;
    while (reader->read_record(&record)) {
      VersionEdit edit;
      s = edit.decode_from(record);
      if (!s.ok()) {
        problem(path + ": record at offset " + std::to_string(reader->last_record_offset()) + ": " +
                s.to_string() + " (skipped)");
        continue;
      }
      ++*edits;
      for (const auto& [level, file] : edit.deleted_files()) {
        replaced_.insert(file);
        named.erase(file);
      }
      for (const auto& [level, file] : edit.new_files()) {
        replaced_.erase(file.number);
        named[file.number] = {level, file.entries};
      }
      if (edit.log_number()) first_log_ = std::max(first_log_, *edit.log_number());
      if (edit.next_file_number()) {
        next_file_number_ = std::max(next_file_number_, *edit.next_file_number());
      }
      if (edit.last_sequence()) last_sequence_ = std::max(last_sequence_, *edit.last_sequence());
    }
    if (!reader->status().ok()) {
      if (!reader->status().is_corruption()) return reader->status();
      problem(reader->status().to_string());
    }
    for (const wal::DroppedRange& r : reader->report().skipped) {
      problem(path + ": offset " + std::to_string(r.offset) + ": " + std::to_string(r.bytes) +
              " bytes skipped: " + r.reason);
    }
    for (const auto& [file, where] : named) {
      if (!tables_.contains(file)) report_missing_table(file, path, where.first, where.second);
    }
    problem(path + ": " + std::to_string(*edits) + (*edits == 1 ? " edit" : " edits") +
            " read; left out: the tables they removed (" + std::to_string(replaced_.size()) +
            ") and the logs numbered below " + std::to_string(first_log_) +
            ", which they show flushed");
    return Status::OK();
  }

  // What one log holds, read into memtables.
  struct LogContents {
    std::vector<std::shared_ptr<ConcurrentSkipList>> memtables;
    std::vector<std::string> problems;
    uint64_t records = 0;
    SequenceNumber last_sequence = 0;
    bool torn_end = false;  // the first reading dropped a torn or unsynced end
  };

  // Each log the MANIFEST does not show flushed, oldest first, into
  // memtables, read as the DB's open reads them by default: what a crash
  // leaves at the end of the last log (a torn write, or damage past the
  // log's last sync with records after it) is dropped, so that the repaired
  // DB holds the writes recovery would give back and no more (keeping
  // records after a lost one would leave a hole). Damage the open refuses is
  // salvaged instead (see salvage_log()): damage in data a sync had covered,
  // mid-log damage in a log without sync marks, and a damaged end of a log
  // that a later log with records follows (a log is synced before the next
  // one begins, so that end was whole once).
  Status replay_logs(std::vector<Source>* sources) {
    std::vector<uint64_t> numbers;
    for (uint64_t number : logs_) {
      if (number >= first_log_) numbers.push_back(number);  // below: flushed, in the tables
    }
    std::vector<LogContents> logs(numbers.size());
    std::vector<std::string> refused(numbers.size());  // why the open would refuse the log
    for (size_t i = 0; i < numbers.size(); ++i) {
      Status s = read_log(numbers[i], &logs[i]);
      if (s.is_corruption()) {
        refused[i] = s.to_string();
        s = Status::OK();
      }
      if (!s.ok()) return s;  // nothing changed yet
    }
    // Newest first, so that whether a later log holds records is known. Only
    // the last log with records may end in a crash's tear: one before it was
    // synced, and closed with a mark saying so, before the next one began, so
    // damage anywhere in it (its closing mark damaged too) is not a power
    // cut's hole, and salvaging it keeps the records after the damage.
    bool later_records = false;
    for (size_t i = numbers.size(); i-- > 0;) {
      if (refused[i].empty() && logs[i].torn_end && later_records) {
        refused[i] = log_file_name(dbname_, numbers[i]) +
                     ": its end is damaged and a later log holds records";
      }
      if (!refused[i].empty()) {
        Status s = salvage_log(numbers[i], refused[i], /*cut_at_unsynced_damage=*/!later_records,
                               &logs[i]);
        if (!s.ok()) return s;
      }
      later_records = later_records || logs[i].records > 0;
    }
    std::vector<std::shared_ptr<ConcurrentSkipList>> memtables;
    for (LogContents& log : logs) {
      for (std::string& p : log.problems) problem(std::move(p));
      for (auto& mem : log.memtables) memtables.push_back(std::move(mem));
      report_->log_records_replayed += log.records;
      last_sequence_ = std::max(last_sequence_, log.last_sequence);
      ++report_->logs_replayed;
    }
    // Newest first.
    for (auto it = memtables.rbegin(); it != memtables.rend(); ++it) {
      Source source;
      source.iter = (*it)->new_version_iterator();
      source.memtable = std::move(*it);
      sources->push_back(std::move(source));
    }
    return Status::OK();
  }

  // The log as the open reads it (kTolerateCorruptedTail). Corruption only
  // for damage that mode refuses.
  Status read_log(uint64_t number, LogContents* out) {
    const std::string path = log_file_name(dbname_, number);
    std::unique_ptr<wal::LogReader> reader;
    Status s =
        wal::LogReader::open(*fs_, path, number, WalRecoveryMode::kTolerateCorruptedTail, &reader);
    if (!s.ok()) return s;
    std::string_view record;
    while (reader->read_record(&record)) {
      s = add_record(path, reader->last_record_offset(), record, out);
      if (!s.ok()) return s;
    }
    if (!reader->status().ok()) return reader->status();
    const wal::LogReadReport& report = reader->report();
    if (report.tail_kind == wal::LogTailKind::kTorn ||
        report.tail_kind == wal::LogTailKind::kUnsynced ||
        report.tail_kind == wal::LogTailKind::kStale) {
      out->torn_end = report.tail_kind != wal::LogTailKind::kStale;
      out->problems.push_back(path + ": offset " + std::to_string(report.tail.offset) + ": " +
                              std::to_string(report.tail.bytes) +
                              " bytes at the end dropped: " + report.tail.reason);
    }
    return Status::OK();
  }

  // The log again, from scratch, skipping damaged records and keeping those
  // after them (kSkipAnyCorruptedRecords); with `cut_at_unsynced_damage`,
  // only up to the first damage past the log's last sync, where a power
  // cut's hole may begin: records after that are dropped, as recovery drops
  // an unsynced end.
  Status salvage_log(uint64_t number, const std::string& why, bool cut_at_unsynced_damage,
                     LogContents* out) {
    *out = LogContents();
    out->problems.push_back(why + " (read again, skipping the damaged records)");
    const std::string path = log_file_name(dbname_, number);
    std::unique_ptr<wal::LogReader> reader;
    Status s = wal::LogReader::open(*fs_, path, number, WalRecoveryMode::kSkipAnyCorruptedRecords,
                                    &reader);
    if (!s.ok()) return s;
    std::vector<std::pair<uint64_t, std::string>> records;  // offset, bytes
    std::string_view record;
    while (reader->read_record(&record)) {
      records.emplace_back(reader->last_record_offset(), std::string(record));
    }
    if (!reader->status().ok()) return reader->status();
    const wal::LogReadReport& report = reader->report();
    uint64_t end = UINT64_MAX;
    for (const wal::DroppedRange& r : report.skipped) {
      if (cut_at_unsynced_damage && report.has_sync_marks && r.offset >= report.synced_through) {
        end = std::min(end, r.offset);
        continue;
      }
      out->problems.push_back(path + ": offset " + std::to_string(r.offset) + ": " +
                              std::to_string(r.bytes) + " bytes skipped: " + r.reason);
    }
    uint64_t dropped = 0;
    for (const auto& [offset, bytes] : records) {
      if (offset > end) {
        ++dropped;
        continue;
      }
      s = add_record(path, offset, bytes, out);
      if (!s.ok()) return s;
    }
    if (end != UINT64_MAX) {
      out->problems.push_back(
          path + ": offset " + std::to_string(end) + ": damage past the log's last sync (offset " +
          std::to_string(report.synced_through) + "): it and the " + std::to_string(dropped) +
          " records after it dropped, as recovery drops an unsynced end");
    }
    if (report.tail_kind == wal::LogTailKind::kTorn ||
        report.tail_kind == wal::LogTailKind::kStale) {
      out->problems.push_back(path + ": offset " + std::to_string(report.tail.offset) + ": " +
                              std::to_string(report.tail.bytes) +
                              " bytes at the end dropped: " + report.tail.reason);
    }
    return Status::OK();
  }

  Status add_record(const std::string& path, uint64_t offset, std::string_view record,
                    LogContents* out) {
    const std::string at = path + ": record at offset " + std::to_string(offset);
    wal::DecodedWriteBatch batch;
    Status s = wal::decode_write_batch(record, &batch);
    if (!s.ok()) {
      out->problems.push_back(at + ": " + s.to_string() + " (skipped)");
      return Status::OK();
    }
    ++out->records;
    if (out->memtables.empty() ||
        out->memtables.back()->memory_usage() >= options_.memtable_bytes) {
      out->memtables.push_back(new_memtable());
    }
    ConcurrentSkipList& mem = *out->memtables.back();
    SequenceNumber seq = batch.base_sequence;
    for (const wal::WriteBatchEntry& e : batch.entries) {
      const InsertResult r = mem.add(e.key, e.value, e.kind, seq);
      if (r == InsertResult::kOutOfMemory) {
        return Status::IOError(at + ": out of memory replaying it");
      }
      if (r == InsertResult::kDuplicateKey) {
        out->problems.push_back(at + ": sequence " + std::to_string(seq) +
                                " of its key was already given by an earlier record (the later "
                                "one dropped)");
      }
      out->last_sequence = std::max(out->last_sequence, seq);
      ++seq;
    }
    return Status::OK();
  }

  // Each table not shown replaced, newest first: read through once to check
  // every block; a damaged one has the blocks that read back salvaged.
  Status read_tables(std::vector<Source>* sources) {
    for (auto it = tables_.rbegin(); it != tables_.rend(); ++it) {
      const uint64_t number = *it;
      if (replaced_.contains(number)) {
        ++report_->tables_obsolete;
        continue;
      }
      const std::string path = table_file_name(dbname_, number);
      const bool debris_if_damaged = unnamed_damaged_is_debris_ && !named_.contains(number);
      auto left_as_debris = [&](const Status& damage) {
        ++report_->tables_unfinished;
        problem(damage.to_string() +
                " (a table no edit names, cut short by a crash: its data is elsewhere; left out)");
      };
      std::unique_ptr<TableReader> opened;
      Status s = TableReader::open(*fs_, path, number, table_options_, &opened);
      if (!s.ok()) {
        if (!s.is_corruption()) return s;
        if (debris_if_damaged) {
          left_as_debris(s);
          continue;
        }
        ++report_->tables_unreadable;
        problem(s.to_string() + " (the table cannot be opened: its entries are lost)");
        continue;
      }
      std::shared_ptr<const TableReader> reader(std::move(opened));
      SequenceNumber largest = 0;
      const TableReadOptions check{/*verify_checksums=*/true, /*fill_cache=*/false};
      std::unique_ptr<InternalIterator> iter = reader->new_iterator(check);
      uint64_t entries = 0;
      for (iter->seek_to_first(); iter->valid(); iter->next()) {
        largest = std::max(largest, iter->sequence());
        ++entries;
      }
      s = iter->status();
      if (s.ok() && entries != reader->properties().num_entries) {
        s = Status::Corruption(path + ": " + std::to_string(entries) + " entries read, " +
                               std::to_string(reader->properties().num_entries) +
                               " recorded in its properties");
      }
      if (s.ok()) {
        ++report_->tables_read;
        last_sequence_ = std::max(last_sequence_, largest);
        Source source;
        source.iter = reader->new_iterator(check);
        source.table = std::move(reader);
        sources->push_back(std::move(source));
        continue;
      }
      if (!s.is_corruption()) return s;
      if (debris_if_damaged) {
        left_as_debris(s);
        continue;
      }
      ++report_->tables_salvaged;
      std::shared_ptr<ConcurrentSkipList> mem = new_memtable();
      uint64_t kept = 0;
      Status added;
      s = reader->salvage(
          [&](std::string_view internal_key, std::string_view value) {
            ParsedInternalKey key;
            if (!added.ok() || !parse_internal_key(internal_key, &key)) return;
            const InsertResult r = mem->add(key.user_key, value, key.kind, key.sequence);
            if (r == InsertResult::kOutOfMemory) {
              added = Status::IOError(path + ": out of memory salvaging its entries");
              return;
            }
            if (r != InsertResult::kOk) return;  // the same entry twice
            last_sequence_ = std::max(last_sequence_, key.sequence);
            ++kept;
          },
          [&](const Status& damage) {
            problem(damage.to_string() + " (what the block holds from the damage on is lost)");
          });
      if (s.ok()) s = added;
      if (!s.ok()) return s;
      problem(path + ": " + std::to_string(kept) + " of " +
              std::to_string(reader->properties().num_entries) + " entries salvaged");
      if (mem->entry_count() > 0) {
        Source source;
        source.iter = mem->new_version_iterator();
        source.memtable = std::move(mem);
        sources->push_back(std::move(source));
      }
    }
    return Status::OK();
  }

  // The merge: the newest version of every key, tombstones dropped, into
  // bottom-level tables of about target_file_bytes.
  Status write_outputs(std::vector<Source> sources, std::vector<FileMetaData>* outputs) {
    for (size_t i = 0; i < sources.size(); ++i) {
      sources[i].rank = i;
      sources[i].iter->seek_to_first();
    }
    // Min-heap on (user key ascending, sequence and kind descending, rank).
    auto after = [&](size_t a, size_t b) {
      InternalIterator& x = *sources[a].iter;
      InternalIterator& y = *sources[b].iter;
      const int c = x.user_key().compare(y.user_key());
      if (c != 0) return c > 0;
      const uint64_t px = pack_sequence_and_kind(x.sequence(), x.kind());
      const uint64_t py = pack_sequence_and_kind(y.sequence(), y.kind());
      if (px != py) return px < py;
      return sources[a].rank > sources[b].rank;
    };
    std::vector<size_t> heap;
    for (size_t i = 0; i < sources.size(); ++i) {
      if (sources[i].iter->valid()) heap.push_back(i);
    }
    std::make_heap(heap.begin(), heap.end(), after);

    std::unique_ptr<TableBuilder> builder;
    FileMetaData meta;
    std::string last_user_key;
    bool has_last = false;
    Status s;
    auto finish_output = [&]() -> Status {
      Status fs = builder->finish();
      if (fs.ok()) {
        meta.file_size = builder->file_size();
        report_->bytes_written += meta.file_size;
        ++report_->tables_written;
        outputs->push_back(meta);
      } else {
        builder->abandon();
      }
      builder.reset();
      return fs;
    };
    while (!heap.empty()) {
      std::pop_heap(heap.begin(), heap.end(), after);
      const size_t top = heap.back();
      InternalIterator& in = *sources[top].iter;
      if (!has_last || in.user_key() != last_user_key) {
        last_user_key.assign(in.user_key());
        has_last = true;
        if (in.kind() == ValueKind::kValue) {
          if (builder != nullptr && builder->file_size() >= options_.target_file_bytes) {
            s = finish_output();
            if (!s.ok()) break;
          }
          if (builder == nullptr) {
            meta = FileMetaData();
            meta.number = new_file_number();
            s = TableBuilder::open(*fs_, table_file_name(dbname_, meta.number), table_options_,
                                   &builder);
            if (!s.ok()) break;
            append_internal_key(&meta.smallest, in.user_key(), 0, ValueKind::kValue);
          }
          meta.largest.clear();
          append_internal_key(&meta.largest, in.user_key(), 0, ValueKind::kValue);
          ++meta.entries;
          ++report_->keys_kept;
          // Every version the repaired DB holds is visible to every reader and
          // has nothing below it: sequence 0, as a compaction writes it.
          s = builder->add(in.user_key(), 0, ValueKind::kValue, in.value());
          if (!s.ok()) break;
        }
      }
      in.next();
      if (in.valid()) {
        heap.back() = top;
        std::push_heap(heap.begin(), heap.end(), after);
      } else {
        heap.pop_back();
        if (!in.status().ok()) {
          s = in.status();
          break;
        }
      }
    }
    if (s.ok() && builder != nullptr) s = finish_output();
    if (!s.ok() && builder != nullptr) builder->abandon();
    for (const Source& source : sources) {
      if (s.ok() && !source.iter->status().ok()) s = source.iter->status();
    }
    // The tables' directory entries must be durable before the MANIFEST names them.
    if (s.ok()) s = fs_->sync_dir(dbname_);
    return s;
  }

  // The new MANIFEST, and CURRENT naming it: from here on the DB is the
  // repaired one.
  Status install(const std::vector<FileMetaData>& outputs) {
    // An empty log numbered after every old one is the first to replay, so
    // that no old log is replayed on top of the new tables (their values
    // carry sequence 0, older than any log record) should moving it fail.
    const uint64_t log_number = new_file_number();
    std::unique_ptr<wal::LogWriter> log;
    Status s =
        wal::LogWriter::create(*fs_, log_file_name(dbname_, log_number), log_number, {}, &log);
    if (s.ok()) s = log->sync();
    if (s.ok()) s = log->close();
    log.reset();
    if (!s.ok()) {
      (void)fs_->remove_file(log_file_name(dbname_, log_number));
      return s;
    }
    new_log_ = log_number;
    const uint64_t manifest_number = new_file_number();
    const uint64_t temp_number = new_file_number();
    VersionEdit edit;
    for (const FileMetaData& f : outputs) edit.add_file(kNumLevels - 1, f);
    edit.set_log_number(log_number);
    edit.set_next_file_number(next_file_number_);
    edit.set_last_sequence(last_sequence_);
    VersionSet versions(dbname_, fs_, kMaxManifestBytes);
    s = versions.write_manifest_for_repair(manifest_number, temp_number, edit, &installed_);
    report_->installed = installed_;
    // Not known to be installed, yet the MANIFEST is kept: CURRENT may name
    // it (it did not read back), so what it names stays too.
    if (!s.ok() && !installed_ && fs_->file_exists(manifest_file_name(dbname_, manifest_number))) {
      keep_outputs_ = true;
    }
    return s;
  }

  void remove_outputs(const std::vector<FileMetaData>& outputs) {
    if (installed_ || keep_outputs_) return;  // CURRENT names them, or may
    for (const FileMetaData& f : outputs)
      (void)fs_->remove_file(table_file_name(dbname_, f.number));
    if (new_log_ != 0) (void)fs_->remove_file(log_file_name(dbname_, new_log_));
  }

  // Every file of the DB before the repair goes into lost/, kept for the
  // user to look at or delete.
  Status archive_old_files() {
    std::vector<std::string> names;
    for (uint64_t n : tables_) names.push_back(table_file_name(dbname_, n));
    for (uint64_t n : logs_) names.push_back(log_file_name(dbname_, n));
    for (uint64_t n : manifests_) names.push_back(manifest_file_name(dbname_, n));
    for (uint64_t n : temps_) names.push_back(temp_file_name(dbname_, n));
    if (names.empty()) return Status::OK();
    const std::string lost = dbname_ + "/lost";
    Status s = fs_->create_dir(lost);
    bool is_dir = false;
    if (!s.ok() && !(fs_->is_directory(lost, &is_dir).ok() && is_dir)) {
      return s.with_context("the DB is repaired, but its earlier files could not be moved");
    }
    // lost/ itself made durable before anything is moved into it.
    s = fs_->sync_dir(dbname_);
    if (!s.ok()) {
      return s.with_context("the DB is repaired, but its earlier files could not be moved");
    }
    report_->lost_dir = lost;
    for (const std::string& from : names) {
      const std::string name = from.substr(dbname_.size() + 1);
      std::string to = lost + "/" + name;
      for (int k = 1; fs_->file_exists(to); ++k) to = lost + "/" + name + "." + std::to_string(k);
      s = fs_->rename_file(from, to);
      if (!s.ok()) {
        return s.with_context("the DB is repaired, but its earlier files could not all be moved");
      }
    }
    s = fs_->sync_dir(lost);
    if (s.ok()) s = fs_->sync_dir(dbname_);
    return s;
  }

  const std::string dbname_;
  const Options options_;
  const std::shared_ptr<FileSystem> fs_;
  const TableOptions table_options_;
  RepairReport* const report_;

  std::set<uint64_t> tables_;
  std::set<uint64_t> logs_;
  std::set<uint64_t> manifests_;
  std::set<uint64_t> temps_;
  bool has_current_ = false;
  uint64_t next_file_number_ = 2;
  std::set<uint64_t> replaced_;  // tables the MANIFEST shows replaced
  std::set<uint64_t> missing_reported_;
  // With a whole MANIFEST that may lack its last edits: the tables it names,
  // and whether one it does not name that fails to read is debris.
  std::set<uint64_t> named_;
  bool unnamed_damaged_is_debris_ = false;
  uint64_t first_log_ = 0;  // logs below it are flushed
  SequenceNumber last_sequence_ = 0;
  uint64_t new_log_ = 0;
  bool installed_ = false;     // CURRENT names the new MANIFEST
  bool keep_outputs_ = false;  // CURRENT may name it
};

}  // namespace

Status repair_db(const std::string& path, const Options& options, RepairReport* report) {
  RepairReport own;
  if (report == nullptr) report = &own;
  *report = RepairReport();
  std::string dir = path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return Repairer(dir, options, report).run();
}

}  // namespace fsdb
