// engine/: a DB's identity (IDENTITY, the property "fsdb.db-id"): made with
// the DB, kept across opens and by a checkpoint, another one for a DB made
// again at the same path, and given to a DB made before identities existed
// by its next writer.
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>

#include "fsdb/db.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

class DBIdentityTest : public ::testing::Test {
 protected:
  DBIdentityTest() { options_.create_if_missing = true; }

  std::optional<std::string> identity_of_open(const std::string& path, bool read_only = false) {
    std::unique_ptr<DB> db;
    Status s = read_only ? DB::open_read_only(options_, path, &db) : DB::open(options_, path, &db);
    EXPECT_TRUE(s.ok()) << s.to_string();
    if (!s.ok()) return std::nullopt;
    return db->property("fsdb.db-id");
  }
  std::string identity_file() const {
    std::ifstream in(dir_.file("IDENTITY"), std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

  Options options_;
  test::ScratchDir dir_;
  test::ScratchDir scratch_;
};

bool is_identity(const std::optional<std::string>& identity) {
  return identity.has_value() && identity->size() == 32 &&
         identity->find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST_F(DBIdentityTest, MadeWithTheDBAndKeptAcrossOpens) {
  const std::optional<std::string> made = identity_of_open(dir_.path());
  ASSERT_TRUE(is_identity(made)) << made.value_or("(none)");
  EXPECT_EQ(identity_file(), *made + "\n");
  EXPECT_EQ(identity_of_open(dir_.path()), made);
  EXPECT_EQ(identity_of_open(dir_.path(), /*read_only=*/true), made);
  std::unique_ptr<DB> secondary;
  ASSERT_TRUE(DB::open_as_secondary(options_, dir_.path(), &secondary).ok());
  EXPECT_EQ(secondary->property("fsdb.db-id"), made);

  // Another DB has another one.
  EXPECT_NE(identity_of_open(scratch_.file("other")), made);
}

TEST_F(DBIdentityTest, ADBMadeAgainAtItsPathHasAnotherOne) {
  const std::optional<std::string> first = identity_of_open(dir_.path());
  ASSERT_TRUE(is_identity(first));
  FSDB_ASSERT_OK(destroy_db(dir_.path(), options_));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("IDENTITY")));
  const std::optional<std::string> second = identity_of_open(dir_.path());
  ASSERT_TRUE(is_identity(second));
  EXPECT_NE(second, first);
}

TEST_F(DBIdentityTest, ACheckpointKeepsIt) {
  std::unique_ptr<DB> db;
  ASSERT_TRUE(DB::open(options_, dir_.path(), &db).ok());
  FSDB_ASSERT_OK(db->put("k", "v"));
  const std::string copy = scratch_.file("copy");
  FSDB_ASSERT_OK(db->checkpoint(copy));
  const std::optional<std::string> original = db->property("fsdb.db-id");
  db.reset();
  EXPECT_EQ(identity_of_open(copy), original);
}

// A DB made before identities existed (no IDENTITY), or one whose IDENTITY
// does not read: a read-only open reports none and writes nothing; the next
// writer makes one, which later opens keep.
TEST_F(DBIdentityTest, AWriterGivesADBWithoutOneAnIdentity) {
  ASSERT_TRUE(is_identity(identity_of_open(dir_.path())));
  for (const std::string& damage : {std::string(), std::string("not an identity\n")}) {
    SCOPED_TRACE(damage.empty() ? "no IDENTITY" : "IDENTITY damaged");
    if (damage.empty()) {
      std::filesystem::remove(dir_.file("IDENTITY"));
    } else {
      std::ofstream(dir_.file("IDENTITY"), std::ios::binary | std::ios::trunc) << damage;
    }
    EXPECT_EQ(identity_of_open(dir_.path(), /*read_only=*/true), std::nullopt);
    EXPECT_EQ(std::filesystem::exists(dir_.file("IDENTITY")), !damage.empty());
    const std::optional<std::string> made = identity_of_open(dir_.path());
    ASSERT_TRUE(is_identity(made));
    EXPECT_EQ(identity_file(), *made + "\n");
    EXPECT_EQ(identity_of_open(dir_.path()), made);
  }
}

}  // namespace
}  // namespace fsdb
