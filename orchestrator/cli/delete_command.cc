#include <fmt/format.h>

#include <cstdio>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.h"
#include "cli/read_stdin.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::cli {
namespace {

struct DeleteFlags {
  std::string kind;
  std::string name;
  std::string ns = "default";
  std::string ns_flag;  // -n as given (empty: not given)
  std::vector<std::string> files;
  bool recursive = false;
};

// gantry delete secret NAME: gantryd refuses (409, naming them) while functions use it.
int DeleteSecret(const DeleteFlags& f, const CommandContext& ctx) {
  ApiClient api = ctx.Client();
  auto reply =
      api.Call("DELETE", fmt::format("/apis/gantry/v1/namespaces/{}/secrets/{}", f.ns, f.name));
  if (!reply) return ctx.Fail(fmt::format("gantry delete: {}", reply.error().message()));
  if (reply->status >= 300) {
    return ctx.Fail(
        fmt::format("gantry delete: secret.gantry.dev/{}: {}", f.name, reply->ErrorMessage()));
  }
  std::fprintf(ctx.out, "secret.gantry.dev/%s deleted\n", f.name.c_str());
  return 0;
}

int RunDelete(const DeleteFlags& f, const CommandContext& ctx) {
  std::vector<std::pair<std::string, std::string>> targets;  // (namespace, name)
  if (!f.files.empty()) {
    manifest::LocalFileSystem local;
    auto loaded = manifest::LoadManifests(
        local, f.files,
        {.recursive = f.recursive, .default_namespace = f.ns_flag, .read_stdin = ReadStdin});
    for (const auto& e : loaded.errors) std::fprintf(ctx.err, "%s\n", e.ToString().c_str());
    if (!loaded.ok()) return 1;
    for (const auto& o : loaded.objects) {
      if (const auto* fn = std::get_if<spec::FunctionSpec>(&o.object)) {
        targets.emplace_back(fn->namespace_name(), fn->name());
      }
    }
  } else if (IsFunctionKind(f.kind) && !f.name.empty()) {
    targets.emplace_back(f.ns, f.name);
  } else if ((f.kind == "secret" || f.kind == "secrets") && !f.name.empty()) {
    return DeleteSecret(f, ctx);
  } else if (f.kind == "topic-token" && !f.name.empty()) {
    ApiClient api = ctx.Client();
    auto r = CheckedCall(api, "delete", "DELETE",
                         fmt::format("/apis/gantry/v1/topics/{}/token", f.name));
    if (!r) return ctx.Fail(r.error().message());
    std::fprintf(ctx.out, "topic-token %s revoked\n", f.name.c_str());
    return 0;
  } else {
    ctx.Fail(
        "gantry delete: expected `function NAME`, `secret NAME`, `topic-token TOPIC` or `-f FILE`");
    return 2;
  }
  ApiClient api = ctx.Client();
  int failures = 0;
  for (const auto& [ns, name] : targets) {
    auto reply =
        api.Call("DELETE", fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}", ns, name));
    if (!reply) return ctx.Fail(fmt::format("gantry delete: {}", reply.error().message()));
    if (reply->status >= 300) {
      ctx.Fail(
          fmt::format("gantry delete: function.gantry.dev/{}: {}", name, reply->ErrorMessage()));
      ++failures;
      continue;
    }
    std::fprintf(ctx.out, "function.gantry.dev/%s deleted\n", name.c_str());
  }
  return failures > 0 ? 1 : 0;
}

}  // namespace

void AddDeleteCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<DeleteFlags>();
  CLI::App* cmd = app.add_subcommand("delete", "drain and remove functions, or delete a secret");
  cmd->add_option("kind", f->kind, "function or secret");
  cmd->add_option("name", f->name, "the function or secret");
  cmd->add_option("-n,--namespace", f->ns_flag, "namespace (default: default)")
      ->each([f](const std::string& v) { f->ns = v; });
  cmd->add_option("-f,--filename", f->files,
                  "delete the functions of these manifests (- for stdin)");
  cmd->add_flag("-R,--recursive", f->recursive, "read sub-directories too");
  cmd->callback([f, &ctx] { ctx.exit_code = RunDelete(*f, ctx); });
}

}  // namespace gantry::cli
