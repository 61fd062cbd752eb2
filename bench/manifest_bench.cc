// MANIFEST micro-benchmark: reading a MANIFEST back, as every open and every
// catch-up of a secondary does, for MANIFESTs of E edits over a version of F
// tables. Each edit is a flush's (one level-0 table added, the previous one
// removed, and the counters), about 150 bytes: 27,000 of them are a MANIFEST
// close to the 4 MiB at which the engine starts a new one.
//
// Two ways, in the same run: `read_manifest` is the engine's
// (VersionSet::read_manifest_file, one VersionBuilder for the whole file);
// `one_version_per_edit` applies each edit with Version::apply_edit(), as
// recovery did before, which costs O(F) per edit.
//
//   manifest_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "engine/filename.h"
#include "engine/version.h"
#include "engine/version_edit.h"
#include "engine/version_set.h"
#include "fsdb/env.h"
#include "util/internal_key.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

namespace {

constexpr uint64_t kManifestNumber = 1;

std::string internal_key(uint64_t i, fsdb::SequenceNumber seq) {
  char user_key[32];
  std::snprintf(user_key, sizeof(user_key), "%016llu", static_cast<unsigned long long>(i));
  std::string out;
  fsdb::append_internal_key(&out, user_key, seq, fsdb::ValueKind::kValue);
  return out;
}

fsdb::FileMetaData table(uint64_t number, uint64_t first, uint64_t last, fsdb::SequenceNumber seq) {
  fsdb::FileMetaData f;
  f.number = number;
  f.file_size = 8 << 20;
  f.smallest = internal_key(first, seq);
  f.largest = internal_key(last, seq);
  f.smallest_seq = seq;
  f.largest_seq = seq;
  f.entries = 70000;
  return f;
}

// A MANIFEST of `edits` flush edits over `tables` tables at levels 1-3, in
// a directory of its own (removed at exit); its path.
std::string make_manifest(int tables, int edits) {
  static std::map<std::pair<int, int>, std::string> made;
  static struct Cleanup {
    std::map<std::pair<int, int>, std::string>& dirs;
    ~Cleanup() {
      for (const auto& [key, path] : dirs) {
        std::filesystem::remove_all(std::filesystem::path(path).parent_path());
      }
    }
  } cleanup{made};
  if (auto it = made.find({tables, edits}); it != made.end()) return it->second;
  char tmpl[] = "/tmp/fsdb_manifest_bench_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) std::abort();
  std::string path = fsdb::manifest_file_name(tmpl, kManifestNumber);
  std::unique_ptr<fsdb::wal::LogWriter> writer;
  if (!fsdb::wal::LogWriter::create(*fsdb::posix_file_system(), path, kManifestNumber, {}, &writer)
           .ok()) {
    std::abort();
  }
  uint64_t number = 10;
  fsdb::SequenceNumber sequence = 1;
  fsdb::VersionEdit whole;
  for (int i = 0; i < tables; ++i) {
    const uint64_t first = static_cast<uint64_t>(i) * 1000;
    whole.add_file(1 + i % 3, table(number++, first, first + 999, sequence));
  }
  whole.set_log_number(2);
  whole.set_next_file_number(number);
  whole.set_last_sequence(sequence);
  std::string record;
  whole.encode_to(&record);
  if (!writer->add_record(record).ok()) std::abort();
  uint64_t previous = 0;
  for (int e = 0; e < edits; ++e) {
    fsdb::VersionEdit flush;
    sequence += 10000;
    flush.add_file(0, table(number, 0, static_cast<uint64_t>(tables) * 1000, sequence));
    if (previous != 0) flush.remove_file(0, previous);
    previous = number++;
    flush.set_log_number(2 + static_cast<uint64_t>(e));
    flush.set_next_file_number(number);
    flush.set_last_sequence(sequence);
    record.clear();
    flush.encode_to(&record);
    if (!writer->add_record(record).ok()) std::abort();
  }
  if (!writer->close().ok()) std::abort();
  made[{tables, edits}] = path;
  return path;
}

void report(benchmark::State& state, const std::string& path, size_t files) {
  state.counters["manifest_bytes"] = static_cast<double>(std::filesystem::file_size(path));
  state.counters["files"] = static_cast<double>(files);
}

void BM_ReadManifest(benchmark::State& state) {
  const std::string path =
      make_manifest(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  size_t files = 0;
  while (state.KeepRunning()) {
    fsdb::VersionSet::ManifestContents contents;
    const fsdb::Status s = fsdb::VersionSet::read_manifest_file(*fsdb::posix_file_system(), path,
                                                                kManifestNumber, &contents);
    if (!s.ok()) {
      state.SkipWithError(s.to_string().c_str());
      return;
    }
    files = contents.version->total_files();
  }
  report(state, path, files);
}

void BM_OneVersionPerEdit(benchmark::State& state) {
  const std::string path =
      make_manifest(static_cast<int>(state.range(0)), static_cast<int>(state.range(1)));
  size_t files = 0;
  while (state.KeepRunning()) {
    std::unique_ptr<fsdb::wal::LogReader> reader;
    if (!fsdb::wal::LogReader::open(*fsdb::posix_file_system(), path, kManifestNumber,
                                    fsdb::wal::WalRecoveryMode::kTolerateCorruptedTail, &reader)
             .ok()) {
      state.SkipWithError("open failed");
      return;
    }
    auto version = std::make_shared<const fsdb::Version>();
    std::string_view record;
    while (reader->read_record(&record)) {
      fsdb::VersionEdit edit;
      if (!edit.decode_from(record).ok() || !version->apply_edit(edit, &version).ok()) {
        state.SkipWithError("bad edit");
        return;
      }
    }
    files = version->total_files();
  }
  report(state, path, files);
}

void manifest_sizes(benchmark::internal::Benchmark* b) {
  b->Unit(benchmark::kMillisecond);
  b->ArgNames({"tables", "edits"});
  for (int tables : {100, 1280, 5000}) {
    for (int edits : {2000, 27000}) b->Args({tables, edits});
  }
}

BENCHMARK(BM_ReadManifest)->Name("read_manifest")->Apply(manifest_sizes);
BENCHMARK(BM_OneVersionPerEdit)->Name("one_version_per_edit")->Apply(manifest_sizes);

}  // namespace

BENCHMARK_MAIN();
