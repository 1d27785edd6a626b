#pragma once
// The account's and the email index's state machines (decide/apply), free of
// actors and storage. Password hashes are stored sealed with the node key.

#include <string>
#include <vector>

#include "caf/error.hpp"
#include "caf/expected.hpp"
#include "messages/account.hpp"
#include "messages/events.hpp"

namespace tt::persistence {
class node_keys;
}

namespace tt::actors {

/// Most live refresh-token families per account; starting one more evicts
/// the least recently used.
constexpr size_t max_sessions_per_account = 20;

struct account_model {
  static constexpr entity_kind kind = entity_kind::account;

  std::string id;
  bool exists = false;
  account_state state;

  void apply(const event_envelope& ev);
  bool restore(const snapshot_envelope& snap);
  snapshot_envelope snapshot(uint64_t seq, int64_t now_ms) const;

  account_view view(uint64_t version) const;
  const session_info* find_session(const std::string& family_id) const;

  caf::expected<std::vector<event_payload>> decide(const register_account& cmd,
                                                   const persistence::node_keys& keys) const;
  caf::expected<std::vector<event_payload>> decide(const start_session& cmd) const;
  caf::expected<std::vector<event_payload>> decide(const revoke_session& cmd) const;

  /// Rotation: `reuse` is set when an old token of a live family was shown;
  /// the events then revoke the family and the command must fail afterwards.
  struct rotation {
    std::vector<event_payload> events;
    bool reuse = false;
  };
  caf::expected<rotation> decide(const rotate_session& cmd) const;
};

struct email_index_model {
  static constexpr entity_kind kind = entity_kind::email_index;

  std::string id;
  bool exists = false;
  email_claim_state state;

  void apply(const event_envelope& ev);
  bool restore(const snapshot_envelope& snap);
  snapshot_envelope snapshot(uint64_t seq, int64_t now_ms) const;

  caf::expected<std::vector<event_payload>> decide(const claim_email& cmd) const;
};

/// Lower-cases and trims an email; empty if it is not a plausible address.
std::string normalize_email(std::string_view email);

} // namespace tt::actors
