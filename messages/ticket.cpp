#include "messages/ticket.hpp"

namespace tt {

const char* to_string(ticket_status s) {
  switch (s) {
    case ticket_status::listed: return "listed";
    case ticket_status::withdrawn: return "withdrawn";
    case ticket_status::held: return "held";
    case ticket_status::in_escrow: return "in_escrow";
    case ticket_status::transferred: return "transferred";
  }
  return "unknown";
}

const char* to_string(platform p) {
  switch (p) {
    case platform::upload: return "upload";
    case platform::ticketmaster: return "ticketmaster";
    case platform::axs: return "axs";
    case platform::seatgeek: return "seatgeek";
    case platform::nft: return "nft";
  }
  return "unknown";
}

bool parse_platform(std::string_view s, platform& out) {
  for (uint8_t i = 0; i <= static_cast<uint8_t>(platform::nft); ++i) {
    if (s == to_string(static_cast<platform>(i))) {
      out = static_cast<platform>(i);
      return true;
    }
  }
  return false;
}

void apply_patch(ticket_fields& f, const ticket_patch& p) {
  if (p.has_price)
    f.price_minor = p.price_minor;
  if (p.has_event_name)
    f.event_name = p.event_name;
  if (p.has_venue)
    f.venue = p.venue;
  if (p.has_category)
    f.category = p.category;
  if (p.has_event_starts_at)
    f.event_starts_at_ms = p.event_starts_at_ms;
}

} // namespace tt
