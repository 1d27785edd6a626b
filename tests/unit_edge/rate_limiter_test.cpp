// Token buckets: bursts, refill, independence of keys, bounded memory (idle
// sweep and LRU cap), concurrency, and the product's rule table.

#include <doctest/doctest.h>

#include "nodes/rate_limiter.hpp"

#include <atomic>
#include <chrono>
#include <cmath>
#include <string>
#include <thread>
#include <vector>

using namespace tt::nodes;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

const clock_type::time_point t0 = clock_type::time_point{} + std::chrono::hours(1000);

template <class D>
clock_type::time_point at(D d) {
  return t0 + std::chrono::duration_cast<clock_type::duration>(d);
}

int admitted(rate_limiter& rl, const std::string& key, const bucket_rule& rule,
             clock_type::time_point now, int attempts) {
  int n = 0;
  for (int i = 0; i < attempts; ++i)
    n += rl.take(key, rule, now).allowed ? 1 : 0;
  return n;
}

} // namespace

TEST_SUITE("rate_limiter") {

TEST_CASE("burst up to capacity, then deny with the time until one token") {
  rate_limiter rl;
  const bucket_rule five_per_min{5, 5.0 / 60};
  for (int i = 0; i < 5; ++i) {
    auto d = rl.take("acct-1", five_per_min, t0);
    CHECK(d.allowed);
    CHECK(d.retry_after_seconds == 0);
  }
  auto denied = rl.take("acct-1", five_per_min, t0);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after_seconds == doctest::Approx(12.0));
  // Denials do not consume anything; the wait shrinks as time passes.
  auto later = rl.take("acct-1", five_per_min, at(11s));
  CHECK_FALSE(later.allowed);
  CHECK(later.retry_after_seconds == doctest::Approx(1.0));
  CHECK(later.retry_after_seconds > 0);
  CHECK(std::ceil(later.retry_after_seconds) == 1);
  CHECK(rl.take("acct-1", five_per_min, at(12s)).allowed);
  CHECK_FALSE(rl.take("acct-1", five_per_min, at(12s)).allowed);

  // 20 req/s per IP.
  const bucket_rule per_ip{20, 20};
  CHECK(admitted(rl, "ip:1.2.3.4", per_ip, t0, 100) == 20);
  auto d = rl.take("ip:1.2.3.4", per_ip, t0);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_seconds == doctest::Approx(0.05));
  CHECK(d.retry_after_seconds > 0);
}

TEST_CASE("refill over simulated time, never beyond capacity") {
  rate_limiter rl;
  const bucket_rule rule{20, 20};
  CHECK(admitted(rl, "k", rule, t0, 50) == 20);
  CHECK(admitted(rl, "k", rule, at(500ms), 50) == 10);
  CHECK(admitted(rl, "k", rule, at(550ms), 50) == 1);
  // A long pause refills to capacity only.
  CHECK(admitted(rl, "k", rule, at(1h), 50) == 20);
  // Time going backwards (callers' clocks race) refills nothing.
  CHECK(admitted(rl, "k", rule, at(30min), 50) == 0);
  // Steady traffic at the refill rate is always admitted.
  rate_limiter steady;
  const bucket_rule slow{3, 3.0 / 60};  // 3/min
  CHECK(admitted(steady, "t", slow, t0, 3) == 3);
  for (int i = 1; i <= 30; ++i) {
    CAPTURE(i);
    CHECK(steady.take("t", slow, at(std::chrono::seconds(20 * i))).allowed);
    CHECK_FALSE(steady.take("t", slow, at(std::chrono::seconds(20 * i))).allowed);
  }
}

TEST_CASE("keys are independent") {
  rate_limiter rl;
  const bucket_rule rule{3, 1};
  CHECK(admitted(rl, "a", rule, t0, 10) == 3);
  CHECK(admitted(rl, "b", rule, t0, 10) == 3);
  CHECK(admitted(rl, "POST /api/v1/trades|acct-1", rule, t0, 10) == 3);
  CHECK(admitted(rl, "POST /api/v1/trades|acct-2", rule, t0, 10) == 3);
  CHECK(admitted(rl, std::string("a\0x", 3), rule, t0, 10) == 3);  // not truncated at NUL
  CHECK(rl.size() == 5);
}

TEST_CASE("degenerate rules deny with a finite, positive wait") {
  rate_limiter rl;
  auto d = rl.take("z", bucket_rule{0, 1}, t0);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_seconds == rate_limiter::max_retry_after_s);
  CHECK(rl.take("n", bucket_rule{1, 0}, t0).allowed);
  d = rl.take("n", bucket_rule{1, 0}, at(1h));
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_seconds == rate_limiter::max_retry_after_s);
  // Very slow refill: the wait is capped.
  CHECK(rl.take("s", bucket_rule{1, 1e-9}, t0).allowed);
  d = rl.take("s", bucket_rule{1, 1e-9}, t0);
  CHECK_FALSE(d.allowed);
  CHECK(d.retry_after_seconds == rate_limiter::max_retry_after_s);
  CHECK(std::isfinite(d.retry_after_seconds));
}

TEST_CASE("memory stays bounded: LRU cap with many distinct keys") {
  rate_limiter rl(10000, 300s);
  const bucket_rule rule{20, 20};
  for (int i = 0; i < 1'000'000; ++i)
    rl.take("ip:" + std::to_string(i), rule, t0);
  auto n = rl.size();
  CHECK(n <= 10000);
  CHECK(n >= 9000);  // the cap is used, not thrown away
  // A hot key keeps its state while cold ones churn (it is recently used).
  CHECK(admitted(rl, "hot", rule, t0, 100) == 20);
  for (int i = 0; i < 100000; ++i) {
    rl.take("cold:" + std::to_string(i), rule, t0);
    if (i % 100 == 0)
      rl.take("hot", rule, t0);
  }
  CHECK_FALSE(rl.take("hot", rule, t0).allowed);
  CHECK(rl.size() <= 10000);
}

TEST_CASE("idle buckets that are full again are swept out") {
  rate_limiter rl(100000, 300s);
  const bucket_rule rule{20, 20};
  const bucket_rule hourly{10, 1.0 / 3600};
  for (int i = 0; i < 50000; ++i)
    rl.take("old:" + std::to_string(i), rule, t0);
  // A drained bucket under a rule that refills slower than the expiry.
  CHECK(admitted(rl, "slow", hourly, t0, 20) == 10);
  CHECK(rl.size() == 50001);
  // Still within the expiry: nothing goes.
  for (int i = 0; i < 20000; ++i)
    rl.take("warm:" + std::to_string(i % 1000), rule, at(200s));
  CHECK(rl.size() == 51001);
  // Past the expiry: traffic on a few keys sweeps the idle ones out.
  for (int i = 0; i < 100000; ++i)
    rl.take("new:" + std::to_string(i % 1000), rule, at(600s));
  auto n = rl.size();
  CAPTURE(n);
  CHECK(n <= 1001);  // the new keys and the slow bucket; old and warm ones are gone
  CHECK(n >= 1000);
  // The idle but not yet full bucket was kept: forgetting it would hand out
  // a fresh burst.
  CHECK_FALSE(rl.take("slow", hourly, at(601s)).allowed);
}

TEST_CASE("concurrent takes on one key never over-admit") {
  rate_limiter rl;
  SUBCASE("fixed time: exactly the capacity") {
    const bucket_rule rule{100, 10};
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < 10000; ++i)
          if (rl.take("shared", rule, t0).allowed)
            allowed.fetch_add(1);
      });
    for (auto& t : threads)
      t.join();
    CHECK(allowed.load() == 100);
  }
  SUBCASE("advancing, racing clocks: at most capacity + refill over the window") {
    const bucket_rule rule{50, 20};
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 1000; ++i) {
          // Each thread walks through one second on its own (offset) clock.
          auto now = at(std::chrono::microseconds(i * 1000 + t * 250));
          for (int k = 0; k < 5; ++k)
            if (rl.take("shared", rule, now).allowed)
              allowed.fetch_add(1);
        }
      });
    for (auto& t : threads)
      t.join();
    // Window: t0 .. t0 + 999.75 ms -> at most 50 + 20 * 0.99975 tokens.
    CHECK(allowed.load() <= 50 + 20);
    CHECK(allowed.load() >= 50 + 19);
  }
  SUBCASE("many keys from many threads keep the size exact") {
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
      threads.emplace_back([&, t] {
        for (int i = 0; i < 20000; ++i)
          rl.take(std::to_string(t).append(":").append(std::to_string(i % 500)), bucket_rule{5, 1}, t0);
      });
    for (auto& t : threads)
      t.join();
    CHECK(rl.size() == 2000);
  }
}

TEST_CASE("rule table of the product spec") {
  rate_limit_config cfg;
  CHECK(cfg.enabled);
  CHECK(cfg.per_ip.capacity == 20);
  CHECK(cfg.per_ip.refill_per_second == 20);

  auto expect = [&](std::string_view method, std::string_view route, double per_minute) {
    CAPTURE(method);
    CAPTURE(route);
    const bucket_rule* r = cfg.rule_for(method, route);
    REQUIRE(r != nullptr);
    CHECK(r->capacity == per_minute);
    CHECK(r->refill_per_second == doctest::Approx(per_minute / 60));
  };
  expect("POST", "/api/v1/tickets", 5);
  expect("GET", "/api/v1/marketplace", 30);
  expect("POST", "/api/v1/trades", 3);
  expect("POST", "/api/v1/trades/{id}/cash", 5);
  expect("POST", "/api/v1/tickets/{id}/transfer", 10);

  CHECK(cfg.rule_for("GET", "/api/v1/tickets") == nullptr);
  CHECK(cfg.rule_for("POST", "/api/v1/marketplace") == nullptr);
  CHECK(cfg.rule_for("GET", "/api/v1/trades") == nullptr);
  CHECK(cfg.rule_for("post", "/api/v1/tickets") == nullptr);  // methods are upper-case tokens
  CHECK(cfg.rule_for("POST", "/api/v1/tickets/abc/transfer") == nullptr);  // patterns, not paths
  CHECK(cfg.rule_for("POST", "/api/v1/tickets/") == nullptr);
  CHECK(cfg.rule_for("", "") == nullptr);
  CHECK(cfg.rule_for("GET", "/healthz") == nullptr);

  // Rules are plain data: a config can be tightened and the table follows.
  cfg.post_trades = {1, 1.0 / 60};
  REQUIRE(cfg.rule_for("POST", "/api/v1/trades") != nullptr);
  CHECK(cfg.rule_for("POST", "/api/v1/trades")->capacity == 1);
}

} // TEST_SUITE
