#include "tools/live_files.h"

#include "engine/filename.h"
#include "engine/version_set.h"

namespace fsdb::tool {

Status load_live_files(FileSystem& fs, const std::string& dir, LiveFiles* out) {
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
