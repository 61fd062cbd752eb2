// engine/: the merging iterator and the DB iterator, against a model.
#include <functional>
#include <map>
#include <new>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <atomic>
#include <chrono>
#include <thread>

#include "engine/db_iterator.h"
#include "engine/merging_iterator.h"
#include "sstable/table_builder.h"
#include "sstable/table_reader.h"
#include "tests/support/test_util.h"
#include "tests/support/vector_iterator.h"
#include "util/background_thread.h"

namespace fsdb {
namespace {

using test::VectorIterator;
using test::Version;

std::string key_of(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "k%04d", i);
  return buf;
}

// Random versions spread over `sources` children, each (key, seq) unique.
std::vector<std::vector<Version>> random_sources(std::mt19937_64& rng, int sources, int keys,
                                                 int versions, std::vector<Version>* all) {
  std::vector<std::vector<Version>> out(sources);
  for (int i = 0; i < versions; ++i) {
    Version v{key_of(static_cast<int>(rng() % keys)), static_cast<SequenceNumber>(i + 1),
              rng() % 4 == 0 ? ValueKind::kTombstone : ValueKind::kValue,
              "v" + std::to_string(i + 1)};
    if (v.kind == ValueKind::kTombstone) v.value.clear();
    all->push_back(v);
    out[rng() % sources].push_back(v);
  }
  std::sort(all->begin(), all->end(), test::internal_less);
  return out;
}

std::unique_ptr<InternalIterator> merge(const std::vector<std::vector<Version>>& sources) {
  std::vector<std::unique_ptr<InternalIterator>> children;
  for (const auto& s : sources) children.push_back(std::make_unique<VectorIterator>(s));
  return new_merging_iterator(std::move(children));
}

bool same(const InternalIterator& it, const Version& v) {
  return it.user_key() == v.key && it.sequence() == v.seq && it.kind() == v.kind &&
         it.value() == v.value;
}

TEST(MergingIteratorTest, YieldsTheSortedUnionBothWays) {
  std::mt19937_64 rng(test::test_seed(1));
  std::vector<Version> all;
  auto sources = random_sources(rng, 5, 50, 400, &all);
  auto it = merge(sources);
  size_t i = 0;
  for (it->seek_to_first(); it->valid(); it->next(), ++i) {
    ASSERT_LT(i, all.size());
    ASSERT_TRUE(same(*it, all[i])) << i;
  }
  EXPECT_EQ(i, all.size());
  i = all.size();
  for (it->seek_to_last(); it->valid(); it->prev()) {
    ASSERT_GT(i, 0u);
    --i;
    ASSERT_TRUE(same(*it, all[i])) << i;
  }
  EXPECT_EQ(i, 0u);
  FSDB_EXPECT_OK(it->status());
}

TEST(MergingIteratorTest, RandomWalkWithDirectionChangesMatchesTheModel) {
  const uint64_t seed = test::test_seed(2);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<Version> all;
  auto sources = random_sources(rng, 4, 30, 300, &all);
  auto it = merge(sources);
  long pos = -1;  // model position in `all`; -1 or all.size() = invalid
  for (int step = 0; step < 5000; ++step) {
    const int op = static_cast<int>(rng() % 10);
    const bool model_valid = pos >= 0 && pos < static_cast<long>(all.size());
    if (op < 4 && model_valid) {
      it->next();
      ++pos;
    } else if (op < 8 && model_valid) {
      it->prev();
      --pos;
    } else if (op == 8) {
      const std::string k = key_of(static_cast<int>(rng() % 32));
      const SequenceNumber s = rng() % 320;
      it->seek(k, s);
      const Version target{k, s, kValueKindForSeek, {}};
      pos = std::lower_bound(all.begin(), all.end(), target, test::internal_less) - all.begin();
    } else {
      const std::string k = key_of(static_cast<int>(rng() % 32));
      const SequenceNumber s = rng() % 320;
      it->seek_for_prev(k, s);
      const Version target{k, s, ValueKind::kTombstone, {}};
      pos =
          (std::upper_bound(all.begin(), all.end(), target, test::internal_less) - all.begin()) - 1;
    }
    const bool expect_valid = pos >= 0 && pos < static_cast<long>(all.size());
    ASSERT_EQ(it->valid(), expect_valid) << "step " << step;
    if (expect_valid) {
      ASSERT_TRUE(same(*it, all[pos])) << "step " << step;
    }
  }
}

// The model of what a DB iterator at `seq` must show.
std::map<std::string, std::string> visible(const std::vector<Version>& all, SequenceNumber seq) {
  std::map<std::string, std::optional<std::string>> newest;
  std::map<std::string, SequenceNumber> newest_seq;
  for (const Version& v : all) {
    if (v.seq > seq) continue;
    auto it = newest_seq.find(v.key);
    if (it != newest_seq.end() && it->second > v.seq) continue;
    newest_seq[v.key] = v.seq;
    newest[v.key] =
        v.kind == ValueKind::kValue ? std::optional<std::string>(v.value) : std::nullopt;
  }
  std::map<std::string, std::string> out;
  for (auto& [k, v] : newest) {
    if (v) out[k] = *v;
  }
  return out;
}

TEST(DBIteratorTest, ShowsTheNewestVisibleValueOfEachLiveKey) {
  std::mt19937_64 rng(test::test_seed(3));
  std::vector<Version> all;
  auto sources = random_sources(rng, 3, 40, 500, &all);
  for (SequenceNumber seq : {SequenceNumber{0}, SequenceNumber{1}, SequenceNumber{77},
                             SequenceNumber{250}, SequenceNumber{500}, kMaxSequenceNumber}) {
    SCOPED_TRACE("seq " + std::to_string(seq));
    const auto model = visible(all, seq);
    auto it = new_db_iterator(merge(sources), seq);
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
      ASSERT_EQ(it->value(), r->second);
    }
    EXPECT_EQ(r, model.rend());
  }
}

using FlatModel = std::vector<std::pair<std::string, std::string>>;

// `steps` random moves and seeks of `it` (seek_to_first/last too when
// `end_seeks`), each checked against `flat`, the keys it must show in order.
void walk_against_model(Iterator* it, const FlatModel& flat, std::mt19937_64& rng, int keys,
                        int steps, bool end_seeks) {
  long pos = -1;
  for (int step = 0; step < steps; ++step) {
    const int op = static_cast<int>(rng() % (end_seeks ? 12 : 10));
    const bool model_valid = pos >= 0 && pos < static_cast<long>(flat.size());
    const std::string target = key_of(static_cast<int>(rng() % (keys + 2)));
    if (op < 4 && model_valid) {
      it->next();
      ++pos;
    } else if (op < 8 && model_valid) {
      it->prev();
      --pos;
    } else if (op == 8) {
      it->seek(target);
      pos = std::lower_bound(flat.begin(), flat.end(), std::make_pair(target, std::string())) -
            flat.begin();
    } else if (op == 9) {
      it->seek_for_prev(target);
      pos = std::upper_bound(flat.begin(), flat.end(), target,
                             [](const std::string& t, const auto& e) { return t < e.first; }) -
            flat.begin() - 1;
    } else if (op == 10) {
      it->seek_to_first();
      pos = 0;
    } else {
      it->seek_to_last();
      pos = static_cast<long>(flat.size()) - 1;
    }
    const bool expect_valid = pos >= 0 && pos < static_cast<long>(flat.size());
    ASSERT_EQ(it->valid(), expect_valid) << "step " << step << " op " << op;
    if (expect_valid) {
      ASSERT_EQ(it->key(), flat[pos].first) << "step " << step << " op " << op;
      ASSERT_EQ(it->value(), flat[pos].second) << "step " << step;
    }
  }
  FSDB_EXPECT_OK(it->status());
}

// With 6 keys each has ~65 versions, ~16 of them above the read's sequence:
// the iterator seeks past runs of them instead of stepping (kMaxSequentialSkips).
class DBIteratorRandomTest : public ::testing::TestWithParam<int> {};

TEST_P(DBIteratorRandomTest, RandomSeeksAndDirectionChangesMatchTheModel) {
  const int keys = GetParam();
  const uint64_t seed = test::test_seed(4);
  SCOPED_TRACE("seed " + std::to_string(seed) + ", keys " + std::to_string(keys));
  std::mt19937_64 rng(seed);
  std::vector<Version> all;
  auto sources = random_sources(rng, 4, keys, 400, &all);
  const SequenceNumber seq = 300;
  const auto model = visible(all, seq);
  const FlatModel flat(model.begin(), model.end());
  auto it = new_db_iterator(merge(sources), seq);
  ASSERT_NO_FATAL_FAILURE(walk_against_model(it.get(), flat, rng, keys, 5000, /*end_seeks=*/false));
}

// Counts the steps and seeks the DB iterator asks of the versions below it.
class CountingIterator final : public InternalIterator {
 public:
  explicit CountingIterator(std::vector<Version> versions) : base_(std::move(versions)) {}
  bool valid() const override { return base_.valid(); }
  void seek_to_first() override { base_.seek_to_first(); }
  void seek_to_last() override { base_.seek_to_last(); }
  void seek(std::string_view key, SequenceNumber seq) override {
    ++seeks;
    base_.seek(key, seq);
  }
  void seek_for_prev(std::string_view key, SequenceNumber seq) override {
    ++seeks;
    base_.seek_for_prev(key, seq);
  }
  void next() override {
    ++steps;
    base_.next();
  }
  void prev() override {
    ++steps;
    base_.prev();
  }
  std::string_view user_key() const override { return base_.user_key(); }
  SequenceNumber sequence() const override { return base_.sequence(); }
  ValueKind kind() const override { return base_.kind(); }
  std::string_view value() const override { return base_.value(); }
  Status status() const override { return base_.status(); }

  int steps = 0;
  int seeks = 0;

 private:
  VectorIterator base_;
};

// A key with thousands of versions the read cannot see (written after its
// sequence) or must pass over (under a tombstone) costs a few steps and one
// seek, not a step per version; versions at sequence 0 (a compaction's) too.
TEST(DBIteratorTest, ManyVersionsOfOneKeyArePassedWithASeek) {
  std::vector<Version> versions;
  versions.push_back({"a", 1, ValueKind::kValue, "old a"});
  for (SequenceNumber seq = 2; seq <= 5000; ++seq) {
    versions.push_back({"a", seq, ValueKind::kValue, "a" + std::to_string(seq)});
  }
  versions.push_back({"b", 0, ValueKind::kValue, "b at 0"});
  for (SequenceNumber seq = 5001; seq <= 9000; ++seq) {
    versions.push_back({"b", seq, ValueKind::kValue, "b" + std::to_string(seq)});
  }
  versions.push_back({"b", 9001, ValueKind::kTombstone, ""});
  versions.push_back({"c", 9002, ValueKind::kValue, "c"});

  {
    SCOPED_TRACE("a snapshot at sequence 1: 4999 newer versions of a above it");
    auto counting = std::make_unique<CountingIterator>(versions);
    CountingIterator* count = counting.get();
    auto it = new_db_iterator(std::move(counting), 1);
    it->seek_to_first();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), "a");
    EXPECT_EQ(it->value(), "old a");
    EXPECT_LE(count->steps, 20);
    EXPECT_EQ(count->seeks, 1);
    it->next();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), "b");
    EXPECT_EQ(it->value(), "b at 0");
    it->next();
    EXPECT_FALSE(it->valid());
  }
  {
    SCOPED_TRACE("the latest state: a's older versions, then b under its tombstone");
    auto counting = std::make_unique<CountingIterator>(versions);
    CountingIterator* count = counting.get();
    auto it = new_db_iterator(std::move(counting), kMaxSequenceNumber);
    it->seek_to_first();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->value(), "a5000");
    it->next();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), "c");
    EXPECT_LE(count->steps, 40);
    EXPECT_EQ(count->seeks, 2);  // past a's versions, past b's (the one at 0 included)
    it->next();
    EXPECT_FALSE(it->valid());
    FSDB_EXPECT_OK(it->status());
  }
  // Backward, the versions of a key arrive oldest first: the newest visible
  // one is read with a seek, and the run passed with another.
  {
    SCOPED_TRACE("backward, a snapshot at sequence 1");
    auto counting = std::make_unique<CountingIterator>(versions);
    CountingIterator* count = counting.get();
    auto it = new_db_iterator(std::move(counting), 1);
    it->seek_to_last();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), "b");
    EXPECT_EQ(it->value(), "b at 0");
    it->prev();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), "a");
    EXPECT_EQ(it->value(), "old a");
    it->prev();
    EXPECT_FALSE(it->valid());
    EXPECT_LE(count->steps, 60);
    EXPECT_LE(count->seeks, 6);
  }
  {
    SCOPED_TRACE("backward, the latest state");
    auto counting = std::make_unique<CountingIterator>(versions);
    CountingIterator* count = counting.get();
    auto it = new_db_iterator(std::move(counting), kMaxSequenceNumber);
    it->seek_to_last();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), "c");
    it->prev();  // b is deleted: a's newest version
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->key(), "a");
    EXPECT_EQ(it->value(), "a5000");
    it->prev();
    EXPECT_FALSE(it->valid());
    FSDB_EXPECT_OK(it->status());
    EXPECT_LE(count->steps, 60);
    EXPECT_LE(count->seeks, 6);
  }
  {
    SCOPED_TRACE("a turn from forward to backward over a's 4999 hidden versions");
    auto counting = std::make_unique<CountingIterator>(versions);
    CountingIterator* count = counting.get();
    auto it = new_db_iterator(std::move(counting), 1);
    it->seek("b");
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->value(), "b at 0");
    const int steps_before = count->steps;
    it->prev();
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->value(), "old a");
    it->next();  // and forward again, past a's hidden versions
    ASSERT_TRUE(it->valid());
    EXPECT_EQ(it->value(), "b at 0");
    EXPECT_LE(count->steps - steps_before, 60);
  }
}

INSTANTIATE_TEST_SUITE_P(FewAndManyVersionsPerKey, DBIteratorRandomTest, ::testing::Values(40, 6));

// Iterate bounds: every move and seek, in both directions, sees exactly the
// model's keys in [lower, upper), whatever the bounds (absent, empty, inverted,
// between keys or on them).
TEST(DBIteratorTest, BoundsKeepEveryMoveInsideThem) {
  const uint64_t seed = test::test_seed(6);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  for (int round = 0; round < 60; ++round) {
    const int keys = round % 2 == 0 ? 30 : 6;
    std::vector<Version> all;
    auto sources = random_sources(rng, 3, keys, 300, &all);
    const SequenceNumber seq = 100 + rng() % 250;
    const auto random_bound = [&]() -> std::optional<std::string> {
      if (rng() % 4 == 0) return std::nullopt;
      std::string b = key_of(static_cast<int>(rng() % (keys + 2)));
      if (rng() % 3 == 0) b += '\0';  // between two keys
      return b;
    };
    IterateBounds bounds{random_bound(), random_bound()};
    SCOPED_TRACE("round " + std::to_string(round) + " lower " + bounds.lower.value_or("-") +
                 " upper " + bounds.upper.value_or("-"));
    FlatModel flat;
    for (const auto& [k, v] : visible(all, seq)) {
      if (bounds.lower && k < *bounds.lower) continue;
      if (bounds.upper && k >= *bounds.upper) continue;
      flat.emplace_back(k, v);
    }
    auto it = new_db_iterator(merge(sources), seq, nullptr, bounds);
    ASSERT_NO_FATAL_FAILURE(walk_against_model(it.get(), flat, rng, keys, 300, /*end_seeks=*/true));
  }
}

// A caller's mistake, answered without undefined behaviour (AddressSanitizer
// watches): moving an iterator off either end, or never positioned, does
// nothing and reads empty.
TEST(DBIteratorTest, MovingAnIteratorThatIsNotValidDoesNothing) {
  std::mt19937_64 rng(test::test_seed(5));
  std::vector<Version> all;
  auto sources = random_sources(rng, 3, 40, 300, &all);
  auto it = new_db_iterator(merge(sources), kMaxSequenceNumber);
  const auto expect_not_valid = [&](const char* where) {
    SCOPED_TRACE(where);
    EXPECT_FALSE(it->valid());
    EXPECT_TRUE(it->key().empty());
    EXPECT_TRUE(it->value().empty());
    FSDB_EXPECT_OK(it->status());
  };
  it->next();
  it->prev();
  expect_not_valid("never positioned");
  it->seek_to_last();
  ASSERT_TRUE(it->valid());
  it->next();
  expect_not_valid("past the last key");
  it->next();
  it->prev();
  expect_not_valid("moved past the last key");
  it->seek_to_first();
  ASSERT_TRUE(it->valid());
  it->prev();
  it->prev();
  it->next();
  expect_not_valid("moved before the first key");
  it->seek_to_first();
  ASSERT_TRUE(it->valid()) << "a seek positions it again";
}

TEST(DBIteratorTest, EmptyAndAllDeleted) {
  auto empty = new_db_iterator(std::make_unique<VectorIterator>(std::vector<Version>{}), 10);
  empty->seek_to_first();
  EXPECT_FALSE(empty->valid());
  empty->seek_to_last();
  EXPECT_FALSE(empty->valid());
  std::vector<Version> deleted = {{"a", 1, ValueKind::kValue, "1"},
                                  {"a", 2, ValueKind::kTombstone, ""},
                                  {"b", 3, ValueKind::kValue, "3"},
                                  {"b", 4, ValueKind::kTombstone, ""}};
  auto it = new_db_iterator(std::make_unique<VectorIterator>(deleted), 10);
  it->seek_to_first();
  EXPECT_FALSE(it->valid());
  it->seek_for_prev("z");
  EXPECT_FALSE(it->valid());
  auto old = new_db_iterator(std::make_unique<VectorIterator>(deleted), 3);
  old->seek_to_last();
  ASSERT_TRUE(old->valid());
  EXPECT_EQ(old->key(), "b");
  old->prev();
  EXPECT_FALSE(old->valid()) << "a was deleted at 2";
}

// A table file of `entries` keys in 256-byte blocks, opened through a file
// whose reads run `before_read` first once `armed` is set: a delay or an
// exception for the readahead tests below.
class HookedFile final : public RandomAccessFile {
 public:
  explicit HookedFile(std::unique_ptr<RandomAccessFile> base) : base_(std::move(base)) {}
  Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    if (armed.load()) before_read();
    return base_->read(offset, n, result, scratch);
  }
  Status size(uint64_t* bytes) const override { return base_->size(bytes); }
  const std::string& path() const override { return base_->path(); }
  std::function<void()> before_read;  // set before arming
  mutable std::atomic<bool> armed{false};

 private:
  std::unique_ptr<RandomAccessFile> base_;
};

struct HookedTable {
  std::unique_ptr<TableReader> reader;
  HookedFile* file = nullptr;  // owned by the reader
};

TableOptions small_block_options() {
  TableOptions options;
  options.block_bytes = 256;
  return options;
}

void build_table(const std::string& path, int entries) {
  std::unique_ptr<TableBuilder> builder;
  FSDB_ASSERT_OK(TableBuilder::open(*posix_file_system(), path, small_block_options(), &builder));
  for (int i = 0; i < entries; ++i) {
    FSDB_ASSERT_OK(builder->add(key_of(i), 1, ValueKind::kValue, std::string(50, 'v')));
  }
  FSDB_ASSERT_OK(builder->finish());
}

HookedTable open_hooked(const std::string& path, uint64_t number,
                        std::function<void()> before_read) {
  HookedTable t;
  std::unique_ptr<RandomAccessFile> file;
  EXPECT_TRUE(posix_file_system()->new_random_access_file(path, &file).ok());
  auto hooked = std::make_unique<HookedFile>(std::move(file));
  hooked->before_read = std::move(before_read);
  t.file = hooked.get();
  uint64_t size = 0;
  EXPECT_TRUE(t.file->size(&size).ok());
  EXPECT_TRUE(
      TableReader::open(small_block_options(), std::move(hooked), size, path, number, &t.reader)
          .ok());
  return t;
}

// Regression: the DB iterator released its pins before its internal
// iterator, whose table iterators wait in their destructors for blocks being
// read ahead from their tables — so a table whose only owner was the pin was
// freed while the readahead thread still read from it (found by the crash
// harness under ThreadSanitizer, with a compaction dropping the table cache's
// reference in that window). Here the pin is the table's only owner and its
// reads are slow, so a block is being read ahead when the iterator goes: with
// the old order ASan reports a use after free and TSan a race, every run.
TEST(DBIteratorTest, DroppedWhileABlockIsReadAheadKeepsItsTableUntilTheReadEnds) {
  test::ScratchDir dir;
  const std::string path = dir.file("000005.sst");
  build_table(path, 2000);
  BackgroundThread readahead(16, "test:readahead");
  for (int round = 0; round < 3; ++round) {
    HookedTable table =
        open_hooked(path, 5, [] { std::this_thread::sleep_for(std::chrono::milliseconds(5)); });
    ASSERT_NE(table.reader, nullptr);
    HookedFile* const slow_file = table.file;
    std::shared_ptr<const TableReader> reader(std::move(table.reader));
    TableReadOptions ro;
    ro.readahead = &readahead;
    auto it = new_db_iterator(reader->new_iterator(ro), 1, reader);
    reader.reset();  // the pin is the table's only owner now
    int n = 0;
    for (it->seek_to_first(); it->valid() && n < 300; it->next()) ++n;
    FSDB_ASSERT_OK(it->status());
    EXPECT_EQ(n, 300);
    slow_file->armed = true;  // the blocks read ahead from now on take 5 ms each
    for (int i = 0; i < 60 && it->valid(); ++i) it->next();
    it.reset();  // must wait for the read in flight before the table goes
  }
}

// A read that runs out of memory (std::bad_alloc) while a scan reads ahead:
// on the readahead thread it becomes the block's error (which the iterator
// meets by reading the block again itself, and so throws to its caller), and
// the iterator can still be destroyed. It used to end the process
// (std::terminate on the readahead thread), or leave the iterator's destructor
// waiting forever for a block it had started reading itself.
TEST(TableIteratorTest, ReadAheadThatRunsOutOfMemoryNeitherEndsTheProcessNorHangs) {
  test::ScratchDir dir;
  const std::string path = dir.file("000007.sst");
  build_table(path, 4000);
  BackgroundThread readahead(16, "test:readahead");
  for (int round = 0; round < 20; ++round) {
    HookedTable table = open_hooked(path, 7, [] { throw std::bad_alloc(); });
    ASSERT_NE(table.reader, nullptr);
    TableReadOptions ro;
    ro.readahead = &readahead;
    ro.fill_cache = false;
    std::unique_ptr<InternalIterator> it = table.reader->new_iterator(ro);
    int n = 0;
    for (it->seek_to_first(); it->valid() && n < 100 + 40 * round; it->next()) ++n;
    FSDB_ASSERT_OK(it->status());
    table.file->armed = true;  // blocks being read ahead now fail
    bool thrown = false;
    try {
      while (it->valid()) it->next();
    } catch (const std::bad_alloc&) {
      thrown = true;
    }
    EXPECT_TRUE(thrown || !it->status().ok()) << "round " << round;
    it.reset();  // waits for the reads in flight
  }
}

}  // namespace
}  // namespace fsdb
