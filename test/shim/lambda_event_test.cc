#include "lambda_event.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

namespace gantry::shim {
namespace {

using nlohmann::json;

std::string HeaderValue(const FunctionReply& reply, std::string_view name) {
  for (const auto& [key, value] : reply.headers) {
    if (key == name) return value;
  }
  return "<none>";
}

TEST_CASE("BuildLambdaEvent describes the request as an HTTP API 2.0 event", "[shim][lambda]") {
  RequestMeta meta;
  meta.method = "POST";
  meta.path = "/orders/7";
  meta.query = "a=1&b=x%20y&a=2&flag";
  meta.headers = {
      {"Content-Type", "application/json"}, {"X-Multi", "1"}, {"x-multi", "2"}, {"Cookie", "s=1"}};
  json event = json::parse(BuildLambdaEvent(meta, R"({"n":1})", "call-9", 1700000000123));
  CHECK(event["version"] == "2.0");
  CHECK(event["rawPath"] == "/orders/7");
  CHECK(event["rawQueryString"] == "a=1&b=x%20y&a=2&flag");
  CHECK(event["queryStringParameters"]["a"] == "1,2");
  CHECK(event["queryStringParameters"]["b"] == "x y");
  CHECK(event["queryStringParameters"]["flag"] == "");
  CHECK(event["headers"]["content-type"] == "application/json");
  CHECK(event["headers"]["x-multi"] == "1,2");
  CHECK_FALSE(event["headers"].contains("cookie"));
  CHECK(event["cookies"] == json::array({"s=1"}));
  CHECK(event["requestContext"]["http"]["method"] == "POST");
  CHECK(event["requestContext"]["requestId"] == "call-9");
  CHECK(event["requestContext"]["timeEpoch"] == 1700000000123);
  CHECK(event["body"] == R"({"n":1})");
  CHECK(event["isBase64Encoded"] == false);
}

TEST_CASE("BuildLambdaEvent base64-encodes bodies that are not UTF-8", "[shim][lambda]") {
  RequestMeta meta;
  meta.method = "PUT";
  meta.path = "/";
  std::string binary("\xff\x00\x01", 3);
  json event = json::parse(BuildLambdaEvent(meta, binary, "c", 0));
  CHECK(event["isBase64Encoded"] == true);
  CHECK(event["body"] == "/wAB");
}

TEST_CASE("DecodeLambdaResponse reads structured responses", "[shim][lambda]") {
  auto reply = DecodeLambdaResponse(
      R"({"statusCode":201,"headers":{"X-A":"b","X-N":3},"cookies":["c=1"],"body":"made"})");
  CHECK(reply.status == 201);
  CHECK(reply.body == "made");
  CHECK(HeaderValue(reply, "X-A") == "b");
  CHECK(HeaderValue(reply, "X-N") == "3");
  CHECK(HeaderValue(reply, "Set-Cookie") == "c=1");

  auto binary = DecodeLambdaResponse(R"({"statusCode":200,"body":"/wAB","isBase64Encoded":true})");
  CHECK(binary.body == std::string("\xff\x00\x01", 3));

  auto object_body = DecodeLambdaResponse(R"({"statusCode":200,"body":{"k":[1,2]}})");
  CHECK(object_body.body == R"({"k":[1,2]})");
}

TEST_CASE("DecodeLambdaResponse passes other payloads through as JSON", "[shim][lambda]") {
  for (std::string payload : {R"({"message":"hi"})", R"("text")", "[1,2]", "not json at all"}) {
    auto reply = DecodeLambdaResponse(payload);
    CHECK(reply.status == 200);
    CHECK(reply.body == payload);
    CHECK(HeaderValue(reply, "Content-Type") == "application/json");
  }
}

TEST_CASE("DecodeLambdaResponse rejects bad status codes and bad base64", "[shim][lambda]") {
  CHECK(DecodeLambdaResponse(R"({"statusCode":42})").status == 502);
  CHECK(DecodeLambdaResponse(R"({"statusCode":700})").status == 502);
  CHECK(DecodeLambdaResponse(R"({"statusCode":200,"body":"!!","isBase64Encoded":true})").status ==
        502);
}

TEST_CASE("DecodeLambdaError becomes a 500 with a JSON error naming the call", "[shim][lambda]") {
  auto reply = DecodeLambdaError(
      R"({"errorMessage":"division by zero","errorType":"ZeroDivisionError","stackTrace":[]})",
      "c-1");
  CHECK(reply.status == 500);
  json body = json::parse(reply.body);
  CHECK(body["error"] == "division by zero");
  CHECK(body["type"] == "ZeroDivisionError");
  CHECK(body["callId"] == "c-1");

  auto raw = DecodeLambdaError("plain words", "c-2");
  CHECK(json::parse(raw.body)["error"] == "plain words");
}

TEST_CASE("Base64 round-trips and rejects garbage", "[shim][lambda]") {
  for (const std::string& text : std::vector<std::string>{"", "f", "fo", "foo", "foob", "fooba",
                                                          "foobar", std::string("\0\xff", 2)}) {
    auto decoded = Base64Decode(Base64Encode(text));
    REQUIRE(decoded);
    CHECK(*decoded == text);
  }
  CHECK(Base64Encode("foobar") == "Zm9vYmFy");
  CHECK_FALSE(Base64Decode("Zm9v!").has_value());
  CHECK_FALSE(Base64Decode("Zg=a").has_value());
}

TEST_CASE("IsValidUtf8", "[shim][lambda]") {
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("\xC3\xA9t\xC3\xA9"));
  CHECK(IsValidUtf8("\xF0\x9F\x98\x80"));
  CHECK_FALSE(IsValidUtf8("\xC3"));          // truncated
  CHECK_FALSE(IsValidUtf8("\xC0\xAF"));      // overlong
  CHECK_FALSE(IsValidUtf8("\xED\xA0\x80"));  // surrogate
  CHECK_FALSE(IsValidUtf8("\xFF"));
}

TEST_CASE("DescribeLambdaError names an init error in one line", "[shim][lambda]") {
  CHECK(DescribeLambdaError(
            R"({"errorMessage": "No module named 'requests'", "errorType": "ModuleNotFoundError", )"
            R"("stackTrace": ["Traceback (most recent call last):\n", "  File ..."]})") ==
        "ModuleNotFoundError: No module named 'requests'");
  CHECK(DescribeLambdaError(
            R"({"errorMessage":"Cannot find module 'left-pad'\nRequire stack:\n- /var/task/h.js",)"
            R"("errorType":"Error","stackTrace":["Error: Cannot find module 'left-pad'"]})") ==
        "Cannot find module 'left-pad'");
  CHECK(DescribeLambdaError(R"({"errorType":"Runtime.ImportModuleError"})") ==
        "Runtime.ImportModuleError");
  CHECK(DescribeLambdaError("{}") == "handler error");
  CHECK(DescribeLambdaError("plain words\nsecond line") == "plain words");
  CHECK(DescribeLambdaError(std::string(5000, 'x')).size() == 1024);
}

}  // namespace
}  // namespace gantry::shim
