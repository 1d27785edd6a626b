// The group-commit journal: acks only after the batch holding the events is
// written, many concurrent appends share batches, conflicts are typed errors.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "common.hpp"
#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"

using namespace tt;
using namespace std::chrono_literals;

namespace {

void append_next(caf::event_based_actor* self, journal_actor journal,
                 std::shared_ptr<persistence::event_store> store, std::string id, uint64_t seq,
                 uint64_t last, std::atomic<int>& acked, std::atomic<int>& visible_at_ack,
                 std::atomic<int>& failures) {
  if (seq == last)
    return;
  append_events cmd{1, id, seq, {std::string(200, 'x')}, {}, 0, {}};
  self->request(journal, 10s, std::move(cmd))
    .then(
      [=, &acked, &visible_at_ack, &failures](const append_ack& ack) {
        // The ack means the batch is written: the event is readable now.
        if (store->last_seq(entity_kind::ticket, id) >= ack.last_seq)
          ++visible_at_ack;
        ++acked;
        append_next(self, journal, store, id, ack.last_seq, last, acked, visible_at_ack, failures);
      },
      [&failures](caf::error&) { ++failures; });
}

} // namespace

TEST_CASE("the journal acks after the write and batches concurrent appends") {
  test::temp_dir dir;
  std::string err;
  std::shared_ptr<persistence::event_store> store
    = persistence::event_store::open({dir.str()}, &err);
  REQUIRE(store);
  test::test_config cfg;
  caf::actor_system sys{cfg};
  std::atomic<uint64_t> committed_end{0};
  persistence::journal_config jc;
  jc.on_commit = [&](uint64_t next) { committed_end = next; };
  auto journal = persistence::spawn_journal(sys, store, jc, nullptr);

  constexpr int entities = 200;
  constexpr int appends_each = 5;
  std::atomic<int> acked{0};
  std::atomic<int> visible_at_ack{0};
  std::atomic<int> failures{0};
  // Each "entity" appends one event at a time, like a real entity.
  for (int e = 0; e < entities; ++e) {
    sys.spawn([&, e](caf::event_based_actor* self) {
      append_next(self, journal, store, "ent-" + std::to_string(e), 0, appends_each, acked,
                  visible_at_ack, failures);
    });
  }
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (acked + failures < entities * appends_each && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(1ms);
  CHECK(failures == 0);
  CHECK(acked == entities * appends_each);
  CHECK(visible_at_ack == entities * appends_each);
  caf::scoped_actor self{sys};
  journal_stats stats;
  self->request(journal, 5s, atoms::stats_atom_v).receive([&](journal_stats& s) { stats = s; },
                                                           [](caf::error&) { FAIL("no stats"); });
  CHECK(stats.events == entities * appends_each);
  CHECK(stats.batches < stats.events / 4);  // group commit shares fsyncs
  MESSAGE("events " << stats.events << " in " << stats.batches << " batches");
  CHECK(stats.next_offset == entities * appends_each + 1);
  CHECK(committed_end == stats.next_offset);

  // Conflicts are typed errors and write nothing.
  append_events stale{1, "ent-0", 0, {"dup"}, {}, 0, {}};
  bool conflicted = false;
  self->request(journal, 5s, stale).receive([](append_ack&) {},
                                            [&](caf::error& e) {
                                              conflicted = describe(e).code == errc::conflict;
                                            });
  CHECK(conflicted);
  CHECK(store->last_seq(entity_kind::ticket, "ent-0") == appends_each);
  self->send_exit(journal, caf::exit_reason::user_shutdown);
}
