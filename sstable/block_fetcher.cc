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

// Per-thread state of block reads, reused from one read to the next so that a
// read allocates only the block it returns.
struct ReadScratch {
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx{ZSTD_createDCtx()};
  // The block as read (pread files), or the frame rebuilt from a mapping,
  // with room in front for the zstd magic number that stored frames leave out.
  std::string buffer;
};

ReadScratch& scratch() {
  thread_local ReadScratch s;
  return s;
}

// Grows only: once the buffer is big enough a read pays neither an allocation
// nor resize()'s zero fill.
char* ensure(std::string* buffer, size_t bytes) {
  if (buffer->size() < bytes) buffer->resize(bytes);
  return buffer->data();
}

// A thread that once read a huge block (a huge value) does not keep its
// buffer for life.
constexpr size_t kScratchKeepBytes = 1 << 20;
struct ShrinkAfterRead {
  std::string& buffer;
  ~ShrinkAfterRead() {
    if (buffer.size() > kScratchKeepBytes) std::string().swap(buffer);
  }
};
}  // namespace

Status read_block(const RandomAccessFile& file, std::string_view path, const BlockHandle& handle,
                  bool verify_checksum, const DecompressionDictionary* dictionary,
                  BlockDestination* destination) {
  const size_t n = static_cast<size_t>(handle.size);
  ReadScratch& local = scratch();
  const ShrinkAfterRead shrink{local.buffer};
  char* const body =
      ensure(&local.buffer, kZstdFrameMagicBytes + n + kBlockTrailerBytes) + kZstdFrameMagicBytes;
  // A mapped file returns a view of its own memory and ignores `body`.
  std::string_view read;
  Status s = file.read(handle.offset, n + kBlockTrailerBytes, &read, body);
  if (!s.ok()) return s;
  if (read.size() != n + kBlockTrailerBytes) {
    return block_corruption(path, handle.offset, "truncated block read");
  }
  std::string_view stored = read.substr(0, n);
  const char type = read[n];
  const uint64_t expected = decode_fixed64(read.data() + n + 1);
  // The checksum covers the bytes that are then used. A mapping's page may be
  // dropped and read again from the device between a check and a later copy,
  // so the bytes are copied out of a mapping first and the copy is checked.
  // (A stored block is copied out anyway; a compressed one needs the copy to
  // put the zstd magic number back in front.)
  if (static_cast<BlockCompression>(type) == BlockCompression::kNone) {
    char* const out = destination->reserve(n);
    if (n != 0) std::memcpy(out, stored.data(), n);
    stored = std::string_view(out, n);
  } else if (read.data() != body) {
    std::memcpy(body, read.data(), n);
    stored = std::string_view(body, n);
  }
  if (verify_checksum && checksum64(stored, std::string_view(&type, 1)) != expected) {
    return block_corruption(path, handle.offset, "checksum mismatch");
  }
  const auto compression = static_cast<BlockCompression>(type);
  switch (compression) {
    case BlockCompression::kNone:
      return Status::OK();
    case BlockCompression::kZstd:
    case BlockCompression::kZstdWithDictionary: {
      if (compression == BlockCompression::kZstdWithDictionary && dictionary == nullptr) {
        return block_corruption(path, handle.offset,
                                "block compressed with a dictionary, but the table has none");
      }
      // The stored frame lacks its 4-byte magic number: put it back in front
      // (the bytes sit right behind the gap, copied there or read there).
      char* const frame_start = body - kZstdFrameMagicBytes;
      encode_fixed32(frame_start, kZstdFrameMagic);
      const std::string_view frame(frame_start, kZstdFrameMagicBytes + n);
      const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
      if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
          size > kMaxCompressibleBlockBytes) {
        return block_corruption(path, handle.offset, "bad zstd frame header");
      }
      if (local.dctx == nullptr) {
        return Status::IOError(std::string(path) + ": block at offset " +
                               std::to_string(handle.offset) +
                               ": out of memory for a zstd decompression context");
      }
      char* const out = destination->reserve(static_cast<size_t>(size));
      const size_t got =
          compression == BlockCompression::kZstd
              ? ZSTD_decompressDCtx(local.dctx.get(), out, static_cast<size_t>(size), frame.data(),
                                    frame.size())
              : ZSTD_decompress_usingDDict(local.dctx.get(), out, static_cast<size_t>(size),
                                           frame.data(), frame.size(), dictionary->get());
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

namespace {
class StringDestination final : public BlockDestination {
 public:
  explicit StringDestination(std::string* contents) : contents_(contents) {}
  char* reserve(size_t bytes) override {
    contents_->resize(bytes);
    return contents_->data();
  }

 private:
  std::string* const contents_;
};
}  // namespace

Status read_block(const RandomAccessFile& file, std::string_view path, const BlockHandle& handle,
                  bool verify_checksum, const DecompressionDictionary* dictionary,
                  std::string* contents) {
  StringDestination destination(contents);
  Status s = read_block(file, path, handle, verify_checksum, dictionary, &destination);
  if (!s.ok()) contents->clear();
  return s;
}

}  // namespace fsdb
