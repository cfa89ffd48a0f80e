#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/read_stdin.h"

namespace gantry::cli {
namespace {

struct InvokeFlags {
  std::string name;
  std::string ns = "default";
  std::string data;
  bool data_set = false;
  std::string method;
  std::vector<std::string> headers;
  bool include = false;
  bool async = false;
  std::string callback;
};

int RunInvoke(const InvokeFlags& f, const CommandContext& ctx) {
  auto read = ReadDataFlag("invoke", f.data, f.data_set);
  if (!read) return ctx.Fail(read.error().message());
  std::string body = std::move(*read);
  std::string method = f.method.empty() ? (body.empty() && !f.data_set ? "GET" : "POST") : f.method;
  std::vector<std::pair<std::string, std::string>> headers;
  for (const auto& h : f.headers) {
    auto colon = h.find(':');
    if (colon == std::string::npos) {
      ctx.Fail(fmt::format("gantry invoke: -H {}: expected \"Name: value\"", h));
      return 2;
    }
    std::string value = h.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    headers.emplace_back(h.substr(0, colon), value);
  }
  ApiClient api = ctx.Client();
  if (f.async) {
    if (!f.callback.empty()) headers.emplace_back("X-Callback-Url", f.callback);
    auto queued =
        api.Call("POST", fmt::format("/async-function/{}.{}", f.name, f.ns), body, headers, false);
    if (!queued) return ctx.Fail(fmt::format("gantry invoke: {}", queued.error().message()));
    if (queued->status != 202) {
      return ctx.Fail(fmt::format("gantry invoke: {}: HTTP {}: {}", f.name, queued->status,
                                  queued->ErrorMessage()));
    }
    std::fprintf(ctx.out, "%s\n", queued->Json().value("callId", "").c_str());
    return 0;
  }
  auto reply =
      api.Call(method, fmt::format("/function/{}.{}", f.name, f.ns), body, headers, /*auth=*/false);
  if (!reply) return ctx.Fail(fmt::format("gantry invoke: {}", reply.error().message()));
  if (f.include) {
    std::fprintf(ctx.out, "HTTP %d\n", reply->status);
    for (const auto& [k, v] : reply->headers)
      std::fprintf(ctx.out, "%s: %s\n", k.c_str(), v.c_str());
    std::fprintf(ctx.out, "\n");
  }
  if (reply->status >= 400) {
    return ctx.Fail(fmt::format("gantry invoke: {}: HTTP {}: {}", f.name, reply->status,
                                reply->ErrorMessage()));
  }
  std::fwrite(reply->body.data(), 1, reply->body.size(), ctx.out);
  return 0;
}

}  // namespace

void AddInvokeCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<InvokeFlags>();
  CLI::App* cmd = app.add_subcommand("invoke", "call a function and print its answer");
  cmd->add_option("name", f->name, "the function")->required();
  cmd->add_option("-n,--namespace", f->ns, "its namespace")->capture_default_str();
  cmd->add_option("-d,--data", f->data,
                  "the request body, or @FILE (default: stdin when it is not a terminal)")
      ->each([f](const std::string&) { f->data_set = true; });
  cmd->add_option("-X,--method", f->method, "HTTP method (default POST with a body, else GET)");
  cmd->add_option("-H,--header", f->headers, "\"Name: value\" (repeatable)");
  cmd->add_flag("-i,--include", f->include, "print the status and headers first");
  cmd->add_flag("--async", f->async,
                "queue the call (202) and print its call id; the result goes to --callback");
  cmd->add_option("--callback", f->callback, "with --async: URL the result is POSTed to");
  cmd->callback([f, &ctx] { ctx.exit_code = RunInvoke(*f, ctx); });
}

}  // namespace gantry::cli
