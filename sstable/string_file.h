// StringRandomAccessFile: a RandomAccessFile over bytes held in memory, for
// opening a table image without a file system (tests, the fuzzer, tools that
// inspect a table already read into memory).
//
// Thread safety: immutable; reads from many threads are safe. Ownership: owns a
// copy of the bytes.
#pragma once

#include <algorithm>
#include <cstring>
#include <string>

#include "fsdb/env.h"

namespace fsdb {

class StringRandomAccessFile final : public RandomAccessFile {
 public:
  StringRandomAccessFile(std::string path, std::string data)
      : path_(std::move(path)), data_(std::move(data)) {}

  Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    if (offset > data_.size()) {
      *result = {};
      return Status::OK();
    }
    const size_t available = std::min<size_t>(n, data_.size() - static_cast<size_t>(offset));
    std::memcpy(scratch, data_.data() + offset, available);
    *result = std::string_view(scratch, available);
    return Status::OK();
  }
  Status size(uint64_t* bytes) const override {
    *bytes = data_.size();
    return Status::OK();
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_;
  std::string data_;
};

}  // namespace fsdb
