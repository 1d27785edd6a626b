#pragma once
// The HTTP edge: routes REST requests to the actor system and answers
// asynchronously. Lives in the I/O threads of http_server; hands each request
// to one of a few bridge actors (round robin) which `request` the regions with
// a finite timeout and post the reply back to the connection. I/O threads
// never block on an actor or on password hashing.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "caf/fwd.hpp"
#include "messages/cluster_regions.hpp"
#include "messages/interfaces.hpp"
#include "nodes/http_server.hpp"

namespace prometheus {
class Registry;
}

namespace tt::actors {
class market_index;
}

namespace tt::persistence {
class event_store;
class node_keys;
} // namespace tt::persistence

namespace tt::nodes {

class pg_market;

class jwt_keyring;
class password_hasher;
class rate_limiter;
struct rate_limit_config;

struct edge_config {
  std::chrono::milliseconds request_timeout{5000};
  unsigned bridges = 4;
  std::chrono::seconds access_token_ttl{15 * 60};
  /// Origins allowed to call the API from a browser (exact match, e.g.
  /// "https://app.example.com"); "*" allows any origin.
  std::vector<std::string> cors_origins;
  /// Accounts (normalised emails) whose logins carry the admin role.
  std::vector<std::string> admin_emails;
  /// Accounts whose logins carry the analytics role (the event feed).
  std::vector<std::string> analytics_emails;
};

/// Everything the edge talks to; built by the node.
struct edge_deps {
  ticket_region_actor tickets;
  account_region_actor accounts;
  email_index_region_actor emails;
  wallet_region_actor wallets;
  trade_region_actor trades;
  transfer_adapter_actor transfers;
  std::shared_ptr<const persistence::event_store> store;  // read-only queries (indexes)
  std::shared_ptr<const persistence::node_keys> keys;
  std::shared_ptr<const jwt_keyring> jwt;
  std::shared_ptr<password_hasher> hasher;
  std::shared_ptr<rate_limiter> limiter;
  std::shared_ptr<const rate_limit_config> limits;
  std::shared_ptr<prometheus::Registry> registry;
  notifier_actor notifier;
  std::shared_ptr<const actors::market_index> market;  // GET /api/v1/marketplace
  /// Set: the marketplace reads PostgreSQL instead (--marketplace-source).
  std::shared_ptr<pg_market> market_db;
  journal_actor journal;  // consumer offsets (index-only appends)
  valuation_service_actor valuation;  // GET /api/v1/tickets/{id}/valuation
  matcher_service_actor matcher;      // POST /api/v1/admin/matcher/rounds
  /// GET /api/v1/cluster/nodes: the cluster's nodes as a JSON array text
  /// ([{"name","http","status"}]); thread-safe. Unset: this node alone.
  std::function<std::string()> cluster_nodes;
  /// Cluster mode: the other nodes' gateways, for lists whose rows live on
  /// every node (/me/tickets, /me/trades, /me/offers, disputes): `down`
  /// names the nodes without one (then such a list answers 503). Unset:
  /// this node alone.
  struct peer_set {
    std::vector<cluster_gateway_actor> gateways;
    std::vector<std::string> down;
  };
  std::function<peer_set()> peers;
  /// Cluster mode: the shards whose index rows this node contributes to
  /// those lists (their home is this node; 256 entries). Unset: all.
  std::function<std::vector<bool>()> home_shards;
  std::string cluster_secret;
};

/// One row of the route table (also the source of truth the OpenAPI test
/// compares against).
struct route_info {
  std::string_view method;
  std::string_view pattern;  // "{id}" matches one path segment
  bool auth;                 // needs a valid access token
  std::string_view summary;
};

/// The OpenAPI 3 document (nodes/openapi.json, compiled in).
std::string_view openapi_document();

class edge {
public:
  edge(caf::actor_system& sys, edge_deps deps, edge_config cfg);
  ~edge();

  /// The http_handler: called on an I/O thread.
  void handle(http_request& req, http_responder respond);

  /// /healthz answers 200 only after this.
  void set_ready(bool ready);

  /// Stops the bridge actors (call after the HTTP server stopped).
  void shutdown();

  static const std::vector<route_info>& routes();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tt::nodes
