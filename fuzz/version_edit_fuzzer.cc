// Feeds arbitrary bytes to the MANIFEST's record decoder (VersionEdit) and
// applies what it accepts, in order, as recovery does: no crash, over-read or
// sanitizer report; every edit it accepts re-encodes to bytes that decode to
// the same edit; every version that apply_edit() builds keeps the invariants
// reads depend on (levels >= 1 sorted and disjoint, each file's smallest key
// at or before its largest, file numbers unique); and VersionBuilder, which
// reads a MANIFEST into one version, accepts and refuses the same edits with
// the same messages and builds the same versions.
//
// The input is a script of records: a length byte, then that many bytes (cut
// to what is left), so one input replays several edits.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <string_view>

#include "engine/version.h"
#include "engine/version_builder.h"
#include "engine/version_edit.h"
#include "util/internal_key.h"

namespace {

void check(bool condition) {
  if (!condition) std::abort();
}

void check_version(const fsdb::Version& version) {
  std::set<uint64_t> numbers;
  for (int level = 0; level < fsdb::kNumLevels; ++level) {
    const auto& files = version.files(level);
    for (size_t i = 0; i < files.size(); ++i) {
      check(numbers.insert(files[i]->number).second);
      check(fsdb::compare_encoded_internal_keys(files[i]->smallest, files[i]->largest) <= 0);
      if (level > 0 && i > 0) {
        check(files[i - 1]->largest_user_key() < files[i]->smallest_user_key());
      }
    }
  }
}

// The same files at each level, in the same order.
bool same_files(const fsdb::Version& a, const fsdb::Version& b) {
  for (int level = 0; level < fsdb::kNumLevels; ++level) {
    if (a.file_count(level) != b.file_count(level)) return false;
    for (size_t i = 0; i < a.file_count(level); ++i) {
      if (a.files(level)[i]->number != b.files(level)[i]->number) return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view script(reinterpret_cast<const char*>(data), size);
  std::shared_ptr<const fsdb::Version> version = std::make_shared<const fsdb::Version>();
  fsdb::VersionBuilder builder;
  while (!script.empty()) {
    const size_t length = std::min<size_t>(static_cast<uint8_t>(script[0]), script.size() - 1);
    // A copy of exactly the record's bytes, so that an over-read is caught.
    const std::string record(script.substr(1, length));
    script.remove_prefix(1 + length);

    fsdb::VersionEdit edit;
    const fsdb::Status decoded = edit.decode_from(record);
    if (!decoded.ok()) {
      check(decoded.is_corruption());
      continue;
    }
    (void)edit.debug_string();
    std::string encoded;
    edit.encode_to(&encoded);
    fsdb::VersionEdit again;
    check(again.decode_from(encoded).ok());
    std::string reencoded;
    again.encode_to(&reencoded);
    check(reencoded == encoded);
    check(again.debug_string() == edit.debug_string());

    std::shared_ptr<const fsdb::Version> next;
    const fsdb::Status applied = version->apply_edit(edit, &next);
    check(builder.apply(edit).to_string() == applied.to_string());
    if (!applied.ok()) {
      check(applied.is_corruption());
      continue;
    }
    check_version(*next);
    check(same_files(*builder.build(), *next));
    version = std::move(next);
  }
  return 0;
}
