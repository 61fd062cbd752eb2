#include "sstable/block_fetcher.h"

#include <zstd.h>

#include <cstring>
#include <memory>

#include "util/checksum.h"
#include "util/coding.h"

namespace fsdb {

namespace {
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

ZSTD_DCtx* thread_dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}
}  // namespace

Status read_block(const RandomAccessFile& file, std::string_view path, const BlockHandle& handle,
                  bool verify_checksum, std::string* contents) {
  const size_t n = static_cast<size_t>(handle.size);
  // Room in front for the zstd magic number that compressed blocks leave out,
  // so the frame can be made whole without copying it.
  std::string buffer;
  buffer.resize(kZstdFrameMagicBytes + n + kBlockTrailerBytes);
  char* const body = buffer.data() + kZstdFrameMagicBytes;
  std::string_view read;
  Status s = file.read(handle.offset, n + kBlockTrailerBytes, &read, body);
  if (!s.ok()) return s;
  if (read.size() != n + kBlockTrailerBytes) {
    return block_corruption(path, handle.offset, "truncated block read");
  }
  const std::string_view stored = read.substr(0, n);
  const char type = read[n];
  if (verify_checksum) {
    const uint64_t expected = decode_fixed64(read.data() + n + 1);
    if (checksum64(stored, std::string_view(&type, 1)) != expected) {
      return block_corruption(path, handle.offset, "checksum mismatch");
    }
  }
  switch (static_cast<BlockCompression>(type)) {
    case BlockCompression::kNone:
      if (read.data() == body) {
        buffer.erase(0, kZstdFrameMagicBytes);
        buffer.resize(n);
        *contents = std::move(buffer);
      } else {
        contents->assign(stored);
      }
      return Status::OK();
    case BlockCompression::kZstd: {
      if (read.data() != body) std::memcpy(body, read.data(), n);
      encode_fixed32(buffer.data(), kZstdFrameMagic);
      const std::string_view frame(buffer.data(), kZstdFrameMagicBytes + n);
      const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
      if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
          size > kMaxCompressibleBlockBytes) {
        return block_corruption(path, handle.offset, "bad zstd frame header");
      }
      ZSTD_DCtx* dctx = thread_dctx();
      if (dctx == nullptr) return Status::IOError("out of memory for a zstd context");
      contents->resize(static_cast<size_t>(size));
      const size_t got =
          ZSTD_decompressDCtx(dctx, contents->data(), contents->size(), frame.data(), frame.size());
      if (ZSTD_isError(got) || got != size) {
        return block_corruption(path, handle.offset, "zstd decompression failed");
      }
      return Status::OK();
    }
  }
  return block_corruption(
      path, handle.offset,
      "unknown compression type " + std::to_string(static_cast<unsigned char>(type)));
}

}  // namespace fsdb
