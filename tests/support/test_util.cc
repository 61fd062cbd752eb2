#include "tests/support/test_util.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace fsdb::test {

ScratchDir::ScratchDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/fsdb-test-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp(" << pattern << ") failed";
  }
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

uint64_t test_seed(uint64_t fallback) {
  const char* env = std::getenv("FSDB_TEST_SEED");
  if (env != nullptr && *env != '\0') return std::strtoull(env, nullptr, 0);
  return fallback;
}

std::string corrupt_a_table(const std::string& dir) {
  std::string table;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".sst") table = entry.path().string();
  }
  if (table.empty()) return table;
  std::fstream file(table, std::ios::in | std::ios::out | std::ios::binary);
  constexpr std::streamoff kOffset = 100;  // inside the first data block
  file.seekg(kOffset);
  char c = 0;
  file.read(&c, 1);
  file.seekp(kOffset);
  c = static_cast<char>(c ^ 0x5a);
  file.write(&c, 1);
  return table;
}

}  // namespace fsdb::test
