#include "tools/live_files.h"

#include <filesystem>
#include <system_error>

#include "engine/filename.h"
#include "engine/version_set.h"

namespace fsdb::tool {

Status check_db_directory(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::exists(dir, ec)) return Status::NotFound(dir + ": no such directory");
  if (!std::filesystem::is_directory(dir, ec)) {
    return Status::InvalidArgument(dir + ": not a directory");
  }
  return Status::OK();
}

Status load_live_files(FileSystem& fs, const std::string& dir, LiveFiles* out) {
  if (Status s = check_db_directory(dir); !s.ok()) return s;
  if (!fs.file_exists(current_file_name(dir))) {
    return Status::NotFound(dir + ": not an fsdb DB (no CURRENT file)");
  }
  // The engine's own reading, so that the tool and open agree on what is
  // damage.
  VersionSet::ManifestContents manifest;
  Status s = VersionSet::read_manifest(fs, dir, &manifest);
  out->manifest_path = manifest.path;
  out->manifest_number = manifest.number;
  if (!s.ok()) return s;
  out->version = std::move(manifest.version);
  out->log_number = manifest.log_number;
  out->last_sequence = manifest.last_sequence;
  out->next_file_number = manifest.next_file_number;
  out->dropped_tail = std::move(manifest.dropped_tail);
  return Status::OK();
}

}  // namespace fsdb::tool
