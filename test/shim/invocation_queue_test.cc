#include "invocation_queue.h"

#include <catch2/catch.hpp>
#include <map>
#include <optional>

namespace gantry::shim {
namespace {

Invocation Make(const std::string& id) {
  return Invocation{id, "{}", 1000};
}

TEST_CASE("Calls queue until the handler asks for the next one", "[shim][runtime-api]") {
  InvocationQueue queue;
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  CHECK(queue.queued() == 2);
  std::vector<std::string> got;
  auto replaced =
      queue.Next(0, [&](const Invocation& invocation) { got.push_back(invocation.id); });
  CHECK_FALSE(replaced.has_value());
  CHECK(got == std::vector<std::string>{"a"});
  CHECK(queue.IsInFlight("a"));
  CHECK(queue.CurrentId(0) == "a");
  CHECK(queue.queued() == 1);
}

TEST_CASE("A parked handler gets the next call at once", "[shim][runtime-api]") {
  InvocationQueue queue;
  std::vector<std::string> got;
  (void)queue.Next(0, [&](const Invocation& invocation) { got.push_back(invocation.id); });
  CHECK(queue.waiting() == 1);
  CHECK(got.empty());
  queue.Push(Make("x"));
  CHECK(got == std::vector<std::string>{"x"});
  CHECK(queue.waiting() == 0);
  CHECK(queue.in_flight() == 1);
  queue.Push(Make("y"));
  CHECK(queue.queued() == 1);  // nobody waits now
}

TEST_CASE("Finish accepts only calls in flight, once", "[shim][runtime-api]") {
  InvocationQueue queue;
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  CHECK_FALSE(queue.Finish("a"));  // not handed over yet
  (void)queue.Next(0, [](const Invocation&) {});
  CHECK(queue.Finish("a"));
  CHECK_FALSE(queue.Finish("a"));
  CHECK_FALSE(queue.Finish("nope"));
  CHECK(queue.CurrentId(0).empty());
}

TEST_CASE("Abandon removes queued calls and reports in-flight ones", "[shim][runtime-api]") {
  InvocationQueue queue;
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  (void)queue.Next(0, [](const Invocation&) {});
  CHECK(queue.Abandon("a") == std::optional<int>(0));  // in flight: replace handler 0
  CHECK_FALSE(queue.Abandon("b").has_value());         // merely queued
  CHECK(queue.queued() == 0);
  CHECK_FALSE(queue.Finish("a"));  // a late answer is refused
}

TEST_CASE("A second waiter replaces the first", "[shim][runtime-api]") {
  InvocationQueue queue;
  int first = 0;
  int second = 0;
  (void)queue.Next(0, [&](const Invocation&) { ++first; });
  auto replaced = queue.Next(0, [&](const Invocation&) { ++second; });
  CHECK(replaced.has_value());
  queue.Push(Make("a"));
  CHECK(first == 0);
  CHECK(second == 1);
}

TEST_CASE("HandlerGone returns what was in flight and keeps the queue", "[shim][runtime-api]") {
  InvocationQueue queue;
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  (void)queue.Next(0, [](const Invocation&) {});
  auto lost = queue.HandlerGone(0);
  CHECK(lost == std::vector<std::string>{"a"});
  CHECK(queue.in_flight() == 0);
  CHECK(queue.queued() == 1);
  std::string next;
  (void)queue.Next(0, [&](const Invocation& invocation) { next = invocation.id; });
  CHECK(next == "b");

  (void)queue.HandlerGone(0);
  (void)queue.Next(0,
                   [](const Invocation&) { FAIL("the waiter of a gone handler must be dropped"); });
  (void)queue.HandlerGone(0);
  queue.Push(Make("c"));
  CHECK(queue.queued() == 1);
}

TEST_CASE("Several handlers each take a call: calls run side by side", "[shim][runtime-api]") {
  InvocationQueue queue;
  std::map<int, std::string> got;
  for (int slot : {0, 1, 2}) {
    (void)queue.Next(slot,
                     [&got, slot](const Invocation& invocation) { got[slot] = invocation.id; });
  }
  CHECK(queue.waiting() == 3);
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  queue.Push(Make("c"));
  // The handler that asked last first; all three are busy at once.
  CHECK(got == std::map<int, std::string>{{2, "a"}, {1, "b"}, {0, "c"}});
  CHECK(queue.in_flight() == 3);
  CHECK(queue.waiting() == 0);
  CHECK(queue.CurrentId(1) == "b");
  CHECK(queue.InFlightWith(2) == 1);
  // A response is matched by its id, whoever posts it.
  CHECK(queue.Finish("b"));
  CHECK(queue.CurrentId(1).empty());
  CHECK(queue.in_flight() == 2);
}

TEST_CASE("A handler that is gone loses only its own calls", "[shim][runtime-api]") {
  InvocationQueue queue;
  (void)queue.Next(0, [](const Invocation&) {});
  (void)queue.Next(1, [](const Invocation&) {});
  queue.Push(Make("a"));  // to 1
  queue.Push(Make("b"));  // to 0
  queue.Push(Make("c"));  // queued
  CHECK(queue.HandlerGone(0) == std::vector<std::string>{"b"});
  CHECK(queue.IsInFlight("a"));
  CHECK(queue.queued() == 1);
  CHECK(queue.Finish("a"));
  CHECK(queue.Abandon("c") == std::nullopt);
}

TEST_CASE("Abandon names the handler that holds the call", "[shim][runtime-api]") {
  InvocationQueue queue;
  (void)queue.Next(3, [](const Invocation&) {});
  (void)queue.Next(7, [](const Invocation&) {});
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  CHECK(queue.Abandon("b") == std::optional<int>(3));
  CHECK(queue.IsInFlight("a"));
}

TEST_CASE("A handler's second waiter replaces only its own", "[shim][runtime-api]") {
  InvocationQueue queue;
  int zero = 0;
  int one = 0;
  (void)queue.Next(0, [&](const Invocation&) { ++zero; });
  CHECK_FALSE(queue.Next(1, [&](const Invocation&) { ++one; }).has_value());
  CHECK(queue.Next(0, [&](const Invocation&) { zero += 10; }).has_value());
  CHECK(queue.waiting() == 2);
  queue.Push(Make("a"));  // handler 0 asked last now: to its second waiter
  CHECK(zero == 10);
  CHECK(one == 0);
  queue.Push(Make("b"));
  CHECK(one == 1);
  CHECK(zero == 10);
}

}  // namespace
}  // namespace gantry::shim
