// LevelIterator: one InternalIterator over the files of one level >= 1.
//
// The files of a deeper level hold disjoint, sorted key ranges, so they can be
// walked one after another: only the file under the cursor is open. A merging
// iterator then has one child per level instead of one per file, and a seek
// costs one table seek per level.
//
// Thread safety: one thread at a time. The iterator keeps the table reader it
// reads alive; the caller keeps the Version (and so the file list) alive.
#pragma once

#include <memory>
#include <vector>

#include "engine/table_cache.h"
#include "engine/version.h"
#include "util/internal_iterator.h"

namespace fsdb {

std::unique_ptr<InternalIterator> new_level_iterator(TableCache* cache,
                                                     const std::vector<FileRef>& files,
                                                     const TableReadOptions& read_options);

}  // namespace fsdb
