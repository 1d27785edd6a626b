#pragma once
// Strict JSON input helpers shared by the edge's body parsers. Each helper
// fills `input_error` (status, code, message, field) and returns false (or
// nullopt) on the first problem. Include only from .cpp files (Boost.JSON).

#include <boost/json.hpp>

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "nodes/ticket_json.hpp"

namespace tt::nodes {

bool fail(input_error& err, unsigned status, std::string code, std::string message,
          std::string field = {});

/// The body as a JSON object (depth-limited); 400 invalid_json otherwise.
std::optional<boost::json::object> parse_object(std::string_view body, input_error& err);

bool has_control_chars(std::string_view s);

/// A string of min_len..max_len bytes without control characters.
bool get_string(const boost::json::object& o, std::string_view key, size_t min_len,
                size_t max_len, bool required, std::string& out, input_error& err);

/// A non-negative integer amount of minor units (no floats, bounded).
bool get_money(const boost::json::value& v, std::string_view key, int64_t& out, input_error& err);

/// Rejects any key not in `allowed` (400 unknown_field).
bool check_keys(const boost::json::object& o, std::initializer_list<std::string_view> allowed,
                input_error& err);

} // namespace tt::nodes
