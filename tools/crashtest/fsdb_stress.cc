// fsdb_stress: drives one DB with the harness workload, journaling every write
// to the expected-state oracle, until --duration passes or it is killed.
//
//   fsdb_stress --db=DIR --state=DIR --epoch=N [--seed=S] [--threads=1..4]
//               [--keys=N] [--profile=P] [--duration=10s] [--kill_point=SPEC]
//               [--sync_fraction=0.05] [--unlogged_fraction=0] [--journal_sync]
//               [--open_only] [--checkpoints=DIR]
//               [--hang_after=DURATION] [--stall_one_thread_after=DURATION]
//
// --checkpoints makes a checkpoint in DIR now and then, checks it and
// removes it (WorkloadOptions::checkpoint_dir).
// --open_only opens the DB (recovering it, where a kill point may end the
// process) and closes it again, without a workload or journals.
// --hang_after stops the workload that long after the process started (not
// before the DB is open) and never exits: a hung process;
// --stall_one_thread_after stops one thread only. Both are for testing that
// fsdb_crashtest notices them.
// --state holds the baseline (what the DB held when this run began; written by
// fsdb_crashtest after verifying) and receives the journals. Every violation a
// read finds is printed to stderr at once as a "VIOLATION:" line; a
// "HEARTBEAT ops=N ..." line on stdout before the open ("opening"), every
// 200 ms of the workload ("every_thread=M": the fewest operations any thread
// has done) and before the close ("stopping") lets fsdb_crashtest tell a hung
// child (or thread) from a busy one. Exit status:
// 0 after a clean run, 2 when the DB cannot be opened or the flags are wrong,
// 3 after a violation.
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

#include "fsdb/db.h"
#include "tools/crashtest/expected_state.h"
#include "tools/crashtest/harness_config.h"
#include "tools/crashtest/kill_point.h"
#include "tools/crashtest/workload.h"

using namespace fsdb;
using namespace fsdb::crashtest;

int main(int argc, char** argv) {
  // --hang_after counts from here: the parent's clock for its kill starts at
  // the fork, so a hang can be placed just before the kill.
  const auto process_started = std::chrono::steady_clock::now();
  Flags flags;
  Status s = flags.parse(
      argc, argv,
      {"db", "state", "epoch", "seed", "threads", "keys", "profile", "duration", "kill_point",
       "sync_fraction", "unlogged_fraction", "journal_sync", "max_value_padding", "ops",
       "open_only", "hang_after", "stall_one_thread_after", "checkpoints"});
  const std::string db_path = flags.get("db", "");
  const std::string state_dir = flags.get("state", "");
  WorkloadOptions w;
  w.epoch = flags.get_uint("epoch", 1);
  w.seed = flags.get_uint("seed", 1);
  w.threads = static_cast<uint32_t>(flags.get_uint("threads", 2));
  w.keys = static_cast<uint32_t>(flags.get_uint("keys", 1000));
  w.sync_fraction = flags.get_double("sync_fraction", 0.05);
  w.unlogged_fraction = flags.get_double("unlogged_fraction", 0);
  w.journal_sync = flags.has("journal_sync");
  w.max_value_padding = static_cast<uint32_t>(flags.get_uint("max_value_padding", 100));
  w.max_ops_per_thread = flags.get_uint("ops", 0);
  w.stall_one_thread_after_ms = flags.get_millis("stall_one_thread_after", 0);
  w.journal_dir = state_dir;
  w.checkpoint_dir = flags.get("checkpoints", "");
  // One line per checkpoint checked, which the parent counts.
  w.on_checkpoint = [] {
    std::printf("CHECKPOINT checked\n");
    std::fflush(stdout);
  };
  // stderr is unbuffered: the line is in the log before any SIGKILL can come.
  w.on_violation = [](const std::string& v) { std::fprintf(stderr, "VIOLATION: %s\n", v.c_str()); };
  const uint64_t profile = flags.get_uint("profile", w.seed);
  const uint64_t duration_ms = flags.get_millis("duration", 10'000);
  const uint64_t hang_after_ms = flags.get_millis("hang_after", 0);
  KillPoint kill_point;
  if (s.ok()) s = flags.error();
  if (s.ok() && flags.has("kill_point"))
    s = parse_kill_point(flags.get("kill_point", ""), &kill_point);
  if (s.ok() && (db_path.empty() || state_dir.empty())) {
    s = Status::InvalidArgument("--db and --state are required");
  }
  if (s.ok() && (w.threads < 1 || w.threads > 4)) s = Status::InvalidArgument("--threads: 1 to 4");
  if (s.ok() && w.keys < 1) s = Status::InvalidArgument("--keys: at least 1");
  if (!s.ok()) {
    std::fprintf(stderr, "fsdb_stress: %s\n", s.to_string().c_str());
    return 2;
  }

  Baseline baseline;
  s = load_baseline(state_dir, &baseline);
  if (s.is_not_found()) {
    baseline.values.assign(w.keys, std::nullopt);
  } else if (!s.ok()) {
    std::fprintf(stderr, "fsdb_stress: %s\n", s.to_string().c_str());
    return 2;
  }
  baseline.values.resize(w.keys);

  Options options = stress_db_options(profile);
  if (!kill_point.empty()) {
    if (kill_point.where == "event") {
      options.listener = new_kill_listener(kill_point);
    } else {
      options.file_system = new_kill_file_system(posix_file_system(), kill_point);
    }
  }
  // The watch in fsdb_crashtest sees a hang in the open too.
  std::printf("HEARTBEAT ops=0 opening\n");
  std::fflush(stdout);
  std::unique_ptr<DB> db;
  s = DB::open(options, db_path, &db);
  if (!s.ok()) {
    std::fprintf(stderr, "fsdb_stress: open %s: %s\n", db_path.c_str(), s.to_string().c_str());
    return 2;
  }
  if (flags.has("open_only")) {
    s = db->close();
    if (!s.ok()) std::fprintf(stderr, "VIOLATION: close after open: %s\n", s.to_string().c_str());
    return s.ok() ? 0 : 3;
  }
  Workload workload(db.get(), w, baseline);
  workload.start();
  const auto started = std::chrono::steady_clock::now();
  const auto deadline = started + std::chrono::milliseconds(duration_ms);
  auto next_heartbeat = started;
  bool hanging = false;
  while (hanging || (std::chrono::steady_clock::now() < deadline && !workload.finished())) {
    if (hang_after_ms != 0 && !hanging &&
        std::chrono::steady_clock::now() >=
            process_started + std::chrono::milliseconds(hang_after_ms)) {
      workload.request_stop();
      workload.join();
      hanging = true;
    }
    if (std::chrono::steady_clock::now() >= next_heartbeat) {
      // every_thread: the fewest any running thread has done, so that one
      // thread stuck while the others go on is seen too.
      const uint64_t slowest = workload.slowest_thread_ops();
      std::printf("HEARTBEAT ops=%llu every_thread=%s\n",
                  static_cast<unsigned long long>(workload.counters().ops.load()),
                  slowest == UINT64_MAX ? "stopped" : std::to_string(slowest).c_str());
      std::fflush(stdout);
      next_heartbeat += std::chrono::milliseconds(200);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  // A phase of its own: joining the workers and closing the DB can take a
  // while, and the watch must not read that as a hang.
  std::printf("HEARTBEAT ops=%llu stopping\n",
              static_cast<unsigned long long>(workload.counters().ops.load()));
  std::fflush(stdout);
  workload.request_stop();
  workload.join();
  s = db->close();
  if (s.ok()) workload.record_clean_close();
  const auto& c = workload.counters();
  std::printf(
      "fsdb_stress: %llu ops (%llu writes, %llu sync, %llu reads, %llu failed, %llu "
      "checkpoints)\n",
      static_cast<unsigned long long>(c.ops.load()),
      static_cast<unsigned long long>(c.writes.load()),
      static_cast<unsigned long long>(c.sync_writes.load()),
      static_cast<unsigned long long>(c.reads.load()),
      static_cast<unsigned long long>(c.failed.load()),
      static_cast<unsigned long long>(c.checkpoints.load()));
  bool violated = !workload.violations().empty();
  if (!s.ok()) {
    std::fprintf(stderr, "VIOLATION: close: %s\n", s.to_string().c_str());
    violated = true;
  }
  return violated ? 3 : 0;
}
