#pragma once
// The fixed events and snapshots whose encodings are committed under
// tests/golden/v<N>/. The golden test decodes the committed bytes and checks
// them against these values.

#include <string>
#include <utility>
#include <vector>

#include "messages/events.hpp"

namespace tt::test {

std::vector<std::pair<std::string, event_envelope>> golden_events_v1();
std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v1();

/// Schema version 2: settlement (ticket holds/transfers, wallets, trades).
std::vector<std::pair<std::string, event_envelope>> golden_events_v2();
std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v2();

/// Schema version 3: valuations (ticket_valued; the ticket snapshot's last
/// valuation).
std::vector<std::pair<std::string, event_envelope>> golden_events_v3();
std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v3();
/// Schema version 4: offers and matched trades (tests/golden/v4/).
std::vector<std::pair<std::string, event_envelope>> golden_events_v4();
std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v4();
/// Schema version 5: a matched trade's last acceptance carries the deposits'
/// deadline (tests/golden/v5/; no snapshot changed).
std::vector<std::pair<std::string, event_envelope>> golden_events_v5();
std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v5();

} // namespace tt::test
