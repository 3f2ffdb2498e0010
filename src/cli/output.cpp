#include "cli/output.hpp"

#include <algorithm>

namespace kiln::cli {

namespace {

std::string one_line(std::string text) {
  std::replace(text.begin(), text.end(), '\n', ' ');
  std::replace(text.begin(), text.end(), '\r', ' ');
  std::replace(text.begin(), text.end(), '\t', ' ');
  return text;
}

// Display width: counts UTF-8 code points, not bytes.
std::size_t width_of(const std::string& text) {
  std::size_t n = 0;
  for (unsigned char c : text) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

std::string cell_text(const nlohmann::json& value) {
  if (value.is_null()) return "-";
  if (value.is_string()) return one_line(value.get<std::string>());
  if (value.is_array() && std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_primitive(); })) {
    std::string out;
    for (const auto& v : value) out += (out.empty() ? "" : ",") + cell_text(v);
    return out.empty() ? "-" : out;
  }
  return one_line(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::json value_at(const nlohmann::json& object, const std::string& path) {
  const nlohmann::json* at = &object;
  std::size_t start = 0;
  for (;;) {
    const auto dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object() || !at->contains(key)) return nullptr;
    at = &(*at)[key];
    if (dot == std::string::npos) return *at;
    start = dot + 1;
  }
}

std::string format_table(const std::vector<Column>& columns, const nlohmann::json& rows) {
  std::vector<std::vector<std::string>> cells;
  std::vector<std::size_t> widths;
  for (const auto& c : columns) widths.push_back(width_of(c.title));
  if (rows.is_array()) {
    for (const auto& row : rows) {
      std::vector<std::string> line;
      for (std::size_t i = 0; i < columns.size(); ++i) {
        line.push_back(cell_text(value_at(row, columns[i].key)));
        widths[i] = std::max(widths[i], width_of(line.back()));
      }
      cells.push_back(std::move(line));
    }
  }
  const auto render = [&](const std::vector<std::string>& line) {
    std::string out;
    for (std::size_t i = 0; i < line.size(); ++i) {
      out += line[i];
      if (i + 1 < line.size()) out += std::string(widths[i] - width_of(line[i]) + 2, ' ');
    }
    return out + "\n";
  };
  std::vector<std::string> header;
  for (const auto& c : columns) header.push_back(c.title);
  std::string out = render(header);
  for (const auto& line : cells) out += render(line);
  return out;
}

std::string format_fields(const nlohmann::json& object, const std::vector<Column>& fields) {
  std::size_t width = 0;
  for (const auto& f : fields) width = std::max(width, width_of(f.title));
  std::string out;
  for (const auto& f : fields) {
    out += f.title + ":" + std::string(width - width_of(f.title) + 1, ' ') + cell_text(value_at(object, f.key)) + "\n";
  }
  return out;
}

std::string error_text(const nlohmann::json& body) {
  const auto err = body.is_object() && body.contains("error") ? body["error"] : nlohmann::json();
  if (!err.is_object()) return "unexpected answer from the server";
  std::string text = err.value("message", std::string("the server refused the request"));
  if (err.contains("field") && err["field"].is_string() && !err["field"].get<std::string>().empty()) {
    text += " (field: " + err["field"].get<std::string>() + ")";
  }
  return text;
}

}  // namespace kiln::cli
