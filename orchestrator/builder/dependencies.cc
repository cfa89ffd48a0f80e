#include "builder/dependencies.h"

#include <fmt/format.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <vector>

namespace gantry::builder {
namespace {

constexpr std::string_view kFunction = "function/";

std::string Quote(const std::string& s) {
  return nlohmann::json(s).dump();
}

// `path` (relative to the source root) as a clean relative path, or "" when it is absolute,
// a URL, or leaves the tree: those are the installer's business, not files to copy.
std::string LocalPath(std::string_view base_dir, std::string_view path) {
  if (path.empty() || path.front() == '/' || path.find("://") != std::string_view::npos) return "";
  if (path.rfind("file:", 0) == 0) return "";
  std::filesystem::path p =
      (std::filesystem::path(std::string(base_dir)) / std::string(path)).lexically_normal();
  std::string s = p.generic_string();
  while (!s.empty() && s.back() == '/') s.pop_back();
  if (s.empty() || s == "." || s.rfind("..", 0) == 0) return "";
  return s;
}

bool InContext(const BuildContext& context, const std::string& rel) {
  return context.Find(std::string(kFunction) + rel) != nullptr;
}

// The local files a requirements file names (itself included), following -r/-c.
void RequirementInputs(const BuildContext& context, const std::string& file,
                       std::set<std::string>& out) {
  if (!out.insert(file).second) return;
  const ContextEntry* e = context.Find(std::string(kFunction) + file);
  if (e == nullptr || e->type != ContextEntry::Type::kFile) return;
  std::string dir = std::filesystem::path(file).parent_path().generic_string();
  std::istringstream in(e->content);
  std::string line;
  while (std::getline(in, line)) {
    if (auto hash = line.find(" #"); hash != std::string::npos) line.erase(hash);
    if (!line.empty() && line.front() == '#') continue;
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string t; words >> t;) w.push_back(t);
    for (std::size_t i = 0; i < w.size(); ++i) {
      std::string opt = w[i];
      std::string value;
      if (auto eq = opt.find('='); opt.rfind("--", 0) == 0 && eq != std::string::npos) {
        value = opt.substr(eq + 1);
        opt.erase(eq);
      } else if ((opt == "-r" || opt == "-c" || opt == "-f" || opt == "-e" ||
                  opt == "--requirement" || opt == "--constraint" || opt == "--find-links" ||
                  opt == "--editable") &&
                 i + 1 < w.size()) {
        value = w[++i];
      } else if (opt.size() > 2 && opt[0] == '-' &&
                 (opt[1] == 'r' || opt[1] == 'c' || opt[1] == 'f')) {
        value = opt.substr(2);
        opt.resize(2);
      } else if (opt.front() != '-') {
        value = opt;  // a requirement: copied only when it is a local path
        opt.clear();
      }
      std::string local = LocalPath(dir, value);
      if (local.empty() || !InContext(context, local)) continue;
      if (opt == "-r" || opt == "--requirement" || opt == "-c" || opt == "--constraint") {
        RequirementInputs(context, local, out);
      } else {
        out.insert(local);
      }
    }
  }
}

std::string CopyLines(const BuildContext& context, const std::set<std::string>& inputs,
                      const std::string& dest) {
  std::string df;
  for (const std::string& rel : inputs) {
    const ContextEntry* e = context.Find(std::string(kFunction) + rel);
    if (e == nullptr) continue;
    bool dir = e->type == ContextEntry::Type::kDirectory;
    df +=
        fmt::format("COPY [{}, {}]\n", Quote(fmt::format("{}{}{}", kFunction, rel, dir ? "/" : "")),
                    Quote(dest + "/" + rel + (dir ? "/" : "")));
  }
  return df;
}

std::string ArgLines(DependencyStep& step, const std::map<std::string, std::string>& env,
                     std::string_view prefix) {
  std::string df;
  for (const auto& [k, v] : env) {
    if (k.rfind(prefix, 0) != 0 || v.empty()) continue;
    step.build_args[k] = v;
    df += fmt::format("ARG {}\n", k);
  }
  return df;
}

core::Result<DependencyStep> PythonStep(const BuildContext& context,
                                        const std::map<std::string, std::string>& env) {
  DependencyStep step;
  if (!InContext(context, "requirements.txt")) return step;
  std::set<std::string> inputs;
  RequirementInputs(context, "requirements.txt", inputs);
  if (InContext(context, "wheels")) inputs.insert("wheels");
  step.installer = "pip install";
  step.dockerfile = CopyLines(context, inputs, "/var/task");
  step.dockerfile += ArgLines(step, env, "PIP_");
  // --target keeps the install out of the interpreter's own (externally managed) tree.
  step.run = fmt::format(
      "RUN cd /var/task && PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 "
      "PIP_ROOT_USER_ACTION=ignore "
      "PIP_PROGRESS_BAR=off python3 -m pip install --no-warn-script-location --target {} -r "
      "requirements.txt",
      kPythonDepsDir);
  step.dockerfile += step.run + "\n";
  return step;
}

core::Result<DependencyStep> NodeStep(const BuildContext& context,
                                      const std::map<std::string, std::string>& env) {
  DependencyStep step;
  const ContextEntry* package = context.Find(std::string(kFunction) + "package.json");
  if (package == nullptr || package->type != ContextEntry::Type::kFile) return step;
  nlohmann::json j = nlohmann::json::parse(package->content, nullptr, false);
  if (!j.is_object()) return core::Error::InvalidArgument("package.json is not a JSON object");
  std::set<std::string> inputs = {"package.json"};
  bool lock = InContext(context, "package-lock.json");
  if (lock) inputs.insert("package-lock.json");
  for (const char* section : {"dependencies", "optionalDependencies"}) {
    auto deps = j.find(section);
    if (deps == j.end() || !deps->is_object()) continue;
    for (const auto& [name, version] : deps->items()) {
      if (!version.is_string()) continue;
      const auto& v = version.get_ref<const std::string&>();
      if (v.rfind("file:", 0) != 0) continue;
      std::string local = LocalPath("", std::string_view(v).substr(5));
      if (!local.empty() && InContext(context, local)) inputs.insert(local);
    }
  }
  step.installer = lock ? "npm ci" : "npm install";
  step.dockerfile = CopyLines(context, inputs, kNodeDepsDir);
  step.dockerfile += ArgLines(step, env, "npm_config_");
  // The cache goes to /tmp and away: it is not part of the function's package.
  step.run = fmt::format(
      "RUN cd {} && {} --omit=dev --no-audit --no-fund --no-update-notifier --cache /tmp/npm-cache "
      "&& rm -rf /tmp/npm-cache",
      kNodeDepsDir, step.installer);
  step.dockerfile += step.run + "\n";
  return step;
}

// The engine colours a step's stderr (ESC [ 91 m ... ESC [ 0 m): the message is plain text.
std::string WithoutEscapes(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\x1b' && i + 1 < s.size() && s[i + 1] == '[') {
      std::size_t end = s.find_first_of("ABCDEFGHJKSTfmnsu", i + 2);
      if (end == std::string_view::npos) break;
      i = end;
      continue;
    }
    out.push_back(s[i]);
  }
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

core::Result<DependencyStep> PlanDependencies(
    spec::Runtime runtime, const BuildContext& context,
    const std::map<std::string, std::string>& install_env) {
  if (runtime == spec::Runtime::kPython3) return PythonStep(context, install_env);
  if (runtime == spec::Runtime::kNode) return NodeStep(context, install_env);
  return DependencyStep{};
}

std::string DescribeInstallFailure(std::string_view installer, std::string_view build_error) {
  static constexpr std::string_view kTail = "output of the failing step (last lines):";
  std::string plain = WithoutEscapes(build_error);
  build_error = plain;
  std::vector<std::string_view> lines;
  if (auto at = build_error.find(kTail); at != std::string_view::npos) {
    std::string_view rest = build_error.substr(at + kTail.size());
    while (!rest.empty()) {
      std::size_t nl = rest.find('\n');
      std::string_view line = Trim(rest.substr(0, nl));
      // The engine's own bookkeeping says nothing about the install.
      if (!line.empty() && line.rfind("Removing intermediate container", 0) != 0 &&
          line.rfind("---> ", 0) != 0) {
        lines.push_back(line);
      }
      if (nl == std::string_view::npos) break;
      rest.remove_prefix(nl + 1);
    }
  }
  // pip ends with "ERROR: <why>" (the last one names the requirement); npm with a block
  // of "npm ERR! " lines whose first informative one says what failed.
  std::string verdict;
  bool npm = installer.rfind("npm", 0) == 0;
  for (std::string_view line : lines) {
    if (!npm && line.rfind("ERROR: ", 0) == 0) verdict = line.substr(7);
    if (npm && verdict.empty() && line.rfind("npm ERR! ", 0) == 0) {
      std::string_view what = Trim(line.substr(9));
      bool bookkeeping = false;
      for (std::string_view word :
           {"code ", "syscall ", "errno ", "path ", "A complete log", "Log files"}) {
        if (what.rfind(word, 0) == 0) bookkeeping = true;
      }
      if (!bookkeeping && !what.empty()) verdict = what;
    }
  }
  if (verdict.empty()) {
    std::string_view first = build_error.substr(0, build_error.find('\n'));
    if (auto failed = first.find("failed: "); failed != std::string_view::npos)
      first.remove_prefix(failed + 8);
    verdict = first;
  }
  std::string out = fmt::format("{}: {}", installer, verdict);
  if (!lines.empty()) {
    out += fmt::format("\nlast lines of {}'s output:", installer.substr(0, installer.find(' ')));
    for (std::string_view line : lines) out += fmt::format("\n  {}", line);
  }
  return out;
}

}  // namespace gantry::builder
