// Writer threads that put keys as fast as they can while a test makes the DB
// fail and recover under them, keeping every write the DB acknowledged: a
// fifth of them without the WAL, one in 97 synced.
#pragma once

#include <atomic>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/db.h"

namespace fsdb::test {

class RacingWriters {
 public:
  // Starts `threads` writers on `db`, which must outlive stop().
  RacingWriters(DB* db, int threads);
  ~RacingWriters() { stop(); }
  RacingWriters(const RacingWriters&) = delete;
  RacingWriters& operator=(const RacingWriters&) = delete;

  // Stops and joins the writers (again: nothing).
  void stop();
  uint64_t taken() const { return taken_.load(); }
  uint64_t refused() const { return refused_.load(); }
  // After stop(): each acknowledged key and its value.
  const std::map<std::string, std::string>& acknowledged() const { return acknowledged_; }
  // After stop(): a gtest failure for each acknowledged write `db` does not
  // return.
  void expect_all_present(DB& db) const;

 private:
  std::mutex mu_;
  std::map<std::string, std::string> acknowledged_;  // guarded by mu_ while writers run
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> taken_{0};
  std::atomic<uint64_t> refused_{0};
  std::vector<std::thread> threads_;
};

}  // namespace fsdb::test
