// SequencePublisher: the sequence readers may see.
//
// Write groups take sequence ranges in order, but their members insert into
// the memtable concurrently and finish in any order. A reader must never see
// sequence S while something below S is still being inserted (it would see half
// of a batch, or a later write without an earlier one). The publisher keeps the
// ranges still in flight and publishes the highest sequence below all of them.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>

#include "util/internal_key.h"

namespace fsdb {

class SequencePublisher {
 public:
  // The sequence readers may use: every write at or below it is in a memtable.
  // Acquire: pairs with the release in finish(), so the inserts a reader is
  // allowed to see are visible to it.
  SequenceNumber visible() const { return visible_.load(std::memory_order_acquire); }

  // At open: everything up to `s` is recovered.
  void reset(SequenceNumber s) {
    std::lock_guard<std::mutex> guard(mu_);
    allocated_ = s;
    visible_.store(s, std::memory_order_release);
  }

  // [first, last] has been handed to writers that will insert it.
  void begin(SequenceNumber first, SequenceNumber last) {
    std::lock_guard<std::mutex> guard(mu_);
    in_flight_.emplace(first, last);
    allocated_ = last;
  }

  // The writer of the range starting at `first` has inserted all of it (or gave up).
  void finish(SequenceNumber first) {
    std::lock_guard<std::mutex> guard(mu_);
    in_flight_.erase(first);
    const SequenceNumber v = in_flight_.empty() ? allocated_ : in_flight_.begin()->first - 1;
    // Release: publishes the memtable inserts made before finish() to readers
    // that acquire visible().
    visible_.store(v, std::memory_order_release);
    if (in_flight_.empty()) drained_.notify_all();
    if (waiters_ > 0) published_.notify_all();
  }

  // Blocks until visible() >= s. A writer calls it after finish() so that it
  // acknowledges its write only once readers can see it: its own range is
  // inserted, but a lower range of another group may still be in flight, and
  // until that one finishes the visible sequence stays below both.
  void wait_visible(SequenceNumber s) {
    if (visible() >= s) return;
    std::unique_lock<std::mutex> lock(mu_);
    ++waiters_;
    published_.wait(lock, [&] { return visible_.load(std::memory_order_relaxed) >= s; });
    --waiters_;
  }

  // Blocks until no range is in flight (before sealing a memtable, so nothing
  // is inserted into it afterwards).
  void wait_until_drained() {
    std::unique_lock<std::mutex> lock(mu_);
    drained_.wait(lock, [this] { return in_flight_.empty(); });
  }

 private:
  std::mutex mu_;
  std::condition_variable drained_;
  std::condition_variable published_;                   // visible_ advanced; guarded by mu_
  int waiters_ = 0;                                     // guarded by mu_: threads in wait_visible()
  std::map<SequenceNumber, SequenceNumber> in_flight_;  // first -> last
  SequenceNumber allocated_ = 0;
  std::atomic<SequenceNumber> visible_{0};
};

}  // namespace fsdb
