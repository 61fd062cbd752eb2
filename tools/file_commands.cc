// The commands that read a DB's files directly, without opening the DB: check,
// sst list/dump/check, wal dump, manifest dump (which work on a DB another
// process holds open, and on one too damaged to open), and repair.
#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

#include "engine/filename.h"
#include "engine/version_set.h"
#include "fsdb/db.h"
#include "sstable/block.h"
#include "sstable/block_fetcher.h"
#include "sstable/table_reader.h"
#include "tools/commands.h"
#include "tools/live_files.h"
#include "tools/progress.h"
#include "tools/text.h"
#include "wal/log_reader.h"
#include "wal/write_batch_encoding.h"

namespace fsdb::tool {

namespace {

template <typename T>
CommandInfo info(std::string name, std::string summary) {
  return {std::move(name), std::move(summary), [] { return std::make_unique<T>(); }};
}

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

uint64_t number_from_name(const std::string& path, FileType want) {
  FileType type;
  uint64_t number = 0;
  if (parse_file_name(base_name(path), &type, &number) && type == want) return number;
  return 0;
}

// FILE as given; or, for a bare name the current directory lacks, the file
// of that name in the DB's directory (where `sst list` finds the names it
// prints).
std::string file_in_db(const Invocation& inv, const std::string& file) {
  const std::string& dir = inv.session.db_path();
  if (file.empty() || dir.empty() || file.find('/') != std::string::npos) return file;
  std::error_code ec;
  if (std::filesystem::exists(file, ec)) return file;
  const std::string in_db = dir + "/" + file;
  return std::filesystem::exists(in_db, ec) ? in_db : file;
}

const char* kind_name(ValueKind kind) { return kind == ValueKind::kValue ? "put" : "del"; }

// One data block as the index names it.
struct BlockInfo {
  uint64_t offset = 0;
  uint64_t stored_bytes = 0;
  uint64_t raw_bytes = 0;
  uint64_t entries = 0;
  std::string compression;
  std::string last_key;  // the index separator (an internal key)
  // Empty for a block that reads back whole; else what is wrong with it,
  // naming the file and the block's offset (raw_bytes and entries are then 0).
  std::string problem;
};

// Reads one data block and counts its entries into `b`. Corruption names the
// file and the block's offset.
Status read_data_block(const RandomAccessFile& file, const std::string& path,
                       const BlockHandle& handle, const DecompressionDictionary* dictionary,
                       BlockInfo* b) {
  std::string contents;
  Status s = read_block(file, path, handle, true, dictionary, &contents);
  if (!s.ok()) return s;
  const uint64_t raw_bytes = contents.size();
  std::unique_ptr<Block> data;
  s = Block::parse(std::move(contents), &data);
  if (!s.ok()) return block_corruption(path, handle.offset, s.message());
  uint64_t entries = 0;
  BlockIterator it(data.get());
  for (it.seek_to_first(); it.valid(); it.next()) ++entries;
  if (!it.status().ok()) return block_corruption(path, handle.offset, it.status().message());
  b->raw_bytes = raw_bytes;
  b->entries = entries;
  return Status::OK();
}

// Reads the footer, the properties, the index and every data block of a
// table, checking every checksum. Damage to a data block is noted in its
// BlockInfo and the reading goes on with the next block, so that every
// damaged block is found; damage the layout itself depends on (the footer,
// the properties, the index) and I/O errors stop it, and are returned.
Status read_block_layout(const std::string& path, std::vector<BlockInfo>* blocks,
                         TableProperties* properties_out = nullptr,
                         const std::function<void(uint64_t)>& on_bytes = {}) {
  FileSystem& fs = *posix_file_system();
  std::unique_ptr<RandomAccessFile> file;
  Status s = fs.new_random_access_file(path, &file);
  if (!s.ok()) return s;
  uint64_t size = 0;
  s = file->size(&size);
  if (!s.ok()) return s;
  if (size < Footer::kEncodedBytes) {
    return Status::Corruption(path + ": offset 0: file of " + std::to_string(size) +
                              " bytes is too short for a table footer");
  }
  std::string scratch(Footer::kEncodedBytes, '\0');
  std::string_view footer_bytes;
  const uint64_t footer_offset = size - Footer::kEncodedBytes;
  s = file->read(footer_offset, Footer::kEncodedBytes, &footer_bytes, scratch.data());
  if (!s.ok()) return s;
  Footer footer;
  s = footer.decode_from(footer_bytes,
                         path + ": footer at offset " + std::to_string(footer_offset));
  if (!s.ok()) return s;
  const auto in_data_area = [&](const BlockHandle& h) {
    return h.offset <= footer_offset && h.size <= footer_offset - h.offset &&
           footer_offset - h.offset - h.size >= kBlockTrailerBytes;
  };
  if (!in_data_area(footer.properties)) {
    return block_corruption(path, footer.properties.offset,
                            "properties handle points outside the file");
  }
  std::string properties_contents;
  s = read_block(*file, path, footer.properties, true, nullptr, &properties_contents);
  if (!s.ok()) return s;
  TableProperties properties;
  s = TableProperties::decode(std::move(properties_contents), &properties);
  if (!s.ok()) return block_corruption(path, footer.properties.offset, s.message());
  if (properties_out != nullptr) *properties_out = properties;
  std::unique_ptr<DecompressionDictionary> dictionary;
  s = read_compression_dictionary(*file, path, footer_offset, /*verify_checksum=*/true, properties,
                                  &dictionary);
  if (!s.ok()) return s;
  if (!in_data_area(footer.index)) {
    return block_corruption(path, footer.index.offset, "index handle points outside the file");
  }
  std::string index_contents;
  s = read_block(*file, path, footer.index, true, nullptr, &index_contents);
  if (!s.ok()) return s;
  std::unique_ptr<Block> index;
  s = Block::parse(std::move(index_contents), &index);
  if (!s.ok()) return block_corruption(path, footer.index.offset, s.message());
  BlockIterator it(index.get());
  for (it.seek_to_first(); it.valid(); it.next()) {
    std::string_view value = it.value();
    BlockHandle handle;
    if (!handle.decode_from(&value) || !in_data_area(handle)) {
      return block_corruption(
          path, footer.index.offset,
          "bad data block handle in the index entry " + std::to_string(blocks->size()));
    }
    BlockInfo b;
    b.offset = handle.offset;
    b.stored_bytes = handle.size;
    b.last_key = std::string(it.key());
    char type = 0;
    std::string_view type_view;
    s = file->read(handle.offset + handle.size, 1, &type_view, &type);
    if (!s.ok()) return s;
    const auto type_byte = static_cast<BlockCompression>(type_view.size() == 1 ? type_view[0] : 0);
    b.compression = type_byte == BlockCompression::kZstd                 ? "zstd"
                    : type_byte == BlockCompression::kZstdWithDictionary ? "zstd+dict"
                                                                         : "none";
    s = read_data_block(*file, path, handle, dictionary.get(), &b);
    if (!s.ok()) {
      if (!s.is_corruption()) return s;  // the disk, not the data: stop
      b.problem = s.message();
    }
    blocks->push_back(std::move(b));
    if (on_bytes) on_bytes(handle.offset + handle.size + kBlockTrailerBytes);
  }
  if (!it.status().ok()) return block_corruption(path, footer.index.offset, it.status().message());
  return Status::OK();
}

// What check_table() found in one table.
struct TableCheck {
  uint64_t entries = 0;       // entries read back
  uint64_t entries_lost = 0;  // entries of damaged blocks (from the table's properties)
  std::vector<std::pair<std::string, std::string>> problems;  // (file, problem)
};

// Checks one table completely: its size against the MANIFEST's (`meta`, when
// it is a live table), its block layout and every block's checksum, then
// every entry through the reader (keys in order, counts as the properties
// and the MANIFEST say). Every damaged data block is a problem of its own;
// damage to the footer, the properties or the index ends the table's check.
void check_table(const std::string& path, const FileMetaData* meta, TableCheck* out,
                 const std::function<void(uint64_t)>& on_bytes) {
  auto* problems = &out->problems;
  if (meta != nullptr) {
    uint64_t size = 0;
    Status s = posix_file_system()->get_file_size(path, &size);
    if (!s.ok()) {
      problems->emplace_back(path, s.message());
      return;
    }
    // A table's footer is its last bytes: a file of another size cannot be read.
    if (size != meta->file_size) {
      problems->emplace_back(
          path, "is " + std::to_string(size) + " bytes but the MANIFEST says " +
                    std::to_string(meta->file_size) +
                    (size < meta->file_size
                         ? " (cut short: its footer and index, and every block from offset " +
                               std::to_string(size) + " on, are gone)"
                         : " (bytes were added after its footer)"));
      out->entries_lost += meta->entries;
      return;
    }
  }
  std::vector<BlockInfo> blocks;
  TableProperties properties;
  Status s = read_block_layout(path, &blocks, &properties, on_bytes);
  if (!s.ok()) {
    problems->emplace_back(path, s.message());
    if (meta != nullptr) out->entries_lost += meta->entries;
    return;
  }
  uint64_t readable = 0;
  size_t damaged = 0;
  for (const BlockInfo& b : blocks) {
    if (b.problem.empty()) {
      readable += b.entries;
    } else {
      problems->emplace_back(path, b.problem);
      ++damaged;
    }
  }
  if (damaged > 0) {
    // The reader would stop at the first damaged block: what the intact
    // ones hold is what the table still gives back.
    out->entries += readable;
    if (properties.num_entries > readable) out->entries_lost += properties.num_entries - readable;
    return;
  }
  std::unique_ptr<TableReader> reader;
  TableOptions options;
  s = TableReader::open(*posix_file_system(), path, number_from_name(path, FileType::kTable),
                        options, &reader);
  if (!s.ok()) {
    problems->emplace_back(path, s.message());
    return;
  }
  auto it = reader->new_iterator(TableReadOptions{true, false});
  uint64_t entries = 0;
  std::string previous_key;
  SequenceNumber previous_sequence = 0;
  for (it->seek_to_first(); it->valid(); it->next()) {
    // Internal order: user keys ascending, then sequences descending.
    const int order = compare_user_keys(previous_key, it->user_key());
    if (entries > 0 && (order > 0 || (order == 0 && previous_sequence <= it->sequence()))) {
      problems->emplace_back(path, "keys out of order at entry " + std::to_string(entries) + " ('" +
                                       escape(it->user_key()) + "')");
      return;
    }
    previous_key.assign(it->user_key());
    previous_sequence = it->sequence();
    ++entries;
  }
  if (!it->status().ok()) {
    problems->emplace_back(path, it->status().message());
    return;
  }
  out->entries += entries;
  const TableProperties& props = reader->properties();
  if (props.num_entries != entries) {
    problems->emplace_back(path, "holds " + std::to_string(entries) +
                                     " entries but its properties say " +
                                     std::to_string(props.num_entries));
  }
  if (meta != nullptr) {
    if (meta->entries != 0 && meta->entries != entries) {
      problems->emplace_back(path, "holds " + std::to_string(entries) +
                                       " entries but the MANIFEST says " +
                                       std::to_string(meta->entries));
    }
  }
}

// Reads one WAL through; its records must decode as write batches.
void check_log(const std::string& path, uint64_t number, uint64_t* records_out,
               std::vector<std::pair<std::string, std::string>>* problems,
               std::vector<std::string>* notes) {
  std::unique_ptr<wal::LogReader> reader;
  Status s = wal::LogReader::open(*posix_file_system(), path, number,
                                  wal::WalRecoveryMode::kTolerateCorruptedTail, &reader);
  if (!s.ok()) {
    problems->emplace_back(path, s.message());
    return;
  }
  std::string_view record;
  while (reader->read_record(&record)) {
    wal::DecodedWriteBatch batch;
    s = wal::decode_write_batch(record, &batch);
    if (!s.ok()) {
      problems->emplace_back(
          path,
          "record at offset " + std::to_string(reader->last_record_offset()) + ": " + s.message());
      return;
    }
    ++*records_out;
  }
  if (!reader->status().ok()) {
    problems->emplace_back(path, reader->status().message());
    return;
  }
  const wal::LogReadReport& report = reader->report();
  if (report.tail_kind != wal::LogTailKind::kNone) {
    notes->push_back(path + ": " + std::string(wal::log_tail_kind_name(report.tail_kind)) +
                     " tail of " + std::to_string(report.tail.bytes) + " bytes at offset " +
                     std::to_string(report.tail.offset) +
                     (report.tail_kind == wal::LogTailKind::kUnsynced
                          ? " (never synced, with records after it: left by a power cut; recovery "
                            "drops it)"
                          : " (left by a crash; recovery drops it)"));
  }
}

class CheckCommand : public Command {
 public:
  void configure(CLI::App&) override {}
  Status run(Invocation& inv) override {
    const std::string& dir = inv.session.db_path();
    if (dir.empty()) return Status::InvalidArgument("no database: pass --db DIR");
    if (Status s = check_db_directory(dir); !s.ok()) return s;
    std::vector<std::pair<std::string, std::string>> problems;
    std::vector<std::string> notes;
    LiveFiles live;
    Status s = load_live_files(*posix_file_system(), dir, &live);
    if (!s.ok()) {
      problems.emplace_back(
          live.manifest_path.empty() ? current_file_name(dir) : live.manifest_path, s.message());
    }
    uint64_t total_bytes = 0;
    std::vector<std::pair<std::string, const FileMetaData*>> tables;
    std::set<uint64_t> live_tables;
    if (live.version) {
      for (int level = 0; level < kNumLevels; ++level) {
        for (const FileRef& f : live.version->files(level)) {
          tables.emplace_back(table_file_name(dir, f->number), f.get());
          live_tables.insert(f->number);
          total_bytes += f->file_size;
        }
      }
    }
    std::vector<std::string> names;
    s = posix_file_system()->get_children(dir, &names);
    if (!s.ok()) return s;
    std::sort(names.begin(), names.end());
    std::vector<std::pair<std::string, uint64_t>> logs;
    if (!live.dropped_tail.empty()) {
      notes.push_back(live.manifest_path + ": ends in a damaged record (" + live.dropped_tail +
                      "), dropped as a torn write, as the DB's open drops it");
    }
    // The DB's open refuses a MANIFEST whose first log is missing (its lost
    // edits may have moved past that log): so does the check.
    if (live.version && live.log_number != 0 &&
        !posix_file_system()->file_exists(log_file_name(dir, live.log_number))) {
      problems.emplace_back(log_file_name(dir, live.log_number),
                            "missing: the MANIFEST names it as the first log to replay");
    }
    for (const std::string& name : names) {
      FileType type;
      uint64_t number = 0;
      if (!parse_file_name(name, &type, &number)) continue;
      if (type == FileType::kLog && (!live.version || number >= live.log_number)) {
        logs.emplace_back(dir + "/" + name, number);
      } else if (type == FileType::kTable && live.version && !live_tables.count(number)) {
        notes.push_back(dir + "/" + name + ": not in the MANIFEST (an obsolete file; ignored)");
      }
    }
    ProgressBar bar("checking", total_bytes, "bytes");
    uint64_t bytes_done = 0;
    TableCheck table_check;
    for (const auto& [path, meta] : tables) {
      if (!posix_file_system()->file_exists(path)) {
        problems.emplace_back(path, "missing: the MANIFEST lists it but it is not on disk");
        table_check.entries_lost += meta->entries;
        continue;
      }
      const uint64_t base = bytes_done;
      table_check.problems.clear();
      check_table(path, meta, &table_check, [&](uint64_t b) { bar.update(base + b); });
      problems.insert(problems.end(), table_check.problems.begin(), table_check.problems.end());
      bytes_done += meta->file_size;
      bar.update(bytes_done);
    }
    bar.finish();
    uint64_t records = 0;
    for (const auto& [path, number] : logs) check_log(path, number, &records, &problems, &notes);

    Result& r = inv.result;
    r.field("directory", dir);
    r.field("tables", uint64_t{tables.size()});
    r.field("table bytes", Bytes{total_bytes});
    r.field("table entries", table_check.entries);
    // Entries the tables' damage makes unreadable, as the MANIFEST and the
    // tables' properties count them (`repair` keeps every other one).
    if (table_check.entries_lost > 0) r.field("entries in damage", table_check.entries_lost);
    r.field("logs", uint64_t{logs.size()});
    r.field("log records", records);
    r.field("problem count", uint64_t{problems.size()});
    r.table_name = "problems";
    r.columns = {"file", "problem"};
    for (const auto& [file, problem] : problems) r.rows.push_back({file, problem});
    for (const auto& note : notes) r.lines.push_back("note: " + note);
    if (!problems.empty()) {
      return Status::Corruption(std::to_string(problems.size()) +
                                (problems.size() == 1 ? " problem" : " problems") + " found in " +
                                dir);
    }
    if (!inv.json) {
      r.lines.emplace_back(live.dropped_tail.empty()
                               ? "OK: every checksum verified"
                               : "OK: every checksum verified but the MANIFEST's damaged end (see "
                                 "the note)");
    }
    return Status::OK();
  }
};

// repair: rebuilds the DB from what its files still hold (repair_db()).
class RepairCommand : public Command {
 public:
  void configure(CLI::App&) override {}
  Status run(Invocation& inv) override {
    const std::string& dir = inv.session.db_path();
    if (dir.empty()) return Status::InvalidArgument("no database: pass --db DIR");
    if (inv.session.in_batch()) {
      return Status::InvalidArgument(
          "repair closes the DB, which would drop the open batch: commit or abort it first");
    }
    // As for every command: a missing directory is NotFound (exit 1), a
    // path that is not a directory InvalidArgument (exit 2).
    if (Status s = check_db_directory(dir); !s.ok()) return s;
    // The session's own DB would hold the directory's lock.
    if (Status s = inv.session.close(); !s.ok()) return s;
    RepairReport report;
    Status s = repair_db(dir, Options(), &report);
    if (!s.ok() && !report.installed) {
      // Default options are valid: what repair_db refuses as an argument is
      // a directory that holds no DB, a missing DB to the tool.
      if (s.is_invalid_argument()) return Status::NotFound(s.message());
      return s;  // nothing changed
    }
    // Written, maybe installed: what was found is shown with the error.
    Result& r = inv.result;
    r.field("directory", dir);
    r.field("manifest read whole", report.manifest_read_whole);
    r.field("tables read", uint64_t{report.tables_read});
    r.field("tables salvaged", uint64_t{report.tables_salvaged});
    r.field("tables unreadable", uint64_t{report.tables_unreadable});
    r.field("tables obsolete", uint64_t{report.tables_obsolete});
    r.field("tables missing", uint64_t{report.tables_missing});
    r.field("tables unfinished", uint64_t{report.tables_unfinished});
    r.field("logs replayed", uint64_t{report.logs_replayed});
    r.field("log records", report.log_records_replayed);
    r.field("keys kept", report.keys_kept);
    r.field("tables written", uint64_t{report.tables_written});
    r.field("bytes written", Bytes{report.bytes_written});
    r.field("earlier files in", report.lost_dir);
    r.field("problem count", uint64_t{report.problems.size()});
    r.table_name = "problems";
    r.columns = {"problem"};
    for (const std::string& problem : report.problems) r.rows.push_back({problem});
    if (!s.ok()) return s;
    // Tables that gave nothing back are easy to miss among the counts.
    const size_t lost_tables = report.tables_unreadable + report.tables_missing;
    if (lost_tables > 0 && !inv.json) {
      r.lines.push_back(
          "warning: " + std::to_string(lost_tables) + (lost_tables == 1 ? " table" : " tables") +
          " gave nothing back (unreadable or missing): " +
          (lost_tables == 1 ? "its entries are" : "their entries are") + " not in the repaired DB");
    }
    if (!inv.json) {
      r.lines.push_back(report.lost_dir.empty()
                            ? std::string("repaired")
                            : "repaired; the earlier files are kept in " + report.lost_dir +
                                  " (delete it once the DB reads as expected)");
    }
    return Status::OK();
  }
};

// sst list | sst dump FILE [--blocks] [--entries] [--properties] | sst check FILE
class SstCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.require_subcommand(1);
    list_ = app.add_subcommand("list", "The live tables of the DB, level by level");
    CLI::App* dump = app.add_subcommand("dump", "Show a table: its properties, blocks, entries");
    dump->add_option("file", file_, "The .sst file")->required();
    dump->add_flag("--blocks", blocks_, "The data blocks: offset, sizes, compression, entries");
    dump->add_flag("--entries", entries_, "Every entry: key, sequence, kind, value");
    dump->add_flag("--properties", properties_, "The properties block");
    dump->add_option("--limit", limit_, "At most this many entries, or blocks (0: no limit)")
        ->transform(count_validator());
    CLI::App* check = app.add_subcommand("check", "Read a table through, verifying every checksum");
    check_ = check;
    check->add_option("file", file_, "The .sst file")->required();
  }
  // The subcommand apps live as long as the dispatcher's app, which outlives run().
  Status run(Invocation& inv) override {
    if (list_->parsed()) return list(inv);
    file_ = file_in_db(inv, file_);
    if (check_->parsed()) return check(inv);
    return dump(inv);
  }

 private:
  Status list(Invocation& inv) {
    if (inv.session.db_path().empty()) return Status::InvalidArgument("no database: pass --db DIR");
    LiveFiles live;
    Status s = load_live_files(*posix_file_system(), inv.session.db_path(), &live);
    if (!s.ok()) return s;
    Result& r = inv.result;
    r.table_name = "tables";
    r.columns = {"level",      "file",      "size",     "entries",
                 "tombstones", "sequences", "smallest", "largest"};
    for (int level = 0; level < kNumLevels; ++level) {
      for (const FileRef& f : live.version->files(level)) {
        r.rows.push_back({"L" + std::to_string(level), base_name(table_file_name("", f->number)),
                          Bytes{f->file_size}, f->entries, f->tombstones,
                          std::to_string(f->smallest_seq) + ".." + std::to_string(f->largest_seq),
                          inv.show(f->smallest_user_key()), inv.show(f->largest_user_key())});
      }
    }
    r.show_table_when_empty = true;
    r.field("directory", inv.session.db_path());
    r.field("table count", uint64_t{live.version->total_files()});
    r.field("total size", Bytes{live.version->total_bytes()});
    return Status::OK();
  }

  Status check(Invocation& inv) {
    TableCheck table_check;
    uint64_t size = 0;
    Status s = posix_file_system()->get_file_size(file_, &size);
    if (!s.ok()) return s;
    {
      ProgressBar bar("checking", size, "bytes");
      check_table(file_, nullptr, &table_check, [&](uint64_t b) { bar.update(b); });
    }
    const auto& problems = table_check.problems;
    inv.result.field("file", file_);
    inv.result.field("size", Bytes{size});
    inv.result.field("entries", table_check.entries);
    if (table_check.entries_lost > 0)
      inv.result.field("entries in damage", table_check.entries_lost);
    inv.result.field("problem count", uint64_t{problems.size()});
    inv.result.table_name = "problems";
    inv.result.columns = {"file", "problem"};
    for (const auto& [file, problem] : problems) inv.result.rows.push_back({file, problem});
    // Each problem, listed above, names the file and the offset.
    if (problems.size() == 1) return Status::Corruption(problems.front().second);
    if (!problems.empty()) {
      return Status::Corruption(std::to_string(problems.size()) + " problems found in " + file_);
    }
    if (!inv.json) inv.result.lines.emplace_back("OK: every checksum verified");
    return Status::OK();
  }

  Status dump(Invocation& inv) {
    if (blocks_ && entries_) {
      // Each prints a table, and a result holds one.
      return Status::InvalidArgument(
          "sst dump: --blocks and --entries each list a table: give one");
    }
    const bool all = !blocks_ && !entries_ && !properties_;
    std::unique_ptr<TableReader> reader;
    Status s =
        TableReader::open(*posix_file_system(), file_, number_from_name(file_, FileType::kTable),
                          TableOptions(), &reader);
    if (!s.ok()) return s;
    Result& r = inv.result;
    r.field("file", file_);
    r.field("size", Bytes{reader->file_size()});
    if (properties_ || all) {
      const TableProperties& p = reader->properties();
      r.field("entries", p.num_entries);
      r.field("tombstones", p.num_tombstones);
      r.field("data blocks", p.num_data_blocks);
      r.field("raw key bytes", Bytes{p.raw_key_bytes});
      r.field("raw value bytes", Bytes{p.raw_value_bytes});
      r.field("data bytes (raw)", Bytes{p.data_bytes_raw});
      r.field("data bytes (stored)", Bytes{p.data_bytes_stored});
      r.field("index bytes", Bytes{p.index_bytes});
      r.field("filter bytes", Bytes{p.filter_bytes});
      ParsedInternalKey smallest, largest;
      if (parse_internal_key(p.smallest_key, &smallest)) {
        r.field("smallest key", inv.show(smallest.user_key));
      }
      if (parse_internal_key(p.largest_key, &largest)) {
        r.field("largest key", inv.show(largest.user_key));
      }
      r.field("sequences",
              std::to_string(p.smallest_sequence) + ".." + std::to_string(p.largest_sequence));
      if (inv.json) {
        r.field("creation time", p.creation_time);  // seconds since the Unix epoch
      } else {
        r.field("creation time", utc_time(p.creation_time));
      }
      r.field("compression",
              p.compression + (p.compression == "zstd"
                                   ? " (level " + std::to_string(p.zstd_level) +
                                         (p.zstd_raw_literals != 0 ? ", literals raw" : "") + ")"
                                   : std::string()));
      r.field("compression dictionary", Bytes{p.dictionary_bytes});
      r.field("bloom bits per key", p.bloom_bits_per_key);
    }
    if (blocks_) {
      std::vector<BlockInfo> blocks;
      s = read_block_layout(file_, &blocks);
      if (!s.ok()) return s;
      const size_t damaged = static_cast<size_t>(std::count_if(
          blocks.begin(), blocks.end(), [](const BlockInfo& b) { return !b.problem.empty(); }));
      r.table_name = "blocks";
      r.columns = {"block", "offset", "stored", "raw", "compression", "entries", "separator"};
      // Damaged blocks are listed among the others, with what is wrong.
      if (damaged > 0) r.columns.emplace_back("problem");
      for (size_t i = 0; i < blocks.size() && (limit_ == 0 || i < limit_); ++i) {
        const BlockInfo& b = blocks[i];
        r.rows.push_back({uint64_t{i}, b.offset, Bytes{b.stored_bytes}, Bytes{b.raw_bytes},
                          b.compression, b.entries, inv.show(extract_user_key(b.last_key))});
        if (damaged > 0) r.rows.back().emplace_back(b.problem);
      }
      if (damaged == 0) return Status::OK();
      return Status::Corruption(std::to_string(damaged) + " of the " +
                                std::to_string(blocks.size()) + " data blocks of " + file_ +
                                (damaged == 1 ? " is" : " are") + " damaged");
    }
    if (entries_ || all) {
      r.table_name = "entries";
      r.columns = {"key", "sequence", "kind", "value"};
      auto it = reader->new_iterator(TableReadOptions{true, false});
      uint64_t n = 0;
      for (it->seek_to_first(); it->valid() && (limit_ == 0 || n < limit_); it->next(), ++n) {
        r.rows.push_back({inv.show(it->user_key()), it->sequence(), kind_name(it->kind()),
                          inv.show(it->value())});
      }
      return it->status();
    }
    return Status::OK();
  }

  std::string file_;
  bool blocks_ = false;
  bool entries_ = false;
  bool properties_ = false;
  uint64_t limit_ = 0;
  CLI::App* list_ = nullptr;
  CLI::App* check_ = nullptr;
};

// wal dump FILE
class WalCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.require_subcommand(1);
    CLI::App* dump = app.add_subcommand("dump", "Every record of a write-ahead log");
    dump->add_option("file", file_, "The .log file")->required();
    dump->add_flag("--summary", summary_, "Counts only, no entries");
  }
  Status run(Invocation& inv) override {
    file_ = file_in_db(inv, file_);
    const uint64_t number = number_from_name(file_, FileType::kLog);
    if (number == 0) {
      return Status::InvalidArgument(file_ +
                                     ": not a log file name (NNNNNN.log); the number "
                                     "is needed to tell its records from stale ones");
    }
    std::unique_ptr<wal::LogReader> reader;
    Status s = wal::LogReader::open(*posix_file_system(), file_, number,
                                    wal::WalRecoveryMode::kTolerateCorruptedTail, &reader);
    if (!s.ok()) return s;
    Result& r = inv.result;
    r.table_name = "entries";
    r.columns = {"offset", "sequence", "kind", "key", "value"};
    uint64_t records = 0;
    uint64_t entries = 0;
    std::string_view record;
    while (reader->read_record(&record)) {
      wal::DecodedWriteBatch batch;
      s = wal::decode_write_batch(record, &batch);
      if (!s.ok()) {
        return s.with_context(file_ + ": record at offset " +
                              std::to_string(reader->last_record_offset()));
      }
      ++records;
      for (size_t i = 0; i < batch.entries.size(); ++i) {
        const wal::WriteBatchEntry& e = batch.entries[i];
        ++entries;
        if (summary_) continue;
        r.rows.push_back({reader->last_record_offset(), batch.base_sequence + i, kind_name(e.kind),
                          inv.show(e.key), inv.show(e.value)});
      }
    }
    const wal::LogReadReport& report = reader->report();
    r.fields.insert(r.fields.begin(), {"file", file_});
    r.field("records", records);
    r.field("entries", entries);
    r.field("valid bytes", Bytes{report.valid_bytes});
    // The records before damage are shown, with the damage as the error.
    if (!reader->status().ok()) return reader->status();
    // Version 1 logs carry no sync marks: how far they were synced is unknown.
    if (report.has_sync_marks) r.field("synced through", report.synced_through);
    r.field("tail", std::string(wal::log_tail_kind_name(report.tail_kind)));
    if (report.tail_kind != wal::LogTailKind::kNone) {
      r.field("tail offset", report.tail.offset);
      r.field("tail bytes", report.tail.bytes);
      r.field("tail reason", report.tail.reason);
    }
    // Nothing valid anywhere in a file of bytes that are not zeros: not a log
    // (a table, a renamed file), or a crash tore the only record it had.
    // Either way there is nothing in it, and saying "ok" would hide that.
    if (records == 0 && report.tail_kind == wal::LogTailKind::kTorn && report.tail.offset == 0) {
      return Status::Corruption(file_ + ": offset 0: no valid record in its " +
                                std::to_string(report.tail.bytes) + " bytes (" +
                                report.tail.reason +
                                "): not a write-ahead log, or a crash tore its only record");
    }
    return Status::OK();
  }

 private:
  std::string file_;
  bool summary_ = false;
};

// manifest dump [FILE]
class ManifestCommand : public Command {
 public:
  void configure(CLI::App& app) override {
    app.require_subcommand(1);
    CLI::App* dump =
        app.add_subcommand("dump", "Every edit of the MANIFEST (default: the live one)");
    dump->add_option("file", file_, "A MANIFEST-NNNNNN file");
  }
  Status run(Invocation& inv) override {
    std::string path = file_in_db(inv, file_);
    if (path.empty()) {
      const std::string& dir = inv.session.db_path();
      if (dir.empty()) return Status::InvalidArgument("no database: pass --db DIR or a FILE");
      std::string current;
      Status s = read_file_to_string(*posix_file_system(), current_file_name(dir), &current);
      if (!s.ok()) return s;
      while (!current.empty() && current.back() == '\n') current.pop_back();
      // CURRENT names a file in the directory; anything else is damage.
      FileType type;
      uint64_t number = 0;
      if (!parse_file_name(current, &type, &number) || type != FileType::kManifest) {
        return Status::Corruption(current_file_name(dir) +
                                  ": offset 0: does not name a MANIFEST ('" +
                                  escape(current.substr(0, 64)) + "')");
      }
      path = dir + "/" + current;
    }
    std::vector<std::string> lines;
    Status s = VersionSet::dump_manifest(*posix_file_system(), path, &lines);
    // Records read before a damaged one are worth showing; a file that gave
    // none (not a MANIFEST, missing, unreadable) is only its error.
    if (!s.ok() && lines.empty()) return s;
    Result& r = inv.result;
    r.field("file", path);
    r.table_name = "records";
    r.columns = {"offset", "edit"};
    for (const std::string& line : lines) {
      const size_t space = line.find(' ');
      const std::string offset = line.substr(1, space - 1);
      r.rows.push_back({static_cast<uint64_t>(std::stoull(offset)),
                        space == std::string::npos ? std::string() : line.substr(space + 1)});
    }
    r.field("records", uint64_t{lines.size()});
    return s;
  }

 private:
  std::string file_;
};

}  // namespace

void add_file_commands(std::vector<CommandInfo>* commands) {
  commands->push_back(info<CheckCommand>(
      "check", "Read every live file and verify every checksum; list each problem"));
  commands->push_back(info<RepairCommand>(
      "repair", "Rebuild a DB that does not open from what its files still hold"));
  commands->push_back(info<SstCommand>(
      "sst",
      "Tables: sst list | sst dump FILE [--blocks] [--entries] [--properties] | sst check FILE"));
  commands->push_back(info<WalCommand>("wal", "Write-ahead logs: wal dump FILE"));
  commands->push_back(info<ManifestCommand>("manifest", "The MANIFEST: manifest dump [FILE]"));
}

}  // namespace fsdb::tool
