// An InternalIterator over a vector of versions, for testing what sits on top
// of internal iterators (the merging iterator, the DB iterator).
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "util/internal_iterator.h"

namespace fsdb::test {

struct Version {
  std::string key;
  SequenceNumber seq;
  ValueKind kind;
  std::string value;
};

inline bool internal_less(const Version& a, const Version& b) {
  return compare_internal_keys(a.key, pack_sequence_and_kind(a.seq, a.kind), b.key,
                               pack_sequence_and_kind(b.seq, b.kind)) < 0;
}

class VectorIterator final : public InternalIterator {
 public:
  explicit VectorIterator(std::vector<Version> versions) : v_(std::move(versions)) {
    std::sort(v_.begin(), v_.end(), internal_less);
  }
  bool valid() const override { return pos_ >= 0 && pos_ < static_cast<long>(v_.size()); }
  void seek_to_first() override { pos_ = 0; }
  void seek_to_last() override { pos_ = static_cast<long>(v_.size()) - 1; }
  void seek(std::string_view key, SequenceNumber seq) override {
    const Version target{std::string(key), seq, kValueKindForSeek, {}};
    pos_ = std::lower_bound(v_.begin(), v_.end(), target, internal_less) - v_.begin();
  }
  void seek_for_prev(std::string_view key, SequenceNumber seq) override {
    const Version target{std::string(key), seq, ValueKind::kTombstone, {}};
    pos_ = (std::upper_bound(v_.begin(), v_.end(), target, internal_less) - v_.begin()) - 1;
  }
  void next() override { ++pos_; }
  void prev() override { --pos_; }
  std::string_view user_key() const override { return v_[pos_].key; }
  SequenceNumber sequence() const override { return v_[pos_].seq; }
  ValueKind kind() const override { return v_[pos_].kind; }
  std::string_view value() const override { return v_[pos_].value; }
  Status status() const override { return Status::OK(); }

 private:
  std::vector<Version> v_;
  long pos_ = -1;
};

}  // namespace fsdb::test
