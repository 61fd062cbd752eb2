// fsdb::Iterator — an ordered cursor over a DB's keys as of one moment.
//
// An iterator sees the DB as it was when it was created (or at the snapshot in
// its ReadOptions): later writes, flushes and compactions change nothing it
// yields. It pins the memtables and files it reads, so they stay readable until
// it is destroyed; keep iterators short-lived. Destroy every iterator before
// the DB that made it (as with RocksDB and LevelDB).
//
// key() and value() stay valid until the iterator moves or is destroyed.
// Thread safety: one thread at a time per iterator; distinct iterators are
// independent.
#pragma once

#include <string_view>

#include "fsdb/status.h"

namespace fsdb {

class Iterator {
 public:
  Iterator() = default;
  Iterator(const Iterator&) = delete;
  Iterator& operator=(const Iterator&) = delete;
  virtual ~Iterator() = default;

  // True while positioned at an entry; false at either end or after an error.
  virtual bool valid() const = 0;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  virtual void seek(std::string_view target) = 0;           // first key >= target
  virtual void seek_for_prev(std::string_view target) = 0;  // last key <= target
  // REQUIRES: valid(). (The DB's iterators answer a call on an iterator that
  // is not valid without undefined behaviour: next() and prev() do nothing,
  // key() and value() are empty.)
  virtual void next() = 0;
  virtual void prev() = 0;
  // REQUIRES: valid().
  virtual std::string_view key() const = 0;
  virtual std::string_view value() const = 0;
  // Not OK if iteration stopped on an error (then valid() is false).
  virtual Status status() const = 0;
};

}  // namespace fsdb
