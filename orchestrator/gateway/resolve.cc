#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/log.h"
#include "core/unix_socket.h"
#include "gateway/server.h"

namespace gantry::gateway {
namespace {

// What a Resolve callback shares with the waiting coroutine: the result, and the timer
// that the coroutine waits on (touched only on the session's io loop).
struct ResolveSlot {
  std::mutex mu;
  std::optional<core::Result<Target>> result;  // guarded by mu
  bool in_resolve = true;  // guarded by mu; Resolve has not returned: no wake-up needed
  // The session's strand, while the coroutine lives (guarded by mu). Not captured by the
  // callback itself: the backend may keep that past the io_context, and an executor must
  // not outlive its io_context.
  std::optional<net::any_io_executor> executor;
  net::steady_timer* wake = nullptr;  // the io loop only

  // A result never taken (the coroutine's frame destroyed by Stop first) gives its replica
  // back.
  ~ResolveSlot() {
    if (result && result->ok() && (*result)->release) (*result)->release(false, "gateway stopped");
  }
};

}  // namespace

// Waits for the backend's answer without holding a thread: the callback wakes the
// coroutine through a timer on the session's io loop (or not at all, when it answered
// before Resolve returned). A callback after Stop releases its replica itself.
net::awaitable<core::Result<Target>> Gateway::Server::Resolve(const std::string& ns,
                                                              const std::string& name) {
  auto executor = co_await net::this_coro::executor;
  net::steady_timer wake(executor, net::steady_timer::time_point::max());
  auto slot = std::make_shared<ResolveSlot>();
  slot->wake = &wake;
  slot->executor = executor;
  struct Forget {  // also when the frame is destroyed by Stop
    ResolveSlot& slot;
    ~Forget() {
      std::lock_guard lock(slot.mu);
      slot.executor.reset();
    }
  } forget{*slot};
  backend_.Resolve(ns, name, [slot, life = life_](core::Result<Target> r) {
    {
      // The warm path: answered before Resolve returned, so the coroutine, running on its
      // io loop, will find the result without waiting, and no lock shared by all calls is
      // taken (the io loop can't have been torn down while it runs this).
      std::lock_guard lock(slot->mu);
      if (slot->in_resolve) {
        slot->result.emplace(std::move(r));
        return;
      }
    }
    // Later, on a pool thread: the io loop must outlive the post, so Stop waits for this.
    std::lock_guard life_lock(life->mu);
    if (life->stopped) {
      if (r.ok() && r->release) r->release(false, "gateway stopped");
      return;
    }
    std::lock_guard lock(slot->mu);
    slot->result.emplace(std::move(r));
    if (!slot->executor) return;
    net::post(*slot->executor, [slot] {
      if (slot->wake) slot->wake->cancel();
    });
  });
  {
    std::lock_guard lock(slot->mu);
    slot->in_resolve = false;
  }
  for (;;) {
    {
      std::lock_guard lock(slot->mu);
      if (slot->result) break;
    }
    error_code ec;
    co_await wake.async_wait(Await(ec));
  }
  slot->wake = nullptr;  // the posted cancel may still come, after `wake` is gone
  std::lock_guard lock(slot->mu);
  core::Result<Target> result = std::move(*slot->result);
  slot->result.reset();  // taken: ~ResolveSlot has nothing to give back
  co_return result;
}

net::awaitable<error_code> Gateway::Server::Connect(UpstreamSocket& socket, const Target& t) {
  error_code ec;
  if (!t.unix_socket.empty()) {
    // A replica's socket directory is written by the function: connect only to the socket
    // found there (pinned, no symlink followed), never to what a symlink points at.
    auto pinned = core::PinnedSocket::Open(t.unix_socket);
    if (!pinned) {
      if (pinned.error().code() == core::ErrorCode::kNotFound) {
        co_return net::error::make_error_code(net::error::not_found);
      }
      core::Log(core::LogLevel::kWarn, "gateway: {}", pinned.error().message());
      co_return net::error::make_error_code(net::error::access_denied);
    }
    net::local::stream_protocol::endpoint local(pinned->connect_path());
    co_await socket.async_connect(UpstreamSocket::endpoint_type(local), Await(ec));
    co_return ec;
  }
  auto address = net::ip::make_address(t.host, ec);
  if (ec) co_return ec;
  if (t.port <= 0 || t.port > 65535)
    co_return net::error::make_error_code(net::error::invalid_argument);
  tcp::endpoint endpoint(address, static_cast<unsigned short>(t.port));
  co_await socket.async_connect(UpstreamSocket::endpoint_type(endpoint), Await(ec));
  if (!ec) socket.set_option(tcp::no_delay(true), ec);
  co_return ec;
}

}  // namespace gantry::gateway
