// Concurrency tests of fsdb::ConcurrentSkipList: 2-8 threads mixing inserts,
// removes, lookups, cursors, snapshots, seal and the engine's add(), with
// checkers for exactly-once, ordering, atomic races and snapshot isolation.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/skiplist.h"
#include "tests/support/test_util.h"
#include "util/internal_iterator.h"
#include "util/internal_key.h"

namespace fsdb {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kScale = 1;
#else
constexpr int kScale = 5;
#endif

std::string key_of(uint64_t i) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016llu", static_cast<unsigned long long>(i));
  return buf;
}

// Runs `body(thread_index)` on n threads released together.
template <typename F>
void run_threads(int n, F body) {
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) std::this_thread::yield();
      body(t);
    });
  }
  go.store(true);
  for (auto& th : threads) th.join();
}

class ConcurrencyTest : public ::testing::TestWithParam<int> {};

// Every acknowledged insert is present exactly once with the acknowledging
// thread's value, nothing else is present, and every level is ordered.
TEST_P(ConcurrencyTest, AcknowledgedInsertsPresentExactlyOnce) {
  const int threads = GetParam();
  SkipListOptions options;
  options.shards = 2;  // fewer shards than threads: shared shards must work too
  options.arena_block_bytes = 4096;
  ConcurrentSkipList list(options);
  const int keys = 2000 * kScale;
  std::vector<std::vector<int>> acknowledged(threads);
  run_threads(threads, [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(t + 1));
    // Every thread tries every key, in its own random order: each key is
    // contended by all threads, exactly one may win.
    std::vector<int> order(keys);
    for (int i = 0; i < keys; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    for (int i : order) {
      if (list.insert(key_of(i), "t" + std::to_string(t))) acknowledged[t].push_back(i);
    }
  });
  std::map<int, int> winner;
  for (int t = 0; t < threads; ++t) {
    for (int i : acknowledged[t]) {
      EXPECT_TRUE(winner.emplace(i, t).second) << "key " << i << " acknowledged twice";
    }
  }
  EXPECT_EQ(static_cast<int>(winner.size()), keys);
  // Level 0 walk: strictly increasing keys, each acknowledged, exactly once.
  std::string prev;
  bool first = true;
  size_t seen = 0;
  for (Cursor c = list.cursor(); c.valid(); c.next()) {
    const std::string key(c.entry().key);
    if (!first) {
      EXPECT_LT(prev, key);
    }
    first = false;
    prev = key;
    const int i = std::stoi(key);
    auto it = winner.find(i);
    ASSERT_NE(it, winner.end()) << "unacknowledged key " << key;
    EXPECT_EQ(c.entry().value, "t" + std::to_string(it->second));
    ++seen;
  }
  EXPECT_EQ(seen, winner.size());
  auto versions = list.new_version_iterator();
  size_t version_count = 0;
  for (versions->seek_to_first(); versions->valid(); versions->next()) ++version_count;
  EXPECT_EQ(version_count, winner.size());  // no duplicate node behind the cursor
  EXPECT_EQ(list.len(), winner.size());
  EXPECT_EQ(list.total_inserts(), static_cast<size_t>(keys) * threads);
  std::string why;
  EXPECT_TRUE(list.check_invariants(&why)) << why;
}

TEST_P(ConcurrencyTest, GetOrInsertRaceHasOneWinnerSeenByAll) {
  const int threads = GetParam();
  ConcurrentSkipList list;
  const int keys = 300 * kScale;
  std::vector<std::vector<std::pair<std::string, bool>>> results(threads);
  run_threads(threads, [&](int t) {
    for (int i = 0; i < keys; ++i) {
      auto [value, inserted] = list.get_or_insert(key_of(i), "w" + std::to_string(t));
      results[t].emplace_back(std::string(value), inserted);
    }
  });
  for (int i = 0; i < keys; ++i) {
    int winners = 0;
    std::string winner_value;
    for (int t = 0; t < threads; ++t) {
      if (results[t][i].second) {
        ++winners;
        winner_value = "w" + std::to_string(t);
      }
    }
    ASSERT_EQ(winners, 1) << "key " << i;
    for (int t = 0; t < threads; ++t) EXPECT_EQ(results[t][i].first, winner_value);
    EXPECT_EQ(list.get_live(key_of(i)), std::optional<std::string_view>(winner_value));
  }
}

TEST_P(ConcurrencyTest, RemoveRaceHasOneWinner) {
  const int threads = GetParam();
  ConcurrentSkipList list;
  const int keys = 300 * kScale;
  for (int i = 0; i < keys; ++i) ASSERT_TRUE(list.insert(key_of(i), "v"));
  std::vector<std::vector<int>> removed(threads);
  run_threads(threads, [&](int t) {
    for (int i = 0; i < keys; ++i) {
      if (list.remove(key_of(i))) removed[t].push_back(i);
    }
  });
  std::vector<int> count(keys, 0);
  for (const auto& r : removed) {
    for (int i : r) ++count[i];
  }
  for (int i = 0; i < keys; ++i) ASSERT_EQ(count[i], 1) << "key " << i;
  EXPECT_EQ(list.len(), 0u);
  EXPECT_EQ(list.entry_count(), 2u * keys);  // one value and one tombstone per key
}

// Writers insert and remove, readers look up, iterate and take snapshots;
// every cursor is ordered and every snapshot reads the same twice.
TEST_P(ConcurrencyTest, MixedWorkloadWithSnapshots) {
  const int threads = GetParam();
  ConcurrentSkipList list;
  const int ops = 1500 * kScale;
  const int key_space = 500;
  std::atomic<int> writers_done{0};
  const int writers = std::max(1, threads / 2);
  std::atomic<int> failures{0};
  run_threads(threads, [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(100 + t));
    if (t < writers) {
      for (int i = 0; i < ops; ++i) {
        const std::string key = key_of(rng() % key_space);
        if (rng() % 3 == 0) {
          list.remove(key);
        } else {
          list.insert(key, "value-" + key);
        }
      }
      writers_done.fetch_add(1);
      return;
    }
    while (writers_done.load() < writers) {
      // Point reads: a live value is always the one its key was inserted with.
      const std::string key = key_of(rng() % key_space);
      if (auto v = list.get_live(key); v && *v != "value-" + key) failures.fetch_add(1);
      // Interleaved point reads: the same, for a batch.
      std::vector<std::string> batch_keys;
      for (int i = 0; i < 20; ++i) batch_keys.push_back(key_of(rng() % key_space));
      const std::vector<std::string_view> batch(batch_keys.begin(), batch_keys.end());
      const auto got = list.get_many(batch);
      if (got.size() != batch.size()) failures.fetch_add(1);
      for (size_t i = 0; i < got.size(); ++i) {
        if (got[i] && *got[i] != "value-" + batch_keys[i]) failures.fetch_add(1);
      }
      // Cursor: strictly increasing keys.
      std::string prev;
      bool first = true;
      int steps = 0;
      for (Cursor c = list.cursor_at(key_of(rng() % key_space)); c.valid() && steps < 50;
           c.next(), ++steps) {
        if (!first && !(prev < c.entry().key)) failures.fetch_add(1);
        first = false;
        prev = std::string(c.entry().key);
      }
      // Snapshot: reading it twice, with writes in between, gives the same.
      SkipListSnapshot snap = list.snapshot();
      std::vector<std::pair<std::string, bool>> a;
      for (const Entry& e : snap) {
        a.emplace_back(e.key, e.is_tombstone);
        if (e.seq > snap.sequence()) failures.fetch_add(1);
      }
      std::this_thread::yield();
      std::vector<std::pair<std::string, bool>> b;
      for (const Entry& e : snap) b.emplace_back(e.key, e.is_tombstone);
      if (a != b) failures.fetch_add(1);
    }
  });
  EXPECT_EQ(failures.load(), 0);
  // The final state agrees with len() and with a fresh snapshot.
  size_t live = 0;
  for (const Entry& e : list.cursor()) live += e.is_tombstone ? 0 : 1;
  EXPECT_EQ(list.len(), live);
  EXPECT_EQ(list.snapshot().count(), live);
  std::string why;
  EXPECT_TRUE(list.check_invariants(&why)) << why;
}

// A snapshot contains every insert acknowledged before it was taken and none
// committed after it: a writer publishes how far it got, and the snapshot,
// read again later, must still hold exactly the same keys.
TEST_P(ConcurrencyTest, SnapshotSeesAllEarlierAndNoLaterWrites) {
  const int threads = GetParam();
  ConcurrentSkipList list;
  const int per_writer = 1000 * kScale;
  const int writers = std::max(1, threads - 1);
  std::vector<std::atomic<int>> progress(writers);
  for (auto& p : progress) p.store(0);
  std::atomic<int> failures{0};
  std::atomic<int> done{0};
  run_threads(writers + 1, [&](int t) {
    if (t < writers) {
      for (int i = 0; i < per_writer; ++i) {
        const std::string key = key_of(static_cast<uint64_t>(t) * 1000000 + i);
        EXPECT_TRUE(list.insert(key, "v"));
        if (i % 2 == 1) {
          EXPECT_TRUE(list.remove(key_of(static_cast<uint64_t>(t) * 1000000 + i - 1)));
        }
        progress[t].store(i + 1);
      }
      done.fetch_add(1);
      return;
    }
    while (done.load() < writers) {
      std::vector<int> before(writers);
      for (int w = 0; w < writers; ++w) before[w] = progress[w].load();
      SkipListSnapshot snap = list.snapshot();
      // Everything acknowledged before the snapshot is in it, removes included.
      for (int w = 0; w < writers; ++w) {
        if (before[w] == 0) continue;
        const int last = before[w] - 1;
        if (!snap.get(key_of(static_cast<uint64_t>(w) * 1000000 + last))) failures.fetch_add(1);
        if (last >= 1 && last % 2 == 1 &&
            snap.contains(key_of(static_cast<uint64_t>(w) * 1000000 + last - 1))) {
          failures.fetch_add(1);  // removed before the snapshot, must be gone
        }
      }
      const size_t count1 = snap.count();
      std::this_thread::yield();
      if (snap.count() != count1) failures.fetch_add(1);  // later writes leaked in
    }
  });
  EXPECT_EQ(failures.load(), 0);
}

// seal() while writers run: afterwards the frozen list holds exactly the
// acknowledged inserts and never changes again; later writes get kSealed.
TEST_P(ConcurrencyTest, SealWhileWriting) {
  const int threads = GetParam();
  ConcurrentSkipList list;
  std::vector<std::vector<int>> acknowledged(threads);
  std::vector<int> sealed_results(threads, 0);
  std::atomic<int> started{0};
  std::optional<
      std::pair<std::shared_ptr<const FrozenMemtable>, std::unique_ptr<ConcurrentSkipList>>>
      sealed;
  run_threads(threads + 1, [&](int t) {
    if (t == threads) {
      while (started.load() < threads) std::this_thread::yield();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      sealed = list.seal();
      return;
    }
    started.fetch_add(1);
    for (int i = 0;; ++i) {
      const InsertResult r = list.try_insert(key_of(static_cast<uint64_t>(t) * 10000000 + i), "v");
      if (r == InsertResult::kOk) {
        acknowledged[t].push_back(i);
      } else {
        EXPECT_EQ(r, InsertResult::kSealed);
        ++sealed_results[t];
        if (sealed_results[t] >= 3) break;
      }
    }
  });
  ASSERT_TRUE(sealed.has_value());
  const FrozenMemtable& frozen = *sealed->first;
  size_t total = 0;
  for (int t = 0; t < threads; ++t) {
    total += acknowledged[t].size();
    for (int i : acknowledged[t]) {
      EXPECT_TRUE(frozen.contains(key_of(static_cast<uint64_t>(t) * 10000000 + i)));
    }
  }
  EXPECT_EQ(frozen.len(), total);
  size_t walked = 0;
  for (const Entry& e : frozen) {
    (void)e;
    ++walked;
  }
  EXPECT_EQ(walked, total);
  EXPECT_FALSE(list.seal().has_value());
}

// Everything at once: writers insert and remove their own keys, readers look
// up, iterate and snapshot, and a sealer seals mid-way. Afterwards the frozen
// list holds exactly the state the writers' acknowledged operations produced.
TEST_P(ConcurrencyTest, MixedWorkloadEndingInSeal) {
  const int threads = GetParam();
  const int writers = std::max(1, threads / 2);
  const int readers = std::max(1, threads - writers);
  ConcurrentSkipList list;
  constexpr int kKeysPerWriter = 400;
  // Per writer and key: 0 never inserted, 1 live, 2 removed (acknowledged ops only).
  std::vector<std::vector<int>> state(writers, std::vector<int>(kKeysPerWriter, 0));
  std::atomic<int> writers_done{0};
  std::atomic<int> failures{0};
  std::atomic<long> writes{0};
  std::optional<
      std::pair<std::shared_ptr<const FrozenMemtable>, std::unique_ptr<ConcurrentSkipList>>>
      sealed;
  auto key_for = [](int w, int k) { return key_of(static_cast<uint64_t>(w) * 1000000 + k); };
  run_threads(writers + readers + 1, [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(900 + t));
    if (t < writers) {
      for (;;) {
        const int k = static_cast<int>(rng() % kKeysPerWriter);
        const std::string key = key_for(t, k);
        int& st = state[t][k];
        if (st == 1 && rng() % 2 == 0) {
          if (list.remove(key)) {
            st = 2;
          } else {
            break;  // a live key of ours: only a seal refuses
          }
        } else {
          const InsertResult r = list.try_insert(key, "v" + key);
          if (r == InsertResult::kOk) {
            if (st != 0) failures.fetch_add(1);  // a second version was accepted
            st = 1;
          } else if (r == InsertResult::kSealed) {
            break;
          } else if (st == 0) {
            failures.fetch_add(1);  // refused although the key never existed
          }
        }
        writes.fetch_add(1);
      }
      writers_done.fetch_add(1);
      return;
    }
    if (t == writers + readers) {  // the sealer
      while (writes.load() < 2000L * kScale) std::this_thread::yield();
      sealed = list.seal();
      return;
    }
    while (writers_done.load() < writers) {
      const int w = static_cast<int>(rng() % writers);
      const std::string key = key_for(w, static_cast<int>(rng() % kKeysPerWriter));
      if (auto v = list.get_live(key); v && *v != "v" + key) failures.fetch_add(1);
      SkipListSnapshot snap = list.snapshot();
      std::string prev;
      int steps = 0;
      for (Cursor c = snap.cursor_at(key); c.valid() && steps < 20; c.next(), ++steps) {
        if (steps > 0 && !(prev < c.entry().key)) failures.fetch_add(1);
        if (c.entry().seq > snap.sequence()) failures.fetch_add(1);
        prev = std::string(c.entry().key);
      }
    }
  });
  EXPECT_EQ(failures.load(), 0);
  ASSERT_TRUE(sealed.has_value());
  const FrozenMemtable& frozen = *sealed->first;
  size_t live = 0;
  for (int w = 0; w < writers; ++w) {
    for (int k = 0; k < kKeysPerWriter; ++k) {
      const auto got = frozen.get(key_for(w, k));
      switch (state[w][k]) {
        case 0:
          EXPECT_FALSE(got.has_value());
          break;
        case 1:
          ASSERT_TRUE(got.has_value());
          EXPECT_FALSE(got->is_tombstone);
          EXPECT_EQ(got->value, "v" + key_for(w, k));
          ++live;
          break;
        case 2:
          ASSERT_TRUE(got.has_value());
          EXPECT_TRUE(got->is_tombstone);
          break;
      }
    }
  }
  EXPECT_EQ(frozen.len(), live);
  EXPECT_EQ(list.try_insert("after", "seal"), InsertResult::kSealed);
}

// With a limit and many writers: never more than max_entries entries, and
// max_memory_bytes overshot by at most one entry.
TEST_P(ConcurrencyTest, LimitsHoldUnderConcurrency) {
  const int threads = GetParam();
  {
    SkipListOptions options;
    options.max_entries = 1000;
    ConcurrentSkipList list(options);
    std::atomic<size_t> ok{0};
    run_threads(threads, [&](int t) {
      for (int i = 0; i < 2000; ++i) {
        const InsertResult r = list.try_insert(key_of(static_cast<uint64_t>(t) * 100000 + i), "v");
        if (r == InsertResult::kOk) {
          ok.fetch_add(1);
        } else {
          EXPECT_TRUE(r == InsertResult::kSealed || r == InsertResult::kOutOfMemory);
        }
      }
    });
    EXPECT_EQ(ok.load(), 1000u);
    EXPECT_EQ(list.entry_count(), 1000u);
    EXPECT_TRUE(list.is_sealed());
  }
  {
    SkipListOptions options;
    options.max_memory_bytes = 64 * 1024;
    ConcurrentSkipList list(options);
    const std::string value(100, 'v');
    run_threads(threads, [&](int t) {
      for (int i = 0; i < 2000; ++i) {
        if (list.try_insert(key_of(static_cast<uint64_t>(t) * 100000 + i), value) !=
            InsertResult::kOk) {
          break;
        }
      }
    });
    // The largest possible node: 12 levels of links + 8 + 2 + 16 + 100.
    const size_t max_node = 12 * 8 + 8 + 2 + 16 + 100 + 7;
    EXPECT_TRUE(list.is_sealed());
    EXPECT_GE(list.memory_usage(), options.max_memory_bytes);
    EXPECT_LT(list.memory_usage(), options.max_memory_bytes + max_node);
  }
}

// The engine's use: concurrent add() with unique sequences, get_at() readers.
TEST_P(ConcurrencyTest, EngineStyleAddAndReadAtSequence) {
  const int threads = GetParam();
  ConcurrentSkipList list;
  std::atomic<SequenceNumber> next_seq{1};
  const int per_thread = 1000 * kScale;
  std::atomic<int> failures{0};
  run_threads(threads, [&](int t) {
    std::mt19937 rng(static_cast<unsigned>(t + 7));
    for (int i = 0; i < per_thread; ++i) {
      const SequenceNumber seq = next_seq.fetch_add(1);
      const std::string key = key_of(rng() % 200);
      const bool tombstone = rng() % 5 == 0;
      const std::string value = tombstone ? "" : key + "@" + std::to_string(seq);
      if (list.add(key, value, tombstone ? ValueKind::kTombstone : ValueKind::kValue, seq) !=
          InsertResult::kOk) {
        failures.fetch_add(1);
      }
      // Our own version is visible at its sequence.
      auto v = list.get_at(key, seq);
      if (!v || v->seq != seq) failures.fetch_add(1);
      // Any version found at an older sequence is consistent.
      auto older = list.get_at(key, seq / 2);
      if (older &&
          (older->seq > seq / 2 || (older->kind == ValueKind::kValue &&
                                    older->value != key + "@" + std::to_string(older->seq)))) {
        failures.fetch_add(1);
      }
    }
  });
  EXPECT_EQ(failures.load(), 0);
  auto it = list.new_version_iterator();
  size_t n = 0;
  std::string prev_key;
  SequenceNumber prev_seq = 0;
  for (it->seek_to_first(); it->valid(); it->next(), ++n) {
    if (n > 0) {
      const bool ordered =
          prev_key < it->user_key() || (prev_key == it->user_key() && prev_seq > it->sequence());
      ASSERT_TRUE(ordered) << "at " << n;
    }
    prev_key = std::string(it->user_key());
    prev_seq = it->sequence();
  }
  EXPECT_EQ(n, static_cast<size_t>(per_thread) * threads);
  EXPECT_EQ(list.entry_count(), n);
}

// Whole walks while writers insert: cursors and the version iterator, from the
// first entry and from seeks, request nodes ahead of themselves on levels 1
// and 2 (SkipListCore::prefetch_ahead()) while those levels change under
// them. Every walk must be strictly ordered and hold every insert
// acknowledged before it started.
TEST_P(ConcurrencyTest, LongWalksDuringInsertsSeeEveryEarlierInsert) {
  const int writers = std::max(1, GetParam() - 1);
  const int per_writer = 2000 * kScale;
  ConcurrentSkipList list;
  // Writer w inserts keys w, w + writers, ... in a fixed random order.
  std::vector<std::vector<uint64_t>> orders(writers);
  for (int w = 0; w < writers; ++w) {
    for (int i = 0; i < per_writer; ++i)
      orders[w].push_back(static_cast<uint64_t>(i) * writers + w);
    std::shuffle(orders[w].begin(), orders[w].end(), std::mt19937_64(100 + w));
  }
  std::vector<std::atomic<int>> acknowledged(writers);
  for (auto& a : acknowledged) a.store(0);
  std::atomic<int> writers_done{0};
  std::atomic<int> failures{0};
  std::atomic<int> walks{0};
  run_threads(writers + 1, [&](int t) {
    if (t < writers) {
      for (int i = 0; i < per_writer; ++i) {
        if (!list.insert(key_of(orders[t][i]), "v")) failures.fetch_add(1);
        acknowledged[t].store(i + 1);
      }
      writers_done.fetch_add(1);
      return;
    }
    std::mt19937_64 rng(7);
    for (int round = 0; writers_done.load() < writers || round < 3; ++round) {
      std::vector<int> before(writers);
      for (int w = 0; w < writers; ++w) before[w] = acknowledged[w].load();
      // From the first entry, or from a seek into the lower half.
      const uint64_t from =
          round % 3 == 0 ? 0 : rng() % (static_cast<uint64_t>(per_writer) * writers / 2);
      std::set<uint64_t> seen;
      std::string previous;
      auto record = [&](std::string_view key) {
        if (!previous.empty() && !(previous < key)) failures.fetch_add(1);
        previous = std::string(key);
        seen.insert(std::stoull(std::string(key)));
      };
      if (round % 2 == 0) {
        for (Cursor c = from == 0 ? list.cursor() : list.cursor_at(key_of(from)); c.valid();
             c.next()) {
          record(c.entry().key);
        }
      } else {
        auto it = list.new_version_iterator();
        if (from == 0) {
          it->seek_to_first();
        } else {
          it->seek(key_of(from), kMaxSequenceNumber);
        }
        for (; it->valid(); it->next()) record(it->user_key());
      }
      for (int w = 0; w < writers; ++w) {
        for (int i = 0; i < before[w]; ++i) {
          if (orders[w][i] >= from && seen.count(orders[w][i]) == 0) failures.fetch_add(1);
        }
      }
      walks.fetch_add(1);
    }
  });
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(walks.load(), 3);
  std::string why;
  EXPECT_TRUE(list.check_invariants(&why)) << why;
}

INSTANTIATE_TEST_SUITE_P(Threads, ConcurrencyTest, ::testing::Values(2, 4, 8),
                         [](const auto& param_info) {
                           return std::to_string(param_info.param) + "threads";
                         });

}  // namespace
}  // namespace fsdb
