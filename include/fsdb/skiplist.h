// fsdb::ConcurrentSkipList: a lock-free, arena-backed, multi-version skip list,
// usable on its own (CMake target fsdb::memtable) and as fsdb's memtable.
//
// Every entry is a version (key, sequence, kind): writes add versions, they
// never change one in place. Two interfaces share one list:
//  - the seed API (insert / remove / get / cursor / snapshot): the list numbers
//    its own writes; `insert` succeeds only if the key has no version at all
//    (first value wins), `remove` adds a tombstone if the key is live, and a
//    snapshot is the sequence at the time it was taken, so it sees neither the
//    inserts nor the removes made after it;
//  - the MVCC interface of the engine (add / get_at / new_version_iterator):
//    the caller supplies the sequence numbers. A given list is used through one
//    interface or the other, never both (docs/memtable.md).
//
// Keys and values are arbitrary bytes, ordered as unsigned bytes.
//
// Thread safety: every method of ConcurrentSkipList may be called concurrently
// from any number of threads; writes are lock-free for threads that own an
// arena shard (up to SkipListOptions::shards of them; threads beyond share
// one shard under a mutex, docs/memtable.md), reads and cursors never
// block writers, and seal() may run concurrently with writers. A Cursor, a
// SkipListSnapshot or a version iterator is used by one thread at a time.
// Ownership: the arena memory belongs to the list's core, shared by the list,
// its FrozenMemtable, snapshots and cursors, and freed at once with the last of
// them. Views returned by the list (values, entries) stay valid while the list
// (or the FrozenMemtable, snapshot or cursor they came from) is alive.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fsdb {

// The same types as util/internal_key.h (the engine's internal key order).
using SequenceNumber = uint64_t;
enum class ValueKind : uint8_t;
class InternalIterator;

namespace memtable_detail {
class SkipListCore;
struct Node;
// Two consecutive nodes of level 1 at or after a forward walk's position,
// whose memory the walk has requested (SkipListCore::prefetch_ahead()).
struct WalkLanes {
  const Node* node[2] = {nullptr, nullptr};
  // Up to three consecutive nodes of level 2 at or after the walk, a node of
  // level 1 requested on the way, and the level-1 steps since the last
  // level-2 step.
  const Node* far[3] = {nullptr, nullptr, nullptr};
  const Node* fan = nullptr;
  uint32_t steps_since_far = 0;
};
}  // namespace memtable_detail

// A list holds at most 16 GiB of arena memory (its links are 32-bit
// references to 8191 blocks of up to 2 MiB; an entry over 512 KiB takes a
// block of its own, so a list of such entries holds fewer bytes: at least
// 4 GiB). Past that, writes return kOutOfMemory.
struct SkipListOptions {
  size_t arena_block_bytes = 64 * 1024;  // first arena block per shard (at most 2 MiB)
  size_t shards = 0;                     // 0 = std::thread::hardware_concurrency()
  size_t max_memory_bytes = 0;           // auto-seal at this many bytes, 0 = no limit
  size_t max_entries = 0;                // auto-seal at this many entries, 0 = no limit
};

// kOutOfMemory: this write found a limit (max_memory_bytes / max_entries)
// reached; the list is now sealed (is_sealed()) and rotation is due. Also
// returned, without sealing, when the arena cannot allocate (the system is
// out of memory, or the list is at the size bound above) or a key or value is
// 4 GiB or longer.
// kSealed: the list was already sealed (by seal() or by a limit).
enum class InsertResult { kOk, kDuplicateKey, kOutOfMemory, kSealed };

struct Lookup {
  std::string_view value;
  bool is_tombstone;
};
struct Entry {
  std::string_view key;
  std::string_view value;
  bool is_tombstone;
  uint64_t seq;
};
struct BatchResult {
  size_t succeeded;
  size_t failed;
};
// A version found by get_at().
struct VersionLookup {
  std::string_view value;  // empty for a tombstone
  ValueKind kind;
  SequenceNumber seq;
};

class Cursor;

// Range-for support: for (const Entry& e : cursor) ...
class CursorIterator {
 public:
  using value_type = Entry;
  using difference_type = std::ptrdiff_t;
  CursorIterator() = default;
  const Entry& operator*() const;
  const Entry* operator->() const { return &**this; }
  CursorIterator& operator++();
  void operator++(int) { ++*this; }
  bool operator==(std::default_sentinel_t) const;

 private:
  friend class Cursor;
  explicit CursorIterator(std::shared_ptr<Cursor> cursor) : cursor_(std::move(cursor)) {}
  std::shared_ptr<Cursor> cursor_;
};

// A forward cursor over keys: one entry per key, the newest version the cursor
// may see (tombstones included, flagged is_tombstone).
class Cursor {
 public:
  bool valid() const { return node_ != nullptr; }
  // REQUIRES: valid().
  const Entry& entry() const { return entry_; }
  bool next();                         // false at the end
  void seek(std::string_view target);  // first key >= target

  CursorIterator begin() const;
  std::default_sentinel_t end() const { return {}; }

 private:
  friend class ConcurrentSkipList;
  friend class SkipListSnapshot;
  friend class FrozenMemtable;
  Cursor(std::shared_ptr<const memtable_detail::SkipListCore> core, SequenceNumber read_seq);
  // Positions at the first visible entry from `node` on; `lane` as in
  // SkipListCore::prefetch_ahead().
  void start(const memtable_detail::Node* node, const memtable_detail::Node* lane,
             const memtable_detail::Node* far = nullptr);
  void settle(const memtable_detail::Node* node);
  const memtable_detail::Node* step(const memtable_detail::Node* node);

  std::shared_ptr<const memtable_detail::SkipListCore> core_;
  SequenceNumber read_seq_;
  const memtable_detail::Node* node_ = nullptr;
  memtable_detail::WalkLanes lanes_;
  Entry entry_{};
};

// A consistent, read-only view of a list at one sequence number.
class SkipListSnapshot {
 public:
  Cursor cursor() const;  // at the first key
  Cursor cursor_at(std::string_view target) const;
  std::optional<Lookup> get(std::string_view key) const;  // tombstones included
  std::optional<std::string_view> get_live(std::string_view key) const;
  bool contains(std::string_view key) const;
  size_t count() const;  // live keys visible to the snapshot (O(n): walks the list)
  SequenceNumber sequence() const { return seq_; }

  CursorIterator begin() const { return cursor().begin(); }
  std::default_sentinel_t end() const { return {}; }

 private:
  friend class ConcurrentSkipList;
  SkipListSnapshot(std::shared_ptr<const memtable_detail::SkipListCore> core, SequenceNumber seq)
      : core_(std::move(core)), seq_(seq) {}
  std::shared_ptr<const memtable_detail::SkipListCore> core_;
  SequenceNumber seq_;
};

// A sealed list: read-only, kept alive by shared_ptr (e.g. while it is flushed).
class FrozenMemtable {
 public:
  Cursor cursor() const;
  Cursor cursor_at(std::string_view target) const;
  std::optional<Lookup> get(std::string_view key) const;
  std::optional<std::string_view> get_live(std::string_view key) const;
  bool contains(std::string_view key) const;
  std::optional<VersionLookup> get_at(std::string_view key, SequenceNumber seq) const;
  // get_at() of every key, in order, the lookups interleaved (as get_many()).
  std::vector<std::optional<VersionLookup>> get_many_at(std::span<const std::string_view> keys,
                                                        SequenceNumber seq) const;
  // Every version in internal order (user key ascending, sequence descending).
  std::unique_ptr<InternalIterator> new_version_iterator() const;

  size_t len() const;
  bool empty() const { return len() == 0; }
  size_t entry_count() const;
  size_t memory_usage() const;
  size_t memory_reserved() const;
  double memory_utilization() const;
  size_t memory_idle() const;
  double avg_key_size() const;
  double avg_value_size() const;
  size_t total_inserts() const;

  CursorIterator begin() const { return cursor().begin(); }
  std::default_sentinel_t end() const { return {}; }

 private:
  friend class ConcurrentSkipList;
  explicit FrozenMemtable(std::shared_ptr<const memtable_detail::SkipListCore> core)
      : core_(std::move(core)) {}
  std::shared_ptr<const memtable_detail::SkipListCore> core_;
};

class ConcurrentSkipList {
 public:
  ConcurrentSkipList();
  explicit ConcurrentSkipList(const SkipListOptions& options);
  ~ConcurrentSkipList();
  ConcurrentSkipList(const ConcurrentSkipList&) = delete;
  ConcurrentSkipList& operator=(const ConcurrentSkipList&) = delete;

  // ---- the seed API ----
  bool insert(std::string_view key, std::string_view value);  // first value wins
  InsertResult try_insert(std::string_view key, std::string_view value);
  bool remove(std::string_view key);  // tombstone; true if a live key was found
  // (value, inserted): the value now stored for key, and whether this call put
  // it there. Atomic: when threads race on a key exactly one inserts and every
  // caller gets the winner's value. If the key's newest version is a tombstone
  // the value is empty and inserted is false (a removed key cannot come back,
  // as with insert). If the write was refused (sealed, limit) the result is
  // ("", false).
  std::pair<std::string_view, bool> get_or_insert(std::string_view key, std::string_view value);
  BatchResult insert_batch(std::span<const std::pair<std::string_view, std::string_view>> entries);

  std::optional<Lookup> get(std::string_view key) const;  // tombstones included
  std::optional<std::string_view> get_live(std::string_view key) const;
  bool contains(std::string_view key) const;  // live only
  // get_live() of every key, in order. The lookups run interleaved, so that
  // their cache misses overlap: several times faster per key than get_live()
  // in a loop on a list larger than the cache.
  std::vector<std::optional<std::string_view>> get_many(
      std::span<const std::string_view> keys) const;

  Cursor cursor() const;                            // at the first entry
  Cursor cursor_at(std::string_view target) const;  // at the first key >= target
  SkipListSnapshot snapshot() const;  // sees nothing inserted or removed after this call

  // No further writes are accepted here (kSealed); waits for the writers already
  // inside, then returns the sealed contents, readable through the
  // FrozenMemtable, and a fresh list with the same options. A second call
  // returns nullopt. Also works (once) on a list auto-sealed by a limit.
  std::optional<
      std::pair<std::shared_ptr<const FrozenMemtable>, std::unique_ptr<ConcurrentSkipList>>>
  seal();
  bool is_sealed() const;

  // ---- the MVCC interface (the engine) ----
  // Adds one version. (key, seq) pairs are unique, so this never conflicts with
  // another version (kDuplicateKey only for an identical (key, seq, kind)).
  // Honors the limits when set; refuses with kSealed after seal().
  InsertResult add(std::string_view key, std::string_view value, ValueKind kind,
                   SequenceNumber seq);
  // The newest version of key with sequence <= seq (value or tombstone).
  std::optional<VersionLookup> get_at(std::string_view key, SequenceNumber seq) const;
  // get_at() of every key, in order; the lookups run interleaved (see get_many()).
  std::vector<std::optional<VersionLookup>> get_many_at(std::span<const std::string_view> keys,
                                                        SequenceNumber seq) const;
  // Every version in internal order; valid while this list is alive.
  std::unique_ptr<InternalIterator> new_version_iterator() const;

  // ---- statistics ----
  size_t len() const;           // live keys (seed API)
  bool empty() const;           // len() == 0
  size_t entry_count() const;   // versions stored, tombstones included
  size_t memory_usage() const;  // bytes handed out by the arenas
  // memory_usage() as the writers last published it: at most a little below
  // (1/16 of arena_block_bytes per shard), and cheap to poll before every
  // write, which memory_usage() is not (it reads a counter each writer
  // changes on every write, and so pulls that writer's cache line over).
  size_t approximate_memory_usage() const;
  size_t memory_reserved() const;     // bytes the arenas hold
  double memory_utilization() const;  // usage / reserved, 0..1
  size_t memory_idle() const;         // reserved - usage
  double avg_key_size() const;        // over stored versions
  double avg_value_size() const;
  size_t total_inserts() const;  // write attempts, failures included
  size_t max_memory_bytes() const;
  size_t max_entries() const;
  bool is_under_backpressure() const;  // at or above 90% of either limit

  // Test hook: verifies the ordering invariants of every level (quiescent list).
  bool check_invariants(std::string* why) const;

 private:
  SkipListOptions options_;
  std::shared_ptr<memtable_detail::SkipListCore> core_;
  std::atomic<bool> seal_taken_{false};
};

}  // namespace fsdb
