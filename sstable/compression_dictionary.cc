#include "sstable/compression_dictionary.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_createDDict_byReference
#include <zdict.h>
#include <zstd.h>

#include "sstable/literal_table.h"

namespace fsdb {

namespace {
// zstd's own floor for a dictionary's size (ZDICT_DICTSIZE_MIN, outside the
// stable API).
constexpr size_t kMinDictionaryBytes = 256;
// Every dictionary carries this id: one fixed value keeps table files a
// function of their contents (zstd would otherwise draw a random id). Blocks
// do not record it (ZSTD_c_dictIDFlag is off): a table's blocks can only ever
// name that table's dictionary.
constexpr unsigned kDictionaryId = 0x46534442;  // "FSDB"; outside zstd's reserved ranges
}  // namespace

bool build_compression_dictionary(std::string_view samples, const std::vector<size_t>& sample_sizes,
                                  size_t max_bytes, int zstd_level, std::string* dictionary) {
  if (sample_sizes.size() < kMinDictionarySampleBlocks || max_bytes < kMinDictionaryBytes) {
    return false;
  }
  // Room for fit_literal_table()'s code, which may be a little longer (at
  // the smallest sizes there is none: the code is then kept if no longer).
  const size_t capacity = max_bytes >= kMinDictionaryBytes + kLiteralTableReserve
                              ? max_bytes - kLiteralTableReserve
                              : max_bytes;
  // The content is the end of the sample: zstd keeps the end of a dictionary's
  // content when it has to shorten it, because that end is the cheapest to
  // reference. The header and tables take a few hundred bytes of capacity.
  const size_t content_bytes = std::min(samples.size(), capacity);
  const std::string_view content = samples.substr(samples.size() - content_bytes);
  ZDICT_params_t params{};
  params.compressionLevel = zstd_level;
  params.notificationLevel = 0;
  params.dictID = kDictionaryId;
  dictionary->resize(capacity);
  const size_t n = ZDICT_finalizeDictionary(dictionary->data(), dictionary->size(), content.data(),
                                            content.size(), samples.data(), sample_sizes.data(),
                                            static_cast<unsigned>(sample_sizes.size()), params);
  if (ZDICT_isError(n)) {
    dictionary->clear();
    return false;
  }
  dictionary->resize(n);
  (void)fit_literal_table(dictionary, samples, sample_sizes, zstd_level, max_bytes);
  return true;
}

Status DecompressionDictionary::create(std::string bytes,
                                       std::unique_ptr<DecompressionDictionary>* dictionary) {
  // ZSTD_createDDict would also accept any bytes as a raw-content dictionary;
  // the table's dictionaries always have zstd's header, so anything else is
  // damage.
  if (ZDICT_getDictID(bytes.data(), bytes.size()) != kDictionaryId) {
    return Status::Corruption("not a compression dictionary of this format");
  }
  std::unique_ptr<DecompressionDictionary> d(new DecompressionDictionary);
  d->bytes_ = std::move(bytes);
  d->ddict_ = ZSTD_createDDict_byReference(d->bytes_.data(), d->bytes_.size());
  if (d->ddict_ == nullptr) return Status::Corruption("malformed compression dictionary");
  *dictionary = std::move(d);
  return Status::OK();
}

DecompressionDictionary::~DecompressionDictionary() { ZSTD_freeDDict(ddict_); }

}  // namespace fsdb
