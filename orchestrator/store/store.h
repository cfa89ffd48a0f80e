#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/result.h"

struct sqlite3;

namespace gantry::store {

// A deployed function as the controller remembers it: the desired state.
struct FunctionRecord {
  std::string namespace_name;
  std::string name;
  std::string spec_json;   // the spec's canonical JSON
  std::string hash;        // spec + source content hash ("sha256:...")
  int64_t generation = 0;  // 1 on create, +1 on every change; set by PutFunction
  std::string image;       // the built image's reference
  std::string status;      // "building", "ready", "failed", ...
  std::string last_error;
  int64_t created_unix_ms = 0;  // set by PutFunction
  int64_t updated_unix_ms = 0;  // set by PutFunction
  std::string deployment_json;  // what the pool runs (the daemon's encoding)
};

struct SecretRecord {
  std::string namespace_name;
  std::string name;
  std::string value;  // the secret's bytes; never logged
  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
};

// An accepted asynchronous call, queued until a dispatcher runs it.
struct AsyncCall {
  std::string call_id;
  std::string namespace_name;
  std::string function;
  std::string method = "POST";
  std::string path;          // after the function name, with the query ("/x?y=1"), or ""
  std::string headers_json;  // {"name": "value"} of the headers to pass on
  std::string body;
  std::string callback_url;  // where to POST the result; empty: none
  int64_t attempts = 0;
  int64_t enqueued_unix_ms = 0;
  std::string trigger = "async";  // what queued it: "async" (a caller), "cron", "topic"
  std::string topic;              // a topic event's: the topic and the event's id
  std::string event_id;
};

// A trigger call (cron or topic) whose every attempt failed, kept to be looked at and
// replayed (at most 10,000, the oldest dropped first). Its id is the call's id.
struct DeadLetter {
  std::string id;
  std::string namespace_name;
  std::string function;
  std::string trigger;
  std::string topic;
  std::string event_id;
  std::string method;
  std::string path;
  std::string headers_json;
  std::string body;
  int64_t attempts = 0;
  int status = 0;     // the last attempt's answer; 0 none
  std::string error;  // the last attempt's error
  int64_t enqueued_unix_ms = 0;
  int64_t failed_unix_ms = 0;
};

// The last tick a function's cron trigger (its index in spec.triggers) fired, for a
// schedule (the trigger's cron and time zone as one string: a changed schedule starts
// afresh).
struct TriggerTick {
  std::string namespace_name;
  std::string function;
  int index = 0;
  std::string schedule;
  int64_t last_unix_ms = 0;
};

// One entry of a function's Events (what `describe` shows): something that happened to it
// or its replicas. Repeats of the newest entry (same type, reason, message and replica)
// are collapsed into it: count goes up and last_unix_ms moves.
struct EventRecord {
  std::string namespace_name;
  std::string name;
  int64_t time_unix_ms = 0;  // the first occurrence
  int64_t last_unix_ms = 0;  // the latest (== time_unix_ms when count is 1); set by the store
  std::string type;          // "Normal" or "Warning"
  std::string reason;        // "Built", "Died", ...
  std::string message;
  std::string replica;  // 12 hex, or empty
  int64_t count = 1;    // set by the store
};

// One call of a function as the invocation records keep it (sync and async). An async
// call's row is written when it is queued (trigger "async", state "queued") and its state,
// attempts and result follow it; the gateway's record of each attempt adds the replica,
// cold start, generation, times and bytes.
struct InvocationRecord {
  std::string call_id;
  std::string namespace_name;
  std::string function;
  int64_t generation = 0;
  std::string replica;           // the container id (the API shows its first 12 hex)
  std::string trigger = "http";  // "http", "async" (later "cron", "topic")
  bool cold = false;
  // What served it: "warm", "container", "stem-cell", "unpaused" (kept in cold_start as
  // 0..3; rows written before it read 1 as "container").
  std::string start = "warm";
  int64_t queue_wait_us = 0;  // waiting for a replica
  int64_t duration_us = 0;    // the replica's run time (after the wait)
  int status = 0;             // HTTP status answered; 0 while an async call is queued
  int64_t request_bytes = 0;  // bodies, as relayed
  int64_t response_bytes = 0;
  std::string error;  // in user terms; empty when the function answered
  int64_t started_unix_ms = 0;
  int64_t memory_bytes = 0;  // the function's memory limit when it ran (usage); 0 unknown
  // Async calls only ("" and zeros for sync ones).
  std::string state;  // "queued", "running", "succeeded", "failed"
  int64_t attempts = 0;
  int64_t enqueued_unix_ms = 0;
  int result_status = 0;
  std::string result_headers_json;  // {"name": "value"}
  std::string result_body;          // bounded by the writer
  bool result_truncated = false;
};

// Which records ListInvocations returns.
struct InvocationFilter {
  int limit = 50;             // newest first; <= 0: no limit
  int64_t since_unix_ms = 0;  // started at or after; 0: any time
  enum class Status { kAny, kFailed, kSucceeded, kCode } status = Status::kAny;
  int code = 0;  // for kCode
};

// What a call's run time is billed as: rounded up to the millisecond, at least 1 ms (as
// Lambda bills).
int64_t BilledMs(int64_t duration_us);
// The start of the (UTC) hour `unix_ms` falls in.
int64_t HourStart(int64_t unix_ms);
// A call's compute as the usage sums it: memory limit in KiB (rounded up) x BilledMs.
int64_t KibMs(int64_t memory_bytes, int64_t duration_us);

// Usage (pay-per-use) of the calls that ran on a replica, summed over some hours: per
// function (hour_unix_ms 0) or per hour (namespace and function empty).
struct UsageRow {
  std::string namespace_name;
  std::string function;
  int64_t hour_unix_ms = 0;  // the hour's start
  int64_t calls = 0;
  int64_t errors = 0;  // answered >= 400, or no answer
  int64_t cold_starts = 0;
  int64_t billed_ms = 0;  // sum of BilledMs of each call
  int64_t kib_ms = 0;     // sum of memory limit (KiB, rounded up) x billed ms
  int64_t request_bytes = 0;
  int64_t response_bytes = 0;
  // Memory limit x run time in GB-seconds (GiB, as Lambda's "GB" is).
  double gb_seconds() const { return static_cast<double>(kib_ms) / (1024.0 * 1024.0) / 1000.0; }
};

struct UsageQuery {
  std::string ns;        // empty: every namespace
  std::string function;  // empty: every function
  // Whole hours: from the hour `since` falls in, up to the hours that start before `until`.
  int64_t since_unix_ms = 0;
  int64_t until_unix_ms = std::numeric_limits<int64_t>::max();
  enum class By { kFunction, kHour } by = By::kFunction;
};

struct StoreOptions {
  // The largest value (a body, a spec, a secret) and row the store takes
  // (SQLITE_LIMIT_LENGTH); a bigger one is kInvalidArgument and nothing is written.
  int max_value_bytes = 64 << 20;
  // Where every time the store stamps or compares comes from (created/updated times,
  // enqueue times, when a retried async call is due): its Wall(). Not owned; outlives the
  // store. nullptr: core::SystemClock::Instance().
  const core::Clock* clock = nullptr;
  // Events kept per function (the newest; older ones are dropped as new ones come).
  int max_events_per_function = 100;
  // Invocation records kept (RecordInvocations trims to these; queued and running async
  // calls are kept whatever their age). 0: no bound.
  int64_t max_invocations = 100'000;
  std::chrono::milliseconds max_invocation_age = std::chrono::hours(24 * 7);
};

// What PutFunction did.
enum class PutOutcome { kCreated, kConfigured, kUnchanged };

// Bounds on the async queue, checked by EnqueueAsync. A bound of 0 is no bound. A call
// counts from EnqueueAsync until FinishAsync (queued, waiting for a retry, or running).
struct AsyncQueueLimits {
  int64_t max_calls = 0;               // calls in the queue in total
  int64_t max_calls_per_function = 0;  // calls of one namespace/function
  int64_t max_bytes =
      0;  // of all queued calls together: bodies, kept headers, paths, callback URLs
};

// What EnqueueAsync did: the call is queued, or it would take the queue past a bound.
enum class EnqueueOutcome { kQueued, kQueueFull, kFunctionQueueFull, kQueueBytesFull };

// Gantry's state in SQLite (WAL mode) under the state directory: functions, secrets, and
// the tables the async queue and invocation records use. The schema carries a version
// (PRAGMA user_version) and is migrated forward on Open. The database file is mode 0600.
// Thread-safe: one connection, calls serialised by a mutex (the warm path never calls it).
// Every call either does all it says or nothing: a write that SQLite refuses (a bind, a
// step, a COMMIT) is rolled back and returned as an error: kInvalidArgument for a value
// over SQLite's size limit, kUnavailable when the database is busy or locked by another
// process, kInternal for anything else (disk full, I/O error, read-only file, constraint).
// These are "the SQLite errors" below; every method may return them, and each lists the
// codes it returns besides.
class Store {
 public:
  // Opens or creates `path`, migrating the schema to the newest version. kUnavailable when
  // the file can't be opened; kInternal when it is not a Gantry database or is newer than
  // this build knows.
  static core::Result<std::unique_ptr<Store>> Open(const std::string& path,
                                                   const StoreOptions& options = {});
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The schema version in the file (the newest this build knows, after Open); -1 when it
  // can't be read.
  int SchemaVersion();
  static int LatestSchemaVersion();

  // Creates or updates a function. kUnchanged when spec hash and image are the same as
  // stored (nothing is written); otherwise the generation goes up by one. `record`'s
  // generation and times are filled in (created kept from the stored row, updated now).
  // Errors: the SQLite errors only.
  core::Result<PutOutcome> PutFunction(FunctionRecord& record);
  // Updates only status, last error and the updated time (no new generation). kNotFound if
  // absent.
  core::Status SetFunctionStatus(const std::string& ns, const std::string& name,
                                 const std::string& status, const std::string& last_error);
  // kNotFound if absent.
  core::Result<FunctionRecord> GetFunction(const std::string& ns, const std::string& name);
  // All functions of `ns`, or of every namespace when `ns` is empty; sorted by namespace,
  // name. None is an empty list, not an error.
  core::Result<std::vector<FunctionRecord>> ListFunctions(const std::string& ns);
  // kNotFound if absent. Its events go with it.
  core::Status DeleteFunction(const std::string& ns, const std::string& name);

  // Creates or updates a secret: kCreated, kConfigured (another value), kUnchanged (the
  // same value: nothing written). `record`'s times are filled in when it is written. The
  // SQLite errors only.
  core::Result<PutOutcome> PutSecret(SecretRecord& record);
  // kNotFound if absent.
  core::Result<SecretRecord> GetSecret(const std::string& ns, const std::string& name);
  // The secrets of `ns` (every namespace when empty), sorted by namespace, name: names and
  // times only, values are left empty.
  core::Result<std::vector<SecretRecord>> ListSecrets(const std::string& ns);
  // kNotFound if absent (whether a function uses it is the controller's to check).
  core::Status DeleteSecret(const std::string& ns, const std::string& name);

  // Queues an async call durably (it survives a crash from here on) unless that would take
  // the queue past `limits` (then nothing is written and the outcome names the bound).
  // Its invocation record (trigger "async", state "queued") is written with it.
  // kAlreadyExists when a call with the same id is in the queue; other errors as below.
  core::Result<EnqueueOutcome> EnqueueAsync(AsyncCall& call, const AsyncQueueLimits& limits = {});
  // Queues all of `calls` or none (the first outcome other than kQueued is returned, and
  // nothing is written): a topic event's deliveries.
  core::Result<EnqueueOutcome> EnqueueAsyncBatch(std::vector<AsyncCall>& calls,
                                                 const AsyncQueueLimits& limits = {});
  // Takes the oldest queued call whose time has come (by the clock), marking it running and
  // counting the attempt (in its invocation record too); nullopt when there is none. The
  // SQLite errors only.
  core::Result<std::optional<AsyncCall>> ClaimAsync();
  // A claimed call is over: removed from the queue, and with `dead_letter` kept among the
  // dead letters (with its record's last status and error) in the same transaction.
  // kNotFound when it is not in the queue.
  core::Status FinishAsync(const std::string& call_id, bool dead_letter = false);
  // The dead letters of `ns` (every namespace when empty), newest first.
  core::Result<std::vector<DeadLetter>> ListDeadLetters(const std::string& ns);
  // Queues dead letter `id` of `ns` again as `call` (its call_id set by the caller; the
  // rest filled in from the letter) and removes the letter, in one transaction. kNotFound
  // when there is no such letter; an outcome other than kQueued changes nothing.
  core::Result<EnqueueOutcome> ReplayDeadLetter(const std::string& ns, const std::string& id,
                                                AsyncCall& call,
                                                const AsyncQueueLimits& limits = {});

  // Cron ticks. FireTick stores `tick` as its trigger's last tick and queues `call` (trigger
  // "cron") in one transaction, so that a tick is queued once or not at all: false (nothing
  // written) when the trigger's stored tick for the same schedule is this one or later.
  // With `call` null it only stores the tick (a new schedule's start, skipped ticks) and
  // returns true. kUnavailable when the queue is full (nothing written).
  core::Result<bool> FireTick(const TriggerTick& tick, AsyncCall* call,
                              const AsyncQueueLimits& limits = {});
  // Topics' publish tokens, kept as SHA-256 hex digests (one per topic; a new one replaces
  // the old). DeleteTopicToken: kNotFound when the topic has none.
  core::Status PutTopicToken(const std::string& topic, const std::string& token_sha256);
  core::Status DeleteTopicToken(const std::string& topic);
  core::Result<std::map<std::string, std::string>> ListTopicTokens();  // topic -> digest

  // The stored ticks of `ns` (every namespace when empty), by namespace, function, index.
  // A function's go when it is deleted.
  core::Result<std::vector<TriggerTick>> ListTriggerTicks(const std::string& ns);
  // A claimed (running) call goes back to the queue, to be tried again after `delay_ms`.
  // kNotFound when no running call has that id.
  core::Status RetryAsync(const std::string& call_id, int64_t delay_ms);
  // After a restart: calls that were running when gantryd stopped are queued again (they
  // run at least once). Returns how many. The SQLite errors only.
  core::Result<int> RequeueRunningAsync();
  // Writes a batch of the gateway's records in one transaction, then trims the records to
  // StoreOptions' bounds (at most once a second by the clock: in between, a second's
  // records may be beyond them). Each record that ran on a replica (replica non-empty) is
  // added to its function's usage for its hour (see Usage). A record whose call id is an async
  // call's row fills in that row's replica, cold start, generation, wait, run time and bytes (the
  // async row keeps its trigger, state, status and result); any other row with that id is replaced.
  // The SQLite errors only (nothing of the batch is written then).
  core::Status RecordInvocations(const std::vector<InvocationRecord>& records);
  // An async call's outcome: its row's state, attempts, status, error, start and result
  // (from `outcome`) are written. kNotFound when no async row has that call id.
  core::Status RecordAsyncOutcome(const InvocationRecord& outcome);
  // The records of function ns/name matching `filter`, newest first. The SQLite errors.
  core::Result<std::vector<InvocationRecord>> ListInvocations(const std::string& ns,
                                                              const std::string& name,
                                                              const InvocationFilter& filter);
  // The record of `call_id` in `ns`; kNotFound if there is none (never recorded, trimmed).
  core::Result<InvocationRecord> GetInvocation(const std::string& ns, const std::string& call_id);

  // Usage from the hourly rollups RecordInvocations keeps (they outlive the trimmed raw
  // records; a deleted function's usage stays), sorted by namespace, function, hour. The
  // SQLite errors only.
  core::Result<std::vector<UsageRow>> Usage(const UsageQuery& query);

  // Appends events in one transaction, each to its function's history (kept to
  // StoreOptions::max_events_per_function); an event repeating the function's newest one
  // is collapsed into it. Events of a function that is not stored (deleted meanwhile) are
  // dropped. The SQLite errors only.
  core::Status AppendEvents(const std::vector<EventRecord>& events);
  core::Status AppendEvent(const EventRecord& event) { return AppendEvents({event}); }
  // The newest `limit` events of a function (all kept when limit <= 0), oldest first. None
  // (or no such function) is an empty list. The SQLite errors only.
  core::Result<std::vector<EventRecord>> ListEvents(const std::string& ns, const std::string& name,
                                                    int limit);

  // Namespaces that hold a function or a secret, sorted. The SQLite errors only.
  core::Result<std::vector<std::string>> ListNamespaces();

 private:
  Store(sqlite3* db, const StoreOptions& options, const core::Clock& clock)
      : clock_(clock),
        max_events_(options.max_events_per_function),
        max_invocations_(options.max_invocations),
        max_invocation_age_ms_(options.max_invocation_age.count()),
        db_(db) {}
  core::Status Migrate();
  // EnqueueAsync's work inside the caller's transaction (mu_ held).
  core::Result<EnqueueOutcome> EnqueueLocked(AsyncCall& call, const AsyncQueueLimits& limits);
  // clock_.Wall() in milliseconds since the Unix epoch.
  int64_t NowMs() const;

  const core::Clock& clock_;
  const int max_events_;
  const int64_t max_invocations_;
  const int64_t max_invocation_age_ms_;
  std::mutex mu_;
  int64_t last_trim_ms_ = std::numeric_limits<int64_t>::min() / 2;  // guarded by mu_
  sqlite3* db_;                                                     // guarded by mu_
};

}  // namespace gantry::store
