// tiny-http: the smallest HTTP responder, for measuring the engine floor (create -> start ->
// first answer) without any runtime's start-up cost. Answers every request with 200 "ok"
// and closes the connection. Usage: tiny-http [port | /path/of/unix.sock] (default 8080);
// a path listens on a unix socket there, the way gantry-shim does in a replica.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

int ListenUnix(const char* path) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(path) >= sizeof addr.sun_path) return -1;
  std::strcpy(addr.sun_path, path);
  unlink(path);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 64) != 0)
    return -1;
  return fd;
}

int ListenTcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 64) != 0)
    return -1;
  return fd;
}

int main(int argc, char** argv) {
  int fd = argc > 1 && argv[1][0] == '/' ? ListenUnix(argv[1])
                                         : ListenTcp(argc > 1 ? std::atoi(argv[1]) : 8080);
  if (fd < 0) return 1;
  static constexpr char kAnswer[] =
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  char buf[4096];
  for (;;) {
    int c = accept(fd, nullptr, nullptr);
    if (c < 0) continue;
    ssize_t n = read(c, buf, sizeof buf);
    if (n > 0) (void)!write(c, kAnswer, sizeof kAnswer - 1);
    close(c);
  }
}
