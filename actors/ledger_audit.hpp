#pragma once
// The settlement invariants, checked from the global log alone (independent
// of entity state): money is conserved (every ledger account summed is
// zero), no wallet balance is negative, every ticket has one owner, and no
// ticket is claimed by two open trades or held by a trade that ended. Used
// by the admin audit route and the tests. Reads the store (thread-safe);
// O(events), for operators and tests, not for hot paths.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "messages/events.hpp"

namespace tt::persistence {
class event_store;
}

namespace tt::actors {

struct audit_report {
  uint64_t events = 0;
  /// Balance of each ledger account kind, summed over all wallets.
  std::array<int64_t, ledger_account_count> totals{};
  int64_t sum = 0;  // of `totals`: zero when money is conserved
  size_t wallets = 0;
  std::vector<std::string> negative_wallets;
  size_t tickets = 0;
  std::map<std::string, size_t> trades_by_status;
  std::vector<std::string> violations;  // human-readable, empty when all hold

  bool ok() const { return sum == 0 && negative_wallets.empty() && violations.empty(); }
};

audit_report run_audit(const persistence::event_store& store);

} // namespace tt::actors
