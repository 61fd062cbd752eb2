#include "wal/write_batch_encoding.h"

#include <algorithm>

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

namespace detail {

Status write_batch_entry_error(size_t index, size_t offset, std::string_view what) {
  return Status::Corruption("write batch: entry " + std::to_string(index) + " at byte " +
                            std::to_string(offset) + ": " + std::string(what));
}

Status write_batch_header_error(std::string_view encoded) {
  if (encoded.size() < kWriteBatchHeaderBytes) {
    return Status::Corruption("write batch: " + std::to_string(encoded.size()) +
                              " bytes, shorter than its 12-byte header");
  }
  const SequenceNumber base = decode_fixed64(encoded.data());
  const uint32_t count = decode_fixed32(encoded.data() + 8);
  const size_t entry_bytes = encoded.size() - kWriteBatchHeaderBytes;
  if (count > entry_bytes / 2) {
    return Status::Corruption("write batch: count " + std::to_string(count) + " does not fit in " +
                              std::to_string(entry_bytes) + " bytes of entries");
  }
  return Status::Corruption("write batch: sequence numbers overflow: base " + std::to_string(base) +
                            ", count " + std::to_string(count));
}

}  // namespace detail

Status decode_write_batch(std::string_view encoded, DecodedWriteBatch* out) {
  out->entries.clear();
  if (encoded.size() >= kWriteBatchHeaderBytes) {
    // Bounded by the size check in for_each_write_batch_entry (2 bytes an entry).
    out->entries.reserve(std::min<size_t>(decode_fixed32(encoded.data() + 8),
                                          (encoded.size() - kWriteBatchHeaderBytes) / 2));
  }
  return for_each_write_batch_entry(encoded, &out->base_sequence,
                                    [&](const WriteBatchEntry& e) { out->entries.push_back(e); });
}

}  // namespace fsdb::wal
