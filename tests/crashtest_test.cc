// tools/crashtest: the value codec, the oracle's journal and baseline, kill
// point parsing, the verifier (it must catch each kind of violation it claims
// to), and the whole power-cut loop against a file system that lies about sync.
#include <algorithm>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "fsdb/db.h"
#include "tests/support/test_util.h"
#include "tools/crashtest/expected_state.h"
#include "tools/crashtest/kill_point.h"
#include "tools/crashtest/value_codec.h"
#include "tools/crashtest/verifier.h"
#include "tools/crashtest/workload.h"

namespace fsdb::crashtest {
namespace {

constexpr uint32_t kPadding = 20;
constexpr uint32_t kKeys = 16;

TEST(CrashtestCodecTest, ValuesNameTheirWriterAndRejectAnythingElse) {
  const ValueId id{3, 2, 77, 9};
  const std::string v = make_value(id, kPadding);
  ASSERT_EQ(parse_value(v, kPadding), id);
  EXPECT_FALSE(parse_value(v.substr(0, v.size() - 1), kPadding)) << "torn";
  std::string flipped = v;
  flipped.back() ^= 1;
  EXPECT_FALSE(parse_value(flipped, kPadding)) << "damaged padding";
  EXPECT_FALSE(parse_value(v + "x", kPadding));
  EXPECT_FALSE(parse_value("v1.e3.t2.c77.k9", kPadding));
  EXPECT_FALSE(parse_value("", kPadding));
  EXPECT_NE(make_value({3, 2, 78, 9}, kPadding), v);
  // Some values are large, and they round-trip too.
  size_t large = 0;
  for (uint64_t c = 0; c < 2000; ++c) {
    const std::string value = make_value({3, 2, c, 9}, kPadding);
    if (value.size() > (32u << 10)) {
      ++large;
      EXPECT_EQ(parse_value(value, kPadding), (ValueId{3, 2, c, 9}));
    } else {
      EXPECT_LE(value.size(), 40u + kPadding);
    }
  }
  EXPECT_GT(large, 4u);
  EXPECT_LT(large, 40u);
  EXPECT_EQ(parse_key_name(key_name(123)), 123u);
  EXPECT_LT(key_name(99), key_name(100)) << "byte order is index order";
  EXPECT_FALSE(parse_key_name("key12"));
  EXPECT_FALSE(parse_key_name("key0000012"));
  EXPECT_FALSE(parse_key_name("kez000012"));
}

OpRecord make_op(uint32_t thread, uint64_t counter, OpKind kind, bool sync, uint64_t start,
                 uint64_t end, OpOutcome outcome, std::vector<KeyWrite> writes) {
  OpRecord op;
  op.thread = thread;
  op.counter = counter;
  op.kind = kind;
  op.sync = sync;
  op.start_tick = start;
  op.end_tick = end;
  op.outcome = outcome;
  op.writes = std::move(writes);
  return op;
}

// A kill can come right after an acknowledgement: the outcome line must be
// in the file by then, not in a buffer the next operation writes out.
TEST(CrashtestJournalTest, AnOutcomeIsInTheFileAsSoonAsItIsRecorded) {
  test::ScratchDir dir;
  JournalWriter j;
  FSDB_ASSERT_OK(j.open(dir.path(), 0, /*sync=*/false));
  OpRecord op = make_op(0, 1, OpKind::kPut, false, 1, 0, OpOutcome::kPending, {{5, true}});
  FSDB_ASSERT_OK(j.begin(op));
  op.end_tick = 2;
  op.outcome = OpOutcome::kAcked;
  FSDB_ASSERT_OK(j.finish(op));
  std::vector<OpRecord> loaded;  // read while the writer is alive, as after a kill
  FSDB_ASSERT_OK(load_journals(dir.path(), &loaded));
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].outcome, OpOutcome::kAcked);
  EXPECT_EQ(loaded[0].end_tick, 2u);
}

TEST(CrashtestJournalTest, RoundTripsAndIgnoresATornLastLine) {
  test::ScratchDir dir;
  std::vector<OpRecord> written = {
      make_op(0, 1, OpKind::kPut, false, 1, 2, OpOutcome::kAcked, {{5, true}}),
      make_op(0, 2, OpKind::kBatch, true, 3, 6, OpOutcome::kFailed, {{1, true}, {7, false}}),
      make_op(0, 3, OpKind::kSyncWal, false, 8, 0, OpOutcome::kPending, {}),
      make_op(0, 4, OpKind::kRemove, false, 9, 10, OpOutcome::kAcked, {{2, false}}),
  };
  written.back().unlogged = true;
  {
    JournalWriter j;
    FSDB_ASSERT_OK(j.open(dir.path(), 0, /*sync=*/true));
    for (const OpRecord& op : written) {
      OpRecord begun = op;
      begun.outcome = OpOutcome::kPending;
      begun.end_tick = 0;
      FSDB_ASSERT_OK(j.begin(begun));
      if (op.outcome != OpOutcome::kPending) {
        FSDB_ASSERT_OK(j.finish(op));
      }
    }
  }
  {
    std::ofstream torn(dir.file("journal-0"), std::ios::app);
    torn << "B 0 5 0 0 11 1 3";  // no newline: the writer died inside write(2)
  }
  std::vector<OpRecord> loaded;
  FSDB_ASSERT_OK(load_journals(dir.path(), &loaded));
  EXPECT_EQ(loaded, written);

  {
    std::ofstream bad(dir.file("journal-1"));
    bad << "Q what\n";
  }
  EXPECT_TRUE(load_journals(dir.path(), &loaded).is_corruption());
  FSDB_ASSERT_OK(remove_journals(dir.path()));
  FSDB_ASSERT_OK(load_journals(dir.path(), &loaded));
  EXPECT_TRUE(loaded.empty());
}

TEST(CrashtestJournalTest, BaselineRoundTrips) {
  test::ScratchDir dir;
  Baseline none;
  EXPECT_TRUE(load_baseline(dir.path(), &none).is_not_found());
  Baseline b;
  b.epoch = 4;
  b.values = {std::nullopt, make_value({4, 1, 2, 1}, kPadding), std::nullopt, std::string("x y\n")};
  FSDB_ASSERT_OK(save_baseline(dir.path(), b));
  Baseline got;
  FSDB_ASSERT_OK(load_baseline(dir.path(), &got));
  EXPECT_EQ(got.epoch, 4u);
  EXPECT_EQ(got.values, b.values);
}

TEST(CrashtestKillPointTest, Parses) {
  KillPoint p;
  FSDB_ASSERT_OK(parse_kill_point("rename:CURRENT:2:after", &p));
  EXPECT_EQ(p.where, "rename");
  EXPECT_EQ(p.pattern, "CURRENT");
  EXPECT_EQ(p.nth, 2u);
  EXPECT_TRUE(p.after);
  FSDB_ASSERT_OK(parse_kill_point("sync_dir::1", &p));
  EXPECT_EQ(p.pattern, "");
  EXPECT_TRUE(parse_kill_point("explode:x:1", &p).is_invalid_argument());
  EXPECT_TRUE(parse_kill_point("append:.sst:0", &p).is_invalid_argument());
  EXPECT_TRUE(parse_kill_point("append:.sst", &p).is_invalid_argument());
  EXPECT_TRUE(parse_kill_point("append:.sst:1:before", &p).is_invalid_argument());
}

// The verifier against hand-made histories: epoch 2 begins from a baseline
// (epoch 1), the DB is then made to hold a chosen "recovered" state.
class CrashtestVerifierTest : public ::testing::Test {
 protected:
  CrashtestVerifierTest() {
    baseline_.epoch = 1;
    baseline_.values.assign(kKeys, std::nullopt);
    baseline_.values[0] = make_value({1, 0, 5, 0}, kPadding);
    EXPECT_TRUE(DB::open(Options(), dir_.path(), &db_).ok());
    EXPECT_TRUE(db_->put(key_name(0), *baseline_.values[0]).ok());
  }
  static std::string value(uint32_t thread, uint64_t counter, uint32_t key) {
    return make_value({2, thread, counter, key}, kPadding);
  }
  void put(uint32_t key, const std::string& v) { ASSERT_TRUE(db_->put(key_name(key), v).ok()); }
  void remove(uint32_t key) { ASSERT_TRUE(db_->remove(key_name(key)).ok()); }
  VerifyResult verify(Durability d) {
    VerifyInput in;
    in.keys = kKeys;
    in.epoch = 2;
    in.max_value_padding = kPadding;
    in.durability = d;
    in.baseline = &baseline_;
    in.ops = &ops_;
    return verify_db(*db_, in);
  }
  static std::string all(const VerifyResult& r) {
    std::string s;
    for (const auto& v : r.violations) s += v + "\n";
    return s;
  }

  test::ScratchDir dir_;
  std::unique_ptr<DB> db_;
  Baseline baseline_;
  std::vector<OpRecord> ops_;
};

TEST_F(CrashtestVerifierTest, AcceptsAConsistentRecovery) {
  ops_ = {make_op(0, 1, OpKind::kPut, false, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(1, 1, OpKind::kBatch, true, 3, 4, OpOutcome::kAcked, {{2, true}, {0, false}}),
          make_op(0, 2, OpKind::kPut, false, 5, 6, OpOutcome::kAcked, {{3, true}}),
          make_op(1, 2, OpKind::kPut, false, 7, 0, OpOutcome::kPending, {{4, true}})};
  put(1, value(0, 1, 1));
  put(2, value(1, 1, 2));
  remove(0);
  // 0/2 was acknowledged without a sync and the power went: it may be lost;
  // 1/2 was in flight: it may be lost.
  VerifyResult r = verify(Durability::kSyncedOnly);
  EXPECT_TRUE(r.violations.empty()) << all(r);
  EXPECT_EQ(r.keys_verified, kKeys);
  EXPECT_EQ(r.observed.values[2], value(1, 1, 2));
  EXPECT_EQ(r.observed.values[0], std::nullopt);
  // After a kill (nothing lost by the OS) the same state misses 0/2.
  r = verify(Durability::kEveryAcknowledged);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(3)), std::string::npos) << all(r);
  // The in-flight write may also have happened.
  put(3, value(0, 2, 3));
  put(4, value(1, 2, 4));
  r = verify(Durability::kEveryAcknowledged);
  EXPECT_TRUE(r.violations.empty()) << all(r);
}

TEST_F(CrashtestVerifierTest, CatchesALostSyncWrite) {
  ops_ = {make_op(0, 1, OpKind::kPut, true, 1, 2, OpOutcome::kAcked, {{1, true}})};
  VerifyResult r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find("acknowledged and durable"), std::string::npos) << all(r);
}

TEST_F(CrashtestVerifierTest, CatchesAWriteLostBeforeALaterSyncWal) {
  ops_ = {make_op(0, 1, OpKind::kPut, false, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(1, 1, OpKind::kSyncWal, false, 3, 4, OpOutcome::kAcked, {})};
  EXPECT_EQ(verify(Durability::kSyncedOnly).violations.size(), 1u);
  put(1, value(0, 1, 1));
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
}

TEST_F(CrashtestVerifierTest, CatchesAValueNeverWritten) {
  put(5, value(3, 9, 5));  // no such write in the oracle
  VerifyResult r = verify(Durability::kSyncedOnly);
  ASSERT_FALSE(r.violations.empty());
  EXPECT_NE(r.violations[0].find("never saw written"), std::string::npos) << all(r);
  remove(5);
  put(6, value(0, 1, 7));  // a real write, but of another key
  ops_ = {make_op(0, 1, OpKind::kPut, false, 1, 2, OpOutcome::kAcked, {{7, true}})};
  r = verify(Durability::kSyncedOnly);
  ASSERT_FALSE(r.violations.empty());
  EXPECT_NE(r.violations[0].find("no write put there"), std::string::npos) << all(r);
  remove(6);
  put(8, "garbage");
  EXPECT_FALSE(verify(Durability::kSyncedOnly).violations.empty());
  remove(8);
  put(0, make_value({1, 0, 4, 0}, kPadding));  // an older value of a previous cycle
  EXPECT_FALSE(verify(Durability::kSyncedOnly).violations.empty());
}

TEST_F(CrashtestVerifierTest, CatchesALostBaselineValue) {
  // Key 0 held a verified value when the cycle began; no write of this cycle
  // removed it (the put to it failed), yet it is gone.
  ops_ = {make_op(0, 1, OpKind::kPut, false, 1, 2, OpOutcome::kFailed, {{0, true}})};
  remove(0);
  VerifyResult r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find("the cycle began with"), std::string::npos) << all(r);
  put(0, value(0, 1, 0));  // the failed put may have happened after all
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
}

TEST_F(CrashtestVerifierTest, CatchesAHalfAppliedBatch) {
  ops_ = {make_op(0, 1, OpKind::kBatch, false, 1, 0, OpOutcome::kPending,
                  {{1, true}, {2, true}, {3, false}})};
  put(1, value(0, 1, 1));
  baseline_.values[3] = make_value({1, 0, 1, 3}, kPadding);
  put(3, *baseline_.values[3]);
  VerifyResult r = verify(Durability::kSyncedOnly);
  // Key 2 lacks the batch's value and key 3 still holds its old value.
  EXPECT_EQ(r.violations.size(), 2u) << all(r);
  put(2, value(0, 1, 2));
  remove(3);
  r = verify(Durability::kSyncedOnly);
  EXPECT_TRUE(r.violations.empty()) << all(r);
}

TEST_F(CrashtestVerifierTest, CatchesAHoleInTheCommitOrder) {
  // Thread 0's write 1 was acknowledged before thread 1's write 1 began;
  // thread 1's write survived, so thread 0's must have too.
  ops_ = {make_op(0, 1, OpKind::kPut, false, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(1, 1, OpKind::kPut, false, 3, 0, OpOutcome::kPending, {{2, true}})};
  put(2, value(1, 1, 2));
  VerifyResult r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(1)), std::string::npos) << all(r);
  // Concurrent writes (the second began before the first was acknowledged)
  // may survive in either combination.
  ops_[0].end_tick = 4;
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
}

TEST_F(CrashtestVerifierTest, ARemovalThatExplainsAnAbsentKeyIsEvidenceToo) {
  // Key 0 began with a value and is gone: thread 1's removal, the only one,
  // survived. Thread 0's put was acknowledged before that removal began, so
  // it must have survived too.
  ops_ = {make_op(0, 1, OpKind::kPut, false, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(1, 1, OpKind::kRemove, false, 3, 0, OpOutcome::kPending, {{0, false}})};
  remove(0);
  VerifyResult r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(1)), std::string::npos) << all(r);
  put(1, value(0, 1, 1));
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty()) << all(r);
  // A batch whose removal survived survived whole: its put must show.
  remove(1);
  ops_ = {make_op(0, 1, OpKind::kBatch, false, 1, 0, OpOutcome::kPending, {{2, true}, {0, false}})};
  r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(2)), std::string::npos) << all(r);
  put(2, value(0, 1, 2));
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty()) << all(r);
}

TEST_F(CrashtestVerifierTest, LaterWritesOfAKeyMayWinButNotEarlierOnes) {
  ops_ = {make_op(0, 1, OpKind::kPut, true, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(0, 2, OpKind::kPut, false, 3, 4, OpOutcome::kAcked, {{1, true}}),
          make_op(0, 3, OpKind::kRemove, false, 5, 6, OpOutcome::kFailed, {{1, false}})};
  put(1, value(0, 2, 1));
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
  remove(1);  // the failed removal may have happened
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
  ops_.pop_back();
  EXPECT_FALSE(verify(Durability::kSyncedOnly).violations.empty()) << "no removal to explain it";
}

TEST_F(CrashtestVerifierTest, UnloggedWritesSurviveOnlyThroughAFlush) {
  // 0/1 unlogged, then 1/1 logged and acknowledged after it: after a kill the
  // log gives back 1/1 but not 0/1, which only a flush would have kept.
  ops_ = {make_op(0, 1, OpKind::kPut, false, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(1, 1, OpKind::kPut, false, 3, 4, OpOutcome::kAcked, {{2, true}})};
  ops_[0].unlogged = true;
  put(2, value(1, 1, 2));
  VerifyResult r = verify(Durability::kEveryAcknowledged);
  EXPECT_TRUE(r.violations.empty()) << all(r);
  // Logged, the same write would have had to survive.
  ops_[0].unlogged = false;
  EXPECT_EQ(verify(Durability::kEveryAcknowledged).violations.size(), 1u);
  ops_[0].unlogged = true;
  // Also after a power cut, where 1/1 survived unsynced.
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
  // An acknowledged flush after it makes it durable, logged or not; one that
  // failed or was cut short proves nothing.
  ops_.push_back(make_op(1, 2, OpKind::kFlush, false, 5, 6, OpOutcome::kAcked, {}));
  r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(1)), std::string::npos) << all(r);
  ops_.back().outcome = OpOutcome::kFailed;
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
  ops_.back().outcome = OpOutcome::kPending;
  ops_.back().end_tick = 0;
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
  ops_.pop_back();
  // A visible unlogged write was flushed, and with it every write before it:
  // here 0/1, also unlogged.
  ops_.push_back(make_op(1, 2, OpKind::kPut, false, 5, 0, OpOutcome::kPending, {{3, true}}));
  ops_.back().unlogged = true;
  put(3, value(1, 2, 3));
  r = verify(Durability::kEveryAcknowledged);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(1)), std::string::npos) << all(r);
  put(1, value(0, 1, 1));
  EXPECT_TRUE(verify(Durability::kEveryAcknowledged).violations.empty());
}

TEST_F(CrashtestVerifierTest, AnAbsentKeyProvesNothingAboutAnUnloggedRemovalALoggedOneFollows) {
  // Key 1 had to hold 0/1 (synced). Two removals follow: 0/2, an unlogged
  // batch that also puts key 2, and 0/3, logged. Key 1 is absent: 0/3 alone
  // may have survived (the log kept it, the memtable with 0/2 was never
  // flushed), so 0/2 need not have, nor its put of key 2.
  ops_ = {make_op(0, 1, OpKind::kPut, true, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(0, 2, OpKind::kBatch, false, 3, 4, OpOutcome::kAcked, {{1, false}, {2, true}}),
          make_op(0, 3, OpKind::kRemove, false, 5, 6, OpOutcome::kAcked, {{1, false}})};
  ops_[1].unlogged = true;
  VerifyResult r = verify(Durability::kSyncedOnly);
  EXPECT_TRUE(r.violations.empty()) << all(r);
  // Without the logged removal, the unlogged one alone explains the absent
  // key: it survived, whole.
  ops_.pop_back();
  r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(2)), std::string::npos) << all(r);
  // Whichever removal of key 1 survived, the logged writes acknowledged
  // before the first began did: here 1/1, a logged put of key 3 (unsynced).
  ops_ = {make_op(0, 1, OpKind::kPut, true, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(1, 1, OpKind::kPut, false, 3, 4, OpOutcome::kAcked, {{3, true}}),
          make_op(0, 2, OpKind::kRemove, false, 5, 6, OpOutcome::kAcked, {{1, false}}),
          make_op(0, 3, OpKind::kRemove, false, 7, 8, OpOutcome::kAcked, {{1, false}})};
  ops_[2].unlogged = true;
  r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(3)), std::string::npos) << all(r);
  put(3, value(1, 1, 3));
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
  remove(3);
  // Logged, the first removal is known to have survived either way.
  ops_ = {make_op(0, 1, OpKind::kPut, true, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(0, 2, OpKind::kBatch, false, 3, 4, OpOutcome::kAcked, {{1, false}, {2, true}})};
  ops_[1].unlogged = false;
  ops_.push_back(make_op(0, 3, OpKind::kRemove, false, 5, 6, OpOutcome::kAcked, {{1, false}}));
  EXPECT_EQ(verify(Durability::kSyncedOnly).violations.size(), 1u);
}

TEST_F(CrashtestVerifierTest, AFailedRemovalIsNotKnownToHaveSurvivedWhenALaterOneFollows) {
  // Key 1 had to hold 0/1 (synced). 0/2, a batch that removes key 1 and puts
  // key 2, failed; the DB went on (resume()), and 0/3, unlogged, removed key 1
  // again (a flush kept it, or not). Key 1 is absent: 0/3 explains it, and 0/2
  // may never have been applied, so key 2 need not hold its value.
  ops_ = {make_op(0, 1, OpKind::kPut, true, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(0, 2, OpKind::kBatch, false, 3, 4, OpOutcome::kFailed, {{1, false}, {2, true}}),
          make_op(0, 3, OpKind::kRemove, false, 5, 6, OpOutcome::kAcked, {{1, false}})};
  ops_[2].unlogged = true;
  VerifyResult r = verify(Durability::kEveryAcknowledged);
  EXPECT_TRUE(r.violations.empty()) << all(r);
  // Alone, the failed removal explains the absent key: it survived, whole.
  ops_.pop_back();
  r = verify(Durability::kEveryAcknowledged);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(2)), std::string::npos) << all(r);
  // Whichever removal survived began no earlier than the failed one: a
  // logged write acknowledged before that (1/1, unsynced) survived.
  ops_ = {make_op(0, 1, OpKind::kPut, true, 1, 2, OpOutcome::kAcked, {{1, true}}),
          make_op(1, 1, OpKind::kPut, false, 3, 4, OpOutcome::kAcked, {{3, true}}),
          make_op(0, 2, OpKind::kRemove, false, 5, 6, OpOutcome::kFailed, {{1, false}}),
          make_op(0, 3, OpKind::kRemove, false, 7, 8, OpOutcome::kAcked, {{1, false}})};
  ops_[3].unlogged = true;
  r = verify(Durability::kSyncedOnly);
  ASSERT_EQ(r.violations.size(), 1u) << all(r);
  EXPECT_NE(r.violations[0].find(key_name(3)), std::string::npos) << all(r);
  put(3, value(1, 1, 3));
  EXPECT_TRUE(verify(Durability::kSyncedOnly).violations.empty());
}

// A file system that acknowledges sync() without doing it: the harness must
// notice the writes a power cut then takes away.
class LyingFileSystem final : public FileSystemWrapper {
 public:
  using FileSystemWrapper::FileSystemWrapper;
  class LyingFile final : public WritableFileWrapper {
   public:
    using WritableFileWrapper::WritableFileWrapper;
    Status sync() override {
      // Tables and the MANIFEST stay honest so that the DB still opens; the
      // WAL's syncs are the lie.
      if (path().ends_with(".log")) return flush();
      return WritableFileWrapper::sync();
    }
  };
  Status new_writable_file(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = FileSystemWrapper::new_writable_file(p, f);
    if (s.ok()) *f = std::make_unique<LyingFile>(std::move(*f));
    return s;
  }
  Status new_appendable_file(const std::string& p, std::unique_ptr<WritableFile>* f) override {
    Status s = FileSystemWrapper::new_appendable_file(p, f);
    if (s.ok()) *f = std::make_unique<LyingFile>(std::move(*f));
    return s;
  }
};

// One power-cut cycle the way fsdb_crashtest runs it; returns the verifier's verdict.
VerifyResult power_cut_cycle(const std::string& path,
                             const std::shared_ptr<FaultInjectionFileSystem>& fi,
                             std::shared_ptr<FileSystem> db_fs) {
  Options options;
  options.file_system = std::move(db_fs);
  options.memtable_bytes = 1 << 20;  // no flush: the WAL is all there is
  std::unique_ptr<DB> db;
  EXPECT_TRUE(DB::open(options, path, &db).ok());
  Baseline baseline;
  baseline.values.assign(200, std::nullopt);
  WorkloadOptions w;
  w.threads = 2;
  w.keys = 200;
  w.sync_fraction = 0.3;
  w.flush_weight = 0;  // a flush would make the writes durable through a table
  w.max_ops_per_thread = 300;
  w.errors_expected = true;
  w.max_value_padding = kPadding;
  std::vector<OpRecord> ops;
  {
    Workload workload(db.get(), w, baseline);
    workload.start();
    workload.join();
    EXPECT_TRUE(workload.violations().empty());
    ops = workload.ops();
  }
  fi->set_active(false);
  db.reset();
  fi->drop_unsynced_data();
  fi->clear_faults();
  EXPECT_TRUE(DB::open(options, path, &db).ok());
  VerifyInput in;
  in.keys = 200;
  in.epoch = 1;
  in.max_value_padding = kPadding;
  in.durability = Durability::kSyncedOnly;
  in.baseline = &baseline;
  in.ops = &ops;
  return verify_db(*db, in);
}

TEST(CrashtestPowerCutTest, HonestFileSystemPassesLyingOneIsCaught) {
  {
    test::ScratchDir dir;
    auto fi = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
    VerifyResult r = power_cut_cycle(dir.file("db"), fi, fi);
    EXPECT_TRUE(r.violations.empty()) << r.violations.front();
    EXPECT_GT(r.required_writes, 0u);
  }
  {
    test::ScratchDir dir;
    auto fi = std::make_shared<FaultInjectionFileSystem>(posix_file_system());
    VerifyResult r = power_cut_cycle(dir.file("db"), fi, std::make_shared<LyingFileSystem>(fi));
    ASSERT_FALSE(r.violations.empty()) << "synced writes vanished and nobody noticed";
    EXPECT_NE(r.violations[0].find("must have survived"), std::string::npos) << r.violations[0];
  }
}

TEST(CrashtestWorkloadTest, OnlineChecksSeeEveryWriteAndJournalIt) {
  test::ScratchDir dir;
  std::unique_ptr<DB> db;
  Options options;
  options.memtable_bytes = 32 << 10;
  FSDB_ASSERT_OK(DB::open(options, dir.file("db"), &db));
  Baseline baseline;
  baseline.values.assign(100, std::nullopt);
  WorkloadOptions w;
  w.threads = 4;
  w.keys = 100;
  w.max_ops_per_thread = 500;
  w.journal_dir = dir.path();
  w.max_value_padding = kPadding;
  std::vector<OpRecord> ops;
  {
    Workload workload(db.get(), w, baseline);
    workload.start();
    workload.join();
    EXPECT_TRUE(workload.violations().empty()) << workload.violations().front();
    EXPECT_EQ(workload.counters().ops.load(), 2000u);
    EXPECT_EQ(workload.counters().failed.load(), 0u);
    ops = workload.ops();
  }
  std::vector<OpRecord> journaled;
  FSDB_ASSERT_OK(load_journals(dir.path(), &journaled));
  auto by_id = [](const OpRecord& a, const OpRecord& b) {
    return std::tie(a.thread, a.counter) < std::tie(b.thread, b.counter);
  };
  std::sort(ops.begin(), ops.end(), by_id);
  std::sort(journaled.begin(), journaled.end(), by_id);
  EXPECT_EQ(journaled, ops);
  VerifyInput in;
  in.keys = 100;
  in.epoch = 1;
  in.max_value_padding = kPadding;
  in.baseline = &baseline;
  in.ops = &ops;
  VerifyResult r = verify_db(*db, in);
  EXPECT_TRUE(r.violations.empty()) << r.violations.front();
  EXPECT_EQ(r.keys_verified, 100u);
}

}  // namespace
}  // namespace fsdb::crashtest
