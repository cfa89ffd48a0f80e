#pragma once

#include <chrono>
#include <optional>
#include <vector>

// How many replicas to start for calls that wait for a slot, as a pure function of what is
// running and what is known about the function's starts and calls: no clock, no I/O.
namespace gantry::autoscaler {

using Micros = std::chrono::microseconds;

// A start costs about this much before anything was measured (the engine's floor: create,
// start, shim ready).
inline constexpr Micros kDefaultStartLatency{300'000};

// A function's waiting calls and the replicas that can take them, at one instant.
struct StartDemand {
  int waiting = 0;      // calls queued for a slot
  int concurrency = 1;  // slots of a replica started now
  int free_slots = 0;   // free slots of ready replicas
  // The age of the call in each busy slot of a ready replica.
  std::vector<Micros> running;
  // For each replica still starting (of the current generation): how long it has been.
  std::vector<Micros> starting;
  int room = 0;  // replicas that may still be started (scale.max minus those there are)
};

// What is known of the function: `start_latency` is an estimate (kDefaultStartLatency
// before the first start ended); `call_duration` is unset until a call has finished.
struct StartEstimates {
  Micros start_latency = kDefaultStartLatency;
  std::optional<Micros> call_duration;
};

struct StartPlan {
  int start = 0;  // replicas to start now
  // Plan again after this long even if nothing happens (a call, a start ending, a release):
  // set when the plan waits for the first call to show how long calls take.
  std::optional<Micros> replan_in;
};

// Starts replicas only for the calls that would still be waiting when a start begun now
// would be ready, S = start_latency from now: a call that the replicas already there
// take within S is served sooner by them than by a new one. Of those, it starts the fewest
// replicas that let every waiting call be taken within 2*S, so no call waits more than
// about two starts because a replica was not started. A slot takes a call every T (the
// estimated call duration; at least the age of the oldest call in flight); a busy slot
// whose call has already run past T is assumed to need as long again; a starting replica
// is ready at S from its start (likewise as long again once it is late).
//
// When T is unknown (no call finished, none in flight for S yet: the first burst of a
// function) it starts one replica if none is ready or starting, else none, and asks to be
// planned again once the oldest call in flight has run S (or when a start ends or a call
// finishes, which the caller triggers anyway).
//
// Never starts more than `room`, nor more than the replicas the waiting calls would fill
// (ceil((waiting - free and starting slots) / concurrency)); never leaves waiting calls
// with no replica ready or starting while there is room.
StartPlan PlanStarts(const StartDemand& demand, const StartEstimates& estimates);

}  // namespace gantry::autoscaler
