// SequencePublisher: the sequence readers may see.
//
// Writers take sequence ranges in order, but insert them into the memtable
// concurrently and finish in any order. A reader must never see sequence S
// while something at or below S is still being inserted (it would see half of
// a batch, or a later write without an earlier one), and must see every write
// acknowledged before it started.
//
// Each range in flight occupies a slot, a cache line of its own. begin() (one
// caller at a time: the write path holds its sequence lock) claims a free slot
// and writes the range's first sequence there; finish() writes "idle" back.
// A writer touches only its own slot when it finishes, and takes its slot again
// next time (the `hint`), so two writers on two cores pass no cache line back
// and forth here: the cost of publication falls on readers, who look at the
// few slots in use (visible(), readable()). Writers outnumber readers' scans
// in the workloads this serves, and a reader's scan of unchanged slots hits
// its own cache.
//
// Thread safety: begin() and reset() are called by one thread at a time (the
// holder of the write path's sequence lock, or the opener before any writer);
// everything else from any thread at any time.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <limits>
#include <thread>

#include "util/internal_key.h"
#include "util/thread_wait.h"

namespace fsdb {

class SequencePublisher {
 public:
  // Identifies a range handed out by begin(): the slot it occupies.
  using Ticket = uint32_t;
  // begin() without a preferred slot.
  static constexpr Ticket kNoHint = std::numeric_limits<Ticket>::max();

 private:
  static constexpr uint32_t kSlots = 1024;

 public:
  // The most ranges that may be in flight at once: a leader begins its whole
  // group's ranges before its members insert, so a group larger than this
  // would wait for itself.
  static constexpr size_t kMaxRangesInFlight = kSlots;

  // The last sequence handed out by begin() (or set by reset()).
  // Acquire: pairs with begin()'s release store, for callers that read the
  // ranges' slots next (and VersionSet, which records it in the MANIFEST).
  SequenceNumber allocated() const { return allocated_.load(std::memory_order_acquire); }
  // The same counter, for VersionSet::track_last_sequence().
  const std::atomic<SequenceNumber>* allocated_counter() const { return &allocated_; }

  // The sequence readers may use: every write at or below it is in a memtable.
  SequenceNumber visible() const { return scan().visible(); }

  // At open: everything up to `s` is recovered. REQUIRES: nothing in flight.
  void reset(SequenceNumber s) {
    // Relaxed: nothing runs concurrently; whatever starts later is ordered
    // after this by the thread that starts it.
    for (Slot& slot : slots_) {
      slot.first.store(kIdle, std::memory_order_relaxed);
      slot.acknowledged.store(0, std::memory_order_relaxed);
    }
    slots_used_.store(0, std::memory_order_relaxed);
    allocated_.store(s, std::memory_order_release);
  }

  // [first, last] has been handed to a writer that will insert it; `hint` is
  // the slot that writer's thread used last (kNoHint if none). Ranges are begun
  // in sequence order, each right after the previous one (first ==
  // allocated() + 1). Waits while kMaxRangesInFlight ranges are in flight.
  // REQUIRES: one caller at a time.
  Ticket begin(SequenceNumber first, SequenceNumber last, Ticket hint = kNoHint) {
    const Ticket t = claim(hint);
    Slot& slot = slots_[t];
    // Relaxed: read only by the finisher of this range, the thread this
    // range is handed to (ordered after this by whatever hands it over).
    slot.last.store(last, std::memory_order_relaxed);
    // Release: a reader that sees this range here instead of the idle mark
    // the slot's previous finisher stored must also see that finisher's
    // inserts (this thread acquired them in claim()).
    slot.first.store(first, std::memory_order_release);
    // Release: a reader that acquires `allocated_` >= first sees the slot
    // (and slots_used_) written above, so it cannot take this range as
    // finished. Every begin() is ordered after the previous one by the
    // caller's lock, so the same holds for every earlier range.
    allocated_.store(last, std::memory_order_release);
    return t;
  }

  // The writer of `ticket` has inserted all of its range, or gave up (then
  // nothing of it was inserted). `acknowledged`: the writer is about to tell
  // its caller the write is done, so every reader that starts after that
  // must see it (readable()); a range given up is not acknowledged.
  void finish(Ticket ticket, bool acknowledged) {
    Slot& slot = slots_[ticket];
    if (acknowledged) {
      // A reader that starts after the acknowledgement (ordered after it by
      // whatever told it so) reads this value or a later one (coherence).
      // Only the slot's current holder stores it, and later ranges in a
      // slot have later sequences, so it only grows. Stored before the slot
      // is released: once released the slot may belong to another writer.
      // Release: a reader that acquires it also sees allocated_ at or past
      // it (begin() stored that first), which wait_visible() needs.
      slot.acknowledged.store(slot.last.load(std::memory_order_relaxed), std::memory_order_release);
    }
    // Seq_cst, not just release (which would suffice for the inserts of
    // this range to happen-before a reader that sees the slot idle): this
    // store and the load of sleepers_ below, and a waiter's increment of
    // sleepers_ and its re-check of the slots, form a Dekker pattern; see
    // wait().
    slot.first.store(kIdle, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      wake_epoch_.fetch_add(1, std::memory_order_seq_cst);
      futex_wake_all(&wake_epoch_);
    }
  }

  // The sequence a reader uses: the visible sequence once it covers every
  // write acknowledged before this call. Waits only while an acknowledged
  // write is not yet visible: usually for inserts already under way, but an
  // unlogged write acknowledged above a synced group still in its fdatasync
  // waits for that sync (the group's ranges were begun before it).
  SequenceNumber readable() const {
    const Scan s = scan();
    if (s.visible() >= s.acknowledged) return s.visible();
    wait_visible(s.acknowledged);
    return visible();
  }

  // Blocks until visible() >= s. REQUIRES: the caller has seen allocated()
  // reach s, or a value that implies it (readable()'s acknowledged sequence):
  // a begin() wakes no sleeper, only the finish() after it does, and a waiter
  // that read an older allocated_ could sleep through that finish().
  void wait_visible(SequenceNumber s) const {
    wait([&] { return scan().visible() >= s; });
  }

  // Blocks until no range is in flight (before sealing a memtable, so nothing
  // is inserted into it afterwards). REQUIRES: no begin() meanwhile.
  void wait_until_drained() const {
    wait([&] { return scan().in_flight_first == kIdle; });
  }

 private:
  static constexpr SequenceNumber kIdle = std::numeric_limits<SequenceNumber>::max();
  static_assert(kIdle > kMaxSequenceNumber);

  struct alignas(64) Slot {
    // The first sequence of the range in flight here, or kIdle.
    std::atomic<SequenceNumber> first{kIdle};
    // The last sequence of that range (for finish()).
    std::atomic<SequenceNumber> last{0};
    // The last sequence of the latest acknowledged range finished here.
    std::atomic<SequenceNumber> acknowledged{0};
  };

  // What a reader sees in one pass over the slots.
  struct Scan {
    SequenceNumber allocated = 0;
    SequenceNumber in_flight_first = kIdle;  // the lowest range in flight
    SequenceNumber acknowledged = 0;         // the highest acknowledged write
    // Every range whose first sequence is at or below this has finished.
    SequenceNumber visible() const { return std::min(allocated, in_flight_first - 1); }
  };

  // Why visible() is right: a range R with first <= allocated was begun
  // before `allocated` was stored, so its slot's first (and slots_used_) are
  // visible to this scan, which read `allocated` with acquire first. The scan
  // then reads R's slot: R itself (in_flight_first <= first_R, so visible() <
  // first_R), or the idle mark of R's finisher or a later range's first, both
  // stored after R finished — and acquired, so R's inserts are visible too.
  Scan scan() const {
    Scan s;
    s.allocated = allocated();
    // Relaxed: published by the release store of allocated_ read above.
    const uint32_t used = slots_used_.load(std::memory_order_relaxed);
    for (uint32_t i = 0; i < used; ++i) {
      const Slot& slot = slots_[i];
      // Seq_cst (at least acquire, see above): the re-check of wait()'s
      // sleep handshake.
      s.in_flight_first = std::min(s.in_flight_first, slot.first.load(std::memory_order_seq_cst));
      // Acquire: see finish().
      s.acknowledged = std::max(s.acknowledged, slot.acknowledged.load(std::memory_order_acquire));
    }
    return s;
  }

  // A free slot for the next range: the hint if it is free, else the first
  // free one in use, else a new one. Called by begin() only.
  Ticket claim(Ticket hint) {
    for (;;) {
      // Relaxed: written only by begin(), one caller at a time.
      const uint32_t used = slots_used_.load(std::memory_order_relaxed);
      // A hint at or beyond `used` (a slot this thread had in another
      // publisher) is not taken: readers look only below `used`.
      if (hint < used && is_free(hint)) return hint;
      for (uint32_t i = 0; i < used; ++i) {
        if (is_free(i)) return i;
      }
      if (used < kSlots) {
        // Relaxed: published to readers by begin()'s release store of
        // allocated_, and to wait_until_drained() by the caller's lock.
        slots_used_.store(used + 1, std::memory_order_relaxed);
        return used;
      }
      // Every slot is in flight: ranges of other writers finish.
      std::this_thread::yield();
    }
  }

  bool is_free(Ticket t) const {
    // Acquire: the previous range's inserts happen-before the new range's
    // release store of `first` (see begin()).
    return slots_[t].first.load(std::memory_order_acquire) == kIdle;
  }

  // Spins, yields, then sleeps on wake_epoch_ until done() holds; done()
  // must read the slots with seq_cst loads (scan() does).
  //
  // The sleep handshake (a Dekker pattern, every access seq_cst): a waiter
  // increments sleepers_ and then re-checks the slots; a finisher marks its
  // slot idle and then reads sleepers_. In the single order of seq_cst
  // operations one of the two comes second and sees the other: the waiter
  // does not sleep, or it is woken.
  template <typename Done>
  void wait(Done&& done) const {
    if (done()) return;
    if (spin_then_yield(WaitBudget{}, [&] { return !done(); })) return;
    for (;;) {
      // The epoch is read before the re-check: if a finisher bumps it after
      // that, futex_wait returns at once.
      const uint32_t epoch = wake_epoch_.load(std::memory_order_seq_cst);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      if (!done()) futex_wait(&wake_epoch_, epoch);
      sleepers_.fetch_sub(1, std::memory_order_seq_cst);
      if (done()) return;
    }
  }

  // Written by begin() with every range; read by every reader.
  alignas(64) std::atomic<SequenceNumber> allocated_{0};
  std::atomic<uint32_t> slots_used_{0};  // slots [0, slots_used_) have been used
  // Read by every finisher, written only by sleeping waiters: a line of its
  // own, so that it stays in the finishers' caches.
  alignas(64) mutable std::atomic<uint32_t> sleepers_{0};
  mutable std::atomic<uint32_t> wake_epoch_{0};
  std::array<Slot, kSlots> slots_;
};

}  // namespace fsdb
