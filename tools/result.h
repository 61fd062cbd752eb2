// Result: what one command produced, rendered either as aligned human text or
// as one JSON object (--json). Commands fill fields (name/value pairs), at most
// one table (columns and rows) and free text lines; the renderer decides the
// look, so every command gets both forms from the same data.
//
// JSON form: {"<field>": value, ..., "<table name>": [{"<column>": value, ...}],
// "lines": [...]}. Sizes are plain byte counts in JSON and "12.4 MiB" for people.
//
// Thread safety: a plain value.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace fsdb::tool {

struct Bytes {
  uint64_t value = 0;
};

// A number of seconds, shown with a unit for people.
struct Seconds {
  double value = 0;
};

using Cell = std::variant<std::string, int64_t, uint64_t, double, bool, Bytes, Seconds>;

std::string cell_text(const Cell& cell);
std::string cell_json(const Cell& cell);

struct Result {
  std::vector<std::pair<std::string, Cell>> fields;
  std::string table_name = "rows";
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
  bool show_table_when_empty = false;
  std::vector<std::string> lines;

  void field(std::string name, Cell value) {
    fields.emplace_back(std::move(name), std::move(value));
  }
  bool empty() const { return fields.empty() && rows.empty() && lines.empty() && columns.empty(); }
};

void render_human(const Result& result, std::ostream& out);
void render_json(const Result& result, std::ostream& out);

}  // namespace fsdb::tool
