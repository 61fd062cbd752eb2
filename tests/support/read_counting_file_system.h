// A file system that counts the bytes read from the files whose path holds
// a given part (say "MANIFEST"), for tests that show a read stayed small.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "fsdb/env.h"

namespace fsdb::test {

class ReadCountingFileSystem final : public FileSystemWrapper {
 public:
  explicit ReadCountingFileSystem(std::string path_part)
      : FileSystemWrapper(posix_file_system()), path_part_(std::move(path_part)) {}
  using FileSystemWrapper::new_random_access_file;
  Status new_random_access_file(const std::string& path,
                                std::unique_ptr<RandomAccessFile>* file) override {
    Status s = FileSystemWrapper::new_random_access_file(path, file);
    if (s.ok() && path.find(path_part_) != std::string::npos) {
      *file = std::make_unique<Counted>(std::move(*file), &bytes_read);
    }
    return s;
  }
  std::atomic<uint64_t> bytes_read{0};

 private:
  class Counted final : public RandomAccessFile {
   public:
    Counted(std::unique_ptr<RandomAccessFile> file, std::atomic<uint64_t>* bytes)
        : file_(std::move(file)), bytes_(bytes) {}
    Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
      Status s = file_->read(offset, n, result, scratch);
      if (s.ok()) bytes_->fetch_add(result->size());
      return s;
    }
    Status size(uint64_t* bytes) const override { return file_->size(bytes); }
    const std::string& path() const override { return file_->path(); }

   private:
    const std::unique_ptr<RandomAccessFile> file_;
    std::atomic<uint64_t>* const bytes_;
  };

  const std::string path_part_;
};

}  // namespace fsdb::test
