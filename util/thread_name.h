// Names for the threads fsdb starts, as `top -H`, `ps -L`, perf and gdb show
// them ("fsdb:flush", "fsdb:compact0", ...), so that an operator can tell
// which of a process's threads is the engine's and what it does.
#pragma once

#include <string>
#include <string_view>

namespace fsdb {

// Names the calling thread. Linux keeps 15 bytes of a name: longer names are
// cut there. A no-op where the platform has no thread names.
void set_current_thread_name(std::string_view name);
// The calling thread's name ("" where the platform has none).
std::string current_thread_name();

}  // namespace fsdb
