#pragma once
// The matcher service (issue #7, seed §3.3, §11.1): turns open swap offers
// into system-proposed trades.
//
// Contract. One per node, event-based. It follows the node's global log from
// offset 1 (the journal's `log_advanced` wakes it) and keeps, per ticket, what
// matching needs: owner, status, event/category/venue, currency, the last
// recorded valuation (`ticket_valued`) and the open offer (`ticket_offered`
// until `ticket_offer_closed`, a withdrawal or a transfer). An offer is in the
// offer book of its currency while it is open, the ticket is `listed`, it has
// a credit, and no matched trade of it is open (`trade_matched` until that
// trade's final status).
//
// Every `round_interval` (and on `run_match_round`) it
//   1. asks the valuation service to value offered tickets that have no
//      credit yet (at most `valuations_per_round`; the `ticket_valued` events
//      bring the credits back through the log);
//   2. runs `matching::offer_book::run_round()` on each book (2-way pass,
//      then 3-cycles among the rest);
//   3. sends each match to the trade region as `propose_match` under a trade
//      id derived from the offers and their versions, so proposing the same
//      match again (a crash, a retry) is the same trade.
// The matched offers stay excluded until the log shows the trade; a refused
// proposal puts them back for the next round.
//
// Cluster mode: the peer feed forwards every peer's log (`peer_log_events`),
// so each node's matcher knows every offer; only the node that `leads` (the
// owner of shard 0) runs the periodic rounds, and its proposals route to the
// trade's owner like any command.

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "actors/matcher.hpp"
#include "messages/interfaces.hpp"

namespace tt::persistence {
class event_store;
class node_keys;
} // namespace tt::persistence

namespace caf {
class actor_system;
}

namespace tt::actors {

/// The matcher's 8 taste dimensions (offer "weights" keys); a ticket's trait
/// is its category's dimension.
inline constexpr const char* taste_dimensions[matching::pref_dims]
  = {"basketball", "football", "baseball", "hockey", "soccer", "music", "stage", "family"};

/// The taste dimension of a category (index into taste_dimensions), or -1.
int taste_dimension_of(std::string_view category);

struct matcher_service_config {
  std::chrono::milliseconds round_interval{5000};  // 0: only on run_match_round
  matching::match_config match;
  size_t valuations_per_round = 256;
  size_t feed_chunk = 4096;  // log events per message while catching up
  std::chrono::milliseconds request_timeout{5000};
  /// Whether this node runs the periodic rounds (cluster mode: the owner of
  /// shard 0; every node follows every log, one proposes). Empty: always.
  /// Rounds on demand (`run_match_round`) run regardless.
  std::function<bool()> leads;
};

matcher_service_actor spawn_matcher_service(caf::actor_system& sys,
                                            std::shared_ptr<const persistence::event_store> store,
                                            std::shared_ptr<const persistence::node_keys> keys,
                                            trade_region_actor trades,
                                            valuation_service_actor valuation,
                                            matcher_service_config cfg);

} // namespace tt::actors
