#pragma once
// The wallet entity: one actor per account's wallet, event-sourced on the
// persistent entity base (wallet_model holds the rules). Spawned and
// passivated by the wallet region only.

#include <string>

#include "actors/entity_env.hpp"
#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace tt::actors {

wallet_actor spawn_wallet_entity(caf::actor_system& sys, entity_env_ptr env, std::string id);

} // namespace tt::actors
