// engine/: ReadOptions::iterate_lower_bound / iterate_upper_bound through a
// whole DB: memtables, level-0 tables and deeper levels give exactly the keys
// in [lower, upper) both ways, and tables outside the range are not opened.
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "fsdb/db.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

std::string key_of(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%05d", i);
  return buf;
}

// Counts the tables opened for reading.
class CountingFileSystem final : public FileSystemWrapper {
 public:
  CountingFileSystem() : FileSystemWrapper(posix_file_system()) {}
  using FileSystemWrapper::new_random_access_file;
  Status new_random_access_file(const std::string& path,
                                std::unique_ptr<RandomAccessFile>* file) override {
    if (path.ends_with(".sst")) tables_opened.fetch_add(1);
    return FileSystemWrapper::new_random_access_file(path, file);
  }
  std::atomic<int> tables_opened{0};
};

std::vector<std::string> forward(DB& db, const ReadOptions& options) {
  std::vector<std::string> keys;
  auto it = db.new_iterator(options);
  for (it->seek_to_first(); it->valid(); it->next()) keys.emplace_back(it->key());
  EXPECT_TRUE(it->status().ok()) << it->status().to_string();
  return keys;
}

std::vector<std::string> backward(DB& db, const ReadOptions& options) {
  std::vector<std::string> keys;
  auto it = db.new_iterator(options);
  for (it->seek_to_last(); it->valid(); it->prev()) keys.emplace_back(it->key());
  EXPECT_TRUE(it->status().ok()) << it->status().to_string();
  return {keys.rbegin(), keys.rend()};
}

// Closes `db` and opens it again: no table is open, none is cached.
void reopen_with_a_cold_cache(const Options& options, const std::string& path,
                              std::unique_ptr<DB>* db) {
  FSDB_ASSERT_OK((*db)->close());
  db->reset();
  FSDB_ASSERT_OK(DB::open(options, path, db));
}

TEST(DBIterateBoundsTest, OnlyKeysInsideTheBoundsEitherWay) {
  test::ScratchDir dir;
  Options options;
  options.memtable_bytes = 32 << 10;  // many tables, some compacted down
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  std::map<std::string, std::string> model;
  for (int round = 0; round < 4; ++round) {
    for (int i = round; i < 3000; i += 3) {
      FSDB_ASSERT_OK(db->put(key_of(i), "v" + std::to_string(round)));
      model[key_of(i)] = "v" + std::to_string(round);
    }
    for (int i = round * 7; i < 3000; i += 11) {
      FSDB_ASSERT_OK(db->remove(key_of(i)));
      model.erase(key_of(i));
    }
  }
  FSDB_ASSERT_OK(db->compact_range(key_of(0), key_of(1500)));
  for (int i = 1000; i < 1100; ++i) {
    FSDB_ASSERT_OK(db->put(key_of(i), "in the memtable"));
    model[key_of(i)] = "in the memtable";
  }
  const std::vector<std::pair<std::optional<std::string>, std::optional<std::string>>> cases = {
      {std::nullopt, std::nullopt},     {key_of(500), key_of(2500)},
      {key_of(1050), std::nullopt},     {std::nullopt, key_of(1050)},
      {key_of(700) + "x", key_of(701)}, {key_of(2000), key_of(1000)},
      {key_of(2999), key_of(3000)},     {"", ""},
      {key_of(1000), key_of(1100)}};
  for (const auto& [lower, upper] : cases) {
    SCOPED_TRACE("[" + lower.value_or("-") + ", " + upper.value_or("-") + ")");
    std::vector<std::string> expected;
    for (const auto& [k, v] : model) {
      if ((!lower || k >= *lower) && (!upper || k < *upper)) expected.push_back(k);
    }
    ReadOptions bounded;
    bounded.iterate_lower_bound = lower;
    bounded.iterate_upper_bound = upper;
    EXPECT_EQ(forward(*db, bounded), expected);
    EXPECT_EQ(backward(*db, bounded), expected);
    // Seeks outside the range land at its nearest end.
    auto it = db->new_iterator(bounded);
    it->seek("");
    EXPECT_EQ(it->valid(), !expected.empty());
    if (it->valid()) {
      EXPECT_EQ(it->key(), expected.front());
    }
    it->seek_for_prev("\xff\xff");
    EXPECT_EQ(it->valid(), !expected.empty());
    if (it->valid()) {
      EXPECT_EQ(it->key(), expected.back());
    }
  }
}

// Four level-0 tables of disjoint ranges; an iterator bounded to one range
// opens one table, an unbounded one all four.
TEST(DBIterateBoundsTest, TablesOutsideTheBoundsAreNotOpened) {
  test::ScratchDir dir;
  auto fs = std::make_shared<CountingFileSystem>();
  Options options;
  options.file_system = fs;
  options.l0_compaction_trigger = 50;
  options.l0_slowdown_writes_trigger = 50;
  options.l0_stop_writes_trigger = 50;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  for (int table = 0; table < 4; ++table) {
    for (int i = table * 1000; i < table * 1000 + 500; ++i) {
      FSDB_ASSERT_OK(db->put(key_of(i), "v"));
    }
    FSDB_ASSERT_OK(db->flush());
  }
  ASSERT_EQ(*db->property("fsdb.num-files-at-level0"), "4");
  ASSERT_NO_FATAL_FAILURE(reopen_with_a_cold_cache(options, dir.path(), &db));
  const int before = fs->tables_opened.load();
  ReadOptions bounded;
  bounded.iterate_lower_bound = key_of(2000);
  bounded.iterate_upper_bound = key_of(2500);
  EXPECT_EQ(forward(*db, bounded).size(), 500u);
  EXPECT_EQ(backward(*db, bounded).size(), 500u);
  EXPECT_EQ(fs->tables_opened.load() - before, 1);
  EXPECT_EQ(forward(*db, ReadOptions()).size(), 2000u);
  EXPECT_EQ(fs->tables_opened.load() - before, 4);
}

// Deeper levels hold many tables, sorted and disjoint: an iterator takes
// the run of them that meets its bounds. Bounds anywhere (on a key, between
// keys, before and after every key, empty ranges) give exactly the keys in
// [lower, upper); a narrow range opens only the tables it needs.
TEST(DBIterateBoundsTest, DeeperLevelsGiveTheRunOfTablesInsideTheBounds) {
  test::ScratchDir dir;
  auto fs = std::make_shared<CountingFileSystem>();
  Options options;
  options.file_system = fs;
  options.target_file_bytes = 16 << 10;
  constexpr int kKeys = 6000;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  std::vector<std::string> all;
  for (int i = 0; i < kKeys; ++i) {
    all.push_back(key_of(2 * i));  // odd numbers fall between keys
    FSDB_ASSERT_OK(db->put(all.back(), std::string(60, 'v')));
  }
  FSDB_ASSERT_OK(db->compact_range(std::nullopt, std::nullopt));
  ASSERT_EQ(*db->property("fsdb.num-files-at-level0"), "0");
  ASSERT_GE(std::stoi(*db->property("fsdb.num-files-at-level1")), 20) << "many tables";
  ASSERT_NO_FATAL_FAILURE(reopen_with_a_cold_cache(options, dir.path(), &db));

  const int before = fs->tables_opened.load();
  ReadOptions narrow;
  narrow.iterate_lower_bound = key_of(5000);
  narrow.iterate_upper_bound = key_of(5010);
  EXPECT_EQ(forward(*db, narrow).size(), 5u);
  EXPECT_LE(fs->tables_opened.load() - before, 2);

  // Each key alone, as the lower bound (the last key of one table, the
  // first of another) and just past the upper one.
  for (int i = 0; i < kKeys; ++i) {
    ReadOptions one;
    one.iterate_lower_bound = all[i];
    one.iterate_upper_bound = key_of(2 * i + 1);
    ASSERT_EQ(forward(*db, one), std::vector<std::string>{all[i]});
    ReadOptions before_it;
    before_it.iterate_lower_bound = key_of(2 * i - 3);
    before_it.iterate_upper_bound = all[i];
    ASSERT_EQ(backward(*db, before_it),
              i == 0 ? std::vector<std::string>{} : std::vector<std::string>{all[i - 1]});
  }
  std::mt19937 rng(7);
  for (int round = 0; round < 300; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::optional<std::string> lower;
    std::optional<std::string> upper;
    if (round % 7 != 0) lower = key_of(static_cast<int>(rng() % (2 * kKeys + 10)) - 5);
    if (round % 11 != 0) upper = key_of(static_cast<int>(rng() % (2 * kKeys + 10)) - 5);
    ReadOptions bounded;
    bounded.iterate_lower_bound = lower;
    bounded.iterate_upper_bound = upper;
    std::vector<std::string> expected;
    for (const std::string& key : all) {
      if ((!lower || key >= *lower) && (!upper || key < *upper)) expected.push_back(key);
    }
    ASSERT_EQ(forward(*db, bounded), expected);
    ASSERT_EQ(backward(*db, bounded), expected);
  }
}

}  // namespace
}  // namespace fsdb
