// The store's invocation records: the batch write, the merge of an async call's row with
// the gateway's record of it, the filters, retention by count and age, and the migration
// from schema 2.

#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "core/clock.h"
#include "store/store.h"

namespace gantry::store {
namespace {

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;

class TempDb {
 public:
  TempDb() {
    dir_ = fs::temp_directory_path() /
           ("gantry-invocations-" + std::to_string(getpid()) + "-" + std::to_string(n_++));
    fs::create_directories(dir_);
  }
  ~TempDb() { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "gantry.db").string(); }
  core::ManualClock clock;

 private:
  static inline int n_ = 0;
  fs::path dir_;
};

std::unique_ptr<Store> MustOpen(TempDb& db, StoreOptions options = {}) {
  options.clock = &db.clock;
  auto store = Store::Open(db.path(), options);
  if (!store.ok()) FAIL(store.error().ToString());
  return std::move(*store);
}

int64_t NowMs(const core::Clock& clock) {
  return std::chrono::duration_cast<milliseconds>(clock.Wall().time_since_epoch()).count();
}

InvocationRecord Call(const std::string& id, int status, int64_t started_ms,
                      const std::string& error = "") {
  return InvocationRecord{.call_id = id,
                          .namespace_name = "default",
                          .function = "echo",
                          .generation = 3,
                          .replica = "0123456789abcdef",
                          .cold = status == 201,
                          .queue_wait_us = 1500,
                          .duration_us = 2500,
                          .status = status,
                          .request_bytes = 10,
                          .response_bytes = 20,
                          .error = error,
                          .started_unix_ms = started_ms};
}

std::vector<std::string> Ids(const std::vector<InvocationRecord>& records) {
  std::vector<std::string> ids;
  for (const auto& r : records) ids.push_back(r.call_id);
  return ids;
}

TEST_CASE("a batch of records is written at once and listed newest first", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  const int64_t t = NowMs(db.clock);
  REQUIRE(store
              ->RecordInvocations({Call("a", 200, t - 3000), Call("b", 500, t - 2000),
                                   Call("c", 200, t - 1000), Call("d", 0, t, "connect failed")})
              .ok());
  auto all = store->ListInvocations("default", "echo", {});
  REQUIRE(all.ok());
  CHECK(Ids(*all) == std::vector<std::string>{"d", "c", "b", "a"});
  const InvocationRecord& b = (*all)[2];
  CHECK(b.generation == 3);
  CHECK(b.replica == "0123456789abcdef");
  CHECK(b.trigger == "http");
  CHECK(b.queue_wait_us == 1500);
  CHECK(b.duration_us == 2500);
  CHECK(b.request_bytes == 10);
  CHECK(b.response_bytes == 20);
  CHECK(b.state.empty());

  using S = InvocationFilter::Status;
  CHECK(Ids(*store->ListInvocations("default", "echo", {.status = S::kFailed})) ==
        std::vector<std::string>{"d", "b"});
  CHECK(Ids(*store->ListInvocations("default", "echo", {.status = S::kSucceeded})) ==
        std::vector<std::string>{"c", "a"});
  CHECK(Ids(*store->ListInvocations("default", "echo", {.status = S::kCode, .code = 500})) ==
        std::vector<std::string>{"b"});
  CHECK(Ids(*store->ListInvocations("default", "echo", {.limit = 2})) ==
        std::vector<std::string>{"d", "c"});
  CHECK(Ids(*store->ListInvocations("default", "echo", {.since_unix_ms = t - 2000})) ==
        std::vector<std::string>{"d", "c", "b"});
  CHECK(store->ListInvocations("default", "other", {})->empty());
  CHECK(store->ListInvocations("other", "echo", {})->empty());

  auto got = store->GetInvocation("default", "b");
  REQUIRE(got.ok());
  CHECK(got->status == 500);
  CHECK(store->GetInvocation("other", "b").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->GetInvocation("default", "zz").error().code() == core::ErrorCode::kNotFound);
}

TEST_CASE("records survive reopening the store", "[store]") {
  TempDb db;
  const int64_t t = NowMs(db.clock);
  REQUIRE(MustOpen(db)->RecordInvocations({Call("a", 200, t)}).ok());
  auto store = MustOpen(db);
  CHECK(store->GetInvocation("default", "a")->status == 200);
}

TEST_CASE("retention keeps the newest records by count and drops those past the age", "[store]") {
  TempDb db;
  auto store = MustOpen(db, {.max_invocations = 3, .max_invocation_age = hours(1)});
  const int64_t t = NowMs(db.clock);
  for (int i = 0; i < 5; ++i) {
    REQUIRE(store->RecordInvocations({Call("c" + std::to_string(i), 200, t + i)}).ok());
  }
  // Trimmed at most once a second: the first batch trimmed, the next ones within the second
  // did not.
  CHECK(store->ListInvocations("default", "echo", {})->size() == 5);
  db.clock.Advance(std::chrono::seconds(1));
  REQUIRE(store->RecordInvocations({Call("c5", 200, t + 5)}).ok());
  CHECK(Ids(*store->ListInvocations("default", "echo", {})) ==
        std::vector<std::string>{"c5", "c4", "c3"});

  // A queued async call is kept past the bounds: its row is its state.
  AsyncCall queued{.call_id = "q", .namespace_name = "default", .function = "echo"};
  REQUIRE(store->EnqueueAsync(queued).ok());
  db.clock.Advance(minutes(61));
  REQUIRE(store->RecordInvocations({Call("new", 200, NowMs(db.clock))}).ok());
  CHECK(Ids(*store->ListInvocations("default", "echo", {})) ==
        std::vector<std::string>{"new", "q"});
}

TEST_CASE("an async call's record follows it from queued to its result", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  AsyncCall call{.call_id = "job-1", .namespace_name = "default", .function = "echo"};
  REQUIRE(store->EnqueueAsync(call).ok());
  auto queued = store->GetInvocation("default", "job-1");
  REQUIRE(queued.ok());
  CHECK(queued->trigger == "async");
  CHECK(queued->state == "queued");
  CHECK(queued->enqueued_unix_ms == NowMs(db.clock));
  CHECK(queued->status == 0);

  REQUIRE(store->ClaimAsync()->has_value());
  CHECK(store->GetInvocation("default", "job-1")->state == "running");
  CHECK(store->GetInvocation("default", "job-1")->attempts == 1);

  // The gateway's record of the attempt fills in what only the gateway knows; the async row
  // keeps its trigger and state.
  InvocationRecord attempt = Call("job-1", 200, NowMs(db.clock) + 5);
  REQUIRE(store->RecordInvocations({attempt}).ok());
  auto running = store->GetInvocation("default", "job-1");
  CHECK(running->trigger == "async");
  CHECK(running->state == "running");
  CHECK(running->replica == "0123456789abcdef");
  CHECK(running->duration_us == 2500);

  REQUIRE(store
              ->RecordAsyncOutcome({.call_id = "job-1",
                                    .status = 200,
                                    .started_unix_ms = NowMs(db.clock),
                                    .state = "succeeded",
                                    .attempts = 1,
                                    .result_status = 200,
                                    .result_headers_json = R"({"content-type":"text/plain"})",
                                    .result_body = "hello",
                                    .result_truncated = true})
              .ok());
  REQUIRE(store->FinishAsync("job-1").ok());
  auto done = store->GetInvocation("default", "job-1");
  REQUIRE(done.ok());
  CHECK(done->state == "succeeded");
  CHECK(done->status == 200);
  CHECK(done->result_body == "hello");
  CHECK(done->result_headers_json == R"({"content-type":"text/plain"})");
  CHECK(done->result_truncated);
  CHECK(done->replica == "0123456789abcdef");  // the outcome keeps the gateway's fields

  CHECK(store->RecordAsyncOutcome({.call_id = "nope", .state = "failed"}).error().code() ==
        core::ErrorCode::kNotFound);
}

TEST_CASE("an async call running at a stop is queued again in its record too", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  AsyncCall call{.call_id = "job", .namespace_name = "default", .function = "echo"};
  REQUIRE(store->EnqueueAsync(call).ok());
  REQUIRE(store->ClaimAsync()->has_value());
  REQUIRE(*store->RequeueRunningAsync() == 1);
  CHECK(store->GetInvocation("default", "job")->state == "queued");
}

TEST_CASE("a schema 2 database is migrated: its records are kept, async ones marked", "[store]") {
  TempDb db;
  {
    // Schema 2's invocations table (the rest of the schema does not matter here).
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(
                raw,
                "CREATE TABLE functions (namespace TEXT NOT NULL, name TEXT NOT NULL, spec_json "
                "TEXT NOT NULL, hash TEXT NOT NULL, generation INTEGER NOT NULL, image TEXT NOT "
                "NULL DEFAULT '', status TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL "
                "DEFAULT '', created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, "
                "deployment_json TEXT NOT NULL DEFAULT '', PRIMARY KEY (namespace, name));"
                "CREATE TABLE invocations (call_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, "
                "function TEXT NOT NULL, started_ms INTEGER NOT NULL, duration_us INTEGER NOT "
                "NULL, status INTEGER NOT NULL, cold_start INTEGER NOT NULL, async INTEGER NOT "
                "NULL, replica TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '');"
                "INSERT INTO invocations VALUES ('s', 'default', 'echo', 1000, 5, 200, 0, 0, '', "
                "'');"
                "INSERT INTO invocations VALUES ('a', 'default', 'echo', 2000, 5, 502, 0, 1, '', "
                "'');"
                "PRAGMA user_version = 2;",
                nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = MustOpen(db, {.max_invocation_age = milliseconds(0)});
  CHECK(store->SchemaVersion() == Store::LatestSchemaVersion());
  auto sync = store->GetInvocation("default", "s");
  REQUIRE(sync.ok());
  CHECK(sync->trigger == "http");
  CHECK(sync->state.empty());
  auto async = store->GetInvocation("default", "a");
  REQUIRE(async.ok());
  CHECK(async->trigger == "async");
  CHECK(async->state == "failed");
  CHECK(async->status == 502);
}

}  // namespace
}  // namespace gantry::store

namespace gantry::store {
namespace {

InvocationRecord Ran(const std::string& id, const std::string& fn, int64_t started_ms,
                     int64_t duration_us, int status = 200) {
  InvocationRecord r = Call(id, status, started_ms);
  r.function = fn;
  r.duration_us = duration_us;
  r.memory_bytes = 128 << 20;
  return r;
}

TEST_CASE("usage sums the calls that ran per function and hour, billed per started ms",
          "[store][usage]") {
  TempDb db;
  auto store = MustOpen(db, {.max_invocations = 2});  // raw records trimmed, usage kept
  const int64_t t0 = HourStart(NowMs(db.clock));
  constexpr int64_t kHour = 3'600'000;
  InvocationRecord not_run = Call("refused", 429, t0 + 10);
  not_run.replica = "";
  InvocationRecord cold = Ran("c", "echo", t0 + 20, 1);
  cold.cold = true;
  REQUIRE(store
              ->RecordInvocations({Ran("a", "echo", t0 + 1, 2500), Ran("b", "echo", t0 + 2, 1000),
                                   cold, not_run, Ran("d", "echo", t0 + kHour + 5, 999'001, 500),
                                   Ran("e", "resize", t0 + kHour + 6, 40'000)})
              .ok());
  // Billed: 3 + 1 + 1 ms in the first hour; 1000 ms (an error) in the second; resize 40.
  auto by_fn = store->Usage({});
  REQUIRE(by_fn.ok());
  REQUIRE(by_fn->size() == 2);
  const UsageRow& echo = (*by_fn)[0];
  CHECK(echo.function == "echo");
  CHECK(echo.calls == 4);
  CHECK(echo.errors == 1);
  CHECK(echo.cold_starts == 1);
  CHECK(echo.billed_ms == 3 + 1 + 1 + 1000);
  CHECK(echo.gb_seconds() == Approx(1005 * 0.125 / 1000));
  CHECK(echo.request_bytes == 40);
  CHECK(echo.response_bytes == 80);
  CHECK((*by_fn)[1].function == "resize");
  CHECK((*by_fn)[1].billed_ms == 40);

  auto by_hour = store->Usage({.by = UsageQuery::By::kHour});
  REQUIRE(by_hour.ok());
  REQUIRE(by_hour->size() == 2);
  CHECK((*by_hour)[0].hour_unix_ms == t0);
  CHECK((*by_hour)[0].calls == 3);
  CHECK((*by_hour)[1].hour_unix_ms == t0 + kHour);
  CHECK((*by_hour)[1].calls == 2);
  CHECK((*by_hour)[1].billed_ms == 1040);

  // A range in whole hours: since rounds down to its hour; until excludes hours from it on.
  auto second = store->Usage({.since_unix_ms = t0 + kHour + 59'000});
  REQUIRE(second.ok());
  CHECK(second->size() == 2);
  auto first = store->Usage({.function = "echo", .until_unix_ms = t0 + kHour});
  REQUIRE(first.ok());
  REQUIRE(first->size() == 1);
  CHECK((*first)[0].calls == 3);
  auto other_ns = store->Usage({.ns = "team-b"});
  REQUIRE(other_ns.ok());
  CHECK(other_ns->empty());

  // The raw records were trimmed to 2 (at the first batch, a second ago is "now"); usage
  // still has every call, also after reopening.
  db.clock.Advance(std::chrono::seconds(2));
  REQUIRE(store->RecordInvocations({Ran("f", "resize", t0 + kHour + 7, 10)}).ok());
  auto listed = store->ListInvocations("default", "echo", {.limit = 0});
  REQUIRE(listed.ok());
  CHECK(listed->size() < 4);
  store.reset();
  store = MustOpen(db);
  auto again = store->Usage({});
  REQUIRE(again.ok());
  CHECK((*again)[0].calls == 4);
  CHECK((*again)[1].calls == 2);
}

TEST_CASE("a record's run is billed rounded up to 1 ms, at least 1 ms", "[store][usage]") {
  CHECK(BilledMs(0) == 1);
  CHECK(BilledMs(1) == 1);
  CHECK(BilledMs(1000) == 1);
  CHECK(BilledMs(1001) == 2);
  CHECK(KibMs(128 << 20, 2500) == 131072 * 3);
  CHECK(KibMs(1, 1000) == 1);  // memory rounds up to a KiB
  CHECK(HourStart(3'600'000 + 5) == 3'600'000);
  CHECK(HourStart(-1) == -3'600'000);
}

}  // namespace
}  // namespace gantry::store
