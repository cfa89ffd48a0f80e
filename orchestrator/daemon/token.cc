#include "daemon/token.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace gantry::daemon {

core::Result<std::string> LoadOrCreateToken(const std::string& path) {
  {
    std::ifstream in(path);
    std::string token;
    if (in && std::getline(in, token) && !token.empty()) return token;
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  unsigned char bytes[32];
  int rnd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (rnd < 0 || ::read(rnd, bytes, sizeof bytes) != static_cast<ssize_t>(sizeof bytes)) {
    if (rnd >= 0) ::close(rnd);
    return core::Error::Unavailable("cannot read /dev/urandom for the API token");
  }
  ::close(rnd);
  std::string token;
  for (unsigned char b : bytes) token += fmt::format("{:02x}", b);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Error::Unavailable(
        fmt::format("cannot create the token file {}: {}", path, std::strerror(errno)));
  }
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return core::Error::Unavailable(fmt::format("cannot write the token file {}", path));
  return token;
}

}  // namespace gantry::daemon
