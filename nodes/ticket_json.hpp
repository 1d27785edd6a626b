#pragma once
// JSON <-> ticket commands at the edge. Pure functions (no actors, no I/O):
// every rejection names the problem and, where there is one, the field.
// Unit-tested and fuzzed (tests/unit/ticket_json_test.cpp, tests/fuzz/).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "messages/ticket.hpp"

namespace tt::nodes {

struct input_error {
  unsigned status = 400;  // 400 malformed/shape, 422 semantic
  std::string code;       // "invalid_json", "missing_field", "unknown_field", "invalid_type", "invalid_value"
  std::string message;
  std::string field;
};

/// The listing body of POST /api/v1/tickets.
struct listing_input {
  ticket_fields fields;
  std::string barcode;
};

/// Parses and validates a listing. Returns nullopt and fills `err` on failure.
std::optional<listing_input> parse_listing(std::string_view body, input_error& err);

/// Parses the body of PATCH /api/v1/tickets/{id}.
std::optional<ticket_patch> parse_patch(std::string_view body, input_error& err);

/// Renders a ticket for the outside (never the barcode or its hash).
std::string render_ticket(const ticket_view& v);

/// Renders {"error":{"code","message"[,"field"]}}.
std::string render_error(std::string_view code, std::string_view message, std::string_view field = {});

/// RFC 3339 ("2026-07-04T19:30:00Z", "...+02:00", optional fraction) to ms
/// since the epoch; false if malformed or out of range.
bool parse_rfc3339(std::string_view s, int64_t& ms);
std::string format_rfc3339(int64_t ms);

/// True for active ISO 4217 codes.
bool is_iso4217(std::string_view code);

} // namespace tt::nodes
