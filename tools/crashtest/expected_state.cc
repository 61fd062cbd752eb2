#include "tools/crashtest/expected_state.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "util/io_error.h"

namespace fsdb::crashtest {
namespace {

Status errno_status(const std::string& path, const char* what) {
  return io_error(path, what, errno);
}

Status write_all(int fd, const std::string& path, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno_status(path, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::OK();
}

Status sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return errno_status(dir, "open directory");
  const int r = ::fsync(fd);
  ::close(fd);
  return r == 0 ? Status::OK() : errno_status(dir, "fsync directory");
}

std::vector<std::string> journal_files(const std::string& dir) {
  std::vector<std::string> files;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (std::strncmp(e->d_name, "journal-", 8) == 0) files.push_back(dir + "/" + e->d_name);
    }
    ::closedir(d);
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

const char* op_kind_name(OpKind kind) {
  switch (kind) {
    case OpKind::kPut:
      return "put";
    case OpKind::kRemove:
      return "remove";
    case OpKind::kBatch:
      return "batch";
    case OpKind::kSyncWal:
      return "sync_wal";
    case OpKind::kFlush:
      return "flush";
  }
  return "?";
}

std::string describe(const OpRecord& op) {
  const char* outcome = op.outcome == OpOutcome::kAcked    ? "acknowledged"
                        : op.outcome == OpOutcome::kFailed ? "failed"
                                                           : "pending";
  char buf[160];
  std::snprintf(
      buf, sizeof(buf),
      "thread %u write %" PRIu64 " (%s%s%s, %s, ticks %" PRIu64 "..%" PRIu64 ", %zu keys)",
      op.thread, op.counter, op_kind_name(op.kind), op.sync ? " sync" : "",
      op.unlogged ? " unlogged" : "", outcome, op.start_tick, op.end_tick, op.writes.size());
  return buf;
}

JournalWriter::~JournalWriter() {
  if (fd_ >= 0) {
    (void)flush();
    ::close(fd_);
  }
}

Status JournalWriter::open(const std::string& dir, uint32_t thread, bool sync) {
  path_ = dir + "/journal-" + std::to_string(thread);
  sync_ = sync;
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  return fd_ >= 0 ? Status::OK() : errno_status(path_, "open");
}

Status JournalWriter::begin(const OpRecord& op) {
  char buf[96];
  // The fourth field holds flags: 1 sync, 2 unlogged.
  const int flags = (op.sync ? 1 : 0) | (op.unlogged ? 2 : 0);
  const int n =
      std::snprintf(buf, sizeof(buf), "B %u %" PRIu64 " %d %d %" PRIu64 " %zu", op.thread,
                    op.counter, static_cast<int>(op.kind), flags, op.start_tick, op.writes.size());
  buffer_.append(buf, static_cast<size_t>(n));
  for (const KeyWrite& w : op.writes) {
    buffer_ += ' ';
    buffer_ += std::to_string(w.key);
    buffer_ += w.is_put ? 'p' : 'd';
  }
  buffer_ += '\n';
  return write_out();
}

Status JournalWriter::finish(const OpRecord& op) {
  char buf[64];
  const int n = std::snprintf(buf, sizeof(buf), "%c %u %" PRIu64 " %" PRIu64 "\n",
                              op.outcome == OpOutcome::kAcked ? 'A' : 'F', op.thread, op.counter,
                              op.end_tick);
  buffer_.append(buf, static_cast<size_t>(n));
  return write_out();
}

Status JournalWriter::flush() { return buffer_.empty() ? Status::OK() : write_out(); }

Status JournalWriter::write_out() {
  if (fd_ < 0) return Status::IOError(path_ + ": journal not open");
  Status s = write_all(fd_, path_, buffer_);
  buffer_.clear();
  if (s.ok() && sync_ && ::fdatasync(fd_) != 0) s = errno_status(path_, "fdatasync");
  return s;
}

Status load_journals(const std::string& dir, std::vector<OpRecord>* ops) {
  ops->clear();
  for (const std::string& path : journal_files(dir)) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::IOError(path + ": cannot open");
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t first = ops->size();
    size_t line_start = 0;
    while (true) {
      const size_t nl = content.find('\n', line_start);
      if (nl == std::string::npos) break;  // an unfinished last line: the writer died in it
      const std::string line = content.substr(line_start, nl - line_start);
      const size_t offset = line_start;
      line_start = nl + 1;
      std::istringstream fields(line);
      char tag = 0;
      fields >> tag;
      auto bad = [&] {
        return Status::Corruption(path + ": journal line at offset " + std::to_string(offset) +
                                  " is malformed: '" + line + "'");
      };
      if (tag == 'B') {
        OpRecord op;
        int kind = 0, flags = 0;
        size_t n = 0;
        if (!(fields >> op.thread >> op.counter >> kind >> flags >> op.start_tick >> n) ||
            kind < 0 || kind > static_cast<int>(OpKind::kFlush) || flags < 0 || flags > 3) {
          return bad();
        }
        op.kind = static_cast<OpKind>(kind);
        op.sync = (flags & 1) != 0;
        op.unlogged = (flags & 2) != 0;
        for (size_t i = 0; i < n; ++i) {
          std::string w;
          if (!(fields >> w) || w.size() < 2 || (w.back() != 'p' && w.back() != 'd')) return bad();
          KeyWrite kw;
          kw.is_put = w.back() == 'p';
          kw.key = static_cast<uint32_t>(std::stoul(w.substr(0, w.size() - 1)));
          op.writes.push_back(kw);
        }
        ops->push_back(std::move(op));
      } else if (tag == 'A' || tag == 'F') {
        uint32_t thread = 0;
        uint64_t counter = 0, end = 0;
        if (!(fields >> thread >> counter >> end)) return bad();
        // The outcome follows its begin line in the same file; search from the back.
        auto it = std::find_if(
            ops->rbegin(), ops->rend() - static_cast<ptrdiff_t>(first),
            [&](const OpRecord& o) { return o.thread == thread && o.counter == counter; });
        if (it == ops->rend() - static_cast<ptrdiff_t>(first)) return bad();
        it->outcome = tag == 'A' ? OpOutcome::kAcked : OpOutcome::kFailed;
        it->end_tick = end;
      } else {
        return bad();
      }
    }
  }
  return Status::OK();
}

Status remove_journals(const std::string& dir) {
  for (const std::string& path : journal_files(dir)) {
    if (::unlink(path.c_str()) != 0) return errno_status(path, "unlink");
  }
  return Status::OK();
}

Status save_baseline(const std::string& dir, const Baseline& baseline) {
  std::string data = "fsdb-crashtest-baseline 1 " + std::to_string(baseline.epoch) + " " +
                     std::to_string(baseline.values.size()) + "\n";
  for (size_t i = 0; i < baseline.values.size(); ++i) {
    if (!baseline.values[i]) continue;
    data += std::to_string(i) + " " + std::to_string(baseline.values[i]->size()) + " ";
    data += *baseline.values[i];
    data += '\n';
  }
  data += "end\n";
  const std::string path = dir + "/baseline";
  const std::string temp = path + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return errno_status(temp, "open");
  Status s = write_all(fd, temp, data);
  if (s.ok() && ::fdatasync(fd) != 0) s = errno_status(temp, "fdatasync");
  ::close(fd);
  if (s.ok() && ::rename(temp.c_str(), path.c_str()) != 0) s = errno_status(path, "rename");
  if (s.ok()) s = sync_directory(dir);
  return s;
}

Status load_baseline(const std::string& dir, Baseline* baseline) {
  const std::string path = dir + "/baseline";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path);
  std::string magic;
  int version = 0;
  size_t keys = 0;
  if (!(in >> magic >> version >> baseline->epoch >> keys) || magic != "fsdb-crashtest-baseline" ||
      version != 1) {
    return Status::Corruption(path + ": bad header");
  }
  baseline->values.assign(keys, std::nullopt);
  while (true) {
    std::string first;
    if (!(in >> first)) return Status::Corruption(path + ": no end marker");
    if (first == "end") break;
    size_t index = 0, size = 0;
    try {
      index = std::stoul(first);
    } catch (...) {
      return Status::Corruption(path + ": bad key index '" + first + "'");
    }
    if (!(in >> size) || index >= keys || in.get() != ' ') {
      return Status::Corruption(path + ": bad entry for key " + first);
    }
    std::string value(size, '\0');
    if (!in.read(value.data(), static_cast<std::streamsize>(size)) || in.get() != '\n') {
      return Status::Corruption(path + ": truncated value of key " + first);
    }
    baseline->values[index] = std::move(value);
  }
  return Status::OK();
}

}  // namespace fsdb::crashtest
