// VersionBuilder: applies a run of VersionEdits (a MANIFEST read from its
// start) at a cost that follows the edits, not the version they change.
//
// Version::apply_edit() builds a whole new Version for each edit: O(files)
// work per edit, which made reading a MANIFEST of E edits over F files cost
// O(E * F log F) — seconds for a 4 MiB MANIFEST over a few thousand tables,
// paid by every open and by every catch-up of a secondary. The builder keeps
// one mutable set of files instead and makes the Version once, in build().
//
// apply() accepts and refuses exactly what apply_edit() does, with the same
// messages (fuzz/version_edit_fuzzer.cc checks the two against each other),
// and a refused edit leaves the builder as it was.
//
// Thread safety: none; one thread builds.
#pragma once

#include <array>
#include <memory>
#include <set>
#include <unordered_map>

#include "engine/version.h"
#include "engine/version_edit.h"
#include "fsdb/status.h"

namespace fsdb {

class VersionBuilder {
 public:
  VersionBuilder();
  explicit VersionBuilder(const Version& base);

  // The files after `edit`; Corruption (and no change) if the edit removes a
  // file that is not there, adds one twice or with an inverted range, or
  // leaves overlapping files in a level >= 1.
  Status apply(const VersionEdit& edit);

  // The version the edits so far make.
  std::shared_ptr<const Version> build() const;

 private:
  // Levels >= 1 in key order, as a Version keeps them.
  struct SmallestFirst {
    bool operator()(const FileRef& a, const FileRef& b) const;
  };
  void insert(int level, const FileRef& file);
  void erase(int level, const FileRef& file);
  // The first pair of neighbours (in level order, then key order) that
  // overlap and include one of `added`, as "files A and B overlap at level L".
  Status check_no_overlap(const std::vector<std::pair<int, FileRef>>& added) const;

  struct Placed {
    int level;
    FileRef file;
  };
  std::unordered_map<uint64_t, Placed> files_;                       // every live file, by number
  std::array<std::set<FileRef, SmallestFirst>, kNumLevels> sorted_;  // [0] unused
};

}  // namespace fsdb
