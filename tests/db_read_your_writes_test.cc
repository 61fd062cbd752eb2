// engine/: an acknowledged write is visible to every read that starts after it.
//
// Regression test. Writers insert their batches into the memtable concurrently
// and the visible sequence only passes a range once every lower range is
// inserted too; write() used to return as soon as its own range was inserted,
// so while another group's lower range was still being inserted the writer's
// own next get() read below its write and returned the previous value (found by
// tools/crashtest's online get checks).
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kRoundsPerThread = 3000;
#else
constexpr int kRoundsPerThread = 20000;
#endif

TEST(DBReadYourWritesTest, EachWriterSeesItsOwnAcknowledgedWrites) {
  test::ScratchDir dir;
  Options options;
  options.memtable_bytes = 64 << 10;  // rotations and flushes while the writers run
  options.memtable_shards = 4;
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(options, dir.path(), &db));
  constexpr int kThreads = 4;
  std::atomic<int> stale{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      const std::string key = "writer" + std::to_string(t);
      std::string got;
      for (int i = 0; i < kRoundsPerThread; ++i) {
        const std::string value = std::to_string(i);
        if (!db->put(key, value).ok()) {
          errors.fetch_add(1);
          return;
        }
        if (!db->get(key, &got).ok()) {
          errors.fetch_add(1);
          return;
        }
        if (got != value) stale.fetch_add(1);
        // A snapshot taken after the write holds it too.
        if (i % 64 == 0) {
          const Snapshot* snap = db->get_snapshot();
          ReadOptions ro;
          ro.snapshot = snap;
          if (!db->get(ro, key, &got).ok() || got != value) stale.fetch_add(1);
          db->release_snapshot(snap);
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(stale.load(), 0) << "reads after an acknowledged write returned an older value";
  FSDB_EXPECT_OK(db->close());
}

}  // namespace
}  // namespace fsdb
