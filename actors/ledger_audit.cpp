#include "actors/ledger_audit.hpp"

#include <set>
#include <unordered_map>

#include "persistence/event_store.hpp"

namespace tt::actors {

namespace {

struct wallet_fold {
  int64_t available = 0;
  int64_t held = 0;
};

struct ticket_fold {
  std::string owner;
  std::string hold_trade;
};

struct trade_fold {
  trade_status status = trade_status::proposing;
  std::vector<std::string> give;
  std::vector<std::string> take;
  bool accepted = false;  // the counterparty's side was held at some point
  std::set<std::string> deposited;
  // Matched trades: every ticket is in `take` (held once all parties accepted).
  size_t parties = 0;
  std::set<std::string> accepted_by;
};

} // namespace

audit_report run_audit(const persistence::event_store& store) {
  audit_report r;
  std::unordered_map<std::string, wallet_fold> wallets;
  std::unordered_map<std::string, ticket_fold> tickets;
  std::unordered_map<std::string, trade_fold> trades;
  // Open cash holds: (wallet, intent ref) -> amount.
  std::map<std::pair<std::string, std::string>, int64_t> holds;
  uint64_t from = 1;
  for (;;) {
    size_t n = store.read_log(from, 4096, [&](uint64_t offset, std::string_view bytes) {
      from = offset + 1;
      ++r.events;
      auto ev = decode_event(bytes);
      if (!ev) {
        r.violations.push_back("event at offset " + std::to_string(offset) + " does not decode");
        return true;
      }
      const auto& id = ev->entity_id;
      if (auto* x = std::get_if<wallet_posted>(&ev->payload)) {
        auto& w = wallets[id];
        for (const auto& p : x->postings) {
          r.totals[static_cast<size_t>(p.from)] -= p.amount_minor;
          r.totals[static_cast<size_t>(p.to)] += p.amount_minor;
          auto delta = [&](ledger_account a, int64_t v) {
            if (a == ledger_account::user_available)
              w.available += v;
            else if (a == ledger_account::user_held)
              w.held += v;
          };
          delta(p.from, -p.amount_minor);
          delta(p.to, p.amount_minor);
        }
        if (x->op == wallet_op::hold)
          holds[{id, x->ref}] = x->amount_minor;
        else if (x->op == wallet_op::release || x->op == wallet_op::capture)
          holds.erase({id, x->ref});
      } else if (auto* x = std::get_if<ticket_listed>(&ev->payload)) {
        tickets[id].owner = x->seller;
      } else if (auto* x = std::get_if<ticket_held>(&ev->payload)) {
        tickets[id].hold_trade = x->trade_id;
      } else if (std::get_if<ticket_released>(&ev->payload)) {
        tickets[id].hold_trade.clear();
      } else if (auto* x = std::get_if<ticket_transferred>(&ev->payload)) {
        auto& t = tickets[id];
        if (t.owner != x->from_owner)
          r.violations.push_back("ticket " + id + " moved from " + x->from_owner
                                 + " who did not own it");
        t.owner = x->to_owner;
        t.hold_trade.clear();
      } else if (auto* x = std::get_if<trade_proposed>(&ev->payload)) {
        auto& t = trades[id];
        t.give = x->give;
        t.take = x->take;
      } else if (auto* x = std::get_if<trade_matched>(&ev->payload)) {
        auto& t = trades[id];
        for (const auto& p : x->parties)
          t.take.insert(t.take.end(), p.give.begin(), p.give.end());
        t.parties = x->parties.size();
        t.status = trade_status::proposed;
      } else if (auto* x = std::get_if<trade_party_accepted>(&ev->payload)) {
        auto& t = trades[id];
        t.accepted_by.insert(x->party);
        if (t.accepted_by.size() == t.parties) {
          t.accepted = true;
          if (t.status == trade_status::proposed)
            t.status = trade_status::accepted;
        }
      } else if (auto* x = std::get_if<trade_status_changed>(&ev->payload)) {
        auto& t = trades[id];
        t.status = x->status;
        if (x->status == trade_status::accepted)
          t.accepted = true;
      } else if (auto* x = std::get_if<trade_deposit>(&ev->payload)) {
        auto& t = trades[id];
        t.accepted = true;
        t.deposited.insert(x->ticket_id);
        if (t.status == trade_status::accepted)
          t.status = trade_status::in_escrow;
        if (t.deposited.size() == t.give.size() + t.take.size())
          t.status = trade_status::transferring;
      } else if (std::get_if<trade_disputed>(&ev->payload)) {
        trades[id].status = trade_status::disputed;
      }
      return true;
    });
    if (n == 0)
      break;
  }
  for (auto v : r.totals)
    r.sum += v;
  r.wallets = wallets.size();
  for (auto& [id, w] : wallets)
    if (w.available < 0 || w.held < 0)
      r.negative_wallets.push_back(id);
  // Every open hold belongs to a trade that is still open (intent ids are
  // "<trade>:p" / "<trade>:c"), and the held balances are exactly the holds.
  std::unordered_map<std::string, int64_t> held_by_wallet;
  for (auto& [key, amount] : holds) {
    held_by_wallet[key.first] += amount;
    auto colon = key.second.rfind(':');
    auto tr = trades.find(key.second.substr(0, colon));
    if (tr != trades.end() && is_final(tr->second.status) && amount > 0)
      r.violations.push_back("wallet " + key.first + " still holds " + std::to_string(amount)
                             + " for " + key.second + ", whose trade is "
                             + to_string(tr->second.status));
  }
  for (auto& [id, w] : wallets)
    if (w.held != held_by_wallet[id])
      r.violations.push_back("wallet " + id + " holds " + std::to_string(w.held)
                             + " but its open holds sum to " + std::to_string(held_by_wallet[id]));
  r.tickets = tickets.size();
  // Which open trades claim which tickets: the proposer's side from
  // `proposed` on, the counterparty's once accepted.
  std::unordered_map<std::string, std::string> claimed;
  for (auto& [tid, t] : trades) {
    r.trades_by_status[to_string(t.status)]++;
    if (is_final(t.status) || t.status == trade_status::proposing
        || t.status == trade_status::releasing || t.status == trade_status::transferring)
      continue;
    auto claim = [&](const std::string& ticket) {
      auto [it, fresh] = claimed.emplace(ticket, tid);
      if (!fresh)
        r.violations.push_back("ticket " + ticket + " is in two open trades: " + it->second
                               + " and " + tid);
      auto tk = tickets.find(ticket);
      if (tk == tickets.end() || tk->second.hold_trade != tid)
        r.violations.push_back("open trade " + tid + " (" + to_string(t.status)
                               + ") does not hold ticket " + ticket);
    };
    for (const auto& g : t.give)
      claim(g);
    if (t.accepted)
      for (const auto& g : t.take)
        claim(g);
  }
  for (auto& [id, t] : tickets) {
    if (t.owner.empty())
      r.violations.push_back("ticket " + id + " has no owner");
    if (!t.hold_trade.empty()) {
      auto tr = trades.find(t.hold_trade);
      if (tr == trades.end())
        r.violations.push_back("ticket " + id + " is held by unknown trade " + t.hold_trade);
      else if (is_final(tr->second.status))
        r.violations.push_back("ticket " + id + " is still held by " + t.hold_trade + ", which is "
                               + to_string(tr->second.status));
    }
  }
  return r;
}

} // namespace tt::actors
