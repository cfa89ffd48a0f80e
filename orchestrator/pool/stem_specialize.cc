#include "pool/stem_specialize.h"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/basic_stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <exception>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "core/unix_socket.h"
#include "pool/container_spec.h"

namespace gantry::pool {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace fs = std::filesystem;
using Protocol = net::local::stream_protocol;

constexpr std::size_t kHeadBytes = std::size_t{16} * 1024;

bool IsShimSetting(const std::string& entry) {
  return entry.starts_with("GANTRY_TIMEOUT=") || entry.starts_with("GANTRY_MAX_INFLIGHT=") ||
         entry.starts_with("GANTRY_MAX_BODY=");
}

// Copies the tree `from` into the existing directory `to`: hard links first (one
// filesystem: no bytes copied), a copy when linking is refused.
core::Status CopyTree(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  if (!fs::exists(from, ec)) return core::Ok();  // no dependencies
  auto options = fs::copy_options::recursive | fs::copy_options::overwrite_existing;
  fs::copy(from, to, options | fs::copy_options::create_hard_links, ec);
  if (ec) {
    ec.clear();
    fs::copy(from, to, options | fs::copy_options::copy_symlinks, ec);
  }
  if (ec) {
    return core::Error::Internal(
        fmt::format("copy {} to {}: {}", from.string(), to.string(), ec.message()));
  }
  return core::Ok();
}

}  // namespace

SpecializeAnswer HttpSpecializer::Specialize(const Endpoint& endpoint, const std::string& body,
                                             std::chrono::milliseconds limit) {
  SpecializeAnswer answer;
  try {
    // The cell's socket directory is writable by whatever runs in it: connect only to the
    // socket found there (see readiness.cc).
    auto pinned = core::PinnedSocket::Open(endpoint.unix_socket);
    if (!pinned) return answer;
    net::io_context io;
    beast::basic_stream<Protocol> stream(io);
    http::request<http::string_body> request(http::verb::post, "/_/specialize", 11);
    request.set(http::field::host, "localhost");
    request.set(http::field::user_agent, "gantryd");
    request.set(http::field::content_type, "application/json");
    request.set(http::field::connection, "close");
    request.body() = body;
    request.prepare_payload();
    beast::flat_buffer buffer(kHeadBytes + kSpecializeBodyLimit);
    http::response_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(kHeadBytes));
    parser.body_limit(kSpecializeBodyLimit);
    stream.expires_after(limit);
    stream.async_connect(Protocol::endpoint(pinned->connect_path()), [&](beast::error_code ec) {
      if (ec) return;
      http::async_write(stream, request, [&](beast::error_code write_ec, std::size_t) {
        if (write_ec) return;
        answer.sent = true;
        http::async_read(stream, buffer, parser, [&](beast::error_code read_ec, std::size_t) {
          if (read_ec) return;
          answer.status = static_cast<int>(parser.get().result_int());
          answer.body = parser.get().body();
        });
      });
    });
    io.run();
  } catch (const std::exception&) {
    answer.status = 0;  // out of memory or descriptors: no answer
  }
  return answer;
}

std::string SpecializeBody(const Deployment& d) {
  // What a replica's container would get: the one place that says so.
  docker::ContainerSpec spec = ReplicaContainerSpec(d, "r0000000000", ReplicaPaths{}, {}, 0);
  nlohmann::json env = nlohmann::json::object();
  for (const std::string& entry : spec.env) {
    if (IsShimSetting(entry)) continue;
    auto eq = entry.find('=');
    if (eq == std::string::npos) continue;
    env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  nlohmann::json body = {{"env", env},
                         {"timeout", ShimDuration(d.timeout)},
                         {"maxInflight", d.concurrency},
                         {"maxBody", d.max_body_bytes},
                         {"functionName", d.name}};
  if (d.stem && !d.stem->command.empty()) body["command"] = d.stem->command;
  return body.dump();
}

core::Status CopyPackageIntoCell(const std::string& package_dir, const ReplicaPaths& cell) {
  if (auto s = CopyTree(fs::path(package_dir) / "task", StemTaskDir(cell)); !s) return s;
  return CopyTree(fs::path(package_dir) / "deps", StemDepsDir(cell));
}

docker::ContainerResources LimitsToUpdate(const Deployment& d, const StemCell& cell) {
  docker::ContainerResources r;
  if (d.memory_bytes != cell.memory_bytes) {
    r.memory_bytes = d.memory_bytes;
    r.memory_swap = d.memory_bytes;  // no swap beyond the limit, as at create
  }
  if (d.nano_cpus != cell.nano_cpus) r.nano_cpus = d.nano_cpus;
  if (d.pids_limit != cell.pids_limit) r.pids_limit = d.pids_limit;
  return r;
}

}  // namespace gantry::pool
