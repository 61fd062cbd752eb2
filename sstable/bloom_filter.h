// A whole-table, cache-local bloom filter over user keys.
//
// One filter per table (not partitioned): fsdb tables are tens of MiB, so a
// table's filter is ~1.2 MiB at 10 bits/key and is loaded once at open and kept
// with the reader; a lookup then costs no block read for the filter. Partitioned
// filters pay off for multi-GiB tables, which fsdb's leveled compaction does not make.
//
// Cache-local: every probe of a key falls in one 64-byte line of the filter, so
// a lookup touches one cache line instead of k random ones (for a false-positive
// rate of ~0.9% at 10 bits/key instead of ~0.8%).
//
// Probing: one XXH3-64 of the key. Its high 32 bits pick the line (multiply-shift
// onto the number of lines); its low 32 bits are h1 and a multiplicative remix of
// the whole hash is h2; probe i sets bit ((h1 + i*h2) >> 23) of the 512-bit line
// (double hashing). k = round(bits_per_key * ln 2), clamped to [1, 30].
//
// Layout: the lines (ceil(n * bits_per_key / 512) x 64 bytes, at least one),
// then one byte k.
//
// Thread safety: the builder is single-threaded; a BloomFilter is immutable and
// safe to query from many threads. A BloomFilter views bytes it does not own.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fsdb/status.h"

namespace fsdb {

uint64_t bloom_hash(std::string_view user_key);

class BloomFilterBuilder {
 public:
  explicit BloomFilterBuilder(int bits_per_key);
  // Keys may repeat; each distinct call adds one hash.
  void add_key(std::string_view user_key) { hashes_.push_back(bloom_hash(user_key)); }
  size_t num_keys() const { return hashes_.size(); }
  // The filter block's bytes.
  std::string finish();

 private:
  int bits_per_key_;
  std::vector<uint64_t> hashes_;
};

class BloomFilter {
 public:
  // Views `data` (which must outlive the filter); Corruption if malformed.
  static Status parse(std::string_view data, BloomFilter* filter);
  // False only if the key was certainly not added.
  bool may_contain(std::string_view user_key) const {
    return may_contain_hash(bloom_hash(user_key));
  }
  bool may_contain_hash(uint64_t hash) const;
  // Fetches the cache line that may_contain_hash(hash) reads.
  void prefetch(uint64_t hash) const;

 private:
  std::string_view lines_;
  uint32_t num_lines_ = 0;
  int num_probes_ = 0;
};

}  // namespace fsdb
