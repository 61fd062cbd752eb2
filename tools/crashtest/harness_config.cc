#include "tools/crashtest/harness_config.h"

#include <algorithm>
#include <random>

namespace fsdb::crashtest {

Status parse_millis(const std::string& text, uint64_t* millis) {
  size_t used = 0;
  double number = 0;
  try {
    number = std::stod(text, &used);
  } catch (...) {
    return Status::InvalidArgument("bad duration '" + text + "'");
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1000;
  else if (unit == "ms")
    scale = 1;
  else if (unit == "m" || unit == "min")
    scale = 60'000;
  else if (unit == "h")
    scale = 3'600'000;
  if (scale == 0 || number < 0) return Status::InvalidArgument("bad duration '" + text + "'");
  *millis = static_cast<uint64_t>(number * scale);
  return Status::OK();
}

Status Flags::parse(int argc, char** argv, const std::vector<std::string>& known) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0)
      return Status::InvalidArgument("unexpected argument '" + arg + "'");
    arg = arg.substr(2);
    const size_t eq = arg.find('=');
    const std::string name = arg.substr(0, eq);
    const std::string value = eq == std::string::npos ? "1" : arg.substr(eq + 1);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return Status::InvalidArgument("unknown flag --" + name);
    }
    values_[name] = value;
  }
  return Status::OK();
}

std::string Flags::get(const std::string& name, const std::string& fallback) const {
  auto it = values_.find(name);
  return it == values_.end() ? fallback : it->second;
}

uint64_t Flags::get_uint(const std::string& name, uint64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    size_t used = 0;
    const uint64_t v = std::stoull(it->second, &used);
    if (used == it->second.size()) return v;
  } catch (...) {
  }
  if (error_.ok()) error_ = Status::InvalidArgument("--" + name + ": not a number: " + it->second);
  return fallback;
}

double Flags::get_double(const std::string& name, double fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  try {
    return std::stod(it->second);
  } catch (...) {
    if (error_.ok()) error_ = Status::InvalidArgument("--" + name + ": not a number");
    return fallback;
  }
}

uint64_t Flags::get_millis(const std::string& name, uint64_t fallback) const {
  auto it = values_.find(name);
  if (it == values_.end()) return fallback;
  uint64_t millis = 0;
  Status s = parse_millis(it->second, &millis);
  if (!s.ok()) {
    if (error_.ok()) error_ = s.with_context("--" + name);
    return fallback;
  }
  return millis;
}

Options stress_db_options(uint64_t profile) {
  std::mt19937_64 rng(profile * 0x2545f4914f6cdd1dULL + 17);
  Options o;
  o.create_if_missing = true;
  static const size_t kMemtable[] = {16 << 10, 32 << 10, 64 << 10, 256 << 10};
  o.memtable_bytes = kMemtable[rng() % 4];
  o.memtable_shards = 1 + rng() % 4;
  o.max_sealed_memtables = 1 + rng() % 3;
  o.compression = rng() % 2 == 0 ? Compression::kZstd : Compression::kNone;
  o.block_bytes = rng() % 2 == 0 ? 1024 : 4096;
  o.bloom_bits_per_key = rng() % 3 == 0 ? 0 : 10;
  o.block_cache_bytes = rng() % 3 == 0 ? 0 : (1 << 20);
  o.l0_compaction_trigger = 2 + static_cast<int>(rng() % 3);
  o.l0_slowdown_writes_trigger = o.l0_compaction_trigger + 4;
  o.l0_stop_writes_trigger = o.l0_slowdown_writes_trigger + 4;
  o.level1_bytes = 256 << 10;
  o.target_file_bytes = 64 << 10;
  // Drawn last, so the draws above stay what they were for every profile.
  static const size_t kDictionary[] = {0, 2048, 4096};
  o.compression_dictionary_bytes = kDictionary[rng() % 3];
  o.light_upper_level_compression = rng() % 2 == 0;
  o.light_upper_level_zstd_level = rng() % 2 == 0 ? 1 : 3;
  o.zstd_level = rng() % 3 == 0 ? 1 : 3;
  return o;
}

std::string describe_db_options(const Options& o) {
  return "memtable_bytes=" + std::to_string(o.memtable_bytes) +
         " shards=" + std::to_string(o.memtable_shards) +
         " max_sealed=" + std::to_string(o.max_sealed_memtables) +
         " compression=" + (o.compression == Compression::kZstd ? "zstd" : "none") +
         " zstd_level=" + std::to_string(o.zstd_level) +
         " dictionary=" + std::to_string(o.compression_dictionary_bytes) +
         " light_upper_levels=" + (o.light_upper_level_compression ? "1" : "0") +
         " light_zstd_level=" + std::to_string(o.light_upper_level_zstd_level) +
         " block_bytes=" + std::to_string(o.block_bytes) +
         " bloom=" + std::to_string(o.bloom_bits_per_key) +
         " cache=" + std::to_string(o.block_cache_bytes) +
         " l0_trigger=" + std::to_string(o.l0_compaction_trigger);
}

}  // namespace fsdb::crashtest
