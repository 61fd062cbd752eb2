// Every key and value a DB holds, as tests compare them with a model.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "fsdb/db.h"

namespace fsdb::test {

using KeyValues = std::map<std::string, std::string>;

// Read with one iterator; a failure if the iterator ends in an error.
inline KeyValues db_contents(DB& db) {
  KeyValues out;
  std::unique_ptr<Iterator> it = db.new_iterator();
  for (it->seek_to_first(); it->valid(); it->next()) {
    out.emplace(std::string(it->key()), std::string(it->value()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status().to_string();
  return out;
}

}  // namespace fsdb::test
