// fsdb::WriteBatch — several writes applied atomically, in order.
//
// A batch is all-or-nothing: after a crash every write of an acknowledged
// batch is there (unless it was written with WriteOptions::disable_wal, see
// db.h), and a batch whose write had not returned is there whole or not at
// all. Within a batch, a later write of a key wins over an earlier one. The batch is kept in
// its WAL encoding (docs/format.md), so the write path logs it without copying.
//
// Thread safety: a plain value; one thread at a time.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>

namespace fsdb {

namespace wal {
class WriteBatchBuilder;
}

class WriteBatch {
 public:
  // The most bytes one write's key and value may take together: a table
  // stores each block's size in 32 bits, and a block must hold the entry.
  // DB::put, DB::remove and DB::write refuse a larger one with
  // InvalidArgument, before anything is logged.
  static constexpr size_t kMaxEntryBytes = size_t{3} << 30;

  WriteBatch();
  ~WriteBatch();
  WriteBatch(const WriteBatch& other);
  WriteBatch& operator=(const WriteBatch& other);
  WriteBatch(WriteBatch&& other) noexcept;
  WriteBatch& operator=(WriteBatch&& other) noexcept;

  void put(std::string_view key, std::string_view value);
  void remove(std::string_view key);
  void clear();
  // Writes in the batch.
  size_t count() const;
  // Bytes of the encoded batch (what the WAL record will hold).
  size_t approximate_size() const;

  // The engine's access to the encoding.
  wal::WriteBatchBuilder& rep() { return *rep_; }
  const wal::WriteBatchBuilder& rep() const { return *rep_; }

 private:
  std::unique_ptr<wal::WriteBatchBuilder> rep_;
};

}  // namespace fsdb
