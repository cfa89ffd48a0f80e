#include "admission.h"

#include <catch2/catch.hpp>

namespace gantry::shim {
namespace {

TEST_CASE("Admission enforces the in-flight limit", "[shim][admission]") {
  Admission admission(2);
  CHECK(admission.TryEnter() == Admission::Verdict::kAdmitted);
  CHECK(admission.TryEnter() == Admission::Verdict::kAdmitted);
  CHECK(admission.TryEnter() == Admission::Verdict::kBusy);
  admission.Leave();
  CHECK(admission.TryEnter() == Admission::Verdict::kAdmitted);
  CHECK(admission.inflight() == 2);
}

TEST_CASE("Draining refuses new calls and completes when the last one leaves",
          "[shim][admission]") {
  Admission admission(4);
  CHECK(admission.TryEnter() == Admission::Verdict::kAdmitted);
  admission.StartDrain();
  CHECK(admission.TryEnter() == Admission::Verdict::kDraining);
  CHECK_FALSE(admission.Drained());
  admission.Leave();
  CHECK(admission.Drained());
  admission.Leave();  // extra leaves don't underflow
  CHECK(admission.inflight() == 0);
}

}  // namespace
}  // namespace gantry::shim
