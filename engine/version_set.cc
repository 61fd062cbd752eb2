#include "engine/version_set.h"

#include <algorithm>
#include <cstdio>
#include <set>

#include "engine/filename.h"
#include "engine/version_builder.h"
#include "util/checksum.h"
#include "wal/log_reader.h"

namespace fsdb {

VersionSet::VersionSet(std::string dbname, std::shared_ptr<FileSystem> fs,
                       uint64_t max_manifest_bytes)
    : dbname_(std::move(dbname)),
      fs_(std::move(fs)),
      max_manifest_bytes_(max_manifest_bytes),
      current_(std::make_shared<const Version>()) {}

VersionSet::~VersionSet() = default;

std::shared_ptr<const Version> VersionSet::current() const {
  std::lock_guard<std::mutex> guard(mu_);
  return current_;
}

void VersionSet::install(std::shared_ptr<const Version> v) {
  std::lock_guard<std::mutex> guard(mu_);
  std::erase_if(versions_, [](const std::weak_ptr<const Version>& w) { return w.expired(); });
  versions_.push_back(v);
  current_ = std::move(v);
}

std::array<std::string, kNumLevels> VersionSet::compact_pointers() const {
  std::lock_guard<std::mutex> guard(mu_);
  return compact_pointers_;
}

std::set<uint64_t> VersionSet::live_files() const {
  // Only the list of versions is read under mu_, which current() takes: the
  // walk over their files (thousands each) happens outside it.
  std::vector<std::shared_ptr<const Version>> held;
  {
    std::lock_guard<std::mutex> guard(mu_);
    std::erase_if(versions_, [](const std::weak_ptr<const Version>& w) { return w.expired(); });
    held.reserve(versions_.size() + 1);
    for (const auto& weak : versions_) {
      if (auto v = weak.lock()) held.push_back(std::move(v));
    }
    held.push_back(current_);
  }
  std::vector<uint64_t> numbers;
  for (const auto& v : held) {
    for (int level = 0; level < kNumLevels; ++level) {
      for (const FileRef& f : v->files(level)) numbers.push_back(f->number);
    }
  }
  std::sort(numbers.begin(), numbers.end());
  numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
  return {numbers.begin(), numbers.end()};  // linear from sorted input
}

uint64_t VersionSet::manifest_bytes() const {
  std::lock_guard<std::mutex> guard(manifest_mu_);
  return manifest_ ? manifest_->size() : 0;
}

Status VersionSet::set_current_file(const std::string& dir, uint64_t manifest_number) {
  // CURRENT holds the MANIFEST's name and a newline; the newline tells a
  // complete CURRENT from a torn one.
  const std::string manifest = manifest_file_name(dir, manifest_number);
  const std::string contents = manifest.substr(dir.size() + 1) + "\n";
  const std::string temp = temp_file_name(dir, manifest_number);
  Status s = write_string_to_file(*fs_, contents, temp, /*sync=*/true);
  if (s.ok()) s = fs_->rename_file(temp, current_file_name(dir));
  if (s.ok()) s = fs_->sync_dir(dir);
  if (!s.ok()) (void)fs_->remove_file(temp);
  return s;
}

Status VersionSet::write_snapshot_manifest(const std::string& dir, uint64_t manifest_number,
                                           const Version& version, uint64_t log_number,
                                           std::unique_ptr<wal::LogWriter>* writer) {
  VersionEdit snapshot;
  version.add_all_files_to(&snapshot);
  snapshot.set_log_number(log_number);
  snapshot.set_next_file_number(next_file_number_.load(std::memory_order_relaxed));
  snapshot.set_last_sequence(last_sequence());
  const auto pointers = compact_pointers();
  for (int level = 0; level < kNumLevels; ++level) {
    if (!pointers[level].empty()) snapshot.set_compact_pointer(level, pointers[level]);
  }
  std::string record;
  snapshot.encode_to(&record);
  const std::string path = manifest_file_name(dir, manifest_number);
  Status s = wal::LogWriter::create(*fs_, path, manifest_number, {}, writer);
  if (s.ok()) s = (*writer)->add_record(record);
  if (s.ok()) s = (*writer)->sync();
  // The new MANIFEST's directory entry becomes durable with CURRENT's rename.
  if (!s.ok()) {
    writer->reset();
    (void)fs_->remove_file(path);
  }
  return s;
}

Status VersionSet::create_new() {
  std::lock_guard<std::mutex> guard(manifest_mu_);
  next_file_number_.store(2, std::memory_order_relaxed);
  Status s = write_snapshot_manifest(dbname_, 1, Version(), log_number(), &manifest_);
  if (s.ok()) s = set_current_file(dbname_, 1);
  if (s.ok()) manifest_number_.store(1, std::memory_order_relaxed);
  return s;
}

namespace {

// A MANIFEST whose first record belongs to another MANIFEST number was renamed
// or copied: its fragments carry the number they were written for, so that a
// reused file's old bytes never pass for new ones. Said plainly here, since
// "no records" or "no next file number entry" would hide the cause.
Status check_not_renamed(const std::string& path, const wal::LogReader& reader) {
  const wal::LogReadReport& report = reader.report();
  if (report.records == 0 && report.tail_kind == wal::LogTailKind::kStale &&
      report.tail.offset == 0) {
    return Status::Corruption(path + ": offset 0: " + report.tail.reason +
                              ": the file was renamed or copied from another MANIFEST number, "
                              "and is read only under the number it was written for");
  }
  return Status::OK();
}

}  // namespace

Status VersionSet::read_manifest(FileSystem& fs, const std::string& dbname, ManifestContents* out,
                                 ManifestProgress* progress) {
  std::string current;
  Status s = read_file_to_string(fs, current_file_name(dbname), &current);
  if (!s.ok()) return s;
  if (current.empty() || current.back() != '\n') {
    return Status::Corruption(current_file_name(dbname) + ": does not end with a newline");
  }
  current.pop_back();
  FileType type;
  if (!parse_file_name(current, &type, &out->number) || type != FileType::kManifest) {
    // Quoted printable: CURRENT's bytes may be anything.
    std::string quoted;
    for (const char c : current.substr(0, 64)) {
      if (c >= 0x20 && c < 0x7f && c != '\\') {
        quoted += c;
      } else {
        char hex[8];
        std::snprintf(hex, sizeof(hex), "\\x%02x", static_cast<unsigned char>(c));
        quoted += hex;
      }
    }
    return Status::Corruption(current_file_name(dbname) + ": names '" + quoted +
                              "', not a MANIFEST");
  }
  return read_manifest_file(fs, dbname + "/" + current, out->number, out, progress);
}

Status VersionSet::read_manifest_file(FileSystem& fs, const std::string& path, uint64_t number,
                                      ManifestContents* out, ManifestProgress* progress) {
  if (progress != nullptr && progress->number == number && progress->contents.version != nullptr) {
    // A MANIFEST is only appended to, so a file shorter than where the last
    // read stopped, or one whose bytes from there do not read as whole edits
    // of what it read, is another file under the same number (a DB destroyed
    // and made again at the same path numbers its files the same way), or
    // one with a damaged end: read whole, as if there were no progress, and
    // let that read decide. (A read that ends anywhere but cleanly resets
    // the progress.)
    uint64_t bytes = 0;
    if (fs.get_file_size(path, &bytes).ok() && bytes >= progress->position.offset) {
      ManifestContents resumed;
      if (read_manifest_records(fs, path, number, /*resume=*/true, &resumed, progress).ok() &&
          progress->number == number) {
        *out = std::move(resumed);
        return Status::OK();
      }
    }
    *progress = ManifestProgress{};
  }
  return read_manifest_records(fs, path, number, /*resume=*/false, out, progress);
}

Status VersionSet::read_manifest_records(FileSystem& fs, const std::string& path, uint64_t number,
                                         bool resume, ManifestContents* out,
                                         ManifestProgress* progress) {
  *out = resume ? progress->contents : ManifestContents{};
  out->path = path;
  out->number = number;
  out->dropped_tail.clear();
  std::unique_ptr<wal::LogReader> reader;
  Status s = wal::LogReader::open(fs, out->path, out->number,
                                  wal::WalRecoveryMode::kTolerateCorruptedTail, &reader);
  if (!s.ok()) return s;

  // One version at the end, not one per edit (see version_builder.h).
  VersionBuilder builder = resume ? VersionBuilder(*out->version) : VersionBuilder();
  // A read that went on from an earlier one starts with what that one had
  // (which had every entry: it succeeded).
  bool have_log = resume, have_next = resume, have_last = resume;
  std::string_view record;
  wal::LogPosition last_record_start;
  uint64_t last_record_checksum = 0;
  if (resume) {
    // The same bytes where the last read ended say this is the file it read.
    reader->resume_at(progress->last_record_start);
    if (!reader->read_record(&record) || checksum64(record) != progress->last_record_checksum ||
        reader->position().offset != progress->position.offset) {
      return Status::Corruption(out->path + ": offset " +
                                std::to_string(progress->last_record_start.offset) +
                                ": not the record an earlier read ended with");
    }
    last_record_start = progress->last_record_start;
    last_record_checksum = progress->last_record_checksum;
  }
  for (;;) {
    const wal::LogPosition record_start = reader->position();
    if (!reader->read_record(&record)) break;
    last_record_start = record_start;
    last_record_checksum = checksum64(record);
    VersionEdit edit;
    s = edit.decode_from(record);
    if (s.ok()) s = builder.apply(edit);
    if (!s.ok()) {
      return s.with_context(out->path + ": record at offset " +
                            std::to_string(reader->last_record_offset()));
    }
    for (const auto& [level, key] : edit.compact_pointers()) out->compact_pointers[level] = key;
    if (edit.log_number()) {
      have_log = true;
      out->log_number = *edit.log_number();
    }
    if (edit.next_file_number()) {
      have_next = true;
      out->next_file_number = *edit.next_file_number();
    }
    if (edit.last_sequence()) {
      have_last = true;
      out->last_sequence = *edit.last_sequence();
    }
  }
  if (!reader->status().ok()) return reader->status();
  if (!resume) {
    s = check_not_renamed(out->path, *reader);
    if (!s.ok()) return s;
  }
  if (!have_next || !have_log || !have_last) {
    return Status::Corruption(out->path + ": no " +
                              std::string(!have_next  ? "next file number"
                                          : !have_log ? "log number"
                                                      : "last sequence") +
                              " entry");
  }
  const wal::LogReadReport& report = reader->report();
  if (report.tail_kind != wal::LogTailKind::kNone &&
      report.tail_kind != wal::LogTailKind::kZeroFilled) {
    out->dropped_tail = "offset " + std::to_string(report.tail.offset) + ": " +
                        std::to_string(report.tail.bytes) + " bytes: " + report.tail.reason;
  }
  out->version = builder.build();
  if (progress != nullptr) {
    // A position is good to go on from only where no damage was met: a
    // reader that stopped at a torn end has looked past its last record.
    // (A writer's append in progress reads as one: the next read starts over.)
    if (report.tail_kind == wal::LogTailKind::kNone) {
      progress->number = number;
      progress->position = reader->position();
      progress->contents = *out;
      progress->last_record_start = last_record_start;
      progress->last_record_checksum = last_record_checksum;
    } else {
      *progress = ManifestProgress{};
    }
  }
  return Status::OK();
}

Status VersionSet::recover(bool require_first_log, bool read_only) {
  ManifestContents manifest;
  Status s = read_manifest(*fs_, dbname_, &manifest, read_only ? &progress_ : nullptr);
  if (!s.ok()) return s;
  {
    std::lock_guard<std::mutex> guard(mu_);
    compact_pointers_ = manifest.compact_pointers;
  }
  const std::string& manifest_path = manifest.path;
  const uint64_t old_manifest_number = manifest.number;
  std::shared_ptr<const Version> version = manifest.version;
  recovered_manifest_tail_ =
      manifest.dropped_tail.empty() ? std::string() : manifest.path + ": " + manifest.dropped_tail;
  const uint64_t log_number = manifest.log_number;
  uint64_t next_file = manifest.next_file_number;
  const SequenceNumber last_sequence = manifest.last_sequence;
  // The MANIFEST names a table only once it is synced, and a log only once it
  // exists; the engine deletes neither while it is named. So one that is
  // missing means the MANIFEST lost its last edits (a damaged end reads as a
  // torn write) or a file was removed by hand: refused here, before the
  // MANIFEST is rewritten or anything is replayed or deleted, so that the
  // damaged MANIFEST and the tables its lost edits named stay on disk.
  std::vector<std::string> names;
  s = fs_->get_children(dbname_, &names);
  if (!s.ok()) return s;
  std::set<uint64_t> tables;
  bool first_log_present = false;
  for (const std::string& name : names) {
    FileType file_type;
    uint64_t file_number = 0;
    if (!parse_file_name(name, &file_type, &file_number)) continue;
    // Every number on disk stays used, the new MANIFEST's below included: a
    // crash can leave a log (created by a rotation) the MANIFEST never counted.
    next_file = std::max(next_file, file_number + 1);
    if (file_type == FileType::kTable) tables.insert(file_number);
    if (file_type == FileType::kLog && file_number == log_number) first_log_present = true;
  }
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : version->files(level)) {
      if (!tables.contains(f->number)) {
        return Status::Corruption(table_file_name(dbname_, f->number) + ": missing, though " +
                                  manifest_path + " names it at level " + std::to_string(level));
      }
    }
  }
  if (require_first_log && log_number != 0 && !first_log_present) {
    return Status::Corruption(log_file_name(dbname_, log_number) + ": missing, though " +
                              manifest_path +
                              " names it as the first log to replay (the MANIFEST may have lost "
                              "its last edits; wal_recovery_mode kSkipAnyCorruptedRecords opens "
                              "without it)");
  }

  next_file = std::max(next_file, old_manifest_number + 1);
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : version->files(level)) next_file = std::max(next_file, f->number + 1);
  }
  next_file_number_.store(next_file, std::memory_order_relaxed);
  log_number_.store(log_number, std::memory_order_release);
  last_sequence_.store(last_sequence, std::memory_order_release);
  install(version);
  std::lock_guard<std::mutex> guard(manifest_mu_);
  if (read_only) {
    manifest_number_.store(old_manifest_number, std::memory_order_relaxed);
    closed_ = true;
    return Status::OK();
  }

  // A fresh MANIFEST holding the recovered version; the old one goes once
  // CURRENT names the new one.
  const uint64_t number = new_file_number();
  s = write_snapshot_manifest(dbname_, number, *version, log_number, &manifest_);
  if (s.ok()) s = set_current_file(dbname_, number);
  if (s.ok()) manifest_number_.store(number, std::memory_order_relaxed);
  if (s.ok()) (void)fs_->remove_file(manifest_path);
  return s;
}

Status VersionSet::close() {
  std::lock_guard<std::mutex> guard(manifest_mu_);
  closed_ = true;
  if (manifest_ == nullptr) return Status::OK();
  Status s = manifest_->close();
  manifest_.reset();
  return s;
}

Status VersionSet::log_and_apply(VersionEdit* edit) {
  std::lock_guard<std::mutex> guard(manifest_mu_);
  if (closed_) return Status::IOError(dbname_ + ": the MANIFEST is closed");
  if (!edit->log_number()) edit->set_log_number(log_number());
  edit->set_next_file_number(next_file_number_.load(std::memory_order_relaxed));
  edit->set_last_sequence(last_sequence());

  std::shared_ptr<const Version> next;
  Status s = current()->apply_edit(*edit, &next);
  if (!s.ok()) return s;

  // Compaction pointers are hints for picking: taking them before the edit is
  // durable is harmless, and lets a rolled-over MANIFEST include them.
  {
    std::lock_guard<std::mutex> pointers_guard(mu_);
    for (const auto& [level, key] : edit->compact_pointers()) compact_pointers_[level] = key;
  }
  if (manifest_ == nullptr || manifest_->size() >= max_manifest_bytes_) {
    // Roll over to a new MANIFEST that starts with the whole new version.
    const uint64_t number = new_file_number();
    std::unique_ptr<wal::LogWriter> writer;
    // The edit's log number, not the one before it: the edit is in the
    // snapshot's version, and its old log is deleted once this returns.
    s = write_snapshot_manifest(dbname_, number, *next, *edit->log_number(), &writer);
    if (s.ok()) s = set_current_file(dbname_, number);
    if (!s.ok()) return s;
    const uint64_t old = manifest_number_.load(std::memory_order_relaxed);
    manifest_ = std::move(writer);
    manifest_number_.store(number, std::memory_order_relaxed);
    if (old != 0) (void)fs_->remove_file(manifest_file_name(dbname_, old));
  } else {
    std::string record;
    edit->encode_to(&record);
    s = manifest_->add_record(record);
    if (s.ok()) s = manifest_->sync();
    if (!s.ok()) {
      // The MANIFEST may now end in a partial record: never append to it again.
      manifest_.reset();
      return s;
    }
  }
  if (edit->log_number()) log_number_.store(*edit->log_number(), std::memory_order_release);
  install(std::move(next));
  return Status::OK();
}

Status VersionSet::write_checkpoint(const std::string& dir,
                                    std::shared_ptr<const Version>* version) {
  // Held throughout: log_and_apply() installs versions and moves the
  // counters under it, so what is written is one state of the DB.
  std::lock_guard<std::mutex> guard(manifest_mu_);
  if (closed_) return Status::IOError(dbname_ + ": the MANIFEST is closed");
  *version = current();
  // A number no file of this DB has or will have, so none of the copy's
  // either; the copy's next file number comes after it.
  const uint64_t number = new_file_number();
  std::unique_ptr<wal::LogWriter> writer;
  Status s = write_snapshot_manifest(dir, number, **version, /*log_number=*/0, &writer);
  if (s.ok()) s = writer->close();
  if (s.ok()) s = set_current_file(dir, number);
  return s;
}

Status VersionSet::write_manifest_for_repair(uint64_t manifest_number, uint64_t temp_number,
                                             const VersionEdit& edit, bool* installed) {
  *installed = false;
  std::string record;
  edit.encode_to(&record);
  // Written whole under a temporary name first, so that a file named as a
  // MANIFEST by a repair is always complete: a later repair without CURRENT
  // may take the newest MANIFEST as the DB's state.
  const std::string path = manifest_file_name(dbname_, manifest_number);
  const std::string temp_manifest = temp_file_name(dbname_, temp_number);
  std::unique_ptr<wal::LogWriter> writer;
  Status s = wal::LogWriter::create(*fs_, temp_manifest, manifest_number, {}, &writer);
  if (s.ok()) s = writer->add_record(record);
  if (s.ok()) s = writer->sync();
  if (s.ok()) s = writer->close();
  writer.reset();
  if (s.ok()) s = fs_->rename_file(temp_manifest, path);
  if (s.ok()) s = fs_->sync_dir(dbname_);
  if (!s.ok()) {
    (void)fs_->remove_file(temp_manifest);
    (void)fs_->remove_file(path);
    return s;
  }
  // CURRENT, as set_current_file() writes it, but knowing whether the rename
  // happened: until it has, nothing names the new MANIFEST.
  const std::string contents = path.substr(dbname_.size() + 1) + "\n";
  const std::string temp = temp_file_name(dbname_, manifest_number);
  s = write_string_to_file(*fs_, contents, temp, /*sync=*/true);
  if (s.ok()) s = fs_->rename_file(temp, current_file_name(dbname_));
  if (!s.ok()) {
    // A rename that reports an error may still have happened (some file
    // systems): CURRENT says.
    std::string current;
    const Status read = read_file_to_string(*fs_, current_file_name(dbname_), &current);
    if (read.ok() ? current == contents : !read.is_not_found()) {
      // Installed, or perhaps (CURRENT does not read back): the files stay,
      // debris the next open deletes if CURRENT does not name them.
      *installed = read.ok();
      return read.ok() ? s : s.with_context("CURRENT may or may not name " + path);
    }
    (void)fs_->remove_file(temp);
    (void)fs_->remove_file(path);
    return s;
  }
  *installed = true;
  return fs_->sync_dir(dbname_);
}

Status VersionSet::dump_manifest(FileSystem& fs, const std::string& path,
                                 std::vector<std::string>* lines) {
  FileType type;
  uint64_t number = 0;
  const std::string name = path.substr(path.rfind('/') + 1);
  if (!parse_file_name(name, &type, &number) || type != FileType::kManifest) {
    return Status::InvalidArgument(path + ": not a MANIFEST file name");
  }
  std::unique_ptr<wal::LogReader> reader;
  Status s =
      wal::LogReader::open(fs, path, number, wal::WalRecoveryMode::kAbsoluteConsistency, &reader);
  if (!s.ok()) return s;
  std::string_view record;
  while (reader->read_record(&record)) {
    VersionEdit edit;
    s = edit.decode_from(record);
    if (!s.ok()) {
      return s.with_context(path + ": record at offset " +
                            std::to_string(reader->last_record_offset()));
    }
    lines->push_back("@" + std::to_string(reader->last_record_offset()) + " " +
                     edit.debug_string());
  }
  if (!reader->status().ok()) return reader->status();
  return check_not_renamed(path, *reader);
}

}  // namespace fsdb
