// How the log reader treats damage it finds while replaying a write-ahead log
// (the RocksDB modes). The default suits a crash: a torn or zero-filled tail is
// expected and dropped; anything worse is an error. docs/wal.md has the table.
// A plain enum: thread-safe to copy and compare.
#pragma once

#include <cstdint>
#include <string_view>

#include "fsdb/options.h"

namespace fsdb::wal {

// The enum is public (fsdb::WalRecoveryMode in include/fsdb/options.h): the
// engine's Options choose the mode its recovery uses.
using fsdb::WalRecoveryMode;

std::string_view wal_recovery_mode_name(WalRecoveryMode mode);

}  // namespace fsdb::wal
