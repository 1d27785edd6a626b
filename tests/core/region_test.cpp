// Entities on the persistent-entity base behind the shard region: commands,
// dedup, passivation and recovery (snapshot + replay), restart of the whole
// actor system over the same store, and not_found without an actor.
#include <doctest/doctest.h>

#include <set>
#include <thread>

#include "actors/shard_region.hpp"
#include "actors/ticket_model.hpp"
#include "caf/scoped_actor.hpp"
#include "common.hpp"
#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "persistence/node_keys.hpp"

using namespace tt;
using namespace std::chrono_literals;

namespace {

struct node_fixture {
  std::shared_ptr<persistence::event_store> store;
  std::shared_ptr<persistence::node_keys> keys = persistence::node_keys::from_secret("region");
  test::test_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  journal_actor journal;
  ticket_region_actor region;

  explicit node_fixture(const std::string& dir, uint32_t snapshot_every = 3) {
    std::string err;
    store = persistence::event_store::open({dir}, &err);
    REQUIRE(store);
    sys = std::make_unique<caf::actor_system>(cfg);
    journal = persistence::spawn_journal(*sys, store, {}, nullptr);
    actors::entity_env env;
    env.store = store;
    env.journal = journal;
    env.keys = keys;
    env.snapshot_every = snapshot_every;
    actors::region_config rc;
    rc.idle_timeout = 50ms;
    rc.sweep_interval = 10ms;
    region = actors::spawn_ticket_region(*sys, env, rc, nullptr);
  }

  ~node_fixture() {
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
    caf::expected<ticket_view> out{caf::error{}};
    self->request(region, 5s, std::move(cmd))
      .receive([&](ticket_view& v) { out = std::move(v); }, [&](caf::error& e) { out = e; });
    return out;
  }

  region_stats stats() {
    caf::scoped_actor self{*sys};
    region_stats out;
    self->request(region, 5s, atoms::stats_atom_v).receive([&](region_stats& s) { out = s; },
                                                            [](caf::error&) {});
    return out;
  }

  list_ticket listing(const std::string& seller, int n) {
    list_ticket cmd;
    cmd.fields = test::sample_fields(n);
    cmd.barcode = "BC-" + std::to_string(n);
    cmd.meta.user_id = seller;
    auto ids = actors::derive_listing_ids(*keys, seller, cmd.fields, cmd.barcode);
    cmd.ticket_id = ids.ticket_id;
    cmd.dedup_hash = ids.dedup_hash;
    return cmd;
  }
};

request_meta as(const std::string& user) {
  request_meta m;
  m.user_id = user;
  return m;
}

} // namespace

TEST_CASE("a ticket lives through commands, passivation and recovery") {
  test::temp_dir dir;
  std::string id;
  {
    node_fixture n{dir.str()};
    auto cmd = n.listing("alice", 1);
    id = cmd.ticket_id;
    auto v = n.ask(cmd);
    REQUIRE(v);
    CHECK(v->created);
    CHECK(v->version == 1);
    auto again = n.ask(cmd);
    REQUIRE(again);
    CHECK_FALSE(again->created);
    CHECK(again->id == id);
    // Four price changes: snapshots every 3 events, so recovery uses one.
    for (int64_t p = 1; p <= 4; ++p) {
      ticket_patch patch;
      patch.has_price = true;
      patch.price_minor = p * 100;
      auto u = n.ask(update_ticket{id, patch, as("alice")});
      REQUIRE(u);
      CHECK(u->version == static_cast<uint64_t>(p + 1));
    }
    CHECK(n.store->load_snapshot(entity_kind::ticket, id)->seq == 3);
    auto denied = n.ask(withdraw_ticket{id, "x", as("bob")});
    REQUIRE_FALSE(denied);
    CHECK(describe(denied.error()).code == errc::forbidden);
    // Wait for passivation, then read again: recovered from snapshot + tail.
    for (int i = 0; i < 100 && n.stats().passivated == 0; ++i)
      std::this_thread::sleep_for(10ms);
    CHECK(n.stats().passivated >= 1);
    auto g = n.ask(get_ticket{id});
    REQUIRE(g);
    CHECK(g->fields.price_minor == 400);
    CHECK(g->version == 5);
    CHECK(n.stats().started >= 2);
    // Unknown ids answer not_found without starting an actor.
    auto before = n.stats().started;
    auto missing = n.ask(get_ticket{persistence::random_id()});
    REQUIRE_FALSE(missing);
    CHECK(describe(missing.error()).code == errc::not_found);
    CHECK(n.ask(get_ticket{"not-an-id"}).error() != caf::error{});
    CHECK(n.stats().started == before);
  }
  // A whole new actor system over the same store sees everything.
  node_fixture n2{dir.str()};
  auto g = n2.ask(get_ticket{id});
  REQUIRE(g);
  CHECK(g->fields.price_minor == 400);
  CHECK(g->seller == "alice");
  auto w = n2.ask(withdraw_ticket{id, "done", as("alice")});
  REQUIRE(w);
  CHECK(w->status == static_cast<uint8_t>(ticket_status::withdrawn));
  CHECK(w->version == 6);
}

TEST_CASE("commands for one ticket are serialized; many tickets run concurrently") {
  test::temp_dir dir;
  node_fixture n{dir.str(), 1000};
  caf::scoped_actor self{*n.sys};
  auto cmd = n.listing("alice", 7);
  REQUIRE(n.ask(cmd));
  // 50 concurrent price updates on one ticket: all succeed, versions 2..51.
  for (int i = 0; i < 50; ++i) {
    ticket_patch p;
    p.has_price = true;
    p.price_minor = i;
    self->send(n.region, update_ticket{cmd.ticket_id, p, as("alice")});
  }
  // 200 listings of different tickets at once.
  for (int i = 100; i < 300; ++i)
    self->send(n.region, n.listing("bob", i));
  std::set<uint64_t> versions;
  int listed = 0;
  for (int i = 0; i < 250; ++i) {
    self->receive([&](ticket_view& v) {
      if (v.id == cmd.ticket_id)
        versions.insert(v.version);
      else if (v.created)
        ++listed;
    },
                  [&](caf::error& e) { FAIL("unexpected error " << caf::to_string(e)); },
                  caf::after(5s) >> [] { FAIL("timeout"); });
  }
  CHECK(versions.size() == 50);
  CHECK(*versions.begin() == 2);
  CHECK(*versions.rbegin() == 51);
  CHECK(listed == 200);
  CHECK(n.store->last_seq(entity_kind::ticket, cmd.ticket_id) == 51);
}
