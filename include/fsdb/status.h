// fsdb::Status — the result of every fallible call in fsdb.
//
// fsdb reports errors by value, never by exception. An OK status holds no
// message and costs one byte plus an empty string; an error carries a code and a
// message that names what failed and where, e.g.
// "Corruption: 000012.sst: block at offset 8192: checksum mismatch".
//
// Thread safety: a Status is a plain value; distinct objects may be used from
// distinct threads freely.
#pragma once

#include <string>
#include <string_view>
#include <utility>

namespace fsdb {

class [[nodiscard]] Status {
 public:
  enum class Code : unsigned char {
    kOk = 0,
    kNotFound,
    kCorruption,
    kIOError,
    kInvalidArgument,
    kBusy,
    kNotSupported,
  };

  Status() = default;  // OK

  static Status OK() { return Status(); }
  static Status NotFound(std::string_view msg = {}) { return Status(Code::kNotFound, msg); }
  static Status Corruption(std::string_view msg) { return Status(Code::kCorruption, msg); }
  static Status IOError(std::string_view msg) { return Status(Code::kIOError, msg); }
  static Status InvalidArgument(std::string_view msg) {
    return Status(Code::kInvalidArgument, msg);
  }
  static Status Busy(std::string_view msg) { return Status(Code::kBusy, msg); }
  static Status NotSupported(std::string_view msg) { return Status(Code::kNotSupported, msg); }

  bool ok() const { return code_ == Code::kOk; }
  bool is_not_found() const { return code_ == Code::kNotFound; }
  bool is_corruption() const { return code_ == Code::kCorruption; }
  bool is_io_error() const { return code_ == Code::kIOError; }
  bool is_invalid_argument() const { return code_ == Code::kInvalidArgument; }
  bool is_busy() const { return code_ == Code::kBusy; }
  bool is_not_supported() const { return code_ == Code::kNotSupported; }

  Code code() const { return code_; }
  // The message alone, without the code's name.
  const std::string& message() const { return message_; }

  // "OK", or "<Code name>: <message>" ("NotFound" alone when there is no message).
  std::string to_string() const;

  // The same code with `context` put in front of the message: "<context>: <message>".
  // Lets a caller add the file or the operation it knows about.
  Status with_context(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  Status(Code code, std::string_view msg) : code_(code), message_(msg) {}

  Code code_ = Code::kOk;
  std::string message_;
};

// The name of a status code as to_string() prints it ("Corruption", "IO error", ...).
std::string_view status_code_name(Status::Code code);

}  // namespace fsdb
