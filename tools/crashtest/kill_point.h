// Kill points: make the stress process die by SIGKILL at a chosen moment.
//
// A kill point is written "<where>:<pattern>:<n>[:after]":
//   event:flush:N       inside the N-th on_flush_completed
//   event:compaction:N  inside the N-th on_compaction_completed
//   event:sealed:N      inside the N-th on_memtable_sealed
//   append:P:N, sync:P:N, create:P:N, rename:P:N, remove:P:N, sync_dir:P:N
//                       at the N-th such file-system call on a path containing
//                       P (for a rename: the target), before the call is made,
//                       or just after it with ":after".
// E.g. "rename:CURRENT:1:after" dies between the rename that installs a new
// MANIFEST and the directory sync that makes it durable; "append:.sst:40" dies
// in the middle of writing a table.
//
// Thread safety: the file system and the listener are safe from any thread
// (the counters are atomic).
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "fsdb/env.h"
#include "fsdb/options.h"
#include "fsdb/status.h"

namespace fsdb::crashtest {

struct KillPoint {
  std::string where;  // "event", "append", "sync", "create", "rename", "remove", "sync_dir"
  std::string pattern;
  uint64_t nth = 1;
  bool after = false;
  bool empty() const { return where.empty(); }
};

Status parse_kill_point(const std::string& text, KillPoint* point);

// A FileSystem that forwards to `base` and kills the process at the kill point
// (for file-system kill points; event kill points need the listener).
std::shared_ptr<FileSystem> new_kill_file_system(std::shared_ptr<FileSystem> base,
                                                 const KillPoint& point);
// A listener that kills the process at an event kill point.
std::shared_ptr<EventListener> new_kill_listener(const KillPoint& point);

}  // namespace fsdb::crashtest
