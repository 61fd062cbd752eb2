#include "tools/session.h"

#include <filesystem>
#include <iostream>
#include <memory>

#include "engine/filename.h"
#include "tools/live_files.h"
#include "tools/text.h"

namespace fsdb::tool {
namespace {

// What the open's recovery dropped (a torn or unsynced log end): said on
// stderr, so that no loss goes unreported.
struct RecoveryNote final : EventListener {
  void on_recovery(const RecoveryInfo& info) override { dropped = info.dropped_tail; }
  std::string dropped;
};

}  // namespace

Session::Session(GlobalOptions options) : options_(std::move(options)) {}

Session::~Session() { (void)close(); }

Status Session::db(DB** out) {
  if (db_ != nullptr) {
    *out = db_.get();
    return Status::OK();
  }
  const std::string& path = options_.db_path;
  if (path.empty()) {
    return Status::InvalidArgument("no database: pass --db DIR");
  }
  std::error_code ec;
  if (Status s = check_db_directory(path); s.is_not_found()) {
    if (!options_.create) {
      return Status::NotFound(path + ": no such directory (pass --create to make a new DB there)");
    }
  } else if (!s.ok()) {
    return s;
  }
  const bool has_current = std::filesystem::exists(current_file_name(path), ec);
  Options db_options;
  db_options.create_if_missing = options_.create;
  auto note = std::make_shared<RecoveryNote>();
  db_options.listener = note;
  std::unique_ptr<DB> db;
  const bool read_only = options_.read_only || (only_reads_ && !options_.create);
  Status s =
      read_only ? DB::open_read_only(db_options, path, &db) : DB::open(db_options, path, &db);
  bool beside_writer = false;
  if (read_only && s.is_busy()) {
    // A writer holds the DB: read it beside that writer, as it is now.
    note->dropped.clear();
    s = DB::open_as_secondary(db_options, path, &db);
    if (!s.ok()) {
      return s.with_context(path +
                            " is open for writing in another process, and reading it "
                            "beside that process failed");
    }
    beside_writer = true;
  }
  if (beside_writer) {
    // The end of a log being written is no damage: no note about it.
    std::cerr << "note: " << path
              << " is open for writing in another process: read as it is now (what that "
                 "process writes from here on is not seen)\n";
  } else if (s.ok() && !note->dropped.empty()) {
    std::cerr << "note: opening the DB dropped a damaged end (what a crash or power cut leaves "
                 "after the last write that reached the disk; "
              << (read_only ? "read-only, nothing is removed: the damaged end stays until the "
                              "DB is next opened for writing"
                            : "a log is replayed up to it and then removed")
              << "): " << note->dropped << "\n";
  }
  if (!s.ok()) {
    // Without CURRENT the DB answers "no DB here" for a directory that holds
    // none of its files (and Corruption, with a way out, for one that does).
    if (!has_current && !options_.create && s.is_invalid_argument()) {
      return Status::NotFound(
          path + ": not an fsdb DB (no CURRENT file; pass --create to make one there)");
    }
    if (s.is_busy()) {
      return Status::Busy(path +
                          " is open in another process (its LOCK file is held); close "
                          "that process first");
    }
    if (s.is_corruption()) {
      // What this tool offers for it (the engine's message speaks of the API).
      return Status::Corruption(s.message() + ". With this tool: `fsdb --db " + path +
                                " check` lists every damaged file; `fsdb --db " + path +
                                " repair` rebuilds the DB from what its files still hold");
    }
    return s;
  }
  db_ = std::move(db);
  *out = db_.get();
  return Status::OK();
}

Status Session::close() {
  release_snapshot();
  batch_.reset();
  if (db_ == nullptr) return Status::OK();
  Status s = db_->close();
  db_.reset();
  return s;
}

ReadOptions Session::read_options() const {
  ReadOptions options;
  options.snapshot = snapshot_;
  return options;
}

Status Session::take_snapshot(uint64_t* sequence) {
  DB* db = nullptr;
  Status s = this->db(&db);
  if (!s.ok()) return s;
  release_snapshot();
  snapshot_ = db->get_snapshot();
  *sequence = snapshot_->sequence();
  return Status::OK();
}

void Session::release_snapshot() {
  if (snapshot_ != nullptr && db_ != nullptr) db_->release_snapshot(snapshot_);
  snapshot_ = nullptr;
}

Status Session::decode_input(std::string_view text, bool hex, std::string* bytes) const {
  return hex || options_.hex ? from_hex(text, bytes) : unescape(text, bytes);
}

std::string Session::show(std::string_view bytes, bool hex) {
  return hex ? to_hex(bytes) : escape(bytes);
}

void Session::emit(const Result& result, bool json) {
  if (json) {
    render_json(result, std::cout);
  } else {
    render_human(result, std::cout);
  }
  std::cout.flush();
}

}  // namespace fsdb::tool
