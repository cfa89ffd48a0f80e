#include "docker/responses.h"

#include <fmt/format.h>

#include <charconv>
#include <string>

namespace gantry::docker {
namespace {

using nlohmann::json;

// Reads an optional member, tolerating a missing key or a null; a present value of the
// wrong type throws json::type_error, which the callers turn into kInternal.
template <typename T>
T Get(const json& j, const char* key, T fallback = T{}) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  return it->get<T>();
}

Labels GetLabels(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object()) return {};
  Labels labels;
  for (const auto& [k, v] : it->items()) {
    if (v.is_string()) labels[k] = v.get<std::string>();
  }
  return labels;
}

template <typename Fn>
auto Guard(std::string_view what, Fn&& fn) -> core::Result<decltype(fn())> {
  try {
    return fn();
  } catch (const json::exception& e) {
    return core::Error::Internal(fmt::format("unexpected {} from the engine: {}", what, e.what()));
  }
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

core::Error ErrorFromResponse(long status, std::string_view body, std::string_view call) {
  std::string message;
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    message = j["message"].get<std::string>();
  } else {
    message = Trim(body.substr(0, 1000));
  }
  if (message.empty()) message = fmt::format("HTTP {}", status);
  std::string text = fmt::format("{}: {}", call, message);
  switch (status) {
    case 400:
      return core::Error::InvalidArgument(std::move(text));
    case 404:
      return core::Error::NotFound(std::move(text));
    case 409:
      return core::Error::Conflict(std::move(text));
    case 503:
      return core::Error::Unavailable(std::move(text));
    default:
      break;
  }
  if (status >= 400 && status < 500) return core::Error::InvalidArgument(std::move(text));
  return core::Error::Internal(std::move(text));
}

core::Result<json> ParseJson(std::string_view body, std::string_view call) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return core::Error::Internal(
        fmt::format("{}: engine answered with invalid JSON: {}", call, Trim(body.substr(0, 200))));
  }
  return j;
}

core::Result<VersionInfo> ParseVersion(const json& j) {
  return Guard("version", [&] {
    VersionInfo v;
    v.version = Get<std::string>(j, "Version");
    v.api_version = Get<std::string>(j, "ApiVersion");
    v.min_api_version = Get<std::string>(j, "MinAPIVersion");
    v.os = Get<std::string>(j, "Os");
    v.arch = Get<std::string>(j, "Arch");
    v.kernel_version = Get<std::string>(j, "KernelVersion");
    if (v.api_version.empty()) throw json::other_error::create(501, "no ApiVersion", &j);
    return v;
  });
}

core::Result<EngineInfo> ParseInfo(const json& j) {
  return Guard("info", [&] {
    EngineInfo i;
    i.name = Get<std::string>(j, "Name");
    i.server_version = Get<std::string>(j, "ServerVersion");
    i.storage_driver = Get<std::string>(j, "Driver");
    i.cgroup_driver = Get<std::string>(j, "CgroupDriver");
    i.cgroup_version = Get<std::string>(j, "CgroupVersion");
    i.containers = Get<int64_t>(j, "Containers");
    i.containers_running = Get<int64_t>(j, "ContainersRunning");
    i.images = Get<int64_t>(j, "Images");
    i.ncpu = Get<int64_t>(j, "NCPU");
    i.mem_total = Get<int64_t>(j, "MemTotal");
    i.security_options = Get<std::vector<std::string>>(j, "SecurityOptions");
    return i;
  });
}

core::Result<ContainerInfo> ParseContainerInspect(const json& j) {
  return Guard("container", [&] {
    ContainerInfo c;
    c.id = j.at("Id").get<std::string>();
    c.name = Get<std::string>(j, "Name");
    if (!c.name.empty() && c.name[0] == '/') c.name.erase(0, 1);
    c.image_id = Get<std::string>(j, "Image");
    if (auto cfg = j.find("Config"); cfg != j.end() && cfg->is_object()) {
      c.image = Get<std::string>(*cfg, "Image");
      c.labels = GetLabels(*cfg, "Labels");
    }
    if (auto st = j.find("State"); st != j.end() && st->is_object()) {
      c.state.status = Get<std::string>(*st, "Status");
      c.state.running = Get<bool>(*st, "Running");
      c.state.paused = Get<bool>(*st, "Paused");
      c.state.oom_killed = Get<bool>(*st, "OOMKilled");
      c.state.pid = Get<int64_t>(*st, "Pid");
      c.state.exit_code = Get<int64_t>(*st, "ExitCode");
      c.state.error = Get<std::string>(*st, "Error");
      c.state.started_at = Get<std::string>(*st, "StartedAt");
      c.state.finished_at = Get<std::string>(*st, "FinishedAt");
    }
    if (auto hc = j.find("HostConfig"); hc != j.end() && hc->is_object()) {
      c.memory_bytes = Get<int64_t>(*hc, "Memory");
      c.nano_cpus = Get<int64_t>(*hc, "NanoCpus");
      c.pids_limit = Get<int64_t>(*hc, "PidsLimit");
      c.read_only_rootfs = Get<bool>(*hc, "ReadonlyRootfs");
      c.network_mode = Get<std::string>(*hc, "NetworkMode");
    }
    if (auto ns = j.find("NetworkSettings"); ns != j.end() && ns->is_object()) {
      c.ip_address = Get<std::string>(*ns, "IPAddress");
      if (auto nets = ns->find("Networks"); nets != ns->end() && nets->is_object()) {
        for (const auto& [name, net] : nets->items())
          c.networks[name] = Get<std::string>(net, "IPAddress");
      }
      if (auto ports = ns->find("Ports"); ports != ns->end() && ports->is_object()) {
        for (const auto& [key, bindings] : ports->items()) {
          if (!bindings.is_array() || bindings.empty()) continue;
          auto host_port = Get<std::string>(bindings[0], "HostPort");
          int port = 0;
          auto [end, ec] =
              std::from_chars(host_port.data(), host_port.data() + host_port.size(), port);
          if (ec == std::errc() && end == host_port.data() + host_port.size())
            c.host_ports[key] = port;
        }
      }
    }
    return c;
  });
}

core::Result<std::vector<ContainerSummary>> ParseContainerList(const json& j) {
  return Guard("container list", [&] {
    std::vector<ContainerSummary> out;
    if (!j.is_array()) throw json::type_error::create(302, "expected an array", &j);
    for (const json& row : j) {
      ContainerSummary c;
      c.id = row.at("Id").get<std::string>();
      auto names = Get<std::vector<std::string>>(row, "Names");
      if (!names.empty()) c.name = names[0].substr(names[0].rfind('/') + 1);
      c.image = Get<std::string>(row, "Image");
      c.state = Get<std::string>(row, "State");
      c.status = Get<std::string>(row, "Status");
      c.labels = GetLabels(row, "Labels");
      if (auto hc = row.find("HostConfig"); hc != row.end() && hc->is_object()) {
        c.network_mode = Get<std::string>(*hc, "NetworkMode");
      }
      out.push_back(std::move(c));
    }
    return out;
  });
}

namespace {

ImageInfo ImageFrom(const json& j) {
  ImageInfo i;
  i.id = j.at("Id").get<std::string>();
  i.repo_tags = Get<std::vector<std::string>>(j, "RepoTags");
  i.size = Get<int64_t>(j, "Size");
  // Inspect keeps labels under Config; list puts them at the top.
  i.labels = GetLabels(j, "Labels");
  if (auto cfg = j.find("Config"); cfg != j.end() && cfg->is_object()) {
    if (i.labels.empty()) i.labels = GetLabels(*cfg, "Labels");
    for (auto [key, out] : {std::pair{"Entrypoint", &i.entrypoint}, std::pair{"Cmd", &i.cmd}}) {
      if (auto v = cfg->find(key); v != cfg->end() && v->is_array())
        *out = v->get<std::vector<std::string>>();
    }
  }
  if (auto created = j.find("Created"); created != j.end()) {
    if (created->is_number_integer()) {
      i.created_unix = created->get<int64_t>();
      i.created = created->dump();
    } else if (created->is_string()) {
      i.created = created->get<std::string>();
    }
  }
  return i;
}

}  // namespace

core::Result<ImageInfo> ParseImageInspect(const json& j) {
  return Guard("image", [&] { return ImageFrom(j); });
}

core::Result<std::vector<ImageInfo>> ParseImageList(const json& j) {
  return Guard("image list", [&] {
    std::vector<ImageInfo> out;
    if (!j.is_array()) throw json::type_error::create(302, "expected an array", &j);
    for (const json& row : j) out.push_back(ImageFrom(row));
    return out;
  });
}

core::Result<NetworkInfo> ParseNetworkInspect(const json& j) {
  return Guard("network", [&] {
    NetworkInfo n;
    n.id = j.at("Id").get<std::string>();
    n.name = Get<std::string>(j, "Name");
    n.driver = Get<std::string>(j, "Driver");
    n.internal = Get<bool>(j, "Internal");
    n.labels = GetLabels(j, "Labels");
    n.options = GetLabels(j, "Options");
    if (auto ipam = j.find("IPAM"); ipam != j.end() && ipam->is_object()) {
      if (auto config = ipam->find("Config"); config != ipam->end() && config->is_array()) {
        for (const auto& c : *config) {
          if (auto subnet = Get<std::string>(c, "Subnet"); !subnet.empty())
            n.subnets.push_back(subnet);
          if (auto gateway = Get<std::string>(c, "Gateway"); !gateway.empty())
            n.gateways.push_back(gateway);
        }
      }
    }
    if (auto containers = j.find("Containers"); containers != j.end() && containers->is_object()) {
      for (const auto& [id, c] : containers->items()) {
        auto address = Get<std::string>(c, "IPv4Address");
        n.containers[id] = address.substr(0, address.find('/'));
      }
    }
    return n;
  });
}

core::Result<std::vector<NetworkInfo>> ParseNetworkList(const json& j) {
  if (!j.is_array())
    return core::Error::Internal("unexpected network list from the engine: not an array");
  std::vector<NetworkInfo> out;
  for (const auto& row : j) {
    auto n = ParseNetworkInspect(row);
    if (!n) return n.error();
    out.push_back(std::move(*n));
  }
  return out;
}

core::Result<Event> ParseEvent(const json& j) {
  return Guard("event", [&] {
    Event e;
    e.type = Get<std::string>(j, "Type");
    e.action = Get<std::string>(j, "Action");
    if (auto actor = j.find("Actor"); actor != j.end() && actor->is_object()) {
      e.id = Get<std::string>(*actor, "ID");
      e.attributes = GetLabels(*actor, "Attributes");
    }
    e.time_nano = Get<int64_t>(j, "timeNano");
    return e;
  });
}

core::Result<WaitResult> ParseWait(const json& j) {
  return Guard("wait result", [&] {
    WaitResult w;
    w.exit_code = j.at("StatusCode").get<int64_t>();
    if (auto err = j.find("Error"); err != j.end() && err->is_object()) {
      w.error = Get<std::string>(*err, "Message");
    }
    return w;
  });
}

core::Result<std::string> ParseCreated(const json& j) {
  return Guard("create answer", [&] { return j.at("Id").get<std::string>(); });
}

}  // namespace gantry::docker
