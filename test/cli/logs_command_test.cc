// gantry logs: the Gantry logs route, rendering (--prefix, --timestamps, stderr), and -f
// reading a streamed answer as it arrives, lines split across chunks.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "cli/cli_test_support.h"

namespace gantry::cli {
namespace {

using nlohmann::json;
using testing::FakeGantryd;
using testing::RunGantry;

std::string Line(const std::string& text, const std::string& stream = "stdout",
                 const std::string& replica = "0123456789ab") {
  return json{{"time", "2026-12-01T10:00:00.123456789Z"},
              {"stream", stream},
              {"text", text},
              {"replica", replica},
              {"generation", 1}}
             .dump() +
         "\n";
}

TEST_CASE("cli logs: prints the route's lines (stderr ones too), --prefix and --timestamps",
          "[cli][logs]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request&) {
    return http::Response{
        .status = 200,
        .body =
            Line("hello") + Line("Traceback (most recent call last):", "stderr", "ba9876543210")};
  };
  auto plain = RunGantry(fake, {"logs", "fn", "--tail", "3"});
  CHECK(plain.exit_code == 0);
  CHECK(plain.out == "hello\nTraceback (most recent call last):\n");
  CHECK(plain.err.empty());
  CHECK(fake.Target(0) == "/apis/gantry/v1/namespaces/default/functions/fn/logs?tail=3");

  auto prefixed = RunGantry(fake, {"logs", "fn", "--prefix", "--timestamps"});
  CHECK(prefixed.out ==
        "[replica/0123456789ab] 2026-12-01T10:00:00.123456789Z hello\n"
        "[replica/ba9876543210] 2026-12-01T10:00:00.123456789Z Traceback (most recent call "
        "last):\n");

  auto raw = RunGantry(fake, {"logs", "fn", "-o", "json"});
  CHECK(raw.out ==
        Line("hello") + Line("Traceback (most recent call last):", "stderr", "ba9876543210"));
}

TEST_CASE("cli logs -f: reads the streamed answer as it arrives, no polling", "[cli][logs]") {
  FakeGantryd fake;
  std::string body;
  for (int i = 0; i < 20; ++i) body += Line("line " + std::to_string(i));
  fake.handler = [&body](const http::Request&) {
    return http::Response{.status = 200, .body = body};
  };
  fake.chunk_bytes = 5;  // every line arrives in pieces
  auto run = RunGantry(
      fake, {"logs", "fn", "-n", "team", "-f", "--prefix", "--since", "2026-12-01T09:00:00Z"});
  CHECK(run.exit_code == 0);
  REQUIRE(fake.requests.size() == 1);  // one request, read as a stream
  CHECK(fake.Target(0) ==
        "/apis/gantry/v1/namespaces/team/functions/fn/logs?since=2026-12-01T09:00:00Z&follow=true");
  CHECK(fake.chunks_delivered > 20);
  std::string want;
  for (int i = 0; i < 20; ++i) want += "[replica/0123456789ab] line " + std::to_string(i) + "\n";
  CHECK(run.out == want);
}

TEST_CASE("cli logs -f: an error answer is the error, exit 1", "[cli][logs]") {
  FakeGantryd fake;
  fake.handler = [](const http::Request&) {
    return http::Response{.status = 404, .body = R"({"error": "function team/fn not found"})"};
  };
  auto run = RunGantry(fake, {"logs", "fn", "-n", "team", "-f"});
  CHECK(run.exit_code == 1);
  CHECK(run.err == "gantry logs: function team/fn not found\n");
}

}  // namespace
}  // namespace gantry::cli
