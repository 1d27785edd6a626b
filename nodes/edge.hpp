#pragma once
// The HTTP edge: routes REST requests to the actor system and answers
// asynchronously. Lives in the I/O threads of http_server; hands each request
// to one of a few bridge actors (round robin) which `request` the region with a
// finite timeout and post the reply back to the connection. I/O threads never
// block on an actor.

#include <atomic>
#include <chrono>
#include <memory>

#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"
#include "nodes/http_server.hpp"

namespace prometheus {
class Registry;
}

namespace tt::persistence {
class node_keys;
}

namespace tt::nodes {

struct edge_config {
  std::chrono::milliseconds request_timeout{5000};
  unsigned bridges = 4;
};

class edge {
public:
  edge(caf::actor_system& sys, ticket_region_actor region, journal_actor journal,
       std::shared_ptr<const persistence::node_keys> keys,
       std::shared_ptr<prometheus::Registry> registry, edge_config cfg);
  ~edge();

  /// The http_handler: called on an I/O thread.
  void handle(http_request& req, http_responder respond);

  /// /healthz answers 200 only after this.
  void set_ready(bool ready);

  /// Stops the bridge actors (call after the HTTP server stopped).
  void shutdown();

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tt::nodes
