// The expected-state oracle of the crash harness, kept outside the DB.
//
// Two parts:
//  - the baseline: what every key held when the current cycle began (the state
//    the previous verification observed), saved with write + fdatasync +
//    rename so that it survives anything;
//  - the operation log: one OpRecord per write the workload started in this
//    cycle, with its global start tick, its outcome (acknowledged, failed, or
//    still pending when the process died) and its end tick. Ticks come from
//    one counter shared by all writer threads, so "A was acknowledged before B
//    started" is `A.end_tick < B.start_tick`.
//
// For the kill mode the log is journaled: each writer thread appends to its own
// file, and the "begin" line of a write is handed to the kernel with write(2)
// before the DB sees the write, so after a SIGKILL the journal names every
// write that may have reached the DB. "Acknowledged" lines are buffered and go
// out with the thread's next write (losing one only weakens the check: the
// write counts as pending). With `sync` the journal is fdatasync'ed after each
// write(2) too, which a real power cut would need; a SIGKILL does not.
//
// Thread safety: a JournalWriter belongs to one thread; the free functions are
// independent of each other.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fsdb/status.h"

namespace fsdb::crashtest {

enum class OpKind : uint8_t { kPut, kRemove, kBatch, kSyncWal, kFlush };
enum class OpOutcome : uint8_t { kPending, kAcked, kFailed };

struct KeyWrite {
  uint32_t key = 0;
  bool is_put = true;  // false: a removal
  friend bool operator==(const KeyWrite&, const KeyWrite&) = default;
};

struct OpRecord {
  uint32_t thread = 0;
  uint64_t counter = 0;  // per thread, from 1, one per write (reads take none)
  OpKind kind = OpKind::kPut;
  bool sync = false;      // WriteOptions::sync
  bool unlogged = false;  // WriteOptions::disable_wal: never sync
  uint64_t start_tick = 0;
  uint64_t end_tick = 0;  // 0 while pending
  OpOutcome outcome = OpOutcome::kPending;
  std::vector<KeyWrite> writes;  // distinct keys; empty for sync_wal and flush

  // Whether an acknowledgement of this op makes every logged write
  // acknowledged before it started durable (and the op itself, for a sync
  // write).
  bool is_durability_point() const {
    return (sync && !unlogged) || kind == OpKind::kSyncWal || kind == OpKind::kFlush;
  }
  // Whether it makes the unlogged writes acknowledged before it started
  // durable too: only a flush writes the memtables out.
  bool is_durability_point_for_unlogged() const { return kind == OpKind::kFlush; }
  friend bool operator==(const OpRecord&, const OpRecord&) = default;
};

const char* op_kind_name(OpKind kind);
// "thread 2 write 17 (batch, sync, acknowledged, ticks 40..52)"
std::string describe(const OpRecord& op);

// Appends one thread's operations to <dir>/journal-<thread>.
class JournalWriter {
 public:
  JournalWriter() = default;
  ~JournalWriter();
  JournalWriter(const JournalWriter&) = delete;
  JournalWriter& operator=(const JournalWriter&) = delete;

  Status open(const std::string& dir, uint32_t thread, bool sync);
  // Writes the op's "begin" line, and every buffered line, to the file.
  Status begin(const OpRecord& op);
  // Writes the op's outcome line to the file at once: a kill right after an
  // acknowledgement must find it recorded, or the verifier would take the
  // newest acknowledged write of each thread for one still in flight, and
  // not require it.
  Status finish(const OpRecord& op);
  // Writes buffered lines.
  Status flush();

 private:
  Status write_out();

  int fd_ = -1;
  bool sync_ = false;
  std::string path_;
  std::string buffer_;
};

// Reads every journal in `dir` (incomplete last lines are ignored: the writer
// died in the middle of a write(2)). Ops come out grouped by thread, in order.
Status load_journals(const std::string& dir, std::vector<OpRecord>* ops);
// Removes the journals in `dir`.
Status remove_journals(const std::string& dir);

// What each key held at the start of a cycle (nullopt: absent).
struct Baseline {
  uint64_t epoch = 0;  // the cycle that produced it
  std::vector<std::optional<std::string>> values;
};

// <dir>/baseline, replaced atomically and durably.
Status save_baseline(const std::string& dir, const Baseline& baseline);
// NotFound when there is none yet.
Status load_baseline(const std::string& dir, Baseline* baseline);

}  // namespace fsdb::crashtest
