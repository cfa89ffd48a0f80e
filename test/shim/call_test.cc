// A call frees its admission slot (OnFinished) before the end of its answer is handed to the
// connection, in every shape an answer takes (issue 19: a caller that sees the answer end
// and sends its next call at once must find the slot free), and at once when its client
// hangs up (Abandon).
#include "call.h"

#include <catch2/catch.hpp>
#include <memory>
#include <string>
#include <vector>

namespace gantry::shim {
namespace {

namespace http = boost::beast::http;

// The connection as a call sees it: records each write and whether the slot was free then.
class RecordingStream final : public ResponseStream {
 public:
  explicit RecordingStream(const bool& released) : released_(released) {}
  void Write(std::string bytes, std::function<void(bool ok)> done) override {
    writes.push_back({std::move(bytes), released_});
    done(true);
  }
  void End(bool ok) override {
    ended = true;
    end_ok = ok;
    released_at_end = released_;
  }

  struct Written {
    std::string bytes;
    bool released;
  };
  std::vector<Written> writes;
  bool ended = false;
  bool end_ok = false;
  bool released_at_end = false;

 private:
  const bool& released_;
};

HttpRequest Request() {
  HttpRequest request{http::verb::get, "/", 11};
  request.keep_alive(true);
  return request;
}

struct Fixture {
  bool released = false;
  bool released_when_sent = false;
  int sent = 0;
  std::shared_ptr<RecordingStream> raw = std::make_shared<RecordingStream>(released);

  std::shared_ptr<Call> MakeCall() {
    Responder responder(
        [this](HttpResponse) {
          ++sent;
          released_when_sent = released;
        },
        [this] { return std::static_pointer_cast<ResponseStream>(raw); });
    auto call = std::make_shared<Call>("c-1", Request(), std::chrono::steady_clock::time_point{},
                                       std::move(responder));
    call->OnFinished([this] { released = true; });
    return call;
  }
};

http::response_header<> Head(const char* content_length = nullptr) {
  http::response_header<> head;
  head.result(http::status::ok);
  if (content_length != nullptr) head.set(http::field::content_length, content_length);
  return head;
}

TEST_CASE("A whole answer frees the call's slot before it is handed to the connection",
          "[shim][call]") {
  Fixture f;
  auto call = f.MakeCall();
  FunctionReply reply;
  reply.body = "hi";
  CHECK(call->Finish(reply));
  CHECK(f.sent == 1);
  CHECK(f.released_when_sent);
  CHECK_FALSE(call->Finish(reply));  // the first answer wins; the slot is freed once
  CHECK(f.sent == 1);
}

TEST_CASE("A streamed answer with a Content-Length frees the slot before its last bytes go out",
          "[shim][call]") {
  Fixture f;
  auto call = f.MakeCall();
  auto stream = call->StartStream(Head("10"));
  REQUIRE(stream);
  stream->Write("0123", [](bool) {});
  CHECK_FALSE(f.released);  // 6 bytes still to come: the call is in flight
  stream->Write("456789", [](bool) {});
  REQUIRE(f.raw->writes.size() == 3);  // head, two pieces of body
  CHECK_FALSE(f.raw->writes[1].released);
  CHECK(f.raw->writes[2].bytes == "456789");
  CHECK(f.raw->writes[2].released);
  stream->End(true);
  CHECK(f.raw->ended);
  CHECK(f.raw->end_ok);
}

TEST_CASE("A chunked answer frees the slot before its last chunk goes out", "[shim][call]") {
  Fixture f;
  auto call = f.MakeCall();
  auto stream = call->StartStream(Head());
  REQUIRE(stream);
  stream->Write("event\n", [](bool) {});
  CHECK_FALSE(f.released);
  stream->End(true);
  REQUIRE(f.raw->writes.size() == 3);
  CHECK(f.raw->writes[1].bytes == "6\r\nevent\n\r\n");
  CHECK(f.raw->writes[2].bytes == "0\r\n\r\n");
  CHECK(f.raw->writes[2].released);
  CHECK(f.raw->ended);
  CHECK(f.raw->end_ok);
}

TEST_CASE("A broken-off streamed answer frees the slot before the connection closes",
          "[shim][call]") {
  Fixture f;
  auto call = f.MakeCall();
  auto stream = call->StartStream(Head("10"));
  REQUIRE(stream);
  stream->Write("0123", [](bool) {});
  stream->End(false);
  CHECK(f.released);
  CHECK(f.raw->ended);
  CHECK_FALSE(f.raw->end_ok);
  CHECK(f.raw->released_at_end);
}

// The client's side as a call sees it: hung up or not.
class FakeClient final : public ClientConnection {
 public:
  void OnHangUp(std::function<void()> fn) override { on_hang_up = std::move(fn); }
  bool HungUp() override { return hung_up; }
  std::function<void()> on_hang_up;
  bool hung_up = false;
};

TEST_CASE("A call whose client hung up is abandoned: its slot is free and nothing is written",
          "[shim][call]") {
  bool released = false;
  int sent = 0;
  auto client = std::make_shared<FakeClient>();
  Responder responder([&sent](HttpResponse) { ++sent; }, nullptr, client);
  Call call("c-1", Request(), std::chrono::steady_clock::time_point{}, std::move(responder));
  call.OnFinished([&released] { released = true; });
  CHECK(call.client() == client.get());
  CHECK(call.Abandon());
  CHECK(released);
  CHECK(call.finished());
  CHECK(call.client() == nullptr);
  FunctionReply reply;
  CHECK_FALSE(call.Finish(reply));  // the runner's late answer goes nowhere
  CHECK_FALSE(call.Abandon());
  CHECK(sent == 0);
}

TEST_CASE("An answered call can't be abandoned and no longer has a client", "[shim][call]") {
  Fixture f;
  auto call = f.MakeCall();
  FunctionReply reply;
  CHECK(call->Finish(reply));
  CHECK(call->client() == nullptr);
  CHECK_FALSE(call->Abandon());
  CHECK(f.sent == 1);
}

}  // namespace
}  // namespace gantry::shim
