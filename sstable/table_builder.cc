#include "sstable/table_builder.h"

#include <zstd.h>

#include <chrono>

#include "util/checksum.h"
#include "util/coding.h"

namespace fsdb {

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
  // Entry headers hold 32-bit lengths.
  if (user_key.size() > UINT32_MAX - kInternalKeyTrailerBytes || value.size() > UINT32_MAX) {
    return Status::InvalidArgument(path_ + ": key or value too large for a table entry");
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
  props_.data_bytes_raw += raw.size();
  const uint64_t before = offset_;
  write_block(raw, true, &pending_handle_);
  props_.data_bytes_stored += offset_ - before;
  ++props_.num_data_blocks;
  data_block_.reset();
  pending_index_entry_ = true;
}

void TableBuilder::write_block(std::string_view raw, bool may_compress, BlockHandle* handle) {
  std::string_view stored = raw;
  auto type = BlockCompression::kNone;
  if (may_compress && cctx_ != nullptr && raw.size() <= kMaxCompressibleBlockBytes) {
    compressed_.resize(ZSTD_compressBound(raw.size()));
    const size_t n =
        ZSTD_compress2(cctx_, compressed_.data(), compressed_.size(), raw.data(), raw.size());
    // Only a saving of at least 1/8 pays for decompressing the block on every read.
    if (!ZSTD_isError(n) && n <= raw.size() - raw.size() / 8 + kZstdFrameMagicBytes &&
        n > kZstdFrameMagicBytes && decode_fixed32(compressed_.data()) == kZstdFrameMagic) {
      stored =
          std::string_view(compressed_.data() + kZstdFrameMagicBytes, n - kZstdFrameMagicBytes);
      type = BlockCompression::kZstd;
    }
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

  Footer footer;
  if (filter_ != nullptr && filter_->num_keys() > 0) {
    const std::string filter = filter_->finish();
    const uint64_t before = offset_;
    write_block(filter, false, &footer.filter);
    props_.filter_bytes = offset_ - before;
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
    write_block(index_block_.finish(), true, &footer.index);
    props_.index_bytes = offset_ - before;
  }

  props_.largest_key = last_key_;
  props_.creation_time =
      static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::system_clock::now().time_since_epoch())
                                .count());
  props_.compression = cctx_ != nullptr ? "zstd" : "none";
  props_.zstd_level = cctx_ != nullptr ? options_.zstd_level : 0;
  props_.bloom_bits_per_key =
      filter_ != nullptr ? static_cast<uint64_t>(options_.bloom_bits_per_key) : 0;
  write_block(props_.encode(), true, &footer.properties);

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
