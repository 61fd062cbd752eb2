#include "tools/text.h"

#include <algorithm>
#include <cstdio>
#include <ctime>

namespace fsdb::tool {

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

constexpr char kHexDigits[] = "0123456789abcdef";

}  // namespace

std::string escape(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size());
  for (unsigned char c : bytes) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHexDigits[c >> 4];
      out += kHexDigits[c & 0xf];
    }
  }
  return out;
}

Status unescape(std::string_view text, std::string* bytes) {
  bytes->clear();
  bytes->reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c != '\\') {
      *bytes += c;
      continue;
    }
    if (i + 1 >= text.size()) {
      return Status::InvalidArgument("'" + std::string(text) + "': a lone backslash at the end");
    }
    const char next = text[++i];
    switch (next) {
      case '\\':
        *bytes += '\\';
        break;
      case 'n':
        *bytes += '\n';
        break;
      case 't':
        *bytes += '\t';
        break;
      case 'r':
        *bytes += '\r';
        break;
      case '0':
        *bytes += '\0';
        break;
      case '"':
        *bytes += '"';
        break;
      case '\'':
        *bytes += '\'';
        break;
      case ' ':
        *bytes += ' ';
        break;
      case 'x': {
        const int hi = i + 1 < text.size() ? hex_digit(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? hex_digit(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
          return Status::InvalidArgument("'" + std::string(text) +
                                         "': \\x must be followed by two hex digits");
        }
        *bytes += static_cast<char>(hi * 16 + lo);
        i += 2;
        break;
      }
      default:
        return Status::InvalidArgument("'" + std::string(text) + "': unknown escape \\" +
                                       std::string(1, next));
    }
  }
  return Status::OK();
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += kHexDigits[c >> 4];
    out += kHexDigits[c & 0xf];
  }
  return out;
}

Status from_hex(std::string_view text, std::string* bytes) {
  if (text.size() % 2 != 0) {
    return Status::InvalidArgument("'" + std::string(text) + "': odd number of hex digits");
  }
  bytes->clear();
  for (size_t i = 0; i < text.size(); i += 2) {
    const int hi = hex_digit(text[i]);
    const int lo = hex_digit(text[i + 1]);
    if (hi < 0 || lo < 0) {
      return Status::InvalidArgument("'" + std::string(text) + "': not hex");
    }
    *bytes += static_cast<char>(hi * 16 + lo);
  }
  return Status::OK();
}

std::string human_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), value < 10 ? "%.2f %s" : (value < 100 ? "%.1f %s" : "%.0f %s"),
                value, kUnits[unit]);
  return buf;
}

std::string human_seconds(double seconds) {
  char buf[32];
  if (seconds < 60) {
    std::snprintf(buf, sizeof(buf), "%.1f s", seconds);
  } else if (seconds < 3600) {
    const int whole = static_cast<int>(seconds);
    std::snprintf(buf, sizeof(buf), "%d m %02d s", whole / 60, whole % 60);
  } else {
    const int whole = static_cast<int>(seconds);
    std::snprintf(buf, sizeof(buf), "%d h %02d m", whole / 3600, whole / 60 % 60);
  }
  return buf;
}

std::string count_of(uint64_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

std::string utc_time(uint64_t seconds) {
  if (seconds == 0) return "unknown";
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  if (::gmtime_r(&time, &parts) == nullptr) return std::to_string(seconds);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &parts);
  return buf;
}

std::string human_count(double count) {
  char buf[32];
  if (count < 1000) {
    std::snprintf(buf, sizeof(buf), "%.0f", count);
  } else if (count < 1e6) {
    std::snprintf(buf, sizeof(buf), "%.1f K", count / 1e3);
  } else if (count < 1e9) {
    std::snprintf(buf, sizeof(buf), "%.2f M", count / 1e6);
  } else {
    std::snprintf(buf, sizeof(buf), "%.2f G", count / 1e9);
  }
  return buf;
}

std::string json_error_code(Status::Code code) {
  // The human name with each word capitalised and joined: "Invalid argument"
  // becomes "InvalidArgument", "IO error" "IOError"; "NotFound" stays.
  std::string id;
  bool word_start = true;
  for (const char c : status_code_name(code)) {
    if (c == ' ') {
      word_start = true;
      continue;
    }
    id += word_start && c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
    word_start = false;
  }
  return id;
}

namespace {
// The length of the well-formed UTF-8 sequence at text[i] (RFC 3629: no
// overlong forms, no surrogates, nothing past U+10FFFF), or 0.
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  size_t length = 0;
  unsigned char low = 0x80;  // the second byte's range
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead == 0xe0) low = 0xa0;
    if (lead == 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead == 0xf0) low = 0x90;
    if (lead == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  if (byte(i + 1) < low || byte(i + 1) > high) return 0;
  for (size_t k = 2; k < length; ++k) {
    if (byte(i + k) < 0x80 || byte(i + k) > 0xbf) return 0;
  }
  return length;
}
}  // namespace

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      // Text that is not UTF-8 (raw bytes in an echoed argument or a path)
      // in its escaped form, so that the output stays valid JSON.
      if (const size_t length = utf8_sequence_length(text, i); length > 0) {
        out.append(text.substr(i, length));
        i += length - 1;
      } else {
        out += "\\\\x";
        out += kHexDigits[c >> 4];
        out += kHexDigits[c & 0xf];
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
  return out;
}

Status split_words(std::string_view line, std::vector<std::string>* words) {
  words->clear();
  size_t i = 0;
  while (true) {
    while (i < line.size() &&
           (line[i] == ' ' || line[i] == '\t' || line[i] == '\r' || line[i] == '\n')) {
      ++i;
    }
    if (i >= line.size()) break;
    std::string word;
    bool in_word = true;
    while (in_word && i < line.size()) {
      const char c = line[i];
      if (c == '\'' || c == '"') {
        // Escapes keep working inside either kind of quote, so a
        // backslash-escaped quote does not close the word.
        size_t end = i + 1;
        while (end < line.size() && line[end] != c) end += line[end] == '\\' ? 2 : 1;
        if (end >= line.size()) {
          return Status::InvalidArgument("unterminated " + std::string(1, c) + " quote");
        }
        // An escaped quote is the quote itself from here on, as `\ ` is a
        // space outside quotes: file names take the words as they are, and
        // keys and values read the same either way (unescape()).
        for (size_t k = i + 1; k < end; ++k) {
          if (line[k] == '\\' && (line[k + 1] == '\'' || line[k + 1] == '"')) {
            word += line[++k];
          } else if (line[k] == '\\') {
            word.append(line.substr(k++, 2));
          } else {
            word += line[k];
          }
        }
        i = end + 1;
      } else if (c == '\\' && i + 1 < line.size() &&
                 (line[i + 1] == ' ' || line[i + 1] == '\'' || line[i + 1] == '"')) {
        word += line[i + 1];
        i += 2;
      } else if (c == '\\' && i + 1 < line.size()) {
        word.append(line.substr(i, 2));
        i += 2;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
        in_word = false;
      } else {
        word += c;
        ++i;
      }
    }
    words->push_back(std::move(word));
  }
  return Status::OK();
}

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace fsdb::tool
