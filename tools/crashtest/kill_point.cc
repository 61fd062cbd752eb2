#include "tools/crashtest/kill_point.h"

#include <signal.h>

#include <sstream>
#include <vector>

namespace fsdb::crashtest {
namespace {

[[noreturn]] void die() {
  ::raise(SIGKILL);
  std::abort();  // not reached: SIGKILL cannot be caught
}

// Counts matching calls and dies at the n-th. The counter is only ever
// incremented and compared, so relaxed ordering would do; seq_cst keeps it plain.
class Trigger {
 public:
  explicit Trigger(KillPoint point) : point_(std::move(point)) {}
  // Call around a matching operation: before(), the call, after().
  bool matches(const char* where, const std::string& path) const {
    return point_.where == where && path.find(point_.pattern) != std::string::npos;
  }
  // Returns whether this call is the chosen one.
  bool hit() { return count_.fetch_add(1) + 1 == point_.nth; }
  bool after() const { return point_.after; }

 private:
  const KillPoint point_;
  std::atomic<uint64_t> count_{0};
};

// Runs `op` at a possible kill point.
template <typename Op>
Status at_point(Trigger& t, const char* where, const std::string& path, Op op) {
  if (!t.matches(where, path)) return op();
  const bool chosen = t.hit();
  if (chosen && !t.after()) die();
  Status s = op();
  if (chosen) die();
  return s;
}

class KillWritableFile final : public WritableFile {
 public:
  KillWritableFile(std::unique_ptr<WritableFile> base, std::shared_ptr<Trigger> trigger)
      : base_(std::move(base)), trigger_(std::move(trigger)) {}
  Status append(std::string_view data) override {
    return at_point(*trigger_, "append", path(), [&] { return base_->append(data); });
  }
  // Forwarded as such: the file writes these bytes its own way (a mapped log
  // through pwrite), and a kill point on "append" lands there as well.
  Status append_before_sync(std::string_view data) override {
    return at_point(*trigger_, "append", path(), [&] { return base_->append_before_sync(data); });
  }
  Status flush() override { return base_->flush(); }
  Status sync() override {
    return at_point(*trigger_, "sync", path(), [&] { return base_->sync(); });
  }
  Status close() override { return base_->close(); }
  uint64_t size() const override { return base_->size(); }
  const std::string& path() const override { return base_->path(); }
  // A mapped log stays one to the engine: its unsynced writers append to it
  // themselves, and a kill point on "append" lands inside their appends.
  bool appends_are_memory_copies() const override { return base_->appends_are_memory_copies(); }

 private:
  std::unique_ptr<WritableFile> base_;
  std::shared_ptr<Trigger> trigger_;
};

class KillFileSystem final : public FileSystemWrapper {
 public:
  KillFileSystem(std::shared_ptr<FileSystem> base, const KillPoint& point)
      : FileSystemWrapper(std::move(base)), trigger_(std::make_shared<Trigger>(point)) {}

  Status new_writable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    return wrap(path, file, [&](std::unique_ptr<WritableFile>* f) {
      return base().new_writable_file(path, f);
    });
  }
  // With options: the WAL keeps its mapping, so crashes hit the mapped log.
  Status new_writable_file(const std::string& path, const WritableFileOptions& options,
                           std::unique_ptr<WritableFile>* file) override {
    return wrap(path, file, [&](std::unique_ptr<WritableFile>* f) {
      return base().new_writable_file(path, options, f);
    });
  }
  Status new_random_access_file(const std::string& path, const RandomAccessFileOptions& options,
                                std::unique_ptr<RandomAccessFile>* file) override {
    return base().new_random_access_file(path, options, file);
  }
  Status new_appendable_file(const std::string& path,
                             std::unique_ptr<WritableFile>* file) override {
    return wrap(path, file, [&](std::unique_ptr<WritableFile>* f) {
      return base().new_appendable_file(path, f);
    });
  }
  Status remove_file(const std::string& path) override {
    return at_point(*trigger_, "remove", path, [&] { return base().remove_file(path); });
  }
  Status rename_file(const std::string& from, const std::string& to) override {
    return at_point(*trigger_, "rename", to, [&] { return base().rename_file(from, to); });
  }
  Status sync_dir(const std::string& path) override {
    return at_point(*trigger_, "sync_dir", path, [&] { return base().sync_dir(path); });
  }

 private:
  template <typename Open>
  Status wrap(const std::string& path, std::unique_ptr<WritableFile>* file, Open open) {
    std::unique_ptr<WritableFile> base;
    Status s = at_point(*trigger_, "create", path, [&] { return open(&base); });
    if (s.ok()) *file = std::make_unique<KillWritableFile>(std::move(base), trigger_);
    return s;
  }

  std::shared_ptr<Trigger> trigger_;
};

class KillListener final : public EventListener {
 public:
  explicit KillListener(const KillPoint& point) : trigger_(point) {}
  void on_flush_completed(const FlushInfo&) override { event("flush"); }
  void on_compaction_completed(const CompactionInfo&) override { event("compaction"); }
  void on_memtable_sealed(const MemtableSealedInfo&) override { event("sealed"); }

 private:
  void event(const std::string& name) {
    if (trigger_.matches("event", name) && trigger_.hit()) die();
  }
  Trigger trigger_;
};

}  // namespace

Status parse_kill_point(const std::string& text, KillPoint* point) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, ':')) parts.push_back(part);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("kill point '" + text + "': " + why);
  };
  if (parts.size() < 3 || parts.size() > 4) return bad("expected <where>:<pattern>:<n>[:after]");
  static const char* const kWheres[] = {"event",  "append", "sync",    "create",
                                        "rename", "remove", "sync_dir"};
  bool known = false;
  for (const char* w : kWheres) known = known || parts[0] == w;
  if (!known) return bad("unknown place '" + parts[0] + "'");
  if (parts.size() == 4 && parts[3] != "after") return bad("the 4th field can only be 'after'");
  try {
    point->nth = std::stoull(parts[2]);
  } catch (...) {
    return bad("bad count '" + parts[2] + "'");
  }
  if (point->nth == 0) return bad("the count starts at 1");
  point->where = parts[0];
  point->pattern = parts[1];
  point->after = parts.size() == 4;
  return Status::OK();
}

std::shared_ptr<FileSystem> new_kill_file_system(std::shared_ptr<FileSystem> base,
                                                 const KillPoint& point) {
  return std::make_shared<KillFileSystem>(std::move(base), point);
}

std::shared_ptr<EventListener> new_kill_listener(const KillPoint& point) {
  return std::make_shared<KillListener>(point);
}

}  // namespace fsdb::crashtest
