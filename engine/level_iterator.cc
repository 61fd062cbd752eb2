#include "engine/level_iterator.h"

#include <algorithm>
#include <string>

#include "sstable/table_iterator.h"

namespace fsdb {
namespace {

class LevelIterator final : public InternalIterator {
 public:
  LevelIterator(TableCache* cache, const std::vector<FileRef>& files,
                const TableReadOptions& read_options)
      : cache_(cache), files_(files), read_options_(read_options) {}

  bool valid() const override { return iter_ != nullptr && iter_->valid(); }

  void seek_to_first() override {
    status_ = Status::OK();  // a file that failed to open may open now
    if (open(0)) iter_->seek_to_first();
    skip_forward();
  }
  void seek_to_last() override {
    status_ = Status::OK();  // a file that failed to open may open now
    if (open(files_.size() - 1)) iter_->seek_to_last();
    skip_backward();
  }
  void seek(std::string_view user_key, SequenceNumber seq) override {
    status_ = Status::OK();  // a file that failed to open may open now
    target_.clear();
    append_internal_key(&target_, user_key, seq, kValueKindForSeek);
    // The first file whose largest key is at or after the target.
    auto it = std::partition_point(files_.begin(), files_.end(), [&](const FileRef& f) {
      return compare_encoded_internal_keys(f->largest, target_) < 0;
    });
    if (open(static_cast<size_t>(it - files_.begin()))) iter_->seek(user_key, seq);
    skip_forward();
  }
  void seek_for_prev(std::string_view user_key, SequenceNumber seq) override {
    status_ = Status::OK();  // a file that failed to open may open now
    target_.clear();
    append_internal_key(&target_, user_key, seq, ValueKind::kTombstone);
    // The last file whose smallest key is at or before the target.
    auto it = std::partition_point(files_.begin(), files_.end(), [&](const FileRef& f) {
      return compare_encoded_internal_keys(f->smallest, target_) <= 0;
    });
    const size_t index = static_cast<size_t>(it - files_.begin());
    if (index == 0) {
      close();
      return;
    }
    if (open(index - 1)) iter_->seek_for_prev(user_key, seq);
    skip_backward();
  }
  void next() override {
    iter_->next();
    skip_forward();
  }
  void prev() override {
    iter_->prev();
    skip_backward();
  }

  std::string_view user_key() const override { return iter_->user_key(); }
  SequenceNumber sequence() const override { return iter_->sequence(); }
  ValueKind kind() const override { return iter_->kind(); }
  std::string_view value() const override { return iter_->value(); }
  Status status() const override {
    if (!status_.ok()) return status_;
    return iter_ != nullptr ? iter_->status() : Status::OK();
  }

 private:
  void close() {
    iter_.reset();
    reader_.reset();
    index_ = files_.size();
  }

  // Opens file `index` (closing the current one); false past either end or on
  // an error (then status() says which).
  bool open(size_t index) {
    if (index >= files_.size()) {
      close();
      return false;
    }
    if (index == index_ && iter_ != nullptr) return true;
    iter_.reset();
    Status s = cache_->get_reader(files_[index]->number, &reader_);
    if (!s.ok()) {
      status_ = s;
      close();
      return false;
    }
    // The concrete (final) type: every call below goes straight to it.
    iter_ = std::make_unique<TableIterator>(reader_.get(), read_options_);
    index_ = index;
    return true;
  }

  // Past the end of the current file (without an error): the next file's start.
  void skip_forward() {
    while (iter_ != nullptr && !iter_->valid() && iter_->status().ok()) {
      if (!open(index_ + 1)) return;
      iter_->seek_to_first();
    }
  }
  void skip_backward() {
    while (iter_ != nullptr && !iter_->valid() && iter_->status().ok()) {
      if (index_ == 0) {
        close();
        return;
      }
      if (!open(index_ - 1)) return;
      iter_->seek_to_last();
    }
  }

  TableCache* const cache_;
  const std::vector<FileRef>& files_;
  const TableReadOptions read_options_;
  std::shared_ptr<const TableReader> reader_;
  std::unique_ptr<TableIterator> iter_;
  size_t index_ = 0;
  std::string target_;
  Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> new_level_iterator(TableCache* cache,
                                                     const std::vector<FileRef>& files,
                                                     const TableReadOptions& read_options) {
  return std::make_unique<LevelIterator>(cache, files, read_options);
}

}  // namespace fsdb
