#include "sstable/block_fetcher.h"

#include <zstd.h>

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
  std::string buffer;
  buffer.resize(n + kBlockTrailerBytes);
  std::string_view read;
  Status s = file.read(handle.offset, buffer.size(), &read, buffer.data());
  if (!s.ok()) return s;
  if (read.size() != buffer.size()) {
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
      if (read.data() == buffer.data()) {
        buffer.resize(n);
        *contents = std::move(buffer);
      } else {
        contents->assign(stored);
      }
      return Status::OK();
    case BlockCompression::kZstd: {
      const unsigned long long size = ZSTD_getFrameContentSize(stored.data(), stored.size());
      if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
          size > kMaxCompressibleBlockBytes) {
        return block_corruption(path, handle.offset, "bad zstd frame header");
      }
      ZSTD_DCtx* dctx = thread_dctx();
      if (dctx == nullptr) return Status::IOError("out of memory for a zstd context");
      contents->resize(static_cast<size_t>(size));
      const size_t got = ZSTD_decompressDCtx(dctx, contents->data(), contents->size(),
                                             stored.data(), stored.size());
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
