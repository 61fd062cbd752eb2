// Memtable micro-benchmarks: fsdb::ConcurrentSkipList against std::map guarded
// by a std::mutex and, when built with FSDB_BENCH_PEERS, RocksDB's memtable
// path (DB::Put/Get with the WAL disabled and a write buffer so large that
// nothing flushes), all in the same binary and the same run.
//
// Workload: N = 1,000,000 keys of 16 bytes ("%016llu" of 0..N-1),
// 100-byte values; sequential insert; random insert (a fixed-seed
// permutation); random insert with 2 threads into one structure; random get
// with 1 and 2 threads; random get in batches of 16 keys (get_many, RocksDB's
// MultiGet); full scan; bytes of memory per entry.
//
// machine/dependent_load measures the machine itself in the same run: a chain
// of dependent loads at random lines of 8 MiB (about what a 1M-entry list's
// upper levels take) and of 128 MiB (the whole list), with one thread and
// with two, each walking a chain of its own. The two-thread chase shares
// nothing, so its ratio to the one-thread chase is what this machine allows
// any latency-bound work on two threads, the list's included.
//
// Every benchmark times one pass over the N keys with manual timing (setup and
// teardown excluded) and reports ns_per_op. Run with --benchmark_repetitions=3
// on a shared machine and compare ratios within one run.
#include <benchmark/benchmark.h>
#include <malloc.h>
#include <sys/mman.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fsdb/skiplist.h"

#ifdef FSDB_BENCH_PEERS
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#endif

namespace {

constexpr size_t kNumKeys = 1000000;
constexpr size_t kKeyBytes = 16;
constexpr size_t kValueBytes = 100;

// The keys are laid out flat, in both the sequential and the random order, so
// that fetching the next key is a sequential read: the benchmark measures the
// structure, not the harness's own cache misses.
struct Workload {
  std::vector<char> sequential;  // key i at [16 i, 16 i + 16)
  std::vector<char> shuffled;    // the fixed-seed permutation of the same keys
  std::string value;
  Workload()
      : sequential(kNumKeys * kKeyBytes), shuffled(kNumKeys * kKeyBytes), value(kValueBytes, 'v') {
    char buf[32];
    for (size_t i = 0; i < kNumKeys; ++i) {
      std::snprintf(buf, sizeof(buf), "%016llu", static_cast<unsigned long long>(i));
      std::memcpy(&sequential[i * kKeyBytes], buf, kKeyBytes);
    }
    std::vector<uint32_t> permutation(kNumKeys);
    std::iota(permutation.begin(), permutation.end(), 0);
    std::mt19937_64 rng(20240601);  // fixed seed: the same permutation every run
    std::shuffle(permutation.begin(), permutation.end(), rng);
    for (size_t i = 0; i < kNumKeys; ++i) {
      std::memcpy(&shuffled[i * kKeyBytes], &sequential[permutation[i] * kKeyBytes], kKeyBytes);
    }
  }
  std::string_view sequential_key(size_t i) const {
    return {&sequential[i * kKeyBytes], kKeyBytes};
  }
  std::string_view random_key(size_t i) const { return {&shuffled[i * kKeyBytes], kKeyBytes}; }
};

const Workload& workload() {
  static const Workload w;
  return w;
}

using Clock = std::chrono::steady_clock;

double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Timing {
  double wall_seconds = 0;  // from the release of all threads to the last join
  double cpu_seconds = 0;   // summed over the threads: unaffected by descheduling
};

// Runs body(thread_index) on `threads` threads (the caller's thread when 1).
template <typename F>
Timing timed_on_threads(int threads, F body) {
  Timing timing;
  if (threads == 1) {
    const double cpu_start = thread_cpu_seconds();
    const auto start = Clock::now();
    body(0);
    timing.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
    timing.cpu_seconds = thread_cpu_seconds() - cpu_start;
    return timing;
  }
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<double> cpu(static_cast<size_t>(threads), 0.0);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load()) {
      }
      const double cpu_start = thread_cpu_seconds();
      body(t);
      cpu[static_cast<size_t>(t)] = thread_cpu_seconds() - cpu_start;
    });
  }
  while (ready.load() < threads) {
  }
  const auto start = Clock::now();
  go.store(true);
  for (auto& th : pool) th.join();
  timing.wall_seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (double c : cpu) timing.cpu_seconds += c;
  return timing;
}

// ns_per_op: wall time over operations (for 2 threads: the inverse of the
// combined throughput). cpu_ns_per_op: CPU time of the working threads over
// operations; on a shared machine it shows the cost of an operation even when
// the threads were descheduled.
void report(benchmark::State& state, const Timing& t, size_t ops) {
  state.SetIterationTime(t.wall_seconds);
  state.counters["ns_per_op"] = benchmark::Counter(t.wall_seconds * 1e9 / static_cast<double>(ops));
  state.counters["cpu_ns_per_op"] =
      benchmark::Counter(t.cpu_seconds * 1e9 / static_cast<double>(ops));
  state.SetItemsProcessed(static_cast<int64_t>(ops));
}

// ------------------------------------------------------------- the machine

// A random cycle through the 64-byte lines of `bytes` of memory, each line
// holding the index of the next (as a skip list's search, a load that cannot
// start before the one before it has finished). Huge-page backed where the
// kernel allows, as the list's arena is.
class LoadChain {
 public:
  LoadChain(size_t bytes, uint64_t seed) : lines_(bytes / kLineBytes) {
    constexpr size_t kHugePage = size_t{2} << 20;
    const size_t rounded = (lines_ * kLineBytes + kHugePage - 1) / kHugePage * kHugePage;
    memory_ = static_cast<uint64_t*>(std::aligned_alloc(kHugePage, rounded));
    if (memory_ == nullptr) std::abort();
    madvise(memory_, rounded, MADV_HUGEPAGE);
    std::vector<uint32_t> order(lines_);
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed);
    std::shuffle(order.begin(), order.end(), rng);
    for (size_t i = 0; i < lines_; ++i) {
      memory_[order[i] * kWordsPerLine] = order[(i + 1) % lines_] * kWordsPerLine;
    }
  }
  ~LoadChain() { std::free(memory_); }
  LoadChain(const LoadChain&) = delete;
  LoadChain& operator=(const LoadChain&) = delete;

  // Follows the chain for `loads` steps from where the last walk stopped.
  void walk(size_t loads) {
    uint64_t at = at_;
    for (size_t i = 0; i < loads; ++i) at = memory_[at];
    benchmark::DoNotOptimize(at);
    at_ = at;
  }
  // One pass over every line: the chain starts in whatever cache it fits.
  void warm() { walk(lines_); }

 private:
  static constexpr size_t kLineBytes = 64;
  static constexpr size_t kWordsPerLine = kLineBytes / sizeof(uint64_t);
  size_t lines_;
  uint64_t* memory_ = nullptr;
  uint64_t at_ = 0;
};

void BM_DependentLoad(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0)) << 20;
  const int threads = static_cast<int>(state.range(1));
  constexpr size_t kLoadsPerThread = 2000000;
  std::vector<std::unique_ptr<LoadChain>> chains;
  for (int t = 0; t < threads; ++t) {
    chains.push_back(std::make_unique<LoadChain>(bytes, 20261207 + static_cast<uint64_t>(t)));
    chains.back()->warm();
  }
  while (state.KeepRunning()) {
    const Timing s = timed_on_threads(
        threads, [&](int t) { chains[static_cast<size_t>(t)]->walk(kLoadsPerThread); });
    report(state, s, kLoadsPerThread * static_cast<size_t>(threads));
  }
}

// ------------------------------------------------------------------ adapters

// Every lookup and scan reads a byte from the middle of each value it finds,
// as a user would (and as the fastskip crate's benchmark does): a structure
// that keeps values away from its keys pays for it here. Returns whether the
// value is non-empty.
bool read_value(std::string_view v) {
  char c = v.empty() ? 0 : v[v.size() / 2];
  benchmark::DoNotOptimize(c);
  return !v.empty();
}

struct FsdbList {
  static constexpr const char* kName = "fsdb";
  fsdb::ConcurrentSkipList list;
  void put(std::string_view k, std::string_view v) {
    if (!list.insert(k, v)) std::abort();
  }
  bool get(std::string_view k) const {
    const auto v = list.get_live(k);
    return v.has_value() && read_value(*v);
  }
  size_t get_batch(std::span<const std::string_view> keys) const {
    size_t n = 0;
    for (const auto& v : list.get_many(keys)) n += v.has_value() && read_value(*v);
    return n;
  }
  size_t scan() const {
    size_t n = 0;
    for (fsdb::Cursor c = list.cursor(); c.valid(); c.next()) n += read_value(c.entry().value);
    return n;
  }
  size_t bytes_used() const { return list.memory_usage(); }
  size_t bytes_reserved() const { return list.memory_reserved(); }
};

struct LockedMap {
  static constexpr const char* kName = "std_map_mutex";
  mutable std::mutex mu;
  std::map<std::string, std::string, std::less<>> map;
  size_t malloc_before = mallinfo2().uordblks;
  void put(std::string_view k, std::string_view v) {
    std::lock_guard<std::mutex> lock(mu);
    map.emplace(std::string(k), std::string(v));
  }
  bool get(std::string_view k) const {
    std::lock_guard<std::mutex> lock(mu);
    const auto it = map.find(k);
    return it != map.end() && read_value(it->second);
  }
  size_t get_batch(std::span<const std::string_view> keys) const {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (std::string_view k : keys) {
      const auto it = map.find(k);
      n += it != map.end() && read_value(it->second);
    }
    return n;
  }
  size_t scan() const {
    std::lock_guard<std::mutex> lock(mu);
    size_t n = 0;
    for (const auto& kv : map) n += read_value(kv.second);
    return n;
  }
  size_t bytes_used() const { return mallinfo2().uordblks - malloc_before; }
  size_t bytes_reserved() const { return bytes_used(); }
};

#ifdef FSDB_BENCH_PEERS
struct RocksMemtable {
  static constexpr const char* kName = "rocksdb_memtable";
  std::string path;
  std::unique_ptr<rocksdb::DB> db;
  rocksdb::WriteOptions write_options;
  RocksMemtable() {
    char tmpl[] = "/tmp/fsdb_memtable_bench_XXXXXX";
    path = mkdtemp(tmpl);
    rocksdb::Options options;
    options.create_if_missing = true;
    options.write_buffer_size = size_t{4} << 30;  // nothing flushes during a run
    options.max_write_buffer_number = 2;
    options.allow_concurrent_memtable_write = true;
    rocksdb::DB* raw = nullptr;
    if (!rocksdb::DB::Open(options, path, &raw).ok()) std::abort();
    db.reset(raw);
    write_options.disableWAL = true;
  }
  ~RocksMemtable() {
    db.reset();
    rocksdb::DestroyDB(path, rocksdb::Options());
  }
  void put(std::string_view k, std::string_view v) {
    if (!db->Put(write_options, rocksdb::Slice(k.data(), k.size()),
                 rocksdb::Slice(v.data(), v.size()))
             .ok())
      std::abort();
  }
  bool get(std::string_view k) const {
    std::string v;
    return db->Get(rocksdb::ReadOptions(), rocksdb::Slice(k.data(), k.size()), &v).ok() &&
           read_value(v);
  }
  size_t get_batch(std::span<const std::string_view> keys) const {
    std::vector<rocksdb::Slice> slices;
    slices.reserve(keys.size());
    for (std::string_view k : keys) slices.emplace_back(k.data(), k.size());
    std::vector<std::string> values;
    size_t n = 0;
    const std::vector<rocksdb::Status> statuses =
        db->MultiGet(rocksdb::ReadOptions(), slices, &values);
    for (size_t i = 0; i < statuses.size(); ++i) n += statuses[i].ok() && read_value(values[i]);
    return n;
  }
  size_t scan() const {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions()));
    size_t n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      n += read_value(std::string_view(it->value().data(), it->value().size()));
    }
    return n;
  }
  size_t bytes_used() const {
    uint64_t v = 0;
    db->GetIntProperty("rocksdb.cur-size-all-mem-tables", &v);
    return v;
  }
  size_t bytes_reserved() const {
    uint64_t v = 0;
    db->GetIntProperty("rocksdb.size-all-mem-tables", &v);
    return v;
  }
};
#endif

// ------------------------------------------------------------------ workloads

template <typename Store>
Timing fill(Store& store, int threads, bool sequential) {
  const Workload& w = workload();
  return timed_on_threads(threads, [&](int t) {
    for (size_t i = static_cast<size_t>(t); i < kNumKeys; i += static_cast<size_t>(threads)) {
      store.put(sequential ? w.sequential_key(i) : w.random_key(i), w.value);
    }
  });
}

template <typename Store>
void BM_SequentialInsert(benchmark::State& state) {
  const Workload& w = workload();
  for (auto _ : state) {
    auto store = std::make_unique<Store>();
    const Timing s = timed_on_threads(1, [&](int) {
      for (size_t i = 0; i < kNumKeys; ++i) store->put(w.sequential_key(i), w.value);
    });
    report(state, s, kNumKeys);
  }
}

template <typename Store>
void BM_RandomInsert(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const Workload& w = workload();
  for (auto _ : state) {
    auto store = std::make_unique<Store>();
    const Timing s = timed_on_threads(threads, [&](int t) {
      for (size_t i = static_cast<size_t>(t); i < kNumKeys; i += static_cast<size_t>(threads)) {
        store->put(w.random_key(i), w.value);
      }
    });
    report(state, s, kNumKeys);
  }
}

template <typename Store>
Store& filled_store() {
  static Store* store = [] {
    auto* s = new Store();
    fill(*s, 1, false);
    return s;
  }();
  return *store;
}

template <typename Store>
void BM_RandomGet(benchmark::State& state) {
  const int threads = static_cast<int>(state.range(0));
  const Workload& w = workload();
  Store& store = filled_store<Store>();
  for (auto _ : state) {
    std::atomic<size_t> found{0};
    const Timing s = timed_on_threads(threads, [&](int t) {
      size_t hits = 0;
      // Each thread looks up every key in its own rotation of the permutation.
      const size_t offset = static_cast<size_t>(t) * (kNumKeys / 2);
      for (size_t i = 0; i < kNumKeys; ++i) {
        hits += store.get(w.random_key((i + offset) % kNumKeys));
      }
      found.fetch_add(hits);
    });
    if (found.load() != kNumKeys * static_cast<size_t>(threads)) {
      state.SkipWithError("lookup missed a key");
      return;
    }
    report(state, s, kNumKeys * static_cast<size_t>(threads));
  }
}

// Lookups in batches of kBatch keys (get_many / MultiGet), one thread.
template <typename Store>
void BM_RandomGetBatch(benchmark::State& state) {
  constexpr size_t kBatch = 16;
  const Workload& w = workload();
  Store& store = filled_store<Store>();
  for (auto _ : state) {
    size_t found = 0;
    const Timing s = timed_on_threads(1, [&](int) {
      std::vector<std::string_view> keys(kBatch);
      for (size_t i = 0; i < kNumKeys; i += kBatch) {
        const size_t n = std::min(kBatch, kNumKeys - i);
        for (size_t j = 0; j < n; ++j) keys[j] = w.random_key(i + j);
        found += store.get_batch(std::span<const std::string_view>(keys.data(), n));
      }
    });
    if (found != kNumKeys) {
      state.SkipWithError("lookup missed a key");
      return;
    }
    report(state, s, kNumKeys);
  }
}

template <typename Store>
void BM_Scan(benchmark::State& state) {
  Store& store = filled_store<Store>();
  for (auto _ : state) {
    size_t n = 0;
    const Timing s = timed_on_threads(1, [&](int) { n = store.scan(); });
    if (n != kNumKeys) {
      state.SkipWithError("scan saw the wrong number of entries");
      return;
    }
    report(state, s, kNumKeys);
  }
}

template <typename Store>
void BM_Memory(benchmark::State& state) {
  for (auto _ : state) {
    auto store = std::make_unique<Store>();
    state.SetIterationTime(fill(*store, 1, false).wall_seconds);
    state.counters["bytes_used_per_entry"] =
        static_cast<double>(store->bytes_used()) / static_cast<double>(kNumKeys);
    state.counters["bytes_reserved_per_entry"] =
        static_cast<double>(store->bytes_reserved()) / static_cast<double>(kNumKeys);
  }
}

template <typename Store>
void register_all() {
  const std::string name = Store::kName;
  auto configure = [](benchmark::internal::Benchmark* b) {
    b->UseManualTime()->Iterations(1)->Unit(benchmark::kMillisecond);
  };
  configure(benchmark::RegisterBenchmark((name + "/sequential_insert").c_str(),
                                         BM_SequentialInsert<Store>));
  configure(benchmark::RegisterBenchmark((name + "/random_insert").c_str(), BM_RandomInsert<Store>)
                ->ArgName("threads")
                ->Arg(1)
                ->Arg(2));
  configure(benchmark::RegisterBenchmark((name + "/random_get").c_str(), BM_RandomGet<Store>)
                ->ArgName("threads")
                ->Arg(1)
                ->Arg(2));
  configure(benchmark::RegisterBenchmark((name + "/random_get_batch16").c_str(),
                                         BM_RandomGetBatch<Store>));
  configure(benchmark::RegisterBenchmark((name + "/full_scan").c_str(), BM_Scan<Store>));
  configure(benchmark::RegisterBenchmark((name + "/memory").c_str(), BM_Memory<Store>));
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::RegisterBenchmark("machine/dependent_load", BM_DependentLoad)
      ->ArgNames({"mib", "threads"})
      ->Args({8, 1})
      ->Args({128, 1})
      ->Args({128, 2})
      ->UseManualTime()
      ->Iterations(1)
      ->Unit(benchmark::kMillisecond);
  register_all<FsdbList>();
  register_all<LockedMap>();
#ifdef FSDB_BENCH_PEERS
  register_all<RocksMemtable>();
#endif
  (void)workload();  // build the keys before anything is timed
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
