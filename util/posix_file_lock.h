// The LOCK file of a DB directory, as fcntl(2) record locks: exclusive for a
// DB open for writing (or a repair, a destroy), shared for DBs open read-only,
// so that any number of readers may hold one DB while no writer does.
//
// fcntl locks belong to the process, not to the descriptor: a second lock of
// the same file from the same process would succeed silently, and closing any
// descriptor of the file would drop them all. So each file is locked once per
// process, through one descriptor, and a table of the files held here (by
// device and inode, so that "db/LOCK", "./db/LOCK" and a link are one file)
// makes a conflict within the process fail as one with another process does.
#pragma once

#include <memory>
#include <string>

#include "fsdb/env.h"

namespace fsdb {

// Busy if another process, or another lock in this one, holds `path` in any
// mode. The file is created if missing.
Status lock_file_exclusive(const std::string& path, std::unique_ptr<FileLock>* lock);

// Busy if another process, or this one, holds `path` exclusively. The file
// is created if missing; where it cannot be (a read-only file system, a
// directory this user may not write: a copy of a DB without its LOCK), the
// lock holds nothing on disk, and a writer that opens the DB meanwhile is
// not kept out.
Status lock_file_shared(const std::string& path, std::unique_ptr<FileLock>* lock);

}  // namespace fsdb
