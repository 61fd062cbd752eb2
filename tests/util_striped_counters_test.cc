// StripedCounters (util/striped_counters.h): adds from many threads, each on
// its own stripe or sharing one, are all counted, per counter.
#include "util/striped_counters.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace fsdb {
namespace {

TEST(StripedCountersTest, StartsAtZero) {
  StripedCounters<2> counters;
  EXPECT_EQ(counters.load(0), 0u);
  EXPECT_EQ(counters.load(1), 0u);
}

TEST(StripedCountersTest, SumsEveryThreadsAddsPerCounter) {
  StripedCounters<2> counters;
  // More threads than stripes: some threads share a stripe.
  constexpr int kThreads = 20;
  constexpr int kRounds = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        counters.add(0, 1);
        counters.add(1, static_cast<uint64_t>(t));
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(counters.load(0), uint64_t{kThreads} * kRounds);
  // sum over t of t * kRounds
  EXPECT_EQ(counters.load(1), uint64_t{kThreads} * (kThreads - 1) / 2 * kRounds);
}

}  // namespace
}  // namespace fsdb
