#pragma once
// JSON bodies of the identity routes (register, login, refresh) and their
// replies. Pure functions; every rejection names the problem and the field.

#include <optional>
#include <string>
#include <string_view>

#include "messages/account.hpp"
#include "nodes/ticket_json.hpp"

namespace tt::nodes {

constexpr size_t min_password_length = 12;
constexpr size_t max_password_length = 256;

struct register_input {
  std::string email;  // normalised
  std::string password;
  std::string display_name;
};

struct login_input {
  std::string email;  // normalised (may be empty if not an address: login fails)
  std::string password;
};

std::optional<register_input> parse_register(std::string_view body, input_error& err);
std::optional<login_input> parse_login(std::string_view body, input_error& err);
/// {"refresh_token": "..."}; the token's shape is checked by parse_refresh_token.
std::optional<std::string> parse_refresh(std::string_view body, input_error& err);

/// A refresh token is "<account id>.<family id>.<secret>" (22 + 22 + 43
/// URL-safe base64 characters).
struct refresh_token_parts {
  std::string account_id;
  std::string family_id;
  std::string secret;
};
std::optional<refresh_token_parts> parse_refresh_token(std::string_view token);

std::string render_account(const account_view& v);
std::string render_tokens(const std::string& access, const std::string& refresh,
                          int64_t expires_in_seconds);

} // namespace tt::nodes
