// Node: one entry of the skip list, laid out in a single arena allocation.
//
//   [link h-1] ... [link 1] [link 0] [packed] [klen][key bytes][vlen][value bytes]
//                           ^ Node*
//
// The tower of atomic next pointers comes first and grows downwards from the
// node address, so link(i) is at (Node* - 8*i): a node stores exactly `height`
// pointers and no height field (a reader only ever follows level i of a node it
// reached through level i, so it never needs to know the height). `packed` is
// (sequence << 8 | kind) as in util/internal_key.h. The key and value lengths
// are varint32s (one byte each below 128), followed by the bytes themselves.
// The allocation is rounded up to 8 bytes so that the next node's tower is
// aligned. For a 16-byte key and a 100-byte value of height h that is
// 8h + 8 + 1 + 16 + 1 + 100 = 8h + 126 -> 8h + 128 bytes.
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

inline constexpr int kMaxHeight = 12;  // with branching 1/4: good up to ~16M entries

struct Node {
  std::atomic<Node*>& link(int level) {
    return *reinterpret_cast<std::atomic<Node*>*>(reinterpret_cast<char*>(this) -
                                                  static_cast<ptrdiff_t>(level) * 8);
  }
  // Where a search reads this node: its links and key start around here.
  const void* key_line() const { return reinterpret_cast<const char*>(this) + 16; }
  const std::atomic<Node*>& link(int level) const {
    return *reinterpret_cast<const std::atomic<Node*>*>(reinterpret_cast<const char*>(this) -
                                                        static_cast<ptrdiff_t>(level) * 8);
  }
  // Acquire: pairs with the release CAS that published the next node, so its
  // key, value and sequence (written before that CAS) are visible here.
  Node* next(int level) const { return link(level).load(std::memory_order_acquire); }

  uint64_t packed() const { return packed_; }
  SequenceNumber sequence() const { return packed_ >> 8; }
  ValueKind kind() const { return static_cast<ValueKind>(packed_ & 0xff); }

  std::string_view user_key() const {
    uint32_t len;
    const char* p = read_length(payload(), &len);
    return {p, len};
  }
  std::string_view value() const {
    uint32_t klen;
    const char* p = read_length(payload(), &klen);
    uint32_t vlen;
    p = read_length(p + klen, &vlen);
    return {p, vlen};
  }

  // The allocation size of a node (rounded up to 8 by the arena).
  static size_t allocation_bytes(int height, size_t key_bytes, size_t value_bytes) {
    return static_cast<size_t>(height) * 8 + sizeof(uint64_t) + length_bytes(key_bytes) +
           key_bytes + length_bytes(value_bytes) + value_bytes;
  }

  // Builds a node in `memory` (8-aligned, allocation_bytes() long) with every
  // link null. The result is private to the caller until it is published.
  static Node* construct(char* memory, int height, std::string_view key, std::string_view value,
                         uint64_t packed) {
    for (int i = 0; i < height; ++i) {
      new (memory + static_cast<size_t>(i) * 8) std::atomic<Node*>(nullptr);
    }
    auto* node = reinterpret_cast<Node*>(memory + static_cast<size_t>(height - 1) * 8);
    node->packed_ = packed;
    char* p = write_length(node->payload_mutable(), static_cast<uint32_t>(key.size()));
    if (!key.empty()) std::memcpy(p, key.data(), key.size());
    p = write_length(p + key.size(), static_cast<uint32_t>(value.size()));
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    return node;
  }

  // Only for a node not yet published (the seed API stamps the sequence just
  // before each commit attempt).
  void set_packed(uint64_t packed) { packed_ = packed; }

 private:
  const char* payload() const { return reinterpret_cast<const char*>(this) + 16; }
  char* payload_mutable() { return reinterpret_cast<char*>(this) + 16; }

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

  std::atomic<Node*> next0_;  // link(0); declared so the struct has its real size
  uint64_t packed_;
};
static_assert(sizeof(Node) == 16);

// Internal order of a node against (user key, packed): <0, 0, >0, the order of
// util/internal_key.h (user key ascending, then packed descending).
inline int compare_node(const Node* node, std::string_view key, uint64_t packed) {
  const int c = compare_user_keys(node->user_key(), key);
  if (c != 0) return c;
  if (node->packed() > packed) return -1;
  return node->packed() < packed ? 1 : 0;
}

}  // namespace fsdb::memtable_detail
