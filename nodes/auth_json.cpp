#include "nodes/auth_json.hpp"

#include "actors/account_model.hpp"
#include "nodes/json_input.hpp"
#include "persistence/node_keys.hpp"

namespace tt::nodes {

namespace json = boost::json;

std::optional<register_input> parse_register(std::string_view body, input_error& err) {
  auto obj = parse_object(body, err);
  if (!obj || !check_keys(*obj, {"email", "password", "display_name"}, err))
    return std::nullopt;
  register_input in;
  std::string email;
  if (!get_string(*obj, "email", 3, 254, true, email, err)
      || !get_string(*obj, "display_name", 1, 100, true, in.display_name, err))
    return std::nullopt;
  // Passwords may contain any character but must be long enough.
  auto pw = obj->find("password");
  if (pw == obj->end()) {
    fail(err, 400, "missing_field", "password is required", "password");
    return std::nullopt;
  }
  if (!pw->value().is_string()) {
    fail(err, 400, "invalid_type", "password must be a string", "password");
    return std::nullopt;
  }
  const auto& p = pw->value().get_string();
  if (p.size() < min_password_length || p.size() > max_password_length) {
    fail(err, 422, "invalid_value",
         "password must be " + std::to_string(min_password_length) + " to "
           + std::to_string(max_password_length) + " characters",
         "password");
    return std::nullopt;
  }
  in.password.assign(p.data(), p.size());
  in.email = actors::normalize_email(email);
  if (in.email.empty()) {
    fail(err, 422, "invalid_value", "email is not a valid address", "email");
    return std::nullopt;
  }
  return in;
}

std::optional<login_input> parse_login(std::string_view body, input_error& err) {
  auto obj = parse_object(body, err);
  if (!obj || !check_keys(*obj, {"email", "password"}, err))
    return std::nullopt;
  login_input in;
  std::string email;
  if (!get_string(*obj, "email", 1, 254, true, email, err))
    return std::nullopt;
  auto pw = obj->find("password");
  if (pw == obj->end()) {
    fail(err, 400, "missing_field", "password is required", "password");
    return std::nullopt;
  }
  if (!pw->value().is_string()) {
    fail(err, 400, "invalid_type", "password must be a string", "password");
    return std::nullopt;
  }
  const auto& p = pw->value().get_string();
  if (p.size() > max_password_length) {
    fail(err, 422, "invalid_value", "password is too long", "password");
    return std::nullopt;
  }
  in.password.assign(p.data(), p.size());
  in.email = actors::normalize_email(email);
  return in;
}

std::optional<std::string> parse_refresh(std::string_view body, input_error& err) {
  auto obj = parse_object(body, err);
  if (!obj || !check_keys(*obj, {"refresh_token"}, err))
    return std::nullopt;
  std::string token;
  if (!get_string(*obj, "refresh_token", 1, 200, true, token, err))
    return std::nullopt;
  return token;
}

std::optional<refresh_token_parts> parse_refresh_token(std::string_view token) {
  auto a = token.find('.');
  if (a == std::string_view::npos)
    return std::nullopt;
  auto b = token.find('.', a + 1);
  if (b == std::string_view::npos)
    return std::nullopt;
  refresh_token_parts parts{std::string(token.substr(0, a)), std::string(token.substr(a + 1, b - a - 1)),
                            std::string(token.substr(b + 1))};
  if (!persistence::is_valid_id(parts.account_id) || !persistence::is_valid_id(parts.family_id)
      || parts.secret.size() != 43)
    return std::nullopt;
  for (char c : parts.secret)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_'))
      return std::nullopt;
  return parts;
}

std::string render_account(const account_view& v) {
  json::object o;
  o["id"] = v.id;
  o["email"] = v.email;
  o["display_name"] = v.display_name;
  o["created_at"] = format_rfc3339(v.created_at_ms);
  return json::serialize(o);
}

std::string render_tokens(const std::string& access, const std::string& refresh,
                          int64_t expires_in_seconds) {
  json::object o;
  o["access_token"] = access;
  o["refresh_token"] = refresh;
  o["token_type"] = "Bearer";
  o["expires_in"] = expires_in_seconds;
  return json::serialize(o);
}

} // namespace tt::nodes
