#include "wal/write_batch_encoding.h"

#include "util/coding.h"

namespace fsdb::wal {

void WriteBatchBuilder::clear() { rep_.assign(kWriteBatchHeaderBytes, '\0'); }

void WriteBatchBuilder::put(std::string_view key, std::string_view value) {
  encode_fixed32(rep_.data() + 8, count() + 1);
  rep_.push_back(static_cast<char>(ValueKind::kValue));
  put_length_prefixed(&rep_, key);
  put_length_prefixed(&rep_, value);
}

void WriteBatchBuilder::remove(std::string_view key) {
  encode_fixed32(rep_.data() + 8, count() + 1);
  rep_.push_back(static_cast<char>(ValueKind::kTombstone));
  put_length_prefixed(&rep_, key);
}

void WriteBatchBuilder::set_base_sequence(SequenceNumber sequence) {
  set_write_batch_base_sequence(&rep_, sequence);
}

SequenceNumber WriteBatchBuilder::base_sequence() const { return decode_fixed64(rep_.data()); }

uint32_t WriteBatchBuilder::count() const { return decode_fixed32(rep_.data() + 8); }

void set_write_batch_base_sequence(std::string* encoded, SequenceNumber sequence) {
  encode_fixed64(encoded->data(), sequence);
}

Status decode_write_batch(std::string_view encoded, DecodedWriteBatch* out) {
  if (encoded.size() < kWriteBatchHeaderBytes) {
    return Status::Corruption("write batch: " + std::to_string(encoded.size()) +
                              " bytes, shorter than its 12-byte header");
  }
  out->base_sequence = decode_fixed64(encoded.data());
  const uint32_t count = decode_fixed32(encoded.data() + 8);
  std::string_view input = encoded.substr(kWriteBatchHeaderBytes);
  // Each entry takes at least 2 bytes (kind, key length), so a count larger than
  // that allows is rejected before reserving anything for it.
  if (count > input.size() / 2) {
    return Status::Corruption("write batch: count " + std::to_string(count) + " does not fit in " +
                              std::to_string(input.size()) + " bytes of entries");
  }
  if (count > 0 && (out->base_sequence > kMaxSequenceNumber ||
                    count - 1 > kMaxSequenceNumber - out->base_sequence)) {
    return Status::Corruption("write batch: sequence numbers overflow: base " +
                              std::to_string(out->base_sequence) + ", count " +
                              std::to_string(count));
  }
  out->entries.clear();
  out->entries.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    auto bad = [&](std::string_view what) {
      return Status::Corruption("write batch: entry " + std::to_string(i) + " at byte " +
                                std::to_string(encoded.size() - input.size()) + ": " +
                                std::string(what));
    };
    if (input.empty()) return bad("missing (count says " + std::to_string(count) + ")");
    const auto kind = static_cast<uint8_t>(input.front());
    if (!is_valid_kind(kind)) return bad("unknown kind " + std::to_string(kind));
    std::string_view rest = input.substr(1);
    WriteBatchEntry entry;
    entry.kind = static_cast<ValueKind>(kind);
    if (!get_length_prefixed(&rest, &entry.key)) return bad("bad key length");
    if (entry.kind == ValueKind::kValue && !get_length_prefixed(&rest, &entry.value)) {
      return bad("bad value length");
    }
    out->entries.push_back(entry);
    input = rest;
  }
  if (!input.empty()) {
    return Status::Corruption("write batch: " + std::to_string(input.size()) +
                              " bytes after the last of " + std::to_string(count) + " entries");
  }
  return Status::OK();
}

}  // namespace fsdb::wal
