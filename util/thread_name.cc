#include "util/thread_name.h"

#include <pthread.h>

#include <algorithm>

namespace fsdb {

namespace {
// Linux's limit, without the terminating NUL (TASK_COMM_LEN is 16).
constexpr size_t kMaxNameBytes = 15;
}  // namespace

void set_current_thread_name(std::string_view name) {
#if defined(__linux__)
  char buffer[kMaxNameBytes + 1] = {};
  name.copy(buffer, std::min(name.size(), kMaxNameBytes));
  // A failure leaves the inherited name: the name only helps people look.
  (void)::pthread_setname_np(::pthread_self(), buffer);
#else
  (void)name;
#endif
}

std::string current_thread_name() {
#if defined(__linux__)
  char buffer[kMaxNameBytes + 1] = {};
  if (::pthread_getname_np(::pthread_self(), buffer, sizeof(buffer)) != 0) return {};
  return buffer;
#else
  return {};
#endif
}

}  // namespace fsdb
