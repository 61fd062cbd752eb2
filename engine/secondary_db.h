// SecondaryDB: a DB opened by DB::open_as_secondary(), reading a DB that a
// writer may hold open (RocksDB's secondary instance).
//
// Each state it shows is one read-only recovery of the directory (a DBImpl
// in OpenMode::kSecondary): the MANIFEST up to its last whole edit, every
// table it names opened (so the writer may delete their files afterwards),
// and the logs after it replayed into memory up to their last whole record.
// try_catch_up_with_primary() makes a new one, taking over the tables the
// current one has open, and swaps it in. A reader (an iterator, a snapshot,
// a get under way) keeps the state it began in alive until it is done.
// close() lets go of the current state the same way, so the tables the
// writer deleted do not hold their space for as long as this object lives.
//
// Opening reads files the writer may replace meanwhile: a table a
// compaction made obsolete, a log a flush retired, a MANIFEST it rewrote.
// An attempt that fails while the directory changed (a file came or went, a
// log or MANIFEST changed size, CURRENT named another MANIFEST) is made
// again, a few times; a failure on an unchanged directory is the DB's
// state, and is returned at once.
//
// Thread safety: as DB.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "engine/db_impl.h"
#include "fsdb/db.h"

namespace fsdb {

class SecondaryDB final : public DB {
 public:
  // How many times an open or a catch-up is tried while the directory changes under it.
  static constexpr int kMaxAttempts = 10;

  static Status open(const Options& options, const std::string& path, std::unique_ptr<DB>* db);

  Status put(const WriteOptions& options, std::string_view key, std::string_view value) override;
  Status remove(const WriteOptions& options, std::string_view key) override;
  Status write(const WriteOptions& options, WriteBatch* batch) override;
  Status get(const ReadOptions& options, std::string_view key, std::string* value) override;
  std::vector<Status> multi_get(const ReadOptions& options, std::span<const std::string_view> keys,
                                std::vector<std::string>* values) override;
  std::unique_ptr<Iterator> new_iterator(const ReadOptions& options) override;
  const Snapshot* get_snapshot() override;
  void release_snapshot(const Snapshot* snapshot) override;
  Status flush() override;
  Status compact_range(std::optional<std::string_view> begin,
                       std::optional<std::string_view> end) override;
  Status sync_wal() override;
  Status checkpoint(const std::string& dir) override;
  std::optional<std::string> property(std::string_view name) override;
  bool map_property(std::string_view name, std::map<std::string, std::string>* values) override;
  Status close() override;
  Status resume() override;
  Status try_catch_up_with_primary() override;

 private:
  class PinnedSnapshot;
  class PinnedIterator;

  SecondaryDB(Options options, std::string path);
  // A new state of the DB, recovered after `previous` (null at the open).
  Status recover_state(const DBImpl* previous, std::shared_ptr<DBImpl>* state) const;
  std::shared_ptr<DBImpl> current() const;  // null once closed
  // The state a read runs in (the snapshot's, if one of ours is given) and
  // the options to give it; null once closed.
  std::shared_ptr<DBImpl> state_for(const ReadOptions& options, ReadOptions* inner) const;
  Status refuse(const char* operation) const;
  Status closed_error() const;

  const Options options_;
  const std::string path_;
  std::mutex catch_up_mu_;  // one catch-up at a time
  mutable std::mutex mu_;
  std::shared_ptr<DBImpl> state_;  // guarded by mu_; null once closed
  bool closed_ = false;            // guarded by mu_
  uint64_t closed_sequence_ = 0;   // guarded by mu_: the last state's, for a snapshot after close()
  uint64_t catch_ups_ = 0;         // guarded by mu_: states swapped in after the open
};

}  // namespace fsdb
