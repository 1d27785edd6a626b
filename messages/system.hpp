#pragma once
// Registers Ticket Trader's message types and error category with a CAF
// actor system config. Call once per config before starting the system.

#include "caf/actor_system_config.hpp"

namespace tt {

void init_message_types(caf::actor_system_config& cfg);

} // namespace tt
