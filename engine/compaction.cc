#include "engine/compaction.h"

#include <algorithm>

namespace fsdb {
namespace {

// The user-key range covered by a set of files.
void key_range(const std::vector<FileRef>& files, std::string* smallest, std::string* largest) {
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string_view s = files[i]->smallest_user_key(), l = files[i]->largest_user_key();
    if (i == 0 || s < *smallest) smallest->assign(s);
    if (i == 0 || l > *largest) largest->assign(l);
  }
}

bool any_busy(const std::vector<FileRef>& files, const std::set<uint64_t>& busy) {
  return std::any_of(files.begin(), files.end(),
                     [&](const FileRef& f) { return busy.count(f->number) != 0; });
}

Compaction with_next_level(const Version& version, int level, std::vector<FileRef> inputs) {
  Compaction c;
  c.level = level;
  c.inputs[0] = std::move(inputs);
  std::string smallest, largest;
  key_range(c.inputs[0], &smallest, &largest);
  c.inputs[1] = version.overlapping_files(level + 1, smallest, largest);
  // At level 0 a lone file may only move down when no other level-0 file
  // exists: an older overlapping one would otherwise end up above it.
  c.trivial_move =
      c.inputs[0].size() == 1 && c.inputs[1].empty() && (level > 0 || version.file_count(0) == 1);
  return c;
}

}  // namespace

uint64_t Compaction::input_bytes() const {
  uint64_t bytes = 0;
  for (const auto& files : inputs) {
    for (const FileRef& f : files) bytes += f->file_size;
  }
  return bytes;
}

uint64_t level_target_bytes(const Options& options, int level) {
  uint64_t target = options.level1_bytes;
  for (int l = 1; l < level; ++l) target *= 10;
  return target;
}

double compaction_score(const Options& options, const Version& version, int level) {
  if (level == 0) {
    return static_cast<double>(version.file_count(0)) / options.l0_compaction_trigger;
  }
  if (level == kNumLevels - 1) return 0;  // the bottom level has nowhere to go
  return static_cast<double>(version.level_bytes(level)) /
         static_cast<double>(level_target_bytes(options, level));
}

std::optional<Compaction> pick_compaction(const Options& options, const Version& version,
                                          const std::array<std::string, kNumLevels>& pointers,
                                          const std::set<uint64_t>& busy) {
  // Levels that need compaction, most urgent first; the first whose inputs
  // are not already being compacted is taken.
  std::vector<std::pair<double, int>> candidates;
  for (int level = 0; level < kNumLevels - 1; ++level) {
    const double score = compaction_score(options, version, level);
    if (score >= 1.0) candidates.emplace_back(score, level);
  }
  std::sort(candidates.begin(), candidates.end(), std::greater<>());
  // A level over its target that can shed a file by a trivial move (a MANIFEST
  // edit, no I/O) does so first, whatever the scores: the move is free, and a
  // level back at its target makes the next compaction into it cheaper. (A
  // fast writer otherwise fills level 0 past the trigger while level 1 is
  // still oversized, and the level-0 compaction rewrites the excess.)
  for (const auto& [score, level] : candidates) {
    if (level == 0) continue;
    std::optional<Compaction> c = pick_at_level(version, level, pointers[level], busy);
    if (c && c->trivial_move && !any_busy(c->inputs[0], busy)) return c;
  }
  for (const auto& [score, level] : candidates) {
    std::optional<Compaction> c = pick_at_level(version, level, pointers[level], busy);
    if (c && !any_busy(c->inputs[0], busy) && !any_busy(c->inputs[1], busy)) return c;
  }
  return std::nullopt;
}

std::optional<Compaction> pick_at_level(const Version& version, int best_level,
                                        const std::string& pointer,
                                        const std::set<uint64_t>& busy) {
  const auto& files = version.files(best_level);
  if (files.empty()) return std::nullopt;
  std::vector<FileRef> inputs;
  std::vector<FileRef> passed_over;
  if (best_level == 0) {
    inputs = files;  // level-0 files overlap one another: take them all
  } else {
    // Of the kPickWindow files after the compaction pointer (wrapping
    // around), the one whose overlap with the next level is the smallest for
    // its own size: it rewrites the fewest bytes below per byte it moves
    // down. Ties go to the first. The pointer then moves past the file taken,
    // so the compactions still sweep the level's whole key range in turn; the
    // window only lets a sweep step over a file that would be costly to push
    // down right now. A file stepped over in kMaxPassOvers sweeps is taken in
    // the next one whatever it costs, so every key is reached.
    // The first file past the pointer (the level is sorted and disjoint, so
    // its largest keys are sorted too).
    auto it = std::partition_point(files.begin(), files.end(), [&](const FileRef& f) {
      return !pointer.empty() && compare_encoded_internal_keys(f->largest, pointer) <= 0;
    });
    constexpr size_t kPickWindow = 4;  // the whole level measured within 1% (docs)
    const size_t first = it == files.end() ? 0 : static_cast<size_t>(it - files.begin());
    std::optional<size_t> best;
    double best_ratio = 0;
    for (size_t k = 0; k < std::min<size_t>(kPickWindow, files.size()); ++k) {
      const size_t i = (first + k) % files.size();
      if (busy.count(files[i]->number) != 0) continue;
      const std::vector<FileRef> below_files = version.overlapping_files(
          best_level + 1, files[i]->smallest_user_key(), files[i]->largest_user_key());
      if (any_busy(below_files, busy)) continue;  // another compaction is writing there
      uint64_t below = 0;
      for (const FileRef& g : below_files) below += g->file_size;
      const double ratio = static_cast<double>(below) /
                           static_cast<double>(std::max<uint64_t>(files[i]->file_size, 1));
      if (files[i]->times_passed_over >= kMaxPassOvers) {
        best = i;
        break;
      }
      if (!best || ratio < best_ratio) {
        best = i;
        best_ratio = ratio;
      }
    }
    if (!best) return std::nullopt;  // every file is being compacted, or what lies below it
    inputs.push_back(files[*best]);
    for (size_t i = first; i != *best; i = (i + 1) % files.size()) {
      if (busy.count(files[i]->number) == 0) passed_over.push_back(files[i]);
    }
  }
  Compaction c = with_next_level(version, best_level, std::move(inputs));
  c.passed_over = std::move(passed_over);
  return c;
}

std::optional<Compaction> pick_range_compaction(const Version& version, int level,
                                                std::optional<std::string_view> begin,
                                                std::optional<std::string_view> end) {
  std::vector<FileRef> inputs = version.overlapping_files(level, begin, end);
  if (inputs.empty()) return std::nullopt;
  if (level == 0) inputs = version.files(0);  // see pick_compaction
  Compaction c = with_next_level(version, level, std::move(inputs));
  c.manual = true;
  return c;
}

OutputCutter::OutputCutter(const std::vector<FileRef>& grandparents, uint64_t target_bytes)
    : grandparents_(grandparents), target_bytes_(target_bytes) {}

bool OutputCutter::cut_before(std::string_view user_key, uint64_t output_bytes) {
  bool stepped_past_a_grandparent = false;
  while (next_ < grandparents_.size() && grandparents_[next_]->largest_user_key() < user_key) {
    if (output_bytes > 0) {
      stepped_past_a_grandparent = true;
      overlap_bytes_ += grandparents_[next_]->file_size;
    }
    ++next_;
  }
  if (output_bytes == 0) return false;
  bool cut;
  if (grandparents_.empty()) {
    cut = output_bytes >= target_bytes_;
  } else {
    cut = (stepped_past_a_grandparent && output_bytes >= target_bytes_ / 2) ||
          output_bytes >= 2 * target_bytes_ || overlap_bytes_ >= 10 * target_bytes_;
  }
  if (cut) {
    // The grandparent the key falls into, if any, is overlapped by the next output.
    overlap_bytes_ = 0;
  }
  return cut;
}

VersionGarbageCollector::VersionGarbageCollector(std::vector<SequenceNumber> snapshots)
    : snapshots_(std::move(snapshots)) {
  std::sort(snapshots_.begin(), snapshots_.end());
  snapshots_.erase(std::unique(snapshots_.begin(), snapshots_.end()), snapshots_.end());
}

size_t VersionGarbageCollector::stripe_of(SequenceNumber seq) const {
  // The index of the first snapshot at or above seq; snapshots_.size() if none.
  return static_cast<size_t>(std::lower_bound(snapshots_.begin(), snapshots_.end(), seq) -
                             snapshots_.begin());
}

bool output_is_bottommost(const Compaction& c, const Version& version) {
  std::optional<std::string_view> smallest;
  std::optional<std::string_view> largest;
  for (const auto& files : c.inputs) {
    for (const FileRef& f : files) {
      const std::string_view low = f->smallest_user_key();
      const std::string_view high = f->largest_user_key();
      if (!smallest || compare_user_keys(low, *smallest) < 0) smallest = low;
      if (!largest || compare_user_keys(high, *largest) > 0) largest = high;
    }
  }
  if (!smallest) return true;  // no inputs, no outputs
  for (int level = c.output_level() + 1; level < kNumLevels; ++level) {
    if (!version.overlapping_files(level, smallest, largest).empty()) return false;
  }
  return true;
}

}  // namespace fsdb
