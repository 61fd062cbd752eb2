// The commands of the fsdb tool and the dispatcher that runs one from its
// words. The same commands serve the command line (`fsdb --db D get k`), the
// interactive shell and scripts on stdin.
//
// Each command is a class: configure() declares its arguments on a CLI11 app,
// run() does the work and fills a Result, which the session renders as a table
// or as JSON. A fresh command object is made for every invocation.
//
// Thread safety: one thread (the session's).
#pragma once

#include <CLI/CLI.hpp>

#include <algorithm>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fsdb/status.h"
#include "tools/result.h"
#include "tools/session.h"

namespace fsdb::tool {

// A count on the command line: decimal digits only, at most 2^64 - 1. CLI11
// alone would read "-1" as 2^64 - 1 and clamp a number too large to the same,
// and would read a leading 0 as octal ("010" as 8, "09" not at all): the
// leading zeros are dropped here. Use with ->transform() (it rewrites).
inline CLI::Validator count_validator() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
          return "'" + text + "' is not a count (digits only, no sign)";
        }
        std::string digits = text.substr(std::min(text.find_first_not_of('0'), text.size()));
        if (digits.size() > 20 || (digits.size() == 20 && digits > "18446744073709551615")) {
          return text + " is too large (at most 18446744073709551615)";
        }
        text = digits.empty() ? "0" : std::move(digits);
        return std::string();
      },
      "COUNT");
}

// What a running command sees: the session and the output form chosen.
struct Invocation {
  Session& session;
  bool json = false;
  bool hex = false;  // keys and values in and out as hex
  Result result;
  bool printed = false;  // the command wrote its output itself (a streamed scan)

  Status input(std::string_view text, std::string* bytes) const {
    return session.decode_input(text, hex, bytes);
  }
  std::string show(std::string_view bytes) const { return Session::show(bytes, hex); }
};

class Command {
 public:
  virtual ~Command() = default;
  virtual void configure(CLI::App& app) = 0;
  // InvalidArgument means a usage error (exit code 2); any other error is 1.
  virtual Status run(Invocation& invocation) = 0;
};

struct CommandInfo {
  std::string name;
  std::string summary;
  std::function<std::unique_ptr<Command>()> make;
  // Only reads the DB: run alone from the command line (not in the shell,
  // not with --create), it opens the DB read-only, so that it changes
  // nothing there and shares the DB with other readers.
  bool only_reads = false;
};

inline CommandInfo only_reads(CommandInfo info) {
  info.only_reads = true;
  return info;
}

// Every command, in the order `help` lists them.
const std::vector<CommandInfo>& all_commands();
const CommandInfo* find_command(std::string_view name);
// The command names nearest to `name` (by edit distance), for "did you mean".
std::vector<std::string> nearest_commands(std::string_view name);

// Runs one command (words[0] is its name). Prints its output and errors and
// returns the exit code (kExitOk, kExitError, kExitUsage).
int run_command(Session& session, const std::vector<std::string>& words);

// Each file of commands adds its own.
void add_db_commands(std::vector<CommandInfo>* commands);
void add_file_commands(std::vector<CommandInfo>* commands);
void add_transfer_commands(std::vector<CommandInfo>* commands);
void add_demo_command(std::vector<CommandInfo>* commands);

// The name the program was started as, for lines that tell how to run it.
extern const char* g_program_name;

// Prints an error line (or a JSON error object with --json).
void report_error(const Status& status, bool json);

}  // namespace fsdb::tool
