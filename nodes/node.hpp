#pragma once
// One Ticket Trader node: the store, the journal, the ticket region, the edge
// and its HTTP server, wired together. Used by tt-node's main and by tests that
// want a whole node in one process.

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tt::nodes {

struct node_config {
  std::string data_dir = "./data";
  std::string http_host = "127.0.0.1";
  uint16_t http_port = 8080;
  unsigned io_threads = 2;
  unsigned scheduler_threads = 2;
  /// "sharing" (one queue, workers sleep on a condition variable) or
  /// "stealing" (CAF's default: per-worker queues, idle workers poll).
  std::string scheduler_policy = "sharing";
  size_t body_limit = 64 * 1024;
  uint32_t snapshot_every = 64;
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{2}};
  std::chrono::milliseconds request_timeout{5000};
  size_t journal_max_batch = 4096;
  std::chrono::microseconds journal_max_delay{0};
  bool sync = true;  // fsync each batch; only benchmarks of the edge alone may turn this off
  bool rate_limits = true;
  std::chrono::seconds access_token_ttl{15 * 60};
  unsigned hash_threads = 1;      // argon2id runs here, never on I/O or actor threads
  uint64_t argon2_ops = 2;        // OWASP minimum for argon2id: t=2
  size_t argon2_mem_mib = 19;     // OWASP minimum for argon2id: m=19 MiB
  std::vector<std::string> cors_origins;
  std::string tls_cert_file;  // PEM; with tls_key_file: HTTPS/WSS only
  std::string tls_key_file;
  /// Settlement: how long a trade waits for acceptance and deposits, the
  /// platform fee on net cash (basis points), and accounts (by email) whose
  /// logins get the admin role (dispute resolution, the ledger audit).
  std::chrono::milliseconds commit_window{std::chrono::hours{24}};
  /// A matched trade waits this long for every acceptance (see settlement_deps).
  std::chrono::milliseconds match_accept_window{std::chrono::hours{1}};
  uint32_t fee_bps = 0;
  std::vector<std::string> admin_emails;
  std::vector<std::string> analytics_emails;  // logins get the analytics role (event feed)
  std::chrono::milliseconds timer_poll{500};
  /// PostgreSQL projections (libpq URL or key=value string); empty: off.
  std::string postgres_url;
  /// GET /api/v1/marketplace from the in-memory index (false, the default)
  /// or from the PostgreSQL projection (needs postgres_url; nodes/pg_market).
  bool market_from_postgres = false;
  /// The cluster port (CAF middleman): peers and tt-admin connect here. 0:
  /// none (an embedded node without it has no admin shell).
  uint16_t cluster_port = 0;
  std::string cluster_host;  // advertised; default: http_host
  /// Cluster mode (issue #5) when non-empty: etcd endpoints and this node's
  /// unique name; without them the node owns all 256 shards.
  std::vector<std::string> etcd;
  std::string node_name;
  std::string etcd_prefix = "/tt/";
  unsigned cluster_size = 1;
  int64_t lease_ttl_s = 3;
  /// The cluster's admin secret (tt-admin and node-to-node hellos).
  std::string admin_secret;
  /// Valuation (docs/valuation.md "In the node"): the model file; empty: the
  /// newest `*.model` in `<data-dir>/models/`. Loaded in the background; the
  /// node serves without one (valuations answer 503 no_model).
  std::string model_path;
  /// Matching (docs/matching.md): a round over all open offers this often;
  /// 0: only on demand (tt-admin match).
  std::chrono::milliseconds match_interval{5000};
  /// Threads a matching round uses (the matcher's own thread is one).
  size_t match_threads = 2;
  /// Nightly retrain (docs/valuation.md): at this UTC hour, or every
  /// `retrain_interval` if non-zero; on a synthetic base market of
  /// `retrain_base_sales` rows plus every sale in the log.
  int retrain_hour_utc = 3;
  std::chrono::seconds retrain_interval{0};
  size_t retrain_base_sales = 20'000;
  /// Optional CSV of event metadata listings do not carry (team/opponent
  /// rank, demand score); empty: none. A bad file fails start().
  std::string event_meta_file;
};

class node {
public:
  explicit node(node_config cfg);
  ~node();

  /// Opens storage, starts actors and the HTTP server. False + `error` on failure.
  bool start(std::string* error);

  /// The bound HTTP port.
  uint16_t http_port() const;

  /// Blocks until SIGINT/SIGTERM or request_stop().
  void wait();
  void request_stop();

  /// Stops HTTP, actors, and closes the store (flushes). Idempotent.
  void stop();

  /// The phase stop() is in ("running" before, "stopped" after); any thread
  /// may read it (tt-node's shutdown watchdog names the phase that stalled).
  const char* stop_step() const;
  /// Actors the CAF registry counts as running (0 without an actor system);
  /// any thread may call it (the watchdog logs it with the phase).
  size_t running_actors() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tt::nodes
