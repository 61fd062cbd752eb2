#include "sstable/table_iterator.h"

#include <new>

#include "sstable/table_reader.h"
#include "util/background_thread.h"
#include "util/thread_wait.h"

namespace fsdb {

// Shared by the iterator and the background task. The task takes it from
// kQueued to kRunning with a CAS, or finds it withdrawn (kWithdrawn) and does
// nothing; it publishes the result with kDone. The iterator withdraws with the
// opposite CAS, or waits for kDone. A block the iterator withdrew to read
// itself ahead of time is marked kDone by the iterator, and taken like one the
// thread read.
struct TableIterator::AheadBlock {
  static constexpr uint32_t kQueued = 0;
  static constexpr uint32_t kRunning = 1;
  static constexpr uint32_t kDone = 2;
  static constexpr uint32_t kWithdrawn = 3;

  size_t index = 0;
  BlockHandle handle;
  std::atomic<uint32_t> claim{kQueued};  // kQueued, kRunning or kWithdrawn
  StateWord done{0};                     // 0 until the result is written, then kDone
  Status status;                         // written before done.set(kDone)
  std::shared_ptr<const Block> block;

  // The iterator's side: true if the task will never run.
  bool withdraw() {
    uint32_t expected = kQueued;
    // Acq_rel: pairs with the task's CAS; whoever wins owns the block's fate.
    return claim.compare_exchange_strong(expected, kWithdrawn, std::memory_order_acq_rel);
  }
  bool is_done() const { return done.load() == kDone; }
  // REQUIRES: not withdrawn by a plain withdraw(). Returns once the result is written.
  void wait() {
    // The acquire inside wait_while makes status and block visible.
    done.wait_while(0, WaitBudget{}, [] { return false; });
  }
  // Reads the block and publishes the result, whatever happens: running out
  // of memory is an error like any other here (the iterator reads the block
  // again and so reports it as its own), never an exception that would end
  // the background thread or leave the iterator waiting for kDone.
  void read(const TableReader& table, const TableReadOptions& options) {
    try {
      status = table.read_data_block(options, handle, &block);
    } catch (const std::bad_alloc&) {
      block.reset();
      status = Status::IOError("out of memory reading a block ahead");
    }
    done.set(kDone);  // release: status and block
  }
};

TableIterator::TableIterator(const TableReader* table, const TableReadOptions& read_options)
    : table_(table), read_options_(read_options) {}

TableIterator::~TableIterator() { drop_ahead(); }

void TableIterator::drop_ahead() {
  for (const auto& a : ahead_) {
    if (!a->withdraw()) a->wait();  // running: the reader must outlive the read
  }
  ahead_.clear();
}

Status TableIterator::read_block(size_t index, std::shared_ptr<const Block>* block) {
  // Requests behind the walk (the iterator jumped) are of no use any more.
  while (!ahead_.empty() && ahead_.front()->index != index) {
    if (!ahead_.front()->withdraw()) ahead_.front()->wait();
    ahead_.erase(ahead_.begin());
  }
  const BlockHandle& handle = table_->index_.handle(index);
  if (!ahead_.empty()) {
    std::shared_ptr<AheadBlock> a = std::move(ahead_.front());
    ahead_.erase(ahead_.begin());
    if (!a->withdraw()) {
      if (!a->is_done()) {
        // The thread is reading this block: rather than idle until it is done,
        // read the next block it has not started. Two cores decompress then,
        // not one, whenever the scan outruns the thread.
        for (const auto& later : ahead_) {
          if (!later->withdraw()) continue;
          later->read(*table_, read_options_);  // read here: taken like the thread's
          break;
        }
      }
      a->wait();
      // An error is read again below, so that it is reported as this read's.
      if (a->status.ok()) {
        *block = std::move(a->block);
        return Status::OK();
      }
    }
  }
  return table_->read_data_block(read_options_, handle, block);
}

void TableIterator::read_ahead() {
  BackgroundThread* const thread = read_options_.readahead;
  if (thread == nullptr || (walk_ < 2 && walk_ > -2)) return;
  const size_t blocks = table_->index_.size();
  const bool forward = walk_ > 0;
  // The next index to request: past the last one requested, or the block
  // after the current one.
  size_t next = ahead_.empty() ? index_pos_ : ahead_.back()->index;
  // Room first: a task is submitted only if the iterator can keep track of
  // it (an untracked one could outlive the reader it borrows).
  ahead_.reserve(kReadaheadBlocks);
  while (ahead_.size() < kReadaheadBlocks) {
    if (forward ? next + 1 >= blocks : next == 0) return;
    next = forward ? next + 1 : next - 1;
    auto a = std::make_shared<AheadBlock>();
    a->index = next;
    a->handle = table_->index_.handle(next);
    // The task reads with this iterator's options minus readahead; it runs only
    // if not withdrawn, and the iterator waits for it if it is running, so the
    // reader it borrows is alive.
    TableReadOptions options = read_options_;
    options.readahead = nullptr;
    const TableReader* const table = table_;
    auto task = [a, table, options] {
      uint32_t expected = AheadBlock::kQueued;
      // Acq_rel: pairs with withdraw().
      if (!a->claim.compare_exchange_strong(expected, AheadBlock::kRunning,
                                            std::memory_order_acq_rel)) {
        return;
      }
      a->read(*table, options);
    };
    if (!thread->try_submit(std::move(task))) return;  // busy: read them when there
    ahead_.push_back(std::move(a));
  }
}

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

bool TableIterator::load_data_block(int step) {
  if (step == 0 || (step > 0) != (walk_ > 0)) {
    // A seek, or a turn: what was requested lies the wrong way.
    drop_ahead();
    walk_ = step;
  } else {
    walk_ += step;
  }
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
  Status s = read_block(index_pos_, &block);
  if (!s.ok()) {
    set_error(std::move(s));
    return false;
  }
  data_iter_.reset(block.get());
  data_block_ = std::move(block);
  data_block_offset_ = handle.offset;
  read_ahead();
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
    if (!load_data_block(+1)) return;
    data_iter_.seek_to_first();
  }
}

void TableIterator::skip_empty_blocks_backward() {
  while (status_.ok() && data_block_ != nullptr && !data_iter_.valid() &&
         data_iter_.status().ok()) {
    --index_pos_;  // from 0 wraps to SIZE_MAX: before the first block
    if (!load_data_block(-1)) return;
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
