#include "nodes/node.hpp"

#include <prometheus/registry.h>

#include <filesystem>

#include "actors/entity_env.hpp"
#include "actors/market_index.hpp"
#include "actors/settlement.hpp"
#include "actors/shard_region.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "messages/log.hpp"
#include "messages/system.hpp"
#include "nodes/edge.hpp"
#include "nodes/http_server.hpp"
#include "nodes/jwt.hpp"
#include "nodes/notifier.hpp"
#include "nodes/passwords.hpp"
#include "nodes/rate_limiter.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "persistence/node_keys.hpp"
#include "persistence/pg_projection.hpp"

namespace tt::nodes {

struct node::impl {
  node_config cfg;
  std::shared_ptr<persistence::event_store> store;
  std::shared_ptr<persistence::node_keys> keys;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<caf::actor_system_config> sys_cfg;
  std::unique_ptr<caf::actor_system> sys;
  std::shared_ptr<jwt_keyring> jwt;
  std::shared_ptr<password_hasher> hasher;
  journal_actor journal;
  ticket_region_actor region;
  account_region_actor accounts;
  notifier_actor notifier;
  std::shared_ptr<actors::market_index> market = std::make_shared<actors::market_index>();
  market_feed_actor market_feed;
  email_index_region_actor emails;
  wallet_region_actor wallets;
  trade_region_actor trades;
  payment_provider_actor payments;
  transfer_adapter_actor transfers;
  timer_service_actor timers;
  std::unique_ptr<persistence::pg_projector> projector;  // --postgres only
  std::unique_ptr<edge> http_edge;
  std::unique_ptr<http_server> server;
  bool stopped = false;
};

node::node(node_config cfg) : impl_(std::make_unique<impl>()) { impl_->cfg = std::move(cfg); }

node::~node() { stop(); }

bool node::start(std::string* error) {
  auto& d = *impl_;
  std::error_code ec;
  std::filesystem::create_directories(d.cfg.data_dir, ec);
  if (ec) {
    *error = "cannot create data dir " + d.cfg.data_dir + ": " + ec.message();
    return false;
  }
  d.keys = persistence::node_keys::load_or_create(d.cfg.data_dir, error);
  if (!d.keys)
    return false;
  d.jwt = jwt_keyring::load_or_create(d.cfg.data_dir, error);
  if (!d.jwt)
    return false;
  d.hasher = std::make_shared<password_hasher>(
    d.cfg.hash_threads, password_cost{d.cfg.argon2_ops, d.cfg.argon2_mem_mib * 1024 * 1024});
  persistence::store_options so;
  so.dir = d.cfg.data_dir + "/journal";
  so.sync = d.cfg.sync;
  d.store = persistence::event_store::open(so, error);
  if (!d.store)
    return false;
  d.sys_cfg = std::make_unique<caf::actor_system_config>();
  init_message_types(*d.sys_cfg);
  d.sys_cfg->set("scheduler.max-threads", static_cast<size_t>(std::max(1u, d.cfg.scheduler_threads)));
  d.sys_cfg->set("scheduler.policy", d.cfg.scheduler_policy == "stealing" ? caf::atom("stealing")
                                                                       : caf::atom("sharing"));
  d.sys_cfg->set("logger.file-verbosity", caf::atom("quiet"));
  d.sys_cfg->set("logger.console-verbosity", caf::atom("quiet"));
  d.sys = std::make_unique<caf::actor_system>(*d.sys_cfg);
  d.notifier = spawn_notifier(*d.sys, d.store);
  d.market_feed = actors::spawn_market_feed(*d.sys, d.store, d.market);
  if (!d.cfg.postgres_url.empty()) {
    persistence::pg_projection_config pc;
    pc.url = d.cfg.postgres_url;
    d.projector = std::make_unique<persistence::pg_projector>(pc, d.store, d.registry.get());
    d.projector->start();  // connects on its own thread; never blocks the node
  }
  persistence::journal_config jc;
  jc.on_commit = [n = d.notifier, m = d.market_feed,
                  p = d.projector.get()](uint64_t next_offset) {
    caf::anon_send(n, log_advanced{next_offset});
    caf::anon_send(m, log_advanced{next_offset});
    if (p)
      p->notify(next_offset);
  };
  jc.max_batch_events = d.cfg.journal_max_batch;
  jc.max_delay = d.cfg.journal_max_delay;
  d.journal = persistence::spawn_journal(*d.sys, d.store, jc, d.registry.get());
  actors::entity_env env;
  env.store = d.store;
  env.journal = d.journal;
  env.keys = d.keys;
  env.snapshot_every = d.cfg.snapshot_every;
  actors::region_config rc;
  rc.idle_timeout = d.cfg.idle_timeout;
  d.region = actors::spawn_ticket_region(*d.sys, env, rc, d.registry.get());
  d.accounts = actors::spawn_account_region(*d.sys, env, rc, d.registry.get());
  d.emails = actors::spawn_email_index_region(*d.sys, env, rc, d.registry.get());
  d.wallets = actors::spawn_wallet_region(*d.sys, env, rc, d.registry.get());
  d.payments = actors::spawn_ledger_provider(*d.sys, d.wallets);
  d.transfers = actors::spawn_escrow_upload_adapter(*d.sys, d.region);
  {
    auto sd = std::make_shared<actors::settlement_deps>();
    sd->tickets = d.region;
    sd->transfers = d.transfers;
    sd->payments = d.payments;
    sd->commit_window = d.cfg.commit_window;
    sd->fee_bps = d.cfg.fee_bps;
    auto trade_env = env;
    trade_env.settlement = std::move(sd);
    d.trades = actors::spawn_trade_region(*d.sys, trade_env, rc, d.registry.get());
  }
  actors::timer_service_config tc;
  tc.poll_interval = d.cfg.timer_poll;
  d.timers = actors::spawn_timer_service(*d.sys, d.store, d.trades, tc, d.registry.get());
  edge_config ec2;
  ec2.request_timeout = d.cfg.request_timeout;
  ec2.access_token_ttl = d.cfg.access_token_ttl;
  ec2.cors_origins = d.cfg.cors_origins;
  ec2.admin_emails = d.cfg.admin_emails;
  ec2.analytics_emails = d.cfg.analytics_emails;
  edge_deps deps;
  deps.tickets = d.region;
  deps.accounts = d.accounts;
  deps.emails = d.emails;
  deps.wallets = d.wallets;
  deps.trades = d.trades;
  deps.transfers = d.transfers;
  deps.store = d.store;
  deps.keys = d.keys;
  deps.jwt = d.jwt;
  deps.hasher = d.hasher;
  deps.limiter = std::make_shared<rate_limiter>();
  auto limits = std::make_shared<rate_limit_config>();
  limits->enabled = d.cfg.rate_limits;
  deps.limits = limits;
  deps.registry = d.registry;
  deps.notifier = d.notifier;
  deps.market = d.market;
  deps.journal = d.journal;
  d.http_edge = std::make_unique<edge>(*d.sys, std::move(deps), ec2);
  http_server_config hc;
  hc.host = d.cfg.http_host;
  hc.port = d.cfg.http_port;
  hc.io_threads = d.cfg.io_threads;
  hc.body_limit = d.cfg.body_limit;
  hc.tls_cert_file = d.cfg.tls_cert_file;
  hc.tls_key_file = d.cfg.tls_key_file;
  auto* e = d.http_edge.get();
  d.server = std::make_unique<http_server>(
    hc, [e](http_request& req, http_responder respond) { e->handle(req, std::move(respond)); });
  d.server->on_signal([](int sig) { log::info("signal_received", {{"signal", sig}}); });
  if (!d.server->start(error))
    return false;
  d.http_edge->set_ready(true);
  log::info("node_ready", {{"http_host", d.cfg.http_host},
                           {"http_port", static_cast<unsigned>(d.server->port())},
                           {"data_dir", d.cfg.data_dir},
                           {"next_offset", d.store->next_offset()}});
  return true;
}

uint16_t node::http_port() const { return impl_->server ? impl_->server->port() : 0; }

void node::wait() {
  if (impl_->server)
    impl_->server->wait();
}

void node::request_stop() {
  if (impl_->server)
    impl_->server->request_stop();
}

void node::stop() {
  auto& d = *impl_;
  if (d.stopped)
    return;
  d.stopped = true;
  if (d.projector)
    d.projector->stop();  // first: joins its thread (rolls back an open batch)
  if (d.http_edge)
    d.http_edge->set_ready(false);
  if (d.server)
    d.server->stop();  // no new requests; replies in flight are dropped with their sockets
  if (d.hasher)
    d.hasher->shutdown();  // its callbacks call into the edge: finish them first
  if (d.sys) {
    if (d.http_edge)
      d.http_edge->shutdown();
    // The region stops its entities; the journal writes what it holds.
    // Timers first (no new wakes), then trades (no new steps), then the rest.
    caf::anon_send_exit(d.timers, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.trades, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.payments, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.transfers, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.wallets, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.region, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.accounts, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.emails, caf::exit_reason::user_shutdown);
    {
      caf::scoped_actor self{*d.sys};
      self->request(d.journal, std::chrono::seconds(10), atoms::stats_atom_v)
        .receive([](journal_stats&) {}, [](caf::error&) {});
    }
    caf::anon_send_exit(d.journal, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.notifier, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.market_feed, caf::exit_reason::user_shutdown);
    d.sys->await_all_actors_done();
  }
  d.http_edge.reset();
  // Dropped hash jobs hold connections of the server's io_context: destroy
  // them before the server.
  d.hasher.reset();
  d.server.reset();
  // A detached actor's thread ends only when its last handle is gone.
  d.journal = nullptr;
  d.region = nullptr;
  d.accounts = nullptr;
  d.emails = nullptr;
  d.notifier = nullptr;
  d.market_feed = nullptr;
  d.timers = nullptr;
  d.trades = nullptr;
  d.payments = nullptr;
  d.transfers = nullptr;
  d.wallets = nullptr;
  d.sys.reset();
  d.sys_cfg.reset();
  d.projector.reset();  // after the journal: its on_commit holds a pointer
  if (d.store)
    d.store->close();
  log::info("node_stopped", {{"data_dir", d.cfg.data_dir}});
}

} // namespace tt::nodes
