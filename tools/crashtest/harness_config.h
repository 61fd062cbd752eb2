// Shared pieces of the two harness programs: command-line flags and the DB
// options a cycle runs with.
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fsdb/options.h"
#include "fsdb/status.h"

namespace fsdb::crashtest {

// "--name=value" flags; every flag must be known to the program.
class Flags {
 public:
  // Fills the flags from argv; InvalidArgument for a malformed or unknown one.
  Status parse(int argc, char** argv, const std::vector<std::string>& known);
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  std::string get(const std::string& name, const std::string& fallback) const;
  uint64_t get_uint(const std::string& name, uint64_t fallback) const;
  double get_double(const std::string& name, double fallback) const;
  // "250ms", "30s", "5m", "1h" (a bare number is seconds), in milliseconds.
  uint64_t get_millis(const std::string& name, uint64_t fallback) const;
  Status error() const { return error_; }

 private:
  std::map<std::string, std::string> values_;
  mutable Status error_;
};

Status parse_millis(const std::string& text, uint64_t* millis);

// DB options that exercise the engine hard: small memtables (frequent
// rotations and flushes), small files and low level-0 triggers (frequent
// compactions), compression on or off (with or without table dictionaries),
// all chosen from `profile`.
Options stress_db_options(uint64_t profile);
std::string describe_db_options(const Options& o);

}  // namespace fsdb::crashtest
