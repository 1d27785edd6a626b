#pragma once
// Spawning the node's regions (one per entity kind); see region.hpp for the
// routing, passivation and supervision contract.

#include <chrono>

#include "actors/entity_env.hpp"
#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace prometheus {
class Registry;
}

namespace tt::actors {

struct region_config {
  std::chrono::milliseconds idle_timeout{std::chrono::minutes{2}};
  /// How often idle entities are looked for; 0: never (deterministic tests
  /// whose simulated clock would otherwise fire the sweep forever).
  std::chrono::milliseconds sweep_interval{std::chrono::seconds{1}};
  /// Cluster mode: commands this region forwards to one peer node and that
  /// are not answered yet, at most this many; beyond it a command is refused
  /// at once (unavailable: 503 at the edge) instead of queueing without bound
  /// behind a slow peer.
  size_t remote_window = 2048;
  /// A forwarded command not answered within this time is answered
  /// unavailable (and frees its place in the window). 0: no timeout (for
  /// deterministic tests, whose simulated clock fires every timeout).
  std::chrono::milliseconds remote_timeout{std::chrono::seconds{10}};
};

ticket_region_actor spawn_ticket_region(caf::actor_system& sys, entity_env env,
                                        const region_config& cfg, prometheus::Registry* metrics);

account_region_actor spawn_account_region(caf::actor_system& sys, entity_env env,
                                          const region_config& cfg, prometheus::Registry* metrics);

email_index_region_actor spawn_email_index_region(caf::actor_system& sys, entity_env env,
                                                  const region_config& cfg,
                                                  prometheus::Registry* metrics);

wallet_region_actor spawn_wallet_region(caf::actor_system& sys, entity_env env,
                                        const region_config& cfg, prometheus::Registry* metrics);

/// `env.settlement` must be set (the trade saga's dependencies).
trade_region_actor spawn_trade_region(caf::actor_system& sys, entity_env env,
                                      const region_config& cfg, prometheus::Registry* metrics);

} // namespace tt::actors
