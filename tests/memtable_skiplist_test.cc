// Unit tests of fsdb::ConcurrentSkipList: every method of the seed API, the
// limits, seal, snapshots, and the MVCC interface the engine uses.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "fsdb/skiplist.h"
#include "memtable/skiplist_core.h"
#include "tests/support/test_util.h"
#include "util/internal_iterator.h"
#include "util/internal_key.h"

namespace fsdb {
namespace {

std::vector<std::string> keys_of(const Cursor& start) {
  std::vector<std::string> out;
  Cursor c = start;
  for (; c.valid(); c.next()) out.emplace_back(c.entry().key);
  return out;
}

TEST(SkipListTest, EmptyList) {
  ConcurrentSkipList list;
  EXPECT_TRUE(list.empty());
  EXPECT_EQ(list.len(), 0u);
  EXPECT_FALSE(list.get("a").has_value());
  EXPECT_FALSE(list.cursor().valid());
  EXPECT_FALSE(list.cursor_at("").valid());
  EXPECT_EQ(list.memory_usage(), 0u);
  EXPECT_EQ(list.memory_reserved(), 0u);
  EXPECT_EQ(list.avg_key_size(), 0.0);
  EXPECT_FALSE(list.is_sealed());
  EXPECT_FALSE(list.is_under_backpressure());
}

TEST(SkipListTest, InsertGetFirstValueWins) {
  ConcurrentSkipList list;
  EXPECT_TRUE(list.insert("k1", "v1"));
  EXPECT_FALSE(list.insert("k1", "other"));
  EXPECT_EQ(list.try_insert("k1", "again"), InsertResult::kDuplicateKey);
  EXPECT_EQ(list.try_insert("k2", "v2"), InsertResult::kOk);
  auto got = list.get("k1");
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->value, "v1");
  EXPECT_FALSE(got->is_tombstone);
  EXPECT_EQ(list.get_live("k2"), std::optional<std::string_view>("v2"));
  EXPECT_TRUE(list.contains("k2"));
  EXPECT_FALSE(list.contains("k3"));
  EXPECT_EQ(list.len(), 2u);
  EXPECT_EQ(list.total_inserts(), 4u);  // failures included
}

TEST(SkipListTest, RemoveTombstones) {
  ConcurrentSkipList list;
  EXPECT_FALSE(list.remove("missing"));
  ASSERT_TRUE(list.insert("k", "v"));
  EXPECT_TRUE(list.remove("k"));
  EXPECT_FALSE(list.remove("k"));  // already removed
  auto got = list.get("k");
  ASSERT_TRUE(got.has_value());  // get returns the tombstone
  EXPECT_TRUE(got->is_tombstone);
  EXPECT_FALSE(list.get_live("k").has_value());
  EXPECT_FALSE(list.contains("k"));
  EXPECT_EQ(list.len(), 0u);
  EXPECT_EQ(list.entry_count(), 2u);
  // A removed key does not come back through insert: first value wins for good.
  EXPECT_EQ(list.try_insert("k", "v2"), InsertResult::kDuplicateKey);
  EXPECT_FALSE(list.contains("k"));
  // The cursor shows the tombstone, once.
  Cursor c = list.cursor();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(c.entry().key, "k");
  EXPECT_TRUE(c.entry().is_tombstone);
  EXPECT_FALSE(c.next());
}

TEST(SkipListTest, GetOrInsert) {
  ConcurrentSkipList list;
  auto [v1, inserted1] = list.get_or_insert("k", "first");
  EXPECT_TRUE(inserted1);
  EXPECT_EQ(v1, "first");
  auto [v2, inserted2] = list.get_or_insert("k", "second");
  EXPECT_FALSE(inserted2);
  EXPECT_EQ(v2, "first");
  ASSERT_TRUE(list.remove("k"));
  auto [v3, inserted3] = list.get_or_insert("k", "third");
  EXPECT_FALSE(inserted3);
  EXPECT_EQ(v3, "");
  EXPECT_EQ(list.len(), 0u);
}

TEST(SkipListTest, InsertBatchAndGetMany) {
  ConcurrentSkipList list;
  std::vector<std::pair<std::string_view, std::string_view>> batch = {
      {"b", "2"}, {"a", "1"}, {"b", "dup"}, {"c", "3"}};
  BatchResult r = list.insert_batch(batch);
  EXPECT_EQ(r.succeeded, 3u);
  EXPECT_EQ(r.failed, 1u);
  std::vector<std::string_view> keys = {"c", "x", "a", "b", "a"};
  auto got = list.get_many(keys);
  ASSERT_EQ(got.size(), keys.size());
  EXPECT_EQ(got[0], std::optional<std::string_view>("3"));
  EXPECT_FALSE(got[1].has_value());
  EXPECT_EQ(got[2], std::optional<std::string_view>("1"));
  EXPECT_EQ(got[3], std::optional<std::string_view>("2"));
  EXPECT_EQ(got[4], std::optional<std::string_view>("1"));
}

// get_many() runs its searches interleaved; every answer must be get_live()'s:
// present, missing (before the first key, between keys, past the last),
// removed, repeated within a batch, and batches of every size around the
// number of searches it keeps in flight.
TEST(SkipListTest, GetManyAnswersAsGetLiveDoes) {
  ConcurrentSkipList list;
  std::mt19937 rng(11);
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) {
    std::string key = "k" + std::to_string(i * 2);
    if (i % 97 == 0) key += std::string(1, '\0') + "nul";
    ASSERT_TRUE(list.insert(key, "v" + std::to_string(i)));
    if (i % 5 == 0) {
      ASSERT_TRUE(list.remove(key));  // a tombstone version in front
    }
    keys.push_back(key);
  }
  ASSERT_TRUE(list.insert("", "empty key"));
  std::vector<std::string> probes = {"", "\xff\xff", "a", "k", "k1", "k3", "zzz"};
  for (int i = 0; i < 2000; ++i) {
    probes.push_back(rng() % 3 == 0 ? "k" + std::to_string(rng() % 6000)  // half are missing
                                    : keys[rng() % keys.size()]);
  }
  for (size_t batch : {size_t{0}, size_t{1}, size_t{15}, size_t{16}, size_t{17}, size_t{33},
                       size_t{500}, probes.size()}) {
    for (size_t start = 0; start + batch <= probes.size();
         start += std::max<size_t>(batch, 1) * 7) {
      std::vector<std::string_view> views(probes.begin() + static_cast<ptrdiff_t>(start),
                                          probes.begin() + static_cast<ptrdiff_t>(start + batch));
      if (batch > 2) views[1] = views[0];  // the same key twice in one batch
      const auto got = list.get_many(views);
      ASSERT_EQ(got.size(), views.size());
      for (size_t i = 0; i < views.size(); ++i) {
        ASSERT_EQ(got[i], list.get_live(views[i])) << "batch " << batch << " key " << views[i];
      }
      if (batch == 0) break;
    }
  }
}

TEST(SkipListTest, InsertBatchRespectsLimits) {
  SkipListOptions options;
  options.max_entries = 3;
  ConcurrentSkipList list(options);
  std::vector<std::pair<std::string_view, std::string_view>> batch = {
      {"a", "1"}, {"b", "2"}, {"c", "3"}, {"d", "4"}, {"e", "5"}};
  BatchResult r = list.insert_batch(batch);
  EXPECT_EQ(r.succeeded, 3u);
  EXPECT_EQ(r.failed, 2u);
  EXPECT_EQ(list.entry_count(), 3u);
  EXPECT_TRUE(list.is_sealed());
}

// A write the arena has no memory for is refused with kOutOfMemory without
// sealing, and gives back the room it was admitted into: the limits count
// only entries that are there. (A cap of one arena block stands in for
// memory running out: a large entry needs a block of its own, and so does
// the first tall node, whose region has no block yet.)
TEST(SkipListTest, AWriteRefusedForMemoryLeavesTheLimitsAsTheyWere) {
  using memtable_detail::SkipListCore;
  using memtable_detail::WriteMode;
  using memtable_detail::WriteStatus;
  for (const bool memory_limit : {false, true}) {
    SCOPED_TRACE(memory_limit ? "max_memory_bytes" : "max_entries");
    SkipListOptions options;
    options.arena_block_bytes = 4096;
    options.shards = 1;
    if (memory_limit) {
      options.max_memory_bytes = 600;  // a few small entries
    } else {
      options.max_entries = 3;
    }
    SkipListCore core(options, /*max_arena_blocks=*/1);
    const auto insert = [&](std::string_view key, std::string_view value) {
      return core.write(WriteMode::kInsertIfAbsent, key, value, ValueKind::kValue, 0).status;
    };
    // Small entries until one is in (a tall one is refused: see above).
    int next = 0;
    const auto commit_one = [&] {
      while (next < 1000) {
        const WriteStatus status = insert("k" + std::to_string(next++), "v");
        if (status == WriteStatus::kCommitted) return true;
        EXPECT_EQ(status, WriteStatus::kOutOfMemory);
        EXPECT_FALSE(core.is_sealed());
      }
      return false;
    };
    ASSERT_TRUE(commit_one());
    const std::string large(5000, 'x');  // more than the first block holds: a block of its own
    EXPECT_EQ(insert("b", large), WriteStatus::kOutOfMemory);
    EXPECT_FALSE(core.is_sealed());
    ASSERT_TRUE(commit_one()) << "the refused writes still hold their room";
    EXPECT_FALSE(core.is_sealed());
    if (!memory_limit) {
      ASSERT_TRUE(commit_one());
      EXPECT_TRUE(core.is_sealed()) << "the third entry reaches max_entries";
    }
  }
}

TEST(SkipListTest, UnsignedLexicographicOrder) {
  ConcurrentSkipList list;
  const std::vector<std::string> sorted = {
      std::string(""),   std::string("\0", 1), std::string("A"),   std::string("a"),
      std::string("ab"), std::string("b"),     std::string("\xff")};
  std::vector<std::string> shuffled = sorted;
  std::mt19937 rng(7);
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  for (const auto& k : shuffled) ASSERT_TRUE(list.insert(k, "v:" + k));
  EXPECT_EQ(keys_of(list.cursor()), sorted);
  for (const auto& k : sorted) {
    auto v = list.get_live(k);
    ASSERT_TRUE(v.has_value());
    EXPECT_EQ(*v, "v:" + k);
  }
}

TEST(SkipListTest, EmptyKeysValuesNulBytesAndLargeKeys) {
  ConcurrentSkipList list;
  const std::string nul_key("a\0b", 3);
  const std::string big_key(64 * 1024, 'k');
  const std::string big_value(200 * 1024, 'v');
  ASSERT_TRUE(list.insert("", ""));
  ASSERT_TRUE(list.insert(nul_key, std::string("x\0y", 3)));
  ASSERT_TRUE(list.insert("a", "plain"));
  ASSERT_TRUE(list.insert(big_key, big_value));
  EXPECT_EQ(*list.get_live(""), "");
  EXPECT_EQ(*list.get_live(nul_key), std::string("x\0y", 3));
  EXPECT_FALSE(list.contains(std::string("a\0c", 3)));
  EXPECT_EQ(*list.get_live(big_key), big_value);
  EXPECT_EQ(list.len(), 4u);
  std::vector<std::string> expected = {"", "a", nul_key, big_key};
  EXPECT_EQ(keys_of(list.cursor()), expected);
}

// Tall nodes keep values longer than 16 bytes elsewhere in the arena; every
// reader must find them, whatever their length (including lengths whose
// varint starts with 0x80, and bytes 0x80 0x00 inside the values).
TEST(SkipListTest, ValuesOfEveryLengthReadBackWhereverTheyLive) {
  SkipListOptions options;
  options.arena_block_bytes = 1024;  // many blocks in both regions
  ConcurrentSkipList list(options);
  constexpr int kKeys = 3000;
  std::vector<std::string> keys;
  std::vector<std::string> values;
  for (int i = 0; i < kKeys; ++i) {
    char key[16];
    std::snprintf(key, sizeof(key), "k%05d", i);
    size_t length = static_cast<size_t>(i % 300);
    if (i % 997 == 0) length = 70000;  // bigger than a quarter of a block
    std::string value(length, '\0');
    for (size_t j = 0; j < length; ++j) value[j] = static_cast<char>((i * 31 + j * 0x80) & 0xff);
    keys.emplace_back(key);
    values.push_back(std::move(value));
  }
  // Inserted in a scrambled order, so that neighbours are far apart in memory.
  std::vector<int> order(kKeys);
  for (int i = 0; i < kKeys; ++i) order[static_cast<size_t>(i)] = (i * 1237) % kKeys;
  for (int i : order)
    ASSERT_TRUE(list.insert(keys[static_cast<size_t>(i)], values[static_cast<size_t>(i)]));

  const SkipListSnapshot snapshot = list.snapshot();
  for (size_t i = 0; i < keys.size(); ++i) {
    ASSERT_EQ(list.get_live(keys[i]), values[i]) << keys[i];
    ASSERT_EQ(snapshot.get_live(keys[i]), values[i]) << keys[i];
  }
  std::vector<std::string_view> wanted(keys.begin(), keys.end());
  const auto many = list.get_many(wanted);
  ASSERT_EQ(many.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(many[i], values[i]) << keys[i];
  size_t n = 0;
  for (Cursor c = list.cursor(); c.valid(); c.next(), ++n) {
    ASSERT_LT(n, keys.size());
    ASSERT_EQ(c.entry().key, keys[n]);
    ASSERT_EQ(c.entry().value, values[n]) << keys[n];
  }
  EXPECT_EQ(n, keys.size());
  auto it = list.new_version_iterator();
  n = 0;
  for (it->seek_to_first(); it->valid(); it->next(), ++n) {
    ASSERT_LT(n, keys.size());
    ASSERT_EQ(it->value(), values[n]) << keys[n];
  }
  EXPECT_EQ(n, keys.size());
  n = keys.size();
  for (it->seek_to_last(); it->valid(); it->prev()) {
    ASSERT_GT(n, 0u);
    --n;
    ASSERT_EQ(it->value(), values[n]) << keys[n];
  }
  EXPECT_EQ(n, 0u);

  std::shared_ptr<const FrozenMemtable> frozen = list.seal()->first;
  n = 0;
  for (const Entry& e : *frozen) {
    ASSERT_LT(n, keys.size());
    ASSERT_EQ(e.value, values[n]) << keys[n];
    ++n;
  }
  EXPECT_EQ(n, keys.size());
  for (size_t i = 0; i < keys.size(); i += 7) ASSERT_EQ(frozen->get_live(keys[i]), values[i]);
}

TEST(SkipListTest, CursorStartAndLowerBound) {
  ConcurrentSkipList list;
  for (const char* k : {"b", "d", "f"}) ASSERT_TRUE(list.insert(k, k));
  Cursor c = list.cursor();
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(c.entry().key, "b");  // the first real entry, not the head
  EXPECT_EQ(keys_of(list.cursor_at("c")), (std::vector<std::string>{"d", "f"}));
  EXPECT_EQ(keys_of(list.cursor_at("d")), (std::vector<std::string>{"d", "f"}));
  EXPECT_EQ(keys_of(list.cursor_at("")), (std::vector<std::string>{"b", "d", "f"}));
  EXPECT_FALSE(list.cursor_at("g").valid());
  c.seek("e");
  ASSERT_TRUE(c.valid());
  EXPECT_EQ(c.entry().key, "f");
  EXPECT_FALSE(c.next());
  EXPECT_FALSE(c.valid());
  // Range-for.
  std::string joined;
  for (const Entry& e : list.cursor()) joined += e.key;
  EXPECT_EQ(joined, "bdf");
}

TEST(SkipListTest, SequencesIncreaseInWriteOrder) {
  ConcurrentSkipList list;
  ASSERT_TRUE(list.insert("x", "1"));
  ASSERT_TRUE(list.insert("a", "2"));
  ASSERT_TRUE(list.remove("x"));
  Cursor c = list.cursor();
  ASSERT_TRUE(c.valid());
  const uint64_t seq_a = c.entry().seq;
  ASSERT_TRUE(c.next());
  const uint64_t seq_x_tombstone = c.entry().seq;
  EXPECT_TRUE(c.entry().is_tombstone);
  EXPECT_LT(seq_a, seq_x_tombstone);
}

TEST(SkipListTest, SnapshotHidesLaterInsertsAndRemoves) {
  ConcurrentSkipList list;
  ASSERT_TRUE(list.insert("a", "1"));
  ASSERT_TRUE(list.insert("b", "2"));
  SkipListSnapshot snap = list.snapshot();
  ASSERT_TRUE(list.insert("c", "3"));
  ASSERT_TRUE(list.remove("a"));
  // The live list sees the changes...
  EXPECT_FALSE(list.contains("a"));
  EXPECT_TRUE(list.contains("c"));
  // ...the snapshot sees neither the insert nor the remove.
  EXPECT_EQ(snap.get_live("a"), std::optional<std::string_view>("1"));
  EXPECT_FALSE(snap.get("a")->is_tombstone);
  EXPECT_FALSE(snap.get("c").has_value());
  EXPECT_FALSE(snap.contains("c"));
  EXPECT_EQ(snap.count(), 2u);
  std::vector<std::string> keys;
  for (const Entry& e : snap) {
    EXPECT_FALSE(e.is_tombstone);
    keys.emplace_back(e.key);
  }
  EXPECT_EQ(keys, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(keys_of(snap.cursor_at("b")), (std::vector<std::string>{"b"}));
  // A snapshot taken now sees the tombstone.
  SkipListSnapshot later = list.snapshot();
  EXPECT_GT(later.sequence(), snap.sequence());
  EXPECT_TRUE(later.get("a")->is_tombstone);
  EXPECT_EQ(later.count(), 2u);  // b, c
}

TEST(SkipListTest, SnapshotOutlivesList) {
  std::optional<SkipListSnapshot> snap;
  {
    ConcurrentSkipList list;
    ASSERT_TRUE(list.insert("k", "v"));
    snap.emplace(list.snapshot());
  }
  EXPECT_EQ(snap->get_live("k"), std::optional<std::string_view>("v"));
}

TEST(SkipListTest, MaxEntriesAutoSeal) {
  SkipListOptions options;
  options.max_entries = 10;
  ConcurrentSkipList list(options);
  EXPECT_EQ(list.max_entries(), 10u);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(list.insert("k" + std::to_string(i), "v"));
  EXPECT_FALSE(list.is_under_backpressure());
  ASSERT_TRUE(list.insert("k8", "v"));
  EXPECT_TRUE(list.is_under_backpressure());  // 9 of 10 = 90%
  EXPECT_FALSE(list.is_sealed());
  ASSERT_TRUE(list.insert("k9", "v"));
  EXPECT_TRUE(list.is_sealed());  // the limit is reached: rotation is due
  EXPECT_EQ(list.try_insert("k10", "v"), InsertResult::kSealed);
  EXPECT_FALSE(list.remove("k1"));
  EXPECT_EQ(list.entry_count(), 10u);
  EXPECT_EQ(list.len(), 10u);
  // A list sealed by its limit can still be rotated, once.
  auto sealed = list.seal();
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(sealed->first->len(), 10u);
  EXPECT_EQ(sealed->second->max_entries(), 10u);
  EXPECT_FALSE(list.seal().has_value());
}

TEST(SkipListTest, MaxMemoryAutoSealOvershootsByAtMostOneEntry) {
  SkipListOptions options;
  options.max_memory_bytes = 4096;
  ConcurrentSkipList list(options);
  const std::string value(100, 'v');
  size_t largest_entry = 0;
  int accepted = 0;
  InsertResult last = InsertResult::kOk;
  for (int i = 0; i < 1000; ++i) {
    const size_t before = list.memory_usage();
    last = list.try_insert("key" + std::to_string(i), value);
    if (last != InsertResult::kOk) break;
    largest_entry = std::max(largest_entry, list.memory_usage() - before);
    ++accepted;
  }
  EXPECT_GT(accepted, 10);
  EXPECT_TRUE(last == InsertResult::kOutOfMemory || last == InsertResult::kSealed);
  EXPECT_TRUE(list.is_sealed());
  EXPECT_GE(list.memory_usage(), options.max_memory_bytes);
  EXPECT_LT(list.memory_usage(), options.max_memory_bytes + largest_entry);
  EXPECT_TRUE(list.is_under_backpressure());
  EXPECT_EQ(list.try_insert("more", "v"), InsertResult::kSealed);
}

TEST(SkipListTest, RefusedWriteOnFullListReportsOutOfMemory) {
  SkipListOptions options;
  options.max_memory_bytes = 1;  // the first entry reaches it
  ConcurrentSkipList list(options);
  EXPECT_EQ(list.try_insert("a", "1"), InsertResult::kOk);
  EXPECT_TRUE(list.is_sealed());
  EXPECT_EQ(list.try_insert("b", "2"), InsertResult::kSealed);
}

TEST(SkipListTest, NoLimitsNoBackpressure) {
  ConcurrentSkipList list;
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(list.insert(std::to_string(i), "v"));
  EXPECT_FALSE(list.is_under_backpressure());
  EXPECT_FALSE(list.is_sealed());
  EXPECT_EQ(list.max_memory_bytes(), 0u);
}

TEST(SkipListTest, SealFreezesAndRotates) {
  SkipListOptions options;
  options.arena_block_bytes = 4096;
  options.shards = 3;
  ConcurrentSkipList list(options);
  ASSERT_TRUE(list.insert("a", "1"));
  ASSERT_TRUE(list.insert("b", "2"));
  ASSERT_TRUE(list.remove("b"));
  auto sealed = list.seal();
  ASSERT_TRUE(sealed.has_value());
  EXPECT_TRUE(list.is_sealed());
  EXPECT_EQ(list.try_insert("c", "3"), InsertResult::kSealed);  // not kDuplicateKey
  EXPECT_EQ(list.try_insert("a", "again"), InsertResult::kSealed);
  EXPECT_FALSE(list.seal().has_value());
  std::shared_ptr<const FrozenMemtable> frozen = sealed->first;
  std::unique_ptr<ConcurrentSkipList> fresh = std::move(sealed->second);
  EXPECT_EQ(frozen->len(), 1u);
  EXPECT_EQ(frozen->entry_count(), 3u);
  EXPECT_EQ(frozen->get_live("a"), std::optional<std::string_view>("1"));
  EXPECT_TRUE(frozen->get("b")->is_tombstone);
  EXPECT_FALSE(frozen->get_live("b").has_value());
  EXPECT_EQ(keys_of(frozen->cursor()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(frozen->memory_usage(), list.memory_usage());
  EXPECT_GT(frozen->memory_usage(), 0u);
  EXPECT_GE(frozen->memory_reserved(), frozen->memory_usage());
  EXPECT_GT(frozen->memory_utilization(), 0.0);
  EXPECT_LE(frozen->memory_utilization(), 1.0);
  // The fresh list is empty, writable and configured the same.
  EXPECT_TRUE(fresh->empty());
  EXPECT_FALSE(fresh->is_sealed());
  EXPECT_TRUE(fresh->insert("a", "new"));
  EXPECT_EQ(frozen->get_live("a"), std::optional<std::string_view>("1"));
}

TEST(SkipListTest, FrozenMemtableOutlivesList) {
  std::shared_ptr<const FrozenMemtable> frozen;
  {
    auto list = std::make_unique<ConcurrentSkipList>();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(list->insert("k" + std::to_string(i), "v"));
    frozen = list->seal()->first;
  }
  EXPECT_EQ(frozen->len(), 100u);
  size_t n = 0;
  for (const Entry& e : *frozen) {
    EXPECT_EQ(e.value, "v");
    ++n;
  }
  EXPECT_EQ(n, 100u);
}

TEST(SkipListTest, MemoryStatistics) {
  SkipListOptions options;
  options.arena_block_bytes = 1024;
  ConcurrentSkipList list(options);
  for (int i = 0; i < 1000; ++i) {
    char key[17];
    std::snprintf(key, sizeof(key), "%016d", i);
    ASSERT_TRUE(list.insert(key, std::string(100, 'v')));
  }
  EXPECT_DOUBLE_EQ(list.avg_key_size(), 16.0);
  EXPECT_DOUBLE_EQ(list.avg_value_size(), 100.0);
  // 4 bytes per level + 8 packed + 2 length bytes + 116, rounded to 4: 4h + 128;
  // a node of height 3 or more (one in four) keeps its value elsewhere:
  // 4h + 8 + 17 + 2 marker + 1 length + 8 address = 4h + 36, and the 100
  // value bytes. With a mean height of 2: 136 + 8 / 4 = 138 (the mean height
  // of 1000 nodes is within 0.25 of 2 but for one chance in a million).
  const double per_entry = static_cast<double>(list.memory_usage()) / 1000;
  EXPECT_GE(per_entry, 137.0);
  EXPECT_LE(per_entry, 139.0);
  EXPECT_EQ(list.memory_idle(), list.memory_reserved() - list.memory_usage());
  EXPECT_GE(list.memory_reserved(), list.memory_usage());
  // One writing thread: at most 1/16 of the first block behind.
  EXPECT_LE(list.approximate_memory_usage(), list.memory_usage());
  EXPECT_LT(list.memory_usage() - list.approximate_memory_usage(), 1024u / 16);
}

// ---------------------------------------------------------------- MVCC interface

TEST(SkipListMvccTest, AddAndReadAtSequence) {
  ConcurrentSkipList list;  // no limits, as the engine creates it
  ASSERT_EQ(list.add("k", "v1", ValueKind::kValue, 10), InsertResult::kOk);
  ASSERT_EQ(list.add("k", "v2", ValueKind::kValue, 20), InsertResult::kOk);
  ASSERT_EQ(list.add("k", "", ValueKind::kTombstone, 30), InsertResult::kOk);
  ASSERT_EQ(list.add("j", "j5", ValueKind::kValue, 5), InsertResult::kOk);
  EXPECT_EQ(list.add("k", "v2", ValueKind::kValue, 20), InsertResult::kDuplicateKey);
  EXPECT_FALSE(list.get_at("k", 9).has_value());
  auto at15 = list.get_at("k", 15);
  ASSERT_TRUE(at15.has_value());
  EXPECT_EQ(at15->value, "v1");
  EXPECT_EQ(at15->seq, 10u);
  EXPECT_EQ(at15->kind, ValueKind::kValue);
  EXPECT_EQ(list.get_at("k", 20)->value, "v2");
  EXPECT_EQ(list.get_at("k", 29)->seq, 20u);
  EXPECT_EQ(list.get_at("k", 30)->kind, ValueKind::kTombstone);
  EXPECT_EQ(list.get_at("k", kMaxSequenceNumber)->kind, ValueKind::kTombstone);
  EXPECT_FALSE(list.get_at("j", 4).has_value());
  EXPECT_EQ(list.get_at("j", 5)->value, "j5");
  EXPECT_FALSE(list.get_at("l", 100).has_value());
  EXPECT_EQ(list.entry_count(), 4u);
  auto sealed = list.seal();
  ASSERT_TRUE(sealed.has_value());
  EXPECT_EQ(list.add("z", "v", ValueKind::kValue, 40), InsertResult::kSealed);
  EXPECT_EQ(sealed->first->get_at("k", 25)->value, "v2");
}

TEST(SkipListMvccTest, AddHonorsLimits) {
  SkipListOptions options;
  options.max_entries = 2;
  ConcurrentSkipList list(options);
  EXPECT_EQ(list.add("a", "1", ValueKind::kValue, 1), InsertResult::kOk);
  EXPECT_EQ(list.add("a", "2", ValueKind::kValue, 2), InsertResult::kOk);
  EXPECT_EQ(list.add("a", "3", ValueKind::kValue, 3), InsertResult::kSealed);
  EXPECT_TRUE(list.is_sealed());
}

TEST(SkipListMvccTest, SeedReadersShowNewestVersionOfEngineLists) {
  ConcurrentSkipList list;
  ASSERT_EQ(list.add("a", "old", ValueKind::kValue, 3), InsertResult::kOk);
  ASSERT_EQ(list.add("a", "new", ValueKind::kValue, 8), InsertResult::kOk);
  ASSERT_EQ(list.add("b", "x", ValueKind::kValue, 4), InsertResult::kOk);
  ASSERT_EQ(list.add("b", "", ValueKind::kTombstone, 9), InsertResult::kOk);
  EXPECT_EQ(list.get_live("a"), std::optional<std::string_view>("new"));
  EXPECT_TRUE(list.get("b")->is_tombstone);
  std::vector<std::pair<std::string, uint64_t>> seen;
  for (const Entry& e : list.cursor()) seen.emplace_back(e.key, e.seq);
  EXPECT_EQ(seen, (std::vector<std::pair<std::string, uint64_t>>{{"a", 8}, {"b", 9}}));
  // Engine lists never touch the seed counter: a snapshot of one is at 0.
  EXPECT_EQ(list.snapshot().sequence(), 0u);
  auto frozen = list.seal()->first;
  EXPECT_EQ(frozen->get_at("a", 5)->value, "old");
  EXPECT_EQ(frozen->get_at("b", 8)->value, "x");
  EXPECT_EQ(frozen->get_at("b", 9)->kind, ValueKind::kTombstone);
  EXPECT_FALSE(frozen->get_at("a", 2).has_value());
}

struct Version {
  std::string key;
  SequenceNumber seq;
  ValueKind kind;
  std::string value;
};

std::vector<Version> collect_forward(InternalIterator* it) {
  std::vector<Version> out;
  for (it->seek_to_first(); it->valid(); it->next()) {
    out.push_back(
        {std::string(it->user_key()), it->sequence(), it->kind(), std::string(it->value())});
  }
  return out;
}

TEST(SkipListMvccTest, VersionIteratorWalksAllVersionsInInternalOrder) {
  ConcurrentSkipList list;
  std::mt19937_64 rng(test::test_seed(42));
  // Reference: internal order = key asc, seq desc.
  std::vector<Version> expected;
  SequenceNumber seq = 1;
  for (int i = 0; i < 300; ++i) {
    const std::string key = "key" + std::to_string(rng() % 60);
    const ValueKind kind = (rng() % 4 == 0) ? ValueKind::kTombstone : ValueKind::kValue;
    const std::string value = kind == ValueKind::kValue ? "v" + std::to_string(seq) : "";
    ASSERT_EQ(list.add(key, value, kind, seq), InsertResult::kOk);
    expected.push_back({key, seq, kind, value});
    ++seq;
  }
  std::sort(expected.begin(), expected.end(), [](const Version& a, const Version& b) {
    if (a.key != b.key) return a.key < b.key;
    return a.seq > b.seq;
  });
  auto it = list.new_version_iterator();
  auto forward = collect_forward(it.get());
  ASSERT_EQ(forward.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(forward[i].key, expected[i].key) << i;
    EXPECT_EQ(forward[i].seq, expected[i].seq) << i;
    EXPECT_EQ(forward[i].kind, expected[i].kind) << i;
    EXPECT_EQ(forward[i].value, expected[i].value) << i;
  }
  // Backwards with seek_to_last / prev.
  size_t i = expected.size();
  for (it->seek_to_last(); it->valid(); it->prev()) {
    ASSERT_GT(i, 0u);
    --i;
    EXPECT_EQ(it->user_key(), expected[i].key);
    EXPECT_EQ(it->sequence(), expected[i].seq);
  }
  EXPECT_EQ(i, 0u);
  EXPECT_TRUE(it->status().ok());

  // seek / seek_for_prev against a reference for many targets.
  auto less_eq = [](const Version& v, const std::string& key, SequenceNumber s) {
    // v <= (key, s) in internal order
    if (v.key != key) return v.key < key;
    return v.seq >= s;
  };
  for (int t = 0; t < 200; ++t) {
    const std::string key = "key" + std::to_string(rng() % 70);
    const SequenceNumber s = rng() % 320;
    // seek: first version >= (key, s) = first not strictly less.
    size_t lb = 0;
    while (lb < expected.size() &&
           (less_eq(expected[lb], key, s) && !(expected[lb].key == key && expected[lb].seq == s))) {
      ++lb;
    }
    it->seek(key, s);
    if (lb == expected.size()) {
      EXPECT_FALSE(it->valid());
    } else {
      ASSERT_TRUE(it->valid());
      EXPECT_EQ(it->user_key(), expected[lb].key);
      EXPECT_EQ(it->sequence(), expected[lb].seq);
    }
    // seek_for_prev: last version <= (key, s).
    std::optional<size_t> last;
    for (size_t j = 0; j < expected.size(); ++j) {
      if (less_eq(expected[j], key, s)) last = j;
    }
    it->seek_for_prev(key, s);
    if (!last) {
      EXPECT_FALSE(it->valid());
    } else {
      ASSERT_TRUE(it->valid());
      EXPECT_EQ(it->user_key(), expected[*last].key);
      EXPECT_EQ(it->sequence(), expected[*last].seq);
    }
  }
}

TEST(SkipListMvccTest, VersionIteratorFromFrozenMemtableKeepsItAlive) {
  std::unique_ptr<InternalIterator> it;
  {
    ConcurrentSkipList list;
    ASSERT_EQ(list.add("a", "1", ValueKind::kValue, 1), InsertResult::kOk);
    ASSERT_EQ(list.add("a", "", ValueKind::kTombstone, 2), InsertResult::kOk);
    ASSERT_EQ(list.add("b", "3", ValueKind::kValue, 3), InsertResult::kOk);
    auto sealed = list.seal();
    ASSERT_TRUE(sealed.has_value());
    it = sealed->first->new_version_iterator();
  }
  auto all = collect_forward(it.get());
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].key, "a");
  EXPECT_EQ(all[0].seq, 2u);
  EXPECT_EQ(all[0].kind, ValueKind::kTombstone);
  EXPECT_EQ(all[1].seq, 1u);
  EXPECT_EQ(all[2].key, "b");
}

// Forward walks request the memory of the nodes ahead of them, keeping lanes
// on level 1 that a seek starts and the walk advances (see
// SkipListCore::prefetch_ahead()). Whatever the start, a walk must still see
// exactly the entries after it: from every kind of seek target (present,
// missing, before the first and past the last key, inside a run of versions),
// over lists from one entry to several thousand (one level to many), through
// the seed cursors and the engine's version iterator alike.
TEST(SkipListTest, WalksFromEverySeekSeeExactlyTheEntriesAfterIt) {
  std::mt19937_64 rng(test::test_seed(77));
  SCOPED_TRACE(::testing::Message() << "seed " << test::test_seed(77));
  for (const int entries : {1, 2, 3, 17, 300, 4000}) {
    SCOPED_TRACE(::testing::Message() << entries << " entries");
    ConcurrentSkipList list;
    std::set<std::string> keys;
    while (static_cast<int>(keys.size()) < entries) {
      const std::string key = "k" + std::to_string(rng() % 100000);
      if (keys.insert(key).second) {
        ASSERT_TRUE(list.insert(key, "v" + key));
      }
    }
    std::vector<std::string> targets = {"", "k", "z", *keys.begin(), *keys.rbegin()};
    for (int i = 0; i < 60; ++i) {
      targets.push_back("k" + std::to_string(rng() % 100000));  // mostly missing
      auto it = keys.begin();
      std::advance(it, static_cast<long>(rng() % keys.size()));
      targets.push_back(*it);  // present
    }
    for (const std::string& target : targets) {
      const std::vector<std::string> expected(keys.lower_bound(target), keys.end());
      EXPECT_EQ(keys_of(list.cursor_at(target)), expected) << "seek " << target;
      EXPECT_EQ(keys_of(list.snapshot().cursor_at(target)), expected) << "seek " << target;
    }
    EXPECT_EQ(keys_of(list.cursor()), std::vector<std::string>(keys.begin(), keys.end()));
  }

  // Several versions per key: the version iterator's seeks land inside runs.
  ConcurrentSkipList versions;
  std::vector<std::pair<std::string, SequenceNumber>> expected;  // internal order
  SequenceNumber seq = 1;
  for (int k = 0; k < 1500; ++k) {
    const std::string key = "key" + std::to_string(100000 + k);
    const int count = 1 + static_cast<int>(rng() % 4);
    for (int v = 0; v < count; ++v) {
      ASSERT_EQ(versions.add(key, "v", ValueKind::kValue, seq), InsertResult::kOk);
      expected.emplace_back(key, seq++);
    }
  }
  std::sort(expected.begin(), expected.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second > b.second;
  });
  auto it = versions.new_version_iterator();
  for (int i = 0; i < 80; ++i) {
    // Named, not bound: a lambda below captures `key`.
    const auto& picked = expected[rng() % expected.size()];
    const std::string& key = picked.first;
    const SequenceNumber at = picked.second;
    const SequenceNumber probe = at + rng() % 3;  // at, or between versions of the key
    it->seek(key, probe);
    const auto first = std::find_if(expected.begin(), expected.end(), [&](const auto& e) {
      return e.first > key || (e.first == key && e.second <= probe);
    });
    size_t walked = 0;
    for (auto e = first; e != expected.end(); ++e, ++walked) {
      ASSERT_TRUE(it->valid()) << "seek " << key << "@" << probe << ", step " << walked;
      ASSERT_EQ(it->user_key(), e->first);
      ASSERT_EQ(it->sequence(), e->second);
      it->next();
    }
    EXPECT_FALSE(it->valid());
  }
}

TEST(SkipListTest, RandomizedAgainstReference) {
  ConcurrentSkipList list;
  std::map<std::string, std::pair<std::string, bool>> reference;  // key -> (value, removed)
  std::mt19937_64 rng(test::test_seed(1234));
  SCOPED_TRACE(::testing::Message() << "seed " << test::test_seed(1234));
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "k" + std::to_string(rng() % 800);
    switch (rng() % 3) {
      case 0:
      case 1: {
        const std::string value = "v" + std::to_string(i);
        const bool expect = reference.find(key) == reference.end();
        ASSERT_EQ(list.insert(key, value), expect);
        if (expect) reference[key] = {value, false};
        break;
      }
      case 2: {
        auto it = reference.find(key);
        const bool expect = it != reference.end() && !it->second.second;
        ASSERT_EQ(list.remove(key), expect);
        if (expect) it->second.second = true;
        break;
      }
    }
  }
  size_t live = 0;
  Cursor c = list.cursor();
  for (const auto& [key, state] : reference) {
    ASSERT_TRUE(c.valid());
    EXPECT_EQ(c.entry().key, key);
    EXPECT_EQ(c.entry().is_tombstone, state.second);
    if (!state.second) {
      EXPECT_EQ(c.entry().value, state.first);
      ++live;
    }
    c.next();
  }
  EXPECT_FALSE(c.valid());
  EXPECT_EQ(list.len(), live);
  std::string why;
  EXPECT_TRUE(list.check_invariants(&why)) << why;
}

}  // namespace
}  // namespace fsdb
