#pragma once
// C++ view of the Cap'n Proto `Event` and `Snapshot` (events.capnp). Only
// event_codec.cpp includes the generated Cap'n Proto headers; everything else
// works with these plain structs.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "messages/entity.hpp"
#include "messages/ticket.hpp"

namespace tt {

/// 1: tickets and identity; 2: settlement (tickets held/deposited/transferred,
/// wallets, trades); 3: valuations (ticket_valued, the ticket snapshot's last
/// valuation); 4: offers and matched trades; 5: a matched trade's last
/// acceptance carries the deposit deadline (trade_party_accepted
/// expires_at_ms). Readers accept every earlier version.
constexpr uint16_t event_schema_version = 5;

struct ticket_listed {
  ticket_fields fields;
  std::string seller;
  std::string barcode_hash;
  std::string barcode_sealed;  // binary
  std::string dedup_hash;

  friend bool operator==(const ticket_listed&, const ticket_listed&) = default;
};

struct ticket_updated {
  ticket_patch patch;

  friend bool operator==(const ticket_updated&, const ticket_updated&) = default;
};

struct ticket_withdrawn {
  std::string reason;

  friend bool operator==(const ticket_withdrawn&, const ticket_withdrawn&) = default;
};

struct account_registered {
  std::string email;
  std::string display_name;
  std::string password_sealed;  // binary

  friend bool operator==(const account_registered&, const account_registered&) = default;
};

struct session_started {
  std::string family_id;
  std::string token_hash;

  friend bool operator==(const session_started&, const session_started&) = default;
};

struct session_rotated {
  std::string family_id;
  std::string token_hash;

  friend bool operator==(const session_rotated&, const session_rotated&) = default;
};

struct session_revoked {
  std::string family_id;
  std::string reason;

  friend bool operator==(const session_revoked&, const session_revoked&) = default;
};

struct email_claimed {
  std::string account_id;

  friend bool operator==(const email_claimed&, const email_claimed&) = default;
};

struct ticket_held {
  std::string trade_id;
  std::string owner;
  friend bool operator==(const ticket_held&, const ticket_held&) = default;
};

struct ticket_released {
  std::string trade_id;
  friend bool operator==(const ticket_released&, const ticket_released&) = default;
};

struct ticket_deposited {
  std::string trade_id;
  friend bool operator==(const ticket_deposited&, const ticket_deposited&) = default;
};

struct ticket_transferred {
  std::string trade_id;
  std::string from_owner;
  std::string to_owner;
  friend bool operator==(const ticket_transferred&, const ticket_transferred&) = default;
};

/// Ledger accounts (events.capnp LedgerAccount). The user accounts belong to
/// the wallet that wrote the posting.
enum class ledger_account : uint8_t {
  external = 0,
  user_available = 1,
  user_held = 2,
  platform_escrow = 3,
  platform_fees = 4,
};
const char* to_string(ledger_account a);
constexpr size_t ledger_account_count = 5;

struct posting {
  ledger_account from = ledger_account::external;
  ledger_account to = ledger_account::external;
  int64_t amount_minor = 0;
  friend bool operator==(const posting&, const posting&) = default;
};

enum class wallet_op : uint8_t { deposit = 0, withdrawal = 1, hold = 2, release = 3, capture = 4, payout = 5 };
const char* to_string(wallet_op op);

struct wallet_posted {
  wallet_op op = wallet_op::deposit;
  std::string ref;
  std::string currency;
  int64_t amount_minor = 0;
  std::string request_hash;
  std::vector<posting> postings;
  std::string counterparty;
  friend bool operator==(const wallet_posted&, const wallet_posted&) = default;
};

enum class trade_status : uint8_t {
  proposing = 0,
  proposed = 1,
  accepted = 2,
  in_escrow = 3,
  transferring = 4,
  completed = 5,
  releasing = 6,
  declined = 7,
  cancelled = 8,
  expired = 9,
  rejected = 10,
  disputed = 11,
  refunded = 12,
};
const char* to_string(trade_status s);
/// Final statuses: nothing more happens to the trade.
bool is_final(trade_status s);

struct trade_proposed {
  std::string proposer;
  std::string counterparty;
  std::vector<std::string> give;
  std::vector<std::string> take;
  int64_t proposer_pays_minor = 0;
  int64_t counterparty_pays_minor = 0;
  std::string currency;
  int64_t expires_at_ms = 0;
  std::string request_hash;
  uint32_t fee_bps = 0;
  friend bool operator==(const trade_proposed&, const trade_proposed&) = default;
};

struct trade_status_changed {
  trade_status status = trade_status::proposing;
  trade_status target = trade_status::proposing;
  std::string reason;
  std::vector<std::string> parties;
  friend bool operator==(const trade_status_changed&, const trade_status_changed&) = default;
};

struct trade_cash_added {
  std::string party;
  int64_t amount_minor = 0;
  friend bool operator==(const trade_cash_added&, const trade_cash_added&) = default;
};

struct trade_deposit {
  std::string ticket_id;
  friend bool operator==(const trade_deposit&, const trade_deposit&) = default;
};

struct trade_disputed {
  std::string by;
  std::string reason;
  friend bool operator==(const trade_disputed&, const trade_disputed&) = default;
};

/// A valuation of the ticket was recorded (schema v3; docs/valuation.md).
/// Money in integer minor units of `currency`; the confidence in parts per
/// million (no floating point in events). `method`: "model",
/// "median_fallback" or "model_low_confidence".
struct ticket_valued {
  int64_t credit_minor = 0;
  std::string currency;
  uint32_t confidence_ppm = 0;
  std::string model_version;
  std::string method;
  uint32_t median_samples = 0;
  friend bool operator==(const ticket_valued&, const ticket_valued&) = default;
};

/// The owner offers the ticket for a swap (schema v4; docs/matching.md). At
/// most one open offer per ticket; the offer's id is the ticket id. Empty
/// want lists mean "any". Taste weights per mille over the matcher's
/// preference dimensions (no floating point in events).
struct ticket_offered {
  std::vector<std::string> want_event_ids;
  std::vector<std::string> want_categories;
  std::vector<std::string> want_venues;
  int64_t max_cash_minor = 0;
  std::vector<int16_t> weights_permille;
  friend bool operator==(const ticket_offered&, const ticket_offered&) = default;
};

/// The ticket's offer ended ("withdrawn", "unlisted", "transferred").
struct ticket_offer_closed {
  std::string reason;
  friend bool operator==(const ticket_offer_closed&, const ticket_offer_closed&) = default;
};

/// One party of a matched trade: gives `give` (worth `credit_minor` at match
/// time) to party `receiver`; pays `net_cash_minor` (> 0) or is paid its
/// absolute value (< 0). The nets of a trade sum to zero.
struct trade_party {
  std::string account;
  std::vector<std::string> give;
  uint32_t receiver = 0;
  int64_t credit_minor = 0;
  int64_t net_cash_minor = 0;
  friend bool operator==(const trade_party&, const trade_party&) = default;
};

/// The matcher proposed an N-party trade (schema v4): every party must accept.
struct trade_matched {
  std::vector<trade_party> parties;
  std::string currency;
  int64_t expires_at_ms = 0;
  uint32_t fee_bps = 0;
  std::string match_key;
  friend bool operator==(const trade_matched&, const trade_matched&) = default;
};

/// A party of a matched trade accepted; its tickets and cash are held. The
/// last acceptance (v5) also sets the trade's new deadline: until then the
/// match had only its acceptance window; from here the commit window runs
/// for the deposits. 0: the deadline does not change (v4 events; earlier
/// acceptances).
struct trade_party_accepted {
  std::string party;
  int64_t expires_at_ms = 0;
  friend bool operator==(const trade_party_accepted&, const trade_party_accepted&) = default;
};

/// A payload this build does not know (written by a newer schema).
struct unknown_payload {
  uint16_t which = 0;

  friend bool operator==(const unknown_payload&, const unknown_payload&) = default;
};

using event_payload
  = std::variant<unknown_payload, ticket_listed, ticket_updated, ticket_withdrawn,
                 account_registered, session_started, session_rotated, session_revoked,
                 email_claimed, ticket_held, ticket_released, ticket_deposited,
                 ticket_transferred, wallet_posted, trade_proposed, trade_status_changed,
                 trade_cash_added, trade_deposit, trade_disputed, ticket_valued,
                 ticket_offered, ticket_offer_closed, trade_matched, trade_party_accepted>;

struct event_envelope {
  uint16_t schema_version = event_schema_version;
  entity_kind kind = entity_kind::unknown;
  std::string entity_id;
  uint64_t seq = 0;
  int64_t timestamp_ms = 0;
  std::string event_id;
  std::string causation_id;
  std::string correlation_id;
  std::string user_id;
  std::string device_hash;
  std::string ip;
  event_payload payload;

  friend bool operator==(const event_envelope&, const event_envelope&) = default;
};

/// The event's type name as shown to tailers ("ticket_listed", ...).
const char* event_type_name(const event_payload& p);

struct ticket_state {
  ticket_fields fields;
  std::string seller;
  ticket_status status = ticket_status::listed;
  std::string barcode_hash;
  std::string barcode_sealed;
  std::string dedup_hash;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string hold_trade_id;      // the open trade holding it; empty if none
  std::string last_transfer_ref;  // the trade/transfer that last moved it
  /// Every trade/transfer that moved it (a retried step of an older trade
  /// must be recognised as done even after the ticket moved on).
  std::vector<std::string> transfer_refs;
  /// The last recorded valuation (ticket_valued); empty/0 if none. A new
  /// valuation is recorded only when one of the three differs.
  std::string valuation_version;
  std::string valuation_method;
  int64_t valuation_credit_minor = 0;
  /// The swap offer (v4): open or the last one; when it opened.
  bool offer_open = false;
  ticket_offered offer;
  int64_t offer_at_ms = 0;

  friend bool operator==(const ticket_state&, const ticket_state&) = default;
};

struct session_info {
  std::string family_id;
  std::string token_hash;
  uint32_t generation = 0;
  int64_t started_at_ms = 0;
  int64_t last_used_ms = 0;

  friend bool operator==(const session_info&, const session_info&) = default;
};

struct account_state {
  std::string email;
  std::string display_name;
  std::string password_sealed;
  int64_t created_at_ms = 0;
  std::vector<session_info> sessions;

  friend bool operator==(const account_state&, const account_state&) = default;
};

struct email_claim_state {
  std::string account_id;
  int64_t claimed_at_ms = 0;

  friend bool operator==(const email_claim_state&, const email_claim_state&) = default;
};

struct wallet_hold {
  std::string ref;
  int64_t amount_minor = 0;
  friend bool operator==(const wallet_hold&, const wallet_hold&) = default;
};

struct wallet_ref {
  std::string ref;
  wallet_op op = wallet_op::deposit;
  int64_t amount_minor = 0;
  std::string request_hash;
  int64_t available_after = 0;
  int64_t held_after = 0;
  int64_t at_ms = 0;
  friend bool operator==(const wallet_ref&, const wallet_ref&) = default;
};

struct wallet_state {
  std::string currency;
  int64_t available_minor = 0;
  int64_t held_minor = 0;
  std::vector<wallet_hold> holds;
  std::vector<wallet_ref> refs;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  friend bool operator==(const wallet_state&, const wallet_state&) = default;
};

struct trade_state {
  std::string proposer;
  std::string counterparty;
  std::vector<std::string> give;
  std::vector<std::string> take;
  int64_t proposer_pays_minor = 0;
  int64_t counterparty_pays_minor = 0;
  std::string currency;
  int64_t expires_at_ms = 0;
  std::string request_hash;
  uint32_t fee_bps = 0;
  trade_status status = trade_status::proposing;
  trade_status target = trade_status::proposing;
  std::string reason;
  std::vector<std::string> deposited;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  std::string dispute_reason;
  std::string disputed_by;
  /// Matched trades (v4): the parties (proposer/counterparty empty), who
  /// accepted so far, and the match's key.
  std::vector<trade_party> parties;
  std::vector<std::string> accepted;
  std::string match_key;
  friend bool operator==(const trade_state&, const trade_state&) = default;
};

struct snapshot_envelope {
  uint16_t schema_version = event_schema_version;
  entity_kind kind = entity_kind::unknown;
  std::string entity_id;
  uint64_t seq = 0;
  int64_t taken_at_ms = 0;
  std::variant<std::monostate, ticket_state, account_state, email_claim_state, wallet_state,
               trade_state>
    state;

  friend bool operator==(const snapshot_envelope&, const snapshot_envelope&) = default;
};

/// Encodes as an unpacked Cap'n Proto flat array (word aligned).
std::string encode_event(const event_envelope& e);
std::string encode_snapshot(const snapshot_envelope& s);

/// Decoders never throw and never crash on hostile bytes: they return
/// std::nullopt and, if given, set `why`.
std::optional<event_envelope> decode_event(std::string_view bytes, std::string* why = nullptr);
std::optional<snapshot_envelope> decode_snapshot(std::string_view bytes,
                                                 std::string* why = nullptr);

} // namespace tt
