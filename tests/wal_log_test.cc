// The WAL's framing, writer and reader: every fragment boundary, the exact
// header bytes, damage at every byte, truncation at every offset, zero-filled
// and stale tails, and the four recovery modes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "tests/support/test_util.h"
#include "tests/wal_test_files.h"
#include "util/checksum.h"
#include "util/coding.h"
#include "wal/log_format.h"
#include "wal/log_reader.h"
#include "wal/log_writer.h"

namespace fsdb::wal {
namespace {

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

constexpr uint64_t kLog = 7;

// A log built in memory, with the offsets where each record starts and ends.
struct BuiltLog {
  std::string bytes;
  std::vector<std::string> records;
  std::vector<uint64_t> starts;  // starts[i]: offset of record i's first fragment
  std::vector<uint64_t> ends;    // ends[i]: file size right after record i was flushed
};

// Flushed record by record; with `sync_each`, synced record by record, so
// that the sync mark in front of each record makes every earlier one durable
// data, where damage is corruption (without syncs, damage with records
// after it is an unsynced tail).
BuiltLog build_log(const std::vector<std::string>& records, uint64_t log_number = kLog,
                   bool sync_each = false) {
  BuiltLog log;
  log.records = records;
  {
    LogWriter writer(std::make_unique<test::StringWritableFile>(&log.bytes), log_number);
    for (const std::string& r : records) {
      EXPECT_TRUE(writer.add_record(r).ok());
      EXPECT_TRUE((sync_each ? writer.sync() : writer.flush()).ok());
      log.ends.push_back(log.bytes.size());
    }
  }
  // As a writer that is still open (or crashed) leaves it: without the mark
  // close() adds.
  log.bytes.resize(log.ends.empty() ? 0 : log.ends.back());
  LogReader reader(std::make_unique<test::StringRandomAccessFile>(log.bytes, "built.log"),
                   log_number, WalRecoveryMode::kAbsoluteConsistency);
  std::string_view record;
  while (reader.read_record(&record)) log.starts.push_back(reader.last_record_offset());
  EXPECT_EQ(log.starts.size(), records.size());
  return log;
}

BuiltLog build_synced_log(const std::vector<std::string>& records) {
  return build_log(records, kLog, /*sync_each=*/true);
}

struct ReadResult {
  Status status;
  std::vector<std::string> records;
  LogReadReport report;
};

ReadResult read_log(std::string_view bytes, WalRecoveryMode mode = WalRecoveryMode{},
                    uint64_t log_number = kLog) {
  ReadResult result;
  LogReader reader(std::make_unique<test::StringRandomAccessFile>(bytes, "000007.log"), log_number,
                   mode);
  std::string_view record;
  while (reader.read_record(&record)) result.records.emplace_back(record);
  result.status = reader.status();
  result.report = reader.report();
  EXPECT_FALSE(reader.read_record(&record)) << "a reader that stopped must stay stopped";
  return result;
}

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

bool is_prefix(const std::vector<std::string>& part, const std::vector<std::string>& whole) {
  if (part.size() > whole.size()) return false;
  return std::equal(part.begin(), part.end(), whole.begin());
}

TEST(WalLogTest, HeaderBytesAreAsDocumented) {
  BuiltLog log = build_log({"abc"}, 0x0102030405060708ULL);
  ASSERT_EQ(log.bytes.size(), kHeaderBytes + 3);
  const char* h = log.bytes.data();
  EXPECT_EQ(decode_fixed16(h + 4), 3);
  EXPECT_EQ(h[6], static_cast<char>(FragmentType::kFull));
  EXPECT_EQ(h[7], 2) << "format version";
  EXPECT_EQ(decode_fixed64(h + 8), 0x0102030405060708ULL);
  EXPECT_EQ(log.bytes.substr(16), "abc");
  // The checksum covers bytes [4, 16) and the payload: XXH3-64, low 32 bits.
  EXPECT_EQ(decode_fixed32(h), static_cast<uint32_t>(checksum64(log.bytes.substr(4))));
}

TEST(WalLogTest, EmptyLogHasNoRecords) {
  ReadResult r = read_log("");
  FSDB_EXPECT_OK(r.status);
  EXPECT_TRUE(r.records.empty());
  EXPECT_EQ(r.report.tail_kind, LogTailKind::kNone);
}

TEST(WalLogTest, EmptyRecordsRoundTrip) {
  BuiltLog log = build_log({"", "x", "", ""});
  EXPECT_EQ(log.bytes.size(), 4 * kHeaderBytes + 1);
  ReadResult r = read_log(log.bytes);
  FSDB_ASSERT_OK(r.status);
  EXPECT_EQ(r.records, log.records);
}

TEST(WalLogTest, RecordEndingExactlyAtBlockEnd) {
  const std::string first(kBlockBytes - kHeaderBytes, 'a');  // fills block 0 exactly
  BuiltLog log =
      build_log({first, "next", std::string(kBlockBytes * 2 - 3 * kHeaderBytes - 4, 'b'), "after"});
  EXPECT_EQ(log.ends[0], kBlockBytes);
  EXPECT_EQ(log.bytes[kBlockBytes + 6], static_cast<char>(FragmentType::kFull))
      << "the next record starts block 1 with no padding";
  // Record 2 is FIRST (rest of block 1) + LAST ending exactly at the end of block 2.
  EXPECT_EQ(log.ends[2], 3 * kBlockBytes);
  ReadResult r = read_log(log.bytes);
  FSDB_ASSERT_OK(r.status);
  EXPECT_EQ(r.records, log.records);
  EXPECT_EQ(r.report.tail_kind, LogTailKind::kNone);
}

// Every amount of space left at the end of a block, from none to a little more
// than a header: the writer must pad (fewer than 16 bytes) or fragment correctly.
TEST(WalLogTest, EveryLeftoverAtBlockEnd) {
  for (size_t leftover = 0; leftover <= kHeaderBytes + 2; ++leftover) {
    SCOPED_TRACE("leftover " + std::to_string(leftover));
    const std::string first(kBlockBytes - kHeaderBytes - leftover, 'f');
    for (const std::string& second : {std::string(), std::string("s"), std::string(100, 's')}) {
      BuiltLog log = build_log({first, second, "third"});
      ASSERT_EQ(log.ends[0], kBlockBytes - leftover);
      if (leftover < kHeaderBytes) {
        // Zero trailer, then the next record starts the next block.
        EXPECT_EQ(log.bytes.substr(kBlockBytes - leftover, leftover), std::string(leftover, '\0'));
        EXPECT_EQ(log.bytes[kBlockBytes + 6], static_cast<char>(FragmentType::kFull));
      } else {
        const char expected_type = second.size() <= leftover - kHeaderBytes
                                       ? static_cast<char>(FragmentType::kFull)
                                       : static_cast<char>(FragmentType::kFirst);
        EXPECT_EQ(log.bytes[kBlockBytes - leftover + 6], expected_type);
      }
      ReadResult r = read_log(log.bytes);
      FSDB_ASSERT_OK(r.status);
      EXPECT_EQ(r.records, log.records);
    }
  }
}

TEST(WalLogTest, OneMebibyteRecordAndManySmallOnes) {
  std::mt19937_64 rng(fsdb::test::test_seed(11));
  std::vector<std::string> records;
  records.push_back(random_bytes(rng, 1 << 20));
  for (int i = 0; i < 5000; ++i) records.push_back(random_bytes(rng, rng() % 40));
  records.push_back(random_bytes(rng, (1 << 20) + 17));
  BuiltLog log = build_log(records);
  ReadResult r = read_log(log.bytes);
  FSDB_ASSERT_OK(r.status);
  ASSERT_EQ(r.records.size(), records.size());
  EXPECT_TRUE(r.records == records);
  EXPECT_EQ(r.report.records, records.size());
  EXPECT_EQ(r.report.valid_bytes, log.bytes.size());
}

TEST(WalLogTest, AddRecordsIsOneAppendOneFlushAtMostOneSync) {
  std::string bytes;
  test::FileCalls calls;
  LogWriter writer(std::make_unique<test::StringWritableFile>(&bytes, &calls), kLog);
  std::vector<std::string> owned = {"one", std::string(100000, 'x'), "", "four"};
  std::vector<std::string_view> views(owned.begin(), owned.end());
  FSDB_ASSERT_OK(writer.add_records(views, /*sync=*/false));
  EXPECT_EQ(calls.appends, 1);
  EXPECT_EQ(calls.flushes, 1);
  EXPECT_EQ(calls.syncs, 0);
  FSDB_ASSERT_OK(writer.add_records(views, /*sync=*/true));
  EXPECT_EQ(calls.appends, 2);
  EXPECT_EQ(calls.flushes, 2);
  EXPECT_EQ(calls.syncs, 1);
  // Buffered single records reach the file only when flushed, in one append.
  FSDB_ASSERT_OK(writer.add_record("a"));
  FSDB_ASSERT_OK(writer.add_record("b"));
  EXPECT_EQ(calls.appends, 2);
  FSDB_ASSERT_OK(writer.sync());
  EXPECT_EQ(calls.appends, 3);
  EXPECT_EQ(calls.syncs, 2);
  EXPECT_EQ(writer.size(), bytes.size());

  ReadResult r = read_log(bytes);
  FSDB_ASSERT_OK(r.status);
  std::vector<std::string> expected = owned;
  expected.insert(expected.end(), owned.begin(), owned.end());
  expected.emplace_back("a");
  expected.emplace_back("b");
  EXPECT_EQ(r.records, expected);
}

TEST(WalLogTest, BufferedAppendsWriteWhenTheBufferFills) {
  std::string bytes;
  test::FileCalls calls;
  LogWriter writer(std::make_unique<test::StringWritableFile>(&bytes, &calls), kLog,
                   LogWriterOptions{.buffer_bytes = 1000});
  for (int i = 0; i < 100; ++i) FSDB_ASSERT_OK(writer.add_record(std::string(84, 'r')));
  // 100 records of 100 framed bytes with a 1000-byte buffer: one append per 10.
  EXPECT_EQ(calls.appends, 10);
  EXPECT_EQ(bytes.size(), 10000u);
}

TEST(WalLogTest, WriteErrorsAreStickyAndReturned) {
  std::string bytes;
  auto file = std::make_unique<test::StringWritableFile>(&bytes);
  file->fail_append_at = 2;
  file->partial_bytes_on_failure = 5;
  LogWriter writer(std::move(file), kLog);
  std::vector<std::string_view> group = {"a", "b"};
  FSDB_ASSERT_OK(writer.add_records(group, false));
  Status s = writer.add_records(group, true);
  ASSERT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_EQ(writer.add_records(group, false), s) << "the writer stays broken";
  EXPECT_EQ(writer.add_record("c"), s);
  EXPECT_EQ(writer.sync(), s);
  EXPECT_EQ(writer.sticky_error(), s);
  // What did land is a clean prefix plus a torn tail.
  ReadResult r = read_log(bytes);
  FSDB_ASSERT_OK(r.status);
  EXPECT_EQ(r.records, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(r.report.tail_kind, LogTailKind::kTorn);
  EXPECT_EQ(r.report.tail.bytes, 5u);
}

TEST(WalLogTest, SyncErrorsAreStickyAndReturned) {
  std::string bytes;
  auto file = std::make_unique<test::StringWritableFile>(&bytes);
  file->fail_sync_at = 1;
  LogWriter writer(std::move(file), kLog);
  std::vector<std::string_view> group = {"a"};
  FSDB_ASSERT_OK(writer.add_records(group, false));
  Status s = writer.add_records(group, true);
  ASSERT_TRUE(s.is_io_error()) << s.to_string();
  EXPECT_NE(s.message().find("fdatasync"), std::string::npos);
  EXPECT_EQ(writer.add_records(group, false), s);
}

TEST(WalLogTest, AppendingToAnExistingLogContinuesMidBlock) {
  fsdb::test::ScratchDir dir;
  const std::string path = dir.file("000007.log");
  auto fs = posix_file_system();
  std::unique_ptr<LogWriter> writer;
  FSDB_ASSERT_OK(LogWriter::create(*fs, path, kLog, {}, &writer));
  FSDB_ASSERT_OK(writer->add_record(std::string(kBlockBytes - kHeaderBytes - 5, 'x')));
  FSDB_ASSERT_OK(writer->close());
  std::unique_ptr<WritableFile> file;
  FSDB_ASSERT_OK(fs->new_appendable_file(path, &file));
  LogWriter appender(std::move(file), kLog);
  FSDB_ASSERT_OK(appender.add_record("tail record"));
  FSDB_ASSERT_OK(appender.sync());
  FSDB_ASSERT_OK(appender.close());

  std::unique_ptr<LogReader> reader;
  FSDB_ASSERT_OK(LogReader::open(*fs, path, kLog, WalRecoveryMode::kAbsoluteConsistency, &reader));
  std::string_view record;
  ASSERT_TRUE(reader->read_record(&record));
  EXPECT_EQ(record.size(), kBlockBytes - kHeaderBytes - 5);
  ASSERT_TRUE(reader->read_record(&record));
  EXPECT_EQ(record, "tail record");
  EXPECT_EQ(reader->last_record_offset(), kBlockBytes);
  EXPECT_FALSE(reader->read_record(&record));
  FSDB_EXPECT_OK(reader->status());
}

std::vector<std::string> small_records() {
  return {"alpha", "", "bravo-charlie", std::string(40, 'd'), "echo", "f"};
}

// Flip each bit of a small log: the damage is always detected, never returned.
TEST(WalLogTest, BitFlipAtEveryOffsetIsDetected) {
  BuiltLog log = build_synced_log(small_records());
  for (size_t offset = 0; offset < log.bytes.size(); ++offset) {
    for (int bit = 0; bit < 8; ++bit) {
      SCOPED_TRACE("offset " + std::to_string(offset) + " bit " + std::to_string(bit));
      std::string damaged = log.bytes;
      damaged[offset] = static_cast<char>(damaged[offset] ^ (1 << bit));
      const bool in_last_record = offset >= log.ends[log.ends.size() - 2];

      ReadResult tolerate = read_log(damaged, WalRecoveryMode::kTolerateCorruptedTail);
      ASSERT_TRUE(is_prefix(tolerate.records, log.records));
      ASSERT_LT(tolerate.records.size(), log.records.size());
      if (tolerate.status.ok()) {
        EXPECT_TRUE(in_last_record) << "damage before the tail must be Corruption";
        EXPECT_NE(tolerate.report.tail_kind, LogTailKind::kNone);
      } else {
        ASSERT_TRUE(tolerate.status.is_corruption()) << tolerate.status.to_string();
        EXPECT_NE(tolerate.status.message().find("000007.log: offset "), std::string::npos);
      }

      ReadResult absolute = read_log(damaged, WalRecoveryMode::kAbsoluteConsistency);
      ASSERT_TRUE(absolute.status.is_corruption()) << absolute.status.to_string();
      ASSERT_TRUE(is_prefix(absolute.records, log.records));

      ReadResult point = read_log(damaged, WalRecoveryMode::kPointInTime);
      FSDB_ASSERT_OK(point.status);
      ASSERT_TRUE(is_prefix(point.records, log.records));
      ASSERT_LT(point.records.size(), log.records.size());
      EXPECT_NE(point.report.tail_kind, LogTailKind::kNone);

      ReadResult skip = read_log(damaged, WalRecoveryMode::kSkipAnyCorruptedRecords);
      FSDB_ASSERT_OK(skip.status);
      bool in_sync_mark = false;  // between a record's end and the next one's start
      for (size_t i = 0; i + 1 < log.records.size(); ++i) {
        in_sync_mark |= offset >= log.ends[i] && offset < log.starts[i + 1];
      }
      if (in_sync_mark) {
        EXPECT_EQ(skip.records, log.records) << "a damaged mark holds no record";
      } else {
        ASSERT_LT(skip.records.size(), log.records.size());
      }
      // What is returned is the originals with some left out, in order.
      size_t at = 0;
      for (const std::string& rec : skip.records) {
        while (at < log.records.size() && log.records[at] != rec) ++at;
        ASSERT_LT(at, log.records.size()) << "a record that was never written";
        ++at;
      }
      EXPECT_TRUE(!skip.report.skipped.empty() || skip.report.tail_kind != LogTailKind::kNone);
    }
  }
}

// A log spanning blocks, with records of every shape, truncated at every offset
// (under sanitizers: every offset near a fragment or block boundary, a stride
// elsewhere).
TEST(WalLogTest, TruncationAtEveryOffsetYieldsACleanPrefix) {
  std::mt19937_64 rng(fsdb::test::test_seed(5));
  std::vector<std::string> records = small_records();
  records.push_back(random_bytes(rng, kBlockBytes + 100));  // FIRST, LAST
  records.push_back(random_bytes(rng, 3));
  records.push_back(random_bytes(rng, 2 * kBlockBytes));  // FIRST, MIDDLE, LAST
  records.emplace_back(kBlockBytes - 10, 'z');            // leaves a zero trailer
  records.emplace_back("end");
  BuiltLog log = build_log(records);
  const size_t stride = kSanitized ? 997 : 1;  // every offset unless sanitized
  std::vector<bool> near_boundary(log.bytes.size() + 1, false);
  auto mark = [&](uint64_t at) {
    for (uint64_t o = at > 40 ? at - 40 : 0; o <= at + 40 && o <= log.bytes.size(); ++o) {
      near_boundary[o] = true;
    }
  };
  for (uint64_t end : log.ends) mark(end);
  for (uint64_t b = kBlockBytes; b < log.bytes.size(); b += kBlockBytes) mark(b);

  size_t checked = 0;
  for (size_t len = 0; len <= log.bytes.size(); ++len) {
    if (!near_boundary[len] && len % stride != 0) continue;
    ++checked;
    SCOPED_TRACE("truncated to " + std::to_string(len));
    const std::string_view cut(log.bytes.data(), len);
    size_t complete = 0;
    while (complete < log.ends.size() && log.ends[complete] <= len) ++complete;
    const uint64_t clean_end = complete == 0 ? 0 : log.ends[complete - 1];

    ReadResult r = read_log(cut);
    FSDB_ASSERT_OK(r.status);
    ASSERT_EQ(r.records.size(), complete);
    ASSERT_TRUE(is_prefix(r.records, log.records));
    if (r.report.tail_kind != LogTailKind::kNone) {
      EXPECT_GE(r.report.tail.offset, clean_end);
      EXPECT_EQ(r.report.tail.offset + r.report.tail.bytes, len);
    } else {
      // Nothing dropped: at most a zero block trailer follows the last record.
      EXPECT_EQ(cut.substr(clean_end), std::string(len - clean_end, '\0'));
    }

    ReadResult absolute = read_log(cut, WalRecoveryMode::kAbsoluteConsistency);
    if (len == clean_end) {
      FSDB_ASSERT_OK(absolute.status);
      EXPECT_EQ(absolute.records.size(), complete);
    } else if (!absolute.status.ok()) {
      EXPECT_TRUE(absolute.status.is_corruption());
    } else {
      // Only a cut inside a zero trailer leaves no torn bytes.
      EXPECT_EQ(cut.substr(clean_end), std::string(len - clean_end, '\0'));
    }
  }
  EXPECT_GT(checked, kSanitized ? 500u : log.bytes.size());
}

TEST(WalLogTest, ZeroFilledTailEndsTheLogAndIsReported) {
  BuiltLog log = build_log(small_records());
  const uint64_t end = log.bytes.size();
  std::string padded = log.bytes + std::string(3 * kBlockBytes + 123, '\0');
  for (WalRecoveryMode mode :
       {WalRecoveryMode::kTolerateCorruptedTail, WalRecoveryMode::kAbsoluteConsistency,
        WalRecoveryMode::kPointInTime, WalRecoveryMode::kSkipAnyCorruptedRecords}) {
    SCOPED_TRACE(std::string(wal_recovery_mode_name(mode)));
    ReadResult r = read_log(padded, mode);
    FSDB_ASSERT_OK(r.status);
    EXPECT_EQ(r.records, log.records);
    EXPECT_EQ(r.report.tail_kind, LogTailKind::kZeroFilled);
    EXPECT_EQ(r.report.tail.offset, end);
    EXPECT_EQ(r.report.tail.bytes, padded.size() - end);
  }
}

TEST(WalLogTest, TornTailIsReportedWithOffsetAndBytes) {
  BuiltLog log = build_log({"one", "two", std::string(kBlockBytes * 3, 'l')});
  // Cut the big record inside its MIDDLE fragment: the tail starts at its FIRST.
  const std::string cut = log.bytes.substr(0, log.ends[1] + kBlockBytes + 50);
  ReadResult r = read_log(cut);
  FSDB_ASSERT_OK(r.status);
  EXPECT_EQ(r.records, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(r.report.tail_kind, LogTailKind::kTorn);
  EXPECT_EQ(r.report.tail.offset, log.ends[1]);
  EXPECT_EQ(r.report.tail.bytes, cut.size() - log.ends[1]);
  EXPECT_EQ(r.report.valid_bytes, log.ends[1]);

  ReadResult absolute = read_log(cut, WalRecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(absolute.status.is_corruption());
  EXPECT_NE(absolute.status.message().find("offset " + std::to_string(log.ends[1])),
            std::string::npos)
      << absolute.status.to_string();
}

// Ten records in four blocks, the fifth damaged: each mode's answer.
class WalRecoveryModeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 10; ++i) records_.emplace_back(9000, static_cast<char>('a' + i));
    log_ = build_synced_log(records_);
    damaged_at_ = log_.starts[4];
    damaged_ = log_.bytes;
    damaged_[damaged_at_ + kHeaderBytes + 100] ^= 0x20;  // in record 4's payload
  }
  std::vector<std::string> records_;
  BuiltLog log_;
  std::string damaged_;
  uint64_t damaged_at_ = 0;
};

TEST_F(WalRecoveryModeTest, TolerateCorruptedTailRejectsMidLogDamage) {
  ReadResult r = read_log(damaged_, WalRecoveryMode::kTolerateCorruptedTail);
  ASSERT_TRUE(r.status.is_corruption());
  EXPECT_EQ(r.status.message(), "000007.log: offset " + std::to_string(damaged_at_) +
                                    ": checksum mismatch (in synced data: the log was synced "
                                    "through offset " +
                                    std::to_string(log_.ends[4]) + ")");
  EXPECT_EQ(r.records.size(), 4u);
}

TEST_F(WalRecoveryModeTest, AbsoluteConsistencyRejectsMidLogDamage) {
  ReadResult r = read_log(damaged_, WalRecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(r.status.is_corruption());
  EXPECT_NE(r.status.message().find("offset " + std::to_string(damaged_at_)), std::string::npos);
}

TEST_F(WalRecoveryModeTest, PointInTimeStopsAtTheDamage) {
  ReadResult r = read_log(damaged_, WalRecoveryMode::kPointInTime);
  FSDB_ASSERT_OK(r.status);
  EXPECT_EQ(r.records, std::vector<std::string>(records_.begin(), records_.begin() + 4));
  EXPECT_EQ(r.report.tail_kind, LogTailKind::kCorruption);
  EXPECT_EQ(r.report.tail.offset, damaged_at_);
  EXPECT_EQ(r.report.tail.bytes, damaged_.size() - damaged_at_);
  EXPECT_EQ(r.report.tail.reason,
            "checksum mismatch (in synced data: the log was synced through "
            "offset " +
                std::to_string(log_.ends[4]) + ")");
}

TEST_F(WalRecoveryModeTest, SkipAnyCorruptedRecordsSkipsJustTheDamagedRecord) {
  ReadResult r = read_log(damaged_, WalRecoveryMode::kSkipAnyCorruptedRecords);
  FSDB_ASSERT_OK(r.status);
  std::vector<std::string> expected = records_;
  expected.erase(expected.begin() + 4);
  EXPECT_EQ(r.records, expected);
  ASSERT_EQ(r.report.skipped.size(), 1u);
  EXPECT_EQ(r.report.skipped[0].offset, damaged_at_);
  // The record and the sync mark after it, which the damage hid.
  EXPECT_EQ(r.report.skipped[0].bytes, log_.starts[5] - damaged_at_);
  EXPECT_EQ(r.report.tail_kind, LogTailKind::kNone);
}

TEST_F(WalRecoveryModeTest, ZeroedBlockInTheMiddleIsCorruption) {
  std::string zeroed = log_.bytes;
  std::fill(zeroed.begin() + kBlockBytes, zeroed.begin() + 2 * kBlockBytes, '\0');
  ReadResult r = read_log(zeroed);
  ASSERT_TRUE(r.status.is_corruption()) << r.status.to_string();
  ReadResult skip = read_log(zeroed, WalRecoveryMode::kSkipAnyCorruptedRecords);
  FSDB_ASSERT_OK(skip.status);
  EXPECT_FALSE(skip.report.skipped.empty());
  EXPECT_EQ(skip.records.back(), records_.back());
}

// Fragments written by hand: sequences the writer never produces.
std::string fragment(FragmentType type, std::string_view payload, uint64_t log_number = kLog,
                     uint8_t version = kLogFormatVersion) {
  std::string f(kHeaderBytes, '\0');
  f.append(payload);
  encode_fragment_header(f.data(), type, log_number, payload.size());
  if (version != kLogFormatVersion) {
    f[header_offset::kVersion] = static_cast<char>(version);
    encode_fixed32(f.data(), fragment_checksum(f.data(), payload.size()));
  }
  return f;
}

std::string sync_mark(uint64_t synced_offset, uint8_t version = kLogFormatVersion) {
  std::string payload(kSyncMarkPayloadBytes, '\0');
  encode_fixed64(payload.data(), synced_offset);
  return fragment(FragmentType::kSyncMark, payload, kLog, version);
}

// Ends hand-made fragments as a synced log's next append would begin: with a
// mark saying all of them are durable data.
std::string then_synced(const std::string& fragments) {
  return fragments + sync_mark(fragments.size());
}

TEST(WalLogTest, UnfinishedRecordFollowedByANewOneIsCorruption) {
  const std::string bytes =
      then_synced(fragment(FragmentType::kFull, "ok") + fragment(FragmentType::kFirst, "lost-") +
                  fragment(FragmentType::kFull, "after"));
  const uint64_t first_at = kHeaderBytes + 2;
  ReadResult r = read_log(bytes);
  ASSERT_TRUE(r.status.is_corruption());
  EXPECT_NE(r.status.message().find("offset " + std::to_string(first_at)), std::string::npos);
  ReadResult skip = read_log(bytes, WalRecoveryMode::kSkipAnyCorruptedRecords);
  FSDB_ASSERT_OK(skip.status);
  EXPECT_EQ(skip.records, (std::vector<std::string>{"ok", "after"}));
  ASSERT_EQ(skip.report.skipped.size(), 1u);
  EXPECT_EQ(skip.report.skipped[0].offset, first_at);
  EXPECT_EQ(skip.report.skipped[0].bytes, kHeaderBytes + 5);
}

TEST(WalLogTest, OrphanFragmentsAreCorruption) {
  const std::string bytes =
      then_synced(fragment(FragmentType::kMiddle, "m") + fragment(FragmentType::kLast, "l") +
                  fragment(FragmentType::kFull, "x"));
  ReadResult r = read_log(bytes);
  ASSERT_TRUE(r.status.is_corruption());
  ReadResult skip = read_log(bytes, WalRecoveryMode::kSkipAnyCorruptedRecords);
  FSDB_ASSERT_OK(skip.status);
  EXPECT_EQ(skip.records, (std::vector<std::string>{"x"}));
  ASSERT_EQ(skip.report.skipped.size(), 1u);
  EXPECT_EQ(skip.report.skipped[0].offset, 0u);
  EXPECT_EQ(skip.report.skipped[0].bytes, 2 * kHeaderBytes + 2);
}

TEST(WalLogTest, UnknownFormatVersionIsNotSupported) {
  ReadResult r = read_log(fragment(FragmentType::kFull, "v3", kLog, 3));
  ASSERT_TRUE(r.status.is_not_supported()) << r.status.to_string();
  EXPECT_NE(r.status.message().find("log format version 3 (this build reads versions 1 to 2)"),
            std::string::npos);
}

// Where each record of a log begins and ends, and how far it was synced.
struct SyncedLog {
  std::string bytes;
  std::vector<std::string> records;
  std::vector<uint64_t> starts;  // offset of each record's first fragment
  uint64_t synced = 0;           // the log's size at its last sync
};

// Ten records of 3000 bytes; the log is synced after record `synced_after`
// (none when negative).
SyncedLog build_partly_synced_log(int synced_after) {
  SyncedLog log;
  LogWriter writer(std::make_unique<test::StringWritableFile>(&log.bytes), kLog);
  for (int i = 0; i < 10; ++i) {
    log.records.emplace_back(3000, static_cast<char>('a' + i));
    // A record's fragments come after any sync mark the append writes first.
    FSDB_EXPECT_OK(writer.add_records(std::vector<std::string_view>{log.records.back()},
                                      /*sync=*/i == synced_after));
    log.starts.push_back(log.bytes.size() - kHeaderBytes - 3000);
    if (i == synced_after) log.synced = log.bytes.size();
  }
  return log;  // no sync since the mark: close() adds none
}

TEST(WalLogTest, TheFirstAppendAfterASyncBeginsWithASyncMark) {
  std::string bytes;
  LogWriter writer(std::make_unique<test::StringWritableFile>(&bytes), kLog);
  FSDB_ASSERT_OK(writer.add_records(std::vector<std::string_view>{"a"}, /*sync=*/true));
  EXPECT_EQ(writer.synced_size(), kHeaderBytes + 1);
  FSDB_ASSERT_OK(writer.add_records(std::vector<std::string_view>{"b"}, /*sync=*/false));
  FSDB_ASSERT_OK(writer.add_record("c"));  // no sync since the mark: no second mark
  FSDB_ASSERT_OK(writer.sync());
  const uint64_t second_sync = bytes.size();
  FSDB_ASSERT_OK(writer.add_record("d"));
  FSDB_ASSERT_OK(writer.flush());
  const std::string expected = fragment(FragmentType::kFull, "a") + sync_mark(kHeaderBytes + 1) +
                               fragment(FragmentType::kFull, "b") +
                               fragment(FragmentType::kFull, "c") + sync_mark(second_sync) +
                               fragment(FragmentType::kFull, "d");
  EXPECT_EQ(bytes, expected);
  ReadResult r = read_log(bytes);
  FSDB_ASSERT_OK(r.status);
  EXPECT_EQ(r.records, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(r.report.has_sync_marks);
  EXPECT_EQ(r.report.synced_through, second_sync);
}

// A mark needs 24 bytes: with 16 to 23 left in the block, a mark too short
// to carry an offset pads the block and the mark starts the next one.
TEST(WalLogTest, ASyncMarkThatDoesNotFitPadsTheBlockAndStartsTheNext) {
  for (const bool by_close : {false, true}) {
    SCOPED_TRACE(by_close ? "the mark close() adds" : "the mark of the next append");
    std::string bytes;
    LogWriter writer(std::make_unique<test::StringWritableFile>(&bytes), kLog);
    const std::string first(kBlockBytes - kHeaderBytes - 20, 'f');
    FSDB_ASSERT_OK(writer.add_records(std::vector<std::string_view>{first}, /*sync=*/true));
    ASSERT_EQ(bytes.size(), kBlockBytes - 20);
    const uint64_t synced = bytes.size();
    if (by_close) {
      FSDB_ASSERT_OK(writer.close());
    } else {
      FSDB_ASSERT_OK(writer.add_records(std::vector<std::string_view>{"x"}, /*sync=*/false));
    }
    std::string padding(kHeaderBytes + 4, '\0');
    encode_fragment_header(padding.data(), FragmentType::kSyncMark, kLog, 4);
    EXPECT_EQ(bytes.substr(synced, 20), padding);
    EXPECT_EQ(bytes.substr(kBlockBytes, kHeaderBytes + kSyncMarkPayloadBytes), sync_mark(synced));
    EXPECT_EQ(writer.synced_size(), by_close ? bytes.size() : synced)
        << "close() syncs the mark it adds";
    ReadResult r = read_log(bytes);
    FSDB_ASSERT_OK(r.status);
    EXPECT_EQ(r.records,
              by_close ? std::vector<std::string>{first} : (std::vector<std::string>{first, "x"}));
    EXPECT_EQ(r.report.synced_through, synced);
  }
}

// Once the log was synced, the first record boundary of every block repeats
// the mark: damage to the page where the synced data ends, which holds the
// mark after it, leaves a later mark to prove the sync.
TEST(WalLogTest, EveryBlockRepeatsTheMarkSoOneDamagedPageCannotHideASync) {
  std::string bytes;
  LogWriter writer(std::make_unique<test::StringWritableFile>(&bytes), kLog);
  std::vector<std::string> records;
  for (int i = 0; i < 5; ++i) records.emplace_back(1000, static_cast<char>('a' + i));
  FSDB_ASSERT_OK(writer.add_records(std::vector<std::string_view>(records.begin(), records.end()),
                                    /*sync=*/true));
  const uint64_t synced = bytes.size();
  for (int i = 0; i < 60; ++i) {  // unsynced, into the next two blocks
    records.emplace_back(1000, static_cast<char>('A' + i % 26));
    FSDB_ASSERT_OK(writer.add_record(records.back()));
  }
  FSDB_ASSERT_OK(writer.flush());
  ASSERT_GT(bytes.size(), 2 * kBlockBytes);
  std::string damaged = bytes;
  // The page holding the end of the synced data and the mark after it.
  const uint64_t page = synced / 4096 * 4096;
  std::fill(damaged.begin() + static_cast<ptrdiff_t>(page),
            damaged.begin() + static_cast<ptrdiff_t>(page + 4096), '\x5a');
  ReadResult r = read_log(damaged);
  ASSERT_TRUE(r.status.is_corruption()) << r.status.to_string();
  EXPECT_NE(r.status.message().find("(in synced data: the log was synced through offset " +
                                    std::to_string(synced) + ")"),
            std::string::npos)
      << r.status.to_string();
}

// The power-cut case: the log was synced through record 2; records 3-9 were
// not synced, and the disk lost record 5's page but kept the later ones.
TEST(WalLogTest, DamageWhereNoSyncReachedIsAnUnsyncedTailWhateverFollowsIt) {
  const SyncedLog log = build_partly_synced_log(/*synced_after=*/2);
  std::string damaged = log.bytes;
  std::fill(damaged.begin() + static_cast<ptrdiff_t>(log.starts[5]),
            damaged.begin() + static_cast<ptrdiff_t>(log.starts[6]), '\0');
  const std::vector<std::string> before(log.records.begin(), log.records.begin() + 5);
  for (WalRecoveryMode mode :
       {WalRecoveryMode::kTolerateCorruptedTail, WalRecoveryMode::kPointInTime}) {
    SCOPED_TRACE(std::string(wal_recovery_mode_name(mode)));
    ReadResult r = read_log(damaged, mode);
    FSDB_ASSERT_OK(r.status);
    EXPECT_EQ(r.records, before);
    EXPECT_EQ(r.report.tail_kind, LogTailKind::kUnsynced);
    EXPECT_EQ(r.report.tail.offset, log.starts[5]);
    EXPECT_EQ(r.report.tail.bytes, damaged.size() - log.starts[5]);
    EXPECT_EQ(r.report.synced_through, log.synced);
    EXPECT_NE(r.report.tail.reason.find("zero-filled space; valid fragments follow it, but no "
                                        "sync covered it or them (the log was synced through "
                                        "offset " +
                                        std::to_string(log.synced) + ")"),
              std::string::npos)
        << r.report.tail.reason;
  }
  // Absolute consistency accepts no lost data at all.
  ReadResult absolute = read_log(damaged, WalRecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(absolute.status.is_corruption()) << absolute.status.to_string();
  // Skipping keeps what it can read, whatever the sync said.
  ReadResult skip = read_log(damaged, WalRecoveryMode::kSkipAnyCorruptedRecords);
  FSDB_ASSERT_OK(skip.status);
  std::vector<std::string> all_but_5 = log.records;
  all_but_5.erase(all_but_5.begin() + 5);
  EXPECT_EQ(skip.records, all_but_5);
}

// A log that was never synced has no marks, and any damage in it is past
// every sync.
TEST(WalLogTest, DamageInALogNeverSyncedIsAnUnsyncedTail) {
  const SyncedLog log = build_partly_synced_log(/*synced_after=*/-1);
  std::string damaged = log.bytes;
  damaged[log.starts[1] + kHeaderBytes + 7] ^= 1;
  ReadResult r = read_log(damaged);
  FSDB_ASSERT_OK(r.status);
  EXPECT_EQ(r.records.size(), 1u);
  EXPECT_EQ(r.report.tail_kind, LogTailKind::kUnsynced);
  EXPECT_EQ(r.report.synced_through, 0u);
}

// Damage below the offset a later mark says was synced: the disk or the file
// system damaged durable data. Refused, and the error says so.
TEST(WalLogTest, DamageToSyncedDataIsCorruptionEvenWithUnsyncedRecordsAfterIt) {
  const SyncedLog log = build_partly_synced_log(/*synced_after=*/6);
  std::string damaged = log.bytes;
  damaged[log.starts[4] + kHeaderBytes + 7] ^= 1;
  ReadResult r = read_log(damaged);
  ASSERT_TRUE(r.status.is_corruption()) << r.status.to_string();
  EXPECT_EQ(r.status.message(), "000007.log: offset " + std::to_string(log.starts[4]) +
                                    ": checksum mismatch (in synced data: the log was synced "
                                    "through offset " +
                                    std::to_string(log.synced) + ")");
  EXPECT_EQ(r.records.size(), 4u);
  ReadResult point = read_log(damaged, WalRecoveryMode::kPointInTime);
  FSDB_ASSERT_OK(point.status);
  EXPECT_EQ(point.report.tail_kind, LogTailKind::kCorruption);
  EXPECT_EQ(point.records.size(), 4u);
  // Damage at exactly the synced offset is past it.
  std::string at_sync = log.bytes;
  at_sync[log.starts[7] + kHeaderBytes + 7] ^= 1;
  ASSERT_EQ(log.starts[7], log.synced + kHeaderBytes + kSyncMarkPayloadBytes);
  ReadResult unsynced = read_log(at_sync);
  FSDB_ASSERT_OK(unsynced.status);
  EXPECT_EQ(unsynced.report.tail_kind, LogTailKind::kUnsynced);
  EXPECT_EQ(unsynced.records.size(), 7u);
}

// A log of format version 1 has no marks: damage with valid records after it
// is corruption, as that version always read it.
TEST(WalLogTest, DamageInAVersion1LogWithRecordsAfterItIsCorruption) {
  const std::string good = fragment(FragmentType::kFull, "one", kLog, 1);
  std::string damaged = fragment(FragmentType::kFull, "two", kLog, 1);
  damaged[kHeaderBytes] ^= 1;
  const std::string bytes = good + damaged + fragment(FragmentType::kFull, "three", kLog, 1);
  ReadResult r = read_log(bytes);
  ASSERT_TRUE(r.status.is_corruption()) << r.status.to_string();
  EXPECT_EQ(r.status.message(),
            "000007.log: offset " + std::to_string(good.size()) + ": checksum mismatch");
  EXPECT_FALSE(r.report.has_sync_marks);
  ReadResult clean = read_log(good + fragment(FragmentType::kFull, "three", kLog, 1));
  FSDB_ASSERT_OK(clean.status);
  EXPECT_EQ(clean.records, (std::vector<std::string>{"one", "three"}));
}

// The writer never marks an offset past the mark itself. A valid fragment
// found after damage that claims one (another log's, whose number collides)
// is not believed: it cannot make an unsynced end into corruption.
TEST(WalLogTest, AMarkClaimingMoreThanWasWrittenBeforeItIsIgnored) {
  const std::string one = fragment(FragmentType::kFull, "one");
  std::string lost = fragment(FragmentType::kFull, "two");
  lost[kHeaderBytes] ^= 1;
  const std::string bytes =
      one + lost + sync_mark(1 << 20) + fragment(FragmentType::kFull, "three");
  ReadResult r = read_log(bytes);
  FSDB_ASSERT_OK(r.status);
  EXPECT_EQ(r.records, std::vector<std::string>{"one"});
  EXPECT_EQ(r.report.tail_kind, LogTailKind::kUnsynced);
  EXPECT_EQ(r.report.synced_through, 0u);
}

// Any writer's history of appends and syncs, then a power cut that keeps or
// loses each page past the last sync on its own: the default mode (and
// point-in-time) opens with a prefix of the records that holds every synced
// one.
TEST(WalLogTest, LostUnsyncedPagesAlwaysLeaveAPrefixWithEverySyncedRecord) {
  std::mt19937_64 rng(fsdb::test::test_seed(11));
  const int runs = kSanitized ? 60 : 400;
  int holes = 0;  // runs where a page was lost and a later one kept
  for (int run = 0; run < runs; ++run) {
    SCOPED_TRACE("run " + std::to_string(run));
    std::string written;
    std::vector<std::string> records;
    size_t synced_records = 0;
    uint64_t synced = 0;
    std::string cut;  // the log as the power cut leaves it
    {
      LogWriter writer(std::make_unique<test::StringWritableFile>(&written), kLog);
      const int groups = 1 + static_cast<int>(rng() % 40);
      for (int g = 0; g < groups; ++g) {
        std::vector<std::string> group(1 + rng() % 4);
        for (std::string& r : group) {
          r = random_bytes(rng, rng() % 8 == 0 ? rng() % 40000 : rng() % 3000);
        }
        const bool sync = rng() % 4 == 0;
        FSDB_ASSERT_OK(
            writer.add_records(std::vector<std::string_view>(group.begin(), group.end()), sync));
        for (std::string& r : group) records.push_back(std::move(r));
        if (sync) {
          synced = writer.synced_size();
          synced_records = records.size();
        }
      }
      cut = written;  // taken before the writer's destructor could close the log
    }
    uint64_t end = synced;
    bool lost = false;
    bool hole = false;
    for (uint64_t page = synced / 4096 * 4096; page < cut.size(); page += 4096) {
      const uint64_t from = std::max(page, synced);
      const uint64_t to = std::min<uint64_t>(page + 4096, cut.size());
      if (rng() % 2 == 0) {
        end = to;
        hole |= lost;
      } else {
        std::fill(cut.begin() + static_cast<ptrdiff_t>(from),
                  cut.begin() + static_cast<ptrdiff_t>(to), '\0');
        lost = true;
      }
    }
    cut.resize(end);
    holes += hole ? 1 : 0;
    for (WalRecoveryMode mode :
         {WalRecoveryMode::kTolerateCorruptedTail, WalRecoveryMode::kPointInTime}) {
      SCOPED_TRACE(std::string(wal_recovery_mode_name(mode)));
      ReadResult r = read_log(cut, mode);
      FSDB_ASSERT_OK(r.status);
      ASSERT_TRUE(is_prefix(r.records, records));
      ASSERT_GE(r.records.size(), synced_records) << "a synced record was dropped";
    }
  }
  EXPECT_GT(holes, runs / 10) << "too few runs lost a page and kept a later one";
}

// A reader that starts at another's position() (a secondary reading a live
// log again) returns exactly the records after it, wherever the first
// reader stopped: at a record's end, inside a record being written, at a
// block's trailer, in zero-filled room.
TEST(WalLogTest, AReaderGoesOnFromWhereAnotherStopped) {
  std::vector<std::string> records;
  for (int i = 0; i < 40; ++i) {
    // Small, block-spanning and exact-fit records, so that some end within
    // 16 bytes of a block's end and the next starts after the trailer.
    const size_t bytes = i % 7 == 3 ? kBlockBytes + 100 * static_cast<size_t>(i)
                                    : 1 + (static_cast<size_t>(i) * 997) % 5000;
    records.emplace_back(bytes, static_cast<char>('a' + i % 26));
  }
  const BuiltLog log = build_log(records);
  std::vector<uint64_t> cuts;
  for (uint64_t end : log.ends) {
    cuts.push_back(end);
    cuts.push_back(end + 5);   // the next record's header being written
    cuts.push_back(end + 40);  // its payload
  }
  for (uint64_t cut : cuts) {
    if (cut > log.bytes.size()) continue;
    SCOPED_TRACE("first reader saw " + std::to_string(cut) + " bytes");
    // What the first reader saw: the log up to the cut, then room the writer
    // reserved (zeros), as a mapped log looks while it is written.
    std::string seen = log.bytes.substr(0, cut) + std::string(kBlockBytes, '\0');
    LogReader first(std::make_unique<test::StringRandomAccessFile>(seen, "000007.log"), kLog,
                    WalRecoveryMode::kPointInTime);
    std::vector<std::string> got;
    std::string_view record;
    while (first.read_record(&record)) got.emplace_back(record);
    FSDB_ASSERT_OK(first.status());
    ASSERT_NE(first.report().tail_kind, LogTailKind::kCorruption);
    const LogPosition at = first.position();

    LogReader second(std::make_unique<test::StringRandomAccessFile>(log.bytes, "000007.log"), kLog,
                     WalRecoveryMode::kPointInTime);
    second.resume_at(at);
    const size_t before = got.size();
    while (second.read_record(&record)) got.emplace_back(record);
    FSDB_ASSERT_OK(second.status());
    EXPECT_EQ(got, records);
    EXPECT_EQ(second.report().records, records.size() - before);
    EXPECT_EQ(second.report().tail_kind, LogTailKind::kNone);
    EXPECT_EQ(second.position().offset, log.bytes.size());
  }
}

// The report of a reader that went on speaks for the whole log: the syncs
// the first reader saw count, as they would for one reader of all of it.
TEST(WalLogTest, AReaderThatGoesOnReportsTheSyncsBeforeItsStart) {
  const SyncedLog log = build_partly_synced_log(/*synced_after=*/2);
  const ReadResult whole = read_log(log.bytes);
  ASSERT_EQ(whole.report.synced_through, log.synced);

  // The first reader saw records 0-3 (the mark in front of record 3 among
  // them); the second reads on from there, where no mark follows.
  const std::string first_part = log.bytes.substr(0, log.starts[4]);
  LogReader first(std::make_unique<test::StringRandomAccessFile>(first_part, "000007.log"), kLog,
                  WalRecoveryMode::kTolerateCorruptedTail);
  std::string_view record;
  int read = 0;
  while (first.read_record(&record)) ++read;
  ASSERT_EQ(read, 4);
  const LogPosition at = first.position();
  EXPECT_EQ(at.offset, log.starts[4]);
  EXPECT_TRUE(at.has_sync_marks);
  EXPECT_EQ(at.synced_through, log.synced);

  LogReader second(std::make_unique<test::StringRandomAccessFile>(log.bytes, "000007.log"), kLog,
                   WalRecoveryMode::kTolerateCorruptedTail);
  second.resume_at(at);
  while (second.read_record(&record)) ++read;
  FSDB_ASSERT_OK(second.status());
  EXPECT_EQ(read, 10);
  EXPECT_EQ(second.report().records, 6u);
  EXPECT_TRUE(second.report().has_sync_marks);
  EXPECT_EQ(second.report().synced_through, log.synced);
  EXPECT_EQ(second.report().valid_bytes, whole.report.valid_bytes);
}

TEST(WalLogTest, MalformedOrMisplacedSyncMarksAreDamage) {
  const std::string a = fragment(FragmentType::kFull, "a");
  // Version 1 had no sync marks.
  ReadResult v1 = read_log(a + sync_mark(0, 1) + a, WalRecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(v1.status.is_corruption());
  EXPECT_NE(v1.status.message().find("unknown fragment type 5"), std::string::npos);
  // A mark's payload is 8 bytes; a shorter one pads a block and says nothing.
  ReadResult long_mark = read_log(a + fragment(FragmentType::kSyncMark, "123456789") + a,
                                  WalRecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(long_mark.status.is_corruption());
  EXPECT_NE(long_mark.status.message().find("sync mark of 9 bytes"), std::string::npos);
  ReadResult padding = read_log(a + fragment(FragmentType::kSyncMark, "abc") + a,
                                WalRecoveryMode::kAbsoluteConsistency);
  FSDB_ASSERT_OK(padding.status);
  EXPECT_EQ(padding.records, (std::vector<std::string>{"a", "a"}));
  EXPECT_EQ(padding.report.synced_through, 0u);
  // A mark never stands inside a record.
  ReadResult inside = read_log(
      fragment(FragmentType::kFirst, "x") + sync_mark(0) + fragment(FragmentType::kLast, "y") + a,
      WalRecoveryMode::kAbsoluteConsistency);
  ASSERT_TRUE(inside.status.is_corruption());
  EXPECT_NE(inside.status.message().find("record never finished: a sync mark follows"),
            std::string::npos);
}

TEST(WalLogTest, NonZeroBlockTrailerIsDamage) {
  BuiltLog log = build_synced_log({std::string(kBlockBytes - kHeaderBytes - 5, 'a'), "b", "c"});
  std::string damaged = log.bytes;
  damaged[kBlockBytes - 2] = 1;
  ReadResult r = read_log(damaged);
  ASSERT_TRUE(r.status.is_corruption()) << r.status.to_string();
  EXPECT_NE(r.status.message().find("non-zero block trailer"), std::string::npos);
  EXPECT_EQ(r.records.size(), 1u);
}

// A recycled file still holds an older log's fragments after the new log's end;
// and an old log renamed into place is never replayed as the current one.
TEST(WalLogTest, StaleFragmentsOfAnotherLogAreNeverReplayed) {
  std::vector<std::string> old_records(20, std::string(84, 'o'));
  BuiltLog old_log = build_log(old_records, /*log_number=*/5);
  std::vector<std::string> new_records(3, std::string(84, 'n'));
  BuiltLog new_log = build_log(new_records, /*log_number=*/6);
  std::string recycled = old_log.bytes;
  recycled.replace(0, new_log.bytes.size(), new_log.bytes);

  for (WalRecoveryMode mode :
       {WalRecoveryMode::kTolerateCorruptedTail, WalRecoveryMode::kAbsoluteConsistency,
        WalRecoveryMode::kPointInTime, WalRecoveryMode::kSkipAnyCorruptedRecords}) {
    SCOPED_TRACE(std::string(wal_recovery_mode_name(mode)));
    ReadResult r = read_log(recycled, mode, 6);
    FSDB_ASSERT_OK(r.status);
    EXPECT_EQ(r.records, new_records);
    EXPECT_EQ(r.report.tail_kind, LogTailKind::kStale);
    EXPECT_EQ(r.report.tail.offset, new_log.bytes.size());
  }
  ReadResult renamed = read_log(old_log.bytes, WalRecoveryMode::kTolerateCorruptedTail, 6);
  FSDB_ASSERT_OK(renamed.status);
  EXPECT_TRUE(renamed.records.empty());
  EXPECT_EQ(renamed.report.tail_kind, LogTailKind::kStale);
  EXPECT_NE(renamed.report.tail.reason.find("log 5"), std::string::npos);
}

// A file that fails to read: the error is the reader's status, not a silent end.
class FailingRandomAccessFile final : public RandomAccessFile {
 public:
  Status read(uint64_t, size_t, std::string_view*, char*) const override {
    return Status::IOError(path_ + ": pread: Input/output error");
  }
  Status size(uint64_t* bytes) const override {
    *bytes = 100;
    return Status::OK();
  }
  const std::string& path() const override { return path_; }

 private:
  std::string path_ = "bad.log";
};

TEST(WalLogTest, ReadErrorsAreReturned) {
  LogReader reader(std::make_unique<FailingRandomAccessFile>(), kLog,
                   WalRecoveryMode::kSkipAnyCorruptedRecords);
  std::string_view record;
  EXPECT_FALSE(reader.read_record(&record));
  EXPECT_TRUE(reader.status().is_io_error()) << reader.status().to_string();
  EXPECT_FALSE(reader.read_record(&record));
}

TEST(WalLogTest, MissingFileIsNotFound) {
  fsdb::test::ScratchDir dir;
  std::unique_ptr<LogReader> reader;
  Status s = LogReader::open(*posix_file_system(), dir.file("000042.log"), 42,
                             WalRecoveryMode::kTolerateCorruptedTail, &reader);
  EXPECT_TRUE(s.is_not_found()) << s.to_string();
}

// Damage in a record's MIDDLE fragment, in a log whose other records are intact:
// the whole multi-block record is dropped, from its FIRST fragment.
TEST(WalLogTest, DamageInAMiddleFragmentDropsTheWholeRecord) {
  const std::string big(3 * kBlockBytes, 'm');
  BuiltLog log = build_synced_log({"before", big, "after"});
  std::string damaged = log.bytes;
  damaged[log.starts[1] + kBlockBytes + 500] ^= 1;  // inside the MIDDLE fragment
  ReadResult tolerate = read_log(damaged);
  ASSERT_TRUE(tolerate.status.is_corruption());
  EXPECT_NE(tolerate.status.message().find("offset " + std::to_string(log.starts[1]) +
                                           ": checksum mismatch (fragment at offset"),
            std::string::npos)
      << tolerate.status.to_string();
  ReadResult skip = read_log(damaged, WalRecoveryMode::kSkipAnyCorruptedRecords);
  FSDB_ASSERT_OK(skip.status);
  EXPECT_EQ(skip.records, (std::vector<std::string>{"before", "after"}));
  ASSERT_EQ(skip.report.skipped.size(), 1u);
  EXPECT_EQ(skip.report.skipped[0].offset, log.starts[1]);
  EXPECT_EQ(skip.report.skipped[0].bytes, log.starts[2] - log.starts[1]);
}

bool is_subsequence(const std::vector<std::string>& part, const std::vector<std::string>& whole) {
  size_t at = 0;
  for (const std::string& rec : part) {
    while (at < whole.size() && whole[at] != rec) ++at;
    if (at == whole.size()) return false;
    ++at;
  }
  return true;
}

// Random logs with random damage (bit flips, zeroed ranges, garbage, cuts): no
// mode ever returns a record that was not written, or returns records out of
// order; the stopping modes return a prefix.
TEST(WalLogTest, RandomDamageNeverYieldsAForeignRecord) {
  const uint64_t seed = fsdb::test::test_seed(99);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const int iterations = kSanitized ? 60 : 400;
  for (int iteration = 0; iteration < iterations; ++iteration) {
    std::vector<std::string> records;
    const int count = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < count; ++i) {
      // Distinct records, so a subsequence check can tell them apart.
      const size_t size = rng() % 4 == 0 ? rng() % 70000 : rng() % 300;
      std::string record = std::to_string(i) + ":" + random_bytes(rng, size);
      records.push_back(std::move(record));
    }
    BuiltLog log = build_log(records);
    std::string damaged = log.bytes;
    const int damages = 1 + static_cast<int>(rng() % 3);
    for (int d = 0; d < damages && !damaged.empty(); ++d) {
      const size_t at = rng() % damaged.size();
      const size_t len = std::min<size_t>(damaged.size() - at, 1 + rng() % 200);
      switch (rng() % 4) {
        case 0:
          damaged[at] = static_cast<char>(damaged[at] ^ (1 << (rng() % 8)));
          break;
        case 1:
          std::fill(damaged.begin() + static_cast<std::ptrdiff_t>(at),
                    damaged.begin() + static_cast<std::ptrdiff_t>(at + len), '\0');
          break;
        case 2:
          for (size_t i = at; i < at + len; ++i) damaged[i] = static_cast<char>(rng());
          break;
        case 3:
          damaged.resize(at);
          break;
      }
    }
    for (WalRecoveryMode mode :
         {WalRecoveryMode::kTolerateCorruptedTail, WalRecoveryMode::kAbsoluteConsistency,
          WalRecoveryMode::kPointInTime, WalRecoveryMode::kSkipAnyCorruptedRecords}) {
      SCOPED_TRACE("iteration " + std::to_string(iteration) + " mode " +
                   std::string(wal_recovery_mode_name(mode)));
      ReadResult r = read_log(damaged, mode);
      ASSERT_TRUE(r.status.ok() || r.status.is_corruption()) << r.status.to_string();
      if (mode == WalRecoveryMode::kSkipAnyCorruptedRecords) {
        ASSERT_TRUE(is_subsequence(r.records, records));
        FSDB_ASSERT_OK(r.status);
      } else {
        ASSERT_TRUE(is_prefix(r.records, records));
      }
      if (mode == WalRecoveryMode::kPointInTime) {
        FSDB_ASSERT_OK(r.status);
      }
      if (r.status.ok() && r.report.tail_kind != LogTailKind::kNone) {
        EXPECT_EQ(r.report.tail.offset + r.report.tail.bytes, damaged.size());
      }
      if (damaged == log.bytes) {
        FSDB_ASSERT_OK(r.status);
        EXPECT_EQ(r.records, records);
      }
    }
  }
}

TEST(WalLogTest, PosixRoundTripWithSync) {
  fsdb::test::ScratchDir dir;
  auto fs = posix_file_system();
  const std::string path = dir.file("000009.log");
  std::unique_ptr<LogWriter> writer;
  FSDB_ASSERT_OK(LogWriter::create(*fs, path, 9, {}, &writer));
  std::mt19937_64 rng(fsdb::test::test_seed(3));
  std::vector<std::string> records;
  for (int i = 0; i < 300; ++i) records.push_back(random_bytes(rng, rng() % 3000));
  for (size_t i = 0; i < records.size(); i += 3) {
    std::vector<std::string_view> group(records.begin() + static_cast<std::ptrdiff_t>(i),
                                        records.begin() + static_cast<std::ptrdiff_t>(i + 3));
    FSDB_ASSERT_OK(writer->add_records(group, i % 30 == 0));
  }
  FSDB_ASSERT_OK(writer->close());
  std::unique_ptr<LogReader> reader;
  FSDB_ASSERT_OK(LogReader::open(*fs, path, 9, WalRecoveryMode::kAbsoluteConsistency, &reader));
  std::string_view record;
  size_t n = 0;
  while (reader->read_record(&record)) {
    ASSERT_LT(n, records.size());
    ASSERT_EQ(record, records[n]);
    ++n;
  }
  FSDB_ASSERT_OK(reader->status());
  EXPECT_EQ(n, records.size());
}

uint64_t records_bytes(const std::vector<std::string>& records) {
  uint64_t n = 0;
  for (const std::string& r : records) n += r.size();
  return n;
}

TEST(WalLogTest, MappedLogSurvivesACrashedWriterWithAllItsRecords) {
  // A child process appends through a mapped log and dies without closing it:
  // the file keeps its reserved zeros after the records. Every record handed
  // to the OS (flushed or not: with a mapping, appended is handed over) must
  // come back, in every recovery mode, and the zeros must read as the end.
  fsdb::test::ScratchDir dir;
  auto fs = posix_file_system();
  const std::string path = dir.file("000011.log");
  std::mt19937_64 rng(fsdb::test::test_seed(4));
  std::vector<std::string> records;
  // About 3 MiB: crosses two 1 MiB reservation steps.
  for (int i = 0; i < 1500; ++i) records.push_back(random_bytes(rng, rng() % 4000));
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    LogWriterOptions options;
    options.use_mmap = true;
    std::unique_ptr<LogWriter> writer;
    if (!LogWriter::create(*fs, path, 11, options, &writer).ok()) _exit(2);
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string_view one = records[i];
      if (!writer->add_records({&one, 1}, /*sync=*/i % 500 == 0).ok()) _exit(3);
    }
    _exit(0);  // no close: the reserved tail stays
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  uint64_t file_size = 0;
  FSDB_ASSERT_OK(fs->get_file_size(path, &file_size));
  EXPECT_EQ(file_size % (64 << 10), 0u) << "the file ends on a size step";
  EXPECT_LT(file_size, records_bytes(records) * 2) << "the file stays close to its data";
  for (WalRecoveryMode mode :
       {WalRecoveryMode::kAbsoluteConsistency, WalRecoveryMode::kTolerateCorruptedTail,
        WalRecoveryMode::kPointInTime, WalRecoveryMode::kSkipAnyCorruptedRecords}) {
    std::unique_ptr<LogReader> reader;
    FSDB_ASSERT_OK(LogReader::open(*fs, path, 11, mode, &reader));
    std::string_view record;
    size_t n = 0;
    while (reader->read_record(&record)) {
      ASSERT_LT(n, records.size());
      ASSERT_EQ(record, records[n]);
      ++n;
    }
    FSDB_ASSERT_OK(reader->status());
    EXPECT_EQ(n, records.size());
    EXPECT_EQ(reader->report().tail_kind, LogTailKind::kZeroFilled);
  }

  // Closed properly, the same log is exactly as long as its records and the
  // sync mark close() adds after the last sync.
  LogWriterOptions options;
  options.use_mmap = true;
  std::unique_ptr<LogWriter> writer;
  FSDB_ASSERT_OK(LogWriter::create(*fs, path, 11, options, &writer));
  for (const std::string& r : records) FSDB_ASSERT_OK(writer->add_record(r));
  FSDB_ASSERT_OK(writer->sync());
  const uint64_t synced = writer->size();
  FSDB_ASSERT_OK(writer->close());
  const uint64_t logged = writer->size();
  EXPECT_GE(logged, synced + kHeaderBytes + kSyncMarkPayloadBytes);
  FSDB_ASSERT_OK(fs->get_file_size(path, &file_size));
  EXPECT_EQ(file_size, logged);
  std::unique_ptr<LogReader> reader;
  FSDB_ASSERT_OK(LogReader::open(*fs, path, 11, WalRecoveryMode::kAbsoluteConsistency, &reader));
  std::string_view record;
  size_t n = 0;
  while (reader->read_record(&record)) ASSERT_EQ(record, records[n++]);
  FSDB_ASSERT_OK(reader->status());
  EXPECT_EQ(n, records.size());
  EXPECT_EQ(reader->report().tail_kind, LogTailKind::kNone);
}

}  // namespace
}  // namespace fsdb::wal
