#include "nodes/json_input.hpp"

#include <algorithm>

namespace tt::nodes {

namespace json = boost::json;

namespace {
constexpr int64_t max_money_minor = 100'000'000'000;  // 1e9 major units
} // namespace

bool fail(input_error& err, unsigned status, std::string code, std::string message,
          std::string field) {
  err.status = status;
  err.code = std::move(code);
  err.message = std::move(message);
  err.field = std::move(field);
  return false;
}

std::optional<json::object> parse_object(std::string_view body, input_error& err) {
  if (body.empty()) {
    fail(err, 400, "invalid_json", "request body is empty");
    return std::nullopt;
  }
  json::parse_options opts;
  opts.max_depth = 8;
  boost::system::error_code ec;
  auto v = json::parse(json::string_view(body.data(), body.size()), ec, json::storage_ptr(), opts);
  if (ec) {
    fail(err, 400, "invalid_json", "body is not valid JSON: " + ec.message());
    return std::nullopt;
  }
  if (!v.is_object()) {
    fail(err, 400, "invalid_json", "body must be a JSON object");
    return std::nullopt;
  }
  return std::move(v.as_object());
}

bool has_control_chars(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

// A required or optional string with length bounds and no control characters.
bool get_string(const json::object& o, std::string_view key, size_t min_len, size_t max_len,
                bool required, std::string& out, input_error& err) {
  auto it = o.find(json::string_view(key.data(), key.size()));
  if (it == o.end()) {
    if (required)
      return fail(err, 400, "missing_field", std::string(key) + " is required", std::string(key));
    return true;
  }
  if (!it->value().is_string())
    return fail(err, 400, "invalid_type", std::string(key) + " must be a string", std::string(key));
  const auto& s = it->value().get_string();
  if (s.size() < min_len || s.size() > max_len)
    return fail(err, 422, "invalid_value",
                std::string(key) + " must be " + std::to_string(min_len) + " to "
                  + std::to_string(max_len) + " characters",
                std::string(key));
  if (has_control_chars(std::string_view(s.data(), s.size())))
    return fail(err, 422, "invalid_value", std::string(key) + " must not contain control characters",
                std::string(key));
  out.assign(s.data(), s.size());
  return true;
}

bool get_money(const json::value& v, std::string_view key, int64_t& out, input_error& err) {
  if (v.is_int64()) {
    out = v.get_int64();
  } else if (v.is_uint64()) {
    return fail(err, 422, "invalid_value", std::string(key) + " is too large", std::string(key));
  } else if (v.is_double()) {
    return fail(err, 400, "invalid_type",
                std::string(key) + " must be an integer number of minor units", std::string(key));
  } else {
    return fail(err, 400, "invalid_type", std::string(key) + " must be an integer", std::string(key));
  }
  if (out < 0)
    return fail(err, 422, "invalid_value", std::string(key) + " must not be negative",
                std::string(key));
  if (out > max_money_minor)
    return fail(err, 422, "invalid_value", std::string(key) + " is too large", std::string(key));
  return true;
}

bool check_keys(const json::object& o, std::initializer_list<std::string_view> allowed,
                input_error& err) {
  for (const auto& kv : o) {
    std::string_view k(kv.key().data(), kv.key().size());
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
      std::string shown(k.substr(0, 64));
      return fail(err, 400, "unknown_field", "unknown field " + shown, shown);
    }
  }
  return true;
}


} // namespace tt::nodes
