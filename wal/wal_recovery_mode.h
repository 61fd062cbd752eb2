// How the log reader treats damage it finds while replaying a write-ahead log
// (the RocksDB modes). The default suits a crash: a torn or zero-filled tail is
// expected and dropped; anything worse is an error. docs/wal.md has the table.
// A plain enum: thread-safe to copy and compare.
#pragma once

#include <cstdint>
#include <string_view>

namespace fsdb::wal {

enum class WalRecoveryMode : uint8_t {
  // A damaged tail (no valid fragment after the damage) is dropped and reported;
  // damage with valid data after it is Corruption.
  kTolerateCorruptedTail,
  // Only zero-filled space or a recycled file's stale fragments may follow the
  // last record; a torn tail or any damage is Corruption.
  kAbsoluteConsistency,
  // Stop at the first damage wherever it is and report it: the records returned
  // form a consistent prefix of the log. Never Corruption.
  kPointInTime,
  // Skip every damaged record (each range is reported) and go on with the next
  // valid one. Can lose records from the middle of the log.
  kSkipAnyCorruptedRecords,
};

std::string_view wal_recovery_mode_name(WalRecoveryMode mode);

}  // namespace fsdb::wal
