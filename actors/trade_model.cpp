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
    if (s.deposited.size() == s.give.size() + s.take.size())
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
  return v;
}

std::vector<std::string> trade_model::index_writes(const trade_model& before,
                                                   const trade_model& after) const {
  std::vector<std::string> out;
  if (!after.exists || (before.exists && before.state.status == after.state.status))
    return out;
  for (const auto* party : {&after.state.proposer, &after.state.counterparty}) {
    out.push_back(trade_index_prefix(*party) + after.id);
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
