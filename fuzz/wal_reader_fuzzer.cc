// Feeds arbitrary bytes to LogReader as log 7 in every recovery mode: no crash,
// hang, over-read or sanitizer report, and the modes must agree with each other.
// Each record is also handed to the write-batch decoder, as recovery does.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/wal_test_files.h"
#include "wal/log_reader.h"
#include "wal/write_batch_encoding.h"

namespace {

using fsdb::wal::LogReader;
using fsdb::wal::LogReadReport;
using fsdb::wal::LogTailKind;
using fsdb::wal::WalRecoveryMode;

struct Outcome {
  fsdb::Status status;
  std::vector<std::string> records;
  LogReadReport report;
};

Outcome read_all(std::string_view bytes, WalRecoveryMode mode) {
  Outcome out;
  LogReader reader(std::make_unique<fsdb::wal::test::StringRandomAccessFile>(bytes), 7, mode);
  std::string_view record;
  while (reader.read_record(&record)) {
    out.records.emplace_back(record);
    fsdb::wal::DecodedWriteBatch batch;
    (void)fsdb::wal::decode_write_batch(record, &batch);
  }
  out.status = reader.status();
  out.report = reader.report();
  return out;
}

void check(bool condition) {
  if (!condition) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const Outcome tolerate = read_all(bytes, WalRecoveryMode::kTolerateCorruptedTail);
  const Outcome absolute = read_all(bytes, WalRecoveryMode::kAbsoluteConsistency);
  const Outcome point = read_all(bytes, WalRecoveryMode::kPointInTime);
  const Outcome skip = read_all(bytes, WalRecoveryMode::kSkipAnyCorruptedRecords);

  for (const Outcome* o : {&tolerate, &absolute, &point, &skip}) {
    check(o->status.ok() || o->status.is_corruption() || o->status.is_not_supported());
    if (o->status.ok()) check(o->report.records == o->records.size());
    if (o->status.ok() && o->report.tail_kind != LogTailKind::kNone) {
      check(o->report.tail.offset + o->report.tail.bytes == size);
    }
  }
  // Every mode reads the same records up to the first damage.
  if (point.status.ok()) {
    if (tolerate.status.ok()) check(tolerate.records == point.records);
    if (absolute.status.ok()) check(absolute.records == point.records);
    check(skip.records.size() >= point.records.size());
  }
  if (absolute.status.ok()) check(tolerate.status.ok() && tolerate.records == absolute.records);
  if (point.status.ok() && point.report.tail_kind == LogTailKind::kNone) {
    check(tolerate.status.ok() && skip.records == point.records);
  }
  return 0;
}
