// gantry apply's build progress: the --progress modes, the NDJSON stream rendered plain and
// as a terminal view (a fake terminal: the mode is given), and the verb against a fake
// gantryd that streams its answer.
#include "cli/apply_progress.h"

#include <stdio.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <string>

#include "cli/cli_test_support.h"

namespace gantry::cli {
namespace {

using testing::FakeGantryd;
using testing::RunGantry;
using testing::TempDir;

class Memory {
 public:
  Memory() : file_(open_memstream(&data_, &size_)) {}
  ~Memory() {
    std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

constexpr const char* kBuild = R"({"type":"step","text":"Step 1/2 : FROM gantry/base:bookworm"})"
                               "\n"
                               R"({"type":"output","text":" ---> 1a2b3c"})"
                               "\n"
                               R"({"type":"step","text":"Step 2/2 : RUN make"})"
                               "\n"
                               R"({"type":"output","text":"compiling\tmain.c"})"
                               "\n"
                               R"({"type":"result","result":"created","generation":1})"
                               "\n";

TEST_CASE("cli apply progress: auto is a live view on a terminal, plain in CI, else quiet",
          "[cli][progress]") {
  CHECK(*ResolveProgressMode("auto", true, "") == ProgressMode::kTerminal);
  CHECK(*ResolveProgressMode("auto", false, "true") == ProgressMode::kPlain);
  CHECK(*ResolveProgressMode("auto", false, "") == ProgressMode::kQuiet);
  CHECK(*ResolveProgressMode("auto", false, "false") == ProgressMode::kQuiet);
  CHECK(*ResolveProgressMode("plain", true, "") == ProgressMode::kPlain);
  CHECK(*ResolveProgressMode("quiet", true, "true") == ProgressMode::kQuiet);
  CHECK(*ResolveProgressMode("tty", false, "") == ProgressMode::kTerminal);
  CHECK(ResolveProgressMode("fancy", true, "").error().code() == core::ErrorCode::kInvalidArgument);
}

TEST_CASE("cli apply progress: plain prints every line as it comes, prefixed, on err",
          "[cli][progress]") {
  Memory out, err;
  ApplyProgressView view(ProgressMode::kPlain, "hello", out.file(), err.file());
  std::string build = kBuild;
  // Pieces that cut lines anywhere: a line is shown once whole.
  view.Feed(build.substr(0, 10));
  CHECK(err.text().empty());
  view.Feed(build.substr(10, 60));
  CHECK(err.text() == "function.gantry.dev/hello | Step 1/2 : FROM gantry/base:bookworm\n");
  view.Feed(build.substr(70));
  auto outcome = view.Finish();
  REQUIRE(outcome.ok());
  CHECK((*outcome)["result"] == "created");
  CHECK(err.text() ==
        "function.gantry.dev/hello | Step 1/2 : FROM gantry/base:bookworm\n"
        "function.gantry.dev/hello |  ---> 1a2b3c\n"
        "function.gantry.dev/hello | Step 2/2 : RUN make\n"
        "function.gantry.dev/hello | compiling\tmain.c\n");
  CHECK(out.text().empty());
}

TEST_CASE("cli apply progress: a terminal keeps the steps and rewrites the output line",
          "[cli][progress]") {
  Memory out, err;
  ApplyProgressView view(ProgressMode::kTerminal, "hello", out.file(), err.file(), 40);
  view.Feed(kBuild);
  REQUIRE(view.Finish().ok());
  CHECK(out.text() ==
        "function.gantry.dev/hello | Step 1/2 : F\n"  // cut to the 40 columns
        "   ---> 1a2b3c"
        "\r\33[2K"
        "function.gantry.dev/hello | Step 2/2 : R\n"
        "  compiling main.c"  // the tab is a space: the line stays one line
        "\r\33[2K");
  CHECK(err.text().empty());
}

TEST_CASE("cli apply progress: an error line or a cut answer is the outcome", "[cli][progress]") {
  Memory out, err;
  {
    ApplyProgressView view(ProgressMode::kQuiet, "hello", out.file(), err.file());
    view.Feed(R"({"type":"step","text":"Step 1/1 : RUN exit 3"})"
              "\n"
              R"({"type":"error","status":400,"error":"step 1/1 \"RUN exit 3\" failed"})");
    auto outcome = view.Finish();
    REQUIRE_FALSE(outcome.ok());
    CHECK(outcome.error().code() == core::ErrorCode::kInvalidArgument);
    CHECK(outcome.error().message() == "step 1/1 \"RUN exit 3\" failed");
  }
  {
    ApplyProgressView view(ProgressMode::kQuiet, "hello", out.file(), err.file());
    view.Feed(R"({"type":"step","text":"Step 1/1 : RUN sleep 100"})"
              "\n");
    CHECK(view.Finish().error().code() == core::ErrorCode::kUnavailable);
  }
  {
    // An older gantryd answers one JSON object.
    ApplyProgressView view(ProgressMode::kPlain, "hello", out.file(), err.file());
    view.Feed(R"({"namespace":"default","name":"hello","result":"configured"})");
    CHECK((*view.Finish())["result"] == "configured");
  }
  CHECK(out.text().empty());
  CHECK(err.text().empty());
}

TEST_CASE("cli apply: --progress plain asks for the stream and shows it before the result",
          "[cli][progress]") {
  TempDir dir;
  dir.Write("src/run.sh", "cat\n");
  std::string manifest =
      dir.Write("gantry.yaml",
                "apiVersion: gantry.dev/v1\nkind: Function\nmetadata:\n  name: hello\n"
                "spec:\n  runtime: exec\n  command: [\"sh\", \"run.sh\"]\n  source: ./src\n");
  FakeGantryd fake;
  fake.handler = [](const http::Request& r) {
    if (r.body.empty()) return http::Response{.status = 412, .body = "{}"};
    // Streamed as a server would: in pieces, to the receiver.
    std::string body = kBuild;
    if (r.on_body) {
      for (std::size_t at = 0; at < body.size(); at += 7) r.on_body(body.substr(at, 7));
      body.clear();
    }
    return http::Response{.status = 200, .body = body};
  };
  auto run = RunGantry(fake, {"apply", "-f", manifest, "--progress", "plain"});
  CHECK(run.exit_code == 0);
  CHECK(run.out == "function.gantry.dev/hello created\n");
  CHECK_THAT(run.err, Catch::StartsWith("function.gantry.dev/hello | Step 1/2 : FROM"));
  CHECK_THAT(run.err, Catch::EndsWith("function.gantry.dev/hello | compiling\tmain.c\n"));
  REQUIRE(fake.requests.size() == 2);
  CHECK(fake.Header(1, "Accept") == "application/x-ndjson");

  // Not a terminal and not CI: the result lines only, and no stream asked for.
  fake.requests.clear();
  auto quiet = RunGantry(fake, {"apply", "-f", manifest});
  CHECK(quiet.exit_code == 0);
  CHECK(quiet.err.empty());
  REQUIRE(fake.requests.size() == 2);
  CHECK(fake.Header(1, "Accept").empty());

  // In CI: the plain lines.
  fake.requests.clear();
  auto ci = RunGantry(fake, {"apply", "-f", manifest}, {{"CI", "true"}});
  CHECK(ci.out == "function.gantry.dev/hello created\n");
  CHECK_THAT(ci.err, Catch::Contains("| Step 2/2 : RUN make\n"));

  auto bad = RunGantry(fake, {"apply", "-f", manifest, "--progress", "fancy"});
  CHECK(bad.exit_code == 2);
}

}  // namespace
}  // namespace gantry::cli
