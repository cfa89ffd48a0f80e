#include <fmt/format.h>

#include <cstdio>
#include <iostream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/read_stdin.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"
#include "manifest/source_tree.h"

namespace gantry::cli {
namespace {

struct ValidateOptions {
  std::vector<std::string> paths;
  bool recursive = false;
  std::string output = "text";
  std::string secret_check = "namespaces";
};

// What one valid object looks like in the output.
struct Summary {
  std::string line;
  nlohmann::json json;
};

Summary Summarize(manifest::FileSystem& fs, const manifest::LoadedObject& loaded,
                  std::vector<manifest::ManifestError>& errors) {
  Summary s;
  if (const auto* fn = std::get_if<spec::FunctionSpec>(&loaded.object)) {
    auto hash = manifest::HashFunction(fs, *fn);
    if (!hash) {
      errors.push_back({loaded.file, loaded.position, "spec.source", hash.error().message()});
      return s;
    }
    std::string detail(spec::RuntimeName(fn->runtime()));
    if (!fn->handler().empty()) detail += " " + fn->handler();
    if (!fn->image().empty()) detail += " " + fn->image();
    s.line = fmt::format("{}: function {} valid ({}, concurrency {}, scale {}..{}, {})",
                         loaded.file, fn->QualifiedName(), detail, fn->concurrency(),
                         fn->scale().min, fn->scale().max, hash->substr(0, 7 + 12));
    s.json = {{"file", loaded.file},
              {"line", loaded.position.line},
              {"kind", "Function"},
              {"name", fn->name()},
              {"namespace", fn->namespace_name()},
              {"hash", *hash},
              {"canonical", spec::ToCanonicalJson(*fn)}};
  } else {
    const auto& secret = std::get<spec::SecretSpec>(loaded.object);
    // The value itself is never printed.
    s.line = fmt::format("{}: secret {} valid ({})", loaded.file, secret.QualifiedName(),
                         secret.DescribeSource());
    s.json = {{"file", loaded.file},
              {"line", loaded.position.line},
              {"kind", "Secret"},
              {"name", secret.name()},
              {"namespace", secret.namespace_name()},
              {"canonical", spec::ToCanonicalJson(secret)}};
  }
  return s;
}

int RunValidate(const ValidateOptions& options, const CommandContext& ctx) {
  manifest::LocalFileSystem fs;
  manifest::LoadOptions load;
  load.recursive = options.recursive;
  load.secret_check = options.secret_check == "all"    ? manifest::SecretCheck::kAll
                      : options.secret_check == "none" ? manifest::SecretCheck::kNone
                                                       : manifest::SecretCheck::kDefinedNamespaces;

  load.read_stdin = ReadStdin;
  // One batch, so that duplicate names across files (and stdin) are found.
  manifest::LoadResult result = manifest::LoadManifests(fs, options.paths, load);

  std::vector<Summary> summaries;
  for (const manifest::LoadedObject& o : result.objects) {
    Summary s = Summarize(fs, o, result.errors);
    if (!s.line.empty()) summaries.push_back(std::move(s));
  }
  if (result.objects.empty() && result.errors.empty()) {
    result.errors.push_back(
        {fmt::format("{}", fmt::join(options.paths, ", ")), {}, "", "no objects found"});
  }

  const bool valid = result.errors.empty();
  if (options.output == "json") {
    nlohmann::json out = {{"valid", valid},
                          {"objects", nlohmann::json::array()},
                          {"errors", nlohmann::json::array()},
                          {"skipped", result.skipped}};
    for (const Summary& s : summaries) out["objects"].push_back(s.json);
    for (const manifest::ManifestError& e : result.errors) {
      out["errors"].push_back({{"file", e.file},
                               {"line", e.position.line},
                               {"column", e.position.column},
                               {"path", e.path},
                               {"message", e.message}});
    }
    std::string text = out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
    std::fprintf(ctx.out, "%s\n", text.c_str());
  } else if (valid) {
    for (const Summary& s : summaries) std::fprintf(ctx.out, "%s\n", s.line.c_str());
  } else {
    for (const manifest::ManifestError& e : result.errors) {
      std::fprintf(ctx.err, "%s\n", e.ToString().c_str());
    }
    std::fprintf(ctx.err, "gantry validate: %zu error%s\n", result.errors.size(),
                 result.errors.size() == 1 ? "" : "s");
  }
  return valid ? 0 : 1;
}

}  // namespace

void AddValidateCommand(CLI::App& app, CommandContext& ctx) {
  auto options = std::make_shared<ValidateOptions>();
  CLI::App* cmd = app.add_subcommand(
      "validate", "Check manifests without applying them: every error with file:line:column");
  cmd->add_option(
         "-f,--filename", options->paths,
         "Manifest file or directory (repeatable; - for stdin). In a directory only Gantry "
         "manifests are read (apiVersion: gantry.dev/..., or named gantry.yaml / *.gantry.yaml)")
      ->required();
  cmd->add_flag("-R,--recursive", options->recursive, "Read sub-directories of directories too");
  cmd->add_option("-o,--output", options->output, "Output format")
      ->check(CLI::IsMember({"text", "json"}));
  cmd->add_option("--secret-check", options->secret_check,
                  "Report undefined secrets: in namespaces the files define secrets for "
                  "(namespaces), always (all) or never (none)")
      ->check(CLI::IsMember({"namespaces", "all", "none"}));
  cmd->callback([options, &ctx] { ctx.exit_code = RunValidate(*options, ctx); });
}

}  // namespace gantry::cli
