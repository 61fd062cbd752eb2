#include "engine/version_builder.h"

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace fsdb {

bool VersionBuilder::SmallestFirst::operator()(const FileRef& a, const FileRef& b) const {
  return Version::smallest_first(a, b);
}

VersionBuilder::VersionBuilder() = default;

VersionBuilder::VersionBuilder(const Version& base) {
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : base.files(level)) insert(level, f);
  }
}

void VersionBuilder::insert(int level, const FileRef& file) {
  files_.emplace(file->number, Placed{level, file});
  if (level > 0) sorted_[level].insert(file);
}

void VersionBuilder::erase(int level, const FileRef& file) {
  files_.erase(file->number);
  if (level > 0) sorted_[level].erase(file);
}

Status VersionBuilder::apply(const VersionEdit& edit) {
  // Checked against the files before the edit, as apply_edit() does: an edit
  // may name a file twice among its removals, not remove one it adds.
  std::vector<std::pair<int, FileRef>> removed;
  for (const auto& [level, number] : edit.deleted_files()) {
    const auto it = files_.find(number);
    if (it == files_.end() || it->second.level != level) {
      return Status::Corruption("version edit removes file " + std::to_string(number) +
                                " which is not at level " + std::to_string(level));
    }
    removed.emplace_back(level, it->second.file);
  }
  for (const auto& [level, file] : removed) {
    if (files_.contains(file->number)) erase(level, file);
  }
  std::vector<std::pair<int, FileRef>> added;
  // Puts the files back as they were: a refused edit changes nothing.
  auto undo = [&](Status refusal) {
    for (auto it = added.rbegin(); it != added.rend(); ++it) erase(it->first, it->second);
    for (const auto& [level, file] : removed) {
      if (!files_.contains(file->number)) insert(level, file);
    }
    return refusal;
  };
  for (const auto& [level, file] : edit.new_files()) {
    // A file whose range is inverted would hide its keys from find_file() and
    // the overlap checks: refused rather than read around.
    if (compare_encoded_internal_keys(file.smallest, file.largest) > 0) {
      return undo(Status::Corruption("version edit adds file " + std::to_string(file.number) +
                                     " whose smallest key sorts after its largest"));
    }
    if (files_.contains(file.number)) {
      return undo(Status::Corruption("version edit adds file " + std::to_string(file.number) +
                                     " which is already live"));
    }
    added.emplace_back(level, std::make_shared<const FileMetaData>(file));
    insert(level, added.back().second);
  }
  Status s = check_no_overlap(added);
  if (!s.ok()) return undo(std::move(s));
  return Status::OK();
}

Status VersionBuilder::check_no_overlap(const std::vector<std::pair<int, FileRef>>& added) const {
  // The files were disjoint before the edit, and removing files keeps them
  // so: every overlapping pair of neighbours holds an added file.
  std::optional<std::pair<int, FileRef>> first;  // the pair's level and its left file
  FileRef first_right;
  auto consider = [&](int level, const FileRef& left, const FileRef& right) {
    if (left->largest_user_key() < right->smallest_user_key()) return;
    if (!first || level < first->first ||
        (level == first->first && SmallestFirst()(left, first->second))) {
      first.emplace(level, left);
      first_right = right;
    }
  };
  for (const auto& [level, file] : added) {
    if (level == 0) continue;
    const auto& files = sorted_[level];
    const auto at = files.find(file);
    if (at != files.begin()) consider(level, *std::prev(at), file);
    if (const auto next = std::next(at); next != files.end()) consider(level, file, *next);
  }
  if (!first) return Status::OK();
  return Status::Corruption("files " + std::to_string(first->second->number) + " and " +
                            std::to_string(first_right->number) + " overlap at level " +
                            std::to_string(first->first));
}

std::shared_ptr<const Version> VersionBuilder::build() const {
  auto version = std::make_shared<Version>();
  for (const auto& [number, placed] : files_) {
    if (placed.level == 0) version->files_[0].push_back(placed.file);
  }
  std::sort(version->files_[0].begin(), version->files_[0].end(), Version::newest_first);
  for (int level = 1; level < kNumLevels; ++level) {
    version->files_[level].assign(sorted_[level].begin(), sorted_[level].end());
  }
  return version;
}

}  // namespace fsdb
