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

constexpr uint16_t event_schema_version = 1;

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

/// A payload this build does not know (written by a newer schema).
struct unknown_payload {
  uint16_t which = 0;

  friend bool operator==(const unknown_payload&, const unknown_payload&) = default;
};

using event_payload
  = std::variant<unknown_payload, ticket_listed, ticket_updated, ticket_withdrawn,
                 account_registered, session_started, session_rotated, session_revoked,
                 email_claimed>;

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

struct snapshot_envelope {
  uint16_t schema_version = event_schema_version;
  entity_kind kind = entity_kind::unknown;
  std::string entity_id;
  uint64_t seq = 0;
  int64_t taken_at_ms = 0;
  std::variant<std::monostate, ticket_state, account_state, email_claim_state> state;

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
