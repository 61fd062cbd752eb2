#include "memtable/huge_block_pool.h"

#include <pthread.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <system_error>
#include <thread>

#include "util/thread_name.h"

namespace fsdb::memtable_detail {
namespace {

constexpr size_t kSmallPageBytes = 4096;

}  // namespace

char* allocate_huge_block(size_t bytes) {
  void* p = std::aligned_alloc(kHugePageBytes, bytes);
  // Best effort: without transparent huge pages this is a no-op.
  if (p != nullptr) (void)::madvise(p, bytes, MADV_HUGEPAGE);
  return static_cast<char*>(p);
}

HugeBlockPool& HugeBlockPool::instance() {
  // Never destroyed: an arena may die during static destruction, after any
  // function-local static would have, and the stocker thread may still be
  // waiting on the pool when the process exits.
  static HugeBlockPool* const pool = new HugeBlockPool;
  return *pool;
}

HugeBlockPool::HugeBlockPool()
    : wake_(new std::condition_variable),
      stock_target_(std::thread::hardware_concurrency() > 1 ? kDefaultStockTarget : 0) {
  blocks_.reserve(kMaxBlocks);
}

char* HugeBlockPool::take() {
  std::lock_guard<std::mutex> guard(mu_);
  char* block = nullptr;
  if (!blocks_.empty()) {
    block = blocks_.back();
    blocks_.pop_back();
  }
  demanded_ = true;
  if (wants_stock()) {
    if (!stocker_running_) start_stocker();
    wake_->notify_one();
  }
  return block;
}

bool HugeBlockPool::give(char* block) {
  std::lock_guard<std::mutex> guard(mu_);
  if (blocks_.size() >= kMaxBlocks) return false;
  blocks_.push_back(block);
  return true;
}

size_t HugeBlockPool::size() const {
  std::lock_guard<std::mutex> guard(mu_);
  return blocks_.size();
}

void HugeBlockPool::set_stock_target(size_t blocks) {
  std::lock_guard<std::mutex> guard(mu_);
  stock_target_ = std::min(blocks, kMaxBlocks);
  if (wants_stock()) {
    if (!stocker_running_) start_stocker();
    wake_->notify_one();
  }
}

void HugeBlockPool::start_stocker() {
  static std::once_flag fork_handlers;
  std::call_once(fork_handlers, [] {
    (void)::pthread_atfork(&before_fork, &after_fork_in_parent, &after_fork_in_child);
  });
  try {
    std::thread(&HugeBlockPool::stock, this).detach();
    stocker_running_ = true;
  } catch (const std::system_error&) {
    // No thread: writers take their own faults, as without the stocker.
  }
}

void HugeBlockPool::stock() {
  set_current_thread_name("fsdb:arena");
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_->wait(lock, [this] { return wants_stock(); });
    ++in_making_;
    lock.unlock();
    char* block = allocate_huge_block(kBlockBytes);
    if (block != nullptr) {
      // Writing one byte per small page faults in the whole block (a huge
      // page, or each of its small pages) on this thread. The contents do
      // not matter: nodes are fully written when they are allocated.
      for (size_t offset = 0; offset < kBlockBytes; offset += kSmallPageBytes) {
        block[offset] = 0;
      }
    }
    lock.lock();
    --in_making_;
    if (block == nullptr) {
      // Out of memory: stop stocking until the next demand.
      demanded_ = false;
      continue;
    }
    // Kept only if still wanted: the target may have been lowered, or dead
    // arenas may have refilled the pool, while the block was being made.
    if (blocks_.size() < stock_target_) {
      blocks_.push_back(block);
      blocks_stocked_.fetch_add(1, std::memory_order_relaxed);
    } else {
      std::free(block);
    }
  }
}

// fork() copies only the thread that calls it. The handlers make sure the
// child's copy of the pool is consistent: the mutex is held across the fork
// (so no other thread is inside it), and the child, which has no stocker,
// starts its own on its first demand.
void HugeBlockPool::before_fork() { instance().mu_.lock(); }

void HugeBlockPool::after_fork_in_parent() { instance().mu_.unlock(); }

void HugeBlockPool::after_fork_in_child() {
  HugeBlockPool& pool = instance();
  pool.stocker_running_ = false;
  pool.in_making_ = 0;
  // The parent's stocker may have been waiting on the old one; it is leaked,
  // not destroyed, as its state names a thread the child does not have.
  pool.wake_ = new std::condition_variable;
  pool.mu_.unlock();
}

}  // namespace fsdb::memtable_detail
