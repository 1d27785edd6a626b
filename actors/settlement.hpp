#pragma once
// Settlement services of a node: the trade entity's dependencies, the
// built-in ledger payment provider, the escrow upload transfer adapter and
// the timer service (the saga supervisor).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace prometheus {
class Registry;
}

namespace tt::persistence {
class event_store;
}

namespace tt::actors {

/// What a trade entity talks to and how long it waits. Built by the node.
struct settlement_deps {
  ticket_region_actor tickets;          // holds, releases, lookups
  transfer_adapter_actor transfers;     // deposits (validate) and transfers
  payment_provider_actor payments;      // cash holds, captures, cancels
  /// How long a trade may wait for acceptance and deposits (CashorTrade's
  /// commit window); then it expires and every hold is released.
  std::chrono::milliseconds commit_window{std::chrono::hours{24}};
  /// A trade the matcher proposes waits this long for every party to accept
  /// (then it expires and releases what the others hold); the last
  /// acceptance gives the deposits a full commit_window from then on.
  std::chrono::milliseconds match_accept_window{std::chrono::hours{1}};
  /// Platform fee on the net cash of a trade, in basis points (default 0).
  uint32_t fee_bps = 0;
  /// Timeout of one saga step (a request to a ticket or the provider).
  std::chrono::milliseconds step_timeout{std::chrono::seconds{10}};
};

/// The built-in payment provider: PaymentIntents against the wallets
/// (authorize = hold, capture = move the held cash to escrow and pay the
/// payee, cancel = release). Stateless: the wallets hold the state, keyed by
/// intent id, so every call is idempotent.
payment_provider_actor spawn_ledger_provider(caf::actor_system& sys, wallet_region_actor wallets);

/// The escrow upload adapter: validate = the owner uploads the barcode and it
/// must match the listed one; transfer = ownership moves in the ticket entity.
transfer_adapter_actor spawn_escrow_upload_adapter(caf::actor_system& sys,
                                                   ticket_region_actor tickets);

struct timer_service_config {
  std::chrono::milliseconds poll_interval{500};
  /// Whether an entity's timers fire on this node (cluster mode: its shard
  /// is served here; timers another node's move left behind never fire).
  /// Unset: all.
  std::function<bool(std::string_view entity_id)> fires;
  size_t max_in_flight = 256;
  std::chrono::milliseconds wake_timeout{std::chrono::seconds{30}};
};

/// Polls the store's durable timers and wakes the trade each one names (the
/// trade region starts passivated trades). Trades in a working state keep a
/// re-drive timer, so this is also the supervisor that finishes sagas after
/// a crash or a stuck step. One timer per trade is in flight at a time.
timer_service_actor spawn_timer_service(caf::actor_system& sys,
                               std::shared_ptr<const persistence::event_store> store,
                               trade_region_actor trades, timer_service_config cfg,
                               prometheus::Registry* metrics,
                               valuation_service_actor valuation = {});

} // namespace tt::actors
