// The DB against a model: random put/remove/batch/get/iterate/snapshot/flush/
// reopen, each step compared with a std::map.
//
// Reproduce a failure with the seed it prints:
//   FSDB_TEST_SEED=<seed> build/test/tests/db_model_test
// FSDB_MODEL_OPS sets the number of operations (default 200000; fewer under
// sanitizers).
#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "engine/filename.h"
#include "fsdb/db.h"
#include "sstable/table_reader.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

using Model = std::map<std::string, std::string>;

size_t operation_count() {
  if (const char* env = std::getenv("FSDB_MODEL_OPS")) return std::strtoull(env, nullptr, 10);
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
  return 40000;
#else
  return 200000;
#endif
}

class ModelTest : public ::testing::Test {
 protected:
  std::string random_key() {
    // A small key space so that keys are overwritten and removed often; a few
    // odd keys (empty, binary) to keep the byte order honest.
    const uint64_t r = rng_() % 1000;
    if (r == 0) return "";
    if (r == 1) return std::string("\0\xff", 2);
    char buf[16];
    std::snprintf(buf, sizeof(buf), "k%03d", static_cast<int>(rng_() % 400));
    return buf;
  }
  std::string random_value(uint64_t step) {
    const size_t len = rng_() % 8 == 0 ? rng_() % 2000 : rng_() % 40;
    std::string v = "s" + std::to_string(step) + ":";
    v.resize(std::max(v.size(), len), static_cast<char>('a' + step % 26));
    return v;
  }

  // Compares a full scan in one direction, and a bounded scan from a random
  // start in the other, with the model.
  void check_iterator(const ReadOptions& ro, const Model& model, uint64_t step) {
    auto it = db_->new_iterator(ro);
    if (rng_() % 2 == 0) {
      auto m = model.begin();
      for (it->seek_to_first(); it->valid(); it->next(), ++m) {
        ASSERT_NE(m, model.end()) << "step " << step << ": extra key " << it->key();
        ASSERT_EQ(it->key(), m->first) << "step " << step;
        ASSERT_EQ(it->value(), m->second) << "step " << step;
      }
      ASSERT_EQ(m, model.end()) << "step " << step << ": missing key " << m->first;
    } else {
      const std::string start = random_key();
      auto m = model.upper_bound(start);
      it->seek_for_prev(start);
      for (int n = 0; n < 20; ++n) {
        if (m == model.begin()) {
          ASSERT_FALSE(it->valid()) << "step " << step;
          break;
        }
        --m;
        ASSERT_TRUE(it->valid()) << "step " << step;
        ASSERT_EQ(it->key(), m->first) << "step " << step;
        ASSERT_EQ(it->value(), m->second) << "step " << step;
        it->prev();
      }
    }
    FSDB_ASSERT_OK(it->status()) << "step " << step;
  }

  // On a mismatch: every version of `key` in the tables on disk, and the levels.
  std::string explain(std::string_view key) {
    std::string out = *db_->property("fsdb.levels") + *db_->property("fsdb.stats") +
                      "last reopen at step " + std::to_string(last_reopen_) + "\n";
    std::vector<std::string> names;
    (void)posix_file_system()->get_children(dir_.path(), &names);
    for (const std::string& name : names) {
      FileType type;
      uint64_t number;
      if (!parse_file_name(name, &type, &number) || type != FileType::kTable) continue;
      std::unique_ptr<TableReader> reader;
      if (!TableReader::open(*posix_file_system(), dir_.file(name), number, TableOptions(), &reader)
               .ok()) {
        continue;
      }
      auto it = reader->new_iterator();
      for (it->seek(key, kMaxSequenceNumber); it->valid() && it->user_key() == key; it->next()) {
        out += name + ": seq " + std::to_string(it->sequence()) +
               (it->kind() == ValueKind::kTombstone
                    ? " tombstone\n"
                    : " value " + std::string(it->value().substr(0, 12)) + "\n");
      }
    }
    return out;
  }

  test::ScratchDir dir_;
  std::unique_ptr<DB> db_;
  std::mt19937_64 rng_;
  uint64_t last_reopen_ = 0;
};

TEST_F(ModelTest, RandomOperationsMatchTheModel) {
  const uint64_t seed = test::test_seed(std::random_device{}());
  const size_t ops = operation_count();
  std::printf("seed %llu, %zu operations (FSDB_TEST_SEED, FSDB_MODEL_OPS)\n",
              static_cast<unsigned long long>(seed), ops);
  SCOPED_TRACE("FSDB_TEST_SEED=" + std::to_string(seed));
  rng_.seed(seed);

  Options options;
  options.memtable_bytes = 32 << 10;  // rotations and flushes happen often
  options.block_bytes = 512;
  FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_));

  Model model;
  struct HeldSnapshot {
    const Snapshot* snapshot;
    Model model;
  };
  std::vector<HeldSnapshot> snapshots;
  size_t reopens = 0, flushes = 0;

  for (uint64_t step = 0; step < ops; ++step) {
    // Operations by share (per mille): put 400, remove 120, batch 60, get 300,
    // iterate 20, snapshot take 15 / read 30 / release 15, flush 3, reopen 0.5.
    const uint64_t op = rng_() % 1000;
    if (op < 400) {
      const std::string k = random_key(), v = random_value(step);
      FSDB_ASSERT_OK(db_->put(k, v)) << "step " << step;
      model[k] = v;
    } else if (op < 520) {
      const std::string k = random_key();
      FSDB_ASSERT_OK(db_->remove(k)) << "step " << step;
      model.erase(k);
    } else if (op < 580) {
      WriteBatch batch;
      Model after = model;
      const int n = 1 + static_cast<int>(rng_() % 10);
      for (int i = 0; i < n; ++i) {
        const std::string k = random_key();
        if (rng_() % 4 == 0) {
          batch.remove(k);
          after.erase(k);
        } else {
          const std::string v = random_value(step);
          batch.put(k, v);
          after[k] = v;
        }
      }
      FSDB_ASSERT_OK(db_->write(&batch)) << "step " << step;
      model = std::move(after);
    } else if (op < 880) {
      const std::string k = random_key();
      std::string v;
      Status s = db_->get(k, &v);
      auto m = model.find(k);
      if (m == model.end()) {
        ASSERT_TRUE(s.is_not_found()) << "step " << step << " key " << k << ": " << s.to_string()
                                      << " " << v.substr(0, 12) << "\n"
                                      << explain(k);
      } else {
        FSDB_ASSERT_OK(s) << "step " << step << " key " << k << "\n" << explain(k);
        ASSERT_EQ(v, m->second) << "step " << step << " key " << k << "\n" << explain(k);
      }
    } else if (op < 900) {
      ASSERT_NO_FATAL_FAILURE(check_iterator(ReadOptions(), model, step));
    } else if (op < 915) {
      if (snapshots.size() < 4) snapshots.push_back({db_->get_snapshot(), model});
    } else if (op < 945) {
      if (!snapshots.empty()) {
        const HeldSnapshot& held = snapshots[rng_() % snapshots.size()];
        ReadOptions ro;
        ro.snapshot = held.snapshot;
        if (rng_() % 3 == 0) {
          ASSERT_NO_FATAL_FAILURE(check_iterator(ro, held.model, step));
        } else {
          const std::string k = random_key();
          std::string v;
          Status s = db_->get(ro, k, &v);
          auto m = held.model.find(k);
          if (m == held.model.end()) {
            ASSERT_TRUE(s.is_not_found()) << "step " << step << " snapshot read of " << k;
          } else {
            ASSERT_EQ(v, m->second) << "step " << step << " snapshot read of " << k;
          }
        }
      }
    } else if (op < 960) {
      if (!snapshots.empty()) {
        const size_t i = rng_() % snapshots.size();
        db_->release_snapshot(snapshots[i].snapshot);
        snapshots.erase(snapshots.begin() + static_cast<long>(i));
      }
    } else if (op < 963) {
      FSDB_ASSERT_OK(db_->flush()) << "step " << step;
      ++flushes;
    } else if (op < 964 && rng_() % 2 == 0) {
      // Reopen: snapshots do not survive it.
      for (auto& held : snapshots) db_->release_snapshot(held.snapshot);
      snapshots.clear();
      if (rng_() % 2 == 0) {
        FSDB_ASSERT_OK(db_->close()) << "step " << step;
      }
      db_.reset();
      FSDB_ASSERT_OK(DB::open(options, dir_.path(), &db_)) << "step " << step;
      ++reopens;
      last_reopen_ = step;
    }
  }
  for (auto& held : snapshots) db_->release_snapshot(held.snapshot);
  ASSERT_NO_FATAL_FAILURE(check_iterator(ReadOptions(), model, ops));
  if (ops >= 100000) {  // a long run certainly reopened and flushed
    EXPECT_GT(reopens, 0u);
    EXPECT_GT(flushes, 0u);
  }
  std::printf("%zu reopens, %zu flushes, %zu keys at the end\n", reopens, flushes, model.size());
}

}  // namespace
}  // namespace fsdb
