// TableCache: the open TableReaders of a DB, by file number.
//
// Opening a table reads its footer, index, filter and properties, so each live
// file is opened once and shared. Readers are handed out as shared_ptr: an
// iterator or a get() keeps its reader (and so the open file) alive even if the
// file is evicted meanwhile because compaction made it obsolete.
//
// Thread safety: every method may be called from many threads at once.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "fsdb/env.h"
#include "sstable/table_options.h"
#include "sstable/table_reader.h"

namespace fsdb {

class TableCache {
 public:
  TableCache(std::string dbname, std::shared_ptr<FileSystem> fs, TableOptions options);

  // The reader of table `number` (of file_size bytes), opening it if needed.
  Status get_reader(uint64_t number, std::shared_ptr<const TableReader>* reader);
  // Forgets table `number` (it is being deleted).
  void evict(uint64_t number);
  // The reader of table `number` if it is open here, else null.
  std::shared_ptr<const TableReader> find(uint64_t number) const;
  // Takes a reader another cache of the same DB opened (a secondary's catch-up
  // keeps the tables it already holds open, though the writer may have
  // deleted their files since).
  void adopt(uint64_t number, const std::shared_ptr<const TableReader>& reader);
  size_t open_tables() const;
  const TableOptions& options() const { return options_; }

 private:
  const std::string dbname_;
  const std::shared_ptr<FileSystem> fs_;
  const TableOptions options_;
  mutable std::mutex mu_;
  std::unordered_map<uint64_t, std::shared_ptr<const TableReader>> readers_;
};

}  // namespace fsdb
