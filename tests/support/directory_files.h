// A directory's files and their bytes, for tests that show a call changed nothing.
#pragma once

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace fsdb::test {

// Every file of `dir` with its bytes: two listings are equal only if nothing
// was created, removed or changed.
inline std::map<std::string, std::string> directory_files(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path(), std::ios::binary);
    files[entry.path().filename().string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return files;
}

}  // namespace fsdb::test
