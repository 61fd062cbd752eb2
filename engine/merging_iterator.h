// MergingIterator: many InternalIterators seen as one, in internal-key order.
//
// The engine merges the active memtable, the sealed memtables and every
// SSTable a read may touch. Children are kept in a binary heap (a min-heap
// going forward, a max-heap going backward), so a step costs O(log n) key
// comparisons however many sources there are. Changing direction re-seeks every
// child around the current key, as LevelDB's merger does.
//
// Thread safety: one thread at a time. Owns its children.
#pragma once

#include <memory>
#include <vector>

#include "util/internal_iterator.h"

namespace fsdb {

std::unique_ptr<InternalIterator> new_merging_iterator(
    std::vector<std::unique_ptr<InternalIterator>> children);

}  // namespace fsdb
