#include "call.h"

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <optional>

namespace gantry::shim {

namespace http = boost::beast::http;

Call::Call(std::string id, HttpRequest request, std::chrono::steady_clock::time_point deadline,
           Responder respond)
    : id_(std::move(id)),
      request_(std::move(request)),
      deadline_(deadline),
      respond_(std::move(respond)) {
  meta_.method = std::string(request_.method_string());
  std::tie(meta_.path, meta_.query) = SplitTarget(request_.target());
  for (const auto& field : request_) {
    meta_.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
}

bool Call::Finish(const FunctionReply& reply) {
  HttpResponse response{static_cast<http::status>(reply.status), request_.version()};
  for (const auto& [name, value] : reply.headers) response.insert(name, value);
  response.body() = reply.body;
  return Finish(std::move(response));
}

bool Call::Finish(HttpResponse response) {
  if (finished_) return false;
  finished_ = true;
  response.set("X-Call-Id", id_);
  response.prepare_payload();
  Responder respond = std::move(respond_);
  respond_ = {};
  // The slot is free before the answer is handed to the connection: a caller that sees it
  // end and sends its next call at once must not be refused (issue 19).
  RunOnFinished();
  respond(std::move(response));
  return true;
}

bool Call::Abandon() {
  if (finished_) return false;
  finished_ = true;
  Responder dropped = std::move(respond_);  // unanswered: the connection closes
  respond_ = {};
  RunOnFinished();
  return true;
}

void Call::RunOnFinished() {
  if (!on_finished_) return;
  auto fn = std::move(on_finished_);
  on_finished_ = nullptr;
  fn();
}

namespace {

// Frames the body of a streamed response for the client (HTTP/1.1 chunks, or raw bytes
// when the length is known or the connection closes at the end) and tells the call when
// it is over: before the end of the body is handed to the connection (the last of
// `length` bytes, the last chunk, or the close), so the call's slot is free by the time
// anyone can see the response end.
class CallStream final : public ResponseStream {
 public:
  CallStream(std::shared_ptr<ResponseStream> raw, bool chunked, bool close_at_end,
             std::optional<std::uint64_t> length, std::function<void()> on_end)
      : raw_(std::move(raw)),
        chunked_(chunked),
        close_at_end_(close_at_end),
        left_(length),
        on_end_(std::move(on_end)) {}
  ~CallStream() override { End(false); }

  void Write(std::string bytes, std::function<void(bool ok)> done) override {
    if (ended_ || bytes.empty()) {
      done(!ended_);
      return;
    }
    if (left_) {
      *left_ -= std::min<std::uint64_t>(*left_, bytes.size());
      if (*left_ == 0) Over();  // these are the body's last bytes
    }
    if (chunked_) {
      char size[32];
      std::snprintf(size, sizeof size, "%zx\r\n", bytes.size());
      bytes.insert(0, size);
      bytes += "\r\n";
    }
    raw_->Write(std::move(bytes), std::move(done));
  }

  void End(bool ok) override {
    if (ended_) return;
    ended_ = true;
    Over();
    if (ok && chunked_) {
      auto raw = raw_;
      bool close = close_at_end_;
      raw_->Write("0\r\n\r\n", [raw, close](bool written) { raw->End(written && !close); });
    } else {
      raw_->End(ok && !close_at_end_);
    }
  }

 private:
  void Over() {
    if (!on_end_) return;
    auto fn = std::move(on_end_);
    on_end_ = nullptr;
    fn();
  }

  std::shared_ptr<ResponseStream> raw_;
  bool chunked_;
  bool close_at_end_;
  std::optional<std::uint64_t> left_;  // body bytes still to come, when the length is known
  std::function<void()> on_end_;
  bool ended_ = false;
};

}  // namespace

Call::~Call() = default;

std::shared_ptr<ResponseStream> Call::StartStream(http::response_header<> head) {
  if (finished_) return nullptr;
  auto raw = respond_.Stream();
  if (!raw) return nullptr;
  finished_ = true;
  streaming_ = true;
  std::optional<std::uint64_t> length;
  if (auto field = head.find(http::field::content_length); field != head.end()) {
    std::uint64_t value = 0;
    auto text = field->value();
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error == std::errc() && end == text.data() + text.size()) length = value;
  }
  bool has_length = head.find(http::field::content_length) != head.end();
  bool http11 = respond_.version >= 11;
  bool chunked = !has_length && http11;
  // Without a length or chunking (HTTP/1.0) the end of the body is the end of the connection.
  bool close_at_end = !respond_.keep_alive || (!has_length && !http11);
  head.version(respond_.version);
  head.set("X-Call-Id", id_);
  head.erase(http::field::transfer_encoding);
  if (chunked) head.set(http::field::transfer_encoding, "chunked");
  head.set(http::field::connection, close_at_end ? "close" : "keep-alive");
  // Written by hand: an ostream here would pull the locale machinery (1 MB) into the
  // static binary.
  std::string text = head.version() >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
  text += std::to_string(head.result_int());
  text += ' ';
  text.append(head.reason());
  text += "\r\n";
  for (const auto& field : head) {
    text.append(field.name_string());
    text += ": ";
    text.append(field.value());
    text += "\r\n";
  }
  text += "\r\n";
  respond_ = {};
  auto stream =
      std::make_shared<CallStream>(raw, chunked, close_at_end, length, std::move(on_finished_));
  on_finished_ = nullptr;
  raw->Write(std::move(text), [](bool) {});
  return stream;
}

void FunctionRunner::Specialize(const Specialization&, SpecializedFn done) {
  SpecializedFn fn = std::move(done);
  fn(false, "not a stem cell");
}

}  // namespace gantry::shim
