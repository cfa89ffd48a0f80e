#include "pool/replica.h"

namespace gantry::pool {

std::string_view ReplicaStateName(ReplicaState state) {
  switch (state) {
    case ReplicaState::kStarting:
      return "starting";
    case ReplicaState::kReady:
      return "ready";
    case ReplicaState::kDraining:
      return "draining";
    case ReplicaState::kDead:
      return "dead";
  }
  return "?";
}

}  // namespace gantry::pool
