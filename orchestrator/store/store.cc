#include "store/store.h"

#include <fmt/format.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>

namespace gantry::store {
namespace {

// Each entry moves the schema from version i to i+1, inside one transaction.
const char* const kMigrations[] = {
    // 1: functions, secrets, the async queue and invocation records.
    R"sql(
      CREATE TABLE functions (
        namespace TEXT NOT NULL, name TEXT NOT NULL,
        spec_json TEXT NOT NULL, hash TEXT NOT NULL, generation INTEGER NOT NULL,
        image TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT '', last_error TEXT NOT NULL DEFAULT '',
        created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, name));
      CREATE TABLE secrets (
        namespace TEXT NOT NULL, name TEXT NOT NULL, value BLOB NOT NULL,
        created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, name));
      CREATE TABLE async_calls (
        call_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL,
        method TEXT NOT NULL, path TEXT NOT NULL, headers_json TEXT NOT NULL, body BLOB NOT NULL,
        callback_url TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0, enqueued_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
      CREATE INDEX async_calls_by_state ON async_calls (state, enqueued_ms);
      CREATE TABLE invocations (
        call_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL,
        started_ms INTEGER NOT NULL, duration_us INTEGER NOT NULL, status INTEGER NOT NULL,
        cold_start INTEGER NOT NULL, async INTEGER NOT NULL, replica TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '');
      CREATE INDEX invocations_by_function ON invocations (namespace, function, started_ms);
    )sql",
    // 2: what the pool runs for a function (image, limits, scale), so a restart needs no rebuild.
    R"sql(
      ALTER TABLE functions ADD COLUMN deployment_json TEXT NOT NULL DEFAULT '';
    )sql",
    // 3: each function's Events (bounded history; see AppendEvents).
    R"sql(
      CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, namespace TEXT NOT NULL, name TEXT NOT NULL,
        time_ms INTEGER NOT NULL, last_ms INTEGER NOT NULL, type TEXT NOT NULL,
        reason TEXT NOT NULL, message TEXT NOT NULL, replica TEXT NOT NULL DEFAULT '',
        count INTEGER NOT NULL DEFAULT 1);
      CREATE INDEX events_by_function ON events (namespace, name, id);
    )sql",
    // 4: invocation records of every call: trigger, generation, wait, bytes, an async
    // call's state, attempts and result.
    // (A database that lacks the table, written by hand, gets schema 1's first.)
    R"sql(
      CREATE TABLE IF NOT EXISTS invocations (
        call_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL,
        started_ms INTEGER NOT NULL, duration_us INTEGER NOT NULL, status INTEGER NOT NULL,
        cold_start INTEGER NOT NULL, async INTEGER NOT NULL, replica TEXT NOT NULL DEFAULT '',
        error TEXT NOT NULL DEFAULT '');
      ALTER TABLE invocations ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE invocations ADD COLUMN trigger TEXT NOT NULL DEFAULT 'http';
      ALTER TABLE invocations ADD COLUMN queue_wait_us INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE invocations ADD COLUMN request_bytes INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE invocations ADD COLUMN response_bytes INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE invocations ADD COLUMN state TEXT NOT NULL DEFAULT '';
      ALTER TABLE invocations ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE invocations ADD COLUMN enqueued_ms INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE invocations ADD COLUMN result_status INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE invocations ADD COLUMN result_headers TEXT NOT NULL DEFAULT '';
      ALTER TABLE invocations ADD COLUMN result_body BLOB NOT NULL DEFAULT '';
      ALTER TABLE invocations ADD COLUMN result_truncated INTEGER NOT NULL DEFAULT 0;
      UPDATE invocations SET trigger = 'async', state = CASE WHEN status BETWEEN 1 AND 399
        AND error = '' THEN 'succeeded' ELSE 'failed' END WHERE async = 1;
      CREATE INDEX invocations_by_start ON invocations (started_ms);
    )sql",
    // 5: usage (pay-per-use): an hourly rollup per function of the calls that ran, kept
    // when the raw records are trimmed; each record's memory limit. Existing records are
    // rolled up (their memory unknown: no GB-seconds).
    R"sql(
      ALTER TABLE invocations ADD COLUMN memory_bytes INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE usage_hourly (
        namespace TEXT NOT NULL, function TEXT NOT NULL, hour_ms INTEGER NOT NULL,
        calls INTEGER NOT NULL, errors INTEGER NOT NULL, cold_starts INTEGER NOT NULL,
        billed_ms INTEGER NOT NULL, kib_ms INTEGER NOT NULL,
        request_bytes INTEGER NOT NULL, response_bytes INTEGER NOT NULL,
        PRIMARY KEY (namespace, function, hour_ms));
      INSERT INTO usage_hourly SELECT namespace, function, started_ms - started_ms % 3600000,
        count(*), sum(status >= 400 OR error != ''), sum(cold_start != 0),
        sum(max(1, (duration_us + 999) / 1000)), 0, sum(request_bytes), sum(response_bytes)
        FROM invocations WHERE replica != '' GROUP BY 1, 2, 3;
    )sql",
    // 6: triggers: what fired an async call (and from which topic event), the last tick
    // each cron trigger fired, and the dead letters of trigger calls whose attempts all
    // failed.
    // (A database that lacks the queue, written by hand, gets schema 1's first.)
    R"sql(
      CREATE TABLE IF NOT EXISTS async_calls (
        call_id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL,
        method TEXT NOT NULL, path TEXT NOT NULL, headers_json TEXT NOT NULL, body BLOB NOT NULL,
        callback_url TEXT NOT NULL DEFAULT '', state TEXT NOT NULL DEFAULT 'queued',
        attempts INTEGER NOT NULL DEFAULT 0, enqueued_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL);
      ALTER TABLE async_calls ADD COLUMN trigger TEXT NOT NULL DEFAULT 'async';
      ALTER TABLE async_calls ADD COLUMN topic TEXT NOT NULL DEFAULT '';
      ALTER TABLE async_calls ADD COLUMN event_id TEXT NOT NULL DEFAULT '';
      CREATE TABLE trigger_ticks (
        namespace TEXT NOT NULL, function TEXT NOT NULL, idx INTEGER NOT NULL,
        schedule TEXT NOT NULL, last_ms INTEGER NOT NULL,
        PRIMARY KEY (namespace, function, idx));
      CREATE TABLE dead_letters (
        id TEXT PRIMARY KEY, namespace TEXT NOT NULL, function TEXT NOT NULL,
        trigger TEXT NOT NULL, topic TEXT NOT NULL, event_id TEXT NOT NULL,
        method TEXT NOT NULL, path TEXT NOT NULL, headers_json TEXT NOT NULL, body BLOB NOT NULL,
        attempts INTEGER NOT NULL, status INTEGER NOT NULL, error TEXT NOT NULL,
        enqueued_ms INTEGER NOT NULL, failed_ms INTEGER NOT NULL);
      CREATE INDEX dead_letters_by_namespace ON dead_letters (namespace, failed_ms);
      CREATE TABLE topic_tokens (
        topic TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL, created_ms INTEGER NOT NULL);
    )sql",
};

// Dead letters kept (the oldest go first).
constexpr int64_t kMaxDeadLetters = 10'000;

// The error class for an SQLite result code (see Store's contract).
core::ErrorCode CodeFor(int rc) {
  switch (rc & 0xff) {
    case SQLITE_TOOBIG:
      return core::ErrorCode::kInvalidArgument;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return core::ErrorCode::kUnavailable;
    default:
      return core::ErrorCode::kInternal;
  }
}

core::Error SqlError(sqlite3* db, int rc, std::string_view what) {
  // The connection's message may belong to an earlier call when `rc` came from elsewhere.
  std::string_view message = sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  return core::Error(CodeFor(rc), fmt::format("store: {}: {}", what, message));
}

core::Error SqlError(sqlite3* db, std::string_view what) {
  return SqlError(db, sqlite3_errcode(db), what);
}

// A prepared statement, finalised when it goes out of scope. A failed prepare or bind is
// remembered and returned by Step, which then runs nothing: a statement never runs with a
// parameter left unbound (NULL).
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : db_(db) {
    rc_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return rc_ == SQLITE_OK; }
  Stmt& Bind(int i, const std::string& v) {
    return Check(
        v.size() > kMaxBind
            ? SQLITE_TOOBIG
            : sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& BindBlob(int i, const std::string& v) {
    return Check(
        v.size() > kMaxBind
            ? SQLITE_TOOBIG
            : sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
  }
  Stmt& Bind(int i, int64_t v) { return Check(sqlite3_bind_int64(stmt_, i, v)); }
  // SQLITE_ROW, SQLITE_DONE or an error code (also the first failed prepare or bind).
  int Step() {
    if (rc_ != SQLITE_OK) return rc_;
    return sqlite3_step(stmt_);
  }
  // The error for a Step that returned `rc`.
  core::Error Error(int rc, std::string_view what) const { return SqlError(db_, rc, what); }
  std::string Text(int col) const {
    const auto* p = static_cast<const char*>(sqlite3_column_blob(stmt_, col));
    return p == nullptr
               ? std::string()
               : std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)));
  }
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  // For the next row of a batch: the statement runs again with new bindings.
  void Reset() { sqlite3_reset(stmt_); }

 private:
  // sqlite3_bind_* take an int length.
  static constexpr std::size_t kMaxBind = static_cast<std::size_t>(std::numeric_limits<int>::max());

  Stmt& Check(int rc) {
    if (rc_ == SQLITE_OK && rc != SQLITE_OK) rc_ = rc;
    return *this;
  }

  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  int rc_;
};

core::Status Exec(sqlite3* db, const char* sql, std::string_view what) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err != nullptr ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    return core::Error(CodeFor(rc), fmt::format("store: {}: {}", what, msg));
  }
  return core::Ok();
}

// One write transaction (BEGIN IMMEDIATE): Commit() makes it durable or reports why not;
// whatever is not committed is rolled back when it goes out of scope.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {}
  ~Transaction() {
    if (open_) Rollback();
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  core::Status Begin() {
    if (auto s = Exec(db_, "BEGIN IMMEDIATE", "begin"); !s) return s;
    open_ = true;
    return core::Ok();
  }
  // A failed COMMIT (a deferred constraint, a busy or full disk) leaves the transaction
  // open in SQLite: it is rolled back here, so the next call starts clean.
  core::Status Commit(std::string_view what) {
    if (auto s = Exec(db_, "COMMIT", "commit"); !s) {
      Rollback();
      return s.error().WithContext(what);
    }
    open_ = false;
    return core::Ok();
  }

 private:
  void Rollback() {
    open_ = false;
    // Fails only when SQLite already rolled back (after some I/O errors): nothing is open.
    if (sqlite3_get_autocommit(db_) == 0) (void)Exec(db_, "ROLLBACK", "rollback");
  }

  sqlite3* db_;
  bool open_ = false;
};

const char* const kFunctionColumns =
    "namespace, name, spec_json, hash, generation, image, status, last_error, created_ms, "
    "updated_ms, "
    "deployment_json";

FunctionRecord FunctionFrom(const Stmt& s) {
  return FunctionRecord{.namespace_name = s.Text(0),
                        .name = s.Text(1),
                        .spec_json = s.Text(2),
                        .hash = s.Text(3),
                        .generation = s.Int(4),
                        .image = s.Text(5),
                        .status = s.Text(6),
                        .last_error = s.Text(7),
                        .created_unix_ms = s.Int(8),
                        .updated_unix_ms = s.Int(9),
                        .deployment_json = s.Text(10)};
}

}  // namespace

core::Result<std::unique_ptr<Store>> Store::Open(const std::string& path,
                                                 const StoreOptions& options) {
  // SQLite's own memory statistics take a process-wide mutex on every allocation; nothing
  // reads them. (Only possible before SQLite initialises; later it is refused, harmlessly.)
  static std::once_flag configured;
  std::call_once(configured, [] { (void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* db = nullptr;
  // Created 0600: the file holds secrets.
  mode_t old_mask = ::umask(077);
  // NOMUTEX: every use of the connection is under mu_ already, so SQLite's per-call
  // connection mutex (16 lock pairs per record written) would only repeat it.
  int rc = sqlite3_open_v2(
      path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  ::umask(old_mask);
  if (rc != SQLITE_OK) {
    std::string msg = db != nullptr ? sqlite3_errmsg(db) : "out of memory";
    sqlite3_close(db);
    return core::Error::Unavailable(fmt::format("store: cannot open {}: {}", path, msg));
  }
  std::unique_ptr<Store> store(new Store(
      db, options, options.clock != nullptr ? *options.clock : core::SystemClock::Instance()));
  ::chmod(path.c_str(), 0600);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, options.max_value_bytes);
  if (auto s =
          Exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
               "pragmas");
      !s) {
    return s.error().WithContext(path);
  }
  if (auto s = store->Migrate(); !s) return s.error().WithContext(path);
  return store;
}

int64_t Store::NowMs() const {
  using namespace std::chrono;
  return duration_cast<milliseconds>(clock_.Wall().time_since_epoch()).count();
}

Store::~Store() {
  sqlite3_close(db_);
}

int Store::LatestSchemaVersion() {
  return static_cast<int>(std::size(kMigrations));
}

int Store::SchemaVersion() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "PRAGMA user_version");
  return s.ok() && s.Step() == SQLITE_ROW ? static_cast<int>(s.Int(0)) : -1;
}

core::Status Store::Migrate() {
  int version = 0;
  {
    Stmt s(db_, "PRAGMA user_version");
    if (!s.ok() || s.Step() != SQLITE_ROW) return SqlError(db_, "reading the schema version");
    version = static_cast<int>(s.Int(0));
  }
  if (version > LatestSchemaVersion()) {
    return core::Error::Internal(
        fmt::format("store: schema version {} is newer than this gantryd knows ({})", version,
                    LatestSchemaVersion()));
  }
  for (int v = version; v < LatestSchemaVersion(); ++v) {
    std::string sql =
        fmt::format("BEGIN IMMEDIATE; {} PRAGMA user_version = {}; COMMIT;", kMigrations[v], v + 1);
    if (auto s = Exec(db_, sql.c_str(), fmt::format("migrating to schema {}", v + 1)); !s) {
      (void)Exec(db_, "ROLLBACK", "rollback");
      return s;
    }
  }
  return core::Ok();
}

core::Result<PutOutcome> Store::PutFunction(FunctionRecord& record) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.Begin(); !s) return s.error();
  int64_t now = NowMs();
  Stmt get(db_,
           "SELECT hash, image, generation, created_ms FROM functions WHERE namespace = ?1 AND "
           "name = ?2");
  get.Bind(1, record.namespace_name).Bind(2, record.name);
  int rc = get.Step();
  PutOutcome outcome = PutOutcome::kCreated;
  int64_t generation = 1;
  int64_t created = now;
  if (rc == SQLITE_ROW) {
    if (get.Text(0) == record.hash && get.Text(1) == record.image) {
      record.generation = get.Int(2);
      record.created_unix_ms = get.Int(3);
      return PutOutcome::kUnchanged;  // nothing written: the transaction just ends
    }
    outcome = PutOutcome::kConfigured;
    generation = get.Int(2) + 1;
    created = get.Int(3);
  } else if (rc != SQLITE_DONE) {
    return get.Error(rc, "reading a function");
  }
  Stmt put(db_, fmt::format("INSERT OR REPLACE INTO functions ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                            "?7, ?8, ?9, ?10, ?11)",
                            kFunctionColumns)
                    .c_str());
  put.Bind(1, record.namespace_name)
      .Bind(2, record.name)
      .Bind(3, record.spec_json)
      .Bind(4, record.hash);
  put.Bind(5, generation).Bind(6, record.image).Bind(7, record.status).Bind(8, record.last_error);
  put.Bind(9, created).Bind(10, now).Bind(11, record.deployment_json);
  if (rc = put.Step(); rc != SQLITE_DONE) return put.Error(rc, "writing a function");
  if (auto s = tx.Commit("writing a function"); !s) return s.error();
  // Only what was committed is reported back.
  record.generation = generation;
  record.created_unix_ms = created;
  record.updated_unix_ms = now;
  return outcome;
}

core::Status Store::SetFunctionStatus(const std::string& ns, const std::string& name,
                                      const std::string& status, const std::string& last_error) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE functions SET status = ?3, last_error = ?4, updated_ms = ?5 WHERE namespace = ?1 "
         "AND name = ?2");
  s.Bind(1, ns).Bind(2, name).Bind(3, status).Bind(4, last_error).Bind(5, NowMs());
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "updating a function's status");
  if (sqlite3_changes(db_) == 0)
    return core::Error::NotFound(fmt::format("function {}/{} not found", ns, name));
  return core::Ok();
}

core::Result<FunctionRecord> Store::GetFunction(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt s(db_, fmt::format("SELECT {} FROM functions WHERE namespace = ?1 AND name = ?2",
                          kFunctionColumns)
                  .c_str());
  s.Bind(1, ns).Bind(2, name);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return FunctionFrom(s);
  if (rc == SQLITE_DONE)
    return core::Error::NotFound(fmt::format("function {}/{} not found", ns, name));
  return s.Error(rc, "reading a function");
}

core::Result<std::vector<FunctionRecord>> Store::ListFunctions(const std::string& ns) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         fmt::format(
             "SELECT {} FROM functions WHERE ?1 = '' OR namespace = ?1 ORDER BY namespace, name",
             kFunctionColumns)
             .c_str());
  s.Bind(1, ns);
  std::vector<FunctionRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(FunctionFrom(s));
  if (rc != SQLITE_DONE) return s.Error(rc, "listing functions");
  return out;
}

core::Status Store::DeleteFunction(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.Begin(); !b) return b.error();
  Stmt s(db_, "DELETE FROM functions WHERE namespace = ?1 AND name = ?2");
  s.Bind(1, ns).Bind(2, name);
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "deleting a function");
  if (sqlite3_changes(db_) == 0)
    return core::Error::NotFound(fmt::format("function {}/{} not found", ns, name));
  Stmt events(db_, "DELETE FROM events WHERE namespace = ?1 AND name = ?2");
  events.Bind(1, ns).Bind(2, name);
  if (int rc = events.Step(); rc != SQLITE_DONE) return events.Error(rc, "deleting events");
  Stmt ticks(db_, "DELETE FROM trigger_ticks WHERE namespace = ?1 AND function = ?2");
  ticks.Bind(1, ns).Bind(2, name);
  if (int rc = ticks.Step(); rc != SQLITE_DONE) return ticks.Error(rc, "deleting trigger ticks");
  return tx.Commit("deleting a function");
}

core::Result<PutOutcome> Store::PutSecret(SecretRecord& record) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.Begin(); !s) return s.error();
  int64_t now = NowMs();
  Stmt get(db_, "SELECT value, created_ms FROM secrets WHERE namespace = ?1 AND name = ?2");
  get.Bind(1, record.namespace_name).Bind(2, record.name);
  int rc = get.Step();
  PutOutcome outcome = PutOutcome::kCreated;
  int64_t created = now;
  if (rc == SQLITE_ROW) {
    record.created_unix_ms = get.Int(1);
    if (get.Text(0) == record.value) return PutOutcome::kUnchanged;
    outcome = PutOutcome::kConfigured;
    created = get.Int(1);
  } else if (rc != SQLITE_DONE) {
    return get.Error(rc, "reading a secret");
  }
  Stmt put(db_,
           "INSERT OR REPLACE INTO secrets (namespace, name, value, created_ms, updated_ms) "
           "VALUES (?1, ?2, ?3, ?4, ?5)");
  put.Bind(1, record.namespace_name).Bind(2, record.name).BindBlob(3, record.value);
  put.Bind(4, created).Bind(5, now);
  if (rc = put.Step(); rc != SQLITE_DONE) return put.Error(rc, "writing a secret");
  if (auto s = tx.Commit("writing a secret"); !s) return s.error();
  record.created_unix_ms = created;
  record.updated_unix_ms = now;
  return outcome;
}

core::Result<SecretRecord> Store::GetSecret(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT namespace, name, value, created_ms, updated_ms FROM secrets WHERE namespace = ?1 "
         "AND name = ?2");
  s.Bind(1, ns).Bind(2, name);
  int rc = s.Step();
  if (rc == SQLITE_ROW) {
    return SecretRecord{.namespace_name = s.Text(0),
                        .name = s.Text(1),
                        .value = s.Text(2),
                        .created_unix_ms = s.Int(3),
                        .updated_unix_ms = s.Int(4)};
  }
  if (rc == SQLITE_DONE)
    return core::Error::NotFound(fmt::format("secret {}/{} not found", ns, name));
  return s.Error(rc, "reading a secret");
}

core::Result<std::vector<SecretRecord>> Store::ListSecrets(const std::string& ns) {
  std::lock_guard lock(mu_);
  Stmt s(
      db_,
      "SELECT namespace, name, created_ms, updated_ms FROM secrets WHERE ?1 = '' OR namespace = ?1 "
      "ORDER BY namespace, name");
  s.Bind(1, ns);
  std::vector<SecretRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back({.namespace_name = s.Text(0),
                   .name = s.Text(1),
                   .created_unix_ms = s.Int(2),
                   .updated_unix_ms = s.Int(3)});
  }
  if (rc != SQLITE_DONE) return s.Error(rc, "listing secrets");
  return out;
}

core::Status Store::DeleteSecret(const std::string& ns, const std::string& name) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM secrets WHERE namespace = ?1 AND name = ?2");
  s.Bind(1, ns).Bind(2, name);
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "deleting a secret");
  if (sqlite3_changes(db_) == 0)
    return core::Error::NotFound(fmt::format("secret {}/{} not found", ns, name));
  return core::Ok();
}

core::Result<EnqueueOutcome> Store::EnqueueAsync(AsyncCall& call, const AsyncQueueLimits& limits) {
  std::vector<AsyncCall> one{std::move(call)};
  auto outcome = EnqueueAsyncBatch(one, limits);
  call = std::move(one.front());
  return outcome;
}

core::Result<EnqueueOutcome> Store::EnqueueAsyncBatch(std::vector<AsyncCall>& calls,
                                                      const AsyncQueueLimits& limits) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto s = tx.Begin(); !s) return s.error();
  for (AsyncCall& call : calls) {
    auto outcome = EnqueueLocked(call, limits);
    if (!outcome || *outcome != EnqueueOutcome::kQueued) return outcome;
  }
  if (auto c = tx.Commit("queueing an async call"); !c) return c.error();
  return EnqueueOutcome::kQueued;
}

core::Result<EnqueueOutcome> Store::EnqueueLocked(AsyncCall& call, const AsyncQueueLimits& limits) {
  // The bounds and the insert in one transaction: concurrent callers can't both take the
  // last place. (A count over at most max_calls rows: no index needed.)
  {
    Stmt count(db_,
               "SELECT COUNT(*), TOTAL(LENGTH(body) + LENGTH(CAST(headers_json AS BLOB)) + "
               "LENGTH(CAST(path AS BLOB)) + LENGTH(CAST(callback_url AS BLOB))), "
               "COALESCE(SUM(namespace = ?1 AND function = ?2), 0) FROM async_calls");
    count.Bind(1, call.namespace_name).Bind(2, call.function);
    if (int rc = count.Step(); rc != SQLITE_ROW)
      return count.Error(rc, "counting queued async calls");
    if (limits.max_calls > 0 && count.Int(0) >= limits.max_calls) return EnqueueOutcome::kQueueFull;
    if (limits.max_calls_per_function > 0 && count.Int(2) >= limits.max_calls_per_function) {
      return EnqueueOutcome::kFunctionQueueFull;
    }
    const auto bytes = static_cast<int64_t>(call.body.size() + call.headers_json.size() +
                                            call.path.size() + call.callback_url.size());
    if (limits.max_bytes > 0 && count.Int(1) + bytes > limits.max_bytes) {
      return EnqueueOutcome::kQueueBytesFull;
    }
  }
  int64_t now = NowMs();
  Stmt s(db_,
         "INSERT INTO async_calls (call_id, namespace, function, method, path, headers_json, body, "
         "callback_url, state, attempts, enqueued_ms, updated_ms, trigger, topic, event_id) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'queued', 0, ?9, ?9, ?10, ?11, ?12)");
  s.Bind(1, call.call_id)
      .Bind(2, call.namespace_name)
      .Bind(3, call.function)
      .Bind(4, call.method)
      .Bind(5, call.path);
  s.Bind(6, call.headers_json).BindBlob(7, call.body).Bind(8, call.callback_url).Bind(9, now);
  s.Bind(10, call.trigger).Bind(11, call.topic).Bind(12, call.event_id);
  int rc = s.Step();
  if (rc == SQLITE_CONSTRAINT && sqlite3_extended_errcode(db_) == SQLITE_CONSTRAINT_PRIMARYKEY) {
    return core::Error::AlreadyExists(fmt::format("call id {} already queued", call.call_id));
  }
  if (rc != SQLITE_DONE) return s.Error(rc, "queueing an async call");
  // Its invocation record, found by id from now on (a sync call's record with the same id
  // is replaced).
  Stmt record(db_,
              "INSERT OR REPLACE INTO invocations (call_id, namespace, function, started_ms, "
              "duration_us, status, cold_start, async, trigger, state, attempts, enqueued_ms) "
              "VALUES (?1, ?2, ?3, ?4, 0, 0, 0, 1, ?5, 'queued', 0, ?4)");
  record.Bind(1, call.call_id).Bind(2, call.namespace_name).Bind(3, call.function).Bind(4, now);
  record.Bind(5, call.trigger);
  if (rc = record.Step(); rc != SQLITE_DONE) return record.Error(rc, "recording an async call");
  call.enqueued_unix_ms = now;
  return EnqueueOutcome::kQueued;
}

core::Result<std::optional<AsyncCall>> Store::ClaimAsync() {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.Begin(); !b) return b.error();
  // updated_ms of a queued call is when it may run (retries are delayed).
  Stmt s(db_,
         "UPDATE async_calls SET state = 'running', attempts = attempts + 1, updated_ms = ?1 "
         "WHERE call_id = (SELECT call_id FROM async_calls WHERE state = 'queued' AND updated_ms "
         "<= ?1 "
         "ORDER BY enqueued_ms LIMIT 1) "
         "RETURNING call_id, namespace, function, method, path, headers_json, body, callback_url, "
         "attempts, enqueued_ms, trigger, topic, event_id");
  s.Bind(1, NowMs());
  int rc = s.Step();
  if (rc == SQLITE_DONE) return std::optional<AsyncCall>();  // nothing written: just ends
  if (rc != SQLITE_ROW) return s.Error(rc, "claiming an async call");
  AsyncCall c{.call_id = s.Text(0),
              .namespace_name = s.Text(1),
              .function = s.Text(2),
              .method = s.Text(3),
              .path = s.Text(4),
              .headers_json = s.Text(5),
              .body = s.Text(6),
              .callback_url = s.Text(7),
              .attempts = s.Int(8),
              .enqueued_unix_ms = s.Int(9),
              .trigger = s.Text(10),
              .topic = s.Text(11),
              .event_id = s.Text(12)};
  // Stepped to its end (one row at most), then committed with the record's update.
  while ((rc = s.Step()) == SQLITE_ROW) {
  }
  if (rc != SQLITE_DONE) return s.Error(rc, "claiming an async call");
  Stmt record(db_,
              "UPDATE invocations SET state = 'running', attempts = ?2 WHERE call_id = ?1 AND "
              "state != ''");
  record.Bind(1, c.call_id).Bind(2, c.attempts);
  if (rc = record.Step(); rc != SQLITE_DONE) return record.Error(rc, "claiming an async call");
  if (auto done = tx.Commit("claiming an async call"); !done) return done.error();
  return std::optional<AsyncCall>(std::move(c));
}

core::Status Store::FinishAsync(const std::string& call_id, bool dead_letter) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.Begin(); !b) return b.error();
  if (dead_letter) {
    // The call as queued, with its last status and error from its record.
    Stmt copy(db_,
              "INSERT OR REPLACE INTO dead_letters SELECT a.call_id, a.namespace, a.function, "
              "a.trigger, a.topic, a.event_id, a.method, a.path, a.headers_json, a.body, "
              "a.attempts, COALESCE(i.status, 0), COALESCE(i.error, ''), a.enqueued_ms, ?2 "
              "FROM async_calls a LEFT JOIN invocations i ON i.call_id = a.call_id "
              "WHERE a.call_id = ?1");
    copy.Bind(1, call_id).Bind(2, NowMs());
    if (int rc = copy.Step(); rc != SQLITE_DONE)
      return copy.Error(rc, "dead-lettering async call " + call_id);
    Stmt trim(db_,
              "DELETE FROM dead_letters WHERE rowid <= (SELECT MAX(rowid) FROM dead_letters) - ?1");
    trim.Bind(1, kMaxDeadLetters);
    if (int rc = trim.Step(); rc != SQLITE_DONE) return trim.Error(rc, "trimming dead letters");
  }
  Stmt s(db_, "DELETE FROM async_calls WHERE call_id = ?1");
  s.Bind(1, call_id);
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "finishing async call " + call_id);
  if (sqlite3_changes(db_) == 0)
    return core::Error::NotFound(fmt::format("async call {} is not queued", call_id));
  return tx.Commit("finishing async call " + call_id);
}

core::Result<std::vector<DeadLetter>> Store::ListDeadLetters(const std::string& ns) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT id, namespace, function, trigger, topic, event_id, method, path, headers_json, "
         "body, attempts, status, error, enqueued_ms, failed_ms FROM dead_letters "
         "WHERE ?1 = '' OR namespace = ?1 ORDER BY failed_ms DESC, rowid DESC");
  s.Bind(1, ns);
  std::vector<DeadLetter> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back(DeadLetter{.id = s.Text(0),
                             .namespace_name = s.Text(1),
                             .function = s.Text(2),
                             .trigger = s.Text(3),
                             .topic = s.Text(4),
                             .event_id = s.Text(5),
                             .method = s.Text(6),
                             .path = s.Text(7),
                             .headers_json = s.Text(8),
                             .body = s.Text(9),
                             .attempts = s.Int(10),
                             .status = static_cast<int>(s.Int(11)),
                             .error = s.Text(12),
                             .enqueued_unix_ms = s.Int(13),
                             .failed_unix_ms = s.Int(14)});
  }
  if (rc != SQLITE_DONE) return s.Error(rc, "listing dead letters");
  return out;
}

core::Result<EnqueueOutcome> Store::ReplayDeadLetter(const std::string& ns, const std::string& id,
                                                     AsyncCall& call,
                                                     const AsyncQueueLimits& limits) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.Begin(); !b) return b.error();
  Stmt get(db_,
           "SELECT function, trigger, topic, event_id, method, path, headers_json, body "
           "FROM dead_letters WHERE namespace = ?1 AND id = ?2");
  get.Bind(1, ns).Bind(2, id);
  int rc = get.Step();
  if (rc == SQLITE_DONE) {
    return core::Error::NotFound(fmt::format("dead letter {} not found in namespace {}", id, ns));
  }
  if (rc != SQLITE_ROW) return get.Error(rc, "reading a dead letter");
  call.namespace_name = ns;
  call.function = get.Text(0);
  call.trigger = get.Text(1);
  call.topic = get.Text(2);
  call.event_id = get.Text(3);
  call.method = get.Text(4);
  call.path = get.Text(5);
  call.headers_json = get.Text(6);
  call.body = get.Text(7);
  while ((rc = get.Step()) == SQLITE_ROW) {
  }
  auto outcome = EnqueueLocked(call, limits);
  if (!outcome || *outcome != EnqueueOutcome::kQueued) return outcome;
  Stmt del(db_, "DELETE FROM dead_letters WHERE namespace = ?1 AND id = ?2");
  del.Bind(1, ns).Bind(2, id);
  if (rc = del.Step(); rc != SQLITE_DONE) return del.Error(rc, "replaying a dead letter");
  if (auto c = tx.Commit("replaying a dead letter"); !c) return c.error();
  return EnqueueOutcome::kQueued;
}

core::Status Store::PutTopicToken(const std::string& topic, const std::string& token_sha256) {
  std::lock_guard lock(mu_);
  Stmt s(
      db_,
      "INSERT OR REPLACE INTO topic_tokens (topic, token_sha256, created_ms) VALUES (?1, ?2, ?3)");
  s.Bind(1, topic).Bind(2, token_sha256).Bind(3, NowMs());
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "storing a topic token");
  return core::Ok();
}

core::Status Store::DeleteTopicToken(const std::string& topic) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "DELETE FROM topic_tokens WHERE topic = ?1");
  s.Bind(1, topic);
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "deleting a topic token");
  if (sqlite3_changes(db_) == 0)
    return core::Error::NotFound(fmt::format("topic {} has no publish token", topic));
  return core::Ok();
}

core::Result<std::map<std::string, std::string>> Store::ListTopicTokens() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT topic, token_sha256 FROM topic_tokens ORDER BY 1");
  std::map<std::string, std::string> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out[s.Text(0)] = s.Text(1);
  if (rc != SQLITE_DONE) return s.Error(rc, "listing topic tokens");
  return out;
}

core::Result<std::vector<TriggerTick>> Store::ListTriggerTicks(const std::string& ns) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT namespace, function, idx, schedule, last_ms FROM trigger_ticks "
         "WHERE ?1 = '' OR namespace = ?1 ORDER BY 1, 2, 3");
  s.Bind(1, ns);
  std::vector<TriggerTick> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back(TriggerTick{.namespace_name = s.Text(0),
                              .function = s.Text(1),
                              .index = static_cast<int>(s.Int(2)),
                              .schedule = s.Text(3),
                              .last_unix_ms = s.Int(4)});
  }
  if (rc != SQLITE_DONE) return s.Error(rc, "listing trigger ticks");
  return out;
}

core::Result<bool> Store::FireTick(const TriggerTick& tick, AsyncCall* call,
                                   const AsyncQueueLimits& limits) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.Begin(); !b) return b.error();
  Stmt get(db_,
           "SELECT schedule, last_ms FROM trigger_ticks WHERE namespace = ?1 AND function = ?2 "
           "AND idx = ?3");
  get.Bind(1, tick.namespace_name).Bind(2, tick.function).Bind(3, int64_t{tick.index});
  int rc = get.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return get.Error(rc, "reading a trigger's tick");
  // Fired already (by this or an earlier gantryd) when the same schedule's last tick is
  // this one or later.
  if (call != nullptr && rc == SQLITE_ROW && get.Text(0) == tick.schedule &&
      get.Int(1) >= tick.last_unix_ms) {
    return false;
  }
  while (rc == SQLITE_ROW) rc = get.Step();
  if (call != nullptr) {
    auto outcome = EnqueueLocked(*call, limits);
    if (!outcome) return outcome.error();
    if (*outcome != EnqueueOutcome::kQueued) {
      return core::Error::Unavailable(fmt::format(
          "the async queue is full: tick of {}/{} not queued", tick.namespace_name, tick.function));
    }
  }
  Stmt put(db_,
           "INSERT OR REPLACE INTO trigger_ticks (namespace, function, idx, schedule, last_ms) "
           "VALUES (?1, ?2, ?3, ?4, ?5)");
  put.Bind(1, tick.namespace_name).Bind(2, tick.function).Bind(3, int64_t{tick.index});
  put.Bind(4, tick.schedule).Bind(5, tick.last_unix_ms);
  if (rc = put.Step(); rc != SQLITE_DONE) return put.Error(rc, "storing a trigger's tick");
  if (auto c = tx.Commit("firing a trigger"); !c) return c.error();
  return true;
}

core::Status Store::RetryAsync(const std::string& call_id, int64_t delay_ms) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE async_calls SET state = 'queued', updated_ms = ?2 WHERE call_id = ?1 AND state = "
         "'running'");
  s.Bind(1, call_id).Bind(2, NowMs() + delay_ms);
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "re-queueing async call " + call_id);
  if (sqlite3_changes(db_) == 0)
    return core::Error::NotFound(fmt::format("async call {} is not running", call_id));
  return core::Ok();
}

core::Result<int> Store::RequeueRunningAsync() {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.Begin(); !b) return b.error();
  Stmt s(db_, "UPDATE async_calls SET state = 'queued' WHERE state = 'running'");
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "re-queueing running async calls");
  const int requeued = sqlite3_changes(db_);
  Stmt record(db_,
              "UPDATE invocations SET state = 'queued' WHERE state = 'running' AND call_id IN "
              "(SELECT call_id FROM async_calls)");
  if (int rc = record.Step(); rc != SQLITE_DONE)
    return record.Error(rc, "re-queueing running async calls");
  if (auto c = tx.Commit("re-queueing running async calls"); !c) return c.error();
  return requeued;
}

constexpr int64_t kTrimEveryMs = 1000;
constexpr int64_t kHourMs = 3'600'000;

const char* const kInvocationColumns =
    "call_id, namespace, function, generation, replica, trigger, cold_start, queue_wait_us, "
    "duration_us, status, request_bytes, response_bytes, error, started_ms, state, attempts, "
    "enqueued_ms, result_status, result_headers, result_body, result_truncated, memory_bytes";

// The start path in the cold_start column: 0 warm, 1 container, 2 stem-cell, 3 unpaused.
constexpr const char* kStartNames[] = {"warm", "container", "stem-cell", "unpaused"};

int64_t StartCode(const InvocationRecord& r) {
  for (int64_t i = 0; i < 4; ++i) {
    if (r.start == kStartNames[i]) return r.cold && i == 0 ? 1 : i;
  }
  return r.cold ? 1 : 0;
}

std::string StartName(int64_t code) {
  return code >= 0 && code < 4 ? kStartNames[code] : "warm";
}

InvocationRecord InvocationFrom(const Stmt& s) {
  return InvocationRecord{.call_id = s.Text(0),
                          .namespace_name = s.Text(1),
                          .function = s.Text(2),
                          .generation = s.Int(3),
                          .replica = s.Text(4),
                          .trigger = s.Text(5),
                          .cold = s.Int(6) == 1 || s.Int(6) == 2,
                          .start = StartName(s.Int(6)),
                          .queue_wait_us = s.Int(7),
                          .duration_us = s.Int(8),
                          .status = static_cast<int>(s.Int(9)),
                          .request_bytes = s.Int(10),
                          .response_bytes = s.Int(11),
                          .error = s.Text(12),
                          .started_unix_ms = s.Int(13),
                          .memory_bytes = s.Int(21),
                          .state = s.Text(14),
                          .attempts = s.Int(15),
                          .enqueued_unix_ms = s.Int(16),
                          .result_status = static_cast<int>(s.Int(17)),
                          .result_headers_json = s.Text(18),
                          .result_body = s.Text(19),
                          .result_truncated = s.Int(20) != 0};
}

core::Status Store::RecordInvocations(const std::vector<InvocationRecord>& records) {
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.Begin(); !b) return b.error();
  // An async call's row (written at enqueue) owns trigger, state, status, error, start and
  // result; the gateway's record of an attempt brings what only the gateway knows.
  Stmt s(db_,
         "INSERT INTO invocations (call_id, namespace, function, generation, replica, trigger, "
         "cold_start, queue_wait_us, duration_us, status, request_bytes, response_bytes, error, "
         "started_ms, memory_bytes, async) "
         "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, 0) "
         "ON CONFLICT (call_id) DO UPDATE SET generation = excluded.generation, "
         "memory_bytes = excluded.memory_bytes, "
         "replica = excluded.replica, cold_start = excluded.cold_start, "
         "queue_wait_us = excluded.queue_wait_us, duration_us = excluded.duration_us, "
         "request_bytes = excluded.request_bytes, response_bytes = excluded.response_bytes, "
         "namespace = iif(state = '', excluded.namespace, namespace), "
         "function = iif(state = '', excluded.function, function), "
         "trigger = iif(state = '', excluded.trigger, trigger), "
         "status = iif(state = '', excluded.status, status), "
         "error = iif(state = '', excluded.error, error), "
         "started_ms = iif(state = '', excluded.started_ms, started_ms)");
  if (!s.ok()) return SqlError(db_, "recording invocations");
  // Usage counts the calls that ran on a replica (a call refused before one was found is
  // not billed), each to its hour.
  Stmt usage(db_,
             "INSERT INTO usage_hourly VALUES (?1, ?2, ?3, 1, ?4, ?5, ?6, ?7, ?8, ?9) "
             "ON CONFLICT (namespace, function, hour_ms) DO UPDATE SET calls = calls + 1, "
             "errors = errors + excluded.errors, cold_starts = cold_starts + excluded.cold_starts, "
             "billed_ms = billed_ms + excluded.billed_ms, kib_ms = kib_ms + excluded.kib_ms, "
             "request_bytes = request_bytes + excluded.request_bytes, "
             "response_bytes = response_bytes + excluded.response_bytes");
  if (!usage.ok()) return SqlError(db_, "recording usage");
  for (const InvocationRecord& r : records) {
    if (!r.replica.empty()) {
      const int64_t billed = BilledMs(r.duration_us);
      usage.Reset();
      usage.Bind(1, r.namespace_name).Bind(2, r.function);
      usage.Bind(3, HourStart(r.started_unix_ms));
      usage.Bind(4, int64_t{r.status >= 400 || !r.error.empty() ? 1 : 0});
      usage.Bind(5, int64_t{r.cold ? 1 : 0}).Bind(6, billed);
      usage.Bind(7, KibMs(r.memory_bytes, r.duration_us));
      usage.Bind(8, r.request_bytes).Bind(9, r.response_bytes);
      if (int rc = usage.Step(); rc != SQLITE_DONE) return usage.Error(rc, "recording usage");
    }
    s.Reset();
    s.Bind(1, r.call_id).Bind(2, r.namespace_name).Bind(3, r.function).Bind(4, r.generation);
    s.Bind(5, r.replica).Bind(6, r.trigger).Bind(7, StartCode(r));
    s.Bind(8, r.queue_wait_us).Bind(9, r.duration_us).Bind(10, static_cast<int64_t>(r.status));
    s.Bind(11, r.request_bytes).Bind(12, r.response_bytes).Bind(13, r.error);
    s.Bind(14, r.started_unix_ms).Bind(15, r.memory_bytes);
    if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "recording an invocation");
  }
  // Trimmed at most once a second (the bounds may be passed by a second's records): a
  // trim per batch would cost more than the batch.
  const int64_t now = NowMs();
  if (now - last_trim_ms_ < kTrimEveryMs && now >= last_trim_ms_) {
    return tx.Commit("recording invocations");
  }
  last_trim_ms_ = now;
  // Queued and running async calls are never trimmed: their rows are their state.
  if (max_invocations_ > 0) {
    Stmt trim(db_,
              "DELETE FROM invocations WHERE state NOT IN ('queued', 'running') AND rowid <= "
              "(SELECT MAX(rowid) FROM invocations) - ?1");
    trim.Bind(1, max_invocations_);
    if (int rc = trim.Step(); rc != SQLITE_DONE)
      return trim.Error(rc, "trimming the invocation records");
  }
  if (max_invocation_age_ms_ > 0) {
    Stmt trim(db_,
              "DELETE FROM invocations WHERE started_ms < ?1 AND state NOT IN ('queued', "
              "'running')");
    trim.Bind(1, now - max_invocation_age_ms_);
    if (int rc = trim.Step(); rc != SQLITE_DONE)
      return trim.Error(rc, "trimming the invocation records");
  }
  return tx.Commit("recording invocations");
}

core::Status Store::RecordAsyncOutcome(const InvocationRecord& o) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE invocations SET state = ?2, attempts = ?3, status = ?4, error = ?5, "
         "started_ms = ?6, result_status = ?7, result_headers = ?8, result_body = ?9, "
         "result_truncated = ?10 WHERE call_id = ?1 AND state != ''");
  s.Bind(1, o.call_id).Bind(2, o.state).Bind(3, o.attempts).Bind(4, int64_t{o.status});
  s.Bind(5, o.error).Bind(6, o.started_unix_ms).Bind(7, int64_t{o.result_status});
  s.Bind(8, o.result_headers_json).BindBlob(9, o.result_body);
  s.Bind(10, int64_t{o.result_truncated ? 1 : 0});
  if (int rc = s.Step(); rc != SQLITE_DONE) return s.Error(rc, "recording an async outcome");
  if (sqlite3_changes(db_) == 0)
    return core::Error::NotFound(fmt::format("async call {} has no record", o.call_id));
  return core::Ok();
}

core::Result<std::vector<InvocationRecord>> Store::ListInvocations(const std::string& ns,
                                                                   const std::string& name,
                                                                   const InvocationFilter& f) {
  std::lock_guard lock(mu_);
  // "failed": the function answered an error, or the call never got an answer.
  const char* where = "";
  switch (f.status) {
    case InvocationFilter::Status::kAny:
      break;
    case InvocationFilter::Status::kFailed:
      where = " AND (status >= 400 OR error != '' OR state = 'failed')";
      break;
    case InvocationFilter::Status::kSucceeded:
      where = " AND status BETWEEN 1 AND 399 AND error = '' AND state != 'failed'";
      break;
    case InvocationFilter::Status::kCode:
      where = " AND status = ?4";
      break;
  }
  Stmt s(db_, fmt::format("SELECT {} FROM invocations WHERE namespace = ?1 AND function = ?2 AND "
                          "started_ms >= ?3{} ORDER BY started_ms DESC, rowid DESC LIMIT ?5",
                          kInvocationColumns, where)
                  .c_str());
  s.Bind(1, ns).Bind(2, name).Bind(3, f.since_unix_ms).Bind(5, int64_t{f.limit > 0 ? f.limit : -1});
  if (f.status == InvocationFilter::Status::kCode) s.Bind(4, int64_t{f.code});
  std::vector<InvocationRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(InvocationFrom(s));
  if (rc != SQLITE_DONE) return s.Error(rc, "listing invocations");
  return out;
}

core::Result<InvocationRecord> Store::GetInvocation(const std::string& ns,
                                                    const std::string& call_id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, fmt::format("SELECT {} FROM invocations WHERE call_id = ?1 AND namespace = ?2",
                          kInvocationColumns)
                  .c_str());
  s.Bind(1, call_id).Bind(2, ns);
  int rc = s.Step();
  if (rc == SQLITE_ROW) return InvocationFrom(s);
  if (rc == SQLITE_DONE) {
    return core::Error::NotFound(
        fmt::format("invocation {} not found in namespace {}", call_id, ns));
  }
  return s.Error(rc, "reading an invocation");
}

core::Status Store::AppendEvents(const std::vector<EventRecord>& events) {
  if (events.empty()) return core::Ok();
  std::lock_guard lock(mu_);
  Transaction tx(db_);
  if (auto b = tx.Begin(); !b) return b.error();
  for (const EventRecord& e : events) {
    // A repeat of the function's newest event is counted in it.
    Stmt repeat(db_,
                "UPDATE events SET count = count + 1, last_ms = ?7 WHERE id = (SELECT MAX(id) "
                "FROM events WHERE namespace = ?1 AND name = ?2) AND type = ?3 AND reason = ?4 "
                "AND message = ?5 AND replica = ?6");
    repeat.Bind(1, e.namespace_name).Bind(2, e.name).Bind(3, e.type).Bind(4, e.reason);
    repeat.Bind(5, e.message).Bind(6, e.replica).Bind(7, e.time_unix_ms);
    if (int rc = repeat.Step(); rc != SQLITE_DONE) return repeat.Error(rc, "appending an event");
    if (sqlite3_changes(db_) > 0) continue;
    Stmt add(db_,
             "INSERT INTO events (namespace, name, time_ms, last_ms, type, reason, message, "
             "replica) SELECT ?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM "
             "functions WHERE namespace = ?1 AND name = ?2)");
    add.Bind(1, e.namespace_name).Bind(2, e.name).Bind(3, e.time_unix_ms).Bind(4, e.type);
    add.Bind(5, e.reason).Bind(6, e.message).Bind(7, e.replica);
    if (int rc = add.Step(); rc != SQLITE_DONE) return add.Error(rc, "appending an event");
    Stmt trim(db_,
              "DELETE FROM events WHERE namespace = ?1 AND name = ?2 AND id NOT IN (SELECT id "
              "FROM events WHERE namespace = ?1 AND name = ?2 ORDER BY id DESC LIMIT ?3)");
    trim.Bind(1, e.namespace_name).Bind(2, e.name).Bind(3, int64_t{std::max(max_events_, 1)});
    if (int rc = trim.Step(); rc != SQLITE_DONE) return trim.Error(rc, "trimming events");
  }
  return tx.Commit("appending events");
}

core::Result<std::vector<EventRecord>> Store::ListEvents(const std::string& ns,
                                                         const std::string& name, int limit) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "SELECT namespace, name, time_ms, last_ms, type, reason, message, replica, count FROM "
         "(SELECT * FROM events WHERE namespace = ?1 AND name = ?2 ORDER BY id DESC LIMIT ?3) "
         "ORDER BY id");
  s.Bind(1, ns).Bind(2, name).Bind(3, int64_t{limit > 0 ? limit : -1});
  std::vector<EventRecord> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back(EventRecord{.namespace_name = s.Text(0),
                              .name = s.Text(1),
                              .time_unix_ms = s.Int(2),
                              .last_unix_ms = s.Int(3),
                              .type = s.Text(4),
                              .reason = s.Text(5),
                              .message = s.Text(6),
                              .replica = s.Text(7),
                              .count = s.Int(8)});
  }
  if (rc != SQLITE_DONE) return s.Error(rc, "listing events");
  return out;
}

core::Result<std::vector<std::string>> Store::ListNamespaces() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT namespace FROM functions UNION SELECT namespace FROM secrets ORDER BY 1");
  std::vector<std::string> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) out.push_back(s.Text(0));
  if (rc != SQLITE_DONE) return s.Error(rc, "listing namespaces");
  return out;
}

core::Result<std::vector<UsageRow>> Store::Usage(const UsageQuery& q) {
  std::lock_guard lock(mu_);
  const bool by_hour = q.by == UsageQuery::By::kHour;
  // Grouped by function (namespace, function) or by hour; the other key is left empty/0.
  const std::string sql = fmt::format(
      "SELECT {}, sum(calls), sum(errors), sum(cold_starts), sum(billed_ms), sum(kib_ms), "
      "sum(request_bytes), sum(response_bytes) FROM usage_hourly WHERE (?1 = '' OR namespace = "
      "?1) AND (?2 = '' OR function = ?2) AND hour_ms >= ?3 AND hour_ms < ?4 GROUP BY 1, 2, 3 "
      "ORDER BY 1, 2, 3",
      by_hour ? "'', '', hour_ms" : "namespace, function, 0");
  Stmt s(db_, sql.c_str());
  s.Bind(1, q.ns).Bind(2, q.function);
  s.Bind(3, HourStart(q.since_unix_ms));
  s.Bind(4, q.until_unix_ms);
  std::vector<UsageRow> out;
  int rc;
  while ((rc = s.Step()) == SQLITE_ROW) {
    out.push_back(UsageRow{.namespace_name = s.Text(0),
                           .function = s.Text(1),
                           .hour_unix_ms = s.Int(2),
                           .calls = s.Int(3),
                           .errors = s.Int(4),
                           .cold_starts = s.Int(5),
                           .billed_ms = s.Int(6),
                           .kib_ms = s.Int(7),
                           .request_bytes = s.Int(8),
                           .response_bytes = s.Int(9)});
  }
  if (rc != SQLITE_DONE) return s.Error(rc, "reading usage");
  return out;
}

int64_t BilledMs(int64_t duration_us) {
  return std::max<int64_t>(1, (duration_us + 999) / 1000);
}

int64_t HourStart(int64_t unix_ms) {
  return unix_ms - ((unix_ms % kHourMs) + kHourMs) % kHourMs;
}

int64_t KibMs(int64_t memory_bytes, int64_t duration_us) {
  return (std::max<int64_t>(memory_bytes, 0) + 1023) / 1024 * BilledMs(duration_us);
}

}  // namespace gantry::store
