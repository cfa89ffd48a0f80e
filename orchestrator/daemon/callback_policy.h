#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace gantry::daemon {

// One network, IPv4 or IPv6, as "10.0.0.0/8", "fe80::/10" or a bare address (a /32 or
// /128). IPv4 networks are kept as IPv4-mapped IPv6 ("::ffff:10.0.0.0/104"), so an IPv6
// socket address that maps an IPv4 one matches the IPv4 network. Plain value type.
struct Cidr {
  std::array<std::uint8_t, 16> address{};  // the network, host bits cleared
  int prefix_bits = 0;                     // of the 128
  std::string text;                        // as given, for messages

  bool Contains(const std::array<std::uint8_t, 16>& ip) const;
};

// Parses `text`. kInvalidArgument for anything but an address with an optional /prefix
// in range (0–32 for IPv4, 0–128 for IPv6).
core::Result<Cidr> ParseCidr(std::string_view text);

// Where async results may be POSTed (X-Callback-Url): http and https URLs only, to any
// address but the denied networks. The deny-list is checked twice: at enqueue for a host
// that is an address literal (a quick 400), and at delivery against every address curl
// is about to connect to (after DNS: a name that resolves, or later re-resolves, to a
// denied address is refused too). Immutable after construction, so thread-safe.
class CallbackPolicy {
 public:
  static constexpr std::size_t kMaxUrlBytes = 2048;

  // Loopback, link-local and "this host" (0.0.0.0/8, ::): what a callback must not reach
  // by default (gantryd's own API, the cloud metadata service, local-only services).
  static std::vector<std::string> DefaultDenied();

  // The policy for the --callback-deny values: none given, DefaultDenied(); otherwise
  // exactly the networks given, where "none" adds nothing (`--callback-deny none` allows
  // every address, for tests and local development). kInvalidArgument naming a bad value.
  static core::Result<CallbackPolicy> FromFlags(const std::vector<std::string>& deny);

  CallbackPolicy() : CallbackPolicy(*FromFlags({})) {}
  explicit CallbackPolicy(std::vector<Cidr> denied) : denied_(std::move(denied)) {}

  // Ok for an absolute http:// or https:// URL with a host, at most kMaxUrlBytes long,
  // whose host is not an address in a denied network. kInvalidArgument saying why not.
  core::Status CheckUrl(std::string_view url) const;

  // The denied network that holds `addr` (AF_INET or AF_INET6), or nullopt when a
  // connection to it is allowed. Other families are always denied ("not IP").
  std::optional<std::string> DeniedNetwork(const sockaddr* addr) const;
  // The same for an address literal ("127.0.0.1", "::1"); kInvalidArgument if it isn't one.
  core::Result<std::optional<std::string>> DeniedNetwork(std::string_view address) const;

  const std::vector<Cidr>& denied() const { return denied_; }

 private:
  std::optional<std::string> DeniedIp(const std::array<std::uint8_t, 16>& ip) const;

  std::vector<Cidr> denied_;
};

}  // namespace gantry::daemon
