// engine/: the DB end to end — API, rotation, flush, recovery, errors.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "engine/db_impl.h"
#include "engine/filename.h"
#include "fsdb/db.h"
#include "sstable/table_reader.h"
#include "tests/support/log_bytes.h"
#include "tests/support/test_util.h"
#include "tests/support/unbacked_bytes.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"
#include "wal/write_batch_encoding.h"

namespace fsdb {
namespace {

std::string key_of(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%08d", i);
  return buf;
}

class DBTest : public ::testing::Test {
 protected:
  void open(const Options& options = {}) {
    db_.reset();
    FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));
  }
  void reopen(const Options& options = {}) {
    if (db_) {
      FSDB_ASSERT_OK(db_->close());
    }
    open(options);
  }
  // The path of the DB's log file (the newest, if there are several).
  std::string log_path() {
    std::vector<std::string> names;
    EXPECT_TRUE(posix_file_system()->get_children(dir_.path(), &names).ok());
    std::string log;
    for (const auto& name : names) {
      if (name.ends_with(".log") && (log.empty() || dir_.file(name) > log)) log = dir_.file(name);
    }
    EXPECT_FALSE(log.empty()) << "no log in " << dir_.path();
    return log;
  }
  // Puts `key` in a new DB's log, closes the DB and returns the log's path
  // and number.
  std::pair<std::string, uint64_t> one_write_in_a_closed_log(std::string_view key,
                                                             std::string_view value) {
    open();
    EXPECT_TRUE(db_->put(key, value).ok());
    EXPECT_TRUE(db_->close().ok());
    db_.reset();
    const std::string log = log_path();
    FileType type;
    uint64_t number = 0;
    EXPECT_TRUE(parse_file_name(log.substr(log.rfind('/') + 1), &type, &number)) << log;
    return {log, number};
  }
  std::vector<std::string> write_one_table_and_close() {
    open();
    for (int i = 0; i < 200; ++i) EXPECT_TRUE(db_->put(key_of(i), "flushed").ok());
    EXPECT_TRUE(db_->flush().ok());
    db_.reset();
    std::vector<std::string> names;
    EXPECT_TRUE(posix_file_system()->get_children(dir_.path(), &names).ok());
    return names;
  }
  std::string get(std::string_view key, const Snapshot* snap = nullptr) {
    ReadOptions ro;
    ro.snapshot = snap;
    std::string value;
    Status s = db_->get(ro, key, &value);
    if (s.is_not_found()) return "NOT_FOUND";
    if (!s.ok()) return "ERROR: " + s.to_string();
    return value;
  }
  std::string scan(const Snapshot* snap = nullptr) {
    ReadOptions ro;
    ro.snapshot = snap;
    auto it = db_->new_iterator(ro);
    std::string out;
    for (it->seek_to_first(); it->valid(); it->next()) {
      out += std::string(it->key()) + "=" + std::string(it->value()) + ";";
    }
    if (!it->status().ok()) out += "ERROR: " + it->status().to_string();
    return out;
  }
  size_t count_files(FileType wanted) {
    std::vector<std::string> names;
    EXPECT_TRUE(posix_file_system()->get_children(dir_.path(), &names).ok());
    size_t n = 0;
    for (const auto& name : names) {
      FileType type;
      uint64_t number;
      if (parse_file_name(name, &type, &number) && type == wanted) ++n;
    }
    return n;
  }

  test::ScratchDir dir_;
  std::unique_ptr<DB> db_;
};

// A key and value that together pass WriteBatch::kMaxEntryBytes would make a
// table block too large to read back: the write is refused before it is
// logged (so a reopen has nothing to replay), and the DB takes writes after.
TEST_F(DBTest, AWriteTooLargeForATableIsRefusedBeforeItIsLogged) {
  open();
  const test::UnbackedBytes huge(WriteBatch::kMaxEntryBytes + 1);
  ASSERT_TRUE(huge.ok());
  const std::string_view just_over = huge.view().substr(0, WriteBatch::kMaxEntryBytes);
  Status s = db_->put("k", just_over);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("put: a key of 1 bytes and a value of " +
                               std::to_string(WriteBatch::kMaxEntryBytes) + " bytes pass the"),
            std::string::npos)
      << s.to_string();
  s = db_->put(huge.view(), "");
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  s = db_->remove(huge.view());
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("remove:"), std::string::npos) << s.to_string();
  FSDB_ASSERT_OK(db_->put("a", "1"));
  reopen();
  auto it = db_->new_iterator(ReadOptions());
  int entries = 0;
  for (it->seek_to_first(); it->valid(); it->next()) ++entries;
  FSDB_ASSERT_OK(it->status());
  EXPECT_EQ(entries, 1);
  std::string value;
  FSDB_ASSERT_OK(db_->get("a", &value));
  EXPECT_EQ(value, "1");
}

TEST_F(DBTest, PutGetRemoveOverwrite) {
  open();
  FSDB_ASSERT_OK(db_->put("a", "1"));
  FSDB_ASSERT_OK(db_->put("b", "2"));
  EXPECT_EQ(get("a"), "1");
  FSDB_ASSERT_OK(db_->put("a", "3"));
  EXPECT_EQ(get("a"), "3");
  FSDB_ASSERT_OK(db_->remove("a"));
  EXPECT_EQ(get("a"), "NOT_FOUND");
  FSDB_ASSERT_OK(db_->remove("never-there"));
  EXPECT_EQ(get("never-there"), "NOT_FOUND");
  EXPECT_EQ(scan(), "b=2;");
}

// The DB's threads carry names (`top -H`, `ps -L`, perf and gdb show them),
// so that an operator can tell them from the application's.
TEST_F(DBTest, ItsThreadsAreNamed) {
  const auto thread_names = [] {
    std::multiset<std::string> names;
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      if (std::getline(comm, name)) names.insert(name);
    }
    return names;
  };
  Options options;
  options.max_background_compactions = 2;
  open(options);
  const std::vector<std::string> expected = {"fsdb:flush", "fsdb:compact0", "fsdb:compact1",
                                             "fsdb:events"};
  // Each thread names itself as it starts, maybe after open() returned.
  std::multiset<std::string> names;
  for (int waited = 0; waited < 10000; ++waited) {
    names = thread_names();
    if (std::all_of(expected.begin(), expected.end(),
                    [&](const std::string& name) { return names.contains(name); })) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  for (const std::string& name : expected) EXPECT_EQ(names.count(name), 1u) << name;
  FSDB_ASSERT_OK(db_->close());
  for (const char* name : {"fsdb:flush", "fsdb:compact0", "fsdb:events"}) {
    EXPECT_EQ(thread_names().count(name), 0u) << name << " outlives close()";
  }
}

TEST_F(DBTest, BinaryKeysAndValuesAndEmptyOnes) {
  open();
  const std::string k1("\0a\xff", 3), v1("x\0y", 3);
  FSDB_ASSERT_OK(db_->put(k1, v1));
  FSDB_ASSERT_OK(db_->put("", "empty key"));
  FSDB_ASSERT_OK(db_->put("empty value", ""));
  const std::string big_key(64 * 1024, 'k'), big_value(1 << 20, 'v');
  FSDB_ASSERT_OK(db_->put(big_key, big_value));
  auto check = [&] {
    EXPECT_EQ(get(k1), v1);
    EXPECT_EQ(get(""), "empty key");
    EXPECT_EQ(get("empty value"), "");
    EXPECT_EQ(get(big_key), big_value);
  };
  check();
  FSDB_ASSERT_OK(db_->flush());
  check();
  reopen();
  check();
}

TEST_F(DBTest, WriteBatchIsAtomicAndLaterWritesInItWin) {
  open();
  FSDB_ASSERT_OK(db_->put("x", "old"));
  WriteBatch batch;
  batch.put("a", "1");
  batch.put("b", "2");
  batch.remove("x");
  batch.put("a", "again");
  EXPECT_EQ(batch.count(), 4u);
  EXPECT_GT(batch.approximate_size(), 0u);
  FSDB_ASSERT_OK(db_->write(&batch));
  EXPECT_EQ(get("a"), "again");
  EXPECT_EQ(get("b"), "2");
  EXPECT_EQ(get("x"), "NOT_FOUND");
  WriteBatch empty;
  FSDB_ASSERT_OK(db_->write(&empty));
  batch.clear();
  EXPECT_EQ(batch.count(), 0u);
}

TEST_F(DBTest, MultiGetKeepsOrderAndReportsEachKey) {
  open();
  FSDB_ASSERT_OK(db_->put("a", "1"));
  FSDB_ASSERT_OK(db_->put("c", "3"));
  std::vector<std::string_view> keys = {"c", "b", "a", "c"};
  std::vector<std::string> values;
  auto statuses = db_->multi_get(ReadOptions(), keys, &values);
  ASSERT_EQ(statuses.size(), 4u);
  ASSERT_EQ(values.size(), 4u);
  EXPECT_TRUE(statuses[0].ok());
  EXPECT_EQ(values[0], "3");
  EXPECT_TRUE(statuses[1].is_not_found());
  EXPECT_EQ(values[2], "1");
  EXPECT_EQ(values[3], "3");
}

// multi_get batches the keys the memtables hold and sends the rest on to the
// tables: every answer must be get()'s, with keys spread over the active
// memtable, sealed ones and tables, overwritten, deleted, missing, repeated,
// at the latest state and at a snapshot.
TEST_F(DBTest, MultiGetAnswersAsGetDoesWhereverTheKeysLive) {
  Options options;
  options.memtable_bytes = 32 << 10;  // rotations and flushes while it writes
  open(options);
  std::mt19937 rng(5);
  const Snapshot* snap = nullptr;
  for (int i = 0; i < 6000; ++i) {
    const std::string key = key_of(rng() % 2000);
    if (rng() % 5 == 0) {
      FSDB_ASSERT_OK(db_->remove(key));
    } else {
      FSDB_ASSERT_OK(db_->put(key, "v" + std::to_string(i)));
    }
    if (i == 3000) snap = db_->get_snapshot();
  }
  std::vector<std::string> wanted;
  for (int i = 0; i < 2200; ++i) wanted.push_back(key_of(i));  // the last 200 never written
  wanted.push_back(key_of(7));                                 // twice
  std::vector<std::string_view> keys(wanted.begin(), wanted.end());
  for (const Snapshot* at : {static_cast<const Snapshot*>(nullptr), snap}) {
    ReadOptions ro;
    ro.snapshot = at;
    std::vector<std::string> values;
    const auto statuses = db_->multi_get(ro, keys, &values);
    ASSERT_EQ(statuses.size(), keys.size());
    ASSERT_EQ(values.size(), keys.size());
    for (size_t i = 0; i < keys.size(); ++i) {
      const std::string expected = get(keys[i], at);
      if (expected == "NOT_FOUND") {
        EXPECT_TRUE(statuses[i].is_not_found()) << keys[i] << ": " << statuses[i].to_string();
      } else {
        ASSERT_TRUE(statuses[i].ok()) << keys[i] << ": " << statuses[i].to_string();
        EXPECT_EQ(values[i], expected) << keys[i];
      }
    }
  }
  db_->release_snapshot(snap);
}

TEST_F(DBTest, IteratorsMergeMemtablesAndTablesBothWays) {
  Options options;
  options.memtable_bytes = 64 << 10;
  open(options);
  std::map<std::string, std::string> model;
  for (int round = 0; round < 3; ++round) {
    for (int i = round; i < 300; i += 3) {
      const std::string v = "v" + std::to_string(round) + "-" + std::to_string(i);
      FSDB_ASSERT_OK(db_->put(key_of(i), v));
      model[key_of(i)] = v;
    }
    for (int i = round * 7; i < 300; i += 29) {
      FSDB_ASSERT_OK(db_->remove(key_of(i)));
      model.erase(key_of(i));
    }
    if (round < 2) {
      FSDB_ASSERT_OK(db_->flush());
    }
  }
  auto it = db_->new_iterator();
  auto m = model.begin();
  for (it->seek_to_first(); it->valid(); it->next(), ++m) {
    ASSERT_NE(m, model.end());
    ASSERT_EQ(it->key(), m->first);
    ASSERT_EQ(it->value(), m->second);
  }
  EXPECT_EQ(m, model.end());
  auto r = model.rbegin();
  for (it->seek_to_last(); it->valid(); it->prev(), ++r) {
    ASSERT_NE(r, model.rend());
    ASSERT_EQ(it->key(), r->first);
  }
  EXPECT_EQ(r, model.rend());
  it->seek(key_of(150));
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), model.lower_bound(key_of(150))->first);
  it->seek_for_prev(key_of(150) + "x");
  ASSERT_TRUE(it->valid());
  EXPECT_EQ(it->key(), std::prev(model.upper_bound(key_of(150) + "x"))->first);
  FSDB_EXPECT_OK(it->status());
}

TEST_F(DBTest, IteratorAndSnapshotIgnoreLaterWritesAndFlushes) {
  open();
  FSDB_ASSERT_OK(db_->put("a", "1"));
  FSDB_ASSERT_OK(db_->put("b", "2"));
  const Snapshot* snap = db_->get_snapshot();
  auto it = db_->new_iterator();
  FSDB_ASSERT_OK(db_->put("a", "changed"));
  FSDB_ASSERT_OK(db_->remove("b"));
  FSDB_ASSERT_OK(db_->put("c", "3"));
  FSDB_ASSERT_OK(db_->flush());
  std::string seen;
  for (it->seek_to_first(); it->valid(); it->next()) {
    seen += std::string(it->key()) + "=" + std::string(it->value()) + ";";
  }
  EXPECT_EQ(seen, "a=1;b=2;");
  EXPECT_EQ(get("a", snap), "1");
  EXPECT_EQ(get("b", snap), "2");
  EXPECT_EQ(get("c", snap), "NOT_FOUND");
  EXPECT_EQ(scan(snap), "a=1;b=2;");
  EXPECT_EQ(scan(), "a=changed;c=3;");
  db_->release_snapshot(snap);
}

TEST_F(DBTest, CloseDeletesTablesAnIteratorKeptPastTheirCompaction) {
  open();
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      FSDB_ASSERT_OK(db_->put(key_of(i), "v" + std::to_string(round)));
    }
    FSDB_ASSERT_OK(db_->flush());
  }
  ASSERT_EQ(count_files(FileType::kTable), 3u);
  {
    auto it = db_->new_iterator();  // its view holds the three level-0 tables
    FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
    EXPECT_EQ(count_files(FileType::kTable), 4u) << "an iterator's tables stay while it lives";
    it->seek_to_first();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->value(), "v2");
  }
  FSDB_ASSERT_OK(db_->close());
  EXPECT_EQ(count_files(FileType::kTable), 1u) << "a closed DB leaves no obsolete table behind";
  open();
  EXPECT_EQ(get(key_of(5)), "v2");
  // An open that fails (here: the DB is in use) closes without deleting.
  std::unique_ptr<DB> second;
  EXPECT_TRUE(DB::open({}, dir_.path(), &second).is_busy());
  EXPECT_EQ(count_files(FileType::kTable), 1u);
  EXPECT_EQ(get(key_of(5)), "v2");
}

TEST_F(DBTest, ReopenAfterCloseAndAfterDestroyWithoutClose) {
  open();
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "v" + std::to_string(i)));
  FSDB_ASSERT_OK(db_->flush());
  for (int i = 100; i < 200; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "v" + std::to_string(i)));
  FSDB_ASSERT_OK(db_->remove(key_of(5)));
  reopen();
  EXPECT_EQ(get(key_of(150)), "v150");
  EXPECT_EQ(get(key_of(5)), "NOT_FOUND");
  EXPECT_EQ(get(key_of(6)), "v6");
  for (int i = 200; i < 300; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "w" + std::to_string(i)));
  db_.reset();  // no close()
  open();
  for (int i = 0; i < 300; ++i) {
    const std::string want = i == 5 ? "NOT_FOUND" : (i < 200 ? "v" : "w") + std::to_string(i);
    ASSERT_EQ(get(key_of(i)), want) << i;
  }
  EXPECT_EQ(count_files(FileType::kLog), 1u) << "replayed logs are deleted";
}

// Once close() has returned, the directory is another process's to open:
// nothing of the closed DB writes there any more, not even when the object
// is destroyed later. (The MANIFEST used to get its last sync mark from the
// destructor, after the LOCK was released.)
TEST_F(DBTest, AClosedDBWritesNothingMore) {
  open();
  FSDB_ASSERT_OK(db_->put("k", "v"));
  FSDB_ASSERT_OK(db_->flush());
  FSDB_ASSERT_OK(db_->close());
  std::map<std::string, uintmax_t> sizes;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    sizes[entry.path().filename().string()] = entry.file_size();
  }
  db_.reset();
  std::map<std::string, uintmax_t> after;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    after[entry.path().filename().string()] = entry.file_size();
  }
  EXPECT_EQ(after, sizes);
  open();
  EXPECT_EQ(get("k"), "v");
}

// Numbers are never shared between files: a log a crash left behind, with a
// number the MANIFEST never counted (a rotation created it after the last
// edit), is not given to the MANIFEST the next open writes. (Its number used
// to come from the MANIFEST's counter alone.)
TEST_F(DBTest, TheNextOpenNumbersItsManifestPastEveryFileOnDisk) {
  open();
  FSDB_ASSERT_OK(db_->put("k", "v"));
  FSDB_ASSERT_OK(db_->close());
  db_.reset();
  uint64_t highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
    FileType type;
    uint64_t number = 0;
    if (parse_file_name(entry.path().filename().string(), &type, &number)) {
      highest = std::max(highest, number);
    }
  }
  // Empty logs, as a rotation leaves them when the process dies at once.
  for (uint64_t n = highest + 1; n <= highest + 3; ++n) {
    std::ofstream(log_file_name(dir_.path(), n)).close();
  }
  open();
  std::string current;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), dir_.path() + "/CURRENT", &current));
  FileType type;
  uint64_t manifest = 0;
  ASSERT_TRUE(parse_file_name(current.substr(0, current.find('\n')), &type, &manifest)) << current;
  EXPECT_GT(manifest, highest + 3) << current;
  EXPECT_EQ(get("k"), "v");
}

// A log file copied under another number holds fragments written for its
// old number: recovery refuses it, naming the file, instead of reading it as
// an empty log (its writes would be dropped without a word).
TEST_F(DBTest, ALogCopiedUnderAnotherNumberIsCorruption) {
  const auto [log, number] = one_write_in_a_closed_log("k", "v");
  ASSERT_NE(number, 0u);
  const std::string copy = log_file_name(dir_.path(), number + 10);
  std::filesystem::copy_file(log, copy);
  std::unique_ptr<DB> db;
  Status s = DB::open(Options(), dir_.path(), &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find(copy + ": offset 0: "), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("renamed or copied"), std::string::npos) << s.to_string();
  std::filesystem::remove(copy);
  open();
  EXPECT_EQ(get("k"), "v");
}

// Two records of one log that give a key the same sequence: no writer does
// that (sequences are never reused), so it is damage the checksums did not
// catch, and the second value would be dropped: recovery refuses it.
TEST_F(DBTest, TwoRecordsWithTheSameSequenceAreCorruption) {
  const auto [log, number] = one_write_in_a_closed_log("k", "first");
  ASSERT_NE(number, 0u);
  {
    std::unique_ptr<WritableFile> file;
    FSDB_ASSERT_OK(posix_file_system()->new_appendable_file(log, &file));
    wal::LogWriter writer(std::move(file), number);
    wal::WriteBatchBuilder batch;
    batch.put("k", "second");
    batch.set_base_sequence(1);  // the sequence "first" was given
    const std::string_view record = batch.encoded();
    FSDB_ASSERT_OK(writer.add_records(std::span<const std::string_view>(&record, 1), true));
    FSDB_ASSERT_OK(writer.close());
  }
  std::unique_ptr<DB> db;
  Status s = DB::open(Options(), dir_.path(), &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find(log + ": record at offset "), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("sequence 1 of its key was already given"), std::string::npos)
      << s.to_string();
}

TEST_F(DBTest, DisableWalWritesSurviveACleanClose) {
  open();
  WriteOptions no_wal;
  no_wal.disable_wal = true;
  FSDB_ASSERT_OK(db_->put(no_wal, "unlogged", "kept by close"));
  reopen();
  EXPECT_EQ(get("unlogged"), "kept by close");
}

// close() writes out the memtables that hold disable_wal writes. A write
// acknowledged while close() runs is kept too: close() flushes only once no
// write can land any more. (It used to flush first and then stop the writes,
// and lost what landed in between.)
TEST_F(DBTest, DisableWalWritesAcknowledgedWhileClosingSurviveTheClose) {
  open();
  constexpr int kWriters = 2;
  std::vector<std::vector<std::string>> acknowledged(kWriters);
  std::atomic<uint64_t> written{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&, t] {
      WriteOptions no_wal;
      no_wal.disable_wal = true;
      for (int i = 0;; ++i) {
        std::string key = "w" + std::to_string(t) + "-" + std::to_string(i);
        if (!db_->put(no_wal, key, std::string(100, 'v')).ok()) return;  // closed
        acknowledged[t].push_back(std::move(key));
        written.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  while (written.load(std::memory_order_relaxed) < 20000) std::this_thread::yield();
  FSDB_ASSERT_OK(db_->close());
  for (std::thread& w : writers) w.join();
  open();
  size_t total = 0;
  for (int t = 0; t < kWriters; ++t) {
    total += acknowledged[t].size();
    for (const std::string& key : acknowledged[t]) {
      ASSERT_EQ(get(key), std::string(100, 'v')) << key << " of " << acknowledged[t].size();
    }
  }
  EXPECT_GE(total, 20000u);
}

// Holds the direct writes that reach it until release() (see
// set_direct_write_hook_for_testing).
struct HeldDirectWrites {
  static inline std::mutex mu;
  static inline std::condition_variable cv;
  static inline int held = 0;
  static inline bool released = false;

  static void hold() {
    std::unique_lock<std::mutex> lock(mu);
    ++held;
    cv.notify_all();
    cv.wait(lock, [] { return released; });
  }
  static bool wait_for_one() {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(30), [] { return held > 0; });
  }
  static void release() {
    std::lock_guard<std::mutex> guard(mu);
    released = true;
    cv.notify_all();
  }
};

// A disable_wal write that holds its sequence range but has not yet marked
// the memtable as holding an unlogged write when close() begins: close() waits
// for it and writes it out. (close() used to flush as soon as no new write
// could begin, found the memtable unmarked, and the write, acknowledged a
// moment later, was gone after reopening.)
TEST_F(DBTest, CloseWaitsForADisableWalWriteBetweenItsSequenceAndTheMemtable) {
  open();
  {
    std::lock_guard<std::mutex> guard(HeldDirectWrites::mu);
    HeldDirectWrites::held = 0;
    HeldDirectWrites::released = false;
  }
  set_direct_write_hook_for_testing(&HeldDirectWrites::hold);
  Status put;
  std::thread writer([&] {
    WriteOptions no_wal;
    no_wal.disable_wal = true;
    put = db_->put(no_wal, "in the window", "kept");
  });
  ASSERT_TRUE(HeldDirectWrites::wait_for_one());
  set_direct_write_hook_for_testing(nullptr);
  Status closed;
  std::thread closer([&] { closed = db_->close(); });
  // Time for a close() that does not wait to finish before the write goes on;
  // one that waits passes whatever the timing.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  HeldDirectWrites::release();
  writer.join();
  closer.join();
  FSDB_ASSERT_OK(put);
  FSDB_ASSERT_OK(closed);
  open();
  EXPECT_EQ(get("in the window"), "kept");
}

// Opens of table files fail while `failing` is set.
class FailingTableOpenFileSystem final : public FileSystemWrapper {
 public:
  std::atomic<bool> failing{false};
  FailingTableOpenFileSystem() : FileSystemWrapper(posix_file_system()) {}
  Status new_random_access_file(const std::string& path,
                                std::unique_ptr<RandomAccessFile>* file) override {
    if (failing.load() && path.ends_with(".sst")) {
      return Status::IOError(path + ": injected open failure");
    }
    return FileSystemWrapper::new_random_access_file(path, file);
  }
};

// An iterator's error lasts until its next seek: a table that could not be
// opened (too many open files, say) may open now, and then the seek's answer
// is the iterator's state. (The error used to stay, so a valid iterator could
// report a failure, and the merge stopped early at the end of that level.)
TEST_F(DBTest, AnIteratorErrorEndsAtTheNextSeek) {
  auto fs = std::make_shared<FailingTableOpenFileSystem>();
  Options options;
  options.file_system = fs;
  open(options);
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "v"));
  // Below level 0, where an iterator opens a table when it reaches it (one
  // opens the level-0 tables as it is made, and stays failed if one cannot).
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  ASSERT_EQ(db_->property("fsdb.num-files-at-level0"), "0");
  reopen(options);  // no table is open yet
  fs->failing = true;
  std::unique_ptr<Iterator> it = db_->new_iterator(ReadOptions());
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  EXPECT_FALSE(it->status().ok());
  fs->failing = false;
  it->seek(key_of(10));
  ASSERT_TRUE(it->valid());
  EXPECT_TRUE(it->status().ok()) << it->status().to_string();
  int seen = 0;
  for (; it->valid(); it->next()) ++seen;
  EXPECT_EQ(seen, 90);
  EXPECT_TRUE(it->status().ok()) << it->status().to_string();
}

TEST_F(DBTest, SequenceAdvancesAcrossReopen) {
  open();
  FSDB_ASSERT_OK(db_->put("a", "1"));
  FSDB_ASSERT_OK(db_->put("a", "2"));
  const std::string before = *db_->property("fsdb.sequence");
  reopen();
  EXPECT_EQ(*db_->property("fsdb.sequence"), before);
  FSDB_ASSERT_OK(db_->put("a", "3"));
  EXPECT_EQ(get("a"), "3") << "a new write must outrank every recovered version";
  reopen();
  EXPECT_EQ(get("a"), "3");
}

// A crash can leave logs numbered past the MANIFEST's next file number (a
// rotation creates its log before the next MANIFEST write). Recovery must not
// hand such a number out again: the new log would truncate a log it has just
// replayed, whose table the MANIFEST does not hold yet.
TEST_F(DBTest, RecoveryNeverReusesTheNumberOfAFileItFound) {
  open();
  for (int i = 0; i < 50; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "v" + std::to_string(i)));
  db_.reset();  // no close(): the writes are only in the log
  auto log_numbers = [&] {
    std::vector<uint64_t> numbers;
    std::vector<std::string> names;
    EXPECT_TRUE(posix_file_system()->get_children(dir_.path(), &names).ok());
    for (const auto& name : names) {
      FileType type;
      uint64_t number;
      if (parse_file_name(name, &type, &number) && type == FileType::kLog)
        numbers.push_back(number);
    }
    return numbers;
  };
  const std::vector<uint64_t> before = log_numbers();
  ASSERT_EQ(before.size(), 1u);
  // As if rotations had run since the MANIFEST was written and then the crash
  // came, before anything was written to the new logs. Recovery takes numbers
  // for its new MANIFEST, the replayed log's table and its new log, from the
  // MANIFEST's next number on: without care, one of the planted ones.
  const uint64_t live = before[0];
  for (uint64_t number = live + 1; number <= live + 4; ++number) {
    FSDB_ASSERT_OK(
        write_string_to_file(*posix_file_system(), "", log_file_name(dir_.path(), number), true));
  }
  open();
  const std::vector<uint64_t> after = log_numbers();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_GT(after[0], live + 4) << "the new log reused the number of a replayed one";
  for (int i = 0; i < 50; ++i) ASSERT_EQ(get(key_of(i)), "v" + std::to_string(i)) << i;
  reopen();
  for (int i = 0; i < 50; ++i) ASSERT_EQ(get(key_of(i)), "v" + std::to_string(i)) << i;
}

TEST_F(DBTest, ConcurrentWritersAcrossHundredsOfRotationsLoseNothing) {
  Options options;
  options.memtable_bytes = 64 << 10;
  options.max_sealed_memtables = 2;
  open(options);
  constexpr int kThreads = 4;
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  constexpr int kPerThread = 3000;
#else
  constexpr int kPerThread = 20000;
#endif
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int k = i * kThreads + t;
        if (i % 10 == 0) {
          WriteBatch b;
          b.put(key_of(k), "batch" + std::to_string(k));
          b.put("batch-mirror-" + key_of(k), "m");
          if (!db_->write(&b).ok()) ++failures;
        } else if (!db_->put(key_of(k), "value" + std::to_string(k) + std::string(80, 'x')).ok()) {
          ++failures;
        }
      }
    });
  }
  // A reader runs alongside: it must never see a batch half applied.
  std::atomic<bool> stop{false};
  std::atomic<int> torn{0};
  std::thread reader([&] {
    std::mt19937 rng(5);
    while (!stop.load()) {
      const int k = static_cast<int>(rng() % (kThreads * kPerThread / 10)) * 10;
      const Snapshot* snap = db_->get_snapshot();
      ReadOptions ro;
      ro.snapshot = snap;
      std::string a, b;
      const bool has_a = db_->get(ro, key_of(k), &a).ok() && a.rfind("batch", 0) == 0;
      const bool has_b = db_->get(ro, "batch-mirror-" + key_of(k), &b).ok();
      if (has_a != has_b) ++torn;
      db_->release_snapshot(snap);
    }
  });
  for (auto& t : threads) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(torn.load(), 0);
#if !defined(__SANITIZE_THREAD__) && !defined(__SANITIZE_ADDRESS__)
  EXPECT_GE(std::stoull(*db_->property("fsdb.num-rotations")), 100u);
#endif

  auto verify = [&] {
    for (int k = 0; k < kThreads * kPerThread; ++k) {
      const std::string want = (k / kThreads) % 10 == 0
                                   ? "batch" + std::to_string(k)
                                   : "value" + std::to_string(k) + std::string(80, 'x');
      ASSERT_EQ(get(key_of(k)), want) << k;
    }
  };
  verify();
  reopen(options);
  verify();
}

// Unsynced writes to a mapped WAL append their own records (no write group);
// synced ones still go through the queue. Whoever appends, the log must hold
// every write, each record's sequences following the one before it: recovery
// replays a prefix of the log, and that must be a prefix of the sequence.
TEST_F(DBTest, DirectAndGroupedWritersLogInSequenceOrder) {
  Options options;
  options.memtable_bytes = 64 << 20;  // one memtable, one log
  open(options);
  constexpr int kUnsyncedThreads = 3;
  constexpr int kUnsyncedPerThread = 3000;
  constexpr int kSynced = 60;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kUnsyncedThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kUnsyncedPerThread; ++i) {
        const int k = i * kUnsyncedThreads + t;
        if (i % 7 == 0) {
          WriteBatch b;
          b.put(key_of(k), "b");
          b.put("mirror-" + key_of(k), "m");
          if (!db_->write(&b).ok()) ++failures;
        } else if (!db_->put(key_of(k), "u" + std::to_string(k)).ok()) {
          ++failures;
        }
      }
    });
  }
  threads.emplace_back([&] {
    WriteOptions sync;
    sync.sync = true;
    for (int i = 0; i < kSynced; ++i) {
      if (!db_->put(sync, "synced-" + key_of(i), "s").ok()) ++failures;
    }
  });
  for (auto& t : threads) t.join();
  ASSERT_EQ(failures.load(), 0);
  const uint64_t groups = std::stoull(*db_->property("fsdb.num-write-groups"));
  // Unsynced writers that find a synced group using the log queue behind it
  // and are led together (a few groups per synced one: 60-80 in all here,
  // under ThreadSanitizer too); the thousands of others write directly.
  EXPECT_LE(groups, uint64_t{5 * kSynced}) << "unsynced writes went through the queue";
  EXPECT_GE(groups, 1u);

  // Read the log while the DB is open (its mapping is the file's page cache).
  std::vector<std::string> names;
  FSDB_ASSERT_OK(posix_file_system()->get_children(dir_.path(), &names));
  std::vector<uint64_t> logs;
  for (const auto& name : names) {
    FileType type;
    uint64_t number;
    if (parse_file_name(name, &type, &number) && type == FileType::kLog) logs.push_back(number);
  }
  ASSERT_EQ(logs.size(), 1u);
  std::unique_ptr<wal::LogReader> reader;
  FSDB_ASSERT_OK(wal::LogReader::open(*posix_file_system(), log_file_name(dir_.path(), logs[0]),
                                      logs[0], WalRecoveryMode::kTolerateCorruptedTail, &reader));
  std::string_view record;
  uint64_t records = 0, entries = 0;
  SequenceNumber next = 0;
  while (reader->read_record(&record)) {
    wal::DecodedWriteBatch batch;
    FSDB_ASSERT_OK(wal::decode_write_batch(record, &batch));
    if (records > 0) {
      ASSERT_EQ(batch.base_sequence, next) << "record " << records;
    }
    next = batch.base_sequence + batch.entries.size();
    entries += batch.entries.size();
    ++records;
  }
  FSDB_ASSERT_OK(reader->status());
  const uint64_t batches = kUnsyncedThreads * ((kUnsyncedPerThread + 6) / 7);
  EXPECT_EQ(records, uint64_t{kUnsyncedThreads} * kUnsyncedPerThread + kSynced);
  EXPECT_EQ(entries, uint64_t{kUnsyncedThreads} * kUnsyncedPerThread + batches + kSynced);
  EXPECT_EQ(next - 1, std::stoull(*db_->property("fsdb.sequence")));
}

// A child with several writers, unsynced ones appending to the mapped WAL
// themselves and synced ones in groups, across rotations, is killed: every
// write it acknowledged is there after reopening.
TEST_F(DBTest, KilledChildWithDirectAndGroupedWritersLosesNothingAcknowledged) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  constexpr int kThreads = 3;
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    Options options;
    options.memtable_bytes = 64 << 10;
    std::unique_ptr<DB> db;
    if (!DB::open(options, dir_.path(), &db).ok()) ::_exit(2);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        WriteOptions wo;
        wo.sync = t == 0;  // one synced writer, the others unsynced
        for (int i = 0;; ++i) {
          const int k = i * kThreads + t;
          if (!db->put(wo, key_of(k), "v" + std::to_string(k)).ok()) ::_exit(3);
          // One int per write: atomic on a pipe (< PIPE_BUF).
          if (::write(fds[1], &k, sizeof(k)) != sizeof(k)) ::_exit(4);
        }
      });
    }
    for (auto& t : threads) t.join();
    ::_exit(5);
  }
  ::close(fds[1]);
  std::vector<int> acknowledged;
  int got = 0;
  while (acknowledged.size() < 20000 && ::read(fds[0], &got, sizeof(got)) == sizeof(got)) {
    acknowledged.push_back(got);
  }
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  ::close(fds[0]);
  ASSERT_EQ(acknowledged.size(), 20000u) << "the child stopped early, status " << wstatus;
  open();
  for (int k : acknowledged) ASSERT_EQ(get(key_of(k)), "v" + std::to_string(k)) << k;
}

// A mapped WAL whose append fails under a direct writer: that write and every
// later one get the error (no write may follow a partial record), and
// everything acknowledged before it is there after reopening.
TEST_F(DBTest, FailedDirectAppendStopsWritesAndLosesNothing) {
  class FailingAppends final : public WritableFileWrapper {
   public:
    FailingAppends(std::unique_ptr<WritableFile> base, std::atomic<int>* budget)
        : WritableFileWrapper(std::move(base)), budget_(budget) {}
    Status append(std::string_view data) override {
      if (budget_->fetch_sub(1) <= 0) return Status::IOError(path() + ": injected append error");
      return WritableFileWrapper::append(data);
    }

   private:
    std::atomic<int>* budget_;
  };
  class FailingLogs final : public FileSystemWrapper {
   public:
    explicit FailingLogs(std::atomic<int>* budget)
        : FileSystemWrapper(posix_file_system()), budget_(budget) {}
    Status new_writable_file(const std::string& path, const WritableFileOptions& options,
                             std::unique_ptr<WritableFile>* file) override {
      Status s = base().new_writable_file(path, options, file);
      if (s.ok() && path.ends_with(".log")) {
        mapped_ = mapped_ || (*file)->appends_are_memory_copies();
        *file = std::make_unique<FailingAppends>(std::move(*file), budget_);
      }
      return s;
    }
    bool mapped_ = false;

   private:
    std::atomic<int>* budget_;
  };
  std::atomic<int> budget{1 << 30};
  auto fs = std::make_shared<FailingLogs>(&budget);
  Options options;
  options.file_system = fs;
  options.max_background_error_resumes = 0;  // the error stays until the test ends it
  open(options);
  ASSERT_TRUE(fs->mapped_) << "the test needs a file system that maps the WAL (ext4, XFS, tmpfs)";
  int acknowledged = 0;
  for (; acknowledged < 500; ++acknowledged) {
    FSDB_ASSERT_OK(db_->put(key_of(acknowledged), "v"));
  }
  EXPECT_EQ(*db_->property("fsdb.num-write-groups"), "0") << "the writes were not direct";
  budget = 0;
  Status s = db_->put(key_of(acknowledged), "v");
  EXPECT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.to_string().find("injected append error"), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find(".log"), std::string::npos) << "names the file: " << s.to_string();
  budget = 1 << 30;
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(db_->put(key_of(1000 + i), "later").ok()) << "a write followed a failed append";
  }
  WriteOptions sync;
  sync.sync = true;
  EXPECT_FALSE(db_->put(sync, "synced-later", "x").ok());
  (void)db_->close();
  db_.reset();
  open();
  for (int i = 0; i < acknowledged; ++i) ASSERT_EQ(get(key_of(i)), "v") << i;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(get(key_of(1000 + i)), "NOT_FOUND");
  EXPECT_EQ(get("synced-later"), "NOT_FOUND");
}

TEST_F(DBTest, RotationsHappenAndFlushesMakeTables) {
  Options options;
  options.memtable_bytes = 32 << 10;
  open(options);
  for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), std::string(100, 'v')));
  FSDB_ASSERT_OK(db_->flush());
  EXPECT_GT(std::stoull(*db_->property("fsdb.num-flushes")), 5u);
  EXPECT_GE(count_files(FileType::kTable), 1u);
  EXPECT_EQ(count_files(FileType::kLog), 1u) << "flushed logs are deleted";
  EXPECT_NE(db_->property("fsdb.levels")->find("L0"), std::string::npos);
  for (int i = 0; i < 2000; i += 3) ASSERT_EQ(get(key_of(i)), std::string(100, 'v'));
  for (int i = 0; i < 200; ++i) EXPECT_EQ(get(key_of(i) + "-absent"), "NOT_FOUND");
  const std::string stats = *db_->property("fsdb.stats");
  EXPECT_EQ(stats.find("bloom filters: 0 checked"), std::string::npos) << stats;
  EXPECT_EQ(stats.find(" 0 useful"), std::string::npos)
      << "absent keys are answered by filters: " << stats;
  EXPECT_FALSE(db_->property("no.such.property").has_value());
}

TEST_F(DBTest, SyncWritesAndSyncWal) {
  open();
  WriteOptions sync;
  sync.sync = true;
  FSDB_ASSERT_OK(db_->put(sync, "durable", "yes"));
  FSDB_ASSERT_OK(db_->put("later", "synced by sync_wal"));
  FSDB_ASSERT_OK(db_->sync_wal());
  db_.reset();
  open();
  EXPECT_EQ(get("durable"), "yes");
  EXPECT_EQ(get("later"), "synced by sync_wal");
}

TEST_F(DBTest, KilledChildLosesNothingAcknowledged) {
  // The child writes and reports each acknowledged key through a pipe; the
  // parent kills it mid-stream and checks every reported key after reopening.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    Options options;
    options.memtable_bytes = 32 << 10;
    std::unique_ptr<DB> db;
    if (!DB::open(options, dir_.path(), &db).ok()) ::_exit(2);
    for (int i = 0;; ++i) {
      if (!db->put(key_of(i), "v" + std::to_string(i)).ok()) ::_exit(3);
      if (::write(fds[1], &i, sizeof(i)) != sizeof(i)) ::_exit(4);
    }
  }
  ::close(fds[1]);
  int last = -1, got = 0;
  while (last < 3000 && ::read(fds[0], &got, sizeof(got)) == sizeof(got)) last = got;
  ::kill(child, SIGKILL);
  int wstatus = 0;
  ::waitpid(child, &wstatus, 0);
  ::close(fds[0]);
  ASSERT_GE(last, 3000) << "the child stopped early, status " << wstatus;
  open();
  for (int i = 0; i <= last; ++i) ASSERT_EQ(get(key_of(i)), "v" + std::to_string(i)) << i;
}

TEST_F(DBTest, PowerCutKeepsEverySyncedWrite) {
  auto fault = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
  Options options;
  options.file_system = fault;
  options.memtable_bytes = 16 << 10;
  open(options);
  WriteOptions sync;
  sync.sync = true;
  for (int i = 0; i < 400; ++i) {
    FSDB_ASSERT_OK(db_->put(i % 4 == 0 ? sync : WriteOptions(), key_of(i), std::string(50, 'p')));
  }
  FSDB_ASSERT_OK(db_->put(sync, "last", "synced"));
  fault->set_active(false);  // the power goes
  db_.reset();
  fault->drop_unsynced_data();
  fault->set_active(true);
  open(options);
  // A sync write makes every earlier write durable too.
  for (int i = 0; i < 400; ++i) ASSERT_EQ(get(key_of(i)), std::string(50, 'p')) << i;
  EXPECT_EQ(get("last"), "synced");
}

TEST_F(DBTest, NewDBSurvivesAPowerCutRightAfterItsFirstSyncedWrite) {
  auto fault = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
  Options options;
  options.file_system = fault;
  const std::string path = dir_.file("new") + "/";  // not there yet; spelled with a slash
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, path, &db));
  WriteOptions sync;
  sync.sync = true;
  FSDB_ASSERT_OK(db->put(sync, "k", "acknowledged"));
  fault->set_active(false);  // the power goes
  db.reset();
  fault->drop_unsynced_data();
  fault->set_active(true);
  options.create_if_missing = false;
  FSDB_ASSERT_OK(DB::open(options, path, &db)) << "the directory's own entry was synced";
  std::string value;
  FSDB_ASSERT_OK(db->get("k", &value));
  EXPECT_EQ(value, "acknowledged");
}

// The page cache writes a log's dirty pages back in no set order, so a power
// cut can keep a later unsynced page and lose an earlier one: damage with
// valid records after it. Past the log's last sync that is no corruption:
// the DB opens in the default mode with every synced write and a prefix of
// the others, and reports what it dropped.
TEST_F(DBTest, PowerCutThatLosesUnsyncedPagesOutOfOrderOpensWithEverySyncedWrite) {
  struct RecoveryListener final : EventListener {
    void on_recovery(const RecoveryInfo& recovered) override { info = recovered; }
    RecoveryInfo info;
  };
  constexpr int kSynced = 40;
  constexpr int kUnsynced = 400;  // about 90 KB: 22 pages
  int out_of_order = 0;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    test::ScratchDir dir;
    auto fault = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
    auto listener = std::make_shared<RecoveryListener>();
    Options options;
    options.file_system = fault;
    options.listener = listener;
    std::unique_ptr<DB> db;
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
    WriteOptions sync;
    sync.sync = true;
    for (int i = 0; i < kSynced; ++i) {
      FSDB_ASSERT_OK(db->put(sync, "s" + key_of(i), std::string(200, 's')));
    }
    for (int i = 0; i < kUnsynced; ++i) {
      FSDB_ASSERT_OK(db->put("u" + key_of(i), std::string(200, 'u')));
    }
    fault->set_active(false);  // the power goes
    db.reset();
    fault->set_lost_pages(true, seed);
    fault->drop_unsynced_data();
    fault->clear_faults();
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
    std::string value;
    for (int i = 0; i < kSynced; ++i) {
      ASSERT_TRUE(db->get("s" + key_of(i), &value).ok()) << "synced write " << i << " lost";
    }
    int kept = 0;
    while (kept < kUnsynced && db->get("u" + key_of(kept), &value).ok()) ++kept;
    for (int i = kept; i < kUnsynced; ++i) {
      ASSERT_TRUE(db->get("u" + key_of(i), &value).is_not_found())
          << "write " << i << " survived without write " << kept << " before it";
    }
    const std::string& dropped = listener->info.dropped_tail;
    if (dropped.find("no sync covered it or them") != std::string::npos) ++out_of_order;
    if (kept < kUnsynced) {
      EXPECT_NE(dropped.find(".log: offset "), std::string::npos) << dropped;
    }
  }
  EXPECT_GT(out_of_order, 0) << "no seed lost an earlier page and kept a later one";
}

// The other side of the rule above: after the same power cut, damage to the
// part of the log that was synced (each synced write's record is followed by
// a sync mark saying so) is refused, never dropped as an unsynced end.
TEST_F(DBTest, DamageToSyncedLogDataIsRefusedAfterAPowerCut) {
  auto fault = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
  Options options;
  options.file_system = fault;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db));
  WriteOptions sync;
  sync.sync = true;
  for (int i = 0; i < 40; ++i) FSDB_ASSERT_OK(db->put(sync, key_of(i), std::string(200, 's')));
  for (int i = 40; i < 140; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(200, 'u')));
  fault->set_active(false);  // the power goes: the log is never closed
  db.reset();
  fault->drop_unsynced_data();
  fault->clear_faults();
  const std::string log = log_path();
  std::string bytes;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), log, &bytes));
  ASSERT_GT(bytes.size(), 40u * 200);
  bytes[bytes.size() / 4] ^= 0x10;  // in about the tenth synced write's record
  FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), bytes, log, true));
  Status s = DB::open(options, dir_.path(), &db);
  ASSERT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find("(in synced data: the log was synced through offset "),
            std::string::npos)
      << s.to_string();
  EXPECT_NE(s.to_string().find("kPointInTime"), std::string::npos) << s.to_string();
}

TEST_F(DBTest, FlushErrorStopsWritesLosesNothingAndReopenRecovers) {
  // Fail each mutating call of a flush in turn: the rotation's WAL sync, the new
  // WAL, the table, its sync, the directory sync, the MANIFEST, CURRENT...
  int failed_flushes = 0;
  for (int n = 0; n < 24; ++n) {
    SCOPED_TRACE("failing mutation " + std::to_string(n + 1));
    test::ScratchDir dir;
    auto fault = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
    Options options;
    options.file_system = fault;
    options.max_background_error_resumes = 0;  // the error stays until the test ends it
    std::unique_ptr<DB> db;
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
    for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db->put(key_of(i), "v"));
    fault->fail_after(n, Status::IOError("injected: No space left on device"));
    Status s = db->flush();
    if (!s.ok()) {
      ++failed_flushes;
      EXPECT_NE(s.to_string().find("No space left on device"), std::string::npos) << s.to_string();
      Status w = db->put("after", "x");
      EXPECT_FALSE(w.ok()) << "writes fail once a background error is recorded";
      EXPECT_NE(db->property("fsdb.stats")->find("No space left"), std::string::npos);
      std::string v;
      FSDB_EXPECT_OK(db->get(key_of(7), &v)) << "reads still work";
    }
    fault->clear_faults();
    db.reset();
    FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
    for (int i = 0; i < 100; ++i) {
      std::string v;
      ASSERT_TRUE(db->get(key_of(i), &v).ok()) << i;
      ASSERT_EQ(v, "v");
    }
    FSDB_ASSERT_OK(db->put("after", "x"));
  }
  EXPECT_GE(failed_flushes, 5) << "the flush makes at least this many mutating calls";
}

// Tables with and without a compression dictionary live side by side: a DB
// written without one reads the same with it and back, through compactions
// that rewrite one kind into the other.
TEST_F(DBTest, TablesWithAndWithoutDictionaryMix) {
  std::map<std::string, std::string> model;
  auto write_some = [&](int start, int count) {
    for (int i = start; i < start + count; ++i) {
      const std::string value = "v" + std::to_string(i) + std::string(60 + i % 40, 'a' + i % 26);
      FSDB_ASSERT_OK(db_->put(key_of(i * 7 % 5000), value));
      model[key_of(i * 7 % 5000)] = value;
    }
    FSDB_ASSERT_OK(db_->flush());
  };
  auto expect_model = [&] {
    std::string expected;
    for (const auto& [k, v] : model) expected += k + "=" + v + ";";
    EXPECT_EQ(scan(), expected);
    for (const auto& [k, v] : model) ASSERT_EQ(get(k), v) << k;
  };
  Options plain;
  plain.compression_dictionary_bytes = 0;
  plain.block_bytes = 512;  // enough blocks per table for a dictionary sample
  Options with_dictionary;
  with_dictionary.block_bytes = 512;
  open(plain);
  write_some(0, 3000);
  reopen(with_dictionary);
  expect_model();
  write_some(3000, 3000);
  expect_model();
  // {tables with a dictionary, tables without}
  auto table_kinds = [&] {
    std::pair<int, int> kinds{0, 0};
    std::vector<std::string> names;
    EXPECT_TRUE(posix_file_system()->get_children(dir_.path(), &names).ok());
    for (const std::string& name : names) {
      if (name.size() < 4 || name.substr(name.size() - 4) != ".sst") continue;
      std::unique_ptr<TableReader> reader;
      EXPECT_TRUE(
          TableReader::open(*posix_file_system(), dir_.file(name), 1, TableOptions(), &reader)
              .ok());
      if (reader == nullptr) continue;
      ++(reader->dictionary() != nullptr ? kinds.first : kinds.second);
    }
    return kinds;
  };
  const auto before = table_kinds();
  EXPECT_GT(before.first, 0);
  EXPECT_GT(before.second, 0);
  FSDB_ASSERT_OK(db_->compact_range({}, {}));
  expect_model();
  EXPECT_EQ(table_kinds().second, 0);
  reopen(plain);
  expect_model();
  write_some(6000, 2000);
  FSDB_ASSERT_OK(db_->compact_range({}, {}));
  reopen(with_dictionary);
  expect_model();
}

TEST_F(DBTest, OpenErrorsAreClear) {
  Options no_create;
  no_create.create_if_missing = false;
  std::unique_ptr<DB> db;
  Status s = DB::open(no_create, dir_.file("missing"), &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("missing"), std::string::npos) << s.to_string();

  // An existing directory without a DB: refused, and left as it was.
  const std::string empty = dir_.file("empty");
  FSDB_ASSERT_OK(posix_file_system()->create_dir(empty));
  s = DB::open(no_create, empty, &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("no DB here"), std::string::npos) << s.to_string();
  std::vector<std::string> left;
  FSDB_ASSERT_OK(posix_file_system()->get_children(empty, &left));
  EXPECT_TRUE(left.empty()) << left.front();

  FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), "x", dir_.file("a-file"), false));
  s = DB::open(Options(), dir_.file("a-file"), &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("not a directory"), std::string::npos) << s.to_string();

  Options threads;
  threads.max_background_compactions = 0;
  s = DB::open(threads, dir_.path(), &db);
  EXPECT_NE(s.to_string().find("max_background_compactions"), std::string::npos) << s.to_string();

  Options bad;
  bad.block_bytes = 1;
  s = DB::open(bad, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_NE(s.to_string().find("block_bytes"), std::string::npos) << s.to_string();

  Options tiny_dictionary;
  tiny_dictionary.compression_dictionary_bytes = 100;
  s = DB::open(tiny_dictionary, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_NE(s.to_string().find("compression_dictionary_bytes"), std::string::npos) << s.to_string();

  Options light_level;
  light_level.light_upper_level_zstd_level = 23;
  s = DB::open(light_level, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_NE(s.to_string().find("light_upper_level_zstd_level must be between -7 and 22, not 23"),
            std::string::npos)
      << s.to_string();

  // Each memtable would make this many arena shards (a huge count ended the
  // open with an exception); enums out of their range are refused too.
  Options shards;
  shards.memtable_shards = size_t{1} << 40;
  s = DB::open(shards, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("memtable_shards must be at most 256"), std::string::npos)
      << s.to_string();
  Options codec;
  codec.compression = static_cast<Compression>(7);
  s = DB::open(codec, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("compression"), std::string::npos) << s.to_string();
  Options mode;
  mode.wal_recovery_mode = static_cast<WalRecoveryMode>(9);
  s = DB::open(mode, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
  EXPECT_NE(s.to_string().find("wal_recovery_mode"), std::string::npos) << s.to_string();

  Options huge_memtable;
  huge_memtable.memtable_bytes = size_t{3} << 30;
  s = DB::open(huge_memtable, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument());
  EXPECT_NE(s.to_string().find("memtable_bytes must be at most 2 GiB"), std::string::npos)
      << s.to_string();

  open();
  s = DB::open(Options(), dir_.path(), &db);
  EXPECT_TRUE(s.is_busy()) << s.to_string();
  EXPECT_NE(s.to_string().find("in use"), std::string::npos) << s.to_string();

  Options exclusive;
  exclusive.error_if_exists = true;
  db_.reset();
  s = DB::open(exclusive, dir_.path(), &db);
  EXPECT_TRUE(s.is_invalid_argument()) << s.to_string();
}

TEST_F(DBTest, CorruptManifestIsReportedWithTheFile) {
  open();
  FSDB_ASSERT_OK(db_->put("a", "1"));
  FSDB_ASSERT_OK(db_->flush());
  db_.reset();
  std::string current;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), dir_.file("CURRENT"), &current));
  const std::string manifest = dir_.file(current.substr(0, current.size() - 1));
  std::string bytes;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), manifest, &bytes));
  ASSERT_GT(bytes.size(), 20u);
  bytes[12] ^= 0x40;  // inside the first record's payload
  FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), bytes, manifest, true));
  std::unique_ptr<DB> db;
  Status s = DB::open(Options(), dir_.path(), &db);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.to_string().find("MANIFEST"), std::string::npos) << s.to_string();
}

// A DB whose CURRENT is lost is not an empty directory: open refuses to
// create a new DB over its files (which would replay its logs out of context
// and delete its tables), and says how to put CURRENT back.
TEST_F(DBTest, AMissingCurrentIsNeverTakenForAnEmptyDirectory) {
  open();
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(db_->put("k" + std::to_string(i), "v"));
  FSDB_ASSERT_OK(db_->flush());
  FSDB_ASSERT_OK(db_->put("in the log", "w"));
  FSDB_ASSERT_OK(db_->close());
  db_.reset();
  std::string current;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), dir_.file("CURRENT"), &current));
  FSDB_ASSERT_OK(posix_file_system()->remove_file(dir_.file("CURRENT")));
  const size_t tables = count_files(FileType::kTable);
  ASSERT_GT(tables, 0u);

  std::unique_ptr<DB> db;
  Status s = DB::open(Options(), dir_.path(), &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find("CURRENT is missing"), std::string::npos) << s.to_string();
  // The message names the MANIFEST to write into CURRENT.
  const std::string manifest = current.substr(0, current.size() - 1);
  EXPECT_NE(s.to_string().find("\"" + manifest + "\""), std::string::npos) << s.to_string();
  EXPECT_EQ(count_files(FileType::kTable), tables) << "nothing deleted";
  EXPECT_FALSE(posix_file_system()->file_exists(dir_.file("CURRENT")));
  // The same answer when creating is not allowed: not "no DB here".
  Options no_create;
  no_create.create_if_missing = false;
  s = DB::open(no_create, dir_.path(), &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();

  // Following the message brings everything back.
  FSDB_ASSERT_OK(
      write_string_to_file(*posix_file_system(), manifest + "\n", dir_.file("CURRENT"), true));
  open();
  EXPECT_EQ(get("k42"), "v");
  EXPECT_EQ(get("in the log"), "w");
}

// A creation interrupted after the first MANIFEST and before CURRENT leaves
// only that MANIFEST: such a directory is still taken for a new DB.
TEST_F(DBTest, AnInterruptedCreationIsCreatedAgain) {
  FSDB_ASSERT_OK(
      write_string_to_file(*posix_file_system(), "", dir_.file("MANIFEST-000001"), true));
  open();
  FSDB_ASSERT_OK(db_->put("a", "1"));
  reopen();
  EXPECT_EQ(get("a"), "1");
}

TEST_F(DBTest, DestroyRemovesTheDatabase) {
  open();
  FSDB_ASSERT_OK(db_->put("a", "1"));
  EXPECT_TRUE(destroy_db(dir_.path()).is_busy()) << "not while open";
  db_.reset();
  FSDB_ASSERT_OK(destroy_db(dir_.path()));
  EXPECT_FALSE(posix_file_system()->file_exists(dir_.path()));
  FSDB_ASSERT_OK(destroy_db(dir_.path())) << "destroying nothing is fine";
}

}  // namespace
}  // namespace fsdb

namespace fsdb {
namespace {

class CountingListener final : public EventListener {
 public:
  void on_recovery(const RecoveryInfo& info) override {
    recoveries++;
    records_replayed += info.records_replayed;
  }
  void on_memtable_sealed(const MemtableSealedInfo& info) override {
    sealed++;
    if (info.entries == 0) empty_seals++;
    // Callbacks may call back into the DB, writes included.
    if (db != nullptr && !db->put("sealed-count", std::to_string(sealed.load())).ok()) {
      failed_callback_writes++;
    }
  }
  void on_flush_completed(const FlushInfo& info) override {
    flushes++;
    if (info.file_number == 0 || info.file_bytes == 0) empty_flushes++;
  }
  void on_compaction_completed(const CompactionInfo& info) override {
    compactions++;
    if (info.input_files == 0) empty_compactions++;
  }
  std::atomic<int> recoveries{0}, sealed{0}, empty_seals{0}, flushes{0}, empty_flushes{0},
      compactions{0}, empty_compactions{0};
  std::atomic<uint64_t> records_replayed{0};
  std::atomic<int> failed_callback_writes{0};
  DB* db = nullptr;
};

TEST_F(DBTest, ListenerHearsRecoveryRotationsFlushesAndCompactions) {
  auto listener = std::make_shared<CountingListener>();
  Options options;
  options.listener = listener;
  options.memtable_bytes = 16 << 10;
  options.l0_compaction_trigger = 2;
  open(options);
  listener->db = db_.get();
  EXPECT_EQ(listener->recoveries.load(), 1);
  for (int i = 0; i < 2000; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), std::string(50, 'e')));
  FSDB_ASSERT_OK(db_->compact_range(std::nullopt, std::nullopt));
  EXPECT_GT(listener->sealed.load(), 5);
  EXPECT_GT(listener->flushes.load(), 5);
  EXPECT_GT(listener->compactions.load(), 0);
  EXPECT_EQ(listener->empty_seals.load(), 0);
  EXPECT_EQ(listener->empty_flushes.load(), 0);
  EXPECT_EQ(listener->empty_compactions.load(), 0);
  EXPECT_EQ(listener->failed_callback_writes.load(), 0);
  EXPECT_NE(get("sealed-count"), "NOT_FOUND");
  listener->db = nullptr;
  FSDB_ASSERT_OK(db_->flush());
  for (int i = 0; i < 10; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), "again"));
  db_.reset();  // the last writes are only in the WAL
  open(options);
  EXPECT_EQ(listener->recoveries.load(), 2);
  EXPECT_EQ(listener->records_replayed.load(), 10u);
}

}  // namespace
}  // namespace fsdb

namespace fsdb {
namespace {

// A WAL damaged in the middle: the default mode refuses to open and names the
// file and offset; the lenient modes open with what they could keep.
TEST_F(DBTest, DamagedWalIsReportedOrHandledAsTheRecoveryModeSays) {
  open();
  for (int i = 0; i < 300; ++i) FSDB_ASSERT_OK(db_->put(key_of(i), std::string(200, 'w')));
  db_.reset();  // everything is only in the WAL
  const std::string log = log_path();
  std::vector<std::string> names;
  FSDB_ASSERT_OK(posix_file_system()->get_children(dir_.path(), &names));
  std::string bytes;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), log, &bytes));
  ASSERT_GT(bytes.size(), 40000u);
  const std::string intact = bytes;
  bytes[20000] ^= 0x55;  // in the middle of the log, records follow
  FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), bytes, log, true));
  const std::string copy = dir_.file("copy");
  FSDB_ASSERT_OK(posix_file_system()->create_dir(copy));
  for (const auto& name : names) {
    std::string data;
    if (name == "LOCK") continue;
    FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), dir_.file(name), &data));
    FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), data, copy + "/" + name, true));
  }
  // In the copy, a later log follows the damaged one (the same records,
  // intact): point-in-time recovery must not replay it past the damage.
  FileType type;
  uint64_t log_number = 0;
  ASSERT_TRUE(parse_file_name(log.substr(log.rfind('/') + 1), &type, &log_number));
  const std::string later_log = log_file_name(copy, log_number + 10);
  FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), intact, later_log, true));

  std::unique_ptr<DB> db;
  Status s = DB::open(Options(), dir_.path(), &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find(".log"), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("offset"), std::string::npos) << s.to_string();
  // close() synced the log and marked it so: the damage is to synced data,
  // which no crash or power cut leaves, and the error says which mode
  // recovers the writes before it.
  EXPECT_NE(s.to_string().find("(in synced data: the log was synced through offset "),
            std::string::npos)
      << s.to_string();
  EXPECT_NE(s.to_string().find("kPointInTime"), std::string::npos) << s.to_string();

  Options skip;
  skip.wal_recovery_mode = WalRecoveryMode::kSkipAnyCorruptedRecords;
  FSDB_ASSERT_OK(DB::open(skip, dir_.path(), &db));
  int present = 0;
  std::string v;
  for (int i = 0; i < 300; ++i) present += db->get(key_of(i), &v).ok() ? 1 : 0;
  EXPECT_GT(present, 250) << "only the damaged record is skipped";
  EXPECT_LT(present, 300);
  EXPECT_TRUE(db->get(key_of(299), &v).ok()) << "records after the damage are kept";
  db.reset();

  struct RecoveryListener final : EventListener {
    void on_recovery(const RecoveryInfo& recovered) override { info = recovered; }
    RecoveryInfo info;
  };
  auto listener = std::make_shared<RecoveryListener>();
  Options point;
  point.wal_recovery_mode = WalRecoveryMode::kPointInTime;
  point.listener = listener;
  FSDB_ASSERT_OK(DB::open(point, copy, &db));
  present = 0;
  for (int i = 0; i < 300; ++i) present += db->get(key_of(i), &v).ok() ? 1 : 0;
  EXPECT_GT(present, 50);
  EXPECT_LT(present, 300);
  EXPECT_FALSE(db->get(key_of(299), &v).ok()) << "nothing after the damage";
  for (int i = 0; i < present; ++i) ASSERT_TRUE(db->get(key_of(i), &v).ok()) << "a prefix: " << i;
  // What was left out is reported: the damaged log's tail and the later log.
  EXPECT_EQ(listener->info.logs_replayed, 1u);
  EXPECT_EQ(listener->info.logs_dropped, 1u);
  EXPECT_GT(listener->info.bytes_dropped, intact.size());
  EXPECT_TRUE(listener->info.stopped_at_damage);
  EXPECT_NE(listener->info.dropped_tail.find(".log: offset "), std::string::npos)
      << listener->info.dropped_tail;
  EXPECT_FALSE(posix_file_system()->file_exists(later_log)) << "gone with the recovered state";
}

// A MANIFEST whose end is damaged after it was synced loses its last edits
// (without the sync mark a closing writer adds, a damaged end reads as a torn
// write): here the flush that named a table and moved past the log it came
// from. The log named instead is gone, so the open is refused, and the table,
// unnamed, stays on disk.
// A MANIFEST whose end a crash tore (bytes of an edit that was never
// acknowledged) opens, and what was dropped is reported with the rest.
TEST_F(DBTest, TornEndOfTheManifestIsDroppedAndReported) {
  std::vector<std::string> names = write_one_table_and_close();
  std::string manifest;
  for (const auto& name : names) {
    if (name.starts_with("MANIFEST-")) manifest = dir_.file(name);
  }
  ASSERT_FALSE(manifest.empty());
  std::string bytes;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), manifest, &bytes));
  const size_t intact = bytes.size();
  bytes.append("\x13\x37\x00\x42torn", 8);  // a header cut off by the end of the file
  FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), bytes, manifest, true));
  struct RecoveryListener final : EventListener {
    void on_recovery(const RecoveryInfo& recovered) override { info = recovered; }
    RecoveryInfo info;
  };
  auto listener = std::make_shared<RecoveryListener>();
  Options options;
  options.listener = listener;
  open(options);
  EXPECT_EQ(get(key_of(7)), "flushed");
  EXPECT_NE(listener->info.dropped_tail.find(manifest.substr(manifest.rfind('/') + 1) +
                                             ": offset " + std::to_string(intact) + ": 8 bytes"),
            std::string::npos)
      << listener->info.dropped_tail;
  EXPECT_FALSE(listener->info.stopped_at_damage);
}

TEST_F(DBTest, ManifestThatLostItsLastEditIsRefused) {
  std::vector<std::string> names = write_one_table_and_close();
  std::string manifest;
  size_t tables = 0;
  for (const auto& name : names) {
    if (name.starts_with("MANIFEST-")) manifest = dir_.file(name);
    if (name.ends_with(".sst")) ++tables;
  }
  ASSERT_FALSE(manifest.empty());
  ASSERT_EQ(tables, 1u);
  std::string bytes;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), manifest, &bytes));
  bytes.resize(test::bytes_before_closing_sync_mark(bytes));
  bytes[bytes.size() - 3] ^= 0x20;  // in the last record, the flush's edit
  FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), bytes, manifest, true));

  std::unique_ptr<DB> db;
  Status s = DB::open(Options(), dir_.path(), &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find(".log: missing, though "), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("names it as the first log to replay"), std::string::npos)
      << s.to_string();
  tables = 0;
  FSDB_ASSERT_OK(posix_file_system()->get_children(dir_.path(), &names));
  for (const auto& name : names) tables += name.ends_with(".sst") ? 1 : 0;
  EXPECT_EQ(tables, 1u) << "the flushed table is kept";
  std::string after;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), manifest, &after));
  EXPECT_EQ(after, bytes) << "the damaged MANIFEST is left as it was";
}

// A table the MANIFEST names, removed by hand: the open says which, instead
// of failing on every read of its keys later.
TEST_F(DBTest, MissingTableIsRefusedAtOpen) {
  std::string table;
  for (const auto& name : write_one_table_and_close()) {
    if (name.ends_with(".sst")) table = name;
  }
  ASSERT_FALSE(table.empty());
  FSDB_ASSERT_OK(posix_file_system()->remove_file(dir_.file(table)));
  std::unique_ptr<DB> db;
  Status s = DB::open(Options(), dir_.path(), &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find(table + ": missing, though "), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find("names it at level 0"), std::string::npos) << s.to_string();
}

// A torn write can only be at the end of the last log that holds records: a
// log is synced before the next one begins. The end of an earlier log cut
// short, with records in a later one, is damage: the default mode refuses to
// open, point-in-time recovery stops there (a prefix of the writes), and a
// later log without records (left by a crash during recovery) is no evidence.
TEST_F(DBTest, TornEndOfALogFollowedByRecordsIsDamage) {
  struct RecoveryListener final : EventListener {
    void on_recovery(const RecoveryInfo& recovered) override { info = recovered; }
    RecoveryInfo info;
  };
  auto files_of = [](const std::string& dir) {
    std::vector<std::string> names;
    EXPECT_TRUE(posix_file_system()->get_children(dir, &names).ok());
    std::erase(names, "LOCK");
    return names;
  };
  auto copy_files = [&](const std::string& from, const std::string& to) {
    for (const auto& name : files_of(from)) {
      std::string data;
      FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), from + "/" + name, &data));
      FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), data, to + "/" + name, true));
    }
  };
  // In `dir`: keys 0..299 go into a first log, which is cut short by 10 bytes
  // (its last record torn). With `later_records`, keys 300..599 then go into
  // a second log, and the MANIFEST is put back to the one that still needs
  // the first log: both logs are replayed at the next open, as when the first
  // log's end is damaged after it was synced and the second was written.
  // Without, the second log is created (by an open) and stays empty.
  std::string damaged_log;
  auto prepare = [&](const std::string& dir, bool later_records) {
    {
      std::unique_ptr<DB> db;
      FSDB_ASSERT_OK(DB::open(Options(), dir, &db));
      for (int i = 0; i < 300; ++i) FSDB_ASSERT_OK(db->put(key_of(i), std::string(200, 't')));
    }
    damaged_log.clear();
    for (const auto& name : files_of(dir)) {
      if (name.ends_with(".log")) damaged_log = dir + "/" + name;
    }
    ASSERT_FALSE(damaged_log.empty());
    const std::string saved = dir + ".first";
    FSDB_ASSERT_OK(posix_file_system()->create_dir(saved));
    copy_files(dir, saved);
    {
      std::unique_ptr<DB> db;
      FSDB_ASSERT_OK(DB::open(Options(), dir, &db));
      if (later_records) {
        for (int i = 300; i < 600; ++i) {
          FSDB_ASSERT_OK(db->put(key_of(i), std::string(200, 'u')));
        }
      }
    }
    // Back to the first state (the MANIFEST that needs the first log, and
    // the first log itself), keeping the second log; what the open in
    // between wrote besides is unreferenced and goes at the next open.
    copy_files(saved, dir);
    std::string intact;
    FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), damaged_log, &intact));
    ASSERT_GT(intact.size(), 40000u);
    // Torn in its last record, as a crash leaves it (the DB was closed:
    // without the sync mark that added).
    const size_t torn = test::bytes_before_closing_sync_mark(intact) - 10;
    FSDB_ASSERT_OK(write_string_to_file(
        *posix_file_system(), std::string_view(intact).substr(0, torn), damaged_log, true));
  };

  const std::string first = dir_.file("first");
  FSDB_ASSERT_OK(posix_file_system()->create_dir(first));
  prepare(first, /*later_records=*/true);
  std::unique_ptr<DB> db;
  Status s = DB::open(Options(), first, &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find(damaged_log.substr(damaged_log.rfind('/') + 1) + ": offset"),
            std::string::npos)
      << s.to_string();
  EXPECT_NE(s.to_string().find("a later log holds records"), std::string::npos) << s.to_string();

  auto listener = std::make_shared<RecoveryListener>();
  Options point;
  point.wal_recovery_mode = WalRecoveryMode::kPointInTime;
  point.listener = listener;
  FSDB_ASSERT_OK(DB::open(point, first, &db));
  std::string v;
  for (int i = 0; i < 299; ++i) ASSERT_TRUE(db->get(key_of(i), &v).ok()) << i;
  for (int i = 299; i < 600; ++i) {
    ASSERT_TRUE(db->get(key_of(i), &v).is_not_found()) << i << ": a prefix of the writes";
  }
  EXPECT_EQ(listener->info.logs_replayed, 1u);
  EXPECT_EQ(listener->info.logs_dropped, 1u);
  EXPECT_TRUE(listener->info.stopped_at_damage);
  db.reset();

  const std::string second = dir_.file("second");
  FSDB_ASSERT_OK(posix_file_system()->create_dir(second));
  prepare(second, /*later_records=*/false);
  FSDB_ASSERT_OK(DB::open(Options(), second, &db));
  for (int i = 0; i < 299; ++i) ASSERT_TRUE(db->get(key_of(i), &v).ok()) << i;
  EXPECT_TRUE(db->get(key_of(299), &v).is_not_found()) << "the torn record is dropped";
  db.reset();

  // Damage in the middle of the first log, a later log holding records: the
  // first log was complete once, so no power cut explains the damage, and
  // the error does not suggest one (it does for the newest log: see
  // DamagedWalIsReportedOrHandledAsTheRecoveryModeSays).
  const std::string third = dir_.file("third");
  FSDB_ASSERT_OK(posix_file_system()->create_dir(third));
  prepare(third, /*later_records=*/true);
  std::string bytes;
  FSDB_ASSERT_OK(read_file_to_string(*posix_file_system(), damaged_log, &bytes));
  bytes[20000] ^= 0x55;
  FSDB_ASSERT_OK(write_string_to_file(*posix_file_system(), bytes, damaged_log, true));
  s = DB::open(Options(), third, &db);
  EXPECT_TRUE(s.is_corruption()) << s.to_string();
  EXPECT_NE(s.to_string().find("offset"), std::string::npos) << s.to_string();
  EXPECT_EQ(s.to_string().find("lost power"), std::string::npos) << s.to_string();
}

}  // namespace
}  // namespace fsdb
