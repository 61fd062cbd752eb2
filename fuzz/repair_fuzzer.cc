// libFuzzer target: repair_db() on a damaged DB. A small DB (tables on more
// than one level, a MANIFEST, a log holding writes not yet flushed) is built
// once; each input is a list of damages to a fresh copy of its files, 6 bytes
// each: a file, a 32-bit offset, and a byte to XOR there (0: cut the file at
// the offset instead). repair_db() must not crash, hang or read out of
// bounds whatever it finds; when it succeeds, the DB it made must open and
// read through without an error (its tables are new and whole).
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fsdb/db.h"

namespace {

namespace fs = std::filesystem;

fsdb::Options db_options() {
  fsdb::Options options;
  options.memtable_bytes = 16 << 10;
  options.block_bytes = 1024;
  options.target_file_bytes = 8 << 10;
  options.level1_bytes = 16 << 10;
  options.l0_compaction_trigger = 2;
  options.block_cache_bytes = 0;
  options.max_background_error_resumes = 0;
  return options;
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "repair_fuzzer: %s\n", what.c_str());
  std::abort();
}

struct Fixture {
  std::string root;
  std::map<std::string, std::string> files;  // name -> bytes of the undamaged DB

  Fixture() {
    char tmpl[] = "/tmp/fsdb-repair-fuzz-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) fail("mkdtemp");
    root = tmpl;
    const std::string dir = root + "/base";
    std::unique_ptr<fsdb::DB> db;
    if (!fsdb::DB::open(db_options(), dir, &db).ok()) fail("open");
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 300; ++i) {
        const std::string key = "key" + std::to_string(1000 + (i * 7) % 300);
        if ((i + round) % 11 == 0) {
          (void)db->remove(key);
        } else {
          (void)db->put(key, "value-" + std::to_string(round) + "-" + std::string(40, 'x'));
        }
      }
      if (round < 2) (void)db->compact_range(std::nullopt, std::nullopt);
    }
    if (!db->close().ok()) fail("close");
    db.reset();
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (!entry.is_regular_file() || entry.path().filename() == "LOCK") continue;
      std::ifstream in(entry.path(), std::ios::binary);
      std::stringstream bytes;
      bytes << in.rdbuf();
      files[entry.path().filename().string()] = bytes.str();
    }
    fs::remove_all(dir);
  }
  ~Fixture() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Fixture& f = fixture();
  const std::string dir = f.root + "/work";
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);

  std::vector<std::pair<std::string, std::string>> files(f.files.begin(), f.files.end());
  constexpr size_t kDamageBytes = 6;
  for (size_t at = 0; at + kDamageBytes <= size && at < 16 * kDamageBytes; at += kDamageBytes) {
    std::string& bytes = files[data[at] % files.size()].second;
    if (bytes.empty()) continue;
    const uint32_t offset = (uint32_t{data[at + 1]} | uint32_t{data[at + 2]} << 8 |
                             uint32_t{data[at + 3]} << 16 | uint32_t{data[at + 4]} << 24) %
                            bytes.size();
    if (data[at + 5] == 0) {
      bytes.resize(offset);
    } else {
      bytes[offset] = static_cast<char>(bytes[offset] ^ data[at + 5]);
    }
  }
  for (const auto& [name, bytes] : files) {
    std::ofstream(dir + "/" + name, std::ios::binary) << bytes;
  }

  fsdb::RepairReport report;
  const fsdb::Status repaired = fsdb::repair_db(dir, db_options(), &report);
  if (!repaired.ok()) return 0;  // an error is a fine answer; a crash is not

  std::unique_ptr<fsdb::DB> db;
  fsdb::Status s = fsdb::DB::open(db_options(), dir, &db);
  if (!s.ok()) fail("the repaired DB does not open: " + s.to_string());
  std::unique_ptr<fsdb::Iterator> it = db->new_iterator();
  uint64_t keys = 0;
  for (it->seek_to_first(); it->valid(); it->next()) ++keys;
  if (!it->status().ok())
    fail("the repaired DB does not read through: " + it->status().to_string());
  if (keys != report.keys_kept) {
    fail("the repaired DB holds " + std::to_string(keys) + " keys, the report says " +
         std::to_string(report.keys_kept));
  }
  it.reset();
  s = db->close();
  if (!s.ok()) fail("close: " + s.to_string());
  return 0;
}
