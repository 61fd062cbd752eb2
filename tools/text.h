// Text helpers of the fsdb tool: the binary-safe escaped form of keys and
// values, hex, human-readable sizes, JSON string quoting, shell-like line
// splitting and edit distance (for "did you mean").
//
// The escaped form: printable ASCII stays as it is, a backslash is "\\", and
// every other byte is "\xNN". unescape() also accepts \n, \t, \r, \0, \" and \'.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fsdb/status.h"

namespace fsdb::tool {

std::string escape(std::string_view bytes);
Status unescape(std::string_view text, std::string* bytes);

std::string to_hex(std::string_view bytes);
Status from_hex(std::string_view text, std::string* bytes);

// "0 B", "512 B", "12.4 MiB".
std::string human_bytes(uint64_t bytes);
// "1.2 s", "3 m 05 s".
std::string human_seconds(double seconds);
// "12,345"-free compact count: "980", "1.2 K", "3.4 M".
std::string human_count(double count);
// "1 record", "3 records": `count` and the noun, plural but for one.
std::string count_of(uint64_t count, std::string_view noun);
// "2026-12-07 09:05:12 UTC" for seconds since the Unix epoch; "unknown" for 0.
std::string utc_time(uint64_t seconds);

// A JSON string literal (quotes included) of UTF-8 or escaped text.
std::string json_quote(std::string_view text);

// The "code" member of a JSON error: one identifier per Status code (NotFound,
// Corruption, IOError, InvalidArgument, Busy, NotSupported), for scripts to
// compare; the human form ("Invalid argument: ...") is Status::to_string()'s.
std::string json_error_code(Status::Code code);

// Splits a command line into words. Whitespace separates words; '...' and "..."
// group a word with spaces in it. Backslash sequences are kept as they are (the
// commands unescape keys and values), except that "\ ", "\'" and "\"" are the
// space or quote itself, in quotes or not (so a file name can hold them).
// InvalidArgument for an unterminated quote.
Status split_words(std::string_view line, std::vector<std::string>* words);

size_t edit_distance(std::string_view a, std::string_view b);

}  // namespace fsdb::tool
