#include "engine/db_identity.h"

#include <cstdio>
#include <random>

#include "engine/filename.h"

namespace fsdb {
namespace {

constexpr size_t kIdentityDigits = 32;

bool is_identity(const std::string& text) {
  if (text.size() != kIdentityDigits) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

Status read_db_identity(FileSystem& fs, const std::string& dir, std::string* identity) {
  identity->clear();
  const std::string path = identity_file_name(dir);
  std::string text;
  Status s = read_file_to_string(fs, path, &text);
  if (!s.ok()) return s;
  if (text.empty() || text.back() != '\n' || !is_identity(text.substr(0, text.size() - 1))) {
    return Status::Corruption(path + ": not 32 hex digits and a newline (" +
                              std::to_string(text.size()) + " bytes)");
  }
  text.pop_back();
  *identity = std::move(text);
  return Status::OK();
}

Status write_db_identity(FileSystem& fs, const std::string& dir, const std::string& identity) {
  const std::string path = identity_file_name(dir);
  const std::string temp = path + ".tmp";
  Status s = write_string_to_file(fs, identity + "\n", temp, /*sync=*/true);
  if (s.ok()) s = fs.rename_file(temp, path);
  if (s.ok()) s = fs.sync_dir(dir);
  if (!s.ok()) (void)fs.remove_file(temp);
  return s;
}

std::string new_db_identity() {
  std::random_device random;
  std::string identity;
  for (int i = 0; i < 4; ++i) {
    char hex[9];
    std::snprintf(hex, sizeof(hex), "%08x", static_cast<unsigned>(random()));
    identity += hex;
  }
  return identity;
}

}  // namespace fsdb
