// fsdb_crashtest: crash cycles against the expected-state oracle.
//
//   fsdb_crashtest --mode=kill|powercut|errors|all [--duration=30s | --cycles=N]
//                  [--seed=S] [--threads=1..4] [--keys=N] [--dir=DIR]
//                  [--stress=PATH] [--keep] [--verbose]
//                  [--stress_flag=FLAG] [--kill_after=DURATION]   (tests of the harness)
//
// kill      runs fsdb_stress as a child on a real directory and SIGKILLs it at a
//           random moment or lets it kill itself at a kill point (a flush, a
//           compaction, a memtable seal, a MANIFEST/CURRENT rename, a table or
//           WAL append, a directory sync, a WAL removal); then reopens and verifies
//           (an eighth of the cycles first rebuild the DB with repair_db(); another
//           eighth first read it with DB::open_read_only(), which must see what the
//           recovery then makes of it and leave the directory as it was; a
//           quarter also read the DB while the child writes, with
//           DB::open_as_secondary() and three catch-ups (each reading on in
//           the live log where the one before stopped), and each state must hold
//           every write acknowledged before it was read, as after a kill).
// powercut  runs the workload in process over a FaultInjectionFileSystem, cuts
//           the power at a random operation (fail_after or set_active(false)),
//           destroys the DB, drops unsynced data (all, a torn prefix, or pages in
//           no order), reopens (a quarter of the time in point-in-time recovery
//           mode), verifies; a quarter of the cycles cut the power again during
//           the first recovery, an eighth rebuild the DB with repair_db()
//           before reopening it.
// errors    injects EIO/ENOSPC at random calls (reads too, sometimes); every
//           read must still be right or an error; after clearing the faults a
//           reopen must hold every acknowledged write. Half the cycles clear
//           the faults while the workload runs and call DB::resume(), which
//           must bring writes back (the workload goes on writing), and the
//           reopen must hold what was acknowledged before and after it. A
//           quarter run with the DB's own retries of resume() (every 1-20
//           ms, under the faults too) and must see writes come back by
//           themselves once the faults are cleared.
// In every mode a quarter of the cycles make a fifth of their writes with
// disable_wal: lost unless a flush wrote them out, never a hole in what the
// log gives back.
// In powercut and errors, half the cycles have the fault file system's files
// claim to be mapped, so unsynced writers append their records themselves as
// they do to a mapped log (kill mode runs on real, mapped logs).
// With --duration the modes share the time; with --cycles each runs N cycles.
// Exit status 0 when no cycle found a violation; 1 otherwise (the seed and a
// command line that replays the run are printed); 2 on a usage or harness error.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "tools/crashtest/expected_state.h"
#include "tools/crashtest/harness_config.h"
#include "tools/crashtest/verifier.h"
#include "tools/crashtest/workload.h"

namespace fsdb::crashtest {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t x = a * 0x9e3779b97f4a7c15ULL ^ (b + 0x632be59bd9b4e019ULL);
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void sleep_ms(uint64_t ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

// Runs `args` (a program and its arguments) with stdout and stderr in
// `log_path`, waits up to `wait_ms` for it, then SIGKILLs it (*killed says
// which). Its wait status, or nullopt when fork fails.
// The progress a child reports (fsdb_stress's HEARTBEAT lines), to tell a
// hang from a child that is busy when its time is up.
struct HangWatch {
  std::string last_line;          // the newest heartbeat: "HEARTBEAT ops=N <progress>"
  std::string last_progress_key;  // <progress>: the phase, or every_thread=M
  uint64_t last_ops = 0;
  bool seen = false;
  Clock::time_point last_progress;
  uint64_t stalled_ms = 0;  // at the end: how long the heartbeat had not changed
  bool hung = false;
  // Set by the caller: the kill waits for progress even from a busy child.
  bool wait_for_progress = false;

  // Reads the newest complete heartbeat line in the child's output. Progress
  // is a change of what follows the total: the next phase, or every thread
  // having done more (one thread stuck while the others go on is no
  // progress).
  void poll(const std::string& output) {
    const size_t end = output.rfind('\n');
    if (end == std::string::npos) return;
    const size_t at = output.rfind("HEARTBEAT ops=", end);
    if (at == std::string::npos) return;
    // Up to its own end: other lines (CHECKPOINT) may follow it.
    std::string line = output.substr(at, output.find('\n', at) - at);
    const size_t space = line.find(' ', 14);
    std::string key = space == std::string::npos ? std::string() : line.substr(space + 1);
    if (!seen || key != last_progress_key) last_progress = Clock::now();
    seen = true;
    last_ops = std::strtoull(line.c_str() + 14, nullptr, 10);
    last_line = std::move(line);
    last_progress_key = std::move(key);
  }
  bool running() const { return last_progress_key.starts_with("every_thread="); }
  bool progressed_since(Clock::time_point t) const { return seen && last_progress > t; }
  uint64_t stalled_now() const {
    if (!seen) return 0;
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - last_progress)
            .count());
  }
};

std::string read_log(const std::string& path);

// Runs the child until it exits or `wait_ms` pass, then SIGKILLs it. With a
// watch, a child that has made no progress for a second when its time is up
// is watched until every thread has gone on since (then killed), it exits,
// or 20 s more have passed; one whose heartbeat stays the same for 8 s is
// hung. A busy child is killed as planned, unless watch->wait_for_progress:
// then a running one is watched too, so that a hang is seen however shortly
// before the kill it began (a running child makes progress every 200 ms).
// A child busy opening the DB (recovering it) or closing it is killed as
// planned either way.
// `midway`, when given, runs once `midway_ms` after the start if the child is
// still running then (the child goes on meanwhile).
std::optional<int> run_child(std::vector<std::string> args, const std::string& log_path,
                             uint64_t wait_ms, bool* killed, HangWatch* watch = nullptr,
                             const std::function<void()>& midway = {}, uint64_t midway_ms = 0) {
  *killed = false;
  const pid_t pid = ::fork();
  if (pid < 0) return std::nullopt;
  if (pid == 0) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  const auto midway_at = Clock::now() + std::chrono::milliseconds(midway_ms);
  bool midway_done = !midway;
  auto until = Clock::now() + std::chrono::milliseconds(wait_ms);
  const auto latest = until + std::chrono::seconds(20);
  auto next_poll = Clock::now();
  bool watching = false;  // its time is up: watched until it goes on
  Clock::time_point planned;
  int status = 0;
  for (;;) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    if (!midway_done && Clock::now() >= midway_at) {
      midway_done = true;
      midway();
    }
    const auto now = Clock::now();
    if (watch != nullptr && now >= next_poll) {
      watch->poll(read_log(log_path));
      next_poll = now + std::chrono::milliseconds(100);
    }
    if (now >= until) {
      if (watch == nullptr) break;
      const uint64_t stalled = watch->stalled_now();
      if (!watching) {
        if (stalled < 1000 && (!watch->wait_for_progress || !watch->running())) break;
        watching = true;
        planned = now;
      }
      // Every thread going on again ends the watch; a new phase does not
      // (a thread stuck for good shows again in the close that waits for it).
      if (watch->running() && watch->progressed_since(planned)) break;
      if (stalled >= 8000) {
        watch->hung = true;
        break;
      }
      if (now >= latest) break;
      until = now + std::chrono::milliseconds(100);
    }
    sleep_ms(2);
  }
  if (watch != nullptr) watch->stalled_ms = watch->stalled_now();
  ::kill(pid, SIGKILL);
  *killed = true;
  ::waitpid(pid, &status, 0);
  return status;
}

std::string command_line_of(const std::vector<std::string>& args) {
  std::string command;
  for (const std::string& a : args) command += (command.empty() ? "" : " ") + a;
  return command;
}

std::string read_log(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

struct Config {
  std::string mode;
  uint64_t seed = 0;
  uint64_t cycles = 0;       // per mode; 0: until the time is up
  uint64_t duration_ms = 0;  // per mode; 0: until the cycles are done
  uint32_t threads = 3;
  uint32_t keys = 2000;
  std::string dir;
  std::string stress;
  // For tests of the harness: one more flag for the workload's fsdb_stress,
  // and a fixed moment (instead of the plan's) at which kill mode kills it.
  std::string stress_flag;
  uint64_t kill_after_ms = 0;
  bool keep = false;
  bool verbose = false;
};

struct Totals {
  uint64_t cycles = 0;
  uint64_t ops = 0;          // writes started (kill mode: journaled writes)
  uint64_t acked = 0;        // writes acknowledged (kill mode: journaled acknowledgements)
  uint64_t reads = 0;        // in-process modes only
  uint64_t kills = 0;        // SIGKILLs from the parent
  uint64_t kill_points = 0;  // the child died at its kill point
  uint64_t clean_exits = 0;
  uint64_t power_cuts = 0;
  uint64_t torn = 0;
  uint64_t lost_pages = 0;
  uint64_t point_in_time_opens = 0;
  uint64_t unsynced_tails = 0;   // recoveries that dropped damage with records after it
  uint64_t unlogged_cycles = 0;  // cycles that made some writes with disable_wal
  uint64_t recovery_cuts = 0;    // a second power cut while recovering from the first
  uint64_t recovery_kills = 0;   // a second kill, inside the recovery from the first
  uint64_t injected_errors = 0;
  uint64_t failed_calls = 0;
  uint64_t resumes = 0;  // errors mode: DB::resume() brought writes back mid-cycle
  // errors mode: resume() calls of the DB's own retries that took writes again
  uint64_t automatic_resumes = 0;
  uint64_t checkpoints = 0;       // made, opened and checked
  uint64_t repairs = 0;           // kill, powercut: DBs rebuilt with repair_db() before verifying
  uint64_t read_only_opens = 0;   // kill: crashed DBs read read-only before their recovery
  uint64_t secondary_states = 0;  // kill: states of the DB read beside the writing child
  uint64_t secondary_reads_during_open = 0;  // kill: of those reads, overlapping the child's open
  uint64_t secondary_skipped = 0;            // kill: reads not made, the DB not created yet
  uint64_t secondary_busy = 0;  // kill: reads beside the child that were Busy (and not checked)
  uint64_t keys_verified = 0;
  uint64_t required_writes = 0;
  uint64_t violations = 0;
};

class CrashTest {
 public:
  CrashTest(Config config, std::string command_line)
      : config_(std::move(config)), command_line_(std::move(command_line)) {}

  // Runs one mode; returns false on a violation or harness error.
  bool run_mode(const std::string& mode);
  bool harness_error() const { return harness_error_; }

 private:
  bool kill_cycle(uint64_t cycle, std::mt19937_64& rng);
  // After a kill: a second process recovers the DB and dies at a kill point
  // inside the recovery. False (and reported) when that process fails.
  bool kill_inside_recovery(uint64_t cycle, std::mt19937_64& rng, uint64_t profile);
  bool powercut_cycle(uint64_t cycle, std::mt19937_64& rng);
  // How the next power cut treats each file's unsynced bytes: all lost, a
  // prefix kept (a torn write), or pages kept and lost in no order.
  enum class UnsyncedLoss { kAll, kTornPrefix, kLostPages };
  UnsyncedLoss choose_unsynced_loss(std::mt19937_64& rng);
  // The share of a cycle's writes made with disable_wal: a quarter of the
  // cycles mix them in.
  double choose_unlogged_fraction(std::mt19937_64& rng);
  bool errors_cycle(uint64_t cycle, std::mt19937_64& rng);
  // After the faults were cleared: false (the cycle failed) if compactions
  // still fail after a while.
  bool compactions_come_back(uint64_t cycle, Workload& workload);
  VerifyInput verify_input(uint64_t cycle, const std::vector<OpRecord>& ops,
                           Durability durability) const;
  // Verifies `db_` and makes what it saw the next baseline.
  bool verify(uint64_t cycle, const std::vector<OpRecord>& ops, Durability durability);
  // After a kill, before the recovery: opens the DB read-only, verifies it
  // as verify() would and keeps what it saw in *seen; false (and reported)
  // on a violation, or if the directory changed.
  bool verify_read_only(uint64_t cycle, const std::vector<OpRecord>& ops, Baseline* seen);
  // While the child writes: opens the DB as a secondary, later catches up
  // once, and verifies each state as verify() would after a kill (every
  // write acknowledged before the state was read, and a prefix of the
  // writes). The violations (or a harness error) found; empty when none.
  std::vector<std::string> read_beside_writer(uint64_t cycle, const Options& options);
  void fail(uint64_t cycle, const std::vector<std::string>& violations,
            const std::string& extra = "");
  void harness_failure(const std::string& what);
  void print_totals(const std::string& mode, double seconds) const;

  const Config config_;
  const std::string command_line_;
  std::string mode_;
  std::string db_dir_;
  std::string state_dir_;
  std::string checkpoint_dir_;  // where the workload's checkpoints go
  // Empties checkpoint_dir_ of what a killed or cut cycle left there.
  void fresh_checkpoint_dir() {
    std::error_code ignored;
    std::filesystem::remove_all(checkpoint_dir_, ignored);
    std::filesystem::create_directories(checkpoint_dir_, ignored);
  }
  Options options_;
  std::shared_ptr<FaultInjectionFileSystem> fault_fs_;
  std::unique_ptr<DB> db_;
  Baseline baseline_;
  Totals totals_;
  uint32_t max_value_padding_ = 100;
  bool harness_error_ = false;
};

void CrashTest::fail(uint64_t cycle, const std::vector<std::string>& violations,
                     const std::string& extra) {
  totals_.violations += violations.size();
  std::fprintf(stderr, "\n==== VIOLATION in %s cycle %llu (seed %llu) ====\n", mode_.c_str(),
               static_cast<unsigned long long>(cycle),
               static_cast<unsigned long long>(config_.seed));
  for (const std::string& v : violations) std::fprintf(stderr, "  %s\n", v.c_str());
  if (!extra.empty()) std::fprintf(stderr, "%s\n", extra.c_str());
  std::fprintf(stderr,
               "reproduce with: %s --mode=%s --seed=%llu --cycles=%llu --threads=%u --keys=%u "
               "--keep\n(the cycle plans are a function of the seed; thread interleavings are "
               "not, so a replay may need several runs)\nDB and oracle kept in %s\n",
               command_line_.c_str(), mode_.c_str(), static_cast<unsigned long long>(config_.seed),
               static_cast<unsigned long long>(cycle) + 1, config_.threads, config_.keys,
               config_.dir.c_str());
}

void CrashTest::harness_failure(const std::string& what) {
  harness_error_ = true;
  std::fprintf(stderr, "fsdb_crashtest: harness error in %s: %s\n", mode_.c_str(), what.c_str());
}

VerifyInput CrashTest::verify_input(uint64_t cycle, const std::vector<OpRecord>& ops,
                                    Durability durability) const {
  VerifyInput in;
  in.keys = config_.keys;
  in.epoch = cycle + 1;
  in.max_value_padding = max_value_padding_;
  in.durability = durability;
  in.baseline = &baseline_;
  in.ops = &ops;
  return in;
}

bool CrashTest::verify(uint64_t cycle, const std::vector<OpRecord>& ops, Durability durability) {
  VerifyResult r = verify_db(*db_, verify_input(cycle, ops, durability));
  totals_.keys_verified += r.keys_verified;
  totals_.required_writes += r.required_writes;
  if (!r.violations.empty()) {
    fail(cycle, r.violations);
    return false;
  }
  baseline_ = std::move(r.observed);
  return true;
}

namespace {
// The DB directory's files with their sizes: what a read-only open must not
// change (an open for writing adds a MANIFEST and a log, flushes tables,
// removes logs).
std::map<std::string, uint64_t> files_with_sizes(const std::string& dir) {
  std::map<std::string, uint64_t> files;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code size_ec;
    const uint64_t size = entry.is_regular_file() ? entry.file_size(size_ec) : 0;
    files[entry.path().filename().string()] = size_ec ? UINT64_MAX : size;
  }
  return files;
}
}  // namespace

bool CrashTest::verify_read_only(uint64_t cycle, const std::vector<OpRecord>& ops, Baseline* seen) {
  const auto before = files_with_sizes(db_dir_);
  std::unique_ptr<DB> reader;
  Status s = DB::open_read_only(options_, db_dir_, &reader);
  if (!s.ok()) {
    fail(cycle, {"the DB does not open read-only after the kill: " + s.to_string()});
    return false;
  }
  VerifyResult r = verify_db(*reader, verify_input(cycle, ops, Durability::kEveryAcknowledged));
  totals_.keys_verified += r.keys_verified;
  if (!r.violations.empty()) {
    std::vector<std::string> found = {"read-only, after the kill:"};
    found.insert(found.end(), r.violations.begin(), r.violations.end());
    fail(cycle, found);
    return false;
  }
  s = reader->close();
  reader.reset();
  if (!s.ok()) {
    fail(cycle, {"close of the read-only DB: " + s.to_string()});
    return false;
  }
  const auto after = files_with_sizes(db_dir_);
  if (after != before) {
    std::vector<std::string> changed = {"the read-only open changed the DB directory:"};
    for (const auto& [name, size] : before) {
      auto it = after.find(name);
      if (it == after.end()) changed.push_back(name + " removed");
      if (it != after.end() && it->second != size) changed.push_back(name + " resized");
    }
    for (const auto& [name, size] : after) {
      if (!before.contains(name)) changed.push_back(name + " created");
    }
    fail(cycle, changed);
    return false;
  }
  *seen = std::move(r.observed);
  ++totals_.read_only_opens;
  return true;
}

std::vector<std::string> CrashTest::read_beside_writer(uint64_t cycle, const Options& options) {
  std::unique_ptr<DB> secondary;
  // Three catch-ups: each goes on in the live log from where the state
  // before it stopped, adding to the memtable that state reads.
  constexpr int kStates = 4;
  for (int state = 1; state <= kStates; ++state) {
    std::vector<OpRecord> before;
    Status s = load_journals(state_dir_, &before);
    if (!s.ok()) return {"harness: reading the journals beside the writer: " + s.to_string()};
    s = state == 1 ? DB::open_as_secondary(options, db_dir_, &secondary)
                   : secondary->try_catch_up_with_primary();
    // Busy: the writer changed the DB through every attempt, which the API
    // allows; counted, so that a run where it happens often shows.
    if (s.is_busy()) {
      ++totals_.secondary_busy;
      return {};
    }
    if (!s.ok()) {
      return {std::string(state == 1 ? "DB::open_as_secondary" : "try_catch_up_with_primary") +
              " beside the writing child: " + s.to_string()};
    }
    // Every write the state may show was journaled before it was read, so
    // this second read holds them all; a write acknowledged only after the
    // first read may be in the state or not: pending, as if killed.
    std::vector<OpRecord> ops;
    s = load_journals(state_dir_, &ops);
    if (!s.ok()) return {"harness: reading the journals beside the writer: " + s.to_string()};
    std::set<std::pair<uint32_t, uint64_t>> acknowledged;
    for (const OpRecord& op : before) {
      if (op.outcome == OpOutcome::kAcked) acknowledged.emplace(op.thread, op.counter);
    }
    for (OpRecord& op : ops) {
      if (op.outcome == OpOutcome::kAcked && !acknowledged.contains({op.thread, op.counter})) {
        op.outcome = OpOutcome::kPending;
        op.end_tick = 0;
      }
    }
    VerifyResult r =
        verify_db(*secondary, verify_input(cycle, ops, Durability::kEveryAcknowledged));
    totals_.keys_verified += r.keys_verified;
    if (!r.violations.empty()) {
      std::vector<std::string> found = {"read as a secondary beside the writing child, state " +
                                        std::to_string(state) + ":"};
      found.insert(found.end(), r.violations.begin(), r.violations.end());
      return found;
    }
    ++totals_.secondary_states;
    if (state < kStates) sleep_ms(state == 1 ? 20 : 10);
  }
  return {};
}

// ---------------------------------------------------------------- kill

bool CrashTest::kill_cycle(uint64_t cycle, std::mt19937_64& rng) {
  const uint64_t cycle_seed = mix(config_.seed, cycle);
  const uint64_t profile = cycle_seed % 1000;
  fresh_checkpoint_dir();
  // The plan: half of the cycles die at a random moment, half at a kill point.
  std::string kill_point;
  uint64_t delay_ms = 0;
  if (rng() % 2 == 0) {
    delay_ms = 30 + rng() % 1500;
  } else {
    static const char* const kPoints[] = {
        "event:flush:%d",         "event:compaction:%d", "event:sealed:%d", "rename:CURRENT:1",
        "rename:CURRENT:1:after", "sync_dir::%d",        "append:.sst:%d",  "sync:.sst:%d",
        "append:MANIFEST:%d",     "sync:MANIFEST:%d",    "remove:.log:%d",  "append:.log:%d",
        "create:.log:%d",         "create:.sst:%d",      "remove:.sst:%d",  "remove:MANIFEST:1"};
    const char* pattern = kPoints[rng() % (sizeof(kPoints) / sizeof(kPoints[0]))];
    char buf[64];
    const int n =
        1 + static_cast<int>(rng() % (std::string(pattern).find("append") == 0 ? 400 : 4));
    std::snprintf(buf, sizeof(buf), pattern, n);
    kill_point = buf;
  }
  std::vector<std::string> args = {config_.stress,
                                   "--db=" + db_dir_,
                                   "--state=" + state_dir_,
                                   "--epoch=" + std::to_string(cycle + 1),
                                   "--seed=" + std::to_string(cycle_seed),
                                   "--threads=" + std::to_string(config_.threads),
                                   "--keys=" + std::to_string(config_.keys),
                                   "--profile=" + std::to_string(profile),
                                   "--max_value_padding=" + std::to_string(max_value_padding_),
                                   "--checkpoints=" + checkpoint_dir_,
                                   "--duration=8s"};
  // An eighth of the cycles are not killed: the child runs a short while and
  // closes the DB itself, and close() returning OK (which the child journals
  // as a flush) must have written out every acknowledged write, disable_wal
  // ones included. Not drawn from `rng`, as below.
  const bool clean_exit = config_.kill_after_ms == 0 && ((cycle_seed >> 33) & 7) == 0;
  if (clean_exit) {
    kill_point.clear();
    args.back() = "--duration=" + std::to_string(100 + (cycle_seed >> 36) % 900) + "ms";
  }
  if (config_.kill_after_ms != 0) {  // a fixed plan, for tests of the harness
    delay_ms = config_.kill_after_ms;
    kill_point.clear();
  }
  if (!kill_point.empty()) args.push_back("--kill_point=" + kill_point);
  if (const double unlogged = choose_unlogged_fraction(rng); unlogged > 0) {
    args.push_back("--unlogged_fraction=" + std::to_string(unlogged));
  }
  if (!config_.stress_flag.empty()) args.push_back(config_.stress_flag);
  const std::string child_command = command_line_of(args);
  if (config_.verbose) {
    const std::string plan = clean_exit ? "no kill: the child closes the DB"
                             : kill_point.empty()
                                 ? "SIGKILL after " + std::to_string(delay_ms) + " ms"
                                 : "kill point " + kill_point;
    std::printf("kill cycle %llu: %s\n", static_cast<unsigned long long>(cycle), plan.c_str());
  }
  const std::string log_path = state_dir_ + "/stress.log";
  // Wait for the chosen moment (or, at a kill point, at most 4 s for the
  // child to reach it), then SIGKILL whatever still runs.
  bool parent_killed = false;
  HangWatch watch;
  // Half of the cycles: a hang that began less than a second before the kill
  // is seen too. The other half keep the kills that land while every thread
  // waits (a write stall, a slow sync). Not drawn from `rng`, so that the
  // plans of a seed stay what they were.
  watch.wait_for_progress = config_.kill_after_ms != 0 || ((cycle_seed >> 32) & 1) != 0;
  // A child that is to close by itself gets a minute (the watch still sees a
  // hang, and a kill then is a failure below).
  const uint64_t wait_ms = clean_exit ? 60000 : kill_point.empty() ? delay_ms : 4000;
  // A quarter of the cycles read the DB beside the child while it writes
  // (not drawn from `rng`, as above): about half of them halfway to the
  // kill, the others in the child's first 40 ms (and before half the delay
  // of a kill at a random moment), while it may still be opening the DB
  // (replaying its logs, writing a new MANIFEST, removing what it retired).
  // A DB the child is yet to create is not read then.
  const bool beside_writer = !clean_exit && ((cycle_seed >> 44) & 3) == 0;
  const bool beside_recovery = beside_writer && ((cycle_seed >> 46) & 1) != 0 &&
                               std::filesystem::exists(db_dir_ + "/CURRENT");
  const uint64_t beside_writer_ms =
      beside_recovery
          ? std::min<uint64_t>((cycle_seed >> 47) % 40, kill_point.empty() ? delay_ms / 2 : 40)
      : kill_point.empty() ? delay_ms / 2
                           : 300;
  std::vector<std::string> beside_writer_found;
  const Options child_options = stress_db_options(profile);
  const auto read_beside = [&] {
    // The child says "opening" before its open, and its next heartbeat once
    // the open is done: a read begun before the latter and ended after the
    // former overlapped the open.
    const auto open_done = [&] {
      const std::string out = read_log(log_path);
      const size_t last = out.rfind("HEARTBEAT ");
      return last != std::string::npos && out.compare(last, 23, "HEARTBEAT ops=0 opening") != 0;
    };
    // The first child creates the DB: one so slow (a loaded machine) that it
    // has not yet, when the read is due, has nothing to read beside.
    if (!std::filesystem::exists(db_dir_ + "/CURRENT")) {
      ++totals_.secondary_skipped;
      return;
    }
    const bool done_before = open_done();
    beside_writer_found = read_beside_writer(cycle, child_options);
    if (!done_before && read_log(log_path).find("HEARTBEAT ops=0 opening") != std::string::npos) {
      ++totals_.secondary_reads_during_open;
    }
  };
  const std::optional<int> waited =
      run_child(args, log_path, wait_ms, &parent_killed, &watch,
                beside_writer ? std::function<void()>(read_beside) : std::function<void()>(),
                beside_writer_ms);
  if (!waited) {
    harness_failure("fork failed");
    return false;
  }
  const int status = *waited;
  std::string child_log;
  {
    // The heartbeats are for the watch, not for a report; the checkpoints
    // the child checked are counted.
    std::istringstream lines(read_log(log_path));
    for (std::string line; std::getline(lines, line);) {
      if (line == "CHECKPOINT checked") {
        ++totals_.checkpoints;
      } else if (!line.starts_with("HEARTBEAT ")) {
        child_log += line + "\n";
      }
    }
  }
  const std::string extra =
      "child: " + child_command + "\nchild output:\n" +
      (child_log.size() > 4000 ? "..." + child_log.substr(child_log.size() - 4000) : child_log);
  // What the child's reads found, whether it finished or was killed.
  std::vector<std::string> online;
  for (size_t pos = child_log.find("VIOLATION: "); pos != std::string::npos;
       pos = child_log.find("VIOLATION: ", pos + 1)) {
    online.push_back("fsdb_stress: " +
                     child_log.substr(pos + 11, child_log.find('\n', pos) - pos - 11));
  }
  if (!online.empty()) {
    fail(cycle, online, extra);
    return false;
  }
  if (!beside_writer_found.empty()) {
    fail(cycle, beside_writer_found, extra);
    return false;
  }
  if (watch.hung) {
    fail(cycle,
         {"fsdb_stress made no progress for " + std::to_string(watch.stalled_ms) +
          " ms (one of its threads, or all, finished no operation; " +
          std::to_string(watch.last_ops) +
          " operations in all; last heartbeat: " + watch.last_line + "): hung"},
         extra);
    return false;
  }
  if (clean_exit && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
    fail(cycle,
         {"fsdb_stress was to run 1 s at most and close the DB, and did not: " +
          (WIFEXITED(status) ? "exit status " + std::to_string(WEXITSTATUS(status))
                             : "signal " + std::to_string(WTERMSIG(status)))},
         extra);
    return false;
  }
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) {
    if (parent_killed) {
      ++totals_.kills;
    } else {
      ++totals_.kill_points;
    }
  } else if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    ++totals_.clean_exits;
  } else {
    const std::string what =
        WIFEXITED(status) ? "fsdb_stress exited with status " + std::to_string(WEXITSTATUS(status))
                          : "fsdb_stress died of signal " + std::to_string(WTERMSIG(status));
    fail(cycle, {what}, extra);
    return false;
  }

  // A quarter of the cycles crash the recovery too, before this process
  // recovers and verifies: the recovery of a crashed DB must survive a kill
  // at any of its steps (replayed tables, the new MANIFEST, CURRENT, the old
  // logs' removal).
  if (rng() % 4 == 0 && !kill_inside_recovery(cycle, rng, profile)) return false;

  std::vector<OpRecord> ops;
  Status s = load_journals(state_dir_, &ops);
  if (!s.ok()) {
    harness_failure(s.to_string());
    return false;
  }
  totals_.ops += ops.size();
  for (const OpRecord& op : ops) totals_.acked += op.outcome == OpOutcome::kAcked ? 1 : 0;
  options_ = stress_db_options(profile);
  // An eighth of the cycles rebuild the DB with repair_db() before reopening
  // it: a DB a kill left is not damaged, so the repair must read CURRENT and
  // its MANIFEST, find no table damaged, unreadable or missing, and keep
  // every acknowledged write, as recovery does.
  // Not drawn from `rng`, as above.
  const bool repair = ((cycle_seed >> 40) & 7) == 1;
  if (repair) {
    RepairReport report;
    s = repair_db(db_dir_, options_, &report);
    if (!s.ok()) {
      fail(cycle, {"repair_db after the kill: " + s.to_string()}, extra);
      return false;
    }
    if (!report.manifest_read_whole || report.tables_salvaged != 0 ||
        report.tables_unreadable != 0 || report.tables_missing != 0) {
      std::vector<std::string> found = {"repair_db after the kill found damage"};
      found.insert(found.end(), report.problems.begin(), report.problems.end());
      fail(cycle, found, extra);
      return false;
    }
    ++totals_.repairs;
  }
  // Another eighth read the crashed DB read-only first: it must hold every
  // acknowledged write, leave the directory as it was, and see exactly what
  // the recovery below then makes of the DB.
  const bool read_only_first = ((cycle_seed >> 40) & 7) == 2;
  Baseline read_only_seen;
  if (read_only_first && !verify_read_only(cycle, ops, &read_only_seen)) {
    std::fprintf(stderr, "%s\n", extra.c_str());
    return false;
  }
  s = DB::open(options_, db_dir_, &db_);
  if (!s.ok()) {
    fail(cycle,
         {std::string("the DB does not open after the kill") + (repair ? " and a repair: " : ": ") +
          s.to_string()},
         extra);
    return false;
  }
  if (!verify(cycle, ops, Durability::kEveryAcknowledged)) {
    std::fprintf(stderr, "%s\n", extra.c_str());
    db_.reset();
    return false;
  }
  if (read_only_first && read_only_seen.values != baseline_.values) {
    size_t key = 0;
    while (key < baseline_.values.size() && key < read_only_seen.values.size() &&
           read_only_seen.values[key] == baseline_.values[key]) {
      ++key;
    }
    fail(cycle,
         {"the read-only open saw another DB than the recovery made: key " + std::to_string(key) +
          " differs"},
         extra);
    db_.reset();
    return false;
  }
  s = db_->close();
  db_.reset();
  if (!s.ok()) {
    fail(cycle, {"close after verification: " + s.to_string()});
    return false;
  }
  if (repair) {
    // The earlier files, kept by the repair: of no use once verified.
    std::error_code ec;
    std::filesystem::remove_all(db_dir_ + "/lost", ec);
  }
  s = save_baseline(state_dir_, baseline_);
  if (s.ok()) s = remove_journals(state_dir_);
  if (!s.ok()) {
    harness_failure(s.to_string());
    return false;
  }
  return true;
}

bool CrashTest::kill_inside_recovery(uint64_t cycle, std::mt19937_64& rng, uint64_t profile) {
  static const char* const kPoints[] = {"create:.sst:1",     "sync:.sst:1",
                                        "append:MANIFEST:1", "sync:MANIFEST:1",
                                        "rename:CURRENT:1",  "rename:CURRENT:1:after",
                                        "create:.log:1",     "remove:.log:1",
                                        "sync_dir::1",       "sync_dir::2"};
  const std::string kill_point = kPoints[rng() % (sizeof(kPoints) / sizeof(kPoints[0]))];
  std::vector<std::string> args = {config_.stress,
                                   "--db=" + db_dir_,
                                   "--state=" + state_dir_,
                                   "--keys=" + std::to_string(config_.keys),
                                   "--profile=" + std::to_string(profile),
                                   "--open_only",
                                   "--kill_point=" + kill_point};
  if (config_.verbose) {
    std::printf("kill cycle %llu: recovery, kill point %s\n",
                static_cast<unsigned long long>(cycle), kill_point.c_str());
  }
  const std::string log_path = state_dir_ + "/recovery.log";
  bool parent_killed = false;
  const std::optional<int> waited = run_child(args, log_path, 30'000, &parent_killed);
  if (!waited) {
    harness_failure("fork failed");
    return false;
  }
  const int status = *waited;
  if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && !parent_killed) {
    ++totals_.recovery_kills;  // died at its kill point
    return true;
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return true;  // the point never came
  const std::string what =
      parent_killed ? "the recovery did not end within 30 s"
      : WIFEXITED(status)
          ? "the recovery process exited with status " + std::to_string(WEXITSTATUS(status))
          : "the recovery process died of signal " + std::to_string(WTERMSIG(status));
  fail(cycle, {what}, "recovery: " + command_line_of(args) + "\noutput:\n" + read_log(log_path));
  return false;
}

// ---------------------------------------------------------------- powercut

CrashTest::UnsyncedLoss CrashTest::choose_unsynced_loss(std::mt19937_64& rng) {
  const auto loss = static_cast<UnsyncedLoss>(rng() % 3);
  fault_fs_->set_torn_writes(loss == UnsyncedLoss::kTornPrefix, rng());
  fault_fs_->set_lost_pages(loss == UnsyncedLoss::kLostPages, rng());
  return loss;
}

double CrashTest::choose_unlogged_fraction(std::mt19937_64& rng) {
  if (rng() % 4 != 0) return 0;
  ++totals_.unlogged_cycles;
  return 0.2;
}

bool CrashTest::powercut_cycle(uint64_t cycle, std::mt19937_64& rng) {
  WorkloadOptions w;
  w.unlogged_fraction = choose_unlogged_fraction(rng);
  w.threads = config_.threads;
  w.keys = config_.keys;
  w.epoch = cycle + 1;
  w.seed = mix(config_.seed, cycle);
  w.max_value_padding = max_value_padding_;
  w.errors_expected = true;  // every write after the cut fails
  fresh_checkpoint_dir();
  w.checkpoint_dir = checkpoint_dir_;
  // Half the cycles' checkpoints link their tables, half copy them.
  fault_fs_->set_links((w.seed >> 23) & 1);
  // Half the cycles let unsynced writers append to the log themselves, as
  // they do to a mapped log, even when it is not mapped.
  fault_fs_->set_appends_claim_memory_copies(rng() % 2 == 0);
  // Half the cycles' new logs are mapped for real (from the cycle's
  // seed, so the other draws stay what they were).
  fault_fs_->set_map_writable_files((w.seed >> 21) & 1);
  const uint64_t before = fault_fs_->injected_faults();
  w.faults_injected = [this, before] { return fault_fs_->injected_faults() > before; };
  Workload workload(db_.get(), w, baseline_);
  const bool by_count = rng() % 2 == 0;
  workload.start();
  if (by_count) {
    // The (n+1)-th mutating call from now on is the first to fail.
    fault_fs_->fail_after(static_cast<int>(rng() % 4000), Status::IOError("power cut"));
    const auto until = Clock::now() + std::chrono::seconds(3);
    while (fault_fs_->injected_faults() == before && Clock::now() < until) sleep_ms(1);
    fault_fs_->set_active(false);
  } else {
    sleep_ms(5 + rng() % 600);
    fault_fs_->set_active(false);
  }
  sleep_ms(rng() % 5);
  workload.request_stop();
  workload.join();
  db_.reset();  // the process "dies": whatever it did not sync is lost below
  const UnsyncedLoss loss = choose_unsynced_loss(rng);
  fault_fs_->drop_unsynced_data();
  fault_fs_->clear_faults();
  ++totals_.power_cuts;
  if (loss == UnsyncedLoss::kTornPrefix) ++totals_.torn;
  if (loss == UnsyncedLoss::kLostPages) ++totals_.lost_pages;
  totals_.injected_errors += fault_fs_->injected_faults() - before;
  totals_.ops += workload.counters().writes.load();
  totals_.acked += workload.counters().acked.load();
  totals_.reads += workload.counters().reads.load();
  totals_.failed_calls += workload.counters().failed.load();
  totals_.checkpoints += workload.counters().checkpoints.load();

  const std::vector<std::string> online = workload.violations();
  if (!online.empty()) {
    fail(cycle, online);
    return false;
  }
  if (rng() % 4 == 0) {
    // The power goes again while the DB recovers: the recovery of a recovery
    // must still find everything the first cut left durable.
    fault_fs_->fail_after(static_cast<int>(rng() % 60), Status::IOError("power cut in recovery"));
    std::unique_ptr<DB> recovering;
    if (DB::open(options_, db_dir_, &recovering).ok()) fault_fs_->set_active(false);
    recovering.reset();
    (void)choose_unsynced_loss(rng);
    fault_fs_->drop_unsynced_data();
    fault_fs_->clear_faults();
    ++totals_.recovery_cuts;
  }
  // An eighth of the cycles rebuild the DB with repair_db() first (from the
  // cycle's seed, so the other draws stay what they were). A power cut
  // damages nothing a sync covered: the repair must read CURRENT and its
  // MANIFEST and find no table damaged, unreadable or missing (a table no
  // edit names that the cut left short is counted apart, as unfinished),
  // drop what the cut tore as recovery drops it (keeping records after a
  // lost one would leave a hole), and keep every durable acknowledged write.
  const bool repair = ((w.seed >> 40) & 7) == 1;
  if (repair) {
    RepairReport report;
    Status s = repair_db(db_dir_, options_, &report);
    if (!s.ok()) {
      fail(cycle, {"repair_db after the power cut: " + s.to_string()});
      return false;
    }
    if (!report.manifest_read_whole || report.tables_salvaged != 0 ||
        report.tables_unreadable != 0 || report.tables_missing != 0) {
      std::vector<std::string> found = {"repair_db after the power cut found damage"};
      found.insert(found.end(), report.problems.begin(), report.problems.end());
      fail(cycle, found);
      return false;
    }
    ++totals_.repairs;
  }
  // A quarter of the reopens recover in point-in-time mode. It differs from
  // the default only where the default refuses to open (damage to synced
  // data, a damaged end of a log that a later log follows), which a power
  // cut never leaves: so it must neither stop at damage nor drop a log.
  Options reopen = options_;
  const bool point = rng() % 4 == 0;
  if (point) {
    reopen.wal_recovery_mode = WalRecoveryMode::kPointInTime;
    ++totals_.point_in_time_opens;
  }
  struct RecoveryListener final : EventListener {
    void on_recovery(const RecoveryInfo& recovered) override { info = recovered; }
    RecoveryInfo info;
  };
  auto recovery = std::make_shared<RecoveryListener>();
  reopen.listener = recovery;  // the power-cut options have no listener of their own
  Status s = DB::open(reopen, db_dir_, &db_);
  if (!s.ok()) {
    fail(cycle, {std::string("the DB does not open after the power cut") +
                 (repair ? " and a repair (" : " (") +
                 (point ? "kPointInTime" : "the default recovery mode") + "): " + s.to_string()});
    return false;
  }
  const RecoveryInfo& info = recovery->info;
  // Damage with valid records after it, past the log's last sync: what lost
  // pages leave (the text is RecoveryInfo::dropped_tail's; a count only).
  if (info.dropped_tail.find("no sync covered") != std::string::npos) ++totals_.unsynced_tails;
  if (info.stopped_at_damage || info.logs_dropped > 0) {
    fail(cycle,
         {"point-in-time recovery stopped at damage the default mode refuses (" +
          std::to_string(info.logs_dropped) + " later log(s) dropped): " + info.dropped_tail});
    return false;
  }
  if (repair) {
    // The earlier files the repair kept, removed through the fault file
    // system, which tracks every file for the next power cut.
    const std::string lost = db_dir_ + "/lost";
    std::vector<std::string> names;
    if (fault_fs_->get_children(lost, &names).ok()) {
      for (const std::string& name : names) (void)fault_fs_->remove_file(lost + "/" + name);
      (void)fault_fs_->remove_dir(lost);
    }
  }
  return verify(cycle, workload.ops(), Durability::kSyncedOnly);
}

// ---------------------------------------------------------------- errors

bool CrashTest::compactions_come_back(uint64_t cycle, Workload& workload) {
  // A compaction that failed on an injected fault rests for a back-off
  // (10 ms here, doubled per failure in a row, at most 32 times) and is
  // tried again; with the faults gone it succeeds, or is no longer needed.
  // One that still fails after this long is a bug.
  std::string still = *db_->property("fsdb.compaction-error");
  for (int waited = 0; still != "none" && waited < 2000; ++waited) {
    sleep_ms(5);
    still = *db_->property("fsdb.compaction-error");
  }
  if (still == "none") return true;
  workload.request_stop();
  workload.join();
  fail(cycle, {"compactions still fail once the faults were cleared: " + still});
  return false;
}

bool CrashTest::errors_cycle(uint64_t cycle, std::mt19937_64& rng) {
  WorkloadOptions w;
  w.unlogged_fraction = choose_unlogged_fraction(rng);
  w.threads = config_.threads;
  w.keys = config_.keys;
  w.epoch = cycle + 1;
  w.seed = mix(config_.seed, cycle);
  w.max_value_padding = max_value_padding_;
  w.errors_expected = true;
  fresh_checkpoint_dir();
  w.checkpoint_dir = checkpoint_dir_;
  fault_fs_->set_links((w.seed >> 23) & 1);                    // as in powercut_cycle()
  fault_fs_->set_appends_claim_memory_copies(rng() % 2 == 0);  // as in powercut_cycle()
  fault_fs_->set_map_writable_files((w.seed >> 21) & 1);
  static const double kProbabilities[] = {0.0005, 0.002, 0.01, 0.05};
  const double p = kProbabilities[rng() % 4];
  const Status error = rng() % 2 == 0 ? Status::IOError("injected EIO: Input/output error")
                                      : Status::IOError("injected ENOSPC: No space left on device");
  const bool include_reads = rng() % 2 == 0;
  // From the cycle's seed, not rng: the other draws stay what they were.
  const bool manual_resume = (w.seed >> 17) & 1;
  const bool automatic_resume = !manual_resume && ((w.seed >> 18) & 1);
  if (automatic_resume) {
    // The DB the last cycle verified, reopened with its own retries on.
    Options retrying = options_;
    retrying.max_background_error_resumes = UINT32_MAX;
    retrying.background_error_resume_interval_ms = 1 + static_cast<uint32_t>((w.seed >> 40) % 20);
    db_.reset();
    Status s = DB::open(retrying, db_dir_, &db_);
    if (!s.ok()) {
      fail(cycle, {"the DB does not reopen with automatic resumes: " + s.to_string()});
      return false;
    }
  }
  const uint64_t before = fault_fs_->injected_faults();
  w.faults_injected = [this, before] { return fault_fs_->injected_faults() > before; };
  Workload workload(db_.get(), w, baseline_);
  workload.start();
  sleep_ms(rng() % 200);
  fault_fs_->set_random_failures(p, error, include_reads, rng());
  sleep_ms(100 + rng() % 500);
  if (manual_resume) {
    fault_fs_->clear_faults();
    // Injected faults are all I/O errors, which resume() clears once they
    // stop. A flush or compaction that met a fault before the clear may
    // report it a little later, while resume() waits for the flushes: then
    // resume() returns that error and is called again. A refusal ("reopen"),
    // or failing still after that, is a bug.
    Status r = db_->resume();
    for (int attempt = 0; !r.ok() && attempt < 50; ++attempt) {
      if (r.to_string().find("reopen") != std::string::npos) break;
      sleep_ms(20);
      r = db_->resume();
    }
    if (!r.ok()) {
      workload.request_stop();
      workload.join();
      fail(cycle, {"resume() failed once the faults were cleared: " + r.to_string()});
      return false;
    }
    ++totals_.resumes;
    sleep_ms(50 + (w.seed >> 20) % 150);  // writes after the resume
    if (!compactions_come_back(cycle, workload)) return false;
  } else if (automatic_resume) {
    fault_fs_->clear_faults();
    // The DB's retries take writes again by themselves. An error met before
    // the clear may still be reported after it, and is retried in turn; one
    // that stays (or needs a reopen) after this long is a bug.
    std::string still = *db_->property("fsdb.background-error");
    for (int waited = 0; still != "none" && waited < 2000; ++waited) {
      sleep_ms(5);
      still = *db_->property("fsdb.background-error");
    }
    if (still != "none") {
      workload.request_stop();
      workload.join();
      fail(cycle,
           {"writes did not come back by themselves once the faults were cleared: " + still});
      return false;
    }
    sleep_ms(50 + (w.seed >> 20) % 150);  // writes after the resumes
    totals_.automatic_resumes += std::stoull(*db_->property("fsdb.num-resumes"));
    if (!compactions_come_back(cycle, workload)) return false;
  }
  workload.request_stop();
  workload.join();
  if (rng() % 2 == 0) fault_fs_->clear_faults();  // else close() meets the faults too
  // A close() that returns OK has written out every acknowledged write, those
  // made with disable_wal too: from here on the verification requires them.
  if (db_->close().ok()) workload.record_clean_close();
  db_.reset();
  if (rng() % 3 == 0) {
    // An open under faults must fail cleanly or work; either way nothing is lost.
    fault_fs_->set_random_failures(std::max(p, 0.01), error, include_reads, rng());
    std::unique_ptr<DB> attempt;
    if (DB::open(options_, db_dir_, &attempt).ok()) (void)attempt->close();
  }
  // A quarter of the cycles end with a power cut as well: what the errors
  // left behind (parts of failed appends, writebacks a failed sync dropped)
  // must not cost a synced or flushed write.
  const bool power_cut = rng() % 4 == 0;
  if (power_cut) {
    const UnsyncedLoss loss = choose_unsynced_loss(rng);
    fault_fs_->drop_unsynced_data();
    ++totals_.power_cuts;
    if (loss == UnsyncedLoss::kTornPrefix) ++totals_.torn;
    if (loss == UnsyncedLoss::kLostPages) ++totals_.lost_pages;
  }
  totals_.injected_errors += fault_fs_->injected_faults() - before;
  fault_fs_->clear_faults();
  totals_.ops += workload.counters().writes.load();
  totals_.acked += workload.counters().acked.load();
  totals_.reads += workload.counters().reads.load();
  totals_.failed_calls += workload.counters().failed.load();
  totals_.checkpoints += workload.counters().checkpoints.load();
  const std::vector<std::string> online = workload.violations();
  if (!online.empty()) {
    fail(cycle, online);
    return false;
  }
  Status s = DB::open(options_, db_dir_, &db_);
  if (!s.ok()) {
    fail(cycle, {std::string("the DB does not open once the faults are cleared") +
                 (power_cut ? " (and the power was cut)" : "") + ": " + s.to_string()});
    return false;
  }
  return verify(cycle, workload.ops(),
                power_cut ? Durability::kSyncedOnly : Durability::kEveryAcknowledged);
}

// ---------------------------------------------------------------- driver

bool CrashTest::run_mode(const std::string& mode) {
  mode_ = mode;
  totals_ = Totals();
  db_dir_ = config_.dir + "/" + mode + "/db";
  state_dir_ = config_.dir + "/" + mode + "/state";
  checkpoint_dir_ = config_.dir + "/" + mode + "/checkpoints";
  ::mkdir((config_.dir + "/" + mode).c_str(), 0755);
  ::mkdir(state_dir_.c_str(), 0755);
  (void)destroy_db(db_dir_);
  (void)remove_journals(state_dir_);
  ::unlink((state_dir_ + "/baseline").c_str());
  baseline_ = Baseline();
  baseline_.values.assign(config_.keys, std::nullopt);
  std::mt19937_64 rng(mix(config_.seed, std::hash<std::string>()(mode)));
  options_ = stress_db_options(config_.seed % 1000);
  // The errors mode decides per cycle who resumes (errors_cycle()); the DB
  // retries only in the cycles that reopen it for that.
  if (mode == "errors") {
    options_.max_background_error_resumes = 0;
    // Also the first back-off of a compaction that failed: short, so that
    // compactions are seen to come back within the cycle.
    options_.background_error_resume_interval_ms = 10;
  }

  if (mode == "powercut" || mode == "errors") {
    fault_fs_ = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
    options_.file_system = fault_fs_;
    Status s = DB::open(options_, db_dir_, &db_);
    if (!s.ok()) {
      harness_failure("cannot create the DB: " + s.to_string());
      return false;
    }
  } else {
    Status s = save_baseline(state_dir_, baseline_);
    if (!s.ok()) {
      harness_failure(s.to_string());
      return false;
    }
  }
  std::printf("== %s: seed %llu, %u threads, %u keys, db options: %s\n", mode.c_str(),
              static_cast<unsigned long long>(config_.seed), config_.threads, config_.keys,
              describe_db_options(options_).c_str());
  std::fflush(stdout);

  const auto start = Clock::now();
  const auto deadline = start + std::chrono::milliseconds(config_.duration_ms);
  bool ok = true;
  auto last_progress = start;
  for (uint64_t cycle = 0;; ++cycle) {
    if (config_.cycles != 0 && cycle >= config_.cycles) break;
    if (config_.duration_ms != 0 && Clock::now() >= deadline) break;
    if (mode == "kill") {
      ok = kill_cycle(cycle, rng);
    } else if (mode == "powercut") {
      ok = powercut_cycle(cycle, rng);
    } else {
      ok = errors_cycle(cycle, rng);
    }
    if (!ok) break;
    ++totals_.cycles;
    if (Clock::now() - last_progress > std::chrono::seconds(60)) {
      last_progress = Clock::now();
      print_totals(mode, std::chrono::duration<double>(Clock::now() - start).count());
    }
  }
  if (db_) {
    Status s = db_->close();
    if (ok && !s.ok()) {
      fail(totals_.cycles, {"final close: " + s.to_string()});
      ok = false;
    }
    db_.reset();
  }
  // A run of several cycles that crashed nothing, or required nothing to
  // survive, proved nothing: a harness that stopped working must not pass.
  if (ok && totals_.cycles >= 4) {
    const uint64_t crashes = mode == "kill"       ? totals_.kills + totals_.kill_points
                             : mode == "powercut" ? totals_.power_cuts
                                                  : totals_.injected_errors;
    if (crashes == 0 || totals_.required_writes == 0) {
      harness_failure(std::to_string(totals_.cycles) + " cycles with " + std::to_string(crashes) +
                      (mode == "errors" ? " injected errors" : " crashes") + " and " +
                      std::to_string(totals_.required_writes) +
                      " writes required to survive: the run tested nothing");
      ok = false;
    }
  }
  fault_fs_.reset();
  print_totals(mode, std::chrono::duration<double>(Clock::now() - start).count());
  if (ok && !config_.keep) {
    (void)destroy_db(db_dir_);
    (void)remove_journals(state_dir_);
    ::unlink((state_dir_ + "/baseline").c_str());
    ::unlink((state_dir_ + "/stress.log").c_str());
    ::unlink((state_dir_ + "/recovery.log").c_str());
    ::rmdir(state_dir_.c_str());
    std::error_code ignored;
    std::filesystem::remove_all(checkpoint_dir_, ignored);
    ::rmdir((config_.dir + "/" + mode).c_str());
  }
  return ok;
}

void CrashTest::print_totals(const std::string& mode, double seconds) const {
  const Totals& t = totals_;
  const std::pair<const char*, uint64_t> counts[] = {
      {"cycles", t.cycles},
      {"writes", t.ops},
      {"acked", t.acked},
      {"reads", t.reads},
      {"kills", t.kills},
      {"kill_points", t.kill_points},
      {"clean_exits", t.clean_exits},
      {"power_cuts", t.power_cuts},
      {"torn", t.torn},
      {"lost_pages", t.lost_pages},
      {"point_in_time_opens", t.point_in_time_opens},
      {"unsynced_tails", t.unsynced_tails},
      {"unlogged_cycles", t.unlogged_cycles},
      {"recovery_cuts", t.recovery_cuts},
      {"recovery_kills", t.recovery_kills},
      {"injected_errors", t.injected_errors},
      {"failed_calls", t.failed_calls},
      {"resumes", t.resumes},
      {"automatic_resumes", t.automatic_resumes},
      {"checkpoints", t.checkpoints},
      {"repairs", t.repairs},
      {"read_only_opens", t.read_only_opens},
      {"secondary_states", t.secondary_states},
      {"secondary_reads_during_open", t.secondary_reads_during_open},
      {"secondary_skipped", t.secondary_skipped},
      {"secondary_busy", t.secondary_busy},
      {"keys_verified", t.keys_verified},
      {"required_writes", t.required_writes},
      {"violations", t.violations}};
  std::string line = "RESULT mode=" + mode + " seed=" + std::to_string(config_.seed);
  char buf[32];
  std::snprintf(buf, sizeof(buf), " seconds=%.1f", seconds);
  line += buf;
  for (const auto& [name, value] : counts)
    line += " " + std::string(name) + "=" + std::to_string(value);
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

std::string sibling_stress_path(const char* argv0) {
  std::string self = argv0;
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n > 0) self.assign(buf, static_cast<size_t>(n));
  const size_t slash = self.rfind('/');
  return (slash == std::string::npos ? std::string(".") : self.substr(0, slash)) + "/fsdb_stress";
}

}  // namespace
}  // namespace fsdb::crashtest

int main(int argc, char** argv) {
  using namespace fsdb::crashtest;
  Flags flags;
  fsdb::Status s = flags.parse(argc, argv,
                               {"mode", "seed", "cycles", "duration", "threads", "keys", "dir",
                                "stress", "stress_flag", "kill_after", "keep", "verbose"});
  Config c;
  c.mode = flags.get("mode", "all");
  c.seed =
      flags.has("seed")
          ? flags.get_uint("seed", 0)
          : static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) %
                1000000007ULL;
  c.cycles = flags.get_uint("cycles", 0);
  uint64_t total_ms = flags.get_millis("duration", 0);
  c.threads = static_cast<uint32_t>(flags.get_uint("threads", 3));
  c.keys = static_cast<uint32_t>(flags.get_uint("keys", 2000));
  c.stress = flags.get("stress", sibling_stress_path(argv[0]));
  c.stress_flag = flags.get("stress_flag", "");
  c.kill_after_ms = flags.get_millis("kill_after", 0);
  c.keep = flags.has("keep");
  c.verbose = flags.has("verbose");
  if (s.ok()) s = flags.error();
  std::vector<std::string> modes;
  if (c.mode == "all") {
    modes = {"kill", "powercut", "errors"};
  } else if (c.mode == "kill" || c.mode == "powercut" || c.mode == "errors") {
    modes = {c.mode};
  } else if (s.ok()) {
    s = fsdb::Status::InvalidArgument("--mode must be kill, powercut, errors or all");
  }
  if (s.ok() && (c.threads < 1 || c.threads > 4))
    s = fsdb::Status::InvalidArgument("--threads: 1 to 4");
  if (s.ok() && c.keys < 1) s = fsdb::Status::InvalidArgument("--keys: at least 1");
  if (s.ok() && c.cycles == 0 && total_ms == 0) c.cycles = 20;
  if (!s.ok()) {
    std::fprintf(stderr, "fsdb_crashtest: %s\n", s.to_string().c_str());
    return 2;
  }
  c.duration_ms = total_ms / modes.size();
  bool made_dir = false;
  if (flags.has("dir")) {
    c.dir = flags.get("dir", "");
    ::mkdir(c.dir.c_str(), 0755);
  } else {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/fsdb_crashtest.XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      std::fprintf(stderr, "fsdb_crashtest: cannot create a scratch directory\n");
      return 2;
    }
    c.dir = templ;
    made_dir = true;
  }
  std::string command_line = argv[0];
  if (flags.has("stress")) command_line += " --stress=" + c.stress;
  if (flags.has("dir")) command_line += " --dir=" + c.dir;
  if (flags.has("stress_flag")) command_line += " --stress_flag=" + c.stress_flag;
  if (flags.has("kill_after")) command_line += " --kill_after=" + flags.get("kill_after", "");
  CrashTest test(c, command_line);
  bool ok = true;
  for (const std::string& mode : modes) {
    ok = test.run_mode(mode) && ok;
    if (!ok) break;
  }
  if (ok && made_dir && !c.keep) ::rmdir(c.dir.c_str());
  if (test.harness_error()) return 2;
  return ok ? 0 : 1;
}
