// Feeds arbitrary bytes to the write-batch decoder: no crash or over-read, and
// every batch it accepts re-encodes to a batch that decodes to the same entries.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "wal/write_batch_encoding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using fsdb::wal::DecodedWriteBatch;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  DecodedWriteBatch decoded;
  if (!fsdb::wal::decode_write_batch(input, &decoded).ok()) return 0;

  fsdb::wal::WriteBatchBuilder rebuilt;
  for (const auto& entry : decoded.entries) {
    // Entries point into the input and never past it.
    if (entry.key.data() < input.data() ||
        entry.key.data() + entry.key.size() > input.data() + input.size()) {
      std::abort();
    }
    if (entry.kind == fsdb::ValueKind::kValue) {
      rebuilt.put(entry.key, entry.value);
    } else {
      rebuilt.remove(entry.key);
    }
  }
  rebuilt.set_base_sequence(decoded.base_sequence);
  DecodedWriteBatch again;
  if (!fsdb::wal::decode_write_batch(rebuilt.encoded(), &again).ok()) std::abort();
  if (again.base_sequence != decoded.base_sequence ||
      again.entries.size() != decoded.entries.size()) {
    std::abort();
  }
  for (size_t i = 0; i < again.entries.size(); ++i) {
    if (again.entries[i].kind != decoded.entries[i].kind ||
        again.entries[i].key != decoded.entries[i].key ||
        again.entries[i].value != decoded.entries[i].value) {
      std::abort();
    }
  }
  return 0;
}
