#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace gantry::gateway {

// What the gateway knows about one invoke call once its answer is sent (or the call ended
// without one): handed to GatewayOptions::on_call. Plain data.
struct CallRecord {
  std::string call_id;
  std::string ns;
  std::string name;
  int64_t generation = 0;    // of the replica that ran it; 0 when none did
  std::string replica;       // its container id; empty when none was found
  int64_t memory_bytes = 0;  // the function's memory limit (usage is billed on it)
  std::string trigger = "http";
  bool cold = false;
  std::string start = "warm";               // warm, container, stem-cell, unpaused (Target::start)
  std::chrono::microseconds queue_wait{0};  // resolving a replica (waiting for a slot, a start)
  std::chrono::microseconds run_time{0};    // from the replica found to the call's end
  int status = 0;                           // answered; 499 the caller went away
  int64_t request_bytes = 0;                // body bytes relayed to the replica
  int64_t response_bytes = 0;               // body bytes relayed back
  std::string error;                        // what failed, when the function did not answer
  std::chrono::system_clock::time_point started;
};

// Receives each call's record, on the gateway's io thread that ran it: must not block.
using CallRecordFn = std::function<void(CallRecord&&)>;

}  // namespace gantry::gateway
