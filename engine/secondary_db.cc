#include "engine/secondary_db.h"

#include <algorithm>
#include <chrono>
#include <thread>
#include <utility>
#include <vector>

#include "engine/error_iterator.h"
#include "engine/filename.h"
#include "fsdb/env.h"

namespace fsdb {

// A snapshot of one state: reads with it go to that state, which it keeps
// alive, so that a catch-up does not take away what it sees. One taken after
// the close has no state (reads with it are refused).
class SecondaryDB::PinnedSnapshot final : public Snapshot {
 public:
  PinnedSnapshot(std::shared_ptr<DBImpl> state, const Snapshot* inner, uint64_t sequence)
      : state_(std::move(state)), inner_(inner), sequence_(sequence) {}
  ~PinnedSnapshot() override {
    if (state_ != nullptr) state_->release_snapshot(inner_);
  }
  uint64_t sequence() const override { return sequence_; }
  const std::shared_ptr<DBImpl>& state() const { return state_; }
  const Snapshot* inner() const { return inner_; }

 private:
  const std::shared_ptr<DBImpl> state_;
  const Snapshot* const inner_;
  const uint64_t sequence_;
};

// An iterator over one state, which it keeps alive.
class SecondaryDB::PinnedIterator final : public Iterator {
 public:
  PinnedIterator(std::shared_ptr<DBImpl> state, std::unique_ptr<Iterator> inner)
      : state_(std::move(state)), inner_(std::move(inner)) {}
  bool valid() const override { return inner_->valid(); }
  void seek_to_first() override { inner_->seek_to_first(); }
  void seek_to_last() override { inner_->seek_to_last(); }
  void seek(std::string_view target) override { inner_->seek(target); }
  void seek_for_prev(std::string_view target) override { inner_->seek_for_prev(target); }
  void next() override { inner_->next(); }
  void prev() override { inner_->prev(); }
  std::string_view key() const override { return inner_->key(); }
  std::string_view value() const override { return inner_->value(); }
  Status status() const override { return inner_->status(); }

 private:
  // Declared first: the iterator goes before the state it reads.
  const std::shared_ptr<DBImpl> state_;
  const std::unique_ptr<Iterator> inner_;
};

namespace {

// The names in `dir`, sorted, each log and MANIFEST with its size (the files
// a writer appends to, or trims when it is done with them; tables never
// change), CURRENT with the MANIFEST it names (the writer points it at a
// new MANIFEST before it removes the old one) and IDENTITY with its
// contents; empty when it cannot be listed.
std::vector<std::string> files_and_sizes(FileSystem& fs, const std::string& dir) {
  std::vector<std::string> names;
  if (!fs.get_children(dir, &names).ok()) names.clear();
  std::sort(names.begin(), names.end());
  for (std::string& name : names) {
    if (name == "IDENTITY") {
      // A DB destroyed and made again meanwhile has another.
      std::string identity;
      if (read_file_to_string(fs, dir + "/" + name, &identity).ok()) name += " " + identity;
      continue;
    }
    FileType type;
    uint64_t number = 0;
    if (!parse_file_name(name, &type, &number)) continue;
    if (type == FileType::kCurrent) {
      std::string current;
      if (read_file_to_string(fs, dir + "/" + name, &current).ok()) name += " " + current;
      continue;
    }
    if (type != FileType::kLog && type != FileType::kManifest) continue;
    uint64_t bytes = 0;
    if (fs.get_file_size(dir + "/" + name, &bytes).ok()) name += " " + std::to_string(bytes);
  }
  return names;
}

}  // namespace

SecondaryDB::SecondaryDB(Options options, std::string path)
    : options_(std::move(options)), path_(std::move(path)) {}

Status SecondaryDB::open(const Options& options, const std::string& path, std::unique_ptr<DB>* db) {
  db->reset();
  std::unique_ptr<SecondaryDB> secondary(new SecondaryDB(options, path));
  std::shared_ptr<DBImpl> state;
  Status s = secondary->recover_state(nullptr, &state);
  if (!s.ok()) return s;
  secondary->state_ = std::move(state);
  *db = std::move(secondary);
  return Status::OK();
}

Status SecondaryDB::recover_state(const DBImpl* previous, std::shared_ptr<DBImpl>* state) const {
  std::shared_ptr<FileSystem> fs =
      options_.file_system ? options_.file_system : posix_file_system();
  // A failed attempt's open tables are taken over by the next, so that on a
  // large DB a retry opens only what the writer has made since.
  std::shared_ptr<DBImpl> failed;
  for (int attempt = 1;; ++attempt) {
    const std::vector<std::string> before = files_and_sizes(*fs, path_);
    auto impl = std::make_shared<DBImpl>(options_, path_, DBImpl::OpenMode::kSecondary);
    impl->take_over_from(previous, failed.get());
    Status s = impl->open();
    impl->take_over_from(nullptr, nullptr);  // they may go before this state does
    if (s.ok()) {
      *state = std::move(impl);
      return s;
    }
    // Unchanged files: the failure is the DB's own state, not a race with its writer.
    if (files_and_sizes(*fs, path_) == before) return s;
    if (attempt == kMaxAttempts) {
      return Status::Busy(path_ + ": the writer changed the DB each time it was read (" +
                          std::to_string(kMaxAttempts) + " attempts; the last: " + s.to_string() +
                          ")");
    }
    failed = std::move(impl);
    std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
  }
}

std::shared_ptr<DBImpl> SecondaryDB::current() const {
  std::lock_guard<std::mutex> guard(mu_);
  return state_;
}

std::shared_ptr<DBImpl> SecondaryDB::state_for(const ReadOptions& options,
                                               ReadOptions* inner) const {
  *inner = options;
  std::lock_guard<std::mutex> guard(mu_);
  if (closed_) return nullptr;
  if (const auto* pinned = dynamic_cast<const PinnedSnapshot*>(options.snapshot)) {
    inner->snapshot = pinned->inner();
    return pinned->state();
  }
  return state_;
}

Status SecondaryDB::closed_error() const {
  return Status::InvalidArgument(path_ + ": the DB is closed");
}

Status SecondaryDB::try_catch_up_with_primary() {
  std::lock_guard<std::mutex> one_at_a_time(catch_up_mu_);
  std::shared_ptr<DBImpl> previous;
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (closed_) return closed_error();
    previous = state_;
  }
  std::shared_ptr<DBImpl> next;
  Status s = recover_state(previous.get(), &next);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> guard(mu_);
  if (closed_) return closed_error();  // not reached: close() waits for a catch-up
  state_ = std::move(next);
  ++catch_ups_;
  return Status::OK();
}

Status SecondaryDB::refuse(const char* operation) const {
  return Status::NotSupported(std::string(operation) + ": " + path_ + " was opened as a secondary");
}

Status SecondaryDB::put(const WriteOptions&, std::string_view, std::string_view) {
  return refuse("put");
}
Status SecondaryDB::remove(const WriteOptions&, std::string_view) { return refuse("remove"); }
Status SecondaryDB::write(const WriteOptions&, WriteBatch*) { return refuse("write"); }
Status SecondaryDB::flush() { return refuse("flush"); }
Status SecondaryDB::compact_range(std::optional<std::string_view>,
                                  std::optional<std::string_view>) {
  return refuse("compact_range");
}
Status SecondaryDB::sync_wal() { return refuse("sync_wal"); }
Status SecondaryDB::checkpoint(const std::string&) { return refuse("checkpoint"); }
Status SecondaryDB::resume() { return refuse("resume"); }

Status SecondaryDB::get(const ReadOptions& options, std::string_view key, std::string* value) {
  ReadOptions inner;
  const std::shared_ptr<DBImpl> state = state_for(options, &inner);
  if (state == nullptr) return closed_error();
  return state->get(inner, key, value);
}

std::vector<Status> SecondaryDB::multi_get(const ReadOptions& options,
                                           std::span<const std::string_view> keys,
                                           std::vector<std::string>* values) {
  ReadOptions inner;
  const std::shared_ptr<DBImpl> state = state_for(options, &inner);
  if (state == nullptr) {
    values->assign(keys.size(), std::string());
    return std::vector<Status>(keys.size(), closed_error());
  }
  return state->multi_get(inner, keys, values);
}

std::unique_ptr<Iterator> SecondaryDB::new_iterator(const ReadOptions& options) {
  ReadOptions inner;
  std::shared_ptr<DBImpl> state = state_for(options, &inner);
  if (state == nullptr) return std::make_unique<ErrorIterator>(closed_error());
  std::unique_ptr<Iterator> it = state->new_iterator(inner);
  return std::make_unique<PinnedIterator>(std::move(state), std::move(it));
}

const Snapshot* SecondaryDB::get_snapshot() {
  std::shared_ptr<DBImpl> state = current();
  if (state == nullptr) {
    std::lock_guard<std::mutex> guard(mu_);
    return new PinnedSnapshot(nullptr, nullptr, closed_sequence_);
  }
  const Snapshot* inner = state->get_snapshot();
  return new PinnedSnapshot(std::move(state), inner, inner->sequence());
}

void SecondaryDB::release_snapshot(const Snapshot* snapshot) {
  if (snapshot == nullptr) return;
  // Ours are all PinnedSnapshot (the destructor releases the inner one).
  delete snapshot;
}

std::optional<std::string> SecondaryDB::property(std::string_view name) {
  if (name == "fsdb.num-catch-ups") {
    std::lock_guard<std::mutex> guard(mu_);
    return std::to_string(catch_ups_);
  }
  const std::shared_ptr<DBImpl> state = current();
  if (state == nullptr) return std::nullopt;
  return state->property(name);
}

bool SecondaryDB::map_property(std::string_view name, std::map<std::string, std::string>* values) {
  const std::shared_ptr<DBImpl> state = current();
  if (state == nullptr) {
    values->clear();
    return false;
  }
  return state->map_property(name, values);
}

Status SecondaryDB::close() {
  // Only close() and a catch-up (which this lock keeps out) replace state_.
  std::lock_guard<std::mutex> one_at_a_time(catch_up_mu_);
  std::shared_ptr<DBImpl> state = current();
  if (state == nullptr) return Status::OK();  // closed before
  const Snapshot* last = state->get_snapshot();
  const uint64_t last_sequence = last->sequence();
  state->release_snapshot(last);
  {
    std::lock_guard<std::mutex> guard(mu_);
    closed_ = true;
    closed_sequence_ = last_sequence;
    state_.reset();
  }
  // The state goes (its tables closed, the space of the files the writer
  // deleted given back, its memtables freed) once no iterator or snapshot
  // taken before holds it.
  return state->close();
}

Status DB::open_as_secondary(const Options& options, const std::string& path,
                             std::unique_ptr<DB>* db) {
  return SecondaryDB::open(options, path, db);
}

}  // namespace fsdb
