// Runs the examples of docs/fsdb.md (its ```console blocks), in order, in one
// fresh directory, and checks that each command prints what the manual says
// and exits as it says. See the manual's introduction for the notation.
#include <gtest/gtest.h>

#include <sstream>

#include "support/test_util.h"
#include "tests/fsdb_tool_support.h"

namespace fsdb::tool_test {
namespace {

struct Example {
  int doc_line = 0;
  std::string command;  // without the "$ "
  std::vector<std::string> args;
  std::string input;
  std::vector<std::string> expected;  // output lines; "..." matches any lines
  int expected_exit = 0;
};

// Splits a console command like a POSIX shell would for the simple words the
// manual uses: '...' literal, "..." with \" and \\, a backslash escapes outside.
std::vector<std::string> shell_words(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  bool have_word = false;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (c == ' ') {
      if (have_word) words.push_back(word);
      word.clear();
      have_word = false;
    } else if (c == '\'') {
      const size_t end = line.find('\'', i + 1);
      word += line.substr(i + 1, end - i - 1);
      i = end;
      have_word = true;
    } else if (c == '"') {
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] == '\\' && i + 1 < line.size() && (line[i + 1] == '"' || line[i + 1] == '\\')) {
          ++i;
        }
        word += line[i];
      }
      have_word = true;
    } else if (c == '\\' && i + 1 < line.size()) {
      word += line[++i];
      have_word = true;
    } else {
      word += c;
      have_word = true;
    }
  }
  if (have_word) words.push_back(word);
  return words;
}

std::vector<Example> parse_examples(const std::string& doc) {
  std::vector<std::string> lines;
  std::istringstream in(doc);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::vector<Example> examples;
  bool in_block = false;
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    if (!in_block) {
      in_block = line == "```console";
      continue;
    }
    if (line == "```") {
      in_block = false;
      continue;
    }
    if (line.starts_with("$ ")) {
      Example e;
      e.doc_line = static_cast<int>(i + 1);
      e.command = line.substr(2);
      e.args = shell_words(e.command);
      if (!e.args.empty() && e.args.back() == "<<EOF") {
        e.args.pop_back();
        for (++i; i < lines.size() && lines[i] != "EOF"; ++i) e.input += lines[i] + "\n";
      }
      examples.push_back(std::move(e));
    } else if (!examples.empty()) {
      if (line.starts_with("[exit ")) {
        examples.back().expected_exit = std::stoi(line.substr(6));
      } else {
        examples.back().expected.push_back(line);
      }
    }
  }
  return examples;
}

// Matches output lines against expected lines, where "..." matches any run.
bool lines_match(const std::vector<std::string>& actual, size_t a,
                 const std::vector<std::string>& expected, size_t e) {
  if (e == expected.size()) return a == actual.size();
  if (expected[e] == "...") {
    for (size_t skip = a; skip <= actual.size(); ++skip) {
      if (lines_match(actual, skip, expected, e + 1)) return true;
    }
    return false;
  }
  return a < actual.size() && actual[a] == expected[e] &&
         lines_match(actual, a + 1, expected, e + 1);
}

TEST(FsdbToolDocsTest, ManualExamplesHold) {
  const std::string doc = read_all(docs_path());
  ASSERT_FALSE(doc.empty()) << "cannot read " << docs_path();
  const std::vector<Example> examples = parse_examples(doc);
  ASSERT_GE(examples.size(), 20u) << "the manual's examples were not found";
  fsdb::test::ScratchDir dir;
  for (const Example& e : examples) {
    SCOPED_TRACE("docs/fsdb.md:" + std::to_string(e.doc_line) + ": $ " + e.command);
    ASSERT_FALSE(e.args.empty());
    ASSERT_EQ(e.args[0], "fsdb");
    const std::vector<std::string> args(e.args.begin() + 1, e.args.end());
    const RunResult r = run_tool(args, e.input, dir.path());
    std::vector<std::string> actual;
    std::istringstream out(r.out + r.err);
    for (std::string line; std::getline(out, line);) actual.push_back(line);
    EXPECT_EQ(r.exit_code, e.expected_exit) << r.out << r.err;
    EXPECT_TRUE(lines_match(actual, 0, e.expected, 0)) << "printed:\n"
                                                       << r.out << r.err << "the manual says:\n"
                                                       << ::testing::PrintToString(e.expected);
  }
}

}  // namespace
}  // namespace fsdb::tool_test
