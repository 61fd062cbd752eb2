// How the engine reads its Options: the checks every user of a DB's
// directory makes before touching it (the DB's open, repair_db()), and the
// table settings they map to.
#pragma once

#include <string>

#include "fsdb/options.h"
#include "fsdb/status.h"
#include "sstable/table_options.h"

namespace fsdb {

// InvalidArgument naming the first option out of its range (or an empty path).
Status validate_options(const Options& options, const std::string& path);

// The settings every table of the DB is written and read with; a block cache
// of Options::block_cache_bytes (none for 0) of its own.
TableOptions table_options_from(const Options& options);

}  // namespace fsdb
