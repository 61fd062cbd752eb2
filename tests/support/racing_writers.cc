#include "tests/support/racing_writers.h"

#include <gtest/gtest.h>

#include <chrono>

namespace fsdb::test {

RacingWriters::RacingWriters(DB* db, int threads) {
  for (int t = 0; t < threads; ++t) {
    threads_.emplace_back([this, db, t] {
      WriteOptions write_options;
      for (int i = 0; !stop_.load(); ++i) {
        write_options.disable_wal = i % 5 == 0;
        write_options.sync = i % 97 == 0;
        const std::string key = "key" + std::to_string(100000 + t * 1000000 + i);
        const std::string value = "t" + std::to_string(t) + std::string(100, 'x');
        if (db->put(write_options, key, value).ok()) {
          std::lock_guard<std::mutex> guard(mu_);
          acknowledged_[key] = value;
          taken_.fetch_add(1);
        } else {
          refused_.fetch_add(1);
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
      }
    });
  }
}

void RacingWriters::stop() {
  stop_.store(true);
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void RacingWriters::expect_all_present(DB& db) const {
  std::string v;
  int missing = 0;
  for (const auto& [key, value] : acknowledged_) {
    const Status s = db.get(key, &v);
    if (s.ok() && v == value) continue;
    if (++missing <= 10) ADD_FAILURE() << key << ": " << (s.ok() ? "another value" : s.to_string());
  }
  EXPECT_EQ(missing, 0) << "acknowledged writes lost, of " << acknowledged_.size();
}

}  // namespace fsdb::test
