#include "wal/group_commit.h"

#include <algorithm>
#include <mutex>

namespace fsdb::wal {

namespace {
GroupCommitOptions sanitized(GroupCommitOptions options) {
  // A group always holds at least its leader.
  options.max_group_requests = std::max<size_t>(options.max_group_requests, 1);
  return options;
}
}  // namespace

GroupCommit::GroupCommit(const GroupCommitOptions& options) : options_(sanitized(options)) {
  group_.reserve(std::min<size_t>(options_.max_group_requests, 1024));
}

GroupCommitStats GroupCommit::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

bool GroupCommit::join(Request* request, Group* group) {
  std::unique_lock lock(mu_);
  request->next_ = nullptr;
  request->state_.reset(kWaiting);
  request->status = Status::OK();
  if (tail_ != nullptr) {
    tail_->next_ = request;
  } else {
    head_ = request;
  }
  tail_ = request;
  // Relaxed: written under mu_; the gathering leader's relaxed poll only needs
  // to see the count grow eventually (it takes mu_ before using the queue).
  queued_.store(queued_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  if (head_ != request) {
    lock.unlock();
    // Relaxed: a hint of how long the wait will be, nothing is read through it.
    const uint32_t state = request->state_.wait_while(kWaiting, options_.wait_budget, [&] {
      return request->sync || group_syncs_.load(std::memory_order_relaxed);
    });
    // The state's acquire load makes the leader's writes (status, or the queue
    // links of a new leader) visible.
    if (state == kDone) return false;
    lock.lock();
  }

  // This request leads. Wait briefly for writers expected back, when the group
  // is going to pay for a sync that they could share.
  const auto limit =
      std::min<std::chrono::nanoseconds>(options_.max_follower_wait, sync_lead_cost_ / 2);
  const size_t expected = std::min(expected_, options_.max_group_requests);
  if (limit.count() > 0 && queued_.load(std::memory_order_relaxed) < expected) {
    bool syncs = false;
    for (Request* r = head_; r != nullptr && !syncs; r = r->next_) syncs = r->sync;
    const auto deadline = last_finish_ + limit;
    if (syncs && std::chrono::steady_clock::now() < deadline) {
      lock.unlock();
      // Relaxed: see the increment in join(); the group is read under mu_ below.
      while (queued_.load(std::memory_order_relaxed) < expected &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
      }
      lock.lock();
    }
  }

  group_.clear();
  size_t bytes = 0;
  bool syncs = false;
  for (Request* r = head_; r != nullptr && group_.size() < options_.max_group_requests;
       r = r->next_) {
    if (!group_.empty() && bytes + r->bytes > options_.max_group_bytes) break;
    group_.push_back(r);
    bytes += r->bytes;
    syncs = syncs || r->sync;
  }
  // Relaxed: a hint to waiters (see above).
  group_syncs_.store(syncs, std::memory_order_relaxed);
  *group = Group(group_.data(), group_.size());
  return true;
}

void GroupCommit::finish(Group group, const Status& status,
                         std::chrono::steady_clock::duration took) {
  Request* const leader = group.front();
  Request* next_leader = nullptr;
  {
    std::lock_guard lock(mu_);
    bool synced = false;
    next_leader = head_ = group.back()->next_;
    if (head_ == nullptr) tail_ = nullptr;
    for (Request* member : group) {
      synced = synced || member->sync;
      member->status = status;
    }
    const size_t queued = queued_.load(std::memory_order_relaxed) - group.size();
    queued_.store(queued, std::memory_order_relaxed);  // relaxed: see join()
    expected_ = std::min(group.size() + queued, options_.max_group_requests);
    if (synced) {
      // The follower wait is for syncing groups, which come back to back.
      last_finish_ = std::chrono::steady_clock::now();
      const auto cost = std::chrono::duration_cast<std::chrono::nanoseconds>(took);
      sync_lead_cost_ = sync_lead_cost_.count() == 0 ? cost : (sync_lead_cost_ * 7 + cost) / 8;
    }
    ++stats_.groups;
    stats_.requests += group.size();
    stats_.largest_group = std::max<uint64_t>(stats_.largest_group, group.size());
    group_syncs_.store(false, std::memory_order_relaxed);  // relaxed: a hint
  }
  // Outside the lock. The members are out of the queue, so only this thread
  // still refers to them; each may return (destroying its Request) as soon as
  // it sees kDone, so the link to the next member is read before the set().
  // The members are walked through their links, not group_: once the queue is
  // empty a new request may lead and refill group_ at any moment. The next
  // leader, if any, cannot move before its own set() below.
  for (Request* member = leader->next_; member != next_leader;) {
    Request* const following = member->next_;
    member->state_.set(kDone);
    member = following;
  }
  if (next_leader != nullptr) next_leader->state_.set(kLeading);
}

}  // namespace fsdb::wal
