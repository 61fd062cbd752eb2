// Group commit: concurrent writers lose and reorder nothing, groups form behind
// a slow leader, bounds hold, and an error reaches every member of its group.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_util.h"
#include "tests/wal_test_files.h"
#include "wal/group_commit.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

namespace fsdb::wal {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr int kPerThread = 300;
#else
constexpr int kPerThread = 3000;
#endif
constexpr int kThreads = 4;

std::string record_for(int thread, int i) {
  return "t" + std::to_string(thread) + ":" + std::to_string(i);
}

// The engine's shape: the leader frames every member's record into the log with
// one add_records call, syncing when any member asked.
Status write_group(LogWriter& writer, GroupCommit::Group group) {
  std::vector<std::string_view> records;
  bool sync = false;
  for (GroupCommit::Request* r : group) {
    records.push_back(*static_cast<const std::string*>(r->context));
    sync = sync || r->sync;
  }
  return writer.add_records(records, sync);
}

std::vector<std::string> read_all(const std::string& bytes) {
  LogReader reader(std::make_unique<test::StringRandomAccessFile>(bytes), 1,
                   WalRecoveryMode::kAbsoluteConsistency);
  std::vector<std::string> out;
  std::string_view record;
  while (reader.read_record(&record)) out.emplace_back(record);
  EXPECT_TRUE(reader.status().ok()) << reader.status().to_string();
  return out;
}

TEST(WalGroupCommitTest, FourThreadsLoseAndReorderNothing) {
  std::string bytes;
  test::FileCalls calls;
  LogWriter writer(std::make_unique<test::StringWritableFile>(&bytes, &calls), 1);
  GroupCommit queue;
  std::vector<std::string> led_order;  // touched only inside lead(), one leader at a time
  std::atomic<int> leads_running{0};
  std::atomic<bool> overlap{false};

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string record = record_for(t, i);
        GroupCommit::Request request;
        request.context = const_cast<std::string*>(&record);
        request.bytes = record.size();
        request.sync = i % 7 == 0;
        Status s = queue.submit(&request, [&](GroupCommit::Group group) {
          if (leads_running.fetch_add(1) != 0) overlap = true;
          for (GroupCommit::Request* r : group) {
            led_order.push_back(*static_cast<const std::string*>(r->context));
          }
          Status result = write_group(writer, group);
          leads_running.fetch_sub(1);
          return result;
        });
        ASSERT_TRUE(s.ok()) << s.to_string();
        ASSERT_TRUE(request.status.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(overlap.load()) << "two leaders ran at once";

  const std::vector<std::string> logged = read_all(bytes);
  EXPECT_EQ(logged, led_order) << "the log holds exactly what the leaders wrote, in order";
  ASSERT_EQ(logged.size(), static_cast<size_t>(kThreads * kPerThread));
  std::map<int, int> next_of_thread;
  for (const std::string& rec : logged) {
    const int t = std::stoi(rec.substr(1, rec.find(':') - 1));
    const int i = std::stoi(rec.substr(rec.find(':') + 1));
    EXPECT_EQ(i, next_of_thread[t]) << "thread " << t << " out of order or lost";
    next_of_thread[t] = i + 1;
  }
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(next_of_thread[t], kPerThread);

  const GroupCommitStats stats = queue.stats();
  EXPECT_EQ(stats.requests, static_cast<uint64_t>(kThreads * kPerThread));
  EXPECT_EQ(static_cast<uint64_t>(calls.appends), stats.groups) << "one write per group";
  EXPECT_LE(static_cast<uint64_t>(calls.syncs), stats.groups) << "at most one sync per group";
}

// While a leader is busy the others queue up behind it and share its next lead.
TEST(WalGroupCommitTest, GroupsFormBehindASlowLeaderAndRespectBounds) {
  GroupCommitOptions options;
  options.max_group_requests = 3;
  GroupCommit queue(options);
  std::atomic<size_t> largest{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) {
        GroupCommit::Request request;
        request.sync = true;
        Status s = queue.submit(&request, [&](GroupCommit::Group group) {
          size_t seen = largest.load();
          while (group.size() > seen && !largest.compare_exchange_weak(seen, group.size())) {
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          return Status::OK();
        });
        ASSERT_TRUE(s.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const GroupCommitStats stats = queue.stats();
  EXPECT_EQ(stats.requests, static_cast<uint64_t>(kThreads * 20));
  EXPECT_GT(stats.largest_group, 1u) << "4 writers behind a 1 ms leader never grouped";
  EXPECT_LE(stats.largest_group, 3u);
  EXPECT_EQ(largest.load(), stats.largest_group);
  EXPECT_LT(stats.groups, stats.requests);
}

TEST(WalGroupCommitTest, ByteBoundKeepsGroupsSmallButAlwaysTakesTheLeader) {
  GroupCommitOptions options;
  options.max_group_bytes = 100;
  GroupCommit queue(options);
  std::atomic<bool> too_big{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        GroupCommit::Request request;
        request.bytes = t == 0 ? 500 : 60;  // thread 0's requests exceed the bound alone
        Status s = queue.submit(&request, [&](GroupCommit::Group group) {
          size_t bytes = 0;
          for (GroupCommit::Request* r : group) bytes += r->bytes;
          if (group.size() > 1 && bytes > 100) too_big = true;
          std::this_thread::sleep_for(std::chrono::microseconds(200));
          return Status::OK();
        });
        ASSERT_TRUE(s.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(too_big.load());
  EXPECT_EQ(queue.stats().requests, static_cast<uint64_t>(kThreads * 50));
}

// A log whose file starts failing: every member of the failing group gets the
// error, later groups get it too (the writer is broken), and every record whose
// writer was told OK is in the log.
TEST(WalGroupCommitTest, WriteAndSyncErrorsReachEveryMember) {
  for (const bool fail_sync : {false, true}) {
    SCOPED_TRACE(fail_sync ? "sync fails" : "write fails");
    std::string bytes;
    auto file = std::make_unique<test::StringWritableFile>(&bytes);
    if (fail_sync) {
      file->fail_sync_at = 20;
    } else {
      file->fail_append_at = 60;
      file->partial_bytes_on_failure = 7;
    }
    LogWriter writer(std::move(file), 1);
    GroupCommit queue;
    std::mutex mu;
    std::map<const GroupCommit::Request*, int> group_of;  // request -> index of its group
    std::vector<Status> group_status;
    std::vector<std::vector<std::string>> acknowledged(kThreads);
    std::vector<int> failures(kThreads, 0);

    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < 100; ++i) {
          const std::string record = record_for(t, i);
          GroupCommit::Request request;
          request.context = const_cast<std::string*>(&record);
          request.bytes = record.size();
          request.sync = true;
          Status s = queue.submit(&request, [&](GroupCommit::Group group) {
            Status result = write_group(writer, group);
            std::lock_guard lock(mu);
            for (GroupCommit::Request* r : group) {
              group_of[r] = static_cast<int>(group_status.size());
            }
            group_status.push_back(result);
            return result;
          });
          {
            std::lock_guard lock(mu);
            // The status every member got is the one its leader returned.
            EXPECT_EQ(s, group_status[group_of.at(&request)]);
            group_of.erase(&request);
          }
          EXPECT_EQ(s, request.status);
          if (s.ok()) {
            acknowledged[t].push_back(record);
          } else {
            EXPECT_TRUE(s.is_io_error()) << s.to_string();
            ++failures[t];
          }
        }
      });
    }
    for (auto& th : threads) th.join();

    int failed_groups = 0;
    for (const Status& s : group_status) failed_groups += s.ok() ? 0 : 1;
    EXPECT_GT(failed_groups, 0);
    int total_failures = 0;
    for (int f : failures) total_failures += f;
    EXPECT_GT(total_failures, 0);
    // Once broken, always broken: no OK group after the first failed one.
    bool seen_failure = false;
    for (const Status& s : group_status) {
      if (!s.ok()) seen_failure = true;
      if (seen_failure) {
        EXPECT_FALSE(s.ok());
      }
    }
    // Every acknowledged record is in the log, in its thread's order.
    LogReader reader(std::make_unique<test::StringRandomAccessFile>(bytes), 1,
                     WalRecoveryMode::kTolerateCorruptedTail);
    std::vector<std::vector<std::string>> logged(kThreads);
    std::string_view record;
    while (reader.read_record(&record)) {
      const std::string rec(record);
      logged[std::stoi(rec.substr(1, rec.find(':') - 1))].push_back(rec);
    }
    ASSERT_TRUE(reader.status().ok()) << reader.status().to_string();
    for (int t = 0; t < kThreads; ++t) {
      ASSERT_GE(logged[t].size(), acknowledged[t].size());
      EXPECT_TRUE(std::equal(acknowledged[t].begin(), acknowledged[t].end(), logged[t].begin()));
    }
  }
}

// Two writers syncing in a loop: without the follower wait the groups would
// alternate two and one (~15 groups for 20 requests); with it, pairs form.
TEST(WalGroupCommitTest, FollowerWaitPairsTwoSyncingWriters) {
  GroupCommitOptions options;
  options.max_follower_wait = std::chrono::seconds(1);  // bounded by half a lead: 10 ms
  GroupCommit queue(options);
  auto slow_sync = [](GroupCommit::Group) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return Status::OK();
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        GroupCommit::Request request;
        request.sync = true;
        ASSERT_TRUE(queue.submit(&request, slow_sync).ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  const GroupCommitStats stats = queue.stats();
  EXPECT_EQ(stats.requests, 20u);
  // The first group (no history yet) and the last (its partner is done) are
  // alone; one more is allowed for a wake-up slower than 10 ms on a busy machine.
  EXPECT_LE(stats.groups, 12u);
}

TEST(WalGroupCommitTest, ZeroRequestBoundStillTakesTheLeader) {
  GroupCommitOptions options;
  options.max_group_requests = 0;
  GroupCommit queue(options);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        GroupCommit::Request request;
        ASSERT_TRUE(queue
                        .submit(&request,
                                [](GroupCommit::Group group) {
                                  return group.size() == 1
                                             ? Status::OK()
                                             : Status::InvalidArgument("group too big");
                                })
                        .ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(queue.stats().groups, 100u);
}

// The follower wait is bounded: a writer left alone after its peers stop is
// not held up forever, and every request completes.
TEST(WalGroupCommitTest, FollowerWaitEndsWhenPeersStop) {
  GroupCommitOptions options;
  options.max_follower_wait = std::chrono::milliseconds(2);
  GroupCommit queue(options);
  auto slow_sync = [](GroupCommit::Group) {
    std::this_thread::sleep_for(std::chrono::microseconds(500));
    return Status::OK();
  };
  std::thread peer([&] {
    for (int i = 0; i < 20; ++i) {
      GroupCommit::Request request;
      request.sync = true;
      ASSERT_TRUE(queue.submit(&request, slow_sync).ok());
    }
  });
  for (int i = 0; i < 60; ++i) {
    GroupCommit::Request request;
    request.sync = true;
    ASSERT_TRUE(queue.submit(&request, slow_sync).ok());
  }
  peer.join();
  EXPECT_EQ(queue.stats().requests, 80u);
}

}  // namespace
}  // namespace fsdb::wal
