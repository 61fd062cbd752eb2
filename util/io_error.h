// The one way fsdb turns an errno into a Status: "<path>: <operation>: <strerror>".
#pragma once

#include <string>
#include <string_view>

#include "fsdb/status.h"

namespace fsdb {

// ENOENT becomes NotFound; every other errno becomes IOError.
Status io_error(const std::string& path, std::string_view operation, int err);

}  // namespace fsdb
