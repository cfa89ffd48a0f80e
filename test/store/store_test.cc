#include "store/store.h"

#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "core/clock.h"

namespace gantry::store {
namespace {

namespace fs = std::filesystem;

class TempDb {
 public:
  TempDb() {
    dir_ = fs::temp_directory_path() /
           ("gantry-store-" + std::to_string(getpid()) + "-" + std::to_string(n_++));
    fs::create_directories(dir_);
  }
  ~TempDb() { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "gantry.db").string(); }
  core::ManualClock clock;  // what every store opened on this database reads

 private:
  static inline int n_ = 0;
  fs::path dir_;
};

// The store reads db.clock: no test sleeps or reads the real time.
std::unique_ptr<Store> MustOpen(TempDb& db) {
  auto store = Store::Open(db.path(), {.clock = &db.clock});
  if (!store.ok()) FAIL(store.error().ToString());
  return std::move(*store);
}

FunctionRecord Fn(const std::string& name, const std::string& hash,
                  const std::string& image = "img:1") {
  return FunctionRecord{.namespace_name = "default",
                        .name = name,
                        .spec_json = "{\"runtime\":\"exec\"}",
                        .hash = hash,
                        .image = image,
                        .status = "ready"};
}

TEST_CASE("a new store is private, in WAL mode, at the newest schema", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  CHECK(store->SchemaVersion() == Store::LatestSchemaVersion());
  struct stat st {};
  REQUIRE(::stat(db.path().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  // WAL leaves its side files next to the database.
  FunctionRecord f = Fn("echo", "sha256:a");
  REQUIRE(store->PutFunction(f).ok());
  CHECK(fs::exists(db.path() + "-wal"));
}

TEST_CASE("put reports created, unchanged and configured with generations", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  FunctionRecord f = Fn("echo", "sha256:a");
  auto created = store->PutFunction(f);
  REQUIRE(created.ok());
  CHECK(*created == PutOutcome::kCreated);
  CHECK(f.generation == 1);
  int64_t created_at = f.created_unix_ms;
  CHECK(created_at > 0);

  FunctionRecord again = Fn("echo", "sha256:a");
  CHECK(*store->PutFunction(again) == PutOutcome::kUnchanged);
  CHECK(again.generation == 1);

  db.clock.Advance(std::chrono::milliseconds(5));
  FunctionRecord changed = Fn("echo", "sha256:b");
  CHECK(*store->PutFunction(changed) == PutOutcome::kConfigured);
  CHECK(changed.generation == 2);
  CHECK(changed.created_unix_ms == created_at);
  CHECK(changed.updated_unix_ms > created_at);

  // A new image for the same hash is a change too (a rebuild of the same source).
  FunctionRecord rebuilt = Fn("echo", "sha256:b", "img:2");
  CHECK(*store->PutFunction(rebuilt) == PutOutcome::kConfigured);
  CHECK(rebuilt.generation == 3);

  auto got = store->GetFunction("default", "echo");
  REQUIRE(got.ok());
  CHECK(got->hash == "sha256:b");
  CHECK(got->image == "img:2");
  CHECK(got->generation == 3);
  CHECK(got->spec_json == "{\"runtime\":\"exec\"}");
}

TEST_CASE("what was accepted survives closing and reopening", "[store]") {
  TempDb db;
  {
    auto store = MustOpen(db);
    FunctionRecord a = Fn("a", "sha256:1");
    FunctionRecord b = Fn("b", "sha256:2");
    b.namespace_name = "team";
    REQUIRE(store->PutFunction(a).ok());
    REQUIRE(store->PutFunction(b).ok());
    SecretRecord s{
        .namespace_name = "team", .name = "db-password", .value = std::string("s3cr\0t", 6)};
    REQUIRE(store->PutSecret(s).ok());
    REQUIRE(store->SetFunctionStatus("default", "a", "failed", "build failed: step 2/3").ok());
  }
  auto store = MustOpen(db);
  CHECK(store->SchemaVersion() == Store::LatestSchemaVersion());
  auto all = store->ListFunctions("");
  REQUIRE(all.ok());
  REQUIRE(all->size() == 2);
  CHECK((*all)[0].namespace_name == "default");
  CHECK((*all)[0].status == "failed");
  CHECK((*all)[0].last_error == "build failed: step 2/3");
  CHECK((*all)[1].name == "b");
  CHECK(store->ListFunctions("team")->size() == 1);
  auto secret = store->GetSecret("team", "db-password");
  REQUIRE(secret.ok());
  CHECK(secret->value == std::string("s3cr\0t", 6));  // bytes, not C strings
  CHECK(*store->ListNamespaces() == std::vector<std::string>{"default", "team"});
}

TEST_CASE("missing objects are kNotFound", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  CHECK(store->GetFunction("default", "nope").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->DeleteFunction("default", "nope").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->SetFunctionStatus("default", "nope", "x", "").error().code() ==
        core::ErrorCode::kNotFound);
  CHECK(store->GetSecret("default", "nope").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->DeleteSecret("default", "nope").error().code() == core::ErrorCode::kNotFound);

  FunctionRecord f = Fn("gone", "sha256:1");
  REQUIRE(store->PutFunction(f).ok());
  REQUIRE(store->DeleteFunction("default", "gone").ok());
  CHECK_FALSE(store->GetFunction("default", "gone").ok());
}

TEST_CASE("secret values are not listed and unchanged values are detected", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  SecretRecord s{.namespace_name = "default", .name = "token", .value = "abc"};
  CHECK(*store->PutSecret(s) == PutOutcome::kCreated);
  SecretRecord same{.namespace_name = "default", .name = "token", .value = "abc"};
  CHECK(*store->PutSecret(same) == PutOutcome::kUnchanged);
  SecretRecord other{.namespace_name = "default", .name = "token", .value = "xyz"};
  CHECK(*store->PutSecret(other) == PutOutcome::kConfigured);
  auto listed = store->ListSecrets("default");
  REQUIRE(listed.ok());
  REQUIRE(listed->size() == 1);
  CHECK((*listed)[0].name == "token");
  CHECK((*listed)[0].value.empty());
  REQUIRE(store->DeleteSecret("default", "token").ok());
  CHECK(store->ListSecrets("default")->empty());
}

TEST_CASE("a version 1 database is migrated forward, keeping its rows", "[store]") {
  TempDb db;
  {
    // What schema 1 looked like, with one function in it.
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(
                raw,
                "CREATE TABLE functions (namespace TEXT NOT NULL, name TEXT NOT NULL, spec_json "
                "TEXT NOT NULL,"
                " hash TEXT NOT NULL, generation INTEGER NOT NULL, image TEXT NOT NULL DEFAULT '',"
                " status TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '',"
                " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY "
                "(namespace, name));"
                "INSERT INTO functions VALUES ('default', 'old', '{}', 'sha256:o', 4, 'img:o', "
                "'ready', '', 1, 2);"
                "PRAGMA user_version = 1;",
                nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = MustOpen(db);
  CHECK(store->SchemaVersion() == Store::LatestSchemaVersion());
  auto old = store->GetFunction("default", "old");
  REQUIRE(old.ok());
  CHECK(old->generation == 4);
  CHECK(old->deployment_json.empty());
  FunctionRecord f = Fn("old", "sha256:n");
  f.deployment_json = "{\"image\":\"img:n\"}";
  REQUIRE(store->PutFunction(f).ok());
  CHECK(store->GetFunction("default", "old")->deployment_json == "{\"image\":\"img:n\"}");
}

TEST_CASE("a database from a newer gantryd, or not a database, is refused", "[store]") {
  TempDb db;
  {
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &raw) == SQLITE_OK);
    REQUIRE(sqlite3_exec(raw, "PRAGMA user_version = 999", nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  auto newer = Store::Open(db.path(), {.clock = &db.clock});
  REQUIRE_FALSE(newer.ok());
  CHECK_THAT(newer.error().message(), Catch::Contains("schema version 999 is newer"));

  TempDb junk;
  std::ofstream(junk.path())
      << "this is not a database, not even close, but long enough to look like a header";
  auto garbage = Store::Open(junk.path(), {.clock = &junk.clock});
  REQUIRE_FALSE(garbage.ok());
}

TEST_CASE("async calls are claimed oldest first, retried later, and re-queued after a stop",
          "[store]") {
  TempDb db;
  {
    auto store = MustOpen(db);
    AsyncCall a{.call_id = "a", .namespace_name = "default", .function = "echo", .body = "first"};
    AsyncCall b{.call_id = "b", .namespace_name = "default", .function = "echo", .body = "second"};
    REQUIRE(store->EnqueueAsync(a).ok());
    db.clock.Advance(std::chrono::milliseconds(2));
    REQUIRE(store->EnqueueAsync(b).ok());
    auto first = store->ClaimAsync();
    REQUIRE(first.ok());
    REQUIRE(first->has_value());
    CHECK((*first)->call_id == "a");
    CHECK((*first)->body == "first");
    CHECK((*first)->attempts == 1);
    // A retry is not due before its delay.
    REQUIRE(store->RetryAsync("a", 60'000).ok());
    auto second = store->ClaimAsync();
    REQUIRE(second->has_value());
    CHECK((*second)->call_id == "b");
    CHECK_FALSE(store->ClaimAsync()->has_value());  // a waits, b is running
    // gantryd stops with b running.
  }
  auto store = MustOpen(db);
  CHECK(*store->RequeueRunningAsync() == 1);
  auto again = store->ClaimAsync();
  REQUIRE(again->has_value());
  CHECK((*again)->call_id == "b");
  CHECK((*again)->attempts == 2);
  REQUIRE(store->FinishAsync("b").ok());
  CHECK_FALSE(store->ClaimAsync()->has_value());
  REQUIRE(store
              ->RecordInvocations({{.call_id = "b",
                                    .namespace_name = "default",
                                    .function = "echo",
                                    .duration_us = 2,
                                    .status = 200,
                                    .started_unix_ms = 1}})
              .ok());
}

TEST_CASE("every stamp and due time comes from the store's clock", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  const int64_t start_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(core::ManualClock::kWallStart).count();
  FunctionRecord f = Fn("echo", "sha256:a");
  REQUIRE(store->PutFunction(f).ok());
  CHECK(f.created_unix_ms == start_ms);
  CHECK(f.updated_unix_ms == start_ms);
  SecretRecord secret{.namespace_name = "default", .name = "key", .value = "v1"};
  REQUIRE(store->PutSecret(secret).ok());
  CHECK(secret.created_unix_ms == start_ms);

  db.clock.Advance(std::chrono::seconds(90));
  FunctionRecord changed = Fn("echo", "sha256:b");
  REQUIRE(store->PutFunction(changed).ok());
  CHECK(changed.created_unix_ms == start_ms);
  CHECK(changed.updated_unix_ms == start_ms + 90'000);
  secret.value = "v2";
  REQUIRE(store->PutSecret(secret).ok());
  CHECK(secret.created_unix_ms == start_ms);
  CHECK(secret.updated_unix_ms == start_ms + 90'000);

  AsyncCall call{.call_id = "a", .namespace_name = "default", .function = "echo"};
  REQUIRE(store->EnqueueAsync(call).ok());
  CHECK(call.enqueued_unix_ms == start_ms + 90'000);
  REQUIRE(store->ClaimAsync()->has_value());
  REQUIRE(store->RetryAsync("a", 60'000).ok());
  db.clock.Advance(std::chrono::milliseconds(59'999));
  CHECK_FALSE(store->ClaimAsync()->has_value());  // due in 1 ms
  db.clock.Advance(std::chrono::milliseconds(1));
  auto due = store->ClaimAsync();
  REQUIRE(due->has_value());
  CHECK((*due)->call_id == "a");
  CHECK((*due)->attempts == 2);
}

// A second connection to the same file, for what a test does behind the store's back
// (SQLite re-prepares the store's statements when the schema changes).
class Side {
 public:
  explicit Side(const std::string& path) { REQUIRE(sqlite3_open(path.c_str(), &db_) == SQLITE_OK); }
  ~Side() { sqlite3_close(db_); }
  void Exec(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    std::string message = err != nullptr ? err : "";
    sqlite3_free(err);
    INFO(sql);
    REQUIRE(rc == SQLITE_OK);
    (void)message;
  }

 private:
  sqlite3* db_ = nullptr;
};

// Every write to `table` leaves a row that breaks a deferred foreign key: the statement
// succeeds and the COMMIT fails ("FOREIGN KEY constraint failed"), as a COMMIT can fail
// on a full disk or an I/O error.
void BreakCommitsOf(Side& side, const std::string& table) {
  side.Exec(
      "CREATE TABLE IF NOT EXISTS parent (id INTEGER PRIMARY KEY);"
      "CREATE TABLE IF NOT EXISTS child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY "
      "DEFERRED);");
  side.Exec(("CREATE TRIGGER break_" + table + " AFTER INSERT ON " + table +
             " BEGIN INSERT INTO child VALUES (42); END;")
                .c_str());
}

TEST_CASE("a failed COMMIT is an error, is rolled back, and the store keeps working", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  Side side(db.path());
  BreakCommitsOf(side, "functions");
  FunctionRecord f = Fn("echo", "sha256:a");
  auto put = store->PutFunction(f);
  REQUIRE_FALSE(put.ok());
  CHECK(put.error().code() == core::ErrorCode::kInternal);
  CHECK_THAT(put.error().message(), Catch::Contains("FOREIGN KEY constraint failed"));
  CHECK(f.generation == 0);  // nothing reported as written
  // Nothing half-written is visible, to this connection or another.
  auto get = store->GetFunction("default", "echo");
  REQUIRE_FALSE(get.ok());
  CHECK(get.error().code() == core::ErrorCode::kNotFound);

  // The transaction was closed: another connection can write, and so can the store.
  side.Exec("DROP TRIGGER break_functions");
  FunctionRecord again = Fn("echo", "sha256:a");
  auto created = store->PutFunction(again);
  REQUIRE(created.ok());
  CHECK(*created == PutOutcome::kCreated);
  CHECK(again.generation == 1);

  BreakCommitsOf(side, "secrets");
  SecretRecord secret{.namespace_name = "default", .name = "db", .value = "hunter2"};
  REQUIRE_FALSE(store->PutSecret(secret).ok());
  CHECK(store->GetSecret("default", "db").error().code() == core::ErrorCode::kNotFound);

  BreakCommitsOf(side, "async_calls");
  AsyncCall call{.call_id = "c1", .namespace_name = "default", .function = "echo", .body = "x"};
  auto queued = store->EnqueueAsync(call);
  REQUIRE_FALSE(queued.ok());
  CHECK_FALSE(store->ClaimAsync()->has_value());

  BreakCommitsOf(side, "invocations");
  REQUIRE_FALSE(store
                    ->RecordInvocations({{.call_id = "c1",
                                          .namespace_name = "default",
                                          .function = "echo",
                                          .duration_us = 2,
                                          .status = 200,
                                          .started_unix_ms = 1}})
                    .ok());
}

TEST_CASE("a value over the size limit fails its bind: kInvalidArgument, nothing written",
          "[store]") {
  TempDb db;
  auto opened = Store::Open(db.path(), {.max_value_bytes = 4096, .clock = &db.clock});
  REQUIRE(opened.ok());
  auto& store = *opened;
  AsyncCall call{.call_id = "big",
                 .namespace_name = "default",
                 .function = "echo",
                 .body = std::string(8192, 'b')};
  auto queued = store->EnqueueAsync(call);
  REQUIRE_FALSE(queued.ok());
  CHECK(queued.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK_THAT(queued.error().message(), Catch::Contains("too big"));
  CHECK_FALSE(store->ClaimAsync()->has_value());

  SecretRecord secret{.namespace_name = "default", .name = "big", .value = std::string(8192, 's')};
  auto put = store->PutSecret(secret);
  REQUIRE_FALSE(put.ok());
  CHECK(put.error().code() == core::ErrorCode::kInvalidArgument);
  CHECK(store->GetSecret("default", "big").error().code() == core::ErrorCode::kNotFound);

  FunctionRecord f = Fn("echo", "sha256:a");
  f.spec_json = std::string(8192, '{');
  auto fn = store->PutFunction(f);
  REQUIRE_FALSE(fn.ok());
  CHECK(fn.error().code() == core::ErrorCode::kInvalidArgument);
  // Small values still go in.
  AsyncCall small{
      .call_id = "small", .namespace_name = "default", .function = "echo", .body = "ok"};
  CHECK(store->EnqueueAsync(small).ok());
}

TEST_CASE("a call id already in the queue is kAlreadyExists, not SQLite's text", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  AsyncCall a{.call_id = "same", .namespace_name = "default", .function = "echo", .body = "one"};
  REQUIRE(store->EnqueueAsync(a).ok());
  AsyncCall b{.call_id = "same", .namespace_name = "default", .function = "other", .body = "two"};
  auto again = store->EnqueueAsync(b);
  REQUIRE_FALSE(again.ok());
  CHECK(again.error().code() == core::ErrorCode::kAlreadyExists);
  CHECK(again.error().message() == "call id same already queued");
  // The first call is untouched.
  auto claimed = store->ClaimAsync();
  REQUIRE(claimed->has_value());
  CHECK((*claimed)->body == "one");
  // Once it is finished, the id may be used again.
  REQUIRE(store->FinishAsync("same").ok());
  CHECK(*store->EnqueueAsync(b) == EnqueueOutcome::kQueued);
}

TEST_CASE("the async queue is bounded in calls, calls per function and bytes", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  AsyncQueueLimits limits{.max_calls = 3, .max_calls_per_function = 2, .max_bytes = 10};
  auto enqueue = [&](const std::string& id, const std::string& fn, const std::string& body) {
    AsyncCall c{.call_id = id, .namespace_name = "default", .function = fn, .body = body};
    auto r = store->EnqueueAsync(c, limits);
    REQUIRE(r.ok());
    return *r;
  };
  // Headers, path and callback URL count as bytes too, not only the body.
  AsyncCall heavy{.call_id = "h",
                  .namespace_name = "default",
                  .function = "a",
                  .path = "/p",
                  .headers_json = "{\"x-a\":\"b\"}",
                  .callback_url = "http://x/"};
  CHECK(*store->EnqueueAsync(heavy, limits) == EnqueueOutcome::kQueueBytesFull);
  CHECK(enqueue("1", "a", "xx") == EnqueueOutcome::kQueued);
  CHECK(enqueue("2", "a", "xx") == EnqueueOutcome::kQueued);
  CHECK(enqueue("3", "a", "xx") == EnqueueOutcome::kFunctionQueueFull);
  CHECK(enqueue("4", "b", "1234567") == EnqueueOutcome::kQueueBytesFull);  // 4 + 7 > 10
  CHECK(enqueue("5", "b", "xx") == EnqueueOutcome::kQueued);
  CHECK(enqueue("6", "c", "") == EnqueueOutcome::kQueueFull);
  // A running call still counts; a finished one frees its place.
  auto claimed = store->ClaimAsync();
  REQUIRE(claimed->has_value());
  CHECK(enqueue("7", "c", "") == EnqueueOutcome::kQueueFull);
  REQUIRE(store->FinishAsync((*claimed)->call_id).ok());
  CHECK(enqueue("8", "c", "") == EnqueueOutcome::kQueued);
  // No limits: no bound.
  AsyncCall free{
      .call_id = "9", .namespace_name = "default", .function = "c", .body = "0123456789abc"};
  CHECK(*store->EnqueueAsync(free) == EnqueueOutcome::kQueued);
}

TEST_CASE("finishing or retrying a call that is not there is kNotFound", "[store]") {
  TempDb db;
  auto store = MustOpen(db);
  CHECK(store->FinishAsync("nope").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->RetryAsync("nope", 10).error().code() == core::ErrorCode::kNotFound);
  AsyncCall a{.call_id = "a", .namespace_name = "default", .function = "echo"};
  REQUIRE(store->EnqueueAsync(a).ok());
  // Queued, not running: a retry would reset its due time without notice.
  CHECK(store->RetryAsync("a", 10).error().code() == core::ErrorCode::kNotFound);
  REQUIRE(store->ClaimAsync()->has_value());
  CHECK(store->RetryAsync("a", 0).ok());
}

}  // namespace
}  // namespace gantry::store
