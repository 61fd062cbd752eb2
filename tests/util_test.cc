// util/: Status, the encodings and the checksums.
#include <gtest/gtest.h>

#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>

#include "fsdb/status.h"
#include "util/checksum.h"
#include "util/coding.h"
#include "util/path.h"

namespace fsdb {
namespace {

TEST(StatusTest, OkHasNoMessage) {
  Status s = Status::OK();
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.to_string(), "OK");
  EXPECT_EQ(Status(), Status::OK());
}

TEST(StatusTest, EachCodeHasItsPredicateAndName) {
  struct Case {
    Status status;
    bool (Status::*predicate)() const;
    const char* text;
  };
  const Case cases[] = {
      {Status::NotFound("k"), &Status::is_not_found, "NotFound: k"},
      {Status::Corruption("000012.sst: block at offset 8192: checksum mismatch"),
       &Status::is_corruption, "Corruption: 000012.sst: block at offset 8192: checksum mismatch"},
      {Status::IOError("f: write: No space left on device"), &Status::is_io_error,
       "IO error: f: write: No space left on device"},
      {Status::InvalidArgument("block_bytes"), &Status::is_invalid_argument,
       "Invalid argument: block_bytes"},
      {Status::Busy("LOCK"), &Status::is_busy, "Busy: LOCK"},
      {Status::NotSupported("x"), &Status::is_not_supported, "Not supported: x"},
  };
  for (const Case& c : cases) {
    EXPECT_FALSE(c.status.ok());
    EXPECT_TRUE((c.status.*c.predicate)()) << c.text;
    EXPECT_EQ(c.status.to_string(), c.text);
    for (const Case& other : cases) {
      if (&other != &c) {
        EXPECT_FALSE((c.status.*other.predicate)()) << c.text;
      }
    }
  }
  EXPECT_EQ(Status::NotFound().to_string(), "NotFound");
}

TEST(StatusTest, WithContextPrefixesTheMessageAndKeepsTheCode) {
  Status s = Status::Corruption("checksum mismatch").with_context("000007.log: offset 96");
  EXPECT_TRUE(s.is_corruption());
  EXPECT_EQ(s.message(), "000007.log: offset 96: checksum mismatch");
  EXPECT_TRUE(Status::OK().with_context("x").ok());
}

TEST(CodingTest, FixedWidthRoundTripsLittleEndian) {
  std::string buf;
  put_fixed16(&buf, 0x0102);
  put_fixed32(&buf, 0x01020304u);
  put_fixed64(&buf, 0x0102030405060708ull);
  ASSERT_EQ(buf.size(), 14u);
  EXPECT_EQ(static_cast<unsigned char>(buf[0]), 0x02);
  EXPECT_EQ(static_cast<unsigned char>(buf[2]), 0x04);
  EXPECT_EQ(static_cast<unsigned char>(buf[6]), 0x08);
  EXPECT_EQ(decode_fixed16(buf.data()), 0x0102);
  EXPECT_EQ(decode_fixed32(buf.data() + 2), 0x01020304u);
  EXPECT_EQ(decode_fixed64(buf.data() + 6), 0x0102030405060708ull);

  std::string_view in(buf.data() + 2, 12);
  uint32_t v32 = 0;
  uint64_t v64 = 0;
  ASSERT_TRUE(get_fixed32(&in, &v32));
  ASSERT_TRUE(get_fixed64(&in, &v64));
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(get_fixed32(&in, &v32));
}

TEST(CodingTest, Varint64RoundTripsEveryPowerOfTwoNeighbourhood) {
  std::vector<uint64_t> values = {
      0, 1, 127, 128, 255, 256, 16383, 16384, std::numeric_limits<uint64_t>::max()};
  for (int shift = 0; shift < 64; ++shift) {
    uint64_t p = uint64_t{1} << shift;
    values.insert(values.end(), {p - 1, p, p + 1});
  }
  std::string buf;
  for (uint64_t v : values) put_varint64(&buf, v);
  std::string_view in(buf);
  for (uint64_t v : values) {
    uint64_t got = 0;
    const size_t before = in.size();
    ASSERT_TRUE(get_varint64(&in, &got));
    EXPECT_EQ(got, v);
    EXPECT_EQ(before - in.size(), varint_length(v));
  }
  EXPECT_TRUE(in.empty());
}

TEST(CodingTest, Varint32RejectsValuesThatDoNotFit) {
  std::string buf;
  put_varint64(&buf, uint64_t{1} << 32);
  std::string_view in(buf);
  uint32_t v = 0;
  EXPECT_FALSE(get_varint32(&in, &v));
  EXPECT_EQ(in.size(), buf.size()) << "a failed decode consumes nothing";

  buf.clear();
  put_varint32(&buf, std::numeric_limits<uint32_t>::max());
  in = buf;
  ASSERT_TRUE(get_varint32(&in, &v));
  EXPECT_EQ(v, std::numeric_limits<uint32_t>::max());
}

TEST(CodingTest, TruncatedAndOverlongVarintsAreRejectedWithoutOverRead) {
  std::string buf;
  put_varint64(&buf, std::numeric_limits<uint64_t>::max());
  for (size_t len = 0; len < buf.size(); ++len) {
    // Copy into an exact-size heap buffer so ASan catches any over-read.
    std::unique_ptr<char[]> exact(new char[len == 0 ? 1 : len]);
    std::memcpy(exact.get(), buf.data(), len);
    std::string_view in(exact.get(), len);
    uint64_t v = 0;
    EXPECT_FALSE(get_varint64(&in, &v)) << len;
  }
  std::string overlong(11, '\x80');
  overlong.back() = 0x01;
  std::string_view in(overlong);
  uint64_t v = 0;
  EXPECT_FALSE(get_varint64(&in, &v));
  // Ten bytes whose last carries bits beyond 64.
  std::string too_big(9, '\xff');
  too_big.push_back(0x02);
  in = too_big;
  EXPECT_FALSE(get_varint64(&in, &v));
}

TEST(CodingTest, LengthPrefixedHandlesBinaryAndRejectsShortInput) {
  std::string buf;
  const std::string binary("a\0b\xff", 4);
  put_length_prefixed(&buf, binary);
  put_length_prefixed(&buf, "");
  std::string_view in(buf), out;
  ASSERT_TRUE(get_length_prefixed(&in, &out));
  EXPECT_EQ(out, binary);
  ASSERT_TRUE(get_length_prefixed(&in, &out));
  EXPECT_EQ(out, "");
  EXPECT_TRUE(in.empty());

  std::string short_buf;
  put_varint64(&short_buf, 10);
  short_buf += "abc";
  in = short_buf;
  EXPECT_FALSE(get_length_prefixed(&in, &out));
  EXPECT_EQ(in.size(), short_buf.size());
}

TEST(PathTest, ParentDirectoryIgnoresTrailingAndDoubledSlashes) {
  EXPECT_EQ(parent_directory("db/000001.log"), "db");
  EXPECT_EQ(parent_directory("db//000001.log"), "db");  // a DB opened as "db/"
  EXPECT_EQ(parent_directory("a/b/"), "a");
  EXPECT_EQ(parent_directory("/data/db"), "/data");
  EXPECT_EQ(parent_directory("/db"), "/");
  EXPECT_EQ(parent_directory("//db"), "/");
  EXPECT_EQ(parent_directory("db"), ".");
  EXPECT_EQ(parent_directory("db/"), ".");
}

TEST(ChecksumTest, MatchesKnownXxh3ValuesAndSplitsAgree) {
  // XXH3-64 of the empty input with seed 0 is a published constant.
  EXPECT_EQ(checksum64(""), 0x2D06800538D394C2ull);
  const std::string data = "the quick brown fox jumps over the lazy dog";
  for (size_t split = 0; split <= data.size(); ++split) {
    EXPECT_EQ(
        checksum64(std::string_view(data).substr(0, split), std::string_view(data).substr(split)),
        checksum64(data));
  }
  EXPECT_EQ(checksum32(data), static_cast<uint32_t>(checksum64(data)));
}

TEST(ChecksumTest, EverySingleBitFlipChangesTheChecksum) {
  std::string data(300, '\0');
  std::mt19937_64 rng(42);
  for (char& c : data) c = static_cast<char>(rng());
  const uint64_t base = checksum64(data);
  for (size_t i = 0; i < data.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      data[i] = static_cast<char>(data[i] ^ (1 << bit));
      EXPECT_NE(checksum64(data), base) << "byte " << i << " bit " << bit;
      data[i] = static_cast<char>(data[i] ^ (1 << bit));
    }
  }
}

}  // namespace
}  // namespace fsdb
