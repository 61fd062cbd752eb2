// DBIterator: the user-facing Iterator over an InternalIterator.
//
// The internal iterator yields every version of every key; this one yields
// each user key once, with its newest value at or below the read sequence, and
// hides keys whose newest visible version is a tombstone.
//
// Going forward the internal iterator sits on the entry being yielded. Going
// backward it sits just before every version of the yielded key, whose key and
// value are then copied here (the newest visible version is only known once
// the older ones have been passed).
//
// Thread safety: one thread at a time.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "fsdb/iterator.h"
#include "util/internal_iterator.h"

namespace fsdb {

// The keys an iterator may return: [lower, upper), nullopt = unbounded.
struct IterateBounds {
  std::optional<std::string> lower;
  std::optional<std::string> upper;
};

// `pin` keeps alive whatever the internal iterator reads (memtables, table
// readers, a version) for as long as the returned iterator lives.
std::unique_ptr<Iterator> new_db_iterator(std::unique_ptr<InternalIterator> internal,
                                          SequenceNumber sequence,
                                          std::shared_ptr<const void> pin = nullptr,
                                          IterateBounds bounds = {});

}  // namespace fsdb
