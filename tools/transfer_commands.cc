// load FILE and export FILE: key/value pairs to and from CSV, TSV and JSON
// lines. Keys and values are in the escaped form (\xNN) in every format, or
// hex with --hex, so a file is plain printable text whatever the bytes.
//
//   csv    key,value           a header line "key,value"; RFC 4180 quoting
//   tsv    key<TAB>value       a header line "key<TAB>value"
//   jsonl  {"key": "...", "value": "..."} one object a line
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <optional>
#include <system_error>

#include "tools/commands.h"
#include "tools/live_files.h"
#include "tools/progress.h"
#include "tools/text.h"

namespace fsdb::tool {

namespace {

template <typename T>
CommandInfo info(std::string name, std::string summary) {
  return {std::move(name), std::move(summary), [] { return std::make_unique<T>(); }};
}

std::string format_from_name(const std::string& path) {
  const auto ends = [&](std::string_view suffix) { return path.ends_with(suffix); };
  if (ends(".tsv") || ends(".tab")) return "tsv";
  if (ends(".jsonl") || ends(".ndjson") || ends(".json")) return "jsonl";
  return "csv";
}

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

// Splits one CSV line (no embedded newlines: escaped text has none).
bool parse_csv_line(std::string_view line, std::vector<std::string>* fields) {
  fields->clear();
  std::string field;
  size_t i = 0;
  while (true) {
    field.clear();
    if (i < line.size() && line[i] == '"') {
      ++i;
      while (true) {
        if (i >= line.size()) return false;  // unterminated quote
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field += '"';
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field += line[i++];
      }
      if (i < line.size() && line[i] != ',') return false;
    } else {
      while (i < line.size() && line[i] != ',') field += line[i++];
    }
    fields->push_back(field);
    if (i >= line.size()) return true;
    ++i;  // the comma
  }
}

void append_utf8(uint32_t code, std::string* out) {
  if (code < 0x80) {
    *out += static_cast<char>(code);
  } else if (code < 0x800) {
    *out += static_cast<char>(0xc0 | (code >> 6));
    *out += static_cast<char>(0x80 | (code & 0x3f));
  } else if (code < 0x10000) {
    *out += static_cast<char>(0xe0 | (code >> 12));
    *out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (code & 0x3f));
  } else {
    *out += static_cast<char>(0xf0 | (code >> 18));
    *out += static_cast<char>(0x80 | ((code >> 12) & 0x3f));
    *out += static_cast<char>(0x80 | ((code >> 6) & 0x3f));
    *out += static_cast<char>(0x80 | (code & 0x3f));
  }
}

// The four hex digits of a \u escape at `at`, or nullopt.
std::optional<uint32_t> parse_u_escape(std::string_view line, size_t at) {
  if (at + 4 > line.size()) return std::nullopt;
  std::string bytes;
  if (!from_hex(line.substr(at, 4), &bytes).ok()) return std::nullopt;
  return (static_cast<uint32_t>(static_cast<uint8_t>(bytes[0])) << 8) |
         static_cast<uint8_t>(bytes[1]);
}

// What the last failed call left in errno, for a stream that failed to open.
std::string errno_text() { return std::error_code(errno, std::generic_category()).message(); }

// Parses {"key": "...", "value": "..."} (other string members are ignored).
bool parse_json_line(std::string_view line, std::string* key, std::string* value) {
  size_t i = 0;
  const auto skip_space = [&] {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
  };
  const auto parse_string = [&](std::string* out) {
    skip_space();
    if (i >= line.size() || line[i] != '"') return false;
    ++i;
    out->clear();
    while (i < line.size() && line[i] != '"') {
      if (line[i] != '\\') {
        *out += line[i++];
        continue;
      }
      if (++i >= line.size()) return false;
      const char c = line[i++];
      switch (c) {
        case '"':
          *out += '"';
          break;
        case '\\':
          *out += '\\';
          break;
        case '/':
          *out += '/';
          break;
        case 'n':
          *out += '\n';
          break;
        case 't':
          *out += '\t';
          break;
        case 'r':
          *out += '\r';
          break;
        case 'b':
          *out += '\b';
          break;
        case 'f':
          *out += '\f';
          break;
        case 'u': {
          std::optional<uint32_t> code = parse_u_escape(line, i);
          if (!code) return false;
          i += 4;
          if (*code >= 0xdc00 && *code <= 0xdfff) return false;  // a low surrogate alone
          if (*code >= 0xd800 && *code <= 0xdbff) {
            // A character past U+FFFF: a high surrogate, then a low one.
            if (i + 2 > line.size() || line[i] != '\\' || line[i + 1] != 'u') return false;
            const std::optional<uint32_t> low = parse_u_escape(line, i + 2);
            if (!low || *low < 0xdc00 || *low > 0xdfff) return false;
            i += 6;
            code = 0x10000 + ((*code - 0xd800) << 10) + (*low - 0xdc00);
          }
          append_utf8(*code, out);
          break;
        }
        default:
          return false;
      }
    }
    if (i >= line.size()) return false;
    ++i;
    return true;
  };
  skip_space();
  if (i >= line.size() || line[i] != '{') return false;
  ++i;
  bool have_key = false, have_value = false;
  while (true) {
    skip_space();
    if (i < line.size() && line[i] == '}') break;
    std::string name, text;
    if (!parse_string(&name)) return false;
    skip_space();
    if (i >= line.size() || line[i] != ':') return false;
    ++i;
    if (!parse_string(&text)) return false;
    if (name == "key") {
      *key = text;
      have_key = true;
    } else if (name == "value") {
      *value = text;
      have_value = true;
    }
    skip_space();
    if (i < line.size() && line[i] == ',') {
      ++i;
      continue;
    }
    if (i < line.size() && line[i] == '}') break;
    return false;
  }
  ++i;
  skip_space();
  return have_key && have_value && i == line.size();
}

class LoadCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("file", file_, "The file to read")->required();
    app.add_option("--format", format_, "csv, tsv or jsonl (default: detected from the content)")
        ->check(CLI::IsMember({"csv", "tsv", "jsonl"}));
  }
  Status run(Invocation& inv) override {
    if (inv.session.in_batch()) {
      return Status::InvalidArgument(
          "load writes straight to the DB, not into the open batch: commit or abort it first");
    }
    std::error_code ec;
    if (std::filesystem::is_directory(file_, ec)) {
      return Status::InvalidArgument(file_ + ": is a directory, not a file to load");
    }
    std::ifstream in(file_, std::ios::binary);
    if (!in) return Status::IOError(file_ + ": cannot open: " + errno_text());
    // A pipe (load /dev/stdin) has no size: it is read through all the same,
    // and the progress bar just counts.
    const uint64_t file_size = std::filesystem::file_size(file_, ec);
    const uint64_t size = ec ? 0 : file_size;
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    if (!s.ok()) return s;
    std::string format = format_;
    ProgressBar bar("loading", size, "bytes");
    WriteBatch batch;
    uint64_t records = 0;
    uint64_t line_number = 0;
    uint64_t offset = 0;
    std::string line, key_text, value_text, key, value;
    std::vector<std::string> fields;
    bool first_line = true;  // the first non-empty one: it may be a header
    const auto where = [&] { return file_ + ":" + std::to_string(line_number) + ": "; };
    // A malformed line stops the load; the records before it are written
    // first, as the manual says, and counted in the message.
    const auto stop_at_line = [&](const std::string& what) {
      Status written = batch.count() > 0 ? db->write(&batch) : Status::OK();
      if (!written.ok()) return written;
      return Status::InvalidArgument(
          where() + what + " (" +
          (records == 1 ? std::string("the record") : "the " + count_of(records, "record")) +
          " before it " + (records == 1 ? "was" : "were") + " written)");
    };
    while (std::getline(in, line)) {
      ++line_number;
      offset += line.size() + (in.eof() ? 0 : 1);  // the last line may lack its newline
      if (!line.empty() && line.back() == '\r') line.pop_back();
      // A byte order mark (as some editors save CSV) is not part of the data.
      if (line_number == 1 && line.starts_with("\xef\xbb\xbf")) line.erase(0, 3);
      if (line.empty()) continue;
      if (format.empty()) {
        const size_t start = line.find_first_not_of(" \t");
        format = start != std::string::npos && line[start] == '{'
                     ? "jsonl"
                     : (line.find('\t') != std::string::npos ? "tsv" : "csv");
      }
      const bool header = first_line && (line == "key,value" || line == "key\tvalue");
      first_line = false;
      if (header) continue;
      if (format == "jsonl") {
        if (!parse_json_line(line, &key_text, &value_text)) {
          return stop_at_line("not a {\"key\": ..., \"value\": ...} object");
        }
      } else if (format == "tsv") {
        const size_t tab = line.find('\t');
        if (tab == std::string::npos || line.find('\t', tab + 1) != std::string::npos) {
          return stop_at_line("expected key<TAB>value");
        }
        key_text = line.substr(0, tab);
        value_text = line.substr(tab + 1);
      } else {
        if (!parse_csv_line(line, &fields) || fields.size() != 2) {
          return stop_at_line("expected key,value");
        }
        key_text = fields[0];
        value_text = fields[1];
      }
      s = inv.input(key_text, &key);
      if (s.ok()) s = inv.input(value_text, &value);
      if (!s.ok()) return stop_at_line(s.message());
      batch.put(key, value);
      ++records;
      if (batch.count() >= 1000) {
        s = db->write(&batch);
        if (!s.ok()) return s;
        batch.clear();
        bar.update(offset);
      }
    }
    if (in.bad()) {
      return Status::IOError(file_ + ": read error after byte " + std::to_string(offset));
    }
    if (batch.count() > 0) {
      s = db->write(&batch);
      if (!s.ok()) return s;
    }
    bar.update(offset);
    bar.finish();
    inv.result.field("file", file_);
    inv.result.field("format", format.empty() ? std::string("csv") : format);
    inv.result.field("records", records);
    inv.result.field("bytes", Bytes{offset});
    return Status::OK();
  }

 private:
  std::string file_;
  std::string format_;
};

class ExportCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("file", file_, "The file to write (replaced)")->required();
    app.add_option("--format", format_, "csv, tsv or jsonl (default: from the file's extension)")
        ->check(CLI::IsMember({"csv", "tsv", "jsonl"}));
    app.add_option("--prefix", prefix_text_, "Only keys starting with this");
  }
  Status run(Invocation& inv) override {
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    if (!s.ok()) return s;
    std::string prefix;
    s = inv.input(prefix_text_, &prefix);
    if (!s.ok()) return s;
    const std::string format = format_.empty() ? format_from_name(file_) : format_;
    std::error_code file_ec, db_ec;
    const auto target = std::filesystem::weakly_canonical(file_, file_ec);
    const auto db_dir = std::filesystem::weakly_canonical(inv.session.db_path(), db_ec);
    if (!file_ec && !db_ec && target.parent_path() == db_dir) {
      return Status::InvalidArgument(file_ +
                                     ": inside the DB's directory, where it could replace one of "
                                     "the DB's own files: export elsewhere");
    }
    // A failed export leaves FILE as it was: the pairs go to a file beside it,
    // which is synced and renamed over FILE only once every pair is written. A
    // FILE that exists but is not a regular file (/dev/stdout, a pipe) cannot
    // be replaced that way and is written in place.
    std::error_code type_ec;
    const auto type = std::filesystem::status(file_, type_ec);
    const bool in_place =
        !type_ec && std::filesystem::exists(type) && !std::filesystem::is_regular_file(type);
    const std::string temp = in_place ? file_ : file_ + ".export-tmp";
    FileSystem& fs = *posix_file_system();
    std::unique_ptr<WritableFile> out;
    s = fs.new_writable_file(temp, &out);
    if (!s.ok()) return s;
    const auto abandon = [&](const Status& error) {
      out.reset();
      if (!in_place) (void)fs.remove_file(temp);  // best effort: the error below matters more
      return in_place ? error
                      : error.with_context("export stopped; " + file_ + " is left as it was");
    };
    // The live tables' entry counts estimate the total for the progress bar.
    uint64_t estimate = 0;
    LiveFiles live;
    if (load_live_files(fs, inv.session.db_path(), &live).ok()) {
      for (int level = 0; level < kNumLevels; ++level) {
        for (const FileRef& f : live.version->files(level)) estimate += f->entries;
      }
    }
    ProgressBar bar("exporting", estimate, "records");
    std::string text;
    if (format == "csv") text = "key,value\n";
    if (format == "tsv") text = "key\tvalue\n";
    uint64_t records = 0;
    auto it = db->new_iterator(inv.session.read_options());
    for (prefix.empty() ? it->seek_to_first() : it->seek(prefix); it->valid(); it->next()) {
      if (!prefix.empty() && !it->key().starts_with(prefix)) break;
      const std::string key = inv.show(it->key());
      const std::string value = inv.show(it->value());
      if (format == "csv") {
        text += csv_field(key) + "," + csv_field(value);
      } else if (format == "tsv") {
        text += key + "\t" + value;
      } else {
        text += "{\"key\": " + json_quote(key) + ", \"value\": " + json_quote(value) + "}";
      }
      text += '\n';
      if (text.size() >= (1 << 20)) {
        s = out->append(text);
        if (!s.ok()) return abandon(s);
        text.clear();
      }
      if (++records % 1024 == 0) {
        if (records > estimate) bar.set_total(0);
        bar.update(records);
      }
    }
    if (!it->status().ok()) return abandon(it->status());
    s = out->append(text);
    // A pipe or a terminal cannot be synced, and needs no sync.
    if (s.ok() && !in_place) s = out->sync();
    if (s.ok()) s = out->close();
    if (!s.ok()) return abandon(s);
    out.reset();
    if (!in_place) {
      s = fs.rename_file(temp, file_);
      if (!s.ok()) return abandon(s);
    }
    bar.set_total(records);
    bar.update(records);
    bar.finish();
    inv.result.field("file", file_);
    inv.result.field("format", format);
    inv.result.field("records", records);
    return Status::OK();
  }

 private:
  std::string file_;
  std::string format_;
  std::string prefix_text_;
};

}  // namespace

void add_transfer_commands(std::vector<CommandInfo>* commands) {
  commands->push_back(info<LoadCommand>(
      "load", "Write the pairs of a CSV, TSV or JSON-lines file: load FILE [--format F]"));
  commands->push_back(only_reads(info<ExportCommand>(
      "export", "Write every pair to a CSV, TSV or JSON-lines file: export FILE [--format F]")));
}

}  // namespace fsdb::tool
