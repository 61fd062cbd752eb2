#include "tools/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "tools/text.h"

namespace fsdb::tool {

bool ProgressBar::stderr_is_terminal() {
  const char* off = std::getenv("FSDB_NO_PROGRESS");
  return ::isatty(STDERR_FILENO) == 1 && (off == nullptr || *off == '\0');
}

ProgressBar::ProgressBar(std::string label, uint64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      enabled_(stderr_is_terminal()),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::set_total(uint64_t total) {
  std::lock_guard<std::mutex> guard(mu_);
  total_ = total;
}

void ProgressBar::update(uint64_t done) {
  if (!enabled_) return;
  std::lock_guard<std::mutex> guard(mu_);
  done_ = done;
  draw_locked(false);
}

void ProgressBar::note(const std::string& line) {
  std::lock_guard<std::mutex> guard(mu_);
  clear_locked();
  std::fputs(line.c_str(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (enabled_ && !finished_) draw_locked(true);
}

void ProgressBar::finish() {
  std::lock_guard<std::mutex> guard(mu_);
  if (finished_) return;
  finished_ = true;
  if (!enabled_ || !drawn_) return;
  draw_locked(true);
  std::fputc('\n', stderr);
  std::fflush(stderr);
}

void ProgressBar::clear_locked() {
  if (!enabled_ || !drawn_ || finished_) return;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  drawn_ = false;
}

void ProgressBar::draw_locked(bool force) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done_) / elapsed : 0;
  const bool bytes = unit_ == "bytes";
  const auto amount = [&](double v) {
    return bytes ? human_bytes(static_cast<uint64_t>(v)) : human_count(v);
  };
  std::string line = "\r\033[K" + label_ + " ";
  if (total_ > 0) {
    const double fraction = std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_));
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(fraction * kWidth);
    line += '[' + std::string(filled, '#') + std::string(kWidth - filled, '.') + "] ";
    char pct[16];
    std::snprintf(pct, sizeof(pct), "%3.0f%% ", fraction * 100);
    line += pct;
    line += amount(static_cast<double>(done_)) + "/" + amount(static_cast<double>(total_));
  } else {
    line += amount(static_cast<double>(done_));
  }
  line += "  " + amount(rate) + (bytes ? "/s" : " " + unit_ + "/s");
  if (total_ > 0 && rate > 0 && done_ < total_) {
    line += "  ETA " + human_seconds(static_cast<double>(total_ - done_) / rate);
  } else {
    line += "  " + human_seconds(elapsed);
  }
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace fsdb::tool
