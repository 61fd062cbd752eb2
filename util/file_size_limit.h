// The process's file size limit (RLIMIT_FSIZE). A write(2) or a size change
// past it raises SIGXFSZ, whose default action ends the process: fsdb's files
// check it first and fail with an error naming the file instead.
#pragma once

#include <cstdint>

namespace fsdb {

// The soft limit in bytes, read now; UINT64_MAX when there is none.
uint64_t file_size_limit_bytes();

}  // namespace fsdb
