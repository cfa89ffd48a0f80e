#pragma once

#include <chrono>
#include <thread>

namespace gantry::testing {

// True once `done()` is, asking every `every` for at most `limit` (real time: for tests
// against the real engine, which have no clock to inject).
template <typename Pred>
bool Eventually(Pred done, std::chrono::milliseconds limit = std::chrono::seconds(30),
                std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
  for (auto until = std::chrono::steady_clock::now() + limit;
       std::chrono::steady_clock::now() < until;) {
    if (done()) return true;
    std::this_thread::sleep_for(every);
  }
  return done();
}

}  // namespace gantry::testing
