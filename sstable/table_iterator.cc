#include "sstable/table_iterator.h"

#include "sstable/table_reader.h"

namespace fsdb {

TableIterator::TableIterator(const TableReader* table, const TableReadOptions& read_options)
    : table_(table), read_options_(read_options) {}

void TableIterator::clear() {
  valid_ = false;
  status_ = Status::OK();
}

void TableIterator::set_error(Status s) {
  if (status_.ok()) status_ = std::move(s);
  valid_ = false;
  data_iter_.reset(nullptr);
  data_block_.reset();
}

bool TableIterator::load_data_block() {
  if (index_pos_ >= table_->index_.size()) {  // also the "before the first block" position
    data_iter_.reset(nullptr);
    data_block_.reset();
    return false;
  }
  const BlockHandle& handle = table_->index_.handle(index_pos_);
  if (data_block_ != nullptr && handle.offset == data_block_offset_) {
    return true;  // already on this block
  }
  std::shared_ptr<const Block> block;
  Status s = table_->read_data_block(read_options_, handle, &block);
  if (!s.ok()) {
    set_error(std::move(s));
    return false;
  }
  data_iter_.reset(block.get());
  data_block_ = std::move(block);
  data_block_offset_ = handle.offset;
  return true;
}

void TableIterator::settle() {
  valid_ = false;
  if (!status_.ok()) return;
  if (!data_iter_.status().ok()) {
    return set_error(table_->block_error(data_block_offset_, data_iter_.status()));
  }
  if (!data_iter_.valid()) return;
  if (!parse_internal_key(data_iter_.key(), &current_)) {
    return set_error(
        block_corruption(table_->path(), data_block_offset_, "malformed internal key"));
  }
  valid_ = true;
}

void TableIterator::skip_empty_blocks_forward() {
  while (status_.ok() && data_block_ != nullptr && !data_iter_.valid() &&
         data_iter_.status().ok()) {
    ++index_pos_;
    if (!load_data_block()) return;
    data_iter_.seek_to_first();
  }
}

void TableIterator::skip_empty_blocks_backward() {
  while (status_.ok() && data_block_ != nullptr && !data_iter_.valid() &&
         data_iter_.status().ok()) {
    --index_pos_;  // from 0 wraps to SIZE_MAX: before the first block
    if (!load_data_block()) return;
    data_iter_.seek_to_last();
  }
}

void TableIterator::seek_to_first() {
  clear();
  index_pos_ = 0;
  if (load_data_block()) data_iter_.seek_to_first();
  skip_empty_blocks_forward();
  settle();
}

void TableIterator::seek_to_last() {
  clear();
  index_pos_ = table_->index_.size() - 1;  // SIZE_MAX for an empty table
  if (load_data_block()) data_iter_.seek_to_last();
  skip_empty_blocks_backward();
  settle();
}

void TableIterator::seek(std::string_view user_key, SequenceNumber seq) {
  clear();
  target_.clear();
  append_internal_key(&target_, user_key, std::min(seq, kMaxSequenceNumber), kValueKindForSeek);
  index_pos_ = table_->index_.lower_bound(target_);
  if (load_data_block()) data_iter_.seek(target_);
  skip_empty_blocks_forward();
  settle();
}

void TableIterator::seek_for_prev(std::string_view user_key, SequenceNumber seq) {
  // Tombstone is the smallest kind, so (user_key, seq, tombstone) is the last
  // internal key at (user_key, seq): everything <= it is what we want.
  seek(user_key, seq);
  std::string bound;
  append_internal_key(&bound, user_key, std::min(seq, kMaxSequenceNumber), ValueKind::kTombstone);
  if (valid()) {
    if (compare_encoded_internal_keys(data_iter_.key(), bound) > 0) prev();
  } else if (status_.ok()) {
    seek_to_last();
  }
}

void TableIterator::next() {
  data_iter_.next();
  skip_empty_blocks_forward();
  settle();
}

void TableIterator::prev() {
  data_iter_.prev();
  skip_empty_blocks_backward();
  settle();
}

}  // namespace fsdb
