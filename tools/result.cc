#include "tools/result.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "tools/text.h"

namespace fsdb::tool {

std::string cell_text(const Cell& cell) {
  struct Visitor {
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(uint64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const {
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.2f", v);
      return buf;
    }
    std::string operator()(bool v) const { return v ? "yes" : "no"; }
    std::string operator()(Bytes v) const { return human_bytes(v.value); }
    std::string operator()(Seconds v) const { return human_seconds(v.value); }
  };
  return std::visit(Visitor{}, cell);
}

std::string cell_json(const Cell& cell) {
  struct Visitor {
    std::string operator()(const std::string& s) const { return json_quote(s); }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(uint64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const {
      if (!std::isfinite(v)) return "null";
      char buf[32];
      std::snprintf(buf, sizeof(buf), "%.6g", v);
      return buf;
    }
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(Bytes v) const { return std::to_string(v.value); }
    std::string operator()(Seconds v) const { return (*this)(v.value); }
  };
  return std::visit(Visitor{}, cell);
}

namespace {

bool is_numeric(const Cell& cell) { return !std::holds_alternative<std::string>(cell); }

}  // namespace

void render_human(const Result& result, std::ostream& out) {
  size_t name_width = 0;
  for (const auto& [name, value] : result.fields) name_width = std::max(name_width, name.size());
  for (const auto& [name, value] : result.fields) {
    out << name << ':' << std::string(name_width - name.size() + 1, ' ') << cell_text(value)
        << '\n';
  }
  if (!result.columns.empty() && (!result.rows.empty() || result.show_table_when_empty)) {
    std::vector<std::vector<std::string>> texts;
    std::vector<size_t> widths(result.columns.size());
    for (size_t c = 0; c < result.columns.size(); ++c) widths[c] = result.columns[c].size();
    for (const auto& row : result.rows) {
      auto& text = texts.emplace_back();
      for (size_t c = 0; c < row.size() && c < widths.size(); ++c) {
        text.push_back(cell_text(row[c]));
        widths[c] = std::max(widths[c], text.back().size());
      }
    }
    // Numbers align right, text left; the last column is not padded.
    const auto emit_row = [&](const std::vector<std::string>& cells, const std::vector<Cell>* raw) {
      std::string line;
      size_t content_end = 0;  // after the last cell that is not empty
      for (size_t c = 0; c < cells.size(); ++c) {
        const bool last = c + 1 == cells.size();
        const size_t pad = widths[c] - cells[c].size();
        const bool right = raw != nullptr && is_numeric((*raw)[c]);
        if (right) line.append(pad, ' ');
        line += cells[c];
        if (!cells[c].empty()) content_end = line.size();
        if (!right && !last) line.append(pad, ' ');
        if (!last) line += "  ";
      }
      // The padding and separators after the last cell with text go; that
      // cell's own trailing spaces are data (a value "v " is not "v").
      line.resize(content_end);
      out << line << '\n';
    };
    if (!result.fields.empty()) out << '\n';
    emit_row(result.columns, nullptr);
    for (size_t r = 0; r < texts.size(); ++r) emit_row(texts[r], &result.rows[r]);
  }
  for (const auto& line : result.lines) out << line << '\n';
}

void render_json(const Result& result, std::ostream& out) {
  std::string json = "{";
  bool first = true;
  const auto comma = [&] {
    if (!first) json += ", ";
    first = false;
  };
  const bool has_table = !result.columns.empty();
  for (const auto& [name, value] : result.fields) {
    comma();
    // A count named like the table it counts ("entries: 12" over the entries)
    // reads well as text; a JSON object cannot hold the name twice.
    const bool clashes = has_table && name == result.table_name;
    json += json_quote(clashes ? name + " count" : name) + ": " + cell_json(value);
  }
  if (has_table) {
    comma();
    json += json_quote(result.table_name) + ": [";
    for (size_t r = 0; r < result.rows.size(); ++r) {
      if (r > 0) json += ", ";
      json += '{';
      for (size_t c = 0; c < result.columns.size() && c < result.rows[r].size(); ++c) {
        if (c > 0) json += ", ";
        json += json_quote(result.columns[c]) + ": " + cell_json(result.rows[r][c]);
      }
      json += '}';
    }
    json += ']';
  }
  if (!result.lines.empty()) {
    comma();
    json += "\"lines\": [";
    for (size_t i = 0; i < result.lines.size(); ++i) {
      if (i > 0) json += ", ";
      json += json_quote(result.lines[i]);
    }
    json += ']';
  }
  json += "}\n";
  out << json;
}

}  // namespace fsdb::tool
