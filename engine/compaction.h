// Leveled compaction: choosing what to compact, and which versions survive.
//
// Level 0 is compacted into level 1 once it holds l0_compaction_trigger files;
// level n >= 1 into level n+1 once it holds more than its target size
// (level1_bytes at level 1, ten times more at each level below). Within a level
// a compaction pointer rotates through the key range; of the few files just
// past it, the one overlapping the fewest next-level bytes per byte of its own
// is compacted, but a file already stepped over kMaxPassOvers times is taken
// as soon as it is among them, so every key is reached. A file that overlaps nothing in the next
// level (and, at level 0, is the only file) moves down without being rewritten. Outputs are cut
// into files where they line up with the files of the level below (OutputCutter).
//
// Thread safety: plain functions and values; the caller holds what protects
// the Version it passes.
#pragma once

#include <array>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "engine/version.h"
#include "fsdb/options.h"

namespace fsdb {

struct Compaction {
  int level = 0;  // inputs[0] are at `level`, inputs[1] at level + 1
  std::array<std::vector<FileRef>, 2> inputs;
  bool trivial_move = false;  // one file, nothing to merge with: re-link it one level down
  bool manual = false;
  // Files of `level` the pick stepped over for a cheaper one; the caller that
  // runs the compaction counts it in their times_passed_over.
  std::vector<FileRef> passed_over;
  int output_level() const { return level + 1; }
  uint64_t input_bytes() const;
};

// Whether no level below the compaction's output holds anything in its key
// range in `version`: the outputs then stay where they are until rewritten in
// place (Options::light_upper_level_compression codes them fully).
bool output_is_bottommost(const Compaction& c, const Version& version);

// The target size of `level` (>= 1).
uint64_t level_target_bytes(const Options& options, int level);
// How urgently `level` needs compaction: >= 1 means it does.
double compaction_score(const Options& options, const Version& version, int level);

// The most urgent compaction of `version`, if any level scores >= 1.
// `compact_pointers[level]` is the largest key compacted last time at that
// level (empty: none yet); files in `busy` are being compacted already.
std::optional<Compaction> pick_compaction(
    const Options& options, const Version& version,
    const std::array<std::string, kNumLevels>& compact_pointers, const std::set<uint64_t>& busy);

// The compaction of `level`, or nullopt if it holds no file: at level 0 every
// file, at deeper levels, of the first files past `pointer` (wrapping around),
// the one with the smallest ratio of next-level overlap to its own size (or
// the first one stepped over kMaxPassOvers times already);
// with the files of level + 1 they overlap. At deeper levels a file is passed
// over when it, or a file below it, is in `busy`; nullopt if all are.
inline constexpr int kMaxPassOvers = 2;
std::optional<Compaction> pick_at_level(const Version& version, int level,
                                        const std::string& pointer, const std::set<uint64_t>& busy);

// Every file of `level` overlapping [begin, end] user keys with the files of
// level + 1 they overlap (manual compaction).
std::optional<Compaction> pick_range_compaction(const Version& version, int level,
                                                std::optional<std::string_view> begin,
                                                std::optional<std::string_view> end);

// Decides where a compaction cuts its output into files. An output file of
// level n is later compacted with the files of level n + 1 it overlaps (its
// "grandparents" now); a file that ends inside a grandparent drags that whole
// grandparent into two future compactions, each rewriting the half it does
// not need. So once an output holds half the target size, it is cut where its
// keys step past the end of a grandparent; without such a step it is cut at
// twice the target. An output is also cut when the grandparents it overlaps
// reach ten times the target size, bounding what compacting it later costs.
// With no grandparents (the output is the lowest level in use) files are cut
// at the target size.
class OutputCutter {
 public:
  // `grandparents`: the files of the level below the output, in key order;
  // they must outlive the cutter.
  OutputCutter(const std::vector<FileRef>& grandparents, uint64_t target_bytes);

  // Called with each new user key, ascending, before it is added;
  // `output_bytes` is the size of the open output file (0 if none is open).
  // True: finish the open output first, the key starts the next one.
  bool cut_before(std::string_view user_key, uint64_t output_bytes);

 private:
  const std::vector<FileRef>& grandparents_;
  const uint64_t target_bytes_;
  size_t next_ = 0;             // the first grandparent whose end is not yet passed
  uint64_t overlap_bytes_ = 0;  // of the grandparents the open output overlaps
};

// Decides, entry by entry in internal order, which versions a compaction keeps.
//
// A version may be dropped when a newer version of the same key is visible to
// every reader that could see it: with live snapshots s1 < s2 < ... the
// sequence line is cut into stripes (.., s1], (s1, s2], ..., (sk, inf); of the
// versions of a key in one stripe only the newest can be read. A tombstone is
// dropped too when it is in the first stripe (every snapshot sees it) and no
// level below the output can hold an older version of its key — then the
// older versions it hides are dropped with it, being in the same stripe.
class VersionGarbageCollector {
 public:
  // `snapshots` ascending. `is_base_level_for_key(user_key)` says whether no
  // level below the output may hold the key.
  explicit VersionGarbageCollector(std::vector<SequenceNumber> snapshots);

  // Called for each entry in order; true if it must be written out.
  // `is_base_level` is consulted only for tombstones.
  template <class BaseLevelFn>
  bool keep(std::string_view user_key, SequenceNumber seq, ValueKind kind,
            BaseLevelFn&& is_base_level) {
    const size_t stripe = stripe_of(seq);
    if (has_current_ && user_key == current_key_ && stripe == current_stripe_) {
      ++dropped_;
      return false;  // shadowed by a newer version in the same stripe
    }
    if (!has_current_ || user_key != current_key_) {
      current_key_.assign(user_key);
      has_current_ = true;
    }
    current_stripe_ = stripe;
    if (kind == ValueKind::kTombstone && stripe == 0 && is_base_level(user_key)) {
      ++dropped_;
      return false;
    }
    return true;
  }
  uint64_t dropped() const { return dropped_; }
  // Whether every reader — each live snapshot and the latest — sees a version
  // with this sequence (it lies in the first stripe).
  bool visible_to_all(SequenceNumber seq) const { return stripe_of(seq) == 0; }

 private:
  size_t stripe_of(SequenceNumber seq) const;

  std::vector<SequenceNumber> snapshots_;
  std::string current_key_;
  bool has_current_ = false;
  size_t current_stripe_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace fsdb
