// Timing rules of the cluster against a fake clock: the shard fence's lease
// deadline (persistence/shard_fence.hpp), keep-alive outcomes, epochs, and
// the peer connect bookkeeping of the ownership loop (nodes/cluster_member).
#include <doctest/doctest.h>

#include <atomic>
#include <memory>

#include "messages/entity.hpp"
#include "nodes/cluster_member.hpp"
#include "persistence/shard_fence.hpp"

using namespace tt::nodes;
using tt::persistence::shard_fence;

namespace {

/// A clock only the test moves.
struct fake_clock {
  std::shared_ptr<std::atomic<int64_t>> t = std::make_shared<std::atomic<int64_t>>(1'000'000);
  shard_fence::clock_fn fn() const {
    return [t = t] { return t->load(); };
  }
  void set(int64_t ms) { *t = ms; }
  void advance(int64_t ms) { *t += ms; }
  int64_t now() const { return *t; }
};

constexpr int64_t ttl_s = 3;  // the default --lease-ttl-s

/// A fence on a fake clock whose lease was renewed (keep-alive sent) at t0.
struct leased_fence {
  fake_clock clk;
  shard_fence fence{clk.fn()};
  int64_t t0 = clk.now();
  leased_fence() { REQUIRE_FALSE(apply_keepalive(fence, t0, ttl_s, int64_t{3})); }
};

} // namespace

TEST_CASE("fence: a new fence serves nothing, and the default clock is the steady clock") {
  fake_clock clk;
  shard_fence fence{clk.fn()};
  CHECK_FALSE(fence.lease_alive());  // deadline 0
  for (uint32_t s = 0; s < tt::shard_count; ++s)
    CHECK(fence.epoch(s) == 0);
  CHECK_FALSE(fence.serves(0, 0));
  CHECK(fence.now_ms() == clk.now());
  shard_fence steady;
  auto a = shard_fence::steady_now_ms();
  auto n = steady.now_ms();
  CHECK(n >= a);
  CHECK(n - a < 1000);
}

TEST_CASE("lease deadline: keep-alive send time + 3/4 TTL; writes refused exactly at the deadline") {
  CHECK(lease_deadline_ms(10'000, 3) == 12'250);
  CHECK(lease_deadline_ms(10'000, 1) == 10'750);
  CHECK(lease_deadline_ms(10'000, 5) == 13'750);

  fake_clock clk;
  shard_fence fence{clk.fn()};
  fence.set_epoch(5, 42);
  CHECK_FALSE(fence.serves(5, 42));  // epoch set, but no lease yet
  auto sent = clk.now();
  clk.advance(400);  // the answer takes 400 ms: the deadline still counts from the send
  CHECK_FALSE(apply_keepalive(fence, sent, ttl_s, int64_t{3}));
  CHECK(fence.lease_deadline() == sent + 2250);
  clk.set(sent + 2249);
  CHECK(fence.lease_alive());
  CHECK(fence.serves(5, 42));
  clk.set(sent + 2250);  // now == deadline: refused
  CHECK_FALSE(fence.lease_alive());
  CHECK_FALSE(fence.serves(5, 42));
  CHECK(fence.epoch(5) == 42);  // the epoch stays; only the lease ran out
  clk.advance(10'000);
  CHECK_FALSE(fence.serves(5, 42));
}

TEST_CASE_FIXTURE(leased_fence, "lease deadline: a renewal extends it from the renewal's send time") {
  fence.set_epoch(9, 7);
  CHECK(fence.lease_deadline() == t0 + 2250);
  clk.set(t0 + 1000);  // the keep-alive thread renews every TTL/3
  auto t1 = clk.now();
  CHECK_FALSE(apply_keepalive(fence, t1, ttl_s, int64_t{2}));
  CHECK(fence.lease_deadline() == t1 + 2250);
  clk.set(t0 + 2250);  // past the first deadline, inside the renewed one
  CHECK(fence.serves(9, 7));
  clk.set(t1 + 2249);
  CHECK(fence.serves(9, 7));
  clk.set(t1 + 2250);
  CHECK_FALSE(fence.serves(9, 7));
  // A late renewal (sent after the deadline passed) opens the fence again.
  auto t2 = clk.now() + 100;
  clk.set(t2);
  CHECK_FALSE(apply_keepalive(fence, t2, ttl_s, int64_t{3}));
  CHECK(fence.serves(9, 7));
}

TEST_CASE_FIXTURE(leased_fence,
                  "lease deadline: no answer keeps the deadline, which then runs out by itself") {
  fence.set_epoch(1, 3);
  clk.set(t0 + 1000);
  CHECK_FALSE(apply_keepalive(fence, clk.now(), ttl_s, std::nullopt));  // etcd unreachable
  CHECK(fence.lease_deadline() == t0 + 2250);                         // not moved
  clk.set(t0 + 2000);
  CHECK_FALSE(apply_keepalive(fence, clk.now(), ttl_s, std::nullopt));
  CHECK(fence.serves(1, 3));
  clk.set(t0 + 2250);  // no further call needed: the fence closes on time
  CHECK_FALSE(fence.serves(1, 3));
}

TEST_CASE_FIXTURE(leased_fence,
                  "lease lost (etcd answers TTL 0): every shard refused at once, before the deadline") {
  for (uint32_t s = 0; s < tt::shard_count; ++s)
    fence.set_epoch(s, 100 + s);
  for (uint32_t s = 0; s < tt::shard_count; ++s)
    REQUIRE(fence.serves(s, 100 + s));
  clk.advance(10);  // well inside the old deadline
  CHECK(apply_keepalive(fence, clk.now(), ttl_s, int64_t{0}));  // lost: the loop re-joins
  CHECK(fence.lease_deadline() == 0);
  CHECK_FALSE(fence.lease_alive());
  for (uint32_t s = 0; s < tt::shard_count; ++s)
    CHECK_FALSE(fence.serves(s, 100 + s));
  // Only a keep-alive of the new lease (after the re-join) opens it again.
  CHECK_FALSE(apply_keepalive(fence, clk.now(), ttl_s, int64_t{3}));
  CHECK(fence.serves(0, 100));
}

TEST_CASE_FIXTURE(leased_fence,
                  "epochs: a stale epoch is refused, the new one accepted, epoch 0 is never owned") {
  fence.set_epoch(7, 100);
  CHECK(fence.serves(7, 100));
  CHECK_FALSE(fence.serves(7, 99));   // an entity recovered under an older epoch
  CHECK_FALSE(fence.serves(7, 101));  // nor any other
  CHECK_FALSE(fence.serves(8, 100));  // the epoch is per shard
  fence.set_epoch(7, 120);            // re-claimed (after a move back or a lease loss)
  CHECK_FALSE(fence.serves(7, 100));
  CHECK(fence.serves(7, 120));
  fence.set_epoch(7, 0);  // not served here (moved away, or mid-hand-off)
  CHECK(fence.epoch(7) == 0);
  CHECK_FALSE(fence.serves(7, 120));
  CHECK_FALSE(fence.serves(7, 0));  // an entity that saw "not owned" can never write
  CHECK_FALSE(fence.serves(8, 0));
}

TEST_CASE_FIXTURE(leased_fence,
                  "decide_shard with the fence's lease on the fake clock: serve until the deadline") {
  clk.set(t0 + 2249);
  CHECK(decide_shard("n1", "id1", "n1", "id1", true, fence.lease_alive()).action
        == shard_decision::serve);
  CHECK(decide_shard("n1", "id1", "n1", "", false, fence.lease_alive()).action
        == shard_decision::claim);
  clk.set(t0 + 2250);
  CHECK(decide_shard("n1", "id1", "n1", "id1", true, fence.lease_alive()).action
        == shard_decision::down);
  CHECK(decide_shard("n1", "id1", "n1", "", false, fence.lease_alive()).action
        == shard_decision::down);
}

TEST_CASE("peer_table: one connect attempt in flight per peer, retried after 1 s") {
  peer_table t;
  int64_t now = 5'000;
  auto a1 = t.want("id2", "n2", now);
  CHECK(a1 != 0);
  CHECK(t.in_flight() == 1);
  CHECK(t.want("id2", "n2", now + 5000) == 0);  // still in flight: no second attempt
  auto b1 = t.want("id3", "n3", now);           // another peer connects in parallel
  CHECK(b1 != 0);
  CHECK(b1 != a1);
  CHECK(t.in_flight() == 2);
  // a1 fails at now+300: no new attempt before now+1300.
  CHECK(t.failed("id2", a1, now + 300));
  CHECK_FALSE(t.failed("id2", a1, now + 300));  // reported twice: stale
  CHECK(t.want("id2", "n2", now + 300) == 0);
  CHECK(t.want("id2", "n2", now + 1299) == 0);
  auto a2 = t.want("id2", "n2", now + 1300);
  CHECK(a2 != 0);
  CHECK(a2 != a1);
  CHECK_FALSE(t.regions("id2"));
  CHECK_FALSE(t.gateway_by_name("n2"));
  // A late result of the failed attempt is ignored; the current one counts.
  auto r = std::make_shared<const tt::node_regions>();
  CHECK_FALSE(t.connected("id2", a1, r, {}));
  CHECK_FALSE(t.regions("id2"));
  CHECK(t.connected("id2", a2, r, {}));
  CHECK(t.regions("id2") == r);
  CHECK(t.gateway_by_name("n2").has_value());
  CHECK(t.want("id2", "n2", now + 1400) == 0);  // connected: nothing to do
  CHECK(t.in_flight() == 1);                    // n3's attempt
}

TEST_CASE("peer_table: an attempt still running after abandon_ms is abandoned") {
  peer_table t;
  int64_t t0 = 0;
  auto a = t.want("id2", "n2", t0);
  REQUIRE(a != 0);
  CHECK(t.abandon_overdue(t0 + peer_table::abandon_ms).empty());  // exactly at the limit: kept
  auto gone = t.abandon_overdue(t0 + peer_table::abandon_ms + 1);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0] == "n2");
  CHECK(t.in_flight() == 0);
  auto r = std::make_shared<const tt::node_regions>();
  CHECK_FALSE(t.connected("id2", a, r, {}));  // its late result is dropped
  CHECK_FALSE(t.regions("id2"));
  auto later = t0 + peer_table::abandon_ms + 1;
  CHECK(t.want("id2", "n2", later + peer_table::retry_ms - 1) == 0);  // back-off applies
  CHECK(t.want("id2", "n2", later + peer_table::retry_ms) != 0);
}

TEST_CASE("peer_table: a peer that left or restarted (new node id) is forgotten") {
  peer_table t;
  auto a = t.want("id2-old", "n2", 0);
  auto r = std::make_shared<const tt::node_regions>();
  REQUIRE(t.connected("id2-old", a, r, {}));
  auto b = t.want("id3", "n3", 0);
  REQUIRE(b != 0);
  t.retain({"id2-new", "id3"});  // n2 restarted
  CHECK_FALSE(t.regions("id2-old"));
  CHECK_FALSE(t.gateway_by_name("n2"));  // its old proxy is stale
  CHECK(t.want("id2-new", "n2", 0) != 0);  // the new incarnation: at once, no back-off
  CHECK(t.in_flight() == 2);
  t.retain({});
  CHECK(t.in_flight() == 0);
  CHECK_FALSE(t.connected("id3", b, r, {}));  // a result for a forgotten peer
}
