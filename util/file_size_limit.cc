#include "util/file_size_limit.h"

#include <sys/resource.h>

namespace fsdb {

uint64_t file_size_limit_bytes() {
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_FSIZE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  return static_cast<uint64_t>(limit.rlim_cur);
}

}  // namespace fsdb
