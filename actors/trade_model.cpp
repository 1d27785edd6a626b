#include "actors/trade_model.hpp"

#include <algorithm>

#include "actors/model_snapshot.hpp"

namespace tt::actors {

std::string trade_index_prefix(std::string_view account_id) {
  std::string key = "trades";
  key.push_back('\0');
  key.append(account_id);
  key.push_back('\0');
  return key;
}

std::string dispute_index_prefix() {
  std::string key = "disputes";
  key.push_back('\0');
  return key;
}

std::vector<std::string> trade_model::party_accounts() const {
  if (!matched())
    return {state.proposer, state.counterparty};
  std::vector<std::string> out;
  for (const auto& p : state.parties)
    out.push_back(p.account);
  return out;
}

int trade_model::party_index(const std::string& account) const {
  for (size_t i = 0; i < state.parties.size(); ++i)
    if (state.parties[i].account == account)
      return static_cast<int>(i);
  return -1;
}

bool trade_model::has_accepted(const std::string& party) const {
  return std::find(state.accepted.begin(), state.accepted.end(), party) != state.accepted.end();
}

const std::vector<std::string>& trade_model::side_of(const std::string& party) const {
  static const std::vector<std::string> none;
  if (!matched())
    return party == state.proposer ? state.give : state.take;
  auto i = party_index(party);
  return i < 0 ? none : state.parties[static_cast<size_t>(i)].give;
}

const std::string& trade_model::receiver_of(const std::string& party) const {
  static const std::string none;
  if (!matched())
    return party == state.proposer ? state.counterparty : state.proposer;
  auto i = party_index(party);
  if (i < 0)
    return none;
  auto r = state.parties[static_cast<size_t>(i)].receiver;
  return r < state.parties.size() ? state.parties[r].account : none;
}

int64_t trade_model::pays(const std::string& party) const {
  if (!matched())
    return party == state.proposer ? state.proposer_pays_minor : state.counterparty_pays_minor;
  int64_t total = 0;
  for (const auto& f : cash_flows())
    if (f.payer == party)
      total += f.amount_minor;
  return total;
}

size_t trade_model::ticket_count() const {
  if (!matched())
    return state.give.size() + state.take.size();
  size_t n = 0;
  for (const auto& p : state.parties)
    n += p.give.size();
  return n;
}

std::vector<trade_model::cash_flow> trade_model::cash_flows() const {
  std::vector<cash_flow> out;
  const auto& ps = state.parties;
  std::vector<int64_t> owe(ps.size()), due(ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    owe[i] = ps[i].net_cash_minor > 0 ? ps[i].net_cash_minor : 0;
    due[i] = ps[i].net_cash_minor < 0 ? -ps[i].net_cash_minor : 0;
  }
  size_t j = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    while (owe[i] > 0) {
      while (j < ps.size() && due[j] == 0)
        ++j;
      if (j == ps.size())
        return out;  // unbalanced (rejected when proposed): pay what nets
      auto amount = std::min(owe[i], due[j]);
      out.push_back(cash_flow{ps[i].account, ps[j].account, amount,
                              id + ":" + std::to_string(i) + ">" + std::to_string(j)});
      owe[i] -= amount;
      due[j] -= amount;
    }
  }
  return out;
}

bool trade_model::deposited(const std::string& ticket) const {
  return std::find(state.deposited.begin(), state.deposited.end(), ticket)
         != state.deposited.end();
}

void trade_model::apply(const event_envelope& ev) {
  auto& s = state;
  if (auto* x = std::get_if<trade_proposed>(&ev.payload)) {
    exists = true;
    s.proposer = x->proposer;
    s.counterparty = x->counterparty;
    s.give = x->give;
    s.take = x->take;
    s.proposer_pays_minor = x->proposer_pays_minor;
    s.counterparty_pays_minor = x->counterparty_pays_minor;
    s.currency = x->currency;
    s.expires_at_ms = x->expires_at_ms;
    s.request_hash = x->request_hash;
    s.fee_bps = x->fee_bps;
    s.status = trade_status::proposing;
    s.created_at_ms = ev.timestamp_ms;
  } else if (auto* x = std::get_if<trade_matched>(&ev.payload)) {
    exists = true;
    s.parties = x->parties;
    s.currency = x->currency;
    s.expires_at_ms = x->expires_at_ms;
    s.fee_bps = x->fee_bps;
    s.match_key = x->match_key;
    s.status = trade_status::proposed;  // nothing is held until each party accepts
    s.created_at_ms = ev.timestamp_ms;
  } else if (auto* x = std::get_if<trade_party_accepted>(&ev.payload)) {
    if (!has_accepted(x->party))
      s.accepted.push_back(x->party);
    if (x->expires_at_ms > 0)
      s.expires_at_ms = x->expires_at_ms;
    if (s.status == trade_status::proposed && s.accepted.size() == s.parties.size())
      s.status = trade_status::accepted;
  } else if (auto* x = std::get_if<trade_status_changed>(&ev.payload)) {
    s.status = x->status;
    s.target = x->target;
    if (!x->reason.empty())
      s.reason = x->reason;
  } else if (auto* x = std::get_if<trade_cash_added>(&ev.payload)) {
    if (x->party == s.proposer)
      s.proposer_pays_minor += x->amount_minor;
    else
      s.counterparty_pays_minor += x->amount_minor;
  } else if (auto* x = std::get_if<trade_deposit>(&ev.payload)) {
    if (!deposited(x->ticket_id))
      s.deposited.push_back(x->ticket_id);
    if (s.status == trade_status::accepted)
      s.status = trade_status::in_escrow;
    if (s.deposited.size() == ticket_count())
      s.status = trade_status::transferring;
  } else if (auto* x = std::get_if<trade_disputed>(&ev.payload)) {
    s.status = trade_status::disputed;
    s.dispute_reason = x->reason;
    s.disputed_by = x->by;
  } else {
    return;
  }
  s.updated_at_ms = ev.timestamp_ms;
}

bool trade_model::restore(const snapshot_envelope& snap) { return restore_from(*this, snap); }

snapshot_envelope trade_model::snapshot(uint64_t seq, int64_t now_ms) const {
  return snapshot_of(*this, seq, now_ms);
}

trade_view trade_model::view(uint64_t seq, bool created) const {
  const auto& s = state;
  trade_view v;
  v.id = id;
  v.status = to_string(s.status);
  v.proposer = s.proposer;
  v.counterparty = s.counterparty;
  v.give = s.give;
  v.take = s.take;
  v.proposer_pays_minor = s.proposer_pays_minor;
  v.counterparty_pays_minor = s.counterparty_pays_minor;
  v.cash_minor = s.proposer_pays_minor - s.counterparty_pays_minor;
  v.currency = s.currency;
  v.deposited = s.deposited;
  v.expires_at_ms = s.expires_at_ms;
  v.created_at_ms = s.created_at_ms;
  v.updated_at_ms = s.updated_at_ms;
  v.reason = s.reason;
  v.dispute_reason = s.dispute_reason;
  v.version = seq;
  v.created = created;
  for (const auto& p : s.parties)
    v.parties.push_back(match_party{p.account, p.give, p.receiver, p.credit_minor, p.net_cash_minor});
  v.accepted = s.accepted;
  return v;
}

std::vector<std::string> trade_model::index_writes(const trade_model& before,
                                                   const trade_model& after) const {
  std::vector<std::string> out;
  if (!after.exists || (before.exists && before.state.status == after.state.status))
    return out;
  for (const auto& party : after.party_accounts()) {
    out.push_back(trade_index_prefix(party) + after.id);
    out.emplace_back(to_string(after.state.status));
  }
  bool was = before.exists && before.state.status == trade_status::disputed;
  bool is = after.state.status == trade_status::disputed;
  if (was != is) {
    out.push_back(dispute_index_prefix() + after.id);
    out.emplace_back(is ? after.state.dispute_reason.empty() ? std::string{"-"}
                                                              : after.state.dispute_reason
                        : std::string{});
  }
  return out;
}

int64_t trade_model::wake_at() const {
  switch (state.status) {
    case trade_status::proposing:
    case trade_status::transferring:
    case trade_status::releasing: return state.updated_at_ms + redrive_after_ms;
    case trade_status::proposed:
    case trade_status::accepted:
    case trade_status::in_escrow: return state.expires_at_ms;
    default: return 0;  // final, or disputed (frozen until an operator decides)
  }
}

std::vector<std::string> trade_model::timer_writes(const trade_model& before,
                                                   const trade_model& after) const {
  auto due = after.wake_at();
  if (before.exists && before.wake_at() == due)
    return {};
  return {"wake", due == 0 ? std::string{} : std::to_string(due)};
}

} // namespace tt::actors
