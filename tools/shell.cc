#include "tools/shell.h"

#include <editline/readline.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>

#include "engine/filename.h"
#include "tools/commands.h"
#include "tools/text.h"

namespace fsdb::tool {

namespace {

constexpr int kHistoryLines = 2000;

std::string history_path() {
  const char* home = std::getenv("HOME");
  if (home == nullptr || *home == '\0') return {};
  return std::string(home) + "/.fsdb_history";
}

// The words that may follow a command, for completion.
const char* const* subcommands_of(std::string_view command) {
  static const char* const kSst[] = {"list", "dump", "check", nullptr};
  static const char* const kWal[] = {"dump", nullptr};
  static const char* const kManifest[] = {"dump", nullptr};
  static const char* const kSnapshot[] = {"release", "show", nullptr};
  if (command == "sst") return kSst;
  if (command == "wal") return kWal;
  if (command == "manifest") return kManifest;
  if (command == "snapshot") return kSnapshot;
  return nullptr;
}

// Candidates for the word being completed; set before rl_completion_matches
// calls the generator.
std::vector<std::string> g_candidates;

char* candidate_generator(const char* text, int state) {
  static size_t index;
  if (state == 0) index = 0;
  const size_t length = std::strlen(text);
  while (index < g_candidates.size()) {
    const std::string& candidate = g_candidates[index++];
    if (candidate.compare(0, length, text) == 0) return ::strdup(candidate.c_str());
  }
  return nullptr;
}

char** complete(const char* text, int start, int /*end*/) {
  std::vector<std::string> words;
  const std::string before(rl_line_buffer, static_cast<size_t>(start));
  if (!split_words(before, &words).ok()) return nullptr;
  g_candidates.clear();
  if (words.empty()) {
    for (const CommandInfo& info : all_commands()) g_candidates.push_back(info.name);
    for (const char* extra : {"quit", "exit"}) g_candidates.emplace_back(extra);
  } else if (words.size() == 1 && words[0] == "help") {
    for (const CommandInfo& info : all_commands()) g_candidates.push_back(info.name);
  } else if (words.size() == 1 && subcommands_of(words[0]) != nullptr) {
    for (const char* const* sub = subcommands_of(words[0]); *sub != nullptr; ++sub) {
      g_candidates.emplace_back(*sub);
    }
  } else {
    return nullptr;  // file names (libedit's default)
  }
  rl_attempted_completion_over = 1;
  return rl_completion_matches(text, candidate_generator);
}

std::string prompt_for(const Session& session) {
  std::string prompt = "fsdb";
  if (!session.db_path().empty()) prompt += ":" + session.db_path();
  if (session.snapshot() != nullptr) {
    prompt += " @" + std::to_string(session.snapshot()->sequence());
  }
  if (const WriteBatch* batch = session.batch()) {
    prompt += " [batch " + std::to_string(batch->count()) + "]";
  }
  return prompt + "> ";
}

// A line whose first non-blank character is '#', whatever follows it (an
// apostrophe in a comment is no quote).
bool is_comment(std::string_view line) {
  const size_t first = line.find_first_not_of(" \t\r");
  return first != std::string_view::npos && line[first] == '#';
}

bool is_quit(const std::vector<std::string>& words) {
  return words.size() == 1 && (words[0] == "quit" || words[0] == "exit" || words[0] == ".quit");
}

// What the banner says of the DB beside its path: read-only, or that there is
// none yet (the first command would fail: said before anything is typed).
std::string where_the_shell_is(const Session& session) {
  if (session.db_path().empty()) return "";
  if (session.options().read_only) return " (read-only)";
  std::error_code ec;
  if (session.options().create ||
      std::filesystem::exists(current_file_name(session.db_path()), ec)) {
    return "";
  }
  return " (no DB there yet: --create, before the command or after it, makes one)";
}

int run_interactive(Session& session) {
  rl_readline_name = "fsdb";
  rl_attempted_completion_function = complete;
  using_history();
  stifle_history(kHistoryLines);
  const std::string history = history_path();
  if (!history.empty()) read_history(history.c_str());
  std::cout << "fsdb shell on " << (session.db_path().empty() ? "(no --db)" : session.db_path())
            << where_the_shell_is(session)
            << ". `help` lists the commands, `help CMD` explains one; quit or Ctrl-D leaves.\n";
  while (true) {
    const std::string prompt = prompt_for(session);
    char* raw = readline(prompt.c_str());
    if (raw == nullptr) {
      std::cout << '\n';
      break;
    }
    std::string line(raw);
    std::free(raw);
    if (is_comment(line)) continue;
    std::vector<std::string> words;
    Status s = split_words(line, &words);
    if (!s.ok()) {
      report_error(s, session.options().json);
      continue;
    }
    if (words.empty()) continue;
    if (is_quit(words)) break;
    // Written after every line, so a killed shell keeps its history too.
    add_history(line.c_str());
    if (!history.empty()) write_history(history.c_str());
    run_command(session, words);
  }
  if (session.in_batch()) {
    std::cerr << "note: the open batch of " << session.batch()->count()
              << " writes was not committed and is discarded\n";
  }
  return kExitOk;
}

int run_script(Session& session) {
  std::string line;
  uint64_t line_number = 0;
  int exit_code = kExitOk;
  while (std::getline(std::cin, line)) {
    ++line_number;
    if (is_comment(line)) continue;
    std::vector<std::string> words;
    Status s = split_words(line, &words);
    int code = kExitOk;
    if (!s.ok()) {
      report_error(
          Status::InvalidArgument("line " + std::to_string(line_number) + ": " + s.message()),
          session.options().json);
      code = kExitUsage;
    } else if (words.empty()) {
      continue;
    } else if (is_quit(words)) {
      break;
    } else {
      code = run_command(session, words);
      if (code != kExitOk && !session.options().json) {
        std::cerr << "  (at line " << line_number << ": " << line << ")\n";
      }
    }
    if (code != kExitOk) {
      if (!session.options().keep_going) return code;
      exit_code = kExitError;
    }
  }
  if (session.in_batch()) {
    report_error(Status::InvalidArgument("input ended inside a batch of " +
                                         std::to_string(session.batch()->count()) +
                                         " writes: nothing of it was written (end it with commit)"),
                 session.options().json);
    session.end_batch();
    return kExitError;
  }
  return exit_code;
}

}  // namespace

int run_shell(Session& session) {
  return ::isatty(STDIN_FILENO) == 1 ? run_interactive(session) : run_script(session);
}

}  // namespace fsdb::tool
