// FaultInjectionFileSystem: power loss, torn writes, injected errors.
#include <string>
#include <vector>

#include "fsdb/env.h"
#include "tests/support/test_util.h"

namespace fsdb {
namespace {

class FaultInjectionTest : public ::testing::Test {
 protected:
  std::string read(const std::string& path) {
    std::string data;
    Status s = read_file_to_string(*posix_file_system(), path, &data);
    return s.ok() ? data : "<" + s.to_string() + ">";
  }
  bool exists(const std::string& path) { return posix_file_system()->file_exists(path); }

  test::ScratchDir dir_;
  FaultInjectionFileSystem fs_{posix_file_system()};
};

TEST_F(FaultInjectionTest, PowerLossKeepsOnlySyncedBytesOfDurableFiles) {
  const std::string path = dir_.file("a.log");
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(path, &f));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));  // the file's name is durable
  FSDB_ASSERT_OK(f->append("synced-"));
  FSDB_ASSERT_OK(f->sync());
  FSDB_ASSERT_OK(f->append("lost"));
  EXPECT_EQ(read(path), "synced-lost") << "before the cut the OS has every byte";

  fs_.drop_unsynced_data();
  EXPECT_EQ(read(path), "synced-");
  Status s = f->append("more");
  EXPECT_TRUE(s.is_io_error()) << "a file of the dead process stays dead: " << s.to_string();
}

TEST_F(FaultInjectionTest, FileWhoseDirectoryWasNotSyncedDisappears) {
  const std::string path = dir_.file("new.sst");
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(path, &f));
  FSDB_ASSERT_OK(f->append("data"));
  FSDB_ASSERT_OK(f->sync());
  fs_.drop_unsynced_data();
  EXPECT_FALSE(exists(path)) << "synced data, but the directory entry never was";
}

TEST_F(FaultInjectionTest, DirectoryCreatedSinceItsParentsLastSyncGoesWithItsFiles) {
  const std::string sub = dir_.file("db");
  FSDB_ASSERT_OK(fs_.create_dir(sub));
  FSDB_ASSERT_OK(write_string_to_file(fs_, "data", sub + "/CURRENT", true));
  FSDB_ASSERT_OK(fs_.sync_dir(sub));  // the file's entry is durable, the directory's is not
  fs_.drop_unsynced_data();
  EXPECT_FALSE(exists(sub)) << "its parent was never synced";

  FSDB_ASSERT_OK(fs_.create_dir(sub));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  FSDB_ASSERT_OK(write_string_to_file(fs_, "data", sub + "/CURRENT", true));
  FSDB_ASSERT_OK(fs_.sync_dir(sub));
  FSDB_ASSERT_OK(fs_.create_dir(sub)) << "an existing directory";
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(sub + "/CURRENT"), "data") << "both entries were synced";
}

// A hard link is a new name: gone at a power cut until its directory is
// synced, while the original stays. With links turned off it is
// NotSupported, as on a file system without them.
TEST_F(FaultInjectionTest, ALinkIsANameThatNeedsItsDirectorySynced) {
  const std::string original = dir_.file("000007.sst");
  FSDB_ASSERT_OK(write_string_to_file(fs_, "table", original, true));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  FSDB_ASSERT_OK(fs_.create_dir(dir_.file("copy")));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  const std::string link = dir_.file("copy/000007.sst");
  FSDB_ASSERT_OK(fs_.link_file(original, link));
  EXPECT_EQ(read(link), "table");
  fs_.drop_unsynced_data();
  EXPECT_FALSE(exists(link)) << "the link's directory was never synced";
  EXPECT_EQ(read(original), "table");

  FSDB_ASSERT_OK(fs_.link_file(original, link));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.file("copy")));
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(link), "table") << "synced: the link stays";

  fs_.set_links(false);
  const Status s = fs_.link_file(original, dir_.file("copy/other.sst"));
  EXPECT_TRUE(s.is_not_supported()) << s.to_string();
  EXPECT_FALSE(exists(dir_.file("copy/other.sst")));
}

TEST_F(FaultInjectionTest, TrailingSlashesNameTheSameDirectory) {
  // A DB opened as "dir/" names its files "dir//000001.log".
  const std::string with_slash = dir_.path() + "/";
  FSDB_ASSERT_OK(write_string_to_file(fs_, "kept", with_slash + "/CURRENT", true));
  FSDB_ASSERT_OK(fs_.sync_dir(with_slash));
  FSDB_ASSERT_OK(write_string_to_file(fs_, "kept too", dir_.file("MANIFEST"), true));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(dir_.file("CURRENT")), "kept");
  EXPECT_EQ(read(dir_.file("MANIFEST")), "kept too");
}

TEST_F(FaultInjectionTest, UnsyncedRenameIsUndoneAndTheOldTargetComesBack) {
  // The CURRENT dance: write a temp file, sync it, rename over the old one.
  FSDB_ASSERT_OK(write_string_to_file(fs_, "MANIFEST-1\n", dir_.file("CURRENT"), true));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  FSDB_ASSERT_OK(write_string_to_file(fs_, "MANIFEST-2\n", dir_.file("CURRENT.tmp"), true));
  FSDB_ASSERT_OK(fs_.rename_file(dir_.file("CURRENT.tmp"), dir_.file("CURRENT")));
  EXPECT_EQ(read(dir_.file("CURRENT")), "MANIFEST-2\n");

  fs_.drop_unsynced_data();
  EXPECT_EQ(read(dir_.file("CURRENT")), "MANIFEST-1\n");
  EXPECT_FALSE(exists(dir_.file("CURRENT.tmp"))) << "its creation was not durable either";

  // The same sequence with the directory synced survives.
  FSDB_ASSERT_OK(write_string_to_file(fs_, "MANIFEST-3\n", dir_.file("CURRENT.tmp"), true));
  FSDB_ASSERT_OK(fs_.rename_file(dir_.file("CURRENT.tmp"), dir_.file("CURRENT")));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path() + "/"));
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(dir_.file("CURRENT")), "MANIFEST-3\n");
}

TEST_F(FaultInjectionTest, UndoneRenameRestoresOnlyTheSyncedBytesOfTheOldTarget) {
  // The old target's unsynced tail was never durable: undoing the rename must
  // not resurrect it.
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(dir_.file("target"), &f));
  FSDB_ASSERT_OK(f->append("durable|"));
  FSDB_ASSERT_OK(f->sync());
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  FSDB_ASSERT_OK(f->append("volatile"));
  FSDB_ASSERT_OK(f->close());
  FSDB_ASSERT_OK(write_string_to_file(fs_, "replacement", dir_.file("source"), true));
  FSDB_ASSERT_OK(fs_.rename_file(dir_.file("source"), dir_.file("target")));
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(dir_.file("target")), "durable|");
  EXPECT_FALSE(exists(dir_.file("source"))) << "its creation was never made durable";
}

TEST_F(FaultInjectionTest, FailAfterLeavesReadsAlone) {
  FSDB_ASSERT_OK(write_string_to_file(fs_, "data", dir_.file("f"), true));
  fs_.fail_after(0, Status::IOError("injected EIO"));
  std::string got;
  FSDB_EXPECT_OK(read_file_to_string(fs_, dir_.file("f"), &got));
  EXPECT_EQ(got, "data");
  std::unique_ptr<WritableFile> g;
  EXPECT_TRUE(fs_.new_writable_file(dir_.file("g"), &g).is_io_error());
  EXPECT_EQ(fs_.injected_faults(), 1u);
}

TEST_F(FaultInjectionTest, UnsyncedRemovalBringsTheFileBack) {
  FSDB_ASSERT_OK(write_string_to_file(fs_, "keep me", dir_.file("old.log"), true));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  FSDB_ASSERT_OK(fs_.remove_file(dir_.file("old.log")));
  EXPECT_FALSE(exists(dir_.file("old.log")));
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(dir_.file("old.log")), "keep me");

  FSDB_ASSERT_OK(fs_.remove_file(dir_.file("old.log")));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  fs_.drop_unsynced_data();
  EXPECT_FALSE(exists(dir_.file("old.log")));
}

TEST_F(FaultInjectionTest, TornWriteKeepsAPrefixOfTheUnsyncedTail) {
  const std::string path = dir_.file("t.log");
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(path, &f));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  FSDB_ASSERT_OK(f->append("base|"));
  FSDB_ASSERT_OK(f->sync());
  const std::string tail(1000, 'z');
  FSDB_ASSERT_OK(f->append(tail));
  fs_.set_torn_writes(true, 7);
  fs_.drop_unsynced_data();
  const std::string got = read(path);
  ASSERT_GE(got.size(), 5u);
  EXPECT_EQ(got.substr(0, 5), "base|");
  EXPECT_LE(got.size(), 5 + tail.size());
  EXPECT_EQ(got.substr(5), tail.substr(0, got.size() - 5));
}

TEST_F(FaultInjectionTest, LostPagesKeepSyncedBytesAndLoseUnsyncedPagesInNoOrder) {
  constexpr size_t kPage = 4096;
  const std::string synced(3000, 's');
  std::string unsynced(40000, '\0');
  for (size_t i = 0; i < unsynced.size(); ++i) unsynced[i] = static_cast<char>('a' + i % 26);
  const std::string written = synced + unsynced;
  int holes_before_kept_pages = 0;
  int older_versions = 0;
  int raised_sizes = 0;
  for (uint64_t seed = 1; seed <= 16; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    const std::string path = dir_.file("p" + std::to_string(seed) + ".log");
    std::unique_ptr<WritableFile> f;
    FSDB_ASSERT_OK(fs_.new_writable_file(path, &f));
    FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
    FSDB_ASSERT_OK(f->append(synced));
    FSDB_ASSERT_OK(f->sync());
    FSDB_ASSERT_OK(f->append(unsynced));
    fs_.set_lost_pages(true, seed);
    fs_.drop_unsynced_data();
    std::string got = read(path);
    ASSERT_GE(got.size(), synced.size());
    ASSERT_LE(got.size(), written.size() + (1 << 20) + (64 << 10));
    EXPECT_EQ(got.substr(0, synced.size()), synced) << "synced bytes are never touched";
    EXPECT_TRUE(got.size() == synced.size() || got.size() % kPage == 0 ||
                got.size() >= written.size())
        << "the file ends where a kept page ends, or at or past its unsynced size: " << got.size();
    if (got.size() > written.size()) ++raised_sizes;
    if (got.size() > written.size()) {
      EXPECT_EQ(got.substr(written.size()), std::string(got.size() - written.size(), '\0'))
          << "past the data, a raised size reads as zeros";
      got.resize(written.size());
    }
    // Each page of the unsynced bytes is as written, all zeros, or an older
    // version of itself: a prefix of what was written, zeros after.
    bool hole = false;
    for (size_t page = synced.size() / kPage * kPage; page < got.size(); page += kPage) {
      const size_t from = std::max(page, synced.size());
      const size_t to = std::min(page + kPage, got.size());
      const std::string part = got.substr(from, to - from);
      if (part == std::string(to - from, '\0')) {
        hole = true;
        continue;
      }
      const size_t kept = part.find_last_not_of('\0') + 1;
      ASSERT_EQ(part.substr(0, kept), written.substr(from, kept)) << "page at " << page;
      ASSERT_EQ(part.substr(kept), std::string(part.size() - kept, '\0')) << "page at " << page;
      if (kept < part.size()) ++older_versions;
      if (hole) ++holes_before_kept_pages;
    }
    fs_.set_lost_pages(false, 0);
  }
  EXPECT_GT(holes_before_kept_pages, 0) << "no seed lost a page and kept a later one";
  EXPECT_GT(older_versions, 0) << "no seed kept an older version of a page";
  EXPECT_GT(raised_sizes, 0) << "no seed kept a size raised past the data";
}

TEST_F(FaultInjectionTest, InactiveFailsEveryMutationButReadsWork) {
  FSDB_ASSERT_OK(write_string_to_file(fs_, "x", dir_.file("f"), true));
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_appendable_file(dir_.file("f"), &f));
  fs_.set_active(false);
  EXPECT_FALSE(fs_.is_active());
  EXPECT_TRUE(f->append("y").is_io_error());
  EXPECT_TRUE(f->sync().is_io_error());
  std::unique_ptr<WritableFile> g;
  EXPECT_TRUE(fs_.new_writable_file(dir_.file("g"), &g).is_io_error());
  EXPECT_TRUE(fs_.rename_file(dir_.file("f"), dir_.file("h")).is_io_error());
  EXPECT_TRUE(fs_.remove_file(dir_.file("f")).is_io_error());
  EXPECT_TRUE(fs_.sync_dir(dir_.path()).is_io_error());
  EXPECT_EQ(read(dir_.file("f")), "x");
  EXPECT_GE(fs_.injected_faults(), 6u);
  fs_.set_active(true);
  FSDB_EXPECT_OK(f->append("y"));
}

TEST_F(FaultInjectionTest, FailAfterFailsTheNPlusFirstMutationAndAfter) {
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(dir_.file("f"), &f));
  fs_.fail_after(2, Status::IOError("injected ENOSPC: No space left on device"));
  FSDB_EXPECT_OK(f->append("1"));
  FSDB_EXPECT_OK(f->append("2"));
  Status s = f->append("3");
  EXPECT_TRUE(s.is_io_error());
  EXPECT_NE(s.to_string().find("No space left on device"), std::string::npos) << s.to_string();
  EXPECT_NE(s.to_string().find(dir_.file("f")), std::string::npos) << s.to_string();
  EXPECT_TRUE(f->sync().is_io_error()) << "stays failed until cleared";
  fs_.clear_faults();
  FSDB_EXPECT_OK(f->append("4"));
  FSDB_EXPECT_OK(f->sync());
  EXPECT_EQ(read(dir_.file("f")), "124");
}

TEST_F(FaultInjectionTest, RandomFailuresHitAboutTheRequestedShare) {
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(dir_.file("f"), &f));
  fs_.set_random_failures(0.25, Status::IOError("injected EIO"), /*include_reads=*/true, 99);
  int failed = 0;
  for (int i = 0; i < 2000; ++i) failed += f->append("a").ok() ? 0 : 1;
  EXPECT_GT(failed, 350);
  EXPECT_LT(failed, 650);
  std::unique_ptr<RandomAccessFile> r;
  int read_failures = 0;
  for (int i = 0; i < 200; ++i) {
    read_failures += fs_.new_random_access_file(dir_.file("f"), &r).ok() ? 0 : 1;
  }
  EXPECT_GT(read_failures, 0) << "reads fail too when asked";
  fs_.clear_faults();
  FSDB_EXPECT_OK(f->append("b"));
}

// A failed append may have written part of its bytes, as a write(2) that
// runs out of space does: never more than the whole, and the file's tracked
// size (what a power cut keeps or drops) is what reached it.
TEST_F(FaultInjectionTest, RandomlyFailedAppendsSometimesWritePartOfTheirBytes) {
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(dir_.file("f"), &f));
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));  // the file itself survives the cut below
  fs_.set_random_failures(0.5, Status::IOError("injected ENOSPC"), /*include_reads=*/false, 7);
  const std::string chunk = "0123456789";
  std::string expected;
  int partial = 0;
  for (int i = 0; i < 400; ++i) {
    const uint64_t before = f->size();
    if (f->append(chunk).ok()) {
      expected += chunk;
      continue;
    }
    const uint64_t written = f->size() - before;
    ASSERT_LE(written, chunk.size());
    expected += chunk.substr(0, written);
    if (written > 0) ++partial;
  }
  fs_.clear_faults();
  EXPECT_GT(partial, 20) << "part of a failed append reached the file now and then";
  EXPECT_EQ(read(dir_.file("f")), expected);
  // Nothing was synced: a power cut drops every byte, partial ones included.
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(dir_.file("f")), "");
}

// A sync that fails as a writeback error loses what it was to write at the
// next power cut, even after a later sync of the file succeeded: the kernel
// drops a failed writeback's dirty pages, and later syncs do not rewrite them.
TEST_F(FaultInjectionTest, AFailedSyncLosesItsBytesEvenAfterALaterSync) {
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(dir_.file("f"), &f));
  FSDB_ASSERT_OK(f->append("durable"));
  FSDB_ASSERT_OK(f->sync());
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  FSDB_ASSERT_OK(f->append("-lost"));
  fs_.set_random_failures(1.0, Status::IOError("injected EIO"), /*include_reads=*/false, 3);
  ASSERT_TRUE(f->sync().is_io_error());
  fs_.clear_faults();
  FSDB_ASSERT_OK(f->append("-after"));
  FSDB_ASSERT_OK(f->sync());
  EXPECT_EQ(read(dir_.file("f")), "durable-lost-after") << "readable until the power goes";
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(dir_.file("f")), std::string("durable") + std::string(5, '\0') + "-after");
}

// A mapped log, once the file system is told to map: its appends (copies
// into the mapping, and writes before a sync) and syncs are tracked like any
// file's, and a power cut after it is closed keeps exactly what was synced.
TEST_F(FaultInjectionTest, AMappedFileLosesWhatWasNotSyncedAtAPowerCut) {
  fs_.set_map_writable_files(true);
  WritableFileOptions mapped;
  mapped.use_mmap = true;
  std::unique_ptr<WritableFile> f;
  FSDB_ASSERT_OK(fs_.new_writable_file(dir_.file("000007.log"), mapped, &f));
  if (!f->appends_are_memory_copies()) GTEST_SKIP() << "no mapped writes on this file system";
  FSDB_ASSERT_OK(fs_.sync_dir(dir_.path()));
  const std::string synced(100000, 's');
  FSDB_ASSERT_OK(f->append(synced.substr(0, 60000)));
  FSDB_ASSERT_OK(f->append_before_sync(synced.substr(60000)));
  FSDB_ASSERT_OK(f->sync());
  FSDB_ASSERT_OK(f->append(std::string(5000, 'u')));
  EXPECT_EQ(f->size(), 105000u);
  FSDB_ASSERT_OK(f->close());
  EXPECT_EQ(read(dir_.file("000007.log")), synced + std::string(5000, 'u'));
  fs_.drop_unsynced_data();
  EXPECT_EQ(read(dir_.file("000007.log")), synced);
}

}  // namespace
}  // namespace fsdb
