// Session: the state one run of the fsdb tool carries from command to command:
// the global options, the open DB (opened on first use), the snapshot later
// reads use, and the batch that put/del go into between `batch` and `commit`.
//
// Thread safety: one thread (the shell's). Ownership: owns the DB, the snapshot
// and the batch; close() releases them in that order.
#pragma once

#include <iostream>
#include <memory>
#include <optional>
#include <string>

#include "fsdb/db.h"
#include "fsdb/write_batch.h"
#include "tools/result.h"

namespace fsdb::tool {

// Exit codes, documented in docs/fsdb.md.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

struct GlobalOptions {
  std::string db_path;
  bool create = false;
  bool json = false;
  bool hex = false;
  bool keep_going = false;
  // --read-only: DB::open_read_only(), and --create is refused.
  bool read_only = false;
};

class Session {
 public:
  explicit Session(GlobalOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const GlobalOptions& options() const { return options_; }
  const std::string& db_path() const { return options_.db_path; }
  // Before the DB is opened: a command's own --db and --create.
  void set_db_path(std::string path) { options_.db_path = std::move(path); }
  void set_create(bool create) { options_.create = create; }
  // The one command of this run only reads: the DB is opened read-only
  // unless --create asks for it to be made.
  void set_only_reads() { only_reads_ = true; }

  // The DB, opened now if it is not yet. A clear error for no --db, a missing
  // directory (without --create), a directory that is not a DB, or a DB in use.
  Status db(DB** out);
  bool db_is_open() const { return db_ != nullptr; }
  // Releases the snapshot, drops an open batch (commands that would lose one
  // refuse to run, and the shell reports one left at its end) and closes the DB.
  Status close();

  // Reads at the session's snapshot (if one is set).
  ReadOptions read_options() const;
  const Snapshot* snapshot() const { return snapshot_; }
  Status take_snapshot(uint64_t* sequence);
  void release_snapshot();

  bool in_batch() const { return batch_.has_value(); }
  WriteBatch* batch() { return batch_ ? &*batch_ : nullptr; }
  const WriteBatch* batch() const { return batch_ ? &*batch_ : nullptr; }
  void begin_batch() { batch_.emplace(); }
  void end_batch() { batch_.reset(); }

  // A key or value from the user: escaped text (\xNN), or hex with --hex.
  Status decode_input(std::string_view text, bool hex, std::string* bytes) const;
  // A key or value for display: escaped text, or hex with --hex.
  static std::string show(std::string_view bytes, bool hex);

  // Prints a command's result in the chosen form.
  void emit(const Result& result, bool json);
  std::ostream& out() { return std::cout; }

 private:
  GlobalOptions options_;
  bool only_reads_ = false;
  std::unique_ptr<DB> db_;
  const Snapshot* snapshot_ = nullptr;
  std::optional<WriteBatch> batch_;
};

}  // namespace fsdb::tool
