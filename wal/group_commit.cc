#include "wal/group_commit.h"

#include <algorithm>

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
  request->done_ = false;
  request->status = Status::OK();
  if (tail_ != nullptr) {
    tail_->next_ = request;
  } else {
    head_ = request;
  }
  tail_ = request;
  ++queued_;
  if (head_ != request) {
    if (gathering_) head_->wake_.notify_one();
    do {
      request->wake_.wait(lock);
    } while (!request->done_ && head_ != request);
    if (request->done_) return false;
  }

  // This request leads. Wait briefly for writers expected back, when the group
  // is going to pay for a sync that they could share.
  const auto limit =
      std::min<std::chrono::nanoseconds>(options_.max_follower_wait, sync_lead_cost_ / 2);
  if (limit.count() > 0 && queued_ < expected_) {
    bool syncs = false;
    for (Request* r = head_; r != nullptr && !syncs; r = r->next_) syncs = r->sync;
    const auto deadline = last_finish_ + limit;
    if (syncs && std::chrono::steady_clock::now() < deadline) {
      gathering_ = true;
      while (queued_ < expected_ && queued_ < options_.max_group_requests) {
        if (request->wake_.wait_until(lock, deadline) == std::cv_status::timeout) break;
      }
      gathering_ = false;
    }
  }

  group_.clear();
  size_t bytes = 0;
  for (Request* r = head_; r != nullptr && group_.size() < options_.max_group_requests;
       r = r->next_) {
    if (!group_.empty() && bytes + r->bytes > options_.max_group_bytes) break;
    group_.push_back(r);
    bytes += r->bytes;
  }
  *group = Group(group_.data(), group_.size());
  return true;
}

void GroupCommit::finish(Group group, const Status& status,
                         std::chrono::steady_clock::duration took) {
  std::lock_guard lock(mu_);
  Request* const leader = group.front();
  bool synced = false;
  head_ = group.back()->next_;
  if (head_ == nullptr) tail_ = nullptr;
  for (Request* member : group) {
    synced = synced || member->sync;
    member->status = status;
    member->done_ = true;
    // Notified under the mutex: once it is released a woken member may return
    // and destroy its Request, condition variable included.
    if (member != leader) member->wake_.notify_one();
  }
  queued_ -= group.size();
  expected_ = std::min(group.size() + queued_, options_.max_group_requests);
  last_finish_ = std::chrono::steady_clock::now();
  if (synced) {
    const auto cost = std::chrono::duration_cast<std::chrono::nanoseconds>(took);
    sync_lead_cost_ = sync_lead_cost_.count() == 0 ? cost : (sync_lead_cost_ * 7 + cost) / 8;
  }
  ++stats_.groups;
  stats_.requests += group.size();
  stats_.largest_group = std::max<uint64_t>(stats_.largest_group, group.size());
  if (head_ != nullptr) head_->wake_.notify_one();  // the next leader
}

}  // namespace fsdb::wal
