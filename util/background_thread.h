// BackgroundThread: one worker thread that runs submitted tasks in order.
//
// For work a caller wants done ahead of need (a scan's next blocks): try_submit
// refuses a task once `max_queued` are waiting, so a busy worker never builds a
// backlog the caller would do better to work through itself.
//
// Between tasks the worker polls for a moment (spinning, then yielding)
// before it sleeps: requests come in bursts, and a wake-up through the kernel
// costs more than the poll.
//
// Thread safety: try_submit() from any thread. The destructor runs every task
// still queued (a task may be a waiter's only way to finish), then joins.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace fsdb {

class BackgroundThread {
 public:
  // `name` names the worker thread (util/thread_name.h).
  BackgroundThread(size_t max_queued, std::string name);
  ~BackgroundThread();
  BackgroundThread(const BackgroundThread&) = delete;
  BackgroundThread& operator=(const BackgroundThread&) = delete;

  // Queues `task`; false (and `task` dropped) if max_queued tasks are waiting.
  bool try_submit(std::function<void()> task);
  // Tasks run so far.
  uint64_t tasks_run() const { return tasks_run_.load(std::memory_order_relaxed); }

 private:
  void run();

  const size_t max_queued_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;  // guarded by mu_
  bool stopping_ = false;                    // guarded by mu_
  bool sleeping_ = false;                    // guarded by mu_: the worker waits on wake_
  std::atomic<size_t> queued_{0};            // queue_.size(), for the worker's poll
  std::atomic<uint64_t> tasks_run_{0};       // relaxed: a statistic
  std::thread worker_;
};

}  // namespace fsdb
