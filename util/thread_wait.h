// How threads on the write path wait for each other: briefly spinning, then
// yielding, then sleeping in the kernel.
//
// A write group on this engine lasts a few microseconds (one write(2) and a
// little bookkeeping). Putting a waiting writer to sleep on a condition
// variable and waking it again costs two system calls and a trip through the
// scheduler, 10-50 us on a virtual machine: far more than the wait itself, so
// two writer threads ran slower than one. The primitives here spin first (the
// common, short wait costs no system call on either side), yield next (a
// preempted peer gets the CPU), and sleep on a futex only once a wait has
// lasted long enough that sleeping is cheap in comparison. A waker pays for a
// system call only when the waiter really is asleep.
//
//   SpinMutex    a mutex for critical sections of well under a microsecond
//   StateWord    one waiter waits for a 32-bit state to leave a value; any
//                thread sets it
//   WaitBudget   how long a waiter spins and yields before it sleeps
//
// Thread safety: every member of every class may be called from any thread.
// The synchronisation is carried by the atomics (acquire/release as noted), so
// ThreadSanitizer sees every happens-before edge; the futex is only a way to
// sleep.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

namespace fsdb {

// One CPU pause: lets the sibling hyperthread run and saves power while spinning.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Sleeps while *word == expected (or until a wake-up, which may be spurious).
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected);
// As futex_wait, for at most `timeout`.
void futex_wait_for(std::atomic<uint32_t>* word, uint32_t expected,
                    std::chrono::nanoseconds timeout);
// Wakes every thread sleeping on `word` / at most one of them.
void futex_wake_all(std::atomic<uint32_t>* word);
void futex_wake_one(std::atomic<uint32_t>* word);

struct WaitBudget {
  // Spinning with cpu_relax(): a wait this short is cheaper to burn than to sleep.
  std::chrono::nanoseconds spin{std::chrono::microseconds(4)};
  // Then sched_yield() in a loop: a runnable peer (often the very thread being
  // waited for, preempted on a busy machine) gets the CPU.
  std::chrono::nanoseconds yield{std::chrono::microseconds(40)};
};

// Spins, then yields, while `pending()` stays true, within `budget`. Returns
// false if the budget ran out with pending() still true: time to sleep.
template <typename Pending>
bool spin_then_yield(const WaitBudget& budget, Pending&& pending) {
  using Clock = std::chrono::steady_clock;
  if (!pending()) return true;
  const auto start = Clock::now();
  // The clock is read once per 64 pauses (a pause is 10-150 cycles).
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      cpu_relax();
      if (!pending()) return true;
    }
    if (Clock::now() - start >= budget.spin) break;
  }
  const auto yield_end = start + budget.spin + budget.yield;
  while (Clock::now() < yield_end) {
    std::this_thread::yield();
    if (!pending()) return true;
  }
  return false;
}

// A 32-bit state that one thread waits on while others change it. The value
// kParked is reserved: a waiter that is about to sleep swaps it in, so that
// the setter knows a futex wake-up is needed.
class StateWord {
 public:
  static constexpr uint32_t kParked = 0xffffffffu;

  explicit StateWord(uint32_t initial = 0) : word_(initial) {}

  // Acquire: the caller sees everything the setter did before its set().
  uint32_t load() const { return word_.load(std::memory_order_acquire); }
  // Only while no thread waits (a request being reused).
  void reset(uint32_t value) { word_.store(value, std::memory_order_relaxed); }

  // Publishes `value` and wakes the waiter if it sleeps. Release: pairs with the
  // waiter's acquire loads. The state may be destroyed as soon as the waiter
  // sees the value, so the wake-up may reach reused memory: every waiter here
  // re-checks its condition, so a stray wake-up costs only a loop.
  void set(uint32_t value) {
    if (word_.exchange(value, std::memory_order_release) == kParked) futex_wake_all(&word_);
  }

  // Waits while the state is `pending`; returns the new state. Only one
  // thread may wait on a StateWord at a time. `long_wait()` true says the wait
  // is known to be long (a group waiting for fdatasync): stop spinning and sleep.
  template <typename LongWait>
  uint32_t wait_while(uint32_t pending, const WaitBudget& budget, LongWait&& long_wait) {
    spin_then_yield(
        budget, [&] { return word_.load(std::memory_order_acquire) == pending && !long_wait(); });
    for (;;) {
      // Acquire (here and in the CAS): the setter's writes before set() are
      // visible once its value is.
      uint32_t v = word_.load(std::memory_order_acquire);
      if (v != pending && v != kParked) return v;
      // The CAS fails if set() came first; then the loop reads its value. If
      // it succeeds, set() will see kParked and wake us.
      if (v == pending && !word_.compare_exchange_strong(v, kParked, std::memory_order_acquire)) {
        continue;
      }
      futex_wait(&word_, kParked);  // returns at once if the word is no longer kParked
    }
  }

 private:
  std::atomic<uint32_t> word_;
};

// A mutex for short critical sections: spins, yields, then sleeps on a futex
// (the three-state futex mutex: 0 free, 1 held, 2 held with sleepers).
// Meets the Lockable requirements, so std::lock_guard and std::unique_lock work.
//
// unlock() is a plain release store unless it sees a sleeper. A locked
// instruction (the exchange of the textbook futex mutex) waits until every
// store of the critical section has reached the cache: on the engine's write
// path that is the log record just copied into fresh lines of the WAL
// mapping, and a waiting writer paid for it (measured on the Intel host:
// unlock 300-400 cycles with the exchange, 40-120 with the store). The price
// is that unlock() may miss a waiter that marks itself asleep between
// unlock()'s look and its store; so a sleep lasts at most a slice, and the
// sleeper looks again: kSleepSlice at first, doubling up to kMaxSleepSlice.
// Sleeping at all takes a holder preempted for longer than the spin and the
// yields (tens of microseconds), so the slices add little to a wait that is
// already slow, and a missed waiter loses at most the slice it is in.
class SpinMutex {
 public:
  SpinMutex() = default;
  SpinMutex(const SpinMutex&) = delete;
  SpinMutex& operator=(const SpinMutex&) = delete;

  static constexpr std::chrono::microseconds kSleepSlice{100};
  static constexpr std::chrono::microseconds kMaxSleepSlice{1600};

  bool try_lock() {
    uint32_t expected = 0;
    // Acquire on success: the critical section sees the previous holder's writes.
    return word_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                         std::memory_order_relaxed);
  }

  void lock() {
    if (try_lock()) return;
    static constexpr WaitBudget kBudget{std::chrono::microseconds(2),
                                        std::chrono::microseconds(20)};
    // Relaxed: the load is only a hint of when the acquiring CAS may succeed.
    if (spin_then_yield(
            kBudget, [&] { return !(word_.load(std::memory_order_relaxed) == 0 && try_lock()); })) {
      return;
    }
    // Acquire: as in try_lock(). Storing 2 tells unlock() a sleeper may exist.
    std::chrono::microseconds slice = kSleepSlice;
    while (word_.exchange(2, std::memory_order_acquire) != 0) {
      futex_wait_for(&word_, 2, slice);
      slice = std::min(slice * 2, kMaxSleepSlice);
    }
  }

  void unlock() {
    // Relaxed: only the holder stores 0 or 1, so the load tells whether a
    // waiter has stored 2; one that does so right after it is the missed
    // waiter the class comment describes.
    if (word_.load(std::memory_order_relaxed) != 2) {
      // Release: the next holder sees this critical section's writes.
      word_.store(0, std::memory_order_release);
      return;
    }
    if (word_.exchange(0, std::memory_order_release) == 2) futex_wake_one(&word_);
  }

  // For tests: the release of an unlock() that missed a sleeper (it stores 0
  // and wakes nobody).
  void unlock_missing_sleepers() { word_.store(0, std::memory_order_release); }

 private:
  std::atomic<uint32_t> word_{0};
};

}  // namespace fsdb
