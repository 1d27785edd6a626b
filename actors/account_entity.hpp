#pragma once
// The account entity (credentials, refresh-token families) and the email
// index entity (one per normalised email; makes emails unique). Both are
// persistent entities spawned and passivated only by their regions.

#include <string>

#include "actors/entity_env.hpp"
#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace tt::actors {

account_actor spawn_account_entity(caf::actor_system& sys, entity_env_ptr env, std::string id);

email_index_actor spawn_email_index_entity(caf::actor_system& sys, entity_env_ptr env,
                                           std::string id);

} // namespace tt::actors
