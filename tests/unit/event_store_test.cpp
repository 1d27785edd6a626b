// The RocksDB event store: per-entity streams with optimistic concurrency,
// batches where requests fail alone, the global log, snapshots written with
// the events, durable timers, and everything intact after close + reopen.
#include <doctest/doctest.h>

#include <map>

#include "persistence/event_store.hpp"
#include "support.hpp"

using namespace tt;
using namespace tt::persistence;

namespace {

struct req_data {
  entity_kind kind = entity_kind::ticket;
  std::string id;
  uint64_t expected = 0;
  std::vector<std::string> events;
  std::string snapshot;
  uint64_t snapshot_seq = 0;
  std::vector<std::string> index;
};

// Builds requests whose spans and views point into `data` (kept alive by the caller).
std::vector<append_request> requests(const std::vector<req_data>& data) {
  std::vector<append_request> out;
  for (const auto& d : data) {
    append_request r;
    r.kind = d.kind;
    r.entity_id = d.id;
    r.expected_seq = d.expected;
    r.events = d.events;
    r.snapshot = d.snapshot;
    r.snapshot_seq = d.snapshot_seq;
    r.index_writes = d.index;
    out.push_back(r);
  }
  return out;
}

std::vector<append_result> run(event_store& s, const std::vector<req_data>& data,
                               batch_info* info = nullptr) {
  auto reqs = requests(data);
  std::vector<append_result> out;
  s.append_batch(reqs, out, info);
  REQUIRE(out.size() == data.size());
  return out;
}

append_result append(event_store& s, entity_kind k, std::string id, uint64_t expected,
                     std::vector<std::string> evs) {
  return run(s, {req_data{k, std::move(id), expected, std::move(evs), {}, 0, {}}}).at(0);
}

std::vector<std::pair<uint64_t, std::string>> replay(const event_store& s, entity_kind k,
                                                     const std::string& id, uint64_t from) {
  std::vector<std::pair<uint64_t, std::string>> out;
  bool ok = s.read_events(k, id, from, [&](uint64_t seq, std::string_view b) {
    out.emplace_back(seq, std::string(b));
    return true;
  });
  CHECK(ok);
  return out;
}

std::vector<std::pair<uint64_t, std::string>> log_from(const event_store& s, uint64_t from,
                                                       size_t max = 1000) {
  std::vector<std::pair<uint64_t, std::string>> out;
  auto n = s.read_log(from, max, [&](uint64_t off, std::string_view b) {
    out.emplace_back(off, std::string(b));
    return true;
  });
  CHECK(n == out.size());
  return out;
}

using ev = std::pair<uint64_t, std::string>;

} // namespace

TEST_CASE("event store: append, last_seq and replay from any sequence number") {
  unit::temp_dir dir;
  auto s = unit::open_store(dir.str());
  CHECK(s->last_seq(entity_kind::ticket, "t1") == 0);
  CHECK(replay(*s, entity_kind::ticket, "t1", 1).empty());

  auto r = append(*s, entity_kind::ticket, "t1", 0, {"e1", "e2", "e3"});
  CHECK(r.code == errc::ok);
  CHECK(r.last_seq == 3);
  CHECK(r.first_offset == 1);
  r = append(*s, entity_kind::ticket, "t1", 3, {"e4", std::string("e\0" "5", 3)});
  CHECK(r.code == errc::ok);
  CHECK(r.last_seq == 5);
  CHECK(r.first_offset == 4);
  CHECK(s->last_seq(entity_kind::ticket, "t1") == 5);

  // Neighbours in key space: an id that is a prefix of t1, a longer id, the
  // same id under another kind. None of them may bleed into t1's stream.
  CHECK(append(*s, entity_kind::ticket, "t", 0, {"short"}).code == errc::ok);
  CHECK(append(*s, entity_kind::ticket, "t10", 0, {"long1", "long2"}).code == errc::ok);
  CHECK(append(*s, entity_kind::account, "t1", 0, {"acc"}).code == errc::ok);

  CHECK(replay(*s, entity_kind::ticket, "t1", 1)
        == std::vector<ev>{{1, "e1"}, {2, "e2"}, {3, "e3"}, {4, "e4"}, {5, std::string("e\0" "5", 3)}});
  CHECK(replay(*s, entity_kind::ticket, "t1", 0).size() == 5);
  CHECK(replay(*s, entity_kind::ticket, "t1", 4) == std::vector<ev>{{4, "e4"}, {5, std::string("e\0" "5", 3)}});
  CHECK(replay(*s, entity_kind::ticket, "t1", 6).empty());
  CHECK(replay(*s, entity_kind::ticket, "t", 1) == std::vector<ev>{{1, "short"}});
  CHECK(replay(*s, entity_kind::ticket, "t10", 2) == std::vector<ev>{{2, "long2"}});
  CHECK(replay(*s, entity_kind::account, "t1", 1) == std::vector<ev>{{1, "acc"}});
  CHECK(s->last_seq(entity_kind::ticket, "t") == 1);
  CHECK(s->last_seq(entity_kind::ticket, "t10") == 2);
  CHECK(s->last_seq(entity_kind::account, "t1") == 1);
  CHECK(s->last_seq(entity_kind::account, "t") == 0);
  CHECK(s->last_seq(entity_kind::ticket, "t2") == 0);

  // The callback can stop the scan early.
  int calls = 0;
  CHECK(s->read_events(entity_kind::ticket, "t1", 1, [&](uint64_t, std::string_view) {
    return ++calls < 2;
  }));
  CHECK(calls == 2);
}

TEST_CASE("event store: a wrong expected_seq is a typed conflict that writes nothing") {
  unit::temp_dir dir;
  auto s = unit::open_store(dir.str());
  REQUIRE(append(*s, entity_kind::ticket, "t1", 0, {"e1"}).code == errc::ok);

  auto behind = append(*s, entity_kind::ticket, "t1", 0, {"stale"});
  CHECK(behind.code == errc::conflict);
  CHECK(behind.last_seq == 1);  // the stream's real position
  CHECK(behind.message.find("expected seq 0") != std::string::npos);
  auto ahead = append(*s, entity_kind::ticket, "t1", 7, {"gap"});
  CHECK(ahead.code == errc::conflict);
  CHECK(ahead.last_seq == 1);
  auto fresh = append(*s, entity_kind::ticket, "new", 1, {"x"});
  CHECK(fresh.code == errc::conflict);
  CHECK(fresh.last_seq == 0);

  CHECK(replay(*s, entity_kind::ticket, "t1", 1) == std::vector<ev>{{1, "e1"}});
  CHECK(s->last_seq(entity_kind::ticket, "new") == 0);
  CHECK(s->next_offset() == 2);
  CHECK(log_from(*s, 1) == std::vector<ev>{{1, "e1"}});
}

TEST_CASE("event store: in one batch a conflict fails alone and same-entity appends chain") {
  unit::temp_dir dir;
  auto s = unit::open_store(dir.str());
  REQUIRE(append(*s, entity_kind::ticket, "a", 0, {"a1"}).code == errc::ok);

  batch_info info;
  auto out = run(*s,
                 {
                   {entity_kind::ticket, "a", 1, {"a2"}, {}, 0, {}},        // ok -> 2
                   {entity_kind::ticket, "b", 5, {"bad"}, {}, 0, {}},       // conflict
                   {entity_kind::ticket, "a", 2, {"a3", "a4"}, {}, 0, {}},  // chains -> 4
                   {entity_kind::ticket, "a", 2, {"dup"}, {}, 0, {}},       // stale in batch
                   {entity_kind::ticket, "c", 0, {"c1"}, {}, 0, {}},        // ok
                 },
                 &info);
  CHECK(out[0].code == errc::ok);
  CHECK(out[0].last_seq == 2);
  CHECK(out[0].first_offset == 2);
  CHECK(out[1].code == errc::conflict);
  CHECK(out[1].last_seq == 0);
  CHECK(out[2].code == errc::ok);
  CHECK(out[2].last_seq == 4);
  CHECK(out[2].first_offset == 3);
  CHECK(out[3].code == errc::conflict);
  CHECK(out[3].last_seq == 4);
  CHECK(out[4].code == errc::ok);
  CHECK(out[4].last_seq == 1);
  CHECK(out[4].first_offset == 5);
  CHECK(info.events == 4);
  CHECK(info.bytes > 0);

  CHECK(replay(*s, entity_kind::ticket, "a", 1)
        == std::vector<ev>{{1, "a1"}, {2, "a2"}, {3, "a3"}, {4, "a4"}});
  CHECK(replay(*s, entity_kind::ticket, "b", 1).empty());
  CHECK(s->last_seq(entity_kind::ticket, "a") == 4);
  CHECK(s->next_offset() == 6);

  // A batch where everything conflicts writes nothing and moves no offset.
  out = run(*s, {{entity_kind::ticket, "a", 0, {"x"}, {}, 0, {}}}, &info);
  CHECK(out[0].code == errc::conflict);
  CHECK(info.events == 0);
  CHECK(s->next_offset() == 6);
  // An append of zero events with the right expected_seq is a no-op success.
  out = run(*s, {{entity_kind::ticket, "a", 4, {}, {}, 0, {}}});
  CHECK(out[0].code == errc::ok);
  CHECK(out[0].last_seq == 4);
  CHECK(s->next_offset() == 6);
}

TEST_CASE("event store: global log offsets are monotonic from 1 and read back in order") {
  unit::temp_dir dir;
  auto s = unit::open_store(dir.str());
  CHECK(s->next_offset() == 1);
  CHECK(log_from(*s, 1).empty());
  append(*s, entity_kind::ticket, "x", 0, {"x1", "x2"});
  run(*s, {{entity_kind::account, "y", 0, {"y1"}, {}, 0, {}},
           {entity_kind::ticket, "x", 2, {"x3"}, {}, 0, {}}});
  append(*s, entity_kind::ticket, "z", 0, {"z1"});
  CHECK(s->next_offset() == 6);

  auto all = log_from(*s, 1);
  CHECK(all == std::vector<ev>{{1, "x1"}, {2, "x2"}, {3, "y1"}, {4, "x3"}, {5, "z1"}});
  CHECK(log_from(*s, 0) == all);  // offset 0 does not exist; start at the first
  CHECK(log_from(*s, 4) == std::vector<ev>{{4, "x3"}, {5, "z1"}});
  CHECK(log_from(*s, 2, 2) == std::vector<ev>{{2, "x2"}, {3, "y1"}});
  CHECK(log_from(*s, 6).empty());
  size_t seen = s->read_log(1, 100, [](uint64_t off, std::string_view) { return off < 3; });
  CHECK(seen == 3);  // stops after the callback returns false
}

TEST_CASE("event store: the newest log events come from memory, exactly as from disk") {
  // read_log serves the newest events (up to recent_log_bytes) from memory;
  // every (from, max) must read what a reopened store (all from disk) reads,
  // also across the boundary where the memory copy starts.
  unit::temp_dir dir;
  std::vector<ev> written;
  {
    std::string err;
    store_options o{dir.str()};
    o.sync = false;
    o.recent_log_bytes = 40;  // about the last dozen events below
    auto s = event_store::open(o, &err);
    REQUIRE(s);
    uint64_t seq_x = 0;
    for (int b = 0; b < 12; ++b) {
      std::vector<std::string> evs;
      for (int k = 0; k <= b % 3; ++k)
        evs.push_back("e" + std::to_string(written.size() + evs.size() + 1));
      // A conflicting append in the same batch writes nothing and must not
      // disturb the memory copy's offsets.
      auto res = run(*s, {{entity_kind::ticket, "x", seq_x, evs, {}, 0, {}},
                          {entity_kind::ticket, "y", 99, {"never"}, {}, 0, {}}});
      REQUIRE(res[0].code == errc::ok);
      REQUIRE(res[1].code == errc::conflict);
      seq_x += evs.size();
      for (auto& e : evs)
        written.emplace_back(written.size() + 1, e);
    }
    for (uint64_t from = 0; from <= written.size() + 1; ++from)
      for (size_t max : {size_t{1}, size_t{2}, size_t{5}, size_t{1000}}) {
        CAPTURE(from);
        CAPTURE(max);
        std::vector<ev> expect;
        for (auto& w : written)
          if (w.first >= from && expect.size() < max)
            expect.push_back(w);
        // The memory copy always reaches the log's end, so a read that
        // starts in it or before it (then from disk) reads exactly this.
        CHECK(log_from(*s, from, max) == expect);
      }
    // The whole log, read on from where each read stops (as followers do).
    std::vector<ev> all;
    for (uint64_t from = 1; from < s->next_offset();) {
      auto part = log_from(*s, from, 4);
      REQUIRE_FALSE(part.empty());
      all.insert(all.end(), part.begin(), part.end());
      from = part.back().first + 1;
    }
    CHECK(all == written);
  }
  auto disk = unit::open_store(dir.str());
  CHECK(log_from(*disk, 1) == written);
  // recent_log_bytes = 0 keeps nothing in memory: every read from disk.
  unit::temp_dir dir0;
  std::string err;
  store_options o0{dir0.str()};
  o0.sync = false;
  o0.recent_log_bytes = 0;
  auto s0 = event_store::open(o0, &err);
  REQUIRE(s0);
  append(*s0, entity_kind::ticket, "z", 0, {"z1", "z2"});
  CHECK(log_from(*s0, 1) == std::vector<ev>{{1, "z1"}, {2, "z2"}});
  CHECK(log_from(*s0, 2, 1) == std::vector<ev>{{2, "z2"}});
}

TEST_CASE("event store: next_offset and all data survive close and reopen") {
  unit::temp_dir dir;
  {
    auto s = unit::open_store(dir.str());
    append(*s, entity_kind::ticket, "t1", 0, {"a", "b"});
    append(*s, entity_kind::ticket, "t", 0, {"p"});
    append(*s, entity_kind::account, "u1", 0, {"r"});
    run(*s, {{entity_kind::ticket, "t1", 2, {"c"}, "SNAP@3", 3, {"idx-k", "idx-v"}}});
    CHECK(s->put_timer({5000, entity_kind::trade, "tr", "expiry", "payload"}) == errc::ok);
    CHECK(s->next_offset() == 6);
    s->close();
    s->close();  // idempotent
  }
  {
    auto s = unit::open_store(dir.str());
    CHECK(s->next_offset() == 6);
    CHECK(s->last_seq(entity_kind::ticket, "t1") == 3);
    CHECK(s->last_seq(entity_kind::ticket, "t") == 1);
    CHECK(s->last_seq(entity_kind::account, "u1") == 1);
    CHECK(s->last_seq(entity_kind::ticket, "never") == 0);
    CHECK(replay(*s, entity_kind::ticket, "t1", 1) == std::vector<ev>{{1, "a"}, {2, "b"}, {3, "c"}});
    CHECK(replay(*s, entity_kind::ticket, "t", 1) == std::vector<ev>{{1, "p"}});
    CHECK(log_from(*s, 1) == std::vector<ev>{{1, "a"}, {2, "b"}, {3, "p"}, {4, "r"}, {5, "c"}});
    auto snap = s->load_snapshot(entity_kind::ticket, "t1");
    REQUIRE(snap.has_value());
    CHECK(snap->seq == 3);
    CHECK(snap->bytes == "SNAP@3");
    auto idx = s->scan_index("idx-", "", 10);
    REQUIRE(idx.size() == 1);
    CHECK(idx[0].second == "idx-v");
    auto due = s->due_timers(5000, 10);
    REQUIRE(due.size() == 1);
    CHECK(due[0].payload == "payload");
    // Optimistic concurrency after a reopen reads the stored position.
    CHECK(append(*s, entity_kind::ticket, "t1", 2, {"stale"}).code == errc::conflict);
    auto r = append(*s, entity_kind::ticket, "t1", 3, {"d"});
    CHECK(r.code == errc::ok);
    CHECK(r.last_seq == 4);
    CHECK(r.first_offset == 6);
    CHECK(s->next_offset() == 7);
  }
  // And once more: offsets keep counting, nothing is lost or duplicated.
  auto s = unit::open_store(dir.str());
  CHECK(s->next_offset() == 7);
  CHECK(log_from(*s, 6) == std::vector<ev>{{6, "d"}});
  CHECK(replay(*s, entity_kind::ticket, "t1", 1).size() == 4);
}

TEST_CASE("event store: snapshots are written by append_batch, only with their events") {
  unit::temp_dir dir;
  auto s = unit::open_store(dir.str());
  CHECK_FALSE(s->load_snapshot(entity_kind::ticket, "t1").has_value());

  run(*s, {{entity_kind::ticket, "t1", 0, {"e1", "e2"}, std::string("S\0" "2", 3), 2, {}}});
  auto snap = s->load_snapshot(entity_kind::ticket, "t1");
  REQUIRE(snap.has_value());
  CHECK(snap->seq == 2);
  CHECK(snap->bytes == std::string("S\0" "2", 3));
  // Neither a prefix id nor another kind sees it.
  CHECK_FALSE(s->load_snapshot(entity_kind::ticket, "t").has_value());
  CHECK_FALSE(s->load_snapshot(entity_kind::account, "t1").has_value());

  // A newer snapshot replaces the older one.
  run(*s, {{entity_kind::ticket, "t1", 2, {"e3", "e4"}, "S4", 4, {}}});
  CHECK(s->load_snapshot(entity_kind::ticket, "t1")->seq == 4);
  CHECK(s->load_snapshot(entity_kind::ticket, "t1")->bytes == "S4");
  // A conflicting request writes neither its snapshot nor its index entries.
  run(*s, {{entity_kind::ticket, "t1", 1, {"x"}, "BAD", 2, {"bad-key", "v"}}});
  CHECK(s->load_snapshot(entity_kind::ticket, "t1")->bytes == "S4");
  CHECK(s->scan_index("bad", "", 10).empty());
  // A snapshot claiming a seq past the events it comes with is ignored.
  run(*s, {{entity_kind::ticket, "t1", 4, {"e5"}, "S9", 9, {}}});
  CHECK(s->load_snapshot(entity_kind::ticket, "t1")->bytes == "S4");
  CHECK(s->last_seq(entity_kind::ticket, "t1") == 5);
}

TEST_CASE("event store: durable timers are due in order, replaced and deleted") {
  unit::temp_dir dir;
  auto s = unit::open_store(dir.str());
  CHECK(s->due_timers(INT64_MAX, 10).empty());
  CHECK(s->put_timer({3000, entity_kind::trade, "tr1", "expiry", "p1"}) == errc::ok);
  CHECK(s->put_timer({1000, entity_kind::trade, "tr2", "commit", "p2"}) == errc::ok);
  CHECK(s->put_timer({2000, entity_kind::escrow, "es1", "release", "p3"}) == errc::ok);
  CHECK(s->put_timer({1000, entity_kind::trade, "tr1", "remind", "p4"}) == errc::ok);

  CHECK(s->due_timers(999, 10).empty());
  auto due = s->due_timers(2000, 10);
  REQUIRE(due.size() == 3);
  // Earliest first; ties in key order (kind, id, name).
  CHECK(due[0].due_ms == 1000);
  CHECK(due[0].entity_id == "tr1");
  CHECK(due[0].name == "remind");
  CHECK(due[1].entity_id == "tr2");
  CHECK(due[1].name == "commit");
  CHECK(due[1].kind == entity_kind::trade);
  CHECK(due[1].payload == "p2");
  CHECK(due[2].due_ms == 2000);
  CHECK(due[2].kind == entity_kind::escrow);
  CHECK(due[2].entity_id == "es1");
  CHECK(due[2].name == "release");
  CHECK(s->due_timers(2000, 1).size() == 1);

  // Rescheduling the same (kind, id, name) replaces the old schedule.
  CHECK(s->put_timer({500, entity_kind::trade, "tr1", "expiry", "p1-new"}) == errc::ok);
  due = s->due_timers(600, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].payload == "p1-new");
  CHECK(s->due_timers(INT64_MAX, 10).size() == 4);  // not 5: the 3000 entry is gone
  CHECK(s->put_timer({9000, entity_kind::trade, "tr1", "expiry", "p1-later"}) == errc::ok);
  CHECK(s->due_timers(8999, 10).size() == 3);

  CHECK(s->delete_timer(entity_kind::trade, "tr2", "commit") == errc::ok);
  CHECK(s->delete_timer(entity_kind::trade, "tr2", "commit") == errc::ok);  // idempotent
  CHECK(s->delete_timer(entity_kind::trade, "nope", "x") == errc::ok);
  due = s->due_timers(INT64_MAX, 10);
  REQUIRE(due.size() == 3);
  std::map<std::string, std::string> by_name;
  for (const auto& t : due)
    by_name[t.entity_id + "/" + t.name] = t.payload;
  CHECK(by_name == std::map<std::string, std::string>{
                     {"tr1/remind", "p4"}, {"es1/release", "p3"}, {"tr1/expiry", "p1-later"}});
  // A deleted timer can be scheduled again.
  CHECK(s->put_timer({100, entity_kind::trade, "tr2", "commit", "again"}) == errc::ok);
  CHECK(s->due_timers(100, 10).at(0).payload == "again");
}

TEST_CASE("event store: key helpers order sequence numbers numerically") {
  auto k1 = event_key(entity_kind::ticket, "id", 255);
  auto k2 = event_key(entity_kind::ticket, "id", 256);
  auto k3 = event_key(entity_kind::ticket, "id", 1ull << 40);
  CHECK(k1 < k2);
  CHECK(k2 < k3);
  CHECK(k1.size() == entity_prefix(entity_kind::ticket, "id").size() + 8);
  CHECK(k1.compare(0, 4, entity_prefix(entity_kind::ticket, "id")) == 0);
  CHECK(entity_prefix(entity_kind::ticket, "id") != entity_prefix(entity_kind::account, "id"));
}

TEST_CASE("event store: a shard's entries export, import elsewhere and drop (shard hand-off)") {
  unit::temp_dir da, db;
  auto a = unit::open_store(da.str());
  auto b = unit::open_store(db.str());
  // Entities on several shards; pick the shard of the first one.
  std::vector<std::string> ids;
  for (int i = 0; i < 40; ++i)
    ids.push_back("shard-entity-" + std::to_string(i));
  using namespace std::string_literals;
  auto owner_row = [](const std::string& id) { return "owner\0acct\0"s + id; };
  for (auto& id : ids) {
    // Each ticket writes its owner-list row (part of its shard).
    REQUIRE(run(*a, {req_data{entity_kind::ticket, id, 0, {"e1-" + id, "e2-" + id}, {}, 0,
                              {owner_row(id), "listed"}}})
              .at(0)
              .code
            == errc::ok);
    REQUIRE(a->put_timer(due_timer{1000, entity_kind::trade, id, "wake", "p"}) == errc::ok);
  }
  // A node-local row (a consumer's offset) belongs to no shard.
  REQUIRE(run(*a, {req_data{entity_kind::unknown, "consumer-x", 0, {}, {}, 0,
                            {"consumer\0"s + ids[0], "7"}}})
            .at(0)
            .code
          == errc::ok);
  auto shard = shard_of(ids[0]);
  std::vector<std::string> triples;
  size_t events = 0;
  REQUIRE(a->export_shard(shard, [&](uint8_t cf, std::string_view k, std::string_view v) {
    triples.emplace_back(1, static_cast<char>(cf));
    triples.emplace_back(k);
    triples.emplace_back(v);
    events += 1;
    return true;
  }));
  size_t in_shard = 0;
  for (auto& id : ids)
    in_shard += shard_of(id) == shard;
  // two events, one timer, one timer index entry, one owner row each
  CHECK(events == in_shard * (2 + 2 + 1));
  CHECK(b->last_seq(entity_kind::ticket, ids[0]) == 0);
  // Entries of another shard are refused as a whole: nothing is written.
  auto other = ids[0];
  for (auto& id : ids)
    if (shard_of(id) != shard)
      other = id;
  REQUIRE(shard_of(other) != shard);
  auto foreign = triples;
  foreign.insert(foreign.end(), {triples[0], entity_prefix(entity_kind::ticket, other) + std::string(8, '\1'), "x"});
  CHECK(b->import_raw(shard, foreign) == errc::invalid_argument);
  CHECK(b->import_raw(shard_of(other), triples) == errc::invalid_argument);
  CHECK(b->last_seq(entity_kind::ticket, ids[0]) == 0);
  CHECK(b->scan_index("owner\0acct\0"s, {}, 1000).empty());
  // Something an earlier interrupted move left on b: a stale timer and row.
  std::string stale_id;
  for (int i = 0; stale_id.empty(); ++i)
    if (auto id = "stale-" + std::to_string(i); shard_of(id) == shard)
      stale_id = id;
  REQUIRE(b->put_timer(due_timer{500, entity_kind::trade, stale_id, "wake", "old"}) == errc::ok);
  REQUIRE(run(*b, {req_data{entity_kind::ticket, stale_id, 0, {"s1"}, {}, 0,
                            {owner_row(stale_id), "listed"}}})
            .at(0)
            .code
          == errc::ok);
  REQUIRE(b->import_raw(shard, triples, /*purge=*/true) == errc::ok);
  // The purge took the stale timer and row (not the stale events).
  CHECK(b->due_timers(2000, 1000).size() == in_shard);
  CHECK(b->scan_index("owner\0acct\0"s, {}, 1000).size() == in_shard);
  CHECK(b->last_seq(entity_kind::ticket, stale_id) == 1);
  for (auto& id : ids) {
    CAPTURE(id);
    if (shard_of(id) != shard) {
      CHECK(b->last_seq(entity_kind::ticket, id) == 0);
      continue;
    }
    CHECK(b->last_seq(entity_kind::ticket, id) == 2);
    CHECK(replay(*b, entity_kind::ticket, id, 1) == replay(*a, entity_kind::ticket, id, 1));
    // The imported stream continues with optimistic concurrency intact.
    CHECK(append(*b, entity_kind::ticket, id, 1, {"stale"}).code == errc::conflict);
    CHECK(append(*b, entity_kind::ticket, id, 2, {"e3"}).code == errc::ok);
  }
  CHECK(b->due_timers(2000, 1000).size() == in_shard);
  CHECK(b->next_offset() > 1);  // only the appends above, not the import, reached b's log
  // Malformed input writes nothing.
  CHECK(b->import_raw(shard, std::vector<std::string>{"x", "y"}) == errc::invalid_argument);
  CHECK(b->import_raw(shard, std::vector<std::string>{std::string(1, '\x09'), "k", "v"})
        == errc::invalid_argument);
  CHECK(b->import_raw(shard_count, {}) == errc::invalid_argument);
  // Filters: timers and rows of the shard only.
  auto in = [&](std::string_view id) { return shard_of(id) == shard; };
  CHECK(a->due_timers(2000, 1000, in).size() == in_shard);
  CHECK(a->due_timers(2000, 1, [&](std::string_view id) { return !in(id); }).size() == 1);
  CHECK(a->scan_index("owner\0acct\0"s, {}, 1000, in).size() == in_shard);
  // The old owner drops the shard's timers and rows; its events stay readable
  // through the global log (which points at them); other shards and the
  // node's own rows are untouched.
  CHECK(a->drop_shard(shard) == in_shard * 3);
  for (auto& id : ids)
    CHECK(a->last_seq(entity_kind::ticket, id) == 2u);
  CHECK(a->due_timers(2000, 1000).size() == ids.size() - in_shard);
  CHECK(a->scan_index("owner\0acct\0"s, {}, 1000).size() == ids.size() - in_shard);
  CHECK(a->scan_index("consumer\0"s, {}, 10).size() == 1);
  size_t logged = a->read_log(1, 1000, [](uint64_t, std::string_view) { return true; });
  CHECK(logged == ids.size() * 2);
}
