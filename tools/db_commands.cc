// The commands that read and write a DB: put, get, del, scan, count, batch,
// commit, abort, snapshot, flush, compact, checkpoint, stats, levels, property.
#include <atomic>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <map>
#include <thread>

#include "engine/filename.h"
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

class PutCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("key", key_, "The key (escaped text, or hex with --hex)")->required();
    app.add_option("value", value_, "The value (escaped text, or hex with --hex)")->required();
  }
  Status run(Invocation& inv) override {
    std::string key, value;
    Status s = inv.input(key_, &key);
    if (s.ok()) s = inv.input(value_, &value);
    if (!s.ok()) return s;
    if (WriteBatch* batch = inv.session.batch()) {
      batch->put(key, value);
      if (inv.json) inv.result.field("queued", uint64_t{batch->count()});
      return Status::OK();
    }
    DB* db = nullptr;
    s = inv.session.db(&db);
    if (s.ok()) s = db->put(key, value);
    if (s.ok() && inv.json) inv.result.field("ok", true);
    return s;
  }

 private:
  std::string key_, value_;
};

class GetCommand : public Command {
 public:
  void configure(CLI::App& app) override { app.add_option("key", key_, "The key")->required(); }
  Status run(Invocation& inv) override {
    std::string key, value;
    Status s = inv.input(key_, &key);
    if (!s.ok()) return s;
    DB* db = nullptr;
    s = inv.session.db(&db);
    if (!s.ok()) return s;
    s = db->get(inv.session.read_options(), key, &value);
    if (s.is_not_found()) return Status::NotFound("key '" + inv.show(key) + "' not found");
    if (!s.ok()) return s;
    if (inv.json) {
      inv.result.field("key", inv.show(key));
      inv.result.field("value", inv.show(value));
    } else {
      inv.result.lines.push_back(inv.show(value));
    }
    return Status::OK();
  }

 private:
  std::string key_;
};

class DelCommand : public Command {
 public:
  void configure(CLI::App& app) override { app.add_option("key", key_, "The key")->required(); }
  Status run(Invocation& inv) override {
    std::string key;
    Status s = inv.input(key_, &key);
    if (!s.ok()) return s;
    if (WriteBatch* batch = inv.session.batch()) {
      batch->remove(key);
      if (inv.json) inv.result.field("queued", uint64_t{batch->count()});
      return Status::OK();
    }
    DB* db = nullptr;
    s = inv.session.db(&db);
    if (s.ok()) s = db->remove(key);
    if (s.ok() && inv.json) inv.result.field("ok", true);
    return s;
  }

 private:
  std::string key_;
};

// The smallest key greater than every key starting with `prefix`; empty when
// there is none (a prefix of 0xff bytes).
std::string prefix_successor(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) != 0xff) {
      prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

// [from, to) and a prefix, as options shared by scan and count.
struct KeyRange {
  std::string from_text, to_text, prefix_text;
  // Whether --to was given: `--to ''` is a bound (nothing sorts before the
  // empty key), not the absence of one.
  CLI::Option* to_option = nullptr;

  void configure(CLI::App& app) {
    app.add_option("--from", from_text, "First key (inclusive)");
    to_option = app.add_option("--to", to_text, "Last key (exclusive)");
    app.add_option("--prefix", prefix_text, "Only keys starting with this");
  }
  // Resolves to an inclusive lower bound and an exclusive upper bound.
  Status resolve(const Invocation& inv, std::optional<std::string>* lower,
                 std::optional<std::string>* upper) const {
    std::string bytes;
    if (!from_text.empty()) {
      Status s = inv.input(from_text, &bytes);
      if (!s.ok()) return s;
      *lower = bytes;
    }
    if (to_option != nullptr && to_option->count() > 0) {
      Status s = inv.input(to_text, &bytes);
      if (!s.ok()) return s;
      *upper = bytes;
    }
    if (!prefix_text.empty()) {
      Status s = inv.input(prefix_text, &bytes);
      if (!s.ok()) return s;
      if (!*lower || *lower < bytes) *lower = bytes;
      const std::string successor = prefix_successor(bytes);
      if (!successor.empty() && (!*upper || successor < **upper)) *upper = successor;
    }
    return Status::OK();
  }
};

// Walks [lower, upper) forward or backward, calling visit(key, value) until it
// returns false. The range is the iterator's bounds: tables outside it are
// not opened, and deleted keys past it are not stepped over.
template <typename Visit>
Status walk(DB* db, ReadOptions options, const std::optional<std::string>& lower,
            const std::optional<std::string>& upper, bool reverse, Visit visit) {
  options.iterate_lower_bound = lower;
  options.iterate_upper_bound = upper;
  auto it = db->new_iterator(options);
  if (!reverse) {
    for (it->seek_to_first(); it->valid(); it->next()) {
      if (!visit(it->key(), it->value())) break;
    }
  } else {
    for (it->seek_to_last(); it->valid(); it->prev()) {
      if (!visit(it->key(), it->value())) break;
    }
  }
  return it->status();
}

class ScanCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    range_.configure(app);
    app.add_option("--limit", limit_, "At most this many entries (0: no limit)")
        ->transform(count_validator());
    app.add_flag("--reverse", reverse_, "From the last key down");
    app.add_flag("--keys-only", keys_only_, "Print the keys only");
  }
  Status run(Invocation& inv) override {
    std::optional<std::string> lower, upper;
    Status s = range_.resolve(inv, &lower, &upper);
    DB* db = nullptr;
    if (s.ok()) s = inv.session.db(&db);
    if (!s.ok()) return s;
    Result& r = inv.result;
    r.table_name = "entries";
    r.columns =
        keys_only_ ? std::vector<std::string>{"key"} : std::vector<std::string>{"key", "value"};
    // Up to kBufferedRows rows go through the Result (aligned as a whole); a
    // longer scan is streamed, aligned on its first kBufferedRows rows, so
    // memory stays flat however many entries there are.
    constexpr size_t kBufferedRows = 1000;
    std::ostream& out = inv.session.out();
    std::vector<size_t> widths;
    bool streaming = false;
    const auto print_row = [&](const std::vector<Cell>& row) {
      if (inv.json) {
        out << (streaming ? ", " : "") << "{\"key\": " << cell_json(row[0]);
        if (row.size() > 1) out << ", \"value\": " << cell_json(row[1]);
        out << '}';
      } else {
        const std::string key = cell_text(row[0]);
        if (row.size() == 1) {
          out << key << '\n';
        } else {
          out << key << std::string(widths[0] > key.size() ? widths[0] - key.size() : 0, ' ')
              << "  " << cell_text(row[1]) << '\n';
        }
      }
    };
    const auto start_streaming = [&] {
      if (inv.json) {
        out << "{\"entries\": [";
      } else {
        widths.assign(2, 0);
        widths[0] = 3;  // "key"
        for (const auto& row : r.rows) widths[0] = std::max(widths[0], cell_text(row[0]).size());
        out << "key" << (keys_only_ ? "" : std::string(widths[0] - 3, ' ') + "  value") << '\n';
      }
      for (const auto& row : r.rows) {
        print_row(row);
        streaming = true;
      }
      r.rows.clear();
    };
    uint64_t n = 0;
    s = walk(db, inv.session.read_options(), lower, upper, reverse_,
             [&](std::string_view key, std::string_view value) {
               if (limit_ > 0 && n >= limit_) return false;
               ++n;
               std::vector<Cell> row{inv.show(key)};
               if (!keys_only_) row.emplace_back(inv.show(value));
               if (streaming) {
                 print_row(row);
               } else {
                 r.rows.push_back(std::move(row));
                 if (r.rows.size() > kBufferedRows) start_streaming();
               }
               return true;
             });
    const std::string summary = "(" + std::to_string(n) + (n == 1 ? " entry)" : " entries)");
    if (streaming) {
      r.columns.clear();
      if (inv.json) {
        out << "], \"count\": " << n;
        if (!s.ok()) {
          out << ", \"error\": " << json_quote(s.message())
              << ", \"code\": " << json_quote(json_error_code(s.code()));
        }
        out << "}\n";
      } else {
        out << summary << '\n';
      }
      out.flush();
      inv.printed = true;
      return s;
    }
    if (inv.json) {
      r.field("count", n);
    } else {
      r.lines.push_back(summary);
    }
    return s;
  }

 private:
  KeyRange range_;
  uint64_t limit_ = 0;
  bool reverse_ = false;
  bool keys_only_ = false;
};

class CountCommand : public Command {
 public:
  void configure(CLI::App& app) override { range_.configure(app); }
  Status run(Invocation& inv) override {
    std::optional<std::string> lower, upper;
    Status s = range_.resolve(inv, &lower, &upper);
    DB* db = nullptr;
    if (s.ok()) s = inv.session.db(&db);
    if (!s.ok()) return s;
    uint64_t n = 0;
    s = walk(db, inv.session.read_options(), lower, upper, false,
             [&](std::string_view, std::string_view) {
               ++n;
               return true;
             });
    if (!s.ok()) return s;
    if (inv.json) {
      inv.result.field("count", n);
    } else {
      inv.result.lines.push_back(std::to_string(n));
    }
    return Status::OK();
  }

 private:
  KeyRange range_;
};

class BatchCommand : public Command {
 public:
  void configure(CLI::App&) override {}
  Status run(Invocation& inv) override {
    if (inv.session.in_batch()) {
      return Status::InvalidArgument("a batch is already open: commit or abort it first");
    }
    inv.session.begin_batch();
    if (inv.json) {
      inv.result.field("batch", true);
    } else {
      inv.result.lines.emplace_back("batch started: put/del are queued until commit (or abort)");
    }
    return Status::OK();
  }
};

class CommitCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_flag("--sync", sync_, "fdatasync the log before returning");
  }
  Status run(Invocation& inv) override {
    WriteBatch* batch = inv.session.batch();
    if (batch == nullptr) return Status::InvalidArgument("no batch is open (start one with batch)");
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    if (!s.ok()) return s;
    const uint64_t writes = batch->count();
    WriteOptions options;
    options.sync = sync_;
    s = db->write(options, batch);
    if (!s.ok()) return s;  // the batch stays open so it can be retried or aborted
    inv.session.end_batch();
    if (inv.json) {
      inv.result.field("committed", writes);
    } else {
      inv.result.lines.push_back("committed " + std::to_string(writes) +
                                 (writes == 1 ? " write" : " writes"));
    }
    return Status::OK();
  }

 private:
  bool sync_ = false;
};

class AbortCommand : public Command {
 public:
  void configure(CLI::App&) override {}
  Status run(Invocation& inv) override {
    WriteBatch* batch = inv.session.batch();
    if (batch == nullptr) return Status::InvalidArgument("no batch is open");
    const uint64_t writes = batch->count();
    inv.session.end_batch();
    if (inv.json) {
      inv.result.field("discarded", writes);
    } else {
      inv.result.lines.push_back("discarded " + std::to_string(writes) +
                                 (writes == 1 ? " write" : " writes"));
    }
    return Status::OK();
  }
};

class SnapshotCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("action", action_, "Nothing to take one (later reads use it), or release")
        ->check(CLI::IsMember({"release", "show"}));
  }
  Status run(Invocation& inv) override {
    if (action_ == "release") {
      const bool had = inv.session.snapshot() != nullptr;
      inv.session.release_snapshot();
      if (inv.json) {
        inv.result.field("released", had);
      } else {
        inv.result.lines.emplace_back(had ? "snapshot released: reads see the latest state"
                                          : "no snapshot was set");
      }
      return Status::OK();
    }
    if (action_ == "show") {
      const Snapshot* snap = inv.session.snapshot();
      if (inv.json) {
        inv.result.field("sequence", snap ? snap->sequence() : uint64_t{0});
        inv.result.field("active", snap != nullptr);
      } else {
        inv.result.lines.push_back(snap ? "reads at sequence " + std::to_string(snap->sequence())
                                        : "no snapshot: reads see the latest state");
      }
      return Status::OK();
    }
    uint64_t sequence = 0;
    Status s = inv.session.take_snapshot(&sequence);
    if (!s.ok()) return s;
    if (inv.json) {
      inv.result.field("sequence", sequence);
    } else {
      inv.result.lines.push_back("snapshot at sequence " + std::to_string(sequence) +
                                 ": later reads see the DB as it is now (snapshot release to end)");
    }
    return Status::OK();
  }

 private:
  std::string action_;
};

class FlushCommand : public Command {
 public:
  void configure(CLI::App&) override {}
  Status run(Invocation& inv) override {
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    const auto start = std::chrono::steady_clock::now();
    if (s.ok()) s = db->flush();
    if (!s.ok()) return s;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (inv.json) {
      inv.result.field("seconds", seconds);
    } else {
      inv.result.lines.push_back("flushed in " + human_seconds(seconds));
    }
    return Status::OK();
  }
};

// An online backup: a copy of the DB, made while it runs, that opens as a DB
// of its own (DB::checkpoint()).
class CheckpointCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("dir", dir_, "A new directory for the copy (its parent must exist)")->required();
  }
  Status run(Invocation& inv) override {
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    const auto start = std::chrono::steady_clock::now();
    if (s.ok()) s = db->checkpoint(dir_);
    if (!s.ok()) return s;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    uint64_t tables = 0, bytes = 0;
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(dir_, error)) {
      if (entry.path().extension() == ".sst") ++tables;
      bytes += entry.is_regular_file(error) ? entry.file_size(error) : 0;
    }
    if (inv.json) {
      inv.result.field("dir", dir_);
      inv.result.field("tables", tables);
      inv.result.field("bytes", bytes);
      inv.result.field("seconds", seconds);
    } else {
      inv.result.lines.push_back("checkpoint " + dir_ + ": " + std::to_string(tables) +
                                 (tables == 1 ? " table, " : " tables, ") + human_bytes(bytes) +
                                 ", in " + human_seconds(seconds));
    }
    return Status::OK();
  }

 private:
  std::string dir_;
};

// After a background error (a full disk, say), once its cause is gone.
class ResumeCommand : public Command {
 public:
  void configure(CLI::App&) override {}
  Status run(Invocation& inv) override {
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    const uint64_t before =
        s.ok() ? std::stoull(db->property("fsdb.num-resumes").value_or("0")) : 0;
    if (s.ok()) s = db->resume();
    if (!s.ok()) return s;
    const bool resumed = std::stoull(db->property("fsdb.num-resumes").value_or("0")) > before;
    if (inv.json) {
      inv.result.field("resumed", resumed);
    } else {
      inv.result.lines.emplace_back(resumed ? "resumed: the DB takes writes again"
                                            : "no background error: nothing to resume");
    }
    return Status::OK();
  }
};

// A session that found the DB held by a writer reads it beside that writer
// (DB::open_as_secondary), as it was then: this shows what the writer has
// done since.
class CatchUpCommand : public Command {
 public:
  void configure(CLI::App&) override {}
  Status run(Invocation& inv) override {
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    if (s.ok()) s = db->try_catch_up_with_primary();
    if (s.is_not_supported()) {
      return Status::InvalidArgument(
          "catch-up: this session has the DB to itself, so it sees every write already (a "
          "session catches up only when it reads the DB beside another process that writes it)");
    }
    if (!s.ok()) return s;
    const uint64_t sequence = std::stoull(db->property("fsdb.sequence").value_or("0"));
    if (inv.json) {
      inv.result.field("sequence", sequence);
    } else {
      inv.result.lines.emplace_back("caught up: sequence " + std::to_string(sequence));
    }
    return Status::OK();
  }
};

class CompactCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("from", from_text_, "First key of the range (default: the first key)");
    app.add_option("to", to_text_, "Last key of the range (default: the last key)");
  }
  Status run(Invocation& inv) override {
    std::string from, to;
    Status s;
    if (!from_text_.empty()) s = inv.input(from_text_, &from);
    if (s.ok() && !to_text_.empty()) s = inv.input(to_text_, &to);
    if (s.ok() && !from_text_.empty() && !to_text_.empty() && from > to) {
      return Status::InvalidArgument("compact: FROM '" + from_text_ + "' sorts after TO '" +
                                     to_text_ + "': the range is empty");
    }
    DB* db = nullptr;
    if (s.ok()) s = inv.session.db(&db);
    if (!s.ok()) return s;
    const auto count = [db] {
      auto v = db->property("fsdb.num-compactions");
      return v ? std::stoull(*v) : 0ull;
    };
    const uint64_t before = count();
    const auto start = std::chrono::steady_clock::now();
    std::atomic<bool> done{false};
    Status result;
    std::thread worker([&] {
      result = db->compact_range(
          from_text_.empty() ? std::nullopt : std::optional<std::string_view>(from),
          to_text_.empty() ? std::nullopt : std::optional<std::string_view>(to));
      done.store(true);
    });
    {
      ProgressBar bar("compacting", 0, "compactions");
      while (!done.load()) {
        bar.update(count() - before);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      bar.update(count() - before);
    }
    worker.join();
    if (!result.ok()) return result;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (inv.json) {
      inv.result.field("compactions", count() - before);
      inv.result.field("seconds", seconds);
    } else {
      inv.result.lines.push_back("compacted (" + count_of(count() - before, "compaction") +
                                 ") in " + human_seconds(seconds));
    }
    return Status::OK();
  }

 private:
  std::string from_text_, to_text_;
};

// A map property's value as a JSON number when it is one, else as text.
Cell number_or_text(const std::string& value) {
  uint64_t whole = 0;
  const char* end = value.data() + value.size();
  if (auto [p, ec] = std::from_chars(value.data(), end, whole); ec == std::errc() && p == end) {
    return whole;
  }
  double decimal = 0;
  if (auto [p, ec] = std::from_chars(value.data(), end, decimal); ec == std::errc() && p == end) {
    return decimal;
  }
  return value;
}

class StatsCommand : public Command {
 public:
  void configure(CLI::App&) override {}
  Status run(Invocation& inv) override {
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    if (!s.ok()) return s;
    if (inv.json) {
      // Plain numbers (bytes, microseconds, counts), as every command's JSON.
      std::map<std::string, std::string> values;
      if (!db->map_property("fsdb.stats", &values)) {
        return Status::NotSupported("the DB reports no fsdb.stats");
      }
      for (const auto& [name, value] : values) inv.result.field(name, number_or_text(value));
      inv.result.field("directory", inv.session.db_path());
      return Status::OK();
    }
    auto stats = db->property("fsdb.stats");
    if (!stats) return Status::NotSupported("the DB reports no fsdb.stats");
    size_t begin = 0;
    while (begin < stats->size()) {
      size_t end = stats->find('\n', begin);
      if (end == std::string::npos) end = stats->size();
      const std::string line = stats->substr(begin, end - begin);
      begin = end + 1;
      const size_t colon = line.find(": ");
      if (line.empty()) continue;
      if (colon == std::string::npos) {
        inv.result.lines.push_back(line);
      } else {
        inv.result.field(line.substr(0, colon), line.substr(colon + 2));
      }
    }
    inv.result.field("directory", inv.session.db_path());
    return Status::OK();
  }
};

class LevelsCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_flag("--files", files_, "One row per file instead of per level");
  }
  Status run(Invocation& inv) override {
    if (inv.session.db_path().empty()) return Status::InvalidArgument("no database: pass --db DIR");
    LiveFiles live;
    Status s = load_live_files(*posix_file_system(), inv.session.db_path(), &live);
    if (!s.ok()) return s;
    const Version& v = *live.version;
    Result& r = inv.result;
    if (files_) {
      r.table_name = "files";
      r.columns = {"level", "file", "size", "entries", "smallest", "largest"};
      for (int level = 0; level < kNumLevels; ++level) {
        for (const FileRef& f : v.files(level)) {
          r.rows.push_back({"L" + std::to_string(level),
                            table_file_name(inv.session.db_path(), f->number), Bytes{f->file_size},
                            f->entries, inv.show(f->smallest_user_key()),
                            inv.show(f->largest_user_key())});
        }
      }
    } else {
      r.table_name = "levels";
      r.columns = {"level", "files", "size", "entries", "smallest", "largest"};
      for (int level = 0; level < kNumLevels; ++level) {
        uint64_t entries = 0;
        std::string smallest, largest;
        bool any = false;
        for (const FileRef& f : v.files(level)) {
          entries += f->entries;
          if (!any || f->smallest_user_key() < smallest) smallest = f->smallest_user_key();
          if (!any || f->largest_user_key() > largest) largest = f->largest_user_key();
          any = true;
        }
        r.rows.push_back({"L" + std::to_string(level), uint64_t{v.file_count(level)},
                          Bytes{v.level_bytes(level)}, entries, any ? inv.show(smallest) : "",
                          any ? inv.show(largest) : ""});
      }
    }
    r.show_table_when_empty = true;
    r.field("total files", uint64_t{v.total_files()});
    r.field("total size", Bytes{v.total_bytes()});
    r.field("directory", inv.session.db_path());
    return Status::OK();
  }

 private:
  bool files_ = false;
};

class PropertyCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("name", name_,
                   "fsdb.stats, fsdb.levels, fsdb.num-files-at-level<N>, fsdb.memtable-bytes, "
                   "fsdb.sequence, fsdb.num-rotations, fsdb.num-flushes, fsdb.num-compactions, "
                   "fsdb.num-stalls, fsdb.user-bytes-written, fsdb.flush-bytes-written, "
                   "fsdb.compaction-bytes-written, fsdb.compaction-pending, "
                   "fsdb.num-running-compactions, fsdb.num-sealed-memtables, "
                   "fsdb.num-write-groups, fsdb.num-resumes, fsdb.background-error, "
                   "fsdb.compaction-error, fsdb.num-compaction-failures, fsdb.write-stall, "
                   "fsdb.db-id, fsdb.num-catch-ups (read beside a writer)")
        ->required();
  }
  Status run(Invocation& inv) override {
    DB* db = nullptr;
    Status s = inv.session.db(&db);
    if (!s.ok()) return s;
    auto value = db->property(name_);
    if (!value) {
      return Status::NotFound("unknown property '" + escape(name_) +
                              "' (`help property` lists them)");
    }
    if (inv.json) {
      inv.result.field("name", name_);
      inv.result.field("value", *value);
    } else {
      while (!value->empty() && value->back() == '\n') value->pop_back();
      inv.result.lines.push_back(*value);
    }
    return Status::OK();
  }

 private:
  std::string name_;
};

}  // namespace

void add_db_commands(std::vector<CommandInfo>* commands) {
  commands->push_back(info<PutCommand>("put", "Write a key: put KEY VALUE"));
  commands->push_back(only_reads(info<GetCommand>("get", "Read a key: get KEY")));
  commands->push_back(info<DelCommand>("del", "Delete a key: del KEY"));
  commands->push_back(only_reads(info<ScanCommand>(
      "scan",
      "List entries in key order: scan [--from K] [--to K] [--prefix P] [--limit N] "
      "[--reverse] [--keys-only]")));
  commands->push_back(only_reads(
      info<CountCommand>("count", "Count entries: count [--from K] [--to K] [--prefix P]")));
  commands->push_back(info<BatchCommand>("batch", "Start a batch: later put/del wait for commit"));
  commands->push_back(info<CommitCommand>("commit", "Apply the open batch atomically"));
  commands->push_back(info<AbortCommand>("abort", "Discard the open batch"));
  commands->push_back(info<SnapshotCommand>(
      "snapshot", "Take a snapshot that later reads use: snapshot [release|show]"));
  commands->push_back(info<FlushCommand>("flush", "Write the memtable out as an SSTable"));
  commands->push_back(info<ResumeCommand>(
      "resume", "Take writes again after a background error whose cause is gone"));
  commands->push_back(info<CompactCommand>(
      "compact", "Compact a key range (default: everything): compact [FROM [TO]]"));
  commands->push_back(info<CheckpointCommand>(
      "checkpoint", "Copy the DB, while it runs, into a new directory: checkpoint DIR"));
  commands->push_back(only_reads(info<StatsCommand>("stats", "Counters of the open DB")));
  commands->push_back(info<LevelsCommand>("levels", "The LSM levels: files, sizes, key ranges"));
  commands->push_back(
      only_reads(info<PropertyCommand>("property", "A DB property: property NAME")));
  commands->push_back(only_reads(info<CatchUpCommand>(
      "catch-up", "Read beside a writer: see what it has written since (--read-only shell)")));
}

}  // namespace fsdb::tool
