// ProgressBar: a one-line progress bar with rate and ETA on stderr, for long
// work (load, export, compact, check, demo). It draws only when stderr is a
// terminal (and FSDB_NO_PROGRESS is unset), so pipes and logs never see it.
// Redraws are limited to ten a second.
//
// Thread safety: update() and note() may be called from several threads; a
// mutex serialises drawing. note() prints a line to stdout above the bar.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace fsdb::tool {

class ProgressBar {
 public:
  // `total` 0: unknown (rate only, no ETA). `unit` names what is counted
  // ("records", "bytes": the latter shows sizes).
  ProgressBar(std::string label, uint64_t total, std::string unit);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  void update(uint64_t done);
  void set_total(uint64_t total);
  // Prints a line on stdout without tearing the bar.
  void note(const std::string& line);
  // Draws the final state and moves to a new line.
  void finish();

  bool enabled() const { return enabled_; }
  static bool stderr_is_terminal();

 private:
  void draw_locked(bool force);
  void clear_locked();

  std::mutex mu_;
  const std::string label_;
  const std::string unit_;
  uint64_t total_;
  uint64_t done_ = 0;
  const bool enabled_;
  bool drawn_ = false;
  bool finished_ = false;
  const std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace fsdb::tool
