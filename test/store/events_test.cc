// Each function's Events in the store: bounded per function, repeats collapsed, dropped
// with the function, and the schema step that adds them migrating an older database.
#include <sqlite3.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <string>

#include "store/store.h"

namespace gantry::store {
namespace {

namespace fs = std::filesystem;

class EventsDb {
 public:
  EventsDb() {
    dir_ = fs::temp_directory_path() /
           ("gantry-store-events-" + std::to_string(getpid()) + "-" + std::to_string(n_++));
    fs::create_directories(dir_);
  }
  ~EventsDb() { fs::remove_all(dir_); }
  std::string path() const { return (dir_ / "gantry.db").string(); }
  std::unique_ptr<Store> Open(int max_events = 100) {
    auto store = Store::Open(path(), {.clock = &clock, .max_events_per_function = max_events});
    if (!store.ok()) FAIL(store.error().ToString());
    return std::move(*store);
  }
  core::ManualClock clock;

 private:
  static inline int n_ = 0;
  fs::path dir_;
};

void PutFn(Store& store, const std::string& name) {
  FunctionRecord f{.namespace_name = "default",
                   .name = name,
                   .spec_json = "{}",
                   .hash = "sha256:" + name,
                   .image = "img:1",
                   .status = "ready"};
  REQUIRE(store.PutFunction(f).ok());
}

EventRecord Ev(const std::string& name, int64_t ms, const std::string& reason,
               const std::string& message = "m", const std::string& replica = "") {
  return EventRecord{.namespace_name = "default",
                     .name = name,
                     .time_unix_ms = ms,
                     .type = reason == "Died" ? "Warning" : "Normal",
                     .reason = reason,
                     .message = message,
                     .replica = replica};
}

TEST_CASE("store events: kept per function, newest N, oldest first", "[store][events]") {
  EventsDb db;
  auto store = db.Open(/*max_events=*/3);
  PutFn(*store, "a");
  PutFn(*store, "b");
  std::vector<EventRecord> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Ev("a", 1000 + i, "Started", std::to_string(i)));
  batch.push_back(Ev("b", 2000, "Built"));
  REQUIRE(store->AppendEvents(batch).ok());
  auto a = store->ListEvents("default", "a", 0);
  REQUIRE(a.ok());
  REQUIRE(a->size() == 3);
  CHECK((*a)[0].message == "2");
  CHECK((*a)[2].message == "4");
  CHECK((*a)[2].time_unix_ms == 1004);
  CHECK((*a)[2].type == "Normal");
  auto newest = store->ListEvents("default", "a", 2);
  REQUIRE(newest->size() == 2);
  CHECK((*newest)[0].message == "3");
  auto b = store->ListEvents("default", "b", 20);
  REQUIRE(b->size() == 1);  // a's bound does not touch b
  CHECK((*b)[0].reason == "Built");
  CHECK(store->ListEvents("default", "nope", 20)->empty());
}

TEST_CASE("store events: a repeat of the newest is counted in it", "[store][events]") {
  EventsDb db;
  auto store = db.Open();
  PutFn(*store, "a");
  REQUIRE(store->AppendEvent(Ev("a", 1000, "Died", "exited with code 1", "abcdefabcdef")).ok());
  REQUIRE(store->AppendEvent(Ev("a", 2000, "Died", "exited with code 1", "abcdefabcdef")).ok());
  REQUIRE(store->AppendEvent(Ev("a", 3000, "Died", "exited with code 1", "abcdefabcdef")).ok());
  REQUIRE(store->AppendEvent(Ev("a", 4000, "Died", "exited with code 1", "123456123456")).ok());
  auto a = store->ListEvents("default", "a", 0);
  REQUIRE(a->size() == 2);
  CHECK((*a)[0].count == 3);
  CHECK((*a)[0].time_unix_ms == 1000);
  CHECK((*a)[0].last_unix_ms == 3000);
  CHECK((*a)[1].count == 1);
  CHECK((*a)[1].replica == "123456123456");
}

TEST_CASE("store events: go with their function, none for a function not stored",
          "[store][events]") {
  EventsDb db;
  auto store = db.Open();
  PutFn(*store, "a");
  REQUIRE(store->AppendEvent(Ev("a", 1000, "Built")).ok());
  REQUIRE(store->AppendEvent(Ev("ghost", 1000, "Removed")).ok());
  CHECK(store->ListEvents("default", "ghost", 0)->empty());
  REQUIRE(store->DeleteFunction("default", "a").ok());
  CHECK(store->ListEvents("default", "a", 0)->empty());
  PutFn(*store, "a");  // the same name again starts with no history
  CHECK(store->ListEvents("default", "a", 0)->empty());
}

TEST_CASE("store events: a database of the previous schema gets the events table",
          "[store][events]") {
  EventsDb db;
  {
    auto store = db.Open();
    PutFn(*store, "a");
  }
  {
    // Back to what the schema was before the events step (2; the invocation records' step
    // 4 and the triggers' step 6 come after it and start from no table, as a hand-made
    // database would; the later steps' tables go too).
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open(db.path().c_str(), &raw) == SQLITE_OK);
    std::string sql =
        "DROP TABLE events; DROP TABLE invocations; DROP TABLE usage_hourly; DROP TABLE "
        "async_calls; DROP TABLE trigger_ticks; DROP TABLE dead_letters; DROP TABLE "
        "topic_tokens; PRAGMA user_version = 2;";
    REQUIRE(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
    sqlite3_close(raw);
  }
  auto store = db.Open();
  CHECK(store->SchemaVersion() == Store::LatestSchemaVersion());
  REQUIRE(store->GetFunction("default", "a").ok());
  REQUIRE(store->AppendEvent(Ev("a", 1000, "Built")).ok());
  CHECK(store->ListEvents("default", "a", 0)->size() == 1);
}

}  // namespace
}  // namespace gantry::store
