// The names of the files in a DB directory, and their parsing.
//
//   CURRENT           the name of the live MANIFEST
//   MANIFEST-000005   the log of version edits
//   000007.log        a write-ahead log
//   000006.sst        an SSTable
//   000008.dbtmp      a temporary file (CURRENT being replaced, or a
//                     repair's MANIFEST being written)
//   LOCK              held while the DB is open
//   IDENTITY          the DB's identity (engine/db_identity.h), written once
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fsdb {

enum class FileType { kLog, kTable, kManifest, kCurrent, kTemp, kLock };

std::string log_file_name(const std::string& dir, uint64_t number);
std::string table_file_name(const std::string& dir, uint64_t number);
std::string manifest_file_name(const std::string& dir, uint64_t number);
std::string temp_file_name(const std::string& dir, uint64_t number);
std::string current_file_name(const std::string& dir);
std::string lock_file_name(const std::string& dir);
std::string identity_file_name(const std::string& dir);

// The largest file number the engine hands out or recognises. Numbers count
// up from 1, so no DB reaches it; a stray file numbered beyond it is not taken
// for one of the DB's (its number + 1 would wrap the file-number counter to 0,
// and new files would then reuse, and truncate, live ones).
inline constexpr uint64_t kMaxFileNumber = (uint64_t{1} << 62) - 1;

// Parses a name (not a path) of the forms above. False for anything else,
// numbers above kMaxFileNumber included (such files are left alone).
bool parse_file_name(std::string_view name, FileType* type, uint64_t* number);

}  // namespace fsdb
