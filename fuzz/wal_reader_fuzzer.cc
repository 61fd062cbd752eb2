// Feeds arbitrary bytes to LogReader as log 7 in every recovery mode: no crash,
// hang, over-read or sanitizer report, and the modes must agree with each other.
// Each record is also handed to the write-batch decoder, as recovery does.
//
// Random bytes almost never carry a valid checksum, so each input is read twice:
// as a log file, and as a script that builds a log of valid fragments (of any
// type and order, for this log or a stale one) mixed with zeros and garbage.
// The second form reaches the fragment-sequence, stale and skip logic.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tests/wal_test_files.h"
#include "wal/log_format.h"
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

// Script: repeated (op, flags, length, payload bytes...). op 0xF0 appends
// `length` zeros, op 0xF1 the payload bytes raw; any other op appends one valid
// fragment of type 1 + op % 5 for log 7 (flags bit 0 clear: stale log 5) whose
// payload is the bytes repeated `length` times over when flags bit 1 is set,
// cut to what fits in the block (a sync mark's: its first 8 bytes, zero-padded,
// a synced offset). The writer's zero trailer is honoured.
std::string build_log(std::string_view script) {
  using namespace fsdb::wal;
  std::string log;
  // Four blocks are enough to cross every kind of boundary; more only slows runs.
  while (script.size() >= 3 && log.size() < 4 * kBlockBytes) {
    const auto op = static_cast<uint8_t>(script[0]);
    const auto flags = static_cast<uint8_t>(script[1]);
    const auto length = static_cast<uint8_t>(script[2]);
    script.remove_prefix(3);
    const std::string_view bytes = script.substr(0, length);
    script.remove_prefix(bytes.size());
    if (op == 0xF0) {
      log.append(length, '\0');
      continue;
    }
    if (op == 0xF1) {
      log.append(bytes);
      continue;
    }
    size_t left = kBlockBytes - log.size() % kBlockBytes;
    if (left < kHeaderBytes) {
      log.append(left, '\0');
      left = kBlockBytes;
    }
    std::string payload(bytes);
    if ((flags & 2) != 0 && !bytes.empty()) {
      for (int i = 0; i < 128; ++i) payload.append(bytes);
    }
    const auto type = static_cast<FragmentType>(1 + op % 5);
    if (type == FragmentType::kSyncMark) {
      if (left < kHeaderBytes + kSyncMarkPayloadBytes) continue;
      payload.resize(kSyncMarkPayloadBytes);
    }
    payload.resize(std::min(payload.size(), left - kHeaderBytes));
    const size_t at = log.size();
    log.append(kHeaderBytes, '\0');
    log.append(payload);
    encode_fragment_header(log.data() + at, type, (flags & 1) != 0 ? 7 : 5, payload.size());
  }
  return log;
}

void check_all_modes(std::string_view bytes) {
  const size_t size = bytes.size();
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
    // An unsynced tail starts at or past every offset a believed mark says
    // was synced; a mark never claims an offset past itself.
    if (o->status.ok() && o->report.tail_kind == LogTailKind::kUnsynced) {
      check(o->report.has_sync_marks && o->report.synced_through <= o->report.tail.offset);
    }
    check(o->report.synced_through <= size);
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
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  check_all_modes(input);
  check_all_modes(build_log(input));
  return 0;
}
