// WAL throughput against the raw disk, measured in the same run:
//   1. appends of 116-byte records without sync (payload GB/s) vs write(2) of
//      1 MiB blocks to the same directory (what `dd bs=1M` does), and the
//      replay of that log with LogReader;
//   2. synced appends from 1, 2 and 4 threads through group commit vs the rate
//      of write(2) + fdatasync of one record at a time;
//   3. with FSDB_BENCH_PEERS, RocksDB puts with sync = true from 1, 2, 4 threads.
//
//   wal_bench [dir]   (default $FSDB_BENCH_DIR or ./wal_bench_data; must be on
//                      the disk to measure, not tmpfs)
//   FSDB_BENCH_SECONDS  seconds per synced configuration (default 10), split in
//                      FSDB_BENCH_ROUNDS interleaved rounds (default 50)
//   FSDB_BENCH_MIB      MiB of payload per unsynced run (default 512)
//   FSDB_BENCH_SPIN=1   keep one thread spinning during the synced runs. On a
//                       virtual machine whose CPUs are idle, each fdatasync
//                       completion waits for a vCPU to be woken, which can make
//                       a sync cost milliseconds instead of ~250 us; the spinner
//                       measures the disk rather than that wake-up.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/env.h"
#include "wal/group_commit.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

#ifdef FSDB_BENCH_PEERS
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#endif

namespace {

using Clock = std::chrono::steady_clock;
constexpr size_t kRecordBytes = 116;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double env_double(const char* name, double fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::strtod(v, nullptr) : fallback;
}

void die(const std::string& what) {
  (void)std::fprintf(stderr, "wal_bench: %s\n", what.c_str());
  std::exit(1);
}

void check(const fsdb::Status& s) {
  if (!s.ok()) die(s.to_string());
}

// write(2) of 1 MiB blocks, no sync: bytes per second.
double raw_write_rate(const std::string& path, uint64_t total) {
  std::string block(1 << 20, 'd');
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open " + path);
  const auto start = Clock::now();
  for (uint64_t done = 0; done < total; done += block.size()) {
    if (::write(fd, block.data(), block.size()) != static_cast<ssize_t>(block.size())) {
      die("write " + path);
    }
  }
  const double secs = seconds_since(start);
  ::close(fd);
  ::unlink(path.c_str());
  return static_cast<double>(total) / secs;
}

// LogWriter::add_record of 116-byte records, then one flush: payload bytes per second.
double wal_append_rate(fsdb::FileSystem& fs, const std::string& path, uint64_t total) {
  std::unique_ptr<fsdb::wal::LogWriter> writer;
  check(fsdb::wal::LogWriter::create(fs, path, 1, {}, &writer));
  std::string record(kRecordBytes, 'r');
  const auto start = Clock::now();
  uint64_t done = 0;
  for (uint64_t i = 0; done < total; ++i, done += kRecordBytes) {
    record[i % kRecordBytes] = static_cast<char>(i);
    check(writer->add_record(record));
  }
  check(writer->flush());
  const double secs = seconds_since(start);
  check(writer->close());
  return static_cast<double>(done) / secs;
}

// LogReader over the log wal_append_rate left (in the page cache), in the
// default recovery mode: payload bytes per second. Removes the log.
double wal_replay_rate(fsdb::FileSystem& fs, const std::string& path) {
  std::unique_ptr<fsdb::wal::LogReader> reader;
  check(fsdb::wal::LogReader::open(fs, path, 1, fsdb::wal::WalRecoveryMode::kTolerateCorruptedTail,
                                   &reader));
  const auto start = Clock::now();
  uint64_t bytes = 0;
  std::string_view record;
  while (reader->read_record(&record)) bytes += record.size();
  const double secs = seconds_since(start);
  check(reader->status());
  if (reader->report().tail_kind != fsdb::wal::LogTailKind::kNone) die("replay dropped a tail");
  reader.reset();
  ::unlink(path.c_str());
  return static_cast<double>(bytes) / secs;
}

// One record appended with write(2) then fdatasync, over and over: syncs per second.
double raw_fdatasync_rate(const std::string& path, double seconds) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("open " + path);
  std::string record(kRecordBytes + 16, 's');
  uint64_t ops = 0;
  const auto start = Clock::now();
  while (seconds_since(start) < seconds) {
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size())) {
      die("write " + path);
    }
    if (::fdatasync(fd) != 0) die("fdatasync " + path);
    ++ops;
  }
  const double rate = static_cast<double>(ops) / seconds_since(start);
  ::close(fd);
  ::unlink(path.c_str());
  return rate;
}

struct SyncResult {
  double ops_per_sec = 0;
  double records_per_group = 0;
};

// `threads` writers, each submitting one synced 116-byte record at a time.
SyncResult wal_sync_rate(fsdb::FileSystem& fs, const std::string& path, int threads,
                         double seconds) {
  std::unique_ptr<fsdb::wal::LogWriter> writer;
  check(fsdb::wal::LogWriter::create(fs, path, 1, {}, &writer));
  fsdb::wal::GroupCommit queue;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  auto lead = [&](fsdb::wal::GroupCommit::Group group) {
    std::vector<std::string_view> records;
    records.reserve(group.size());
    bool sync = false;
    for (auto* r : group) {
      records.push_back(*static_cast<const std::string*>(r->context));
      sync = sync || r->sync;
    }
    return writer->add_records(records, sync);
  };
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::string record(kRecordBytes, static_cast<char>('a' + t));
      uint64_t mine = 0;
      // Relaxed: a stop flag that guards no data; join() orders the rest.
      while (!stop.load(std::memory_order_relaxed)) {
        fsdb::wal::GroupCommit::Request request;
        request.context = &record;
        request.bytes = record.size();
        request.sync = true;
        check(queue.submit(&request, lead));
        ++mine;
      }
      ops.fetch_add(mine);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double secs = seconds_since(start);
  const auto stats = queue.stats();
  check(writer->close());
  writer.reset();
  ::unlink(path.c_str());
  return {static_cast<double>(ops.load()) / secs,
          static_cast<double>(stats.requests) /
              static_cast<double>(std::max<uint64_t>(1, stats.groups))};
}

#ifdef FSDB_BENCH_PEERS
double rocksdb_sync_rate(const std::string& dir, int threads, double seconds) {
  std::filesystem::remove_all(dir);
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) die("rocksdb open: " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      rocksdb::WriteOptions wo;
      wo.sync = true;
      std::string value(100, 'v');
      uint64_t mine = 0;
      char key[17];
      // Relaxed: a stop flag that guards no data; join() orders the rest.
      while (!stop.load(std::memory_order_relaxed)) {
        std::snprintf(key, sizeof(key), "%02d%014llu", t, static_cast<unsigned long long>(mine));
        rocksdb::Status ps = db->Put(wo, rocksdb::Slice(key, 16), value);
        if (!ps.ok()) die("rocksdb put: " + ps.ToString());
        ++mine;
      }
      ops.fetch_add(mine);
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double rate = static_cast<double>(ops.load()) / seconds_since(start);
  db.reset();
  std::filesystem::remove_all(dir);
  return rate;
}
#endif

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = argc > 1 ? argv[1] : "";
  if (dir.empty()) {
    const char* env = std::getenv("FSDB_BENCH_DIR");
    dir = env != nullptr && *env != '\0' ? env : "wal_bench_data";
  }
  std::filesystem::create_directories(dir);
  const double seconds = env_double("FSDB_BENCH_SECONDS", 10);
  const auto total = static_cast<uint64_t>(env_double("FSDB_BENCH_MIB", 512) * (1 << 20));
  auto fs = fsdb::posix_file_system();
  const std::string raw_path = dir + "/raw.dat";
  const std::string log_path = dir + "/000001.log";

  std::printf("wal_bench in %s: %llu MiB per unsynced run, %.1f s per synced configuration\n\n",
              dir.c_str(), static_cast<unsigned long long>(total >> 20), seconds);

  // Synced runs are short and interleaved, round after round, in an order that
  // rotates, so that the raw fdatasync baseline and each WAL run see the same
  // disk and the same noise from other processes. The ratios are taken within a
  // round (runs seconds apart) and their median is reported.
  const int rounds = static_cast<int>(env_double("FSDB_BENCH_ROUNDS", 50));
  const bool spin = env_double("FSDB_BENCH_SPIN", 0) != 0;
  std::atomic<bool> stop_spinning{false};
  std::thread spinner;
  if (spin) {
    spinner = std::thread([&] {
      // Relaxed: the flag guards no data and only has to be seen eventually.
      while (!stop_spinning.load(std::memory_order_relaxed)) {
      }
    });
  }
  const double slice = seconds / rounds;
  // Configurations: raw fdatasync; the WAL with 1, 2, 4 threads; with peers,
  // RocksDB with 1, 2, 4 threads.
#ifdef FSDB_BENCH_PEERS
  constexpr int kConfigs = 7;
#else
  constexpr int kConfigs = 4;
#endif
  const char* names[] = {"raw write(2) + fdatasync       ", "GroupCommit + LogWriter, 1 thr ",
                         "GroupCommit + LogWriter, 2 thr ", "GroupCommit + LogWriter, 4 thr ",
                         "RocksDB 7.8 sync put, 1 thr    ", "RocksDB 7.8 sync put, 2 thr    ",
                         "RocksDB 7.8 sync put, 4 thr    "};
  std::vector<std::vector<double>> rate(kConfigs), per_group(kConfigs);
  for (int round = 0; round < rounds; ++round) {
    for (int k = 0; k < kConfigs; ++k) {
      const int config = (k + round) % kConfigs;
      if (config == 0) {
        rate[0].push_back(raw_fdatasync_rate(raw_path, slice));
        per_group[0].push_back(1);
      } else if (config <= 3) {
        const SyncResult r = wal_sync_rate(*fs, log_path, 1 << (config - 1), slice);
        rate[config].push_back(r.ops_per_sec);
        per_group[config].push_back(r.records_per_group);
      } else {
#ifdef FSDB_BENCH_PEERS
        rate[config].push_back(rocksdb_sync_rate(dir + "/rocksdb", 1 << (config - 4), slice));
        per_group[config].push_back(0);
#endif
      }
    }
  }
  if (spin) {
    stop_spinning = true;
    spinner.join();
  }
  // Ratios within a round: runs seconds apart see the same disk.
  auto ratio = [&](int a, int b) {
    std::vector<double> r;
    for (int round = 0; round < rounds; ++round) r.push_back(rate[a][round] / rate[b][round]);
    return median(r);
  };
  std::printf("synced appends (116-byte records, every write synced; %d rounds of %.2f s%s)\n",
              rounds, slice, spin ? "; a spinning thread keeps a CPU busy" : "");
  for (int config = 0; config < kConfigs; ++config) {
    std::printf("  %s %8.0f ops/s median  (rounds %6.0f..%6.0f)  %.2fx fdatasync", names[config],
                median(rate[config]), *std::min_element(rate[config].begin(), rate[config].end()),
                *std::max_element(rate[config].begin(), rate[config].end()), ratio(config, 0));
    if (config >= 1 && config <= 3) {
      std::printf(", %.2f records/group", median(per_group[config]));
    }
    std::printf("\n");
  }
  const double one = ratio(1, 0);
  const double two = ratio(2, 1);
  std::printf("  per-round ratios (median): fsdb 2 thr / 1 thr %.2f, 4 thr / 1 thr %.2f\n", two,
              ratio(3, 1));
#ifdef FSDB_BENCH_PEERS
  std::printf("                             RocksDB 2 thr / 1 thr %.2f, 4 thr / 1 thr %.2f\n",
              ratio(5, 4), ratio(6, 4));
#endif
  std::printf("  target 1 thread >= 90%% of fdatasync rate: %s (%.0f%%)\n",
              one >= 0.9 ? "met" : "NOT met", 100 * one);
  std::printf("  target 2 threads >= 1.8x 1 thread: %s (%.2fx)\n", two >= 1.8 ? "met" : "NOT met",
              two);

  std::printf("\n");
  // After the synced runs: the gigabytes of dirty page cache written here would
  // slow every fdatasync while they are written back.
  // Alternate the two so that both see the same state of the page cache and disk.
  std::vector<double> raw_rates, wal_rates, replay_rates;
  for (int round = 0; round < 3; ++round) {
    raw_rates.push_back(raw_write_rate(raw_path, total));
    wal_rates.push_back(wal_append_rate(*fs, log_path, total));
    replay_rates.push_back(wal_replay_rate(*fs, log_path));
  }
  const double raw = median(raw_rates);
  const double wal = median(wal_rates);
  std::printf("unsynced appends (median of 3)\n");
  std::printf("  raw write(2), 1 MiB blocks      %7.2f GB/s\n", raw / 1e9);
  std::printf(
      "  LogWriter, 116-byte records     %7.2f GB/s payload  (%.0f%% of raw; %.1f M records/s)\n",
      wal / 1e9, 100 * wal / raw, wal / kRecordBytes / 1e6);
  std::printf("  target >= 1 GB/s or >= 60%% of raw: %s\n",
              (wal >= 1e9 || wal >= 0.6 * raw) ? "met" : "NOT met");
  std::printf("  LogReader replay of that log    %7.2f GB/s payload  (from the page cache)\n",
              median(replay_rates) / 1e9);

  std::filesystem::remove_all(dir);
  return 0;
}
