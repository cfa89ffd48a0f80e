#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "builder/bundle.h"
#include "builder/bundle_limits.h"
#include "cli/apply_progress.h"
#include "cli/commands.h"
#include "cli/read_stdin.h"
#include "manifest/file_system.h"
#include "manifest/loader.h"

namespace gantry::cli {
namespace {

struct ApplyFlags {
  std::vector<std::string> files;
  bool recursive = false;
  std::string dry_run;  // "", "client", "server"
  bool wait = false;
  std::string timeout = "2m";
  std::string ns;
  std::string progress = "auto";
};

// The reason a function did not come up, with its failed replica's last log lines
// indented under it.
std::string WithLastLines(const std::string& reason, const nlohmann::json& lines) {
  std::string out = reason;
  if (lines.is_array() && !lines.empty()) {
    out += "\n  last log lines:";
    for (const auto& l : lines) {
      if (l.is_string()) out += "\n    " + l.get<std::string>();
    }
  }
  return out;
}

// Proves the function runs: gantryd's wait route starts a replica when none is ready
// (scale.min 0 included: it idles out afterwards) and answers once its handler is loaded,
// or with the reason and last log lines when it can't start. Then polls until scale.min
// replicas are ready. An error naming the reason when it failed or the time ran out. A
// gantryd without the wait route (404/405) is only polled.
core::Status WaitReady(const CommandContext& ctx, ApiClient& api, const spec::FunctionSpec& fn,
                       core::SteadyTime deadline, const std::string& timeout) {
  std::string path =
      fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}", fn.namespace_name(), fn.name());
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ctx.clock->Now());
  auto proven = api.Call(
      "POST", fmt::format("{}/wait?timeout={}ms", path, std::max<int64_t>(left.count(), 1)));
  if (!proven) return proven.error();
  if (proven->status == 409 || proven->status == 503 || proven->status == 504) {
    auto j = proven->Json();
    std::string reason = j.is_object() ? j.value("error", "") : "";
    if (reason.empty()) reason = proven->ErrorMessage();
    std::string phase = j.is_object() ? j.value("phase", "") : "";
    return core::Error::Unavailable(WithLastLines(
        phase.empty() ? reason : fmt::format("{}: {}", phase, reason),
        j.is_object() && j.contains("lastLines") ? j["lastLines"] : nlohmann::json()));
  }
  std::string last = "no answer yet";
  while (true) {
    auto reply = api.Call("GET", path);
    if (!reply) return reply.error();
    if (reply->status == 200) {
      auto st = reply->Json()["status"];
      std::string phase = st.value("phase", "");
      int ready = st.value("readyReplicas", 0);
      std::string reason = st.value("reason", "");
      if (reason.empty()) reason = st.value("lastError", "");
      if (phase == "failed" || phase == "BuildFailed" || phase == "CrashLoop") {
        return core::Error::InvalidArgument(
            WithLastLines(fmt::format("{}: {}", phase == "failed" ? "failed" : phase, reason),
                          st.contains("lastLogLines") ? st["lastLogLines"] : nlohmann::json()));
      }
      bool up = phase == "ready" || phase == "Ready" || phase == "Degraded" ||
                (phase == "ScaledToZero" && fn.scale().min == 0);
      if (up && ready >= fn.scale().min) return core::Ok();
      last = fmt::format("{}/{} replicas ready{}", ready, fn.scale().min,
                         reason.empty() ? "" : ", last error: " + reason);
    } else {
      last = reply->ErrorMessage();
    }
    if (ctx.clock->Now() >= deadline) {
      return core::Error::Timeout(fmt::format("not ready after {}: {}", timeout, last));
    }
    ctx.sleep(std::chrono::milliseconds(250));
  }
}

core::Result<std::string> SecretValue(const spec::SecretSpec& s) {
  switch (s.source()) {
    case spec::SecretSource::kLiteral:
      return s.literal();
    case spec::SecretSource::kFile: {
      std::ifstream in(s.file_path(), std::ios::binary);
      if (!in) return core::Error::NotFound(fmt::format("cannot read {}", s.file_path()));
      std::stringstream out;
      out << in.rdbuf();
      return out.str();
    }
    case spec::SecretSource::kEnv: {
      const char* v = std::getenv(s.env_name().c_str());
      if (v == nullptr) {
        return core::Error::NotFound(
            fmt::format("environment variable {} is not set", s.env_name()));
      }
      return std::string(v);
    }
  }
  return core::Error::Internal("unknown secret source");
}

// $CI, where CI systems say they run the job.
std::string CiEnv(const CommandContext& ctx) {
  if (ctx.sources.env) return ctx.sources.env("CI");
  const char* v = std::getenv("CI");
  return v == nullptr ? "" : v;
}

// The width of the terminal `f` is, or 80.
std::size_t TerminalColumns(std::FILE* f) {
  winsize size{};
  if (::ioctl(::fileno(f), TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  return 80;
}

// Applies one function; returns the result word, or an error naming the cause. Unless
// `progress` is kQuiet, the build's progress is asked for and shown as it streams.
core::Result<std::string> ApplyFunction(const CommandContext& ctx, ApiClient& api,
                                        const spec::FunctionSpec& fn, const std::string& dry_run,
                                        ProgressMode progress) {
  auto tar = builder::MakeBundle(fn);
  if (!tar) return tar.error();
  auto unpacked = builder::BundleUnpackedSize(*tar);
  if (!unpacked) return unpacked.error();
  // Sent compressed, like a Lambda zip; the digest is the tar's.
  auto bundle = builder::CompressBundle(*tar);
  if (!bundle) return bundle.error();
  std::string path =
      fmt::format("/apis/gantry/v1/namespaces/{}/functions/{}", fn.namespace_name(), fn.name());
  if (dry_run == "server") path += "?dryRun=server";
  if (dry_run.empty()) {
    // Offer the digest first: unchanged source isn't uploaded.
    auto offer =
        api.Call("PUT", path, "", {{"X-Gantry-Bundle-Digest", builder::BundleDigest(*tar)}});
    if (!offer) return offer.error();
    if (offer->status == 200) return std::string("unchanged");
    if (offer->status != 412) return core::Error::InvalidArgument(offer->ErrorMessage());
    // The server says what it accepts: a bundle over it is refused here, with the reason,
    // rather than cut off mid-upload.
    nlohmann::json answer = offer->Json();
    auto limits = builder::BundleLimits::FromJson(
        answer.is_object() && answer.contains("limits") ? answer["limits"] : nlohmann::json());
    if (auto over = builder::CheckBundleSize(bundle->size(), *unpacked, limits)) {
      return core::Error::InvalidArgument(over->message);
    }
  }
  const bool terminal = progress == ProgressMode::kTerminal;
  if (terminal) {
    std::fprintf(ctx.out, "function.gantry.dev/%s: uploading %zu KiB, building...\r",
                 fn.name().c_str(), bundle->size() / 1024);
    std::fflush(ctx.out);
  }
  ApplyProgressView view(progress, fn.name(), ctx.out, ctx.err,
                         terminal ? TerminalColumns(ctx.out) : 80);
  bool cleared = !terminal;  // the "uploading" line
  auto on_body = [&](std::string_view chunk) {
    if (!cleared) std::fprintf(ctx.out, "\33[2K\r");
    cleared = true;
    view.Feed(chunk);
    return true;
  };
  auto reply = progress == ProgressMode::kQuiet
                   ? api.Call("PUT", path, *bundle, {{"Content-Type", "application/gzip"}})
                   : api.CallStreaming(
                         "PUT", path, *bundle,
                         {{"Content-Type", "application/gzip"}, {"Accept", "application/x-ndjson"}},
                         on_body);
  if (!cleared) std::fprintf(ctx.out, "\33[2K\r");
  if (!reply) {
    // A server that stops reading mid-upload has most likely refused the size (an older
    // gantryd, or a server dry run, which has no offer to learn the limits from).
    if (reply.error().code() == core::ErrorCode::kUnavailable &&
        bundle->size() > (std::size_t{1} << 20)) {
      return reply.error().WithContext(
          fmt::format("uploading a bundle of {} MiB (if gantryd is up, the bundle may be over its "
                      "--max-upload)",
                      bundle->size() >> 20));
    }
    return reply.error();
  }
  if (reply->status >= 300) return core::Error::InvalidArgument(reply->ErrorMessage());
  nlohmann::json j;
  if (progress == ProgressMode::kQuiet) {
    j = reply->Json();
  } else {
    auto outcome = view.Finish();
    if (!outcome) return outcome.error();
    j = std::move(*outcome);
  }
  std::string result = j.is_object() ? j.value("result", "configured") : "configured";
  return result == "valid" ? std::string("valid (server dry run)") : result;
}

int RunApply(const ApplyFlags& f, const CommandContext& ctx) {
  if (!f.dry_run.empty() && f.dry_run != "client" && f.dry_run != "server") {
    ctx.Fail("gantry apply: --dry-run must be client or server");
    return 2;
  }
  manifest::LocalFileSystem local;
  auto loaded = manifest::LoadManifests(
      local, f.files,
      {.recursive = f.recursive, .default_namespace = f.ns, .read_stdin = ReadStdin});
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) std::fprintf(ctx.err, "%s\n", e.ToString().c_str());
    return ctx.Fail(fmt::format("gantry apply: {} error{}: nothing applied", loaded.errors.size(),
                                loaded.errors.size() == 1 ? "" : "s"));
  }
  auto timeout = ParseDurationFlag("apply", "--timeout", f.timeout);
  if (!timeout) {
    ctx.Fail(timeout.error().message());
    return 2;
  }
  auto progress = ResolveProgressMode(f.progress, ::isatty(::fileno(ctx.out)) == 1, CiEnv(ctx));
  if (!progress) {
    ctx.Fail(progress.error().message());
    return 2;
  }
  core::SteadyTime deadline = ctx.clock->Now() + *timeout;
  ApiClient api = ctx.Client();
  int failures = 0;
  std::vector<const spec::FunctionSpec*> applied;
  // Secrets first: functions may name them.
  for (const auto& object : loaded.objects) {
    const auto* secret = std::get_if<spec::SecretSpec>(&object.object);
    if (secret == nullptr) continue;
    std::string what = "secret.gantry.dev/" + secret->name();
    if (f.dry_run == "client") {
      std::fprintf(ctx.out, "%s valid (dry run)\n", what.c_str());
      continue;
    }
    auto value = SecretValue(*secret);
    core::Result<Reply> reply =
        value ? api.Call("PUT",
                         fmt::format("/apis/gantry/v1/namespaces/{}/secrets/{}",
                                     secret->namespace_name(), secret->name()),
                         nlohmann::json{{"value", *value}}.dump(),
                         {{"Content-Type", "application/json"}})
              : core::Result<Reply>(value.error());
    if (!reply || reply->status >= 300) {
      std::string why = reply ? reply->ErrorMessage() : reply.error().message();
      ctx.Fail(fmt::format("gantry apply: {}: {}", what, why));
      ++failures;
      if (!reply && reply.error().code() == core::ErrorCode::kUnavailable) return 1;
      continue;
    }
    std::fprintf(ctx.out, "%s %s\n", what.c_str(),
                 reply->Json().value("result", "configured").c_str());
  }
  for (const auto& object : loaded.objects) {
    const auto* fn = std::get_if<spec::FunctionSpec>(&object.object);
    if (fn == nullptr) continue;
    std::string what = "function.gantry.dev/" + fn->name();
    if (f.dry_run == "client") {
      std::fprintf(ctx.out, "%s valid (dry run)\n", what.c_str());
      continue;
    }
    auto result = ApplyFunction(ctx, api, *fn, f.dry_run, *progress);
    if (!result) {
      ctx.Fail(fmt::format("gantry apply: {}: {}", what, result.error().message()));
      ++failures;
      if (result.error().code() == core::ErrorCode::kUnavailable) return 1;
      continue;
    }
    std::fprintf(ctx.out, "%s %s\n", what.c_str(), result->c_str());
    std::fflush(ctx.out);
    applied.push_back(fn);
  }
  if (f.wait && f.dry_run.empty()) {
    for (const auto* fn : applied) {
      if (auto s = WaitReady(ctx, api, *fn, deadline, f.timeout); !s) {
        ctx.Fail(fmt::format("gantry apply: function.gantry.dev/{}: {}", fn->name(),
                             s.error().message()));
        ++failures;
      } else {
        std::fprintf(ctx.out, "function.gantry.dev/%s ready\n", fn->name().c_str());
      }
    }
  }
  return failures > 0 ? 1 : 0;
}

}  // namespace

void AddApplyCommand(CLI::App& app, CommandContext& ctx) {
  auto f = std::make_shared<ApplyFlags>();
  CLI::App* cmd =
      app.add_subcommand("apply", "deploy functions and secrets from manifests (kubectl apply)");
  cmd->add_option(
         "-f,--filename", f->files,
         "manifest file or directory (repeatable; - for stdin). In a directory only Gantry "
         "manifests are read (apiVersion: gantry.dev/..., or named gantry.yaml / *.gantry.yaml)")
      ->required();
  cmd->add_flag("-R,--recursive", f->recursive, "read sub-directories of a directory too");
  cmd->add_option("-n,--namespace", f->ns,
                  "namespace of objects that name none (default: default)");
  cmd->add_flag("--wait", f->wait,
                "wait until every function is ready; fail with the reason when one isn't");
  cmd->add_option("--timeout", f->timeout, "how long --wait waits (e.g. 90s, 2m, 1h30m)")
      ->capture_default_str();
  cmd->add_option("--progress", f->progress,
                  "how to show builds: auto (a live view on a terminal, plain lines in CI, "
                  "else none), plain (every line, on stderr), tty, or quiet")
      ->capture_default_str();
  cmd->add_option("--dry-run", f->dry_run,
                  "client: validate here only; server: validate on gantryd too");
  cmd->callback([f, &ctx] { ctx.exit_code = RunApply(*f, ctx); });
}

}  // namespace gantry::cli
