#include "tools/crashtest/workload.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <random>
#include <thread>

#include "tools/crashtest/value_codec.h"

namespace fsdb::crashtest {

struct Workload::ThreadState {
  uint32_t thread = 0;
  std::mt19937_64 rng;
  uint64_t counter = 0;
  uint64_t checkpoints = 0;  // names this thread's checkpoints
  std::vector<OpRecord> ops;
  JournalWriter journal;
  bool journal_ok = true;
};

Workload::Workload(DB* db, WorkloadOptions options, const Baseline& baseline)
    : db_(db),
      options_(std::move(options)),
      key_locks_(options_.keys),
      models_(options_.keys),
      started_(new std::atomic<uint64_t>[options_.threads]),
      done_by_thread_(new std::atomic<uint64_t>[options_.threads]) {
  for (uint32_t k = 0; k < options_.keys && k < baseline.values.size(); ++k) {
    models_[k].value = baseline.values[k];
  }
  for (uint32_t t = 0; t < options_.threads; ++t) {
    started_[t].store(0);
    done_by_thread_[t].store(0);
  }
}

uint64_t Workload::slowest_thread_ops() const {
  uint64_t slowest = UINT64_MAX;
  for (uint32_t t = 0; t < options_.threads; ++t) {
    // Relaxed: a progress count for the heartbeat; nothing is published
    // through it, and a stale value only delays the report by a beat.
    slowest = std::min(slowest, done_by_thread_[t].load(std::memory_order_relaxed));
  }
  return slowest;
}

Workload::~Workload() {
  request_stop();
  join();
}

void Workload::start() {
  for (uint32_t t = 0; t < options_.threads; ++t) {
    auto ts = std::make_unique<ThreadState>();
    ts->thread = t;
    ts->rng.seed(options_.seed * 0x9e3779b97f4a7c15ULL + t + 1);
    if (!options_.journal_dir.empty()) {
      Status s = ts->journal.open(options_.journal_dir, t, options_.journal_sync);
      if (!s.ok()) {
        report("harness: cannot open the journal: " + s.to_string());
        ts->journal_ok = false;
      }
    }
    states_.push_back(std::move(ts));
  }
  for (uint32_t t = 0; t < options_.threads; ++t) threads_.emplace_back([this, t] { run(t); });
}

void Workload::request_stop() { stop_.store(true); }

void Workload::join() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

bool Workload::finished() const { return done_threads_.load() == options_.threads; }

std::vector<OpRecord> Workload::ops() const {
  std::vector<OpRecord> all;
  for (const auto& ts : states_) all.insert(all.end(), ts->ops.begin(), ts->ops.end());
  return all;
}

void Workload::record_clean_close() {
  if (states_.empty()) return;
  ThreadState& ts = *states_[0];
  OpRecord op;
  op.thread = ts.thread;
  op.kind = OpKind::kFlush;
  op.counter = ++ts.counter;
  op.start_tick = tick_.fetch_add(1) + 1;
  op.end_tick = tick_.fetch_add(1) + 1;
  op.outcome = OpOutcome::kAcked;
  if (ts.journal_ok && !options_.journal_dir.empty()) {
    OpRecord begun = op;
    begun.outcome = OpOutcome::kPending;
    begun.end_tick = 0;
    Status js = ts.journal.begin(begun);
    if (js.ok()) js = ts.journal.finish(op);
    if (!js.ok()) report("harness: journal write failed: " + js.to_string());
  }
  ts.ops.push_back(std::move(op));
}

std::vector<std::string> Workload::violations() const {
  std::lock_guard<std::mutex> guard(violations_mu_);
  return violations_;
}

void Workload::report(std::string violation) {
  if (options_.on_violation) options_.on_violation(violation);
  std::lock_guard<std::mutex> guard(violations_mu_);
  if (violations_.size() < 100) violations_.push_back(std::move(violation));
}

void Workload::note_failure(const Status& s, const char* what) {
  counters_.failed.fetch_add(1);
  if (!options_.errors_expected) {
    report(std::string("unexpected error from ") + what + ": " + s.to_string());
  } else if (options_.faults_injected && !options_.faults_injected()) {
    // The injector counts a fault before the failing call returns it, so
    // every error it caused is seen after its count.
    report(std::string("error from ") + what + " before any fault was injected: " + s.to_string());
  } else if (!s.is_io_error()) {
    // Every injected fault is an I/O error (a failed call or a power cut),
    // and the DB passes such errors on as they are: anything else (corruption,
    // an invalid argument) is no fault's doing.
    report(std::string("error from ") + what +
           " that no injected I/O error explains: " + s.to_string());
  }
}

void Workload::run(uint32_t thread) {
  ThreadState& ts = *states_[thread];
  const uint64_t total = uint64_t{options_.put_weight} + options_.remove_weight +
                         options_.batch_weight + options_.get_weight + options_.iterate_weight +
                         options_.snapshot_weight + options_.sync_wal_weight +
                         options_.flush_weight;
  uint64_t done = 0;
  const auto started = std::chrono::steady_clock::now();
  while (!stop_.load() && ts.journal_ok && total > 0 &&
         (options_.max_ops_per_thread == 0 || done < options_.max_ops_per_thread)) {
    if (options_.stall_one_thread_after_ms != 0 && thread == 0 &&
        std::chrono::steady_clock::now() - started >=
            std::chrono::milliseconds(options_.stall_one_thread_after_ms)) {
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // a deadlock
    }
    if (!options_.checkpoint_dir.empty() && ts.rng() % options_.checkpoint_one_in == 0) {
      do_checkpoint(ts);
      ++done;
      continue;
    }
    uint64_t pick = ts.rng() % total;
    auto take = [&](uint32_t weight) {
      if (pick < weight) return true;
      pick -= weight;
      return false;
    };
    if (take(options_.put_weight)) {
      do_write(ts, OpKind::kPut);
    } else if (take(options_.remove_weight)) {
      do_write(ts, OpKind::kRemove);
    } else if (take(options_.batch_weight)) {
      do_write(ts, OpKind::kBatch);
    } else if (take(options_.get_weight)) {
      do_get(ts);
    } else if (take(options_.iterate_weight)) {
      do_iterate(ts);
    } else if (take(options_.snapshot_weight)) {
      do_snapshot_read(ts);
    } else if (take(options_.sync_wal_weight)) {
      do_write(ts, OpKind::kSyncWal);
    } else {
      do_write(ts, OpKind::kFlush);
    }
    ++done;
    counters_.ops.fetch_add(1);
    // Relaxed: see slowest_thread_ops().
    done_by_thread_[thread].store(done, std::memory_order_relaxed);
  }
  done_by_thread_[thread].store(UINT64_MAX, std::memory_order_relaxed);
  if (ts.journal_ok) (void)ts.journal.flush();
  done_threads_.fetch_add(1);
}

void Workload::do_write(ThreadState& ts, OpKind kind) {
  OpRecord op;
  op.thread = ts.thread;
  op.kind = kind;
  const bool keyed = kind == OpKind::kPut || kind == OpKind::kRemove || kind == OpKind::kBatch;
  if (keyed) {
    op.sync = std::uniform_real_distribution<double>(0, 1)(ts.rng) < options_.sync_fraction;
    op.unlogged = !op.sync && options_.unlogged_fraction > 0 &&
                  std::uniform_real_distribution<double>(0, 1)(ts.rng) < options_.unlogged_fraction;
    const uint32_t n = kind == OpKind::kBatch
                           ? 2 + static_cast<uint32_t>(
                                     ts.rng() % std::max<uint32_t>(1, options_.max_batch_keys - 1))
                           : 1;
    std::vector<uint32_t> keys;
    for (uint32_t i = 0; i < n; ++i)
      keys.push_back(static_cast<uint32_t>(ts.rng() % options_.keys));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    for (uint32_t k : keys) {
      // A batch removes a key now and then, so removals are atomic with puts too.
      const bool is_put = kind == OpKind::kPut || (kind == OpKind::kBatch && ts.rng() % 8 != 0);
      op.writes.push_back({k, is_put});
    }
  }
  for (const KeyWrite& w : op.writes) key_locks_[w.key].lock();
  op.counter = ++ts.counter;
  started_[ts.thread].store(op.counter, std::memory_order_release);
  op.start_tick = tick_.fetch_add(1) + 1;
  if (ts.journal_ok && !options_.journal_dir.empty()) {
    Status js = ts.journal.begin(op);
    if (!js.ok()) {
      report("harness: journal write failed: " + js.to_string());
      ts.journal_ok = false;
      for (const KeyWrite& w : op.writes) key_locks_[w.key].unlock();
      return;
    }
  }

  WriteOptions wo;
  wo.sync = op.sync;
  wo.disable_wal = op.unlogged;
  Status s;
  switch (kind) {
    case OpKind::kPut:
      s = db_->put(wo, key_name(op.writes[0].key),
                   make_value({options_.epoch, ts.thread, op.counter, op.writes[0].key},
                              options_.max_value_padding));
      break;
    case OpKind::kRemove:
      s = db_->remove(wo, key_name(op.writes[0].key));
      break;
    case OpKind::kBatch: {
      WriteBatch batch;
      for (const KeyWrite& w : op.writes) {
        if (w.is_put) {
          batch.put(key_name(w.key), make_value({options_.epoch, ts.thread, op.counter, w.key},
                                                options_.max_value_padding));
        } else {
          batch.remove(key_name(w.key));
        }
      }
      s = db_->write(wo, &batch);
      break;
    }
    case OpKind::kSyncWal:
      s = db_->sync_wal();
      break;
    case OpKind::kFlush:
      s = db_->flush();
      break;
  }
  op.end_tick = tick_.fetch_add(1) + 1;
  op.outcome = s.ok() ? OpOutcome::kAcked : OpOutcome::kFailed;
  if (ts.journal_ok && !options_.journal_dir.empty()) {
    Status js = ts.journal.finish(op);
    if (!js.ok()) {
      report("harness: journal write failed: " + js.to_string());
      ts.journal_ok = false;
    }
  }
  for (const KeyWrite& w : op.writes) {
    KeyModel& m = models_[w.key];
    if (s.ok()) {
      m.certain = true;
      if (w.is_put) {
        m.value =
            make_value({options_.epoch, ts.thread, op.counter, w.key}, options_.max_value_padding);
      } else {
        m.value.reset();
      }
    } else {
      m.certain = false;
    }
  }
  for (auto it = op.writes.rbegin(); it != op.writes.rend(); ++it) key_locks_[it->key].unlock();
  counters_.writes.fetch_add(1);
  if (s.ok()) counters_.acked.fetch_add(1);
  if (op.sync) counters_.sync_writes.fetch_add(1);
  if (!s.ok()) {
    note_failure(s, op_kind_name(kind));
    // A DB with a background error fails every write at once: do not spin.
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ts.ops.push_back(std::move(op));
}

void Workload::do_get(ThreadState& ts) {
  if (ts.journal_ok && !options_.journal_dir.empty()) (void)ts.journal.flush();
  const uint32_t k = static_cast<uint32_t>(ts.rng() % options_.keys);
  std::lock_guard<std::mutex> guard(key_locks_[k]);
  std::string value;
  Status s = db_->get(key_name(k), &value);
  counters_.reads.fetch_add(1);
  if (!s.ok() && !s.is_not_found()) {
    note_failure(s, "get");
    return;
  }
  const KeyModel& m = models_[k];
  const std::optional<std::string> got = s.ok() ? std::optional<std::string>(value) : std::nullopt;
  if (m.certain) {
    if (got != m.value) {
      report("get(" + key_name(k) + ") returned " + (got ? "'" + *got + "'" : "NotFound") +
             " but its last acknowledged write left " +
             (m.value ? "'" + *m.value + "'" : "it absent") + " (visible sequence " +
             db_->property("fsdb.sequence").value_or("?") + ")");
    }
  } else if (got) {
    const auto id = parse_value(*got, options_.max_value_padding);
    if (!id || id->key != k)
      report("get(" + key_name(k) + ") returned a foreign value '" + *got + "'");
  }
}

std::pair<uint32_t, uint32_t> Workload::lock_range(ThreadState& ts) {
  const uint32_t first = static_cast<uint32_t>(ts.rng() % options_.keys);
  const uint32_t span = 1 + static_cast<uint32_t>(ts.rng() % 50);
  const uint32_t last = std::min(options_.keys - 1, first + span - 1);
  // Ascending, as writes lock their keys: no cycle, no deadlock.
  for (uint32_t k = first; k <= last; ++k) key_locks_[k].lock();
  return {first, last};
}

void Workload::unlock_range(uint32_t first, uint32_t last) {
  for (uint32_t k = last + 1; k-- > first;) key_locks_[k].unlock();
}

std::optional<std::map<uint32_t, std::string>> Workload::scan_range(ThreadState& ts, uint32_t first,
                                                                    uint32_t last,
                                                                    const Snapshot* snapshot,
                                                                    const char* what) {
  ReadOptions ro;
  ro.snapshot = snapshot;
  std::unique_ptr<Iterator> it = db_->new_iterator(ro);
  const bool backward = ts.rng() % 4 == 0;
  const std::string low = key_name(first);
  const std::string high = key_name(last);
  std::map<uint32_t, std::string> found;
  std::optional<uint32_t> previous;
  for (backward ? it->seek_for_prev(high) : it->seek(low);
       it->valid() && (backward ? it->key() >= low : it->key() <= high);
       backward ? it->prev() : it->next()) {
    const auto k = parse_key_name(it->key());
    if (!k || *k >= options_.keys) {
      report(std::string(what) + " yielded a key never written: '" + std::string(it->key()) + "'");
      return std::nullopt;
    }
    if (previous && (backward ? *k >= *previous : *k <= *previous)) {
      report(std::string(what) + " out of order: " + key_name(*k) + " after " +
             key_name(*previous));
      return std::nullopt;
    }
    previous = k;
    const auto id = parse_value(it->value(), options_.max_value_padding);
    if (!id || id->key != *k || id->epoch > options_.epoch ||
        (id->epoch == options_.epoch &&
         (id->thread >= options_.threads ||
          id->counter > started_[id->thread].load(std::memory_order_acquire)))) {
      report(std::string(what) + ": " + key_name(*k) + " holds a value never written to it: '" +
             std::string(it->value()) + "'");
      return std::nullopt;
    }
    found.emplace(*k, std::string(it->value()));
  }
  if (!it->status().ok()) {
    note_failure(it->status(), what);
    return std::nullopt;
  }
  return found;
}

void Workload::check_range(const char* what, uint32_t first, const std::vector<KeyModel>& expected,
                           const std::map<uint32_t, std::string>& found) {
  for (uint32_t i = 0; i < expected.size(); ++i) {
    const KeyModel& m = expected[i];
    if (!m.certain) continue;  // its last write failed: either outcome is possible
    const uint32_t k = first + i;
    const auto at = found.find(k);
    const std::optional<std::string> got =
        at == found.end() ? std::nullopt : std::optional<std::string>(at->second);
    if (got != m.value) {
      report(std::string(what) + " found " + key_name(k) + " " +
             (got ? "holding '" + *got + "'" : "absent") +
             " but its last acknowledged write left " +
             (m.value ? "'" + *m.value + "'" : "it absent"));
    }
  }
}

void Workload::do_iterate(ThreadState& ts) {
  if (ts.journal_ok && !options_.journal_dir.empty()) (void)ts.journal.flush();
  counters_.reads.fetch_add(1);
  if (ts.rng() % 2 == 0) {
    // Half of the scans take no locks: writes race with them, and only what
    // holds for any read is checked (harness keys, in order, values written).
    const uint32_t first = static_cast<uint32_t>(ts.rng() % options_.keys);
    const uint32_t last = std::min(options_.keys - 1, first + static_cast<uint32_t>(ts.rng() % 50));
    (void)scan_range(ts, first, last, nullptr, "iterator");
    return;
  }
  // Under the range's locks no write to it is in flight: the scan must find
  // exactly what the model holds for every key whose last write was acknowledged.
  const auto [first, last] = lock_range(ts);
  const auto found = scan_range(ts, first, last, nullptr, "iterator");
  if (found) {
    check_range("iterator", first,
                std::vector<KeyModel>(models_.begin() + first, models_.begin() + last + 1), *found);
  }
  unlock_range(first, last);
}

void Workload::do_snapshot_read(ThreadState& ts) {
  if (ts.journal_ok && !options_.journal_dir.empty()) (void)ts.journal.flush();
  counters_.reads.fetch_add(1);
  // Taken while no write to the range is in flight, so the snapshot must keep
  // showing the model as it was then, whatever is written after the locks go
  // (the other threads write meanwhile, and memtables are sealed, flushed
  // and compacted under it).
  const auto [first, last] = lock_range(ts);
  const std::vector<KeyModel> expected(models_.begin() + first, models_.begin() + last + 1);
  const Snapshot* snapshot = db_->get_snapshot();
  unlock_range(first, last);
  std::this_thread::sleep_for(std::chrono::microseconds(ts.rng() % 2000));
  if (const auto found = scan_range(ts, first, last, snapshot, "iterator at a snapshot")) {
    check_range("iterator at a snapshot", first, expected, *found);
  }
  std::vector<std::string> names;
  for (uint32_t k = first; k <= last; ++k) names.push_back(key_name(k));
  const std::vector<std::string_view> keys(names.begin(), names.end());
  std::vector<std::string> values;
  ReadOptions ro;
  ro.snapshot = snapshot;
  const std::vector<Status> statuses = db_->multi_get(ro, keys, &values);
  std::map<uint32_t, std::string> found;
  bool failed = false;
  for (uint32_t i = 0; i < statuses.size() && !failed; ++i) {
    if (statuses[i].ok()) {
      found.emplace(first + i, values[i]);
    } else if (!statuses[i].is_not_found()) {
      note_failure(statuses[i], "multi_get at a snapshot");
      failed = true;
    }
  }
  if (!failed) check_range("multi_get at a snapshot", first, expected, found);
  db_->release_snapshot(snapshot);
}

void Workload::do_checkpoint(ThreadState& ts) {
  if (ts.journal_ok && !options_.journal_dir.empty()) (void)ts.journal.flush();
  // No write to the range is in flight while the checkpoint is made, and
  // every one before it was acknowledged or failed: the copy must hold each
  // key whose last write was acknowledged as the model does.
  const auto [first, last] = lock_range(ts);
  const std::vector<KeyModel> expected(models_.begin() + first, models_.begin() + last + 1);
  const std::string dir = options_.checkpoint_dir + "/c" + std::to_string(options_.epoch) + "-t" +
                          std::to_string(ts.thread) + "-" + std::to_string(ts.checkpoints++);
  const Status s = db_->checkpoint(dir);
  unlock_range(first, last);
  if (!s.ok()) {
    note_failure(s, "checkpoint");
    return;
  }
  // Opened as an application would open a backup: on its own, with the
  // default options and file system, while this DB goes on.
  std::unique_ptr<DB> copy;
  Status open = DB::open(Options(), dir, &copy);
  if (!open.ok()) {
    report("checkpoint " + dir + " does not open: " + open.to_string());
    return;
  }
  std::map<uint32_t, std::string> found;
  for (uint32_t k = first; k <= last; ++k) {
    std::string value;
    const Status got = copy->get(key_name(k), &value);
    if (got.ok()) {
      found.emplace(k, std::move(value));
    } else if (!got.is_not_found()) {
      report("checkpoint " + dir + ": get " + key_name(k) + ": " + got.to_string());
      return;
    }
  }
  check_range("checkpoint", first, expected, found);
  const Status closed = copy->close();
  if (!closed.ok()) report("checkpoint " + dir + ": close: " + closed.to_string());
  copy.reset();
  (void)destroy_db(dir);
  counters_.checkpoints.fetch_add(1);
  if (options_.on_checkpoint) options_.on_checkpoint();
}

}  // namespace fsdb::crashtest
