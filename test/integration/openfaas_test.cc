// OpenFaaS compatibility end to end (CTest label "integration"): the tests of OpenFaaS's
// provider conformance suite (openfaas/certifier) that apply to a provider without
// Kubernetes, run against the real gantryd over plain HTTP as faas-cli sends it.
//
// The certifier's functions use the image functions/alpine:latest, the classic watchdog
// running `fprocess` once per request. No registry is reachable, so a stand-in is built
// here: FROM the local base image, gantry-shim in exec mode on port 8080, which reads
// `fprocess` and gives the request in the watchdog's variables (Http_Method, Http_Query).
// It is tagged functions/alpine:<this test's label value>, so that tests running side by
// side never share (or remove) each other's image. Nothing is pulled.
#include <curl/curl.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "core/base64.h"
#include "docker/docker_client.h"
#include "gantryd_support.h"
#include "shim_support.h"
#include "support/engine.h"
#include "support/eventually.h"
#include "support/tar.h"

namespace gantry::testing {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// The functions/alpine stand-in; returns its tag.
std::string BuildAlpineStandIn(TestEngine& engine) {
  std::string dockerfile =
      "FROM gantry/base:bookworm\nCOPY gantry-shim /usr/local/bin/gantry-shim\n"
      "ENV GANTRY_MODE=exec GANTRY_LISTEN=:8080\nEXPOSE 8080\n"
      "ENTRYPOINT [\"/usr/local/bin/gantry-shim\"]\n";
  std::string tag = "functions/alpine:" + engine.value();
  auto built = docker::BuildImageFromTar(
      engine.client(), {.tags = {tag}, .labels = engine.labels()},
      MakeTar({{"Dockerfile", dockerfile, 0644}, {"gantry-shim", ShimBinary(), 0755}}), nullptr);
  if (!built.ok()) FAIL("build of the functions/alpine stand-in: " << built.error().ToString());
  return tag;
}

// faas-cli's calls: basic auth as `faas-cli login -u admin --password-stdin` stores it.
class OpenFaasClient {
 public:
  OpenFaasClient(Gantryd& gantryd, std::string ns) : gantryd_(gantryd), ns_(std::move(ns)) {}

  Reply Call(const std::string& method, const std::string& path, const std::string& body = "") {
    return gantryd_.Call(method, path, body, {Basic(gantryd_.token())}, /*auth=*/false);
  }
  static std::string Basic(const std::string& password) {
    return "Authorization: Basic " + core::Base64Encode("admin:" + password);
  }
  // POST /system/functions with the namespace filled in.
  long Deploy(json deployment) {
    deployment["namespace"] = ns_;
    Reply r = Call("POST", "/system/functions", deployment.dump());
    INFO(r.body);
    return r.status;
  }
  json Get(const std::string& name) {
    return Call("GET", "/system/function/" + name + "?namespace=" + ns_).Json();
  }
  int Replicas(const std::string& name) { return Get(name).value("replicas", -1); }
  int Available(const std::string& name) { return Get(name).value("availableReplicas", -1); }
  long Scale(const std::string& name, int replicas) {
    return Call("POST", "/system/scale-function/" + name + "?namespace=" + ns_,
                json{{"serviceName", name}, {"namespace", ns_}, {"replicas", replicas}}.dump())
        .status;
  }
  long Delete(const std::string& name) {
    return Call("DELETE", "/system/functions",
                json{{"functionName", name}, {"namespace", ns_}}.dump())
        .status;
  }
  // The function's invoke URL path, as the gateway routes it (no auth, as OpenFaaS).
  Reply Invoke(const std::string& name, const std::string& method = "POST",
               const std::string& query = "", const std::string& body = "") {
    std::string path = "/function/" + name + "." + ns_ + (query.empty() ? "" : "?" + query);
    return gantryd_.Call(method, path, body, {}, /*auth=*/false);
  }

 private:
  Gantryd& gantryd_;
  std::string ns_;
};

json Watchdog(const std::string& image, const std::string& name, const std::string& fprocess) {
  return {{"service", name}, {"image", image}, {"envProcess", fprocess}};
}

// `threads` clients POSTing to /function/<name>.<ns>, each on fresh connections, until
// `stop` (or 2,000 calls in all); returns how many answered 200.
int Load(Gantryd& gantryd, const std::string& path, int threads, std::atomic<bool>& stop) {
  std::atomic<int> ok{0};
  std::atomic<int> sent{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < threads; ++i) {
    clients.emplace_back([&] {
      while (!stop && sent.fetch_add(1) < 2000) {
        if (gantryd.Call("POST", path, "load", {}, false).status == 200) ++ok;
      }
    });
  }
  for (auto& t : clients) t.join();
  return ok;
}

// One gantryd of the test's own, the functions/alpine stand-in and a faas-cli-like client.
struct OpenFaas {
  TestEngine engine;
  StateDir state{engine};
  Gantryd gantryd{engine, state.path()};
  const std::string image = BuildAlpineStandIn(engine);
  const std::string ns = engine.value();
  OpenFaasClient of{gantryd, ns};
};

TEST_CASE_METHOD(
    OpenFaas, "OpenFaaS certifier: health, info, auth, deploy metadata, invoke, logs and metrics",
    "[integration][openfaas]") {
  INFO(gantryd.Log());

  // Health and provider info (Test_HealthEndpoint, Test_ProviderInfo).
  CHECK(gantryd.Call("GET", "/healthz", "", {}, false).status == 200);
  json info = of.Call("GET", "/system/info").Json();
  CHECK(info["provider"]["provider"] == "gantry");
  CHECK(info["provider"]["orchestration"] == "docker");
  CHECK_FALSE(info["provider"]["version"]["release"].get<std::string>().empty());
  CHECK(info["provider"]["version"]["sha"].get<std::string>().size() >= 7);

  // Basic auth as faas-cli login stores it; a wrong password is 401 offering both schemes;
  // the bearer token still works.
  CHECK(of.Call("GET", "/system/functions").status == 200);
  Reply wrong = gantryd.Call("GET", "/system/functions", "", {OpenFaasClient::Basic("nope")},
                             /*auth=*/false);
  CHECK(wrong.status == 401);
  CHECK_THAT(wrong.headers["www-authenticate"], Catch::Contains("Basic"));
  CHECK_THAT(wrong.headers["www-authenticate"], Catch::Contains("Bearer"));
  CHECK(gantryd.Call("GET", "/system/functions", "", {}, /*auth=*/false).status == 401);
  CHECK(gantryd.Call("GET", "/system/functions").status == 200);

  // Test_InvokeNotFound; no function name at all is 404 too.
  CHECK(of.Invoke("notfound").status == 404);
  CHECK(gantryd.Call("POST", "/function/." + ns, "", {}, false).status == 404);
  CHECK(gantryd.Call("POST", "/function/", "", {}, false).status == 404);

  // Test_Deploy_WithLabels / _WithAnnotations / _PassingCustomEnvVars_AndQueryString.
  const json labels = {{"upstream_uri", "example.com"}, {"canary_build", "true"}};
  const json annotations = {{"important-date", "Fri Aug 10 08:21:00 BST 2018"},
                            {"some-json", R"({ "glossary": { "title": "example glossary" } })"}};
  json env_test = Watchdog(image, "env-test", "env");
  env_test["envVars"] = {{"custom_env", "custom_env_value"}};
  env_test["labels"] = labels;
  env_test["annotations"] = annotations;
  REQUIRE(of.Deploy(env_test) == 202);
  // Test_ListNamespaces: the function's namespace, and default.
  json namespaces = of.Call("GET", "/system/namespaces").Json();
  CHECK(std::find(namespaces.begin(), namespaces.end(), json(ns)) != namespaces.end());
  CHECK(std::find(namespaces.begin(), namespaces.end(), json("default")) != namespaces.end());
  Reply listed = of.Call("GET", "/system/functions?namespace=" + ns);
  CHECK(listed.status == 200);
  CHECK(listed.Json().dump().find("\"env-test\"") != std::string::npos);

  Reply empty_query = of.Invoke("env-test");
  REQUIRE(empty_query.status == 200);
  CHECK_THAT(empty_query.body, Catch::Contains("custom_env=custom_env_value"));
  CHECK_THAT(of.Invoke("env-test", "POST", "testing=1").body,
             Catch::Contains("Http_Query=testing=1"));
  // Test_Invoke_With_Supported_Verbs.
  for (const char* verb : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    Reply r = of.Invoke("env-test", verb);
    CHECK(r.status == 200);
    CHECK_THAT(r.body, Catch::Contains(std::string("Http_Method=") + verb));
  }

  json status = of.Get("env-test");
  for (const auto& [k, v] : labels.items()) CHECK(status["labels"][k] == v);
  CHECK(status["labels"]["faas_function"] == "env-test");
  CHECK(status["annotations"] == annotations);
  CHECK(status["envVars"] == json{{"custom_env", "custom_env_value"}});
  CHECK(status["envProcess"] == "env");
  CHECK(status["image"] == image);  // as sent
  CHECK(status["readOnlyRootFilesystem"] == false);
  CHECK_FALSE(status.contains("limits"));  // none sent
  CHECK(status["replicas"] == 1);          // OpenFaaS's default
  CHECK(status["availableReplicas"] == 1);
  // The seven calls above (counted as each call ends).
  CHECK(Eventually([&] { return of.Get("env-test")["invocationCount"] == 7; }, 10s));

  // A writable root unless asked for a read-only one (certifier functions write nothing;
  // OpenFaaS's default is writable). /var/tmp is world-writable in the image.
  json writes = Watchdog(image, "writes", "touch /var/tmp/probe");
  REQUIRE(of.Deploy(writes) == 202);
  writes["service"] = "writes-ro";
  writes["readOnlyRootFilesystem"] = true;
  REQUIRE(of.Deploy(writes) == 202);
  CHECK(of.Invoke("writes").status == 200);
  CHECK(of.Invoke("writes-ro").status != 200);
  CHECK(of.Get("writes")["readOnlyRootFilesystem"] == false);
  CHECK(of.Get("writes-ro")["readOnlyRootFilesystem"] == true);
  for (const auto& [name, read_only] : {std::pair{"writes", false}, std::pair{"writes-ro", true}}) {
    auto ids = ContainersOf(engine, name);
    REQUIRE(ids.size() == 1);
    auto inspected = engine.client().InspectContainer(*ids.begin());
    REQUIRE(inspected.ok());
    CHECK(inspected->read_only_rootfs == read_only);
  }

  // A memory limit below the engine's floor runs at the floor, echoes as sent, and says so.
  json tiny = Watchdog(image, "tiny", "cat");
  tiny["limits"] = {{"memory", "5Mi"}};
  tiny["requests"] = {{"memory", "4Mi"}, {"cpu", "50m"}};
  REQUIRE(of.Deploy(tiny) == 202);
  CHECK(of.Invoke("tiny", "POST", "", "small").body == "small");
  json tiny_status = of.Get("tiny");
  CHECK(tiny_status["limits"] == json{{"memory", "5Mi"}});
  CHECK(tiny_status["requests"] == json{{"memory", "4Mi"}, {"cpu", "50m"}});
  {
    auto ids = ContainersOf(engine, "tiny");
    REQUIRE(ids.size() == 1);
    auto inspected = engine.client().InspectContainer(*ids.begin());
    REQUIRE(inspected.ok());
    CHECK(inspected->memory_bytes == std::int64_t{6} << 20);
  }
  CHECK(Eventually(
      [&] {
        return gantryd.Call("GET", "/apis/gantry/v1/namespaces/" + ns + "/functions/tiny")
                   .body.find("raised to 6Mi") != std::string::npos;
      },
      10s));

  // Test_FunctionLogs: the function's log lines as OpenFaaS LogEntry NDJSON.
  Reply logs = of.Call("GET", "/system/logs?name=env-test&namespace=" + ns + "&tail=20");
  CHECK(logs.status == 200);
  std::string first_line = logs.body.substr(0, logs.body.find('\n'));
  json entry = json::parse(first_line, nullptr, false);
  CHECK(entry["name"] == "env-test");
  CHECK(entry.contains("text"));
  CHECK(entry.contains("timestamp"));

  // OpenFaaS's metric names, labelled function_name="name.namespace".
  std::string metrics = gantryd.Call("GET", "/metrics", "", {}, false).body;
  const std::string fn = "function_name=\"env-test." + ns + "\"";
  auto has = [&](const std::string& metric) {
    for (std::size_t at = metrics.find(metric); at != std::string::npos;
         at = metrics.find(metric, at + 1)) {
      std::string line = metrics.substr(at, metrics.find('\n', at) - at);
      if (line.find(fn) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has("gateway_function_invocation_total{"));
  CHECK(has("gateway_functions_seconds_bucket{"));
  CHECK(has("gateway_functions_seconds_count{"));
  CHECK(has("gateway_function_invocation_started{"));
  CHECK(has("gateway_service_count{"));
  CHECK_THAT(metrics, Catch::Contains("code=\"200\""));

  for (const char* name : {"env-test", "writes", "writes-ro", "tiny"}) {
    CHECK(of.Delete(name) == 200);
    CHECK(ContainersOf(engine, name).empty());
  }
  CHECK(of.Delete("env-test") == 404);
}

TEST_CASE_METHOD(OpenFaas,
                 "OpenFaaS certifier: scale minimum, from zero during invoke, to zero, disabled",
                 "[integration][openfaas]") {
  INFO(gantryd.Log());

  // Test_ScaleMinimum.
  json min_scale = Watchdog(image, "test-min-scale", "sha512sum");
  min_scale["labels"] = {{"com.openfaas.scale.min", "2"}};
  REQUIRE(of.Deploy(min_scale) == 202);
  CHECK(of.Replicas("test-min-scale") == 2);
  // Test_ScaleFromZeroDuringInvoke: scaled to zero by hand, below the default minimum of 1.
  REQUIRE(of.Deploy(Watchdog(image, "test-scale-from-zero", "sha512sum")) == 202);
  // Test_ScaleToZero with a short idle time.
  json to_zero = Watchdog(image, "test-scaling-to-zero", "sha512sum");
  to_zero["labels"] = {{"com.openfaas.scale.max", "2"},
                       {"com.openfaas.scale.zero", "true"},
                       {"com.openfaas.scale.zero-duration", "3s"}};
  REQUIRE(of.Deploy(to_zero) == 202);
  CHECK(of.Replicas("test-scaling-to-zero") == 1);  // one replica at deploy, as OpenFaaS
  // Test_ScalingDisabledViaLabels: min == max.
  json disabled = Watchdog(image, "test-scaling-disabled", "sha512sum");
  disabled["labels"] = {{"com.openfaas.scale.min", "2"}, {"com.openfaas.scale.max", "2"}};
  REQUIRE(of.Deploy(disabled) == 202);

  CHECK(Eventually([&] { return of.Available("test-min-scale") == 2; }, 60s));
  CHECK(Eventually([&] { return of.Available("test-scale-from-zero") == 1; }, 60s));

  REQUIRE(of.Scale("test-scale-from-zero", 0) == 202);
  CHECK(Eventually([&] { return of.Replicas("test-scale-from-zero") == 0; }, 30s));
  CHECK(Eventually([&] { return ContainersOf(engine, "test-scale-from-zero").empty(); }, 30s));
  std::this_thread::sleep_for(3s);  // and it stays at zero: scale.min does not bring it back
  CHECK(of.Replicas("test-scale-from-zero") == 0);
  Reply from_zero = of.Invoke("test-scale-from-zero", "POST", "", "x");
  CHECK(from_zero.status == 200);
  CHECK(from_zero.headers["x-cold-start"] == "true");
  CHECK(of.Replicas("test-scale-from-zero") == 1);  // scale.min again after the call

  CHECK(of.Invoke("test-scaling-to-zero").status == 200);
  CHECK(Eventually([&] { return of.Replicas("test-scaling-to-zero") == 0; }, 60s));
  CHECK(Eventually([&] { return ContainersOf(engine, "test-scaling-to-zero").empty(); }, 30s));
  CHECK(of.Invoke("test-scaling-to-zero").status == 200);  // and from zero again

  std::atomic<bool> stop{false};
  const std::string path = "/function/test-scaling-disabled." + engine.value();
  std::thread load([&] { Load(gantryd, path, 6, stop); });
  int most = 0;
  for (int i = 0; i < 25; ++i) {
    most = std::max(most, static_cast<int>(ContainersOf(engine, "test-scaling-disabled").size()));
    std::this_thread::sleep_for(200ms);
  }
  stop = true;
  load.join();
  CHECK(most == 2);
  CHECK(of.Replicas("test-scaling-disabled") == 2);

  for (const char* name : {"test-min-scale", "test-scale-from-zero", "test-scaling-to-zero",
                           "test-scaling-disabled"}) {
    CHECK(of.Delete(name) == 200);
  }
}

TEST_CASE_METHOD(OpenFaas, "OpenFaaS certifier: scale up and down from throughput",
                 "[integration][openfaas]") {
  INFO(gantryd.Log());

  json fn = Watchdog(image, "test-throughput-scaling", "sha512sum");
  fn["labels"] = {{"com.openfaas.scale.min", "1"}, {"com.openfaas.scale.max", "2"}};
  REQUIRE(of.Deploy(fn) == 202);
  REQUIRE(Eventually([&] { return of.Available("test-throughput-scaling") == 1; }, 60s));

  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  const std::string path = "/function/test-throughput-scaling." + engine.value();
  std::thread load([&] { ok = Load(gantryd, path, 8, stop); });
  bool reached_max = Eventually([&] { return of.Replicas("test-throughput-scaling") == 2; }, 30s);
  stop = true;
  load.join();
  CHECK(reached_max);
  CHECK(ok > 0);
  CHECK(ContainersOf(engine, "test-throughput-scaling").size() <= 2);  // never past max
  // Cool-down: back to the minimum once the load has passed (the certifier waits a minute;
  // here the panic window's minute plus the 30 s idle time, polled).
  CHECK(Eventually([&] { return of.Replicas("test-throughput-scaling") == 1; }, 150s));
  CHECK(
      Eventually([&] { return ContainersOf(engine, "test-throughput-scaling").size() == 1; }, 30s));
  CHECK(of.Delete("test-throughput-scaling") == 200);
}

TEST_CASE_METHOD(OpenFaas,
                 "OpenFaaS scaling labels: scale.type rps aims at calls per second per replica",
                 "[integration][openfaas]") {
  INFO(gantryd.Log());

  // Two clients back to back keep about 1.5 calls in flight: on in-flight calls that is 3
  // replicas; at a target of 1000 calls/s per replica it is one.
  json calm = Watchdog(image, "rps-high-target", "sha512sum");
  calm["labels"] = {{"com.openfaas.scale.max", "3"},
                    {"com.openfaas.scale.type", "rps"},
                    {"com.openfaas.scale.target", "1000"}};
  REQUIRE(of.Deploy(calm) == 202);
  // The same load at 5 calls/s per replica asks for more than max.
  json busy = Watchdog(image, "rps-low-target", "sha512sum");
  busy["labels"] = {{"com.openfaas.scale.max", "3"},
                    {"com.openfaas.scale.type", "rps"},
                    {"com.openfaas.scale.target", "5"}};
  REQUIRE(of.Deploy(busy) == 202);
  REQUIRE(Eventually([&] { return of.Available("rps-high-target") == 1; }, 60s));
  REQUIRE(Eventually([&] { return of.Available("rps-low-target") == 1; }, 60s));

  for (const char* name : {"rps-high-target", "rps-low-target"}) {
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0};
    const std::string path = std::string("/function/") + name + "." + engine.value();
    std::thread load([&] { ok = Load(gantryd, path, 2, stop); });
    int most = 0;
    for (int i = 0; i < 30; ++i) {  // 6 s: the autoscaler decides every control pass
      most = std::max(most, static_cast<int>(ContainersOf(engine, name).size()));
      std::this_thread::sleep_for(200ms);
    }
    stop = true;
    load.join();
    INFO(name << ": " << ok << " calls answered 200, at most " << most << " containers");
    CHECK(ok > 0);
    if (std::string(name) == "rps-high-target") {
      CHECK(most == 1);
    } else {
      CHECK(most == 3);
    }
  }
  // rps is honoured: no warning that the label is not.
  std::string described =
      gantryd
          .Call("GET", "/apis/gantry/v1/namespaces/" + engine.value() + "/functions/rps-low-target")
          .body;
  CHECK(described.find("ScalingLabel") == std::string::npos);
  CHECK(of.Delete("rps-high-target") == 200);
  CHECK(of.Delete("rps-low-target") == 200);
}

TEST_CASE_METHOD(OpenFaas,
                 "OpenFaaS certifier: secret CRUD with values and raw values reaching functions",
                 "[integration][openfaas]") {
  INFO(gantryd.Log());

  auto secret = [&](const std::string& name, const char* field, const std::string& value) {
    return json{{"name", name}, {"namespace", ns}, {field, value}}.dump();
  };
  REQUIRE(
      of.Call("POST", "/system/secrets", secret("secret-name", "value", "this-is-the-secret-value"))
          .status == 201);
  CHECK(of.Call("POST", "/system/secrets", secret("secret-name", "value", "again")).status == 409);
  const std::string raw("\x00\x01 raw \xff bytes\n", 15);
  REQUIRE(of.Call("POST", "/system/secrets", secret("raw", "rawValue", core::Base64Encode(raw)))
              .status == 201);

  json reader = Watchdog(image, "test-secret-crud", "cat /var/openfaas/secrets/secret-name");
  reader["secrets"] = {"secret-name"};
  REQUIRE(of.Deploy(reader) == 202);
  json raw_reader = Watchdog(image, "test-secret-raw", "cat /var/openfaas/secrets/raw");
  raw_reader["secrets"] = {"raw"};
  REQUIRE(of.Deploy(raw_reader) == 202);
  CHECK(of.Invoke("test-secret-crud").body == "this-is-the-secret-value");
  CHECK(of.Invoke("test-secret-raw").body == raw);

  Reply list = of.Call("GET", "/system/secrets?namespace=" + ns);
  CHECK(list.status == 200);
  CHECK(list.body.find("\"secret-name\"") != std::string::npos);
  CHECK(list.body.find("\"raw\"") != std::string::npos);
  CHECK(list.body.find("this-is-the-secret-value") == std::string::npos);  // names only

  // An update reaches the running function.
  REQUIRE(of.Call("PUT", "/system/secrets",
                  secret("secret-name", "value", "this-is-the-edited-secret-value"))
              .status == 200);
  CHECK(Eventually(
      [&] { return of.Invoke("test-secret-crud").body == "this-is-the-edited-secret-value"; },
      10s));
  CHECK(of.Call("PUT", "/system/secrets", secret("unknown", "value", "v")).status == 404);

  CHECK(of.Delete("test-secret-crud") == 200);
  CHECK(of.Delete("test-secret-raw") == 200);
  CHECK(of.Call("DELETE", "/system/secrets", secret("secret-name", "value", "")).status == 200);
  CHECK(of.Call("DELETE", "/system/secrets", secret("raw", "value", "")).status == 200);
  CHECK(of.Call("DELETE", "/system/secrets", secret("raw", "value", "")).status == 404);
  Reply after = of.Call("GET", "/system/secrets?namespace=" + ns);
  CHECK(after.body.find("\"secret-name\"") == std::string::npos);
}

}  // namespace
}  // namespace gantry::testing
