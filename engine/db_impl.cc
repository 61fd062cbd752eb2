#include "engine/db_impl.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <numeric>
#include <unordered_map>

#include <zstd.h>

#include "engine/db_identity.h"
#include "engine/db_iterator.h"
#include "engine/error_iterator.h"
#include "engine/filename.h"
#include "engine/level_iterator.h"
#include "engine/merging_iterator.h"
#include "engine/options_use.h"
#include "sstable/block_cache.h"
#include "sstable/table_builder.h"
#include "sstable/table_iterator.h"
#include "util/background_thread.h"
#include "util/checksum.h"
#include "util/path.h"
#include "util/thread_name.h"
#include "wal/log_reader.h"
#include "wal/write_batch_encoding.h"

namespace fsdb {
namespace {

constexpr uint64_t kMaxManifestBytes = 4 << 20;

// Relaxed: a test sets the hook before the writes it is meant to hold begin
// and clears it after they end; the thread start and join that surround them
// order those stores, and the hook guards its own state.
std::atomic<DirectWriteHook> direct_write_hook{nullptr};

uint64_t now_micros() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

std::string human_bytes(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), unit == 0 ? "%.0f %s" : "%.1f %s", v, kUnits[unit]);
  return buf;
}

// zstd reads level 0 as its default level.
int effective_zstd_level(int level) { return level == 0 ? ZSTD_CLEVEL_DEFAULT : level; }

}  // namespace

class DBImpl::SnapshotImpl final : public Snapshot {
 public:
  explicit SnapshotImpl(SequenceNumber seq) : seq_(seq) {}
  uint64_t sequence() const override { return seq_; }

 private:
  const SequenceNumber seq_;
};

namespace {

// A secondary reads logs a writer is appending to: the end of the newest one
// may hold a record being written (or, with several writers, a gap before
// records already written). It reads up to there, as a point-in-time
// recovery does, and the writer's own recovery judges any real damage.
Options secondary_options(Options options) {
  options.wal_recovery_mode = WalRecoveryMode::kPointInTime;
  return options;
}

}  // namespace

DBImpl::DBImpl(const Options& options, std::string dbname, OpenMode mode)
    : options_(mode == OpenMode::kSecondary ? secondary_options(options) : options),
      dbname_(std::move(dbname)),
      read_only_(mode != OpenMode::kReadWrite),
      secondary_(mode == OpenMode::kSecondary),
      requested_recovery_mode_(options.wal_recovery_mode),
      fs_(options.file_system ? options.file_system : posix_file_system()) {}

DBImpl::~DBImpl() { (void)close(); }

std::shared_ptr<ConcurrentSkipList> DBImpl::new_memtable() const {
  SkipListOptions o;
  // Arena blocks: large enough that a full memtable takes few, small enough
  // that a small memtable does not reserve far more than it holds.
  o.arena_block_bytes = std::clamp<size_t>(options_.memtable_bytes / 16, 4096, 1 << 20);
  o.shards = options_.memtable_shards;
  return std::make_shared<ConcurrentSkipList>(o);
}

Status DBImpl::open() {
  Status s = validate_options(options_, dbname_);
  if (!s.ok()) return s;

  bool is_dir = false;
  s = fs_->is_directory(dbname_, &is_dir);
  if (s.is_not_found() && read_only_) {
    return Status::InvalidArgument(dbname_ + ": does not exist (" + opened_as() + ")");
  }
  if (s.is_not_found()) {
    if (!options_.create_if_missing) {
      return Status::InvalidArgument(dbname_ + ": does not exist (create_if_missing is false)");
    }
    s = fs_->create_dir(dbname_);
    // The new directory's own entry must be durable before anything acknowledged
    // lives in it: a power cut could otherwise take the whole DB with it.
    if (s.ok()) s = fs_->sync_dir(parent_directory(dbname_));
    if (!s.ok()) return s;
  } else if (!s.ok()) {
    return s;
  } else if (!is_dir) {
    return Status::InvalidArgument(dbname_ + ": is not a directory");
  }

  // Refused before the LOCK file is made, so that a read of a directory
  // that holds no DB leaves nothing behind.
  if ((read_only_ || !options_.create_if_missing) &&
      !fs_->file_exists(current_file_name(dbname_))) {
    s = check_directory_without_current();
    if (!s.ok()) return s;
    return Status::InvalidArgument(dbname_ + (read_only_
                                                  ? ": no DB here (" + opened_as() + ")"
                                                  : ": no DB here (create_if_missing is false)"));
  }

  // A secondary takes no lock: it reads beside the writer that holds it.
  if (!secondary_) {
    const std::string lock_path = lock_file_name(dbname_);
    s = read_only_ ? fs_->lock_file_shared(lock_path, &db_lock_)
                   : fs_->lock_file(lock_path, &db_lock_);
    if (s.is_busy()) {
      return Status::Busy(dbname_ + ": the DB is in use (" + s.message() + ")");
    }
    if (!s.ok()) return s;
  }

  // A catch-up shares the block cache and the table statistics of the DB it replaces.
  const DBImpl* donor = donors_[0] != nullptr ? donors_[0] : donors_[1];
  TableOptions table_options =
      donor != nullptr ? donor->table_cache_->options() : table_options_from(options_);
  table_cache_ = std::make_unique<TableCache>(dbname_, fs_, table_options);
  if (options_.scan_readahead) {
    // A few blocks per scanning iterator: beyond that the scan is better off
    // reading for itself than queueing.
    readahead_ =
        std::make_shared<BackgroundThread>(4 * TableIterator::kReadaheadBlocks, "fsdb:readahead");
  }
  versions_ = std::make_unique<VersionSet>(dbname_, fs_, kMaxManifestBytes);

  // On failure the LOCK stays held: close() (run as the caller destroys this
  // object) closes the log and the MANIFEST first, then releases it.
  s = recover();
  if (!s.ok() || read_only_) return s;
  bg_thread_ = std::thread([this] {
    set_current_thread_name("fsdb:flush");
    background_loop();
  });
  for (int i = 0; i < options_.max_background_compactions; ++i) {
    compaction_threads_.emplace_back([this, i] {
      set_current_thread_name("fsdb:compact" + std::to_string(i));
      compaction_loop();
    });
  }
  event_thread_ = std::thread([this] {
    set_current_thread_name("fsdb:events");
    event_loop();
  });
  return Status::OK();
}

Status DBImpl::new_log_file(uint64_t* number, std::unique_ptr<wal::LogWriter>* writer) {
  *number = versions_->new_file_number();
  wal::LogWriterOptions log_options;
  log_options.use_mmap = options_.use_mmap_writes;
  const std::string name = log_file_name(dbname_, *number);
  Status s = wal::LogWriter::create(*fs_, name, *number, log_options, writer);
  // The log's directory entry must be durable before any write in it is
  // acknowledged as synced.
  if (s.ok()) s = fs_->sync_dir(dbname_);
  if (!s.ok()) {
    // Nothing was written to it: removed, so that the retries of a rotation
    // or a resume() on a failing disk do not each leave a log behind.
    writer->reset();
    (void)fs_->remove_file(name);
  }
  return s;
}

Status DBImpl::check_directory_without_current() const {
  // A directory with tables or logs but no CURRENT is a DB that lost its
  // CURRENT (a partial copy, a hand deletion), not an empty place: a new DB
  // there would replay its logs out of context and delete its tables.
  // Only the first MANIFEST of a creation interrupted before CURRENT was
  // written may be there.
  std::vector<std::string> names;
  Status s = fs_->get_children(dbname_, &names);
  if (!s.ok()) return s;
  std::string db_file;
  uint64_t newest_manifest = 0;
  for (const std::string& name : names) {
    FileType type;
    uint64_t number = 0;
    if (!parse_file_name(name, &type, &number)) continue;
    if (type == FileType::kManifest) newest_manifest = std::max(newest_manifest, number);
    if (type == FileType::kLog || type == FileType::kTable ||
        (type == FileType::kManifest && number > 1)) {
      db_file = std::min(db_file.empty() ? name : db_file, name);
    }
  }
  if (db_file.empty()) return Status::OK();
  const std::string manifest = manifest_file_name(dbname_, newest_manifest);
  return Status::Corruption(
      dbname_ + ": CURRENT is missing, but the directory holds a DB's files (" + db_file +
      "); not creating a new DB over them" +
      (newest_manifest == 0
           ? std::string()
           : " (if only CURRENT was lost, write \"" + manifest.substr(dbname_.size() + 1) +
                 "\" and a newline into it and open again)"));
}

Status DBImpl::refuse_if_read_only(const char* operation) const {
  if (!read_only_) return Status::OK();
  return Status::NotSupported(std::string(operation) + ": " + dbname_ + " was " + opened_as());
}

Status DBImpl::recover() {
  // Read first: a secondary takes nothing over from a state of another DB (one
  // destroyed and made again at this path numbers its files the same way).
  // An unreadable identity is none; a writer replaces it below.
  const Status identity_read = read_db_identity(*fs_, dbname_, &identity_);
  if (secondary_) {
    for (const DBImpl*& donor : donors_) {
      if (donor != nullptr && donor->identity_ != identity_) donor = nullptr;
    }
    // The failed attempt's, if any: it started from the previous state's and
    // knows which of its memtables it added to.
    const DBImpl* donor = donors_[1] != nullptr ? donors_[1] : donors_[0];
    if (donor != nullptr) {
      replayed_logs_ = donor->replayed_logs_;
      // The MANIFEST too is read on from where the donor's read stopped.
      versions_->resume_manifest_from(donor->versions_->manifest_progress());
    }
  }
  const bool exists = fs_->file_exists(current_file_name(dbname_));
  Status s;
  if (!exists && read_only_) {
    return Status::InvalidArgument(dbname_ + ": no DB here (" + opened_as() + ")");
  }
  if (!exists) {
    s = check_directory_without_current();
    if (!s.ok()) return s;
    if (!options_.create_if_missing) {
      return Status::InvalidArgument(dbname_ + ": no DB here (create_if_missing is false)");
    }
    // Before CURRENT: a DB made here always has its identity.
    identity_ = new_db_identity();
    s = write_db_identity(*fs_, dbname_, identity_);
    if (!s.ok()) return s;
    s = versions_->create_new();
    if (!s.ok()) return s;
  } else if (options_.error_if_exists && !read_only_) {
    return Status::InvalidArgument(dbname_ + ": a DB exists here (error_if_exists is true)");
  } else if (!read_only_ && !identity_read.ok()) {
    // A DB made before identities existed, or an IDENTITY that does not
    // read (it holds no data): a new one from now on.
    identity_ = new_db_identity();
    s = write_db_identity(*fs_, dbname_, identity_);
    if (!s.ok()) return s;
  }
  // A secondary: which MANIFEST CURRENT names, and its size, before it is
  // read (see the check after the logs are listed).
  const std::string manifest_before = secondary_ ? manifest_mark() : std::string();
  // A missing first log is the one loss kSkipAnyCorruptedRecords accepts.
  s = versions_->recover(
      /*require_first_log=*/requested_recovery_mode_ != WalRecoveryMode::kSkipAnyCorruptedRecords,
      /*read_only=*/read_only_);
  if (!s.ok()) return s;
  if (secondary_) {
    s = open_live_tables();
    if (!s.ok()) return s;
  }
  // Tables no MANIFEST names are debris: of a flush or compaction a crash
  // interrupted, or of an earlier open that failed after its replay wrote
  // tables (on a full disk, say). They go before the replay writes new ones,
  // so that retrying an open does not need more room each time.
  if (!read_only_) delete_obsolete_files(/*at_open=*/true, /*tables_only=*/true);

  // Replay every WAL the MANIFEST does not cover, oldest first.
  std::vector<std::string> names;
  s = fs_->get_children(dbname_, &names);
  if (!s.ok()) return s;
  std::vector<uint64_t> logs;
  for (const std::string& name : names) {
    FileType type;
    uint64_t number = 0;
    if (!parse_file_name(name, &type, &number)) continue;
    versions_->mark_file_number_used(number);
    if (type == FileType::kLog && number >= versions_->log_number()) logs.push_back(number);
  }
  std::sort(logs.begin(), logs.end());
  // The writer deletes a log only once its MANIFEST has moved past it, but a
  // secondary reads the two at different times: a log gone since the
  // MANIFEST was read (not necessarily the first: the writer removes retired
  // logs in no particular order) took writes with it that only a newer
  // MANIFEST has. No log the MANIFEST still needs goes without an edit
  // first, so an unchanged MANIFEST means every one was listed; one removed
  // after the listing fails its open, and the attempt is made again.
  if (secondary_) {
    if (manifest_mark() != manifest_before) {
      return Status::IOError(current_file_name(dbname_) +
                             ": the writer changed the MANIFEST while the DB was being read");
    }
    if (versions_->log_number() != 0 && (logs.empty() || logs.front() != versions_->log_number()) &&
        requested_recovery_mode_ != WalRecoveryMode::kSkipAnyCorruptedRecords) {
      return Status::IOError(log_file_name(dbname_, versions_->log_number()) +
                             ": removed by the writer while the DB was being read");
    }
  }
  SequenceNumber max_sequence = versions_->last_sequence();
  VersionEdit edit;
  RecoveryInfo info;
  info.dropped_tail = versions_->recovered_manifest_tail();
  if (secondary_) {
    // The logs the MANIFEST retired are in its tables now.
    std::erase_if(replayed_logs_,
                  [&](const ReplayedLog& r) { return r.number < versions_->log_number(); });
  }
  size_t logs_replayed = 0;
  for (size_t i = 0; i < logs.size(); ++i) {
    bool stop_here = false;
    std::optional<wal::DroppedRange> torn_tail;
    bool damaged = false;
    ReplayedLog* replayed = nullptr;
    if (secondary_) {
      auto it = std::find_if(replayed_logs_.begin(), replayed_logs_.end(),
                             [&](const ReplayedLog& r) { return r.number >= logs[i]; });
      if (it == replayed_logs_.end() || it->number != logs[i]) {
        it = replayed_logs_.insert(it, ReplayedLog{});
        it->number = logs[i];
      } else if (!it->resumable ||
                 (it->open != nullptr &&
                  (it->open->is_sealed() || it->open->entry_count() != it->open_entries))) {
        *it = ReplayedLog{};  // replayed again from the start, into memtables of its own
        it->number = logs[i];
      }
      replayed = &*it;
      replayed->resumable = false;
    }
    s = replay_log(logs[i], &max_sequence, &edit, &info, &stop_here, &torn_tail, &damaged,
                   replayed);
    // Its records replayed before, if the replay went on from them.
    if (replayed != nullptr) max_sequence = std::max(max_sequence, replayed->max_sequence);
    logs_replayed = i + 1;
    if (damaged && options_.wal_recovery_mode == WalRecoveryMode::kTolerateCorruptedTail) {
      // Valid records follow the damage, in a log written before sync marks
      // existed. In the last log that can also be a power cut's doing (the
      // disk kept a later unsynced page and lost an earlier one), which such
      // a log cannot tell: say what recovers.
      bool later_records = false;
      if (any_log_holds_records(std::span<const uint64_t>(logs).subspan(i + 1), &later_records)
              .ok() &&
          !later_records) {
        return Status::Corruption(
            s.message() +
            " (valid records follow it; if the machine lost power, the end of the log may "
            "have reached the disk out of order: wal_recovery_mode kPointInTime recovers "
            "every write before the damage)");
      }
    }
    if (!s.ok()) return s;
    ++info.logs_replayed;
    // A torn write is crash debris only at the end of the last log that
    // holds records: a log is synced before the next one is created, so
    // damage at its end with records in a later log is lost data, and
    // replaying the later logs would recover writes without earlier ones.
    // (A crash during recovery leaves a torn log followed by an empty one.)
    if (torn_tail && !stop_here && i + 1 < logs.size() &&
        options_.wal_recovery_mode != WalRecoveryMode::kSkipAnyCorruptedRecords) {
      bool later_records = false;
      s = any_log_holds_records(std::span<const uint64_t>(logs).subspan(i + 1), &later_records);
      if (!s.ok()) return s;
      if (later_records) {
        if (options_.wal_recovery_mode != WalRecoveryMode::kPointInTime) {
          return Status::Corruption(
              log_file_name(dbname_, logs[i]) + ": offset " + std::to_string(torn_tail->offset) +
              ": " + torn_tail->reason +
              ", and a later log holds records: this log was complete once (it was synced "
              "before the next one began), so its end is damaged, not a torn write "
              "(wal_recovery_mode kPointInTime recovers up to the damage)");
        }
        stop_here = true;
        info.stopped_at_damage = true;
      }
    }
    if (stop_here) {
      // The recovered state is a prefix of the writes: the logs after the
      // damage are not replayed, and go once the MANIFEST moves past them.
      for (size_t later = i + 1; later < logs.size(); ++later) {
        uint64_t bytes = 0;
        if (fs_->get_file_size(log_file_name(dbname_, logs[later]), &bytes).ok()) {
          info.bytes_dropped += bytes;
        }
        ++info.logs_dropped;
      }
      break;
    }
  }
  info.tables_written = edit.new_files().size();
  info.last_sequence = max_sequence;
  versions_->set_last_sequence(max_sequence);

  if (read_only_) {
    // The replayed writes stay in the sealed memtables replay_log() left;
    // no log is made and the MANIFEST is not touched.
    if (secondary_) {
      // Logs after the one where the replay stopped are not in this state.
      std::erase_if(replayed_logs_, [&](const ReplayedLog& r) {
        return !std::binary_search(logs.begin(),
                                   logs.begin() + static_cast<ptrdiff_t>(logs_replayed), r.number);
      });
      s = install_replayed_logs(max_sequence);
      if (!s.ok()) return s;
    }
    publisher_.reset(max_sequence);
    {
      std::lock_guard<std::mutex> guard(mu_);
      if (mem_.list == nullptr) mem_.list = new_memtable();
      install_read_view();
    }
    if (options_.listener) options_.listener->on_recovery(info);
    return Status::OK();
  }

  uint64_t log_number = 0;
  s = new_log_file(&log_number, &log_);
  if (!s.ok()) return s;
  edit.set_log_number(log_number);
  s = versions_->log_and_apply(&edit);
  {
    std::lock_guard<std::mutex> guard(mu_);
    pending_outputs_.clear();  // the recovered tables are in the MANIFEST now (or failed)
  }
  if (!s.ok()) return s;

  // No writer runs yet; track_last_sequence() happens-before any use.
  publisher_.reset(max_sequence);
  versions_->track_last_sequence(publisher_.allocated_counter());
  {
    std::lock_guard<std::mutex> guard(mu_);
    mem_.list = new_memtable();
    mem_.log_number = log_number;
    install_read_view();
  }
  delete_obsolete_files(/*at_open=*/true);
  if (options_.listener) options_.listener->on_recovery(info);
  return Status::OK();
}

Status DBImpl::install_replayed_logs(SequenceNumber max_sequence) {
  std::lock_guard<std::mutex> guard(mu_);
  for (size_t i = 0; i < replayed_logs_.size(); ++i) {
    ReplayedLog& log = replayed_logs_[i];
    const bool last = i + 1 == replayed_logs_.size();
    if (!last && log.open != nullptr) {
      // The writer has gone on to a later log: this one's last memtable is
      // full as far as it goes. (Earlier states still read it as it is.)
      if (log.open->entry_count() != 0) {
        auto sealed = log.open->seal();
        if (!sealed) return Status::Corruption(dbname_ + ": a replayed memtable was sealed twice");
        log.frozen.push_back(std::move(sealed->first));
      }
      log.open.reset();
    }
    for (const auto& frozen : log.frozen) {
      Memtable replayed;
      replayed.frozen = frozen;
      replayed.log_number = log.number;
      sealed_.push_back(std::move(replayed));
    }
    if (last) {
      // The writer may still be adding to this log: the next state adds
      // what follows to the same memtable, above this state's sequence.
      if (log.open == nullptr) {
        log.open = new_memtable();
        log.open_entries = 0;
      }
      log.open_read_through = std::max(log.open_read_through, max_sequence);
      mem_.list = log.open;
      mem_.log_number = log.number;
    }
  }
  return Status::OK();
}

std::string DBImpl::manifest_mark() const {
  std::string current;
  if (!read_file_to_string(*fs_, current_file_name(dbname_), &current).ok()) return "?";
  while (!current.empty() && current.back() == '\n') current.pop_back();
  uint64_t bytes = 0;
  if (!fs_->get_file_size(dbname_ + "/" + current, &bytes).ok()) return current + " ?";
  return current + " " + std::to_string(bytes);
}

namespace {
// Whether two versions' entries of a table number describe the same table.
// A DB destroyed and made again at the same path numbers its tables the
// same way; a table of the same number but another size, key range,
// sequences or count is another table.
bool same_table(const FileMetaData& a, const FileMetaData& b) {
  return a.number == b.number && a.file_size == b.file_size && a.smallest == b.smallest &&
         a.largest == b.largest && a.smallest_seq == b.smallest_seq &&
         a.largest_seq == b.largest_seq && a.entries == b.entries;
}
}  // namespace

Status DBImpl::open_live_tables() {
  const std::shared_ptr<const Version> version = versions_->current();
  // Each donor's tables by number, as its own version describes them.
  std::array<std::unordered_map<uint64_t, FileRef>, 2> donor_files;
  for (size_t d = 0; d < donors_.size(); ++d) {
    if (donors_[d] == nullptr) continue;
    const std::shared_ptr<const Version> donor_version = donors_[d]->versions_->current();
    for (int level = 0; level < kNumLevels; ++level) {
      for (const FileRef& f : donor_version->files(level)) donor_files[d].emplace(f->number, f);
    }
  }
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : version->files(level)) {
      std::shared_ptr<const TableReader> reader;
      for (size_t d = 0; d < donors_.size() && reader == nullptr; ++d) {
        if (donors_[d] == nullptr) continue;
        const auto it = donor_files[d].find(f->number);
        if (it != donor_files[d].end() && same_table(*it->second, *f)) {
          reader = donors_[d]->table_cache_->find(f->number);
        }
      }
      if (reader != nullptr) {
        table_cache_->adopt(f->number, reader);
        continue;
      }
      Status s = table_cache_->get_reader(f->number, &reader);
      if (!s.ok()) return s;
    }
  }
  return Status::OK();
}

Status DBImpl::any_log_holds_records(std::span<const uint64_t> log_numbers, bool* holds) {
  *holds = false;
  for (const uint64_t number : log_numbers) {
    std::unique_ptr<wal::LogReader> reader;
    Status s = wal::LogReader::open(*fs_, log_file_name(dbname_, number), number,
                                    options_.wal_recovery_mode, &reader);
    if (!s.ok()) return s;
    reader->set_live(secondary_);
    std::string_view record;
    if (reader->read_record(&record)) {
      *holds = true;
      return Status::OK();
    }
  }
  return Status::OK();
}

Status DBImpl::replay_log(uint64_t log_number, SequenceNumber* max_sequence, VersionEdit* edit,
                          RecoveryInfo* info, bool* stop_here,
                          std::optional<wal::DroppedRange>* torn_tail, bool* damaged,
                          ReplayedLog* replayed) {
  *stop_here = false;
  *damaged = false;
  torn_tail->reset();
  const std::string path = log_file_name(dbname_, log_number);
  std::unique_ptr<wal::LogReader> reader;
  Status s = wal::LogReader::open(*fs_, path, log_number, options_.wal_recovery_mode, &reader);
  if (!s.ok()) return s;
  reader->set_live(secondary_);
  std::shared_ptr<ConcurrentSkipList> mem;
  // A memtable an earlier state reads (see ReplayedLog): records are added
  // to it only above every sequence those states read at.
  bool shared_mem = false;
  if (replayed != nullptr && replayed->position.offset != 0) {
    // The record the last replay ended with, read again: the same bytes
    // there say this is the log it read. A DB destroyed and made again at
    // the same path numbers its logs the same way; another log is replayed
    // from its start, into memtables of its own.
    reader->resume_at(replayed->last_record_start);
    std::string_view last;
    if (!reader->read_record(&last) || checksum64(last) != replayed->last_record_checksum ||
        reader->position().offset != replayed->position.offset) {
      *replayed = ReplayedLog{};
      replayed->number = log_number;
      s = wal::LogReader::open(*fs_, path, log_number, options_.wal_recovery_mode, &reader);
      if (!s.ok()) return s;
      reader->set_live(secondary_);
    }
  }
  if (replayed != nullptr) {
    mem = std::move(replayed->open);
    shared_mem = mem != nullptr;
  }
  auto flush_mem = [&]() -> Status {
    if (mem == nullptr || mem->entry_count() == 0) return Status::OK();
    auto sealed = mem->seal();
    mem.reset();
    if (!sealed) return Status::Corruption("memtable sealed twice during recovery");
    if (replayed != nullptr) {
      replayed->frozen.push_back(std::move(sealed->first));
      replayed->open_entries = 0;
      return Status::OK();
    }
    if (read_only_) {
      // Kept in memory, oldest first, as the sealed memtables of a DB open
      // for writing are (no thread flushes them here).
      Memtable kept;
      kept.frozen = std::move(sealed->first);
      kept.log_number = log_number;
      std::lock_guard<std::mutex> guard(mu_);
      sealed_.push_back(std::move(kept));
      return Status::OK();
    }
    FileMetaData meta;
    Status fs = write_level0_table(*sealed->first, &meta);
    if (fs.ok() && meta.number != 0) edit->add_file(0, meta);
    return fs;
  };
  std::string_view record;
  for (;;) {
    const wal::LogPosition record_start = reader->position();
    if (!reader->read_record(&record)) break;
    wal::DecodedWriteBatch batch;
    s = wal::decode_write_batch(record, &batch);
    if (!s.ok()) {
      return s.with_context(path + ": record at offset " +
                            std::to_string(reader->last_record_offset()));
    }
    if (shared_mem) {
      shared_mem = false;
      // The writer logs in sequence order, so this record is above the
      // ones replayed before; but an earlier state may read at a higher
      // sequence (its MANIFEST counted sequences handed out to writes not
      // logged yet). Those states must not see it: a memtable of its own.
      if (batch.base_sequence <= std::max(replayed->open_read_through, replayed->max_sequence)) {
        s = flush_mem();
        if (!s.ok()) return s;
        mem = nullptr;  // flush_mem() keeps an empty one
      }
    }
    if (mem == nullptr) mem = new_memtable();
    ++info->records_replayed;
    SequenceNumber seq = batch.base_sequence;
    for (const wal::WriteBatchEntry& e : batch.entries) {
      const InsertResult r = mem->add(e.key, e.value, e.kind, seq);
      if (r == InsertResult::kOutOfMemory) {
        // Not the log's fault: the record is fine, the process ran short.
        return Status::IOError(path + ": out of memory replaying the record at offset " +
                               std::to_string(reader->last_record_offset()));
      }
      if (r == InsertResult::kDuplicateKey) {
        // Each log is replayed into memtables of its own, and no two writes
        // share a sequence: an earlier record of this log already gave this
        // key this sequence, with a value that may differ. Not dropped.
        return Status::Corruption(path + ": record at offset " +
                                  std::to_string(reader->last_record_offset()) + ": sequence " +
                                  std::to_string(seq) +
                                  " of its key was already given by an earlier record");
      }
      if (r != InsertResult::kOk) {
        return Status::Corruption(path + ": cannot replay record at offset " +
                                  std::to_string(reader->last_record_offset()));
      }
      *max_sequence = std::max(*max_sequence, seq);
      ++seq;
    }
    if (replayed != nullptr) {
      replayed->position = reader->position();
      replayed->last_record_start = record_start;
      replayed->last_record_checksum = checksum64(record);
      if (!batch.entries.empty()) {
        replayed->max_sequence = std::max(replayed->max_sequence, seq - 1);
      }
      replayed->open_entries = mem->entry_count();
    }
    if (mem->memory_usage() >= options_.memtable_bytes) {
      s = flush_mem();
      if (!s.ok()) return s;
    }
  }
  if (!reader->status().ok()) {
    // The reader's only Corruption: damage it refused, with valid records after it.
    if (reader->status().is_corruption() &&
        options_.wal_recovery_mode == WalRecoveryMode::kTolerateCorruptedTail) {
      if (reader->report().has_sync_marks) {
        // The log's sync marks say a sync had covered the damage: neither a
        // crash nor a power cut leaves that (unsynced damage is dropped as a tail).
        return Status::Corruption(
            reader->status().message() +
            ": synced data was damaged afterwards (the disk or the file system); "
            "wal_recovery_mode kPointInTime recovers every write before the damage");
      }
      *damaged = true;  // a log without sync marks (format version 1)
    }
    return reader->status();
  }
  const wal::LogReadReport& report = reader->report();
  // Fragments of another log number from the very start: the file was renamed
  // or copied (fsdb never reuses a log file), and its records, written for
  // that number, are not this log's to replay or to drop.
  if (report.records == 0 && report.tail_kind == wal::LogTailKind::kStale &&
      report.tail.offset == 0 &&
      options_.wal_recovery_mode != WalRecoveryMode::kSkipAnyCorruptedRecords) {
    return Status::Corruption(path + ": offset 0: " + report.tail.reason +
                              ": the file was renamed or copied from another log number, and "
                              "is read only under the number it was written for");
  }
  // Zero-filled space holds no data (a log's reserved space, or blocks the
  // file system allocated but never wrote before a crash): nothing dropped.
  if (report.tail_kind != wal::LogTailKind::kNone &&
      report.tail_kind != wal::LogTailKind::kZeroFilled) {
    info->bytes_dropped += report.tail.bytes;
  }
  for (const wal::DroppedRange& r : report.skipped) info->bytes_dropped += r.bytes;
  // Point in time: the replay stopped at damage with records after it; later
  // logs would be after the damage too.
  *stop_here = report.tail_kind == wal::LogTailKind::kCorruption;
  // An unsynced tail (damage, then valid records no sync covered) is a torn
  // end too: what a power cut leaves when pages reach the disk out of order.
  if (report.tail_kind == wal::LogTailKind::kTorn ||
      report.tail_kind == wal::LogTailKind::kUnsynced) {
    *torn_tail = report.tail;
  }
  if (report.tail_kind == wal::LogTailKind::kCorruption) info->stopped_at_damage = true;
  if (report.tail_kind == wal::LogTailKind::kTorn ||
      report.tail_kind == wal::LogTailKind::kUnsynced ||
      report.tail_kind == wal::LogTailKind::kCorruption) {
    if (!info->dropped_tail.empty()) info->dropped_tail += "; ";
    info->dropped_tail += path + ": offset " + std::to_string(report.tail.offset) + ": " +
                          std::to_string(report.tail.bytes) + " bytes: " + report.tail.reason;
  }
  if (replayed != nullptr) {
    // The last memtable stays open for the next state (install_replayed_logs()).
    replayed->open = std::move(mem);
    replayed->resumable =
        report.skipped.empty() && (report.tail_kind == wal::LogTailKind::kNone ||
                                   report.tail_kind == wal::LogTailKind::kZeroFilled ||
                                   report.tail_kind == wal::LogTailKind::kTorn);
    return Status::OK();
  }
  return flush_mem();
}

// ---------------------------------------------------------------- writes

namespace {
// A put() or remove() of one key reuses its thread's batch, so that the
// common single-key write allocates nothing. A listener that writes from
// inside a write (on_memtable_sealed runs after it, but stays safe either way)
// gets a batch of its own.
struct ThreadBatch {
  WriteBatch batch;
  bool in_use = false;
};
thread_local ThreadBatch thread_batch;
// The publisher slot this thread's last write used: its next write asks for
// it again, so that each writer keeps to a cache line of its own.
thread_local SequencePublisher::Ticket thread_publisher_slot = SequencePublisher::kNoHint;
}  // namespace

// Holds the thread's batch for one write, and gives it back however the
// write ends (an exception included).
class ThreadBatchUse {
 public:
  ThreadBatchUse() { thread_batch.in_use = true; }
  ~ThreadBatchUse() { thread_batch.in_use = false; }
  ThreadBatchUse(const ThreadBatchUse&) = delete;
  ThreadBatchUse& operator=(const ThreadBatchUse&) = delete;
};

namespace {
Status entry_too_large(const char* operation, size_t key_bytes, size_t value_bytes) {
  return Status::InvalidArgument(
      std::string(operation) + ": a key of " + std::to_string(key_bytes) +
      " bytes and a value of " + std::to_string(value_bytes) + " bytes pass the " +
      std::to_string(WriteBatch::kMaxEntryBytes) + " bytes one write may hold");
}

bool entry_fits(size_t key_bytes, size_t value_bytes) {
  return key_bytes <= WriteBatch::kMaxEntryBytes &&
         value_bytes <= WriteBatch::kMaxEntryBytes - key_bytes;
}
}  // namespace

Status DBImpl::put(const WriteOptions& options, std::string_view key, std::string_view value) {
  if (Status s = refuse_if_read_only("put"); !s.ok()) return s;
  // Before the batch copies them.
  if (!entry_fits(key.size(), value.size()))
    return entry_too_large("put", key.size(), value.size());
  if (thread_batch.in_use) {
    WriteBatch batch;
    batch.put(key, value);
    return write(options, &batch);
  }
  ThreadBatchUse use;
  thread_batch.batch.clear();
  thread_batch.batch.put(key, value);
  return write(options, &thread_batch.batch);
}

Status DBImpl::remove(const WriteOptions& options, std::string_view key) {
  if (Status s = refuse_if_read_only("remove"); !s.ok()) return s;
  if (!entry_fits(key.size(), 0)) return entry_too_large("remove", key.size(), 0);
  if (thread_batch.in_use) {
    WriteBatch batch;
    batch.remove(key);
    return write(options, &batch);
  }
  ThreadBatchUse use;
  thread_batch.batch.clear();
  thread_batch.batch.remove(key);
  return write(options, &thread_batch.batch);
}

Status DBImpl::write(const WriteOptions& options, WriteBatch* batch) {
  if (Status s = refuse_if_read_only("write"); !s.ok()) return s;
  if (batch == nullptr) return Status::InvalidArgument("write: batch is null");
  if (batch->count() == 0) return Status::OK();
  // No entry can pass the limit unless the whole batch does.
  if (batch->approximate_size() > WriteBatch::kMaxEntryBytes) {
    Status too_large;
    SequenceNumber base = 0;
    Status s = wal::for_each_write_batch_entry(
        batch->rep().encoded(), &base, [&](const wal::WriteBatchEntry& e) {
          if (too_large.ok() && !entry_fits(e.key.size(), e.value.size())) {
            too_large = entry_too_large("write", e.key.size(), e.value.size());
          }
        });
    if (!s.ok()) return s;
    if (!too_large.ok()) return too_large;
  }
  Writer w;
  w.batch = batch;
  w.disable_wal = options.disable_wal;
  w.ticket = thread_publisher_slot;
  // An exception (std::bad_alloc in the log or the memtable) must not leave
  // the range open: readers and rotations would wait for it forever.
  struct AbandonOnUnwind {
    DBImpl* db;
    Writer* writer;
    ~AbandonOnUnwind() {
      if (writer->range_open) db->abandon_range(*writer);
    }
  } abandon_on_unwind{this, &w};
  Status s;
  // A synced write goes through the queue, where writers share an fdatasync.
  const DirectWrite direct =
      options.sync && !options.disable_wal ? DirectWrite::kQueue : begin_direct_write(w, &s);
  if (direct == DirectWrite::kFailed) return s;
  if (direct == DirectWrite::kQueue) {
    wal::GroupCommit::Request request;
    request.context = &w;
    request.bytes = batch->approximate_size();
    request.sync = options.sync && !options.disable_wal;
    s = group_commit_.submit(&request,
                             [this](wal::GroupCommit::Group group) { return lead(group); });
  }
  if (s.ok()) {
    s = apply_to_memtable(w);
    // A get() after this write returns must find it, and a snapshot taken
    // after it must hold it: readers wait until every acknowledged write is
    // visible (read_sequence()), so the writer need not wait for lower
    // ranges of other writers still being inserted.
    publisher_.finish(w.ticket, /*acknowledged=*/s.ok());
    w.range_open = false;
    thread_publisher_slot = w.ticket;
  }
  report_sealed_event(w);
  return s;
}

DBImpl::DirectWrite DBImpl::begin_direct_write(Writer& w, Status* status) {
  wal::WriteBatchBuilder& rep = w.batch->rep();
  {
    std::lock_guard<SpinMutex> guard(sequence_mu_);
    // The same conditions as a leader's fast path (relaxed loads: hints, and
    // a write that misses a change just made goes through the queue next
    // time). mem_.list and log_ are switched only by a leader that set
    // direct_writes_blocked_ first, so reading them here races with nothing.
    const SequenceNumber allocated = publisher_.allocated();
    if (direct_writes_blocked_ || writes_need_attention_.load(std::memory_order_relaxed) ||
        level0_files_.load(std::memory_order_relaxed) >=
            static_cast<size_t>(options_.l0_slowdown_writes_trigger) ||
        memtable_full(*mem_.list) || allocated + rep.count() > kMaxSequenceNumber) {
      return DirectWrite::kQueue;
    }
    // The record is appended under the lock, right after its sequence is
    // taken, so the log holds records in sequence order whoever wrote them:
    // recovery replays a prefix of the sequence. Only a copy into a mapping
    // is cheap enough for that (a write(2) would keep the others spinning).
    if (!w.disable_wal && (leader_owns_log_ || !log_->appends_are_memory_copies())) {
      return DirectWrite::kQueue;
    }
    w.memtable = mem_.list.get();
    w.first_sequence = allocated + 1;
    rep.set_base_sequence(w.first_sequence);
    // Begun before the lock is released: ranges reach the publisher in
    // sequence order, and a rotation waiting for the publisher to drain
    // waits for this write too.
    w.ticket = publisher_.begin(w.first_sequence, allocated + rep.count(), w.ticket);
    w.range_open = true;
    if (!w.disable_wal) {
      const std::string_view record = rep.encoded();
      try {
        *status = log_->add_records(std::span<const std::string_view>(&record, 1), /*sync=*/false);
      } catch (...) {
        // The log refuses every later record (LogWriter failed itself); the
        // flag, set before the lock is released, sends later writes to a
        // leader, which finds that. write() records the error on the way out.
        writes_need_attention_.store(true, std::memory_order_relaxed);  // relaxed: a hint
        throw;
      }
      if (!status->ok()) {
        // The log may end in a partial record: every later write goes to a
        // leader, which sees the error (recorded below) and refuses.
        // Relaxed: a hint, as everywhere; mu_ orders the error itself.
        writes_need_attention_.store(true, std::memory_order_relaxed);
      }
    }
  }
  if (const DirectWriteHook hook = direct_write_hook.load(std::memory_order_relaxed)) hook();
  if (!status->ok()) {
    // Recorded before the range ends: resume() waits for ranges in flight to
    // end, and must then find every error they met. (mu_ is taken with the
    // range open, as note_unlogged_write() does: nothing waits for the
    // publisher under mu_.)
    {
      std::lock_guard<std::mutex> guard(mu_);
      record_background_error(*status, ErrorSource::kLog);
    }
    // Nothing is inserted: the range ends here, empty, as a failed group's do.
    publisher_.finish(w.ticket, /*acknowledged=*/false);
    w.range_open = false;
    return DirectWrite::kFailed;
  }
  if (w.disable_wal) {
    // The memtable cannot be sealed before this write's range finishes.
    note_unlogged_write();
  } else {
    stats_.writes.add(kWalBytes, rep.encoded_bytes());
  }
  stats_.writes.add(kUserWrites, 1);
  stats_.writes.add(kUserBytes, rep.encoded_bytes());
  return DirectWrite::kBegun;
}

void DBImpl::abandon_range(Writer& w) noexcept {
  // The error first: once the range ends, nothing else holds later writes
  // back. Whatever of the batch reached the memtable is then visible, the
  // rest is not; reopening replays the log.
  record_write_exception();
  publisher_.finish(w.ticket, /*acknowledged=*/false);
  w.range_open = false;
}

void DBImpl::record_write_exception() noexcept {
  // The log or the memtable may have stopped inside a write: the DB takes no
  // more writes (record_background_error() also sets writes_need_attention_;
  // leader_owns_log_ may be left set, which only sends writes to a leader).
  try {
    std::lock_guard<std::mutex> guard(mu_);
    record_background_error(Status::IOError(
        dbname_ + ": a write was abandoned by an exception; the DB takes no more writes"));
  } catch (...) {
    // Out of memory even for the message. A message this short allocates
    // nothing.
    std::lock_guard<std::mutex> guard(mu_);
    record_background_error(Status::IOError("out of memory"));
  }
}

void DBImpl::note_unlogged_write() {
  // Relaxed: a hint; mem_.unlogged is read and written under mu_. It is reset
  // (by a rotation) only while no write range is in flight, so a writer that
  // sees it set is writing into the memtable it describes.
  if (active_memtable_unlogged_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> guard(mu_);
  mem_.unlogged = true;
  active_memtable_unlogged_.store(true, std::memory_order_relaxed);
}

void DBImpl::report_sealed_event(const Writer& w) {
  if (w.sealed_event && options_.listener) options_.listener->on_memtable_sealed(*w.sealed_event);
}

Status DBImpl::apply_to_memtable(const Writer& w) {
  SequenceNumber seq = w.first_sequence;
  InsertResult refusal = InsertResult::kOk;
  SequenceNumber base = 0;
  // The batch was built through WriteBatch, so it is well formed; the visitor
  // still validates it as it goes.
  Status s = wal::for_each_write_batch_entry(
      w.batch->rep().encoded(), &base, [&](const wal::WriteBatchEntry& e) {
        if (refusal != InsertResult::kOk) return;
        refusal = w.memtable->add(e.key, e.value, e.kind, seq);
        if (refusal == InsertResult::kOk) ++seq;
      });
  if (s.ok() && refusal != InsertResult::kOk) {
    // The leader drained writers before sealing and set no limits, so only
    // memory running out (the arena's block limit, or the system's) gets here.
    s = refusal == InsertResult::kOutOfMemory
            ? Status::IOError(dbname_ + ": out of memory for the memtable at sequence " +
                              std::to_string(seq))
            : Status::Corruption(dbname_ + ": the memtable refused a write at sequence " +
                                 std::to_string(seq));
  }
  if (!s.ok()) {
    // The memtable no longer follows the log (part of the batch may be in
    // the memtable, all of it in the log), so the DB takes no more writes;
    // reopening replays the log. The write's outcome is then unknown to its
    // caller, as after any failed write.
    std::lock_guard<std::mutex> guard(mu_);
    record_background_error(s);
  }
  return s;
}

Status DBImpl::submit_control(bool rotate, bool sync, bool* rotate_refused) {
  Writer w;
  w.rotate = rotate;
  wal::GroupCommit::Request request;
  request.context = &w;
  request.sync = sync;
  Status s =
      group_commit_.submit(&request, [this](wal::GroupCommit::Group group) { return lead(group); });
  report_sealed_event(w);
  if (rotate_refused != nullptr) *rotate_refused = s.ok() && !w.rotate_error.ok();
  if (s.ok() && !w.rotate_error.ok()) return w.rotate_error;
  return s;
}

Status DBImpl::lead(wal::GroupCommit::Group group) {
  try {
    return lead_write_group(group);
  } catch (...) {
    // Recorded before the queue hands the log to the next leader, which must
    // find the error: the log may end inside this group's records.
    record_write_exception();
    throw;
  }
}

Status DBImpl::lead_write_group(wal::GroupCommit::Group group) {
  bool rotate = false;
  bool resume = false;
  for (wal::GroupCommit::Request* r : group) {
    rotate |= static_cast<Writer*>(r->context)->rotate;
    resume |= static_cast<Writer*>(r->context)->resume;
  }
  // The common group needs nothing from mu_: no error, room in the memtable,
  // level 0 below the slowdown trigger. Relaxed loads: hints, re-checked
  // under mu_ whenever they say "look".
  bool fast = !rotate && !resume && !writes_need_attention_.load(std::memory_order_relaxed) &&
              level0_files_.load(std::memory_order_relaxed) <
                  static_cast<size_t>(options_.l0_slowdown_writes_trigger);
  // Read only once the flag said nothing needs attention: then only a leader
  // switches memtables, and leaders run one at a time. (close() switches it
  // too, to flush unlogged writes, but raised the flag first, which every
  // later leader sees through the queue's hand-over.)
  ConcurrentSkipList* memtable = nullptr;
  if (fast) {
    memtable = mem_.list.get();
    fast = !memtable_full(*memtable);
  }
  if (!fast) {
    // Direct writers go through the queue (and so wait behind this group)
    // while the memtable may be switched; those already begun are waited for
    // by the rotation.
    {
      std::lock_guard<SpinMutex> guard(sequence_mu_);
      direct_writes_blocked_ = true;
    }
    std::optional<MemtableSealedInfo> sealed_event;
    Status s;
    {
      // Unblocked however this ends: after an exception (a rotation that ran
      // out of memory) the error recorded by the caller keeps writes away.
      struct Unblock {
        DBImpl* db;
        ~Unblock() {
          std::lock_guard<SpinMutex> guard(db->sequence_mu_);
          db->direct_writes_blocked_ = false;
        }
      } unblock{this};
      std::unique_lock<std::mutex> lock(mu_);
      if (resume) s = resume_locked(lock);
      bool level0_blocked = false;
      if (s.ok()) s = make_room_for_write(lock, rotate, &level0_blocked);
      if (level0_blocked && rotate) {
        // Only the flush requests needed the memtable switched, which level 0
        // has no room for: they fail, and the group's writes go on if the
        // memtable has room for them.
        for (wal::GroupCommit::Request* r : group) {
          auto* w = static_cast<Writer*>(r->context);
          if (w->rotate) w->rotate_error = s;
        }
        s = make_room_for_write(lock, /*force=*/false);
      }
      sealed_event.swap(sealed_event_);
      memtable = mem_.list.get();
    }
    if (!s.ok()) return s;
    // Reported by the leader's own writer once its write is over (see write()):
    // a listener that writes to the DB must not do so from inside a group.
    static_cast<Writer*>(group.front()->context)->sealed_event = sealed_event;
  }

  bool sync = false;
  bool any_unlogged = false;
  uint64_t user_writes = 0;
  uint64_t user_bytes = 0;
  uint64_t group_entries = 0;
  group_records_.clear();
  for (wal::GroupCommit::Request* r : group) {
    auto* w = static_cast<Writer*>(r->context);
    sync = sync || r->sync;
    if (w->batch == nullptr) continue;
    w->memtable = memtable;
    group_entries += w->batch->count();
    ++user_writes;
    user_bytes += w->batch->rep().encoded_bytes();
    if (w->disable_wal) {
      any_unlogged = true;
    } else {
      group_records_.push_back(w->batch->rep().encoded());
    }
  }
  const bool uses_log = !group_records_.empty() || sync;
  if (user_writes > 0 || uses_log) {
    // The group's ranges are taken and begun before the WAL write (their
    // sequences are part of the records), so a direct writer that comes
    // later takes sequences after them and is not visible before them. From
    // here until the log is done with, direct writers leave it to this
    // leader: their records would land in front of the group's, out of
    // sequence order, and the log writer is not shared.
    std::lock_guard<SpinMutex> guard(sequence_mu_);
    if (uses_log) leader_owns_log_ = true;
    const SequenceNumber allocated = publisher_.allocated();
    if (allocated + group_entries > kMaxSequenceNumber) {
      leader_owns_log_ = false;
      return Status::NotSupported("sequence numbers exhausted");
    }
    SequenceNumber next = allocated + 1;
    for (wal::GroupCommit::Request* r : group) {
      auto* w = static_cast<Writer*>(r->context);
      if (w->batch == nullptr) continue;
      w->first_sequence = next;
      w->batch->rep().set_base_sequence(next);
      next += w->batch->count();
      w->ticket = publisher_.begin(w->first_sequence, next - 1, w->ticket);
      w->range_open = true;
    }
  }

  if (uses_log) {
    Status s = group_records_.empty() ? log_->sync() : log_->add_records(group_records_, sync);
    {
      std::lock_guard<SpinMutex> guard(sequence_mu_);
      leader_owns_log_ = false;
    }
    if (!s.ok()) {
      // The log may end in a partial record: no later write may follow it.
      {
        std::lock_guard<std::mutex> guard(mu_);
        record_background_error(s, ErrorSource::kLog);
      }
      // The members see the error and insert nothing: their ranges end here,
      // empty (readers never see a sequence that nothing was written at).
      for (wal::GroupCommit::Request* r : group) {
        auto* w = static_cast<Writer*>(r->context);
        if (w->range_open) {
          publisher_.finish(w->ticket, /*acknowledged=*/false);
          w->range_open = false;
        }
      }
      return s;
    }
    uint64_t wal_bytes = 0;
    for (std::string_view r : group_records_) wal_bytes += r.size();
    // Relaxed (all the statistics below): counters, read only for reporting.
    stats_.writes.add(kWalBytes, wal_bytes);
    if (sync) stats_.wal_syncs.fetch_add(1, std::memory_order_relaxed);
  }
  // The group's ranges are in flight, so `memtable` is still the active one.
  if (any_unlogged) note_unlogged_write();
  // Members publish their ranges one by one as they finish inserting.
  if (user_writes > 0) {
    stats_.writes.add(kUserWrites, user_writes);
    stats_.writes.add(kUserBytes, user_bytes);
  }
  return Status::OK();
}

bool DBImpl::memtable_full(const ConcurrentSkipList& mem) const {
  // The approximate figure: this runs before every write, and the exact one
  // would pull every other writer's hot cache line over each time.
  return mem.approximate_memory_usage() >= options_.memtable_bytes ||
         (options_.memtable_max_entries > 0 && mem.entry_count() >= options_.memtable_max_entries);
}

Status DBImpl::make_room_for_write(std::unique_lock<std::mutex>& lock, bool force,
                                   bool* level0_blocked) {
  if (level0_blocked != nullptr) *level0_blocked = false;
  bool stalled = false;
  bool delayed = false;
  uint64_t stall_start = 0;
  Status s;
  while (true) {
    if (!bg_error_.ok()) {
      // Said with every refused write, so that one seen alone explains itself.
      std::string advice = "reopen it once the cause is gone";
      if (bg_error_resumable_) {
        advice = options_.max_background_error_resumes > 0 && !bg_error_retries_over_
                     ? "it retries resume() every " +
                           std::to_string(options_.background_error_resume_interval_ms) +
                           " ms; or resume() or reopen it once the cause is gone"
                     : "resume() or reopen it once the cause is gone";
      }
      s = bg_error_.with_context(
          dbname_ + ": the DB takes no more writes since a background error (" + advice + ")");
      break;
    }
    if (shutting_down_) {
      s = Status::IOError(dbname_ + ": the DB is closing");
      break;
    }
    const size_t l0_files = versions_->current()->file_count(0);
    if (!delayed && l0_files >= static_cast<size_t>(options_.l0_slowdown_writes_trigger) &&
        l0_files < static_cast<size_t>(options_.l0_stop_writes_trigger)) {
      // Level 0 is filling faster than compaction drains it: give compaction
      // 1 ms of this write group's time now rather than stopping writes later.
      delayed = true;
      const uint64_t start = now_micros();
      lock.unlock();
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      lock.lock();
      stats_.delays.fetch_add(1, std::memory_order_relaxed);
      stats_.delay_micros.fetch_add(now_micros() - start, std::memory_order_relaxed);
      continue;
    }
    const bool full = memtable_full(*mem_.list) || (force && mem_.list->entry_count() > 0);
    if (!full) break;
    const bool level0_full = l0_files >= static_cast<size_t>(options_.l0_stop_writes_trigger);
    if (level0_full && !compaction_error_.ok() && compactions_running_ == 0 &&
        !manual_compaction_ && !pick_background_compaction(std::chrono::steady_clock::now())) {
      // Only a compaction can make room, none runs, and the one that would
      // waits out its back-off after failing: the write fails too rather than
      // wait for a disk that may never come back. (A compaction that runs or
      // can start is waited for, as in any stall.)
      if (level0_blocked != nullptr) *level0_blocked = true;
      const auto retry_in = std::chrono::duration_cast<std::chrono::milliseconds>(
          compaction_retry_at_ - std::chrono::steady_clock::now());
      s = compaction_error_.with_context(
          dbname_ + ": level 0 is full (" + std::to_string(l0_files) +
          " files, l0_stop_writes_trigger " + std::to_string(options_.l0_stop_writes_trigger) +
          ") and compaction fails (" + std::to_string(compaction_failures_in_a_row_) +
          " in a row; the next try in " + std::to_string(std::max<int64_t>(retry_in.count(), 0)) +
          " ms): writes are taken again once a compaction makes room");
      break;
    }
    if (sealed_.size() >= options_.max_sealed_memtables || level0_full) {
      // Too many memtables wait for flush, or level 0 is full: wait for the
      // background threads, never fail.
      if (!stalled) {
        stalled = true;
        stall_start = now_micros();
        stats_.stalls.fetch_add(1, std::memory_order_relaxed);
        write_waiting_for_room_ = true;
        bg_cv_.notify_all();  // the event thread: the write stall condition changed
      }
      bg_cv_.wait(lock);
      continue;
    }
    s = rotate_memtable(lock);
    break;
  }
  if (stalled) {
    stats_.stall_micros.fetch_add(now_micros() - stall_start, std::memory_order_relaxed);
    write_waiting_for_room_ = false;
    bg_cv_.notify_all();
  }
  return s;
}

Status DBImpl::rotate_memtable(std::unique_lock<std::mutex>& lock) {
  // Writers of earlier groups may still be inserting into the active memtable;
  // it is sealed only once they are done, so nothing lands in it afterwards.
  lock.unlock();
  publisher_.wait_until_drained();
  // The old WAL is synced so that a later synced write in the new WAL can never
  // be durable while an earlier write in the old one is not. Closed right
  // after, before the new WAL takes a record: closing adds a sync mark and
  // syncs it (wal/log_writer.h), and a mark torn by a power cut at the end of
  // a log that a later log follows would read as damage.
  Status s = log_->sync();
  if (s.ok()) s = log_->close();
  std::unique_ptr<wal::LogWriter> new_log;
  uint64_t new_log_number = 0;
  if (s.ok()) s = new_log_file(&new_log_number, &new_log);
  lock.lock();
  if (!s.ok()) {
    record_background_error(s, ErrorSource::kLog);
    return s;
  }
  return switch_memtable(std::move(new_log), new_log_number);
}

Status DBImpl::switch_memtable(std::unique_ptr<wal::LogWriter> new_log, uint64_t new_log_number) {
  log_ = std::move(new_log);

  // The allocations that may throw (std::bad_alloc) come before the memtable
  // is sealed, so that an exception leaves the active memtable in place. The
  // flush thread reads sealed_ under mu_, held here: it never sees the
  // placeholder empty.
  auto fresh = new_memtable();
  sealed_.emplace_back();
  decltype(mem_.list->seal()) sealed;
  try {
    sealed = mem_.list->seal();
  } catch (...) {
    sealed_.pop_back();
    throw;
  }
  if (!sealed) {
    sealed_.pop_back();
    record_background_error(Status::Corruption("active memtable was already sealed"));
    return bg_error_;
  }
  if (options_.listener) {
    sealed_event_ = MemtableSealedInfo{sealed->first->memory_usage(), sealed->first->entry_count(),
                                       sealed_.size()};
  }
  Memtable& old = sealed_.back();
  old.frozen = sealed->first;
  old.log_number = mem_.log_number;
  old.unlogged = mem_.unlogged;
  mem_ = Memtable();
  // No write range is in flight (the caller drained them) and direct writers are held
  // off: nobody can be writing into the old memtable on the strength of it.
  active_memtable_unlogged_.store(false, std::memory_order_relaxed);
  mem_.list = std::move(fresh);
  mem_.log_number = new_log_number;
  stats_.rotations.fetch_add(1, std::memory_order_relaxed);
  install_read_view();
  bg_cv_.notify_all();
  return Status::OK();
}

void DBImpl::release_settled_outputs() {
  // A failed edit went, if anywhere, into the MANIFEST in use when it failed
  // or into one written in its place that CURRENT may name; every edit after
  // a failure starts a new MANIFEST from the whole current Version (see
  // VersionSet::log_and_apply). Once such a MANIFEST is in use, recovery
  // reads it and no other: tables only the failed edit named are garbage.
  const uint64_t manifest = versions_->manifest_file_number();
  for (auto it = uncertain_outputs_.begin(); it != uncertain_outputs_.end();) {
    if (manifest > it->second) {
      pending_outputs_.erase(it->first);
      it = uncertain_outputs_.erase(it);
    } else {
      ++it;
    }
  }
}

void DBImpl::record_background_error(const Status& s, ErrorSource source) {
  if (s.ok()) return;
  // Corruption does not go away by trying again: its data is damaged.
  const bool resumable = source != ErrorSource::kUnrecoverable && !s.is_corruption();
  // The first error is the one reported, unless a later one turns an error
  // resume() could clear into one it cannot: that one says why a reopen is
  // needed, and is reported in turn.
  if (bg_error_.ok() || (bg_error_resumable_ && !resumable)) {
    bg_error_ = s;
    bg_error_resumable_ = true;
    bg_error_retries_over_ = false;
    ++bg_error_count_;
  }
  if (!resumable) bg_error_resumable_ = false;
  if (source == ErrorSource::kLog) bg_error_in_log_ = true;
  // Relaxed: leaders that read it then take mu_, which orders the rest.
  if (!bg_error_.ok()) writes_need_attention_.store(true, std::memory_order_relaxed);
  bg_cv_.notify_all();
}

void DBImpl::record_compaction_failure(const Status& s, bool edit_tried, const Compaction& c) {
  // An edit that failed may be in the MANIFEST all the same, and corruption
  // does not go away by trying again: those stop writes.
  if (edit_tried || !s.is_io_error()) {
    record_background_error(s, ErrorSource::kBackgroundWork);
    return;
  }
  // Nothing changed: the outputs are gone, the inputs are where they were.
  // Trying again at once would most likely fail again (a full disk, a bad
  // sector) and take the disk from the flushes, so compactions pause for a
  // back-off that doubles with each failure in a row, from
  // background_error_resume_interval_ms to 32 times it.
  compaction_error_ = s;
  ++compaction_failures_in_a_row_;
  // Only these wait (with those of earlier failures still resting):
  // compactions of other files go on meanwhile.
  for (const auto& files : c.inputs) {
    for (const FileRef& f : files) resting_inputs_.insert(f->number);
  }
  constexpr uint32_t kMaxDoublings = 5;
  const uint64_t retry_in_ms = uint64_t{options_.background_error_resume_interval_ms}
                               << std::min(compaction_failures_in_a_row_ - 1, kMaxDoublings);
  compaction_retry_at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(retry_in_ms);
  stats_.compaction_failures.fetch_add(1, std::memory_order_relaxed);
  if (options_.listener) {
    report_completed(
        CompactionFailureInfo{s, c.level, c.manual, compaction_failures_in_a_row_, retry_in_ms});
  }
  // A writer waiting for level 0 to drain gives up on it now
  // (make_room_for_write()).
  bg_cv_.notify_all();
}

void DBImpl::record_compaction_success(const Compaction& c) {
  if (compaction_error_.ok()) return;
  // A success during the back-off, of other files, says nothing of the
  // failing work; one that took resting inputs, or came after the back-off
  // ran out (when the resting inputs could have been taken), does.
  bool took_resting = false;
  for (const auto& files : c.inputs) {
    for (const FileRef& f : files) {
      took_resting = took_resting || resting_inputs_.contains(f->number);
    }
  }
  if (took_resting || std::chrono::steady_clock::now() >= compaction_retry_at_) {
    clear_compaction_error();
  }
}

void DBImpl::clear_compaction_error() {
  compaction_error_ = Status::OK();
  compaction_failures_in_a_row_ = 0;
  resting_inputs_.clear();
}

Status DBImpl::resume() {
  if (Status s = refuse_if_read_only("resume"); !s.ok()) return s;
  {
    // Compactions failing on their own: their cause may be gone too, so the
    // back-off ends, and writes that need room wait for the next try rather
    // than fail. Before the write queue, where a write waiting for room could
    // hold this call.
    std::lock_guard<std::mutex> guard(mu_);
    if (!compaction_error_.ok()) {
      clear_compaction_error();
      bg_cv_.notify_all();
    }
  }
  // Led like a write: while the leader works, no other write reaches the log
  // or the memtable (writers queue behind it; direct writers are sent to the
  // queue).
  Writer w;
  w.resume = true;
  wal::GroupCommit::Request request;
  request.context = &w;
  Status s =
      group_commit_.submit(&request, [this](wal::GroupCommit::Group group) { return lead(group); });
  report_sealed_event(w);
  if (!s.ok()) return s;
  // The flush thread's pass over obsolete files (the old WAL, tables a failed
  // edit left) is waited for out here, as flush() does: the leader could not
  // wait for it, since a flush listener that writes runs before it.
  std::unique_lock<std::mutex> lock(mu_);
  bg_cv_.wait(lock, [this] { return !flush_running_ || !bg_error_.ok() || shutting_down_; });
  return Status::OK();
}

Status DBImpl::resume_locked(std::unique_lock<std::mutex>& lock) {
  if (bg_error_.ok()) return Status::OK();
  if (shutting_down_) return Status::IOError(dbname_ + ": the DB is closing");
  const auto refuse = [this] {
    return bg_error_.with_context(dbname_ +
                                  ": resume() cannot clear this background error (reopen the "
                                  "DB once the cause is gone)");
  };
  if (!bg_error_resumable_) return refuse();
  // Direct writes begun before the error finish first (the rotation's rule),
  // and one whose append failed records its error before its range ends: once
  // the publisher is drained, every error a write in flight met is known,
  // which decides both whether resume() may go on and whether the WAL is
  // among the damage.
  lock.unlock();
  publisher_.wait_until_drained();
  lock.lock();
  if (shutting_down_) return Status::IOError(dbname_ + ": the DB is closing");
  // A write in flight that failed inside the memtable (part of its batch
  // there, all of it in the WAL) must never reach a table through the
  // flushes below.
  if (!bg_error_resumable_) return refuse();
  if (bg_error_in_log_) {
    // The WAL may end inside a record, so nothing more is appended to it: its
    // memtable is sealed with it and flushed below, and a new WAL takes the
    // writes after resume(). The old WAL is closed without a sync (the error
    // may be the sync's): once the flushes below are in the MANIFEST, nothing
    // needs it; until then a crash replays it, damaged end included, as the
    // last log that holds records, since the new one stays empty. No write
    // can begin meanwhile: this thread leads the write queue and direct
    // writes are blocked.
    lock.unlock();
    (void)log_->close();
    std::unique_ptr<wal::LogWriter> new_log;
    uint64_t new_log_number = 0;
    Status s = new_log_file(&new_log_number, &new_log);
    lock.lock();
    if (!s.ok()) return s;                         // still stopped, still resumable
    if (shutting_down_ || !bg_error_resumable_) {  // the latter: a compaction's, meanwhile
      // Never used: removed, as new_log_file() removes one it could not make.
      new_log.reset();
      (void)fs_->remove_file(log_file_name(dbname_, new_log_number));
      return shutting_down_ ? Status::IOError(dbname_ + ": the DB is closing") : refuse();
    }
    s = switch_memtable(std::move(new_log), new_log_number);
    if (!s.ok()) return s;
    bg_error_in_log_ = false;
  }
  resuming_from_ = bg_error_;
  bg_error_ = Status::OK();
  bg_error_resumable_ = false;
  bg_cv_.notify_all();  // the flush and compaction threads go on
  // Writes stay held (this thread leads the write queue) until every memtable
  // that waited is a table: after a WAL error, a write in the new WAL must
  // never be durable while an older one, in the damaged WAL, is not. A
  // memtable leaves sealed_ once its edit is in the MANIFEST.
  bg_cv_.wait(lock, [this] { return sealed_.empty() || !bg_error_.ok() || shutting_down_; });
  resuming_from_ = Status::OK();
  if (!bg_error_.ok()) return bg_error_;
  if (shutting_down_) return Status::IOError(dbname_ + ": the DB is closing");
  // Relaxed: a hint (see writes_need_attention_); only an error or close()
  // sets it, and neither is in force here, under mu_.
  writes_need_attention_.store(false, std::memory_order_relaxed);
  // Relaxed: the event thread reads it under mu_, which orders it.
  stats_.resumes.fetch_add(1, std::memory_order_relaxed);
  bg_cv_.notify_all();  // the event thread: writes are taken again
  return Status::OK();
}

void DBImpl::event_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  event_thread_id_ = std::this_thread::get_id();
  const uint32_t max_attempts = options_.max_background_error_resumes;
  const auto interval = std::chrono::milliseconds(options_.background_error_resume_interval_ms);
  // The listener runs without mu_: the state may change meanwhile, which the
  // loop below looks at again before it sleeps.
  const auto call_listener = [&](const auto& call) {
    if (options_.listener == nullptr) return;
    lock.unlock();
    call(*options_.listener);
    lock.lock();
  };
  uint64_t reported = 0;  // bg_error_count_ when an error was last looked at
  // A recovery runs from an error resume() can clear until a resume() takes
  // writes again (stats_.resumes passes resumes_before), the retries run
  // out, or a later error needs a reopen. Errors that its resume() calls
  // meet on the way (the flush a resume() let run fails again) belong to it,
  // and count against the same attempts.
  bool recovering = false;
  uint64_t resumes_before = 0;
  ErrorRecoveryInfo recovery;
  Status last_attempt;  // what this thread's last resume() returned
  // Kept across wake-ups for other events, so that they do not put it off.
  std::chrono::steady_clock::time_point next_retry;
  // Relaxed: stats_.resumes is written under mu_, which this thread holds
  // whenever it reads it.
  const auto resumed = [&] {
    return stats_.resumes.load(std::memory_order_relaxed) != resumes_before;
  };
  const auto attempts_left = [&] {
    return max_attempts == UINT32_MAX || recovery.attempts < max_attempts;
  };
  const auto end_recovery = [&](Status result) {
    recovering = false;
    recovery.result = std::move(result);
    const ErrorRecoveryInfo info = recovery;
    call_listener([&](EventListener& l) { l.on_error_recovery_end(info); });
  };
  WriteStallCondition stall = WriteStallCondition::kNormal;  // as last reported
  // What wakes the thread early: close(), a new error, a resume() that took
  // writes again, an error that needs a reopen, a change of the write stall
  // condition (bg_cv_ is notified for each).
  const auto event = [&] {
    return shutting_down_ || !completed_reports_.empty() || bg_error_count_ != reported ||
           (recovering && (resumed() || (!bg_error_.ok() && !bg_error_resumable_))) ||
           write_stall_condition() != stall;
  };
  while (true) {
    if (shutting_down_) return;  // close() delivers the reports left
    if (!completed_reports_.empty()) {
      const CompletedWork work = completed_reports_.front();
      completed_reports_.pop_front();
      call_listener([&](EventListener&) { deliver_completed(work); });
      ++completed_reports_delivered_;
      bg_cv_.notify_all();  // flush() and compact_range() wait for this
      continue;
    }
    if (const WriteStallCondition now = write_stall_condition(); now != stall) {
      // Relaxed: see write_stall_condition(); the same value under mu_.
      const WriteStallInfo info{now, stall, level0_files_.load(std::memory_order_relaxed),
                                sealed_.size()};
      stall = now;
      call_listener([&](EventListener& l) { l.on_write_stall_changed(info); });
      continue;
    }
    if (recovering && resumed()) {
      end_recovery(Status::OK());
      continue;
    }
    if (bg_error_count_ != reported) {
      reported = bg_error_count_;
      // Gone already when a resume() cleared it before this thread woke.
      if (!bg_error_.ok()) {
        if (!recovering && bg_error_resumable_) {
          recovering = true;
          resumes_before = stats_.resumes.load(std::memory_order_relaxed);  // relaxed: see above
          recovery = ErrorRecoveryInfo{bg_error_, Status::OK(), 0};
          last_attempt = Status::OK();
          next_retry = std::chrono::steady_clock::now() + interval;
        }
        // Refused writes stop saying that the DB retries before the listener
        // hears that it does not.
        if (recovering && max_attempts > 0 && !attempts_left()) bg_error_retries_over_ = true;
        const BackgroundErrorInfo info{
            bg_error_, bg_error_resumable_,
            bg_error_resumable_ && recovering && max_attempts > 0 && attempts_left()};
        call_listener([&](EventListener& l) { l.on_background_error(info); });
      }
      continue;
    }
    if (recovering && !bg_error_.ok()) {
      if (!bg_error_resumable_) {
        end_recovery(bg_error_);
        continue;
      }
      if (max_attempts > 0 && !attempts_left()) {
        bg_error_retries_over_ = true;
        end_recovery(last_attempt.ok() ? bg_error_ : last_attempt);
        continue;
      }
    }
    // Nothing new: sleep until something is, or until the next retry is due
    // (an application's resume() under way has cleared the error: its end
    // is an event).
    if (!recovering || max_attempts == 0 || bg_error_.ok()) {
      bg_cv_.wait(lock, event);
      continue;
    }
    if (bg_cv_.wait_until(lock, next_retry, event)) continue;
    // An application's resume() may have cleared it while this thread slept.
    if (bg_error_.ok()) continue;
    ++recovery.attempts;
    lock.unlock();
    // What follows is seen above: a resume counted, or an error still there.
    try {
      last_attempt = resume();
    } catch (...) {
      // resume() leads the write queue: what it threw is recorded as an error
      // only a reopen clears, which ends the recovery.
      last_attempt = Status::IOError(dbname_ + ": resume() threw an exception");
    }
    lock.lock();
    next_retry = std::chrono::steady_clock::now() + interval;
  }
}

namespace {
const char* write_stall_name(WriteStallCondition condition) {
  switch (condition) {
    case WriteStallCondition::kNormal:
      return "normal";
    case WriteStallCondition::kDelayed:
      return "delayed";
    case WriteStallCondition::kStopped:
      return "stopped";
  }
  return "unknown";
}
}  // namespace

WriteStallCondition DBImpl::write_stall_condition() const {
  // Relaxed: set under mu_ (install_read_view()), which the caller holds.
  const size_t l0_files = level0_files_.load(std::memory_order_relaxed);
  // Only while the cause still holds: once a flush or compaction has made
  // room, the waiting writer goes on as soon as it has the mutex back, and a
  // report taken in between would name a stop with nothing behind it.
  if (write_waiting_for_room_ &&
      (sealed_.size() >= options_.max_sealed_memtables ||
       l0_files >= static_cast<size_t>(options_.l0_stop_writes_trigger))) {
    return WriteStallCondition::kStopped;
  }
  if (l0_files >= static_cast<size_t>(options_.l0_slowdown_writes_trigger)) {
    return WriteStallCondition::kDelayed;
  }
  return WriteStallCondition::kNormal;
}

std::string DBImpl::describe_compaction_error() const {
  if (compaction_error_.ok()) return "none";
  return compaction_error_.to_string() + " (" + std::to_string(compaction_failures_in_a_row_) +
         " in a row)";
}

std::string DBImpl::describe_background_error() const {
  if (!bg_error_.ok()) return bg_error_.to_string();
  // Cleared, but writes still held until the memtables that waited are tables.
  if (!resuming_from_.ok()) return "resume() under way after: " + resuming_from_.to_string();
  return "none";
}

// ---------------------------------------------------------------- reads

std::shared_ptr<const DBImpl::ReadView> DBImpl::read_view() const {
  std::lock_guard<std::mutex> guard(view_mu_);
  return view_;
}

void DBImpl::install_read_view() {
  auto view = std::make_shared<ReadView>();
  view->mem = mem_.list;
  for (auto it = sealed_.rbegin(); it != sealed_.rend(); ++it) view->sealed.push_back(it->frozen);
  view->version = versions_->current();
  // Relaxed: a hint for write leaders (see lead_write_group()).
  level0_files_.store(view->version->file_count(0), std::memory_order_relaxed);
  // The old view is released after view_mu_: it may be the last owner of a
  // flushed memtable's memory or of compacted tables (unmapped, closed), and
  // every get() and new iterator waits for view_mu_.
  std::shared_ptr<const ReadView> old;
  {
    std::lock_guard<std::mutex> guard(view_mu_);
    old = std::move(view_);
    view_ = std::move(view);
  }
}

SequenceNumber DBImpl::read_sequence(const ReadOptions& options) {
  return options.snapshot != nullptr ? options.snapshot->sequence() : publisher_.readable();
}

Status DBImpl::get(const ReadOptions& options, std::string_view key, std::string* value) {
  // The view before the sequence: every version a compaction dropped from the
  // view's tables was shadowed by one at or below the sequence read after it.
  const auto view = read_view();
  return get_from_view(*view, options, key, read_sequence(options), value);
}

namespace {
// A read's answer from the version it found: the value, or NotFound for a
// tombstone.
Status answer_found(ValueKind kind, std::string_view found, std::string* value) {
  if (kind == ValueKind::kTombstone) return Status::NotFound();
  value->assign(found);
  return Status::OK();
}
}  // namespace

Status DBImpl::get_from_view(const ReadView& view, const ReadOptions& options, std::string_view key,
                             SequenceNumber seq, std::string* value) {
  if (auto found = view.mem->get_at(key, seq))
    return answer_found(found->kind, found->value, value);
  for (const auto& frozen : view.sealed) {
    if (auto found = frozen->get_at(key, seq))
      return answer_found(found->kind, found->value, value);
  }
  return get_from_tables(view, options, key, seq, value);
}

Status DBImpl::get_from_tables(const ReadView& view, const ReadOptions& options,
                               std::string_view key, SequenceNumber seq, std::string* value) {
  const TableReadOptions read_options{options.verify_checksums, options.fill_cache};
  // The tables that may hold the key, in the order they are searched: level-0
  // files newest first, then the one file of each deeper level whose range
  // covers the key. The readers of open tables come from the files themselves
  // (the view's Version keeps them open), and the first few tables' filter
  // lines are all fetched before the first is read, so that the misses
  // overlap. A table not open yet is opened only when the search reaches it.
  thread_local std::vector<const FileMetaData*> candidates;  // reused: no allocation
  candidates.clear();
  for (const FileRef& f : view.version->files(0)) {
    if (key >= f->smallest_user_key() && key <= f->largest_user_key())
      candidates.push_back(f.get());
  }
  for (int level = 1; level < kNumLevels; ++level) {
    if (const FileRef* f = view.version->find_file(level, key)) candidates.push_back(f->get());
  }
  const uint64_t hash = TableReader::filter_hash(key);
  constexpr size_t kPrefetched = 8;
  for (size_t i = 0; i < candidates.size() && i < kPrefetched; ++i) {
    if (const TableReader* reader = candidates[i]->reader.get()) reader->prefetch_filter(hash);
  }
  for (const FileMetaData* f : candidates) {
    const TableReader* reader = f->reader.get();
    if (reader == nullptr) {
      std::shared_ptr<const TableReader> opened;
      Status s = table_cache_->get_reader(f->number, &opened);
      if (!s.ok()) return s;
      f->reader.set(std::move(opened));  // kept open by the file's metadata from now on
      reader = f->reader.get();
    }
    thread_local TableGetResult got;  // its value buffer is reused from one get to the next
    Status s = reader->get(read_options, key, hash, seq, &got);
    if (!s.ok()) return s;
    if (got.found) return answer_found(got.kind, got.value, value);
  }
  return Status::NotFound();
}

std::vector<Status> DBImpl::multi_get(const ReadOptions& options,
                                      std::span<const std::string_view> keys,
                                      std::vector<std::string>* values) {
  // One view and one sequence for the whole call: the answers are consistent.
  const auto view = read_view();
  const SequenceNumber seq = read_sequence(options);
  values->assign(keys.size(), std::string());
  std::vector<Status> statuses(keys.size());
  // The memtables answer the keys they hold in batches, the lookups
  // interleaved (ConcurrentSkipList::get_many_at()); the rest go on to the
  // older memtables and then to the tables, one by one.
  std::vector<size_t> pending(keys.size());
  std::iota(pending.begin(), pending.end(), size_t{0});
  std::vector<std::string_view> batch;
  auto look_up = [&](const auto& list) {
    batch.clear();
    for (size_t i : pending) batch.push_back(keys[i]);
    const auto found = list.get_many_at(batch, seq);
    size_t kept = 0;
    for (size_t j = 0; j < pending.size(); ++j) {
      const size_t i = pending[j];
      if (found[j]) {
        statuses[i] = answer_found(found[j]->kind, found[j]->value, &(*values)[i]);
      } else {
        pending[kept++] = i;
      }
    }
    pending.resize(kept);
  };
  look_up(*view->mem);
  for (const auto& frozen : view->sealed) {
    if (pending.empty()) break;
    look_up(*frozen);
  }
  for (size_t i : pending)
    statuses[i] = get_from_tables(*view, options, keys[i], seq, &(*values)[i]);
  return statuses;
}

namespace {
// What an iterator pins: the view it reads and the table readers it opened.
struct IteratorPins {
  std::shared_ptr<const void> view;
  std::vector<std::shared_ptr<const TableReader>> readers;
  std::shared_ptr<BackgroundThread> readahead;  // its table iterators read ahead there
  // With iterate bounds: the files of each deeper level the bounds meet (the
  // level iterators read these lists, which live as long as they do).
  std::array<std::vector<FileRef>, kNumLevels> level_files;
};
}  // namespace

std::unique_ptr<Iterator> DBImpl::new_iterator(const ReadOptions& options) {
  auto view = read_view();  // before the sequence, as in get()
  const SequenceNumber seq = read_sequence(options);
  auto pins = std::make_shared<IteratorPins>();
  pins->view = view;
  pins->readahead = readahead_;
  std::vector<std::unique_ptr<InternalIterator>> children;
  children.push_back(view->mem->new_version_iterator());
  for (const auto& frozen : view->sealed) children.push_back(frozen->new_version_iterator());
  const TableReadOptions read_options{options.verify_checksums, options.fill_cache,
                                      readahead_.get()};
  // Level-0 files overlap: one child each. Deeper levels: one child per level,
  // opening its files one at a time. With bounds, only the files whose keys
  // meet [lower, upper).
  const bool bounded = options.iterate_lower_bound || options.iterate_upper_bound;
  const auto meets_bounds = [&](const FileMetaData& f) {
    return (!options.iterate_upper_bound ||
            compare_user_keys(extract_user_key(f.smallest), *options.iterate_upper_bound) < 0) &&
           (!options.iterate_lower_bound ||
            compare_user_keys(extract_user_key(f.largest), *options.iterate_lower_bound) >= 0);
  };
  for (const FileRef& f : view->version->files(0)) {
    if (bounded && !meets_bounds(*f)) continue;
    std::shared_ptr<const TableReader> reader;
    Status s = table_cache_->get_reader(f->number, &reader);
    if (!s.ok()) return std::make_unique<ErrorIterator>(s);
    children.push_back(reader->new_iterator(read_options));
    pins->readers.push_back(std::move(reader));
  }
  for (int level = 1; level < kNumLevels; ++level) {
    const std::vector<FileRef>* files = &view->version->files(level);
    if (bounded) {
      // Sorted and disjoint: the files within the bounds are one run.
      auto first = files->begin();
      auto last = files->end();
      if (options.iterate_lower_bound) {
        first = std::partition_point(first, last, [&](const FileRef& f) {
          return compare_user_keys(f->largest_user_key(), *options.iterate_lower_bound) < 0;
        });
      }
      if (options.iterate_upper_bound) {
        last = std::partition_point(first, last, [&](const FileRef& f) {
          return compare_user_keys(f->smallest_user_key(), *options.iterate_upper_bound) < 0;
        });
      }
      pins->level_files[level].assign(first, last);
      files = &pins->level_files[level];
    }
    if (!files->empty()) {
      children.push_back(new_level_iterator(table_cache_.get(), *files, read_options));
    }
  }
  return new_db_iterator(new_merging_iterator(std::move(children)), seq, std::move(pins),
                         IterateBounds{options.iterate_lower_bound, options.iterate_upper_bound});
}

const Snapshot* DBImpl::get_snapshot() {
  // The wait for acknowledged writes happens outside mu_: a writer still
  // inserting may need mu_ (note_unlogged_write()). Once it is over, the
  // visible sequence read under mu_ covers every write acknowledged before
  // this call, and no compaction can have started from a later one.
  (void)publisher_.readable();
  std::lock_guard<std::mutex> guard(mu_);
  const SequenceNumber seq = publisher_.visible();
  snapshots_.insert(seq);
  return new SnapshotImpl(seq);
}

void DBImpl::release_snapshot(const Snapshot* snapshot) {
  if (snapshot == nullptr) return;
  {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = snapshots_.find(snapshot->sequence());
    if (it != snapshots_.end()) snapshots_.erase(it);
  }
  delete snapshot;
}

// ---------------------------------------------------------------- background

void DBImpl::background_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    bg_cv_.wait(lock, [this] { return shutting_down_ || (!sealed_.empty() && bg_error_.ok()); });
    if (sealed_.empty() || !bg_error_.ok()) {
      if (shutting_down_) return;
      continue;
    }
    flush_running_ = true;
    lock.unlock();
    Status s = flush_oldest_sealed();
    if (s.ok()) delete_obsolete_files();
    lock.lock();
    flush_running_ = false;
    if (!s.ok()) record_background_error(s, ErrorSource::kBackgroundWork);
    bg_cv_.notify_all();
  }
}

TableOptions DBImpl::output_table_options(bool bottommost) const {
  TableOptions t = table_cache_->options();
  const bool light = !bottommost && options_.light_upper_level_compression;
  t.zstd_compress_literals = !light;
  if (light) {
    t.zstd_level = std::min(effective_zstd_level(t.zstd_level),
                            effective_zstd_level(options_.light_upper_level_zstd_level));
  }
  return t;
}

Status DBImpl::write_level0_table(const FrozenMemtable& mem, FileMetaData* meta) {
  *meta = FileMetaData();
  const uint64_t start = now_micros();
  const uint64_t number = versions_->new_file_number();
  {
    std::lock_guard<std::mutex> guard(mu_);
    pending_outputs_.insert(number);
  }
  auto done_with_output = [&] {
    std::lock_guard<std::mutex> guard(mu_);
    pending_outputs_.erase(number);
  };
  const std::string path = table_file_name(dbname_, number);
  std::unique_ptr<TableBuilder> builder;
  // Level 0 is never the bottommost level for long: compaction rewrites it.
  Status s = TableBuilder::open(*fs_, path, output_table_options(/*bottommost=*/false), &builder);
  std::unique_ptr<InternalIterator> it = mem.new_version_iterator();
  bool first = true;
  for (it->seek_to_first(); s.ok() && it->valid(); it->next()) {
    if (first) {
      meta->smallest.clear();
      append_internal_key(&meta->smallest, it->user_key(), it->sequence(), it->kind());
      meta->smallest_seq = meta->largest_seq = it->sequence();
      first = false;
    }
    meta->largest.clear();
    append_internal_key(&meta->largest, it->user_key(), it->sequence(), it->kind());
    meta->smallest_seq = std::min(meta->smallest_seq, it->sequence());
    meta->largest_seq = std::max(meta->largest_seq, it->sequence());
    ++meta->entries;
    if (it->kind() == ValueKind::kTombstone) ++meta->tombstones;
    s = builder->add(it->user_key(), it->sequence(), it->kind(), it->value());
  }
  if (s.ok()) s = it->status();
  if (s.ok() && meta->entries != mem.entry_count()) {
    // Every version the memtable accepted must reach the table: a shortfall is
    // a broken memtable iterator, and flushing would lose writes.
    s = Status::Corruption("flush of memtable into " + path + ": iterated " +
                           std::to_string(meta->entries) + " of " +
                           std::to_string(mem.entry_count()) + " versions");
  }
  if (s.ok() && first) {
    builder->abandon();  // nothing to write
    done_with_output();
    return Status::OK();
  }
  if (s.ok()) s = builder->finish();
  // The table's directory entry must be durable before the MANIFEST names it.
  if (s.ok()) s = fs_->sync_dir(dbname_);
  if (s.ok()) {
    meta->number = number;
    meta->file_size = builder->file_size();
    stats_.flushes.fetch_add(1, std::memory_order_relaxed);
    stats_.flush_bytes.fetch_add(meta->file_size, std::memory_order_relaxed);
    stats_.flush_micros.fetch_add(now_micros() - start, std::memory_order_relaxed);
  } else {
    if (builder != nullptr) builder->abandon();
    *meta = FileMetaData();
    done_with_output();
  }
  // On success the number stays in pending_outputs_ until the MANIFEST names
  // the file (the caller removes it), so obsolete-file deletion cannot race it.
  return s;
}

Status DBImpl::flush_oldest_sealed() {
  std::shared_ptr<const FrozenMemtable> frozen;
  uint64_t next_log_number = 0;
  {
    std::lock_guard<std::mutex> guard(mu_);
    frozen = sealed_.front().frozen;
    // Once this memtable is a table, the oldest WAL still needed is the next
    // memtable's.
    next_log_number = sealed_.size() > 1 ? sealed_[1].log_number : mem_.log_number;
  }
  const uint64_t start = now_micros();
  FileMetaData meta;
  Status s = write_level0_table(*frozen, &meta);
  if (!s.ok()) return s;
  VersionEdit edit;
  if (meta.number != 0) edit.add_file(0, meta);
  edit.set_log_number(next_log_number);
  s = versions_->log_and_apply(&edit);
  {
    std::lock_guard<std::mutex> guard(mu_);
    // On failure the edit may still be in the MANIFEST (see run_compaction):
    // the table stays pending so that this process never deletes it.
    if (!s.ok()) {
      if (meta.number != 0) uncertain_outputs_[meta.number] = versions_->manifest_file_number();
      return s;
    }
    pending_outputs_.erase(meta.number);
    release_settled_outputs();
    sealed_.pop_front();
    install_read_view();
    // resume() waits for sealed_ to empty, holding the write queue; the
    // listener, which may write, hears of this flush from the event thread.
    bg_cv_.notify_all();
    if (options_.listener) {
      report_completed(FlushInfo{meta.number, meta.file_size, meta.entries,
                                 static_cast<double>(now_micros() - start) / 1e6});
    }
  }
  return Status::OK();
}

Status DBImpl::flush_unlogged_at_close() {
  std::unique_lock<std::mutex> lock(mu_);
  const auto unlogged_sealed = [this] {
    return std::any_of(sealed_.begin(), sealed_.end(),
                       [](const Memtable& m) { return m.unlogged; });
  };
  if (!mem_.unlogged && !unlogged_sealed()) return Status::OK();
  // The writes are lost (the caller learns it): after a background error the
  // DB writes no more tables.
  if (!bg_error_.ok()) return bg_error_;
  try {
    // The background threads are stopped: this thread flushes, as the flush
    // thread would, and only as far as the newest memtable that needs it (the
    // others' writes are in the WAL, kept for the next open).
    Status s = mem_.unlogged ? rotate_memtable(lock) : Status::OK();
    while (s.ok() && unlogged_sealed()) {
      lock.unlock();
      s = flush_oldest_sealed();
      lock.lock();
      if (!s.ok()) record_background_error(s);
    }
    return s;
  } catch (const std::bad_alloc&) {
    if (!lock.owns_lock()) lock.lock();
    record_background_error(
        Status::IOError(dbname_ + ": out of memory while writing out the memtables at close"));
    return bg_error_;
  }
}

void DBImpl::delete_obsolete_files(bool at_open, bool tables_only) {
  // The order matters. A table is registered in pending_outputs_ before its
  // file is created and leaves it only once a Version names it, so: list the
  // directory first (a file created later is not a candidate), then read the
  // pending set (it holds every listed file still being written), then the
  // live set (it holds every listed file that left the pending set).
  std::vector<std::string> names;
  if (!fs_->get_children(dbname_, &names).ok()) return;
  std::set<uint64_t> keep;
  {
    std::lock_guard<std::mutex> guard(mu_);
    keep = pending_outputs_;
  }
  const std::set<uint64_t> live = versions_->live_files();
  const uint64_t min_log = versions_->log_number();
  const uint64_t manifest = versions_->manifest_file_number();
  bool removed = false;
  for (const std::string& name : names) {
    FileType type;
    uint64_t number = 0;
    if (!parse_file_name(name, &type, &number)) continue;
    bool obsolete = false;
    if (tables_only && type != FileType::kTable) continue;
    switch (type) {
      case FileType::kLog:
        obsolete = number < min_log;
        break;
      case FileType::kTable:
        obsolete = live.count(number) == 0 && keep.count(number) == 0;
        break;
      case FileType::kManifest:
        obsolete = number < manifest;
        break;
      case FileType::kTemp:
        // A temporary file is a CURRENT being replaced (or a MANIFEST a
        // repair cut short was writing): only at open can no MANIFEST
        // rollover be writing one.
        obsolete = at_open;
        break;
      case FileType::kCurrent:
      case FileType::kLock:
        break;
    }
    if (!obsolete) continue;
    if (type == FileType::kTable) table_cache_->evict(number);
    removed = fs_->remove_file(dbname_ + "/" + name).ok() || removed;
  }
  if (removed) (void)fs_->sync_dir(dbname_);
}

std::optional<Compaction> DBImpl::pick_background_compaction(
    std::chrono::steady_clock::time_point now) {
  if (manual_compaction_ || !bg_error_.ok() || shutting_down_) return std::nullopt;
  return pick_compaction(options_, *versions_->current(), versions_->compact_pointers(),
                         busy_for_compaction(now));
}

std::set<uint64_t> DBImpl::busy_for_compaction(std::chrono::steady_clock::time_point now) const {
  if (resting_inputs_.empty() || now >= compaction_retry_at_) return compacting_;
  std::set<uint64_t> busy = compacting_;
  busy.insert(resting_inputs_.begin(), resting_inputs_.end());
  return busy;
}

void DBImpl::compaction_loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    if (shutting_down_) return;
    // mu_ is held from each look to its wait, so no notify falls between.
    // One reading of the clock for the pick and the look at the back-off,
    // which must agree: resting inputs the pick left out are waited for.
    const auto now = std::chrono::steady_clock::now();
    std::optional<Compaction> c = pick_background_compaction(now);
    if (!c) {
      if (!resting_inputs_.empty() && now < compaction_retry_at_) {
        // The inputs of a compaction that failed may be taken again then
        // (resume() ends the wait early, and notifies).
        bg_cv_.wait_until(lock, compaction_retry_at_);
        continue;
      }
      if (!compaction_error_.ok() && bg_error_.ok() && !manual_compaction_ &&
          compactions_running_ == 0) {
        // The back-off is over and nothing needs compacting: other
        // compactions brought the levels under their targets, and the work
        // that failed is no longer wanted. Nothing fails any more.
        clear_compaction_error();
      }
      bg_cv_.wait(lock);
      continue;
    }
    for (const auto& files : c->inputs) {
      for (const FileRef& f : files) compacting_.insert(f->number);
    }
    for (const FileRef& f : c->passed_over) ++f->times_passed_over;
    ++compactions_running_;
    lock.unlock();
    bool abandoned = false;
    bool edit_tried = false;
    Status s = run_compaction(*c, &abandoned, &edit_tried);
    lock.lock();
    for (const auto& files : c->inputs) {
      for (const FileRef& f : files) compacting_.erase(f->number);
    }
    --compactions_running_;
    // A real failure counts even while close() waits: close() then reports
    // one that stops writes, and leaves the files as they are for the next
    // open.
    if (!s.ok() && !abandoned) record_compaction_failure(s, edit_tried, *c);
    bg_cv_.notify_all();
  }
}

Status DBImpl::write_compaction_outputs(const Compaction& c, const Version& base, VersionEdit* edit,
                                        uint64_t* bytes_written, uint64_t* dropped,
                                        bool* abandoned) {
  std::vector<SequenceNumber> snapshots;
  {
    std::lock_guard<std::mutex> guard(mu_);
    snapshots.assign(snapshots_.begin(), snapshots_.end());
  }
  VersionGarbageCollector gc(std::move(snapshots));
  // Compaction reads every block once: checking them all, caching none.
  const TableReadOptions read_options{/*verify_checksums=*/true, /*fill_cache=*/false};
  std::vector<std::shared_ptr<const TableReader>> readers;
  std::vector<std::unique_ptr<InternalIterator>> children;
  for (const auto& files : c.inputs) {
    for (const FileRef& f : files) {
      std::shared_ptr<const TableReader> reader;
      Status s = table_cache_->get_reader(f->number, &reader);
      if (!s.ok()) return s;
      children.push_back(reader->new_iterator(read_options));
      readers.push_back(std::move(reader));
    }
  }
  std::unique_ptr<InternalIterator> input = new_merging_iterator(std::move(children));

  // Whether no level below the output may hold `user_key`: then a tombstone
  // visible to every reader has nothing left to hide.
  auto is_base_level = [&](std::string_view user_key) {
    for (int level = c.output_level() + 1; level < kNumLevels; ++level) {
      if (base.find_file(level, user_key) != nullptr) return false;
    }
    return true;
  };

  const TableOptions output_options = output_table_options(output_is_bottommost(c, base));

  static const std::vector<FileRef> kNoFiles;
  OutputCutter cutter(
      c.output_level() + 1 < kNumLevels ? base.files(c.output_level() + 1) : kNoFiles,
      options_.target_file_bytes);
  std::unique_ptr<TableBuilder> builder;
  FileMetaData meta;
  uint64_t unfinished_output = 0;  // protected in pending_outputs_, not in the edit yet
  std::string last_user_key;
  bool has_last = false;
  Status s;
  auto finish_output = [&]() -> Status {
    Status fs = builder->finish();
    if (!fs.ok()) {
      builder.reset();
      return fs;
    }
    meta.file_size = builder->file_size();
    *bytes_written += meta.file_size;
    edit->add_file(c.output_level(), meta);
    unfinished_output = 0;
    builder.reset();
    return Status::OK();
  };
  for (input->seek_to_first(); input->valid(); input->next()) {
    if (stop_compactions_.load(std::memory_order_relaxed)) {
      s = Status::IOError(dbname_ + ": compaction abandoned: the DB is closing");
      *abandoned = true;
      break;
    }
    const std::string_view user_key = input->user_key();
    const bool new_key = !has_last || user_key != last_user_key;
    if (!gc.keep(user_key, input->sequence(), input->kind(), is_base_level)) continue;
    // A value every reader sees, with nothing older below it, needs no
    // sequence number: storing 0 makes the 8-byte trailers of a settled bottom
    // level nearly all zeros, which compress away. Newer versions of the key
    // carry larger sequences and still sort before it.
    SequenceNumber seq = input->sequence();
    if (input->kind() == ValueKind::kValue && seq != 0 && gc.visible_to_all(seq) &&
        is_base_level(user_key)) {
      seq = 0;
    }
    // Cut only between user keys: each level's files must hold disjoint
    // user-key ranges.
    if (new_key && cutter.cut_before(user_key, builder ? builder->file_size() : 0)) {
      s = finish_output();
      if (!s.ok()) break;
    }
    if (builder == nullptr) {
      meta = FileMetaData();
      meta.number = versions_->new_file_number();
      {
        std::lock_guard<std::mutex> guard(mu_);
        pending_outputs_.insert(meta.number);
      }
      unfinished_output = meta.number;
      s = TableBuilder::open(*fs_, table_file_name(dbname_, meta.number), output_options, &builder);
      if (!s.ok()) break;
      append_internal_key(&meta.smallest, user_key, seq, input->kind());
      meta.smallest_seq = meta.largest_seq = seq;
    }
    meta.largest.clear();
    append_internal_key(&meta.largest, user_key, seq, input->kind());
    meta.smallest_seq = std::min(meta.smallest_seq, seq);
    meta.largest_seq = std::max(meta.largest_seq, seq);
    ++meta.entries;
    if (input->kind() == ValueKind::kTombstone) ++meta.tombstones;
    s = builder->add(user_key, seq, input->kind(), input->value());
    if (!s.ok()) break;
    if (new_key) {
      last_user_key.assign(user_key);
      has_last = true;
    }
  }
  if (s.ok()) s = input->status();
  if (s.ok() && builder != nullptr) s = finish_output();
  if (!s.ok() && builder != nullptr) builder->abandon();  // removes its file
  if (!s.ok() && unfinished_output != 0) {
    // Never offered to the MANIFEST: its number need not stay protected.
    std::lock_guard<std::mutex> guard(mu_);
    pending_outputs_.erase(unfinished_output);
  }
  // The outputs' directory entries must be durable before the MANIFEST names them.
  if (s.ok()) s = fs_->sync_dir(dbname_);
  stats_.versions_dropped.fetch_add(gc.dropped(), std::memory_order_relaxed);
  *dropped = gc.dropped();
  return s;
}

bool DBImpl::rewrite_instead_of_move(const Compaction& c, const Version& base) const {
  // A move keeps the table's coding. A table coded lightly (written above the
  // bottommost level: literals raw, a lighter zstd level) is rewritten rather
  // than moved into the bottommost level, which keeps the full coding — as
  // RocksDB moves a file only when its compression is the output level's.
  // The level is checked on its own because a libzstd without the raw
  // literals parameter still writes light tables at the lighter level.
  if (!options_.light_upper_level_compression || !output_is_bottommost(c, base)) return false;
  std::shared_ptr<const TableReader> reader;
  // A table that cannot be opened is moved as before: rewriting it would
  // fail the same way, and the move does not read it.
  if (!table_cache_->get_reader(c.inputs[0][0]->number, &reader).ok()) return false;
  const TableProperties& props = reader->properties();
  if (props.zstd_raw_literals != 0) return true;
  return options_.compression == Compression::kZstd && props.compression == "zstd" &&
         effective_zstd_level(static_cast<int>(props.zstd_level)) !=
             effective_zstd_level(options_.zstd_level);
}

Status DBImpl::run_compaction(const Compaction& c, bool* abandoned, bool* edit_tried) {
  bool abandoned_here = false;
  if (abandoned == nullptr) abandoned = &abandoned_here;
  *abandoned = false;
  bool edit_tried_here = false;
  if (edit_tried == nullptr) edit_tried = &edit_tried_here;
  *edit_tried = false;
  const uint64_t start = now_micros();
  // Released before obsolete-file deletion below: a Version alive anywhere
  // keeps its files, so holding this one would keep the inputs on disk.
  std::shared_ptr<const Version> base = versions_->current();
  VersionEdit edit;
  for (int which = 0; which < 2; ++which) {
    for (const FileRef& f : c.inputs[which]) edit.remove_file(c.level + which, f->number);
  }
  // The next compaction of this level starts after the largest key taken now.
  std::string largest;
  for (const FileRef& f : c.inputs[0]) {
    if (largest.empty() || compare_encoded_internal_keys(f->largest, largest) > 0) {
      largest = f->largest;
    }
  }
  if (c.level > 0 && !largest.empty()) edit.set_compact_pointer(c.level, largest);

  uint64_t bytes_written = 0;
  uint64_t dropped = 0;
  Status s;
  const bool move = c.trivial_move && !rewrite_instead_of_move(c, *base);
  if (move) {
    edit.add_file(c.output_level(), *c.inputs[0][0]);
    stats_.trivial_moves.fetch_add(1, std::memory_order_relaxed);
  } else {
    s = write_compaction_outputs(c, *base, &edit, &bytes_written, &dropped, abandoned);
  }
  // A failed log_and_apply() may still have put the edit in the MANIFEST (an
  // append that reached the file before its sync failed, or a new MANIFEST
  // that CURRENT already names): the outputs may be live for the next open.
  bool manifest_uncertain = false;
  if (s.ok()) {
    *edit_tried = true;
    s = versions_->log_and_apply(&edit);
    manifest_uncertain = !s.ok();
  }
  base.reset();
  {
    std::lock_guard<std::mutex> guard(mu_);
    // Uncertain outputs stay pending, so that no obsolete-file deletion in this
    // process removes them; the next open keeps them if the MANIFEST names them.
    if (!manifest_uncertain) {
      for (const auto& [level, f] : edit.new_files()) pending_outputs_.erase(f.number);
    } else if (!move) {
      const uint64_t manifest = versions_->manifest_file_number();
      for (const auto& [level, f] : edit.new_files()) uncertain_outputs_[f.number] = manifest;
    }
    if (s.ok()) {
      record_compaction_success(c);
      release_settled_outputs();
      install_read_view();
      // Writers stalled on a full level 0 may go on now: a manual
      // compaction's steps are not followed by the background's notify.
      bg_cv_.notify_all();
    }
  }
  if (!s.ok()) {
    // Outputs written but never offered to the MANIFEST are garbage now.
    delete_obsolete_files();
    return s;
  }
  if (options_.listener) {
    CompactionInfo info;
    info.level = c.level;
    info.input_files = c.inputs[0].size() + c.inputs[1].size();
    info.output_files = edit.new_files().size();
    info.input_bytes = c.input_bytes();
    info.output_bytes = move ? c.input_bytes() : bytes_written;
    info.versions_dropped = dropped;
    info.trivial_move = move;
    info.manual = c.manual;
    info.seconds = static_cast<double>(now_micros() - start) / 1e6;
    std::lock_guard<std::mutex> guard(mu_);
    report_completed(info);
  }
  if (!move) {
    stats_.compactions.fetch_add(1, std::memory_order_relaxed);
    stats_.compaction_bytes_read.fetch_add(c.input_bytes(), std::memory_order_relaxed);
    stats_.compaction_bytes_written.fetch_add(bytes_written, std::memory_order_relaxed);
    stats_.compaction_micros.fetch_add(now_micros() - start, std::memory_order_relaxed);
  }
  delete_obsolete_files();
  return Status::OK();
}

// ---------------------------------------------------------------- control

Status DBImpl::flush() {
  if (Status s = refuse_if_read_only("flush"); !s.ok()) return s;
  bool rotate_refused = false;
  return flush_memtables(&rotate_refused);
}

Status DBImpl::flush_memtables(bool* rotate_refused) {
  Status s = submit_control(/*rotate=*/true, /*sync=*/false, rotate_refused);
  if (!s.ok()) return s;
  std::unique_lock<std::mutex> lock(mu_);
  // Also until the flush thread's pass over obsolete files is done, so that
  // the logs the flushed memtables needed are gone when this returns.
  bg_cv_.wait(lock, [this] {
    return (sealed_.empty() && !flush_running_) || !bg_error_.ok() || shutting_down_;
  });
  if (!bg_error_.ok()) return bg_error_;
  // close() stops the flush thread: the memtable may still be waiting (its
  // writes stay safe in the log, replayed at the next open).
  if (!sealed_.empty()) return Status::IOError(dbname_ + ": the DB is closing");
  wait_for_completed_reports(lock);
  return Status::OK();
}

Status DBImpl::compact_range(std::optional<std::string_view> begin,
                             std::optional<std::string_view> end) {
  if (Status s = refuse_if_read_only("compact_range"); !s.ok()) return s;
  bool rotate_refused = false;
  Status s = flush_memtables(&rotate_refused);
  if (!s.ok()) {
    // The flush needed room in level 0, which is full while its compaction
    // backs off: a manual compaction of level 0 makes that room.
    if (!rotate_refused) return s;
    s = compact_files_in_range(std::nullopt, std::nullopt, /*level0_only=*/true);
    if (s.ok()) s = flush();
    if (!s.ok()) return s;
  }
  return compact_files_in_range(begin, end);
}

Status DBImpl::compact_files_in_range(std::optional<std::string_view> begin,
                                      std::optional<std::string_view> end, bool level0_only) {
  Status s;
  {
    // Take compaction over from the background thread once it is idle.
    std::unique_lock<std::mutex> lock(mu_);
    bg_cv_.wait(lock, [this] { return !manual_compaction_ || shutting_down_; });
    if (shutting_down_) return Status::IOError(dbname_ + ": the DB is closing");
    manual_compaction_ = true;
    bg_cv_.wait(lock, [this] { return compactions_running_ == 0; });
  }
  // Push everything in the range down, level by level, to the deepest level
  // that holds data (at least level 1).
  int bottom = 1;
  {
    // Scoped: a Version held across the loop would keep every input on disk.
    const auto first = versions_->current();
    for (int level = 1; level < kNumLevels && !level0_only; ++level) {
      if (first->file_count(level) > 0) bottom = level;
    }
  }
  // close() waits for this call to end: stop between compactions once it has
  // begun (relaxed: a hint; close() waits under mu_ for manual_compaction_).
  bool abandoned = false;   // stopped by close(): an error to the caller, not a background error
  bool edit_tried = false;  // of the step that failed (see run_compaction())
  std::optional<Compaction> last_step;  // the step that ran last
  const auto stopped = [&] {
    if (s.ok() && stop_compactions_.load(std::memory_order_relaxed)) {
      s = Status::IOError(dbname_ + ": the DB is closing");
      abandoned = true;
    }
    return !s.ok();
  };
  // The bottom level's files in the range when the step into it began, and
  // those of them that step rewrote; the others it left as they were.
  bool bottom_step_ran = false;
  std::set<uint64_t> bottom_before_step;
  std::set<uint64_t> bottom_rewritten;
  for (int level = 0; level < bottom && !stopped(); ++level) {
    std::optional<Compaction> c = pick_range_compaction(*versions_->current(), level, begin, end);
    if (!c) continue;
    if (level + 1 == bottom && !level0_only) {
      // Rewrite rather than move into the bottom level, so that its old
      // versions and tombstones are dropped.
      c->trivial_move = false;
      bottom_step_ran = true;
      for (const FileRef& f : versions_->current()->overlapping_files(bottom, begin, end)) {
        bottom_before_step.insert(f->number);
      }
      for (const FileRef& f : c->inputs[1]) bottom_rewritten.insert(f->number);
    }
    s = run_compaction(*c, &abandoned, &edit_tried);
    last_step = std::move(c);
  }
  if (!level0_only && !stopped()) {
    // The bottom level's files in the range that no step rewrote (all of
    // them if no step reached the bottom) are rewritten in place, dropping
    // what no reader needs any more: the step into the bottom level takes
    // only the files under the level above, which may not cover the range.
    // Each run of consecutive such files is one compaction: its outputs span
    // its inputs' keys, and must not span a file between two runs.
    std::vector<std::vector<FileRef>> runs(1);
    for (const FileRef& f : versions_->current()->overlapping_files(bottom, begin, end)) {
      const bool untouched = !bottom_step_ran || (bottom_before_step.contains(f->number) &&
                                                  !bottom_rewritten.contains(f->number));
      if (untouched) {
        runs.back().push_back(f);
      } else if (!runs.back().empty()) {
        runs.emplace_back();
      }
    }
    for (std::vector<FileRef>& run : runs) {
      if (run.empty() || stopped()) continue;
      Compaction c;
      c.level = bottom - 1;
      c.manual = true;
      c.inputs[1] = std::move(run);
      s = run_compaction(c, &abandoned, &edit_tried);
      last_step = std::move(c);
    }
  }
  std::unique_lock<std::mutex> lock(mu_);
  manual_compaction_ = false;
  if (!s.ok() && !abandoned) record_compaction_failure(s, edit_tried, *last_step);
  bg_cv_.notify_all();
  // After manual_compaction_ is cleared: a listener write that waits for a
  // compaction to make room gets one from the background threads.
  wait_for_completed_reports(lock);
  return s;
}

void DBImpl::report_completed(const CompletedWork& work) {
  completed_reports_.push_back(work);
  ++completed_reports_queued_;
  bg_cv_.notify_all();  // wakes the event thread
}

void DBImpl::wait_for_completed_reports(std::unique_lock<std::mutex>& lock) {
  // A listener's own flush() (which the listener contract forbids) would
  // wait for itself: it returns without waiting instead of hanging the DB.
  if (std::this_thread::get_id() == event_thread_id_) return;
  const uint64_t queued = completed_reports_queued_;
  bg_cv_.wait(lock, [&] { return completed_reports_delivered_ >= queued || shutting_down_; });
}

void DBImpl::deliver_completed(const CompletedWork& work) {
  if (const FlushInfo* flush = std::get_if<FlushInfo>(&work)) {
    options_.listener->on_flush_completed(*flush);
  } else if (const CompactionInfo* compaction = std::get_if<CompactionInfo>(&work)) {
    options_.listener->on_compaction_completed(*compaction);
  } else {
    options_.listener->on_compaction_failed(std::get<CompactionFailureInfo>(work));
  }
}

Status DBImpl::sync_wal() {
  if (Status s = refuse_if_read_only("sync_wal"); !s.ok()) return s;
  return submit_control(/*rotate=*/false, /*sync=*/true);
}

namespace {

// A new file `to` with the bytes of `from`, synced. Never over a file that
// exists: that could be a second name of `from` itself, which opening for
// writing would empty.
Status copy_file(FileSystem& fs, const std::string& from, const std::string& to) {
  if (fs.file_exists(to)) return Status::IOError(to + ": exists; not copying " + from + " over it");
  std::unique_ptr<SequentialFile> in;
  Status s = fs.new_sequential_file(from, &in);
  if (!s.ok()) return s;
  std::unique_ptr<WritableFile> out;
  s = fs.new_writable_file(to, &out);
  if (!s.ok()) return s;
  constexpr size_t kChunkBytes = size_t{1} << 20;
  std::string scratch(kChunkBytes, '\0');
  while (true) {
    std::string_view chunk;
    s = in->read(kChunkBytes, &chunk, scratch.data());
    if (!s.ok() || chunk.empty()) break;
    s = out->append(chunk);
    if (!s.ok()) break;
  }
  if (s.ok()) s = out->sync();
  const Status closed = out->close();
  return s.ok() ? closed : s;
}

// The temporary directories of the checkpoints under way in this process:
// two calls into one directory would each take the other's files for their
// own.
std::mutex checkpoints_mu;
std::set<std::string> checkpoints_under_way;  // guarded by checkpoints_mu

}  // namespace

Status DBImpl::checkpoint(const std::string& dir_arg) {
  if (Status s = refuse_if_read_only("checkpoint"); !s.ok()) return s;
  std::string dir = dir_arg;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  if (dir.empty()) return Status::InvalidArgument("checkpoint: the directory is empty");
  const std::string temp = dir + ".checkpoint-tmp";
  {
    std::lock_guard<std::mutex> guard(checkpoints_mu);
    if (!checkpoints_under_way.insert(temp).second) {
      return Status::InvalidArgument(dir + ": a checkpoint into it is under way");
    }
  }
  {
    // close() waits for the call to end: it writes into the DB's directory
    // (the MANIFEST number) and reads its tables.
    std::lock_guard<std::mutex> guard(mu_);
    if (shutting_down_) {
      std::lock_guard<std::mutex> registry(checkpoints_mu);
      checkpoints_under_way.erase(temp);
      return Status::IOError(dbname_ + ": the DB is closing");
    }
    ++checkpoints_running_;
  }
  Status s = make_checkpoint(dir, temp);
  {
    // Before close() may go on: a call right after it returns must not find
    // this one still registered.
    std::lock_guard<std::mutex> registry(checkpoints_mu);
    checkpoints_under_way.erase(temp);
  }
  std::lock_guard<std::mutex> guard(mu_);
  --checkpoints_running_;
  bg_cv_.notify_all();
  return s;
}

Status DBImpl::make_checkpoint(const std::string& dir, const std::string& temp) {
  bool is_dir = false;
  if (Status s = fs_->is_directory(dir, &is_dir); !s.is_not_found()) {
    if (!s.ok()) return s.with_context(dir + ": checkpoint");
    return Status::InvalidArgument(dir +
                                   ": exists; a checkpoint is made in a directory of its own");
  }
  if (Status s = fs_->is_directory(temp, &is_dir); !s.is_not_found()) {
    if (!s.ok()) return s.with_context(temp + ": checkpoint");
    return Status::InvalidArgument(
        temp + ": exists (left by a checkpoint that was interrupted?); remove it first");
  }
  // Every write acknowledged before the call is in a table once this returns.
  Status s = flush();
  if (!s.ok()) return s.with_context(dbname_ + ": checkpoint to " + dir + ": the flush failed");
  // Never shared: a directory of that name made meanwhile (by another
  // process) fails the call here rather than mix two copies.
  s = fs_->create_new_dir(temp);
  if (!s.ok()) return s.with_context("checkpoint");
  // The same DB at a point in time: the same identity.
  if (!identity_.empty()) s = write_db_identity(*fs_, temp, identity_);
  // Held until the tables are linked: files of a live version are never
  // deleted, so a compaction that finishes meanwhile cannot take them.
  std::shared_ptr<const Version> version;
  if (s.ok()) s = versions_->write_checkpoint(temp, &version);
  for (int level = 0; level < kNumLevels && s.ok(); ++level) {
    for (const FileRef& f : version->files(level)) {
      const std::string from = table_file_name(dbname_, f->number);
      const std::string to = table_file_name(temp, f->number);
      s = fs_->link_file(from, to);
      // Tables never change once written, so a second name for the same
      // bytes is a copy; where there are no links (or the copy lies on
      // another device), the bytes are copied.
      if (s.is_not_supported()) s = copy_file(*fs_, from, to);
      if (!s.ok()) break;
    }
  }
  version.reset();
  if (s.ok()) s = fs_->sync_dir(temp);
  bool renamed = false;
  if (s.ok()) {
    s = fs_->rename_file(temp, dir);
    renamed = s.ok();
  }
  if (s.ok()) s = fs_->sync_dir(parent_directory(dir));
  if (s.ok()) return Status::OK();
  // Nothing stays behind from a failed call, not even a whole copy whose
  // name may not be durable.
  const std::string& made = renamed ? dir : temp;
  std::vector<std::string> names;
  if (fs_->get_children(made, &names).ok()) {
    for (const std::string& name : names) (void)fs_->remove_file(made + "/" + name);
    (void)fs_->remove_dir(made);
  }
  return s.with_context(dbname_ + ": checkpoint to " + dir);
}

std::optional<std::string> DBImpl::property(std::string_view name) {
  const auto view = read_view();
  const Version& v = *view->version;
  // What a read would use: it covers every write acknowledged before the call.
  if (name == "fsdb.sequence") return std::to_string(publisher_.readable());
  if (name == "fsdb.db-id") {
    if (identity_.empty()) return std::nullopt;  // a DB opened read-only without one
    return identity_;
  }
  if (name == "fsdb.memtable-bytes") return std::to_string(view->mem->memory_usage());
  if (name == "fsdb.num-rotations") return std::to_string(stats_.rotations.load());
  if (name == "fsdb.num-resumes") return std::to_string(stats_.resumes.load());
  if (name == "fsdb.write-stall") {
    if (read_only_) return std::string("read-only");  // no write waits: each is refused
    std::lock_guard<std::mutex> guard(mu_);
    return std::string(write_stall_name(write_stall_condition()));
  }
  if (name == "fsdb.background-error") {
    std::lock_guard<std::mutex> guard(mu_);
    return describe_background_error();
  }
  if (name == "fsdb.compaction-error") {
    std::lock_guard<std::mutex> guard(mu_);
    return describe_compaction_error();
  }
  if (name == "fsdb.num-compaction-failures") {
    return std::to_string(stats_.compaction_failures.load());
  }
  if (name == "fsdb.num-write-groups") return std::to_string(group_commit_.stats().groups);
  if (name == "fsdb.num-flushes") return std::to_string(stats_.flushes.load());
  if (name == "fsdb.num-stalls") return std::to_string(stats_.stalls.load());
  constexpr std::string_view kFilesAtLevel = "fsdb.num-files-at-level";
  if (name.starts_with(kFilesAtLevel)) {
    const std::string_view digits = name.substr(kFilesAtLevel.size());
    if (digits.size() != 1 || digits[0] < '0' || digits[0] >= '0' + kNumLevels) {
      return std::nullopt;
    }
    return std::to_string(v.file_count(digits[0] - '0'));
  }
  if (name == "fsdb.levels") {
    std::string out = "level  files       bytes  score\n";
    for (int level = 0; level < kNumLevels; ++level) {
      char line[96];
      std::snprintf(line, sizeof(line), "L%-5d %5zu  %10s  %5.2f\n", level, v.file_count(level),
                    human_bytes(v.level_bytes(level)).c_str(),
                    compaction_score(options_, v, level));
      out += line;
    }
    return out;
  }
  if (name == "fsdb.num-compactions") return std::to_string(stats_.compactions.load());
  if (name == "fsdb.user-bytes-written") return std::to_string(stats_.writes.load(kUserBytes));
  if (name == "fsdb.flush-bytes-written") return std::to_string(stats_.flush_bytes.load());
  if (name == "fsdb.compaction-bytes-written") {
    return std::to_string(stats_.compaction_bytes_written.load());
  }
  if (name == "fsdb.compaction-pending" || name == "fsdb.num-running-compactions" ||
      name == "fsdb.num-sealed-memtables") {
    bool pending = false;
    for (int level = 0; level < kNumLevels; ++level) {
      pending = pending || compaction_score(options_, v, level) >= 1.0;
    }
    std::lock_guard<std::mutex> guard(mu_);
    if (name == "fsdb.compaction-pending") return pending ? "1" : "0";
    if (name == "fsdb.num-sealed-memtables") return std::to_string(sealed_.size());
    return std::to_string(compactions_running_ + (manual_compaction_ ? 1 : 0));
  }
  if (name == "fsdb.stats") {
    const StatsSnapshot t = stats_snapshot(*view);
    char buf[2048];
    std::snprintf(
        buf, sizeof(buf),
        "writes: %" PRIu64
        " (%s of user data)\n"
        "wal: %s written, %" PRIu64
        " syncs\n"
        "memtable: %s active, %" PRIu64 " sealed, %" PRIu64
        " rotations\n"
        "flushes: %" PRIu64
        " (%s written, %.3f s)\n"
        "compactions: %" PRIu64 " (+%" PRIu64 " moves; %s read, %s written, %.3f s; %" PRIu64
        " versions dropped; %" PRIu64
        " failed)\n"
        "write amplification: %.2f\n"
        "delays: %" PRIu64 " (%.3f s), stalls: %" PRIu64
        " (%.3f s), now %s\n"
        "block cache: %s of %s, hit rate %.1f%%, %s of memory held\n"
        "bloom filters: %" PRIu64 " checked, %" PRIu64
        " useful\n"
        "files: %" PRIu64 " (%s), %" PRIu64
        " open tables\n"
        "sequence: %" PRIu64
        "\n"
        "background error: %s\n"
        "compaction error: %s\n",
        t.writes, human_bytes(t.user_bytes).c_str(), human_bytes(t.wal_bytes).c_str(), t.wal_syncs,
        human_bytes(t.memtable_bytes).c_str(), t.sealed_memtables, t.rotations, t.flushes,
        human_bytes(t.flush_bytes).c_str(), static_cast<double>(t.flush_micros) / 1e6,
        t.compactions, t.trivial_moves, human_bytes(t.compaction_bytes_read).c_str(),
        human_bytes(t.compaction_bytes_written).c_str(),
        static_cast<double>(t.compaction_micros) / 1e6, t.versions_dropped, t.compaction_failures,
        t.write_amplification(), t.delays, static_cast<double>(t.delay_micros) / 1e6, t.stalls,
        static_cast<double>(t.stall_micros) / 1e6, t.write_stall,
        human_bytes(t.block_cache_bytes).c_str(), human_bytes(t.block_cache_capacity).c_str(),
        t.block_cache_hit_rate() * 100.0, human_bytes(t.block_cache_memory_bytes).c_str(),
        t.bloom_checks, t.bloom_useful, t.files, human_bytes(t.file_bytes).c_str(), t.open_tables,
        t.sequence, t.background_error.c_str(), t.compaction_error.c_str());
    return std::string(buf);
  }
  return std::nullopt;
}

DBImpl::StatsSnapshot DBImpl::stats_snapshot(const ReadView& view) {
  StatsSnapshot t;
  {
    std::lock_guard<std::mutex> guard(mu_);
    t.background_error = describe_background_error();
    t.compaction_error = describe_compaction_error();
    t.sealed_memtables = sealed_.size();
    t.write_stall = read_only_ ? "read-only" : write_stall_name(write_stall_condition());
  }
  // Relaxed: statistics; each is a recent value, none orders anything.
  const auto load = [](const std::atomic<uint64_t>& a) {
    return a.load(std::memory_order_relaxed);
  };
  t.writes = stats_.writes.load(kUserWrites);
  t.user_bytes = stats_.writes.load(kUserBytes);
  t.wal_bytes = stats_.writes.load(kWalBytes);
  t.wal_syncs = load(stats_.wal_syncs);
  t.memtable_bytes = view.mem->memory_usage();
  t.rotations = load(stats_.rotations);
  t.flushes = load(stats_.flushes);
  t.flush_bytes = load(stats_.flush_bytes);
  t.flush_micros = load(stats_.flush_micros);
  t.compactions = load(stats_.compactions);
  t.trivial_moves = load(stats_.trivial_moves);
  t.compaction_bytes_read = load(stats_.compaction_bytes_read);
  t.compaction_bytes_written = load(stats_.compaction_bytes_written);
  t.compaction_micros = load(stats_.compaction_micros);
  t.versions_dropped = load(stats_.versions_dropped);
  t.compaction_failures = load(stats_.compaction_failures);
  t.delays = load(stats_.delays);
  t.delay_micros = load(stats_.delay_micros);
  t.stalls = load(stats_.stalls);
  t.stall_micros = load(stats_.stall_micros);
  if (const std::shared_ptr<BlockCache>& cache = table_cache_->options().block_cache) {
    t.block_cache_bytes = cache->usage();
    t.block_cache_capacity = cache->capacity();
    t.block_cache_hits = cache->hits();
    t.block_cache_misses = cache->misses();
    t.block_cache_memory_bytes = cache->memory()->reserved_bytes();
  }
  const TableStatistics& table_stats = *table_cache_->options().statistics;
  t.bloom_checks = load(table_stats.bloom_checks);
  t.bloom_useful = load(table_stats.bloom_useful);
  t.files = view.version->total_files();
  t.file_bytes = view.version->total_bytes();
  t.open_tables = table_cache_->open_tables();
  t.sequence = publisher_.visible();
  return t;
}

bool DBImpl::map_property(std::string_view name, std::map<std::string, std::string>* values) {
  values->clear();
  if (name != "fsdb.stats") return false;
  const auto view = read_view();
  const StatsSnapshot t = stats_snapshot(*view);
  auto& m = *values;
  const auto put = [&m](const char* key, uint64_t value) { m[key] = std::to_string(value); };
  put("writes", t.writes);
  put("user_bytes_written", t.user_bytes);
  put("wal_bytes_written", t.wal_bytes);
  put("wal_syncs", t.wal_syncs);
  put("memtable_bytes", t.memtable_bytes);
  put("sealed_memtables", t.sealed_memtables);
  put("rotations", t.rotations);
  put("flushes", t.flushes);
  put("flush_bytes_written", t.flush_bytes);
  put("flush_micros", t.flush_micros);
  put("compactions", t.compactions);
  put("trivial_moves", t.trivial_moves);
  put("compaction_bytes_read", t.compaction_bytes_read);
  put("compaction_bytes_written", t.compaction_bytes_written);
  put("compaction_micros", t.compaction_micros);
  put("versions_dropped", t.versions_dropped);
  put("compaction_failures", t.compaction_failures);
  char amplification[32];
  std::snprintf(amplification, sizeof(amplification), "%.4f", t.write_amplification());
  m["write_amplification"] = amplification;
  put("delays", t.delays);
  put("delay_micros", t.delay_micros);
  put("stalls", t.stalls);
  put("stall_micros", t.stall_micros);
  m["write_stall"] = t.write_stall;
  put("block_cache_bytes", t.block_cache_bytes);
  put("block_cache_capacity", t.block_cache_capacity);
  put("block_cache_hits", t.block_cache_hits);
  put("block_cache_misses", t.block_cache_misses);
  put("block_cache_memory_bytes", t.block_cache_memory_bytes);
  put("bloom_checks", t.bloom_checks);
  put("bloom_useful", t.bloom_useful);
  put("files", t.files);
  put("file_bytes", t.file_bytes);
  put("open_tables", t.open_tables);
  put("sequence", t.sequence);
  m["background_error"] = t.background_error;
  m["compaction_error"] = t.compaction_error;
  return true;
}

void set_direct_write_hook_for_testing(DirectWriteHook hook) {
  direct_write_hook.store(hook, std::memory_order_relaxed);  // relaxed: see direct_write_hook
}

Status DBImpl::close() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (closed_) return Status::OK();
    closed_ = true;
  }
  Status result;
  {
    std::unique_lock<std::mutex> lock(mu_);
    shutting_down_ = true;
    writes_need_attention_.store(true, std::memory_order_relaxed);  // relaxed: see above
    stop_compactions_.store(true, std::memory_order_relaxed);
    bg_cv_.notify_all();
    // A compact_range() on another thread writes tables and the MANIFEST and
    // deletes files from its own thread: it must be over before the LOCK is
    // released, or its last deletion pass could remove the tables of the
    // next DB opened on this directory. It stops at its next compaction. A
    // checkpoint() reads the tables until it ends.
    bg_cv_.wait(lock, [this] { return !manual_compaction_ && checkpoints_running_ == 0; });
  }
  // A barrier through the write queue: a leader that read the fast-path flag
  // before it was raised is done with the log once this request has been led
  // (leaders run one at a time), and every later leader takes the slow path,
  // sees shutting_down_ and refuses. Only then may the log be closed (a
  // mapped log is unmapped by its close). The request itself is refused.
  (void)submit_control(/*rotate=*/false, /*sync=*/false);
  // The same for direct writers, which append under sequence_mu_: one that
  // read the flag before it was raised has appended once the lock is free,
  // and every later one sees the flag and goes to a leader, which refuses.
  { std::lock_guard<SpinMutex> guard(sequence_mu_); }
  // A direct writer that began its range before the barrier may not yet have
  // marked the memtable as holding an unlogged write (it does so after
  // releasing the lock): wait until every range has ended, so that the flush
  // below sees each acknowledged disable_wal write. No range begins any more.
  publisher_.wait_until_drained();
  // Whether open() succeeded (it starts the background threads last).
  const bool opened = bg_thread_.joinable();
  // First: its resume() may wait for the flush thread (which returns
  // once it sees shutting_down_, as resume() does).
  if (event_thread_.joinable()) event_thread_.join();
  if (bg_thread_.joinable()) bg_thread_.join();
  for (std::thread& t : compaction_threads_) t.join();
  compaction_threads_.clear();
  // Writes made without the WAL exist only in memory. Written out only now,
  // when no write can land any more: a flush before the barriers above would
  // miss a disable_wal write acknowledged while it ran.
  if (opened) result = flush_unlogged_at_close();
  // The reports the event thread did not get to (no thread makes more now).
  // A listener's write is refused: the DB is closing.
  if (options_.listener) {
    std::unique_lock<std::mutex> lock(mu_);
    while (!completed_reports_.empty()) {
      const CompletedWork work = completed_reports_.front();
      completed_reports_.pop_front();
      lock.unlock();
      deliver_completed(work);
      lock.lock();
      ++completed_reports_delivered_;
    }
  }
  if (log_ != nullptr) {
    Status s = log_->sync();
    if (result.ok()) result = s;
    s = log_->close();
    if (result.ok()) result = s;
  }
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (result.ok() && !bg_error_.ok()) result = bg_error_;
  }
  // A flush or compaction deletes the files it made obsolete, but not those a
  // Version still held then (a read in flight, an iterator): the last pass
  // happens here, with the background work stopped, so that a closed DB
  // leaves no obsolete files behind (what a user's iterator still holds
  // stays). Never after a failed open (the MANIFEST may not have been read:
  // every table would look obsolete), nor after a background error (the
  // next open decides).
  if (opened && result.ok()) delete_obsolete_files();
  // The last bytes this DB writes: nothing may touch the directory once
  // another process can lock it.
  if (versions_ != nullptr) {
    Status s = versions_->close();
    if (result.ok()) result = s;
  }
  db_lock_.reset();
  return result;
}

// ---------------------------------------------------------------- DB

Status DB::open(const Options& options, const std::string& path, std::unique_ptr<DB>* db) {
  db->reset();
  auto impl = std::make_unique<DBImpl>(options, path);
  Status s = impl->open();
  if (!s.ok()) return s;
  *db = std::move(impl);
  return Status::OK();
}

Status DB::open_read_only(const Options& options, const std::string& path,
                          std::unique_ptr<DB>* db) {
  db->reset();
  auto impl = std::make_unique<DBImpl>(options, path, DBImpl::OpenMode::kReadOnly);
  Status s = impl->open();
  if (!s.ok()) return s;
  *db = std::move(impl);
  return Status::OK();
}

Status destroy_db(const std::string& path, const Options& options) {
  std::shared_ptr<FileSystem> fs = options.file_system ? options.file_system : posix_file_system();
  std::vector<std::string> names;
  Status s = fs->get_children(path, &names);
  if (s.is_not_found()) return Status::OK();
  if (!s.ok()) return s;
  std::unique_ptr<FileLock> lock;
  s = fs->lock_file(lock_file_name(path), &lock);
  if (!s.ok()) return s.is_busy() ? Status::Busy(path + ": the DB is in use") : s;
  for (const std::string& name : names) {
    FileType type;
    uint64_t number = 0;
    if (parse_file_name(name, &type, &number) && type != FileType::kLock) {
      std::string file = path;
      file.append("/").append(name);
      Status r = fs->remove_file(file);
      if (s.ok() && !r.ok()) s = r;
    }
  }
  // The identity goes with the DB: one made again here gets another.
  for (const std::string& file : {identity_file_name(path), identity_file_name(path) + ".tmp"}) {
    Status r = fs->remove_file(file);
    if (s.ok() && !r.ok() && !r.is_not_found()) s = r;
  }
  lock.reset();
  (void)fs->remove_file(lock_file_name(path));
  // What repair_db() moved aside is the user's to delete.
  if (std::find(names.begin(), names.end(), "lost") != names.end()) return s;
  Status r = fs->remove_dir(path);
  if (s.ok() && !r.ok() && !r.is_not_found()) s = r;
  return s;
}

}  // namespace fsdb
