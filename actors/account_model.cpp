#include "actors/account_model.hpp"

#include <algorithm>

#include "actors/model_snapshot.hpp"
#include "messages/errc.hpp"
#include "persistence/node_keys.hpp"

namespace tt::actors {

void account_model::apply(const event_envelope& ev) {
  auto& s = state;
  if (auto* x = std::get_if<account_registered>(&ev.payload)) {
    exists = true;
    s.email = x->email;
    s.display_name = x->display_name;
    s.password_sealed = x->password_sealed;
    s.created_at_ms = ev.timestamp_ms;
  } else if (auto* x = std::get_if<session_started>(&ev.payload)) {
    s.sessions.push_back(session_info{x->family_id, x->token_hash, 1, ev.timestamp_ms, ev.timestamp_ms});
  } else if (auto* x = std::get_if<session_rotated>(&ev.payload)) {
    for (auto& se : s.sessions) {
      if (se.family_id == x->family_id) {
        se.token_hash = x->token_hash;
        ++se.generation;
        se.last_used_ms = ev.timestamp_ms;
      }
    }
  } else if (auto* x = std::get_if<session_revoked>(&ev.payload)) {
    auto& v = s.sessions;
    v.erase(std::remove_if(v.begin(), v.end(),
                           [&](const session_info& se) { return se.family_id == x->family_id; }),
            v.end());
  }
}

bool account_model::restore(const snapshot_envelope& snap) { return restore_from(*this, snap); }

snapshot_envelope account_model::snapshot(uint64_t seq, int64_t now_ms) const {
  return snapshot_of(*this, seq, now_ms);
}

account_view account_model::view(uint64_t version) const {
  return account_view{id, state.email, state.display_name, state.created_at_ms, version};
}

const session_info* account_model::find_session(const std::string& family_id) const {
  for (const auto& se : state.sessions)
    if (se.family_id == family_id)
      return &se;
  return nullptr;
}

caf::expected<std::vector<event_payload>>
account_model::decide(const register_account& cmd, const persistence::node_keys& keys) const {
  if (exists)
    return make_error(errc::conflict, "email already registered", "email");
  if (cmd.email.empty())
    return make_error(errc::invalid_argument, "email is required", "email");
  if (cmd.password_hash.empty())
    return make_error(errc::invalid_argument, "password is required", "password");
  return std::vector<event_payload>{
    account_registered{cmd.email, cmd.display_name, keys.seal(cmd.password_hash)}};
}

caf::expected<std::vector<event_payload>> account_model::decide(const start_session& cmd) const {
  if (!exists)
    return make_error(errc::not_found, "no such account");
  if (cmd.family_id.empty() || cmd.token_hash.empty())
    return make_error(errc::invalid_argument, "session needs a family and a token");
  if (find_session(cmd.family_id))
    return std::vector<event_payload>{};  // retry of the same login step
  std::vector<event_payload> out;
  if (state.sessions.size() >= max_sessions_per_account) {
    auto oldest = std::min_element(state.sessions.begin(), state.sessions.end(),
                                   [](const auto& a, const auto& b) {
                                     return a.last_used_ms < b.last_used_ms;
                                   });
    out.push_back(session_revoked{oldest->family_id, "evicted"});
  }
  out.push_back(session_started{cmd.family_id, cmd.token_hash});
  return out;
}

caf::expected<account_model::rotation> account_model::decide(const rotate_session& cmd) const {
  if (!exists)
    return make_error(errc::forbidden, "refresh token is not valid");
  auto* se = find_session(cmd.family_id);
  if (se == nullptr)
    return make_error(errc::forbidden, "refresh token is not valid");
  rotation r;
  if (se->token_hash != cmd.presented_hash) {
    // An older token of this family came back: it was stolen or replayed.
    // Revoke the whole family, the newest token included.
    r.reuse = true;
    r.events.push_back(session_revoked{cmd.family_id, "reuse_detected"});
    return r;
  }
  r.events.push_back(session_rotated{cmd.family_id, cmd.new_hash});
  return r;
}

caf::expected<std::vector<event_payload>> account_model::decide(const revoke_session& cmd) const {
  if (!exists)
    return make_error(errc::not_found, "no such account");
  if (find_session(cmd.family_id) == nullptr)
    return std::vector<event_payload>{};
  return std::vector<event_payload>{session_revoked{cmd.family_id, cmd.reason}};
}

void email_index_model::apply(const event_envelope& ev) {
  if (auto* x = std::get_if<email_claimed>(&ev.payload)) {
    exists = true;
    state.account_id = x->account_id;
    state.claimed_at_ms = ev.timestamp_ms;
  }
}

bool email_index_model::restore(const snapshot_envelope& snap) { return restore_from(*this, snap); }

snapshot_envelope email_index_model::snapshot(uint64_t seq, int64_t now_ms) const {
  return snapshot_of(*this, seq, now_ms);
}

caf::expected<std::vector<event_payload>> email_index_model::decide(const claim_email& cmd) const {
  if (exists)
    return std::vector<event_payload>{};
  if (cmd.account_id.empty())
    return make_error(errc::invalid_argument, "account id is required");
  return std::vector<event_payload>{email_claimed{cmd.account_id}};
}

std::string normalize_email(std::string_view email) {
  auto b = email.find_first_not_of(" \t");
  auto e = email.find_last_not_of(" \t");
  if (b == std::string_view::npos)
    return {};
  std::string out(email.substr(b, e - b + 1));
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  auto at = out.find('@');
  if (out.size() > 254 || at == std::string::npos || at == 0 || at + 1 >= out.size()
      || out.find('@', at + 1) != std::string::npos || out.find('.', at) == std::string::npos
      || out.back() == '.')
    return {};
  for (unsigned char c : out)
    if (c <= 0x20 || c == 0x7f || c == '<' || c == '>' || c == ',' || c == ';' || c == '"')
      return {};
  return out;
}

} // namespace tt::actors
