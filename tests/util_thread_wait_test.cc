// SpinMutex and StateWord (util/thread_wait.h): mutual exclusion under
// contention, and waiters that sleep are woken (the futex path), not only
// waiters that spin. BackgroundThread, and the names threads are given.
#include "util/background_thread.h"
#include "util/thread_name.h"
#include "util/thread_wait.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace fsdb {
namespace {

// `threads` threads take `mu` `rounds` times each and run hold(thread, round)
// inside. Plain (non-atomic) counters: a lost update or a torn pair means two
// threads were inside at once, and ThreadSanitizer reports the race too.
template <typename Hold>
void expect_exclusion(int threads, int rounds, Hold hold) {
  SpinMutex mu;
  uint64_t counter = 0;
  uint64_t shadow = 0;
  std::atomic<bool> mismatch{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) {
        std::lock_guard<SpinMutex> guard(mu);
        if (counter != shadow) mismatch.store(true);
        ++counter;
        hold(t, i);
        ++shadow;
      }
    });
  }
  for (auto& w : workers) w.join();
  EXPECT_FALSE(mismatch.load());
  EXPECT_EQ(counter, uint64_t(threads) * uint64_t(rounds));
  EXPECT_EQ(shadow, counter);
}

TEST(SpinMutexTest, ExcludesUnderContention) {
  expect_exclusion(4, 50000, [](int, int i) {
    // Now and then hold the lock long enough that waiters give up spinning
    // and sleep on the futex.
    if (i % 5000 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
  });
}

// Holders that keep the lock a little longer than a waiter spins and yields
// (22 us): waiters keep going to sleep just as the lock is released (where
// unlock() chooses between its plain store and a wake-up), and the lock still
// excludes, and every one of them gets it.
TEST(SpinMutexTest, WaitersThatFallAsleepAroundTheUnlockExcludeAndProceed) {
  expect_exclusion(6, 150, [](int t, int i) {
    const auto until =
        std::chrono::steady_clock::now() + std::chrono::microseconds(15 + (i * 7 + t * 3) % 20);
    while (std::chrono::steady_clock::now() < until) {
    }
  });
}

// unlock() may miss a waiter that marks itself asleep right after unlock()
// looked (its plain store wakes nobody). Such a waiter must still get the
// lock, within its sleep slice, not sleep for ever.
TEST(SpinMutexTest, AWaiterAnUnlockMissedTakesTheLockWithinItsSlice) {
  SpinMutex mu;
  mu.lock();
  std::atomic<bool> acquired{false};
  std::thread waiter([&] {
    mu.lock();
    acquired.store(true);
    mu.unlock();
  });
  // Far past the spin and yield budget: the waiter sleeps, the word says so.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_FALSE(acquired.load());
  const auto released = std::chrono::steady_clock::now();
  mu.unlock_missing_sleepers();
  const auto deadline = released + std::chrono::seconds(5);
  while (!acquired.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  const auto waited = std::chrono::steady_clock::now() - released;
  if (!acquired.load()) {
    // Asleep for good, and nothing in the API wakes it: leave it behind (the
    // test runs in a process of its own) and fail.
    waiter.detach();
    FAIL() << "the waiter an unlock() missed never took the lock";
  }
  waiter.join();
  // One slice (at most kMaxSleepSlice) and scheduling, with a wide margin for
  // a loaded machine.
  EXPECT_LT(waited, std::chrono::milliseconds(500));
}

TEST(SpinMutexTest, TryLockFailsWhileHeld) {
  SpinMutex mu;
  ASSERT_TRUE(mu.try_lock());
  std::thread other([&] { EXPECT_FALSE(mu.try_lock()); });
  other.join();
  mu.unlock();
  EXPECT_TRUE(mu.try_lock());
  mu.unlock();
}

TEST(StateWordTest, ASleepingWaiterIsWokenWithTheNewState) {
  StateWord state(0);
  int payload = 0;  // written before set(), read after the wait: ordered by the state
  uint32_t seen = 0;
  std::thread waiter([&] { seen = state.wait_while(0, WaitBudget{}, [] { return false; }); });
  // Far past the spin and yield budget: the waiter is asleep by now.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  payload = 42;
  state.set(7);
  waiter.join();
  EXPECT_EQ(seen, 7u);
  EXPECT_EQ(payload, 42);
}

TEST(StateWordTest, ALongWaitSleepsAtOnceAndIsStillWoken) {
  StateWord state(0);
  std::atomic<bool> returned{false};
  std::thread waiter([&] {
    EXPECT_EQ(state.wait_while(0, WaitBudget{}, [] { return true; }), 3u);
    returned.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(returned.load()) << "the waiter returned while the state was still pending";
  state.set(3);
  waiter.join();
  EXPECT_TRUE(returned.load());
}

TEST(StateWordTest, ManyHandOffsBetweenTwoThreads) {
  // A ping-pong through two words: every hand-off is seen exactly once, whether
  // the waiter was spinning or asleep at the time.
  StateWord ping(0);
  StateWord pong(0);
  constexpr uint32_t kRounds = 20000;
  std::thread other([&] {
    for (uint32_t i = 1; i <= kRounds; ++i) {
      EXPECT_EQ(ping.wait_while(i - 1, WaitBudget{}, [] { return false; }), i);
      pong.set(i);
    }
  });
  for (uint32_t i = 1; i <= kRounds; ++i) {
    ping.set(i);
    // A zero budget sends every wait straight to the futex.
    const WaitBudget budget = i % 2 == 0 ? WaitBudget{} : WaitBudget{{}, {}};
    ASSERT_EQ(pong.wait_while(i - 1, budget, [] { return false; }), i);
  }
  other.join();
}

TEST(BackgroundThreadTest, RunsInOrderRefusesBeyondItsQueueAndDrainsOnDestruction) {
  std::vector<int> ran;  // written by the worker only; read after the join
  std::atomic<bool> release{false};
  {
    BackgroundThread thread(2, "test:worker");
    // The first task holds the worker, so the next ones queue up.
    ASSERT_TRUE(thread.try_submit([&] {
      while (!release.load()) std::this_thread::yield();
      ran.push_back(0);
    }));
    // Wait until the worker has taken it (the queue is empty again).
    int accepted = 0;
    for (int i = 1; accepted < 2 && i < 1000; ++i) {
      if (thread.try_submit([&ran, i] { ran.push_back(i); })) ++accepted;
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    EXPECT_EQ(accepted, 2);
    EXPECT_FALSE(thread.try_submit([&] { ran.push_back(-1); })) << "two queued: full";
    release.store(true);
  }  // the destructor runs what is queued, then joins
  ASSERT_EQ(ran.size(), 3u);
  EXPECT_EQ(ran[0], 0);
  EXPECT_LT(ran[1], ran[2]) << "in submission order";
}

TEST(BackgroundThreadTest, WakesFromSleepForALateTask) {
  BackgroundThread thread(4, "test:worker");
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // past the poll: asleep
  StateWord done(0);
  std::string name;  // written by the worker before done is set
  ASSERT_TRUE(thread.try_submit([&] {
    name = current_thread_name();
    done.set(1);
  }));
  EXPECT_EQ(done.wait_while(0, WaitBudget{}, [] { return false; }), 1u);
  EXPECT_EQ(name, "test:worker") << "the worker carries the name it was given";
}

TEST(ThreadNameTest, NamesTheCallingThreadAndCutsAtFifteenBytes) {
  std::string short_name, long_name;
  std::thread([&] {
    set_current_thread_name("fsdb:test");
    short_name = current_thread_name();
    set_current_thread_name("fsdb:a-name-longer-than-fifteen");
    long_name = current_thread_name();
  }).join();
  EXPECT_EQ(short_name, "fsdb:test");
  EXPECT_EQ(long_name, "fsdb:a-name-lon");
}

}  // namespace
}  // namespace fsdb
