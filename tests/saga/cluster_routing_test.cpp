// Routing and fencing across two simulated nodes (CAF's io_dsl: two actor
// systems, "earth" and "mars", connected by the test multiplexer; no sockets,
// no threads, every step deterministic). Each planet has a real journal and
// ticket region over its own RocksDB store, a shard fence and a route table,
// wired as tt-node wires them in cluster mode.
#define CAF_SUITE cluster_routing

#include "caf/test/io_dsl.hpp"
#include "caf/test/unit_test_impl.hpp"

#include <filesystem>

#include "actors/cluster_routes.hpp"
#include "actors/shard_region.hpp"
#include "actors/ticket_model.hpp"
#include "messages/system.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "persistence/node_keys.hpp"
#include "persistence/shard_fence.hpp"

using namespace tt;

namespace {

struct node_config : caf::actor_system_config {
  node_config() {
    init_message_types(*this);
    load<caf::io::middleman>();
  }
};

using base = test_coordinator_fixture<node_config>;

/// One simulated node: store, journal (not detached), ticket region, fence
/// and routes.
struct node_parts {
  std::filesystem::path dir;
  std::shared_ptr<persistence::event_store> store;
  std::shared_ptr<persistence::shard_fence> fence = std::make_shared<persistence::shard_fence>();
  std::shared_ptr<actors::cluster_routes> routes = std::make_shared<actors::cluster_routes>();
  journal_actor journal;
  ticket_region_actor tickets;

  void start(caf::actor_system& sys, std::shared_ptr<persistence::node_keys> keys) {
    char tmpl[] = "/tmp/tt-routing-XXXXXX";
    dir = ::mkdtemp(tmpl);
    std::string err;
    store = persistence::event_store::open(persistence::store_options{(dir / "db").string()}, &err);
    CAF_REQUIRE(store != nullptr);
    persistence::journal_config jc;
    jc.detached = false;
    jc.fence = fence;
    journal = persistence::spawn_journal(sys, store, jc, nullptr);
    actors::entity_env env;
    env.store = store;
    env.journal = journal;
    env.keys = std::move(keys);
    env.fence = fence;
    env.routes = routes;
    actors::region_config rc;
    rc.idle_timeout = std::chrono::hours{1};
    rc.sweep_interval = std::chrono::milliseconds{0};  // no periodic timer: exec_all ends
    rc.remote_timeout = std::chrono::milliseconds{0};  // exec_all would fire it at once
    rc.remote_window = 2;
    tickets = actors::spawn_ticket_region(sys, env, rc, nullptr);
    fence->set_lease_deadline(std::numeric_limits<int64_t>::max());
  }

  void stop() {
    caf::anon_send_exit(tickets, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(journal, caf::exit_reason::user_shutdown);
  }

  ~node_parts() {
    if (store)
      store->close();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

struct fixture : point_to_point_fixture<base> {
  std::shared_ptr<persistence::node_keys> keys = persistence::node_keys::from_secret("routing");
  node_parts e, m;  // earth's and mars' parts
  ticket_region_actor mars_tickets_at_earth;  // a proxy on earth
  ticket_region_actor earth_tickets_at_mars;  // unused handle: never followed (see above)

  fixture() {
    e.start(earth.sys, keys);
    m.start(mars.sys, keys);
    exec_all();
    // Earth reaches mars' region over the simulated network (mars' routes
    // to earth are never followed here: commands reach mars only from earth,
    // and a command that crossed the network is never forwarded again).
    prepare_connection(mars, earth, "mars", 8001);
    mars.publish(m.tickets, 8001);
    mars_tickets_at_earth = earth.remote_actor<ticket_region_actor>("mars", 8001);
    exec_all();
    // Even shards live on earth (epoch 10), odd shards on mars (epoch 20).
    assign(10, 20);
  }

  ~fixture() {
    e.stop();
    m.stop();
    exec_all();
  }

  /// Publishes ownership as the cluster member would: the owner's fence
  /// holds the epoch, every route table says local or remote.
  void assign(uint64_t earth_epoch, uint64_t mars_epoch) {
    auto et = std::make_shared<actors::route_table>();
    auto mt = std::make_shared<actors::route_table>();
    auto mars_regions = std::make_shared<node_regions>();
    mars_regions->tickets = mars_tickets_at_earth;
    auto earth_regions = std::make_shared<node_regions>();
    earth_regions->tickets = earth_tickets_at_mars;
    for (uint32_t s = 0; s < shard_count; ++s) {
      bool on_earth = s % 2 == 0;
      e.fence->set_epoch(s, on_earth ? earth_epoch : 0);
      m.fence->set_epoch(s, on_earth ? 0 : mars_epoch);
      (*et)[s] = on_earth ? actors::shard_route{actors::shard_route::local, earth_epoch, nullptr}
                          : actors::shard_route{actors::shard_route::remote, mars_epoch,
                                                mars_regions};
      (*mt)[s] = on_earth ? actors::shard_route{actors::shard_route::remote, earth_epoch,
                                                earth_regions}
                          : actors::shard_route{actors::shard_route::local, mars_epoch, nullptr};
    }
    e.routes->publish(et);
    m.routes->publish(mt);
  }

  /// A listing whose ticket id falls on an odd (mars) or even (earth) shard.
  list_ticket listing(bool on_mars, int salt = 0) {
    for (int n = 1 + salt * 1000;; ++n) {
      ticket_fields f;
      f.event_id = "ev-route";
      f.event_name = "Show";
      f.currency = "USD";
      f.face_value_minor = 10000;
      f.seats = {std::to_string(n)};
      auto barcode = "BC-" + std::to_string(n);
      auto ids = actors::derive_listing_ids(*keys, "alice", f, barcode);
      if ((shard_of(ids.ticket_id) % 2 == 1) != on_mars)
        continue;
      list_ticket cmd{ids.ticket_id, f, barcode, ids.dedup_hash, {}};
      cmd.meta.user_id = "alice";
      return cmd;
    }
  }

  /// Asks `dest` from `planet`'s scoped actor, runs both planets to
  /// quiescence, returns the answer.
  template <class Reply, class Msg>
  caf::expected<Reply> ask(planet_type& planet, const ticket_region_actor& dest, Msg msg) {
    auto h = planet.self->request(dest, caf::infinite, std::move(msg));
    exec_all();
    caf::expected<Reply> out = make_error(errc::unavailable, "no answer");
    CAF_REQUIRE(!planet.self->mailbox().empty());
    h.receive([&](Reply& r) { out = std::move(r); }, [&](caf::error& err) { out = std::move(err); });
    return out;
  }
};

errc code_of(const caf::error& err) { return describe(err).code; }

} // namespace

CAF_TEST_FIXTURE_SCOPE(cluster_routing_tests, fixture)

CAF_TEST(a command for a remote shard is served by its owner and relayed back) {
  auto cmd = listing(true);
  auto v = ask<ticket_view>(earth, e.tickets, cmd);
  CAF_REQUIRE(v);
  CAF_CHECK_EQUAL(v->id, cmd.ticket_id);
  // The events are in mars' journal, not earth's.
  CAF_CHECK_EQUAL(m.store->last_seq(entity_kind::ticket, cmd.ticket_id), 1u);
  CAF_CHECK_EQUAL(e.store->last_seq(entity_kind::ticket, cmd.ticket_id), 0u);
  // And mars' own edge sees the same ticket.
  auto g = ask<ticket_view>(mars, m.tickets, get_ticket{cmd.ticket_id});
  CAF_REQUIRE(g);
  CAF_CHECK_EQUAL(g->version, 1u);
  // A local shard stays local.
  auto local = listing(false);
  CAF_REQUIRE(ask<ticket_view>(earth, e.tickets, local));
  CAF_CHECK_EQUAL(e.store->last_seq(entity_kind::ticket, local.ticket_id), 1u);
  CAF_CHECK_EQUAL(m.store->last_seq(entity_kind::ticket, local.ticket_id), 0u);
}

CAF_TEST(forwarded commands beyond the per-peer window are refused at once) {
  // The fixture's window is 2: of three commands for mars' shards queued at
  // earth's region before it runs, the third is refused without being sent.
  std::vector<list_ticket> cmds{listing(true, 1), listing(true, 2), listing(true, 3)};
  std::vector<caf::response_handle<caf::blocking_actor, caf::detail::type_list<ticket_view>, true>>
    handles;
  for (auto& c : cmds)
    handles.push_back(earth.self->request(e.tickets, caf::infinite, c));
  exec_all();
  int served = 0, refused = 0;
  for (auto& h : handles)
    h.receive([&](ticket_view&) { ++served; },
              [&](caf::error& err) { refused += code_of(err) == errc::unavailable; });
  CAF_CHECK_EQUAL(served, 2);
  CAF_CHECK_EQUAL(refused, 1);
  CAF_CHECK_EQUAL(m.store->last_seq(entity_kind::ticket, cmds[2].ticket_id), 0u);
  // The answers freed the window: the refused command goes through now.
  CAF_CHECK(ask<ticket_view>(earth, e.tickets, cmds[2]));
  CAF_CHECK_EQUAL(m.store->last_seq(entity_kind::ticket, cmds[2].ticket_id), 1u);
}

CAF_TEST(a shard whose owner is down answers unavailable at once) {
  auto cmd = listing(true);
  auto t = std::make_shared<actors::route_table>(*e.routes->current());
  (*t)[shard_of(cmd.ticket_id)] = actors::shard_route{};  // down
  e.routes->publish(t);
  auto v = ask<ticket_view>(earth, e.tickets, cmd);
  CAF_REQUIRE(!v);
  CAF_CHECK_EQUAL(code_of(v.error()), errc::unavailable);
  CAF_CHECK_EQUAL(m.store->last_seq(entity_kind::ticket, cmd.ticket_id), 0u);
}

CAF_TEST(a stale route is refused by the node that no longer owns the shard and never bounced) {
  auto cmd = listing(true);
  // Mars gave the shard up (its fence closed, its table now points back at
  // earth), but earth still believes mars owns it.
  auto s = shard_of(cmd.ticket_id);
  m.fence->set_epoch(s, 0);
  auto t = std::make_shared<actors::route_table>(*m.routes->current());
  auto back = std::make_shared<node_regions>();
  back->tickets = earth_tickets_at_mars;
  (*t)[s] = actors::shard_route{actors::shard_route::remote, 30, back};
  m.routes->publish(t);
  auto v = ask<ticket_view>(earth, e.tickets, cmd);
  CAF_REQUIRE(!v);
  CAF_CHECK_EQUAL(code_of(v.error()), errc::unavailable);
  CAF_CHECK_EQUAL(m.store->last_seq(entity_kind::ticket, cmd.ticket_id), 0u);
  CAF_CHECK_EQUAL(e.store->last_seq(entity_kind::ticket, cmd.ticket_id), 0u);
}

CAF_TEST(an entity started under an old epoch cannot write after the epoch changed) {
  auto cmd = listing(false);
  CAF_REQUIRE(ask<ticket_view>(earth, e.tickets, cmd));
  // The entity is active with epoch 10. The shard is re-claimed (epoch 11).
  e.fence->set_epoch(shard_of(cmd.ticket_id), 11);
  update_ticket up;
  up.ticket_id = cmd.ticket_id;
  up.patch.has_price = true;
  up.patch.price_minor = 4242;
  up.meta.user_id = "alice";
  auto first = ask<ticket_view>(earth, e.tickets, up);
  CAF_REQUIRE(!first);  // refused by the journal's fence; the entity reloads
  CAF_CHECK_EQUAL(code_of(first.error()), errc::unavailable);
  CAF_CHECK_EQUAL(e.store->last_seq(entity_kind::ticket, cmd.ticket_id), 1u);
  auto second = ask<ticket_view>(earth, e.tickets, up);  // now under epoch 11
  CAF_REQUIRE(second);
  CAF_CHECK_EQUAL(second->fields.price_minor, 4242);
  CAF_CHECK_EQUAL(e.store->last_seq(entity_kind::ticket, cmd.ticket_id), 2u);
}

CAF_TEST(nothing is written once the lease deadline passed) {
  auto cmd = listing(false);
  e.fence->set_lease_deadline(0);
  auto v = ask<ticket_view>(earth, e.tickets, cmd);
  CAF_REQUIRE(!v);
  CAF_CHECK_EQUAL(code_of(v.error()), errc::unavailable);
  CAF_CHECK_EQUAL(e.store->last_seq(entity_kind::ticket, cmd.ticket_id), 0u);
}

CAF_TEST_FIXTURE_SCOPE_END()
