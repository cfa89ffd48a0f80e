#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "cli/commands.h"
#include "cli/read_stdin.h"

namespace gantry::cli {
namespace {

using nlohmann::json;

struct MapFlags {
  std::string name;
  std::string ns = "default";
  std::string input = "-";
  std::string output = "-";
  int concurrency = 64;
  bool quiet = false;
};

std::size_t CountInputs(const std::string& text) {
  std::size_t n = 0;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (text.find_first_not_of(" \t\r", start) < end) ++n;
    start = end + 1;
  }
  return n;
}

// "[#########-----------]  412/1000  41%" on one terminal line, redrawn.
void Progress(std::FILE* err, std::size_t done, std::size_t total) {
  constexpr int kWidth = 30;
  const int filled = total == 0 ? kWidth : static_cast<int>(done * kWidth / total);
  std::fprintf(err, "\r[%s%s] %zu/%zu %3zu%%",
               std::string(static_cast<std::size_t>(filled), '#').c_str(),
               std::string(static_cast<std::size_t>(kWidth - filled), '-').c_str(), done, total,
               total == 0 ? 100 : done * 100 / total);
  std::fflush(err);
}

int RunMap(const MapFlags& f, const CommandContext& ctx) {
  std::string inputs;
  if (f.input == "-") {
    auto read = ReadStdin();
    if (!read) return ctx.Fail("gantry map: " + read.error().message());
    inputs = std::move(*read);
  } else {
    auto read = ReadDataFlag("map", "@" + f.input, true);
    if (!read) return ctx.Fail(read.error().message());
    inputs = std::move(*read);
  }
  std::FILE* out = ctx.out;
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(nullptr, std::fclose);
  if (f.output != "-") {
    file.reset(std::fopen(f.output.c_str(), "wb"));
    if (!file) return ctx.Fail(fmt::format("gantry map: cannot write {}", f.output));
    out = file.get();
  }
  const std::size_t total = CountInputs(inputs);
  const bool progress = !f.quiet && ctx.err == stderr && ::isatty(STDERR_FILENO) != 0;
  std::string pending;  // a line not complete yet
  std::size_t done = 0;
  json summary;
  ApiClient api = ctx.Client();
  auto reply = api.CallStreaming(
      "POST",
      fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}/map?concurrency={}", f.ns, f.name,
                  f.concurrency),
      inputs, {{"Content-Type", "application/x-ndjson"}}, [&](std::string_view chunk) {
        pending.append(chunk);
        std::size_t start = 0;
        for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos;
             start = nl + 1) {
          std::string_view line(pending.data() + start, nl - start);
          if (line.starts_with("{\"summary\"")) {
            summary = json::parse(line, nullptr, false);
            continue;
          }
          std::fwrite(line.data(), 1, line.size(), out);
          std::fputc('\n', out);
          ++done;
        }
        pending.erase(0, start);
        if (progress) Progress(ctx.err, done, total);
        return true;
      });
  if (progress) std::fputc('\n', ctx.err);
  if (!reply) return ctx.Fail(fmt::format("gantry map: {}", reply.error().message()));
  if (reply->status >= 300) {
    return ctx.Fail(fmt::format("gantry map: {}: {}", f.name, reply->ErrorMessage()));
  }
  std::fflush(out);
  if (!summary.is_object() || !summary.contains("summary")) {
    return ctx.Fail(
        fmt::format("gantry map: the stream ended after {} of {} results", done, total));
  }
  const json& s = summary["summary"];
  if (!f.quiet) {
    std::fprintf(ctx.err,
                 "%lld ok, %lld failed, %lld retried in %.2fs (%.0f calls/s, concurrency %d); "
                 "replicas used: %d, cold starts: %lld\n",
                 s.value("ok", 0LL), s.value("failed", 0LL), s.value("retried", 0LL),
                 s.value("wallMs", 0.0) / 1000.0, s.value("callsPerSecond", 0.0),
                 s.value("concurrency", 0), s.value("replicasPeak", 0), s.value("coldStarts", 0LL));
  }
  return s.value("failed", 0LL) == 0 ? 0 : 1;
}

}  // namespace

void AddMapCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<MapFlags>();
  CLI::App* cmd = app.add_subcommand(
      "map", "call a function once per input line, in parallel; results in input order");
  cmd->add_option("name", f->name, "the function")->required();
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_option("-f,--filename", f->input, "the inputs, one JSON value per line (- for stdin)")
      ->capture_default_str();
  cmd->add_option("-o,--output", f->output, "where the results go, one line each (- for stdout)")
      ->capture_default_str();
  cmd->add_option("-c,--concurrency", f->concurrency, "calls in flight at most")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cmd->add_flag("-q,--quiet", f->quiet, "no progress bar and no summary");
  cmd->callback([f, &ctx] { ctx.exit_code = RunMap(*f, ctx); });
}

}  // namespace gantry::cli
