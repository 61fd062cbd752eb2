// The crash harness's workload: 1–4 threads doing a random mix of put, remove,
// atomic batch, get, iterate, sync_wal and flush against one DB, recording
// every write in the expected-state oracle (expected_state.h).
//
// Each write locks the keys it touches (sorted, so batches cannot deadlock)
// from before its start tick until after its end tick. Writes of one key are
// therefore totally ordered by their start ticks, and a get made under the
// key's lock knows exactly what it must return while the key's last write was
// acknowledged. Iterators lock the range they read the same way and compare
// every key with the model; a snapshot taken under a range's locks must keep
// showing what the model held then, read a little later while the others
// write. A checkpoint made under a range's locks (DB::checkpoint(), when
// WorkloadOptions::checkpoint_dir is set) must open as a DB of its own that
// holds the range as the model does. Reads also check what holds for every key: harness keys only,
// in order, each holding a value written to that key by a write already started.
//
// Thread safety: start(), request_stop() and join() from one controlling
// thread; counters may be read at any time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fsdb/db.h"
#include "tools/crashtest/expected_state.h"

namespace fsdb::crashtest {

struct WorkloadOptions {
  uint32_t threads = 2;
  uint32_t keys = 1000;
  uint64_t epoch = 1;  // stamped into every value; one per cycle
  uint64_t seed = 1;
  uint32_t max_value_padding = 100;
  uint32_t max_batch_keys = 8;
  double sync_fraction = 0.05;  // share of writes made with WriteOptions::sync
  // Share of the other writes made with WriteOptions::disable_wal: lost in a
  // crash unless a flush wrote them out.
  double unlogged_fraction = 0;
  // Op weights (relative).
  uint32_t put_weight = 40;
  uint32_t remove_weight = 8;
  uint32_t batch_weight = 15;
  uint32_t get_weight = 25;
  uint32_t iterate_weight = 8;
  uint32_t snapshot_weight = 3;  // reads of a range at a snapshot, a little later
  uint32_t sync_wal_weight = 1;
  uint32_t flush_weight = 1;
  // Where checkpoints go (empty: none): one op in checkpoint_one_in makes one
  // there, checks the copy and removes it.
  std::string checkpoint_dir;
  uint32_t checkpoint_one_in = 4000;
  // Called (from the thread that made it) after each checkpoint was checked,
  // so that a process about to be killed has reported it.
  std::function<void()> on_checkpoint;
  uint64_t max_ops_per_thread = 0;  // 0: until request_stop()
  std::string journal_dir;          // empty: keep the oracle in memory only
  bool journal_sync = false;
  // Whether a failed DB call is expected (fault injection) or a violation.
  bool errors_expected = false;
  // With errors_expected: whether a fault has been injected yet. An error
  // before the first one is a violation (the engine failed on its own).
  std::function<bool()> faults_injected;
  // Called at once with each violation (from the thread that found it), so a
  // process that is about to be killed has already reported it.
  std::function<void(const std::string&)> on_violation;
  // For tests of the harness: thread 0 stops this long after start() and
  // never returns, as if deadlocked (join() then waits for ever); 0: never.
  uint64_t stall_one_thread_after_ms = 0;
};

struct WorkloadCounters {
  std::atomic<uint64_t> ops{0};
  std::atomic<uint64_t> writes{0};  // started
  std::atomic<uint64_t> acked{0};   // acknowledged
  std::atomic<uint64_t> sync_writes{0};
  std::atomic<uint64_t> reads{0};
  std::atomic<uint64_t> failed{0};       // DB calls that returned an error
  std::atomic<uint64_t> checkpoints{0};  // made, opened and checked
};

class Workload {
 public:
  Workload(DB* db, WorkloadOptions options, const Baseline& baseline);
  ~Workload();
  Workload(const Workload&) = delete;
  Workload& operator=(const Workload&) = delete;

  void start();
  void request_stop();
  void join();
  bool finished() const;  // every thread ran out of ops (max_ops_per_thread)

  // After join(): every write started, all threads together.
  std::vector<OpRecord> ops() const;
  // After join() and a close() of the DB that returned OK: records (and
  // journals, as thread 0's) an acknowledged flush that began after every
  // other op, since close() writes out the memtables that hold unlogged
  // writes. Without it a clean close would prove nothing about them.
  void record_clean_close();
  // Anything a read saw that it must not have (and harness failures).
  std::vector<std::string> violations() const;
  const WorkloadCounters& counters() const { return counters_; }
  // The fewest operations any running thread has finished (a thread that has
  // stopped is not counted): a thread stuck in a call shows here while the
  // others go on.
  uint64_t slowest_thread_ops() const;

 private:
  // What a key must read while its lock is held.
  struct KeyModel {
    std::optional<std::string> value;
    bool certain = true;  // false after a failed write: it may or may not have happened
  };
  struct ThreadState;

  void run(uint32_t thread);
  void do_write(ThreadState& ts, OpKind kind);
  void do_get(ThreadState& ts);
  // Reads a range of keys; half of the time holding their locks, and then
  // compares it with the model.
  void do_iterate(ThreadState& ts);
  // Takes a snapshot while holding a range's locks, then reads the range at
  // it (an iterator and multi_get) while other threads write.
  void do_snapshot_read(ThreadState& ts);
  // Makes a checkpoint while holding a range's locks, opens it and compares
  // the range with the model, then removes it.
  void do_checkpoint(ThreadState& ts);
  // Locks a random range of up to 50 keys; returns its first and last key.
  std::pair<uint32_t, uint32_t> lock_range(ThreadState& ts);
  void unlock_range(uint32_t first, uint32_t last);
  // The range's keys and values as an iterator at `snapshot` (null: the
  // latest state) yields them, in a random direction; nullopt once something
  // is reported (a key out of order or never written, a value never written
  // to its key) or the iterator fails.
  std::optional<std::map<uint32_t, std::string>> scan_range(ThreadState& ts, uint32_t first,
                                                            uint32_t last, const Snapshot* snapshot,
                                                            const char* what);
  // Reports each key of `expected` (from `first` on) whose last write was
  // acknowledged and that `found` does not hold as the model does.
  void check_range(const char* what, uint32_t first, const std::vector<KeyModel>& expected,
                   const std::map<uint32_t, std::string>& found);
  void report(std::string violation);
  void note_failure(const Status& s, const char* what);

  DB* const db_;
  const WorkloadOptions options_;
  std::vector<std::mutex> key_locks_;
  std::vector<KeyModel> models_;  // models_[k] guarded by key_locks_[k]
  // Highest write counter each thread has started; an iterator may only see
  // values of started writes. The store (release) precedes the DB call, and a
  // reader that sees the write's value got it through the DB's own
  // release/acquire publication, so its later load (acquire) cannot return an
  // older counter. Weaker orders would do; these make the argument local.
  std::unique_ptr<std::atomic<uint64_t>[]> started_;
  // Operations each thread has finished; UINT64_MAX once it has stopped.
  std::unique_ptr<std::atomic<uint64_t>[]> done_by_thread_;
  std::atomic<uint64_t> tick_{0};
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> done_threads_{0};
  WorkloadCounters counters_;
  std::vector<std::unique_ptr<ThreadState>> states_;
  std::vector<std::thread> threads_;
  mutable std::mutex violations_mu_;
  std::vector<std::string> violations_;
};

}  // namespace fsdb::crashtest
