// `fsdb demo`: what `make run` shows. Ingests generated records into a fresh
// DB while narrating what the engine does (memtable rotations, flushes,
// compactions, summarised once a second), reopens it (narrating recovery),
// verifies a sample, reads and scans, and prints the stats and levels.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>

#include "engine/filename.h"
#include "tools/commands.h"
#include "tools/live_files.h"
#include "tools/progress.h"
#include "tools/text.h"

namespace fsdb::tool {

const char* g_program_name = "fsdb";

namespace {

constexpr size_t kValueBytes = 100;

std::string demo_key(uint64_t i) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%016" PRIu64, i);
  return buf;
}

// A value that is a pure function of the key's index, so any read can be
// verified; half repetitive and half random, so it compresses as real data does.
std::string demo_value(uint64_t i) {
  static constexpr char kAlphabet[] =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::string value = "value of record " + std::to_string(i) + " | ";
  uint64_t x = i * 0x9e3779b97f4a7c15ull + 0x632be59bd9b4e019ull;
  while (value.size() < kValueBytes) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    value += kAlphabet[x % 62];
  }
  return value;
}

// Whether the DB at `dir` holds nothing but the demo's records (or nothing):
// only such a DB may be recreated. Every record is read, so that no user
// data is ever taken for the demo's.
Status holds_only_demo_records(const std::string& dir, bool* only_demo, std::string* first_other) {
  *only_demo = false;
  Options options;
  options.create_if_missing = false;
  std::unique_ptr<DB> db;
  Status s = DB::open(options, dir, &db);
  if (!s.ok()) return s;
  auto it = db->new_iterator();
  for (it->seek_to_first(); it->valid(); it->next()) {
    const std::string_view key = it->key();
    uint64_t index = 0;
    const bool digits = key.size() == 16 && std::all_of(key.begin(), key.end(), [](char c) {
                          return c >= '0' && c <= '9';
                        });
    if (digits) index = std::stoull(std::string(key));
    if (!digits || it->value() != demo_value(index)) {
      *first_other = std::string(key);
      return Status::OK();
    }
  }
  if (!it->status().ok()) return it->status();
  *only_demo = true;
  return db->close();
}

// Collects the engine's events; the ingest loop prints a summary each second.
class DemoListener : public EventListener {
 public:
  struct Window {
    uint64_t sealed = 0, sealed_bytes = 0;
    uint64_t flushes = 0, flush_bytes = 0;
    uint64_t compactions = 0, moves = 0, compaction_in = 0, compaction_out = 0, dropped = 0;
    std::string compaction_levels;
  };

  void on_recovery(const RecoveryInfo& info) override {
    std::lock_guard<std::mutex> guard(mu_);
    recovery_ = info;
    recovered_ = true;
  }
  void on_memtable_sealed(const MemtableSealedInfo& info) override {
    std::lock_guard<std::mutex> guard(mu_);
    ++window_.sealed;
    window_.sealed_bytes += info.memtable_bytes;
    ++total_.sealed;
  }
  void on_flush_completed(const FlushInfo& info) override {
    std::lock_guard<std::mutex> guard(mu_);
    ++window_.flushes;
    window_.flush_bytes += info.file_bytes;
    ++total_.flushes;
    total_.flush_bytes += info.file_bytes;
  }
  void on_compaction_completed(const CompactionInfo& info) override {
    std::lock_guard<std::mutex> guard(mu_);
    for (Window* w : {&window_, &total_}) {
      if (info.trivial_move) {
        ++w->moves;
      } else {
        ++w->compactions;
        w->compaction_in += info.input_bytes;
        w->compaction_out += info.output_bytes;
        w->dropped += info.versions_dropped;
      }
    }
    const std::string levels =
        "L" + std::to_string(info.level) + "->L" + std::to_string(info.level + 1);
    if (window_.compaction_levels.find(levels) == std::string::npos) {
      if (!window_.compaction_levels.empty()) window_.compaction_levels += ",";
      window_.compaction_levels += levels;
    }
  }

  Window take_window() {
    std::lock_guard<std::mutex> guard(mu_);
    Window w = window_;
    window_ = Window();
    return w;
  }
  Window totals() {
    std::lock_guard<std::mutex> guard(mu_);
    return total_;
  }
  bool recovery(RecoveryInfo* info) {
    std::lock_guard<std::mutex> guard(mu_);
    *info = recovery_;
    return recovered_;
  }

  static std::string describe(const Window& w) {
    std::string line;
    const auto add = [&](const std::string& part) {
      if (!line.empty()) line += "; ";
      line += part;
    };
    if (w.sealed > 0) {
      add("memtable rotated x" + std::to_string(w.sealed) + " (" + human_bytes(w.sealed_bytes) +
          ")");
    }
    if (w.flushes > 0) {
      add("flushed x" + std::to_string(w.flushes) + " -> L0 (" + human_bytes(w.flush_bytes) + ")");
    }
    if (w.compactions > 0) {
      add("compacted " + w.compaction_levels + " x" + std::to_string(w.compactions) + " (" +
          human_bytes(w.compaction_in) + " -> " + human_bytes(w.compaction_out) + ")");
    }
    if (w.moves > 0) add("moved down x" + std::to_string(w.moves));
    return line;
  }

 private:
  std::mutex mu_;
  Window window_;
  Window total_;
  RecoveryInfo recovery_;
  bool recovered_ = false;
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

class DemoCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.add_option("--count", count_, "Records to ingest")
        ->transform(count_validator())
        ->check(CLI::Range(1ull, 1ull << 32));
    app.add_flag("--reuse", reuse_, "Keep an existing demo DB and write into it");
    app.add_flag("--quiet", quiet_, "Only the summary");
    // Hidden: a smaller memtable makes a short run show every kind of event.
    app.add_option("--memtable-kib", memtable_kib_, "Memtable size")
        ->transform(count_validator())
        ->group("");
  }
  Status run(Invocation& inv) override;

 private:
  void say(const std::string& line) {
    if (!quiet_ && !json_) std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }

  uint64_t count_ = 1'000'000;
  bool reuse_ = false;
  bool quiet_ = false;
  bool json_ = false;
  size_t memtable_kib_ = 16 << 10;
};

Status DemoCommand::run(Invocation& inv) {
  json_ = inv.json;
  const std::string dir = inv.session.db_path().empty() ? "./fsdb-data" : inv.session.db_path();
  if (inv.session.in_batch()) {
    // The demo reopens the DB with its own settings, which would drop the
    // batch without a word.
    return Status::InvalidArgument(
        "the demo closes and reopens the DB, which would drop the open batch: commit or abort "
        "it first");
  }
  if (inv.session.db_is_open()) {
    const bool had_snapshot = inv.session.snapshot() != nullptr;
    Status s = inv.session.close();
    if (!s.ok()) return s;
    if (had_snapshot) say("The session's snapshot is released: the demo closes the DB.");
  }
  std::error_code ec;
  const bool exists = std::filesystem::exists(dir, ec);
  const bool is_db = exists && std::filesystem::exists(current_file_name(dir), ec);
  if (exists && !is_db) {
    if (!std::filesystem::is_directory(dir, ec)) {
      return Status::InvalidArgument(dir + " exists and is not a directory; pick another --db");
    }
    if (!std::filesystem::is_empty(dir, ec)) {
      return Status::InvalidArgument(dir +
                                     " exists, is not empty and is not an fsdb DB; the demo "
                                     "will not touch it (pick another --db)");
    }
  }
  if (is_db && !reuse_) {
    bool only_demo = false;
    std::string other;
    Status s = holds_only_demo_records(dir, &only_demo, &other);
    if (!s.ok()) {
      return s.with_context(dir +
                            " holds an fsdb DB that could not be read; the demo will not "
                            "touch it");
    }
    if (!only_demo) {
      return Status::InvalidArgument(
          dir + " holds an fsdb DB with records the demo did not write (the first: key " +
          escape(other.substr(0, 64)) +
          "); the demo will not touch it (pick another --db, or --reuse to add the demo's "
          "records to it)");
    }
    say("Found an fsdb DB at " + dir + " from an earlier demo: recreating it (--reuse keeps it).");
    s = destroy_db(dir);
    if (!s.ok()) return s;
  } else if (is_db) {
    say("Reusing the fsdb DB at " + dir + ".");
  }

  auto listener = std::make_shared<DemoListener>();
  Options options;
  options.create_if_missing = true;
  // Smaller than the defaults so that a million records show every part of the
  // engine at work: many rotations, flushes, and compactions into L1 and L2.
  options.memtable_bytes = memtable_kib_ << 10;
  options.target_file_bytes = 4 << 20;
  options.level1_bytes = 32 << 20;
  options.listener = listener;

  const auto demo_start = std::chrono::steady_clock::now();
  std::unique_ptr<DB> db;
  Status s = DB::open(options, dir, &db);
  if (!s.ok()) return s;
  say("fsdb demo: writing " + std::to_string(count_) + " records (16-byte keys, " +
      std::to_string(kValueBytes) + "-byte values) into " + dir);

  // 1. Ingest.
  const auto ingest_start = std::chrono::steady_clock::now();
  {
    ProgressBar bar("ingesting", count_, "records");
    WriteBatch batch;
    auto last_report = ingest_start;
    for (uint64_t i = 0; i < count_; ++i) {
      batch.put(demo_key(i), demo_value(i));
      if (batch.count() == 200 || i + 1 == count_) {
        s = db->write(&batch);
        if (!s.ok()) return s;
        batch.clear();
        bar.update(i + 1);
        const auto now = std::chrono::steady_clock::now();
        if (now - last_report >= std::chrono::seconds(1)) {
          last_report = now;
          const std::string events = DemoListener::describe(listener->take_window());
          if (!events.empty() && !quiet_ && !json_) {
            char head[48];
            std::snprintf(head, sizeof(head), "  %5.1fs %8s records | ",
                          seconds_since(ingest_start),
                          human_count(static_cast<double>(i + 1)).c_str());
            bar.note(head + events);
          }
        }
      }
    }
    bar.finish();
  }
  const double ingest_seconds = seconds_since(ingest_start);
  {
    const std::string events = DemoListener::describe(listener->take_window());
    if (!events.empty()) {
      char head[48];
      std::snprintf(head, sizeof(head), "  %5.1fs %8s records | ", ingest_seconds,
                    human_count(static_cast<double>(count_)).c_str());
      say(head + events);
    }
  }
  char line[256];
  std::snprintf(line, sizeof(line), "Ingested %" PRIu64 " records in %s (%s records/s).", count_,
                human_seconds(ingest_seconds).c_str(),
                human_count(static_cast<double>(count_) / std::max(ingest_seconds, 1e-9)).c_str());
  say(line);

  // Let the background compactions that the ingest set off finish (closing
  // would cancel them), narrating them as they complete.
  {
    const auto settle_start = std::chrono::steady_clock::now();
    const auto level0_files = [&] {
      auto v = db->property("fsdb.num-files-at-level0");
      return v ? std::stoull(*v) : 0ull;
    };
    if (level0_files() >= static_cast<uint64_t>(options.l0_compaction_trigger)) {
      say("Waiting for background compactions to settle...");
    }
    while (level0_files() >= static_cast<uint64_t>(options.l0_compaction_trigger) &&
           seconds_since(settle_start) < 15) {
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      if (seconds_since(settle_start) >= 1) {
        const std::string events = DemoListener::describe(listener->take_window());
        if (!events.empty()) {
          char head[48];
          std::snprintf(head, sizeof(head), "  %5.1fs %8s         | ", seconds_since(ingest_start),
                        "");
          say(head + events);
        }
      }
    }
    const std::string events = DemoListener::describe(listener->take_window());
    if (!events.empty()) {
      char head[48];
      std::snprintf(head, sizeof(head), "  %5.1fs %8s         | ", seconds_since(ingest_start), "");
      say(head + events);
    }
  }
  say("");
  say("Stats after ingest:");
  if (auto stats = db->property("fsdb.stats")) {
    size_t begin = 0;
    while (begin < stats->size()) {
      size_t end = stats->find('\n', begin);
      if (end == std::string::npos) end = stats->size();
      if (end > begin) say("  " + stats->substr(begin, end - begin));
      begin = end + 1;
    }
  }
  say("");

  // 2. Close and reopen: the unflushed tail comes back from the WAL.
  say("Closing and reopening the DB...");
  s = db->close();
  if (!s.ok()) return s;
  db.reset();
  const auto reopen_start = std::chrono::steady_clock::now();
  s = DB::open(options, dir, &db);
  if (!s.ok()) return s;
  RecoveryInfo recovery;
  if (listener->recovery(&recovery)) {
    std::snprintf(line, sizeof(line),
                  "Recovery: replayed %zu log(s), %" PRIu64 " records, wrote %" PRIu64
                  " table(s), dropped %s of torn tail; last sequence %" PRIu64 " (%s)",
                  recovery.logs_replayed, recovery.records_replayed, recovery.tables_written,
                  human_bytes(recovery.bytes_dropped).c_str(), recovery.last_sequence,
                  human_seconds(seconds_since(reopen_start)).c_str());
    say(line);
  }

  // 3. Verify a sample.
  std::mt19937_64 rng(42);
  const uint64_t sample = std::min<uint64_t>(count_, 10'000);
  uint64_t verified = 0;
  const auto verify_start = std::chrono::steady_clock::now();
  for (uint64_t n = 0; n < sample; ++n) {
    const uint64_t i = rng() % count_;
    std::string value;
    s = db->get(demo_key(i), &value);
    if (!s.ok()) return s.with_context("verifying key " + demo_key(i));
    if (value != demo_value(i)) {
      return Status::Corruption("verifying key " + demo_key(i) + ": wrong value '" + escape(value) +
                                "'");
    }
    ++verified;
  }
  std::snprintf(line, sizeof(line), "Verified %" PRIu64 " random records: all correct (%s).",
                verified, human_seconds(seconds_since(verify_start)).c_str());
  say(line);

  // 4. Point reads and a range scan.
  say("");
  say("Point reads:");
  for (uint64_t i : {uint64_t{0}, count_ / 2, count_ - 1}) {
    std::string value;
    s = db->get(demo_key(i), &value);
    if (!s.ok()) return s;
    say("  get " + demo_key(i) + " -> " + escape(value.substr(0, 40)) + "...");
  }
  {
    std::string value;
    s = db->get(demo_key(count_ + 7), &value);
    say("  get " + demo_key(count_ + 7) + " -> " +
        (s.is_not_found() ? "not found" : s.to_string()));
  }
  const uint64_t scan_from = count_ / 3;
  say("Range scan from " + demo_key(scan_from) + ", 5 entries:");
  {
    auto it = db->new_iterator();
    int n = 0;
    for (it->seek(demo_key(scan_from)); it->valid() && n < 5; it->next(), ++n) {
      say("  " + escape(it->key()) + "  " + escape(it->value().substr(0, 40)) + "...");
    }
    if (!it->status().ok()) return it->status();
  }

  // 5. Stats, levels and files.
  say("");
  LiveFiles live;
  s = load_live_files(*posix_file_system(), dir, &live);
  if (!s.ok()) return s;
  Result levels;
  levels.columns = {"level", "files", "size", "entries"};
  for (int level = 0; level < kNumLevels; ++level) {
    uint64_t entries = 0;
    for (const FileRef& f : live.version->files(level)) entries += f->entries;
    levels.rows.push_back({"L" + std::to_string(level), uint64_t{live.version->file_count(level)},
                           Bytes{live.version->level_bytes(level)}, entries});
  }
  if (!quiet_ && !json_) {
    std::printf("Levels:\n");
    render_human(levels, std::cout);
    std::cout.flush();
  }
  s = db->close();
  if (!s.ok()) return s;
  db.reset();

  uint64_t sst_files = 0, sst_bytes = 0, log_files = 0, log_bytes = 0, other_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    FileType type;
    uint64_t number = 0;
    const uint64_t size = entry.is_regular_file() ? entry.file_size() : 0;
    const bool parsed = parse_file_name(entry.path().filename().string(), &type, &number);
    if (parsed && type == FileType::kTable) {
      ++sst_files;
      sst_bytes += size;
    } else if (parsed && type == FileType::kLog) {
      ++log_files;
      log_bytes += size;
    } else {
      other_bytes += size;
    }
  }
  const std::string absolute = std::filesystem::absolute(dir, ec).lexically_normal().string();
  say("");
  say("Files in " + absolute + ": " + std::to_string(sst_files) + " tables (" +
      human_bytes(sst_bytes) + "), " + std::to_string(log_files) + " log(s) (" +
      human_bytes(log_bytes) + "), MANIFEST/CURRENT/LOCK/IDENTITY (" + human_bytes(other_bytes) +
      ")");
  const double total_seconds = seconds_since(demo_start);
  say("Demo finished in " + human_seconds(total_seconds) + ".");
  const DemoListener::Window totals = listener->totals();
  if (inv.json) {
    Result& r = inv.result;
    r.field("directory", absolute);
    r.field("records", count_);
    r.field("ingest seconds", ingest_seconds);
    r.field("rotations", totals.sealed);
    r.field("flushes", totals.flushes);
    r.field("compactions", totals.compactions);
    r.field("verified", verified);
    r.field("tables", sst_files);
    r.field("table bytes", Bytes{sst_bytes});
    r.field("seconds", total_seconds);
  } else {
    std::printf("Open the shell on it: %s --db %s\n", g_program_name, dir.c_str());
  }
  return Status::OK();
}

}  // namespace

void add_demo_command(std::vector<CommandInfo>* commands) {
  commands->push_back({"demo",
                       "Ingest a million records into ./fsdb-data (or --db), narrating what the "
                       "engine does",
                       [] { return std::make_unique<DemoCommand>(); }});
}

}  // namespace fsdb::tool
