// The RocksDB event store: streams, optimistic concurrency, the global log,
// snapshots, secondary index entries, timers, and durability across reopen.
#include <doctest/doctest.h>

#include "common.hpp"
#include "persistence/event_store.hpp"

using namespace tt;
using namespace tt::persistence;

namespace {

std::unique_ptr<event_store> open_store(const test::temp_dir& dir) {
  std::string err;
  auto s = event_store::open(store_options{dir.str()}, &err);
  REQUIRE_MESSAGE(s, err);
  return s;
}

append_result append(event_store& s, entity_kind k, const std::string& id, uint64_t expected,
                     const std::vector<std::string>& evs, std::string_view snap = {},
                     uint64_t snap_seq = 0, const std::vector<std::string>& idx = {}) {
  append_request r;
  r.kind = k;
  r.entity_id = id;
  r.expected_seq = expected;
  r.events = evs;
  r.snapshot = snap;
  r.snapshot_seq = snap_seq;
  r.index_writes = idx;
  std::vector<append_result> out;
  s.append_batch(std::span<const append_request>(&r, 1), out);
  return out.at(0);
}

std::vector<std::pair<uint64_t, std::string>> replay(event_store& s, entity_kind k,
                                                     const std::string& id, uint64_t from) {
  std::vector<std::pair<uint64_t, std::string>> out;
  CHECK(s.read_events(k, id, from, [&](uint64_t seq, std::string_view b) {
    out.emplace_back(seq, std::string(b));
    return true;
  }));
  return out;
}

} // namespace

TEST_CASE("append and replay a stream from any sequence number") {
  test::temp_dir dir;
  auto s = open_store(dir);
  CHECK(s->next_offset() == 1);
  auto r = append(*s, entity_kind::ticket, "t1", 0, {"e1", "e2", "e3"});
  CHECK(r.code == errc::ok);
  CHECK(r.last_seq == 3);
  CHECK(r.first_offset == 1);
  CHECK(s->last_seq(entity_kind::ticket, "t1") == 3);
  // Another entity whose id is a prefix of the first must not bleed into it.
  CHECK(append(*s, entity_kind::ticket, "t", 0, {"x"}).code == errc::ok);
  CHECK(append(*s, entity_kind::account, "t1", 0, {"acc"}).code == errc::ok);
  auto all = replay(*s, entity_kind::ticket, "t1", 1);
  REQUIRE(all.size() == 3);
  CHECK(all[0] == std::pair<uint64_t, std::string>{1, "e1"});
  CHECK(all[2] == std::pair<uint64_t, std::string>{3, "e3"});
  auto tail = replay(*s, entity_kind::ticket, "t1", 3);
  REQUIRE(tail.size() == 1);
  CHECK(tail[0].second == "e3");
  CHECK(replay(*s, entity_kind::ticket, "t", 1).size() == 1);
  CHECK(replay(*s, entity_kind::ticket, "nope", 1).empty());
}

TEST_CASE("a stale expected sequence number is a conflict and writes nothing") {
  test::temp_dir dir;
  auto s = open_store(dir);
  REQUIRE(append(*s, entity_kind::ticket, "t1", 0, {"e1"}).code == errc::ok);
  auto bad = append(*s, entity_kind::ticket, "t1", 0, {"other"});
  CHECK(bad.code == errc::conflict);
  CHECK(bad.last_seq == 1);
  CHECK_FALSE(bad.message.empty());
  auto ahead = append(*s, entity_kind::ticket, "t1", 5, {"gap"});
  CHECK(ahead.code == errc::conflict);
  auto evs = replay(*s, entity_kind::ticket, "t1", 1);
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].second == "e1");
  CHECK(s->next_offset() == 2);

  // In one batch: a conflicting request fails alone; two appends to one
  // entity chain their sequence numbers.
  std::vector<std::string> a{"a"}, b{"b"}, c{"c"};
  std::vector<append_request> reqs(3);
  reqs[0] = {entity_kind::ticket, "t1", 1, a, {}, 0, {}};
  reqs[1] = {entity_kind::ticket, "t1", 1, b, {}, 0, {}};  // stale after reqs[0]
  reqs[2] = {entity_kind::ticket, "t1", 2, c, {}, 0, {}};
  std::vector<append_result> out;
  s->append_batch(reqs, out);
  CHECK(out[0].code == errc::ok);
  CHECK(out[1].code == errc::conflict);
  CHECK(out[2].code == errc::ok);
  CHECK(out[2].last_seq == 3);
  auto all = replay(*s, entity_kind::ticket, "t1", 1);
  REQUIRE(all.size() == 3);
  CHECK(all[1].second == "a");
  CHECK(all[2].second == "c");
}

TEST_CASE("the global log orders every event with monotonic offsets") {
  test::temp_dir dir;
  {
    auto s = open_store(dir);
    append(*s, entity_kind::ticket, "a", 0, {"a1", "a2"});
    append(*s, entity_kind::account, "b", 0, {"b1"});
    append(*s, entity_kind::ticket, "a", 2, {"a3"});
    std::vector<std::pair<uint64_t, std::string>> log;
    s->read_log(1, 100, [&](uint64_t off, std::string_view b) {
      log.emplace_back(off, std::string(b));
      return true;
    });
    REQUIRE(log.size() == 4);
    CHECK(log[0] == std::pair<uint64_t, std::string>{1, "a1"});
    CHECK(log[2] == std::pair<uint64_t, std::string>{3, "b1"});
    CHECK(log[3] == std::pair<uint64_t, std::string>{4, "a3"});
    size_t n = s->read_log(3, 1, [](uint64_t, std::string_view) { return true; });
    CHECK(n == 1);
    CHECK(s->next_offset() == 5);
  }
  // Offsets continue after a reopen; data is intact.
  auto s = open_store(dir);
  CHECK(s->next_offset() == 5);
  CHECK(s->last_seq(entity_kind::ticket, "a") == 3);
  auto r = append(*s, entity_kind::ticket, "a", 3, {"a4"});
  CHECK(r.first_offset == 5);
  CHECK(replay(*s, entity_kind::ticket, "a", 1).size() == 4);
}

TEST_CASE("snapshots and index entries are written with the events") {
  test::temp_dir dir;
  auto s = open_store(dir);
  CHECK_FALSE(s->load_snapshot(entity_kind::ticket, "t1"));
  append(*s, entity_kind::ticket, "t1", 0, {"e1", "e2"}, "SNAP2", 2,
         {"owner\0u1\0t1", "listed"});
  auto snap = s->load_snapshot(entity_kind::ticket, "t1");
  REQUIRE(snap);
  CHECK(snap->seq == 2);
  CHECK(snap->bytes == "SNAP2");
  // A conflicting append writes neither its snapshot nor its index entries.
  append(*s, entity_kind::ticket, "t1", 0, {"x"}, "BAD", 1, {"bad-key", "v"});
  CHECK(s->load_snapshot(entity_kind::ticket, "t1")->bytes == "SNAP2");
  CHECK(s->scan_index("bad", "", 10).empty());

  std::string k1 = std::string("owner\0u1\0", 9);
  append(*s, entity_kind::ticket, "t2", 0, {"e"}, {}, 0, {k1 + "t2", "listed"});
  append(*s, entity_kind::ticket, "t3", 0, {"e"}, {}, 0, {k1 + "t3", "listed"});
  append(*s, entity_kind::ticket, "t2", 1, {"e"}, {}, 0, {k1 + "t2", "withdrawn"});
  append(*s, entity_kind::ticket, "t9", 0, {"e"}, {}, 0, {std::string("owner\0u2\0t9", 11), "listed"});
  auto rows = s->scan_index(k1, "", 10);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].first == k1 + "t2");
  CHECK(rows[0].second == "withdrawn");
  auto page2 = s->scan_index(k1, k1 + "t2", 10);
  REQUIRE(page2.size() == 1);
  CHECK(page2[0].first == k1 + "t3");
  append(*s, entity_kind::ticket, "t3", 1, {"e"}, {}, 0, {k1 + "t3", ""});  // delete
  CHECK(s->scan_index(k1, "", 10).size() == 1);
}

TEST_CASE("durable timers: schedule, reschedule, fire in order, delete") {
  test::temp_dir dir;
  {
    auto s = open_store(dir);
    CHECK(s->put_timer({2000, entity_kind::trade, "tr1", "expiry", "p1"}) == errc::ok);
    CHECK(s->put_timer({1000, entity_kind::trade, "tr2", "commit", "p2"}) == errc::ok);
    CHECK(s->put_timer({5000, entity_kind::trade, "tr3", "expiry", "p3"}) == errc::ok);
    // Rescheduling replaces the earlier schedule of the same timer.
    CHECK(s->put_timer({1500, entity_kind::trade, "tr1", "expiry", "p1b"}) == errc::ok);
  }
  auto s = open_store(dir);  // timers survive a restart
  auto due = s->due_timers(2500, 10);
  REQUIRE(due.size() == 2);
  CHECK(due[0].entity_id == "tr2");
  CHECK(due[0].name == "commit");
  CHECK(due[1].entity_id == "tr1");
  CHECK(due[1].due_ms == 1500);
  CHECK(due[1].payload == "p1b");
  CHECK(s->delete_timer(entity_kind::trade, "tr2", "commit") == errc::ok);
  CHECK(s->delete_timer(entity_kind::trade, "tr2", "commit") == errc::ok);  // idempotent
  CHECK(s->due_timers(2500, 10).size() == 1);
  CHECK(s->due_timers(10000, 10).size() == 2);
  CHECK(s->due_timers(10000, 1).size() == 1);
}
