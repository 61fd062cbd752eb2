// The storage engines fsdb_bench drives, behind one small interface: fsdb
// always, RocksDB and LevelDB when built with FSDB_BENCH_PEERS. Each adapter
// maps the shared BenchSettings one to one onto its engine's options and
// describes the mapping (and whatever does not map) in settings_text(), which
// fsdb_bench prints before the results.
//
// Thread-safety: put/get/new_iterator may be called from several benchmark
// threads at once (each engine is thread-safe for those); open, close and
// compact_all are called by the driver thread alone. A BenchEngine owns its
// open database; a BenchIterator must be destroyed before its engine closes.
// Errors are returned as strings (empty = success) so that the driver can name
// the engine and the operation that failed.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>

#include "fsdb/db.h"

#if FSDB_BENCH_PEERS
#include <leveldb/cache.h>
#include <leveldb/db.h>
#include <leveldb/filter_policy.h>
#include <leveldb/options.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/statistics.h>
#include <rocksdb/table.h>
#endif

namespace fsdb::bench {

struct BenchSettings {
  size_t write_buffer_bytes = 64 << 20;
  size_t block_bytes = 4096;
  int bloom_bits_per_key = 10;
  size_t block_cache_bytes = 64 << 20;
  int background_threads = 2;
  // Table files read through memory mappings (LevelDB always does on 64-bit
  // systems; fsdb's default; RocksDB's allow_mmap_reads).
  bool mmap_reads = true;
  // The WAL appended through a shared mapping (fsdb's default use_mmap_writes).
  // RocksDB keeps its default (write(2)): its mapped files sync with
  // fdatasync and then msync, two flushes per synced write; LevelDB 1.23
  // always uses write(2).
  bool mmap_writes = true;
  // Memtables that may wait for flush beside the active one: fsdb's
  // max_sealed_memtables, RocksDB's max_write_buffer_number - 1; LevelDB
  // always has one. 1 keeps the three alike.
  int immutable_memtables = 1;
  // Level sizes; 0 keeps each engine's default (LevelDB's are fixed).
  uint64_t level1_bytes = 0;
  uint64_t target_file_bytes = 0;
  // Upper bound of a table's zstd dictionary; -1 keeps each engine's default
  // (fsdb 4096, RocksDB none). RocksDB's is then built as fsdb's is: from a
  // sample of 32 blocks, with ZDICT_finalizeDictionary rather than a trainer.
  int64_t compression_dictionary_bytes = -1;
  // fsdb only: Options::light_upper_level_compression (zstd literals stored
  // raw above the bottommost level). The peers have no such setting here.
  bool light_upper_levels = true;
  // fsdb only: Options::light_upper_level_zstd_level, the zstd level of those
  // tables.
  int light_zstd_level = 1;
  // Count bytes written by flushes and compactions (RocksDB needs its
  // statistics object for that, which costs a little on every operation).
  bool count_write_volume = false;
};

// Bytes an engine wrote to tables.
struct WriteVolume {
  uint64_t flush_bytes = 0;
  uint64_t compaction_bytes = 0;
};

struct BenchWrite {
  bool sync = false;
  bool disable_wal = false;
};

enum class GetResult { kFound, kNotFound, kError };

class BenchIterator {
 public:
  virtual ~BenchIterator() = default;
  virtual void seek(std::string_view key) = 0;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  virtual void next() = 0;
  virtual void prev() = 0;
  virtual bool valid() const = 0;
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  virtual std::string error() const = 0;
};

class BenchEngine {
 public:
  virtual ~BenchEngine() = default;
  virtual std::string name() const = 0;
  virtual std::string settings_text(const BenchSettings& settings) const = 0;
  virtual std::string open(const std::string& path, const BenchSettings& settings) = 0;
  virtual std::string close() = 0;
  virtual std::string destroy(const std::string& path) = 0;
  virtual std::string put(const BenchWrite& write, std::string_view key,
                          std::string_view value) = 0;
  virtual GetResult get(std::string_view key, std::string* value, std::string* error) = 0;
  virtual std::unique_ptr<BenchIterator> new_iterator() = 0;
  virtual std::string compact_all() = 0;
  // Writes whatever the open DB holds in memory to level-0 tables.
  virtual std::string flush_memtable() = 0;
  // The engine's own description of its levels (files and bytes per level).
  virtual std::string level_stats() = 0;
  // Anything else the engine reports about itself; empty if nothing.
  virtual std::string engine_stats() { return {}; }
  // Returns once no flush or compaction is running or needed.
  virtual std::string wait_for_background() = 0;
  virtual std::string write_volume(WriteVolume* volume) = 0;
  virtual bool supports_disable_wal() const { return true; }

  // A second handle on the DB open in `path` that reads it beside the writer
  // (a secondary instance) and catches up with it on demand; `scratch` is an
  // empty directory for whatever files the engine keeps of its own.
  virtual bool supports_secondary() const { return false; }
  virtual std::string open_secondary(const std::string& /*path*/, const std::string& /*scratch*/,
                                     const BenchSettings& /*settings*/) {
    return name() + " has no secondary instance";
  }
  virtual std::string catch_up() { return name() + " has no secondary instance"; }
  virtual GetResult secondary_get(std::string_view /*key*/, std::string* /*value*/,
                                  std::string* error) {
    *error = name() + " has no secondary instance";
    return GetResult::kError;
  }
  virtual std::string close_secondary() { return {}; }
};

// ---------------------------------------------------------------- fsdb

class FsdbIterator final : public BenchIterator {
 public:
  explicit FsdbIterator(std::unique_ptr<Iterator> it) : it_(std::move(it)) {}
  void seek(std::string_view key) override { it_->seek(key); }
  void seek_to_first() override { it_->seek_to_first(); }
  void seek_to_last() override { it_->seek_to_last(); }
  void next() override { it_->next(); }
  void prev() override { it_->prev(); }
  bool valid() const override { return it_->valid(); }
  std::string_view key() const override { return it_->key(); }
  std::string_view value() const override { return it_->value(); }
  std::string error() const override {
    Status s = it_->status();
    return s.ok() ? std::string() : s.to_string();
  }

 private:
  std::unique_ptr<Iterator> it_;
};

class FsdbEngine final : public BenchEngine {
 public:
  std::string name() const override { return "fsdb"; }

  std::string settings_text(const BenchSettings& s) const override {
    // What the light tables get: at most zstd_level (3 here); 0 is zstd's default, 3.
    const int light_level = std::min(3, s.light_zstd_level == 0 ? 3 : s.light_zstd_level);
    return "fsdb: compression=zstd level 3, compression_dictionary_bytes=" +
           std::to_string(s.compression_dictionary_bytes < 0
                              ? Options().compression_dictionary_bytes
                              : static_cast<size_t>(s.compression_dictionary_bytes)) +
           ", light_upper_level_compression=" +
           (s.light_upper_levels ? "true (zstd literals raw and level " +
                                       std::to_string(light_level) + " above the bottommost level)"
                                 : std::string("false")) +
           ", block_bytes=" + std::to_string(s.block_bytes) +
           ", bloom_bits_per_key=" + std::to_string(s.bloom_bits_per_key) +
           ", block_cache_bytes=" + std::to_string(s.block_cache_bytes) +
           ", memtable_bytes=" + std::to_string(s.write_buffer_bytes) +
           ", max_sealed_memtables=" + std::to_string(s.immutable_memtables) +
           ", use_mmap_reads=" + (s.mmap_reads ? "true" : "false") +
           ", use_mmap_writes=" + (s.mmap_writes ? "true" : "false") +
           ", scan_readahead=true (a helper thread reads a scan's next blocks), helper threads "
           "that make the mapped log's room and the memtable's blocks ahead, "
           "verify_checksums=true" +
           ", leveled compaction (l0 trigger 4, level1 " +
           (s.level1_bytes ? std::to_string(s.level1_bytes) + " bytes" : std::string("256 MiB")) +
           ", files " +
           (s.target_file_bytes ? std::to_string(s.target_file_bytes) + " bytes"
                                : std::string("8 MiB")) +
           "), "
           "background threads: 1 flush + 1 compaction (fixed)";
  }

  Options make_options(const BenchSettings& s) const {
    Options options;
    options.create_if_missing = true;
    options.memtable_bytes = s.write_buffer_bytes;
    options.max_sealed_memtables = static_cast<size_t>(s.immutable_memtables);
    options.compression = Compression::kZstd;
    options.zstd_level = 3;
    if (s.compression_dictionary_bytes >= 0) {
      options.compression_dictionary_bytes = static_cast<size_t>(s.compression_dictionary_bytes);
    }
    options.block_bytes = s.block_bytes;
    options.bloom_bits_per_key = s.bloom_bits_per_key;
    options.block_cache_bytes = s.block_cache_bytes;
    options.use_mmap_reads = s.mmap_reads;
    options.use_mmap_writes = s.mmap_writes;
    options.light_upper_level_compression = s.light_upper_levels;
    options.light_upper_level_zstd_level = s.light_zstd_level;
    if (s.level1_bytes) options.level1_bytes = s.level1_bytes;
    if (s.target_file_bytes) options.target_file_bytes = s.target_file_bytes;
    return options;
  }

  std::string open(const std::string& path, const BenchSettings& s) override {
    Status st = DB::open(make_options(s), path, &db_);
    return st.ok() ? std::string() : st.to_string();
  }

  std::string close() override {
    if (!db_) return {};
    Status st = db_->close();
    db_.reset();
    return st.ok() ? std::string() : st.to_string();
  }

  std::string destroy(const std::string& path) override {
    Status st = destroy_db(path);
    return st.ok() || st.is_not_found() ? std::string() : st.to_string();
  }

  std::string put(const BenchWrite& w, std::string_view key, std::string_view value) override {
    WriteOptions options;
    options.sync = w.sync;
    options.disable_wal = w.disable_wal;
    Status st = db_->put(options, key, value);
    return st.ok() ? std::string() : st.to_string();
  }

  GetResult get(std::string_view key, std::string* value, std::string* error) override {
    Status st = db_->get(ReadOptions(), key, value);
    if (st.ok()) return GetResult::kFound;
    if (st.is_not_found()) return GetResult::kNotFound;
    *error = st.to_string();
    return GetResult::kError;
  }

  std::unique_ptr<BenchIterator> new_iterator() override {
    return std::make_unique<FsdbIterator>(db_->new_iterator(ReadOptions()));
  }

  std::string compact_all() override {
    Status st = db_->compact_range(std::nullopt, std::nullopt);
    return st.ok() ? std::string() : st.to_string();
  }

  // fsdb's recovery replays logs into the memtable while they fit in it.
  std::string flush_memtable() override {
    Status st = db_->flush();
    return st.ok() ? std::string() : st.to_string();
  }

  std::string level_stats() override { return db_->property("fsdb.levels").value_or(""); }
  // fsdb's own counters too (block-cache hit rate, bloom filters, stalls).
  std::string engine_stats() override { return db_->property("fsdb.stats").value_or(""); }

  std::string wait_for_background() override {
    Status st = db_->flush();
    if (!st.ok()) return st.to_string();
    while (number("fsdb.compaction-pending") != 0 || number("fsdb.num-running-compactions") != 0 ||
           number("fsdb.num-sealed-memtables") != 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return {};
  }

  std::string write_volume(WriteVolume* volume) override {
    volume->flush_bytes = number("fsdb.flush-bytes-written");
    volume->compaction_bytes = number("fsdb.compaction-bytes-written");
    return {};
  }

  bool supports_secondary() const override { return true; }
  std::string open_secondary(const std::string& path, const std::string& /*scratch*/,
                             const BenchSettings& s) override {
    Status st = DB::open_as_secondary(make_options(s), path, &secondary_);
    return st.ok() ? std::string() : st.to_string();
  }
  std::string catch_up() override {
    Status st = secondary_->try_catch_up_with_primary();
    return st.ok() ? std::string() : st.to_string();
  }
  GetResult secondary_get(std::string_view key, std::string* value, std::string* error) override {
    Status st = secondary_->get(ReadOptions(), key, value);
    if (st.ok()) return GetResult::kFound;
    if (st.is_not_found()) return GetResult::kNotFound;
    *error = st.to_string();
    return GetResult::kError;
  }
  std::string close_secondary() override {
    if (!secondary_) return {};
    Status st = secondary_->close();
    secondary_.reset();
    return st.ok() ? std::string() : st.to_string();
  }

 private:
  uint64_t number(const char* property) {
    return std::stoull(db_->property(property).value_or("0"));
  }

  std::unique_ptr<DB> db_;
  std::unique_ptr<DB> secondary_;
};

#if FSDB_BENCH_PEERS

// ---------------------------------------------------------------- RocksDB

class RocksIterator final : public BenchIterator {
 public:
  explicit RocksIterator(rocksdb::Iterator* it) : it_(it) {}
  void seek(std::string_view key) override { it_->Seek(rocksdb::Slice(key.data(), key.size())); }
  void seek_to_first() override { it_->SeekToFirst(); }
  void seek_to_last() override { it_->SeekToLast(); }
  void next() override { it_->Next(); }
  void prev() override { it_->Prev(); }
  bool valid() const override { return it_->Valid(); }
  std::string_view key() const override {
    rocksdb::Slice k = it_->key();
    return {k.data(), k.size()};
  }
  std::string_view value() const override {
    rocksdb::Slice v = it_->value();
    return {v.data(), v.size()};
  }
  std::string error() const override {
    rocksdb::Status s = it_->status();
    return s.ok() ? std::string() : s.ToString();
  }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksEngine final : public BenchEngine {
 public:
  std::string name() const override { return "rocksdb"; }

  std::string settings_text(const BenchSettings& s) const override {
    return "rocksdb " + std::to_string(ROCKSDB_MAJOR) + "." + std::to_string(ROCKSDB_MINOR) +
           ": compression=zstd (default level 3), " +
           (s.compression_dictionary_bytes > 0
                ? "max_dict_bytes=" + std::to_string(s.compression_dictionary_bytes) +
                      " (use_zstd_dict_trainer=false, zstd_max_train_bytes=max_dict_buffer_bytes=" +
                      std::to_string(32 * s.block_bytes) + ")"
                : std::string("max_dict_bytes=0 (default: no dictionary)")) +
           ", block_size=" + std::to_string(s.block_bytes) +
           (s.bloom_bits_per_key > 0
                ? ", bloom bits_per_key=" + std::to_string(s.bloom_bits_per_key) + " (full filter)"
                : std::string(", no filter")) +
           (s.block_cache_bytes > 0 ? ", LRU block_cache=" + std::to_string(s.block_cache_bytes)
                                    : std::string(", no_block_cache=true")) +
           ", write_buffer_size=" + std::to_string(s.write_buffer_bytes) +
           ", max_write_buffer_number=" + std::to_string(s.immutable_memtables + 1) +
           ", allow_mmap_reads=" + (s.mmap_reads ? "true" : "false") +
           ", allow_mmap_writes=false (default; mapped files sync twice)" +
           ", verify_checksums=true (default)" + ", leveled compaction (l0 trigger 4, level1 " +
           (s.level1_bytes ? std::to_string(s.level1_bytes) + " bytes"
                           : std::string("256 MiB (default)")) +
           ", files " +
           (s.target_file_bytes ? std::to_string(s.target_file_bytes) + " bytes"
                                : std::string("64 MiB (default)")) +
           "), "
           "max_background_jobs=" +
           std::to_string(s.background_threads);
  }

  rocksdb::Options make_options(const BenchSettings& s) const {
    rocksdb::Options options;
    options.create_if_missing = true;
    options.compression = rocksdb::kZSTD;
    if (s.compression_dictionary_bytes > 0) {
      options.compression_opts.max_dict_bytes =
          static_cast<uint32_t>(s.compression_dictionary_bytes);
      options.compression_opts.zstd_max_train_bytes = static_cast<uint32_t>(32 * s.block_bytes);
      options.compression_opts.max_dict_buffer_bytes = 32 * s.block_bytes;
      options.compression_opts.use_zstd_dict_trainer = false;
    }
    options.write_buffer_size = s.write_buffer_bytes;
    options.max_write_buffer_number = s.immutable_memtables + 1;
    options.compaction_style = rocksdb::kCompactionStyleLevel;
    options.max_background_jobs = s.background_threads;
    options.allow_mmap_reads = s.mmap_reads;
    options.allow_mmap_writes = false;  // see BenchSettings::mmap_writes
    if (s.level1_bytes) options.max_bytes_for_level_base = s.level1_bytes;
    if (s.target_file_bytes) options.target_file_size_base = s.target_file_bytes;
    if (s.count_write_volume) options.statistics = rocksdb::CreateDBStatistics();
    rocksdb::BlockBasedTableOptions table;
    table.block_size = s.block_bytes;
    if (s.bloom_bits_per_key > 0) {  // 0: no filter, as for fsdb
      table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(s.bloom_bits_per_key, false));
    }
    if (s.block_cache_bytes > 0) {
      table.block_cache = rocksdb::NewLRUCache(s.block_cache_bytes);
    } else {
      table.no_block_cache = true;  // 0: no cache, as for fsdb
    }
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    return options;
  }

  std::string open(const std::string& path, const BenchSettings& s) override {
    rocksdb::DB* db = nullptr;
    rocksdb::Status st = rocksdb::DB::Open(make_options(s), path, &db);
    if (!st.ok()) return st.ToString();
    db_.reset(db);
    return {};
  }

  std::string close() override {
    if (!db_) return {};
    rocksdb::Status st = db_->Close();
    db_.reset();
    return st.ok() ? std::string() : st.ToString();
  }

  std::string destroy(const std::string& path) override {
    rocksdb::Status st = rocksdb::DestroyDB(path, rocksdb::Options());
    return st.ok() ? std::string() : st.ToString();
  }

  std::string put(const BenchWrite& w, std::string_view key, std::string_view value) override {
    rocksdb::WriteOptions options;
    options.sync = w.sync;
    options.disableWAL = w.disable_wal;
    rocksdb::Status st = db_->Put(options, rocksdb::Slice(key.data(), key.size()),
                                  rocksdb::Slice(value.data(), value.size()));
    return st.ok() ? std::string() : st.ToString();
  }

  GetResult get(std::string_view key, std::string* value, std::string* error) override {
    rocksdb::Status st =
        db_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), value);
    if (st.ok()) return GetResult::kFound;
    if (st.IsNotFound()) return GetResult::kNotFound;
    *error = st.ToString();
    return GetResult::kError;
  }

  std::unique_ptr<BenchIterator> new_iterator() override {
    return std::make_unique<RocksIterator>(db_->NewIterator(rocksdb::ReadOptions()));
  }

  std::string compact_all() override {
    rocksdb::Status st = db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
    return st.ok() ? std::string() : st.ToString();
  }

  // A no-op after a reopen: RocksDB flushes recovered memtables while opening.
  std::string flush_memtable() override {
    rocksdb::Status st = db_->Flush(rocksdb::FlushOptions());
    return st.ok() ? std::string() : st.ToString();
  }

  std::string level_stats() override {
    std::string stats;
    db_->GetProperty("rocksdb.levelstats", &stats);
    return stats;
  }

  std::string wait_for_background() override {
    rocksdb::Status st = db_->Flush(rocksdb::FlushOptions());
    if (!st.ok()) return st.ToString();
    auto busy = [&] {
      uint64_t pending = 0, compactions = 0, flushes = 0;
      db_->GetIntProperty("rocksdb.compaction-pending", &pending);
      db_->GetIntProperty("rocksdb.num-running-compactions", &compactions);
      db_->GetIntProperty("rocksdb.num-running-flushes", &flushes);
      return pending + compactions + flushes > 0;
    };
    while (busy()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return {};
  }

  std::string write_volume(WriteVolume* volume) override {
    const std::shared_ptr<rocksdb::Statistics> stats = db_->GetOptions().statistics;
    if (!stats) return "rocksdb: opened without statistics (count_write_volume)";
    volume->flush_bytes = stats->getTickerCount(rocksdb::FLUSH_WRITE_BYTES);
    volume->compaction_bytes = stats->getTickerCount(rocksdb::COMPACT_WRITE_BYTES);
    return {};
  }

  bool supports_secondary() const override { return true; }
  std::string open_secondary(const std::string& path, const std::string& scratch,
                             const BenchSettings& s) override {
    rocksdb::Options options = make_options(s);
    options.create_if_missing = false;
    options.max_open_files = -1;  // RocksDB's secondary keeps every table open
    rocksdb::DB* db = nullptr;
    rocksdb::Status st = rocksdb::DB::OpenAsSecondary(options, path, scratch, &db);
    if (!st.ok()) return st.ToString();
    secondary_.reset(db);
    return {};
  }
  std::string catch_up() override {
    rocksdb::Status st = secondary_->TryCatchUpWithPrimary();
    return st.ok() ? std::string() : st.ToString();
  }
  GetResult secondary_get(std::string_view key, std::string* value, std::string* error) override {
    rocksdb::Status st =
        secondary_->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), value);
    if (st.ok()) return GetResult::kFound;
    if (st.IsNotFound()) return GetResult::kNotFound;
    *error = st.ToString();
    return GetResult::kError;
  }
  std::string close_secondary() override {
    if (!secondary_) return {};
    rocksdb::Status st = secondary_->Close();
    secondary_.reset();
    return st.ok() ? std::string() : st.ToString();
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::unique_ptr<rocksdb::DB> secondary_;
};

// ---------------------------------------------------------------- LevelDB

class LevelIterator final : public BenchIterator {
 public:
  explicit LevelIterator(leveldb::Iterator* it) : it_(it) {}
  void seek(std::string_view key) override { it_->Seek(leveldb::Slice(key.data(), key.size())); }
  void seek_to_first() override { it_->SeekToFirst(); }
  void seek_to_last() override { it_->SeekToLast(); }
  void next() override { it_->Next(); }
  void prev() override { it_->Prev(); }
  bool valid() const override { return it_->Valid(); }
  std::string_view key() const override {
    leveldb::Slice k = it_->key();
    return {k.data(), k.size()};
  }
  std::string_view value() const override {
    leveldb::Slice v = it_->value();
    return {v.data(), v.size()};
  }
  std::string error() const override {
    leveldb::Status s = it_->status();
    return s.ok() ? std::string() : s.ToString();
  }

 private:
  std::unique_ptr<leveldb::Iterator> it_;
};

class LevelEngine final : public BenchEngine {
 public:
  std::string name() const override { return "leveldb"; }

  std::string settings_text(const BenchSettings& s) const override {
    return "leveldb " + std::to_string(leveldb::kMajorVersion) + "." +
           std::to_string(leveldb::kMinorVersion) +
           ": compression=snappy (Debian's LevelDB 1.23 has no zstd; no dictionaries), "
           "block_size=" +
           std::to_string(s.block_bytes) +
           (s.bloom_bits_per_key > 0
                ? ", bloom bits_per_key=" + std::to_string(s.bloom_bits_per_key)
                : std::string(", no filter")) +
           ", LRU block_cache=" + std::to_string(s.block_cache_bytes) +
           ", write_buffer_size=" + std::to_string(s.write_buffer_bytes) +
           " (one memtable waits for flush: fixed), verify_checksums=true" +
           ", leveled compaction (fixed: l0 trigger 4, level1 10 MiB; 2 MiB files), "
           "background threads: 1 (fixed; LevelDB has no setting), no WAL-off option, "
           "table files always mmapped, the log always written with write(2) (no settings)";
  }

  std::string open(const std::string& path, const BenchSettings& s) override {
    // 0 bits: no filter, as for fsdb.
    filter_.reset(s.bloom_bits_per_key > 0 ? leveldb::NewBloomFilterPolicy(s.bloom_bits_per_key)
                                           : nullptr);
    cache_.reset(leveldb::NewLRUCache(s.block_cache_bytes));
    leveldb::Options options;
    options.create_if_missing = true;
    options.compression = leveldb::kSnappyCompression;
    options.write_buffer_size = s.write_buffer_bytes;
    options.block_size = s.block_bytes;
    options.filter_policy = filter_.get();
    options.block_cache = cache_.get();
    leveldb::DB* db = nullptr;
    leveldb::Status st = leveldb::DB::Open(options, path, &db);
    if (!st.ok()) return st.ToString();
    db_.reset(db);
    return {};
  }

  std::string close() override {
    db_.reset();
    cache_.reset();
    filter_.reset();
    return {};
  }

  std::string destroy(const std::string& path) override {
    leveldb::Status st = leveldb::DestroyDB(path, leveldb::Options());
    return st.ok() ? std::string() : st.ToString();
  }

  std::string put(const BenchWrite& w, std::string_view key, std::string_view value) override {
    leveldb::WriteOptions options;
    options.sync = w.sync;
    leveldb::Status st = db_->Put(options, leveldb::Slice(key.data(), key.size()),
                                  leveldb::Slice(value.data(), value.size()));
    return st.ok() ? std::string() : st.ToString();
  }

  GetResult get(std::string_view key, std::string* value, std::string* error) override {
    leveldb::Status st = db_->Get(read_options(), leveldb::Slice(key.data(), key.size()), value);
    if (st.ok()) return GetResult::kFound;
    if (st.IsNotFound()) return GetResult::kNotFound;
    *error = st.ToString();
    return GetResult::kError;
  }

  std::unique_ptr<BenchIterator> new_iterator() override {
    return std::make_unique<LevelIterator>(db_->NewIterator(read_options()));
  }

  std::string compact_all() override {
    db_->CompactRange(nullptr, nullptr);
    return {};
  }

  // Blocks checksummed as fsdb's and RocksDB's reads do (LevelDB's default
  // skips it).
  static leveldb::ReadOptions read_options() {
    leveldb::ReadOptions options;
    options.verify_checksums = true;
    return options;
  }

  // LevelDB has no flush call; it writes each recovered log to a level-0
  // table while opening, which is the only case fsdb_bench needs.
  std::string flush_memtable() override { return {}; }

  std::string level_stats() override {
    std::string stats;
    db_->GetProperty("leveldb.stats", &stats);
    return stats;
  }

  // LevelDB has no flush call and no property for pending work: compactions
  // are done when two readings of its per-level figures a moment apart agree.
  std::string wait_for_background() override {
    std::string before = level_stats();
    for (;;) {
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      std::string now = level_stats();
      if (now == before) return {};
      before = std::move(now);
    }
  }

  // leveldb.stats: one row per level, "level files size(MB) time(s) read(MB)
  // write(MB)", in MiB. Level 0's write column is what memtable flushes wrote,
  // except that LevelDB puts a flush that overlaps nothing one or two levels
  // deeper and counts it there: the split is approximate, the total is not.
  std::string write_volume(WriteVolume* volume) override {
    std::istringstream in(level_stats());
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream row(line);
      int level = 0;
      double files = 0, size = 0, time = 0, read = 0, write = 0;
      if (!(row >> level >> files >> size >> time >> read >> write)) continue;
      const auto bytes = static_cast<uint64_t>(write * 1048576.0);
      (level == 0 ? volume->flush_bytes : volume->compaction_bytes) += bytes;
    }
    return {};
  }

  bool supports_disable_wal() const override { return false; }

 private:
  // Declared before db_ so that the database is destroyed first.
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::Cache> cache_;
  std::unique_ptr<leveldb::DB> db_;
};

#endif  // FSDB_BENCH_PEERS

}  // namespace fsdb::bench
