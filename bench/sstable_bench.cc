// sstable micro-benchmark: build throughput, file size, point lookups (warm
// block cache and no cache) and a full scan over one table of 1M entries with
// 16-byte keys ("%016llu") and 100-byte values that are half compressible the
// way db_bench's --compression_ratio=0.5 makes them: 50 random printable bytes
// (' ' + uniform(95)) repeated to 100.
//
// With FSDB_BENCH_PEERS the same entries are also written by RocksDB's
// SstFileWriter (zstd, 4 KiB blocks, 10-bit bloom) in the same run.
//
//   sstable_bench [num_entries] [dir] [compression_dictionary_bytes] [zstd_level]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "fsdb/env.h"
#include "sstable/block_cache.h"
#include "sstable/table_builder.h"
#include "sstable/table_reader.h"

#ifdef FSDB_BENCH_PEERS
#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/iterator.h>
#include <rocksdb/options.h>
#include <rocksdb/sst_file_reader.h>
#include <rocksdb/sst_file_writer.h>
#include <rocksdb/table.h>
#include <rocksdb/table_properties.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct Data {
  std::vector<std::string> keys;
  std::vector<std::string> values;
  uint64_t input_bytes = 0;
};

Data make_data(uint64_t n) {
  Data d;
  d.keys.reserve(n);
  d.values.reserve(n);
  std::mt19937_64 rng(301);
  char key[32];
  for (uint64_t i = 0; i < n; ++i) {
    std::snprintf(key, sizeof(key), "%016llu", static_cast<unsigned long long>(i));
    d.keys.emplace_back(key);
    std::string half(50, '\0');
    for (char& c : half) c = static_cast<char>(' ' + rng() % 95);
    d.values.push_back(half + half);
    d.input_bytes += 16 + 100;
  }
  return d;
}

// Builds the table; returns seconds. seq_of(i) gives each entry's sequence.
template <typename SeqOf>
double build(fsdb::FileSystem& fs, const std::string& path, const fsdb::TableOptions& options,
             const Data& d, SeqOf seq_of, uint64_t* file_size) {
  const auto start = Clock::now();
  std::unique_ptr<fsdb::TableBuilder> builder;
  fsdb::Status s = fsdb::TableBuilder::open(fs, path, options, &builder);
  for (size_t i = 0; s.ok() && i < d.keys.size(); ++i) {
    s = builder->add(d.keys[i], seq_of(i), fsdb::ValueKind::kValue, d.values[i]);
  }
  if (s.ok()) s = builder->finish();
  const double secs = seconds_since(start);
  if (!s.ok()) {
    std::fprintf(stderr, "build failed: %s\n", s.to_string().c_str());
    std::exit(1);
  }
  *file_size = builder->file_size();
  return secs;
}

double lookups(const fsdb::TableReader& reader, const Data& d, uint64_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  fsdb::TableGetResult result;
  uint64_t found = 0;
  const auto start = Clock::now();
  char key[32];
  for (uint64_t i = 0; i < count; ++i) {
    // Formatted on the fly, as db_bench does: reading it from a 1M-entry array
    // would add a cache miss that is not the table's.
    std::snprintf(key, sizeof(key), "%016llu",
                  static_cast<unsigned long long>(rng() % d.keys.size()));
    if (!reader.get(std::string_view(key, 16), fsdb::kMaxSequenceNumber, &result).ok()) {
      std::exit(1);
    }
    found += result.found;
  }
  const double secs = seconds_since(start);
  if (found != count) {
    std::fprintf(stderr, "lookup missed keys\n");
    std::exit(1);
  }
  return secs * 1e9 / static_cast<double>(count);
}

}  // namespace

int main(int argc, char** argv) {
  const uint64_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;
  const std::string dir = argc > 2 ? argv[2] : "/tmp";
  auto fs = fsdb::posix_file_system();
  const std::string path = dir + "/sstable_bench.sst";
  const Data d = make_data(n);
  const double input_mb = static_cast<double>(d.input_bytes) / 1e6;
  std::printf("entries: %llu, input (keys + values): %.1f MB\n", static_cast<unsigned long long>(n),
              input_mb);

  fsdb::TableOptions options;  // zstd level 3, 4 KiB blocks, 10 bits/key
  if (argc > 3) options.compression_dictionary_bytes = std::strtoull(argv[3], nullptr, 10);
  if (argc > 4) options.zstd_level = std::atoi(argv[4]);
  std::printf("compression dictionary: up to %zu bytes, zstd level %d\n",
              options.compression_dictionary_bytes, options.zstd_level);
  uint64_t size_flush = 0, size_seq0 = 0;
  std::vector<double> times;
  for (int rep = 0; rep < 3; ++rep) {
    times.push_back(build(
        *fs, path, options, d, [](size_t i) { return i + 1; }, &size_flush));
  }
  std::sort(times.begin(), times.end());
  std::printf(
      "build (sequences 1..n, as a flush writes them): median %.3f s = %.0f MB/s of input "
      "(best %.0f MB/s)\n",
      times[1], input_mb / times[1], input_mb / times[0]);
  std::printf("file size: %.2f MB (%.1f%% of input)\n", size_flush / 1e6,
              100.0 * size_flush / d.input_bytes);
  const std::string path0 = dir + "/sstable_bench_seq0.sst";
  build(
      *fs, path0, options, d, [](size_t) { return 0; }, &size_seq0);
  std::printf(
      "file size with every sequence 0 (as a bottom-level compaction or SstFileWriter "
      "writes them): %.2f MB\n",
      size_seq0 / 1e6);
  {
    std::unique_ptr<fsdb::TableReader> reader0;
    if (fsdb::TableReader::open(*fs, path0, 2, options, &reader0).ok()) {
      const fsdb::TableProperties& p = reader0->properties();
      std::printf(
          "  sequence-0 table: data blocks %llu: raw %.2f MB, stored %.2f MB; index %.2f MB; "
          "filter %.2f MB\n",
          static_cast<unsigned long long>(p.num_data_blocks), p.data_bytes_raw / 1e6,
          p.data_bytes_stored / 1e6, p.index_bytes / 1e6, p.filter_bytes / 1e6);
    }
  }
  (void)fs->remove_file(path0);

  {
    fsdb::TableOptions cached = options;
    cached.block_cache = std::make_shared<fsdb::BlockCache>(size_t{512} << 20);
    std::unique_ptr<fsdb::TableReader> reader;
    fsdb::Status s = fsdb::TableReader::open(*fs, path, 1, cached, &reader);
    if (!s.ok()) {
      std::fprintf(stderr, "%s\n", s.to_string().c_str());
      return 1;
    }
    const fsdb::TableProperties& p = reader->properties();
    std::printf(
        "  table: data blocks %llu: raw %.2f MB, stored %.2f MB; index %.2f MB; filter %.2f MB\n",
        static_cast<unsigned long long>(p.num_data_blocks), p.data_bytes_raw / 1e6,
        p.data_bytes_stored / 1e6, p.index_bytes / 1e6, p.filter_bytes / 1e6);
    // Warm the cache: every data block read once.
    auto it = reader->new_iterator();
    for (it->seek_to_first(); it->valid(); it->next()) {
    }
    const uint64_t count = std::min<uint64_t>(n, 1000000);
    const double ns = lookups(*reader, d, count, 1);
    std::printf("point lookup, warm block cache: %.0f ns/op (%llu lookups, cache hits %llu)\n", ns,
                static_cast<unsigned long long>(count),
                static_cast<unsigned long long>(cached.block_cache->hits()));

    const auto start = Clock::now();
    uint64_t entries = 0;
    for (it->seek_to_first(); it->valid(); it->next()) ++entries;
    const double secs = seconds_since(start);
    std::printf("full scan, warm cache: %.3f s, %.0f MB/s of input, %.0f ns/entry\n", secs,
                input_mb / secs, secs * 1e9 / entries);
  }
  {
    std::unique_ptr<fsdb::TableReader> reader;
    fsdb::Status s = fsdb::TableReader::open(*fs, path, 1, options, &reader);
    if (!s.ok()) return 1;
    const uint64_t count = std::min<uint64_t>(n, 200000);
    const double ns = lookups(*reader, d, count, 2);
    std::printf("point lookup, no block cache (file in the OS page cache): %.0f ns/op\n", ns);
    const auto start = Clock::now();
    auto it = reader->new_iterator(fsdb::TableReadOptions{true, false});
    uint64_t entries = 0;
    for (it->seek_to_first(); it->valid(); it->next()) ++entries;
    const double secs = seconds_since(start);
    std::printf("full scan, no block cache: %.3f s, %.0f MB/s of input\n", secs, input_mb / secs);
  }

#ifdef FSDB_BENCH_PEERS
  {
    rocksdb::Options ro;
    ro.compression = rocksdb::kZSTD;
    rocksdb::BlockBasedTableOptions table;
    table.block_size = 4096;
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    ro.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
    const std::string rpath = dir + "/sstable_bench_rocksdb.sst";
    rocksdb::SstFileWriter writer(rocksdb::EnvOptions(), ro);
    const auto start = Clock::now();
    rocksdb::Status rs = writer.Open(rpath);
    for (size_t i = 0; rs.ok() && i < d.keys.size(); ++i) rs = writer.Put(d.keys[i], d.values[i]);
    rocksdb::ExternalSstFileInfo info;
    if (rs.ok()) rs = writer.Finish(&info);
    const double secs = seconds_since(start);
    if (!rs.ok()) {
      std::fprintf(stderr, "rocksdb: %s\n", rs.ToString().c_str());
      return 1;
    }
    std::printf(
        "RocksDB SstFileWriter (zstd, 4 KiB blocks, 10-bit bloom): %.3f s = %.0f MB/s, "
        "file size %.2f MB\n",
        secs, input_mb / secs, info.file_size / 1e6);
    // Its point lookup with a warm block cache, through the only read path an
    // SstFileReader offers: an iterator seek plus a key check.
    rocksdb::BlockBasedTableOptions cached_table = table;
    cached_table.block_cache = rocksdb::NewLRUCache(size_t{512} << 20);
    rocksdb::Options cached_options = ro;
    cached_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(cached_table));
    rocksdb::SstFileReader reader(cached_options);
    if (reader.Open(rpath).ok()) {
      auto p = reader.GetTableProperties();
      std::printf(
          "  RocksDB data blocks %llu: raw %.2f MB, stored %.2f MB; index %.2f MB; filter "
          "%.2f MB\n",
          static_cast<unsigned long long>(p->num_data_blocks),
          (p->raw_key_size + p->raw_value_size) / 1e6, p->data_size / 1e6, p->index_size / 1e6,
          p->filter_size / 1e6);
      std::unique_ptr<rocksdb::Iterator> it(reader.NewIterator(rocksdb::ReadOptions()));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
      }
      const uint64_t count = std::min<uint64_t>(n, 1000000);
      std::mt19937_64 rng(1);
      char key[32];
      uint64_t found = 0;
      const auto lookup_start = Clock::now();
      for (uint64_t i = 0; i < count; ++i) {
        std::snprintf(key, sizeof(key), "%016llu",
                      static_cast<unsigned long long>(rng() % d.keys.size()));
        const rocksdb::Slice target(key, 16);
        it->Seek(target);
        found += it->Valid() && it->key() == target;
      }
      const double lookup_secs = seconds_since(lookup_start);
      std::printf(
          "  RocksDB point lookup (iterator seek), warm block cache: %.0f ns/op (%llu of "
          "%llu found)\n",
          lookup_secs * 1e9 / count, static_cast<unsigned long long>(found),
          static_cast<unsigned long long>(count));
    }
    (void)fs->remove_file(rpath);
  }
#endif
  (void)fs->remove_file(path);
  return 0;
}
