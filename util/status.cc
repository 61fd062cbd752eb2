#include "fsdb/status.h"

namespace fsdb {

std::string_view status_code_name(Status::Code code) {
  switch (code) {
    case Status::Code::kOk:
      return "OK";
    case Status::Code::kNotFound:
      return "NotFound";
    case Status::Code::kCorruption:
      return "Corruption";
    case Status::Code::kIOError:
      return "IO error";
    case Status::Code::kInvalidArgument:
      return "Invalid argument";
    case Status::Code::kBusy:
      return "Busy";
    case Status::Code::kNotSupported:
      return "Not supported";
  }
  return "Unknown";
}

std::string Status::to_string() const {
  std::string out(status_code_name(code_));
  if (!message_.empty()) {
    out += ": ";
    out += message_;
  }
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return *this;
  std::string msg(context);
  if (!message_.empty()) {
    msg += ": ";
    msg += message_;
  }
  return Status(code_, msg);
}

}  // namespace fsdb
