// fsdb: the command-line tool and shell of an fsdb database. docs/fsdb.md is
// its manual.
//
//   fsdb [--db DIR] [--create] [--read-only] [--json] [--hex] [--keep-going] [CMD ARGS...]
//
// With a command: runs it and exits. Without: the shell (interactive on a
// terminal, one command per line otherwise). Exit codes: 0 ok, 1 error, 2 usage.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include "tools/commands.h"
#include "tools/session.h"
#include "tools/shell.h"

namespace {

// The usage line names the command that follows the options.
class UsageWithCommand : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App* app, std::string name) const override {
    std::string usage = CLI::Formatter::make_usage(app, std::move(name));
    const size_t end = usage.find_last_not_of('\n');
    return end == std::string::npos
               ? usage
               : usage.substr(0, end + 1) + " [CMD ARGS...]" + usage.substr(end + 1);
  }
};

int run(int argc, char** argv, fsdb::tool::GlobalOptions& options) {
  using namespace fsdb::tool;
  g_program_name = argc > 0 ? argv[0] : "fsdb";
  CLI::App app("fsdb: the shell and command-line tool of an fsdb database", "fsdb");
  app.add_option("--db", options.db_path, "The DB directory");
  app.add_flag("--create", options.create, "Create the DB if the directory holds none");
  app.add_flag("--json", options.json, "Machine-readable output: one JSON object per command");
  app.add_flag("--hex", options.hex, "Keys and values in and out as hex");
  app.add_flag("--read-only", options.read_only,
               "Open the DB read-only: change nothing there (writes are refused)")
      ->excludes("--create");
  app.add_flag("--keep-going", options.keep_going,
               "With commands on stdin: go on after a failing command (exit 1 at the end)");
  app.set_version_flag("--version", "fsdb 0.1.0");
  app.prefix_command();
  std::string footer = "\nCommands (fsdb --db DIR help CMD explains one):\n";
  for (const CommandInfo& info : all_commands()) {
    footer += "  " + info.name +
              std::string(info.name.size() < 12 ? 12 - info.name.size() : 1, ' ') + info.summary +
              "\n";
  }
  footer += "\nExit codes: 0 ok, 1 error, 2 usage error.";
  app.footer(footer);
  app.formatter(std::make_shared<UsageWithCommand>());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --json asks for errors as JSON too, wherever they come from.
    const bool json = std::any_of(
        argv + 1, argv + argc, [](const char* arg) { return std::string_view(arg) == "--json"; });
    if (json && e.get_exit_code() != 0) {
      report_error(fsdb::Status::InvalidArgument(std::string(e.what()) +
                                                 " (`fsdb --help` lists the options)"),
                   /*json=*/true);
      return kExitUsage;
    }
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  }
  const std::vector<std::string> words = app.remaining();
  Session session(options);
  if (!words.empty()) {
    // A command that only reads, run alone, changes nothing in the DB.
    const CommandInfo* info = find_command(words[0]);
    if (info != nullptr && info->only_reads) session.set_only_reads();
  }
  if (words.size() == 1 && words[0] == "batch") {
    // It would end, uncommitted, with this command.
    report_error(fsdb::Status::InvalidArgument(
                     "batch: a batch spans several commands, so it needs the shell or a script "
                     "on stdin (`fsdb --db DIR`, then batch, put..., commit)"),
                 options.json);
    return kExitUsage;
  }
  if (!words.empty() && words[0] == "snapshot" &&
      std::none_of(words.begin(), words.end(),
                   [](const std::string& w) { return w == "--help" || w == "-h"; })) {
    // It would be released, unused, with this command.
    report_error(fsdb::Status::InvalidArgument(
                     "snapshot: a snapshot holds for the commands after it, so it needs the "
                     "shell or a script on stdin (`fsdb --db DIR`, then snapshot, get..., "
                     "snapshot release); `property fsdb.sequence` shows the DB's sequence"),
                 options.json);
    return kExitUsage;
  }
  int code = words.empty() ? run_shell(session) : run_command(session, words);
  fsdb::Status s = session.close();
  if (!s.ok()) {
    report_error(s, options.json);
    if (code == kExitOk) code = kExitError;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace fsdb::tool;
  GlobalOptions options;
  // Out of memory (a huge value, a huge file to load) ends the run with an
  // error like any other, not an abort; the open DB was closed on the way.
  try {
    return run(argc, argv, options);
  } catch (const std::exception& e) {
    report_error(fsdb::Status::IOError(e.what()), options.json);
  } catch (...) {
    report_error(fsdb::Status::IOError("an unexpected exception"), options.json);
  }
  return kExitError;
}
