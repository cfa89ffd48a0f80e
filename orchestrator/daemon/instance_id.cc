#include "daemon/instance_id.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace gantry::daemon {

bool IsInstanceId(const std::string& id) {
  return id.size() >= 8 && id.size() <= 32 && std::all_of(id.begin(), id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

core::Result<std::string> LoadOrCreateInstanceId(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) {
    std::ifstream in(path);
    std::string id;
    if (!in)
      return core::Error::Unavailable(fmt::format("cannot read the instance id file {}", path));
    std::getline(in, id);
    if (!IsInstanceId(id)) {
      return core::Error::Internal(
          fmt::format("{} does not hold an instance id (8 to 32 lower-case hex digits); restore it "
                      "or remove the state directory",
                      path));
    }
    return id;
  }
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  unsigned char bytes[8];
  int rnd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (rnd < 0 || ::read(rnd, bytes, sizeof bytes) != static_cast<ssize_t>(sizeof bytes)) {
    if (rnd >= 0) ::close(rnd);
    return core::Error::Unavailable("cannot read /dev/urandom for the instance id");
  }
  ::close(rnd);
  std::string id;
  for (unsigned char b : bytes) id += fmt::format("{:02x}", b);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    return core::Error::Unavailable(
        fmt::format("cannot create the instance id file {}: {}", path, std::strerror(errno)));
  }
  std::string line = id + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok)
    return core::Error::Unavailable(fmt::format("cannot write the instance id file {}", path));
  return id;
}

}  // namespace gantry::daemon
