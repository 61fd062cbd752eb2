// FaultInjectionFileSystem: a FileSystem that remembers what a power cut would
// keep, and fails chosen calls.
//
// Model. A file's bytes are durable up to its last sync(). A directory entry (a
// creation, a rename, a removal) is durable once its directory is synced;
// until then it sits in the directory's list of pending operations, and
// drop_unsynced_data() undoes the pending operations newest first. To be able
// to undo a rename over an existing file, or a removal, the bytes that would be
// lost are read and kept in memory when the operation happens — only for
// entries whose directory has not been synced since, so the cost is bounded by
// what a test leaves unsynced.
//
// Every append is flushed to the base file at once: a user-space buffer in the
// base would otherwise be written out by a late close() after a simulated power
// cut, resurrecting data that the cut destroyed.
#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "fsdb/env.h"
#include "util/path.h"

namespace fsdb {
namespace {

std::string without_trailing_slashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

bool is_within(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

}  // namespace

struct FaultInjectionFileSystem::State {
  struct FileState {
    uint64_t size = 0;         // bytes appended through this file system
    uint64_t synced_size = 0;  // bytes made durable by sync()
    // Ranges a failed sync left unwritten: the kernel drops the dirty pages
    // of a failed writeback (they stay readable, and a later sync succeeds
    // without them), so a power cut finds zeros there whatever was synced.
    std::vector<std::pair<uint64_t, uint64_t>> lost_ranges;
  };
  enum class OpKind { kCreate, kRename, kRemove, kCreateDir };
  struct PendingOp {
    OpKind kind;
    std::string path;                          // created / removed / rename target / new directory
    std::string from;                          // rename source
    std::optional<std::string> saved_content;  // what the operation destroyed
  };

  std::mutex mu;
  bool active = true;
  int64_t fail_countdown = -1;  // -1: no fail_after in force
  bool failing = false;         // fail_after has triggered
  Status fail_error;
  double fail_probability = 0;
  Status random_error;
  bool random_includes_reads = false;
  std::mt19937_64 fault_rng{0};
  bool torn_writes = false;
  bool lost_pages = false;
  std::mt19937_64 torn_rng{0};
  uint64_t mutating = 0;
  uint64_t injected = 0;
  uint64_t generation = 0;         // bumped by drop_unsynced_data; older open files are dead
  bool last_fault_random = false;  // the last injected fault was a random failure
  // set_appends_claim_memory_copies(); read without mu by the files.
  std::atomic<bool> claim_memory_copies{false};
  bool map_writable_files = false;  // set_map_writable_files()
  bool links = true;                // set_links()

  std::map<std::string, FileState> files;                     // files written through us
  std::map<std::string, std::vector<PendingOp>> pending_ops;  // by directory

  // REQUIRES: mu held. Decides whether this mutating call fails.
  Status check_mutation() {
    ++mutating;
    if (!active) {
      ++injected;
      return Status::IOError("fault injection: file system inactive");
    }
    if (fail_countdown == 0) {
      failing = true;
      fail_countdown = -1;
    } else if (fail_countdown > 0) {
      --fail_countdown;
    }
    if (failing) {
      ++injected;
      return fail_error;
    }
    return check_random();
  }
  // REQUIRES: mu held.
  Status check_read() { return random_includes_reads ? check_random() : Status::OK(); }
  // REQUIRES: mu held.
  Status check_random() {
    if (fail_probability > 0 &&
        std::uniform_real_distribution<double>(0, 1)(fault_rng) < fail_probability) {
      ++injected;
      last_fault_random = true;
      return random_error;
    }
    return Status::OK();
  }
};

namespace {

using State = FaultInjectionFileSystem::State;

Status dead_file_error(const std::string& path) {
  return Status::IOError(path + ": fault injection: file belongs to a process that lost power");
}

class FaultWritableFile final : public WritableFile {
 public:
  FaultWritableFile(std::shared_ptr<State> state, std::unique_ptr<WritableFile> base,
                    uint64_t generation)
      : state_(std::move(state)), base_(std::move(base)), generation_(generation) {}

  Status append(std::string_view data) override { return append_via(data, /*sync_follows=*/false); }
  // The base file's own way for bytes a sync follows (a mapped file writes
  // them with pwrite), under the same faults.
  Status append_before_sync(std::string_view data) override {
    return append_via(data, /*sync_follows=*/true);
  }

  Status flush() override {
    std::lock_guard<std::mutex> guard(state_->mu);
    if (generation_ != state_->generation) return dead_file_error(path());
    return Status::OK();  // every append already reached the base file
  }

  Status sync() override {
    std::lock_guard<std::mutex> guard(state_->mu);
    if (generation_ != state_->generation) return dead_file_error(path());
    state_->last_fault_random = false;
    Status s = state_->check_mutation();
    if (!s.ok()) {
      if (state_->last_fault_random) {
        // An I/O error of the writeback (not a process that lost power).
        State::FileState& f = state_->files[path()];
        if (f.size > f.synced_size) f.lost_ranges.emplace_back(f.synced_size, f.size);
      }
      return s.with_context(path() + ": sync");
    }
    s = base_->sync();
    if (s.ok()) {
      State::FileState& f = state_->files[path()];
      f.synced_size = f.size;
    }
    return s;
  }

  Status close() override {
    std::lock_guard<std::mutex> guard(state_->mu);
    return base_->close();
  }

  uint64_t size() const override { return base_->size(); }
  const std::string& path() const override { return base_->path(); }
  bool appends_are_memory_copies() const override {
    // Relaxed: a flag a test flips between workloads; no data depends on it.
    return state_->claim_memory_copies.load(std::memory_order_relaxed) ||
           base_->appends_are_memory_copies();
  }

 private:
  Status append_via(std::string_view data, bool sync_follows) {
    std::lock_guard<std::mutex> guard(state_->mu);
    if (generation_ != state_->generation) return dead_file_error(path());
    state_->last_fault_random = false;
    Status s = state_->check_mutation();
    if (!s.ok()) {
      // Half of the random failures (a full disk, an I/O error) write part of
      // the bytes first, as write(2) does when the disk fills mid-way.
      if (state_->last_fault_random && state_->fault_rng() % 2 == 0) {
        const size_t written = state_->fault_rng() % (data.size() + 1);
        if (base_->append(data.substr(0, written)).ok() && base_->flush().ok()) {
          state_->files[path()].size = base_->size();
        }
      }
      return s.with_context(path() + ": append");
    }
    s = sync_follows ? base_->append_before_sync(data) : base_->append(data);
    if (s.ok()) s = base_->flush();
    if (s.ok()) state_->files[path()].size = base_->size();
    return s;
  }

  std::shared_ptr<State> state_;
  std::unique_ptr<WritableFile> base_;
  const uint64_t generation_;
};

class FaultSequentialFile final : public SequentialFile {
 public:
  FaultSequentialFile(std::shared_ptr<State> state, std::unique_ptr<SequentialFile> base)
      : state_(std::move(state)), base_(std::move(base)) {}
  Status read(size_t n, std::string_view* result, char* scratch) override {
    {
      std::lock_guard<std::mutex> guard(state_->mu);
      Status s = state_->check_read();
      if (!s.ok()) return s.with_context(path() + ": read");
    }
    return base_->read(n, result, scratch);
  }
  Status skip(uint64_t n) override { return base_->skip(n); }
  const std::string& path() const override { return base_->path(); }

 private:
  std::shared_ptr<State> state_;
  std::unique_ptr<SequentialFile> base_;
};

class FaultRandomAccessFile final : public RandomAccessFile {
 public:
  FaultRandomAccessFile(std::shared_ptr<State> state, std::unique_ptr<RandomAccessFile> base)
      : state_(std::move(state)), base_(std::move(base)) {}
  Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    {
      std::lock_guard<std::mutex> guard(state_->mu);
      Status s = state_->check_read();
      if (!s.ok()) return s.with_context(path() + ": read at offset " + std::to_string(offset));
    }
    return base_->read(offset, n, result, scratch);
  }
  Status size(uint64_t* bytes) const override { return base_->size(bytes); }
  const std::string& path() const override { return base_->path(); }

 private:
  std::shared_ptr<State> state_;
  std::unique_ptr<RandomAccessFile> base_;
};

}  // namespace

FaultInjectionFileSystem::FaultInjectionFileSystem(std::shared_ptr<FileSystem> base)
    : base_(std::move(base)), state_(std::make_shared<State>()) {}

FaultInjectionFileSystem::~FaultInjectionFileSystem() = default;

void FaultInjectionFileSystem::drop_unsynced_data() {
  std::lock_guard<std::mutex> guard(state_->mu);
  State& st = *state_;
  ++st.generation;

  // 1. Every file back to its synced length (or a torn prefix of its tail,
  // or its tail with pages lost).
  for (auto& [path, file] : st.files) {
    const std::vector<std::pair<uint64_t, uint64_t>> lost = std::move(file.lost_ranges);
    file.lost_ranges.clear();
    if ((file.size == file.synced_size && lost.empty()) || !base_->file_exists(path)) continue;
    std::string content;
    if (!read_file_to_string(*base_, path, &content).ok()) {
      file.size = file.synced_size;
      continue;
    }
    uint64_t keep = file.synced_size;
    if (st.torn_writes) {
      keep += st.torn_rng() % (file.size - file.synced_size + 1);
    } else if (st.lost_pages) {
      keep = file.size;
    }
    keep = std::min<uint64_t>(keep, content.size());
    if (st.lost_pages) {
      // Each page of the unsynced bytes reached the disk or not, in no
      // particular order; one that did not reads as zeros (never-written
      // blocks), and one that did may hold an older version of itself,
      // written back before the later appends to it: a prefix of its bytes.
      // The file ends with the last page that did, or, half of the time,
      // its new size reached the disk too: zeros up to it, and now and then
      // past it (a mapped log raises its size up to ~1 MiB ahead of its data).
      constexpr uint64_t kPageBytes = 4096;
      uint64_t end = file.synced_size;
      for (uint64_t page = file.synced_size / kPageBytes * kPageBytes; page < keep;
           page += kPageBytes) {
        const uint64_t from = std::max(page, file.synced_size);
        const uint64_t to = std::min(page + kPageBytes, keep);
        const uint64_t fate = st.torn_rng() % 8;
        if (fate < 4) {
          end = to;  // as written
        } else if (fate == 4) {
          const uint64_t written_back = from + st.torn_rng() % (to - from + 1);
          std::fill(content.begin() + static_cast<ptrdiff_t>(written_back),
                    content.begin() + static_cast<ptrdiff_t>(to), '\0');
          end = to;
        } else {
          std::fill(content.begin() + static_cast<ptrdiff_t>(from),
                    content.begin() + static_cast<ptrdiff_t>(to), '\0');
        }
      }
      if (st.torn_rng() % 2 == 0) {
        end = keep;
        if (st.torn_rng() % 4 == 0) end += st.torn_rng() % ((1 << 20) + (64 << 10));
      }
      keep = end;
    }
    content.resize(keep, '\0');
    for (const auto& [from, to] : lost) {
      if (from >= keep) continue;
      std::fill(content.begin() + static_cast<ptrdiff_t>(from),
                content.begin() + static_cast<ptrdiff_t>(std::min(to, keep)), '\0');
    }
    (void)write_string_to_file(*base_, content, path, true);
    file.size = file.synced_size = keep;
  }

  // 2. Undo directory operations that no directory sync made durable, newest first.
  std::vector<State::PendingOp> ops;
  for (auto& [dir, list] : st.pending_ops) ops.insert(ops.end(), list.begin(), list.end());
  st.pending_ops.clear();
  // Each directory's list is in order; across directories the order does not matter
  // except for renames between directories, which fsdb never does.
  for (auto it = ops.rbegin(); it != ops.rend(); ++it) {
    switch (it->kind) {
      case State::OpKind::kCreate:
        (void)base_->remove_file(it->path);
        st.files.erase(it->path);
        break;
      case State::OpKind::kRename: {
        (void)base_->rename_file(it->path, it->from);
        auto node = st.files.extract(it->path);
        if (!node.empty()) {
          node.key() = it->from;
          st.files.insert(std::move(node));
        }
        if (it->saved_content) {
          (void)write_string_to_file(*base_, *it->saved_content, it->path, true);
          st.files[it->path] =
              State::FileState{it->saved_content->size(), it->saved_content->size(), {}};
        }
        break;
      }
      case State::OpKind::kCreateDir: {
        // The directory never made it to disk, nor did anything in it.
        std::vector<std::string> names;
        if (base_->get_children(it->path, &names).ok()) {
          for (const std::string& name : names) (void)base_->remove_file(it->path + "/" + name);
        }
        (void)base_->remove_dir(it->path);
        for (auto f = st.files.begin(); f != st.files.end();) {
          f = is_within(f->first, it->path) ? st.files.erase(f) : std::next(f);
        }
        break;
      }
      case State::OpKind::kRemove:
        if (it->saved_content) {
          (void)write_string_to_file(*base_, *it->saved_content, it->path, true);
          st.files[it->path] =
              State::FileState{it->saved_content->size(), it->saved_content->size(), {}};
        }
        break;
    }
  }
}

void FaultInjectionFileSystem::set_active(bool active) {
  std::lock_guard<std::mutex> guard(state_->mu);
  state_->active = active;
}

bool FaultInjectionFileSystem::is_active() const {
  std::lock_guard<std::mutex> guard(state_->mu);
  return state_->active;
}

void FaultInjectionFileSystem::fail_after(int n_ops, Status error) {
  std::lock_guard<std::mutex> guard(state_->mu);
  state_->fail_countdown = std::max(n_ops, 0);
  state_->failing = false;
  state_->fail_error = std::move(error);
}

void FaultInjectionFileSystem::set_appends_claim_memory_copies(bool claim) {
  // Relaxed: see appends_are_memory_copies().
  state_->claim_memory_copies.store(claim, std::memory_order_relaxed);
}

void FaultInjectionFileSystem::set_map_writable_files(bool map) {
  std::lock_guard<std::mutex> guard(state_->mu);
  state_->map_writable_files = map;
}

void FaultInjectionFileSystem::set_torn_writes(bool torn, uint64_t seed) {
  std::lock_guard<std::mutex> guard(state_->mu);
  state_->torn_writes = torn;
  state_->torn_rng.seed(seed);
}

void FaultInjectionFileSystem::set_lost_pages(bool lost, uint64_t seed) {
  std::lock_guard<std::mutex> guard(state_->mu);
  state_->lost_pages = lost;
  state_->torn_rng.seed(seed);
}

void FaultInjectionFileSystem::set_random_failures(double probability, Status error,
                                                   bool include_reads, uint64_t seed) {
  std::lock_guard<std::mutex> guard(state_->mu);
  state_->fail_probability = probability;
  state_->random_error = std::move(error);
  state_->random_includes_reads = include_reads;
  state_->fault_rng.seed(seed);
}

void FaultInjectionFileSystem::clear_faults() {
  std::lock_guard<std::mutex> guard(state_->mu);
  state_->active = true;
  state_->fail_countdown = -1;
  state_->failing = false;
  state_->fail_probability = 0;
}

uint64_t FaultInjectionFileSystem::mutating_calls() const {
  std::lock_guard<std::mutex> guard(state_->mu);
  return state_->mutating;
}

uint64_t FaultInjectionFileSystem::injected_faults() const {
  std::lock_guard<std::mutex> guard(state_->mu);
  return state_->injected;
}

Status FaultInjectionFileSystem::new_sequential_file(const std::string& path,
                                                     std::unique_ptr<SequentialFile>* file) {
  {
    std::lock_guard<std::mutex> guard(state_->mu);
    Status s = state_->check_read();
    if (!s.ok()) return s.with_context(path + ": open");
  }
  std::unique_ptr<SequentialFile> base;
  Status s = base_->new_sequential_file(path, &base);
  if (s.ok()) *file = std::make_unique<FaultSequentialFile>(state_, std::move(base));
  return s;
}

Status FaultInjectionFileSystem::new_random_access_file(const std::string& path,
                                                        std::unique_ptr<RandomAccessFile>* file) {
  {
    std::lock_guard<std::mutex> guard(state_->mu);
    Status s = state_->check_read();
    if (!s.ok()) return s.with_context(path + ": open");
  }
  std::unique_ptr<RandomAccessFile> base;
  Status s = base_->new_random_access_file(path, &base);
  if (s.ok()) *file = std::make_unique<FaultRandomAccessFile>(state_, std::move(base));
  return s;
}

Status FaultInjectionFileSystem::new_writable_file(const std::string& path,
                                                   std::unique_ptr<WritableFile>* file) {
  return new_writable_file(path, WritableFileOptions{}, file);
}

Status FaultInjectionFileSystem::new_writable_file(const std::string& path,
                                                   const WritableFileOptions& options,
                                                   std::unique_ptr<WritableFile>* file) {
  std::lock_guard<std::mutex> guard(state_->mu);
  Status s = state_->check_mutation();
  if (!s.ok()) return s.with_context(path + ": create");
  // Truncating an existing file counts as a data change: after a power cut it
  // holds what was synced since (fsdb never rewrites a file in place).
  const bool existed = base_->file_exists(path);
  std::unique_ptr<WritableFile> base;
  s = options.use_mmap && state_->map_writable_files
          ? base_->new_writable_file(path, options, &base)
          : base_->new_writable_file(path, &base);
  if (!s.ok()) return s;
  state_->files[path] = State::FileState{};
  if (!existed) {
    state_->pending_ops[parent_directory(path)].push_back({State::OpKind::kCreate, path, {}, {}});
  }
  *file = std::make_unique<FaultWritableFile>(state_, std::move(base), state_->generation);
  return Status::OK();
}

Status FaultInjectionFileSystem::new_appendable_file(const std::string& path,
                                                     std::unique_ptr<WritableFile>* file) {
  std::lock_guard<std::mutex> guard(state_->mu);
  Status s = state_->check_mutation();
  if (!s.ok()) return s.with_context(path + ": open for appending");
  const bool existed = base_->file_exists(path);
  std::unique_ptr<WritableFile> base;
  s = base_->new_appendable_file(path, &base);
  if (!s.ok()) return s;
  auto [it, inserted] = state_->files.try_emplace(path);
  if (inserted) {
    // A file that was there before we tracked it counts as durable as it is.
    it->second.size = it->second.synced_size = base->size();
  }
  if (!existed) {
    state_->pending_ops[parent_directory(path)].push_back({State::OpKind::kCreate, path, {}, {}});
  }
  *file = std::make_unique<FaultWritableFile>(state_, std::move(base), state_->generation);
  return Status::OK();
}

bool FaultInjectionFileSystem::file_exists(const std::string& path) {
  return base_->file_exists(path);
}

Status FaultInjectionFileSystem::is_directory(const std::string& path, bool* is_dir) {
  return base_->is_directory(path, is_dir);
}

Status FaultInjectionFileSystem::get_children(const std::string& dir,
                                              std::vector<std::string>* names) {
  return base_->get_children(dir, names);
}

Status FaultInjectionFileSystem::get_file_size(const std::string& path, uint64_t* bytes) {
  return base_->get_file_size(path, bytes);
}

Status FaultInjectionFileSystem::remove_file(const std::string& path) {
  std::lock_guard<std::mutex> guard(state_->mu);
  Status s = state_->check_mutation();
  if (!s.ok()) return s.with_context(path + ": remove");
  // Keep what a power cut would bring back: the file's durable bytes.
  std::optional<std::string> saved;
  std::string content;
  if (read_file_to_string(*base_, path, &content).ok()) {
    auto it = state_->files.find(path);
    if (it != state_->files.end())
      content.resize(std::min<uint64_t>(it->second.synced_size, content.size()));
    saved = std::move(content);
  }
  s = base_->remove_file(path);
  if (!s.ok()) return s;
  state_->files.erase(path);
  state_->pending_ops[parent_directory(path)].push_back(
      {State::OpKind::kRemove, path, {}, std::move(saved)});
  return Status::OK();
}

Status FaultInjectionFileSystem::create_dir(const std::string& path) {
  std::lock_guard<std::mutex> guard(state_->mu);
  Status s = state_->check_mutation();
  if (!s.ok()) return s.with_context(path + ": mkdir");
  const bool existed = base_->file_exists(path);
  s = base_->create_dir(path);
  if (s.ok() && !existed) {
    state_->pending_ops[parent_directory(path)].push_back(
        {State::OpKind::kCreateDir, without_trailing_slashes(path), {}, {}});
  }
  return s;
}

Status FaultInjectionFileSystem::remove_dir(const std::string& path) {
  std::lock_guard<std::mutex> guard(state_->mu);
  Status s = state_->check_mutation();
  if (!s.ok()) return s.with_context(path + ": rmdir");
  return base_->remove_dir(path);
}

void FaultInjectionFileSystem::set_links(bool supported) {
  std::lock_guard<std::mutex> guard(state_->mu);
  state_->links = supported;
}

Status FaultInjectionFileSystem::link_file(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> guard(state_->mu);
  if (!state_->links) return FileSystem::link_file(from, to);
  Status s = state_->check_mutation();
  if (!s.ok()) return s.with_context(from + ": link to " + to);
  s = base_->link_file(from, to);
  if (!s.ok()) return s;
  // The same bytes under a second name: durable as far as the first's are.
  if (auto it = state_->files.find(from); it != state_->files.end()) {
    state_->files[to] = it->second;
  }
  state_->pending_ops[parent_directory(to)].push_back({State::OpKind::kCreate, to, {}, {}});
  return Status::OK();
}

Status FaultInjectionFileSystem::rename_file(const std::string& from, const std::string& to) {
  std::lock_guard<std::mutex> guard(state_->mu);
  Status s = state_->check_mutation();
  if (!s.ok()) return s.with_context(from + ": rename to " + to);
  // Keep what a power cut would bring back: the old target's durable bytes.
  std::optional<std::string> overwritten;
  std::string content;
  if (base_->file_exists(to) && read_file_to_string(*base_, to, &content).ok()) {
    auto it = state_->files.find(to);
    if (it != state_->files.end())
      content.resize(std::min<uint64_t>(it->second.synced_size, content.size()));
    overwritten = std::move(content);
  }
  s = base_->rename_file(from, to);
  if (!s.ok()) return s;
  auto node = state_->files.extract(from);
  state_->files.erase(to);
  if (!node.empty()) {
    node.key() = to;
    state_->files.insert(std::move(node));
  }
  state_->pending_ops[parent_directory(to)].push_back(
      {State::OpKind::kRename, to, from, std::move(overwritten)});
  return Status::OK();
}

Status FaultInjectionFileSystem::sync_dir(const std::string& path) {
  std::lock_guard<std::mutex> guard(state_->mu);
  Status s = state_->check_mutation();
  if (!s.ok()) return s.with_context(path + ": sync directory");
  s = base_->sync_dir(path);
  if (s.ok()) state_->pending_ops.erase(without_trailing_slashes(path));
  return s;
}

Status FaultInjectionFileSystem::lock_file(const std::string& path,
                                           std::unique_ptr<FileLock>* lock) {
  return base_->lock_file(path, lock);
}

Status FaultInjectionFileSystem::lock_file_shared(const std::string& path,
                                                  std::unique_ptr<FileLock>* lock) {
  return base_->lock_file_shared(path, lock);
}

}  // namespace fsdb
