// InternalIterator: the one interface the engine merges over. The memtable's
// version cursor, an SSTable's iterator and the merging iterator all implement
// it; the engine's user-facing Iterator sits on top and hides old versions and
// tombstones.
//
// It walks versions in internal-key order (util/internal_key.h): user key
// ascending, sequence descending. key parts and value() stay valid until the
// iterator moves or is destroyed.
//
// Thread safety: one thread at a time.
#pragma once

#include <string_view>

#include "fsdb/status.h"
#include "util/internal_key.h"

namespace fsdb {

class InternalIterator {
 public:
  virtual ~InternalIterator() = default;

  virtual bool valid() const = 0;
  virtual void seek_to_first() = 0;
  virtual void seek_to_last() = 0;
  // At the first version >= (user_key, seq) in internal order: the newest version
  // of user_key at or below seq if there is one, else the first version of the
  // next larger key. A version with exactly (user_key, seq) qualifies.
  virtual void seek(std::string_view user_key, SequenceNumber seq) = 0;
  // At the last version <= (user_key, seq) in internal order: the oldest version
  // of user_key at or above seq if there is one, else the last version of the
  // next smaller key. A version with exactly (user_key, seq) qualifies, so
  // seek_for_prev(k, 0) lands on k's oldest version.
  virtual void seek_for_prev(std::string_view user_key, SequenceNumber seq) = 0;
  // REQUIRES: valid().
  virtual void next() = 0;
  virtual void prev() = 0;

  // REQUIRES: valid().
  virtual std::string_view user_key() const = 0;
  virtual SequenceNumber sequence() const = 0;
  virtual ValueKind kind() const = 0;
  virtual std::string_view value() const = 0;

  // Not OK if the iterator stopped on an error (a corrupt block, an I/O error):
  // then valid() is false.
  virtual Status status() const = 0;
};

}  // namespace fsdb
