// LatencyHistogram: a fixed-size log-linear histogram of operation latencies in
// nanoseconds for fsdb_bench. Each power of two is split into 16 linear
// sub-buckets, so a reported percentile is within ~6% of the true sample while
// the histogram stays at 1024 counters whatever the number of samples (no
// sample is stored).
//
// Thread-safety: none; each benchmark thread owns one and the results are
// merged after the threads join. Plain value type, no ownership.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>

namespace fsdb::bench {

class LatencyHistogram {
 public:
  void add(uint64_t nanos) {
    ++counts_[bucket_of(nanos)];
    ++count_;
  }

  void merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
  }

  uint64_t count() const { return count_; }

  // The latency below which `fraction` of the samples fall, interpolated
  // linearly inside the bucket that holds that rank.
  double percentile_nanos(double fraction) const {
    if (count_ == 0) return 0;
    const double rank = fraction * static_cast<double>(count_);
    uint64_t below = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      if (counts_[i] == 0) continue;
      if (static_cast<double>(below + counts_[i]) >= rank) {
        const double low = static_cast<double>(lower_bound(i));
        const double high = static_cast<double>(lower_bound(i + 1));
        const double within = (rank - static_cast<double>(below)) / static_cast<double>(counts_[i]);
        return low + (high - low) * std::clamp(within, 0.0, 1.0);
      }
      below += counts_[i];
    }
    return static_cast<double>(lower_bound(kBuckets - 1));
  }

 private:
  static constexpr int kSubBits = 4;  // 16 sub-buckets per power of two
  static constexpr size_t kBuckets = 1024;

  // Values below 32 get a bucket each; above, a value with its highest bit at
  // position m lands in octave (m - 4) at sub-bucket (its top 5 bits - 16).
  // The two rules agree at 16..31, which keeps the index continuous.
  static size_t bucket_of(uint64_t v) {
    if (v < (2u << kSubBits)) return static_cast<size_t>(v);
    const int shift = (63 - std::countl_zero(v)) - kSubBits;
    const size_t index = (static_cast<size_t>(shift) << kSubBits) + static_cast<size_t>(v >> shift);
    return std::min(index, kBuckets - 1);
  }

  static uint64_t lower_bound(size_t index) {
    if (index < (2u << kSubBits)) return index;
    const size_t shift = (index >> kSubBits) - 1;
    const uint64_t top = (index & ((1u << kSubBits) - 1)) + (1u << kSubBits);
    return top << shift;
  }

  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
};

}  // namespace fsdb::bench
