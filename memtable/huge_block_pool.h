// HugeBlockPool: a process-wide stock of free full-size (2 MiB) arena blocks,
// kept ready so that a memtable's writers do not take page faults.
//
// A memtable writes its arena sequentially, and every fresh page it reaches
// faults: the kernel must find and zero it, and in a VM fresh guest pages
// fault on the host too. Measured on the benchmark machine (a VM), first
// writes to fresh 2 MiB huge pages cost ~3.3 ms per block: ~220 ns per
// 136-byte entry, three times what a sequential insert costs otherwise. The
// pool avoids that twice over:
//
// * Recycling: a dead arena's full-size blocks come back here (up to
//   kMaxBlocks, 64 MiB: a default memtable's worth) for the next arena, their
//   pages still mapped. Nodes are fully written when they are allocated, so a
//   recycled block needs no clearing.
// * Stocking: once an arena has asked for a full-size block, a background
//   thread keeps `stock_target` blocks ready, each allocated and with every
//   page touched, so the faults are taken on that thread, overlapping the
//   writers' work, instead of inside a write. (The work is the same, moved:
//   where every core is busy writing, it only changes which thread pays.)
//
// Thread safety: every method may be called from any thread. The stocker
// thread starts on first demand and lives as long as the process; across
// fork() the child starts its own when it needs one.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

namespace fsdb::memtable_detail {

inline constexpr size_t kHugePageBytes = size_t{2} << 20;

// `bytes` (a multiple of kHugePageBytes) aligned to a huge page and advised
// to be backed by huge pages (a no-op without transparent huge pages); null
// when out of memory. Freed with std::free.
char* allocate_huge_block(size_t bytes);

class HugeBlockPool {
 public:
  static constexpr size_t kBlockBytes = kHugePageBytes;
  static constexpr size_t kMaxBlocks = 32;
  // Two blocks ahead: one is taken while the next is being made. A writer
  // that runs through blocks faster than they can be faulted takes its own
  // faults meanwhile, in parallel with the stocker's.
  static constexpr size_t kDefaultStockTarget = 2;

  static HugeBlockPool& instance();

  // A free block of kBlockBytes, or null. Also tells the stocker that blocks
  // are in demand: it refills the stock to the target.
  char* take();
  // Keeps `block` (kBlockBytes, from allocate_huge_block); false when full:
  // the caller frees it.
  bool give(char* block);
  size_t size() const;

  // How many free blocks the stocker keeps (0: none are made ahead; blocks
  // already stocked stay, and a block being made when the target drops is
  // freed). At most kMaxBlocks.
  void set_stock_target(size_t blocks);
  // Blocks the stocker has made so far (a statistic).
  uint64_t blocks_stocked() const { return blocks_stocked_.load(std::memory_order_relaxed); }

 private:
  // Room for every block up front: give() runs inside a noexcept deleter and
  // must not allocate.
  HugeBlockPool();
  void start_stocker();  // mu_ held
  void stock();          // the stocker thread
  bool wants_stock() const {
    return demanded_ && blocks_.size() + in_making_ < stock_target_;
  }  // mu_ held

  static void before_fork();
  static void after_fork_in_parent();
  static void after_fork_in_child();

  mutable std::mutex mu_;
  std::vector<char*> blocks_;  // guarded by mu_
  // Guarded by mu_. Heap-allocated: a child of fork() replaces it, since the
  // parent's stocker may have been waiting on it.
  std::condition_variable* wake_;
  size_t stock_target_;           // guarded by mu_
  bool demanded_ = false;         // guarded by mu_: take() has been called
  bool stocker_running_ = false;  // guarded by mu_
  size_t in_making_ = 0;          // guarded by mu_: 0 or 1, a block the stocker is making
  std::atomic<uint64_t> blocks_stocked_{0};  // relaxed: a statistic
};

}  // namespace fsdb::memtable_detail
