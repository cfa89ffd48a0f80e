#include "cli/read_stdin.h"

#include <iostream>
#include <iterator>

namespace gantry::cli {

core::Result<std::string> ReadStdin() {
  std::string text{std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
  if (std::cin.bad()) return core::Error::Unavailable("cannot read standard input");
  return text;
}

}  // namespace gantry::cli
