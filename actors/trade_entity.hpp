#pragma once
// The trade entity: one actor per trade, the settlement saga (trade_model has
// the status graph). Spawned and passivated by the trade region only; needs
// `entity_env::settlement`.

#include <string>

#include "actors/entity_env.hpp"
#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace tt::actors {

trade_actor spawn_trade_entity(caf::actor_system& sys, entity_env_ptr env, std::string id);

} // namespace tt::actors
