#include "cli/read_stdin.h"

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

namespace gantry::cli {

core::Result<std::string> ReadStdin() {
  std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  if (std::cin.bad()) return core::Error::Unavailable("cannot read standard input");
  return text;
}

core::Result<std::string> ReadDataFlag(const std::string& verb, const std::string& data,
                                       bool data_set) {
  if (data_set && !data.empty() && data[0] == '@') {
    std::ifstream in(data.substr(1), std::ios::binary);
    if (!in) {
      return core::Error::Unavailable(
          fmt::format("gantry {}: cannot read {}", verb, data.substr(1)));
    }
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  if (data_set) return data;
  if (::isatty(STDIN_FILENO)) return std::string();
  return ReadStdin();
}

}  // namespace gantry::cli
