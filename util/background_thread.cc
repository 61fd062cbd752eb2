#include "util/background_thread.h"

#include "util/thread_name.h"
#include "util/thread_wait.h"

namespace fsdb {

BackgroundThread::BackgroundThread(size_t max_queued, std::string name)
    : max_queued_(max_queued), worker_([this, name = std::move(name)] {
        set_current_thread_name(name);
        run();
      }) {}

BackgroundThread::~BackgroundThread() {
  {
    std::lock_guard<std::mutex> guard(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  worker_.join();
}

bool BackgroundThread::try_submit(std::function<void()> task) {
  bool wake = false;
  {
    std::lock_guard<std::mutex> guard(mu_);
    if (stopping_ || queue_.size() >= max_queued_) return false;
    queue_.push_back(std::move(task));
    // Relaxed: written under mu_; the worker's poll only needs to see it soon.
    queued_.store(queue_.size(), std::memory_order_relaxed);
    wake = sleeping_;
  }
  // A worker that is polling needs no system call to notice.
  if (wake) wake_.notify_one();
  return true;
}

void BackgroundThread::run() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (queue_.empty() && !stopping_) {
      // Requests come in bursts a few microseconds apart (a scan asks for its
      // next block as it finishes one): poll for a while before sleeping, so
      // that the next request starts at once instead of after a wake-up.
      lock.unlock();
      // Relaxed: a hint; the queue itself is read under mu_.
      spin_then_yield(WaitBudget{},
                      [this] { return queued_.load(std::memory_order_relaxed) == 0; });
      lock.lock();
      sleeping_ = true;
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      sleeping_ = false;
    }
    if (queue_.empty()) return;  // stopping, and nothing left to run
    {
      std::function<void()> task = std::move(queue_.front());
      queue_.pop_front();
      queued_.store(queue_.size(), std::memory_order_relaxed);  // relaxed: see try_submit()
      lock.unlock();
      task();
      tasks_run_.fetch_add(1, std::memory_order_relaxed);  // relaxed: a statistic
    }  // the task (and what it captured) goes before the lock is taken again
    lock.lock();
  }
}

}  // namespace fsdb
