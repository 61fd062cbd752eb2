// sstable/: blocks, the bloom filter, the block cache, separators, the footer.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "sstable/block.h"
#include "sstable/block_builder.h"
#include "sstable/block_cache.h"
#include "sstable/bloom_filter.h"
#include "sstable/format.h"
#include "sstable/index_array.h"
#include "sstable/table_builder.h"
#include "sstable/table_properties.h"
#include "tests/support/test_util.h"
#include "util/internal_key.h"

namespace fsdb {
namespace {

std::string ikey(std::string_view user_key, SequenceNumber seq,
                 ValueKind kind = ValueKind::kValue) {
  std::string out;
  append_internal_key(&out, user_key, seq, kind);
  return out;
}

std::string user_key_for(int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "key%08d", i);
  return buf;
}

std::unique_ptr<Block> build_block(const std::vector<std::pair<std::string, std::string>>& entries,
                                   int restart_interval) {
  BlockBuilder builder(restart_interval);
  for (const auto& [k, v] : entries) builder.add(k, v);
  std::unique_ptr<Block> block;
  EXPECT_TRUE(Block::parse(std::string(builder.finish()), &block).ok());
  return block;
}

TEST(BlockTest, IteratesBothWaysAndSeeks) {
  for (int restart_interval : {1, 2, 16}) {
    SCOPED_TRACE(restart_interval);
    std::vector<std::pair<std::string, std::string>> entries;
    for (int i = 0; i < 200; ++i) {
      entries.emplace_back(ikey(user_key_for(i * 2), 7), "value" + std::to_string(i));
    }
    auto block = build_block(entries, restart_interval);
    BlockIterator it(block.get());
    size_t n = 0;
    for (it.seek_to_first(); it.valid(); it.next(), ++n) {
      ASSERT_EQ(it.key(), entries[n].first);
      ASSERT_EQ(it.value(), entries[n].second);
    }
    EXPECT_EQ(n, entries.size());
    n = entries.size();
    for (it.seek_to_last(); it.valid(); it.prev()) {
      --n;
      ASSERT_EQ(it.key(), entries[n].first);
    }
    EXPECT_EQ(n, 0u);
    FSDB_EXPECT_OK(it.status());
    for (int i = 0; i < 400; ++i) {
      it.seek(ikey(user_key_for(i), 7));
      const size_t expected = static_cast<size_t>((i + 1) / 2);
      if (expected == entries.size()) {
        EXPECT_FALSE(it.valid());
      } else {
        ASSERT_TRUE(it.valid());
        EXPECT_EQ(it.key(), entries[expected].first) << i;
      }
    }
  }
}

TEST(BlockTest, RestartPointsStoreWholeKeys) {
  BlockBuilder builder(16);
  for (int i = 0; i < 40; ++i) builder.add(ikey(user_key_for(i), 1), "v");
  std::unique_ptr<Block> block;
  FSDB_ASSERT_OK(Block::parse(std::string(builder.finish()), &block));
  EXPECT_EQ(block->num_restarts(), 3u);  // entries 0, 16, 32
}

TEST(BlockTest, MalformedBlocksAreRejectedWithoutOverRead) {
  std::unique_ptr<Block> block;
  EXPECT_TRUE(Block::parse("", &block).is_corruption());
  EXPECT_TRUE(Block::parse(std::string("\xff\xff\xff\x00", 4), &block).is_corruption());
  // Random garbage must never crash the iterator (ASan checks for over-reads).
  std::mt19937_64 rng(test::test_seed(42));
  for (int round = 0; round < 2000; ++round) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (bytes.size() >= 4) {
      const uint32_t n = static_cast<uint32_t>(rng() % 4);
      encode_fixed32(bytes.data() + bytes.size() - 4, n);
    }
    if (!Block::parse(bytes, &block).ok()) continue;
    BlockIterator it(block.get());
    for (it.seek_to_first(); it.valid(); it.next()) {
    }
    for (it.seek_to_last(); it.valid(); it.prev()) {
    }
    it.seek(ikey("k", 1));
  }
}

TEST(BloomFilterTest, NoFalseNegativesAndLowFalsePositiveRate) {
  constexpr int kKeys = 100000;
  BloomFilterBuilder builder(10);
  for (int i = 0; i < kKeys; ++i) builder.add_key(user_key_for(i));
  const std::string data = builder.finish();
  BloomFilter filter;
  FSDB_ASSERT_OK(BloomFilter::parse(data, &filter));
  for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(filter.may_contain(user_key_for(i))) << i;
  int false_positives = 0;
  for (int i = kKeys; i < 2 * kKeys; ++i) false_positives += filter.may_contain(user_key_for(i));
  const double rate = static_cast<double>(false_positives) / kKeys;
  EXPECT_LE(rate, 0.012) << false_positives;
  RecordProperty("false_positive_rate", std::to_string(rate));
}

TEST(BloomFilterTest, MalformedFilterIsCorruption) {
  BloomFilter filter;
  EXPECT_TRUE(BloomFilter::parse("short", &filter).is_corruption());
  EXPECT_TRUE(BloomFilter::parse(std::string(65, '\0'), &filter).is_corruption());  // 0 probes
  EXPECT_TRUE(BloomFilter::parse(std::string(70, 6), &filter).is_corruption());  // not whole lines
}

std::shared_ptr<const Block> make_block(size_t payload) {
  BlockBuilder builder(1);
  builder.add(ikey("k", 1), std::string(payload, 'x'));
  std::unique_ptr<Block> block;
  EXPECT_TRUE(Block::parse(std::string(builder.finish()), &block).ok());
  return std::shared_ptr<const Block>(std::move(block));
}

TEST(BlockCacheTest, HitsMissesAndDistinctTables) {
  BlockCache cache(1 << 20);
  const uint64_t a = cache.new_cache_id();
  const uint64_t b = cache.new_cache_id();
  EXPECT_NE(a, b);
  EXPECT_EQ(cache.lookup(a, 0), nullptr);
  auto block = make_block(100);
  cache.insert(a, 0, block);
  EXPECT_EQ(cache.lookup(a, 0), block);
  EXPECT_EQ(cache.lookup(b, 0), nullptr);  // same offset, other table
  EXPECT_EQ(cache.hits(), 1u);
  EXPECT_EQ(cache.misses(), 2u);
  EXPECT_GT(cache.usage(), 100u);
  cache.erase_table(a);
  EXPECT_EQ(cache.lookup(a, 0), nullptr);
  EXPECT_EQ(cache.usage(), 0u);
}

TEST(BlockCacheTest, EvictsLeastRecentlyUsedWithinCapacityAndKeepsPinnedBlocksAlive) {
  BlockCache cache(16 * 8192);  // 8 KiB per shard
  const uint64_t id = cache.new_cache_id();
  std::weak_ptr<const Block> first;
  std::shared_ptr<const Block> pinned;
  for (uint64_t offset = 0; offset < 1000; ++offset) {
    auto block = make_block(1000);
    if (offset == 0) {
      first = block;
      pinned = block;
    }
    cache.insert(id, offset * 4096, std::move(block));
    EXPECT_LE(cache.usage(), cache.capacity());
  }
  EXPECT_EQ(cache.lookup(id, 0), nullptr);  // evicted long ago
  EXPECT_FALSE(first.expired());            // but still alive: a reader holds it
  pinned.reset();
  EXPECT_TRUE(first.expired());
  // The most recent insert is still there.
  EXPECT_NE(cache.lookup(id, 999 * 4096), nullptr);
}

TEST(BlockCacheTest, RecentlyUsedBlocksSurviveAStreamOfInserts) {
  BlockCache cache(16 * 20 * 1200);  // about 20 blocks per shard
  const uint64_t id = cache.new_cache_id();
  cache.insert(id, 0, make_block(1000));
  for (uint64_t offset = 1; offset <= 2000; ++offset) {
    cache.insert(id, offset * 4096, make_block(1000));
    ASSERT_NE(cache.lookup(id, 0), nullptr) << offset;  // kept hot by its lookups
  }
  // An entry nobody looked up again is long gone.
  EXPECT_EQ(cache.lookup(id, 4096), nullptr);
}

// A model of the cache's contents checked after every operation: a lookup
// returns exactly the block last inserted under its key (never a replaced
// one, never one of an erased table), and with room for everything nothing
// is lost. Replacements, erasures and evictions move slots of the shards'
// open-addressing tables; this walks many of those paths.
void check_cache_against_model(size_t capacity, bool everything_fits) {
  BlockCache cache(capacity);
  const std::vector<uint64_t> ids = {cache.new_cache_id(), cache.new_cache_id(),
                                     cache.new_cache_id()};
  std::map<std::pair<uint64_t, uint64_t>, std::shared_ptr<const Block>> model;
  std::mt19937_64 rng(test::test_seed(11));
  for (int op = 0; op < 40000; ++op) {
    const uint64_t id = ids[rng() % ids.size()];
    const uint64_t offset = (rng() % 3000) * 4096;
    const auto key = std::make_pair(id, offset);
    const uint64_t what = rng() % 100;
    if (what < 45) {
      auto block = make_block(100 + rng() % 200);
      cache.insert(id, offset, block);
      model[key] = std::move(block);
    } else if (what < 99) {
      const auto got = cache.lookup(id, offset);
      const auto it = model.find(key);
      if (it == model.end()) {
        ASSERT_EQ(got, nullptr) << "op " << op << ": found a block never inserted or erased";
      } else if (got != nullptr) {
        ASSERT_EQ(got, it->second) << "op " << op << ": a replaced block came back";
      } else {
        ASSERT_FALSE(everything_fits) << "op " << op << ": lost a block with room to spare";
      }
    } else {
      cache.erase_table(id);
      std::erase_if(model, [&](const auto& entry) { return entry.first.first == id; });
    }
    ASSERT_LE(cache.usage(), cache.capacity());
  }
  // Every block still cached is the model's.
  size_t found = 0;
  for (const auto& [key, block] : model) {
    const auto got = cache.lookup(key.first, key.second);
    if (got != nullptr) {
      EXPECT_EQ(got, block);
      ++found;
    }
  }
  if (everything_fits) {
    EXPECT_EQ(found, model.size());
  }
  EXPECT_GT(found, 0u);
}

TEST(BlockCacheTest, LookupsMatchAModelWhenEverythingFits) {
  check_cache_against_model(64 << 20, /*everything_fits=*/true);
}

TEST(BlockCacheTest, LookupsMatchAModelUnderEviction) {
  check_cache_against_model(16 * 40 * 500, /*everything_fits=*/false);
}

TEST(BlockCacheTest, ConcurrentUse) {
  BlockCache cache(64 * 1024);
  const uint64_t id = cache.new_cache_id();
  constexpr int kThreads = 4;
  constexpr int kOps = 20000;
  std::atomic<uint64_t> found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      for (int i = 0; i < kOps; ++i) {
        const uint64_t offset = rng() % 256;
        auto block = cache.lookup(id, offset);
        if (block == nullptr) {
          cache.insert(id, offset, make_block(200));
        } else {
          BlockIterator it(block.get());  // use the pinned block while others evict
          it.seek_to_first();
          if (it.valid() && it.value().size() == 200) found.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(cache.hits() + cache.misses(), uint64_t{kThreads} * kOps);
  EXPECT_EQ(found.load(), cache.hits());
  EXPECT_LE(cache.usage(), cache.capacity());
}

TEST(SeparatorTest, ShortAndOrdered) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abc", "abz"},
      {"abc", "abd"},
      {"abc", "abcd"},
      {"a\xff\xff", "b"},
      {"0000000000000123", "0000000000000124"},
      {"0000000000000199", "0000000000000200"},
      {"apple", "banana"}};
  for (const auto& [a, b] : cases) {
    const std::string ka = ikey(a, 5), kb = ikey(b, 9);
    std::string sep;
    shortest_separator(ka, kb, &sep);
    EXPECT_LE(compare_encoded_internal_keys(ka, sep), 0) << a << " " << b;
    EXPECT_LT(compare_encoded_internal_keys(sep, kb), 0) << a << " " << b;
    EXPECT_LE(sep.size(), ka.size());
    std::string succ;
    short_successor(ka, &succ);
    EXPECT_LE(compare_encoded_internal_keys(ka, succ), 0);
  }
  std::string sep;
  shortest_separator(ikey("apple", 1), ikey("cherry", 1), &sep);
  EXPECT_EQ(extract_user_key(sep), "b");
  shortest_separator(ikey("apple", 1), ikey("banana", 1), &sep);
  EXPECT_EQ(extract_user_key(sep), "aq");
  // Versions of one key in neighbouring blocks: the separator is the last key itself.
  shortest_separator(ikey("k", 9), ikey("k", 3), &sep);
  EXPECT_EQ(sep, ikey("k", 9));
}

TEST(IndexArrayTest, LowerBoundMatchesBruteForce) {
  std::mt19937_64 rng(test::test_seed(3));
  for (int round = 0; round < 50; ++round) {
    // Keys with a shared prefix, zero bytes, and varied lengths, so that the
    // 8-byte windows tie and the full comparison has to decide.
    std::vector<std::string> user_keys;
    const std::string prefix = round % 2 == 0 ? "prefix/" : "";
    for (int i = 0; i < 60; ++i) {
      std::string k = prefix;
      const size_t len = rng() % 12;
      for (size_t j = 0; j < len; ++j) k.push_back(static_cast<char>("\0\1ab\xff"[rng() % 5]));
      user_keys.push_back(k);
    }
    std::sort(user_keys.begin(), user_keys.end());
    user_keys.erase(std::unique(user_keys.begin(), user_keys.end()), user_keys.end());
    // A table's last separator is a short successor of its last key, which
    // may share less of the prefix than every other separator.
    if (round % 4 == 0) user_keys.emplace_back(round % 8 == 0 ? "q" : "prefix0");
    std::vector<std::string> separators;
    BlockBuilder builder(16);
    for (size_t i = 0; i < user_keys.size(); ++i) {
      separators.push_back(ikey(user_keys[i], 50 + i % 3));
      std::string handle;
      BlockHandle{i * 100, 10}.encode_to(&handle);
      builder.add(separators.back(), handle);
    }
    std::unique_ptr<Block> block;
    FSDB_ASSERT_OK(Block::parse(std::string(builder.finish()), &block));
    IndexArray index;
    FSDB_ASSERT_OK(index.build(*block, 1 << 20));
    ASSERT_EQ(index.size(), separators.size());
    for (int probe = 0; probe < 300; ++probe) {
      std::string target_user = probe % 3 == 0 ? std::string() : prefix;
      const size_t len = rng() % 13;
      for (size_t j = 0; j < len; ++j) {
        target_user.push_back(static_cast<char>("\0\1ab\xff"[rng() % 5]));
      }
      if (probe % 7 == 0 && !user_keys.empty()) target_user = user_keys[rng() % user_keys.size()];
      if (probe % 11 == 0) target_user = std::string("prefix0q") + static_cast<char>(rng() % 3);
      const std::string target = ikey(target_user, rng() % 60);
      size_t expected = 0;
      while (expected < separators.size() &&
             compare_encoded_internal_keys(separators[expected], target) < 0) {
        ++expected;
      }
      ASSERT_EQ(index.lower_bound(target), expected) << round << "/" << probe;
      if (expected < separators.size()) {
        EXPECT_EQ(index.key(expected), separators[expected]);
        EXPECT_EQ(index.handle(expected).offset, expected * 100);
      }
    }
  }
}

TEST(IndexArrayTest, HandlePastTheDataIsCorruption) {
  BlockBuilder builder(16);
  std::string handle;
  BlockHandle{900, 200}.encode_to(&handle);
  builder.add(ikey("k", 1), handle);
  std::unique_ptr<Block> block;
  FSDB_ASSERT_OK(Block::parse(std::string(builder.finish()), &block));
  IndexArray index;
  EXPECT_TRUE(index.build(*block, 1000).is_corruption());
  FSDB_EXPECT_OK(index.build(*block, 1109));
}

// What a damaged (or crafted) index could hold behind a valid checksum, and
// no writer produces: each is refused at open, naming the entry.
TEST(IndexArrayTest, IndexThatNoWriterProducesIsCorruption) {
  struct Entry {
    std::string key;
    BlockHandle handle;
  };
  auto build = [](const std::vector<Entry>& entries, int restart_interval = 16) {
    BlockBuilder builder(restart_interval);
    for (const Entry& e : entries) {
      std::string handle;
      e.handle.encode_to(&handle);
      builder.add(e.key, handle);
    }
    std::unique_ptr<Block> block;
    EXPECT_TRUE(Block::parse(std::string(builder.finish()), &block).ok());
    IndexArray index;
    return index.build(*block, 1 << 20);
  };
  FSDB_EXPECT_OK(build({{ikey("a", 1), {0, 10}}, {ikey("b", 1), {19, 10}}}));

  Status s = build({{ikey("b", 1), {0, 10}}, {ikey("a", 1), {19, 10}}});
  EXPECT_TRUE(s.is_corruption());
  EXPECT_NE(s.to_string().find("index entry 1: its key does not sort after"), std::string::npos)
      << s.to_string();
  EXPECT_TRUE(build({{ikey("a", 1), {0, 10}}, {ikey("a", 1), {19, 10}}}).is_corruption());

  // The second block starts inside the first (or its trailer), or before it.
  for (uint64_t offset : {uint64_t{0}, uint64_t{18}}) {
    s = build({{ikey("a", 1), {0, 10}}, {ikey("b", 1), {offset, 10}}});
    EXPECT_TRUE(s.is_corruption()) << offset;
    EXPECT_NE(s.to_string().find("does not follow the block before it"), std::string::npos)
        << s.to_string();
  }

  s = build({{ikey("a", 1), {0, 0}}});
  EXPECT_TRUE(s.is_corruption());
  EXPECT_NE(s.to_string().find("which is empty"), std::string::npos) << s.to_string();

  // Without restarts, each key shares all of the one before it and adds a
  // byte: a few kilobytes of block that would expand to megabytes.
  std::vector<Entry> growing;
  std::string user_key(4000, 'k');
  for (uint64_t i = 0; i < 400; ++i) {
    user_key.push_back('k');
    growing.push_back({ikey(user_key, 1), {i * 100, 10}});
  }
  s = build(growing, /*restart_interval=*/1000);
  EXPECT_TRUE(s.is_corruption());
  EXPECT_NE(s.to_string().find("expand to more than 16 times its block's size"), std::string::npos)
      << s.to_string();
  // The same keys as a writer lays them out (a restart every 16) are fine.
  FSDB_EXPECT_OK(build(growing));
}

TEST(FooterTest, RoundTripAndChecks) {
  Footer footer;
  footer.index = {100, 20};
  footer.filter = {50, 40};
  footer.properties = {130, 30};
  std::string encoded;
  footer.encode_to(&encoded);
  ASSERT_EQ(encoded.size(), Footer::kEncodedBytes);
  Footer decoded;
  FSDB_ASSERT_OK(decoded.decode_from(encoded, "f"));
  EXPECT_EQ(decoded.index.offset, 100u);
  EXPECT_EQ(decoded.filter.size, 40u);
  EXPECT_EQ(decoded.properties.offset, 130u);
  for (size_t i = 0; i < encoded.size(); ++i) {
    std::string bad = encoded;
    bad[i] ^= 0x01;
    Status s = decoded.decode_from(bad, "f");
    EXPECT_TRUE(s.is_corruption()) << i;
  }
}

TEST(TablePropertiesTest, RoundTrip) {
  TableProperties p;
  p.num_entries = 12345;
  p.num_tombstones = 17;
  p.smallest_key = ikey("a", 3);
  p.largest_key = ikey("z", 9);
  p.smallest_sequence = 3;
  p.largest_sequence = 99;
  p.compression = "zstd";
  p.zstd_level = -5;
  p.zstd_raw_literals = 1;
  p.creation_time = 1700000000;
  TableProperties q;
  FSDB_ASSERT_OK(TableProperties::decode(p.encode(), &q));
  EXPECT_EQ(q.num_entries, 12345u);
  EXPECT_EQ(q.num_tombstones, 17u);
  EXPECT_EQ(q.smallest_key, p.smallest_key);
  EXPECT_EQ(q.largest_key, p.largest_key);
  EXPECT_EQ(q.largest_sequence, 99u);
  EXPECT_EQ(q.compression, "zstd");
  EXPECT_EQ(q.zstd_level, -5);
  EXPECT_EQ(q.zstd_raw_literals, 1u);
  EXPECT_EQ(q.creation_time, 1700000000u);
  EXPECT_NE(q.to_string().find("fsdb.num_entries: 12345"), std::string::npos);
}

}  // namespace
}  // namespace fsdb
