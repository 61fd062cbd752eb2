// Checks a reopened DB against the expected-state oracle.
//
// The engine promises that what survives a crash is a prefix of the order in
// which writes were committed, containing at least every durable
// acknowledged write. From that the verifier derives, for every key, the
// oldest write of the key that must have survived, and checks:
//  - every value read is exactly one that a write of this key put (or the
//    baseline's): no value that was never written, no torn value;
//  - the survivors: every acknowledged write that was durable when the cut came
//    (in kill and error modes: every acknowledged write; in power-cut mode:
//    sync writes and writes acknowledged before a later sync write, sync_wal
//    or flush began), every write whose value is visible, and every write
//    acknowledged before any of those began (prefix: no hole in any thread or
//    across threads). Each key must hold the value of its last surviving write
//    or of a later one. Unlogged writes (disable_wal) are the exception: the
//    log does not hold them, so only an acknowledged flush that began after
//    they were acknowledged, or a visible unlogged write that did (its
//    memtable was flushed, and every one before it), makes them survivors;
//    a logged write after them proves nothing about them, and an unlogged
//    removal explains an absent key only if no logged removal of it follows;
//  - batches are all-or-nothing: a visible batch is a survivor, so every one
//    of its keys holds its value or a later one;
//  - a full scan with verify_checksums returns no error, only harness keys, in
//    order, and agrees with get() and multi_get() on every key.
//
// Thread safety: a pure function of its inputs and a quiescent DB.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fsdb/db.h"
#include "tools/crashtest/expected_state.h"

namespace fsdb::crashtest {

enum class Durability {
  kEveryAcknowledged,  // SIGKILL or I/O errors: the OS kept everything written
  kSyncedOnly,         // power cut: only what a sync made durable must survive
};

struct VerifyInput {
  uint32_t keys = 0;
  uint64_t epoch = 0;
  uint32_t max_value_padding = 0;
  Durability durability = Durability::kEveryAcknowledged;
  const Baseline* baseline = nullptr;
  const std::vector<OpRecord>* ops = nullptr;
};

struct VerifyResult {
  std::vector<std::string> violations;
  uint64_t keys_verified = 0;
  uint64_t required_writes = 0;   // writes that had to survive
  uint64_t surviving_writes = 0;  // writes whose value is visible
  Baseline observed;              // the next cycle's baseline
};

VerifyResult verify_db(DB& db, const VerifyInput& input);

}  // namespace fsdb::crashtest
