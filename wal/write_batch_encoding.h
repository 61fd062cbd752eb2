// The encoding of a write batch: the payload of one WAL record, and what
// fsdb::WriteBatch holds in memory so that the write path copies nothing.
//
//   offset  size  field
//   0       8     base sequence number, fixed64 little-endian
//   8       4     entry count, fixed32 little-endian
//   12      ...   entries, each:
//                   1 byte   kind (ValueKind: 0 = tombstone, 1 = value)
//                   varint   key length, then the key bytes
//                   varint   value length, then the value bytes (kind 1 only)
//
// Entry i gets sequence base + i. A decoder accepts a batch only if the count
// matches the entries exactly, every length stays inside the batch, no byte
// follows the last entry, and base + count - 1 fits in a sequence number.
//
// Thread safety: WriteBatchBuilder is a plain value (one thread at a time);
// decode_write_batch is a pure function.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fsdb/status.h"
#include "util/coding.h"
#include "util/internal_key.h"

namespace fsdb::wal {

inline constexpr size_t kWriteBatchHeaderBytes = 12;

// Appends entries to an encoded batch.
class WriteBatchBuilder {
 public:
  WriteBatchBuilder() { clear(); }

  void put(std::string_view key, std::string_view value);
  void remove(std::string_view key);
  // Back to an empty batch with base sequence 0.
  void clear();

  // The group-commit leader stamps each batch with its first sequence number.
  void set_base_sequence(SequenceNumber sequence);
  SequenceNumber base_sequence() const;
  uint32_t count() const;

  // The encoded batch: what goes into a WAL record.
  std::string_view encoded() const { return rep_; }
  size_t encoded_bytes() const { return rep_.size(); }

 private:
  std::string rep_;
};

// Stamps the base sequence into an encoded batch (at least the header long).
void set_write_batch_base_sequence(std::string* encoded, SequenceNumber sequence);

struct WriteBatchEntry {
  ValueKind kind = ValueKind::kValue;
  std::string_view key;
  std::string_view value;  // empty for a tombstone
};

struct DecodedWriteBatch {
  SequenceNumber base_sequence = 0;
  std::vector<WriteBatchEntry> entries;  // views into the encoded batch
};

// Validates a whole batch and calls visit(entry) for each entry in order (the
// views point into `encoded`). Returns OK, or Corruption naming the entry and
// what is wrong with it; entries before a damaged one have been visited, so a
// caller that must be all-or-nothing validates first (decode_write_batch) or
// knows the batch is well formed (it built it).
template <typename Visit>
Status for_each_write_batch_entry(std::string_view encoded, SequenceNumber* base_sequence,
                                  Visit&& visit);

// Decodes and validates a whole batch; on error *out is unspecified and the
// status is Corruption naming the entry and what is wrong with it.
Status decode_write_batch(std::string_view encoded, DecodedWriteBatch* out);

namespace detail {
// Corruption of `encoded` at entry `index`, at byte `offset`.
Status write_batch_entry_error(size_t index, size_t offset, std::string_view what);
Status write_batch_header_error(std::string_view encoded);
}  // namespace detail

template <typename Visit>
Status for_each_write_batch_entry(std::string_view encoded, SequenceNumber* base_sequence,
                                  Visit&& visit) {
  if (encoded.size() < kWriteBatchHeaderBytes) return detail::write_batch_header_error(encoded);
  const SequenceNumber base = decode_fixed64(encoded.data());
  *base_sequence = base;
  const uint32_t count = decode_fixed32(encoded.data() + 8);
  std::string_view input = encoded.substr(kWriteBatchHeaderBytes);
  // Each entry takes at least 2 bytes (kind, key length).
  if (count > input.size() / 2 ||
      (count > 0 && (base > kMaxSequenceNumber || count - 1 > kMaxSequenceNumber - base))) {
    return detail::write_batch_header_error(encoded);
  }
  for (uint32_t i = 0; i < count; ++i) {
    const size_t offset = encoded.size() - input.size();
    if (input.empty()) {
      return detail::write_batch_entry_error(i, offset,
                                             "missing (count says " + std::to_string(count) + ")");
    }
    const auto kind = static_cast<uint8_t>(input.front());
    if (!is_valid_kind(kind)) {
      return detail::write_batch_entry_error(i, offset, "unknown kind " + std::to_string(kind));
    }
    input.remove_prefix(1);
    WriteBatchEntry entry;
    entry.kind = static_cast<ValueKind>(kind);
    if (!get_length_prefixed(&input, &entry.key)) {
      return detail::write_batch_entry_error(i, offset, "bad key length");
    }
    if (entry.kind == ValueKind::kValue && !get_length_prefixed(&input, &entry.value)) {
      return detail::write_batch_entry_error(i, offset, "bad value length");
    }
    visit(entry);
  }
  if (!input.empty()) {
    return Status::Corruption("write batch: " + std::to_string(input.size()) +
                              " bytes after the last of " + std::to_string(count) + " entries");
  }
  return Status::OK();
}

}  // namespace fsdb::wal
