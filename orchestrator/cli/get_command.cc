#include <fmt/format.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/read_stdin.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::cli {
namespace {

struct GetFlags {
  std::string kind;
  std::string name;
  std::string ns = "default";
  bool all_namespaces = false;
  std::string output;
};

bool IsFunctionKind(const std::string& kind) {
  return kind == "functions" || kind == "function" || kind == "fn" || kind == "functions.gantry.dev";
}

int RunGet(const GetFlags& f, const ClientConfig& flags) {
  if (!IsFunctionKind(f.kind) && f.kind != "secrets" && f.kind != "secret") {
    std::fprintf(stderr, "gantry get: unknown kind \"%s\" (functions or secrets)\n", f.kind.c_str());
    return 2;
  }
  ApiClient api(ResolveConfig(flags));
  bool functions = IsFunctionKind(f.kind);
  std::string path;
  if (!functions) {
    path = fmt::format("/apis/gantry/v1/namespaces/{}/secrets", f.ns);
  } else if (!f.name.empty()) {
    path = fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}", f.ns, f.name);
  } else if (f.all_namespaces) {
    path = "/apis/gantry/v1/functions";
  } else {
    path = fmt::format("/apis/gantry/v1/namespaces/{}/functions", f.ns);
  }
  auto reply = api.Call("GET", path);
  if (!reply) {
    std::fprintf(stderr, "gantry get: %s\n", reply.error().message().c_str());
    return 1;
  }
  if (reply->status >= 300) {
    std::fprintf(stderr, "gantry get: %s\n", reply->ErrorMessage().c_str());
    return 1;
  }
  auto j = reply->Json();
  if (f.output == "json") {
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  if (f.output == "yaml") {
    std::printf("%s", ToYaml(j).c_str());
    return 0;
  }
  nlohmann::json items = j.contains("items") ? j["items"] : nlohmann::json::array({j});
  if (!functions) {
    if (f.output != "name") std::printf("%-30s %-20s\n", "NAME", "UPDATED");
    for (const auto& s : items) {
      if (f.output == "name") {
        std::printf("secret.gantry.dev/%s\n", s.value("name", "").c_str());
      } else {
        std::printf("%-30s %-20s\n", s.value("name", "").c_str(), s.value("updatedAt", "").c_str());
      }
    }
    return 0;
  }
  bool wide = f.output == "wide";
  if (f.output != "name") {
    std::printf("%s%-24s %-7s %-8s %-4s %s\n", f.all_namespaces ? fmt::format("{:<16} ", "NAMESPACE").c_str() : "",
                "NAME", "READY", "STATUS", "GEN", wide ? "IMAGE" : "RUNTIME");
  }
  for (const auto& item : items) {
    const auto& st = item["status"];
    std::string name = item["metadata"].value("name", "");
    if (f.output == "name") {
      std::printf("function.gantry.dev/%s\n", name.c_str());
      continue;
    }
    std::string ns = f.all_namespaces ? fmt::format("{:<16} ", item["metadata"].value("namespace", "")) : "";
    std::string ready = fmt::format("{}/{}", st.value("readyReplicas", 0),
                                    st.value("readyReplicas", 0) + st.value("startingReplicas", 0));
    std::printf("%s%-24s %-7s %-8s %-4lld %s\n", ns.c_str(), name.c_str(), ready.c_str(),
                st.value("phase", "").c_str(), static_cast<long long>(st.value("generation", 0)),
                wide ? st.value("image", "").c_str() : item["spec"].value("runtime", "").c_str());
  }
  return 0;
}

struct DeleteFlags {
  std::string kind;
  std::string name;
  std::string ns = "default";
  std::string ns_flag;  // -n as given (empty: not given)
  std::vector<std::string> files;
  bool recursive = false;
};

// gantry delete secret NAME: gantryd refuses (409, naming them) while functions use it.
int DeleteSecret(const DeleteFlags& f, const ClientConfig& flags) {
  ApiClient api(ResolveConfig(flags));
  auto reply =
      api.Call("DELETE", fmt::format("/apis/gantry/v1/namespaces/{}/secrets/{}", f.ns, f.name));
  if (!reply) {
    std::fprintf(stderr, "gantry delete: %s\n", reply.error().message().c_str());
    return 1;
  }
  if (reply->status >= 300) {
    std::fprintf(stderr, "gantry delete: secret.gantry.dev/%s: %s\n", f.name.c_str(),
                 reply->ErrorMessage().c_str());
    return 1;
  }
  std::printf("secret.gantry.dev/%s deleted\n", f.name.c_str());
  return 0;
}

int RunDelete(const DeleteFlags& f, const ClientConfig& flags) {
  std::vector<std::pair<std::string, std::string>> targets;  // (namespace, name)
  if (!f.files.empty()) {
    manifest::LocalFileSystem local;
    auto loaded = manifest::LoadManifests(
        local, f.files,
        {.recursive = f.recursive, .default_namespace = f.ns_flag, .read_stdin = ReadStdin});
    for (const auto& e : loaded.errors) std::fprintf(stderr, "%s\n", e.ToString().c_str());
    if (!loaded.ok()) return 1;
    for (const auto& o : loaded.objects) {
      if (const auto* fn = std::get_if<spec::FunctionSpec>(&o.object)) targets.emplace_back(fn->namespace_name(), fn->name());
    }
  } else if (IsFunctionKind(f.kind) && !f.name.empty()) {
    targets.emplace_back(f.ns, f.name);
  } else if ((f.kind == "secret" || f.kind == "secrets") && !f.name.empty()) {
    return DeleteSecret(f, flags);
  } else {
    std::fprintf(stderr, "gantry delete: expected `function NAME`, `secret NAME` or `-f FILE`\n");
    return 2;
  }
  ApiClient api(ResolveConfig(flags));
  int failures = 0;
  for (const auto& [ns, name] : targets) {
    auto reply = api.Call("DELETE", fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}", ns, name));
    if (!reply) {
      std::fprintf(stderr, "gantry delete: %s\n", reply.error().message().c_str());
      return 1;
    }
    if (reply->status >= 300) {
      std::fprintf(stderr, "gantry delete: function.gantry.dev/%s: %s\n", name.c_str(), reply->ErrorMessage().c_str());
      ++failures;
      continue;
    }
    std::printf("function.gantry.dev/%s deleted\n", name.c_str());
  }
  return failures > 0 ? 1 : 0;
}

}  // namespace

void AddGetCommand(CLI::App& app, const ClientConfig& flags, int& exit_code) {
  auto f = std::make_shared<GetFlags>();
  CLI::App* cmd = app.add_subcommand("get", "list functions or secrets, or show one function");
  cmd->add_option("kind", f->kind, "functions or secrets")->required();
  cmd->add_option("name", f->name, "one function");
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  cmd->add_flag("-A,--all-namespaces", f->all_namespaces, "functions of every namespace");
  cmd->add_option("-o,--output", f->output, "wide, json, yaml or name")->check(CLI::IsMember({"wide", "json", "yaml", "name"}));
  cmd->callback([f, &flags, &exit_code] { exit_code = RunGet(*f, flags); });
}

void AddDeleteCommand(CLI::App& app, const ClientConfig& flags, int& exit_code) {
  auto f = std::make_shared<DeleteFlags>();
  CLI::App* cmd = app.add_subcommand("delete", "drain and remove functions, or delete a secret");
  cmd->add_option("kind", f->kind, "function or secret");
  cmd->add_option("name", f->name, "the function or secret");
  cmd->add_option("-n,--namespace", f->ns_flag, "namespace (default: default)")
      ->each([f](const std::string& v) { f->ns = v; });
  cmd->add_option("-f,--filename", f->files,
                  "delete the functions of these manifests (- for stdin)");
  cmd->add_flag("-R,--recursive", f->recursive, "read sub-directories too");
  cmd->callback([f, &flags, &exit_code] { exit_code = RunDelete(*f, flags); });
}

}  // namespace gantry::cli
