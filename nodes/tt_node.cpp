// tt-node: one Ticket Trader node with the HTTP edge and embedded storage.
#include <CLI/CLI.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <fstream>

#include <cctype>
#include <cstdio>
#include <iostream>

#include "messages/log.hpp"
#include "nodes/etcd_client.hpp"
#include "nodes/node.hpp"

// jemalloc's start-up options for tt-node (MALLOC_CONF in the environment
// overrides them; MALLOC_CONF=thp:default turns this off). A node's heap only
// grows while it lists tickets (entities, memtables), and on the virtual
// machines measured here every fresh 4 KiB page is a costly fault (~1.3 per
// durable listing); transparent huge pages for the heap cut the node's page
// faults ~30x and its CPU per listing by ~10 % (bench/http/README.md).
extern "C" {
const char* malloc_conf = "thp:always,metadata_thp:always";
}

int main(int argc, char** argv) {
  tt::nodes::node_config cfg;
  CLI::App app{"tt-node: a Ticket Trader node (event-sourced actors, RocksDB journal, HTTP edge)"};
  app.set_config("--config", "", "read options from a TOML/INI file (keys as in config/tt-node.toml)");
  app.add_option("--data-dir", cfg.data_dir, "directory for the journal, snapshots and node key")
    ->capture_default_str();
  app.add_option("--http-host", cfg.http_host, "address the HTTP edge listens on")->capture_default_str();
  app.add_option("--http-port", cfg.http_port, "HTTP port (0: pick a free one)")->capture_default_str();
  app.add_option("--io-threads", cfg.io_threads, "HTTP I/O threads")->capture_default_str();
  app.add_option("--scheduler-threads", cfg.scheduler_threads, "CAF scheduler threads")
    ->capture_default_str();
  app.add_option("--scheduler-policy", cfg.scheduler_policy,
                 "sharing (workers sleep when idle) or stealing (CAF default, idle workers poll)")
    ->check(CLI::IsMember({"sharing", "stealing"}))
    ->capture_default_str();
  app.add_option("--body-limit", cfg.body_limit, "largest accepted request body in bytes")
    ->capture_default_str();
  app.add_option("--snapshot-every", cfg.snapshot_every, "snapshot an entity every N events")
    ->capture_default_str();
  int64_t idle_ms = cfg.idle_timeout.count();
  app.add_option("--idle-timeout-ms", idle_ms, "passivate entities idle this long")->capture_default_str();
  int64_t req_ms = cfg.request_timeout.count();
  app.add_option("--request-timeout-ms", req_ms, "edge -> actor request timeout")->capture_default_str();
  app.add_option("--journal-max-batch", cfg.journal_max_batch, "most events per group commit")
    ->capture_default_str();
  int64_t delay_us = cfg.journal_max_delay.count();
  app.add_option("--journal-max-delay-us", delay_us,
                 "let a batch wait this long for more appends (0: write when the mailbox is empty)")
    ->capture_default_str();
  app.add_flag("!--no-rate-limits", cfg.rate_limits,
               "turn the per-IP and per-account rate limits off (load tests, benches)");
  int64_t ttl_s = cfg.access_token_ttl.count();
  app.add_option("--access-token-ttl-s", ttl_s, "lifetime of access tokens (JWT)")->capture_default_str();
  app.add_option("--hash-threads", cfg.hash_threads, "threads for argon2id password hashing")
    ->capture_default_str();
  app.add_option("--argon2-ops", cfg.argon2_ops, "argon2id passes (libsodium opslimit)")
    ->capture_default_str();
  app.add_option("--argon2-mem-mib", cfg.argon2_mem_mib, "argon2id memory per hash in MiB")
    ->capture_default_str();
  app.add_option("--cors-origin", cfg.cors_origins,
                 "browser origin allowed to call the API (repeatable; * for any)");
  auto* cert = app.add_option("--tls-cert", cfg.tls_cert_file, "PEM certificate chain: serve HTTPS/WSS");
  auto* key = app.add_option("--tls-key", cfg.tls_key_file, "PEM private key for --tls-cert");
  cert->needs(key);
  key->needs(cert);
  int64_t commit_window_s = cfg.commit_window.count() / 1000;
  app.add_option("--commit-window-s", commit_window_s,
                 "a trade not accepted and fully deposited this long expires (holds released)")
    ->check(CLI::Range(int64_t{1}, int64_t{90} * 24 * 3600))
    ->capture_default_str();
  int64_t match_accept_s = cfg.match_accept_window.count() / 1000;
  app.add_option("--match-accept-window-s", match_accept_s,
                 "a matched trade (proposed by the matcher) not accepted by every party this long "
                 "expires (holds released); the deposits then get --commit-window-s")
    ->check(CLI::Range(int64_t{1}, int64_t{90} * 24 * 3600))
    ->capture_default_str();
  app.add_option("--fee-bps", cfg.fee_bps, "platform fee on a trade's net cash, basis points")
    ->check(CLI::Range(0u, 10000u))
    ->capture_default_str();
  app.add_option("--admin-email", cfg.admin_emails,
                 "account email whose logins get the admin role (repeatable)");
  app.add_option("--analytics-email", cfg.analytics_emails,
                 "account email whose logins get the analytics role: the event feed (repeatable)");
  int64_t timer_poll_ms = cfg.timer_poll.count();
  app.add_option("--timer-poll-ms", timer_poll_ms, "how often durable timers are checked")
    ->check(CLI::Range(int64_t{10}, int64_t{60000}))
    ->capture_default_str();
  app.add_option("--postgres", cfg.postgres_url,
                 "project the event log into this PostgreSQL 15 database (libpq URL, e.g. "
                 "postgresql://user@host:5432/db); off when empty");
  std::string market_source = "memory";
  app.add_option("--marketplace-source", market_source,
                 "where GET /api/v1/marketplace reads: memory (the in-memory index) or postgres "
                 "(the --postgres projection; same pages, as of the projected log)")
    ->check(CLI::IsMember({"memory", "postgres"}))
    ->capture_default_str();
  std::string etcd_list;
  std::string admin_secret_file;
  app.add_option("--cluster-port", cfg.cluster_port,
                 "CAF middleman port for peers and tt-admin (0: none; required with --etcd)");
  app.add_option("--cluster-host", cfg.cluster_host,
                 "host peers reach the cluster port at (default: --http-host)");
  app.add_option("--node-name", cfg.node_name, "this node's unique, stable name (cluster mode)");
  app.add_option("--etcd", etcd_list,
                 "join a cluster coordinated by etcd: http://HOST:PORT[,http://HOST:PORT...]");
  app.add_option("--etcd-prefix", cfg.etcd_prefix, "key prefix in etcd")->capture_default_str();
  app.add_option("--cluster-size", cfg.cluster_size,
                 "assign shard homes once this many nodes have joined")
    ->capture_default_str();
  app.add_option("--lease-ttl-s", cfg.lease_ttl_s, "etcd lease TTL; a dead node's shards answer "
                                                   "503 once it expires")
    ->check(CLI::Range(int64_t{1}, int64_t{60}))
    ->capture_default_str();
  app.add_option("--admin-secret-file", admin_secret_file,
                 "file with the cluster's admin secret (else env TT_ADMIN_SECRET)");
  app.add_option("--model", cfg.model_path,
                 "valuation model file written by tt-train (default: the newest *.model in "
                 "<data-dir>/models/; without one valuations answer 503 no_model)");
  app.add_option("--event-meta", cfg.event_meta_file,
                 "CSV of event metadata listings do not carry: "
                 "event_id,team_rank,opponent_rank,demand_score (docs/valuation.md)")
    ->check(CLI::ExistingFile);
  int64_t match_ms = cfg.match_interval.count();
  app.add_option("--match-interval-ms", match_ms,
                 "run a matching round over all open offers this often (0: only on demand)")
    ->check(CLI::Range(int64_t{0}, int64_t{3'600'000}))
    ->capture_default_str();
  app.add_option("--match-threads", cfg.match_threads,
                 "threads a matching round uses (same result for any count)")
    ->check(CLI::Range(size_t{1}, size_t{64}))
    ->capture_default_str();
  app.add_option("--retrain-hour-utc", cfg.retrain_hour_utc,
                 "nightly valuation retrain at this hour (UTC), a durable timer")
    ->check(CLI::Range(0, 23))
    ->capture_default_str();
  int64_t retrain_s = 0;
  app.add_option("--retrain-interval-s", retrain_s,
                 "retrain every N seconds instead of nightly (0: nightly)")
    ->check(CLI::Range(int64_t{0}, int64_t{30} * 86400));
  app.add_option("--retrain-base-sales", cfg.retrain_base_sales,
                 "rows of the synthetic base market a retrain adds to the log's sales")
    ->check(CLI::Range(size_t{0}, size_t{2'000'000}))
    ->capture_default_str();
  std::string log_level = "info";
  unsigned stop_timeout_s = 15;
  app.add_option("--stop-timeout-s", stop_timeout_s,
                 "after SIGTERM, exit anyway when shutdown takes longer (0: wait forever); "
                 "acknowledged events are on disk already")
    ->capture_default_str();
  app.add_option("--log-level", log_level, "debug|info|warn|error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  cfg.market_from_postgres = market_source == "postgres";
  if (cfg.market_from_postgres && cfg.postgres_url.empty()) {
    std::fprintf(stderr, "tt-node: --marketplace-source postgres needs --postgres\n");
    return 2;
  }
  if (cfg.market_from_postgres && !etcd_list.empty()) {
    // The projection holds this node's log only; the in-memory index also
    // follows every peer's log, so in a cluster only it has every listing.
    std::fprintf(stderr,
                 "tt-node: --marketplace-source postgres serves one node's listings only; in a "
                 "cluster (--etcd) the marketplace is served from memory (it follows every "
                 "node's log)\n");
    return 2;
  }
  if (!admin_secret_file.empty()) {
    std::ifstream in(admin_secret_file);
    if (!in || !std::getline(in, cfg.admin_secret) || cfg.admin_secret.empty()) {
      std::fprintf(stderr, "tt-node: cannot read an admin secret from %s\n",
                   admin_secret_file.c_str());
      return 2;
    }
  } else if (const char* env = std::getenv("TT_ADMIN_SECRET")) {
    cfg.admin_secret = env;
  }
  if (!etcd_list.empty()) {
    std::string err;
    if (!tt::nodes::etcd_client::parse_endpoints(etcd_list, &cfg.etcd, &err)) {
      std::fprintf(stderr, "tt-node: --etcd: %s\n", err.c_str());
      return 2;
    }
    if (cfg.node_name.empty() || cfg.cluster_port == 0) {
      std::fprintf(stderr, "tt-node: --etcd needs --node-name and --cluster-port\n");
      return 2;
    }
  }
  if (cfg.cluster_port != 0 && cfg.admin_secret.size() < 16) {
    std::fprintf(stderr, "tt-node: the cluster port needs an admin secret of at least 16 "
                         "characters (TT_ADMIN_SECRET or --admin-secret-file)\n");
    return 2;
  }
  cfg.idle_timeout = std::chrono::milliseconds(idle_ms);
  cfg.request_timeout = std::chrono::milliseconds(req_ms);
  cfg.match_interval = std::chrono::milliseconds(match_ms);
  cfg.retrain_interval = std::chrono::seconds(retrain_s);
  cfg.journal_max_delay = std::chrono::microseconds(delay_us);
  cfg.access_token_ttl = std::chrono::seconds(ttl_s);
  cfg.commit_window = std::chrono::milliseconds(commit_window_s * 1000);
  cfg.match_accept_window = std::chrono::milliseconds(match_accept_s * 1000);
  cfg.timer_poll = std::chrono::milliseconds(timer_poll_ms);
  for (auto* list : {&cfg.admin_emails, &cfg.analytics_emails})
    for (auto& e : *list)
      for (auto& ch : e)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  if (log_level == "debug")
    tt::log::set_min_level(tt::log::level::debug);
  else if (log_level == "warn")
    tt::log::set_min_level(tt::log::level::warn);
  else if (log_level == "error")
    tt::log::set_min_level(tt::log::level::error);

  tt::nodes::node n{cfg};
  std::string error;
  if (!n.start(&error)) {
    tt::log::error("node_start_failed", {{"error", error}});
    std::fprintf(stderr, "tt-node: %s\n", error.c_str());
    return 1;
  }
  std::printf("tt-node ready: %s://%s:%u (data dir %s)\n",
              cfg.tls_cert_file.empty() ? "http" : "https", cfg.http_host.c_str(),
              static_cast<unsigned>(n.http_port()), cfg.data_dir.c_str());
  std::fflush(stdout);
  n.wait();
  // Shutdown watchdog: a clean stop finishes in well under a second; if a
  // phase stalls, name it and exit. Every acknowledged event is fsync'd, so
  // leaving now is no worse than a crash (which recovery handles).
  static std::atomic<const tt::nodes::node*> stopping{nullptr};
  stopping = &n;
  if (stop_timeout_s > 0)
    std::thread([stop_timeout_s] {
      std::this_thread::sleep_for(std::chrono::seconds(stop_timeout_s));
      auto* node = stopping.load();
      tt::log::error("shutdown_stalled",
                     {{"phase", node ? node->stop_step() : "process_exit"},
                      {"running_actors", static_cast<uint64_t>(node ? node->running_actors() : 0)},
                      {"after_s", static_cast<uint64_t>(stop_timeout_s)}});
      std::_Exit(0);
    }).detach();
  n.stop();
  stopping = nullptr;
  return 0;
}
