// fsdb_bench: db_bench-style workloads run against fsdb and, when built with
// FSDB_BENCH_PEERS, against RocksDB and LevelDB with the same settings, so that
// one machine in one session gives comparable figures for all three.
//
//   fsdb_bench --engine=fsdb|rocksdb|leveldb --benchmarks=fillseq,readrandom,...
//              --num=1000000 --reads=-1 --threads=1 --key_size=16 --value_size=100
//              --db=/tmp/fsdb_bench --use_existing_db=0 --json=0 --mmap_reads=1 --mmap_writes=1
//              --write_buffer_size=67108864 --level1_bytes=0 --target_file_bytes=0
//              --compression_dictionary_bytes=-1 --block_size=4096 --cache_size=67108864
//              --bloom_bits=10 --light_upper_levels=1 --light_zstd_level=1
//              (level sizes 0 and dictionary -1: each engine's default; block, cache
//              and filter settings apply to every engine alike, as db_bench's flags
//              of the same names: a smaller block decompresses faster and costs
//              space, a cache holding the whole DB turns reads into cache hits;
//              light_upper_levels and light_zstd_level are fsdb's
//              light_upper_level_compression and light_upper_level_zstd_level)
//
// Benchmarks (db_bench's names and meanings):
//   fillseq        fresh DB, num puts in key order
//   fillrandom     fresh DB, num puts in a fixed-seed random order
//   overwrite      num puts in another random order into the existing DB
//   fillsync       fresh DB, random puts with sync on every write
//                  (num/500 of them, at least 1000, as db_bench shrinks fillsync)
//   readrandom     gets of existing keys in random order, after closing and
//                  reopening the DB (and flushing what recovery left in the
//                  memtable) so that reads reach tables
//   readmissing    gets of absent keys ("%016llu." of a key number)
//   seekrandom     seek to a random existing key, then 10 nexts
//   readseq        a forward scan;  readreverse  a backward scan
//   memtable_only  fresh DB, WAL off, write buffer large enough that nothing
//                  flushes; num random puts
//   catchup        fresh DB and a secondary instance reading beside it: the
//                  writer puts num random keys in 100 rounds; after each the
//                  secondary catches up (timed: ops/s and latencies are of
//                  catch-ups) and must then find the round's last key
//   compact        a full manual compaction (reports the bytes on disk after)
//   wamp           flush, wait until no compaction is running or pending, then
//                  report the bytes the engine's flushes and compactions wrote
//                  for this run's fills (write amplification = their sum over
//                  the keys and values written)
//   stats          prints the engine's own per-level file counts and sizes, as
//                  the read benchmarks see the DB (and fsdb's fsdb.stats)
//   fdatasync      engine-independent: append key+value bytes to a file and
//                  fdatasync it, fillsync's count of times; the device's rate
//                  (each sync also commits the file's new size)
//   fdatasync_prealloc  the same into a file allocated and sized beforehand:
//                  each sync commits data only, as a log whose room is made
//                  ahead does (fsdb's mapped log); the faster yardstick
//
// With --threads=T the num (or reads) operations of a benchmark are split
// between T threads, each taking a contiguous slice of the same permutation,
// so the DB ends up with the same keys whatever T is; ops/s is the total over
// the wall time from the common start to the last thread's end.
//
// Output: one line per result (engine, benchmark, threads, ops/s, MB/s where
// MB = 10^6 bytes of keys+values, p50/p99/p99.9 latency in microseconds), or
// one JSON object per line with --json (settings and notes then go to stderr).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <latch>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fsdb_bench_engines.h"
#include "fsdb_bench_histogram.h"

namespace fsdb::bench {
namespace {

struct Flags {
  std::string engine = "fsdb";
  std::string benchmarks = "fillseq,fillrandom,overwrite,readrandom,readmissing,seekrandom,readseq";
  uint64_t num = 1000000;
  int64_t reads = -1;  // -1 = num
  int threads = 1;
  size_t key_size = 16;
  size_t value_size = 100;
  std::string db = "/tmp/fsdb_bench";
  bool use_existing_db = false;
  bool json = false;
  bool mmap_reads = true;
  bool mmap_writes = true;
  uint64_t write_buffer_size = 64 << 20;
  uint64_t level1_bytes = 0;  // 0: each engine's default
  uint64_t target_file_bytes = 0;
  int64_t compression_dictionary_bytes = -1;  // -1: each engine's default
  uint64_t block_size = 4096;
  uint64_t cache_size = 64 << 20;
  int bloom_bits = 10;
  bool light_upper_levels = true;
  int light_zstd_level = 1;
};

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "fsdb_bench: %s\n", message.c_str());
  std::fflush(stderr);
  std::_Exit(1);
}

constexpr const char* kUsage = R"(usage: fsdb_bench [--flag=value ...]

  --engine=fsdb|rocksdb|leveldb   engine to run (peers need -DFSDB_BENCH_PEERS=ON)
  --benchmarks=LIST               comma-separated, run in order (default: fillseq,fillrandom,
                                  overwrite,readrandom,readmissing,seekrandom,readseq); also
                                  fillsync readreverse memtable_only catchup compact wamp
                                  stats fdatasync fdatasync_prealloc (the comment at the top of
                                  fsdb_bench.cc says
                                  what each one does)
  --num=N                         entries written (default 1000000)
  --reads=N                       reads of the read benchmarks (-1: num)
  --threads=T                     threads sharing each benchmark's operations (default 1)
  --key_size=16 --value_size=100  key (>= 16) and value bytes
  --db=DIR                        database directory (default /tmp/fsdb_bench)
  --use_existing_db=0|1           keep DIR's contents instead of starting empty
  --write_buffer_size=BYTES       memtable size (default 64 MiB)
  --level1_bytes=BYTES --target_file_bytes=BYTES   0: each engine's default
  --compression_dictionary_bytes=BYTES             -1: each engine's default
  --block_size=BYTES --cache_size=BYTES --bloom_bits=N   same for every engine
  --mmap_reads=0|1 --mmap_writes=0|1                     tables and WAL through mappings
  --light_upper_levels=0|1        fsdb: zstd literals raw above the bottommost level
  --light_zstd_level=N            fsdb: zstd level of those tables (default 1)
  --json                          one JSON object per result line
)";

bool parse_flag(std::string_view arg, std::string_view name, std::string* out) {
  if (arg.size() < name.size() + 3 || arg.substr(0, 2) != "--") return false;
  arg.remove_prefix(2);
  if (arg.substr(0, name.size()) != name || arg[name.size()] != '=') return false;
  *out = std::string(arg.substr(name.size() + 1));
  return true;
}

Flags parse_flags(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    std::string v;
    try {
      if (arg == "--help" || arg == "-h") {
        std::fputs(kUsage, stdout);
        std::exit(0);
      } else if (parse_flag(arg, "engine", &v)) {
        flags.engine = v;
      } else if (parse_flag(arg, "benchmarks", &v)) {
        flags.benchmarks = v;
      } else if (parse_flag(arg, "num", &v)) {
        flags.num = std::stoull(v);
      } else if (parse_flag(arg, "reads", &v)) {
        flags.reads = std::stoll(v);
      } else if (parse_flag(arg, "threads", &v)) {
        flags.threads = std::stoi(v);
      } else if (parse_flag(arg, "key_size", &v)) {
        flags.key_size = std::stoul(v);
      } else if (parse_flag(arg, "value_size", &v)) {
        flags.value_size = std::stoul(v);
      } else if (parse_flag(arg, "db", &v)) {
        flags.db = v;
      } else if (parse_flag(arg, "use_existing_db", &v)) {
        flags.use_existing_db = v == "1" || v == "true";
      } else if (parse_flag(arg, "mmap_reads", &v)) {
        flags.mmap_reads = v == "1" || v == "true";
      } else if (parse_flag(arg, "mmap_writes", &v)) {
        flags.mmap_writes = v == "1" || v == "true";
      } else if (parse_flag(arg, "write_buffer_size", &v)) {
        flags.write_buffer_size = std::stoull(v);
      } else if (parse_flag(arg, "level1_bytes", &v)) {
        flags.level1_bytes = std::stoull(v);
      } else if (parse_flag(arg, "target_file_bytes", &v)) {
        flags.target_file_bytes = std::stoull(v);
      } else if (parse_flag(arg, "compression_dictionary_bytes", &v)) {
        flags.compression_dictionary_bytes = std::stoll(v);
      } else if (parse_flag(arg, "block_size", &v)) {
        flags.block_size = std::stoull(v);
      } else if (parse_flag(arg, "cache_size", &v)) {
        flags.cache_size = std::stoull(v);
      } else if (parse_flag(arg, "bloom_bits", &v)) {
        flags.bloom_bits = std::stoi(v);
      } else if (parse_flag(arg, "light_upper_levels", &v)) {
        flags.light_upper_levels = v == "1" || v == "true";
      } else if (parse_flag(arg, "light_zstd_level", &v)) {
        flags.light_zstd_level = std::stoi(v);
      } else if (parse_flag(arg, "json", &v)) {
        flags.json = v == "1" || v == "true";
      } else if (arg == "--json") {
        flags.json = true;
      } else {
        die("unknown argument '" + std::string(arg) + "' (--help lists the flags)");
      }
    } catch (const std::exception&) {
      die("bad value in '" + std::string(arg) + "'");
    }
  }
  if (flags.threads < 1) die("--threads must be at least 1");
  if (flags.key_size < 16) die("--key_size must be at least 16 (keys are %016llu of the number)");
  if (flags.num == 0) die("--num must be positive");
  if (flags.block_size < 256 || flags.block_size > (1 << 20)) {
    die("--block_size must be between 256 and 1048576 bytes");
  }
  if (flags.bloom_bits < 0 || flags.bloom_bits > 64) die("--bloom_bits must be between 0 and 64");
  return flags;
}

// splitmix64: a small deterministic generator, so that permutations and values
// are the same on every platform (std::shuffle's output is not specified).
class Random64 {
 public:
  explicit Random64(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t uniform(uint64_t n) { return next() % n; }

 private:
  uint64_t state_;
};

std::vector<uint64_t> permutation(uint64_t n, uint64_t seed) {
  std::vector<uint64_t> order(n);
  for (uint64_t i = 0; i < n; ++i) order[i] = i;
  Random64 rnd(seed);
  for (uint64_t i = n; i > 1; --i) std::swap(order[i - 1], order[rnd.uniform(i)]);
  return order;
}

// Values compress to about half their size, as db_bench's compression_ratio=0.5:
// a 1 MiB buffer made of 100-byte pieces, each 50 random printable bytes
// repeated; a value is the next value_size bytes of the buffer.
class ValueSource {
 public:
  explicit ValueSource(size_t value_size) : value_size_(value_size) {
    Random64 rnd(301);
    constexpr size_t kPiece = 100;
    const size_t target = std::max<size_t>(1 << 20, value_size);
    while (data_.size() < target) {
      std::string raw(kPiece / 2, ' ');
      for (char& c : raw) c = static_cast<char>(' ' + rnd.uniform(95));
      std::string piece;
      while (piece.size() < kPiece) piece += raw;
      data_ += piece.substr(0, kPiece);
    }
  }
  // Each thread walks the buffer from its own starting point.
  size_t start_for(int thread) const {
    return (static_cast<size_t>(thread) * 7919 * 100) % (data_.size() - value_size_ + 1);
  }
  std::string_view next(size_t* pos) const {
    if (*pos + value_size_ > data_.size()) *pos = 0;
    std::string_view v(data_.data() + *pos, value_size_);
    *pos += value_size_;
    return v;
  }

 private:
  size_t value_size_;
  std::string data_;
};

// "%0*llu" of the key number without snprintf's cost; `suffix` appends a byte
// (readmissing's '.').
std::string_view format_key(uint64_t number, size_t key_size, char* buffer, char suffix = 0) {
  for (size_t i = key_size; i > 0; --i) {
    buffer[i - 1] = static_cast<char>('0' + number % 10);
    number /= 10;
  }
  size_t n = key_size;
  if (suffix != 0) buffer[n++] = suffix;
  return {buffer, n};
}

struct Result {
  std::string engine;
  std::string benchmark;
  int threads = 1;
  uint64_t ops = 0;
  uint64_t bytes = 0;
  uint64_t found = 0;
  double seconds = 0;
  LatencyHistogram histogram;
  int64_t disk_bytes = -1;  // -1: not measured
  // wamp: what the fills of this run wrote (keys and values) and what the
  // engine wrote to tables for it; -1: not measured.
  int64_t user_bytes = -1;
  int64_t flush_bytes = -1;
  int64_t compaction_bytes = -1;
};

uint64_t disk_bytes_of(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (!entry.is_regular_file(ec)) continue;
    // RocksDB's and LevelDB's human-readable info logs are not data.
    const std::string name = entry.path().filename().string();
    if (name.rfind("LOG", 0) == 0) continue;
    total += entry.file_size(ec);
  }
  return total;
}

void print_result(const Result& r, bool json) {
  const double ops_per_sec = r.seconds > 0 ? static_cast<double>(r.ops) / r.seconds : 0;
  const double mb_per_sec = r.seconds > 0 ? static_cast<double>(r.bytes) / 1e6 / r.seconds : 0;
  const double p50 = r.histogram.percentile_nanos(0.50) / 1000;
  const double p99 = r.histogram.percentile_nanos(0.99) / 1000;
  const double p999 = r.histogram.percentile_nanos(0.999) / 1000;
  const double wamp = r.user_bytes > 0 ? static_cast<double>(r.flush_bytes + r.compaction_bytes) /
                                             static_cast<double>(r.user_bytes)
                                       : 0;
  if (json) {
    std::printf("{\"engine\":\"%s\",\"benchmark\":\"%s\",\"threads\":%d,\"ops\":%" PRIu64
                ",\"seconds\":%.6f,\"ops_per_sec\":%.1f,\"mb_per_sec\":%.3f,\"p50_us\":%.3f,"
                "\"p99_us\":%.3f,\"p999_us\":%.3f,\"found\":%" PRIu64 ",\"disk_bytes\":%" PRId64,
                r.engine.c_str(), r.benchmark.c_str(), r.threads, r.ops, r.seconds, ops_per_sec,
                mb_per_sec, p50, p99, p999, r.found, r.disk_bytes);
    if (r.user_bytes >= 0) {
      std::printf(",\"user_bytes\":%" PRId64 ",\"flush_bytes\":%" PRId64
                  ",\"compaction_bytes\":%" PRId64 ",\"write_amplification\":%.4f",
                  r.user_bytes, r.flush_bytes, r.compaction_bytes, wamp);
    }
    std::printf("}\n");
  } else if (r.user_bytes >= 0) {
    std::printf(
        "%-8s %-14s user %.1f MB  flushes wrote %.1f MB  compactions wrote %.1f MB  write "
        "amplification %.3f\n",
        r.engine.c_str(), r.benchmark.c_str(), static_cast<double>(r.user_bytes) / 1e6,
        static_cast<double>(r.flush_bytes) / 1e6, static_cast<double>(r.compaction_bytes) / 1e6,
        wamp);
  } else {
    std::printf(
        "%-8s %-14s threads=%-2d %12.0f ops/s %9.2f MB/s  p50 %9.2f us  p99 %9.2f us  "
        "p99.9 %9.2f us",
        r.engine.c_str(), r.benchmark.c_str(), r.threads, ops_per_sec, mb_per_sec, p50, p99, p999);
    if (r.found != r.ops) std::printf("  found %" PRIu64 "/%" PRIu64, r.found, r.ops);
    if (r.disk_bytes >= 0) std::printf("  disk %.1f MB", static_cast<double>(r.disk_bytes) / 1e6);
    std::printf("\n");
  }
  std::fflush(stdout);
}

// What one benchmark thread measured.
struct ThreadTally {
  LatencyHistogram histogram;
  uint64_t ops = 0;
  uint64_t bytes = 0;
  uint64_t found = 0;
  std::chrono::steady_clock::time_point end;
};

// Runs body(thread, tally) on `threads` threads released together, and sums
// their tallies into a Result. Every body times its own operations into the
// tally's histogram (one clock read per operation: the end of one is the start
// of the next).
template <typename Body>
Result run_threads(int threads, Body body) {
  std::vector<ThreadTally> tallies(static_cast<size_t>(threads));
  std::latch ready(threads);
  std::latch go(1);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      ready.count_down();
      go.wait();
      body(t, &tallies[static_cast<size_t>(t)]);
      tallies[static_cast<size_t>(t)].end = std::chrono::steady_clock::now();
    });
  }
  ready.wait();
  const auto start = std::chrono::steady_clock::now();
  go.count_down();
  for (auto& w : workers) w.join();
  Result r;
  r.threads = threads;
  auto end = start;
  for (const ThreadTally& tally : tallies) {
    r.histogram.merge(tally.histogram);
    r.ops += tally.ops;
    r.bytes += tally.bytes;
    r.found += tally.found;
    end = std::max(end, tally.end);
  }
  r.seconds = std::chrono::duration<double>(end - start).count();
  return r;
}

uint64_t nanos_between(std::chrono::steady_clock::time_point a,
                       std::chrono::steady_clock::time_point b) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count());
}

// The [begin, end) slice of n operations that thread t of T performs.
std::pair<uint64_t, uint64_t> slice(uint64_t n, int t, int threads) {
  const auto T = static_cast<uint64_t>(threads);
  const auto i = static_cast<uint64_t>(t);
  return {n * i / T, n * (i + 1) / T};
}

class Runner {
 public:
  Runner(Flags flags, std::unique_ptr<BenchEngine> engine)
      : flags_(std::move(flags)), engine_(std::move(engine)), values_(flags_.value_size) {
    settings_.mmap_reads = flags_.mmap_reads;
    settings_.mmap_writes = flags_.mmap_writes;
    settings_.write_buffer_bytes = flags_.write_buffer_size;
    settings_.level1_bytes = flags_.level1_bytes;
    settings_.target_file_bytes = flags_.target_file_bytes;
    settings_.compression_dictionary_bytes = flags_.compression_dictionary_bytes;
    settings_.block_bytes = flags_.block_size;
    settings_.block_cache_bytes = flags_.cache_size;
    settings_.bloom_bits_per_key = flags_.bloom_bits;
    settings_.light_upper_levels = flags_.light_upper_levels;
    settings_.light_zstd_level = flags_.light_zstd_level;
    settings_.count_write_volume = flags_.benchmarks.find("wamp") != std::string::npos;
  }

  ~Runner() {
    if (open_) check(engine_->close(), "close");
  }

  void print_settings() const {
    std::FILE* out = flags_.json ? stderr : stdout;
    std::fprintf(out,
                 "# keys: %zu bytes (%%0%zullu of the key number), values: %zu bytes (half "
                 "compressible), num=%" PRIu64 " reads=%" PRIu64 " threads=%d\n",
                 flags_.key_size, flags_.key_size, flags_.value_size, flags_.num, reads(),
                 flags_.threads);
    std::fprintf(out, "# %s\n", engine_->settings_text(settings_).c_str());
    std::fflush(out);
  }

  void run(const std::string& name) {
    Result r;
    if (name == "fillseq") {
      r = fill(name, /*random=*/false, BenchWrite{}, flags_.num, /*fresh=*/true);
    } else if (name == "fillrandom") {
      r = fill(name, true, BenchWrite{}, flags_.num, true);
      r.disk_bytes = static_cast<int64_t>(disk_bytes_of(flags_.db));
    } else if (name == "overwrite") {
      r = fill(name, true, BenchWrite{}, flags_.num, false);
    } else if (name == "fillsync") {
      r = fill(name, true, BenchWrite{.sync = true}, sync_ops(), true);
    } else if (name == "memtable_only") {
      if (!engine_->supports_disable_wal()) {
        note(engine_->name() + " memtable_only: skipped, the engine cannot turn its WAL off");
        return;
      }
      r = fill(name, true, BenchWrite{.disable_wal = true}, flags_.num, true);
    } else if (name == "catchup") {
      if (!engine_->supports_secondary()) {
        note(engine_->name() + " catchup: skipped, the engine has no secondary instance");
        return;
      }
      r = catch_up(name);
    } else if (name == "readrandom" || name == "readmissing") {
      r = read_random(name, name == "readmissing");
    } else if (name == "seekrandom") {
      r = seek_random(name);
    } else if (name == "readseq" || name == "readreverse") {
      r = scan(name, name == "readreverse");
    } else if (name == "compact") {
      r = compact(name);
    } else if (name == "wamp") {
      r = write_amplification();
    } else if (name == "stats") {
      ensure_open_for_reads();
      note(engine_->name() + " levels, as the engine reports them:\n" + engine_->level_stats() +
           engine_->engine_stats());
      return;
    } else if (name == "fdatasync" || name == "fdatasync_prealloc") {
      r = fdatasync_rate(name);
      r.engine = "posix";
    } else {
      die("unknown benchmark '" + name + "'");
    }
    if (r.engine.empty()) r.engine = engine_->name();
    r.benchmark = name;
    print_result(r, flags_.json);
  }

 private:
  uint64_t reads() const {
    return flags_.reads < 0 ? flags_.num : static_cast<uint64_t>(flags_.reads);
  }
  uint64_t sync_ops() const {
    return std::min<uint64_t>(flags_.num, std::max<uint64_t>(1000, flags_.num / 500));
  }

  // Every line of a note starts with "# ", so that result parsers skip it.
  void note(const std::string& text) const {
    std::FILE* out = flags_.json ? stderr : stdout;
    size_t start = 0;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      std::fprintf(out, "# %.*s\n", static_cast<int>(end - start), text.data() + start);
      start = end + 1;
    }
    std::fflush(out);
  }

  void check(const std::string& error, const std::string& what) const {
    if (!error.empty()) die(engine_->name() + " " + what + ": " + error);
  }

  void close_db() {
    if (!open_) return;
    check(engine_->close(), "close");
    open_ = false;
  }

  void open_db(const BenchSettings& settings) {
    check(engine_->open(flags_.db, settings), "open " + flags_.db);
    open_ = true;
    written_ = false;
    open_settings_ = settings;
  }

  void open_fresh(const BenchSettings& settings) {
    close_db();
    if (!flags_.use_existing_db) {
      check(engine_->destroy(flags_.db), "destroy " + flags_.db);
      std::error_code ec;
      std::filesystem::remove_all(flags_.db, ec);
    }
    open_db(settings);
  }

  // Reads must reach tables: a DB written by this process is closed and
  // reopened first (each engine turns its logs into level-0 tables on open).
  // An engine that keeps replayed log records in its memtable is flushed, so
  // that the three engines read from the same place.
  void ensure_open_for_reads() {
    if (open_ && !written_ && open_settings_.write_buffer_bytes == settings_.write_buffer_bytes) {
      return;
    }
    close_db();
    open_db(settings_);
    check(engine_->flush_memtable(), "flush after reopening");
  }

  void ensure_open() {
    if (!open_) open_db(settings_);
  }

  Result fill(const std::string& name, bool random, BenchWrite write, uint64_t n, bool fresh) {
    BenchSettings settings = settings_;
    if (name == "memtable_only") {
      // Room for every entry with its node overhead twice over: nothing flushes.
      settings.write_buffer_bytes =
          std::max<size_t>(settings.write_buffer_bytes,
                           2 * n * (flags_.key_size + flags_.value_size + 64) + (64 << 20));
      note(engine_->name() + " memtable_only: WAL off, write buffer " +
           std::to_string(settings.write_buffer_bytes) + " bytes");
    }
    if (fresh && !flags_.use_existing_db) {
      open_fresh(settings);
    } else {
      ensure_open();
    }
    written_ = true;
    std::vector<uint64_t> order;
    if (random) order = permutation(flags_.num, name == "overwrite" ? 302 : 301);
    Result r = run_threads(flags_.threads, [&](int t, ThreadTally* tally) {
      auto [begin, end] = slice(n, t, flags_.threads);
      size_t value_pos = values_.start_for(t);
      char key_buffer[64];
      auto last = std::chrono::steady_clock::now();
      for (uint64_t i = begin; i < end; ++i) {
        const uint64_t number = random ? order[i % order.size()] : i;
        const std::string_view key = format_key(number, flags_.key_size, key_buffer);
        const std::string_view value = values_.next(&value_pos);
        check(engine_->put(write, key, value), "put");
        const auto now = std::chrono::steady_clock::now();
        tally->histogram.add(nanos_between(last, now));
        last = now;
        tally->bytes += key.size() + value.size();
      }
      tally->ops = end - begin;
      tally->found = tally->ops;
    });
    user_bytes_written_ += r.bytes;
    return r;
  }

  // A secondary instance follows the writer: after each of kRounds rounds of
  // puts it catches up, and must then see the round's last write.
  Result catch_up(const std::string& name) {
    constexpr uint64_t kRounds = 100;
    open_fresh(settings_);
    written_ = true;
    const std::string scratch = flags_.db + ".secondary";
    std::error_code ec;
    std::filesystem::remove_all(scratch, ec);
    std::filesystem::create_directories(scratch, ec);
    if (ec) die("catchup: cannot create " + scratch + ": " + ec.message());
    check(engine_->open_secondary(flags_.db, scratch, settings_), name + " open_secondary");
    const std::vector<uint64_t> order = permutation(flags_.num, 306);
    Result r;
    size_t value_pos = values_.start_for(0);
    char key_buffer[64];
    std::string last_value;
    std::string read;
    std::string error;
    double seconds = 0;
    for (uint64_t round = 0; round < kRounds; ++round) {
      const uint64_t begin = flags_.num * round / kRounds;
      const uint64_t end = flags_.num * (round + 1) / kRounds;
      std::string_view key;
      uint64_t round_bytes = 0;
      for (uint64_t i = begin; i < end; ++i) {
        key = format_key(order[i], flags_.key_size, key_buffer);
        const std::string_view value = values_.next(&value_pos);
        check(engine_->put(BenchWrite{}, key, value), name + " put");
        round_bytes += key.size() + value.size();
        last_value.assign(value);
      }
      user_bytes_written_ += round_bytes;
      const auto start = std::chrono::steady_clock::now();
      check(engine_->catch_up(), name + " catch_up");
      const auto done = std::chrono::steady_clock::now();
      r.histogram.add(nanos_between(start, done));
      seconds += std::chrono::duration<double>(done - start).count();
      ++r.ops;
      if (begin == end) continue;
      const GetResult got = engine_->secondary_get(key, &read, &error);
      if (got == GetResult::kError) check(error, name + " get after the catch-up");
      if (got != GetResult::kFound || read != last_value) {
        die(engine_->name() + " " + name + ": after catch-up " + std::to_string(round + 1) +
            " the secondary does not see the round's last write");
      }
      ++r.found;
      r.bytes += round_bytes;  // MB/s: of the writes the catch-ups brought in
    }
    r.seconds = seconds;
    check(engine_->close_secondary(), name + " close_secondary");
    std::filesystem::remove_all(scratch, ec);
    return r;
  }

  Result read_random(const std::string& name, bool missing) {
    ensure_open_for_reads();
    const std::vector<uint64_t> order = permutation(flags_.num, missing ? 304 : 303);
    const uint64_t n = reads();
    return run_threads(flags_.threads, [&](int t, ThreadTally* tally) {
      auto [begin, end] = slice(n, t, flags_.threads);
      char key_buffer[64];
      std::string value;
      std::string error;
      auto last = std::chrono::steady_clock::now();
      for (uint64_t i = begin; i < end; ++i) {
        const std::string_view key =
            format_key(order[i % order.size()], flags_.key_size, key_buffer, missing ? '.' : 0);
        const GetResult got = engine_->get(key, &value, &error);
        if (got == GetResult::kError) check(error, name + " get");
        const auto now = std::chrono::steady_clock::now();
        tally->histogram.add(nanos_between(last, now));
        last = now;
        if (got == GetResult::kFound) {
          ++tally->found;
          tally->bytes += key.size() + value.size();
        }
      }
      tally->ops = end - begin;
      // readmissing succeeds when nothing is found.
      if (missing) tally->found = tally->ops - tally->found;
    });
  }

  Result seek_random(const std::string& name) {
    ensure_open_for_reads();
    const std::vector<uint64_t> order = permutation(flags_.num, 305);
    const uint64_t n = reads();
    constexpr int kNexts = 10;
    return run_threads(flags_.threads, [&](int t, ThreadTally* tally) {
      auto [begin, end] = slice(n, t, flags_.threads);
      char key_buffer[64];
      std::unique_ptr<BenchIterator> it = engine_->new_iterator();
      auto last = std::chrono::steady_clock::now();
      for (uint64_t i = begin; i < end; ++i) {
        const std::string_view key =
            format_key(order[i % order.size()], flags_.key_size, key_buffer);
        it->seek(key);
        if (it->valid() && it->key() == key) ++tally->found;
        for (int j = 0; j < kNexts && it->valid(); ++j) {
          tally->bytes += it->key().size() + it->value().size();
          it->next();
        }
        check(it->error(), name + " iterator");
        const auto now = std::chrono::steady_clock::now();
        tally->histogram.add(nanos_between(last, now));
        last = now;
      }
      tally->ops = end - begin;
    });
  }

  Result scan(const std::string& name, bool reverse) {
    ensure_open_for_reads();
    const uint64_t n = reads();
    return run_threads(flags_.threads, [&](int t, ThreadTally* tally) {
      auto [begin, end] = slice(n, t, flags_.threads);
      const uint64_t limit = end - begin;
      std::unique_ptr<BenchIterator> it = engine_->new_iterator();
      auto last = std::chrono::steady_clock::now();
      if (reverse) {
        it->seek_to_last();
      } else {
        it->seek_to_first();
      }
      uint64_t count = 0;
      while (count < limit && it->valid()) {
        tally->bytes += it->key().size() + it->value().size();
        ++count;
        if (reverse) {
          it->prev();
        } else {
          it->next();
        }
        const auto now = std::chrono::steady_clock::now();
        tally->histogram.add(nanos_between(last, now));
        last = now;
      }
      check(it->error(), name + " iterator");
      tally->ops = count;
      tally->found = count;
    });
  }

  Result compact(const std::string& /*name*/) {
    ensure_open();
    Result r;
    const auto start = std::chrono::steady_clock::now();
    check(engine_->compact_all(), "full compaction");
    const auto end = std::chrono::steady_clock::now();
    r.histogram.add(nanos_between(start, end));
    r.seconds = std::chrono::duration<double>(end - start).count();
    r.ops = 1;
    r.found = 1;
    r.disk_bytes = static_cast<int64_t>(disk_bytes_of(flags_.db));
    return r;
  }

  // What the engine wrote to tables for this run's fills, once its background
  // work has settled.
  Result write_amplification() {
    ensure_open();
    check(engine_->wait_for_background(), "waiting for background work");
    WriteVolume volume;
    check(engine_->write_volume(&volume), "write volume");
    Result r;
    r.user_bytes = static_cast<int64_t>(user_bytes_written_);
    r.flush_bytes = static_cast<int64_t>(volume.flush_bytes);
    r.compaction_bytes = static_cast<int64_t>(volume.compaction_bytes);
    r.disk_bytes = static_cast<int64_t>(disk_bytes_of(flags_.db));
    return r;
  }

  // The device's own synced-append rate, fillsync's yardstick: appending
  // (each sync also commits the new size) or, for fdatasync_prealloc, into
  // room allocated and sized beforehand (each sync commits data only).
  Result fdatasync_rate(const std::string& name) {
    std::error_code ec;
    std::filesystem::create_directories(flags_.db, ec);
    const std::string path = flags_.db + "/fdatasync.probe";
    const int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    if (fd < 0) die("open " + path + ": " + std::strerror(errno));
    const uint64_t n = sync_ops();
    std::string record(flags_.key_size + flags_.value_size, 'x');
    const bool prealloc = name == "fdatasync_prealloc";
    if (prealloc) {
      const auto bytes = static_cast<off_t>(n * record.size());
      if (::fallocate(fd, 0, 0, bytes) != 0 || ::fdatasync(fd) != 0 || ::fsync(fd) != 0) {
        die("fallocate " + path + ": " + std::strerror(errno));
      }
    }
    Result r = run_threads(1, [&](int /*t*/, ThreadTally* tally) {
      auto last = std::chrono::steady_clock::now();
      for (uint64_t i = 0; i < n; ++i) {
        const auto at = static_cast<off_t>(i * record.size());
        const ssize_t written = prealloc ? ::pwrite(fd, record.data(), record.size(), at)
                                         : ::write(fd, record.data(), record.size());
        if (written != static_cast<ssize_t>(record.size())) {
          die("write " + path + ": " + std::strerror(errno));
        }
        if (::fdatasync(fd) != 0) die("fdatasync " + path + ": " + std::strerror(errno));
        const auto now = std::chrono::steady_clock::now();
        tally->histogram.add(nanos_between(last, now));
        last = now;
        tally->bytes += record.size();
      }
      tally->ops = n;
      tally->found = n;
    });
    ::close(fd);
    std::filesystem::remove(path, ec);
    return r;
  }

  Flags flags_;
  std::unique_ptr<BenchEngine> engine_;
  ValueSource values_;
  BenchSettings settings_;
  BenchSettings open_settings_;
  bool open_ = false;
  bool written_ = false;
  uint64_t user_bytes_written_ = 0;  // keys and values the fills of this process wrote
};

std::unique_ptr<BenchEngine> make_engine(const std::string& name) {
  if (name == "fsdb") return std::make_unique<FsdbEngine>();
#if FSDB_BENCH_PEERS
  if (name == "rocksdb") return std::make_unique<RocksEngine>();
  if (name == "leveldb") return std::make_unique<LevelEngine>();
#else
  if (name == "rocksdb" || name == "leveldb") {
    die("--engine=" + name + " needs a build with -DFSDB_BENCH_PEERS=ON");
  }
#endif
  die("unknown engine '" + name + "' (fsdb, rocksdb, leveldb)");
}

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = list.find(',', start);
    const size_t stop = comma == std::string::npos ? list.size() : comma;
    if (stop > start) out.push_back(list.substr(start, stop - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return out;
}

}  // namespace
}  // namespace fsdb::bench

int main(int argc, char** argv) {
  using namespace fsdb::bench;
  Flags flags = parse_flags(argc, argv);
  const std::vector<std::string> benchmarks = split_list(flags.benchmarks);
  Runner runner(flags, make_engine(flags.engine));
  runner.print_settings();
  for (const std::string& name : benchmarks) runner.run(name);
  return 0;
}
