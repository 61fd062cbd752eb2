#include "wal/log_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "util/coding.h"
#include "wal/log_format.h"

namespace fsdb::wal {

std::string_view wal_recovery_mode_name(WalRecoveryMode mode) {
  switch (mode) {
    case WalRecoveryMode::kTolerateCorruptedTail:
      return "tolerate-corrupted-tail";
    case WalRecoveryMode::kAbsoluteConsistency:
      return "absolute-consistency";
    case WalRecoveryMode::kPointInTime:
      return "point-in-time";
    case WalRecoveryMode::kSkipAnyCorruptedRecords:
      return "skip-any-corrupted-records";
  }
  return "unknown";
}

std::string_view log_tail_kind_name(LogTailKind kind) {
  switch (kind) {
    case LogTailKind::kNone:
      return "none";
    case LogTailKind::kTorn:
      return "torn";
    case LogTailKind::kZeroFilled:
      return "zero-filled";
    case LogTailKind::kStale:
      return "stale";
    case LogTailKind::kCorruption:
      return "corruption";
    case LogTailKind::kUnsynced:
      return "unsynced";
  }
  return "unknown";
}

namespace {
// Blocks read per pread: large enough that a sequential replay costs few calls.
constexpr size_t kChunkBlocks = 8;

// Version 1 had no sync marks.
bool is_known_type(uint8_t version, uint8_t type) {
  if (type == static_cast<uint8_t>(FragmentType::kSyncMark)) return version >= 2;
  return type != 0 && type <= kMaxFragmentType;
}
}  // namespace

// A run of whole blocks read with one pread.
struct LogReader::Chunk {
  std::string data;
  uint64_t first_block = 0;
  uint64_t blocks = 0;  // 0 = empty
};

enum class LogReader::Parse : uint8_t {
  kFragment,  // a valid fragment of this log
  kTrailer,   // a zero block trailer: go on at the next block
  kBad,       // damage: see Fragment::reason
  kStale,     // valid checksum, another log number
};

struct LogReader::Fragment {
  Parse result = Parse::kBad;
  FragmentType type = FragmentType::kZero;
  std::string_view payload;  // into the main chunk
  uint64_t next = 0;         // offset after this fragment (or trailer)
  std::string reason;
};

LogReader::LogReader(std::unique_ptr<RandomAccessFile> file, uint64_t log_number,
                     WalRecoveryMode mode)
    : file_(std::move(file)),
      log_number_(log_number),
      mode_(mode),
      main_(std::make_unique<Chunk>()),
      scan_(std::make_unique<Chunk>()) {
  Status s = file_->size(&file_size_);
  if (!s.ok()) stop(std::move(s));
}

LogReader::~LogReader() = default;

Status LogReader::open(FileSystem& fs, const std::string& path, uint64_t log_number,
                       WalRecoveryMode mode, std::unique_ptr<LogReader>* reader) {
  std::unique_ptr<RandomAccessFile> file;
  Status s = fs.new_random_access_file(path, &file);
  if (!s.ok()) return s;
  *reader = std::make_unique<LogReader>(std::move(file), log_number, mode);
  return (*reader)->status();
}

void LogReader::resume_at(const LogPosition& position) {
  offset_ = position.offset;
  report_.valid_bytes = position.offset;
  report_.has_sync_marks = report_.has_sync_marks || position.has_sync_marks;
  report_.synced_through = std::max(report_.synced_through, position.synced_through);
}

Status LogReader::block_view(Chunk& chunk, uint64_t block_index, std::string_view* block) {
  const uint64_t total_blocks = (file_size_ + kBlockBytes - 1) / kBlockBytes;
  if (block_index >= total_blocks) {
    *block = {};
    return Status::OK();
  }
  if (chunk.blocks == 0 || block_index < chunk.first_block ||
      block_index >= chunk.first_block + chunk.blocks) {
    uint64_t blocks = std::min<uint64_t>(kChunkBlocks, total_blocks - block_index);
    const uint64_t start = block_index * kBlockBytes;
    size_t want = static_cast<size_t>(std::min<uint64_t>(blocks * kBlockBytes, file_size_ - start));
    chunk.data.resize(want);
    chunk.blocks = 0;
    std::string_view got;
    Status s = file_->read(start, want, &got, chunk.data.data());
    if (!s.ok()) return s;
    if (got.size() != want) {
      if (!live_ || got.size() > want) {
        return Status::IOError(file_->path() + ": short read at offset " + std::to_string(start) +
                               ": the file shrank while being read");
      }
      // The writer closed the log and trimmed it: its data ends here.
      file_size_ = start + got.size();
      want = got.size();
      chunk.data.resize(want);
      if (want == 0) {
        *block = {};
        return Status::OK();
      }
      blocks = (want + kBlockBytes - 1) / kBlockBytes;
    }
    if (got.data() != chunk.data.data()) std::memcpy(chunk.data.data(), got.data(), want);
    chunk.first_block = block_index;
    chunk.blocks = blocks;
  }
  const size_t at = static_cast<size_t>((block_index - chunk.first_block) * kBlockBytes);
  *block = std::string_view(chunk.data).substr(at, kBlockBytes);
  return Status::OK();
}

Status LogReader::parse_fragment(uint64_t offset, Fragment* f) {
  const uint64_t block_index = offset / kBlockBytes;
  const size_t in_block = static_cast<size_t>(offset % kBlockBytes);
  std::string_view block;
  Status s = block_view(*main_, block_index, &block);
  if (!s.ok()) return s;
  const std::string_view rest = block.substr(std::min(in_block, block.size()));
  f->payload = {};
  f->reason.clear();

  if (kBlockBytes - in_block < kHeaderBytes) {
    // The writer zero-fills a trailer too small for a header; anything else there
    // is damage (the bytes carry no checksum, so they must be exactly zero).
    if (std::all_of(rest.begin(), rest.end(), [](char c) { return c == 0; })) {
      f->result = Parse::kTrailer;
      f->next = (block_index + 1) * kBlockBytes;
    } else {
      f->result = Parse::kBad;
      f->reason = "non-zero block trailer";
    }
    return Status::OK();
  }
  if (rest.size() < kHeaderBytes) {
    f->result = Parse::kBad;
    f->reason = "fragment header cut off by the end of the file";
    return Status::OK();
  }
  const char* h = rest.data();
  if (std::all_of(h, h + kHeaderBytes, [](char c) { return c == 0; })) {
    f->result = Parse::kBad;
    f->reason = "zero-filled space";
    return Status::OK();
  }
  const size_t length = decode_fixed16(h + header_offset::kLength);
  if (in_block + kHeaderBytes + length > kBlockBytes) {
    f->result = Parse::kBad;
    f->reason = "fragment length " + std::to_string(length) + " overruns its block";
    return Status::OK();
  }
  if (kHeaderBytes + length > rest.size()) {
    f->result = Parse::kBad;
    f->reason = "fragment cut off by the end of the file";
    return Status::OK();
  }
  if (decode_fixed32(h + header_offset::kChecksum) != fragment_checksum(h, length)) {
    f->result = Parse::kBad;
    f->reason = "checksum mismatch";
    return Status::OK();
  }
  const auto version = static_cast<uint8_t>(h[header_offset::kVersion]);
  if (version < kOldestLogFormatVersion || version > kLogFormatVersion) {
    return Status::NotSupported(
        file_->path() + ": offset " + std::to_string(offset) + ": log format version " +
        std::to_string(version) + " (this build reads versions " +
        std::to_string(kOldestLogFormatVersion) + " to " + std::to_string(kLogFormatVersion) + ")");
  }
  const auto type = static_cast<uint8_t>(h[header_offset::kType]);
  if (!is_known_type(version, type)) {
    f->result = Parse::kBad;
    f->reason = "unknown fragment type " + std::to_string(type);
    return Status::OK();
  }
  if (static_cast<FragmentType>(type) == FragmentType::kSyncMark &&
      length > kSyncMarkPayloadBytes) {
    f->result = Parse::kBad;
    f->reason = "sync mark of " + std::to_string(length) + " bytes";
    return Status::OK();
  }
  const uint64_t written_for = decode_fixed64(h + header_offset::kLogNumber);
  if (written_for != log_number_) {
    f->result = Parse::kStale;
    f->reason = "stale fragment of log " + std::to_string(written_for);
    return Status::OK();
  }
  f->result = Parse::kFragment;
  f->type = static_cast<FragmentType>(type);
  f->payload = std::string_view(h + kHeaderBytes, length);
  f->next = offset + kHeaderBytes + length;
  note_fragment(version, type, f->payload, offset);
  return Status::OK();
}

void LogReader::note_fragment(uint8_t version, uint8_t type, std::string_view payload,
                              uint64_t offset) {
  if (version >= 2) report_.has_sync_marks = true;
  if (type != static_cast<uint8_t>(FragmentType::kSyncMark) ||
      payload.size() != kSyncMarkPayloadBytes) {
    return;  // not a mark, or one that pads a block
  }
  // The writer marks only offsets before the mark itself: a mark that claims
  // more was not written by it for this place (a valid fragment found inside
  // damage can be one of another log's, whose number collides).
  const uint64_t synced = decode_fixed64(payload.data());
  if (synced <= offset) report_.synced_through = std::max(report_.synced_through, synced);
}

Status LogReader::scan_sync_marks(uint64_t from, uint64_t enough) {
  while (report_.synced_through <= enough) {
    std::optional<uint64_t> found;
    Status s = find_next_valid_fragment(from, &found);
    if (!s.ok() || !found.has_value()) return s;
    std::string_view block;
    s = block_view(*scan_, *found / kBlockBytes, &block);
    if (!s.ok()) return s;
    const char* h = block.data() + *found % kBlockBytes;
    const size_t length = decode_fixed16(h + header_offset::kLength);
    note_fragment(static_cast<uint8_t>(h[header_offset::kVersion]),
                  static_cast<uint8_t>(h[header_offset::kType]),
                  std::string_view(h + kHeaderBytes, length), *found);
    from = *found + kHeaderBytes + length;
  }
  return Status::OK();
}

Status LogReader::find_next_valid_fragment(uint64_t from, std::optional<uint64_t>* found) {
  found->reset();
  // Every header carries the 8-byte log number, so memmem for it finds the few
  // candidates quickly; only they pay for a checksum.
  char needle[8];
  encode_fixed64(needle, log_number_);
  for (uint64_t block_index = from / kBlockBytes; block_index * kBlockBytes < file_size_;
       ++block_index) {
    std::string_view block;
    Status s = block_view(*scan_, block_index, &block);
    if (!s.ok()) return s;
    const uint64_t block_start = block_index * kBlockBytes;
    size_t pos = from > block_start ? static_cast<size_t>(from - block_start) : 0;
    while (pos + kHeaderBytes <= block.size()) {
      const size_t search_from = pos + header_offset::kLogNumber;
      const void* hit =
          ::memmem(block.data() + search_from, block.size() - search_from, needle, sizeof(needle));
      if (hit == nullptr) break;
      const size_t at = static_cast<size_t>(static_cast<const char*>(hit) - block.data()) -
                        header_offset::kLogNumber;
      pos = at + 1;
      if (at + kHeaderBytes > block.size()) break;
      const char* h = block.data() + at;
      const auto version = static_cast<uint8_t>(h[header_offset::kVersion]);
      if (version < kOldestLogFormatVersion || version > kLogFormatVersion) continue;
      if (!is_known_type(version, static_cast<uint8_t>(h[header_offset::kType]))) continue;
      const size_t length = decode_fixed16(h + header_offset::kLength);
      if (at + kHeaderBytes + length > block.size()) continue;
      if (decode_fixed32(h + header_offset::kChecksum) != fragment_checksum(h, length)) continue;
      *found = block_start + at;
      return Status::OK();
    }
  }
  return Status::OK();
}

Status LogReader::is_all_zero(uint64_t from, uint64_t to, bool* zero) {
  *zero = true;
  for (uint64_t at = from; at < to;) {
    std::string_view block;
    Status s = block_view(*scan_, at / kBlockBytes, &block);
    if (!s.ok()) return s;
    const size_t begin = static_cast<size_t>(at % kBlockBytes);
    const size_t end = static_cast<size_t>(std::min<uint64_t>(block.size(), begin + (to - at)));
    for (size_t i = begin; i < end; ++i) {
      if (block[i] != 0) {
        *zero = false;
        return Status::OK();
      }
    }
    at += end - begin;
    if (end == begin) break;
  }
  return Status::OK();
}

bool LogReader::stop(Status s) {
  if (status_.ok()) status_ = std::move(s);
  done_ = true;
  return false;
}

bool LogReader::on_bad_spot(uint64_t region_start, uint64_t fragment_offset, bool fragment_valid,
                            bool fragment_starts_record, bool stale, std::string reason) {
  if (fragment_offset != region_start) {
    reason += " (fragment at offset " + std::to_string(fragment_offset) + ")";
  }
  // A valid but misplaced fragment is itself proof that the log goes on.
  std::optional<uint64_t> next_valid;
  if (fragment_valid) {
    next_valid = fragment_offset;
  } else {
    Status s = find_next_valid_fragment(fragment_offset + 1, &next_valid);
    if (!s.ok()) return stop(std::move(s));
  }
  if (mode_ == WalRecoveryMode::kSkipAnyCorruptedRecords && skip_start_.has_value()) {
    region_start = *skip_start_;  // this damage continues the range being skipped
    reason = skip_reason_;
  }

  auto end_with_tail = [&](LogTailKind kind) {
    report_.tail_kind = kind;
    report_.tail = DroppedRange{region_start, file_size_ - region_start, reason};
    skip_start_.reset();
    in_record_ = false;
    done_ = true;
    return false;
  };
  auto corruption = [&] {
    return stop(Status::Corruption(file_->path() + ": offset " + std::to_string(region_start) +
                                   ": " + reason));
  };

  LogTailKind kind = LogTailKind::kCorruption;
  if (next_valid.has_value() && (mode_ == WalRecoveryMode::kTolerateCorruptedTail ||
                                 mode_ == WalRecoveryMode::kPointInTime)) {
    // Was the damage ever synced? Only the marks after it can say so.
    Status s = scan_sync_marks(*next_valid, region_start);
    if (!s.ok()) return stop(std::move(s));
    if (report_.has_sync_marks) {
      const std::string synced = std::to_string(report_.synced_through);
      if (report_.synced_through <= region_start) {
        kind = LogTailKind::kUnsynced;
        reason +=
            "; valid fragments follow it, but no sync covered it or them (the log was "
            "synced through offset " +
            synced +
            "): a power cut leaves such an end when the disk keeps a later unsynced page "
            "and loses an earlier one";
      } else {
        reason += " (in synced data: the log was synced through offset " + synced + ")";
      }
    }
  }
  if (!next_valid.has_value()) {
    bool zero = false;
    Status s = is_all_zero(region_start, file_size_, &zero);
    if (!s.ok()) return stop(std::move(s));
    if (zero) {
      kind = LogTailKind::kZeroFilled;
    } else if (stale && region_start == fragment_offset) {
      kind = LogTailKind::kStale;
    } else {
      kind = LogTailKind::kTorn;
    }
  }

  switch (mode_) {
    case WalRecoveryMode::kTolerateCorruptedTail:
      if (kind == LogTailKind::kCorruption) return corruption();
      return end_with_tail(kind);
    case WalRecoveryMode::kAbsoluteConsistency:
      if (kind == LogTailKind::kZeroFilled || kind == LogTailKind::kStale) {
        return end_with_tail(kind);
      }
      return corruption();
    case WalRecoveryMode::kPointInTime:
      return end_with_tail(kind);
    case WalRecoveryMode::kSkipAnyCorruptedRecords: {
      if (kind != LogTailKind::kCorruption) return end_with_tail(kind);
      if (!skip_start_.has_value()) {
        skip_start_ = region_start;
        skip_reason_ = reason;
      }
      in_record_ = false;
      if (fragment_starts_record) {
        offset_ = fragment_offset;  // the partial record before it is what is dropped
        return true;
      }
      if (fragment_valid) {
        // An orphan MIDDLE or LAST: skip it and look further.
        Status s = find_next_valid_fragment(fragment_offset + 1, &next_valid);
        if (!s.ok()) return stop(std::move(s));
        if (!next_valid.has_value()) return end_with_tail(LogTailKind::kTorn);
      }
      offset_ = *next_valid;
      return true;
    }
  }
  return corruption();
}

bool LogReader::read_record(std::string_view* record) {
  if (done_) return false;
  Fragment f;
  while (true) {
    if (offset_ >= file_size_) {
      if (in_record_) {
        if (on_bad_spot(record_start_, offset_, false, false, false,
                        "record cut off by the end of the file")) {
          continue;
        }
        return false;
      }
      if (skip_start_.has_value()) {
        // Damage skipped and nothing valid after it: it was the tail after all.
        report_.tail_kind = LogTailKind::kTorn;
        report_.tail = DroppedRange{*skip_start_, file_size_ - *skip_start_, skip_reason_};
        skip_start_.reset();
      }
      done_ = true;
      return false;
    }
    Status s = parse_fragment(offset_, &f);
    if (!s.ok()) return stop(std::move(s));

    if (f.result == Parse::kTrailer) {
      offset_ = f.next;
      continue;
    }
    if (f.result != Parse::kFragment) {
      const uint64_t region = in_record_ ? record_start_ : offset_;
      if (on_bad_spot(region, offset_, false, false, f.result == Parse::kStale,
                      std::move(f.reason))) {
        continue;
      }
      return false;
    }

    // A sync mark stands between records, as a record's start does.
    const bool starts_record = f.type == FragmentType::kFull || f.type == FragmentType::kFirst ||
                               f.type == FragmentType::kSyncMark;
    if (starts_record == in_record_) {
      // A FULL or FIRST inside a record (its end was lost), or a MIDDLE or LAST
      // outside one (its start was lost).
      const uint64_t region = in_record_ ? record_start_ : offset_;
      std::string reason = in_record_ ? (f.type == FragmentType::kSyncMark
                                             ? "record never finished: a sync mark follows"
                                             : "record never finished: a new record starts")
                                      : "record fragment without its first fragment";
      if (on_bad_spot(region, offset_, true, starts_record, false, std::move(reason))) continue;
      return false;
    }

    const uint64_t fragment_offset = offset_;
    offset_ = f.next;
    switch (f.type) {
      case FragmentType::kSyncMark:
        continue;  // parse_fragment noted its offset
      case FragmentType::kFull:
        *record = f.payload;
        last_record_offset_ = fragment_offset;
        break;
      case FragmentType::kFirst:
        in_record_ = true;
        record_start_ = fragment_offset;
        assembled_.assign(f.payload);
        continue;
      case FragmentType::kMiddle:
        assembled_.append(f.payload);
        continue;
      case FragmentType::kLast:
        assembled_.append(f.payload);
        in_record_ = false;
        *record = assembled_;
        last_record_offset_ = record_start_;
        break;
      case FragmentType::kZero:
        break;  // parse_fragment never returns it as a fragment
    }
    if (skip_start_.has_value()) {
      report_.skipped.push_back(
          DroppedRange{*skip_start_, last_record_offset_ - *skip_start_, skip_reason_});
      skip_start_.reset();
    }
    ++report_.records;
    report_.valid_bytes = offset_;
    return true;
  }
}

}  // namespace fsdb::wal
