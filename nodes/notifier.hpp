#pragma once
// The notifier: fans committed events out to live subscribers (WebSockets).
//
// Contract: the journal tells it the new end of the log after every batch
// (`log_advanced`). While anyone is subscribed it reads the new events from
// the store (thread-safe reads), decodes them, and pushes each to the sinks of
// the accounts it concerns. A subscription with `since` first replays
// committed events from that offset (bounded by `max_replay`; past that the
// client is told to resync). Sinks are held weakly; dead sinks are dropped.

#include <memory>

#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace tt::persistence {
class event_store;
}

namespace tt::nodes {

struct notifier_config {
  size_t max_replay = 100000;  // events scanned for one `since` replay
};

notifier_actor spawn_notifier(caf::actor_system& sys,
                              std::shared_ptr<const persistence::event_store> store,
                              notifier_config cfg = {});

} // namespace tt::nodes
