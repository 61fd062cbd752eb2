#include "engine/version_edit.h"

#include "util/coding.h"

namespace fsdb {
namespace {

// Field tags. New tags may be added; a reader rejects tags it does not know,
// because skipping an unknown field could drop a file from the version.
enum Tag : uint32_t {
  kLogNumber = 1,
  kNextFileNumber = 2,
  kLastSequence = 3,
  kCompactPointer = 4,
  kDeletedFile = 5,
  kNewFile = 6,
};

bool get_level(std::string_view* in, int* level) {
  uint32_t v = 0;
  if (!get_varint32(in, &v) || v >= static_cast<uint32_t>(kNumLevels)) return false;
  *level = static_cast<int>(v);
  return true;
}

bool get_internal_key(std::string_view* in, std::string* key) {
  std::string_view k;
  if (!get_length_prefixed(in, &k) || k.size() < kInternalKeyTrailerBytes) return false;
  ParsedInternalKey parsed;
  if (!parse_internal_key(k, &parsed)) return false;
  key->assign(k);
  return true;
}

}  // namespace

void VersionEdit::encode_to(std::string* dst) const {
  if (log_number_) {
    put_varint32(dst, kLogNumber);
    put_varint64(dst, *log_number_);
  }
  if (next_file_number_) {
    put_varint32(dst, kNextFileNumber);
    put_varint64(dst, *next_file_number_);
  }
  if (last_sequence_) {
    put_varint32(dst, kLastSequence);
    put_varint64(dst, *last_sequence_);
  }
  for (const auto& [level, key] : compact_pointers_) {
    put_varint32(dst, kCompactPointer);
    put_varint32(dst, static_cast<uint32_t>(level));
    put_length_prefixed(dst, key);
  }
  for (const auto& [level, number] : deleted_files_) {
    put_varint32(dst, kDeletedFile);
    put_varint32(dst, static_cast<uint32_t>(level));
    put_varint64(dst, number);
  }
  for (const auto& [level, f] : new_files_) {
    put_varint32(dst, kNewFile);
    put_varint32(dst, static_cast<uint32_t>(level));
    put_varint64(dst, f.number);
    put_varint64(dst, f.file_size);
    put_length_prefixed(dst, f.smallest);
    put_length_prefixed(dst, f.largest);
    put_varint64(dst, f.smallest_seq);
    put_varint64(dst, f.largest_seq);
    put_varint64(dst, f.entries);
    put_varint64(dst, f.tombstones);
  }
}

Status VersionEdit::decode_from(std::string_view src) {
  *this = VersionEdit();
  std::string_view in = src;
  while (!in.empty()) {
    const size_t offset = src.size() - in.size();
    auto corrupt = [offset](const char* field) {
      return Status::Corruption(std::string("version edit: bad ") + field + " at byte " +
                                std::to_string(offset));
    };
    uint32_t tag = 0;
    if (!get_varint32(&in, &tag)) return corrupt("tag");
    switch (tag) {
      case kLogNumber: {
        uint64_t v = 0;
        if (!get_varint64(&in, &v)) return corrupt("log number");
        log_number_ = v;
        break;
      }
      case kNextFileNumber: {
        uint64_t v = 0;
        if (!get_varint64(&in, &v)) return corrupt("next file number");
        next_file_number_ = v;
        break;
      }
      case kLastSequence: {
        uint64_t v = 0;
        if (!get_varint64(&in, &v) || v > kMaxSequenceNumber) return corrupt("last sequence");
        last_sequence_ = v;
        break;
      }
      case kCompactPointer: {
        int level = 0;
        std::string key;
        if (!get_level(&in, &level) || !get_internal_key(&in, &key)) {
          return corrupt("compact pointer");
        }
        compact_pointers_.emplace_back(level, std::move(key));
        break;
      }
      case kDeletedFile: {
        int level = 0;
        uint64_t number = 0;
        if (!get_level(&in, &level) || !get_varint64(&in, &number)) {
          return corrupt("deleted file");
        }
        deleted_files_.emplace_back(level, number);
        break;
      }
      case kNewFile: {
        int level = 0;
        FileMetaData f;
        if (!get_level(&in, &level) || !get_varint64(&in, &f.number) ||
            !get_varint64(&in, &f.file_size) || !get_internal_key(&in, &f.smallest) ||
            !get_internal_key(&in, &f.largest) || !get_varint64(&in, &f.smallest_seq) ||
            !get_varint64(&in, &f.largest_seq) || !get_varint64(&in, &f.entries) ||
            !get_varint64(&in, &f.tombstones)) {
          return corrupt("new file");
        }
        new_files_.emplace_back(level, std::move(f));
        break;
      }
      default:
        return Status::Corruption("version edit: unknown tag " + std::to_string(tag) + " at byte " +
                                  std::to_string(offset));
    }
  }
  return Status::OK();
}

std::string VersionEdit::debug_string() const {
  std::string out;
  auto field = [&out](const std::string& s) {
    if (!out.empty()) out += ' ';
    out += s;
  };
  if (log_number_) field("log=" + std::to_string(*log_number_));
  if (next_file_number_) field("next_file=" + std::to_string(*next_file_number_));
  if (last_sequence_) field("last_seq=" + std::to_string(*last_sequence_));
  for (const auto& [level, key] : compact_pointers_) {
    field("compact_pointer[L" + std::to_string(level) + "]");
  }
  for (const auto& [level, number] : deleted_files_) {
    field("-L" + std::to_string(level) + ":" + std::to_string(number));
  }
  for (const auto& [level, f] : new_files_) {
    field("+L" + std::to_string(level) + ":" + std::to_string(f.number) + "(" +
          std::to_string(f.file_size) + " bytes, seq " + std::to_string(f.smallest_seq) + ".." +
          std::to_string(f.largest_seq) + ")");
  }
  return out.empty() ? "(empty)" : out;
}

}  // namespace fsdb
