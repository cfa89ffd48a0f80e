#pragma once

#include <cstddef>

namespace gantry::shim {

// Counts calls in flight against a limit and knows whether the shim is draining.
// TryEnter says whether a new call may start; every admitted call must Leave once.
// Not thread-safe (the shim's io thread owns it).
class Admission {
 public:
  enum class Verdict { kAdmitted, kBusy, kDraining };

  explicit Admission(std::size_t max_inflight) : max_inflight_(max_inflight) {}

  Verdict TryEnter();
  void Leave();
  void StartDrain() { draining_ = true; }
  // A new limit for calls admitted from now on (a stem cell's, once specialised).
  void set_limit(std::size_t max_inflight) { max_inflight_ = max_inflight; }

  bool draining() const { return draining_; }
  std::size_t inflight() const { return inflight_; }
  // Draining and nothing left in flight: the shim may stop the function and exit.
  bool Drained() const { return draining_ && inflight_ == 0; }

 private:
  std::size_t max_inflight_;
  std::size_t inflight_ = 0;
  bool draining_ = false;
};

}  // namespace gantry::shim
