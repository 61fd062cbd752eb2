// libFuzzer target: the input is a whole table file. It is opened twice: as
// is, with every checksum verified, and with its footer checksum recomputed and
// block checksums off, so that mutations reach the block, index, filter and
// properties parsers instead of stopping at a checksum. Each open table is
// iterated both ways, sought and probed with gets. Any crash, over-read or
// undefined behaviour is a bug; errors are expected.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "sstable/format.h"
#include "sstable/string_file.h"
#include "sstable/table_reader.h"
#include "util/checksum.h"
#include "util/coding.h"

namespace {

void exercise(const std::string& image, bool verify) {
  fsdb::TableOptions options;
  options.verify_checksums = verify;
  std::unique_ptr<fsdb::TableReader> reader;
  fsdb::Status s = fsdb::TableReader::open(
      options, std::make_unique<fsdb::StringRandomAccessFile>("fuzz.sst", image), image.size(),
      "fuzz.sst", 1, &reader);
  if (!s.ok()) return;

  std::vector<std::string> keys = {"", "a", "key0005", "\xff\xff"};
  std::vector<fsdb::SequenceNumber> sequences = {0, 1, 100, fsdb::kMaxSequenceNumber};
  auto it = reader->new_iterator();
  int steps = 0;
  for (it->seek_to_first(); it->valid() && steps < 10000; it->next(), ++steps) {
    if (keys.size() < 16) {
      keys.emplace_back(it->user_key());
      sequences.push_back(it->sequence());
    }
    (void)it->value();
  }
  for (it->seek_to_last(); it->valid() && steps < 20000; it->prev(), ++steps) {
    (void)it->value();
  }
  for (const std::string& key : keys) {
    for (fsdb::SequenceNumber seq : sequences) {
      fsdb::TableGetResult result;
      (void)reader->get(key, seq, &result);
    }
    it->seek(key, sequences.back());
    if (it->valid()) it->next();
    it->seek_for_prev(key, sequences.back());
    if (it->valid()) it->prev();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string image(reinterpret_cast<const char*>(data), size);
  exercise(image, true);
  if (image.size() >= fsdb::Footer::kEncodedBytes) {
    std::string resealed = image;
    char* footer = resealed.data() + resealed.size() - fsdb::Footer::kEncodedBytes;
    fsdb::encode_fixed64(footer + 60, fsdb::kTableMagicNumber);
    fsdb::encode_fixed64(footer + 52, fsdb::checksum64(std::string_view(footer, 52),
                                                       std::string_view(footer + 60, 8)));
    exercise(resealed, false);
  }
  return 0;
}
