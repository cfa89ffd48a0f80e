#pragma once

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

// How the verbs print: -o json|yaml and tables.
namespace gantry::cli {

// JSON as block-style YAML (yaml-cpp's emitter: strings quoted where YAML would read them
// as something else), ending in a newline. Reads back, with yaml-cpp, to the same values.
std::string ToYaml(const nlohmann::json& j);

// `j` as -o `format` asks: "json" (indented by 2, then a newline) or "yaml" (ToYaml).
// Returns false, printing nothing, for any other format.
bool PrintStructured(std::FILE* out, const nlohmann::json& j, std::string_view format);

// An AGE column's value, as kubectl writes one: "45s", "3m20s", "42m", "5h10m", "20h",
// "3d4h", "9d", "2y60d"; "<unknown>" for an `iso_time` that is no RFC 3339 time, "0s" for one
// in the future (a clock ahead of ours).
std::string HumanAge(std::chrono::seconds age);
std::string AgeSince(std::string_view iso_time, std::chrono::system_clock::time_point now);

// A text table of fixed-width columns: every cell left-aligned and padded to its column's
// width (a longer one pushes the rest along), one space between columns; a column of width
// 0 is not padded (the last one, usually). Plain value type.
class Table {
 public:
  struct Column {
    std::string header;
    int width = 0;
  };
  explicit Table(std::vector<Column> columns, std::string indent = "")
      : columns_(std::move(columns)), indent_(std::move(indent)) {}

  // The header line and one row (cells in column order; missing cells are empty), each
  // ending in a newline.
  std::string Header() const;
  std::string Row(const std::vector<std::string>& cells) const;

 private:
  std::vector<Column> columns_;
  std::string indent_;
};

}  // namespace gantry::cli

namespace gantry::cli {

// An age as kubectl prints it (its short form): "45s", "3m", "2h", "4d", "2y", in whole
// units, rounded down; "0s" for a negative one (clock skew).
std::string FormatAge(std::chrono::system_clock::duration age);
// The age at `now` of an ISO-8601 time an answer carried ("2026-01-02T15:04:05Z"); "" when
// `iso` is empty or not a time.
std::string AgeOf(const std::string& iso, std::chrono::system_clock::time_point now);

}  // namespace gantry::cli
