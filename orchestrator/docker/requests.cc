#include "docker/requests.h"

#include <fmt/format.h>

#include <optional>

namespace gantry::docker {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr seconds kDefaultTimeout{60};

std::string Path(std::string_view prefix, std::string_view id, std::string_view suffix = "") {
  return fmt::format("{}{}{}", prefix, UrlEncode(id), suffix);
}

json StringArray(const std::vector<std::string>& items) {
  json a = json::array();
  for (const auto& s : items) a.push_back(s);
  return a;
}

}  // namespace

std::string UrlEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& query) {
  std::string out;
  for (const auto& [k, v] : query) {
    if (!out.empty()) out.push_back('&');
    out += UrlEncode(k);
    out.push_back('=');
    out += UrlEncode(v);
  }
  return out;
}

std::string FiltersJson(const LabelSelector& labels, const std::vector<std::string>& types,
                        const std::vector<std::string>& actions) {
  json f = json::object();
  if (!labels.empty()) f["label"] = StringArray(labels);
  if (!types.empty()) f["type"] = StringArray(types);
  if (!actions.empty()) f["event"] = StringArray(actions);
  return f.dump();
}

json ContainerCreateBody(const ContainerSpec& spec) {
  json body = {{"Image", spec.image}};
  if (!spec.entrypoint.empty()) body["Entrypoint"] = StringArray(spec.entrypoint);
  if (!spec.cmd.empty()) body["Cmd"] = StringArray(spec.cmd);
  if (!spec.env.empty()) body["Env"] = StringArray(spec.env);
  body["Labels"] = spec.labels;
  if (!spec.user.empty()) body["User"] = spec.user;
  if (!spec.working_dir.empty()) body["WorkingDir"] = spec.working_dir;
  if (!spec.hostname.empty()) body["Hostname"] = spec.hostname;
  if (!spec.stop_signal.empty()) body["StopSignal"] = spec.stop_signal;
  if (spec.stop_timeout_seconds) body["StopTimeout"] = *spec.stop_timeout_seconds;

  json host = json::object();
  json mounts = json::array();
  for (const Mount& m : spec.mounts) {
    json j = {{"Target", m.target}, {"ReadOnly", m.read_only}};
    if (m.type == Mount::Type::kBind) {
      j["Type"] = "bind";
      j["Source"] = m.source;
    } else {
      j["Type"] = "tmpfs";
      json opts = json::object();
      if (m.tmpfs_size_bytes > 0) opts["SizeBytes"] = m.tmpfs_size_bytes;
      if (m.tmpfs_mode > 0) opts["Mode"] = m.tmpfs_mode;
      if (!opts.empty()) j["TmpfsOptions"] = opts;
    }
    mounts.push_back(std::move(j));
  }
  if (!mounts.empty()) host["Mounts"] = std::move(mounts);
  if (!spec.ports.empty()) {
    json exposed = json::object();
    json bindings = json::object();
    for (const PortBinding& p : spec.ports) {
      std::string key = fmt::format("{}/{}", p.container_port, p.protocol);
      exposed[key] = json::object();
      bindings[key].push_back({{"HostIp", p.host_ip},
                               {"HostPort", p.host_port > 0 ? std::to_string(p.host_port) : ""}});
    }
    body["ExposedPorts"] = std::move(exposed);
    host["PortBindings"] = std::move(bindings);
  }
  if (spec.memory_bytes > 0) {
    host["Memory"] = spec.memory_bytes;
    host["MemorySwap"] = spec.memory_bytes;  // no swap beyond the limit
  }
  if (spec.nano_cpus > 0) host["NanoCpus"] = spec.nano_cpus;
  if (spec.pids_limit > 0) host["PidsLimit"] = spec.pids_limit;
  if (spec.read_only_rootfs) host["ReadonlyRootfs"] = true;
  if (!spec.cap_drop.empty()) host["CapDrop"] = StringArray(spec.cap_drop);
  if (!spec.cap_add.empty()) host["CapAdd"] = StringArray(spec.cap_add);
  if (!spec.security_opt.empty()) host["SecurityOpt"] = StringArray(spec.security_opt);
  if (spec.init) host["Init"] = true;
  if (!spec.network_mode.empty()) host["NetworkMode"] = spec.network_mode;
  if (spec.auto_remove) host["AutoRemove"] = true;
  if (!spec.log_driver.empty()) {
    host["LogConfig"] = {{"Type", spec.log_driver}, {"Config", spec.log_options}};
  }
  body["HostConfig"] = std::move(host);
  return body;
}

HttpRequest ContainerCreateRequest(const ContainerSpec& spec) {
  HttpRequest r{.method = "POST", .path = "/containers/create"};
  if (!spec.name.empty()) r.query.emplace_back("name", spec.name);
  r.body = ContainerCreateBody(spec).dump();
  r.content_type = "application/json";
  r.timeout = kDefaultTimeout;
  return r;
}

HttpRequest ContainerListRequest(const LabelSelector& labels, bool all) {
  HttpRequest r{.path = "/containers/json", .timeout = kDefaultTimeout};
  if (all) r.query.emplace_back("all", "1");
  if (!labels.empty()) r.query.emplace_back("filters", FiltersJson(labels));
  return r;
}

HttpRequest ContainerStopRequest(std::string_view id, int timeout_seconds) {
  HttpRequest r{.method = "POST", .path = Path("/containers/", id, "/stop")};
  r.query.emplace_back("t", std::to_string(timeout_seconds));
  // The engine answers after the grace period plus the kill; leave room for both.
  r.timeout = seconds(timeout_seconds) + kDefaultTimeout;
  return r;
}

HttpRequest ContainerKillRequest(std::string_view id, std::string_view signal) {
  HttpRequest r{
      .method = "POST", .path = Path("/containers/", id, "/kill"), .timeout = kDefaultTimeout};
  if (!signal.empty()) r.query.emplace_back("signal", std::string(signal));
  return r;
}

HttpRequest ContainerUpdateRequest(std::string_view id, const ContainerResources& resources) {
  nlohmann::json body = nlohmann::json::object();
  if (resources.memory_bytes > 0) body["Memory"] = resources.memory_bytes;
  if (resources.memory_swap != 0) body["MemorySwap"] = resources.memory_swap;
  if (resources.nano_cpus > 0) body["NanoCpus"] = resources.nano_cpus;
  if (resources.pids_limit > 0) body["PidsLimit"] = resources.pids_limit;
  return HttpRequest{.method = "POST",
                     .path = Path("/containers/", id, "/update"),
                     .body = body.dump(),
                     .content_type = "application/json",
                     .timeout = kDefaultTimeout};
}

HttpRequest ContainerArchiveRequest(std::string_view id, std::string_view path) {
  // No time limit: a big package is a long stream (the caller's sink may stop it).
  HttpRequest r{.method = "GET", .path = Path("/containers/", id, "/archive")};
  r.query.emplace_back("path", std::string(path));
  return r;
}

HttpRequest ContainerRemoveRequest(std::string_view id, const RemoveOptions& options) {
  HttpRequest r{.method = "DELETE", .path = Path("/containers/", id), .timeout = kDefaultTimeout};
  if (options.force) r.query.emplace_back("force", "1");
  if (options.volumes) r.query.emplace_back("v", "1");
  return r;
}

HttpRequest ContainerLogsRequest(std::string_view id, const LogsOptions& options) {
  HttpRequest r{.path = Path("/containers/", id, "/logs")};
  if (options.follow) r.query.emplace_back("follow", "1");
  r.query.emplace_back("stdout", options.stdout_stream ? "1" : "0");
  r.query.emplace_back("stderr", options.stderr_stream ? "1" : "0");
  if (options.since_unix > 0) r.query.emplace_back("since", std::to_string(options.since_unix));
  if (options.tail) r.query.emplace_back("tail", std::to_string(*options.tail));
  if (options.timestamps) r.query.emplace_back("timestamps", "1");
  return r;
}

HttpRequest EventsRequest(const EventsOptions& options) {
  HttpRequest r{.path = "/events"};
  if (options.since_unix) r.query.emplace_back("since", fmt::format("{:.9f}", *options.since_unix));
  if (options.until_unix) r.query.emplace_back("until", fmt::format("{:.9f}", *options.until_unix));
  if (!options.labels.empty() || !options.types.empty() || !options.actions.empty()) {
    r.query.emplace_back("filters", FiltersJson(options.labels, options.types, options.actions));
  }
  return r;
}

HttpRequest ImageBuildRequest(const BuildOptions& options) {
  HttpRequest r{.method = "POST", .path = "/build", .content_type = "application/x-tar"};
  for (const auto& t : options.tags) r.query.emplace_back("t", t);
  if (options.dockerfile != "Dockerfile") r.query.emplace_back("dockerfile", options.dockerfile);
  if (!options.labels.empty()) r.query.emplace_back("labels", json(options.labels).dump());
  if (!options.build_args.empty())
    r.query.emplace_back("buildargs", json(options.build_args).dump());
  if (options.no_cache) r.query.emplace_back("nocache", "1");
  r.query.emplace_back("pull", options.pull ? "1" : "0");
  r.query.emplace_back("rm", "1");
  r.query.emplace_back("forcerm", "1");
  return r;
}

HttpRequest ImageImportRequest(const ImportOptions& options) {
  HttpRequest r{.method = "POST", .path = "/images/create", .content_type = "application/x-tar"};
  r.query.emplace_back("fromSrc", "-");
  if (!options.repo.empty()) r.query.emplace_back("repo", options.repo);
  if (!options.tag.empty()) r.query.emplace_back("tag", options.tag);
  for (const auto& c : options.changes) r.query.emplace_back("changes", c);
  return r;
}

HttpRequest ImageListRequest(const LabelSelector& labels) {
  HttpRequest r{.path = "/images/json", .timeout = kDefaultTimeout};
  if (!labels.empty()) r.query.emplace_back("filters", FiltersJson(labels));
  return r;
}

HttpRequest ImageRemoveRequest(std::string_view name, bool force) {
  HttpRequest r{
      .method = "DELETE", .path = "/images/" + std::string(name), .timeout = kDefaultTimeout};
  if (force) r.query.emplace_back("force", "1");
  return r;
}

json NetworkCreateBody(const NetworkSpec& spec) {
  // CheckDuplicate: a second create of the same name is a 409, not a twin network.
  json body = {{"Name", spec.name},
               {"Driver", spec.driver},
               {"CheckDuplicate", true},
               {"Labels", spec.labels}};
  if (!spec.options.empty()) body["Options"] = spec.options;
  if (spec.internal) body["Internal"] = true;
  return body;
}

HttpRequest NetworkCreateRequest(const NetworkSpec& spec) {
  HttpRequest r{.method = "POST", .path = "/networks/create", .timeout = kDefaultTimeout};
  r.body = NetworkCreateBody(spec).dump();
  r.content_type = "application/json";
  return r;
}

HttpRequest NetworkInspectRequest(std::string_view name) {
  return HttpRequest{.path = Path("/networks/", name), .timeout = kDefaultTimeout};
}

HttpRequest NetworkListRequest(const LabelSelector& labels) {
  HttpRequest r{.path = "/networks", .timeout = kDefaultTimeout};
  if (!labels.empty()) r.query.emplace_back("filters", FiltersJson(labels));
  return r;
}

HttpRequest NetworkRemoveRequest(std::string_view name) {
  return HttpRequest{
      .method = "DELETE", .path = Path("/networks/", name), .timeout = kDefaultTimeout};
}

}  // namespace gantry::docker

namespace gantry::docker {
namespace {

// "1.41" -> {1, 41}; nullopt when malformed.
std::optional<std::pair<int, int>> SplitVersion(std::string_view v) {
  std::size_t dot = v.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == v.size()) return std::nullopt;
  int major = 0;
  int minor = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i == dot) continue;
    if (v[i] < '0' || v[i] > '9') return std::nullopt;
    int& part = i < dot ? major : minor;
    if (part > 10000) return std::nullopt;
    part = part * 10 + (v[i] - '0');
  }
  return std::make_pair(major, minor);
}

}  // namespace

core::Result<std::string> NegotiateApiVersion(std::string_view engine_api_version) {
  auto engine = SplitVersion(engine_api_version);
  if (!engine) {
    return core::Error::Unavailable(
        fmt::format("engine reports a malformed API version \"{}\"", engine_api_version));
  }
  auto min = SplitVersion(kMinApiVersion);
  auto max = SplitVersion(kMaxApiVersion);
  if (*engine < *min) {
    return core::Error::Unavailable(
        fmt::format("engine API version {} is older than the {} Gantry needs", engine_api_version,
                    kMinApiVersion));
  }
  if (*engine > *max) return std::string(kMaxApiVersion);
  return std::string(engine_api_version);
}

}  // namespace gantry::docker
