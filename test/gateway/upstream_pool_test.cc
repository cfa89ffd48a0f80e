#include "gateway/upstream_pool.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

namespace gantry::gateway {
namespace {

// A connected pair of unix stream sockets: the pool's end, and the replica's raw fd.
struct Pair {
  UpstreamSocket ours;
  int theirs = -1;
};

Pair MakePair(boost::asio::io_context& io) {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  Pair p{UpstreamSocket(io), fds[1]};
  p.ours.assign(boost::asio::generic::stream_protocol(AF_UNIX, 0), fds[0]);
  return p;
}

TEST_CASE("gateway: idle replica connections are reused until their replica closes them",
          "[gateway][upstream]") {
  boost::asio::io_context io;
  UpstreamPool pool(2);
  CHECK_FALSE(pool.Take("/run/a.sock").has_value());

  Pair a = MakePair(io);
  CHECK(LooksReusable(a.ours));
  pool.Put("/run/a.sock", std::move(a.ours));
  CHECK(pool.IdleCount("/run/a.sock") == 1);
  auto taken = pool.Take("/run/a.sock");
  REQUIRE(taken.has_value());
  CHECK(pool.IdleCount("/run/a.sock") == 0);

  // Closed by the replica: dropped when taken.
  pool.Put("/run/a.sock", std::move(*taken));
  ::close(a.theirs);
  CHECK_FALSE(pool.Take("/run/a.sock").has_value());
  CHECK(pool.IdleCount("/run/a.sock") == 0);

  // Unread bytes from the replica: not fit for the next request either.
  Pair b = MakePair(io);
  REQUIRE(::write(b.theirs, "x", 1) == 1);
  CHECK_FALSE(LooksReusable(b.ours));
  ::close(b.theirs);

  // Bounded per key.
  Pair c1 = MakePair(io), c2 = MakePair(io), c3 = MakePair(io);
  pool.Put("k", std::move(c1.ours));
  pool.Put("k", std::move(c2.ours));
  pool.Put("k", std::move(c3.ours));
  CHECK(pool.IdleCount("k") == 2);

  // Prune drops what replicas closed, and keys left empty.
  Pair d = MakePair(io);
  pool.Put("gone", std::move(d.ours));
  ::close(d.theirs);
  ::close(c1.theirs);
  pool.Prune();
  CHECK(pool.IdleCount("gone") == 0);
  CHECK(pool.IdleCount("k") == 1);  // c2 is still open; c3 was closed by the bound
  ::close(c2.theirs);
  ::close(c3.theirs);
  pool.Clear();
  CHECK(pool.IdleCount("k") == 0);
}

}  // namespace
}  // namespace gantry::gateway
