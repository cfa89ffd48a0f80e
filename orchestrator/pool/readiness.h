#pragma once

#include <chrono>
#include <functional>

#include "core/result.h"
#include "pool/pool.h"

namespace gantry::pool {

// Decides when a freshly started replica can take calls. An interface so unit tests run
// without sockets. Implementations are thread-safe.
class ReadinessProbe {
 public:
  virtual ~ReadinessProbe() = default;

  // Waits until the replica at `endpoint` is ready: for a shim (unix socket), GET /_/ready
  // answers 200; for an image serving HTTP itself, any HTTP answer on its port. Returns ok
  // once ready; kTimeout after `limit`; kCancelled as soon as `give_up()` returns true (the
  // container died, the pool stops).
  virtual core::Status WaitReady(const Endpoint& endpoint, std::chrono::milliseconds limit,
                                 const std::function<bool()>& give_up) = 0;
};

// The real probe: a fresh connection and one HTTP/1.0 request (Boost.Beast) every 20 ms,
// each bounded by what is left of `limit`. Thread-safe.
class HttpReadinessProbe final : public ReadinessProbe {
 public:
  core::Status WaitReady(const Endpoint& endpoint, std::chrono::milliseconds limit,
                         const std::function<bool()>& give_up) override;
};

// One probe: the HTTP status the endpoint answers to GET `target`, or 0 when it does not
// answer within `limit` (refused, reset, no socket yet, garbage, a head over 16 KiB). A unix
// socket is connected to only when it is one, never through a symlink (core::PinnedSocket).
// Reads the answer's head only. Never throws.
int ProbeOnce(const Endpoint& endpoint, const char* target, std::chrono::milliseconds limit);

}  // namespace gantry::pool
