// Version: the set of live SSTables at one moment, level by level.
//
// Level 0 holds flushed memtables, newest first; their key ranges may overlap.
// Levels 1..6 hold files sorted by key with disjoint user-key ranges, so a key
// is in at most one file per level. A Version never changes once built; the
// VersionSet installs a new one for each edit. Readers and iterators hold a
// std::shared_ptr<const Version>, which keeps its files' metadata alive; a
// removed file is deleted from disk only when no Version refers to it any more
// (see VersionSet::obsolete_files).
//
// Thread safety: immutable after apply_edit(), hence freely shared.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/version_edit.h"
#include "fsdb/status.h"

namespace fsdb {

using FileRef = std::shared_ptr<const FileMetaData>;

class Version {
 public:
  Version() = default;

  // A new version: this one with `edit` applied. Corruption if the edit removes
  // a file that is not there, adds one twice, or leaves overlapping files in a
  // level >= 1.
  Status apply_edit(const VersionEdit& edit, std::shared_ptr<const Version>* out) const;

  const std::vector<FileRef>& files(int level) const { return files_[level]; }
  size_t file_count(int level) const { return files_[level].size(); }
  uint64_t level_bytes(int level) const;
  uint64_t total_bytes() const;
  size_t total_files() const;

  // Level >= 1: the one file whose user-key range holds `user_key`, or null.
  const FileRef* find_file(int level, std::string_view user_key) const;
  // Files of `level` whose user-key range meets [begin, end] (nullopt = unbounded).
  std::vector<FileRef> overlapping_files(int level, std::optional<std::string_view> begin,
                                         std::optional<std::string_view> end) const;

  // Every file as a VersionEdit that rebuilds this version from nothing (the
  // first record of a new MANIFEST).
  void add_all_files_to(VersionEdit* edit) const;

  // "L0: 3 files 12.1 MiB ..." one line per non-empty level.
  std::string debug_string() const;

  // The orders a version keeps: level 0 newest first, deeper levels by key.
  static bool newest_first(const FileRef& a, const FileRef& b);
  static bool smallest_first(const FileRef& a, const FileRef& b);

 private:
  friend class VersionBuilder;
  std::array<std::vector<FileRef>, kNumLevels> files_;
};

}  // namespace fsdb
