#pragma once
// The ticket entity: one actor per ticket, event-sourced on the persistent
// entity base. Spawned (lazily initialised) and passivated by the ticket
// region only; nobody else holds its handle.

#include <string>

#include "actors/entity_env.hpp"
#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace tt::actors {

/// Spawns the entity for `id`; it recovers from the store when it runs first.
ticket_actor spawn_ticket_entity(caf::actor_system& sys, entity_env_ptr env, std::string id);

} // namespace tt::actors
