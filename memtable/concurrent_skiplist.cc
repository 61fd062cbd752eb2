// The public classes of include/fsdb/skiplist.h on top of SkipListCore.
#include <string>

#include "fsdb/skiplist.h"
#include "memtable/skiplist_core.h"
#include "memtable/version_iterator.h"

namespace fsdb {

using memtable_detail::Node;
using memtable_detail::SkipListCore;
using memtable_detail::WriteMode;
using memtable_detail::WriteOutcome;
using memtable_detail::WriteStatus;

namespace {

std::optional<Lookup> lookup_at(const SkipListCore& core, std::string_view key,
                                SequenceNumber seq) {
  const Node* n = core.find_visible(key, seq);
  if (n == nullptr) return std::nullopt;
  return Lookup{n->value(), n->kind() == ValueKind::kTombstone};
}

std::vector<std::optional<VersionLookup>> versions_at(const SkipListCore& core,
                                                      std::span<const std::string_view> keys,
                                                      SequenceNumber seq) {
  std::vector<const Node*> nodes(keys.size());
  core.find_visible_many(keys, seq, nodes.data());
  std::vector<std::optional<VersionLookup>> out;
  out.reserve(keys.size());
  for (const Node* n : nodes) {
    if (n == nullptr) {
      out.emplace_back(std::nullopt);
    } else {
      out.emplace_back(VersionLookup{n->value(), n->kind(), n->sequence()});
    }
  }
  return out;
}

std::optional<std::string_view> live_at(const SkipListCore& core, std::string_view key,
                                        SequenceNumber seq) {
  const Node* n = core.find_visible(key, seq);
  if (n == nullptr || n->kind() == ValueKind::kTombstone) return std::nullopt;
  return n->value();
}

}  // namespace

// ---------------------------------------------------------------- Cursor

Cursor::Cursor(std::shared_ptr<const SkipListCore> core, SequenceNumber read_seq)
    : core_(std::move(core)), read_seq_(read_seq) {}

void Cursor::start(const Node* node, const Node* lane, const Node* far) {
  core_->start_lanes(lane, far, &lanes_);
  if (node != nullptr) core_->prefetch_ahead(node, &lanes_);
  settle(node);
}

const Node* Cursor::step(const Node* node) {
  const Node* n = core_->next(node, 0);
  if (n != nullptr) core_->prefetch_ahead(n, &lanes_);
  return n;
}

void Cursor::settle(const Node* node) {
  // The first version at or below read_seq_ from `node` on: versions of one key
  // are newest first, so this is the newest visible version of its key; a key
  // whose versions are all newer than read_seq_ is skipped as a whole.
  while (node != nullptr && node->sequence() > read_seq_) node = step(node);
  node_ = node;
  if (node_ != nullptr) {
    entry_ = Entry{node_->user_key(), node_->value(), node_->kind() == ValueKind::kTombstone,
                   node_->sequence()};
  } else {
    entry_ = Entry{};
  }
}

bool Cursor::next() {
  if (node_ == nullptr) return false;
  const std::string_view key = node_->user_key();
  const Node* n = step(node_);
  while (n != nullptr && n->user_key() == key) n = step(n);  // older versions of it
  settle(n);
  return valid();
}

void Cursor::seek(std::string_view target) {
  const Node* lane = nullptr;
  const Node* far = nullptr;
  const Node* node =
      core_->find_greater_or_equal(target, memtable_detail::kFrontOfKeyPacked, &lane, &far);
  start(node, lane, far);
}

CursorIterator Cursor::begin() const {
  auto copy = std::make_shared<Cursor>(*this);
  return copy->valid() ? CursorIterator(std::move(copy)) : CursorIterator();
}

const Entry& CursorIterator::operator*() const { return cursor_->entry(); }
CursorIterator& CursorIterator::operator++() {
  if (!cursor_->next()) cursor_.reset();
  return *this;
}
bool CursorIterator::operator==(std::default_sentinel_t) const { return cursor_ == nullptr; }

// ---------------------------------------------------------------- SkipListSnapshot

Cursor SkipListSnapshot::cursor() const {
  Cursor c(core_, seq_);
  c.start(core_->first(), core_->first_lane(), core_->first_far_lane());
  return c;
}
Cursor SkipListSnapshot::cursor_at(std::string_view target) const {
  Cursor c(core_, seq_);
  c.seek(target);
  return c;
}
std::optional<Lookup> SkipListSnapshot::get(std::string_view key) const {
  return lookup_at(*core_, key, seq_);
}
std::optional<std::string_view> SkipListSnapshot::get_live(std::string_view key) const {
  return live_at(*core_, key, seq_);
}
bool SkipListSnapshot::contains(std::string_view key) const { return get_live(key).has_value(); }
size_t SkipListSnapshot::count() const {
  size_t n = 0;
  for (Cursor c = cursor(); c.valid(); c.next()) {
    if (!c.entry().is_tombstone) ++n;
  }
  return n;
}

// ---------------------------------------------------------------- FrozenMemtable

Cursor FrozenMemtable::cursor() const {
  Cursor c(core_, kMaxSequenceNumber);
  c.start(core_->first(), core_->first_lane(), core_->first_far_lane());
  return c;
}
Cursor FrozenMemtable::cursor_at(std::string_view target) const {
  Cursor c(core_, kMaxSequenceNumber);
  c.seek(target);
  return c;
}
std::optional<Lookup> FrozenMemtable::get(std::string_view key) const {
  return lookup_at(*core_, key, kMaxSequenceNumber);
}
std::optional<std::string_view> FrozenMemtable::get_live(std::string_view key) const {
  return live_at(*core_, key, kMaxSequenceNumber);
}
bool FrozenMemtable::contains(std::string_view key) const { return get_live(key).has_value(); }
std::optional<VersionLookup> FrozenMemtable::get_at(std::string_view key,
                                                    SequenceNumber seq) const {
  const Node* n = core_->find_visible(key, seq);
  if (n == nullptr) return std::nullopt;
  return VersionLookup{n->value(), n->kind(), n->sequence()};
}
std::vector<std::optional<VersionLookup>> FrozenMemtable::get_many_at(
    std::span<const std::string_view> keys, SequenceNumber seq) const {
  return versions_at(*core_, keys, seq);
}
std::unique_ptr<InternalIterator> FrozenMemtable::new_version_iterator() const {
  return std::make_unique<memtable_detail::MemtableVersionIterator>(core_);
}
size_t FrozenMemtable::len() const { return core_->live_entries(); }
size_t FrozenMemtable::entry_count() const { return core_->entry_count(); }
size_t FrozenMemtable::memory_usage() const { return core_->memory_usage(); }
size_t FrozenMemtable::memory_reserved() const { return core_->memory_reserved(); }
double FrozenMemtable::memory_utilization() const { return core_->memory_utilization(); }
size_t FrozenMemtable::memory_idle() const { return core_->memory_idle(); }
double FrozenMemtable::avg_key_size() const { return core_->avg_key_size(); }
double FrozenMemtable::avg_value_size() const { return core_->avg_value_size(); }
size_t FrozenMemtable::total_inserts() const { return core_->total_attempts(); }

// ---------------------------------------------------------------- ConcurrentSkipList

ConcurrentSkipList::ConcurrentSkipList() : ConcurrentSkipList(SkipListOptions{}) {}

ConcurrentSkipList::ConcurrentSkipList(const SkipListOptions& options)
    : options_(options), core_(std::make_shared<SkipListCore>(options)) {}

ConcurrentSkipList::~ConcurrentSkipList() = default;

InsertResult ConcurrentSkipList::try_insert(std::string_view key, std::string_view value) {
  const WriteOutcome out =
      core_->write(WriteMode::kInsertIfAbsent, key, value, ValueKind::kValue, 0);
  switch (out.status) {
    case WriteStatus::kCommitted:
      return InsertResult::kOk;
    case WriteStatus::kRejected:
      return InsertResult::kDuplicateKey;
    case WriteStatus::kSealed:
      return InsertResult::kSealed;
    case WriteStatus::kOutOfMemory:
      return InsertResult::kOutOfMemory;
  }
  return InsertResult::kSealed;
}

bool ConcurrentSkipList::insert(std::string_view key, std::string_view value) {
  return try_insert(key, value) == InsertResult::kOk;
}

bool ConcurrentSkipList::remove(std::string_view key) {
  return core_->write(WriteMode::kTombstoneIfLive, key, {}, ValueKind::kTombstone, 0).status ==
         WriteStatus::kCommitted;
}

std::pair<std::string_view, bool> ConcurrentSkipList::get_or_insert(std::string_view key,
                                                                    std::string_view value) {
  const WriteOutcome out =
      core_->write(WriteMode::kInsertIfAbsent, key, value, ValueKind::kValue, 0);
  if (out.status == WriteStatus::kCommitted) return {out.existing->value(), true};
  if (out.status == WriteStatus::kRejected && out.existing != nullptr) {
    return {out.existing->value(), false};
  }
  return {std::string_view(), false};
}

BatchResult ConcurrentSkipList::insert_batch(
    std::span<const std::pair<std::string_view, std::string_view>> entries) {
  BatchResult result{0, 0};
  for (const auto& [key, value] : entries) {
    if (try_insert(key, value) == InsertResult::kOk) {
      ++result.succeeded;
    } else {
      ++result.failed;
    }
  }
  return result;
}

std::optional<Lookup> ConcurrentSkipList::get(std::string_view key) const {
  return lookup_at(*core_, key, kMaxSequenceNumber);
}
std::optional<std::string_view> ConcurrentSkipList::get_live(std::string_view key) const {
  return live_at(*core_, key, kMaxSequenceNumber);
}
bool ConcurrentSkipList::contains(std::string_view key) const { return get_live(key).has_value(); }

std::vector<std::optional<std::string_view>> ConcurrentSkipList::get_many(
    std::span<const std::string_view> keys) const {
  std::vector<std::optional<std::string_view>> out;
  out.reserve(keys.size());
  for (const auto& found : versions_at(*core_, keys, kMaxSequenceNumber)) {
    if (found && found->kind != ValueKind::kTombstone) {
      out.emplace_back(found->value);
    } else {
      out.emplace_back(std::nullopt);
    }
  }
  return out;
}

Cursor ConcurrentSkipList::cursor() const {
  Cursor c(core_, kMaxSequenceNumber);
  c.start(core_->first(), core_->first_lane(), core_->first_far_lane());
  return c;
}
Cursor ConcurrentSkipList::cursor_at(std::string_view target) const {
  Cursor c(core_, kMaxSequenceNumber);
  c.seek(target);
  return c;
}
SkipListSnapshot ConcurrentSkipList::snapshot() const {
  return SkipListSnapshot(core_, core_->stable_sequence());
}

std::optional<std::pair<std::shared_ptr<const FrozenMemtable>, std::unique_ptr<ConcurrentSkipList>>>
ConcurrentSkipList::seal() {
  // seq_cst: one winner among concurrent seal() calls; nothing else hangs on it.
  if (seal_taken_.exchange(true)) return std::nullopt;
  core_->seal_and_wait();
  std::shared_ptr<const FrozenMemtable> frozen(new FrozenMemtable(core_));
  return std::make_pair(std::move(frozen), std::make_unique<ConcurrentSkipList>(options_));
}
bool ConcurrentSkipList::is_sealed() const { return core_->is_sealed(); }

InsertResult ConcurrentSkipList::add(std::string_view key, std::string_view value, ValueKind kind,
                                     SequenceNumber seq) {
  const WriteOutcome out = core_->write(WriteMode::kAddVersion, key, value, kind, seq);
  switch (out.status) {
    case WriteStatus::kCommitted:
      return InsertResult::kOk;
    case WriteStatus::kRejected:
      return InsertResult::kDuplicateKey;
    case WriteStatus::kSealed:
      return InsertResult::kSealed;
    case WriteStatus::kOutOfMemory:
      return InsertResult::kOutOfMemory;
  }
  return InsertResult::kSealed;
}

std::optional<VersionLookup> ConcurrentSkipList::get_at(std::string_view key,
                                                        SequenceNumber seq) const {
  const Node* n = core_->find_visible(key, seq);
  if (n == nullptr) return std::nullopt;
  return VersionLookup{n->value(), n->kind(), n->sequence()};
}

std::vector<std::optional<VersionLookup>> ConcurrentSkipList::get_many_at(
    std::span<const std::string_view> keys, SequenceNumber seq) const {
  return versions_at(*core_, keys, seq);
}

std::unique_ptr<InternalIterator> ConcurrentSkipList::new_version_iterator() const {
  return std::make_unique<memtable_detail::MemtableVersionIterator>(core_);
}

size_t ConcurrentSkipList::len() const { return core_->live_entries(); }
bool ConcurrentSkipList::empty() const { return len() == 0; }
size_t ConcurrentSkipList::entry_count() const { return core_->entry_count(); }
size_t ConcurrentSkipList::memory_usage() const { return core_->memory_usage(); }
size_t ConcurrentSkipList::approximate_memory_usage() const {
  return core_->approximate_memory_usage();
}
size_t ConcurrentSkipList::memory_reserved() const { return core_->memory_reserved(); }
double ConcurrentSkipList::memory_utilization() const { return core_->memory_utilization(); }
size_t ConcurrentSkipList::memory_idle() const { return core_->memory_idle(); }
double ConcurrentSkipList::avg_key_size() const { return core_->avg_key_size(); }
double ConcurrentSkipList::avg_value_size() const { return core_->avg_value_size(); }
size_t ConcurrentSkipList::total_inserts() const { return core_->total_attempts(); }
size_t ConcurrentSkipList::max_memory_bytes() const { return core_->max_memory_bytes(); }
size_t ConcurrentSkipList::max_entries() const { return core_->max_entries(); }
bool ConcurrentSkipList::is_under_backpressure() const { return core_->is_under_backpressure(); }
bool ConcurrentSkipList::check_invariants(std::string* why) const {
  return core_->check_invariants(why);
}

}  // namespace fsdb
