#include "shim_support.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace gantry::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

ShimReply CallUnix(const std::string& socket_path, const std::string& method,
                   const std::string& target, const std::string& body,
                   const std::vector<std::pair<std::string, std::string>>& headers,
                   std::chrono::milliseconds timeout) {
  ShimReply reply;
  asio::io_context io;
  asio::local::stream_protocol::socket socket(io);
  http::request<http::string_body> request{http::string_to_verb(method), target, 11};
  request.set(http::field::host, "shim");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  if (method == "POST" || method == "PUT") request.content_length(body.size());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  bool done = false;
  socket.async_connect(socket_path, [&](beast::error_code ec) {
    if (ec) {
      reply.error = "connect: " + ec.message();
      done = true;
      return;
    }
    http::async_write(socket, request, [&](beast::error_code write_ec, std::size_t) {
      // A server that refuses the body (413) may close before reading it all: still read.
      if (write_ec && write_ec != asio::error::broken_pipe &&
          write_ec != asio::error::connection_reset) {
        reply.error = "write: " + write_ec.message();
        done = true;
        return;
      }
      http::async_read(socket, buffer, parser, [&](beast::error_code read_ec, std::size_t) {
        if (read_ec) {
          reply.error = "read: " + read_ec.message();
        } else {
          auto& response = parser.get();
          reply.status = static_cast<int>(response.result_int());
          for (const auto& field : response) {
            std::string name(field.name_string());
            for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            reply.headers[name] = std::string(field.value());
          }
          reply.body = response.body();
        }
        done = true;
      });
    });
  });
  io.run_for(timeout);
  if (!done) reply.error = "no answer within " + std::to_string(timeout.count()) + " ms";
  return reply;
}

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in.good());
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

std::string ShimBinary() {
  return ReadFile(GANTRY_SHIM_BINARY);
}

std::string BootstrapFile(const std::string& relative) {
  return ReadFile(std::string(GANTRY_SHIM_SOURCE_DIR) + "/bootstrap/" + relative);
}

ShimContainer::ShimContainer(TestEngine& engine, const std::string& base,
                             std::vector<TarEntry> files, std::vector<std::string> env)
    : engine_(engine) {
  char dir_template[] = "/tmp/gantry-shim-test.XXXXXX";
  REQUIRE(::mkdtemp(dir_template) != nullptr);
  dir_ = dir_template;
  ::chmod(dir_.c_str(), 0777);  // the shim runs as nobody

  std::string dockerfile =
      "FROM " + base +
      "\nCOPY gantry-shim /usr/local/bin/gantry-shim\nCOPY fn/ /fn/\nWORKDIR /fn\n"
      "ENTRYPOINT [\"/usr/local/bin/gantry-shim\"]\n";
  std::vector<TarEntry> context = {{"Dockerfile", dockerfile, 0644},
                                   {"gantry-shim", ShimBinary(), 0755}};
  if (files.empty()) files.push_back({".keep", "", 0644});
  for (auto& file : files)
    context.push_back({"fn/" + file.path, std::move(file.content), file.mode});
  std::string tag = "gantry-test/shim:" + engine.value();
  // Retried like the builder's: tests running side by side remove images mid-build.
  auto image = docker::BuildImageFromTar(
      engine.client(), {.tags = {tag}, .labels = engine.labels()}, MakeTar(context), nullptr);
  if (!image.ok()) FAIL("build: " << image.error().ToString());

  docker::ContainerSpec spec;
  spec.name = engine.Name("shim");
  spec.image = tag;
  spec.env = std::move(env);
  spec.env.push_back("GANTRY_LISTEN=unix:/run/gantry/shim.sock");
  spec.labels = engine.labels();
  spec.user = "65534:65534";
  spec.read_only_rootfs = true;
  spec.cap_drop = {"ALL"};
  spec.security_opt = {"no-new-privileges"};
  spec.network_mode = "none";
  spec.pids_limit = 256;
  spec.mounts.push_back(
      {.type = docker::Mount::Type::kBind, .source = dir_, .target = "/run/gantry"});
  spec.mounts.push_back({.type = docker::Mount::Type::kTmpfs, .target = "/tmp"});
  auto id = engine.client().CreateContainer(spec);
  if (!id.ok()) FAIL("create: " << id.error().ToString());
  id_ = *id;
  auto started = engine.client().StartContainer(id_);
  if (!started.ok()) FAIL("start: " << started.error().ToString());
}

ShimContainer::~ShimContainer() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool ShimContainer::WaitReady(std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (CallUnix(socket_path(), "GET", "/_/ready", "", {}, std::chrono::seconds(2)).status == 200)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

std::string ShimContainer::Logs() {
  std::string text;
  (void)engine_.client().Logs(id_, {}, [&](docker::Stream, std::string_view line) {
    text.append(line);
    text += '\n';
    return true;
  });
  return text;
}

std::string ShimContainer::LogsOnce(const std::string& needle, std::chrono::milliseconds limit) {
  auto until = std::chrono::steady_clock::now() + limit;
  std::string text = Logs();
  while (text.find(needle) == std::string::npos && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    text = Logs();
  }
  return text;
}

}  // namespace gantry::testing
