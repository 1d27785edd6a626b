// Ticket entities behind the shard region, in a real actor system over a real
// store and journal: commands, dedup, passivation and recovery (snapshot +
// replay), failure restart, a full restart over the same store, not_found.
#include <doctest/doctest.h>

#include <atomic>
#include <future>
#include <map>

#include "actors/persistent_entity.hpp"
#include "actors/shard_region.hpp"
#include "actors/ticket_model.hpp"
#include "actors/wallet_model.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/actor_system.hpp"
#include "caf/scoped_actor.hpp"
#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "persistence/node_keys.hpp"
#include "support.hpp"

using namespace tt;
using namespace std::chrono_literals;

namespace {

/// One node: store, journal and ticket region in their own actor system.
/// Destroying it shuts the actors down, tears the system down and closes the
/// store, as a process exit would.
struct node {
  std::shared_ptr<persistence::event_store> store;
  std::shared_ptr<persistence::node_keys> keys = persistence::node_keys::from_secret("region-test");
  unit::test_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  journal_actor journal;
  ticket_region_actor region;

  node(const std::string& dir, uint32_t snapshot_every,
       std::chrono::milliseconds idle = 50ms, std::chrono::milliseconds sweep = 10ms) {
    store = unit::open_store(dir);
    sys = std::make_unique<caf::actor_system>(cfg);
    journal = persistence::spawn_journal(*sys, store, {}, nullptr);
    actors::entity_env env;
    env.store = store;
    env.journal = journal;
    env.keys = keys;
    env.snapshot_every = snapshot_every;
    env.append_timeout = 5s;
    actors::region_config rc;
    rc.idle_timeout = idle;
    rc.sweep_interval = sweep;
    region = actors::spawn_ticket_region(*sys, env, rc, nullptr);
  }

  ~node() {
    caf::anon_send_exit(region, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
    region = nullptr;
    journal = nullptr;
    sys.reset();
    store->close();
  }

  template <class Cmd>
  caf::expected<ticket_view> ask(Cmd cmd) {
    caf::scoped_actor self{*sys};
    caf::expected<ticket_view> out{make_error(errc::timeout, "no answer")};
    self->request(region, 5s, std::move(cmd))
      .receive([&](ticket_view& v) { out = std::move(v); },
               [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  region_stats stats() {
    caf::scoped_actor self{*sys};
    region_stats out;
    self->request(region, 5s, atoms::stats_atom_v)
      .receive([&](region_stats& s) { out = s; },
               [](caf::error& e) { FAIL("stats: " << caf::to_string(e)); });
    return out;
  }

  bool wait_passivated(uint64_t at_least) {
    return unit::wait_until([&] { return stats().passivated >= at_least; }, 3s);
  }
};

ticket_patch price(int64_t p) {
  ticket_patch x;
  x.has_price = true;
  x.price_minor = p;
  return x;
}

errc code_of(const caf::expected<ticket_view>& x) {
  return x ? errc::ok : describe(x.error()).code;
}

void check_same_view(const ticket_view& a, const ticket_view& b) {
  CHECK(a.id == b.id);
  CHECK(a.fields == b.fields);
  CHECK(a.status == b.status);
  CHECK(a.seller == b.seller);
  CHECK(a.barcode_hash == b.barcode_hash);
  CHECK(a.created_at_ms == b.created_at_ms);
  CHECK(a.updated_at_ms == b.updated_at_ms);
  CHECK(a.version == b.version);
}

/// Replays the whole stream (no snapshot) through the model.
actors::ticket_model full_replay(const persistence::event_store& store, const std::string& id,
                                 uint64_t* last = nullptr) {
  actors::ticket_model m;
  m.id = id;
  uint64_t seq = 0;
  store.read_events(entity_kind::ticket, id, 1, [&](uint64_t s, std::string_view bytes) {
    auto ev = decode_event(bytes);
    REQUIRE(ev.has_value());
    CHECK(ev->seq == s);
    CHECK(ev->entity_id == id);
    m.apply(*ev);
    seq = s;
    return true;
  });
  if (last)
    *last = seq;
  return m;
}

} // namespace

TEST_CASE("region: list, get, update, withdraw; listing again is a dedup hit") {
  unit::temp_dir dir;
  node n{dir.str(), 64, 10s, 1s};
  auto cmd = unit::make_listing(*n.keys, "alice", 1);
  auto v = n.ask(cmd);
  REQUIRE_MESSAGE(v, to_string(code_of(v)));
  CHECK(v->created);
  CHECK(v->id == cmd.ticket_id);
  CHECK(v->version == 1);
  CHECK(v->seller == "alice");
  CHECK(v->fields == cmd.fields);
  CHECK(v->status == static_cast<uint8_t>(ticket_status::listed));
  CHECK(v->barcode_hash == n.keys->keyed_hash("barcode", cmd.barcode));
  CHECK(v->created_at_ms > 0);
  CHECK(n.store->last_seq(entity_kind::ticket, cmd.ticket_id) == 1);

  auto again = n.ask(cmd);
  REQUIRE(again);
  CHECK_FALSE(again->created);
  CHECK(again->id == cmd.ticket_id);
  CHECK(again->version == 1);
  CHECK(n.store->last_seq(entity_kind::ticket, cmd.ticket_id) == 1);  // nothing written

  auto g = n.ask(get_ticket{cmd.ticket_id});
  REQUIRE(g);
  CHECK_FALSE(g->created);
  check_same_view(*g, *v);

  auto u = n.ask(update_ticket{cmd.ticket_id, price(25000), unit::as_user("alice")});
  REQUIRE(u);
  CHECK_FALSE(u->created);
  CHECK(u->version == 2);
  CHECK(u->fields.price_minor == 25000);
  CHECK(u->updated_at_ms >= v->updated_at_ms);
  CHECK(n.ask(get_ticket{cmd.ticket_id})->fields.price_minor == 25000);

  // Errors pass through the region unchanged and leave the ticket alone.
  auto forbidden = n.ask(update_ticket{cmd.ticket_id, price(1), unit::as_user("bob")});
  CHECK(code_of(forbidden) == errc::forbidden);
  auto empty = n.ask(update_ticket{cmd.ticket_id, ticket_patch{}, unit::as_user("alice")});
  CHECK(code_of(empty) == errc::invalid_argument);
  auto negative = n.ask(update_ticket{cmd.ticket_id, price(-1), unit::as_user("alice")});
  REQUIRE(code_of(negative) == errc::invalid_argument);
  CHECK(describe(negative.error()).field == "price_minor");

  auto w = n.ask(withdraw_ticket{cmd.ticket_id, "sold", unit::as_user("alice")});
  REQUIRE(w);
  CHECK(w->status == static_cast<uint8_t>(ticket_status::withdrawn));
  CHECK(w->version == 3);
  auto w2 = n.ask(withdraw_ticket{cmd.ticket_id, "sold", unit::as_user("alice")});
  REQUIRE(w2);
  CHECK(w2->version == 3);  // idempotent: no new event
  CHECK(code_of(n.ask(update_ticket{cmd.ticket_id, price(5), unit::as_user("alice")}))
        == errc::invalid_state);
  CHECK(n.store->last_seq(entity_kind::ticket, cmd.ticket_id) == 3);

  // A forged id never creates anything.
  auto forged = cmd;
  forged.ticket_id = persistence::random_id();
  CHECK(code_of(n.ask(forged)) == errc::invalid_argument);
  CHECK(n.store->last_seq(entity_kind::ticket, forged.ticket_id) == 0);
}

TEST_CASE("region: many ticket entities answer concurrently, each for itself") {
  // Ticket entities share one behavior and find their actor per thread
  // (actors/resumed.hpp): with two scheduler threads and many requests in
  // flight, every answer must come from the ticket it was asked of.
  unit::temp_dir dir;
  node n{dir.str(), 64, 10s, 1s};
  std::vector<list_ticket> listed;
  caf::scoped_actor self{*n.sys};
  for (int i = 0; i < 64; ++i)
    listed.push_back(unit::make_listing(*n.keys, "seller" + std::to_string(i % 5), i + 1));
  for (auto& cmd : listed)
    self->request(n.region, 5s, cmd).receive([](ticket_view&) {},
                                             [](caf::error& e) { FAIL(caf::to_string(e)); });
  for (size_t i = 0; i < listed.size(); ++i) {
    update_ticket up{listed[i].ticket_id, price(1000 + static_cast<int64_t>(i)),
                     unit::as_user(listed[i].meta.user_id)};
    self->request(n.region, 5s, up).receive([](ticket_view&) {},
                                            [](caf::error& e) { FAIL(caf::to_string(e)); });
  }
  // 8 rounds of every ticket at once from an event-based driver, answers in
  // any order.
  std::map<std::string, int64_t> expected;
  for (size_t i = 0; i < listed.size(); ++i)
    expected[listed[i].ticket_id] = 1000 + static_cast<int64_t>(i);
  std::atomic<size_t> answers{0}, wrong{0}, errors{0};
  std::promise<void> done;
  auto total = listed.size() * 8;
  n.sys->spawn([&](caf::event_based_actor* driver) {
    for (int round = 0; round < 8; ++round)
      for (auto& cmd : listed)
        driver->request(n.region, 5s, get_ticket{cmd.ticket_id})
          .then(
            [&, asked = cmd.ticket_id](ticket_view& v) {
              if (v.id != asked || v.fields.price_minor != expected.at(asked))
                ++wrong;
              if (++answers == total)
                done.set_value();
            },
            [&](caf::error&) {
              ++errors;
              if (++answers == total)
                done.set_value();
            });
  });
  REQUIRE(done.get_future().wait_for(10s) == std::future_status::ready);
  CHECK(wrong == 0);
  CHECK(errors == 0);
  CHECK(answers == total);
}

TEST_CASE("region: unknown or malformed ids are not_found without starting an entity") {
  unit::temp_dir dir;
  node n{dir.str(), 64};
  auto before = n.stats();
  auto missing = n.ask(get_ticket{persistence::random_id()});
  REQUIRE_FALSE(missing);
  CHECK(describe(missing.error()).code == errc::not_found);
  CHECK(code_of(n.ask(get_ticket{"not-a-valid-id"})) == errc::not_found);
  CHECK(code_of(n.ask(get_ticket{""})) == errc::not_found);
  CHECK(code_of(n.ask(update_ticket{persistence::random_id(), price(1), unit::as_user("a")}))
        == errc::not_found);
  CHECK(code_of(n.ask(withdraw_ticket{persistence::random_id(), "", unit::as_user("a")}))
        == errc::not_found);
  CHECK(n.stats().started == before.started);
  // A listing with a malformed id is refused too.
  auto cmd = unit::make_listing(*n.keys, "alice", 2);
  cmd.ticket_id = "short";
  CHECK(code_of(n.ask(cmd)) == errc::not_found);
}

TEST_CASE("region: passivated entities come back with their latest state") {
  unit::temp_dir dir;
  node n{dir.str(), 64};
  auto cmd = unit::make_listing(*n.keys, "alice", 3);
  REQUIRE(n.ask(cmd));
  auto u = n.ask(update_ticket{cmd.ticket_id, price(31000), unit::as_user("alice")});
  REQUIRE(u);
  auto started = n.stats().started;
  CHECK(started >= 1);

  REQUIRE(n.wait_passivated(1));
  CHECK(n.stats().active_entities == 0);
  auto g = n.ask(get_ticket{cmd.ticket_id});
  REQUIRE(g);
  check_same_view(*g, *u);
  CHECK(g->fields.price_minor == 31000);
  CHECK(n.stats().started > started);  // a new actor recovered it from the journal

  // Commands keep working across further passivations; versions continue.
  REQUIRE(n.wait_passivated(2));
  auto u2 = n.ask(update_ticket{cmd.ticket_id, price(32000), unit::as_user("alice")});
  REQUIRE(u2);
  CHECK(u2->version == 3);
  REQUIRE(n.wait_passivated(3));
  auto dup = n.ask(cmd);
  REQUIRE(dup);
  CHECK_FALSE(dup->created);  // dedup survives passivation
  CHECK(dup->version == 3);
  CHECK(n.stats().restarted_after_failure == 0);
}

TEST_CASE("region: recovery from snapshot + replay equals a full replay") {
  unit::temp_dir dir;
  node n{dir.str(), 3};
  auto cmd = unit::make_listing(*n.keys, "alice", 4);
  REQUIRE(n.ask(cmd));
  ticket_view last;
  for (int i = 1; i <= 6; ++i) {
    ticket_patch p = price(20000 + i);
    if (i == 2) {
      p.has_venue = true;
      p.venue = "Stade de France";
    }
    if (i == 5) {
      p.has_event_name = true;
      p.event_name = "Final (replay)";
    }
    auto u = n.ask(update_ticket{cmd.ticket_id, p, unit::as_user("alice")});
    REQUIRE(u);
    CHECK(u->version == static_cast<uint64_t>(i + 1));
    last = *u;
  }
  // 7 events, snapshots every 3: the latest snapshot is at seq 6, so recovery
  // restores it and replays event 7.
  auto snap = n.store->load_snapshot(entity_kind::ticket, cmd.ticket_id);
  REQUIRE(snap.has_value());
  CHECK(snap->seq == 6);
  CHECK(n.store->last_seq(entity_kind::ticket, cmd.ticket_id) == 7);
  auto decoded_snap = decode_snapshot(snap->bytes);
  REQUIRE(decoded_snap.has_value());
  CHECK(decoded_snap->seq == 6);
  REQUIRE(std::holds_alternative<ticket_state>(decoded_snap->state));
  CHECK(std::get<ticket_state>(decoded_snap->state).fields.price_minor == 20005);

  // The entity's own recovery (snapshot + tail) ...
  actors::entity_core<actors::ticket_model> core;
  auto env = std::make_shared<actors::entity_env>();
  env->store = n.store;
  core.env = env;
  auto err = core.recover(cmd.ticket_id);
  REQUIRE_MESSAGE(!err, caf::to_string(err));
  CHECK(core.seq == 7);
  CHECK(core.snapshot_seq == 6);
  // ... equals replaying every event from the start.
  uint64_t replayed = 0;
  auto full = full_replay(*n.store, cmd.ticket_id, &replayed);
  CHECK(replayed == 7);
  CHECK(core.model.exists);
  CHECK(core.model.state() == full.state());
  CHECK(core.model.state().fields.price_minor == 20006);
  CHECK(core.model.state().fields.venue == "Stade de France");
  CHECK(core.model.state().fields.event_name == "Final (replay)");

  // And the live entity after passivation serves that same view.
  REQUIRE(n.wait_passivated(1));
  auto g = n.ask(get_ticket{cmd.ticket_id});
  REQUIRE(g);
  check_same_view(*g, last);
  check_same_view(*g, full.view(7, false));
}

TEST_CASE("region: an entity with a stale state fails once and reloads from the journal") {
  unit::temp_dir dir;
  node n{dir.str(), 64, 10s, 1s};  // no passivation during this test
  auto cmd = unit::make_listing(*n.keys, "alice", 5);
  REQUIRE(n.ask(cmd));
  // Another writer appends behind the entity's back (e.g. a previous
  // incarnation whose ack got lost): the entity's expected_seq is now stale.
  event_envelope ev;
  ev.kind = entity_kind::ticket;
  ev.entity_id = cmd.ticket_id;
  ev.seq = 2;
  ev.timestamp_ms = 1;
  ev.user_id = "alice";
  ev.payload = ticket_updated{price(777)};
  {
    caf::scoped_actor self{*n.sys};
    bool acked = false;
    self->request(n.journal, 5s,
                  append_events{static_cast<uint8_t>(entity_kind::ticket), cmd.ticket_id, 1,
                                {encode_event(ev)}, {}, 0, {}})
      .receive([&](append_ack&) { acked = true; }, [](caf::error&) {});
    REQUIRE(acked);
  }
  auto stale = n.ask(update_ticket{cmd.ticket_id, price(1000), unit::as_user("alice")});
  CHECK(code_of(stale) == errc::conflict);
  // The entity reloaded the truth from the journal before its next command
  // (no restart, so no window in which commands reach a stopped actor).
  auto g = n.ask(get_ticket{cmd.ticket_id});
  REQUIRE(g);
  CHECK(g->fields.price_minor == 777);
  CHECK(g->version == 2);
  auto u = n.ask(update_ticket{cmd.ticket_id, price(1000), unit::as_user("alice")});
  REQUIRE(u);
  CHECK(u->version == 3);
  CHECK(n.stats().restarted_after_failure == 0);
  CHECK(n.store->last_seq(entity_kind::ticket, cmd.ticket_id) == 3);
}

TEST_CASE("region: a wallet whose append fails drops the events it applied in place") {
  // Wallets apply a command's events to their live state before the journal
  // answers (no copy: the state grows with every posting). A failed append
  // must leave no trace of them: the entity reloads from the journal.
  unit::temp_dir dir;
  auto store = unit::open_store(dir.str());
  unit::test_config cfg;
  auto sys = std::make_unique<caf::actor_system>(cfg);
  auto journal = persistence::spawn_journal(*sys, store, {}, nullptr);
  wallet_region_actor wallets;
  {
    // Scoped: a journal handle left in it would keep the journal's thread
    // (and the actor system's shutdown) waiting.
    actors::entity_env env;
    env.store = store;
    env.journal = journal;
    env.keys = persistence::node_keys::from_secret("wallet-test");
    env.append_timeout = 5s;
    actors::region_config rc;
    rc.idle_timeout = 10s;  // no passivation during this test
    wallets = actors::spawn_wallet_region(*sys, env, rc, nullptr);
  }
  // Stops the actors and closes the store however the test ends.
  struct stop_all {
    std::unique_ptr<caf::actor_system>& sys;
    journal_actor& journal;
    wallet_region_actor& wallets;
    std::shared_ptr<persistence::event_store>& store;
    ~stop_all() {
      caf::anon_send_exit(wallets, caf::exit_reason::user_shutdown);
      caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
      wallets = nullptr;
      journal = nullptr;
      sys.reset();
      store->close();
    }
  } stop{sys, journal, wallets, store};
  const std::string carol = persistence::random_id();
  auto deposit = [&carol](std::string ref, int64_t amount) {
    wallet_command c;
    c.wallet_id = carol;
    c.op = static_cast<uint8_t>(wallet_op::deposit);
    c.ref = std::move(ref);
    c.amount_minor = amount;
    c.currency = "EUR";
    c.meta = unit::as_user(carol);
    return c;
  };
  auto ask = [&](auto cmd) {
    caf::scoped_actor self{*sys};
    caf::expected<wallet_view> out{make_error(errc::timeout, "no answer")};
    self->request(wallets, 5s, std::move(cmd))
      .receive([&](wallet_view& v) { out = std::move(v); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  };
  REQUIRE(ask(deposit("r1", 100)));
  // Another writer appends event 2 behind the entity's back.
  actors::wallet_model m;
  m.id = carol;
  auto first = deposit("r1", 100);
  auto evs1 = m.decide(first);
  REQUIRE(evs1);
  for (auto& p : *evs1) {
    event_envelope e;
    e.kind = entity_kind::wallet;
    e.entity_id = carol;
    e.seq = 1;
    e.payload = p;
    m.apply(e);
  }
  auto sneaky = m.decide(deposit("elsewhere", 5));
  REQUIRE(sneaky);
  REQUIRE(sneaky->size() == 1);
  event_envelope ev;
  ev.kind = entity_kind::wallet;
  ev.entity_id = carol;
  ev.seq = 2;
  ev.timestamp_ms = 1;
  ev.user_id = carol;
  ev.payload = (*sneaky)[0];
  {
    caf::scoped_actor self{*sys};
    bool acked = false;
    self->request(journal, 5s,
                  append_events{static_cast<uint8_t>(entity_kind::wallet), carol, 1,
                                {encode_event(ev)}, {}, 0, {}})
      .receive([&](append_ack&) { acked = true; }, [](caf::error&) {});
    REQUIRE(acked);
  }
  // The entity applies "r2" in place, the journal refuses it (stale seq).
  auto stale = ask(deposit("r2", 10));
  REQUIRE_FALSE(stale);
  CHECK(describe(stale.error()).code == errc::conflict);
  // What it shows now is the journal's truth: 100 + 5, no 10, and "r2"
  // unknown, so the retry deposits it (once).
  auto g = ask(get_wallet{carol});
  REQUIRE(g);
  CHECK(g->available_minor == 105);
  auto again = ask(deposit("r2", 10));
  REQUIRE(again);
  CHECK(again->available_minor == 115);
  auto replay = ask(deposit("r2", 10));
  REQUIRE(replay);
  CHECK(replay->available_minor == 115);
  CHECK(store->last_seq(entity_kind::wallet, carol) == 3);
}

TEST_CASE("region: a new actor system over the same store sees everything") {
  unit::temp_dir dir;
  std::vector<ticket_view> before;
  list_ticket first;
  {
    node n{dir.str(), 3};
    for (int i = 0; i < 4; ++i) {
      auto cmd = unit::make_listing(*n.keys, i % 2 ? "bob" : "alice", 10 + i);
      if (i == 0)
        first = cmd;
      auto v = n.ask(cmd);
      REQUIRE(v);
      for (int k = 0; k < i + 1; ++k)
        REQUIRE(n.ask(update_ticket{cmd.ticket_id, price(1000 * (k + 1) + i),
                                    unit::as_user(cmd.meta.user_id)}));
      if (i == 3)
        REQUIRE(n.ask(withdraw_ticket{cmd.ticket_id, "done", unit::as_user("bob")}));
      auto g = n.ask(get_ticket{cmd.ticket_id});
      REQUIRE(g);
      before.push_back(*g);
    }
  }  // region, journal, actor system and store are gone: a process restart
  node n{dir.str(), 3};
  for (const auto& b : before) {
    CAPTURE(b.id);
    auto g = n.ask(get_ticket{b.id});
    REQUIRE(g);
    check_same_view(*g, b);
  }
  CHECK(before[3].status == static_cast<uint8_t>(ticket_status::withdrawn));
  CHECK(before[2].version == 4);
  // Dedup across the restart, and versions continue.
  auto dup = n.ask(first);
  REQUIRE(dup);
  CHECK_FALSE(dup->created);
  CHECK(dup->id == first.ticket_id);
  auto u = n.ask(update_ticket{first.ticket_id, price(5), unit::as_user("alice")});
  REQUIRE(u);
  CHECK(u->version == before[0].version + 1);
  CHECK(n.store->next_offset() > 1);
}
