// The fsdb tool end to end: every command run as a subprocess, its --json
// output parsed back, scripts on stdin, errors and exit codes.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "fsdb/db.h"
#include "support/test_util.h"
#include "tests/fsdb_tool_support.h"
#include "tests/support/log_bytes.h"

namespace fsdb::tool_test {
namespace {

using ::fsdb::test::ScratchDir;

class FsdbToolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(tool_path())) << "no tool at " << tool_path();
    db_ = scratch_.file("db");
  }

  // Runs `fsdb --db <db> args...`, expecting exit code `expected_exit`.
  RunResult fsdb(std::vector<std::string> args, int expected_exit = 0,
                 const std::string& input = "") {
    args.insert(args.begin(), {"--db", db_});
    RunResult r = run_tool(args, input);
    EXPECT_EQ(r.exit_code, expected_exit) << "args: " << ::testing::PrintToString(args)
                                          << "\nstdout: " << r.out << "\nstderr: " << r.err;
    return r;
  }
  Json fsdb_json(std::vector<std::string> args, int expected_exit = 0) {
    args.emplace_back("--json");
    return parse_json(fsdb(std::move(args), expected_exit).out);
  }
  // The keys of a scan's JSON output, in order.
  static std::vector<std::string> keys_of(const Json& scan) {
    std::vector<std::string> keys;
    for (const Json& e : scan["entries"].array) keys.push_back(e["key"].string);
    return keys;
  }

  ScratchDir scratch_;
  std::string db_;
};

TEST_F(FsdbToolTest, PutGetDelRoundTripWithJson) {
  fsdb({"--create", "put", "apple", "red"});
  fsdb({"put", "banana", "yellow"});
  EXPECT_EQ(fsdb({"get", "apple"}).out, "red\n");
  Json got = fsdb_json({"get", "banana"});
  EXPECT_EQ(got["key"].string, "banana");
  EXPECT_EQ(got["value"].string, "yellow");
  EXPECT_TRUE(fsdb_json({"put", "cherry", "dark red"})["ok"].boolean);
  fsdb({"del", "apple"});
  RunResult missing = fsdb({"get", "apple"}, 1);
  EXPECT_NE(missing.err.find("not found"), std::string::npos) << missing.err;
  Json error = fsdb_json({"get", "apple"}, 1);
  EXPECT_EQ(error["code"].string, "NotFound");
  Json scan = fsdb_json({"scan"});
  EXPECT_EQ(keys_of(scan), (std::vector<std::string>{"banana", "cherry"}));
  EXPECT_EQ(scan["count"].number, 2);
  EXPECT_EQ(scan["entries"].array[1]["value"].string, "dark red");
}

TEST_F(FsdbToolTest, BinaryKeysAndValuesAreEscapedHexOrQuoted) {
  fsdb({"--create", "put", "k\\x00\\x01", "v\\xff\\n"});
  // Escaped on output, and the bytes are really there: hex shows them.
  EXPECT_EQ(fsdb({"get", "k\\x00\\x01"}).out, "v\\xff\\x0a\n");
  EXPECT_EQ(fsdb({"--hex", "get", "6b0001"}).out, "76ff0a\n");
  fsdb({"put", "--hex", "00ff", "6869"});
  EXPECT_EQ(fsdb({"get", "\\x00\\xff"}).out, "hi\n");
  fsdb({"put", "back\\\\slash", "a b"});
  Json scan = fsdb_json({"scan"});
  EXPECT_EQ(keys_of(scan),
            (std::vector<std::string>{"\\x00\\xff", "back\\\\slash", "k\\x00\\x01"}));
  EXPECT_EQ(scan["entries"].array[1]["value"].string, "a b");
  // Quoted words in a script keep their spaces; escapes work inside quotes.
  fsdb({}, 0, "put \"two words\" 'x\\x41y'\nget \"two words\"\n");
  EXPECT_EQ(fsdb({"get", "two words"}).out, "xAy\n");
  // An escaped quote does not end a quoted word, in either kind of quotes.
  fsdb({}, 0, "put 'it\\'s' \"say \\\"hi\\\"\"\n");
  EXPECT_EQ(fsdb({"get", "it's"}).out, "say \"hi\"\n");
  RunResult open_quote = fsdb({}, 2, "put 'a\\' b\n");
  EXPECT_NE(open_quote.err.find("unterminated ' quote"), std::string::npos) << open_quote.err;
  RunResult bad = fsdb({"get", "\\xZZ"}, 2);
  EXPECT_NE(bad.err.find("hex digits"), std::string::npos) << bad.err;
}

TEST_F(FsdbToolTest, ScanAndCountOptions) {
  std::string script;
  for (const char* k : {"a1", "a2", "a3", "b1", "b2", "c1"}) {
    script += std::string("put ") + k + " v" + k + "\n";
  }
  fsdb({"--create"}, 0, script);
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--from", "a2", "--to", "b2"})),
            (std::vector<std::string>{"a2", "a3", "b1"}));
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--prefix", "b"})), (std::vector<std::string>{"b1", "b2"}));
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--reverse", "--limit", "2"})),
            (std::vector<std::string>{"c1", "b2"}));
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--reverse", "--to", "b1", "--from", "a2"})),
            (std::vector<std::string>{"a3", "a2"}));
  // A count is digits: no sign, nothing past 2^64 - 1 (0 is no limit).
  for (const char* bad : {"-1", "-18446744073709551615", "18446744073709551616", "1.5"}) {
    RunResult r = fsdb({"scan", std::string("--limit=") + bad}, 2);
    EXPECT_NE(r.err.find("--limit"), std::string::npos) << r.err;
  }
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--limit", "0", "--prefix", "a"})).size(), 3u);
  Json keys_only = fsdb_json({"scan", "--keys-only", "--limit", "1"});
  ASSERT_EQ(keys_only["entries"].array.size(), 1u);
  EXPECT_FALSE(keys_only["entries"].array[0].has("value"));
  EXPECT_EQ(fsdb_json({"count"})["count"].number, 6);
  EXPECT_EQ(fsdb_json({"count", "--prefix", "a"})["count"].number, 3);
  EXPECT_EQ(fsdb({"count", "--from", "b"}).out, "3\n");
  // An empty --to is a bound below every key, not a missing one.
  EXPECT_TRUE(keys_of(fsdb_json({"scan", "--to", ""})).empty());
  EXPECT_TRUE(keys_of(fsdb_json({"scan", "--to", "", "--reverse"})).empty());
  EXPECT_EQ(fsdb_json({"count", "--to", ""})["count"].number, 0);
  EXPECT_EQ(fsdb_json({"count", "--from", ""})["count"].number, 6);
  // The human table is aligned: every value starts in the same column.
  const std::string table = fsdb({"scan", "--prefix", "a"}).out;
  EXPECT_NE(table.find("key  value\na1   va1\na2   va2\na3   va3\n(3 entries)\n"),
            std::string::npos)
      << table;
}

TEST_F(FsdbToolTest, LongScansStreamCompleteOutput) {
  std::string script;
  for (int i = 0; i < 2500; ++i) script += "put k" + std::to_string(100000 + i) + " v\n";
  script += "put k2 longer-key-is-fine\n";
  fsdb({"--create"}, 0, script);
  Json scan = fsdb_json({"scan"});
  ASSERT_EQ(scan["entries"].array.size(), 2501u);
  EXPECT_EQ(scan["count"].number, 2501);
  EXPECT_EQ(scan["entries"].array[0]["key"].string, "k100000");
  EXPECT_EQ(scan["entries"].array[2500]["key"].string, "k2");
  EXPECT_EQ(scan["entries"].array[2500]["value"].string, "longer-key-is-fine");
  const std::string human = fsdb({"scan", "--reverse"}).out;
  EXPECT_TRUE(human.starts_with("key      value\nk2       longer-key-is-fine\nk102499  v\n"))
      << human.substr(0, 200);
  EXPECT_TRUE(human.ends_with("k100000  v\n(2501 entries)\n"));
  Json keys = fsdb_json({"scan", "--keys-only", "--limit", "1200"});
  ASSERT_EQ(keys["entries"].array.size(), 1200u);
  EXPECT_FALSE(keys["entries"].array[5].has("value"));
  // Read alone, the DB is opened read-only: the log is replayed into memory.
  EXPECT_EQ(fsdb_json({"levels", "--files"})["files"].array.size(), 0u);
  // An open for writing (the shell) turns the log into one level-0 table.
  fsdb({}, 0, "count\n");
  Json files = fsdb_json({"levels", "--files"});
  ASSERT_EQ(files["files"].array.size(), 1u);
  EXPECT_EQ(files["files"].array[0]["level"].string, "L0");
  EXPECT_EQ(files["files"].array[0]["entries"].number, 2501);
  EXPECT_EQ(files["files"].array[0]["largest"].string, "k2");
}

TEST_F(FsdbToolTest, ScriptStopsAtFirstErrorUnlessKeepGoing) {
  RunResult r = fsdb({"--create"}, 2, "put a 1\nnosuchcommand\nput b 2\n");
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  fsdb({"get", "b"}, 1);
  r = fsdb({"--keep-going"}, 1, "put c 3\nget missing\nput d 4\n# a comment\n\n");
  EXPECT_EQ(fsdb({"get", "d"}).out, "4\n");
}

TEST_F(FsdbToolTest, BatchCommitsAtomicallyAndAbortDiscards) {
  RunResult r =
      fsdb({"--create"}, 0, "batch\nput a 1\nput b 2\ndel a\ncommit\nbatch\nput z 9\nabort\n");
  EXPECT_NE(r.out.find("committed 3 writes"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("discarded 1 write"), std::string::npos) << r.out;
  EXPECT_EQ(keys_of(fsdb_json({"scan"})), (std::vector<std::string>{"b"}));
  // Input that ends inside a batch writes none of it and fails.
  r = fsdb({}, 1, "batch\nput q 1\n");
  EXPECT_NE(r.err.find("inside a batch"), std::string::npos) << r.err;
  fsdb({"get", "q"}, 1);
  fsdb({}, 2, "commit\n");
}

TEST_F(FsdbToolTest, SnapshotPinsLaterReads) {
  RunResult r = fsdb({"--create", "--json"}, 0,
                     "put k old\nsnapshot\nput k new\nget k\nsnapshot release\nget k\n");
  std::vector<std::string> lines;
  std::istringstream in(r.out);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  EXPECT_GT(parse_json(lines[1])["sequence"].number, 0);
  EXPECT_EQ(parse_json(lines[3])["value"].string, "old");
  EXPECT_EQ(parse_json(lines[5])["value"].string, "new");
}

TEST_F(FsdbToolTest, FlushCompactLevelsStatsProperty) {
  std::string script;
  for (int i = 0; i < 200; ++i) script += "put key" + std::to_string(1000 + i) + " value\n";
  fsdb({"--create"}, 0, script + "flush\n");
  fsdb({}, 0, "put key1000 changed\nflush\n");
  Json levels = fsdb_json({"levels"});
  EXPECT_EQ(levels["total files"].number, 2);
  ASSERT_EQ(levels["levels"].array.size(), 7u);
  EXPECT_EQ(levels["levels"].array[0]["files"].number, 2);
  Json compact = fsdb_json({"compact"});
  EXPECT_GE(compact["compactions"].number, 1);
  levels = fsdb_json({"levels"});
  EXPECT_EQ(levels["levels"].array[0]["files"].number, 0);
  // One level holds everything, and the overwritten version of key1000 is gone.
  double entries = 0;
  std::string smallest;
  for (const Json& level : levels["levels"].array) {
    entries += level["entries"].number;
    if (level["files"].number > 0) smallest = level["smallest"].string;
  }
  EXPECT_EQ(entries, 200);
  EXPECT_EQ(smallest, "key1000");
  EXPECT_EQ(fsdb({"get", "key1000"}).out, "changed\n");
  fsdb_json({"compact", "key1100", "key1150"});
  Json stats = fsdb_json({"stats"});
  EXPECT_TRUE(stats.has("sequence")) << fsdb({"stats"}).out;
  EXPECT_EQ(stats["directory"].string, db_);
  // JSON carries plain numbers (bytes, microseconds, counts), not "4.0 KiB".
  EXPECT_EQ(stats["sequence"].type, Json::Type::kNumber);
  EXPECT_EQ(stats["sequence"].number, 201);
  EXPECT_EQ(stats["block_cache_capacity"].number, 64 << 20);
  EXPECT_EQ(stats["files"].number, levels["total files"].number);
  EXPECT_EQ(stats["write_stall"].string, "read-only");  // a read alone opens it read-only
  EXPECT_EQ(stats["background_error"].string, "none");
  EXPECT_NE(fsdb({"stats"}).out.find(" of 64.0 MiB, hit rate"), std::string::npos);  // for people
  EXPECT_EQ(fsdb({"property", "fsdb.sequence"}).out, "201\n");
  Json prop = fsdb_json({"property", "fsdb.num-files-at-level0"});
  EXPECT_EQ(prop["value"].string, "0");
  fsdb({"property", "fsdb.nonsense"}, 1);
  // Without a background error there is nothing to resume.
  EXPECT_FALSE(fsdb_json({"resume"})["resumed"].boolean);
  EXPECT_EQ(fsdb({"resume"}).out, "no background error: nothing to resume\n");
  EXPECT_EQ(fsdb({"property", "fsdb.num-resumes"}).out, "0\n");
  const std::string human = fsdb({"levels"}).out;
  EXPECT_NE(human.find("level  files"), std::string::npos) << human;
  EXPECT_NE(human.find(" KiB"), std::string::npos) << human;  // sizes are human-readable
}

TEST_F(FsdbToolTest, SstWalAndManifestCommands) {
  fsdb({"--create"}, 0, "put a 1\nput b 2\ndel c\nflush\nput d 4\n");
  Json list = fsdb_json({"sst", "list"});
  ASSERT_EQ(list["tables"].array.size(), 1u) << fsdb({"sst", "list"}).out;
  const std::string table = db_ + "/" + list["tables"].array[0]["file"].string;
  EXPECT_EQ(list["tables"].array[0]["entries"].number, 3);
  EXPECT_EQ(list["tables"].array[0]["tombstones"].number, 1);

  Json dump = fsdb_json({"sst", "dump", table, "--entries"});
  ASSERT_EQ(dump["entries"].array.size(), 3u);
  EXPECT_EQ(dump["entries"].array[2]["key"].string, "c");
  EXPECT_EQ(dump["entries"].array[2]["kind"].string, "del");
  EXPECT_EQ(dump["entries"].array[0]["value"].string, "1");
  Json props = fsdb_json({"sst", "dump", table, "--properties"});
  EXPECT_EQ(props["entries"].number, 3);
  EXPECT_EQ(props["smallest key"].string, "a");
  // The creation time: seconds in JSON, a UTC date for people.
  EXPECT_GT(props["creation time"].number, 1.7e9);
  const std::string human_props = fsdb({"sst", "dump", table, "--properties"}).out;
  EXPECT_NE(human_props.find(" UTC"), std::string::npos) << human_props;
  EXPECT_NE(human_props.find("creation time"), std::string::npos) << human_props;
  Json blocks = fsdb_json({"sst", "dump", table, "--blocks"});
  ASSERT_GE(blocks["blocks"].array.size(), 1u);
  EXPECT_EQ(blocks["blocks"].array[0]["offset"].number, 0);
  EXPECT_EQ(blocks["blocks"].array[0]["entries"].number, 3);
  Json check = fsdb_json({"sst", "check", table});
  EXPECT_EQ(check["entries"].number, 3);
  EXPECT_EQ(check["problem count"].number, 0);

  std::string log;
  for (const auto& e : std::filesystem::directory_iterator(db_)) {
    if (e.path().extension() == ".log") log = e.path().string();
  }
  ASSERT_FALSE(log.empty());
  Json wal = fsdb_json({"wal", "dump", log});
  ASSERT_EQ(wal["entries"].array.size(), 1u) << fsdb({"wal", "dump", log}).out;
  EXPECT_EQ(wal["entries count"].number, 1);
  fsdb({"sst", "dump", table, "--blocks", "--entries"}, 2);  // one table per result
  EXPECT_EQ(wal["entries"].array[0]["key"].string, "d");
  EXPECT_EQ(wal["tail"].string, "none");

  Json manifest = fsdb_json({"manifest", "dump"});
  ASSERT_GE(manifest["records count"].number, 1);
  EXPECT_EQ(manifest["records"].array.size(), manifest["records count"].number);
  EXPECT_NE(fsdb({"manifest", "dump"}).out.find("+L0:"), std::string::npos);
  fsdb({"sst"}, 2);  // a subcommand is required
}

TEST_F(FsdbToolTest, CheckReportsCorruptionWithFileAndOffset) {
  std::string script;
  for (int i = 0; i < 2000; ++i)
    script += "put key" + std::to_string(i) + " value-" + std::to_string(i * 7) + "\n";
  fsdb({"--create"}, 0, script + "flush\n");
  Json clean = fsdb_json({"check"});
  EXPECT_EQ(clean["problem count"].number, 0);
  EXPECT_EQ(clean["table entries"].number, 2000);
  const std::string table =
      db_ + "/" + fsdb_json({"sst", "list"})["tables"].array[0]["file"].string;
  ASSERT_TRUE(test::flip_byte(table, 100));  // inside the first data block
  RunResult r = fsdb({"check"}, 1);
  EXPECT_NE(r.out.find(table), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("offset 0"), std::string::npos) << r.out;
  Json bad = fsdb_json({"check"}, 1);
  EXPECT_EQ(bad["problem count"].number, 1);
  ASSERT_EQ(bad["problems"].array.size(), 1u);
  EXPECT_EQ(bad["problems"].array[0]["file"].string, table);
  EXPECT_NE(bad["problems"].array[0]["problem"].string.find("offset"), std::string::npos);
  r = fsdb({"sst", "check", table}, 1);
  EXPECT_NE(r.err.find("offset 0"), std::string::npos) << r.err;
}

// Damage in two data blocks of a table: check and sst check list both (each
// with its offset; check used to stop at the first), count what still reads
// back and what the damage holds; sst dump --blocks lists every block, the
// damaged ones with their problem; a table's bare name works with --db.
TEST_F(FsdbToolTest, CheckListsEveryDamagedBlock) {
  std::string script;
  for (int i = 0; i < 2000; ++i) script += "put key" + std::to_string(1000 + i) + " value\n";
  fsdb({"--create"}, 0, script + "flush\n");
  const std::string name = fsdb_json({"sst", "list"})["tables"].array[0]["file"].string;
  const std::string table = db_ + "/" + name;
  const Json layout = fsdb_json({"sst", "dump", name, "--blocks"});  // the bare name, via --db
  const auto& blocks = layout["blocks"].array;
  ASSERT_GE(blocks.size(), 4u);
  EXPECT_FALSE(blocks[0].has("problem"));
  const double damaged_entries = blocks[1]["entries"].number + blocks[3]["entries"].number;
  for (size_t i : {1u, 3u}) {
    ASSERT_TRUE(test::flip_byte(table, static_cast<uint64_t>(blocks[i]["offset"].number) + 10));
  }
  const std::string at1 =
      "block at offset " + std::to_string(static_cast<uint64_t>(blocks[1]["offset"].number));
  const std::string at3 =
      "block at offset " + std::to_string(static_cast<uint64_t>(blocks[3]["offset"].number));

  Json bad = fsdb_json({"check"}, 1);
  ASSERT_EQ(bad["problems"].array.size(), 2u) << fsdb({"check"}, 1).out;
  EXPECT_NE(bad["problems"].array[0]["problem"].string.find(at1), std::string::npos);
  EXPECT_NE(bad["problems"].array[1]["problem"].string.find(at3), std::string::npos);
  EXPECT_EQ(bad["table entries"].number, 2000 - damaged_entries);
  EXPECT_EQ(bad["entries in damage"].number, damaged_entries);

  RunResult r = fsdb({"sst", "check", name}, 1);
  EXPECT_NE(r.out.find(at1), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(at3), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("2 problems found in " + table), std::string::npos) << r.err;

  const Json listed = fsdb_json({"sst", "dump", table, "--blocks"}, 1);
  ASSERT_EQ(listed["blocks"].array.size(), blocks.size());
  EXPECT_EQ(listed["blocks"].array[0]["problem"].string, "");
  EXPECT_NE(listed["blocks"].array[1]["problem"].string.find(at1), std::string::npos);
  EXPECT_EQ(listed["blocks"].array[2]["entries"].number, blocks[2]["entries"].number);
  EXPECT_NE(listed["error"].string.find("2 of the " + std::to_string(blocks.size()) +
                                        " data blocks of " + table + " are damaged"),
            std::string::npos)
      << listed["error"].string;
  EXPECT_EQ(fsdb_json({"sst", "dump", table, "--blocks", "--limit", "2"}, 1)["blocks"].array.size(),
            2u);
}

// A table cut short: check says so, with both sizes, rather than only that
// the footer (now elsewhere) is wrong; repair then says the table gave
// nothing back.
TEST_F(FsdbToolTest, ATruncatedTableIsReportedAsCutShort) {
  std::string script;
  for (int i = 0; i < 500; ++i) script += "put key" + std::to_string(i) + " value\n";
  fsdb({"--create"}, 0, script + "flush\nput after-flush yes\n");
  const Json table_info = fsdb_json({"sst", "list"})["tables"].array[0];
  const std::string table = db_ + "/" + table_info["file"].string;
  const uint64_t size = std::filesystem::file_size(table);
  std::filesystem::resize_file(table, size / 2);
  Json bad = fsdb_json({"check"}, 1);
  ASSERT_EQ(bad["problems"].array.size(), 1u);
  EXPECT_NE(bad["problems"].array[0]["problem"].string.find("is " + std::to_string(size / 2) +
                                                            " bytes but the MANIFEST says " +
                                                            std::to_string(size) + " (cut short"),
            std::string::npos)
      << bad["problems"].array[0]["problem"].string;
  EXPECT_EQ(bad["entries in damage"].number, 500);
  RunResult r = fsdb({"repair"});
  EXPECT_NE(r.out.find("warning: 1 table gave nothing back"), std::string::npos) << r.out;
  EXPECT_EQ(fsdb({"get", "after-flush"}).out, "yes\n");
}

// export writes into a file beside FILE and renames it over FILE only once
// every pair is written: a failed export (a damaged table) leaves FILE as it
// was, and nothing beside it. (It used to leave FILE cut off mid-way.)
TEST_F(FsdbToolTest, AFailedExportLeavesTheFileAsItWas) {
  std::string script;
  for (int i = 0; i < 2000; ++i) script += "put key" + std::to_string(1000 + i) + " value\n";
  fsdb({"--create"}, 0, script + "flush\n");
  const std::string file = scratch_.file("keep.csv");
  std::ofstream(file) << "key,value\nold,1\n";
  fsdb({"export", file});
  const std::string whole = read_all(file);
  EXPECT_EQ(std::count(whole.begin(), whole.end(), '\n'), 2001);
  std::ofstream(file, std::ios::trunc) << "key,value\nold,1\n";
  const std::string table =
      db_ + "/" + fsdb_json({"sst", "list"})["tables"].array[0]["file"].string;
  const Json blocks = fsdb_json({"sst", "dump", table, "--blocks"});
  ASSERT_GE(blocks["blocks"].array.size(), 3u);
  ASSERT_TRUE(test::flip_byte(
      table, static_cast<uint64_t>(blocks["blocks"].array[2]["offset"].number + 10)));
  RunResult r = fsdb({"export", file}, 1);
  EXPECT_NE(r.err.find("export stopped; " + file + " is left as it was"), std::string::npos)
      << r.err;
  EXPECT_EQ(read_all(file), "key,value\nold,1\n");
  EXPECT_FALSE(std::filesystem::exists(file + ".export-tmp"));
  // A file that is not a regular one is written in place.
  EXPECT_EQ(fsdb({"export", "/dev/null", "--prefix", "key1000"}).err, "");
}

// A DB whose table has a damaged block: `repair` keeps the other blocks'
// keys, lists the damage, and the DB then checks clean; in the shell, with
// the DB open and a batch pending, it refuses rather than drop the batch.
TEST_F(FsdbToolTest, RepairRebuildsADamagedDB) {
  std::string script;
  for (int i = 0; i < 2000; ++i) script += "put key" + std::to_string(i) + " value\n";
  fsdb({"--create"}, 0, script + "flush\n");
  const std::string table =
      db_ + "/" + fsdb_json({"sst", "list"})["tables"].array[0]["file"].string;
  ASSERT_TRUE(test::flip_byte(table, 100));  // inside the first data block
  fsdb({"check"}, 1);
  RunResult r = fsdb({}, 2, "batch\nput k v\nrepair\n");
  EXPECT_NE(r.err.find("commit or abort it first"), std::string::npos) << r.err;
  Json report = fsdb_json({"repair"});
  EXPECT_EQ(report["tables salvaged"].number, 1);
  ASSERT_GE(report["problems"].array.size(), 1u);
  EXPECT_NE(report["problems"].array[0]["problem"].string.find(table + ": block at offset 0"),
            std::string::npos);
  EXPECT_EQ(report["earlier files in"].string, db_ + "/lost");
  const double kept = report["keys kept"].number;
  EXPECT_GT(kept, 1700);  // one block of ~230 entries lost
  EXPECT_LT(kept, 2000);
  EXPECT_EQ(fsdb_json({"check"})["problem count"].number, 0);
  EXPECT_EQ(fsdb_json({"count"})["count"].number, kept);
  r = fsdb({}, 0, "get key1999\nrepair\nget key1999\n");
  EXPECT_NE(r.out.find("repaired"), std::string::npos) << r.out;
}

// A MANIFEST whose last record is damaged (and that has no closing sync mark,
// as when its writer died): the record is dropped as a torn write, as the
// DB's open drops it; check says so, and reports what that
// leaves missing (the tables the lost compaction deleted), as open refuses it.
// CURRENT is held to what open requires too.
TEST_F(FsdbToolTest, CheckReadsTheManifestAsOpenDoes) {
  fsdb({"--create"}, 0, "put held v1\nflush\ncompact\n");
  EXPECT_EQ(fsdb_json({"check"})["problem count"].number, 0);
  std::string current = read_all(db_ + "/CURRENT");
  ASSERT_TRUE(current.ends_with("\n")) << current;
  const std::string manifest_path = db_ + "/" + current.substr(0, current.size() - 1);
  std::string bytes = read_all(manifest_path);
  bytes.resize(test::bytes_before_closing_sync_mark(bytes));
  bytes[bytes.size() - 3] ^= 0x20;  // in the last record: the compaction's edit
  std::ofstream(manifest_path, std::ios::binary | std::ios::trunc) << bytes;

  RunResult r = fsdb({"check"}, 1);
  EXPECT_NE(r.out.find("ends in a damaged record"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("missing"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("OK"), std::string::npos) << r.out;
  r = fsdb({"get", "held"}, 1);
  EXPECT_NE(r.err.find("missing, though"), std::string::npos) << r.err;
  EXPECT_EQ(read_all(manifest_path), bytes) << "the damaged MANIFEST is left as it was";

  std::ofstream(db_ + "/CURRENT", std::ios::binary | std::ios::trunc)
      << current.substr(0, current.size() - 1);
  r = fsdb({"check"}, 1);
  EXPECT_NE(r.out.find("does not end with a newline"), std::string::npos) << r.out;
}

TEST_F(FsdbToolTest, CheckAndWalDumpReportDamageInsideALog) {
  std::string script;
  for (int i = 0; i < 300; ++i) {
    script += "put key" + std::to_string(i) + " value-" + std::string(60, 'x') + "\n";
  }
  fsdb({"--create"}, 0, script);  // no flush: the writes stay in the log
  std::string log;
  for (const auto& e : std::filesystem::directory_iterator(db_)) {
    if (e.path().extension() == ".log") log = e.path().string();
  }
  ASSERT_FALSE(log.empty());
  Json dump = fsdb_json({"wal", "dump", log, "--summary"});
  EXPECT_EQ(dump["entries count"].number, 300);
  // The tool's close synced the log and marked it so: all of it.
  EXPECT_EQ(dump["synced through"].number, static_cast<double>(dump["valid bytes"].number));
  {
    std::fstream f(log, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(2000);
    char c = 0;
    f.read(&c, 1);
    f.seekp(2000);
    c = static_cast<char>(c ^ 0x55);
    f.write(&c, 1);
  }
  Json bad = fsdb_json({"check"}, 1);
  ASSERT_EQ(bad["problems"].array.size(), 1u);
  EXPECT_EQ(bad["problems"].array[0]["file"].string, log);
  EXPECT_NE(bad["problems"].array[0]["problem"].string.find("offset"), std::string::npos);
  RunResult r = fsdb({"wal", "dump", log}, 1);
  EXPECT_NE(r.err.find(log + ": offset"), std::string::npos) << r.err;
  // The records before the damage are listed, and counted, with the error.
  Json partial = fsdb_json({"wal", "dump", log}, 1);
  EXPECT_EQ(partial["entries"].array.at(0)["key"].string, "key0");
  EXPECT_GT(partial["records"].number, 0);
  EXPECT_LT(partial["records"].number, 300);
  EXPECT_EQ(partial["records"].number, partial["entries"].array.size());
  // The DB does not open; the error says what this tool can do about it.
  r = fsdb({"get", "key0"}, 1);
  EXPECT_NE(r.err.find("`fsdb --db " + db_ + " repair` rebuilds the DB"), std::string::npos)
      << r.err;
}

// Files under the wrong name or with no log in them: a MANIFEST copied to
// another number (its records carry the number they were written for), and a
// ".log" that holds no valid record. Each is an error naming the file and the
// cause, not an empty success.
TEST_F(FsdbToolTest, RenamedManifestsAndFilesThatAreNotLogsAreErrors) {
  fsdb({"--create", "put", "a", "1"});
  const std::string current = read_all(db_ + "/CURRENT");
  ASSERT_FALSE(current.empty());
  const std::string manifest = db_ + "/" + current.substr(0, current.size() - 1);
  const std::string copy = scratch_.file("MANIFEST-000777");
  std::filesystem::copy_file(manifest, copy);
  RunResult r = fsdb({"manifest", "dump", copy}, 1);
  EXPECT_NE(r.err.find(copy + ": offset 0: stale fragment of log"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("renamed or copied"), std::string::npos) << r.err;
  // A file that is not a MANIFEST is its error alone, with no empty listing.
  r = fsdb({"manifest", "dump", db_ + "/CURRENT"}, 2);
  EXPECT_NE(r.err.find("CURRENT: not a MANIFEST file name"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  // The DB, with CURRENT naming the renamed file, says the same on open.
  std::filesystem::rename(manifest, db_ + "/MANIFEST-000777");
  std::ofstream(db_ + "/CURRENT", std::ios::trunc) << "MANIFEST-000777\n";
  r = fsdb({"get", "a"}, 1);
  EXPECT_NE(r.err.find("MANIFEST-000777: offset 0: stale fragment of log"), std::string::npos)
      << r.err;
  std::filesystem::rename(db_ + "/MANIFEST-000777", manifest);
  std::ofstream(db_ + "/CURRENT", std::ios::trunc) << current;
  EXPECT_EQ(fsdb({"get", "a"}).out, "1\n");

  // Bytes that are not a log (a copied table), and a log of zeros only (a
  // preallocated one nothing was written to yet, which is fine).
  const std::string not_a_log = scratch_.file("000042.log");
  std::ofstream(not_a_log, std::ios::binary) << std::string(3000, 'Q');
  r = fsdb({"wal", "dump", not_a_log}, 1);
  EXPECT_NE(r.err.find(not_a_log + ": offset 0: no valid record in its 3000 bytes"),
            std::string::npos)
      << r.err;
  const std::string zeros = scratch_.file("000043.log");
  std::ofstream(zeros, std::ios::binary) << std::string(4096, '\0');
  Json empty = fsdb_json({"wal", "dump", zeros});
  EXPECT_EQ(empty["records"].number, 0);
  EXPECT_EQ(empty["tail"].string, "zero-filled");
}

// A log end that recovery drops (here a torn last record, as a crash leaves
// it) is said on stderr when the tool opens the DB: no loss goes unreported.
TEST_F(FsdbToolTest, OpeningADBWhoseLogEndWasDroppedSaysSo) {
  fsdb({"--create"}, 0, "put first 1\nput second 2\n");  // no flush: in the log
  std::string log;
  for (const auto& e : std::filesystem::directory_iterator(db_)) {
    if (e.path().extension() == ".log") log = e.path().string();
  }
  ASSERT_FALSE(log.empty());
  std::string bytes = read_all(log);
  bytes.resize(test::bytes_before_closing_sync_mark(bytes) - 1);  // the last record torn
  std::ofstream(log, std::ios::binary | std::ios::trunc) << bytes;
  // A read alone opens the DB read-only: it reads up to the damage and leaves
  // the log as it is, and says so each time.
  for (int read = 0; read < 2; ++read) {
    RunResult r = fsdb({"get", "first"}, 0);
    EXPECT_NE(r.err.find("note: opening the DB dropped a damaged end"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(".log: offset "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("nothing is removed: the damaged end stays until the DB is next opened"),
              std::string::npos)
        << r.err;
    fsdb({"get", "second"}, 1);  // the torn write is gone
  }
  EXPECT_EQ(read_all(log), bytes);
  // The shell opens it for writing, which drops the damaged end for good.
  RunResult r = fsdb({}, 0, "get first\n");
  EXPECT_NE(r.err.find("a log is replayed up to it and then removed"), std::string::npos) << r.err;
  r = fsdb({"get", "first"}, 0);
  EXPECT_EQ(r.err, "") << "nothing is dropped twice";
}

// Every file of the DB directory with its bytes.
std::map<std::string, std::string> files_of(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    files[e.path().filename().string()] = read_all(e.path().string());
  }
  return files;
}

// A command that only reads, run alone, opens the DB read-only: it changes
// nothing in the directory (an open for writing makes a new MANIFEST and a
// new log), and it shares the DB with other readers but not with a writer.
TEST_F(FsdbToolTest, ReadCommandsChangeNothingAndShareTheDB) {
  fsdb({"--create"}, 0, "put a 1\nput b 2\nflush\nput c 3\ndel a\n");  // c in the log
  const auto before = files_of(db_);
  const std::string exported = scratch_.file("out.csv");
  EXPECT_EQ(fsdb({"get", "c"}).out, "3\n");
  EXPECT_EQ(keys_of(fsdb_json({"scan"})), (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(fsdb_json({"count"})["count"].number, 2);
  fsdb({"export", exported});
  EXPECT_EQ(read_all(exported), "key,value\nb,2\nc,3\n");
  EXPECT_EQ(fsdb_json({"stats"})["sequence"].number, 4);
  EXPECT_EQ(fsdb_json({"levels"})["total files"].number, 1);
  EXPECT_EQ(fsdb({"property", "fsdb.sequence"}).out, "4\n");
  EXPECT_EQ(files_of(db_), before);

  // --read-only: the shell and writing commands too, whose writes are refused.
  RunResult r = fsdb({"--read-only", "put", "d", "4"}, 1);
  EXPECT_NE(r.err.find("put: " + db_ + " was opened read-only"), std::string::npos) << r.err;
  r = fsdb({"--read-only"}, 1, "get b\nflush\n");
  EXPECT_EQ(r.out, "2\n");
  EXPECT_NE(r.err.find("flush: " + db_ + " was opened read-only"), std::string::npos) << r.err;
  r = fsdb({"--read-only", "--create", "get", "b"}, 2);
  EXPECT_NE(r.err.find("excludes"), std::string::npos) << r.err;
  r = fsdb({"--read-only", "put", "d", "4", "--create"}, 2);
  EXPECT_NE(r.err.find("put: --create: this session is read-only"), std::string::npos) << r.err;
  r = fsdb({"--read-only"}, 2, "put d 4 --create\n");
  EXPECT_NE(r.err.find("this session is read-only"), std::string::npos) << r.err;
  r = fsdb({}, 2, "--read-only\n");
  EXPECT_NE(r.err.find("is an option of the whole run"), std::string::npos) << r.err;
  EXPECT_EQ(files_of(db_), before);

  // Held read-only by this process: the tool may read, but not write.
  {
    std::unique_ptr<DB> reader;
    ASSERT_TRUE(DB::open_read_only(Options(), db_, &reader).ok());
    EXPECT_EQ(fsdb({"get", "b"}).out, "2\n");
    r = fsdb({"put", "d", "4"}, 1);
    EXPECT_NE(r.err.find("is open in another process"), std::string::npos) << r.err;
  }
  // Held for writing: reads see the DB as it is, beside the writer (its
  // acknowledged writes, still only in its log, among it); writes are refused.
  {
    std::unique_ptr<DB> writer;
    ASSERT_TRUE(DB::open(Options(), db_, &writer).ok());
    ASSERT_TRUE(writer->put("e", "5").ok());
    r = fsdb({"get", "e"});
    EXPECT_EQ(r.out, "5\n");
    EXPECT_NE(r.err.find("is open for writing in another process: read as it is now"),
              std::string::npos)
        << r.err;
    EXPECT_EQ(fsdb_json({"count"})["count"].number, 3);
    // A read-only shell or script beside the writer catches up on demand.
    const std::string sequence = writer->property("fsdb.sequence").value();
    r = fsdb({"--read-only"}, 0, "get e\ncatch-up\nproperty fsdb.num-catch-ups\n");
    EXPECT_EQ(r.out, "5\ncaught up: sequence " + sequence + "\n1\n");
    r = fsdb({"put", "d", "4"}, 1);
    EXPECT_NE(r.err.find("is open in another process"), std::string::npos) << r.err;
    ASSERT_TRUE(writer->remove("e").ok());
  }
  fsdb({"put", "d", "4"});
  EXPECT_EQ(fsdb({"get", "d"}).out, "4\n");
  r = fsdb({"catch-up"}, 2);
  EXPECT_NE(r.err.find("this session has the DB to itself"), std::string::npos) << r.err;
}

TEST_F(FsdbToolTest, LoadAndExportEveryFormat) {
  fsdb({"--create"}, 0, "put plain 1\nput \"with,comma\" \"quote\\\"d\"\nput bin\\x00 \\xfe\\t\n");
  for (const char* format : {"csv", "tsv", "jsonl"}) {
    SCOPED_TRACE(format);
    const std::string file = scratch_.file(std::string("out.") + format);
    Json exported = fsdb_json({"export", file});
    EXPECT_EQ(exported["records"].number, 3);
    EXPECT_EQ(exported["format"].string, format);
    // Load into a fresh DB: the format is detected from the content.
    const std::string other = scratch_.file(std::string("copy-") + format);
    RunResult r = run_tool({"--db", other, "--create", "--json", "load", file});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.err, "");  // no progress bar into a file
    Json loaded = parse_json(r.out);
    EXPECT_EQ(loaded["records"].number, 3);
    EXPECT_EQ(loaded["format"].string, format);
    RunResult original = fsdb({"scan", "--hex", "--json"});
    RunResult copy = run_tool({"--db", other, "scan", "--hex", "--json"});
    EXPECT_EQ(copy.out, original.out);
  }
  const std::string csv = read_all(scratch_.file("out.csv"));
  EXPECT_NE(csv.find("\"with,comma\",\"quote\"\"d\""), std::string::npos) << csv;
  // --hex: keys and values as hex, both ways.
  const std::string hex_file = scratch_.file("hex.tsv");
  fsdb({"--hex", "export", hex_file, "--prefix", "62"});  // "b"
  EXPECT_EQ(read_all(hex_file), "key\tvalue\n62696e00\tfe09\n");
  const std::string hex_copy = scratch_.file("copy-hex");
  RunResult hex_load = run_tool({"--db", hex_copy, "--create", "load", hex_file, "--hex"});
  ASSERT_EQ(hex_load.exit_code, 0) << hex_load.out << hex_load.err;
  EXPECT_EQ(run_tool({"--db", hex_copy, "scan", "--hex"}).out,
            fsdb({"scan", "--hex", "--prefix", "62"}).out);
  // A malformed line names the file and the line.
  const std::string bad = scratch_.file("bad.csv");
  std::ofstream(bad) << "key,value\na,1\nno-comma-here\n";
  RunResult r = fsdb({"load", bad}, 2);
  EXPECT_NE(r.err.find("bad.csv:3"), std::string::npos) << r.err;
  // ...and the records before it are written, as the message says.
  EXPECT_NE(r.err.find("the record before it was written"), std::string::npos) << r.err;
  EXPECT_EQ(fsdb({"get", "a"}).out, "1\n");
  // A pipe has no size, and is read all the same; a directory is refused.
  r = fsdb({"--json", "load", "/dev/stdin"}, 0, "piped,yes\n");
  EXPECT_EQ(parse_json(r.out)["records"].number, 1) << r.out;
  EXPECT_EQ(fsdb({"get", "piped"}).out, "yes\n");
  r = fsdb({"load", scratch_.path()}, 2);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

// Input as other programs write it: a character past U+FFFF as a JSON
// surrogate pair, a JSON line indented, a CSV with a byte order mark, a header
// after a blank line. (The pair used to be stored as two three-byte halves,
// the indented line was read as CSV, and the other two headers as records.)
TEST_F(FsdbToolTest, LoadReadsWhatOtherProgramsWrite) {
  fsdb({"--create", "put", "x", "1"});
  const std::string json = scratch_.file("in.jsonl");
  std::ofstream(json) << "{\"key\": \"emoji\", \"value\": \"\\ud83d\\ude00\"}\n"
                      << "  {\"key\": \"indented\", \"value\": \"yes\"}\n";
  Json loaded = fsdb_json({"load", json});
  EXPECT_EQ(loaded["format"].string, "jsonl");
  EXPECT_EQ(loaded["records"].number, 2);
  EXPECT_EQ(fsdb({"--hex", "get", "656d6f6a69"}).out, "f09f9880\n");  // U+1F600 in UTF-8
  EXPECT_EQ(fsdb({"get", "indented"}).out, "yes\n");
  const std::string lone = scratch_.file("lone.jsonl");
  std::ofstream(lone) << "{\"key\": \"half\", \"value\": \"\\ud83d\"}\n";
  RunResult r = fsdb({"load", lone}, 2);
  EXPECT_NE(r.err.find("lone.jsonl:1"), std::string::npos) << r.err;

  const std::string bom = scratch_.file("bom.csv");
  std::ofstream(bom) << "\xef\xbb\xbfkey,value\nk1,v1\n";
  EXPECT_EQ(fsdb_json({"load", bom})["records"].number, 1);
  const std::string blank = scratch_.file("blank.csv");
  std::ofstream(blank) << "\nkey,value\nk2,v2\n";
  EXPECT_EQ(fsdb_json({"load", blank})["records"].number, 1);
  EXPECT_EQ(keys_of(fsdb_json({"scan"})),
            (std::vector<std::string>{"emoji", "indented", "k1", "k2", "x"}));
}

// export never writes into the DB's own directory (export DB/CURRENT used to
// replace CURRENT, and the DB no longer opened); load refuses to run inside
// an open batch (it wrote past it, and abort discarded nothing); a file that
// cannot be opened says why.
TEST_F(FsdbToolTest, ExportAndLoadRefuseWhatWouldHarmTheDB) {
  fsdb({"--create", "put", "a", "1"});
  RunResult r = fsdb({"export", db_ + "/CURRENT"}, 2);
  EXPECT_NE(r.err.find("inside the DB's directory"), std::string::npos) << r.err;
  fsdb({"export", db_ + "/../" + std::filesystem::path(db_).filename().string() + "/x.csv"}, 2);
  EXPECT_EQ(fsdb({"get", "a"}).out, "1\n");  // the DB still opens
  const std::string file = scratch_.file("pairs.csv");
  std::ofstream(file) << "b,2\n";
  r = fsdb({}, 2, "batch\nload " + file + "\nabort\n");
  EXPECT_NE(r.err.find("commit or abort it first"), std::string::npos) << r.err;
  fsdb({"get", "b"}, 1);  // nothing was loaded
  r = fsdb({"load", scratch_.file("missing.csv")}, 1);
  EXPECT_NE(r.err.find("No such file or directory"), std::string::npos) << r.err;
}

// A DB that lost its CURRENT is not "not an fsdb DB": the tool passes on the
// engine's message, which names the MANIFEST to write back, with or without
// --create.
TEST_F(FsdbToolTest, ALostCurrentIsReportedWithTheWayBack) {
  fsdb({"--create", "put", "k", "v"});
  fsdb({"flush"});
  std::filesystem::remove(std::filesystem::path(db_) / "CURRENT");
  for (const bool create : {false, true}) {
    std::vector<std::string> args = {"get", "k"};
    if (create) args.insert(args.begin(), "--create");
    RunResult r = fsdb(args, 1);
    EXPECT_NE(r.err.find("CURRENT is missing"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("MANIFEST-"), std::string::npos) << r.err;
  }
}

TEST_F(FsdbToolTest, ErrorsAndExitCodes) {
  RunResult r = fsdb({"get", "k"}, 1);
  EXPECT_NE(r.err.find("--create"), std::string::npos) << r.err;
  // A missing DB fails repair as it fails every command: exit 1, not 2.
  r = fsdb({"repair"}, 1);
  EXPECT_NE(r.err.find("no such directory"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db_));
  std::filesystem::create_directories(db_);
  r = fsdb({"get", "k"}, 1);
  EXPECT_NE(r.err.find("not an fsdb DB"), std::string::npos) << r.err;
  r = fsdb({"repair"}, 1);
  EXPECT_NE(r.err.find("holds no DB"), std::string::npos) << r.err;
  EXPECT_TRUE(std::filesystem::is_empty(db_)) << "a read leaves no LOCK behind";
  fsdb({"--create", "put", "k", "v"});
  // A script on one DB cannot drift to another for the lines that follow.
  const std::string other = scratch_.file("other");
  r = fsdb({}, 2, "levels --db " + other + "\nget k\n");
  EXPECT_NE(r.err.find("this session is on " + db_), std::string::npos) << r.err;
  r = fsdb({"compcat"}, 2);
  EXPECT_NE(r.err.find("did you mean 'compact'"), std::string::npos) << r.err;
  r = fsdb({"put", "only-key"}, 2);
  EXPECT_NE(r.err.find("help put"), std::string::npos) << r.err;
  r = fsdb({"compact", "z", "a"}, 2);
  EXPECT_NE(r.err.find("FROM 'z' sorts after TO 'a'"), std::string::npos) << r.err;
  // JSON error codes are identifiers, one per kind of error.
  EXPECT_EQ(fsdb_json({"compact", "z", "a"}, 2)["code"].string, "InvalidArgument");
  r = run_tool({"--no-such-flag"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("unknown option '--no-such-flag'"), std::string::npos) << r.err;
  r = run_tool({"--jsn", "get", "k"});
  EXPECT_NE(r.err.find("did you mean '--json'"), std::string::npos) << r.err;
  // Words no argument takes are named in the order they were given; the `--`
  // that ends the options is not one of them.
  r = fsdb({"get", "k", "second", "third"}, 2);
  EXPECT_NE(r.err.find("get: unexpected arguments 'second', 'third'"), std::string::npos) << r.err;
  r = fsdb({"sst", "dump", "file", "extra"}, 2);
  EXPECT_NE(r.err.find("unexpected argument 'extra'"), std::string::npos) << r.err;
  fsdb({"put", "--", "-dash", "minus"});
  EXPECT_EQ(fsdb({"get", "--", "-dash"}).out, "minus\n");
  // The DB held open by another process (this one).
  std::unique_ptr<DB> db;
  FSDB_ASSERT_OK(DB::open(Options(), db_, &db));
  r = fsdb({"put", "k", "w"}, 1);
  EXPECT_NE(r.err.find("another process"), std::string::npos) << r.err;
  // Reads go on beside it; so do the file commands.
  EXPECT_EQ(fsdb({"get", "k"}).out, "v\n");
  fsdb({"check"});
  db.reset();
  EXPECT_EQ(fsdb({"get", "k"}).out, "v\n");
}

// What scripts and their authors run into: a comment with an apostrophe,
// data with trailing spaces, counts with leading zeros, a tool option on a
// script line, a key that looks like an option, quotes escaped in a file
// name, one directory spelled two ways, a batch on the command line, bytes
// that are not UTF-8 in a JSON error, and a --db that is a file.
TEST_F(FsdbToolTest, ScriptsAndArgumentsAtTheirEdges) {
  std::string script = "# don't stop at this comment\n  # nor this \"one\n";
  for (int i = 0; i < 12; ++i) script += "put k" + std::to_string(10 + i) + " v\n";
  script += "put x 'tail '\nput 'sp ' ''\n";
  fsdb({"--create"}, 0, script);
  EXPECT_EQ(fsdb({"get", "k21"}).out, "v\n");
  // The last cell's own trailing spaces are data; padding is not.
  const std::string table = fsdb({"scan", "--from", "s"}).out;
  EXPECT_NE(table.find("\nsp \nx    tail \n"), std::string::npos) << table;
  // Decimal, whatever the leading zeros (not octal: "010" is ten).
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--limit", "010"})).size(), 10u);
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--limit", "09"})).size(), 9u);
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--limit", "00"})).size(), 14u);  // 0: no limit
  RunResult r = fsdb({}, 2, "--hex get 6b3130\n");
  EXPECT_NE(r.err.find("'--hex' goes after the command's name here"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("did you mean '--hex'"), std::string::npos) << r.err;
  r = fsdb({"--", "get", "k10"}, 2);
  EXPECT_NE(r.err.find("'--' goes after a command's name"), std::string::npos) << r.err;
  r = fsdb({"get", "-dash"}, 2);
  EXPECT_NE(r.err.find("`get -- -dash`"), std::string::npos) << r.err;
  // An option's value that is another option's name is not taken silently.
  r = fsdb({"scan", "--from", "--keys-only"}, 2);
  EXPECT_NE(r.err.find("--from needs a value, and '--keys-only' is an option"), std::string::npos)
      << r.err;
  EXPECT_EQ(keys_of(fsdb_json({"scan", "--from=--keys-only"})).size(), 14u);
  // Escaped quotes in a file name, quoted or not.
  const std::string at = scratch_.path() + "/";
  fsdb({}, 0,
       "export '" + at + "it\\'s.csv'\nexport \"" + at + "say \\\"hi\\\".csv\"\nexport " + at +
           "don\\'t.csv\n");
  for (const char* name : {"it's.csv", "say \"hi\".csv", "don't.csv"}) {
    EXPECT_TRUE(std::filesystem::exists(scratch_.file(name))) << name;
  }
  // Keys read the same as before.
  fsdb({}, 0, "put 'q\\'s' 1\nput \"b\\\\\" 2\n");
  EXPECT_EQ(fsdb({"get", "q's"}).out, "1\n");
  EXPECT_EQ(fsdb({"get", "b\\\\"}).out, "2\n");
  // One session, one directory, however it is spelled.
  EXPECT_EQ(fsdb({"get", "k10", "--db", db_ + "/"}).out, "v\n");
  EXPECT_EQ(fsdb({}, 0, "get k10 --db " + db_ + "/.\n").out, "v\n");
  // A batch would end, uncommitted, with the command that opened it.
  r = fsdb({"batch"}, 2);
  EXPECT_NE(r.err.find("needs the shell or a script"), std::string::npos) << r.err;
  // So would a snapshot, unused.
  r = fsdb({"snapshot"}, 2);
  EXPECT_NE(r.err.find("snapshot: a snapshot holds for the commands after it"), std::string::npos)
      << r.err;
  EXPECT_NE(fsdb({"snapshot", "--help"}).out.find("Usage: snapshot"), std::string::npos);
  // help explains a subcommand too.
  EXPECT_NE(fsdb({"help", "sst", "dump"}).out.find("Usage: sst dump [OPTIONS] file"),
            std::string::npos);
  r = fsdb({"help", "sst", "frob"}, 2);
  EXPECT_NE(r.err.find("sst has no subcommand 'frob'"), std::string::npos) << r.err;
  // An error in the options before the command is JSON with --json too.
  Json bad_option = parse_json(fsdb({"--json", "--read-only", "--create", "get", "k"}, 2).out);
  EXPECT_EQ(bad_option["code"].string, "InvalidArgument");
  EXPECT_NE(bad_option["error"].string.find("excludes"), std::string::npos)
      << bad_option["error"].string;
  // A raw byte echoed in an error is escaped: the line is still JSON.
  Json error = fsdb_json({"get", "\xff\\q"}, 2);
  EXPECT_EQ(error["code"].string, "InvalidArgument");
  EXPECT_NE(error["error"].string.find("\\xff"), std::string::npos) << error["error"].string;
  // A --db that is a file is the same usage error for every command.
  const std::string file = scratch_.file("plain-file");
  { std::ofstream(file) << "x"; }
  for (const std::vector<std::string>& command :
       {std::vector<std::string>{"get", "k"}, {"check"}, {"levels"}, {"sst", "list"}}) {
    std::vector<std::string> args = {"--db", file};
    args.insert(args.end(), command.begin(), command.end());
    r = run_tool(args);
    EXPECT_EQ(r.exit_code, 2) << command[0] << ": " << r.err;
    EXPECT_NE(r.err.find(file + ": not a directory"), std::string::npos) << r.err;
  }
}

TEST_F(FsdbToolTest, HelpListsAndExplainsCommands) {
  Json help = fsdb_json({"help"});
  std::vector<std::string> names;
  for (const Json& c : help["commands"].array) names.push_back(c["command"].string);
  for (const char* expected :
       {"put",    "get",      "del",      "scan",   "count",   "batch",      "commit",
        "abort",  "snapshot", "flush",    "resume", "compact", "checkpoint", "stats",
        "levels", "property", "catch-up", "check",  "load",    "export",     "sst",
        "wal",    "manifest", "demo",     "help"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), expected), names.end()) << expected;
  }
  const std::string scan_help = fsdb({"help", "scan"}).out;
  EXPECT_NE(scan_help.find("--reverse"), std::string::npos) << scan_help;
  EXPECT_NE(fsdb({"scan", "--help"}).out.find("--keys-only"), std::string::npos);
  fsdb({"help", "nosuch"}, 2);
  RunResult top = run_tool({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("Exit codes"), std::string::npos);
  EXPECT_NE(top.out.find("Usage: fsdb [OPTIONS] [CMD ARGS...]"), std::string::npos) << top.out;
  EXPECT_NE(top.out.find("  checkpoint  "), std::string::npos) << top.out;  // aligned
  // A word that is not one of a command's subcommands is named as such.
  RunResult r = fsdb({"sst", "frob"}, 2);
  EXPECT_NE(r.err.find("sst: unknown subcommand 'frob'"), std::string::npos) << r.err;
  r = fsdb({"wal"}, 2);
  EXPECT_NE(r.err.find("subcommand is required"), std::string::npos) << r.err;
}

TEST_F(FsdbToolTest, DemoIngestsReopensAndVerifies) {
  RunResult r = fsdb({"demo", "--count", "30000"});
  EXPECT_NE(r.out.find("Ingested 30000 records"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Recovery: replayed"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("all correct"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Levels:"), std::string::npos) << r.out;
  std::string last_line = r.out.substr(0, r.out.size() - 1);
  last_line = last_line.substr(last_line.rfind('\n') + 1);
  EXPECT_EQ(last_line, "Open the shell on it: " + tool_path() + " --db " + db_);
  EXPECT_EQ(fsdb_json({"count"})["count"].number, 30000);
  EXPECT_TRUE(r.err.empty()) << "no progress bar without a terminal: " << r.err;
  // With a small memtable the narration shows rotations, flushes and compactions.
  r = fsdb({"demo", "--count", "60000", "--memtable-kib", "256"});
  EXPECT_NE(r.out.find("memtable rotated x"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flushed x"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("compacted L0->L1"), std::string::npos) << r.out;
  EXPECT_EQ(fsdb_json({"count"})["count"].number, 60000);
  EXPECT_EQ(fsdb({"get", "0000000000000042"}).out.substr(0, 20), "value of record 42 |");
  // A second run recreates its own DB...
  r = fsdb({"demo", "--count", "1000", "--quiet"});
  EXPECT_EQ(fsdb_json({"count"})["count"].number, 1000);
  // ...but never touches a directory that is not a DB.
  const std::string other = scratch_.file("precious");
  std::filesystem::create_directories(other);
  std::ofstream(other + "/notes.txt") << "keep me";
  r = run_tool({"demo", "--db", other, "--count", "10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(std::filesystem::exists(other + "/notes.txt"));
  // ...nor a DB that holds a record the demo did not write.
  fsdb({"put", "0000000000000007", "mine"});
  r = run_tool({"demo", "--db", db_, "--count", "10"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("records the demo did not write (the first: key 0000000000000007)"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(fsdb({"get", "0000000000000007"}).out, "mine\n");
  EXPECT_EQ(fsdb_json({"count"})["count"].number, 1000);
  // Once that record is gone, the DB is the demo's again.
  fsdb({"del", "0000000000000007"});
  Json json = fsdb_json({"demo", "--count", "500"});
  EXPECT_EQ(json["records"].number, 500);
  EXPECT_EQ(json["verified"].number, 500);
  // In a session with an open batch the demo would drop it when it reopens the DB.
  r = fsdb({}, 2, "batch\nput queued 1\ndemo --count 10\n");
  EXPECT_NE(r.err.find("commit or abort it first"), std::string::npos) << r.err;
  r = fsdb({}, 0, "batch\nput queued 1\ncommit\n");
  EXPECT_EQ(fsdb({"get", "queued"}).out, "1\n");
}

}  // namespace
}  // namespace fsdb::tool_test
