// The write-ahead log's on-disk framing, shared by LogWriter and LogReader.
//
// A log file is a sequence of 32 KiB blocks. A record is cut into fragments that
// never cross a block boundary; each fragment has a 16-byte header:
//
//   offset  size  field
//   0       4     checksum: low 32 bits of XXH3-64 over header bytes [4, 16) and the payload
//   4       2     payload length, little-endian (0 .. kMaxFragmentPayload)
//   6       1     fragment type (FragmentType)
//   7       1     format version (kLogFormatVersion; version 1 is read too)
//   8       8     log number of the file the fragment was written for, little-endian
//   16      n     payload
//
// When fewer than 16 bytes remain in a block, the writer fills them with zeros
// and the next fragment starts the next block.
//
// Version 2 adds the sync mark: a fragment of its own, between records, whose
// 8-byte payload is the offset the log had been synced through (fdatasync
// returned) when the mark was written. The writer puts one in front of the
// first record after each sync. A reader that meets damage followed by valid
// fragments uses the marks to tell data that was once durable, where damage
// is corruption, from data written after the last sync, which a power cut may
// lose in any order. docs/format.md has the full description. Everything here is constants and pure
// functions: thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "util/checksum.h"
#include "util/coding.h"

namespace fsdb::wal {

inline constexpr uint8_t kLogFormatVersion = 2;
// The oldest version this build reads: version 1 logs have no sync marks.
inline constexpr uint8_t kOldestLogFormatVersion = 1;
inline constexpr size_t kBlockBytes = 32 * 1024;
inline constexpr size_t kHeaderBytes = 16;
inline constexpr size_t kMaxFragmentPayload = kBlockBytes - kHeaderBytes;

// Type 0 is never written: a header whose type byte is zero is zero-filled space
// (preallocation, or a file extended by a crash before its data reached the disk).
enum class FragmentType : uint8_t {
  kZero = 0,
  kFull = 1,    // a whole record
  kFirst = 2,   // the first piece of a record that spans blocks
  kMiddle = 3,  // an inner piece
  kLast = 4,    // the final piece
  // Version 2: not part of any record; the payload is the synced offset.
  kSyncMark = 5,
};
inline constexpr uint8_t kMaxFragmentType = static_cast<uint8_t>(FragmentType::kSyncMark);
inline constexpr size_t kSyncMarkPayloadBytes = 8;

namespace header_offset {
inline constexpr size_t kChecksum = 0;
inline constexpr size_t kLength = 4;
inline constexpr size_t kType = 6;
inline constexpr size_t kVersion = 7;
inline constexpr size_t kLogNumber = 8;
}  // namespace header_offset

// The checksum of the fragment at `fragment` (header followed by `payload_bytes`
// of payload, contiguous): everything after the checksum field itself, so that
// the length, type, version and log number are covered as well as the payload.
inline uint32_t fragment_checksum(const char* fragment, size_t payload_bytes) {
  return checksum32(std::string_view(fragment + header_offset::kLength,
                                     kHeaderBytes - header_offset::kLength + payload_bytes));
}

// Writes a complete header at dst, whose payload must already follow it at
// dst + kHeaderBytes.
inline void encode_fragment_header(char* dst, FragmentType type, uint64_t log_number,
                                   size_t payload_bytes) {
  encode_fixed16(dst + header_offset::kLength, static_cast<uint16_t>(payload_bytes));
  dst[header_offset::kType] = static_cast<char>(type);
  dst[header_offset::kVersion] = static_cast<char>(kLogFormatVersion);
  encode_fixed64(dst + header_offset::kLogNumber, log_number);
  encode_fixed32(dst + header_offset::kChecksum, fragment_checksum(dst, payload_bytes));
}

}  // namespace fsdb::wal
