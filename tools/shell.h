// The shell: runs commands read from stdin. On a terminal it is interactive
// (libedit line editing, history in ~/.fsdb_history, tab completion of
// commands, errors reported and the session goes on). Otherwise (a pipe or a
// file) it reads one command per line and stops at the first failing command
// unless --keep-going. Blank lines and lines starting with '#' are skipped.
//
// Thread safety: one thread; libedit's readline state is process-global.
#pragma once

#include "tools/session.h"

namespace fsdb::tool {

// Returns the exit code: the first failing command's (or, with --keep-going,
// kExitError if any failed), else kExitOk.
int run_shell(Session& session);

}  // namespace fsdb::tool
