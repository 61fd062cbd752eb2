#include "tools/crashtest/verifier.h"

#include <algorithm>
#include <map>
#include <optional>

#include "tools/crashtest/value_codec.h"

namespace fsdb::crashtest {
namespace {

std::string show(const std::optional<std::string>& v) {
  if (!v) return "absent";
  return "'" + (v->size() > 48 ? v->substr(0, 48) + "..." : *v) + "'";
}

// One write of one key, in the key's order (by start tick: the key's lock
// serialised them).
struct KeyEvent {
  uint64_t start_tick = 0;
  size_t op = 0;  // index into the ops
  bool is_put = true;
};

}  // namespace

VerifyResult verify_db(DB& db, const VerifyInput& in) {
  VerifyResult r;
  const Baseline& base = *in.baseline;
  const std::vector<OpRecord>& ops = *in.ops;
  auto violation = [&](std::string v) {
    if (r.violations.size() < 50) r.violations.push_back(std::move(v));
  };

  // 1. Read everything: a full scan (checksums verified), then get and multi_get.
  std::vector<std::optional<std::string>> scanned(in.keys);
  {
    ReadOptions ro;
    ro.verify_checksums = true;
    ro.fill_cache = false;
    std::unique_ptr<Iterator> it = db.new_iterator(ro);
    std::optional<uint32_t> previous;
    for (it->seek_to_first(); it->valid(); it->next()) {
      const auto k = parse_key_name(it->key());
      if (!k || *k >= in.keys) {
        violation("scan: a key that was never written: '" + std::string(it->key()) + "'");
        continue;
      }
      if (previous && *k <= *previous) {
        violation("scan: " + key_name(*k) + " after " + key_name(*previous) + ": out of order");
      }
      previous = k;
      scanned[*k] = std::string(it->value());
    }
    if (!it->status().ok()) violation("scan: " + it->status().to_string());
    // Backwards too: the reverse merge must yield the same keys, in reverse
    // order, with the same values.
    size_t backward = 0;
    std::optional<uint32_t> after;
    for (it->seek_to_last(); it->valid(); it->prev()) {
      ++backward;
      const auto k = parse_key_name(it->key());
      if (!k || *k >= in.keys) {
        violation("backward scan: a key that was never written: '" + std::string(it->key()) + "'");
        continue;
      }
      if (after && *k >= *after) {
        violation("backward scan: " + key_name(*k) + " before " + key_name(*after) +
                  ": out of order");
      }
      after = k;
      if (scanned[*k] != std::string(it->value())) {
        violation("backward scan: " + key_name(*k) + " has a value the forward scan " +
                  (scanned[*k] ? "did not return" : "did not find"));
      }
    }
    if (!it->status().ok()) violation("backward scan: " + it->status().to_string());
    const size_t forward = static_cast<size_t>(
        std::count_if(scanned.begin(), scanned.end(), [](const auto& v) { return v.has_value(); }));
    if (it->status().ok() && backward != forward) {
      violation("scan: " + std::to_string(forward) + " keys forward but " +
                std::to_string(backward) + " backward");
    }
    // Seeks into the middle, each way: the iterator's positioning, not only
    // its full walks. -1: no key there (the end, or before the start).
    auto at = [&]() -> int64_t {
      if (!it->valid()) return -1;
      const auto k = parse_key_name(it->key());
      return k ? static_cast<int64_t>(*k) : -2;
    };
    auto name_of = [](int64_t k, const char* none) {
      return k >= 0 ? key_name(static_cast<uint32_t>(k)) : std::string(none);
    };
    for (uint32_t target = 0; target < in.keys; target += std::max<uint32_t>(1, in.keys / 16)) {
      int64_t expect_next = -1, expect_prev = -1;
      for (uint32_t k = target; k < in.keys && expect_next < 0; ++k) {
        if (scanned[k]) expect_next = k;
      }
      for (uint32_t k = target + 1; k-- > 0 && expect_prev < 0;) {
        if (scanned[k]) expect_prev = k;
      }
      it->seek(key_name(target));
      const int64_t got_next = at();
      if (it->status().ok() && got_next != expect_next) {
        violation("seek(" + key_name(target) + ") landed on " + name_of(got_next, "the end") +
                  ", not " + name_of(expect_next, "the end"));
      }
      it->seek_for_prev(key_name(target));
      const int64_t got_prev = at();
      if (it->status().ok() && got_prev != expect_prev) {
        violation("seek_for_prev(" + key_name(target) + ") landed on " +
                  name_of(got_prev, "the start") + ", not " + name_of(expect_prev, "the start"));
      }
      if (!it->status().ok()) violation("seek: " + it->status().to_string());
    }
  }
  std::vector<std::string> names;
  for (uint32_t k = 0; k < in.keys; ++k) names.push_back(key_name(k));
  std::vector<std::string_view> views(names.begin(), names.end());
  std::vector<std::string> multi_values;
  const std::vector<Status> multi = db.multi_get(ReadOptions(), views, &multi_values);
  for (uint32_t k = 0; k < in.keys; ++k) {
    std::string value;
    Status s = db.get(names[k], &value);
    if (!s.ok() && !s.is_not_found()) {
      violation("get(" + names[k] + "): " + s.to_string());
      continue;
    }
    const std::optional<std::string> got =
        s.ok() ? std::optional<std::string>(value) : std::nullopt;
    if (got != scanned[k]) {
      violation("get(" + names[k] + ") = " + show(got) + " but the scan saw " + show(scanned[k]));
    }
    const std::optional<std::string> mg =
        multi[k].ok() ? std::optional<std::string>(multi_values[k]) : std::nullopt;
    if (!multi[k].ok() && !multi[k].is_not_found()) {
      violation("multi_get(" + names[k] + "): " + multi[k].to_string());
    } else if (mg != scanned[k]) {
      violation("multi_get(" + names[k] + ") = " + show(mg) + " but the scan saw " +
                show(scanned[k]));
    }
  }

  // 2. Index the writes by (thread, counter) and by key.
  std::map<std::pair<uint32_t, uint64_t>, size_t> by_id;
  std::vector<std::vector<KeyEvent>> history(in.keys);
  for (size_t i = 0; i < ops.size(); ++i) {
    by_id[{ops[i].thread, ops[i].counter}] = i;
    for (const KeyWrite& w : ops[i].writes) {
      if (w.key < in.keys) history[w.key].push_back({ops[i].start_tick, i, w.is_put});
    }
  }
  for (auto& h : history) {
    std::sort(h.begin(), h.end(),
              [](const KeyEvent& a, const KeyEvent& b) { return a.start_tick < b.start_tick; });
  }

  // 3. What each key shows: position 0 is the baseline, i > 0 the i-th write of
  // the key. For an absent key every removal (and an absent baseline) could be
  // the cause, so keep them all.
  std::vector<bool> visible(ops.size(), false);
  std::vector<std::optional<size_t>> shown_position(in.keys);  // for a value
  for (uint32_t k = 0; k < in.keys; ++k) {
    if (!scanned[k]) continue;
    const std::string& v = *scanned[k];
    const auto id = parse_value(v, in.max_value_padding);
    if (!id || id->key != k) {
      violation(names[k] + " holds a value no write put there: " + show(v));
      continue;
    }
    if (id->epoch != in.epoch) {
      if (base.values.size() > k && base.values[k] == v) {
        shown_position[k] = 0;
      } else {
        violation(names[k] + " holds " + show(v) + " from cycle " + std::to_string(id->epoch) +
                  ", which is not what the cycle began with (" +
                  show(base.values.size() > k ? base.values[k] : std::nullopt) + ")");
      }
      continue;
    }
    auto found = by_id.find({id->thread, id->counter});
    std::optional<size_t> position;
    if (found != by_id.end()) {
      const auto& h = history[k];
      for (size_t i = 0; i < h.size(); ++i) {
        if (h[i].op == found->second && h[i].is_put) position = i + 1;
      }
    }
    if (!position) {
      violation(names[k] + " holds " + show(v) + ", a value the oracle never saw written");
      continue;
    }
    shown_position[k] = position;
    visible[found->second] = true;
    ++r.surviving_writes;
  }

  // 4. The survivors: durable-by-mode acknowledged writes, writes known to
  // have survived (a visible value, or a removal that alone explains an
  // absent key), and every write acknowledged before one of those started.
  //
  // Unlogged writes (disable_wal) survive only in a table: a flush wrote out
  // their memtable, and with it every write before them. So a visible
  // unlogged write, or an acknowledged flush, is evidence for every write
  // acknowledged before it began; a logged write (visible, or durable by the
  // mode) only for the logged ones, which the log replays, while unlogged
  // writes before it may be gone.
  std::vector<bool> required(ops.size(), false);
  // Removals known to prove that the logged writes before them survived,
  // though not that they did themselves (see the removals below).
  std::vector<bool> logged_evidence(ops.size(), false);
  auto durable_by_mode = [&](const OpRecord& op) {
    return op.outcome == OpOutcome::kAcked && !op.unlogged &&
           (in.durability == Durability::kEveryAcknowledged || op.is_durability_point());
  };
  auto find_required = [&] {
    // The latest start tick among ops known to have survived, or to have
    // made what came before them durable: for every write, and for logged
    // writes.
    uint64_t horizon_all = 0, horizon_logged = 0;
    for (size_t i = 0; i < ops.size(); ++i) {
      const OpRecord& op = ops[i];
      const bool acked = op.outcome == OpOutcome::kAcked;
      if ((visible[i] && op.unlogged) || (acked && op.is_durability_point_for_unlogged())) {
        horizon_all = std::max(horizon_all, op.start_tick);
      }
      if (visible[i] || durable_by_mode(op) || logged_evidence[i]) {
        horizon_logged = std::max(horizon_logged, op.start_tick);
      }
    }
    for (size_t i = 0; i < ops.size(); ++i) {
      const OpRecord& op = ops[i];
      const bool acked = op.outcome == OpOutcome::kAcked;
      required[i] = visible[i] || durable_by_mode(op) || (acked && op.end_tick < horizon_all) ||
                    (acked && !op.unlogged && op.end_tick < horizon_logged);
    }
  };
  // The position of the last write of key k that had to survive (0: none).
  auto must_of = [&](uint32_t k) {
    size_t must = 0;
    for (size_t i = 0; i < history[k].size(); ++i) {
      if (required[history[k][i].op]) must = i + 1;
    }
    return must;
  };
  // A key that is absent although a value had to survive (its required put,
  // or what the cycle began with) was removed by a later removal, and the
  // first of them survived whichever did (writes of one key never overlap):
  // it is evidence like a visible value, and may require more. To a fixed point.
  for (bool learned = true; learned;) {
    learned = false;
    find_required();
    for (uint32_t k = 0; k < in.keys; ++k) {
      if (scanned[k]) continue;
      const auto& h = history[k];
      const size_t must = must_of(k);
      const bool value_required =
          must == 0 ? base.values.size() > k && base.values[k].has_value() : h[must - 1].is_put;
      if (!value_required) continue;
      for (size_t i = must; i < h.size(); ++i) {
        if (h[i].is_put) continue;
        // The surviving removal may be a later one. If it is unlogged, every
        // write before it survived, this one included; if it is logged, only
        // the logged ones did. So this one is known only if it is logged
        // itself, or no later removal is; either way the logged writes
        // acknowledged before it began survived.
        const bool later_logged_removal =
            std::any_of(h.begin() + static_cast<ptrdiff_t>(i) + 1, h.end(),
                        [&](const KeyEvent& e) { return !e.is_put && !ops[e.op].unlogged; });
        const bool later_removal = std::any_of(h.begin() + static_cast<ptrdiff_t>(i) + 1, h.end(),
                                               [&](const KeyEvent& e) { return !e.is_put; });
        // A removal whose call failed may never have been applied at all: a
        // DB that resume()d takes writes after it, so a later removal may be
        // the one that survived. It is still the earliest that could have,
        // so the logged writes acknowledged before it began survived.
        const bool failed = ops[h[i].op].outcome != OpOutcome::kAcked;
        if (failed && later_removal) {
          if (!logged_evidence[h[i].op]) logged_evidence[h[i].op] = learned = true;
        } else if (!ops[h[i].op].unlogged || !later_logged_removal) {
          if (!visible[h[i].op]) visible[h[i].op] = learned = true;
        } else if (!logged_evidence[h[i].op]) {
          logged_evidence[h[i].op] = learned = true;
        }
        break;
      }
    }
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    if (required[i] && !ops[i].writes.empty()) ++r.required_writes;
  }

  // 5. Each key must show its last surviving write or a later one.
  for (uint32_t k = 0; k < in.keys; ++k) {
    const auto& h = history[k];
    const size_t must = must_of(k);  // position of the last write that had to survive
    bool ok = false;
    if (scanned[k]) {
      ok = shown_position[k] && *shown_position[k] >= must;
      if (!shown_position[k]) continue;  // already reported
    } else {
      if (must == 0 && !(base.values.size() > k && base.values[k])) ok = true;
      for (size_t i = must == 0 ? 0 : must - 1; i < h.size() && !ok; ++i) {
        ok = !h[i].is_put;
      }
    }
    ++r.keys_verified;
    if (ok) continue;
    if (must == 0) {
      // Nothing of this cycle had to survive, and nothing of it explains the
      // key's state: what the cycle began with is gone.
      violation(names[k] + " holds " + show(scanned[k]) + " but the cycle began with " +
                show(base.values.size() > k ? base.values[k] : std::nullopt) +
                " (verified, hence durable) and none of its " + std::to_string(h.size()) +
                " writes of this cycle removed it");
      continue;
    }
    const OpRecord& lost = ops[h[must - 1].op];
    const std::string why =
        visible[h[must - 1].op] ? "it is known to have survived: a value it wrote is visible, or "
                                  "a removal of it alone explains an absent key"
        : durable_by_mode(lost) ? "it was acknowledged and durable"
        : lost.unlogged
            ? "it was acknowledged before an acknowledged flush, or a visible unlogged write, "
              "began"
            : "it was acknowledged before a write that is visible or durable began";
    // For a write of several keys, what each of them shows: a batch is all
    // or nothing, so this tells a torn batch from a lost write.
    std::string keys_of_lost;
    if (lost.writes.size() > 1) {
      keys_of_lost = "; its keys:";
      for (const KeyWrite& w : lost.writes) {
        if (w.key >= in.keys) continue;
        keys_of_lost +=
            " " + names[w.key] + (w.is_put ? " (put) " : " (removal) ") +
            (scanned[w.key] ? "shows position " +
                                  (shown_position[w.key] ? std::to_string(*shown_position[w.key])
                                                         : std::string("?")) +
                                  " of " + std::to_string(history[w.key].size())
                            : std::string("absent"));
      }
    }
    violation(names[k] + " holds " + show(scanned[k]) + " but " + describe(lost) +
              " must have survived (" + why + "); the key's writes after the baseline: " +
              std::to_string(h.size()) + ", shown position " +
              (shown_position[k] ? std::to_string(*shown_position[k]) : "absent") + ", required " +
              std::to_string(must) + keys_of_lost);
  }

  r.observed.epoch = in.epoch;
  r.observed.values = std::move(scanned);
  return r;
}

}  // namespace fsdb::crashtest
