#include "tools/commands.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <iostream>

#include "tools/text.h"

namespace fsdb::tool {

namespace {

// `d`, `d/` and `./d` name one directory (as does a link to it).
bool same_directory(const std::string& a, const std::string& b) {
  if (a == b) return true;
  if (a.empty() || b.empty()) return false;
  std::error_code ec;
  if (std::filesystem::equivalent(a, b, ec)) return true;
  const auto normal = [](const std::string& path) {
    std::error_code ignored;
    return std::filesystem::absolute(path, ignored).lexically_normal().string();
  };
  std::string left = normal(a);
  std::string right = normal(b);
  while (left.size() > 1 && left.back() == '/') left.pop_back();
  while (right.size() > 1 && right.back() == '/') right.pop_back();
  return left == right;
}

class HelpCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("command", command_, "The command to explain");
    app.add_option("subcommand", subcommand_, "One of its subcommands (help sst dump)");
  }
  Status run(Invocation& inv) override;

 private:
  std::string command_;
  std::string subcommand_;
};

// The global options a command also accepts after its name.
struct CommandGlobals {
  bool json = false;
  bool hex = false;
  bool create = false;
  std::string db;
};

std::unique_ptr<CLI::App> make_app(const CommandInfo& info, Command& command,
                                   CommandGlobals* globals) {
  auto app = std::make_unique<CLI::App>(info.summary, info.name);
  app->add_flag("--json", globals->json, "Machine-readable output (one JSON object)");
  app->add_flag("--hex", globals->hex, "Keys and values in and out as hex");
  app->add_option("--db", globals->db, "The DB directory (as before the command)");
  app->add_flag("--create", globals->create, "Create the DB if the directory holds none");
  app->get_formatter()->column_width(28);
  // Words no option or argument takes are reported by run_command, in the
  // order they were given (CLI11 lists them reversed); subcommands inherit it.
  app->allow_extras();
  command.configure(*app);
  // Options such as --json may come after a subcommand ("sst list --json").
  for (CLI::App* sub : app->get_subcommands({})) sub->fallthrough();
  return app;
}

std::vector<CommandInfo> build_commands() {
  std::vector<CommandInfo> commands;
  add_db_commands(&commands);
  add_transfer_commands(&commands);
  add_file_commands(&commands);
  add_demo_command(&commands);
  commands.push_back({"help", "List the commands, or explain one: help CMD",
                      [] { return std::make_unique<HelpCommand>(); }});
  return commands;
}

Status HelpCommand::run(Invocation& inv) {
  if (command_.empty()) {
    inv.result.columns = {"command", "what it does"};
    inv.result.table_name = "commands";
    for (const CommandInfo& info : all_commands()) {
      inv.result.rows.push_back({info.name, info.summary});
    }
    if (!inv.json) {
      inv.result.lines.emplace_back("");
      inv.result.lines.emplace_back("`help CMD` or `CMD --help` explains one command.");
    }
    return Status::OK();
  }
  const CommandInfo* info = find_command(command_);
  if (info == nullptr) {
    std::string message = "unknown command '" + command_ + "'";
    const auto near = nearest_commands(command_);
    if (!near.empty()) message += "; did you mean '" + near.front() + "'?";
    return Status::InvalidArgument(message);
  }
  auto command = info->make();
  CommandGlobals globals;
  auto app = make_app(*info, *command, &globals);
  const CLI::App* explained = app.get();
  if (!subcommand_.empty()) {
    const auto subcommands =
        app->get_subcommands([&](const CLI::App* sub) { return sub->get_name() == subcommand_; });
    if (subcommands.empty()) {
      if (app->get_subcommands({}).empty()) {
        return Status::InvalidArgument(info->name + " has no subcommands (`help " + info->name +
                                       "` explains it)");
      }
      return Status::InvalidArgument(info->name + " has no subcommand '" + escape(subcommand_) +
                                     "' (`help " + info->name + "` lists them)");
    }
    explained = subcommands.front();
  }
  inv.result.field("command", subcommand_.empty() ? info->name : info->name + " " + subcommand_);
  inv.result.field("summary", explained->get_description());
  if (inv.json) {
    inv.result.field("usage", explained == app.get() ? app->help() : explained->help(info->name));
  } else {
    inv.result.fields.clear();
    std::string text = explained == app.get() ? app->help() : explained->help(info->name);
    while (!text.empty() && text.back() == '\n') text.pop_back();
    inv.result.lines.push_back(text);
  }
  return Status::OK();
}

}  // namespace

const std::vector<CommandInfo>& all_commands() {
  static const std::vector<CommandInfo> commands = build_commands();
  return commands;
}

const CommandInfo* find_command(std::string_view name) {
  for (const CommandInfo& info : all_commands()) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

std::vector<std::string> nearest_commands(std::string_view name) {
  std::vector<std::pair<size_t, std::string>> scored;
  for (const CommandInfo& info : all_commands()) {
    size_t distance = edit_distance(name, info.name);
    // A prefix ("comp" for "compact") is as good as a near miss.
    if (info.name.starts_with(name) && !name.empty()) distance = std::min<size_t>(distance, 1);
    scored.emplace_back(distance, info.name);
  }
  std::sort(scored.begin(), scored.end());
  std::vector<std::string> out;
  const size_t limit = std::max<size_t>(2, name.size() / 2);
  for (const auto& [distance, candidate] : scored) {
    if (distance <= limit && distance <= scored.front().first) out.push_back(candidate);
  }
  return out;
}

void report_error(const Status& status, bool json) {
  if (json) {
    std::cout << "{\"error\": " << json_quote(status.message())
              << ", \"code\": " << json_quote(json_error_code(status.code())) << "}\n";
    std::cout.flush();
  } else {
    std::cout.flush();
    std::cerr << "error: " << status.message() << '\n';
  }
}

int run_command(Session& session, const std::vector<std::string>& words) {
  const bool global_json = session.options().json;
  if (words.empty()) return kExitOk;
  if (words[0].size() > 1 && words[0][0] == '-') {
    // An option the tool does not know, before any command; a command's own
    // options come after its name.
    static const std::vector<std::string> kGlobalOptions = {"--db",      "--create", "--read-only",
                                                            "--json",    "--hex",    "--keep-going",
                                                            "--version", "--help"};
    const std::string name = words[0].substr(0, words[0].find('='));
    std::string message;
    if (name == "--") {
      // Ends a command's options: `get -- -dash`.
      message =
          "'--' goes after a command's name, before a key that starts with '-' (`get -- "
          "-dash`)";
    } else if (name == "--read-only" || name == "--keep-going") {
      // Options of the whole run, which no command takes.
      message = "'" + escape(words[0]) + "' is an option of the whole run: it goes before " +
                "any command (`fsdb --db DIR " + name + "`)";
    } else if (std::find(kGlobalOptions.begin(), kGlobalOptions.end(), name) !=
               kGlobalOptions.end()) {
      // A shell or script line: the tool's options are the command's there.
      message = "'" + escape(words[0]) + "' goes after the command's name here (`get KEY " +
                escape(words[0]) + "`)";
    } else {
      message = "unknown option '" + escape(words[0]) + "'";
      for (const std::string& option : kGlobalOptions) {
        if (edit_distance(name, option) <= 2) {
          message += "; did you mean '" + option + "'?";
          break;
        }
      }
      message += " (`fsdb --help` lists the options; a command's own follow its name)";
    }
    report_error(Status::InvalidArgument(message), global_json);
    return kExitUsage;
  }
  const CommandInfo* info = find_command(words[0]);
  if (info == nullptr) {
    std::string message = "unknown command '" + words[0] + "'";
    const auto near = nearest_commands(words[0]);
    if (!near.empty()) message += "; did you mean '" + near.front() + "'?";
    message += " (`help` lists the commands)";
    report_error(Status::InvalidArgument(message), global_json);
    return kExitUsage;
  }
  auto command = info->make();
  CommandGlobals globals;
  auto app = make_app(*info, *command, &globals);
  const bool& json = globals.json;
  // `scan --from --keys-only`: CLI11 would take the second option's name as
  // the first one's value. Said instead; `--from=--keys-only` still means it.
  for (size_t i = 1; i + 1 < words.size() && words[i] != "--"; ++i) {
    const CLI::Option* option = app->get_option_no_throw(words[i]);
    if (option != nullptr && option->get_items_expected_min() > 0 &&
        app->get_option_no_throw(words[i + 1]) != nullptr) {
      report_error(Status::InvalidArgument(info->name + ": " + words[i] + " needs a value, and '" +
                                           words[i + 1] + "' is an option (for it as the value: " +
                                           words[i] + "=" + words[i + 1] + ")"),
                   global_json || std::find(words.begin(), words.end(), "--json") != words.end());
      return kExitUsage;
    }
  }
  std::vector<std::string> args(words.rbegin(), words.rend() - 1);  // CLI11 wants them reversed
  try {
    app->parse(args);
  } catch (const CLI::CallForHelp&) {
    std::cout << app->help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app->help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& e) {
    std::string hint = " (`help " + info->name + "` shows its usage)";
    // `sst frob`: CLI11 says only that a subcommand is required.
    const auto subcommands = app->get_subcommands([](CLI::App*) { return true; });
    if (!subcommands.empty() && words.size() > 1 && !words[1].starts_with("-") &&
        std::none_of(subcommands.begin(), subcommands.end(),
                     [&](const CLI::App* sub) { return sub->get_name() == words[1]; })) {
      report_error(Status::InvalidArgument(info->name + ": unknown subcommand '" +
                                           escape(words[1]) + "'" + hint),
                   json || global_json);
      return kExitUsage;
    }
    // `get -dash`: the key was taken for an option.
    if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      for (size_t i = 1; i < words.size(); ++i) {
        if (words[i].size() > 1 && words[i][0] == '-' && words[i] != "--") {
          hint = " (a key or value that starts with '-' follows `--`: `" + info->name + " -- " +
                 escape(words[i]) + "`)";
          break;
        }
      }
    }
    report_error(Status::InvalidArgument(info->name + ": " + e.what() + hint), json || global_json);
    return kExitUsage;
  }
  if (app->remaining_size(true) > 0) {
    // remaining() also lists the `--` that ends the options, which
    // remaining_size() does not count; such a mark is the first `--` listed.
    std::vector<std::string> extras = app->remaining(true);
    for (size_t marks = extras.size() - app->remaining_size(true); marks > 0; --marks) {
      extras.erase(std::find(extras.begin(), extras.end(), "--"));
    }
    std::string list;
    for (const std::string& word : extras) list += (list.empty() ? "'" : ", '") + word + "'";
    report_error(Status::InvalidArgument(info->name + ": unexpected argument" +
                                         (extras.size() > 1 ? "s " : " ") + list + " (`help " +
                                         info->name + "` shows its usage)"),
                 json || global_json);
    return kExitUsage;
  }
  if (!globals.db.empty() && !same_directory(globals.db, session.db_path())) {
    // A session is on one DB: a --db after the command may name it where the
    // session has none yet, but never switch a script or shell to another one
    // for the lines after it without a word.
    if (!session.db_path().empty()) {
      report_error(Status::InvalidArgument("--db " + globals.db + ": this session is on " +
                                           session.db_path()),
                   json || global_json);
      return kExitUsage;
    }
    session.set_db_path(globals.db);
  }
  if (globals.create) {
    if (session.options().read_only) {
      report_error(Status::InvalidArgument(info->name +
                                           ": --create: this session is read-only (--read-only)"),
                   json || global_json);
      return kExitUsage;
    }
    session.set_create(true);
  }
  Invocation inv{session, json || global_json, globals.hex || session.options().hex, {}};
  Status s;
  try {
    s = command->run(inv);
  } catch (const std::exception& e) {
    // Out of memory (a huge value or file): this command fails as after any
    // other error, and the session (a shell, a script) decides what follows.
    s = Status::IOError(info->name + ": " + e.what());
  }
  if (!inv.result.empty()) {
    // With --json a failed command that still has output (check's problems)
    // carries its error inside the one object it prints.
    if (!s.ok() && inv.json) {
      inv.result.field("error", s.message());
      inv.result.field("code", std::string(json_error_code(s.code())));
    }
    session.emit(inv.result, inv.json);
  }
  if (s.ok()) return kExitOk;
  if (!inv.json || (inv.result.empty() && !inv.printed)) report_error(s, inv.json);
  return s.is_invalid_argument() ? kExitUsage : kExitError;
}

}  // namespace fsdb::tool
