// The fsdb shell driven through a pseudo-terminal, as a person would use it:
// the prompt, tab completion, a batch over several lines, and history kept in
// ~/.fsdb_history across sessions (recalled with the up arrow).
#include <gtest/gtest.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "support/test_util.h"
#include "tests/fsdb_tool_support.h"

namespace fsdb::tool_test {
namespace {

using ::fsdb::test::ScratchDir;

// One interactive fsdb process on a pseudo-terminal.
class Terminal {
 public:
  Terminal(const std::string& home, const std::vector<std::string>& args, bool progress = false) {
    struct winsize size = {};
    size.ws_row = 24;
    size.ws_col = 120;
    const std::string tool = tool_path();
    pid_ = ::forkpty(&master_, nullptr, nullptr, &size);
    if (pid_ == 0) {
      ::setenv("HOME", home.c_str(), 1);
      ::setenv("TERM", "xterm", 1);
      if (!progress) ::setenv("FSDB_NO_PROGRESS", "1", 1);
      std::vector<char*> argv;
      argv.push_back(const_cast<char*>(tool.c_str()));
      for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
      argv.push_back(nullptr);
      ::execv(tool.c_str(), argv.data());
      ::_exit(127);
    }
  }
  ~Terminal() {
    if (pid_ > 0 && !exited_) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    if (master_ >= 0) ::close(master_);
  }
  bool started() const { return pid_ > 0; }

  void send(const std::string& keys) {
    size_t done = 0;
    while (done < keys.size()) {
      const ssize_t n = ::write(master_, keys.data() + done, keys.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  // Reads until `text` appears in the output after the last match (or 10 s
  // pass); true if it did. What was read up to and including it is consumed.
  bool expect(const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (true) {
      const size_t at = output_.find(text, consumed_);
      if (at != std::string::npos) {
        consumed_ = at + text.size();
        return true;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      struct pollfd fd = {master_, POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      const ssize_t n = ::read(master_, buf, sizeof(buf));
      if (n <= 0) return false;
      output_.append(buf, static_cast<size_t>(n));
    }
  }

  int wait_exit() {
    int status = 0;
    // Drain the terminal so the process never blocks writing to it.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t done = ::waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      struct pollfd fd = {master_, POLLIN, 0};
      if (::poll(&fd, 1, 50) > 0) {
        char buf[4096];
        const ssize_t n = ::read(master_, buf, sizeof(buf));
        if (n > 0) output_.append(buf, static_cast<size_t>(n));
      }
    }
    return -1;
  }

  const std::string& output() const { return output_; }

 private:
  pid_t pid_ = -1;
  int master_ = -1;
  bool exited_ = false;
  std::string output_;
  size_t consumed_ = 0;
};

// libedit prints the prompt before it puts the terminal in raw mode; control
// keys sent in between would be taken by the terminal's line discipline.
void settle() { ::usleep(100 * 1000); }

class FsdbShellTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(tool_path())) << "no tool at " << tool_path();
    db_ = scratch_.file("db");
    home_ = scratch_.file("home");
    std::filesystem::create_directories(home_);
    prompt_ = "fsdb:" + db_ + "> ";
  }

  ScratchDir scratch_;
  std::string db_, home_, prompt_;
};

TEST_F(FsdbShellTest, PromptCompletionBatchAndHistory) {
  {
    Terminal t(home_, {"--db", db_, "--create"});
    ASSERT_TRUE(t.started());
    ASSERT_TRUE(t.expect("`help` lists the commands")) << t.output();
    ASSERT_TRUE(t.expect(prompt_)) << t.output();

    // A batch over several lines: the prompt counts the queued writes.
    t.send("batch\r");
    ASSERT_TRUE(t.expect("fsdb:" + db_ + " [batch 0]> ")) << t.output();
    t.send("put fruit apple\r");
    ASSERT_TRUE(t.expect("[batch 1]> ")) << t.output();
    t.send("put veg \"green bean\"\r");
    ASSERT_TRUE(t.expect("[batch 2]> ")) << t.output();
    t.send("commit\r");
    ASSERT_TRUE(t.expect("committed 2 writes")) << t.output();
    ASSERT_TRUE(t.expect(prompt_)) << t.output();

    // Tab completes a command name ("sca" -> "scan ").
    t.send("sca\t--keys-only\r");
    ASSERT_TRUE(t.expect("(2 entries)")) << t.output();
    EXPECT_NE(t.output().find("veg"), std::string::npos);
    ASSERT_TRUE(t.expect(prompt_)) << t.output();
    // ...and a subcommand after "sst".
    t.send("sst li\t\r");
    ASSERT_TRUE(t.expect("table count")) << t.output();
    ASSERT_TRUE(t.expect(prompt_)) << t.output();

    // An error does not end the session; it suggests the right command.
    t.send("gett fruit\r");
    ASSERT_TRUE(t.expect("did you mean 'get'")) << t.output();
    ASSERT_TRUE(t.expect(prompt_)) << t.output();
    t.send("get veg\r");
    ASSERT_TRUE(t.expect("green bean")) << t.output();
    ASSERT_TRUE(t.expect(prompt_)) << t.output();
    t.send("quit\r");
    EXPECT_EQ(t.wait_exit(), 0) << t.output();
  }
  const std::string history = read_all(home_ + "/.fsdb_history");
  EXPECT_NE(history.find("batch"), std::string::npos) << history;
  EXPECT_NE(history.find("commit"), std::string::npos) << history;
  EXPECT_NE(history.find("veg"), std::string::npos) << history;

  {
    // A new session recalls the last command with the up arrow.
    Terminal t(home_, {"--db", db_});
    ASSERT_TRUE(t.expect(prompt_)) << t.output();
    t.send("put veg carrot\r");
    ASSERT_TRUE(t.expect(prompt_)) << t.output();
    settle();
    t.send("\x1b[A\x1b[A\r");  // two up: "get veg" from the last session
    ASSERT_TRUE(t.expect("carrot")) << t.output();
    ASSERT_TRUE(t.expect(prompt_)) << t.output();
    settle();
    t.send("\x04");  // Ctrl-D leaves too
    EXPECT_EQ(t.wait_exit(), 0) << t.output();
  }
}

TEST_F(FsdbShellTest, ProgressBarOnATerminal) {
  const std::string csv = scratch_.file("pairs.csv");
  {
    std::ofstream out(csv);
    out << "key,value\n";
    for (int i = 0; i < 20000; ++i) out << "k" << i << ",v" << i << "\n";
  }
  Terminal t(home_, {"--db", db_, "--create", "load", csv}, /*progress=*/true);
  ASSERT_TRUE(t.expect("loading [")) << t.output();
  ASSERT_TRUE(t.expect("100%")) << t.output();
  ASSERT_TRUE(t.expect("records: 20000")) << t.output();
  EXPECT_EQ(t.wait_exit(), 0) << t.output();
  EXPECT_NE(t.output().find("/s"), std::string::npos) << t.output();  // the rate
}

// The banner says what the first command would find: no DB yet, or a DB
// opened read-only.
TEST_F(FsdbShellTest, TheBannerSaysWhereTheShellIs) {
  {
    Terminal t(home_, {"--db", db_});
    ASSERT_TRUE(t.expect("(no DB there yet: --create")) << t.output();
    ASSERT_TRUE(t.expect(prompt_)) << t.output();
    t.send("put k v --create\r");
    ASSERT_TRUE(t.expect(prompt_)) << t.output();
    t.send("exit\r");
    EXPECT_EQ(t.wait_exit(), 0) << t.output();
  }
  Terminal t(home_, {"--db", db_, "--read-only"});
  ASSERT_TRUE(t.expect(db_ + " (read-only).")) << t.output();
  ASSERT_TRUE(t.expect(prompt_)) << t.output();
  t.send("get k\r");
  ASSERT_TRUE(t.expect("v")) << t.output();
  ASSERT_TRUE(t.expect(prompt_)) << t.output();
  t.send("exit\r");
  EXPECT_EQ(t.wait_exit(), 0) << t.output();
}

TEST_F(FsdbShellTest, HelpInTheShell) {
  Terminal t(home_, {"--db", db_, "--create"});
  ASSERT_TRUE(t.expect(prompt_)) << t.output();
  t.send("help\r");
  ASSERT_TRUE(t.expect("what it does")) << t.output();
  ASSERT_TRUE(t.expect(prompt_)) << t.output();
  t.send("help scan\r");
  ASSERT_TRUE(t.expect("--reverse")) << t.output();
  ASSERT_TRUE(t.expect(prompt_)) << t.output();
  t.send("exit\r");
  EXPECT_EQ(t.wait_exit(), 0) << t.output();
}

}  // namespace
}  // namespace fsdb::tool_test
