// gantry-shim: PID 1 of every template-built function container.
#include <cstdio>
#include <cstring>

namespace {

constexpr const char kUsage[] =
    "usage: gantry-shim [--version] [--help]\n"
    "\n"
    "The runtime inside every Gantry function container: serves the function over HTTP\n"
    "on a unix socket (modes exec, http, runtime-api). Not implemented yet (issue 4).\n";

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--version") == 0) {
      std::printf("gantry-shim %s\n", GANTRY_VERSION);
      return 0;
    }
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::fputs(kUsage, stdout);
      return 0;
    }
  }
  std::fputs(kUsage, stderr);
  return 2;
}
