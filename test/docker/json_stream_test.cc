#include "docker/json_stream.h"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "docker/build_progress.h"

namespace gantry::docker {
namespace {

using nlohmann::json;

TEST_CASE("JSON messages split anywhere come out whole", "[docker][json]") {
  std::string bytes = "{\"a\":1}\r\n{\"b\":\"x\\ny\"}\r\n\r\n{\"c\":[1,2]}";
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    std::vector<json> got;
    JsonStreamDecoder d([&](const json& m) {
      got.push_back(m);
      return true;
    });
    REQUIRE(d.Feed(std::string_view(bytes).substr(0, cut)).ok());
    REQUIRE(d.Feed(std::string_view(bytes).substr(cut)).ok());
    REQUIRE(d.Finish().ok());
    REQUIRE(got.size() == 3);
    CHECK(got[0]["a"] == 1);
    CHECK(got[1]["b"] == "x\ny");
    CHECK(got[2]["c"][1] == 2);
  }
}

TEST_CASE("a message that is not JSON is an error", "[docker][json]") {
  JsonStreamDecoder d([](const json&) { return true; });
  auto r = d.Feed("{\"ok\":true}\nnot json\n");
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.error().message(), Catch::Contains("not JSON") && Catch::Contains("not json"));
}

TEST_CASE("a message over the size limit is refused", "[docker][json]") {
  JsonStreamDecoder d([](const json&) { return true; }, 16);
  auto r = d.Feed(std::string(40, 'x'));
  REQUIRE_FALSE(r.ok());
}

// What POST /build sends for a Dockerfile whose second step fails.
constexpr const char* kFailedBuild =
    "{\"stream\":\"Step 1/3 : FROM gantry/base:bookworm\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e 1a2b3c4d\\n\"}\r\n"
    "{\"stream\":\"Step 2/3 : RUN echo building \\u0026\\u0026 exit 3\"}\r\n"
    "{\"stream\":\"\\n\"}\r\n"
    "{\"stream\":\" ---\\u003e Running in 5e6f\\n\"}\r\n"
    "{\"stream\":\"building\\n\"}\r\n"
    "{\"errorDetail\":{\"code\":3,\"message\":\"The command '/bin/sh -c echo building "
    "\\u0026\\u0026 exit 3' "
    "returned a non-zero code: 3\"},\"error\":\"The command '/bin/sh -c echo building "
    "\\u0026\\u0026 exit 3' "
    "returned a non-zero code: 3\"}\r\n";

TEST_CASE("a build error in the middle of the stream names the step and its output",
          "[docker][build]") {
  std::vector<std::string> lines;
  BuildProgress progress([&](std::string_view l) { lines.emplace_back(l); });
  JsonStreamDecoder d([&](const json& m) { return progress.OnMessage(m); });
  REQUIRE(d.Feed(kFailedBuild).ok());
  REQUIRE(d.Finish().ok());

  CHECK(progress.current_step() == "Step 2/3 : RUN echo building && exit 3");
  CHECK(std::find(lines.begin(), lines.end(), "building") != lines.end());
  auto outcome = progress.Outcome();
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error().code() == core::ErrorCode::kInvalidArgument);
  const std::string& msg = outcome.error().message();
  CHECK_THAT(msg,
             Catch::StartsWith("step 2/3 \"RUN echo building && exit 3\" failed: The command"));
  CHECK_THAT(msg, Catch::Contains("returned a non-zero code: 3"));
  CHECK_THAT(msg, Catch::EndsWith("last lines):\n  building"));
  // Output of earlier steps is not part of the failing step's tail.
  CHECK_THAT(msg, !Catch::Contains("1a2b3c4d"));
}

TEST_CASE("a successful build yields the image id", "[docker][build]") {
  BuildProgress progress(nullptr);
  progress.OnMessage(json{{"stream", "Step 1/1 : FROM gantry/base:bookworm\n"}});
  progress.OnMessage(json{{"aux", {{"ID", "sha256:abc123"}}}});
  progress.OnMessage(json{{"stream", "Successfully built abc123\n"}});
  auto outcome = progress.Outcome();
  REQUIRE(outcome.ok());
  CHECK(*outcome == "sha256:abc123");
}

TEST_CASE("a build stream with neither id nor error is an internal error", "[docker][build]") {
  BuildProgress progress(nullptr);
  progress.OnMessage(json{{"stream", "Step 1/1 : FROM x\n"}});
  auto outcome = progress.Outcome();
  REQUIRE_FALSE(outcome.ok());
  CHECK(outcome.error().code() == core::ErrorCode::kInternal);
}

}  // namespace
}  // namespace gantry::docker
