// engine/: DB::open_as_secondary() and try_catch_up_with_primary(). A
// secondary reads a DB beside the writer that holds it: it sees the DB as it
// was when opened (or last caught up), keeps reading tables the writer has
// deleted since, writes nothing, and reads again when the writer replaces a
// file under its open.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "fsdb/env.h"
#include "fsdb/write_batch.h"
#include "tests/support/db_contents.h"
#include "tests/support/directory_files.h"
#include "tests/support/read_counting_file_system.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

std::string key_of(int i) { return "key" + std::to_string(100000 + i); }
std::string value_of(int i, int round) {
  return std::string(100, 'v') + std::to_string(i) + "/" + std::to_string(round);
}

using Model = test::KeyValues;

using test::directory_files;

bool has_suffix(const std::string& path, std::string_view suffix) {
  return path.size() >= suffix.size() && path.ends_with(suffix);
}

// The files of `dir` this process still holds (by a descriptor or a
// mapping) after they were deleted.
std::set<std::string> deleted_files_held(const std::string& dir) {
  const std::string prefix = std::filesystem::canonical(dir).string() + "/";
  const std::string_view deleted = " (deleted)";
  std::set<std::string> held;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code error;
    const std::string target = std::filesystem::read_symlink(entry.path(), error).string();
    if (!error && target.starts_with(prefix) && target.ends_with(deleted)) held.insert(target);
  }
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const size_t at = line.find(prefix);
    if (at != std::string::npos && line.ends_with(deleted)) held.insert(line.substr(at));
  }
  return held;
}

// Counts the files the engine opens for reading, and runs `before_open` (the
// writer's move) before the first open of a path that `matches`.
class InterferingFileSystem final : public FileSystemWrapper {
 public:
  InterferingFileSystem() : FileSystemWrapper(posix_file_system()) {}

  void interfere(std::function<bool(const std::string&)> matches,
                 std::function<void()> before_open) {
    std::lock_guard<std::mutex> guard(mu_);
    matches_ = std::move(matches);
    before_open_ = std::move(before_open);
  }
  // Reads of the next file opened that `matches` fail at and past `offset`
  // (a disk that went bad there).
  void fail_reads(std::function<bool(const std::string&)> matches, uint64_t offset) {
    std::lock_guard<std::mutex> guard(mu_);
    fail_matches_ = std::move(matches);
    fail_from_ = offset;
  }
  int opens_of(std::string_view suffix_or_name) const {
    std::lock_guard<std::mutex> guard(mu_);
    int n = 0;
    for (const std::string& p : opened_) n += p.find(suffix_or_name) != std::string::npos;
    return n;
  }

  Status new_random_access_file(const std::string& path,
                                std::unique_ptr<RandomAccessFile>* file) override {
    std::function<void()> action;
    {
      std::lock_guard<std::mutex> guard(mu_);
      opened_.push_back(path);
      if (matches_ && matches_(path)) {
        action = std::move(before_open_);
        matches_ = nullptr;
      }
    }
    if (action) action();
    Status s = FileSystemWrapper::new_random_access_file(path, file);
    std::lock_guard<std::mutex> guard(mu_);
    if (s.ok() && fail_matches_ && fail_matches_(path)) {
      *file = std::make_unique<FailingReads>(std::move(*file), fail_from_);
      fail_matches_ = nullptr;
    }
    return s;
  }

 private:
  class FailingReads final : public RandomAccessFile {
   public:
    FailingReads(std::unique_ptr<RandomAccessFile> file, uint64_t fail_from)
        : file_(std::move(file)), fail_from_(fail_from) {}
    Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
      if (offset + n > fail_from_) {
        return Status::IOError(path() + ": offset " + std::to_string(offset) + ": injected");
      }
      return file_->read(offset, n, result, scratch);
    }
    Status size(uint64_t* bytes) const override { return file_->size(bytes); }
    const std::string& path() const override { return file_->path(); }

   private:
    const std::unique_ptr<RandomAccessFile> file_;
    const uint64_t fail_from_;
  };

  mutable std::mutex mu_;
  std::vector<std::string> opened_;
  std::function<bool(const std::string&)> matches_;
  std::function<void()> before_open_;
  std::function<bool(const std::string&)> fail_matches_;
  uint64_t fail_from_ = 0;
};

// Holds the one call that reaches it after arm() (and after `pass` more) until
// release(): a writer's move stopped inside a window a test must reach every
// time, not by chance.
class Gate {
 public:
  void arm(int pass = 0) {
    std::lock_guard<std::mutex> guard(mu_);
    armed_ = true;
    pass_ = pass;
    held_ = false;
    released_ = false;
  }
  void reached() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!armed_) return;
    if (pass_ > 0) {
      --pass_;
      return;
    }
    armed_ = false;
    held_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return released_; });
  }
  bool wait_until_held() {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(30), [this] { return held_; });
  }
  // Also disarms: a test that failed half-way does not leave the writer stuck.
  void release() {
    std::lock_guard<std::mutex> guard(mu_);
    armed_ = false;
    released_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool armed_ = false;
  int pass_ = 0;
  bool held_ = false;
  bool released_ = false;
};

// A writer's file system with two gates: the creation of a table file, and
// an append to a log (whose appends are then write(2)s, never copies into a
// mapping, so that every write goes through a write group).
class GatedFileSystem final : public FileSystemWrapper {
 public:
  GatedFileSystem() : FileSystemWrapper(posix_file_system()) {}
  Gate table_creation;
  Gate log_append;

  Status new_writable_file(const std::string& path, std::unique_ptr<WritableFile>* file) override {
    if (has_suffix(path, ".sst")) table_creation.reached();
    Status s = FileSystemWrapper::new_writable_file(path, file);
    if (s.ok() && has_suffix(path, ".log")) {
      *file = std::make_unique<GatedAppends>(std::move(*file), &log_append);
    }
    return s;
  }

 private:
  class GatedAppends final : public WritableFileWrapper {
   public:
    GatedAppends(std::unique_ptr<WritableFile> file, Gate* gate)
        : WritableFileWrapper(std::move(file)), gate_(gate) {}
    Status append(std::string_view data) override {
      gate_->reached();
      return WritableFileWrapper::append(data);
    }
    bool appends_are_memory_copies() const override { return false; }

   private:
    Gate* const gate_;
  };
};

// The records each recovery (an open or a catch-up) replayed from the logs.
class RecoveryCounter final : public EventListener {
 public:
  void on_recovery(const RecoveryInfo& info) override {
    std::lock_guard<std::mutex> guard(mu_);
    last_records_ = info.records_replayed;
  }
  uint64_t last_records() const {
    std::lock_guard<std::mutex> guard(mu_);
    return last_records_;
  }

 private:
  mutable std::mutex mu_;
  uint64_t last_records_ = 0;
};

class DBSecondaryTest : public ::testing::Test {
 protected:
  DBSecondaryTest() {
    options_.memtable_bytes = 64 << 10;  // several tables
    options_.l0_compaction_trigger = 2;  // and more than one level
  }

  // Writes keys [begin, end) for `round` into the writer and the model.
  void write_keys(DB& db, Model* model, int begin, int end, int round) {
    for (int i = begin; i < end; ++i) {
      ASSERT_TRUE(db.put(key_of(i), value_of(i, round)).ok());
      (*model)[key_of(i)] = value_of(i, round);
    }
  }

  // A writer with keys [0, keys) of round 0 in its live log (its memtable
  // large enough that it flushes only when asked), and a secondary opened
  // beside it that tells `counter` of each recovery and reads through `fs`
  // (the default file system if null).
  struct BesideALiveLog {
    std::unique_ptr<DB> writer;
    std::unique_ptr<DB> secondary;
    Options secondary_options;
  };
  void open_beside_a_live_log(int keys, Model* model, std::shared_ptr<EventListener> counter,
                              std::shared_ptr<FileSystem> fs, BesideALiveLog* dbs) {
    options_.memtable_bytes = 8 << 20;
    dbs->secondary_options = options_;
    dbs->secondary_options.listener = std::move(counter);
    dbs->secondary_options.file_system = std::move(fs);
    ASSERT_TRUE(DB::open(options_, dir_.path(), &dbs->writer).ok());
    write_keys(*dbs->writer, model, 0, keys, 0);
    Status s = DB::open_as_secondary(dbs->secondary_options, dir_.path(), &dbs->secondary);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  Options options_;
  test::ScratchDir dir_;
};

TEST_F(DBSecondaryTest, SeesTheDBAsOfItsOpenUntilItCatchesUp) {
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
  Model model;
  write_keys(*writer, &model, 0, 3000, 0);
  ASSERT_TRUE(writer->compact_range(std::nullopt, std::nullopt).ok());
  write_keys(*writer, &model, 0, 100, 1);  // in the writer's log and memtable only

  // The writer holds the DB: a read-only open is refused, a secondary is not.
  std::unique_ptr<DB> read_only;
  EXPECT_TRUE(DB::open_read_only(options_, dir_.path(), &read_only).is_busy());
  std::unique_ptr<DB> secondary;
  Status s = DB::open_as_secondary(options_, dir_.path(), &secondary);
  ASSERT_TRUE(s.ok()) << s.to_string();

  // Before the secondary reads anything, the writer moves on: new versions,
  // deletions, and a compaction that deletes every table the secondary has
  // open.
  const Model as_opened = model;
  write_keys(*writer, &model, 1000, 2000, 2);
  for (int i = 2000; i < 2500; ++i) {
    ASSERT_TRUE(writer->remove(key_of(i)).ok());
    model.erase(key_of(i));
  }
  ASSERT_TRUE(writer->compact_range(std::nullopt, std::nullopt).ok());
  write_keys(*writer, &model, 2900, 3100, 3);
  EXPECT_EQ(test::db_contents(*secondary), as_opened);
  std::string value;
  ASSERT_TRUE(secondary->get(key_of(2100), &value).ok());
  EXPECT_EQ(value, value_of(2100, 0));

  // What was taken before a catch-up keeps the state it began in.
  const Snapshot* before = secondary->get_snapshot();
  std::unique_ptr<Iterator> old_iterator = secondary->new_iterator();
  s = secondary->try_catch_up_with_primary();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(secondary->property("fsdb.num-catch-ups"), "1");
  EXPECT_EQ(test::db_contents(*secondary), model);
  EXPECT_TRUE(secondary->get(key_of(2100), &value).is_not_found());
  ReadOptions at_before;
  at_before.snapshot = before;
  ASSERT_TRUE(secondary->get(at_before, key_of(2100), &value).ok());
  EXPECT_EQ(value, value_of(2100, 0));
  Model seen;
  for (old_iterator->seek_to_first(); old_iterator->valid(); old_iterator->next()) {
    seen.emplace(std::string(old_iterator->key()), std::string(old_iterator->value()));
  }
  EXPECT_TRUE(old_iterator->status().ok());
  EXPECT_EQ(seen, as_opened);
  old_iterator.reset();
  secondary->release_snapshot(before);

  // The writer's close flushes nothing new; a catch-up after it sees the same.
  ASSERT_TRUE(writer->close().ok());
  writer.reset();
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(test::db_contents(*secondary), model);
  EXPECT_EQ(secondary->property("fsdb.num-catch-ups"), "2");
}

TEST_F(DBSecondaryTest, RefusesEveryWriteAndChangesNothing) {
  Model model;
  {
    std::unique_ptr<DB> writer;
    ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
    write_keys(*writer, &model, 0, 2000, 0);
    ASSERT_TRUE(writer->close().ok());
  }
  // A DB left without its LOCK file (a checkpoint has none): none is made.
  std::filesystem::remove(dir_.file("LOCK"));
  const auto files_before = directory_files(dir_.path());

  std::unique_ptr<DB> secondary;
  ASSERT_TRUE(DB::open_as_secondary(options_, dir_.path(), &secondary).ok());
  EXPECT_EQ(test::db_contents(*secondary), model);
  WriteBatch batch;
  batch.put("a", "b");
  const std::vector<std::pair<std::string, Status>> refused = {
      {"put", secondary->put(WriteOptions(), "a", "b")},
      {"remove", secondary->remove(WriteOptions(), "a")},
      {"write", secondary->write(WriteOptions(), &batch)},
      {"flush", secondary->flush()},
      {"compact_range", secondary->compact_range(std::nullopt, std::nullopt)},
      {"sync_wal", secondary->sync_wal()},
      {"checkpoint", secondary->checkpoint(dir_.path() + "-copy")},
      {"resume", secondary->resume()},
  };
  for (const auto& [operation, status] : refused) {
    EXPECT_TRUE(status.is_not_supported()) << operation << ": " << status.to_string();
    EXPECT_NE(status.message().find(operation + ": " + dir_.path() + " was opened as a secondary"),
              std::string::npos)
        << status.to_string();
  }
  EXPECT_EQ(secondary->property("fsdb.write-stall"), "read-only");
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(test::db_contents(*secondary), model);
  ASSERT_TRUE(secondary->close().ok());
  EXPECT_FALSE(secondary->try_catch_up_with_primary().ok());
  secondary.reset();
  EXPECT_EQ(directory_files(dir_.path()), files_before);
  EXPECT_FALSE(std::filesystem::exists(dir_.path() + "-copy"));

  // Only a secondary catches up.
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
  EXPECT_TRUE(writer->try_catch_up_with_primary().is_not_supported());
}

TEST_F(DBSecondaryTest, ADirectoryWithoutADBIsRefusedAndLeftAlone) {
  std::unique_ptr<DB> secondary;
  Status s = DB::open_as_secondary(options_, dir_.path(), &secondary);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_TRUE(std::filesystem::is_empty(dir_.path()));
  s = DB::open_as_secondary(options_, dir_.file("missing"), &secondary);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_FALSE(std::filesystem::exists(dir_.file("missing")));
}

// Answers the first question whether a CURRENT exists, then runs `action`
// (the writer's move) before it lets the caller go on.
class CurrentThenActionFileSystem final : public FileSystemWrapper {
 public:
  explicit CurrentThenActionFileSystem(std::function<void()> action)
      : FileSystemWrapper(posix_file_system()), action_(std::move(action)) {}
  bool file_exists(const std::string& path) override {
    const bool exists = FileSystemWrapper::file_exists(path);
    if (action_ && has_suffix(path, "/CURRENT")) std::exchange(action_, nullptr)();
    return exists;
  }

 private:
  std::function<void()> action_;
};

// The writer creates the DB while a secondary finds none there: the attempt
// that found none got no further than that, and the next one, which the
// change makes, must not take anything over from it.
TEST_F(DBSecondaryTest, ADBCreatedDuringTheOpenIsReadAgain) {
  std::unique_ptr<DB> writer;
  Model model;
  Options secondary_options = options_;
  secondary_options.file_system = std::make_shared<CurrentThenActionFileSystem>([&] {
    ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
    write_keys(*writer, &model, 0, 100, 0);
  });
  std::unique_ptr<DB> secondary;
  Status s = DB::open_as_secondary(secondary_options, dir_.path(), &secondary);
  ASSERT_TRUE(s.ok()) << s.to_string();
  ASSERT_NE(writer, nullptr);
  EXPECT_EQ(test::db_contents(*secondary), model);
}

// A DB destroyed and made again at the same path numbers its MANIFEST, its
// logs and its tables as the first one did: a secondary that followed the
// first takes none of them over for the second. Its identity tells; and
// where it does not (the second given the first's IDENTITY, as a copy put
// back would have it), nor do the files: the last record read is read again,
// and a table's size and keys are compared. (The second's live log is
// shorter than the first's, then longer, and its table of the same number
// holds other values.)
TEST_F(DBSecondaryTest, ADBMadeAgainAtItsPathIsReadAsAnotherDB) {
  options_.l0_compaction_trigger = 64;  // the same files, numbered alike, in both
  options_.l0_slowdown_writes_trigger = 64;
  options_.l0_stop_writes_trigger = 64;
  options_.memtable_bytes = 8 << 20;
  auto make = [&](int round, int logged, std::unique_ptr<DB>* writer, Model* model) {
    std::filesystem::remove_all(dir_.path());
    std::filesystem::create_directory(dir_.path());
    ASSERT_TRUE(DB::open(options_, dir_.path(), writer).ok());
    write_keys(**writer, model, 0, 200, round);
    ASSERT_TRUE((*writer)->flush().ok());
    write_keys(**writer, model, 1000, 1000 + logged, round);
  };
  // The second DB's live log shorter than the first's, then longer: its
  // records are as long as the first's, so where the secondary stopped in
  // the first log, the second has a record boundary too.
  for (const bool same_identity : {false, true}) {
    for (const int logged_again : {50, 400}) {
      SCOPED_TRACE(std::string(same_identity ? "the same identity" : "another identity") +
                   ", the second DB logs " + std::to_string(logged_again) + " writes");
      std::unique_ptr<DB> writer;
      Model first;
      ASSERT_NO_FATAL_FAILURE(make(0, 300, &writer, &first));
      std::unique_ptr<DB> secondary;
      ASSERT_TRUE(DB::open_as_secondary(options_, dir_.path(), &secondary).ok());
      ASSERT_EQ(test::db_contents(*secondary), first);
      const std::map<std::string, std::string> first_files = directory_files(dir_.path());
      ASSERT_TRUE(writer->close().ok());
      writer.reset();

      Model second;
      ASSERT_NO_FATAL_FAILURE(make(1, logged_again, &writer, &second));
      if (same_identity) {
        std::ofstream(dir_.file("IDENTITY"), std::ios::trunc) << first_files.at("IDENTITY");
      }
      EXPECT_EQ(directory_files(dir_.path()).at("IDENTITY") == first_files.at("IDENTITY"),
                same_identity);
      // Numbered as the first was when the secondary read it, other bytes.
      int tables = 0;
      for (const auto& [name, bytes] : directory_files(dir_.path())) {
        if (!name.ends_with(".sst") && !name.ends_with(".log")) continue;
        ASSERT_TRUE(first_files.contains(name)) << name;
        EXPECT_NE(first_files.at(name), bytes) << name;
        tables += name.ends_with(".sst");
      }
      ASSERT_EQ(tables, 1);
      Status s = secondary->try_catch_up_with_primary();
      ASSERT_TRUE(s.ok()) << s.to_string();
      EXPECT_EQ(test::db_contents(*secondary), second);
    }
  }
}

// The writer deletes a file between the secondary's read of the MANIFEST
// and its open of the file: the open is made again, and sees the DB whole.
TEST_F(DBSecondaryTest, AFileTheWriterDeletesDuringTheOpenIsReadAgain) {
  // Only the writer's moves below edit the MANIFEST: a compaction of its own
  // could land during any read and make one more.
  options_.l0_compaction_trigger = 64;
  options_.l0_slowdown_writes_trigger = 64;
  options_.l0_stop_writes_trigger = 64;
  // Only the secondary's opens are counted and interfered with.
  auto fs = std::make_shared<InterferingFileSystem>();
  Options secondary_options = options_;
  secondary_options.file_system = fs;
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
  Model model;
  write_keys(*writer, &model, 0, 3000, 0);
  ASSERT_TRUE(writer->flush().ok());

  // A table: the compaction the writer runs replaces every one.
  fs->interfere([](const std::string& path) { return has_suffix(path, ".sst"); },
                [&] {
                  write_keys(*writer, &model, 0, 500, 1);
                  ASSERT_TRUE(writer->compact_range(std::nullopt, std::nullopt).ok());
                });
  const int manifest_reads = fs->opens_of("MANIFEST-");
  std::unique_ptr<DB> secondary;
  Status s = DB::open_as_secondary(secondary_options, dir_.path(), &secondary);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(fs->opens_of("MANIFEST-") - manifest_reads, 2);  // read again, once
  EXPECT_EQ(test::db_contents(*secondary), model);

  // An edit between the read of the MANIFEST and the listing of the logs
  // (here: while a table it has not opened yet is being opened): the logs
  // it retired may be gone, so the state is read again.
  write_keys(*writer, &model, 600, 700, 2);
  ASSERT_TRUE(writer->flush().ok());
  write_keys(*writer, &model, 700, 800, 2);
  fs->interfere([](const std::string& path) { return has_suffix(path, ".sst"); },
                [&] { ASSERT_TRUE(writer->flush().ok()); });
  const int manifest_reads_before_edit = fs->opens_of("MANIFEST-");
  s = secondary->try_catch_up_with_primary();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(fs->opens_of("MANIFEST-") - manifest_reads_before_edit, 2);
  EXPECT_EQ(test::db_contents(*secondary), model);

  // A log: the writer's flush retires the one the MANIFEST named.
  write_keys(*writer, &model, 500, 600, 2);
  fs->interfere([](const std::string& path) { return has_suffix(path, ".log"); },
                [&] { ASSERT_TRUE(writer->flush().ok()); });
  const int manifest_reads_before_catch_up = fs->opens_of("MANIFEST-");
  s = secondary->try_catch_up_with_primary();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(fs->opens_of("MANIFEST-") - manifest_reads_before_catch_up, 2);
  EXPECT_EQ(test::db_contents(*secondary), model);
}

// The writer points CURRENT at a new MANIFEST before it removes the old one
// (a rewrite of the MANIFEST, or its own open): a secondary that read the
// old one while CURRENT moved reads again, though no file came or went.
TEST_F(DBSecondaryTest, ACurrentThatMovesDuringTheOpenIsReadAgain) {
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
  Model model;
  write_keys(*writer, &model, 0, 1000, 0);
  ASSERT_TRUE(writer->flush().ok());
  ASSERT_TRUE(writer->close().ok());
  writer.reset();
  // A new MANIFEST written and CURRENT not renamed yet, as in the middle of
  // the writer's rewrite of its MANIFEST (here made by repairing a copy of
  // the directory, whose new files are then brought over).
  auto current_of = [](const std::string& dir) {
    std::string current;
    EXPECT_TRUE(read_file_to_string(*posix_file_system(), dir + "/CURRENT", &current).ok());
    while (!current.empty() && current.back() == '\n') current.pop_back();
    return current;
  };
  const std::string current = current_of(dir_.path());
  test::ScratchDir copy;
  std::filesystem::copy(
      dir_.path(), copy.path(),
      std::filesystem::copy_options::recursive | std::filesystem::copy_options::overwrite_existing);
  RepairReport report;
  Status repaired = repair_db(copy.path(), options_, &report);
  ASSERT_TRUE(repaired.ok()) << repaired.to_string();
  const std::string next = current_of(copy.path());
  ASSERT_NE(next, current);
  for (const auto& entry : std::filesystem::directory_iterator(copy.path())) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && !std::filesystem::exists(dir_.path() + "/" + name)) {
      std::filesystem::copy_file(entry.path(), dir_.path() + "/" + name);
    }
  }

  auto fs = std::make_shared<InterferingFileSystem>();
  Options secondary_options = options_;
  secondary_options.file_system = fs;
  // After the MANIFEST was read (while a table it names is opened).
  fs->interfere([](const std::string& path) { return has_suffix(path, ".sst"); },
                [&] { std::ofstream(dir_.path() + "/CURRENT", std::ios::trunc) << next << "\n"; });
  std::unique_ptr<DB> secondary;
  Status s = DB::open_as_secondary(secondary_options, dir_.path(), &secondary);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(fs->opens_of(current), 1);
  EXPECT_EQ(fs->opens_of(next), 1);  // read again, from the MANIFEST CURRENT names now
  EXPECT_EQ(test::db_contents(*secondary), model);
}

// close() lets go of the tables the writer deleted (their space comes back)
// once the iterators and snapshots taken before it are done; reads after it
// are refused.
TEST_F(DBSecondaryTest, CloseLetsGoOfTheTablesTheWriterDeleted) {
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
  Model model;
  write_keys(*writer, &model, 0, 3000, 0);
  ASSERT_TRUE(writer->compact_range(std::nullopt, std::nullopt).ok());
  std::unique_ptr<DB> secondary;
  ASSERT_TRUE(DB::open_as_secondary(options_, dir_.path(), &secondary).ok());
  const Model as_opened = model;
  // The writer replaces every table the secondary has open.
  write_keys(*writer, &model, 0, 3000, 1);
  ASSERT_TRUE(writer->compact_range(std::nullopt, std::nullopt).ok());
  ASSERT_FALSE(deleted_files_held(dir_.path()).empty());
  for (const std::string& file : deleted_files_held(dir_.path())) {
    EXPECT_NE(file.find(".sst"), std::string::npos) << file;
  }

  std::unique_ptr<Iterator> kept = secondary->new_iterator(ReadOptions());
  const Snapshot* snapshot = secondary->get_snapshot();
  ASSERT_TRUE(secondary->close().ok());

  const std::string closed = dir_.path() + ": the DB is closed";
  std::string value;
  Status s = secondary->get(ReadOptions(), key_of(0), &value);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.message().find(closed), std::string::npos) << s.to_string();
  ReadOptions at_snapshot;
  at_snapshot.snapshot = snapshot;
  EXPECT_TRUE(secondary->get(at_snapshot, key_of(0), &value).is_invalid_argument());
  const std::vector<std::string_view> keys = {key_of(0), key_of(1)};
  std::vector<std::string> values;
  const std::vector<Status> statuses = secondary->multi_get(ReadOptions(), keys, &values);
  ASSERT_EQ(statuses.size(), 2u);
  ASSERT_EQ(values.size(), 2u);
  for (const Status& status : statuses) EXPECT_TRUE(status.is_invalid_argument());
  std::unique_ptr<Iterator> after = secondary->new_iterator(ReadOptions());
  after->seek_to_first();
  EXPECT_FALSE(after->valid());
  EXPECT_TRUE(after->status().is_invalid_argument()) << after->status().to_string();
  const Snapshot* late = secondary->get_snapshot();
  EXPECT_EQ(late->sequence(), snapshot->sequence());
  secondary->release_snapshot(late);
  EXPECT_FALSE(secondary->property("fsdb.sequence").has_value());
  EXPECT_EQ(secondary->property("fsdb.num-catch-ups"), "0");

  // The iterator taken before reads on, in the state it began in.
  Model seen;
  for (kept->seek_to_first(); kept->valid(); kept->next()) {
    seen[std::string(kept->key())] = std::string(kept->value());
  }
  ASSERT_TRUE(kept->status().ok()) << kept->status().to_string();
  EXPECT_EQ(seen, as_opened);
  kept.reset();
  EXPECT_FALSE(deleted_files_held(dir_.path()).empty());  // the snapshot still holds the state
  secondary->release_snapshot(snapshot);
  const std::set<std::string> left = deleted_files_held(dir_.path());
  EXPECT_TRUE(left.empty()) << *left.begin();
  EXPECT_TRUE(secondary->close().ok());  // a second close does nothing
}

// Damage on a directory that does not change is the DB's state: returned at
// once, not tried again.
TEST_F(DBSecondaryTest, DamageIsReportedWithoutRetrying) {
  auto fs = std::make_shared<InterferingFileSystem>();
  options_.file_system = fs;
  {
    std::unique_ptr<DB> writer;
    ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
    Model model;
    write_keys(*writer, &model, 0, 2000, 0);
    ASSERT_TRUE(writer->flush().ok());
    ASSERT_TRUE(writer->close().ok());
  }
  std::string table;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    if (entry.path().extension() == ".sst") table = entry.path().string();
  }
  ASSERT_FALSE(table.empty());
  std::filesystem::remove(table);
  const int manifest_reads = fs->opens_of("MANIFEST-");
  std::unique_ptr<DB> secondary;
  Status s = DB::open_as_secondary(options_, dir_.path(), &secondary);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.message().find(table), std::string::npos) << s.to_string();
  EXPECT_EQ(fs->opens_of("MANIFEST-") - manifest_reads, 1);
}

// A writer writes keys in order, flushing and compacting as it goes, while a
// secondary catches up (or is opened anew) again and again. Every state it
// shows is a prefix of the writes that holds every write acknowledged before
// the catch-up began.
TEST_F(DBSecondaryTest, FollowsAWriterUnderLoad) {
  options_.memtable_bytes = 32 << 10;
  constexpr int kKeys = 20000;
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
  ASSERT_TRUE(writer->put(key_of(0), value_of(0, 0)).ok());
  std::atomic<int> acknowledged{1};
  std::thread writing([&] {
    for (int i = 1; i < kKeys; ++i) {
      ASSERT_TRUE(writer->put(key_of(i), value_of(i, 0)).ok());
      acknowledged.store(i + 1);
    }
  });

  // A failed assertion returns early: the writer still ends first.
  struct Joiner {
    std::thread& thread;
    ~Joiner() {
      if (thread.joinable()) thread.join();
    }
  } joiner{writing};
  std::unique_ptr<DB> secondary;
  ASSERT_TRUE(DB::open_as_secondary(options_, dir_.path(), &secondary).ok());
  int states = 0;
  for (bool last = false; !last; ++states) {
    last = acknowledged.load() == kKeys;
    const int at_least = acknowledged.load();
    Status s = states % 4 == 3 ? DB::open_as_secondary(options_, dir_.path(), &secondary)
                               : secondary->try_catch_up_with_primary();
    ASSERT_TRUE(s.ok()) << "state " << states << ": " << s.to_string();
    const int at_most = acknowledged.load() + 1;  // a write may be logged, not yet acknowledged
    const Model seen = test::db_contents(*secondary);
    ASSERT_GE(static_cast<int>(seen.size()), at_least) << "state " << states;
    ASSERT_LE(static_cast<int>(seen.size()), at_most) << "state " << states;
    // Keys sort as they were written: the state is a prefix of the writes.
    int i = 0;
    for (const auto& [key, value] : seen) {
      ASSERT_EQ(key, key_of(i)) << "state " << states;
      ASSERT_EQ(value, value_of(i, 0)) << "state " << states;
      ++i;
    }
  }
  writing.join();
  EXPECT_GE(states, 3);
  EXPECT_NE(writer->property("fsdb.num-flushes"), "0");
  EXPECT_NE(writer->property("fsdb.num-compactions"), "0");
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(static_cast<int>(test::db_contents(*secondary).size()), kKeys);
}

// A catch-up reads the live log on from where the state before it stopped,
// into the same memtable: its cost follows what the writer added since, not
// what its log holds.
TEST_F(DBSecondaryTest, ACatchUpReadsOnlyWhatTheWriterAddedSince) {
  auto counter = std::make_shared<RecoveryCounter>();
  Model model;
  BesideALiveLog dbs;
  ASSERT_NO_FATAL_FAILURE(open_beside_a_live_log(1000, &model, counter, nullptr, &dbs));
  DB* writer = dbs.writer.get();
  DB* secondary = dbs.secondary.get();
  EXPECT_EQ(counter->last_records(), 1000u);
  EXPECT_EQ(test::db_contents(*secondary), model);

  for (int round = 1; round <= 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    write_keys(*writer, &model, 100 * round, 100 * round + 10, round);  // overwrites
    write_keys(*writer, &model, 1000 * round + 1000, 1000 * round + 1005, round);
    ASSERT_TRUE(writer->remove(key_of(round)).ok());
    model.erase(key_of(round));
    ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
    EXPECT_EQ(counter->last_records(), 16u);
    EXPECT_EQ(test::db_contents(*secondary), model);
  }
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(counter->last_records(), 0u);
  EXPECT_EQ(test::db_contents(*secondary), model);

  // A flush retires the log: the next catch-up reads the tables and the new
  // log (empty), and then goes on in that one.
  ASSERT_TRUE(writer->flush().ok());
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(counter->last_records(), 0u);
  EXPECT_EQ(test::db_contents(*secondary), model);
  write_keys(*writer, &model, 0, 20, 9);
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(counter->last_records(), 20u);
  EXPECT_EQ(test::db_contents(*secondary), model);

  // A new secondary reads the whole live log, as the first open did.
  std::unique_ptr<DB> second;
  ASSERT_TRUE(DB::open_as_secondary(dbs.secondary_options, dir_.path(), &second).ok());
  EXPECT_EQ(counter->last_records(), 20u);
  EXPECT_EQ(test::db_contents(*second), model);
}

// The memtable a catch-up adds to is the one the state before it reads:
// what was taken from that state (a snapshot, an iterator) sees none of it.
TEST_F(DBSecondaryTest, ReadsOfAnEarlierStateSeeNothingALaterOneAdded) {
  auto counter = std::make_shared<RecoveryCounter>();
  Model model;
  BesideALiveLog dbs;
  ASSERT_NO_FATAL_FAILURE(open_beside_a_live_log(200, &model, counter, nullptr, &dbs));
  DB* writer = dbs.writer.get();
  DB* secondary = dbs.secondary.get();
  const Model as_opened = model;
  const Snapshot* before = secondary->get_snapshot();
  std::unique_ptr<Iterator> old_iterator = secondary->new_iterator();
  old_iterator->seek_to_first();  // positioned before the catch-up, read after it

  write_keys(*writer, &model, 0, 50, 1);     // new versions
  write_keys(*writer, &model, 200, 260, 1);  // new keys, sorting last
  for (int i = 50; i < 60; ++i) {            // deletions
    ASSERT_TRUE(writer->remove(key_of(i)).ok());
    model.erase(key_of(i));
  }
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(counter->last_records(), 120u);  // read on, into the memtable the old state reads
  EXPECT_EQ(test::db_contents(*secondary), model);

  ReadOptions at_before;
  at_before.snapshot = before;
  std::string value;
  ASSERT_TRUE(secondary->get(at_before, key_of(10), &value).ok());
  EXPECT_EQ(value, value_of(10, 0));
  ASSERT_TRUE(secondary->get(at_before, key_of(55), &value).ok());
  EXPECT_EQ(value, value_of(55, 0));
  EXPECT_TRUE(secondary->get(at_before, key_of(230), &value).is_not_found());
  const std::vector<std::string> keys = {key_of(10), key_of(55), key_of(230)};
  const std::vector<std::string_view> key_views(keys.begin(), keys.end());
  std::vector<std::string> values;
  const std::vector<Status> statuses = secondary->multi_get(at_before, key_views, &values);
  ASSERT_TRUE(statuses[0].ok());
  EXPECT_EQ(values[0], value_of(10, 0));
  ASSERT_TRUE(statuses[1].ok());
  EXPECT_EQ(values[1], value_of(55, 0));
  EXPECT_TRUE(statuses[2].is_not_found());
  Model seen;
  for (; old_iterator->valid(); old_iterator->next()) {
    seen.emplace(std::string(old_iterator->key()), std::string(old_iterator->value()));
  }
  ASSERT_TRUE(old_iterator->status().ok());
  EXPECT_EQ(seen, as_opened);
  std::unique_ptr<Iterator> at_before_iterator = secondary->new_iterator(at_before);
  seen.clear();
  for (at_before_iterator->seek_to_first(); at_before_iterator->valid();
       at_before_iterator->next()) {
    seen.emplace(std::string(at_before_iterator->key()), std::string(at_before_iterator->value()));
  }
  EXPECT_EQ(seen, as_opened);
  at_before_iterator.reset();
  old_iterator.reset();
  secondary->release_snapshot(before);
}

// A catch-up that failed after it had added part of the log to the
// memtable it shares with the current state: the next one must not add
// those records again (they would collide with themselves), nor lose them.
TEST_F(DBSecondaryTest, ACatchUpThatFailedPartWayLeavesTheNextOneWhole) {
  auto fs = std::make_shared<InterferingFileSystem>();
  auto counter = std::make_shared<RecoveryCounter>();
  Model model;
  BesideALiveLog dbs;
  ASSERT_NO_FATAL_FAILURE(open_beside_a_live_log(100, &model, counter, fs, &dbs));
  DB* writer = dbs.writer.get();
  DB* secondary = dbs.secondary.get();
  const Model as_opened = model;

  // Reads of the log fail past 512 KiB, far after where the state stopped:
  // the reads of 8 blocks of 32 KiB before it succeed, and their records
  // are added to the memtable the current state reads.
  write_keys(*writer, &model, 100, 8000, 1);
  std::vector<std::string> logs;
  for (const auto& [name, contents] : directory_files(dir_.path())) {
    if (has_suffix(name, ".log")) logs.push_back(name);
  }
  ASSERT_EQ(logs.size(), 1u);
  const std::string log = logs[0];
  const auto log_bytes = [&] {
    uint64_t bytes = 0;
    EXPECT_TRUE(posix_file_system()->get_file_size(dir_.path() + "/" + log, &bytes).ok());
    return bytes;
  };
  ASSERT_GT(log_bytes(), 1u << 20);
  const auto is_log = [&](const std::string& path) { return has_suffix(path, log); };
  const std::string memtable_bytes = secondary->property("fsdb.memtable-bytes").value();
  fs->fail_reads(is_log, 512 << 10);
  Status s = secondary->try_catch_up_with_primary();
  ASSERT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.message().find("injected"), std::string::npos) << s.to_string();
  EXPECT_EQ(test::db_contents(*secondary), as_opened);  // the state it had
  // ... whose memtable the failed attempt did add to.
  EXPECT_GT(std::stoull(secondary->property("fsdb.memtable-bytes").value()),
            std::stoull(memtable_bytes));

  s = secondary->try_catch_up_with_primary();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(test::db_contents(*secondary), model);
  EXPECT_EQ(counter->last_records(), 8000u);  // the log again, from its start

  // And the catch-up after that goes on from there.
  write_keys(*writer, &model, 0, 5, 2);
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(counter->last_records(), 5u);
  EXPECT_EQ(test::db_contents(*secondary), model);

  // The same failure while the directory changes (a file comes, as a
  // writer's new table would): the attempt is made again within the
  // catch-up, from what the failed one left (the log part read), so again
  // from the log's start.
  const uint64_t read_through = log_bytes();
  write_keys(*writer, &model, 8000, 16000, 3);
  fs->interfere(is_log, [&] {
    write_keys(*writer, &model, 16000, 16010, 3);
    std::ofstream(dir_.path() + "/a-file-that-came");
  });
  fs->fail_reads(is_log, read_through + (512 << 10));
  s = secondary->try_catch_up_with_primary();
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(test::db_contents(*secondary), model);
  EXPECT_EQ(counter->last_records(), 16015u);
}

// Readers on other threads, each holding a snapshot of the state it began
// in, while catch-ups add the writer's new records to the memtable they
// read: every reader keeps seeing exactly its state.
TEST_F(DBSecondaryTest, ReadersKeepTheirStateWhileCatchUpsAddToItsMemtable) {
  options_.memtable_bytes = 256 << 10;  // rotations and flushes now and then
  constexpr int kKeys = 6000;
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
  ASSERT_TRUE(writer->put(key_of(0), value_of(0, 0)).ok());
  std::unique_ptr<DB> secondary;
  ASSERT_TRUE(DB::open_as_secondary(options_, dir_.path(), &secondary).ok());

  std::atomic<bool> done{false};
  std::atomic<int> checks{0};
  std::atomic<int> readers_stopped{0};  // by the end, or by a failed assertion
  auto read = [&] {
    struct Stopped {
      std::atomic<int>& count;
      ~Stopped() { count.fetch_add(1); }
    } stopped{readers_stopped};
    while (!done.load()) {
      const Snapshot* snapshot = secondary->get_snapshot();
      ReadOptions at;
      at.snapshot = snapshot;
      // The writer writes keys in order: a state holds a prefix of them.
      int count = 0;
      {
        std::unique_ptr<Iterator> it = secondary->new_iterator(at);
        for (it->seek_to_first(); it->valid(); it->next()) {
          ASSERT_EQ(it->key(), key_of(count));
          ++count;
        }
        ASSERT_TRUE(it->status().ok()) << it->status().to_string();
      }
      ASSERT_GE(count, 1);
      // Catch-ups happen meanwhile; the snapshot's answers do not change.
      for (int again = 0; again < 3; ++again) {
        std::string value;
        ASSERT_TRUE(secondary->get(at, key_of(count - 1), &value).ok());
        ASSERT_EQ(value, value_of(count - 1, 0));
        ASSERT_TRUE(secondary->get(at, key_of(count), &value).is_not_found());
        ASSERT_TRUE(secondary->get(at, key_of(count + 1), &value).is_not_found());
        std::this_thread::yield();
      }
      int again_count = 0;
      std::unique_ptr<Iterator> it = secondary->new_iterator(at);
      for (it->seek_to_first(); it->valid(); it->next()) ++again_count;
      ASSERT_EQ(again_count, count);
      it.reset();
      secondary->release_snapshot(snapshot);
      checks.fetch_add(1);
    }
  };
  std::vector<std::thread> readers;
  for (int t = 0; t < 2; ++t) readers.emplace_back(read);
  struct Joiner {
    std::atomic<bool>& done;
    std::vector<std::thread>& threads;
    ~Joiner() {
      done.store(true);
      for (std::thread& t : threads) t.join();
    }
  } joiner{done, readers};

  for (int i = 1; i < kKeys; ++i) {
    ASSERT_TRUE(writer->put(key_of(i), value_of(i, 0)).ok());
    if (i % 97 == 0) {
      Status s = secondary->try_catch_up_with_primary();
      ASSERT_TRUE(s.ok()) << s.to_string();
    }
  }
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(static_cast<int>(test::db_contents(*secondary).size()), kKeys);
  EXPECT_NE(writer->property("fsdb.num-flushes"), "0");
  while (checks.load() < 4 && readers_stopped.load() == 0) std::this_thread::yield();
  EXPECT_GE(checks.load(), 4);
}

// The MANIFEST's last sequence counts sequences handed out to writes that
// are not in the log yet. A state that read it reads at a sequence above
// the log's records; when such a write reaches the log, the next catch-up
// must not add it to the memtable that state reads, or the state (a
// snapshot taken of it) would see a write made after it.
TEST_F(DBSecondaryTest, AWriteLoggedAfterTheManifestCountedItStaysOutOfEarlierStates) {
  auto fs = std::make_shared<GatedFileSystem>();
  auto counter = std::make_shared<RecoveryCounter>();
  options_.memtable_bytes = 8 << 20;  // flushes only when asked
  options_.use_mmap_writes = false;
  Options writer_options = options_;
  writer_options.file_system = fs;
  Options secondary_options = options_;
  secondary_options.listener = counter;
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(writer_options, dir_.path(), &writer).ok());
  Model model;
  write_keys(*writer, &model, 0, 100, 0);
  ASSERT_TRUE(writer->flush().ok());
  std::unique_ptr<DB> secondary;
  ASSERT_TRUE(DB::open_as_secondary(secondary_options, dir_.path(), &secondary).ok());
  write_keys(*writer, &model, 100, 200, 0);  // in the live log, which the secondary shares

  struct Release {
    GatedFileSystem& fs;
    ~Release() {
      fs.table_creation.release();
      fs.log_append.release();
    }
  } release{*fs};
  // The second flush makes level 0 reach its compaction trigger; the
  // compaction is held as it creates its output.
  fs->table_creation.arm(/*pass=*/1);
  ASSERT_TRUE(writer->flush().ok());
  ASSERT_TRUE(fs->table_creation.wait_until_held());
  write_keys(*writer, &model, 200, 210, 0);  // the live log, again
  // A write whose sequence is taken and whose record is not yet logged.
  fs->log_append.arm();
  Status late_put;
  std::thread late_writer([&] { late_put = writer->put("late", "written after the state"); });
  struct Joiner {
    std::thread& thread;
    GatedFileSystem& fs;
    ~Joiner() {
      fs.log_append.release();
      if (thread.joinable()) thread.join();
    }
  } joiner{late_writer, *fs};
  ASSERT_TRUE(fs->log_append.wait_until_held());
  // The compaction's edit now records a last sequence that counts it.
  const std::optional<std::string> compactions = writer->property("fsdb.num-compactions");
  fs->table_creation.release();
  for (int i = 0; i < 3000 && writer->property("fsdb.num-compactions") == compactions; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_NE(writer->property("fsdb.num-compactions"), compactions);

  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(counter->last_records(), 10u);
  EXPECT_EQ(test::db_contents(*secondary), model);
  const uint64_t state_sequence = std::stoull(secondary->property("fsdb.sequence").value_or("0"));
  EXPECT_EQ(state_sequence, 211u) << "the MANIFEST counts the write that is not logged yet";
  const Snapshot* before = secondary->get_snapshot();

  fs->log_append.release();
  late_writer.join();
  ASSERT_TRUE(late_put.ok()) << late_put.to_string();
  model["late"] = "written after the state";
  ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
  EXPECT_EQ(counter->last_records(), 1u);
  EXPECT_EQ(test::db_contents(*secondary), model);

  ReadOptions at_before;
  at_before.snapshot = before;
  std::string value;
  EXPECT_TRUE(secondary->get(at_before, "late", &value).is_not_found());
  std::unique_ptr<Iterator> it = secondary->new_iterator(at_before);
  int seen = 0;
  for (it->seek_to_first(); it->valid(); it->next()) {
    EXPECT_NE(it->key(), "late");
    ++seen;
  }
  EXPECT_EQ(seen, 210);
  it.reset();
  secondary->release_snapshot(before);
}

// A catch-up reads the MANIFEST on from where the state before it stopped:
// what the writer added since, not the whole file.
TEST_F(DBSecondaryTest, ACatchUpReadsOnlyTheManifestsNewEdits) {
  auto fs = std::make_shared<test::ReadCountingFileSystem>("MANIFEST");
  // No compaction: the MANIFEST changes only inside the flush() calls below,
  // never while a catch-up reads it.
  options_.l0_compaction_trigger = 1000;
  options_.l0_slowdown_writes_trigger = 1000;
  options_.l0_stop_writes_trigger = 1000;
  std::unique_ptr<DB> writer;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &writer).ok());
  Model model;
  int flushes = 0;
  auto manifest_bytes = [&] {
    uint64_t bytes = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      if (entry.path().filename().string().starts_with("MANIFEST-")) {
        bytes = std::max<uint64_t>(bytes, entry.file_size());
      }
    }
    return bytes;
  };
  // Keys of 2 KiB: every edit names tables by their first and last keys,
  // so a few dozen flushes make a MANIFEST of several blocks.
  auto put_long_key = [&](int i) {
    const std::string key = std::string(2048, 'k') + std::to_string(100000 + i);
    ASSERT_TRUE(writer->put(key, value_of(i, 0)).ok());
    model[key] = value_of(i, 0);
  };
  while (manifest_bytes() < (96u << 10)) {
    ASSERT_NO_FATAL_FAILURE(put_long_key(flushes));
    ASSERT_TRUE(writer->flush().ok());
    ++flushes;
  }
  Options secondary_options = options_;
  secondary_options.file_system = fs;
  std::unique_ptr<DB> secondary;
  ASSERT_TRUE(DB::open_as_secondary(secondary_options, dir_.path(), &secondary).ok());
  EXPECT_GE(fs->bytes_read.exchange(0), 96u << 10);
  EXPECT_EQ(test::db_contents(*secondary), model);

  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const uint64_t before = manifest_bytes();
    ASSERT_NO_FATAL_FAILURE(put_long_key(1000 + round));
    ASSERT_TRUE(writer->flush().ok());
    ASSERT_TRUE(secondary->try_catch_up_with_primary().ok());
    // The blocks where the last read's last record lies, and what follows.
    EXPECT_LE(fs->bytes_read.exchange(0), manifest_bytes() - before + (64u << 10));
    EXPECT_EQ(test::db_contents(*secondary), model);
  }
}

}  // namespace
}  // namespace fsdb
