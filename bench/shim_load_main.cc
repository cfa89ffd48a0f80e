// gantry-bench-shim-load: the shim benchmark's load generator as a static program, so it
// can also run inside a function container (to reach a function's server on the
// container's own loopback). Prints one FormatResult line.
//   gantry-bench-shim-load (--unix PATH | --tcp HOST:PORT) [-c N] [-n N] [-t SECONDS]
//                          [--path /p] [--method M] [--body TEXT]
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bench/shim_load.h"

int main(int argc, char** argv) {
  gantry::bench::LoadTarget target;
  gantry::bench::LoadOptions options;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    std::string value = argv[i + 1];
    if (flag == "--unix") {
      target.unix_path = value;
    } else if (flag == "--tcp") {
      auto colon = value.rfind(':');
      target.host = value.substr(0, colon);
      target.port = static_cast<unsigned short>(std::atoi(value.c_str() + colon + 1));
    } else if (flag == "-c") {
      options.concurrency = std::atoi(value.c_str());
    } else if (flag == "-n") {
      options.requests = std::atoll(value.c_str());
    } else if (flag == "-t") {
      options.max_time =
          std::chrono::milliseconds(static_cast<long long>(std::atof(value.c_str()) * 1000));
    } else if (flag == "--path") {
      options.target = value;
    } else if (flag == "--method") {
      options.method = value;
    } else if (flag == "--body") {
      options.body = value;
    } else {
      std::fprintf(stderr, "gantry-bench-shim-load: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  auto result = gantry::bench::RunLoad(target, options);
  std::printf("%s\n", gantry::bench::FormatResult(result).c_str());
  if (!result.first_error.empty())
    std::fprintf(stderr, "first error: %s\n", result.first_error.c_str());
  return result.ok > 0 ? 0 : 1;
}
