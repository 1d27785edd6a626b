#pragma once
// Cluster mode: keeps this node's marketplace index complete by following
// every peer's global log (through the peers' gateways, `read_log_page`), so
// GET /api/v1/marketplace on any node lists the tickets of every node.
//
// Contract: one actor per node, spawned after the cluster member joined. It
// polls each live peer every 250 ms (immediately again while a peer has more)
// with at most one request in flight per peer, applies ticket events with
// offset 0 (peers' offsets never move this node's own feed position), and
// restarts from offset 1 if a peer's log is shorter than its position (a
// wiped data dir). Events of a shard that moved appear in two logs (history
// on the old owner, newer events on the new one); they are applied in each
// log's order, which is exact unless both logs are read out of order right
// after a move (documented limitation).

#include <memory>
#include <string>

#include "caf/fwd.hpp"
#include "messages/cluster_regions.hpp"
#include "messages/interfaces.hpp"

namespace tt::actors {
class market_index;
}

namespace tt::nodes {

class cluster_member;

using peer_feed_actor = caf::typed_actor<caf::reacts_to<atoms::sweep_atom>>;

/// `matcher` (if set) gets every page's events too (`peer_log_events`).
peer_feed_actor spawn_peer_market_feed(caf::actor_system& sys,
                                       std::shared_ptr<cluster_member> cluster,
                                       std::shared_ptr<actors::market_index> index,
                                       std::string secret, std::string me,
                                       matcher_service_actor matcher = {});

} // namespace tt::nodes
