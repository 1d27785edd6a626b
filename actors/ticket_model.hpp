#pragma once
// The ticket's state machine, free of actors and storage: decide (command ->
// events or error) and apply (event -> state). The ticket entity actor wires
// these to the journal; tests drive them directly.

#include <optional>
#include <string>
#include <vector>

#include "caf/error.hpp"
#include "caf/expected.hpp"
#include "messages/events.hpp"
#include "messages/settlement.hpp"
#include "messages/ticket.hpp"

namespace tt::persistence {
class node_keys;
}

namespace tt::actors {

struct ticket_model {
  static constexpr entity_kind kind = entity_kind::ticket;

  std::string id;
  bool exists = false;
  ticket_state state;

  /// Applies one stored event. Unknown payloads are ignored (written by a
  /// newer build; they cannot change what this build understands).
  void apply(const event_envelope& ev);

  /// Restores from a snapshot; false if it is not a ticket snapshot.
  bool restore(const snapshot_envelope& snap);
  snapshot_envelope snapshot(uint64_t seq, int64_t now_ms) const;

  ticket_view view(uint64_t version, bool created) const;

  /// Owner index: `owner_index_key(seller, id)` -> status name, kept in step
  /// with the events (the read model behind GET /api/v1/me/tickets).
  std::vector<std::string> index_writes(const ticket_model& before, const ticket_model& after) const;

  // -- decisions: return the payloads to persist (possibly none) or an error --

  /// `nullopt` + no error: the ticket already exists as listed (dedup hit).
  caf::expected<std::vector<event_payload>> decide(const list_ticket& cmd,
                                                   const persistence::node_keys& keys) const;
  caf::expected<std::vector<event_payload>> decide(const update_ticket& cmd) const;
  caf::expected<std::vector<event_payload>> decide(const withdraw_ticket& cmd) const;
  /// Trade steps (hold, release, deposit, transfer); idempotent per trade id:
  /// repeating a step that already happened for that trade decides nothing.
  caf::expected<std::vector<event_payload>> decide(const ticket_trade_step& cmd,
                                                   const persistence::node_keys& keys) const;
  /// A valuation: one ticket_valued event when the model version, the method
  /// or the credit differs from the last recorded one, else nothing (so
  /// repeated GETs of an unchanged valuation write nothing). Any status.
  caf::expected<std::vector<event_payload>> decide(const record_valuation& cmd) const;
  /// Opens/replaces or closes the swap offer (owner only; opening needs
  /// `listed`). An identical open offer or closing a closed one: nothing.
  caf::expected<std::vector<event_payload>> decide(const offer_ticket& cmd) const;
};

/// "owner\0<account>\0" — the prefix of an account's tickets in the index.
std::string owner_index_prefix(std::string_view account_id);

/// The dedup key of a listing (seed §3.1): seller, event, section, row,
/// seats, face value and the barcode's hash, joined unambiguously.
std::string dedup_key(const std::string& seller, const ticket_fields& f,
                      const std::string& barcode_hash);

/// Derives (barcode_hash, dedup_hash, ticket_id) for a new listing.
struct listing_ids {
  std::string barcode_hash;
  std::string dedup_hash;
  std::string ticket_id;
};
listing_ids derive_listing_ids(const persistence::node_keys& keys, const std::string& seller,
                               const ticket_fields& f, const std::string& barcode);

} // namespace tt::actors
