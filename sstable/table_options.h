// TableOptions: how SSTables are built and read. The engine fills one from
// fsdb::Options (block_bytes, compression, zstd_level, bloom_bits_per_key, the
// shared block cache) and ReadOptions (verify_checksums, fill_cache).
//
// Thread safety: a plain value. Ownership: the block cache is shared by every
// table of a DB; a null cache means blocks are read from the file every time.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "fsdb/options.h"

namespace fsdb {

class BlockCache;
class BackgroundThread;

// Per-read knobs, separate so that one reader can serve reads with different
// settings (a compaction reads with fill_cache = false).
struct TableReadOptions {
  bool verify_checksums = true;  // check the trailer checksum of every block read from the file
  bool fill_cache = true;        // insert blocks read from the file into the block cache
  // Where an iterator that moves from block to block in one direction reads
  // the next blocks ahead (table_iterator.h); null: it reads each when it gets
  // there. Must outlive the iterator.
  BackgroundThread* readahead = nullptr;
};

// Counters shared by every table of a DB. Relaxed increments: they are
// statistics, read only to be reported, and publish no other memory.
struct TableStatistics {
  std::atomic<uint64_t> bloom_checks{0};  // gets that consulted a bloom filter
  std::atomic<uint64_t> bloom_useful{0};  // ... and were answered by it: no block read
};

struct TableOptions {
  // Builder side.
  size_t block_bytes = 4096;  // target uncompressed size of a data block
  Compression compression = Compression::kZstd;
  int zstd_level = 3;
  // Upper bound of a table's zstd dictionary (compression_dictionary.h); 0 = none.
  size_t compression_dictionary_bytes = 4096;
  // zstd: entropy-code (Huffman) the literal bytes of each block. false
  // stores them raw inside the frame: blocks decompress about twice as fast
  // and compress faster, and take ~15% more space. Readers need not know:
  // the frames are standard zstd either way.
  bool zstd_compress_literals = true;
  int bloom_bits_per_key = 10;  // 0 = no filter block

  // Reader side: the defaults of reads that do not pass their own TableReadOptions.
  bool verify_checksums = true;
  bool fill_cache = true;
  bool use_mmap_reads = false;                  // open table files as mappings (env.h)
  std::shared_ptr<BlockCache> block_cache;      // null = no cache
  std::shared_ptr<TableStatistics> statistics;  // null = not counted

  TableReadOptions read_options() const { return {verify_checksums, fill_cache}; }
};

}  // namespace fsdb
