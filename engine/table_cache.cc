#include "engine/table_cache.h"

#include "engine/filename.h"

namespace fsdb {

TableCache::TableCache(std::string dbname, std::shared_ptr<FileSystem> fs, TableOptions options)
    : dbname_(std::move(dbname)), fs_(std::move(fs)), options_(std::move(options)) {}

Status TableCache::get_reader(uint64_t number, std::shared_ptr<const TableReader>* reader) {
  {
    std::lock_guard<std::mutex> guard(mu_);
    auto it = readers_.find(number);
    if (it != readers_.end()) {
      *reader = it->second;
      return Status::OK();
    }
  }
  // Open without the lock: two threads may race to open the same table, and
  // the loser's reader is simply dropped.
  std::unique_ptr<TableReader> opened;
  Status s = TableReader::open(*fs_, table_file_name(dbname_, number), number, options_, &opened);
  // A table the MANIFEST names must exist: its absence is damage, not a miss.
  if (s.is_not_found()) return Status::Corruption(s.message() + " (a live table file is missing)");
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> guard(mu_);
  auto [it, inserted] = readers_.try_emplace(number, std::move(opened));
  *reader = it->second;
  return Status::OK();
}

void TableCache::evict(uint64_t number) {
  std::lock_guard<std::mutex> guard(mu_);
  readers_.erase(number);
}

std::shared_ptr<const TableReader> TableCache::find(uint64_t number) const {
  std::lock_guard<std::mutex> guard(mu_);
  auto it = readers_.find(number);
  return it == readers_.end() ? nullptr : it->second;
}

void TableCache::adopt(uint64_t number, const std::shared_ptr<const TableReader>& reader) {
  std::lock_guard<std::mutex> guard(mu_);
  readers_.try_emplace(number, reader);
}

size_t TableCache::open_tables() const {
  std::lock_guard<std::mutex> guard(mu_);
  return readers_.size();
}

}  // namespace fsdb
