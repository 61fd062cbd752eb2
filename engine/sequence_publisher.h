// SequencePublisher: the sequence readers may see.
//
// Write groups take sequence ranges in order, but their members insert into
// the memtable concurrently and finish in any order. A reader must never see
// sequence S while something below S is still being inserted (it would see half
// of a batch, or a later write without an earlier one). The publisher keeps the
// ranges still in flight and publishes the highest sequence below all of them.
//
// The ranges live in a ring of slots, in the order the group leaders handed
// them out. begin() (one leader at a time) fills the next slot; finish() marks
// a slot done and then moves the ring's head over every done slot at the front,
// raising the visible sequence to the last of them. No lock is taken: the write
// path's members finish concurrently, and any of them may advance the head.
//
// Thread safety: begin() and reset() are called by one thread at a time (the
// group leader, or the opener before any writer); everything else from any
// thread at any time.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "util/internal_key.h"
#include "util/thread_wait.h"

namespace fsdb {

class SequencePublisher {
 public:
  // Identifies a range handed out by begin().
  using Ticket = uint64_t;

  // The sequence readers may use: every write at or below it is in a memtable.
  // Acquire: pairs with the release RMW in publish(), so the inserts a reader
  // is allowed to see are visible to it.
  SequenceNumber visible() const { return visible_.load(std::memory_order_acquire); }

  // At open: everything up to `s` is recovered. REQUIRES: nothing in flight.
  void reset(SequenceNumber s) {
    visible_.store(s, std::memory_order_release);
    acknowledged_.store(s, std::memory_order_relaxed);  // relaxed: nothing runs concurrently
  }

  // [first, last] has been handed to a writer that will insert it. Ranges are
  // begun in sequence order. REQUIRES: one caller at a time.
  Ticket begin(SequenceNumber /*first*/, SequenceNumber last) {
    // Relaxed: tail_ is written only here, by one thread at a time.
    const Ticket t = tail_.load(std::memory_order_relaxed);
    // A slot is reused only once the head has passed its previous range. The
    // ring holds one range per writer in flight; a write group never holds
    // more than kSlots writers (kMaxRangesInFlight, checked by the write
    // path), so this wait ends when writers of earlier groups finish.
    while (t - head_.load(std::memory_order_acquire) >= kSlots) std::this_thread::yield();
    Slot& slot = slots_[t % kSlots];
    // Relaxed: both are published to finishers and advancers by the release
    // store of tail_ below.
    slot.last.store(last, std::memory_order_relaxed);
    slot.done.store(false, std::memory_order_relaxed);
    tail_.store(t + 1, std::memory_order_release);
    return t;
  }

  // The writer of `ticket` has inserted all of its range (or gave up).
  void finish(Ticket ticket) {
    // Seq_cst, not just release (which would suffice for the inserts of this
    // range to happen-before their publication): this store and advance()'s
    // load of head_ on one side, an advancer's head CAS and its load of
    // `done` on the other, form a Dekker pattern. With seq_cst on all four,
    // either the advancer that moved the head to this slot sees it done, or
    // this thread sees the head at its slot and advances it itself; weaker
    // orders allow both to miss, and the visible sequence would stall.
    slots_[ticket % kSlots].done.store(true, std::memory_order_seq_cst);
    advance();
  }

  // The writer of a range ending at `last` has finished it and is about to
  // acknowledge its write. It does not wait for lower ranges still in flight
  // (that wait would tie every writer to the slowest concurrent insert);
  // readers wait instead, and only when they must (see readable()).
  void acknowledge(SequenceNumber last) {
    // Relaxed: the value is all that matters. A reader that starts after this
    // acknowledgement (ordered after it by whatever told it so) reads this
    // value or a later one: the modification order of one atomic agrees with
    // happens-before, and the maximum only grows.
    SequenceNumber a = acknowledged_.load(std::memory_order_relaxed);
    while (a < last && !acknowledged_.compare_exchange_weak(a, last, std::memory_order_relaxed)) {
    }
  }

  // The sequence a reader uses: the visible sequence once it covers every
  // write acknowledged before this call. Waits (briefly: for inserts already
  // under way) only while an acknowledged write is not yet visible.
  SequenceNumber readable() {
    const SequenceNumber acknowledged = acknowledged_.load(std::memory_order_relaxed);
    wait_visible(acknowledged);
    return visible();
  }

  // Blocks until visible() >= s.
  void wait_visible(SequenceNumber s) {
    if (visible() >= s) return;
    // Seq_cst: the sleep handshake of wait() (see advance()).
    wait([&] { return visible_.load(std::memory_order_seq_cst) >= s; });
  }

  // Blocks until no range is in flight (before sealing a memtable, so nothing
  // is inserted into it afterwards). REQUIRES: no begin() meanwhile.
  void wait_until_drained() {
    // Seq_cst: the sleep handshake of wait() (see advance()).
    wait([&] {
      return head_.load(std::memory_order_seq_cst) == tail_.load(std::memory_order_seq_cst);
    });
  }

 private:
  static constexpr size_t kSlots = 1024;

 public:
  // The most ranges one caller may begin() before any of them can finish: a
  // leader begins its whole group's ranges before its members insert, so a
  // group larger than the ring would wait for itself.
  static constexpr size_t kMaxRangesInFlight = kSlots;

 private:
  struct alignas(16) Slot {
    std::atomic<SequenceNumber> last{0};
    std::atomic<bool> done{true};
  };

  // Moves the head over the done slots at the front of the ring.
  void advance() {
    for (;;) {
      // Seq_cst on head_ and `done`: the Dekker pattern of finish() (at least
      // acquire, so that the slot's fields written before them are visible).
      // Acquire on tail_: pairs with begin()'s release store, so the slot's
      // range is visible.
      Ticket h = head_.load(std::memory_order_seq_cst);
      if (h == tail_.load(std::memory_order_acquire)) break;
      const Slot& slot = slots_[h % kSlots];
      if (!slot.done.load(std::memory_order_seq_cst)) break;
      const SequenceNumber last =
          slot.last.load(std::memory_order_relaxed);  // under head_'s acquire
      // The CAS fails if another advancer moved the head first (then the slot
      // may already hold a newer range, and what was read is not used).
      // Seq_cst: at least release, so that a begin() waiting for this slot
      // sees the head move only after the slot was read; seq_cst for the sleep
      // handshake below.
      if (head_.compare_exchange_strong(h, h + 1, std::memory_order_seq_cst)) publish(last);
    }
    // The sleep handshake (a Dekker pattern, every access seq_cst): a waiter
    // increments sleepers_ and then re-checks the head and the sequence; this
    // thread moved them and then reads sleepers_. In the single order of
    // seq_cst operations one of the two comes second and sees the other: the
    // waiter does not sleep, or it is woken here.
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      wake_epoch_.fetch_add(1, std::memory_order_seq_cst);
      futex_wake_all(&wake_epoch_);
    }
  }

  // Raises visible_ to `last` (advancers may publish out of order).
  void publish(SequenceNumber last) {
    SequenceNumber v = visible_.load(std::memory_order_relaxed);
    // Seq_cst on success: release for readers, who acquire visible_, and the
    // sleep handshake (see advance()). Relaxed on failure: the loop only
    // retries with the value it read.
    while (v < last && !visible_.compare_exchange_weak(v, last, std::memory_order_seq_cst,
                                                       std::memory_order_relaxed)) {
    }
  }

  // Spins, yields, then sleeps on wake_epoch_ until done() holds; done()
  // must read with seq_cst loads (the handshake of advance()).
  template <typename Done>
  void wait(Done&& done) {
    if (done()) return;
    if (spin_then_yield(WaitBudget{}, [&] { return !done(); })) return;
    for (;;) {
      // The epoch is read before the re-check: if an advancer bumps it after
      // that, futex_wait returns at once.
      const uint32_t epoch = wake_epoch_.load(std::memory_order_seq_cst);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);  // the handshake of advance()
      if (!done()) futex_wait(&wake_epoch_, epoch);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      if (done()) return;
    }
  }

  std::array<Slot, kSlots> slots_;
  // One cache line for all of them: every write changes each of them (begin,
  // finish, publish, acknowledge), so they would move between the writers'
  // cores together anyway; on one line that is one transfer, not five.
  alignas(64) std::atomic<Ticket> head_{0};  // the oldest range still in flight
  std::atomic<Ticket> tail_{0};              // the next ticket begin() hands out
  std::atomic<SequenceNumber> visible_{0};
  std::atomic<SequenceNumber> acknowledged_{0};  // the highest acknowledged write
  std::atomic<uint32_t> sleepers_{0};
  std::atomic<uint32_t> wake_epoch_{0};
};

}  // namespace fsdb
