// The identity of a DB: 128 random bits, written as 32 hex digits and a
// newline to IDENTITY when the DB is made (or when a writer first opens a DB
// made before identities existed), and never changed afterwards; a
// checkpoint keeps it. A DB destroyed and made again at the same path numbers
// its MANIFEST, logs and tables as the first one did, but has another
// identity: a secondary that follows the path takes nothing over from a state
// of another DB (engine/secondary_db.h).
#pragma once

#include <string>

#include "fsdb/env.h"
#include "fsdb/status.h"

namespace fsdb {

// IDENTITY's 32 hex digits: NotFound if there is no IDENTITY, Corruption
// naming the file if it holds anything else.
Status read_db_identity(FileSystem& fs, const std::string& dir, std::string* identity);

// Writes `identity` to `dir`'s IDENTITY, synced, through a temporary file
// renamed over it (a crash leaves the old one or the new one whole).
Status write_db_identity(FileSystem& fs, const std::string& dir, const std::string& identity);

// A new identity from the system's random source.
std::string new_db_identity();

}  // namespace fsdb
