// ErrorIterator: an iterator that holds nothing and only reports an error (a
// read that could not begin: a table that would not open, a closed DB).
//
// Thread safety: one thread at a time.
#pragma once

#include <string_view>
#include <utility>

#include "fsdb/iterator.h"
#include "fsdb/status.h"

namespace fsdb {

class ErrorIterator final : public Iterator {
 public:
  explicit ErrorIterator(Status s) : status_(std::move(s)) {}
  bool valid() const override { return false; }
  void seek_to_first() override {}
  void seek_to_last() override {}
  void seek(std::string_view) override {}
  void seek_for_prev(std::string_view) override {}
  void next() override {}
  void prev() override {}
  std::string_view key() const override { return {}; }
  std::string_view value() const override { return {}; }
  Status status() const override { return status_; }

 private:
  Status status_;
};

}  // namespace fsdb
