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

// Decodes and validates a whole batch; on error *out is unspecified and the
// status is Corruption naming the entry and what is wrong with it.
Status decode_write_batch(std::string_view encoded, DecodedWriteBatch* out);

}  // namespace fsdb::wal
