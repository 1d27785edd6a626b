// The group-commit journal actor: every append is acknowledged only after the
// batch holding it is written (the store already shows it when the ack
// arrives), concurrent appends share batches, conflicts are typed errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "support.hpp"

using namespace tt;
using namespace std::chrono_literals;

namespace {

struct journal_fixture {
  unit::temp_dir dir;
  std::shared_ptr<persistence::event_store> store = unit::open_store(dir.str());
  unit::test_config cfg;
  std::unique_ptr<caf::actor_system> sys = std::make_unique<caf::actor_system>(cfg);
  std::atomic<uint64_t> committed_end{0};
  std::atomic<int> commits{0};
  journal_actor journal;

  explicit journal_fixture(persistence::journal_config jc = {}) {
    jc.on_commit = [this](uint64_t next) {
      committed_end = next;
      ++commits;
    };
    journal = persistence::spawn_journal(*sys, store, jc, nullptr);
  }

  ~journal_fixture() {
    caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
    journal = nullptr;
    sys.reset();  // waits for every actor
    store->close();
  }

  journal_stats stats() {
    caf::scoped_actor self{*sys};
    journal_stats out;
    self->request(journal, 5s, atoms::stats_atom_v)
      .receive([&](journal_stats& s) { out = s; },
               [](caf::error& e) { FAIL("stats failed: " << caf::to_string(e)); });
    return out;
  }

  caf::expected<append_ack> append(append_events cmd) {
    caf::scoped_actor self{*sys};
    caf::expected<append_ack> out{caf::error{}};
    self->request(journal, 5s, std::move(cmd))
      .receive([&](append_ack& a) { out = a; }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }
};

append_events one_event(const std::string& id, uint64_t expected, std::string payload) {
  append_events cmd;
  cmd.kind = static_cast<uint8_t>(entity_kind::ticket);
  cmd.entity_id = id;
  cmd.expected_seq = expected;
  cmd.events = {std::move(payload)};
  return cmd;
}

std::string writer_id(int w) {
  std::string id = "w";
  id += std::to_string(w);
  return id;
}

struct tally {
  std::atomic<int> acked{0};
  std::atomic<int> failed{0};
  std::atomic<int> visible_at_ack{0};  // store already at ack.last_seq when the ack arrived
  std::mutex mx;
  std::vector<uint64_t> offsets;
  std::string first_failure;
};

} // namespace

TEST_CASE("journal: a single append is durable and readable when acked") {
  journal_fixture f;
  auto ack = f.append(one_event("solo", 0, "payload-1"));
  REQUIRE(ack);
  CHECK(ack->last_seq == 1);
  CHECK(ack->first_offset == 1);
  CHECK(f.store->last_seq(entity_kind::ticket, "solo") == 1);
  std::string got;
  f.store->read_events(entity_kind::ticket, "solo", 1, [&](uint64_t, std::string_view b) {
    got = b;
    return true;
  });
  CHECK(got == "payload-1");

  append_events multi;
  multi.kind = static_cast<uint8_t>(entity_kind::ticket);
  multi.entity_id = "solo";
  multi.expected_seq = 1;
  multi.events = {"p2", "p3", "p4"};
  multi.snapshot = "snap-at-4";
  multi.snapshot_seq = 4;
  multi.index_writes = {"owner-key", "listed"};
  ack = f.append(multi);
  REQUIRE(ack);
  CHECK(ack->last_seq == 4);
  CHECK(ack->first_offset == 2);
  auto snap = f.store->load_snapshot(entity_kind::ticket, "solo");
  REQUIRE(snap.has_value());
  CHECK(snap->seq == 4);
  CHECK(snap->bytes == "snap-at-4");
  CHECK(f.store->scan_index("owner-", "", 10).size() == 1);
  // on_commit reports the new end of the log (it runs right after the acks
  // of its batch are sent, so it may trail the ack by a moment).
  CHECK(unit::wait_until([&] { return f.committed_end.load() == 5; }, 2s));
  CHECK(f.commits.load() == 2);
}

TEST_CASE("journal: concurrent appends from many actors are acked only after the write") {
  journal_fixture f;
  constexpr int writers = 40;
  constexpr int per_writer = 5;
  tally t;
  // Each spawned actor behaves like an entity: one append in flight, the next
  // only after the ack. In the ack handler the store must already hold it.
  std::function<void(caf::event_based_actor*, std::string, uint64_t)> next;
  next = [&](caf::event_based_actor* self, std::string id, uint64_t seq) {
    if (seq == per_writer)
      return;
    self->request(f.journal, 10s, one_event(id, seq, id + "#" + std::to_string(seq + 1)))
      .then(
        [&, self, id](const append_ack& ack) {
          if (f.store->last_seq(entity_kind::ticket, id) == ack.last_seq)
            ++t.visible_at_ack;
          {
            std::lock_guard<std::mutex> guard{t.mx};
            t.offsets.push_back(ack.first_offset);
          }
          ++t.acked;
          next(self, id, ack.last_seq);
        },
        [&](caf::error& e) {
          std::lock_guard<std::mutex> guard{t.mx};
          if (t.first_failure.empty())
            t.first_failure = caf::to_string(e);
          ++t.failed;
        });
  };
  for (int w = 0; w < writers; ++w)
    f.sys->spawn([&, w](caf::event_based_actor* self) { next(self, writer_id(w), 0); });

  // Meanwhile several scoped actors on their own threads append synchronously.
  constexpr int threads = 3;
  constexpr int per_thread = 10;
  std::vector<std::thread> pool;
  for (int th = 0; th < threads; ++th) {
    pool.emplace_back([&, th] {
      caf::scoped_actor self{*f.sys};
      std::string id = "thread-" + std::to_string(th);
      uint64_t seq = 0;
      for (int i = 0; i < per_thread; ++i) {
        self->request(f.journal, 10s, one_event(id, seq, "t"))
          .receive(
            [&](append_ack& ack) {
              if (f.store->last_seq(entity_kind::ticket, id) == ack.last_seq)
                ++t.visible_at_ack;
              {
                std::lock_guard<std::mutex> guard{t.mx};
                t.offsets.push_back(ack.first_offset);
              }
              seq = ack.last_seq;
              ++t.acked;
            },
            [&](caf::error& e) {
              std::lock_guard<std::mutex> guard{t.mx};
              if (t.first_failure.empty())
                t.first_failure = caf::to_string(e);
              ++t.failed;
            });
      }
    });
  }
  for (auto& th : pool)
    th.join();
  constexpr int total = writers * per_writer + threads * per_thread;
  CHECK(unit::wait_until([&] { return t.acked + t.failed == total; }, 20s));
  CHECK_MESSAGE(t.failed == 0, t.first_failure);
  CHECK(t.acked == total);
  CHECK(t.visible_at_ack == total);

  // Every event got its own offset: 1..total, no gaps, no duplicates.
  std::sort(t.offsets.begin(), t.offsets.end());
  REQUIRE(t.offsets.size() == static_cast<size_t>(total));
  for (int i = 0; i < total; ++i)
    CHECK(t.offsets[i] == static_cast<uint64_t>(i + 1));
  for (int w = 0; w < writers; ++w)
    CHECK(f.store->last_seq(entity_kind::ticket, writer_id(w)) == per_writer);
  std::vector<std::string> w0;
  f.store->read_events(entity_kind::ticket, "w0", 1, [&](uint64_t, std::string_view b) {
    w0.emplace_back(b);
    return true;
  });
  CHECK(w0 == std::vector<std::string>{"w0#1", "w0#2", "w0#3", "w0#4", "w0#5"});

  auto st = f.stats();
  CHECK(st.events == static_cast<uint64_t>(total));
  CHECK(st.next_offset == static_cast<uint64_t>(total) + 1);
  CHECK(st.conflicts == 0);
  CHECK(st.batches >= 1);
  CHECK(st.batches < st.events);
  CHECK(f.committed_end.load() == st.next_offset);  // stats are answered after on_commit
  MESSAGE("journal: " << st.events << " events in " << st.batches << " batches");
}

TEST_CASE("journal: appends in flight at once share batches") {
  journal_fixture f;
  constexpr int n = 300;
  // All requests are in the journal's mailbox before it can finish the first
  // fsync: far fewer batches than appends.
  tally t;
  f.sys->spawn([&](caf::event_based_actor* a) {
    for (int i = 0; i < n; ++i) {
      auto id = "burst-" + std::to_string(i);
      a->request(f.journal, 10s, one_event(id, 0, "b"))
        .then(
          [&, id](const append_ack& ack) {
            if (f.store->last_seq(entity_kind::ticket, id) == ack.last_seq)
              ++t.visible_at_ack;
            ++t.acked;
          },
          [&](caf::error&) { ++t.failed; });
    }
  });
  CHECK(unit::wait_until([&] { return t.acked + t.failed == n; }, 20s));
  CHECK(t.failed == 0);
  CHECK(t.visible_at_ack == n);
  auto st = f.stats();
  CHECK(st.events == static_cast<uint64_t>(n));
  CHECK(st.batches < static_cast<uint64_t>(n) / 2);
  MESSAGE("burst: " << n << " appends in " << st.batches << " batches");
}

TEST_CASE("journal: max_batch_events bounds a batch") {
  persistence::journal_config jc;
  jc.max_batch_events = 4;
  journal_fixture f{jc};
  tally t;
  constexpr int n = 40;
  f.sys->spawn([&](caf::event_based_actor* a) {
    for (int i = 0; i < n; ++i)
      a->request(f.journal, 10s, one_event("cap-" + std::to_string(i), 0, "c"))
        .then([&](const append_ack&) { ++t.acked; }, [&](caf::error&) { ++t.failed; });
  });
  CHECK(unit::wait_until([&] { return t.acked + t.failed == n; }, 20s));
  CHECK(t.acked == n);
  auto st = f.stats();
  CHECK(st.events == static_cast<uint64_t>(n));
  CHECK(st.batches >= static_cast<uint64_t>(n) / 4);
}

TEST_CASE("journal: a stale expected_seq is errc::conflict; others in flight still succeed") {
  journal_fixture f;
  REQUIRE(f.append(one_event("c1", 0, "first")));

  auto stale = f.append(one_event("c1", 0, "second"));
  REQUIRE_FALSE(stale);
  auto info = describe(stale.error());
  CHECK(info.code == errc::conflict);
  CHECK(info.message.find("stream is at 1") != std::string::npos);
  auto gap = f.append(one_event("c1", 5, "gap"));
  REQUIRE_FALSE(gap);
  CHECK(describe(gap.error()).code == errc::conflict);
  CHECK(f.store->last_seq(entity_kind::ticket, "c1") == 1);

  // A conflicting and a valid append sent back to back: the conflict does
  // not take the other one down.
  tally t;
  std::atomic<int> conflicts{0};
  f.sys->spawn([&](caf::event_based_actor* a) {
    a->request(f.journal, 10s, one_event("c1", 0, "stale-again"))
      .then([&](const append_ack&) { ++t.acked; },
            [&](caf::error& e) {
              if (describe(e).code == errc::conflict)
                ++conflicts;
              ++t.failed;
            });
    a->request(f.journal, 10s, one_event("c1", 1, "valid"))
      .then([&](const append_ack& ack) { t.acked += ack.last_seq == 2 ? 1 : 100; },
            [&](caf::error&) { ++t.failed; });
    a->request(f.journal, 10s, one_event("c2", 0, "other"))
      .then([&](const append_ack&) { ++t.acked; }, [&](caf::error&) { ++t.failed; });
  });
  CHECK(unit::wait_until([&] { return t.acked + t.failed == 3; }, 10s));
  CHECK(t.acked == 2);
  CHECK(conflicts == 1);
  CHECK(f.store->last_seq(entity_kind::ticket, "c1") == 2);
  CHECK(f.store->last_seq(entity_kind::ticket, "c2") == 1);
  auto st = f.stats();
  CHECK(st.conflicts == 3);
  CHECK(st.events == 3);
}
