// Helpers shared by the test suites: scratch directories and status matchers.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "fsdb/status.h"

namespace fsdb::test {

// A fresh, empty directory under $TMPDIR (or /tmp), removed with its contents
// when the object is destroyed.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// A seed for randomized tests: $FSDB_TEST_SEED if set, else `fallback`. Tests
// print it (SCOPED_TRACE) so a failure can be replayed.
uint64_t test_seed(uint64_t fallback);

// Flips one byte inside the first data block of one table file (.sst) of
// the DB in `dir`, closed; returns the table's path, or "" when there is none.
std::string corrupt_a_table(const std::string& dir);

// XORs the byte at `offset` of the file at `path` with 0x5a; false when the
// file cannot be opened or is shorter.
bool flip_byte(const std::string& path, uint64_t offset);

inline ::testing::AssertionResult is_ok(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.to_string();
}

}  // namespace fsdb::test

// ASSERT/EXPECT that a Status is OK, printing it otherwise; more context can be
// streamed: FSDB_ASSERT_OK(db->put(k, v)) << "key " << k;
#define FSDB_ASSERT_OK(expr) ASSERT_TRUE(::fsdb::test::is_ok(expr))
#define FSDB_EXPECT_OK(expr) EXPECT_TRUE(::fsdb::test::is_ok(expr))
