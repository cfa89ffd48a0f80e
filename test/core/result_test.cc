#include "core/result.h"

#include <catch2/catch.hpp>

namespace gantry::core {
namespace {

Result<int> Half(int n) {
  if (n % 2 != 0) return Error::InvalidArgument("odd number " + std::to_string(n));
  return n / 2;
}

TEST_CASE("Result carries a value or an error", "[core]") {
  auto ok = Half(8);
  REQUIRE(ok.ok());
  CHECK(*ok == 4);

  auto bad = Half(3);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error().code() == ErrorCode::kInvalidArgument);
  CHECK(bad.error().message() == "odd number 3");
}

TEST_CASE("Error context is prefixed and the code kept", "[core]") {
  Error e = Error::NotFound("no such container: abc").WithContext("GET /containers/abc/json");
  CHECK(e.code() == ErrorCode::kNotFound);
  CHECK(e.message() == "GET /containers/abc/json: no such container: abc");
  CHECK(e.ToString() == "not found: GET /containers/abc/json: no such container: abc");
}

TEST_CASE("Status is ok by default and holds an error otherwise", "[core]") {
  Status s = Ok();
  CHECK(s.ok());
  Status failed = Error::Timeout("took too long");
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error().code() == ErrorCode::kTimeout);
}

}  // namespace
}  // namespace gantry::core
