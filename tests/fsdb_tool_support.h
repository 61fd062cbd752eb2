// Helpers for the fsdb tool's tests: run the tool as a subprocess, and a small
// JSON reader to parse its --json output back.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace fsdb::tool_test {

// The tool lives next to the tests in the build tree: build/<tree>/tools/fsdb.
inline std::string tool_path() {
  if (const char* env = std::getenv("FSDB_TOOL"); env != nullptr && *env != '\0') return env;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe");
  return (exe.parent_path().parent_path() / "tools" / "fsdb").lexically_normal().string();
}

// docs/fsdb.md in the source tree (this file is tests/fsdb_tool_support.h).
inline std::string docs_path() {
  if (const char* env = std::getenv("FSDB_DOCS"); env != nullptr && *env != '\0') return env;
  return (std::filesystem::path(__FILE__).parent_path().parent_path() / "docs" / "fsdb.md")
      .lexically_normal()
      .string();
}

inline std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

struct RunResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the tool with `args`, `input` on stdin, in directory `cwd` (if set).
// stderr is not a terminal, so no progress bar is drawn.
inline RunResult run_tool(const std::vector<std::string>& args, const std::string& input = "",
                          const std::string& cwd = "") {
  char dir_template[] = "/tmp/fsdb-tool-run-XXXXXX";
  const std::string dir = ::mkdtemp(dir_template);
  const std::string in_path = dir + "/in", out_path = dir + "/out", err_path = dir + "/err";
  { std::ofstream(in_path, std::ios::binary) << input; }
  const std::string tool = tool_path();
  const pid_t pid = ::fork();
  if (pid == 0) {
    const int in_fd = ::open(in_path.c_str(), O_RDONLY);
    const int out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err_fd = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(in_fd, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) ::_exit(126);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(tool.c_str()));
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(tool.c_str(), argv.data());
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  RunResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_all(out_path);
  r.err = read_all(err_path);
  std::filesystem::remove_all(dir);
  return r;
}

// A parsed JSON value (numbers as double).
struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
  bool boolean = false;
  double number = 0;
  std::string string;
  std::vector<Json> array;
  std::map<std::string, Json> object;

  const Json& operator[](const std::string& name) const {
    static const Json kMissing;
    auto it = object.find(name);
    return it == object.end() ? kMissing : it->second;
  }
  bool has(const std::string& name) const { return object.count(name) > 0; }
};

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  // False on any syntax error or trailing garbage.
  bool parse(Json* out) {
    if (!value(out)) return false;
    space();
    return pos_ == text_.size();
  }

 private:
  void space() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }
  bool string(std::string* out) {
    if (pos_ >= text_.size() || text_[pos_] != '"') return false;
    ++pos_;
    while (pos_ < text_.size() && text_[pos_] != '"') {
      char c = text_[pos_++];
      if (c == '\\') {
        if (pos_ >= text_.size()) return false;
        c = text_[pos_++];
        switch (c) {
          case 'n':
            *out += '\n';
            break;
          case 't':
            *out += '\t';
            break;
          case 'r':
            *out += '\r';
            break;
          case 'b':
            *out += '\b';
            break;
          case 'f':
            *out += '\f';
            break;
          case 'u': {
            if (pos_ + 4 > text_.size()) return false;
            const int code = std::stoi(std::string(text_.substr(pos_, 4)), nullptr, 16);
            if (code >= 0x80) return false;  // the tool only escapes control bytes
            *out += static_cast<char>(code);
            pos_ += 4;
            break;
          }
          default:
            *out += c;
        }
      } else {
        *out += c;
      }
    }
    if (pos_ >= text_.size()) return false;
    ++pos_;
    return true;
  }
  bool value(Json* out) {
    space();
    if (pos_ >= text_.size()) return false;
    const char c = text_[pos_];
    if (c == '{') {
      out->type = Json::Type::kObject;
      ++pos_;
      space();
      if (pos_ < text_.size() && text_[pos_] == '}') return ++pos_, true;
      while (true) {
        space();
        std::string name;
        if (!string(&name)) return false;
        space();
        if (!literal(":")) return false;
        // A name twice is refused: a JSON reader would keep only one of them.
        if (out->object.count(name) != 0) return false;
        if (!value(&out->object[name])) return false;
        space();
        if (literal(",")) continue;
        return literal("}");
      }
    }
    if (c == '[') {
      out->type = Json::Type::kArray;
      ++pos_;
      space();
      if (pos_ < text_.size() && text_[pos_] == ']') return ++pos_, true;
      while (true) {
        if (!value(&out->array.emplace_back())) return false;
        space();
        if (literal(",")) continue;
        return literal("]");
      }
    }
    if (c == '"') {
      out->type = Json::Type::kString;
      return string(&out->string);
    }
    if (literal("true")) {
      out->type = Json::Type::kBool;
      out->boolean = true;
      return true;
    }
    if (literal("false")) {
      out->type = Json::Type::kBool;
      return true;
    }
    if (literal("null")) return true;
    size_t used = 0;
    try {
      out->number = std::stod(std::string(text_.substr(pos_)), &used);
    } catch (...) {
      return false;
    }
    out->type = Json::Type::kNumber;
    pos_ += used;
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

inline Json parse_json(const std::string& text) {
  Json json;
  if (!JsonParser(text).parse(&json)) {
    ADD_FAILURE() << "not valid JSON: " << text;
    return Json();
  }
  return json;
}

}  // namespace fsdb::tool_test
