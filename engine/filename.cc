#include "engine/filename.h"

#include <charconv>
#include <cstdio>

namespace fsdb {
namespace {

std::string numbered(const std::string& dir, uint64_t number, const char* suffix) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/%06llu.%s", static_cast<unsigned long long>(number), suffix);
  return dir + buf;
}

bool parse_number(std::string_view digits, uint64_t* number) {
  if (digits.empty()) return false;
  for (char c : digits) {
    if (c < '0' || c > '9') return false;
  }
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *number);
  return ec == std::errc() && end == digits.data() + digits.size() && *number <= kMaxFileNumber;
}

}  // namespace

std::string log_file_name(const std::string& dir, uint64_t number) {
  return numbered(dir, number, "log");
}
std::string table_file_name(const std::string& dir, uint64_t number) {
  return numbered(dir, number, "sst");
}
std::string temp_file_name(const std::string& dir, uint64_t number) {
  return numbered(dir, number, "dbtmp");
}
std::string manifest_file_name(const std::string& dir, uint64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "/MANIFEST-%06llu", static_cast<unsigned long long>(number));
  return dir + buf;
}

std::string current_file_name(const std::string& dir) { return dir + "/CURRENT"; }
std::string lock_file_name(const std::string& dir) { return dir + "/LOCK"; }
std::string identity_file_name(const std::string& dir) { return dir + "/IDENTITY"; }

bool parse_file_name(std::string_view name, FileType* type, uint64_t* number) {
  if (name == "CURRENT") {
    *type = FileType::kCurrent;
    *number = 0;
    return true;
  }
  if (name == "LOCK") {
    *type = FileType::kLock;
    *number = 0;
    return true;
  }
  constexpr std::string_view kManifestPrefix = "MANIFEST-";
  if (name.starts_with(kManifestPrefix)) {
    *type = FileType::kManifest;
    return parse_number(name.substr(kManifestPrefix.size()), number);
  }
  const size_t dot = name.find('.');
  if (dot == std::string_view::npos || !parse_number(name.substr(0, dot), number)) return false;
  const std::string_view suffix = name.substr(dot + 1);
  if (suffix == "log") {
    *type = FileType::kLog;
  } else if (suffix == "sst") {
    *type = FileType::kTable;
  } else if (suffix == "dbtmp") {
    *type = FileType::kTemp;
  } else {
    return false;
  }
  return true;
}

}  // namespace fsdb
