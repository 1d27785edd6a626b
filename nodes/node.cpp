#include "nodes/node.hpp"

#include "nodes/pg_market.hpp"

#include <atomic>
#include <boost/json.hpp>
#include <prometheus/registry.h>

#include <filesystem>
#include <fstream>
#include <mutex>

#include "actors/entity_env.hpp"
#include "actors/market_index.hpp"
#include "actors/settlement.hpp"
#include "actors/shard_region.hpp"
#include "actors/matcher_service.hpp"
#include "actors/valuation_service.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/io/middleman.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/send.hpp"
#include "messages/log.hpp"
#include "messages/system.hpp"
#include "nodes/admin_service.hpp"
#include "nodes/cluster_member.hpp"
#include "nodes/edge.hpp"
#include "nodes/etcd_client.hpp"
#include "nodes/http_server.hpp"
#include "nodes/jwt.hpp"
#include "nodes/notifier.hpp"
#include "nodes/peer_market_feed.hpp"
#include "nodes/passwords.hpp"
#include "nodes/rate_limiter.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "persistence/node_keys.hpp"
#include "persistence/pg_projection.hpp"
#include "persistence/shard_fence.hpp"

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
  valuation_service_actor valuation;
  /// The journal's on_commit starts before the valuation service exists
  /// (the service needs the ticket region, which needs the journal): it
  /// reads the handle from here.
  struct valuation_slot {
    std::mutex mtx;
    valuation_service_actor handle;
    matcher_service_actor matcher;  // the same, for the matcher service
  };
  matcher_service_actor matcher;
  /// The cluster member once joined (read by the matcher's `leads` on its
  /// own thread; cleared before the member goes away).
  std::shared_ptr<std::atomic<cluster_member*>> leader_slot
    = std::make_shared<std::atomic<cluster_member*>>(nullptr);
  std::shared_ptr<valuation_slot> valuation_hook = std::make_shared<valuation_slot>();
  std::unique_ptr<persistence::pg_projector> projector;  // --postgres only
  cluster_gateway_actor gateway;                          // --cluster-port only
  std::shared_ptr<persistence::shard_fence> fence;        // cluster mode only
  std::shared_ptr<actors::cluster_routes> routes;         // cluster mode only
  std::shared_ptr<cluster_member> cluster;                // cluster mode only
  peer_feed_actor peer_market;                            // cluster mode only
  int64_t started_ms = 0;
  std::unique_ptr<edge> http_edge;
  std::unique_ptr<http_server> server;
  bool stopped = false;
  std::atomic<const char*> stop_step{"running"};  // read by the shutdown watchdog
  std::atomic<caf::actor_system*> sys_for_watchdog{nullptr};  // cleared before the system goes

  bool sync_cluster_secrets(std::string* error);
  bool start_cluster(std::string* error);
  std::string config_json() const;
};

/// Cluster mode: the node key and JWT keys are the cluster's (keyed ids and
/// tokens must agree on every node). Downloads them before the local files
/// are loaded, and uploads this node's if the cluster has none yet.
bool node::impl::sync_cluster_secrets(std::string* error) {
  etcd_client etcd{cfg.etcd};
  bool has_data = std::filesystem::exists(cfg.data_dir + "/journal");
  for (auto* file : {"node.key", "jwt.keys"}) {
    auto path = cfg.data_dir + "/" + file;
    if (!cluster_member::sync_secret_file(etcd, cfg.etcd_prefix, path, has_data, false, error))
      return false;
  }
  // Make sure both files exist locally, then offer them (first node wins).
  if (!persistence::node_keys::load_or_create(cfg.data_dir, error)
      || !jwt_keyring::load_or_create(cfg.data_dir, error))
    return false;
  for (auto* file : {"node.key", "jwt.keys"}) {
    auto path = cfg.data_dir + "/" + file;
    if (!cluster_member::sync_secret_file(etcd, cfg.etcd_prefix, path, has_data, true, error))
      return false;
  }
  return true;
}

/// The effective configuration for `tt-admin config`; secrets redacted.
std::string node::impl::config_json() const {
  boost::json::object o;
  auto list = [](const std::vector<std::string>& v) {
    boost::json::array a;
    for (auto& x : v)
      a.emplace_back(boost::json::string(x));
    return a;
  };
  o["data_dir"] = cfg.data_dir;
  o["http_host"] = cfg.http_host;
  o["http_port"] = cfg.http_port;
  o["io_threads"] = cfg.io_threads;
  o["scheduler_threads"] = cfg.scheduler_threads;
  o["scheduler_policy"] = cfg.scheduler_policy;
  o["body_limit"] = cfg.body_limit;
  o["snapshot_every"] = cfg.snapshot_every;
  o["idle_timeout_ms"] = cfg.idle_timeout.count();
  o["request_timeout_ms"] = cfg.request_timeout.count();
  o["journal_max_batch"] = cfg.journal_max_batch;
  o["journal_max_delay_us"] = cfg.journal_max_delay.count();
  o["sync"] = cfg.sync;
  o["rate_limits"] = cfg.rate_limits;
  o["access_token_ttl_s"] = cfg.access_token_ttl.count();
  o["hash_threads"] = cfg.hash_threads;
  o["argon2_ops"] = cfg.argon2_ops;
  o["argon2_mem_mib"] = cfg.argon2_mem_mib;
  o["cors_origins"] = list(cfg.cors_origins);
  o["tls"] = !cfg.tls_cert_file.empty();
  o["commit_window_ms"] = cfg.commit_window.count();
  o["match_accept_window_ms"] = cfg.match_accept_window.count();
  o["fee_bps"] = cfg.fee_bps;
  o["admin_emails"] = list(cfg.admin_emails);
  o["analytics_emails"] = list(cfg.analytics_emails);
  o["timer_poll_ms"] = cfg.timer_poll.count();
  o["postgres"] = cfg.postgres_url.empty() ? "" : "(set, redacted)";
  o["marketplace_source"] = cfg.market_from_postgres ? "postgres" : "memory";
  o["cluster_port"] = cfg.cluster_port;
  o["cluster_host"] = cfg.cluster_host;
  o["etcd"] = list(cfg.etcd);
  o["node_name"] = cfg.node_name;
  o["etcd_prefix"] = cfg.etcd_prefix;
  o["cluster_size"] = cfg.cluster_size;
  o["lease_ttl_s"] = cfg.lease_ttl_s;
  o["admin_secret"] = cfg.admin_secret.empty() ? "" : "(set, redacted)";
  o["model"] = cfg.model_path;
  o["event_meta"] = cfg.event_meta_file;
  return boost::json::serialize(o);
}

/// Publishes the gateway on the cluster port and, in cluster mode, joins
/// etcd and claims this node's shards before the edge opens.
bool node::impl::start_cluster(std::string* error) {
  if (cfg.cluster_port == 0)
    return true;
  auto host = cfg.cluster_host.empty() ? cfg.http_host : cfg.cluster_host;
  std::string name = cfg.node_name.empty() ? "local" : cfg.node_name;
  // The edge's address as peers and consumers reach it: a wildcard listen
  // address is advertised as the cluster host (the pod's DNS name in k8s).
  bool wildcard = cfg.http_host == "0.0.0.0" || cfg.http_host == "::";
  auto http_address = (wildcard ? host : cfg.http_host) + ":" + std::to_string(cfg.http_port);
  node_regions local;
  local.node_name = name;
  local.tickets = region;
  local.accounts = accounts;
  local.emails = emails;
  local.wallets = wallets;
  local.trades = trades;
  if (!cfg.etcd.empty()) {
    cluster_config cc;
    cc.node_name = name;
    cc.cluster_host = host;
    cc.cluster_port = cfg.cluster_port;
    cc.http_address = http_address;
    cc.etcd = cfg.etcd;
    cc.prefix = cfg.etcd_prefix;
    cc.lease_ttl_s = cfg.lease_ttl_s;
    cc.cluster_size = cfg.cluster_size;
    cc.admin_secret = cfg.admin_secret;
    cluster = std::make_shared<cluster_member>(cc, *sys, fence, routes);
    leader_slot->store(cluster.get());
    local.node_id = cluster->node_id();
  } else {
    local.node_id = persistence::random_id();
  }
  gateway_deps gd;
  gd.secret = cfg.admin_secret;
  gd.node_name = name;
  gd.node_id = local.node_id;
  gd.http_address = http_address;
  gd.cluster_address = host + ":" + std::to_string(cfg.cluster_port);
  gd.regions = local;
  gd.store = store;
  gd.journal = journal;
  gd.valuation = valuation;
  gd.matcher = matcher;
  gd.cluster = cluster;
  gd.config_json = config_json();
  gd.extra_stats = [p = projector.get(), st = store]() -> std::string {
    if (!p)
      return "{}";
    auto end = st->next_offset() - 1;
    auto done = p->projected_offset();
    boost::json::object o{{"projection_connected", p->connected()},
                          {"projection_offset", done},
                          {"projection_lag_events", end > done ? end - done : 0}};
    return boost::json::serialize(o);
  };
  gd.started_ms = started_ms;
  gateway = spawn_gateway(*sys, std::move(gd));
  auto port = sys->middleman().publish(gateway, cfg.cluster_port, cfg.http_host.c_str(), true);
  if (!port) {
    *error = "cannot listen on cluster port " + std::to_string(cfg.cluster_port) + ": "
             + to_string(port.error());
    return false;
  }
  if (cluster) {
    if (!cluster->join(error))
      return false;
    cluster->start();
    peer_market = spawn_peer_market_feed(*sys, cluster, market, cfg.admin_secret, name, matcher);
  }
  log::info("cluster_port_open", {{"port", static_cast<unsigned>(cfg.cluster_port)},
                                  {"node", name},
                                  {"mode", cluster ? "cluster" : "embedded"}});
  return true;
}

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
  d.started_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
  bool clustered = !d.cfg.etcd.empty();
  if (clustered && !d.sync_cluster_secrets(error))
    return false;
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
  if (d.cfg.cluster_port != 0) {
    d.sys_cfg->load<caf::io::middleman>();
    // Off by default in CAF 0.17: without them a peer behind a half-open
    // socket is never noticed on the data plane.
    d.sys_cfg->set("middleman.heartbeat-interval", caf::timespan{std::chrono::seconds(1)});
    d.sys_cfg->set("middleman.connection-timeout", caf::timespan{std::chrono::seconds(5)});
  }
  d.sys = std::make_unique<caf::actor_system>(*d.sys_cfg);
  d.sys_for_watchdog.store(d.sys.get());
  if (clustered) {
    d.fence = std::make_shared<persistence::shard_fence>();
    d.routes = std::make_shared<actors::cluster_routes>();
  }
  d.notifier = spawn_notifier(*d.sys, d.store);
  d.market_feed = actors::spawn_market_feed(*d.sys, d.store, d.market);
  if (!d.cfg.postgres_url.empty()) {
    persistence::pg_projection_config pc;
    pc.url = d.cfg.postgres_url;
    // Nodes of a cluster may share one database: each projects its own log
    // under its own offset row (their log offsets are unrelated).
    if (!d.cfg.etcd.empty())
      pc.name = "node:" + d.cfg.node_name;
    d.projector = std::make_unique<persistence::pg_projector>(pc, d.store, d.registry.get());
    d.projector->start();  // connects on its own thread; never blocks the node
  }
  persistence::journal_config jc;
  jc.on_commit = [n = d.notifier, m = d.market_feed, p = d.projector.get(),
                  v = d.valuation_hook](uint64_t next_offset) {
    caf::anon_send(n, log_advanced{next_offset});
    caf::anon_send(m, log_advanced{next_offset});
    {
      std::lock_guard<std::mutex> guard{v->mtx};
      if (v->handle)
        caf::anon_send(v->handle, log_advanced{next_offset});
      if (v->matcher)
        caf::anon_send(v->matcher, log_advanced{next_offset});
    }
    if (p)
      p->notify(next_offset);
  };
  jc.max_batch_events = d.cfg.journal_max_batch;
  jc.max_delay = d.cfg.journal_max_delay;
  jc.fence = d.fence;
  d.journal = persistence::spawn_journal(*d.sys, d.store, jc, d.registry.get());
  actors::entity_env env;
  env.store = d.store;
  env.journal = d.journal;
  env.keys = d.keys;
  env.snapshot_every = d.cfg.snapshot_every;
  env.fence = d.fence;
  env.routes = d.routes;
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
    sd->match_accept_window = d.cfg.match_accept_window;
    sd->fee_bps = d.cfg.fee_bps;
    auto trade_env = env;
    trade_env.settlement = std::move(sd);
    d.trades = actors::spawn_trade_region(*d.sys, trade_env, rc, d.registry.get());
  }
  {
    actors::valuation_service_config vc;
    vc.model_path = d.cfg.model_path;
    vc.models_dir = d.cfg.data_dir + "/models";
    vc.request_timeout = d.cfg.request_timeout;
    vc.journal = d.journal;
    vc.retrain_hour_utc = d.cfg.retrain_hour_utc;
    vc.retrain_interval = d.cfg.retrain_interval;
    vc.retrain_base_sales = d.cfg.retrain_base_sales;
    if (!d.cfg.event_meta_file.empty()) {
      std::ifstream in(d.cfg.event_meta_file);
      if (!in) {
        *error = "cannot open --event-meta " + d.cfg.event_meta_file;
        return false;
      }
      try {
        vc.event_meta = actors::read_event_meta_csv(in, d.cfg.event_meta_file);
      } catch (const actors::valuation_error& e) {
        *error = std::string{"--event-meta: "} + e.what();
        return false;
      }
    }
    d.valuation = actors::spawn_valuation_service(*d.sys, d.store, d.region, std::move(vc));
    actors::matcher_service_config mc;
    mc.round_interval = d.cfg.match_interval;
    mc.match.threads = d.cfg.match_threads;
    mc.request_timeout = d.cfg.request_timeout;
    if (clustered)  // one node proposes: the owner of shard 0
      mc.leads = [slot = d.leader_slot] {
        auto* c = slot->load();
        if (c == nullptr)
          return false;
        auto v = c->view();
        return v.lease_alive && !v.shards.empty() && v.shards[0].owner == v.me;
      };
    d.matcher = actors::spawn_matcher_service(*d.sys, d.store, d.keys, d.trades, d.valuation, mc);
    std::lock_guard<std::mutex> guard{d.valuation_hook->mtx};
    d.valuation_hook->handle = d.valuation;
    d.valuation_hook->matcher = d.matcher;
  }
  actors::timer_service_config tc;
  tc.poll_interval = d.cfg.timer_poll;
  if (d.fence)  // cluster mode: only timers of shards served here fire
    tc.fires = [fence = d.fence](std::string_view entity_id) {
      auto s = shard_of(entity_id);
      return fence->serves(s, fence->epoch(s));
    };
  d.timers = actors::spawn_timer_service(*d.sys, d.store, d.trades, tc, d.registry.get(),
                                         d.valuation);
  if (!d.start_cluster(error))
    return false;
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
  if (d.cfg.market_from_postgres) {
    pg_market_config pm;
    pm.url = d.cfg.postgres_url;
    pm.connections = std::max(1u, d.cfg.io_threads);
    deps.market_db = std::make_shared<pg_market>(std::move(pm));
  }
  deps.journal = d.journal;
  deps.valuation = d.valuation;
  deps.matcher = d.matcher;
  if (d.cluster) {
    deps.cluster_nodes = [c = d.cluster]() {
      boost::json::array arr;
      for (auto& n : c->view().nodes)
        arr.push_back(boost::json::object{{"name", n.name},
                                          {"http", n.http},
                                          {"status", n.live ? "up" : "down"}});
      return boost::json::serialize(arr);
    };
    deps.peers = [c = d.cluster]() {
      edge_deps::peer_set out;
      auto v = c->view();
      for (auto& n : v.nodes) {
        if (n.name == v.me)
          continue;
        auto gw = n.live ? c->peer_gateway(n.name) : std::nullopt;
        if (gw)
          out.gateways.push_back(*gw);
        else
          out.down.push_back(n.name);
      }
      return out;
    };
    deps.home_shards = [c = d.cluster]() { return home_shards(c->view()); };
    deps.cluster_secret = d.cfg.admin_secret;
  }
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

const char* node::stop_step() const { return impl_->stop_step.load(); }

size_t node::running_actors() const {
  auto* sys = impl_->sys_for_watchdog.load();
  return sys ? sys->registry().running() : 0;
}

void node::stop() {
  auto& d = *impl_;
  if (d.stopped)
    return;
  d.stopped = true;
  auto step = [&d](const char* s) { d.stop_step.store(s); };
  step("projector");
  if (d.projector)
    d.projector->stop();  // first: joins its thread (rolls back an open batch)
  if (d.http_edge)
    d.http_edge->set_ready(false);
  step("http_server");
  if (d.server)
    d.server->stop();  // no new requests; replies in flight are dropped with their sockets
  step("password_hasher");
  if (d.hasher)
    d.hasher->shutdown();  // its callbacks call into the edge: finish them first
  step("cluster");
  if (d.cluster)
    d.cluster->stop();  // revokes the lease: peers see our shards down at once
  step("actors");
  if (d.sys) {
    if (d.http_edge)
      d.http_edge->shutdown();
    // Watches the long-lived actors go down, so a stop that hangs says
    // which of them did not (logged before the final wait; see below).
    // Hidden: not counted by await_all_actors_done; gone before it anyway.
    auto watcher_ptr = std::make_unique<caf::scoped_actor>(*d.sys, true);
    auto& watcher = *watcher_ptr;
    std::vector<std::pair<caf::actor_addr, const char*>> alive;
    auto watch = [&](const auto& handle, const char* name) {
      if (!handle)
        return;
      watcher->monitor(handle);
      alive.emplace_back(caf::actor_cast<caf::actor_addr>(handle), name);
    };
    watch(d.timers, "timers");
    watch(d.trades, "trade_region");
    watch(d.payments, "payments");
    watch(d.transfers, "transfers");
    watch(d.wallets, "wallet_region");
    watch(d.region, "ticket_region");
    watch(d.accounts, "account_region");
    watch(d.emails, "email_region");
    watch(d.journal, "journal");
    watch(d.notifier, "notifier");
    watch(d.market_feed, "market_feed");
    watch(d.matcher, "matcher");
    watch(d.valuation, "valuation");
    watch(d.gateway, "cluster_gateway");
    watch(d.peer_market, "peer_market_feed");
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
    step("journal_drain");
    {
      caf::scoped_actor self{*d.sys};
      self->request(d.journal, std::chrono::seconds(10), atoms::stats_atom_v)
        .receive([](journal_stats&) {}, [](caf::error&) {});
    }
    caf::anon_send_exit(d.journal, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.notifier, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.market_feed, caf::exit_reason::user_shutdown);
    {
      std::lock_guard<std::mutex> guard{d.valuation_hook->mtx};
      d.valuation_hook->handle = nullptr;
      d.valuation_hook->matcher = nullptr;
    }
    caf::anon_send_exit(d.matcher, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(d.valuation, caf::exit_reason::user_shutdown);
    if (d.gateway)
      caf::anon_send_exit(d.gateway, caf::exit_reason::user_shutdown);
    if (d.peer_market)
      caf::anon_send_exit(d.peer_market, caf::exit_reason::user_shutdown);
    step("await_named_actors");
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!alive.empty() && std::chrono::steady_clock::now() < until) {
      watcher->receive(
        [&](caf::down_msg& dm) {
          std::erase_if(alive, [&](const auto& a) { return a.first == dm.source; });
        },
        caf::after(std::chrono::milliseconds(250)) >> [] {});
    }
    if (!alive.empty()) {
      std::string names;
      for (const auto& a : alive)
        names += (names.empty() ? "" : ",") + std::string{a.second};
      log::error("shutdown_actors_alive", {{"actors", names}, {"running", running_actors()}});
    }
    watcher_ptr.reset();
    step("await_actors");
    d.sys->await_all_actors_done();
  }
  step("release");
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
  d.valuation = nullptr;
  d.matcher = nullptr;
  d.trades = nullptr;
  d.payments = nullptr;
  d.transfers = nullptr;
  d.wallets = nullptr;
  d.gateway = nullptr;
  d.peer_market = nullptr;
  d.leader_slot->store(nullptr);
  d.cluster.reset();
  d.routes.reset();
  step("actor_system");
  d.sys_for_watchdog.store(nullptr);
  d.sys.reset();
  d.sys_cfg.reset();
  d.projector.reset();  // after the journal: its on_commit holds a pointer
  step("store");
  if (d.store)
    d.store->close();
  step("stopped");
  log::info("node_stopped", {{"data_dir", d.cfg.data_dir}});
}

} // namespace tt::nodes
