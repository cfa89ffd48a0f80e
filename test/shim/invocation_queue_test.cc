#include "invocation_queue.h"

#include <catch2/catch.hpp>

namespace gantry::shim {
namespace {

Invocation Make(const std::string& id) { return Invocation{id, "{}", 1000}; }

TEST_CASE("Calls queue until the handler asks for the next one", "[shim][runtime-api]") {
  InvocationQueue queue;
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  CHECK(queue.queued() == 2);
  std::vector<std::string> got;
  auto replaced = queue.Next([&](const Invocation& invocation) { got.push_back(invocation.id); });
  CHECK_FALSE(replaced.has_value());
  CHECK(got == std::vector<std::string>{"a"});
  CHECK(queue.IsInFlight("a"));
  CHECK(queue.CurrentId() == "a");
  CHECK(queue.queued() == 1);
}

TEST_CASE("A parked handler gets the next call at once", "[shim][runtime-api]") {
  InvocationQueue queue;
  std::vector<std::string> got;
  (void)queue.Next([&](const Invocation& invocation) { got.push_back(invocation.id); });
  CHECK(queue.waiting());
  CHECK(got.empty());
  queue.Push(Make("x"));
  CHECK(got == std::vector<std::string>{"x"});
  CHECK_FALSE(queue.waiting());
  CHECK(queue.in_flight() == 1);
  queue.Push(Make("y"));
  CHECK(queue.queued() == 1);  // nobody waits now
}

TEST_CASE("Finish accepts only calls in flight, once", "[shim][runtime-api]") {
  InvocationQueue queue;
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  CHECK_FALSE(queue.Finish("a"));  // not handed over yet
  (void)queue.Next([](const Invocation&) {});
  CHECK(queue.Finish("a"));
  CHECK_FALSE(queue.Finish("a"));
  CHECK_FALSE(queue.Finish("nope"));
  CHECK(queue.CurrentId().empty());
}

TEST_CASE("Abandon removes queued calls and reports in-flight ones", "[shim][runtime-api]") {
  InvocationQueue queue;
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  (void)queue.Next([](const Invocation&) {});
  CHECK(queue.Abandon("a"));        // in flight: the handler must be replaced
  CHECK_FALSE(queue.Abandon("b"));  // merely queued
  CHECK(queue.queued() == 0);
  CHECK_FALSE(queue.Finish("a"));  // a late answer is refused
}

TEST_CASE("A second waiter replaces the first", "[shim][runtime-api]") {
  InvocationQueue queue;
  int first = 0;
  int second = 0;
  (void)queue.Next([&](const Invocation&) { ++first; });
  auto replaced = queue.Next([&](const Invocation&) { ++second; });
  CHECK(replaced.has_value());
  queue.Push(Make("a"));
  CHECK(first == 0);
  CHECK(second == 1);
}

TEST_CASE("HandlerGone returns what was in flight and keeps the queue", "[shim][runtime-api]") {
  InvocationQueue queue;
  queue.Push(Make("a"));
  queue.Push(Make("b"));
  (void)queue.Next([](const Invocation&) {});
  auto lost = queue.HandlerGone();
  CHECK(lost == std::vector<std::string>{"a"});
  CHECK(queue.in_flight() == 0);
  CHECK(queue.queued() == 1);
  std::string next;
  (void)queue.Next([&](const Invocation& invocation) { next = invocation.id; });
  CHECK(next == "b");

  (void)queue.HandlerGone();
  (void)queue.Next([](const Invocation&) { FAIL("the waiter of a gone handler must be dropped"); });
  (void)queue.HandlerGone();
  queue.Push(Make("c"));
  CHECK(queue.queued() == 1);
}

}  // namespace
}  // namespace gantry::shim
