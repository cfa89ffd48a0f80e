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
