#pragma once
// Text output: aligned tables and "key: value" blocks from the API's JSON. Pure; no I/O.
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace kiln::cli {

struct Column {
  std::string title;  // "STATUS"
  std::string key;    // a key of each row, or a path "a.b"
};

// A JSON value as a cell: strings as they are, null as "-", numbers and booleans as JSON,
// arrays of scalars joined with ',', objects as compact JSON. Line breaks become spaces.
std::string cell_text(const nlohmann::json& value);

// The value at a dotted path ("target.provider"), or null.
nlohmann::json value_at(const nlohmann::json& object, const std::string& path);

// Rows under a header line, columns padded to their widest cell and separated by two
// spaces; the last column is not padded. No rows: the header alone.
std::string format_table(const std::vector<Column>& columns, const nlohmann::json& rows);

// "key: value" lines for the given keys, the keys padded to the same width.
std::string format_fields(const nlohmann::json& object, const std::vector<Column>& fields);

// The text of an API error body {"error":{code,message,field}}: "message (field: f)".
std::string error_text(const nlohmann::json& body);

}  // namespace kiln::cli
