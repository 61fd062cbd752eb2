#include "tools/live_files.h"

#include "engine/filename.h"
#include "engine/version_edit.h"
#include "tools/text.h"
#include "wal/log_reader.h"

namespace fsdb::tool {

Status load_live_files(FileSystem& fs, const std::string& dir, LiveFiles* out) {
  std::string current;
  Status s = read_file_to_string(fs, current_file_name(dir), &current);
  if (!s.ok()) {
    if (!fs.file_exists(current_file_name(dir))) {
      return Status::NotFound(dir + ": not an fsdb DB (no CURRENT file)");
    }
    return s;
  }
  if (current.empty() || current.back() != '\n') {
    return Status::Corruption(current_file_name(dir) + ": does not end with a newline");
  }
  current.pop_back();
  FileType type;
  uint64_t number = 0;
  if (!parse_file_name(current, &type, &number) || type != FileType::kManifest) {
    return Status::Corruption(current_file_name(dir) + ": offset 0: does not name a MANIFEST ('" +
                              escape(current.substr(0, 64)) + "')");
  }
  out->manifest_path = dir + "/" + current;
  out->manifest_number = number;
  std::unique_ptr<wal::LogReader> reader;
  s = wal::LogReader::open(fs, out->manifest_path, number,
                           wal::WalRecoveryMode::kTolerateCorruptedTail, &reader);
  if (!s.ok()) return s;
  auto version = std::make_shared<const Version>();
  bool have_log = false, have_next = false, have_last = false;
  std::string_view record;
  while (reader->read_record(&record)) {
    VersionEdit edit;
    s = edit.decode_from(record);
    if (!s.ok()) {
      return s.with_context(out->manifest_path + ": record at offset " +
                            std::to_string(reader->last_record_offset()));
    }
    std::shared_ptr<const Version> next;
    s = version->apply_edit(edit, &next);
    if (!s.ok()) {
      return s.with_context(out->manifest_path + ": record at offset " +
                            std::to_string(reader->last_record_offset()));
    }
    version = std::move(next);
    if (edit.log_number()) out->log_number = *edit.log_number();
    if (edit.last_sequence()) out->last_sequence = *edit.last_sequence();
    if (edit.next_file_number()) out->next_file_number = *edit.next_file_number();
    have_log = have_log || edit.log_number().has_value();
    have_last = have_last || edit.last_sequence().has_value();
    have_next = have_next || edit.next_file_number().has_value();
  }
  if (!reader->status().ok()) return reader->status();
  const wal::LogReadReport& report = reader->report();
  if (report.tail_kind != wal::LogTailKind::kNone &&
      report.tail_kind != wal::LogTailKind::kZeroFilled) {
    out->dropped_tail = "offset " + std::to_string(report.tail.offset) + ": " +
                        std::to_string(report.tail.bytes) + " bytes: " + report.tail.reason;
  }
  if (!have_next || !have_log || !have_last) {
    return Status::Corruption(out->manifest_path + ": no " +
                              std::string(!have_next  ? "next file number"
                                          : !have_log ? "log number"
                                                      : "last sequence") +
                              " entry");
  }
  out->version = std::move(version);
  return Status::OK();
}

}  // namespace fsdb::tool
