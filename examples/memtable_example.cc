// A tour of fsdb::ConcurrentSkipList: two writer threads fill a list until it
// auto-seals at its entry limit, the writers rotate to a fresh list, a snapshot
// is taken, a range is scanned, and memory statistics are printed.
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "fsdb/skiplist.h"

namespace {

std::string key_of(int writer, int i) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "user:%d:%06d", writer, i);
  return buf;
}

}  // namespace

int main() {
  fsdb::SkipListOptions options;
  options.max_entries = 20000;  // auto-seal threshold
  options.shards = 2;
  fsdb::ConcurrentSkipList list(options);

  // Two writers insert until the list refuses (the limit was reached).
  constexpr int kPerWriter = 15000;
  std::vector<int> accepted(2, 0);
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string key = key_of(w, i);
        const fsdb::InsertResult r = list.try_insert(key, "value-of-" + key);
        if (r != fsdb::InsertResult::kOk) break;  // kOutOfMemory / kSealed: rotation due
        ++accepted[w];
      }
    });
  }
  for (auto& t : writers) t.join();
  std::printf("writers stored %d + %d entries; list sealed by its limit: %s (len %zu, limit %zu)\n",
              accepted[0], accepted[1], list.is_sealed() ? "yes" : "no", list.len(),
              list.max_entries());

  // Rotation: seal hands back the frozen contents and a fresh list.
  auto sealed = list.seal();
  if (!sealed) {
    std::fprintf(stderr, "seal failed\n");
    return 1;
  }
  auto& [frozen, fresh] = *sealed;
  std::printf("second seal refused: %s\n", list.seal() ? "no" : "yes");

  // The fresh list: a snapshot hides what happens after it, inserts and removes.
  fresh->insert("apple", "red");
  fresh->insert("banana", "yellow");
  fresh->insert("cherry", "dark red");
  fsdb::SkipListSnapshot snap = fresh->snapshot();
  fresh->remove("banana");
  fresh->insert("date", "brown");
  std::printf("now: banana %s, date %s; snapshot: banana %s, date %s, %zu live keys\n",
              fresh->contains("banana") ? "live" : "removed",
              fresh->contains("date") ? "present" : "absent",
              snap.contains("banana") ? "live" : "removed",
              snap.contains("date") ? "present" : "absent", snap.count());

  // A range scan over the frozen list: keys of writer 1 from 000100 to 000104.
  std::printf("range [user:1:000100, user:1:000105) of the frozen list:\n");
  for (fsdb::Cursor c = frozen->cursor_at("user:1:000100");
       c.valid() && c.entry().key < "user:1:000105"; c.next()) {
    std::printf("  %.*s = %.*s (seq %llu)\n", static_cast<int>(c.entry().key.size()),
                c.entry().key.data(), static_cast<int>(c.entry().value.size()),
                c.entry().value.data(), static_cast<unsigned long long>(c.entry().seq));
  }

  std::printf(
      "frozen list: %zu entries, %zu bytes used, %zu reserved (%.1f%% utilized, "
      "%zu idle), %.1f bytes/entry, avg key %.1f B, avg value %.1f B, %zu insert "
      "attempts\n",
      frozen->len(), frozen->memory_usage(), frozen->memory_reserved(),
      100.0 * frozen->memory_utilization(), frozen->memory_idle(),
      frozen->len() ? static_cast<double>(frozen->memory_usage()) / frozen->len() : 0.0,
      frozen->avg_key_size(), frozen->avg_value_size(), frozen->total_inserts());
  return 0;
}
