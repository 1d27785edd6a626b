#pragma once
// The trade's state machine (the settlement saga's memory), free of actors.
//
// Status graph (seed §3.4, §9):
//   proposing -> proposed -> accepted -> in_escrow -> transferring -> completed
//   proposing -> releasing(rejected)            holds of the proposer failed
//   proposed  -> releasing(declined|cancelled|expired)
//   accepted, in_escrow -> releasing(cancelled|expired), disputed
//   disputed  -> releasing(refunded) | transferring   (an operator decides)
//   releasing(T) -> T                           every hold released
// `proposing`, `transferring` and `releasing` are the saga's working states:
// the trade entity drives their steps (all idempotent, keyed by the trade id)
// and a durable timer re-drives them after a crash. The waiting states carry
// a timer at the commit-window deadline (expiry).

#include <string>
#include <vector>

#include "messages/events.hpp"
#include "messages/settlement.hpp"

namespace tt::actors {

struct trade_model {
  static constexpr entity_kind kind = entity_kind::trade;
  /// A working state untouched this long is re-driven by the timer service.
  static inline int64_t redrive_after_ms = 3000;

  std::string id;
  bool exists = false;
  trade_state state;

  void apply(const event_envelope& ev);
  bool restore(const snapshot_envelope& snap);
  snapshot_envelope snapshot(uint64_t seq, int64_t now_ms) const;
  trade_view view(uint64_t seq, bool created) const;

  /// "trades\0<account>\0<trade id>" -> status for both parties, and the
  /// compliance queue "disputes\0<trade id>" while disputed.
  std::vector<std::string> index_writes(const trade_model& before, const trade_model& after) const;
  /// The trade's one durable timer, "wake": expiry or re-drive (see above).
  std::vector<std::string> timer_writes(const trade_model& before, const trade_model& after) const;
  /// When "wake" should fire in this state; 0: never.
  int64_t wake_at() const;

  /// A trade the matcher proposed (N parties, `state.parties`), rather than
  /// one a user proposed to another (proposer/counterparty).
  bool matched() const { return !state.parties.empty(); }
  /// Every party's account: the matched parties in order, or proposer and
  /// counterparty.
  std::vector<std::string> party_accounts() const;
  /// Index of `account` in state.parties; -1 if none (or not matched).
  int party_index(const std::string& account) const;
  bool is_party(const std::string& account) const {
    if (matched())
      return party_index(account) >= 0;
    return account == state.proposer || account == state.counterparty;
  }
  bool has_accepted(const std::string& party) const;
  /// The tickets `party` brings into the trade.
  const std::vector<std::string>& side_of(const std::string& party) const;
  /// Who receives `party`'s tickets.
  const std::string& receiver_of(const std::string& party) const;
  /// The cash `party` pays in total (0 if it is paid or even).
  int64_t pays(const std::string& party) const;
  /// Every ticket of the trade.
  size_t ticket_count() const;

  /// One cash movement of a settlement: `payer` pays `payee` `amount` under
  /// the payment intent `intent` (its idempotency key).
  struct cash_flow {
    std::string payer;
    std::string payee;
    int64_t amount_minor = 0;
    std::string intent;
  };
  /// The cash flows of a matched trade: payers (net > 0) and payees (net < 0)
  /// paired greedily in party order, so each payment has one payer and one
  /// payee and the flows net out exactly to every party's net cash.
  std::vector<cash_flow> cash_flows() const;
  /// The payment intent (idempotency key) of `party`'s cash in a proposed
  /// (two-party) trade.
  std::string intent_of(const std::string& party) const {
    return id + (party == state.proposer ? ":p" : ":c");
  }
  bool deposited(const std::string& ticket) const;
  /// The fee on a net cash amount, in basis points, rounded down.
  static int64_t fee_of(int64_t net_minor, uint32_t fee_bps) {
    return static_cast<int64_t>((static_cast<__int128>(net_minor) * fee_bps) / 10000);
  }
};

std::string trade_index_prefix(std::string_view account_id);
std::string dispute_index_prefix();

/// Limits of one trade.
constexpr size_t max_trade_tickets = 10;
/// Parties of a matched trade (2-way swaps and 3-cycles).
constexpr size_t max_match_parties = 3;

} // namespace tt::actors
