#include "fsdb/write_batch.h"

#include "wal/write_batch_encoding.h"

namespace fsdb {

WriteBatch::WriteBatch() : rep_(std::make_unique<wal::WriteBatchBuilder>()) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(const WriteBatch& other)
    : rep_(std::make_unique<wal::WriteBatchBuilder>(*other.rep_)) {}
WriteBatch& WriteBatch::operator=(const WriteBatch& other) {
  if (this != &other) *rep_ = *other.rep_;
  return *this;
}
// A moved-from batch is left empty and usable.
WriteBatch::WriteBatch(WriteBatch&& other) noexcept
    : rep_(std::make_unique<wal::WriteBatchBuilder>()) {
  rep_.swap(other.rep_);
}
WriteBatch& WriteBatch::operator=(WriteBatch&& other) noexcept {
  rep_.swap(other.rep_);
  other.rep_->clear();
  return *this;
}

void WriteBatch::put(std::string_view key, std::string_view value) { rep_->put(key, value); }
void WriteBatch::remove(std::string_view key) { rep_->remove(key); }
void WriteBatch::clear() { rep_->clear(); }
size_t WriteBatch::count() const { return rep_->count(); }
size_t WriteBatch::approximate_size() const { return rep_->encoded_bytes(); }

}  // namespace fsdb
