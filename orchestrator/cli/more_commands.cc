// describe, logs, scale, create secret and version: the smaller verbs.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>
#include <ctime>

#include "cli/commands.h"
#include "core/version.h"

namespace gantry::cli {
namespace {

// Runs a call and turns transport and HTTP errors into the one-line message of `verb`.
core::Result<Reply> Checked(ApiClient& api, const std::string& verb, const std::string& method, const std::string& path,
                            const std::string& body = "",
                            const std::vector<std::pair<std::string, std::string>>& headers = {}) {
  auto reply = api.Call(method, path, body, headers);
  if (!reply) return reply.error().WithContext("gantry " + verb);
  if (reply->status >= 300) {
    return core::Error::InvalidArgument(fmt::format("gantry {}: {}", verb, reply->ErrorMessage()));
  }
  return reply;
}

int Report(const core::Error& e) {
  std::fprintf(stderr, "%s\n", e.message().c_str());
  return 1;
}

void PrintDescribe(const nlohmann::json& d) {
  const auto& st = d["status"];
  const auto& spec = d["spec"];
  std::printf("Name:         %s\n", d["metadata"].value("name", "").c_str());
  std::printf("Namespace:    %s\n", d["metadata"].value("namespace", "").c_str());
  std::printf("Runtime:      %s\n", spec.value("runtime", "").c_str());
  std::printf("Image:        %s\n", st.value("image", "").c_str());
  std::printf("Generation:   %lld\n", static_cast<long long>(st.value("generation", 0)));
  std::printf("Status:       %s\n", st.value("phase", "").c_str());
  std::printf("Replicas:     %d ready, %d starting, %d in flight, %d queued\n", st.value("readyReplicas", 0),
              st.value("startingReplicas", 0), st.value("inFlight", 0), st.value("queued", 0));
  std::printf("Created:      %s\n", st.value("createdAt", "").c_str());
  std::printf("Updated:      %s\n", st.value("updatedAt", "").c_str());
  std::printf("Last call:    %s\n", st["lastInvocation"].is_string() ? st["lastInvocation"].get<std::string>().c_str()
                                                                       : "never");
  if (!st.value("lastError", "").empty()) std::printf("Last error:   %s\n", st.value("lastError", "").c_str());
  std::printf("Spec:\n");
  for (const auto& [k, v] : spec.items()) {
    if (!v.is_null()) std::printf("  %s: %s\n", k.c_str(), v.is_string() ? v.get<std::string>().c_str() : v.dump().c_str());
  }
  if (!st["replicas"].empty()) {
    std::printf("Replica list:\n  %-14s %-4s %-9s %-9s %s\n", "ID", "GEN", "STATE", "INFLIGHT", "STARTED");
    for (const auto& r : st["replicas"]) {
      std::printf("  %-14s %-4lld %-9s %-9d %s\n", r.value("id", "").c_str(),
                  static_cast<long long>(r.value("generation", 0)), r.value("state", "").c_str(),
                  r.value("inFlight", 0), r.value("startedAt", "").c_str());
    }
  }
}

constexpr const char* kVerbs = "apply get describe delete invoke logs scale create validate version login completion";

// Completion scripts: verbs, kinds and flags; function names come from `gantry get -o name`.
std::string BashCompletion() {
  return fmt::format(R"BASH(# gantry bash completion: source <(gantry completion bash)
_gantry() {{
  local cur prev verb
  cur="${{COMP_WORDS[COMP_CWORD]}}"
  prev="${{COMP_WORDS[COMP_CWORD-1]}}"
  verb="${{COMP_WORDS[1]}}"
  if [[ $COMP_CWORD -eq 1 ]]; then
    COMPREPLY=( $(compgen -W "{}" -- "$cur") ); return
  fi
  case "$prev" in
    -f|--filename|--token-file|--from-file) COMPREPLY=( $(compgen -f -- "$cur") ); return ;;
    -o|--output) COMPREPLY=( $(compgen -W "json yaml wide name" -- "$cur") ); return ;;
  esac
  case "$verb" in
    get|describe|delete|scale)
      if [[ $COMP_CWORD -eq 2 ]]; then COMPREPLY=( $(compgen -W "functions function secrets" -- "$cur") ); return; fi
      COMPREPLY=( $(compgen -W "$(gantry get functions -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ) ;;
    invoke|logs)
      COMPREPLY=( $(compgen -W "$(gantry get functions -o name 2>/dev/null | sed 's|.*/||')" -- "$cur") ) ;;
    create) COMPREPLY=( $(compgen -W "secret" -- "$cur") ) ;;
    completion) COMPREPLY=( $(compgen -W "bash zsh" -- "$cur") ) ;;
    *) COMPREPLY=( $(compgen -W "-f --filename -R --recursive --wait --timeout --dry-run -n --namespace -o --output --server --token --token-file" -- "$cur") ) ;;
  esac
}}
complete -F _gantry gantry
)BASH",
                     kVerbs);
}

}  // namespace

void AddMoreCommands(CLI::App& app, const ClientConfig& flags, int& exit_code) {
  {
    struct F {
      std::string kind, name, ns = "default", output;
    };
    auto f = std::make_shared<F>();
    CLI::App* cmd = app.add_subcommand("describe", "show a function: spec, status, replicas, errors");
    cmd->add_option("kind", f->kind, "function")->required()->check(CLI::IsMember({"function", "functions", "fn"}));
    cmd->add_option("name", f->name, "the function")->required();
    cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
    cmd->add_option("-o,--output", f->output, "json or yaml")->check(CLI::IsMember({"json", "yaml"}));
    cmd->callback([f, &flags, &exit_code] {
      ApiClient api(ResolveConfig(flags));
      auto r = Checked(api, "describe", "GET", fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}", f->ns, f->name));
      if (!r) {
        exit_code = Report(r.error());
        return;
      }
      if (f->output == "json") {
        std::printf("%s\n", r->Json().dump(2).c_str());
      } else if (f->output == "yaml") {
        std::printf("%s", ToYaml(r->Json()).c_str());
      } else {
        PrintDescribe(r->Json());
      }
      exit_code = 0;
    });
  }
  {
    struct F {
      std::string name, ns = "default", since, output;
      int64_t tail = 0;
      bool follow = false;
    };
    auto f = std::make_shared<F>();
    CLI::App* cmd = app.add_subcommand("logs", "print a function's output (every replica, oldest first)");
    cmd->add_option("name", f->name, "the function")->required();
    cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
    cmd->add_option("--tail", f->tail, "the last N lines of each replica");
    cmd->add_option("--since", f->since, "only newer lines: a duration (30s, 5m, 2h)");
    cmd->add_flag("-f,--follow", f->follow, "keep printing new lines (polls once a second; Ctrl-C stops)");
    cmd->add_option("-o,--output", f->output, "json: one JSON object a line (name, namespace, instance, timestamp, text)")
        ->check(CLI::IsMember({"json"}));
    cmd->callback([f, &flags, &exit_code] {
      int64_t since = 0;
      if (!f->since.empty()) {
        char unit = f->since.back();
        int64_t n = std::atoll(f->since.c_str());
        int64_t mult = unit == 's' ? 1 : unit == 'm' ? 60 : unit == 'h' ? 3600 : 0;
        if (n <= 0 || mult == 0) {
          std::fprintf(stderr, "gantry logs: --since %s: expected a duration like 30s, 5m or 2h\n", f->since.c_str());
          exit_code = 2;
          return;
        }
        since = static_cast<int64_t>(std::time(nullptr)) - n * mult;
      }
      ApiClient api(ResolveConfig(flags));
      std::string last_stamp;
      do {
        std::string path = fmt::format("/system/logs?name={}&namespace={}", f->name, f->ns);
        if (f->tail > 0 && last_stamp.empty()) path += fmt::format("&tail={}", f->tail);
        if (since > 0) {
          char buf[32];
          std::time_t t = static_cast<std::time_t>(since);
          std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
          path += std::string("&since=") + buf;
        }
        auto r = Checked(api, "logs", "GET", path);
        if (!r) {
          exit_code = Report(r.error());
          return;
        }
        std::istringstream lines(r->body);
        for (std::string line; std::getline(lines, line);) {
          auto e = nlohmann::json::parse(line, nullptr, false);
          if (!e.is_object()) continue;
          std::string stamp = e.value("timestamp", "");
          if (!last_stamp.empty() && stamp <= last_stamp) continue;  // seen on an earlier poll
          last_stamp = std::max(last_stamp, stamp);
          std::printf("%s\n", f->output == "json" ? line.c_str() : e.value("text", "").c_str());
        }
        std::fflush(stdout);
        if (f->follow) {
          since = static_cast<int64_t>(std::time(nullptr)) - 2;
          std::this_thread::sleep_for(std::chrono::seconds(1));
        }
      } while (f->follow);
      exit_code = 0;
    });
  }
  {
    struct F {
      std::string kind, name, ns = "default";
      int replicas = -1;
    };
    auto f = std::make_shared<F>();
    CLI::App* cmd = app.add_subcommand("scale", "set a function's replica count now");
    cmd->add_option("kind", f->kind, "function")->required()->check(CLI::IsMember({"function", "functions", "fn"}));
    cmd->add_option("name", f->name, "the function")->required();
    cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
    cmd->add_option("--replicas", f->replicas, "how many")->required()->check(CLI::NonNegativeNumber);
    cmd->callback([f, &flags, &exit_code] {
      ApiClient api(ResolveConfig(flags));
      auto r = Checked(api, "scale", "PUT", fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}/scale", f->ns, f->name),
                       nlohmann::json{{"replicas", f->replicas}}.dump(), {{"Content-Type", "application/json"}});
      if (!r) {
        exit_code = Report(r.error());
        return;
      }
      std::printf("function.gantry.dev/%s scaled to %d\n", f->name.c_str(), f->replicas);
      exit_code = 0;
    });
  }
  {
    struct F {
      std::string kind, name, ns = "default", literal, file;
    };
    auto f = std::make_shared<F>();
    CLI::App* create = app.add_subcommand("create", "create an object from the command line");
    CLI::App* cmd = create->add_subcommand("secret", "a secret functions can mount");
    cmd->add_option("name", f->name, "the secret")->required();
    cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
    auto* lit = cmd->add_option("--from-literal", f->literal, "the value (KEY=VALUE takes VALUE)");
    auto* file = cmd->add_option("--from-file", f->file, "read the value from a file");
    lit->excludes(file);
    cmd->callback([f, &flags, &exit_code] {
      std::string value;
      if (!f->file.empty()) {
        std::ifstream in(f->file, std::ios::binary);
        if (!in) {
          std::fprintf(stderr, "gantry create secret: cannot read %s\n", f->file.c_str());
          exit_code = 1;
          return;
        }
        std::stringstream s;
        s << in.rdbuf();
        value = s.str();
      } else if (!f->literal.empty()) {
        auto eq = f->literal.find('=');
        value = eq == std::string::npos ? f->literal : f->literal.substr(eq + 1);
      } else {
        std::fprintf(stderr, "gantry create secret: give --from-literal or --from-file\n");
        exit_code = 2;
        return;
      }
      ApiClient api(ResolveConfig(flags));
      auto r = Checked(api, "create secret", "PUT", fmt::format("/apis/gantry/v1/namespaces/{}/secrets/{}", f->ns, f->name),
                       nlohmann::json{{"value", value}}.dump(), {{"Content-Type", "application/json"}});
      if (!r) {
        exit_code = Report(r.error());
        return;
      }
      std::printf("secret.gantry.dev/%s %s\n", f->name.c_str(), r->Json().value("result", "created").c_str());
      exit_code = 0;
    });
  }
  {
    auto shell = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand("completion", "print a shell completion script (bash or zsh)");
    cmd->add_option("shell", *shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
    cmd->callback([shell, &exit_code] {
      if (*shell == "zsh") {
        // zsh runs the bash script through its bash-completion emulation.
        std::printf("# gantry zsh completion: source <(gantry completion zsh)\nautoload -U +X bashcompinit && "
                    "bashcompinit\n%s",
                    BashCompletion().c_str());
      } else {
        std::printf("%s", BashCompletion().c_str());
      }
      exit_code = 0;
    });
  }
  {
    struct F {
      std::string server, token, token_file;
    };
    auto f = std::make_shared<F>();
    CLI::App* cmd = app.add_subcommand("login", "check a server and token, and remember them in the config file");
    cmd->add_option("--server", f->server, "gantryd's URL")->required();
    auto* tok = cmd->add_option("--token", f->token, "the token");
    auto* file = cmd->add_option("--token-file", f->token_file, "read the token from this file");
    tok->excludes(file);
    cmd->callback([f, &exit_code] {
      ClientConfig c{.server = f->server, .token = f->token};
      if (!f->token_file.empty()) {
        std::ifstream in(f->token_file);
        if (!in || !std::getline(in, c.token) || c.token.empty()) {
          std::fprintf(stderr, "gantry login: cannot read a token from %s\n", f->token_file.c_str());
          exit_code = 1;
          return;
        }
      }
      while (!c.server.empty() && c.server.back() == '/') c.server.pop_back();
      ApiClient api(c);
      // The token must open a management call, not just reach the server.
      auto r = Checked(api, "login", "GET", "/apis/gantry/v1/functions");
      if (!r) {
        exit_code = Report(r.error());
        return;
      }
      std::string path = ConfigPath();
      if (auto s = WriteConfigFile(path, c); !s) {
        std::fprintf(stderr, "gantry login: %s\n", s.error().message().c_str());
        exit_code = 1;
        return;
      }
      std::printf("logged in to %s (saved in %s)\n", c.server.c_str(), path.c_str());
      exit_code = 0;
    });
  }
  {
    auto output = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand("version", "print the client's and the server's versions");
    cmd->add_option("-o,--output", *output, "json")->check(CLI::IsMember({"json"}));
    cmd->callback([output, &flags, &exit_code] {
      ApiClient api(ResolveConfig(flags));
      auto r = Checked(api, "version", "GET", "/apis/gantry/v1/version");
      nlohmann::json server = r ? r->Json() : nlohmann::json(nullptr);
      if (*output == "json") {
        std::printf("%s\n", nlohmann::json{{"client", {{"version", std::string(core::kVersion)}}}, {"server", server}}
                                .dump(2)
                                .c_str());
      } else {
        std::printf("Client: gantry %s\n", std::string(core::kVersion).c_str());
        if (r) {
          std::printf("Server: gantryd %s (engine %s, API %s)\n", server.value("version", "").c_str(),
                      server["engine"].is_object() ? server["engine"].value("version", "").c_str() : "?",
                      server["engine"].is_object() ? server["engine"].value("apiVersion", "").c_str() : "?");
        }
      }
      if (!r) {
        exit_code = Report(r.error());
        return;
      }
      exit_code = 0;
    });
  }
}

}  // namespace gantry::cli
