// Options for opening a DB, and per-call options for reads and writes.
//
// Every field has a default that suits a general-purpose embedded store;
// DB::open checks each value and answers InvalidArgument naming the field when
// one is out of range.
#pragma once

#include <cstddef>
#include <memory>

#include "fsdb/env.h"

namespace fsdb {

class Snapshot;

enum class Compression { kNone, kZstd };

struct Options {
  bool create_if_missing = true;
  bool error_if_exists = false;
  size_t memtable_bytes = 64 << 20;  // auto-seal threshold of the active memtable
  size_t memtable_max_entries = 0;   // 0 = no count threshold
  size_t memtable_shards = 0;        // 0 = hardware threads
  size_t max_sealed_memtables = 2;   // more than this waiting for flush: writers wait
  Compression compression = Compression::kZstd;
  int zstd_level = 3;
  size_t block_bytes = 4096;
  int bloom_bits_per_key = 10;  // 0 = no filter
  size_t block_cache_bytes = 64 << 20;
  int l0_compaction_trigger = 4;
  int l0_slowdown_writes_trigger = 8;       // each write waits 1 ms from here on
  int l0_stop_writes_trigger = 12;          // writes wait for compaction from here on
  size_t level1_bytes = 256 << 20;          // level n+1 targets 10x level n
  size_t target_file_bytes = 8 << 20;       // compaction splits its output at about this size
  std::shared_ptr<FileSystem> file_system;  // null = posix
};

struct WriteOptions {
  bool sync = false;         // fdatasync the WAL before acknowledging
  bool disable_wal = false;  // skip the log: lost on a crash until flushed
};

struct ReadOptions {
  const Snapshot* snapshot = nullptr;  // null = the latest state
  bool verify_checksums = true;
  bool fill_cache = true;
};

}  // namespace fsdb
