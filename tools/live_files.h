// The live files of a DB directory, read from CURRENT and the MANIFEST it
// names without opening the DB (so it works on a DB another process holds, and
// on a DB too damaged to open). Every MANIFEST record is checksummed by the log
// reader; a torn last record (an edit a crash cut short) is tolerated as the DB
// itself tolerates it, and reported (dropped_tail). CURRENT and the MANIFEST's
// required entries are held to what the DB's open requires.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/version.h"
#include "fsdb/env.h"

namespace fsdb::tool {

struct LiveFiles {
  std::shared_ptr<const Version> version;
  std::string manifest_path;
  uint64_t manifest_number = 0;
  uint64_t log_number = 0;  // WALs numbered >= this are live
  uint64_t last_sequence = 0;
  uint64_t next_file_number = 0;
  // What the MANIFEST's reader dropped at its end as a torn write ("offset N:
  // M bytes: why"), or empty. The DB's open drops the same.
  std::string dropped_tail;
};

// NotFound for a directory that does not exist, InvalidArgument for a path
// that is not a directory; OK otherwise.
Status check_db_directory(const std::string& dir);

Status load_live_files(FileSystem& fs, const std::string& dir, LiveFiles* out);

}  // namespace fsdb::tool
