// An apply's progress as NDJSON (ApplyProgressStream): build lines in, step/output lines
// and one final result or error line out, drained the way the gateway drains a BodyStream;
// and the streamed apply route over the controller harness.
#include "daemon/apply_stream.h"

#include <catch2/catch.hpp>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "builder/bundle.h"
#include "daemon/controller_harness.h"
#include "daemon/resource_functions.h"

namespace gantry::daemon {
namespace {

using nlohmann::json;

// Drains a stream as the gateway does: Next() again after each chunk, until done; waits
// (without a clock: on a condition) for chunks that come from another thread.
struct Drain {
  std::mutex mu;
  std::condition_variable cv;
  std::string body;
  bool done = false;
  int chunks = 0;

  void From(gateway::BodyStream& s) {
    s.Next([this, &s](std::string chunk, bool last) {
      {
        std::lock_guard lock(mu);
        body += chunk;
        ++chunks;
        done = last;
      }
      cv.notify_all();
      if (!last) From(s);
    });
  }
  std::string Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [this] { return done; });
    return body;
  }
};

std::vector<json> Lines(const std::string& ndjson) {
  std::vector<json> out;
  std::istringstream in(ndjson);
  for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
  return out;
}

TEST_CASE("apply stream: build lines become step and output lines, then the result",
          "[daemon][apply-stream]") {
  ApplyProgressStream s;
  Drain d;
  d.From(s);  // waits: nothing yet
  CHECK(d.chunks == 0);
  s.Line("Step 1/2 : FROM gantry/python3:bookworm");
  CHECK(d.chunks == 1);  // a waiting Next() gets the line at once
  s.Line(" ---> 1a2b3c");
  s.Line("");
  s.Line("Step 2/2 : RUN pip install -r requirements.txt");
  s.Line("Collecting requests");
  s.Finish(json{{"result", "created"}, {"generation", 1}});
  auto lines = Lines(d.Wait());
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == json{{"type", "step"}, {"text", "Step 1/2 : FROM gantry/python3:bookworm"}});
  CHECK(lines[1] == json{{"type", "output"}, {"text", " ---> 1a2b3c"}});
  CHECK(lines[2]["type"] == "step");
  CHECK(lines[3] == json{{"type", "output"}, {"text", "Collecting requests"}});
  CHECK(lines[4] == json{{"type", "result"}, {"result", "created"}, {"generation", 1}});
}

TEST_CASE("apply stream: a failed apply ends with an error line and its HTTP status",
          "[daemon][apply-stream]") {
  ApplyProgressStream s;
  s.Line("Step 1/1 : RUN exit 3");
  s.Finish(core::Error::InvalidArgument("step 1/1 \"RUN exit 3\" failed"));
  s.Line("late");  // after the end: ignored
  Drain d;
  d.From(s);
  auto lines = Lines(d.Wait());
  REQUIRE(lines.size() == 2);
  CHECK(lines[1] ==
        json{{"type", "error"}, {"status", 400}, {"error", "step 1/1 \"RUN exit 3\" failed"}});
  CHECK(d.chunks == 1);
}

TEST_CASE("apply stream: a slow reader loses output lines, never steps or the end",
          "[daemon][apply-stream]") {
  ApplyProgressStream s(200);
  for (int i = 0; i < 100; ++i) s.Line("output line " + std::to_string(i));
  s.Line("Step 2/2 : RUN true");
  s.Finish(json{{"result", "configured"}});
  CHECK(s.dropped() > 90);
  Drain d;
  d.From(s);
  auto lines = Lines(d.Wait());
  REQUIRE(lines.size() >= 3);
  CHECK_THAT(lines[0]["text"].get<std::string>(), Catch::Contains("lines of build output dropped"));
  CHECK(lines[lines.size() - 2]["type"] == "step");
  CHECK(lines.back()["type"] == "result");
}

TEST_CASE("apply stream: after Cancel nothing is delivered and the producer goes on",
          "[daemon][apply-stream]") {
  ApplyProgressStream s;
  int delivered = 0;
  s.Next([&](std::string, bool) { ++delivered; });
  s.Cancel();
  s.Line("Step 1/1 : FROM x");
  s.Finish(json{{"result", "created"}});
  s.Next([&](std::string, bool) { ++delivered; });
  CHECK(delivered == 0);
}

TEST_CASE("apply stream: the apply route streams when asked, and answers as before when not",
          "[daemon][apply-stream]") {
  testing::Harness h;
  auto bundle = builder::MakeBundle(testing::WebSpec(0, 2));
  REQUIRE(bundle.ok());
  gateway::ApiRequest r{.headers = {{"accept", "application/x-ndjson"}},
                        .body = *bundle,
                        .params = {{"ns", "team"}, {"name", "web"}}};
  {
    BackgroundWork background;
    auto answer = resource::ApplyFunction(*h.controller, {}, r, &background);
    REQUIRE(answer.ok());
    CHECK(answer->status == 200);
    CHECK(answer->content_type == "application/x-ndjson");
    REQUIRE(answer->stream != nullptr);
    Drain d;
    d.From(*answer->stream);
    auto lines = Lines(d.Wait());
    REQUIRE_FALSE(lines.empty());
    CHECK(lines.back()["type"] == "result");
    CHECK(lines.back()["result"] == "created");
    CHECK(lines.back()["name"] == "web");

    // A secret the function names does not exist: the error is the stream's last line.
    auto bad = builder::MakeBundle(testing::WebSpec(0, 2, "  secrets: [missing]\n"));
    REQUIRE(bad.ok());
    r.body = *bad;
    r.headers.clear();
    r.query = {{"progress", "1"}};
    auto failed = resource::ApplyFunction(*h.controller, {}, r, &background);
    REQUIRE(failed.ok());
    REQUIRE(failed->stream != nullptr);
    Drain e;
    e.From(*failed->stream);
    auto error = Lines(e.Wait()).back();
    CHECK(error["type"] == "error");
    CHECK(error["status"] == 400);
    CHECK_THAT(error["error"].get<std::string>(), Catch::Contains("missing"));
  }
  // Without the header or the parameter: one JSON answer, as before.
  r.query.clear();
  r.body = *bundle;
  BackgroundWork background;
  auto plain = resource::ApplyFunction(*h.controller, {}, r, &background);
  REQUIRE(plain.ok());
  CHECK(plain->stream == nullptr);
  // (Applied again, not "unchanged": the failed apply marked the function failed.)
  CHECK(json::parse(plain->body)["result"] == "configured");
}

}  // namespace
}  // namespace gantry::daemon
