#include "store/store.h"

#include <catch2/catch.hpp>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace gantry::store {
namespace {

namespace fs = std::filesystem;

class TempDb {
 public:
  TempDb() {
    dir_ = fs::temp_directory_path() / ("gantry-store-" + std::to_string(getpid()) + "-" + std::to_string(n_++));
    fs::create_directories(dir_);
  }
  ~TempDb() { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "gantry.db").string(); }

 private:
  static inline int n_ = 0;
  fs::path dir_;
};

std::unique_ptr<Store> MustOpen(const std::string& path) {
  auto store = Store::Open(path);
  if (!store.ok()) FAIL(store.error().ToString());
  return std::move(*store);
}

FunctionRecord Fn(const std::string& name, const std::string& hash, const std::string& image = "img:1") {
  return FunctionRecord{.namespace_name = "default", .name = name, .spec_json = "{\"runtime\":\"exec\"}",
                        .hash = hash, .image = image, .status = "ready"};
}

TEST_CASE("a new store is private, in WAL mode, at the newest schema", "[store]") {
  TempDb db;
  auto store = MustOpen(db.path());
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
  auto store = MustOpen(db.path());
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

  std::this_thread::sleep_for(std::chrono::milliseconds(5));
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
    auto store = MustOpen(db.path());
    FunctionRecord a = Fn("a", "sha256:1");
    FunctionRecord b = Fn("b", "sha256:2");
    b.namespace_name = "team";
    REQUIRE(store->PutFunction(a).ok());
    REQUIRE(store->PutFunction(b).ok());
    SecretRecord s{.namespace_name = "team", .name = "db-password", .value = std::string("s3cr\0t", 6)};
    REQUIRE(store->PutSecret(s).ok());
    REQUIRE(store->SetFunctionStatus("default", "a", "failed", "build failed: step 2/3").ok());
  }
  auto store = MustOpen(db.path());
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
  auto store = MustOpen(db.path());
  CHECK(store->GetFunction("default", "nope").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->DeleteFunction("default", "nope").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->SetFunctionStatus("default", "nope", "x", "").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->GetSecret("default", "nope").error().code() == core::ErrorCode::kNotFound);
  CHECK(store->DeleteSecret("default", "nope").error().code() == core::ErrorCode::kNotFound);

  FunctionRecord f = Fn("gone", "sha256:1");
  REQUIRE(store->PutFunction(f).ok());
  REQUIRE(store->DeleteFunction("default", "gone").ok());
  CHECK_FALSE(store->GetFunction("default", "gone").ok());
}

TEST_CASE("secret values are not listed and unchanged values are detected", "[store]") {
  TempDb db;
  auto store = MustOpen(db.path());
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
    REQUIRE(sqlite3_exec(raw,
                         "CREATE TABLE functions (namespace TEXT NOT NULL, name TEXT NOT NULL, spec_json TEXT NOT NULL,"
                         " hash TEXT NOT NULL, generation INTEGER NOT NULL, image TEXT NOT NULL DEFAULT '',"
                         " status TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '',"
                         " created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, PRIMARY KEY (namespace, name));"
                         "INSERT INTO functions VALUES ('default', 'old', '{}', 'sha256:o', 4, 'img:o', 'ready', '', 1, 2);"
                         "PRAGMA user_version = 1;",
                         nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = MustOpen(db.path());
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
  auto newer = Store::Open(db.path());
  REQUIRE_FALSE(newer.ok());
  CHECK_THAT(newer.error().message(), Catch::Contains("schema version 999 is newer"));

  TempDb junk;
  std::ofstream(junk.path()) << "this is not a database, not even close, but long enough to look like a header";
  auto garbage = Store::Open(junk.path());
  REQUIRE_FALSE(garbage.ok());
}


TEST_CASE("async calls are claimed oldest first, retried later, and re-queued after a stop", "[store]") {
  TempDb db;
  {
    auto store = MustOpen(db.path());
    AsyncCall a{.call_id = "a", .namespace_name = "default", .function = "echo", .body = "first"};
    AsyncCall b{.call_id = "b", .namespace_name = "default", .function = "echo", .body = "second"};
    REQUIRE(store->EnqueueAsync(a).ok());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
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
  auto store = MustOpen(db.path());
  CHECK(*store->RequeueRunningAsync() == 1);
  auto again = store->ClaimAsync();
  REQUIRE(again->has_value());
  CHECK((*again)->call_id == "b");
  CHECK((*again)->attempts == 2);
  REQUIRE(store->FinishAsync("b").ok());
  CHECK_FALSE(store->ClaimAsync()->has_value());
  REQUIRE(store->RecordInvocation("b", "default", "echo", 1, 2, 200, true, "").ok());
}

}  // namespace
}  // namespace gantry::store
