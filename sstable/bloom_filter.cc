#include "sstable/bloom_filter.h"

#include <algorithm>
#include <cmath>

#include "util/checksum.h"

namespace fsdb {

namespace {
constexpr int kMaxProbes = 30;

inline uint32_t bit_index(uint32_t h, uint32_t num_bits) {
  return static_cast<uint32_t>((static_cast<uint64_t>(h) * num_bits) >> 32);
}
}  // namespace

uint64_t bloom_hash(std::string_view user_key) { return checksum64(user_key); }

BloomFilterBuilder::BloomFilterBuilder(int bits_per_key)
    : bits_per_key_(std::max(1, bits_per_key)) {}

std::string BloomFilterBuilder::finish() {
  const int probes =
      std::clamp(static_cast<int>(std::lround(bits_per_key_ * 0.69314718)), 1, kMaxProbes);
  // Bounded below 2^32 bits (512 MiB) so that bit indexes fit in 32 bits.
  uint64_t bits64 = std::max<uint64_t>(64, hashes_.size() * static_cast<uint64_t>(bits_per_key_));
  bits64 = std::min<uint64_t>(bits64, (uint64_t{1} << 32) - 64);
  const size_t bytes = static_cast<size_t>((bits64 + 7) / 8);
  const uint32_t num_bits = static_cast<uint32_t>(std::min<uint64_t>(bytes * 8, UINT32_MAX));
  std::string out(bytes + 1, '\0');
  auto* array = reinterpret_cast<unsigned char*>(out.data());
  for (uint64_t hash : hashes_) {
    uint32_t h = static_cast<uint32_t>(hash);
    const uint32_t delta = static_cast<uint32_t>(hash >> 32);
    for (int i = 0; i < probes; ++i) {
      const uint32_t bit = bit_index(h, num_bits);
      array[bit / 8] |= static_cast<unsigned char>(1u << (bit % 8));
      h += delta;
    }
  }
  out[bytes] = static_cast<char>(probes);
  hashes_.clear();
  return out;
}

Status BloomFilter::parse(std::string_view data, BloomFilter* filter) {
  if (data.size() < 9) return Status::Corruption("filter block too small");
  const int probes = static_cast<unsigned char>(data.back());
  if (probes < 1 || probes > kMaxProbes) return Status::Corruption("bad filter probe count");
  const uint64_t num_bits = (data.size() - 1) * uint64_t{8};
  if (num_bits > UINT32_MAX) return Status::Corruption("filter block too large");
  filter->bits_ = data.substr(0, data.size() - 1);
  filter->num_bits_ = static_cast<uint32_t>(num_bits);
  filter->num_probes_ = probes;
  return Status::OK();
}

bool BloomFilter::may_contain_hash(uint64_t hash) const {
  const auto* array = reinterpret_cast<const unsigned char*>(bits_.data());
  uint32_t h = static_cast<uint32_t>(hash);
  const uint32_t delta = static_cast<uint32_t>(hash >> 32);
  for (int i = 0; i < num_probes_; ++i) {
    const uint32_t bit = bit_index(h, num_bits_);
    if ((array[bit / 8] & (1u << (bit % 8))) == 0) return false;
    h += delta;
  }
  return true;
}

}  // namespace fsdb
