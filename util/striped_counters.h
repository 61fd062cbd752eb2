// StripedCounters: N statistics counters that many threads add to, each
// thread on a cache line of its own (while there are no more threads than
// stripes), summed only when read.
//
// A single shared atomic counter costs every adding thread a transfer of its
// cache line from the core that added last — on the write path, where each
// write adds to a few counters, that was one of the larger costs of a second
// writer thread. Here a thread adds to its stripe (picked once per thread,
// round robin), so two writers touch different lines; reading sums the stripes.
//
// Thread safety: add() and load() from any thread at any time. A load() that
// runs concurrently with adds sees each add or not (the sum is not a snapshot
// across counters), which is what statistics need.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace fsdb {

template <size_t kCounters>
class StripedCounters {
 public:
  void add(size_t counter, uint64_t delta) {
    // Relaxed: a counter orders nothing; its value is all that is read.
    stripes_[stripe_index()].values[counter].fetch_add(delta, std::memory_order_relaxed);
  }

  uint64_t load(size_t counter) const {
    uint64_t sum = 0;
    for (const Stripe& s : stripes_) sum += s.values[counter].load(std::memory_order_relaxed);
    return sum;
  }

 private:
  static constexpr size_t kStripes = 16;
  struct alignas(64) Stripe {
    std::array<std::atomic<uint64_t>, kCounters> values{};
  };

  static size_t stripe_index() {
    // Relaxed: only distinct consecutive values are needed.
    static std::atomic<size_t> next{0};
    thread_local const size_t index = next.fetch_add(1, std::memory_order_relaxed) % kStripes;
    return index;
  }

  std::array<Stripe, kStripes> stripes_;
};

}  // namespace fsdb
