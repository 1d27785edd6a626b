#pragma once
// The ticket's state machine, free of actors and storage: decide (command ->
// events or error) and apply (event -> state). The ticket entity actor wires
// these to the journal; tests drive them directly.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "actors/packed_strings.hpp"
#include "actors/small_string.hpp"

#include "caf/error.hpp"
#include "caf/expected.hpp"
#include "messages/events.hpp"
#include "messages/settlement.hpp"
#include "messages/ticket.hpp"

namespace tt::persistence {
class node_keys;
}

namespace tt::actors {

/// What a ticket carries once it takes part in trades, valuations or offers
/// (most active tickets never do): kept out of line, shared between copies of
/// the model and copied only when changed.
struct ticket_trade_part {
  std::string hold_trade_id;
  std::string last_transfer_ref;
  std::vector<std::string> transfer_refs;
  std::string valuation_version;
  std::string valuation_method;
  int64_t valuation_credit_minor = 0;
  bool offer_open = false;
  ticket_offered offer;
  int64_t offer_at_ms = 0;

  friend bool operator==(const ticket_trade_part&, const ticket_trade_part&) = default;
};

/// One per active ticket entity, so kept compact (bench/README.md, "memory
/// per entity"): 104 bytes inline, every string of the listing in one packed
/// heap block, the trade part only when there is one. `state()` unpacks the
/// whole `ticket_state` (snapshots, tests); commands read the accessors.
struct ticket_model {
  static constexpr entity_kind kind = entity_kind::ticket;

  small_string id;
  bool exists = false;

  ticket_state state() const;
  void set_state(const ticket_state& s);

  ticket_status status() const { return status_; }
  std::string_view seller() const { return part(seller_at); }
  /// The keyed hash of the barcode (64 hex characters as node_keys makes it).
  std::string barcode_hash() const { return hash_part(barcode_hash_at, barcode_hash_raw); }
  std::string_view barcode_sealed() const { return part(barcode_sealed_at); }
  ticket_fields fields() const;
  int64_t created_at_ms() const { return created_at_ms_; }
  int64_t updated_at_ms() const { return updated_at_ms_; }
  /// The trade part; an empty one when the ticket never had any.
  const ticket_trade_part& trade() const;

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

private:
  // The packed block's parts, in this order, then one part per seat. The two
  // keyed hashes are kept as 32 raw bytes when they are 64 lowercase hex
  // characters (as node_keys::keyed_hash makes them), else as given.
  enum part_index : size_t {
    event_id_at, event_name_at, venue_at, category_at, section_at, row_at, currency_at,
    seller_at, barcode_hash_at, barcode_sealed_at, dedup_hash_at, seats_at
  };
  static constexpr uint8_t barcode_hash_raw = 1, dedup_hash_raw = 2;

  std::string_view part(size_t i) const {
    return i < strings_.size() ? strings_[i] : std::string_view{};
  }
  std::string hash_part(size_t i, uint8_t raw_flag) const;
  void pack(const ticket_fields& f, std::string_view seller, std::string_view barcode_hash,
            std::string_view barcode_sealed, std::string_view dedup_hash);
  /// Repacks with other fields and/or seller, the rest as it is.
  void repack(const ticket_fields& f, std::string_view seller);
  /// The trade part to change: a private copy (created when absent).
  ticket_trade_part& mutable_trade();

  packed_strings strings_;
  int64_t event_starts_at_ms_ = 0;
  int64_t face_value_minor_ = 0;
  int64_t price_minor_ = 0;
  int64_t created_at_ms_ = 0;
  int64_t updated_at_ms_ = 0;
  std::shared_ptr<ticket_trade_part> trade_;
  ticket_status status_ = ticket_status::listed;
  uint8_t platform_ = 0;
  uint8_t raw_hashes_ = 0;  // barcode_hash_raw | dedup_hash_raw
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
