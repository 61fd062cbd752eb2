// The write-batch encoding: exact bytes, round trips, and rejection of every
// malformed input the decoder could be handed.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/test_util.h"
#include "util/coding.h"
#include "wal/write_batch_encoding.h"

namespace fsdb::wal {
namespace {

TEST(WalWriteBatchTest, EncodingIsAsDocumented) {
  WriteBatchBuilder batch;
  batch.put("k", "vv");
  batch.remove("x");
  batch.set_base_sequence(0x0102030405);
  const std::string expected = std::string("\x05\x04\x03\x02\x01\0\0\0", 8) +
                               std::string("\x02\0\0\0", 4) + std::string("\x01\x01k\x02vv", 6) +
                               std::string("\x00\x01x", 3);
  EXPECT_EQ(batch.encoded(), expected);
  EXPECT_EQ(batch.count(), 2u);
  EXPECT_EQ(batch.base_sequence(), 0x0102030405u);
}

TEST(WalWriteBatchTest, RoundTripWithBinaryAndEmptyKeysAndValues) {
  WriteBatchBuilder batch;
  const std::string nul_key("a\0b", 3);
  const std::string long_value(300, 'v');  // a two-byte varint length
  batch.put(nul_key, "");
  batch.put("", long_value);
  batch.remove(nul_key);
  batch.put("k", "v");
  batch.set_base_sequence(42);
  DecodedWriteBatch decoded;
  FSDB_ASSERT_OK(decode_write_batch(batch.encoded(), &decoded));
  EXPECT_EQ(decoded.base_sequence, 42u);
  ASSERT_EQ(decoded.entries.size(), 4u);
  EXPECT_EQ(decoded.entries[0].kind, ValueKind::kValue);
  EXPECT_EQ(decoded.entries[0].key, nul_key);
  EXPECT_EQ(decoded.entries[0].value, "");
  EXPECT_EQ(decoded.entries[1].key, "");
  EXPECT_EQ(decoded.entries[1].value, long_value);
  EXPECT_EQ(decoded.entries[2].kind, ValueKind::kTombstone);
  EXPECT_EQ(decoded.entries[2].key, nul_key);
  EXPECT_EQ(decoded.entries[3].value, "v");

  batch.clear();
  EXPECT_EQ(batch.count(), 0u);
  EXPECT_EQ(batch.encoded_bytes(), kWriteBatchHeaderBytes);
  FSDB_ASSERT_OK(decode_write_batch(batch.encoded(), &decoded));
  EXPECT_TRUE(decoded.entries.empty());
}

TEST(WalWriteBatchTest, EveryTruncationIsRejected) {
  WriteBatchBuilder batch;
  batch.put("key-one", "value-one");
  batch.remove("key-two");
  batch.put(std::string(200, 'k'), std::string(200, 'v'));
  const std::string_view full = batch.encoded();
  DecodedWriteBatch decoded;
  for (size_t len = 0; len < full.size(); ++len) {
    Status s = decode_write_batch(full.substr(0, len), &decoded);
    EXPECT_TRUE(s.is_corruption()) << "length " << len << ": " << s.to_string();
  }
  FSDB_EXPECT_OK(decode_write_batch(full, &decoded));
}

std::string header(uint64_t sequence, uint32_t count) {
  std::string s;
  put_fixed64(&s, sequence);
  put_fixed32(&s, count);
  return s;
}

TEST(WalWriteBatchTest, MalformedBatchesAreCorruption) {
  DecodedWriteBatch decoded;
  auto rejects = [&](const std::string& encoded, std::string_view words) {
    Status s = decode_write_batch(encoded, &decoded);
    EXPECT_TRUE(s.is_corruption()) << s.to_string();
    EXPECT_NE(s.message().find(words), std::string::npos) << s.to_string();
  };
  rejects("short", "shorter than its 12-byte header");
  rejects(header(1, 1), "does not fit");
  rejects(header(1, 0xffffffff) + std::string(100, '\0'), "does not fit");
  rejects(header(1, 1) + std::string("\x01\x01k\x01vEXTRA", 10), "after the last");
  rejects(header(1, 2) + std::string("\x01\x01k\x01v", 5), "entry 1");
  rejects(header(1, 1) + std::string("\x07\x01k", 3), "unknown kind 7");
  rejects(header(1, 1) + std::string("\x01\x05k\x01v", 5), "bad key length");
  rejects(header(1, 1) + std::string("\x01\x01k\x09v", 5), "bad value length");
  // A length varint that never ends, and one too long for 64 bits.
  rejects(header(1, 1) + std::string("\x00\xff\xff\xff", 4), "bad key length");
  rejects(header(1, 1) + std::string(1, '\0') + std::string(11, '\xff') + "\x01", "bad key length");
  rejects(header(kMaxSequenceNumber, 2) + std::string("\x00\x01k\x00\x01k", 6), "overflow");
  rejects(header(kMaxSequenceNumber + 1, 1) + std::string("\x00\x01k", 3), "overflow");
  // The last representable sequence is fine.
  FSDB_EXPECT_OK(
      decode_write_batch(header(kMaxSequenceNumber, 1) + std::string("\x00\x01k", 3), &decoded));
}

}  // namespace
}  // namespace fsdb::wal
