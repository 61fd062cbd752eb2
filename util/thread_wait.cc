#include "util/thread_wait.h"

#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <climits>

namespace fsdb {
namespace {

// std::atomic<uint32_t> has the size and alignment of uint32_t and no other
// state, so its address is the futex word the kernel expects.
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));

long futex(std::atomic<uint32_t>* word, int op, uint32_t value, const timespec* timeout) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, value,
                 timeout, nullptr, 0);
}

}  // namespace

void futex_wait(std::atomic<uint32_t>* word, uint32_t expected) {
  // EAGAIN (the word changed), EINTR and spurious returns all come back to the
  // caller's loop, which re-checks its condition.
  futex(word, FUTEX_WAIT, expected, nullptr);
}

void futex_wait_for(std::atomic<uint32_t>* word, uint32_t expected,
                    std::chrono::nanoseconds timeout) {
  if (timeout.count() <= 0) return;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000000000);
  ts.tv_nsec = static_cast<long>(timeout.count() % 1000000000);
  futex(word, FUTEX_WAIT, expected, &ts);  // a relative timeout
}

void futex_wake_all(std::atomic<uint32_t>* word) { futex(word, FUTEX_WAKE, INT_MAX, nullptr); }

void futex_wake_one(std::atomic<uint32_t>* word) { futex(word, FUTEX_WAKE, 1, nullptr); }

}  // namespace fsdb
