#include "engine/version.h"

#include <algorithm>
#include <array>
#include <iterator>
#include <unordered_set>
#include <vector>

namespace fsdb {
namespace {

bool range_meets(const FileMetaData& f, std::optional<std::string_view> begin,
                 std::optional<std::string_view> end) {
  if (begin && f.largest_user_key() < *begin) return false;
  if (end && f.smallest_user_key() > *end) return false;
  return true;
}

}  // namespace

bool Version::smallest_first(const FileRef& a, const FileRef& b) {
  const int c = compare_encoded_internal_keys(a->smallest, b->smallest);
  return c < 0 || (c == 0 && a->number < b->number);
}

bool Version::newest_first(const FileRef& a, const FileRef& b) {
  if (a->largest_seq != b->largest_seq) return a->largest_seq > b->largest_seq;
  return a->number > b->number;
}

Status Version::apply_edit(const VersionEdit& edit, std::shared_ptr<const Version>* out) const {
  // O(files) per edit, plus O(log) lookups among the edit's own files: the
  // writer applies every flush and compaction this way, under the MANIFEST
  // lock, over versions of thousands of files, and an edit can remove
  // thousands (a compaction of a whole level).
  std::array<std::vector<uint64_t>, kNumLevels> removing;  // sorted, unique
  for (const auto& [level, number] : edit.deleted_files()) removing[level].push_back(number);
  std::array<std::vector<uint64_t>, kNumLevels> present;  // those found, sorted
  for (int level = 0; level < kNumLevels; ++level) {
    auto& numbers = removing[level];
    if (numbers.empty()) continue;
    std::sort(numbers.begin(), numbers.end());
    numbers.erase(std::unique(numbers.begin(), numbers.end()), numbers.end());
    for (const FileRef& f : files_[level]) {
      if (std::binary_search(numbers.begin(), numbers.end(), f->number)) {
        present[level].push_back(f->number);
      }
    }
    std::sort(present[level].begin(), present[level].end());
  }
  for (const auto& [level, number] : edit.deleted_files()) {
    if (!std::binary_search(present[level].begin(), present[level].end(), number)) {
      return Status::Corruption("version edit removes file " + std::to_string(number) +
                                " which is not at level " + std::to_string(level));
    }
  }
  auto removed = [&](int level, uint64_t number) {
    return !removing[level].empty() &&
           std::binary_search(removing[level].begin(), removing[level].end(), number);
  };

  // The numbers the edit adds that a file it keeps already has.
  std::vector<uint64_t> adding;
  for (const auto& [level, file] : edit.new_files()) adding.push_back(file.number);
  std::sort(adding.begin(), adding.end());
  std::vector<uint64_t> taken;
  if (!adding.empty()) {
    for (int level = 0; level < kNumLevels; ++level) {
      for (const FileRef& f : files_[level]) {
        if (std::binary_search(adding.begin(), adding.end(), f->number) &&
            !removed(level, f->number)) {
          taken.push_back(f->number);
        }
      }
    }
    std::sort(taken.begin(), taken.end());
  }
  std::array<std::vector<FileRef>, kNumLevels> added;
  std::unordered_set<uint64_t> added_numbers;
  for (const auto& [level, file] : edit.new_files()) {
    // A file whose range is inverted would hide its keys from find_file() and
    // the overlap checks below: refuse it rather than read around it.
    if (compare_encoded_internal_keys(file.smallest, file.largest) > 0) {
      return Status::Corruption("version edit adds file " + std::to_string(file.number) +
                                " whose smallest key sorts after its largest");
    }
    if (!added_numbers.insert(file.number).second ||
        std::binary_search(taken.begin(), taken.end(), file.number)) {
      return Status::Corruption("version edit adds file " + std::to_string(file.number) +
                                " which is already live");
    }
    added[level].push_back(std::make_shared<const FileMetaData>(file));
  }

  auto next = std::make_shared<Version>();
  for (int level = 0; level < kNumLevels; ++level) {
    const auto order = level == 0 ? newest_first : smallest_first;
    std::vector<FileRef> kept;
    kept.reserve(files_[level].size());
    for (const FileRef& f : files_[level]) {
      if (!removed(level, f->number)) kept.push_back(f);
    }
    auto& files = next->files_[level];
    if (added[level].empty()) {
      files = std::move(kept);
    } else {
      std::sort(added[level].begin(), added[level].end(), order);
      files.reserve(kept.size() + added[level].size());
      std::merge(kept.begin(), kept.end(), added[level].begin(), added[level].end(),
                 std::back_inserter(files), order);
    }
    if (level == 0) continue;
    for (size_t i = 1; i < files.size(); ++i) {
      if (files[i - 1]->largest_user_key() >= files[i]->smallest_user_key()) {
        return Status::Corruption("files " + std::to_string(files[i - 1]->number) + " and " +
                                  std::to_string(files[i]->number) + " overlap at level " +
                                  std::to_string(level));
      }
    }
  }
  *out = std::move(next);
  return Status::OK();
}

uint64_t Version::level_bytes(int level) const {
  uint64_t bytes = 0;
  for (const FileRef& f : files_[level]) bytes += f->file_size;
  return bytes;
}

uint64_t Version::total_bytes() const {
  uint64_t bytes = 0;
  for (int level = 0; level < kNumLevels; ++level) bytes += level_bytes(level);
  return bytes;
}

size_t Version::total_files() const {
  size_t n = 0;
  for (const auto& files : files_) n += files.size();
  return n;
}

const FileRef* Version::find_file(int level, std::string_view user_key) const {
  const auto& files = files_[level];
  auto it = std::lower_bound(
      files.begin(), files.end(), user_key,
      [](const FileRef& f, std::string_view k) { return f->largest_user_key() < k; });
  if (it == files.end() || (*it)->smallest_user_key() > user_key) return nullptr;
  return &*it;
}

std::vector<FileRef> Version::overlapping_files(int level, std::optional<std::string_view> begin,
                                                std::optional<std::string_view> end) const {
  const auto& files = files_[level];
  std::vector<FileRef> out;
  if (level == 0) {
    for (const FileRef& f : files) {
      if (range_meets(*f, begin, end)) out.push_back(f);
    }
    return out;
  }
  // Deeper levels are sorted and disjoint, so their largest keys are sorted
  // too: the files that meet the range are one run, found in O(log files)
  // (compaction picking calls this several times per look, under the DB's
  // mutex, over levels of thousands of files).
  auto it = files.begin();
  if (begin) {
    it = std::partition_point(files.begin(), files.end(),
                              [&](const FileRef& f) { return f->largest_user_key() < *begin; });
  }
  for (; it != files.end() && (!end || (*it)->smallest_user_key() <= *end); ++it) {
    out.push_back(*it);
  }
  return out;
}

void Version::add_all_files_to(VersionEdit* edit) const {
  for (int level = 0; level < kNumLevels; ++level) {
    for (const FileRef& f : files_[level]) edit->add_file(level, *f);
  }
}

std::string Version::debug_string() const {
  std::string out;
  for (int level = 0; level < kNumLevels; ++level) {
    if (files_[level].empty()) continue;
    out += "L" + std::to_string(level) + ":";
    for (const FileRef& f : files_[level]) out += " " + std::to_string(f->number);
    out += "\n";
  }
  return out;
}

}  // namespace fsdb
