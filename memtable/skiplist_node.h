// Node: one entry of the skip list, laid out in a single arena allocation.
//
//   [link h-1] ... [link 1] [link 0] [packed] [klen][key bytes][vlen][value bytes]
//                           ^ Node*
//
// A link is a NodeRef: a 32-bit reference into the list's arena (arena.h), not
// a 64-bit pointer, which halves the tower. The tower comes first and grows
// downwards from the node address, so link(i) is at (Node* - 4*i): a node
// stores exactly `height` links and no height field (a reader only ever follows
// level i of a node it reached through level i, so it never needs to know the
// height). `packed` is (sequence << 8 | kind) as in util/internal_key.h, stored
// unaligned. The key and value lengths are varint32s (one byte each below 128),
// followed by the bytes themselves. The allocation is rounded up to 4 bytes so
// that the next node's tower is aligned. For a 16-byte key and a 100-byte value
// of height h that is 4h + 8 + 1 + 16 + 1 + 100 = 4h + 126 -> 4h + 128 bytes.
//
// A value may live elsewhere in the arena (the skip list does that for the
// long values of tall nodes, which searches visit most: the smaller the
// nodes searches compare, the more of them stay in cache). The node then
// holds, where the value's length would be, the two bytes 0x80 0x00 — a
// varint no writer produces (a zero continuation byte) — then the value's
// length as a varint and the 8-byte address of its bytes:
// 4h + 8 + 1 + 16 + 2 + 1 + 8 = 4h + 36 bytes for the same entry, plus the
// 100 bytes of the value.
//
// Thread safety: everything after the links is written before the node is
// published by the release CAS at level 0 and never changes afterwards, so a
// reader that found the node through an acquire load may read it freely.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <new>
#include <string_view>

#include "util/internal_key.h"

namespace fsdb::memtable_detail {

// Levels are added with probability 1/2 each: a search then compares about
// 1.5 nodes per level, fewer per halving of the distance to the target than
// with branching 1/4, and the lower levels are where a search misses the
// cache. 24 levels are plenty up to ~16M entries and degrade gently beyond.
inline constexpr int kMaxHeight = 24;

// A node's place in its arena (ShardedArena::node_at); 0 is null.
using NodeRef = uint32_t;

struct Node {
  static constexpr size_t kLinkBytes = sizeof(NodeRef);

  std::atomic<NodeRef>& link(int level) {
    return *reinterpret_cast<std::atomic<NodeRef>*>(reinterpret_cast<char*>(this) -
                                                    static_cast<ptrdiff_t>(level) * 4);
  }
  const std::atomic<NodeRef>& link(int level) const {
    return *reinterpret_cast<const std::atomic<NodeRef>*>(reinterpret_cast<const char*>(this) -
                                                          static_cast<ptrdiff_t>(level) * 4);
  }
  // Acquire: pairs with the release CAS that published the next node, so its
  // key, value and sequence (written before that CAS), and the arena block it
  // lives in, are visible here.
  NodeRef next_ref(int level) const { return link(level).load(std::memory_order_acquire); }

  // Where a search reads this node: its packed trailer and key start here.
  const void* key_line() const { return reinterpret_cast<const char*>(this) + kLinkBytes; }

  uint64_t packed() const {
    uint64_t v;
    std::memcpy(&v, reinterpret_cast<const char*>(this) + kLinkBytes, sizeof(v));
    return v;
  }
  SequenceNumber sequence() const { return packed() >> 8; }
  ValueKind kind() const { return static_cast<ValueKind>(packed() & 0xff); }

  std::string_view user_key() const {
    uint32_t len;
    const char* p = read_length(payload(), &len);
    return {p, len};
  }
  std::string_view value() const {
    uint32_t klen;
    const char* p = read_length(payload(), &klen) + klen;
    uint32_t vlen;
    if (is_value_elsewhere_marker(p)) {
      p = read_length(p + kValueElsewhereMarkerBytes, &vlen);
      return {address_at(p), vlen};
    }
    p = read_length(p, &vlen);
    return {p, vlen};
  }
  // Where the value's bytes are if the node keeps them elsewhere, else null.
  const char* value_elsewhere() const {
    uint32_t klen;
    const char* p = read_length(payload(), &klen) + klen;
    if (!is_value_elsewhere_marker(p)) return nullptr;
    uint32_t vlen;
    return address_at(read_length(p + kValueElsewhereMarkerBytes, &vlen));
  }

  // The allocation size of a node (rounded up to 4 by the arena).
  static size_t allocation_bytes(int height, size_t key_bytes, size_t value_bytes) {
    return static_cast<size_t>(height) * kLinkBytes + sizeof(uint64_t) + length_bytes(key_bytes) +
           key_bytes + length_bytes(value_bytes) + value_bytes;
  }
  // The allocation size of a node whose value bytes live elsewhere.
  static size_t allocation_bytes_value_elsewhere(int height, size_t key_bytes, size_t value_bytes) {
    return static_cast<size_t>(height) * kLinkBytes + sizeof(uint64_t) + length_bytes(key_bytes) +
           key_bytes + kValueElsewhereMarkerBytes + length_bytes(value_bytes) + sizeof(const char*);
  }
  // How far into its allocation a node of `height` starts (its link 0).
  static size_t offset_in_allocation(int height) {
    return static_cast<size_t>(height - 1) * kLinkBytes;
  }

  // Builds a node in `memory` (4-aligned, allocation_bytes() long) with every
  // link null. The result is private to the caller until it is published.
  // With `value_elsewhere` (and allocation_bytes_value_elsewhere() bytes), the
  // node refers to those bytes, which hold `value` already, instead of
  // holding a copy; they must live as long as the node.
  static Node* construct(char* memory, int height, std::string_view key, std::string_view value,
                         uint64_t packed, const char* value_elsewhere = nullptr) {
    for (int i = 0; i < height; ++i) {
      new (memory + static_cast<size_t>(i) * kLinkBytes) std::atomic<NodeRef>(0);
    }
    auto* node = reinterpret_cast<Node*>(memory + offset_in_allocation(height));
    node->set_packed(packed);
    char* p = write_length(node->payload_mutable(), static_cast<uint32_t>(key.size()));
    if (!key.empty()) std::memcpy(p, key.data(), key.size());
    p += key.size();
    if (value_elsewhere != nullptr) {
      p[0] = static_cast<char>(0x80);
      p[1] = 0;
      p = write_length(p + kValueElsewhereMarkerBytes, static_cast<uint32_t>(value.size()));
      std::memcpy(p, &value_elsewhere, sizeof(value_elsewhere));
      return node;
    }
    p = write_length(p, static_cast<uint32_t>(value.size()));
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    return node;
  }

  // Only for a node not yet published (the seed API stamps the sequence just
  // before each commit attempt).
  void set_packed(uint64_t packed) {
    std::memcpy(reinterpret_cast<char*>(this) + kLinkBytes, &packed, sizeof(packed));
  }

 private:
  static constexpr size_t kPayloadOffset = kLinkBytes + sizeof(uint64_t);
  static constexpr size_t kValueElsewhereMarkerBytes = 2;
  static bool is_value_elsewhere_marker(const char* p) {
    return static_cast<unsigned char>(p[0]) == 0x80 && p[1] == 0;
  }
  // The 8-byte address a node keeps for a value elsewhere (stored unaligned).
  static const char* address_at(const char* p) {
    const char* address;
    std::memcpy(&address, p, sizeof(address));
    return address;
  }
  const char* payload() const { return reinterpret_cast<const char*>(this) + kPayloadOffset; }
  char* payload_mutable() { return reinterpret_cast<char*>(this) + kPayloadOffset; }

  static size_t length_bytes(size_t v) {
    size_t n = 1;
    while (v >= 0x80) {
      v >>= 7;
      ++n;
    }
    return n;
  }
  static char* write_length(char* p, uint32_t v) {
    while (v >= 0x80) {
      *p++ = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    *p++ = static_cast<char>(v);
    return p;
  }
  static const char* read_length(const char* p, uint32_t* out) {
    uint32_t b = static_cast<unsigned char>(*p);
    if (b < 0x80) {
      *out = b;
      return p + 1;
    }
    uint32_t result = b & 0x7f;
    for (int shift = 7;; shift += 7) {
      b = static_cast<unsigned char>(*++p);
      result |= (b & 0x7f) << shift;
      if (b < 0x80) break;
    }
    *out = result;
    return p + 1;
  }

  std::atomic<NodeRef> next0_;  // link(0); declared so the struct has its real alignment
};
static_assert(sizeof(Node) == 4);
static_assert(alignof(Node) == 4);

// Internal order of a node against (user key, packed): <0, 0, >0, the order of
// util/internal_key.h (user key ascending, then packed descending).
inline int compare_node(const Node* node, std::string_view key, uint64_t packed) {
  const int c = compare_user_keys(node->user_key(), key);
  if (c != 0) return c;
  const uint64_t p = node->packed();
  if (p > packed) return -1;
  return p < packed ? 1 : 0;
}

}  // namespace fsdb::memtable_detail
