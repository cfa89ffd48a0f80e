#include "daemon/callback_policy.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fmt/format.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>
#include <memory>

namespace gantry::daemon {
namespace {

using Ip = std::array<std::uint8_t, 16>;

// `text` as an IPv6 address, IPv4 ones mapped (::ffff:a.b.c.d); `v4` says which it was.
std::optional<Ip> ParseIp(std::string_view text, bool* v4) {
  std::string s(text);
  Ip ip{};
  in_addr a4{};
  if (::inet_pton(AF_INET, s.c_str(), &a4) == 1) {
    ip[10] = ip[11] = 0xff;
    std::memcpy(ip.data() + 12, &a4, 4);
    *v4 = true;
    return ip;
  }
  in6_addr a6{};
  if (::inet_pton(AF_INET6, s.c_str(), &a6) == 1) {
    std::memcpy(ip.data(), &a6, 16);
    *v4 = false;
    return ip;
  }
  return std::nullopt;
}

struct CurlUrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};

// One part of a parsed URL, or "" when it has none.
std::string Part(CURLU* u, CURLUPart part) {
  char* value = nullptr;
  if (curl_url_get(u, part, &value, 0) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

}  // namespace

bool Cidr::Contains(const Ip& ip) const {
  int bits = prefix_bits;
  for (std::size_t i = 0; i < ip.size() && bits > 0; ++i, bits -= 8) {
    std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
    if ((ip[i] & mask) != address[i]) return false;
  }
  return true;
}

core::Result<Cidr> ParseCidr(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return core::Error::InvalidArgument(fmt::format("network {:?}: {}", std::string(text), why));
  };
  std::string_view address = text;
  std::optional<int> prefix;
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    address = text.substr(0, slash);
    std::string_view digits = text.substr(slash + 1);
    int value = -1;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size()) {
      return bad("the prefix length is not a number");
    }
    prefix = value;
  }
  bool v4 = false;
  auto ip = ParseIp(address, &v4);
  if (!ip) return bad("expected an IPv4 or IPv6 address, optionally with /prefix");
  int max = v4 ? 32 : 128;
  int bits = prefix.value_or(max);
  if (bits < 0 || bits > max) return bad(fmt::format("the prefix length must be 0 to {}", max));
  Cidr out{.address = {}, .prefix_bits = v4 ? bits + 96 : bits, .text = std::string(text)};
  int left = out.prefix_bits;
  for (std::size_t i = 0; i < out.address.size() && left > 0; ++i, left -= 8) {
    std::uint8_t mask = left >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - left));
    out.address[i] = static_cast<std::uint8_t>((*ip)[i] & mask);
  }
  return out;
}

std::vector<std::string> CallbackPolicy::DefaultDenied() {
  return {"127.0.0.0/8", "::1/128", "169.254.0.0/16", "fe80::/10", "0.0.0.0/8", "::/128"};
}

core::Result<CallbackPolicy> CallbackPolicy::FromFlags(const std::vector<std::string>& deny) {
  std::vector<std::string> given = deny.empty() ? DefaultDenied() : deny;
  std::vector<Cidr> networks;
  for (const auto& text : given) {
    if (text == "none") continue;
    auto cidr = ParseCidr(text);
    if (!cidr) return cidr.error().WithContext("--callback-deny");
    networks.push_back(std::move(*cidr));
  }
  return CallbackPolicy(std::move(networks));
}

core::Status CallbackPolicy::CheckUrl(std::string_view url) const {
  if (url.size() > kMaxUrlBytes) {
    return core::Error::InvalidArgument(fmt::format(
        "X-Callback-Url is {} bytes long, over the limit of {}", url.size(), kMaxUrlBytes));
  }
  std::unique_ptr<CURLU, CurlUrlDeleter> u(curl_url());
  if (!u) return core::Error::Internal("out of memory parsing X-Callback-Url");
  std::string text(url);
  // No default scheme: "host/path" is refused rather than guessed.
  if (CURLUcode rc = curl_url_set(u.get(), CURLUPART_URL, text.c_str(), 0); rc != CURLUE_OK) {
    return core::Error::InvalidArgument(
        fmt::format("X-Callback-Url {:?} is not a URL: {}", text, curl_url_strerror(rc)));
  }
  std::string scheme = Part(u.get(), CURLUPART_SCHEME);
  if (scheme != "http" && scheme != "https") {
    return core::Error::InvalidArgument(
        fmt::format("X-Callback-Url must be an http:// or https:// URL, not {}://", scheme));
  }
  std::string host = Part(u.get(), CURLUPART_HOST);
  if (host.empty()) return core::Error::InvalidArgument("X-Callback-Url has no host");
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (auto denied = DeniedNetwork(host); denied.ok() && denied->has_value()) {
    return core::Error::InvalidArgument(
        fmt::format("X-Callback-Url host {} is in a denied network ({})", host, **denied));
  }
  return core::Ok();
}

std::optional<std::string> CallbackPolicy::DeniedIp(const Ip& ip) const {
  for (const auto& network : denied_) {
    if (network.Contains(ip)) return network.text;
  }
  return std::nullopt;
}

std::optional<std::string> CallbackPolicy::DeniedNetwork(const sockaddr* addr) const {
  Ip ip{};
  if (addr == nullptr) return "not IP";
  if (addr->sa_family == AF_INET) {
    sockaddr_in a4;
    std::memcpy(&a4, addr, sizeof a4);
    ip[10] = ip[11] = 0xff;
    std::memcpy(ip.data() + 12, &a4.sin_addr, 4);
  } else if (addr->sa_family == AF_INET6) {
    sockaddr_in6 a6;
    std::memcpy(&a6, addr, sizeof a6);
    std::memcpy(ip.data(), &a6.sin6_addr, 16);
  } else {
    return "not IP";
  }
  return DeniedIp(ip);
}

core::Result<std::optional<std::string>> CallbackPolicy::DeniedNetwork(
    std::string_view address) const {
  bool v4 = false;
  auto ip = ParseIp(address, &v4);
  if (!ip) {
    return core::Error::InvalidArgument(
        fmt::format("{:?} is not an IP address", std::string(address)));
  }
  return DeniedIp(*ip);
}

}  // namespace gantry::daemon
