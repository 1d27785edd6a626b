#pragma once
// The wallet's state machine: one wallet per account, holding that account's
// side of the double-entry ledger (available, held) in one currency. Every
// change is a `wallet_posted` event whose postings balance by construction
// (each moves an amount from one ledger account to another); balances are
// derived from postings and never go negative. Free of actors; the wallet
// entity wires it to the journal.

#include <string>
#include <unordered_map>
#include <vector>

#include "caf/expected.hpp"
#include "messages/events.hpp"
#include "messages/settlement.hpp"

namespace tt::actors {

/// Largest amount one operation may move (10^12 minor units): far above any
/// real payment, far below int64 overflow however many are summed.
constexpr int64_t max_amount_minor = 1'000'000'000'000;

struct wallet_model {
  static constexpr entity_kind kind = entity_kind::wallet;

  std::string id;
  bool exists = false;
  wallet_state state;
  /// ref key -> index into state.refs (derived, rebuilt on restore).
  std::unordered_map<std::string, size_t> ref_index;

  void apply(const event_envelope& ev);
  bool restore(const snapshot_envelope& snap);
  snapshot_envelope snapshot(uint64_t seq, int64_t now_ms) const;

  /// Events for `cmd`, none if it already happened (a replay), or an error.
  caf::expected<std::vector<event_payload>> decide(const wallet_command& cmd) const;

  /// The answer to `cmd` once its events (or an earlier execution's) are
  /// applied.
  wallet_view answer(const wallet_command& cmd, uint64_t seq, bool replayed) const;
  wallet_view view(uint64_t seq) const;

  const wallet_hold* hold(const std::string& ref) const;
  const wallet_ref* find_ref(const std::string& key) const;
};

/// The key under which an operation is remembered for idempotency.
std::string wallet_ref_key(wallet_op op, const std::string& ref);

} // namespace tt::actors
