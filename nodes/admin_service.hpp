#pragma once
// The node's gateway on the cluster port (CAF middleman): peers fetch this
// node's region handles (`cluster_hello`); tt-admin runs commands
// (`admin_command`). Both must present the cluster's admin secret; anything
// else is refused with errc::forbidden and logged.
//
// Commands (args[0]): help, nodes, shards, entity show KIND ID, entity events
// KIND ID [--from SEQ], snapshot KIND ID, passivate KIND ID, timers [--due],
// stats, config, model reload [PATH]. Replies are JSON documents (tt-admin renders tables).

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "caf/fwd.hpp"
#include "messages/cluster_regions.hpp"

namespace tt::persistence {
class event_store;
}

namespace tt::nodes {

class cluster_member;

struct gateway_deps {
  std::string secret;  // empty: every request is refused
  std::string node_name;
  std::string node_id;
  std::string http_address;
  std::string cluster_address;
  node_regions regions;  // this node's regions
  std::shared_ptr<const persistence::event_store> store;
  journal_actor journal;
  /// `model reload [PATH]`: the node's valuation service (may be null).
  valuation_service_actor valuation;
  /// `stats` shows its counters (may be null).
  matcher_service_actor matcher;
  /// Cluster mode only; null on an embedded node (one node, every shard).
  std::shared_ptr<cluster_member> cluster;
  std::string config_json;  // the effective configuration, secrets redacted
  /// Extra `stats` fields as a JSON object text (e.g. the PostgreSQL
  /// projection's lag); called on the gateway's thread. May be empty.
  std::function<std::string()> extra_stats;
  int64_t started_ms = 0;   // wall clock
};

cluster_gateway_actor spawn_gateway(caf::actor_system& sys, gateway_deps deps);

/// Constant-time comparison of secrets.
bool secret_equal(const std::string& a, const std::string& b);

} // namespace tt::nodes
