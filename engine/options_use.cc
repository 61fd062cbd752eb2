#include "engine/options_use.h"

#include <memory>
#include <string>

#include "sstable/block_cache.h"

namespace fsdb {
namespace {
constexpr size_t kMaxMemtableShards = 256;
}  // namespace

Status validate_options(const Options& options, const std::string& path) {
  auto bad = [](const std::string& what) { return Status::InvalidArgument(what); };
  if (options.memtable_bytes < 4096) {
    return bad("memtable_bytes must be at least 4096, not " +
               std::to_string(options.memtable_bytes));
  }
  // A memtable's arena holds at least 4 GiB whatever the entries (skiplist.h);
  // half of that leaves room for the entry that crosses the threshold.
  if (options.memtable_bytes > (size_t{2} << 30)) {
    return bad("memtable_bytes must be at most 2 GiB, not " +
               std::to_string(options.memtable_bytes));
  }
  if (options.memtable_shards > kMaxMemtableShards) {
    // Each memtable has this many arena shards, and the check before every
    // write sums their usage.
    return bad("memtable_shards must be at most " + std::to_string(kMaxMemtableShards) +
               " (0 = one per hardware thread), not " + std::to_string(options.memtable_shards));
  }
  if (options.max_sealed_memtables < 1) return bad("max_sealed_memtables must be at least 1");
  if (options.compression != Compression::kNone && options.compression != Compression::kZstd) {
    return bad("compression must be kNone or kZstd, not " +
               std::to_string(static_cast<int>(options.compression)));
  }
  switch (options.wal_recovery_mode) {
    case WalRecoveryMode::kTolerateCorruptedTail:
    case WalRecoveryMode::kAbsoluteConsistency:
    case WalRecoveryMode::kPointInTime:
    case WalRecoveryMode::kSkipAnyCorruptedRecords:
      break;
    default:
      return bad("wal_recovery_mode is not one of the four modes, but " +
                 std::to_string(static_cast<int>(options.wal_recovery_mode)));
  }
  if (options.block_bytes < 256 || options.block_bytes > (64u << 20)) {
    return bad("block_bytes must be between 256 and 64 MiB, not " +
               std::to_string(options.block_bytes));
  }
  if (options.zstd_level < -7 || options.zstd_level > 22) {
    return bad("zstd_level must be between -7 and 22, not " + std::to_string(options.zstd_level));
  }
  if (options.light_upper_level_zstd_level < -7 || options.light_upper_level_zstd_level > 22) {
    return bad("light_upper_level_zstd_level must be between -7 and 22, not " +
               std::to_string(options.light_upper_level_zstd_level));
  }
  if (options.compression_dictionary_bytes != 0 &&
      (options.compression_dictionary_bytes < 256 ||
       options.compression_dictionary_bytes > (1u << 20))) {
    return bad("compression_dictionary_bytes must be 0 or between 256 and 1 MiB, not " +
               std::to_string(options.compression_dictionary_bytes));
  }
  if (options.bloom_bits_per_key < 0 || options.bloom_bits_per_key > 64) {
    return bad("bloom_bits_per_key must be between 0 and 64, not " +
               std::to_string(options.bloom_bits_per_key));
  }
  if (options.l0_compaction_trigger < 1) return bad("l0_compaction_trigger must be at least 1");
  if (options.l0_slowdown_writes_trigger < options.l0_compaction_trigger) {
    return bad("l0_slowdown_writes_trigger must be at least l0_compaction_trigger");
  }
  if (options.l0_stop_writes_trigger < options.l0_slowdown_writes_trigger) {
    return bad("l0_stop_writes_trigger must be at least l0_slowdown_writes_trigger");
  }
  if (options.target_file_bytes < 4096) return bad("target_file_bytes must be at least 4096");
  if (options.max_background_compactions < 1 || options.max_background_compactions > 16) {
    return bad("max_background_compactions must be between 1 and 16, not " +
               std::to_string(options.max_background_compactions));
  }
  if (options.level1_bytes < 4096) return bad("level1_bytes must be at least 4096");
  if (options.background_error_resume_interval_ms < 1) {
    return bad("background_error_resume_interval_ms must be at least 1");
  }
  if (path.empty()) return bad("path is empty");
  return Status::OK();
}

TableOptions table_options_from(const Options& options) {
  TableOptions t;
  t.block_bytes = options.block_bytes;
  t.compression = options.compression;
  t.zstd_level = options.zstd_level;
  t.compression_dictionary_bytes = options.compression_dictionary_bytes;
  t.bloom_bits_per_key = options.bloom_bits_per_key;
  t.use_mmap_reads = options.use_mmap_reads;
  if (options.block_cache_bytes > 0) {
    t.block_cache = std::make_shared<BlockCache>(options.block_cache_bytes);
  }
  t.statistics = std::make_shared<TableStatistics>();
  return t;
}

}  // namespace fsdb
