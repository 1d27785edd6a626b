#include "actors/wallet_model.hpp"

#include "actors/model_snapshot.hpp"
#include "messages/errc.hpp"

namespace tt::actors {

namespace {

using payloads = std::vector<event_payload>;

bool valid_currency(const std::string& c) {
  if (c.size() != 3)
    return false;
  for (char ch : c)
    if (ch < 'A' || ch > 'Z')
      return false;
  return true;
}

} // namespace

std::string wallet_ref_key(wallet_op op, const std::string& ref) {
  switch (op) {
    case wallet_op::deposit:
    case wallet_op::withdrawal: return "key:" + ref;
    case wallet_op::hold: return "hold:" + ref;
    case wallet_op::release: return "release:" + ref;
    case wallet_op::capture: return "capture:" + ref;
    case wallet_op::payout: return "payout:" + ref;
  }
  return ref;
}

const wallet_hold* wallet_model::hold(const std::string& ref) const {
  for (const auto& h : state.holds)
    if (h.ref == ref)
      return &h;
  return nullptr;
}

const wallet_ref* wallet_model::find_ref(const std::string& key) const {
  auto it = ref_index.find(key);
  return it == ref_index.end() ? nullptr : &state.refs[it->second];
}

void wallet_model::apply(const event_envelope& ev) {
  auto* x = std::get_if<wallet_posted>(&ev.payload);
  if (x == nullptr)
    return;
  auto& s = state;
  if (!exists) {
    exists = true;
    s.created_at_ms = ev.timestamp_ms;
  }
  if (s.currency.empty())
    s.currency = x->currency;
  for (const auto& p : x->postings) {
    auto delta = [&](ledger_account a, int64_t v) {
      if (a == ledger_account::user_available)
        s.available_minor += v;
      else if (a == ledger_account::user_held)
        s.held_minor += v;
    };
    delta(p.from, -p.amount_minor);
    delta(p.to, p.amount_minor);
  }
  switch (x->op) {
    case wallet_op::hold: {
      bool found = false;
      for (auto& h : s.holds)
        if (h.ref == x->ref) {
          h.amount_minor = x->amount_minor;
          found = true;
        }
      if (!found)
        s.holds.push_back(wallet_hold{x->ref, x->amount_minor});
      break;
    }
    case wallet_op::release:
    case wallet_op::capture:
      std::erase_if(s.holds, [&](const wallet_hold& h) { return h.ref == x->ref; });
      break;
    default: break;
  }
  auto key = wallet_ref_key(x->op, x->ref);
  wallet_ref r{key,         x->op,           x->amount_minor, x->request_hash,
               s.available_minor, s.held_minor, ev.timestamp_ms};
  if (auto it = ref_index.find(key); it != ref_index.end()) {
    s.refs[it->second] = std::move(r);
  } else {
    ref_index.emplace(key, s.refs.size());
    s.refs.push_back(std::move(r));
  }
  s.updated_at_ms = ev.timestamp_ms;
}

bool wallet_model::restore(const snapshot_envelope& snap) {
  if (!restore_from(*this, snap))
    return false;
  ref_index.clear();
  for (size_t i = 0; i < state.refs.size(); ++i)
    ref_index.emplace(state.refs[i].ref, i);
  return true;
}

snapshot_envelope wallet_model::snapshot(uint64_t seq, int64_t now_ms) const {
  return snapshot_of(*this, seq, now_ms);
}

wallet_view wallet_model::view(uint64_t seq) const {
  wallet_view v;
  v.wallet_id = id;
  v.currency = state.currency;
  v.available_minor = state.available_minor;
  v.held_minor = state.held_minor;
  v.version = seq;
  return v;
}

wallet_view wallet_model::answer(const wallet_command& cmd, uint64_t seq, bool replayed) const {
  auto v = view(seq);
  v.replayed = replayed;
  if (auto* r = find_ref(wallet_ref_key(static_cast<wallet_op>(cmd.op), cmd.ref))) {
    v.op_amount_minor = r->amount_minor;
    v.available_after = r->available_after;
    v.held_after = r->held_after;
  } else {
    v.available_after = state.available_minor;
    v.held_after = state.held_minor;
  }
  return v;
}

caf::expected<payloads> wallet_model::decide(const wallet_command& cmd) const {
  auto op = static_cast<wallet_op>(cmd.op);
  if (cmd.op > static_cast<uint8_t>(wallet_op::payout))
    return make_error(errc::invalid_argument, "unknown wallet operation", "op");
  if (cmd.ref.empty() || cmd.ref.size() > 200)
    return make_error(errc::invalid_argument, "a reference (idempotency key) of 1..200 bytes is required", "ref");
  if (cmd.amount_minor < 0 || cmd.amount_minor > max_amount_minor)
    return make_error(errc::invalid_argument, "amount must be between 0 and 10^12 minor units",
                      "amount_minor");
  if (cmd.fee_minor < 0 || cmd.fee_minor > cmd.amount_minor)
    return make_error(errc::invalid_argument, "fee must be between 0 and the amount", "fee_minor");
  const auto& s = state;
  // One currency per wallet: fixed by the first operation that brings money.
  std::string currency = s.currency.empty() ? cmd.currency : s.currency;
  if (!cmd.currency.empty() && cmd.currency != currency)
    return make_error(errc::invalid_argument,
                      "this wallet holds " + currency + ", not " + cmd.currency, "currency");
  wallet_posted ev;
  ev.op = op;
  ev.ref = cmd.ref;
  ev.currency = currency;
  ev.amount_minor = cmd.amount_minor;
  ev.request_hash = cmd.request_hash;
  ev.counterparty = cmd.counterparty;
  auto move = [&](ledger_account from, ledger_account to, int64_t amount) {
    if (amount > 0)
      ev.postings.push_back(posting{from, to, amount});
  };
  switch (op) {
    case wallet_op::deposit:
    case wallet_op::withdrawal: {
      if (auto* r = find_ref(wallet_ref_key(op, cmd.ref))) {
        if (r->request_hash != cmd.request_hash || r->op != op)
          return make_error(errc::idempotency_mismatch,
                            "this Idempotency-Key was used with a different request",
                            "Idempotency-Key");
        return payloads{};
      }
      if (cmd.amount_minor <= 0)
        return make_error(errc::invalid_argument, "amount must be positive", "amount_minor");
      if (!valid_currency(currency))
        return make_error(errc::invalid_argument, "currency must be an ISO 4217 code", "currency");
      if (op == wallet_op::deposit) {
        move(ledger_account::external, ledger_account::user_available, cmd.amount_minor);
      } else {
        if (s.available_minor < cmd.amount_minor)
          return make_error(errc::insufficient_funds, "available balance is too low",
                            "amount_minor");
        move(ledger_account::user_available, ledger_account::external, cmd.amount_minor);
      }
      break;
    }
    case wallet_op::hold: {
      if (find_ref(wallet_ref_key(wallet_op::release, cmd.ref))
          || find_ref(wallet_ref_key(wallet_op::capture, cmd.ref)))
        return make_error(errc::invalid_state, "payment intent " + cmd.ref + " is closed");
      auto* h = hold(cmd.ref);
      int64_t current = h ? h->amount_minor : 0;
      if (h && current == cmd.amount_minor)
        return payloads{};
      if (cmd.amount_minor > current) {
        if (s.available_minor < cmd.amount_minor - current)
          return make_error(errc::insufficient_funds, "available balance is too low for the hold",
                            "cash_minor");
        move(ledger_account::user_available, ledger_account::user_held,
             cmd.amount_minor - current);
      } else {
        move(ledger_account::user_held, ledger_account::user_available,
             current - cmd.amount_minor);
      }
      break;
    }
    case wallet_op::release: {
      auto* h = hold(cmd.ref);
      if (!h)
        return payloads{};  // released, captured or never held: nothing to do
      ev.amount_minor = h->amount_minor;
      move(ledger_account::user_held, ledger_account::user_available, h->amount_minor);
      break;
    }
    case wallet_op::capture: {
      if (find_ref(wallet_ref_key(wallet_op::capture, cmd.ref)))
        return payloads{};
      auto* h = hold(cmd.ref);
      if (!h)
        return make_error(errc::invalid_state, "no open hold " + cmd.ref + " to capture");
      if (cmd.amount_minor > h->amount_minor)
        return make_error(errc::invalid_argument, "capture exceeds the hold", "amount_minor");
      move(ledger_account::user_held, ledger_account::platform_escrow, cmd.amount_minor);
      move(ledger_account::user_held, ledger_account::user_available,
           h->amount_minor - cmd.amount_minor);
      break;
    }
    case wallet_op::payout: {
      if (find_ref(wallet_ref_key(wallet_op::payout, cmd.ref)))
        return payloads{};
      if (!valid_currency(currency))
        return make_error(errc::invalid_argument, "currency must be an ISO 4217 code", "currency");
      move(ledger_account::platform_escrow, ledger_account::user_available,
           cmd.amount_minor - cmd.fee_minor);
      move(ledger_account::platform_escrow, ledger_account::platform_fees, cmd.fee_minor);
      break;
    }
  }
  return payloads{std::move(ev)};
}

} // namespace tt::actors
