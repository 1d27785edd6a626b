#pragma once
// The ticket region of one node: ticket id -> shard (stable hash, 256 shards)
// -> entity actor, started on first message, passivated when idle, restarted
// from the journal after a failure.
//
// Contract: the only way to reach a ticket entity. Commands are forwarded with
// `delegate`, so the entity answers the original requester directly. While an
// entity is passivating, commands for it wait in the region and go to its
// successor once the old actor is down, so no two actors ever serve one
// entity. Entities are grouped per shard so a shard can be handed off later.

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
  std::chrono::milliseconds sweep_interval{std::chrono::seconds{1}};
};

ticket_region_actor spawn_ticket_region(caf::actor_system& sys, entity_env env, region_config cfg,
                                        prometheus::Registry* metrics);

} // namespace tt::actors
