#pragma once
// Events as JSON for the outside (WebSocket notifications now, tt-tail and
// the event stream later): never barcodes, sealed data or token hashes.

#include <cstdint>
#include <string>
#include <vector>

#include "messages/events.hpp"

namespace tt::nodes {

/// {"offset","type","entity":{"kind","id"},"seq","at","actor","data":{...}}
std::string render_event(uint64_t offset, const event_envelope& ev);

/// The accounts an event concerns (whose WebSocket should hear of it).
std::vector<std::string> concerned_accounts(const event_envelope& ev);

} // namespace tt::nodes
