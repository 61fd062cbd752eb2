#include "sstable/table_builder.h"

#define ZSTD_STATIC_LINKING_ONLY  // ZSTD_c_literalCompressionMode
#include <zstd.h>

#include <chrono>

#include "sstable/compression_dictionary.h"
#include "util/checksum.h"
#include "util/coding.h"

namespace fsdb {

namespace {
// The sample a dictionary is built from: the table's first data blocks, up to
// this many or this many bytes. More blocks gave no better dictionary on any
// data measured, and the sample is memory held per build.
constexpr size_t kDictionarySampleBlocks = 32;
constexpr size_t kMaxDictionarySampleBytes = 1 << 20;
}  // namespace

void shortest_separator(std::string_view a, std::string_view b, std::string* out) {
  const std::string_view ua = extract_user_key(a);
  const std::string_view ub = extract_user_key(b);
  const size_t limit = std::min(ua.size(), ub.size());
  size_t i = 0;
  while (i < limit && ua[i] == ub[i]) ++i;
  if (i < limit) {
    const auto byte_a = static_cast<unsigned char>(ua[i]);
    const auto byte_b = static_cast<unsigned char>(ub[i]);
    // Shortening keeps a short user key s with ua < s < ub; the trailer with the
    // largest (sequence, kind) makes (s, trailer) the first internal key of s,
    // which is still after every version of ua and before every version of ub.
    std::string s;
    if (byte_a + 1 < byte_b) {
      s.assign(ua.substr(0, i));
      s.push_back(static_cast<char>(byte_a + 1));
    } else {
      // ua[i] + 1 == ub[i]: keep ua[0..i] and bump a later byte of ua instead.
      for (size_t j = i + 1; j < ua.size(); ++j) {
        if (static_cast<unsigned char>(ua[j]) != 0xff) {
          s.assign(ua.substr(0, j));
          s.push_back(static_cast<char>(static_cast<unsigned char>(ua[j]) + 1));
          break;
        }
      }
    }
    if (!s.empty() && s.size() < ua.size()) {
      out->clear();
      append_internal_key(out, s, kMaxSequenceNumber, kValueKindForSeek);
      return;
    }
  }
  out->assign(a);
}

void short_successor(std::string_view a, std::string* out) {
  const std::string_view ua = extract_user_key(a);
  for (size_t i = 0; i < ua.size(); ++i) {
    const auto byte = static_cast<unsigned char>(ua[i]);
    if (byte != 0xff) {
      std::string s(ua.substr(0, i));
      s.push_back(static_cast<char>(byte + 1));
      out->clear();
      append_internal_key(out, s, kMaxSequenceNumber, kValueKindForSeek);
      return;
    }
  }
  out->assign(a);
}

Status TableBuilder::open(FileSystem& fs, const std::string& path, const TableOptions& options,
                          std::unique_ptr<TableBuilder>* builder) {
  if (options.block_bytes == 0) return Status::InvalidArgument("block_bytes must be positive");
  if (options.bloom_bits_per_key < 0) {
    return Status::InvalidArgument("bloom_bits_per_key must not be negative");
  }
  std::unique_ptr<WritableFile> file;
  Status s = fs.new_writable_file(path, &file);
  if (!s.ok()) return s;
  std::unique_ptr<TableBuilder> b(new TableBuilder(fs, path, options, std::move(file)));
  if (options.compression == Compression::kZstd) {
    b->cctx_ = ZSTD_createCCtx();
    if (b->cctx_ == nullptr) {
      b->abandon();
      return Status::IOError(path + ": cannot create a zstd compression context");
    }
    const size_t r = ZSTD_CCtx_setParameter(b->cctx_, ZSTD_c_compressionLevel, options.zstd_level);
    if (ZSTD_isError(r)) {
      b->abandon();
      return Status::InvalidArgument("zstd_level " + std::to_string(options.zstd_level) + ": " +
                                     ZSTD_getErrorName(r));
    }
    // A block can only ever name its own table's dictionary: 4 bytes of
    // dictionary id per block would buy nothing.
    ZSTD_CCtx_setParameter(b->cctx_, ZSTD_c_dictIDFlag, 0);
    // A libzstd that does not know the (experimental) parameter gets the
    // full coding: the table is only bigger, and its property says so.
    b->raw_literals_ = !options.zstd_compress_literals &&
                       !ZSTD_isError(ZSTD_CCtx_setParameter(b->cctx_, ZSTD_c_literalCompressionMode,
                                                            static_cast<int>(ZSTD_ps_disable)));
    b->sampling_ = options.compression_dictionary_bytes != 0;
  }
  *builder = std::move(b);
  return Status::OK();
}

TableBuilder::TableBuilder(FileSystem& fs, std::string path, const TableOptions& options,
                           std::unique_ptr<WritableFile> file)
    : fs_(fs), path_(std::move(path)), options_(options), file_(std::move(file)) {
  if (options_.bloom_bits_per_key > 0) {
    filter_ = std::make_unique<BloomFilterBuilder>(options_.bloom_bits_per_key);
  }
}

TableBuilder::~TableBuilder() {
  if (!done_) abandon();
  ZSTD_freeCCtx(cctx_);
  ZSTD_freeCDict(cdict_);
}

void TableBuilder::abandon() {
  if (done_) return;
  done_ = true;
  if (file_ != nullptr) {
    (void)file_->close();
    file_.reset();
  }
  (void)fs_.remove_file(path_);
}

void TableBuilder::fail(Status s) {
  if (status_.ok()) status_ = std::move(s);
  abandon();
}

void TableBuilder::append(std::string_view data) {
  if (!status_.ok()) return;
  Status s = file_->append(data);
  if (!s.ok()) return fail(std::move(s));
  offset_ += data.size();
}

Status TableBuilder::add(std::string_view user_key, SequenceNumber sequence, ValueKind kind,
                         std::string_view value) {
  if (!status_.ok()) return status_;
  if (done_) return Status::InvalidArgument(path_ + ": add after the build ended");
  if (sequence > kMaxSequenceNumber) return Status::InvalidArgument("sequence out of range");
  // Entry headers hold 32-bit lengths, and so does a block's size: the open
  // block with this entry (a header of at most 15 bytes) and a restart array
  // of at most one more point must stay readable (Block::init).
  if (user_key.size() > UINT32_MAX - kInternalKeyTrailerBytes || value.size() > UINT32_MAX ||
      uint64_t{data_block_.size_estimate()} + user_key.size() + kInternalKeyTrailerBytes +
              value.size() + 64 >
          UINT32_MAX) {
    return Status::InvalidArgument(path_ + ": a key of " + std::to_string(user_key.size()) +
                                   " bytes and a value of " + std::to_string(value.size()) +
                                   " bytes are too large for a table block");
  }
  key_.clear();
  append_internal_key(&key_, user_key, sequence, kind);
  const bool first = props_.num_entries == 0;
  if (!first && compare_encoded_internal_keys(key_, last_key_) <= 0) {
    return Status::InvalidArgument(path_ +
                                   ": entries must be added in increasing internal-key order");
  }
  if (pending_index_entry_) {
    std::string separator;
    shortest_separator(last_key_, key_, &separator);
    std::string handle;
    pending_handle_.encode_to(&handle);
    index_block_.add(separator, handle);
    pending_index_entry_ = false;
  } else if (!sample_separators_.empty() && sample_separators_.back().empty()) {
    shortest_separator(last_key_, key_, &sample_separators_.back());
  }
  if (filter_ != nullptr && (first || extract_user_key(last_key_) != user_key)) {
    filter_->add_key(user_key);
  }
  data_block_.add(key_, value);

  if (first) {
    props_.smallest_key = key_;
    props_.smallest_sequence = props_.largest_sequence = sequence;
  }
  props_.smallest_sequence = std::min(props_.smallest_sequence, sequence);
  props_.largest_sequence = std::max(props_.largest_sequence, sequence);
  ++props_.num_entries;
  if (kind == ValueKind::kTombstone) ++props_.num_tombstones;
  props_.raw_key_bytes += key_.size();
  props_.raw_value_bytes += value.size();
  last_key_.swap(key_);

  if (data_block_.size_estimate() >= options_.block_bytes) flush_data_block();
  return status_;
}

void TableBuilder::flush_data_block() {
  if (data_block_.empty() || !status_.ok()) return;
  const std::string_view raw = data_block_.finish();
  if (sampling_) {
    samples_.append(raw);
    sample_sizes_.push_back(raw.size());
    sample_separators_.emplace_back();  // set by the next add()
    data_block_.reset();
    if (sample_sizes_.size() >= kDictionarySampleBlocks ||
        samples_.size() >= kMaxDictionarySampleBytes) {
      end_sampling(/*whole_table=*/false);
    }
    return;
  }
  write_data_block(raw, &pending_handle_);
  data_block_.reset();
  pending_index_entry_ = true;
}

void TableBuilder::write_data_block(std::string_view raw, BlockHandle* handle) {
  props_.data_bytes_raw += raw.size();
  const uint64_t before = offset_;
  write_block(raw, Packing::kData, handle);
  props_.data_bytes_stored += offset_ - before;
  ++props_.num_data_blocks;
}

void TableBuilder::end_sampling(bool whole_table) {
  sampling_ = false;
  if (build_compression_dictionary(samples_, sample_sizes_, options_.compression_dictionary_bytes,
                                   options_.zstd_level, &dictionary_)) {
    cdict_ = ZSTD_createCDict(dictionary_.data(), dictionary_.size(), options_.zstd_level);
    bool keep = cdict_ != nullptr && !ZSTD_isError(ZSTD_CCtx_refCDict(cctx_, cdict_));
    if (keep) {
      // The dictionary must earn its place: the sample has to come out smaller
      // with it (counting the dictionary itself when the sample is the whole
      // table; a longer table spreads it over thousands of blocks). Data it
      // does not fit (incompressible, unlike its sample, or a dictionary too
      // small to hold useful tables) is compressed block by block as before.
      // This costs two more compressions of the sample, ~1 ms per table.
      const uint64_t with_dictionary =
          stored_sample_bytes() + (whole_table ? dictionary_.size() : 0);
      ZSTD_CCtx_refCDict(cctx_, nullptr);
      const uint64_t without_dictionary = stored_sample_bytes();
      keep =
          with_dictionary < without_dictionary && !ZSTD_isError(ZSTD_CCtx_refCDict(cctx_, cdict_));
    }
    // (Also without memory for the digested dictionary: then the table is
    // simply built without one.)
    if (!keep) {
      ZSTD_CCtx_refCDict(cctx_, nullptr);
      ZSTD_freeCDict(cdict_);
      cdict_ = nullptr;
      dictionary_.clear();
    }
  }
  size_t start = 0;
  for (size_t i = 0; i < sample_sizes_.size(); ++i) {
    const std::string_view raw(samples_.data() + start, sample_sizes_[i]);
    start += sample_sizes_[i];
    BlockHandle handle;
    write_data_block(raw, &handle);
    if (sample_separators_[i].empty()) {
      // The last block: its separator waits for the next key, as usual.
      pending_handle_ = handle;
      pending_index_entry_ = true;
    } else {
      std::string encoded;
      handle.encode_to(&encoded);
      index_block_.add(sample_separators_[i], encoded);
    }
  }
  std::string().swap(samples_);
  std::vector<size_t>().swap(sample_sizes_);
  std::vector<std::string>().swap(sample_separators_);
}

bool TableBuilder::compress(std::string_view raw, std::string_view* stored) {
  if (cctx_ == nullptr || raw.size() > kMaxCompressibleBlockBytes) return false;
  compressed_.resize(ZSTD_compressBound(raw.size()));
  const size_t n =
      ZSTD_compress2(cctx_, compressed_.data(), compressed_.size(), raw.data(), raw.size());
  // Only a saving of at least 1/8 pays for decompressing the block on every read.
  if (ZSTD_isError(n) || n > raw.size() - raw.size() / 8 + kZstdFrameMagicBytes ||
      n <= kZstdFrameMagicBytes || decode_fixed32(compressed_.data()) != kZstdFrameMagic) {
    return false;
  }
  *stored = std::string_view(compressed_.data() + kZstdFrameMagicBytes, n - kZstdFrameMagicBytes);
  return true;
}

uint64_t TableBuilder::stored_sample_bytes() {
  uint64_t total = 0;
  size_t start = 0;
  for (const size_t size : sample_sizes_) {
    const std::string_view raw(samples_.data() + start, size);
    start += size;
    std::string_view stored;
    total += compress(raw, &stored) ? stored.size() : raw.size();
  }
  return total;
}

void TableBuilder::write_block(std::string_view raw, Packing packing, BlockHandle* handle) {
  std::string_view stored = raw;
  auto type = BlockCompression::kNone;
  if (packing != Packing::kRaw && compress(raw, &stored)) {
    // The context holds the dictionary from end_sampling() until finish()
    // has written the data blocks.
    type = packing == Packing::kData && cdict_ != nullptr ? BlockCompression::kZstdWithDictionary
                                                          : BlockCompression::kZstd;
  }
  handle->offset = offset_;
  handle->size = stored.size();
  const char type_byte = static_cast<char>(type);
  trailer_.clear();
  trailer_.push_back(type_byte);
  put_fixed64(&trailer_, checksum64(stored, std::string_view(&type_byte, 1)));
  append(stored);
  append(trailer_);
}

Status TableBuilder::finish() {
  if (!status_.ok()) return status_;
  if (done_) return Status::InvalidArgument(path_ + ": finish after the build ended");
  flush_data_block();
  if (sampling_) end_sampling(/*whole_table=*/true);
  // Only data blocks use the dictionary.
  if (cdict_ != nullptr) ZSTD_CCtx_refCDict(cctx_, nullptr);

  Footer footer;
  if (filter_ != nullptr && filter_->num_keys() > 0) {
    const std::string filter = filter_->finish();
    const uint64_t before = offset_;
    write_block(filter, Packing::kRaw, &footer.filter);
    props_.filter_bytes = offset_ - before;
  }
  if (!dictionary_.empty()) {
    BlockHandle handle;
    write_block(dictionary_, Packing::kRaw, &handle);
    props_.dictionary_offset = handle.offset;
    props_.dictionary_bytes = handle.size;
    footer.format_version = kTableFormatVersion;
  }

  if (pending_index_entry_) {
    std::string successor;
    short_successor(last_key_, &successor);
    std::string handle;
    pending_handle_.encode_to(&handle);
    index_block_.add(successor, handle);
    pending_index_entry_ = false;
  }
  {
    const uint64_t before = offset_;
    write_block(index_block_.finish(), Packing::kCompressed, &footer.index);
    props_.index_bytes = offset_ - before;
  }

  props_.largest_key = last_key_;
  props_.creation_time =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  props_.compression = cctx_ != nullptr ? "zstd" : "none";
  props_.zstd_level = cctx_ != nullptr ? options_.zstd_level : 0;
  props_.zstd_raw_literals = raw_literals_ ? 1 : 0;
  props_.bloom_bits_per_key =
      filter_ != nullptr ? static_cast<uint64_t>(options_.bloom_bits_per_key) : 0;
  write_block(props_.encode(), Packing::kCompressed, &footer.properties);

  std::string encoded_footer;
  footer.encode_to(&encoded_footer);
  append(encoded_footer);
  if (!status_.ok()) return status_;

  Status s = file_->sync();
  if (s.ok()) s = file_->close();
  if (!s.ok()) {
    fail(s);
    return s;
  }
  file_.reset();
  done_ = true;
  return Status::OK();
}

}  // namespace fsdb
