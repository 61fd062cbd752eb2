#include "sstable/bloom_filter.h"

#include <algorithm>
#include <cmath>

#include "util/checksum.h"

namespace fsdb {

namespace {
constexpr int kMaxProbes = 30;
constexpr size_t kLineBytes = 64;
constexpr uint64_t kLineBits = kLineBytes * 8;

inline uint32_t line_index(uint64_t hash, uint32_t num_lines) {
  return static_cast<uint32_t>(((hash >> 32) * num_lines) >> 32);
}
inline uint32_t probe_delta(uint64_t hash) {
  return static_cast<uint32_t>((hash * 0x9e3779b97f4a7c15ull) >> 32) | 1;
}
}  // namespace

uint64_t bloom_hash(std::string_view user_key) { return checksum64(user_key); }

BloomFilterBuilder::BloomFilterBuilder(int bits_per_key)
    : bits_per_key_(std::max(1, bits_per_key)) {}

std::string BloomFilterBuilder::finish() {
  const int probes =
      std::clamp(static_cast<int>(std::lround(bits_per_key_ * 0.69314718)), 1, kMaxProbes);
  // Line indexes are 32-bit; 2^32 lines (256 GiB of filter) is far beyond any table.
  const uint64_t bits = hashes_.size() * static_cast<uint64_t>(bits_per_key_);
  const uint64_t num_lines =
      std::clamp<uint64_t>((bits + kLineBits - 1) / kLineBits, 1, UINT32_MAX);
  std::string out(num_lines * kLineBytes + 1, '\0');
  auto* array = reinterpret_cast<unsigned char*>(out.data());
  for (uint64_t hash : hashes_) {
    unsigned char* line = array + line_index(hash, static_cast<uint32_t>(num_lines)) * kLineBytes;
    uint32_t h = static_cast<uint32_t>(hash);
    const uint32_t delta = probe_delta(hash);
    for (int i = 0; i < probes; ++i) {
      const uint32_t bit = h >> 23;  // 9 bits: 0..511
      line[bit / 8] |= static_cast<unsigned char>(1u << (bit % 8));
      h += delta;
    }
  }
  out.back() = static_cast<char>(probes);
  hashes_.clear();
  return out;
}

Status BloomFilter::parse(std::string_view data, BloomFilter* filter) {
  if (data.size() < kLineBytes + 1 || (data.size() - 1) % kLineBytes != 0) {
    return Status::Corruption("filter block has a bad size");
  }
  const int probes = static_cast<unsigned char>(data.back());
  if (probes < 1 || probes > kMaxProbes) return Status::Corruption("bad filter probe count");
  const uint64_t num_lines = (data.size() - 1) / kLineBytes;
  if (num_lines > UINT32_MAX) return Status::Corruption("filter block too large");
  filter->lines_ = data.substr(0, data.size() - 1);
  filter->num_lines_ = static_cast<uint32_t>(num_lines);
  filter->num_probes_ = probes;
  return Status::OK();
}

void BloomFilter::prefetch(uint64_t hash) const {
  if (num_lines_ == 0) return;
  __builtin_prefetch(lines_.data() +
                     static_cast<size_t>(line_index(hash, num_lines_)) * kLineBytes);
}

bool BloomFilter::may_contain_hash(uint64_t hash) const {
  const auto* line = reinterpret_cast<const unsigned char*>(lines_.data()) +
                     static_cast<size_t>(line_index(hash, num_lines_)) * kLineBytes;
  uint32_t h = static_cast<uint32_t>(hash);
  const uint32_t delta = probe_delta(hash);
  for (int i = 0; i < num_probes_; ++i) {
    const uint32_t bit = h >> 23;
    if ((line[bit / 8] & (1u << (bit % 8))) == 0) return false;
    h += delta;
  }
  return true;
}

}  // namespace fsdb
