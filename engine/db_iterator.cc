#include "engine/db_iterator.h"

#include <string>

namespace fsdb {
namespace {

// Versions stepped over in a row before the iterator seeks past them instead.
constexpr int kMaxSequentialSkips = 8;

class DBIterator final : public Iterator {
 public:
  DBIterator(std::unique_ptr<InternalIterator> internal, SequenceNumber sequence,
             std::shared_ptr<const void> pin, IterateBounds bounds)
      : pin_(std::move(pin)),
        iter_(std::move(internal)),
        sequence_(sequence),
        lower_(std::move(bounds.lower)),
        upper_(std::move(bounds.upper)) {}

  bool valid() const override { return valid_; }

  void seek_to_first() override {
    direction_ = Direction::kForward;
    status_ = Status::OK();  // an error ends at the next seek, as a position does
    if (lower_) {
      iter_->seek(*lower_, sequence_);
    } else {
      iter_->seek_to_first();
    }
    find_next_user_entry(/*skipping=*/false);
  }

  void seek(std::string_view target) override {
    direction_ = Direction::kForward;
    status_ = Status::OK();  // an error ends at the next seek, as a position does
    if (lower_ && compare_user_keys(target, *lower_) < 0) target = *lower_;
    iter_->seek(target, sequence_);
    find_next_user_entry(/*skipping=*/false);
  }

  void seek_to_last() override {
    direction_ = Direction::kBackward;
    status_ = Status::OK();  // an error ends at the next seek, as a position does
    if (upper_) {
      seek_before_upper();
    } else {
      iter_->seek_to_last();
    }
    find_prev_user_entry();
  }

  void seek_for_prev(std::string_view target) override {
    direction_ = Direction::kBackward;
    status_ = Status::OK();  // an error ends at the next seek, as a position does
    if (upper_ && compare_user_keys(target, *upper_) >= 0) {
      seek_before_upper();
    } else {
      // Sequence 0 sorts after every version of target: all of them are included.
      iter_->seek_for_prev(target, 0);
    }
    find_prev_user_entry();
  }

  // Moving or reading an iterator that is not valid() is a caller's mistake
  // (RocksDB asserts), answered here without undefined behaviour: a move does
  // nothing, key() and value() are empty.
  void next() override {
    if (!valid_) return;
    if (direction_ == Direction::kBackward) {
      // The internal iterator is just before key()'s versions: step onto them.
      direction_ = Direction::kForward;
      if (iter_->valid()) {
        iter_->next();
      } else {
        iter_->seek_to_first();
      }
    } else {
      saved_key_.assign(iter_->user_key());
      iter_->next();
    }
    // Skip the rest of key()'s versions.
    find_next_user_entry(/*skipping=*/true);
  }

  void prev() override {
    if (!valid_) return;
    if (direction_ == Direction::kForward) {
      // Move before every version of key(), then look backward from there:
      // past the newer versions the read cannot see, with a seek once they
      // are many.
      saved_key_.assign(iter_->user_key());
      int passed = 0;
      do {
        if (++passed > kMaxSequentialSkips) {
          iter_->seek_for_prev(saved_key_, kMaxSequenceNumber);
          break;
        }
        iter_->prev();
      } while (iter_->valid() && compare_user_keys(iter_->user_key(), saved_key_) >= 0);
      direction_ = Direction::kBackward;
      if (!iter_->valid() && !iter_->status().ok()) {
        stop_on_error();
        return;
      }
    }
    find_prev_user_entry();
  }

  std::string_view key() const override {
    if (!valid_) return {};
    return direction_ == Direction::kForward ? iter_->user_key() : std::string_view(saved_key_);
  }
  std::string_view value() const override {
    if (!valid_) return {};
    return direction_ == Direction::kForward ? iter_->value() : std::string_view(saved_value_);
  }
  Status status() const override { return status_.ok() ? iter_->status() : status_; }

 private:
  enum class Direction { kForward, kBackward };

  // Forward from the internal position to the first visible live key; when
  // `skipping`, versions of saved_key_ are passed over.
  //
  // A key overwritten many times since the read's sequence (an old snapshot,
  // a long-lived iterator), or deleted with many versions under its
  // tombstone, would cost one step per version. After kMaxSequentialSkips
  // steps in a row the iterator seeks instead (as RocksDB does after
  // max_sequential_skip_in_iterations): to the newest visible version of the
  // key, or past all versions of the key being skipped.
  void find_next_user_entry(bool skipping) {
    int shadowed = 0;  // versions of saved_key_ passed in a row
    int hidden = 0;    // versions of seek_buffer_ above sequence_ passed in a row
    while (iter_->valid()) {
      if (upper_ && compare_user_keys(iter_->user_key(), *upper_) >= 0) break;
      if (skipping && user_keys_equal(iter_->user_key(), saved_key_)) {
        if (++shadowed > kMaxSequentialSkips) {
          shadowed = 0;
          // (key, 0) is at or after every version of the key; a version at
          // sequence 0 (compaction writes those) is stepped past.
          iter_->seek(saved_key_, 0);
          if (iter_->valid() && user_keys_equal(iter_->user_key(), saved_key_)) iter_->next();
          continue;
        }
      } else if (iter_->sequence() > sequence_) {
        if (hidden == 0 || !user_keys_equal(iter_->user_key(), seek_buffer_)) {
          seek_buffer_.assign(iter_->user_key());
          hidden = 0;
        }
        if (++hidden > kMaxSequentialSkips) {
          hidden = 0;
          iter_->seek(seek_buffer_, sequence_);  // the newest version it may read
          continue;
        }
      } else if (iter_->kind() == ValueKind::kTombstone) {
        saved_key_.assign(iter_->user_key());
        skipping = true;
        shadowed = 0;
      } else {
        valid_ = true;
        return;
      }
      iter_->next();
    }
    valid_ = false;
    if (!iter_->status().ok()) stop_on_error();
  }

  // Backward from the internal position: the versions of one key arrive oldest
  // first, so the last visible one seen before the key changes is its newest.
  // As forward, a long run of one key's versions is cut short with seeks
  // (settle_key_with_seek()).
  void find_prev_user_entry() {
    bool have_value = false;
    int run = 0;  // versions of seek_buffer_ passed in a row
    while (iter_->valid()) {
      // The versions of the key collected so far are all passed: it stands.
      if (lower_ && compare_user_keys(iter_->user_key(), *lower_) < 0) break;
      if (upper_ && compare_user_keys(iter_->user_key(), *upper_) >= 0) {
        iter_->prev();  // only a version of the bound at kMaxSequenceNumber lands here
        continue;
      }
      if (iter_->sequence() <= sequence_ && have_value &&
          compare_user_keys(iter_->user_key(), saved_key_) < 0) {
        break;
      }
      if (run == 0 || !user_keys_equal(iter_->user_key(), seek_buffer_)) {
        seek_buffer_.assign(iter_->user_key());
        run = 0;
      }
      if (++run > kMaxSequentialSkips) {
        run = 0;
        settle_key_with_seek(&have_value);
        continue;
      }
      if (iter_->sequence() <= sequence_) {
        if (iter_->kind() == ValueKind::kTombstone) {
          have_value = false;
          saved_key_.clear();
          saved_value_.clear();
        } else {
          have_value = true;
          saved_key_.assign(iter_->user_key());
          saved_value_.assign(iter_->value());
        }
      }
      iter_->prev();
    }
    if (!iter_->valid() && !iter_->status().ok()) {
      stop_on_error();
      return;
    }
    valid_ = have_value;
    if (!valid_) {
      saved_key_.clear();
      saved_value_.clear();
    }
  }

  // find_prev_user_entry() in a long run of the versions of seek_buffer_:
  // reads the key's newest visible version with one seek, then moves before
  // all its versions with another. With no visible version the collected
  // state stays as it is: it may be a greater key's (the run was of versions
  // the read cannot see; a visible one, being older, would have come first
  // and ended the search).
  void settle_key_with_seek(bool* have_value) {
    iter_->seek(seek_buffer_, sequence_);
    if (!iter_->valid()) {
      if (!iter_->status().ok()) return;  // the caller stops on the error
    } else if (user_keys_equal(iter_->user_key(), seek_buffer_)) {
      *have_value = iter_->kind() == ValueKind::kValue;
      if (*have_value) {
        saved_key_.assign(seek_buffer_);
        saved_value_.assign(iter_->value());
      } else {
        saved_key_.clear();
        saved_value_.clear();
      }
    }
    // (key, kMaxSequenceNumber) sorts before every version of the key.
    iter_->seek_for_prev(seek_buffer_, kMaxSequenceNumber);
  }

  // Just before every version of the upper bound: at the oldest version of
  // the largest key below it. kMaxSequenceNumber sorts before every version of
  // a key, so no version of the bound itself is at or before it.
  void seek_before_upper() { iter_->seek_for_prev(*upper_, kMaxSequenceNumber); }

  void stop_on_error() {
    valid_ = false;
    status_ = iter_->status();
  }

  // Declared before iter_, so destroyed after it: a table iterator waits in its
  // destructor for a block being read ahead from its table, which the pins
  // (the readers, the readahead thread) must keep alive until then.
  std::shared_ptr<const void> pin_;
  std::unique_ptr<InternalIterator> iter_;
  const SequenceNumber sequence_;
  const std::optional<std::string> lower_;  // inclusive
  const std::optional<std::string> upper_;  // exclusive
  Direction direction_ = Direction::kForward;
  bool valid_ = false;
  std::string saved_key_;
  std::string saved_value_;
  std::string seek_buffer_;  // a key to seek to, copied before the iterator moves
  Status status_;
};

}  // namespace

std::unique_ptr<Iterator> new_db_iterator(std::unique_ptr<InternalIterator> internal,
                                          SequenceNumber sequence, std::shared_ptr<const void> pin,
                                          IterateBounds bounds) {
  return std::make_unique<DBIterator>(std::move(internal), sequence, std::move(pin),
                                      std::move(bounds));
}

}  // namespace fsdb
