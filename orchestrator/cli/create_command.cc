#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "cli/commands.h"

namespace gantry::cli {
namespace {

struct CreateSecretFlags {
  std::string name;
  std::string ns = "default";
  std::string literal;
  std::string file;
};

int RunCreateSecret(const CreateSecretFlags& f, const CommandContext& ctx) {
  std::string value;
  if (!f.file.empty()) {
    std::ifstream in(f.file, std::ios::binary);
    if (!in) return ctx.Fail(fmt::format("gantry create secret: cannot read {}", f.file));
    std::stringstream s;
    s << in.rdbuf();
    value = s.str();
  } else if (!f.literal.empty()) {
    auto eq = f.literal.find('=');
    value = eq == std::string::npos ? f.literal : f.literal.substr(eq + 1);
  } else {
    ctx.Fail("gantry create secret: give --from-literal or --from-file");
    return 2;
  }
  ApiClient api = ctx.Client();
  auto r =
      CheckedCall(api, "create secret", "PUT",
                  fmt::format("/apis/gantry/v1/namespaces/{}/secrets/{}", f.ns, f.name),
                  nlohmann::json{{"value", value}}.dump(), {{"Content-Type", "application/json"}});
  if (!r) return ctx.Fail(r.error().message());
  std::fprintf(ctx.out, "secret.gantry.dev/%s %s\n", f.name.c_str(),
               r->Json().value("result", "created").c_str());
  return 0;
}

}  // namespace

void AddCreateCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<CreateSecretFlags>();
  CLI::App* create = app.add_subcommand("create", "create an object from the command line");
  CLI::App* cmd = create->add_subcommand("secret", "a secret functions can mount");
  cmd->add_option("name", f->name, "the secret")->required();
  cmd->add_option("-n,--namespace", f->ns, "namespace")->capture_default_str();
  auto* literal =
      cmd->add_option("--from-literal", f->literal, "the value (KEY=VALUE takes VALUE)");
  auto* file = cmd->add_option("--from-file", f->file, "read the value from a file");
  literal->excludes(file);
  cmd->callback([f, &ctx] { ctx.exit_code = RunCreateSecret(*f, ctx); });

  auto topic = std::make_shared<std::string>();
  CLI::App* token = create->add_subcommand(
      "topic-token", "a token that may publish to one topic only (printed once; replaces the old)");
  token->add_option("topic", *topic, "the topic")->required();
  token->callback([topic, &ctx] {
    ApiClient api = ctx.Client();
    auto r = CheckedCall(api, "create topic-token", "PUT",
                         fmt::format("/apis/gantry/v1/topics/{}/token", *topic));
    if (!r) {
      ctx.exit_code = ctx.Fail(r.error().message());
      return;
    }
    std::fprintf(ctx.out, "%s\n", r->Json().value("token", "").c_str());
  });
}

}  // namespace gantry::cli
