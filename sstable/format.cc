#include "sstable/format.h"

#include <cstring>
#include <string>

#include "util/checksum.h"
#include "util/coding.h"

namespace fsdb {

void BlockHandle::encode_to(std::string* dst) const {
  put_varint64(dst, offset);
  put_varint64(dst, size);
}

bool BlockHandle::decode_from(std::string_view* input) {
  return get_varint64(input, &offset) && get_varint64(input, &size);
}

namespace {
constexpr size_t kChecksumOffset = 52;
constexpr size_t kMagicOffset = 60;

void put_fixed_handle(std::string* dst, const BlockHandle& h) {
  put_fixed64(dst, h.offset);
  put_fixed64(dst, h.size);
}
BlockHandle get_fixed_handle(const char* p) {
  return BlockHandle{decode_fixed64(p), decode_fixed64(p + 8)};
}
}  // namespace

void Footer::encode_to(std::string* dst) const {
  const size_t start = dst->size();
  put_fixed_handle(dst, index);
  put_fixed_handle(dst, filter);
  put_fixed_handle(dst, properties);
  put_fixed32(dst, format_version);
  char magic[8];
  encode_fixed64(magic, kTableMagicNumber);
  const std::string_view covered(dst->data() + start, kChecksumOffset);
  put_fixed64(dst, checksum64(covered, std::string_view(magic, sizeof(magic))));
  dst->append(magic, sizeof(magic));
}

Status Footer::decode_from(std::string_view input, std::string_view where) {
  auto corruption = [&](std::string_view what) {
    std::string msg(where);
    msg += ": ";
    msg += what;
    return Status::Corruption(msg);
  };
  if (input.size() != kEncodedBytes) return corruption("footer has the wrong size");
  // Decoded from a copy: `input` may be a shared mapping of the file, whose
  // page can be read in again between the checksum and the decoding.
  char copy[kEncodedBytes];
  std::memcpy(copy, input.data(), kEncodedBytes);
  const char* p = copy;
  if (decode_fixed64(p + kMagicOffset) != kTableMagicNumber) {
    return corruption("bad magic number (not an fsdb table)");
  }
  const uint64_t stored = decode_fixed64(p + kChecksumOffset);
  const uint64_t actual =
      checksum64(std::string_view(p, kChecksumOffset), std::string_view(p + kMagicOffset, 8));
  if (stored != actual) return corruption("footer checksum mismatch");
  format_version = decode_fixed32(p + 48);
  if (format_version != kTableFormatVersionWithoutDictionary &&
      format_version != kTableFormatVersion) {
    return corruption("unsupported table format version " + std::to_string(format_version));
  }
  index = get_fixed_handle(p);
  filter = get_fixed_handle(p + 16);
  properties = get_fixed_handle(p + 32);
  return Status::OK();
}

Status check_block_handle(std::string_view path, const BlockHandle& handle, uint64_t data_end,
                          std::string_view what) {
  // Written to avoid overflow: a corrupt handle may hold any 64-bit values.
  if (handle.offset > data_end || handle.size > data_end - handle.offset ||
      kBlockTrailerBytes > data_end - handle.offset - handle.size) {
    return block_corruption(path, handle.offset,
                            std::string(what) + " block of " + std::to_string(handle.size) +
                                " bytes runs past the end of the data (" +
                                std::to_string(data_end) + ")");
  }
  return Status::OK();
}

Status block_corruption(std::string_view path, uint64_t offset, std::string_view what) {
  std::string msg(path);
  msg += ": block at offset ";
  msg += std::to_string(offset);
  msg += ": ";
  msg += what;
  return Status::Corruption(msg);
}

}  // namespace fsdb
