#include "admission.h"

namespace gantry::shim {

Admission::Verdict Admission::TryEnter() {
  if (draining_) return Verdict::kDraining;
  if (inflight_ >= max_inflight_) return Verdict::kBusy;
  ++inflight_;
  return Verdict::kAdmitted;
}

void Admission::Leave() {
  if (inflight_ > 0) --inflight_;
}

}  // namespace gantry::shim
