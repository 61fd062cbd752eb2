// GroupCommit: a leader/follower queue that lets many writers share one
// expensive operation (a WAL write and fdatasync), knowing nothing of logs.
//
// Each writer calls submit() with its own Request. The first writer to reach
// the front of the queue becomes the leader: it takes every request queued
// behind it (up to max_group_bytes of Request::bytes or max_group_requests),
// calls lead(group) once WITHOUT holding the queue's mutex, hands the status it
// returns to every member, wakes them, and wakes the next request in the queue,
// which leads the next group. Groups are formed and led in arrival order, so
// requests are never reordered.
//
// Waiting: a group without a sync lasts a few microseconds, far less than a
// sleep and wake-up through the kernel, so members and the next leader first
// spin, then yield, and sleep on a futex only after WaitBudget (util/thread_wait.h).
// A request that syncs, or that waits behind a group that syncs, sleeps at once:
// its wait is an fdatasync long.
//
// Follower wait: a closed-loop writer whose group has just finished comes back
// a few microseconds later. When the group is going to sync and the previous
// group saw more writers than are queued now, the leader waits for them (at most
// max_follower_wait, never longer than half of what a syncing lead() has been
// costing, and never past that long after the previous group finished). With
// two writers this turns alternating groups of one into groups of two.
//
// Thread safety: submit() may be called from any number of threads. Only one
// lead() runs at a time. Ownership: Requests belong to their callers and must
// stay alive until their submit() returns; the queue only links them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>
#include <vector>

#include "fsdb/status.h"
#include "util/thread_wait.h"

namespace fsdb::wal {

struct GroupCommitOptions {
  // A group stops growing at this many bytes of Request::bytes (the leader's own
  // request is always taken, however large) ...
  size_t max_group_bytes = 1 << 20;
  // ... or at this many requests.
  size_t max_group_requests = 1024;
  // Upper bound of the follower wait described above; zero turns it off.
  std::chrono::microseconds max_follower_wait{100};
  // How long a waiting request spins and yields before it sleeps.
  WaitBudget wait_budget;
};

struct GroupCommitStats {
  uint64_t groups = 0;
  uint64_t requests = 0;
  uint64_t largest_group = 0;
};

class GroupCommit {
 public:
  struct Request {
    void* context = nullptr;  // the caller's data, e.g. its write batch
    size_t bytes = 0;         // the caller's payload size, for bounding groups
    bool sync = false;        // lead() must make this request durable
    Status status;            // set when submit() returns

   private:
    friend class GroupCommit;
    Request* next_ = nullptr;  // queue link, guarded by GroupCommit::mu_
    StateWord state_;          // kWaiting, then kDone or kLeading
  };
  using Group = std::span<Request* const>;

  explicit GroupCommit(const GroupCommitOptions& options = {});
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;

  // Queues `request` and returns when a leader (maybe this thread) has run lead()
  // for a group holding it; returns that status, also stored in request->status.
  // `lead` runs on the leader's thread only.
  template <class LeaderFn>
  requires std::is_invocable_r_v<Status, LeaderFn&, Group> Status submit(Request* request,
                                                                         LeaderFn&& lead) {
    Group group;
    if (!join(request, &group)) return request->status;
    // If lead() throws, the group must still be released or every member hangs.
    struct Release {
      GroupCommit* self;
      Group group;
      // Only a syncing group is timed (its cost bounds the follower wait): the
      // clock is not free, and an unsynced group lasts a microsecond or two.
      // Relaxed: the leader reads what its own join() stored.
      std::chrono::steady_clock::time_point start =
          self->group_syncs_.load(std::memory_order_relaxed)
              ? std::chrono::steady_clock::now()
              : std::chrono::steady_clock::time_point{};
      Status status = Status::IOError("group commit: lead function did not return");
      ~Release() {
        self->finish(group, status,
                     start == std::chrono::steady_clock::time_point{}
                         ? std::chrono::steady_clock::duration{}
                         : std::chrono::steady_clock::now() - start);
      }
    } release{this, group};
    release.status = lead(group);
    return release.status;
  }

  GroupCommitStats stats() const;

 private:
  // Queues `request`; returns false once a leader has completed it, or true with
  // *group set when this thread must lead.
  bool join(Request* request, Group* group);
  void finish(Group group, const Status& status, std::chrono::steady_clock::duration took);

  static constexpr uint32_t kWaiting = 0;
  static constexpr uint32_t kDone = 1;
  static constexpr uint32_t kLeading = 2;

  const GroupCommitOptions options_;
  mutable SpinMutex mu_;
  Request* head_ = nullptr;  // the leader's request while a group runs, else the next leader
  Request* tail_ = nullptr;
  // Requests in the queue, the running group included. Written under mu_; a
  // gathering leader polls it without the lock.
  std::atomic<size_t> queued_{0};
  // The running group syncs: waiters stop spinning and sleep.
  std::atomic<bool> group_syncs_{false};
  size_t expected_ = 1;  // requests seen around the last group: who will come back
  std::chrono::steady_clock::time_point last_finish_{};  // of the last syncing group
  std::chrono::nanoseconds sync_lead_cost_{0};           // moving average of syncing lead() calls
  std::vector<Request*> group_;                          // only the current leader touches it
  GroupCommitStats stats_;
};

}  // namespace fsdb::wal
