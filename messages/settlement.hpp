#pragma once
// Commands and replies of settlement: ticket holds and transfers (answered by
// the ticket entity), wallets (wallet entity), payment intents (the payment
// provider), transfer adapters, and trades (the trade entity, which is the
// saga). See interfaces.hpp for who answers what. Money is always integer
// minor units of `currency`.
//
// Idempotency: every command that changes state carries a key (`trade_id`,
// `ref`, `intent_id`) and repeating it with the same key is harmless: the
// receiver answers with the state the first execution produced.

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"
#include "messages/entity.hpp"

namespace tt {

// -- tickets in trades -----------------------------------------------------------

enum class ticket_step : uint8_t {
  hold = 0,      // listed, owned by `owner` -> held by `trade_id`
  release = 1,   // held/deposited by `trade_id` -> listed (no-op otherwise)
  deposit = 2,   // held by `trade_id`, barcode matches -> in escrow
  transfer = 3,  // held/deposited by `trade_id` (or listed, for a direct
                 // transfer by its owner `owner`) -> owned by `to`
};

/// One step of a trade (or a direct transfer) on one ticket.
struct ticket_trade_step {
  std::string ticket_id;
  uint8_t step = 0;  // tt::ticket_step
  std::string trade_id;
  std::string owner;    // hold/transfer: the owner the caller expects
  std::string to;       // transfer: the new owner
  std::string barcode;  // deposit: the uploaded barcode (never stored raw)
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ticket_trade_step& x) {
  return f(caf::meta::type_name("tt.ticket_trade_step"), x.ticket_id, x.step, x.trade_id,
           x.owner, x.to, x.barcode, x.meta);
}

inline const std::string& target_id(const ticket_trade_step& x) { return x.ticket_id; }

// -- wallets ---------------------------------------------------------------------

/// One wallet operation (wallet_op in events.hpp):
///   deposit    external -> available            (ref = Idempotency-Key)
///   withdrawal available -> external            (ref = Idempotency-Key)
///   hold       available <-> held: the hold `ref` becomes exactly `amount`
///   release    held -> available: the whole hold `ref` (no-op if none)
///   capture    held -> platform escrow `amount` of hold `ref`, the rest of
///              the hold back to available; closes the hold
///   payout     platform escrow -> available `amount - fee`, escrow -> fees `fee`
/// A ref that was captured or released is closed: a later hold on it fails.
struct wallet_command {
  std::string wallet_id;  // the owning account's id
  uint8_t op = 0;         // tt::wallet_op
  std::string ref;
  int64_t amount_minor = 0;
  int64_t fee_minor = 0;
  std::string currency;
  std::string request_hash;  // deposit/withdrawal: hash of the request body
  std::string counterparty;  // capture/payout: the other wallet
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wallet_command& x) {
  return f(caf::meta::type_name("tt.wallet_command"), x.wallet_id, x.op, x.ref, x.amount_minor,
           x.fee_minor, x.currency, x.request_hash, x.counterparty, x.meta);
}

struct get_wallet {
  std::string wallet_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_wallet& x) {
  return f(caf::meta::type_name("tt.get_wallet"), x.wallet_id);
}

struct wallet_view {
  std::string wallet_id;
  std::string currency;
  int64_t available_minor = 0;
  int64_t held_minor = 0;
  uint64_t version = 0;
  // The operation answered (for commands): its amount and balances right
  // after it; `replayed` if an earlier execution is being reported.
  int64_t op_amount_minor = 0;
  int64_t available_after = 0;
  int64_t held_after = 0;
  bool replayed = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, wallet_view& x) {
  return f(caf::meta::type_name("tt.wallet_view"), x.wallet_id, x.currency, x.available_minor,
           x.held_minor, x.version, x.op_amount_minor, x.available_after, x.held_after,
           x.replayed);
}

inline const std::string& target_id(const wallet_command& x) { return x.wallet_id; }
inline const std::string& target_id(const get_wallet& x) { return x.wallet_id; }

// -- payment intents (the payment provider interface) ----------------------------

enum class intent_op : uint8_t {
  authorize = 0,  // create with manual capture (or raise the amount): hold
  capture = 1,    // take `amount` from the hold, pay `payee` amount - fee
  cancel = 2,     // release the hold
};

/// PaymentIntent semantics: `intent_id` is the idempotency key of every call.
struct payment_command {
  std::string intent_id;
  uint8_t op = 0;  // tt::intent_op
  std::string payer;
  std::string payee;
  int64_t amount_minor = 0;
  int64_t fee_minor = 0;
  std::string currency;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_command& x) {
  return f(caf::meta::type_name("tt.payment_command"), x.intent_id, x.op, x.payer, x.payee,
           x.amount_minor, x.fee_minor, x.currency, x.meta);
}

struct payment_intent {
  std::string id;
  std::string status;  // requires_capture | succeeded | canceled | processing
  int64_t amount_minor = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, payment_intent& x) {
  return f(caf::meta::type_name("tt.payment_intent"), x.id, x.status, x.amount_minor);
}

// -- trades ------------------------------------------------------------------------

struct propose_trade {
  std::string trade_id;
  std::string proposer;
  std::vector<std::string> give;
  std::vector<std::string> take;
  int64_t cash_minor = 0;  // > 0: proposer pays; < 0: proposer receives
  std::string request_hash;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, propose_trade& x) {
  return f(caf::meta::type_name("tt.propose_trade"), x.trade_id, x.proposer, x.give, x.take,
           x.cash_minor, x.request_hash, x.meta);
}

/// One party of a proposed match (see trade_party in events.hpp): gives
/// `give` (worth `credit_minor`) to party `receiver`; `net_cash_minor` > 0
/// pays, < 0 is paid. Nets sum to zero.
struct match_party {
  std::string account;
  std::vector<std::string> give;
  uint32_t receiver = 0;
  int64_t credit_minor = 0;
  int64_t net_cash_minor = 0;
  friend bool operator==(const match_party&, const match_party&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, match_party& x) {
  return f(caf::meta::type_name("tt.match_party"), x.account, x.give, x.receiver, x.credit_minor,
           x.net_cash_minor);
}

/// The matcher proposes an N-party trade (2..3 parties) under a trade id
/// derived from `match_key`; repeating it is harmless. Nothing is held until
/// each party accepts (trade_action accept).
struct propose_match {
  std::string trade_id;
  std::vector<match_party> parties;
  std::string currency;
  std::string match_key;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, propose_match& x) {
  return f(caf::meta::type_name("tt.propose_match"), x.trade_id, x.parties, x.currency,
           x.match_key, x.meta);
}

enum class trade_action_kind : uint8_t {
  accept = 0,
  decline = 1,
  cancel = 2,
  add_cash = 3,
  deposit = 4,
  dispute = 5,
  resolve_refund = 6,    // admin
  resolve_complete = 7,  // admin
  wake = 8,              // timer/supervisor: expire or re-drive
  get = 9,
};

struct trade_action {
  std::string trade_id;
  uint8_t action = 0;  // tt::trade_action_kind
  std::string by;      // acting account; empty with `admin`
  bool admin = false;
  int64_t amount_minor = 0;  // add_cash
  std::string ticket_id;     // deposit
  std::string barcode;       // deposit
  std::string reason;        // dispute, resolve
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trade_action& x) {
  return f(caf::meta::type_name("tt.trade_action"), x.trade_id, x.action, x.by, x.admin,
           x.amount_minor, x.ticket_id, x.barcode, x.reason, x.meta);
}

struct trade_view {
  std::string id;
  std::string status;
  std::string proposer;
  std::string counterparty;
  std::vector<std::string> give;
  std::vector<std::string> take;
  int64_t cash_minor = 0;  // proposer pays minus counterparty pays
  int64_t proposer_pays_minor = 0;
  int64_t counterparty_pays_minor = 0;
  std::string currency;
  std::vector<std::string> deposited;
  int64_t expires_at_ms = 0;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string reason;
  std::string dispute_reason;
  uint64_t version = 0;
  bool created = false;
  // Matched trades: the parties (proposer/counterparty empty) and who
  // accepted so far.
  std::vector<match_party> parties;
  std::vector<std::string> accepted;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, trade_view& x) {
  return f(caf::meta::type_name("tt.trade_view"), x.id, x.status, x.proposer, x.counterparty,
           x.give, x.take, x.cash_minor, x.proposer_pays_minor, x.counterparty_pays_minor,
           x.currency, x.deposited, x.expires_at_ms, x.created_at_ms, x.updated_at_ms, x.reason,
           x.dispute_reason, x.version, x.created, x.parties, x.accepted);
}

inline const std::string& target_id(const propose_trade& x) { return x.trade_id; }
inline const std::string& target_id(const trade_action& x) { return x.trade_id; }
inline const std::string& target_id(const propose_match& x) { return x.trade_id; }

} // namespace tt
