// Address space for a key or value too large to hold: a view of `size`
// bytes that reads as zeros and takes no memory until a page is read. Tests
// of size limits pass it where the code must refuse before reading it.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <string_view>

namespace fsdb::test {

class UnbackedBytes {
 public:
  explicit UnbackedBytes(size_t size)
      : size_(size),
        base_(
            ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)) {}
  ~UnbackedBytes() {
    if (base_ != MAP_FAILED) ::munmap(base_, size_);
  }
  UnbackedBytes(const UnbackedBytes&) = delete;
  UnbackedBytes& operator=(const UnbackedBytes&) = delete;

  bool ok() const { return base_ != MAP_FAILED; }
  std::string_view view() const { return {static_cast<const char*>(base_), size_}; }

 private:
  size_t size_;
  void* base_;
};

}  // namespace fsdb::test
