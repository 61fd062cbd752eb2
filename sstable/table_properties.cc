#include "sstable/table_properties.h"

#include <functional>
#include <map>
#include <memory>

#include "sstable/block.h"
#include "sstable/block_builder.h"
#include "util/coding.h"

namespace fsdb {

namespace {
// Every field by name, both ways; one table keeps encode and decode in step.
struct Field {
  std::function<void(const TableProperties&, std::string*)> put;
  std::function<bool(std::string_view, TableProperties*)> get;
};

template <typename T>
Field int_field(T TableProperties::*member) {
  return Field{[member](const TableProperties& p, std::string* out) {
                 put_varint64(out, static_cast<uint64_t>(p.*member));
               },
               [member](std::string_view in, TableProperties* p) {
                 uint64_t v = 0;
                 if (!get_varint64(&in, &v) || !in.empty()) return false;
                 p->*member = static_cast<T>(v);
                 return true;
               }};
}
Field string_field(std::string TableProperties::*member) {
  return Field{[member](const TableProperties& p, std::string* out) { out->append(p.*member); },
               [member](std::string_view in, TableProperties* p) {
                 (p->*member).assign(in);
                 return true;
               }};
}

const std::map<std::string, Field, std::less<>>& fields() {
  static const auto* table = new std::map<std::string, Field, std::less<>>{
      {"fsdb.bloom_bits_per_key", int_field(&TableProperties::bloom_bits_per_key)},
      {"fsdb.compression", string_field(&TableProperties::compression)},
      {"fsdb.creation_time", int_field(&TableProperties::creation_time)},
      {"fsdb.data_bytes_raw", int_field(&TableProperties::data_bytes_raw)},
      {"fsdb.data_bytes_stored", int_field(&TableProperties::data_bytes_stored)},
      {"fsdb.dictionary_bytes", int_field(&TableProperties::dictionary_bytes)},
      {"fsdb.dictionary_offset", int_field(&TableProperties::dictionary_offset)},
      {"fsdb.filter_bytes", int_field(&TableProperties::filter_bytes)},
      {"fsdb.index_bytes", int_field(&TableProperties::index_bytes)},
      {"fsdb.largest_key", string_field(&TableProperties::largest_key)},
      {"fsdb.largest_sequence", int_field(&TableProperties::largest_sequence)},
      {"fsdb.num_data_blocks", int_field(&TableProperties::num_data_blocks)},
      {"fsdb.num_entries", int_field(&TableProperties::num_entries)},
      {"fsdb.num_tombstones", int_field(&TableProperties::num_tombstones)},
      {"fsdb.raw_key_bytes", int_field(&TableProperties::raw_key_bytes)},
      {"fsdb.raw_value_bytes", int_field(&TableProperties::raw_value_bytes)},
      {"fsdb.smallest_key", string_field(&TableProperties::smallest_key)},
      {"fsdb.smallest_sequence", int_field(&TableProperties::smallest_sequence)},
      {"fsdb.zstd_level", int_field(&TableProperties::zstd_level)},
      {"fsdb.zstd_raw_literals", int_field(&TableProperties::zstd_raw_literals)},
  };
  return *table;
}
}  // namespace

std::string TableProperties::encode() const {
  BlockBuilder builder(1);
  std::string value;
  for (const auto& [name, field] : fields()) {  // std::map: sorted by name
    value.clear();
    field.put(*this, &value);
    builder.add(name, value);
  }
  return std::string(builder.finish());
}

Status TableProperties::decode(std::string contents, TableProperties* props) {
  std::unique_ptr<Block> block;
  Status s = Block::parse(std::move(contents), &block);
  if (!s.ok()) return s;
  *props = TableProperties();
  BlockIterator it(block.get());
  for (it.seek_to_first(); it.valid(); it.next()) {
    auto found = fields().find(it.key());
    if (found == fields().end()) continue;
    if (!found->second.get(it.value(), props)) {
      return Status::Corruption("malformed table property " + found->first);
    }
  }
  return it.status();
}

std::string TableProperties::to_string() const {
  std::string out;
  for (const auto& [name, field] : fields()) {
    std::string value;
    field.put(*this, &value);
    out += name;
    out += ": ";
    if (name == "fsdb.compression") {
      out += compression;
    } else if (name == "fsdb.smallest_key" || name == "fsdb.largest_key") {
      const std::string& key = name == "fsdb.smallest_key" ? smallest_key : largest_key;
      ParsedInternalKey parsed;
      if (parse_internal_key(key, &parsed)) {
        out += '\'';
        out.append(parsed.user_key);
        out += "' @";
        out += std::to_string(parsed.sequence);
      }
    } else {
      std::string_view in = value;
      uint64_t v = 0;
      get_varint64(&in, &v);
      out += std::to_string(v);
    }
    out += '\n';
  }
  return out;
}

}  // namespace fsdb
