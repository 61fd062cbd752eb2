// The bytes of a log (WAL or MANIFEST) as tests damage them.
#pragma once

#include <cstddef>
#include <string_view>

#include "util/coding.h"
#include "wal/log_format.h"

namespace fsdb::test {

// The log's size without the sync mark LogWriter::close() appends after a
// last sync: what a writer that died instead of closing leaves, so that a
// test can damage the log's last record where a crash would.
inline size_t bytes_before_closing_sync_mark(std::string_view log) {
  constexpr size_t kMarkBytes = wal::kHeaderBytes + wal::kSyncMarkPayloadBytes;
  if (log.size() < kMarkBytes) return log.size();
  const char* mark = log.data() + log.size() - kMarkBytes;
  const bool is_mark =
      static_cast<uint8_t>(mark[wal::header_offset::kType]) ==
          static_cast<uint8_t>(wal::FragmentType::kSyncMark) &&
      decode_fixed16(mark + wal::header_offset::kLength) == wal::kSyncMarkPayloadBytes &&
      decode_fixed32(mark + wal::header_offset::kChecksum) ==
          wal::fragment_checksum(mark, wal::kSyncMarkPayloadBytes);
  return is_mark ? log.size() - kMarkBytes : log.size();
}

}  // namespace fsdb::test
