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
  constexpr uint64_t kOffset = 100;  // inside the first data block
  return flip_byte(table, kOffset) ? table : std::string();
}

bool flip_byte(const std::string& path, uint64_t offset) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  const auto at = static_cast<std::streamoff>(offset);
  file.seekg(at);
  char c = 0;
  if (!file.read(&c, 1)) return false;
  file.seekp(at);
  c = static_cast<char>(c ^ 0x5a);
  return static_cast<bool>(file.write(&c, 1));
}

}  // namespace fsdb::test
