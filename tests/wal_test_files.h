// In-memory and failing files for the WAL tests and fuzzers: a WritableFile that
// appends to a string (counting calls, optionally failing), and a
// RandomAccessFile that reads one. Single-threaded, like the files they stand for.
#pragma once

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fsdb/env.h"

namespace fsdb::wal::test {

struct FileCalls {
  int appends = 0;
  int flushes = 0;
  int syncs = 0;
};

// Appends go to *contents. fail_append_at / fail_sync_at: the n-th call (1-based)
// and every later one fails with IOError; 0 = never.
class StringWritableFile final : public WritableFile {
 public:
  explicit StringWritableFile(std::string* contents, FileCalls* calls = nullptr,
                              std::string path = "mem.log")
      : contents_(contents),
        calls_(calls != nullptr ? calls : &own_calls_),
        path_(std::move(path)) {}

  int fail_append_at = 0;
  int fail_sync_at = 0;
  // When an append fails, this many of its bytes still land (a short write).
  size_t partial_bytes_on_failure = 0;

  Status append(std::string_view data) override {
    ++calls_->appends;
    if (fail_append_at != 0 && calls_->appends >= fail_append_at) {
      contents_->append(data.substr(0, std::min(partial_bytes_on_failure, data.size())));
      return Status::IOError(path_ + ": write: No space left on device");
    }
    contents_->append(data);
    return Status::OK();
  }
  Status flush() override {
    ++calls_->flushes;
    return Status::OK();
  }
  Status sync() override {
    ++calls_->syncs;
    if (fail_sync_at != 0 && calls_->syncs >= fail_sync_at) {
      return Status::IOError(path_ + ": fdatasync: Input/output error");
    }
    return Status::OK();
  }
  Status close() override { return Status::OK(); }
  uint64_t size() const override { return contents_->size(); }
  const std::string& path() const override { return path_; }

 private:
  std::string* contents_;
  FileCalls own_calls_;
  FileCalls* calls_;
  std::string path_;
};

class StringRandomAccessFile final : public RandomAccessFile {
 public:
  explicit StringRandomAccessFile(std::string_view contents, std::string path = "mem.log")
      : contents_(contents), path_(std::move(path)) {}

  Status read(uint64_t offset, size_t n, std::string_view* result, char* scratch) const override {
    if (offset >= contents_.size()) {
      *result = {};
      return Status::OK();
    }
    const size_t got = std::min<size_t>(n, contents_.size() - static_cast<size_t>(offset));
    std::memcpy(scratch, contents_.data() + offset, got);
    *result = std::string_view(scratch, got);
    return Status::OK();
  }
  Status size(uint64_t* bytes) const override {
    *bytes = contents_.size();
    return Status::OK();
  }
  const std::string& path() const override { return path_; }

 private:
  std::string_view contents_;
  std::string path_;
};

}  // namespace fsdb::wal::test
