#include "lambda_event.h"

#include <nlohmann/json.hpp>

namespace gantry::shim {

using nlohmann::json;

namespace {

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string LowerCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool IsValidUtf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    auto c = static_cast<unsigned char>(text[i]);
    std::size_t extra = 0;
    uint32_t code = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      extra = 1;
      code = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
      code = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      extra = 3;
      code = c & 0x07u;
    } else {
      return false;
    }
    if (i + extra >= text.size()) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      code = (code << 6) | (cc & 0x3Fu);
    }
    // Overlong forms, surrogates and values beyond Unicode are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (code < kMin[extra] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return false;
    i += extra + 1;
  }
  return true;
}

std::string Base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto at = [&](std::size_t k) {
    return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k]));
  };
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += kBase64Alphabet[v & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = at(i) << 16;
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
    out += kBase64Alphabet[(v >> 18) & 63];
    out += kBase64Alphabet[(v >> 12) & 63];
    out += kBase64Alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> Base64Decode(std::string_view text) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (char c : text) {
    if (c == '\n' || c == '\r') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    int v = value(c);
    if (v < 0 || padding > 0) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFFu);
    }
  }
  if (padding > 2 || bits >= 6) return std::nullopt;
  return out;
}

std::string BuildLambdaEvent(const RequestMeta& meta, std::string_view body,
                             std::string_view call_id, int64_t now_unix_ms) {
  json headers = json::object();
  std::vector<std::string> cookies;
  for (const auto& [name, value] : meta.headers) {
    std::string key = LowerCase(name);
    if (!IsValidUtf8(value)) continue;
    if (key == "cookie") {
      cookies.push_back(value);
      continue;
    }
    if (headers.contains(key)) {
      headers[key] = headers[key].get<std::string>() + "," + value;
    } else {
      headers[key] = value;
    }
  }
  json params = json::object();
  std::string_view query = meta.query;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    std::string key = PercentDecode(pair.substr(0, eq), true);
    std::string value =
        eq == std::string_view::npos ? "" : PercentDecode(pair.substr(eq + 1), true);
    if (!IsValidUtf8(key) || !IsValidUtf8(value)) continue;
    if (params.contains(key)) {
      params[key] = params[key].get<std::string>() + "," + value;
    } else {
      params[key] = value;
    }
  }
  bool binary = !IsValidUtf8(body);
  std::string path = IsValidUtf8(meta.path) ? meta.path : "/";
  json event = {
      {"version", "2.0"},
      {"routeKey", "$default"},
      {"rawPath", path},
      {"rawQueryString", IsValidUtf8(meta.query) ? meta.query : ""},
      {"headers", headers},
      {"queryStringParameters", params},
      {"requestContext",
       {{"http", {{"method", meta.method}, {"path", path}}},
        {"requestId", call_id},
        {"timeEpoch", now_unix_ms}}},
      {"body", binary ? Base64Encode(body) : std::string(body)},
      {"isBase64Encoded", binary},
  };
  if (!cookies.empty()) event["cookies"] = cookies;
  return event.dump();
}

FunctionReply ErrorReply(unsigned status, std::string_view message, std::string_view call_id) {
  FunctionReply reply;
  reply.status = status;
  reply.headers.emplace_back("Content-Type", "application/json");
  json body = {{"error", message}, {"callId", call_id}};
  reply.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return reply;
}

FunctionReply DecodeLambdaResponse(std::string_view payload) {
  json value = json::parse(payload, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object() || !value.contains("statusCode") ||
      !value["statusCode"].is_number_integer()) {
    FunctionReply reply;
    reply.headers.emplace_back("Content-Type", "application/json");
    reply.body = std::string(payload);
    return reply;
  }
  FunctionReply reply;
  auto status = value["statusCode"].get<int64_t>();
  if (status < 100 || status > 599) {
    return ErrorReply(502, "handler returned statusCode " + std::to_string(status), "");
  }
  reply.status = static_cast<unsigned>(status);
  if (value.contains("headers") && value["headers"].is_object()) {
    for (const auto& [name, header] : value["headers"].items()) {
      reply.headers.emplace_back(name,
                                 header.is_string() ? header.get<std::string>() : header.dump());
    }
  }
  if (value.contains("cookies") && value["cookies"].is_array()) {
    for (const auto& cookie : value["cookies"]) {
      if (cookie.is_string()) reply.headers.emplace_back("Set-Cookie", cookie.get<std::string>());
    }
  }
  if (value.contains("body")) {
    const json& body = value["body"];
    if (body.is_string()) {
      reply.body = body.get<std::string>();
      if (value.value("isBase64Encoded", false)) {
        auto decoded = Base64Decode(reply.body);
        if (!decoded) return ErrorReply(502, "handler returned a body that is not base64", "");
        reply.body = std::move(*decoded);
      }
    } else if (!body.is_null()) {
      reply.body = body.dump();
    }
  }
  return reply;
}

FunctionReply DecodeLambdaError(std::string_view payload, std::string_view call_id) {
  json value = json::parse(payload, nullptr, false);
  std::string message = "handler error";
  std::string type = "Error";
  if (value.is_object()) {
    if (value.contains("errorMessage") && value["errorMessage"].is_string()) {
      message = value["errorMessage"].get<std::string>();
    }
    if (value.contains("errorType") && value["errorType"].is_string()) {
      type = value["errorType"].get<std::string>();
    }
  } else if (!payload.empty()) {
    message = std::string(payload.substr(0, 4096));
  }
  FunctionReply reply;
  reply.status = 500;
  reply.headers.emplace_back("Content-Type", "application/json");
  json body = {{"error", message}, {"type", type}, {"callId", call_id}};
  reply.body = body.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
  return reply;
}

std::string DescribeLambdaError(std::string_view payload) {
  constexpr std::size_t kMax = 1024;
  auto first_line = [&](std::string_view text) {
    text = text.substr(0, text.find('\n'));
    while (!text.empty() && (text.back() == '\r' || text.back() == ' ')) text.remove_suffix(1);
    return std::string(text.substr(0, kMax));
  };
  json value = json::parse(payload, nullptr, false);
  if (!value.is_object()) return first_line(payload);
  std::string message;
  std::string type;
  if (value.contains("errorMessage") && value["errorMessage"].is_string()) {
    message = first_line(value["errorMessage"].get<std::string>());
  }
  if (value.contains("errorType") && value["errorType"].is_string()) {
    type = first_line(value["errorType"].get<std::string>());
  }
  if (type.empty() || type == "Error") return message.empty() ? "handler error" : message;
  if (message.empty()) return type;
  return type + ": " + message;
}

}  // namespace gantry::shim
