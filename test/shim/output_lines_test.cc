#include "output_lines.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

namespace gantry::shim {
namespace {

TEST_CASE("LineSplitter joins chunks into lines", "[shim][lines]") {
  std::vector<std::string> lines;
  LineSplitter splitter(100, [&](std::string_view line) { lines.emplace_back(line); });
  splitter.Feed("hel");
  splitter.Feed("lo\nwor");
  CHECK(lines == std::vector<std::string>{"hello"});
  splitter.Feed("ld\r\n\nlast");
  CHECK(lines == std::vector<std::string>{"hello", "world", ""});
  splitter.Flush();
  CHECK(lines == std::vector<std::string>{"hello", "world", "", "last"});
  splitter.Flush();
  CHECK(lines.size() == 4);
}

TEST_CASE("LineSplitter cuts endless lines at the limit", "[shim][lines]") {
  std::vector<std::string> lines;
  LineSplitter splitter(4, [&](std::string_view line) { lines.emplace_back(line); });
  splitter.Feed("abcdefghij");
  CHECK(lines == std::vector<std::string>{"abcd", "efgh"});
  splitter.Feed("\n");
  CHECK(lines == std::vector<std::string>{"abcd", "efgh", "ij"});
  lines.clear();
  // A line exactly at the limit is one line, not a line and an empty one.
  splitter.Feed("wxyz\nnext\n");
  CHECK(lines == std::vector<std::string>{"wxyz", "next"});
}

TEST_CASE("TailBuffer keeps the last bytes", "[shim][lines]") {
  TailBuffer tail(8);
  tail.Append("abc");
  CHECK(tail.Text() == "abc");
  tail.Append("defgh");
  CHECK(tail.Text() == "abcdefgh");
  tail.Append("ij");
  CHECK(tail.Text() == "...cdefghij");
  TailBuffer big(4);
  big.Append("0123456789");
  CHECK(big.Text() == "...6789");
  TailBuffer exact(4);
  exact.Append("0123");
  CHECK(exact.Text() == "0123");
}

}  // namespace
}  // namespace gantry::shim
