#include "actors/trade_entity.hpp"

#include <functional>
#include <set>

#include "actors/persistent_entity.hpp"
#include "actors/settlement.hpp"
#include "actors/trade_model.hpp"
#include "actors/wallet_model.hpp"
#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

namespace tt::actors {

namespace {

// The saga runs inside the trade actor, one command at a time: every request
// it sends is `await`ed, so no other command of this trade interleaves with a
// step. Steps go to tickets (through the ticket region or the transfer
// adapter) and to the payment provider; none of them ever calls back into a
// trade, so awaiting cannot deadlock.

struct trade_entity_state {
  entity_core<trade_model> core;
  uint32_t failed_wakes = 0;  // consecutive failed re-drives (in memory only)
  static inline const char* name = "trade";
};

using trade_pointer = trade_actor::stateful_pointer<trade_entity_state>;
using done_fn = std::function<void(caf::error)>;
using promise = caf::typed_response_promise<trade_view>;

/// Errors that a retry cannot fix (the step is refused on its merits).
bool definitive(const caf::error& err) {
  switch (describe(err).code) {
    case errc::invalid_argument:
    case errc::not_found:
    case errc::invalid_state:
    case errc::forbidden:
    case errc::insufficient_funds:
    case errc::idempotency_mismatch: return true;
    default: return false;
  }
}

/// Joins parallel steps: `done` runs once, after the last answer, with the
/// first definitive error if any, else the first transient one.
struct join {
  size_t remaining = 0;
  caf::error definitive_error;
  caf::error transient_error;
  done_fn done;

  void finish(const caf::error& err) {
    if (err) {
      if (definitive(err)) {
        if (!definitive_error)
          definitive_error = err;
      } else if (!transient_error) {
        transient_error = err;
      }
    }
    if (--remaining == 0)
      done(definitive_error ? definitive_error : transient_error);
  }
};

const settlement_deps& deps(trade_pointer self) { return *self->state.core.env->settlement; }
trade_model& model(trade_pointer self) { return self->state.core.model; }

request_meta step_meta(trade_pointer self, const request_meta& meta) {
  auto m = meta;
  m.causation_id = self->state.core.model.id;
  return m;
}

/// Runs `steps` (each gets the join) in parallel; `done` after all answered.
void run_parallel(std::vector<std::function<void(std::shared_ptr<join>)>> steps, done_fn done) {
  if (steps.empty())
    return done(caf::error{});
  auto j = std::make_shared<join>();
  j->remaining = steps.size();
  j->done = std::move(done);
  for (auto& s : steps)
    s(j);
}

using step_fn = std::function<void(std::shared_ptr<join>)>;

step_fn ticket_step_fn(trade_pointer self, const std::string& ticket, ticket_step step,
                       const std::string& owner, const std::string& to,
                       const request_meta& meta) {
  ticket_trade_step cmd{ticket, static_cast<uint8_t>(step), model(self).id, owner, to, {},
                        step_meta(self, meta)};
  return [self, cmd](std::shared_ptr<join> j) {
    auto timeout = deps(self).step_timeout;
    auto on_ok = [j](ticket_view&) { j->finish(caf::error{}); };
    auto on_err = [j](caf::error& err) { j->finish(err); };
    if (static_cast<ticket_step>(cmd.step) == ticket_step::transfer)
      self->request(deps(self).transfers, timeout, cmd).await(on_ok, on_err);
    else
      self->request(deps(self).tickets, timeout, cmd).await(on_ok, on_err);
  };
}

step_fn payment_fn(trade_pointer self, payment_command cmd) {
  return [self, cmd](std::shared_ptr<join> j) {
    self->request(deps(self).payments, deps(self).step_timeout, cmd)
      .await([j](payment_intent&) { j->finish(caf::error{}); },
             [j](caf::error& err) { j->finish(err); });
  };
}

payment_command intent_cmd(trade_pointer self, const std::string& party, intent_op op,
                           int64_t amount, const request_meta& meta) {
  auto& m = model(self);
  payment_command c;
  c.intent_id = m.intent_of(party);
  c.op = static_cast<uint8_t>(op);
  c.payer = party;
  c.amount_minor = amount;
  c.currency = m.state.currency;
  c.meta = step_meta(self, meta);
  return c;
}

/// A matched trade's payment command for one cash flow.
payment_command flow_cmd(trade_pointer self, const trade_model::cash_flow& f, intent_op op,
                         const request_meta& meta) {
  auto& m = model(self);
  payment_command c;
  c.intent_id = f.intent;
  c.op = static_cast<uint8_t>(op);
  c.payer = f.payer;
  c.payee = f.payee;
  c.amount_minor = op == intent_op::cancel ? 0 : f.amount_minor;
  if (op == intent_op::capture)
    c.fee_minor = trade_model::fee_of(f.amount_minor, m.state.fee_bps);
  c.currency = m.state.currency;
  c.meta = step_meta(self, meta);
  return c;
}

/// Holds `party`'s tickets and cash for this trade.
void hold_side(trade_pointer self, const std::string& party, const request_meta& meta,
               done_fn done) {
  auto& m = model(self);
  std::vector<step_fn> steps;
  for (const auto& t : m.side_of(party))
    steps.push_back(ticket_step_fn(self, t, ticket_step::hold, party, {}, meta));
  if (m.matched()) {
    for (const auto& f : m.cash_flows())
      if (f.payer == party)
        steps.push_back(payment_fn(self, flow_cmd(self, f, intent_op::authorize, meta)));
  } else if (m.pays(party) > 0) {
    steps.push_back(
      payment_fn(self, intent_cmd(self, party, intent_op::authorize, m.pays(party), meta)));
  }
  run_parallel(std::move(steps), std::move(done));
}

/// Releases whatever this trade holds of `party`'s side (idempotent). The
/// cash intent is cancelled whatever the trade recorded: a `/cash` raise holds
/// before it records, so a crash between the two leaves a hold only the
/// intent id knows about.
void release_side(trade_pointer self, const std::string& party, const request_meta& meta,
                  std::vector<step_fn>& steps) {
  auto& m = model(self);
  for (const auto& t : m.side_of(party))
    steps.push_back(ticket_step_fn(self, t, ticket_step::release, {}, {}, meta));
  if (m.matched()) {
    for (const auto& f : m.cash_flows())
      if (f.payer == party)
        steps.push_back(payment_fn(self, flow_cmd(self, f, intent_op::cancel, meta)));
    return;
  }
  steps.push_back(payment_fn(self, intent_cmd(self, party, intent_op::cancel, 0, meta)));
}

/// Moves every party's tickets to its receiver and captures every cash flow
/// (a matched trade).
void settle_matched(trade_pointer self, const request_meta& meta, done_fn done) {
  auto& m = model(self);
  std::vector<step_fn> steps;
  for (const auto& p : m.state.parties)
    for (const auto& t : p.give)
      steps.push_back(
        ticket_step_fn(self, t, ticket_step::transfer, p.account, m.receiver_of(p.account), meta));
  for (const auto& f : m.cash_flows())
    steps.push_back(payment_fn(self, flow_cmd(self, f, intent_op::capture, meta)));
  run_parallel(std::move(steps), std::move(done));
}

/// Moves every ticket to its new owner and settles the net cash.
void settle(trade_pointer self, const request_meta& meta, done_fn done) {
  auto& m = model(self);
  if (m.matched())
    return settle_matched(self, meta, std::move(done));
  const auto& s = m.state;
  std::vector<step_fn> steps;
  for (const auto& t : s.give)
    steps.push_back(ticket_step_fn(self, t, ticket_step::transfer, s.proposer, s.counterparty, meta));
  for (const auto& t : s.take)
    steps.push_back(ticket_step_fn(self, t, ticket_step::transfer, s.counterparty, s.proposer, meta));
  int64_t net = s.proposer_pays_minor - s.counterparty_pays_minor;
  auto pay_net = [&](const std::string& payer, const std::string& payee, int64_t amount) {
    auto c = intent_cmd(self, payer, intent_op::capture, amount, meta);
    c.payee = payee;
    c.fee_minor = trade_model::fee_of(amount, s.fee_bps);
    steps.push_back(payment_fn(self, std::move(c)));
  };
  // Cancelled whatever the trade recorded (see release_side).
  auto cancel = [&](const std::string& party) {
    steps.push_back(payment_fn(self, intent_cmd(self, party, intent_op::cancel, 0, meta)));
  };
  if (net > 0) {
    pay_net(s.proposer, s.counterparty, net);
    cancel(s.counterparty);
  } else if (net < 0) {
    pay_net(s.counterparty, s.proposer, -net);
    cancel(s.proposer);
  } else {
    cancel(s.proposer);
    cancel(s.counterparty);
  }
  run_parallel(std::move(steps), std::move(done));
}

trade_status_changed status_event(trade_pointer self, trade_status st,
                                  trade_status target = trade_status::proposing,
                                  std::string reason = {}) {
  return trade_status_changed{st, target, std::move(reason), model(self).party_accounts()};
}

/// Moves the trade's durable wake timer to `due_ms` without an event (an
/// append of no events with only a timer write, same optimistic check).
void reschedule_wake(trade_pointer self, int64_t due_ms, done_fn done) {
  auto& core = self->state.core;
  append_events cmd;
  cmd.kind = static_cast<uint8_t>(trade_model::kind);
  cmd.entity_id = core.model.id;
  cmd.expected_seq = core.seq;
  cmd.timer_writes = {"wake", std::to_string(due_ms)};
  request_journal(self, *core.env, std::move(cmd))
    .await([done](const append_ack&) { done(caf::error{}); },
           [done](caf::error& err) { done(err); });
}

void commit(trade_pointer self, event_payload ev, const request_meta& meta, done_fn done) {
  std::vector<event_payload> evs;
  evs.push_back(std::move(ev));
  persist_then(self, std::move(evs), meta, std::move(done));
}

/// Drives a working state (proposing, transferring, releasing) to its next
/// resting state; `done` gets the error that stopped it, if any. Idempotent:
/// every step it sends is.
void drive(trade_pointer self, const request_meta& meta, done_fn done) {
  auto& m = model(self);
  switch (m.state.status) {
    case trade_status::proposing:
      hold_side(self, m.state.proposer, meta, [self, meta, done](caf::error err) {
        if (!err)
          return commit(self, status_event(self, trade_status::proposed), meta, done);
        if (!definitive(err))
          return done(err);
        // The proposal cannot be held (not the owner, not listed, no funds):
        // compensate and end as rejected; the caller hears the reason.
        commit(self,
               status_event(self, trade_status::releasing, trade_status::rejected,
                            describe(err).message),
               meta, [self, meta, done, err](caf::error e2) {
                 if (e2)
                   return done(e2);
                 drive(self, meta, [done, err](caf::error) { done(err); });
               });
      });
      return;
    case trade_status::transferring:
      settle(self, meta, [self, meta, done](caf::error err) {
        if (err) {
          log::error("trade_settlement_step_failed",
                     {{"trade", model(self).id}, {"reason", describe(err).message}});
          return done(err);
        }
        commit(self, status_event(self, trade_status::completed), meta, done);
      });
      return;
    case trade_status::releasing: {
      std::vector<step_fn> steps;
      for (const auto& party : m.party_accounts())
        release_side(self, party, meta, steps);
      run_parallel(std::move(steps), [self, meta, done](caf::error err) {
        if (err)
          return done(err);
        commit(self, status_event(self, model(self).state.target), meta, done);
      });
      return;
    }
    default: done(caf::error{});
  }
}

/// Delivers the current view, or `err`.
done_fn answer(trade_pointer self, promise rp, bool created = false) {
  return [self, rp, created](caf::error err) mutable {
    if (err)
      return void(rp.deliver(err));
    rp.deliver(model(self).view(self->state.core.seq, created));
  };
}

caf::error invalid_state(trade_pointer self, const char* what) {
  return make_error(errc::invalid_state, std::string{"trade is "} + to_string(model(self).state.status)
                                           + ", cannot " + what);
}

bool waiting(trade_status s) {
  return s == trade_status::proposed || s == trade_status::accepted
         || s == trade_status::in_escrow;
}

// -- propose ----------------------------------------------------------------------

caf::result<trade_view> propose(trade_pointer self, propose_trade& cmd) {
  auto& core = self->state.core;
  auto& m = core.model;
  if (m.exists) {
    if (m.state.proposer != cmd.proposer || m.state.request_hash != cmd.request_hash)
      return make_error(errc::idempotency_mismatch,
                        "this Idempotency-Key was used for a different proposal",
                        "Idempotency-Key");
    if (m.state.status == trade_status::rejected)
      return make_error(errc::invalid_state, "the trade was rejected: " + m.state.reason);
    if (m.state.status != trade_status::proposing)
      return m.view(core.seq, false);
    auto rp = self->make_response_promise<trade_view>();
    drive(self, cmd.meta, answer(self, rp, true));
    return rp;
  }
  if (cmd.give.empty() || cmd.give.size() > max_trade_tickets)
    return make_error(errc::invalid_argument, "give 1 to 10 tickets", "give");
  if (cmd.take.empty() || cmd.take.size() > max_trade_tickets)
    return make_error(errc::invalid_argument, "take 1 to 10 tickets", "take");
  std::set<std::string> all(cmd.give.begin(), cmd.give.end());
  all.insert(cmd.take.begin(), cmd.take.end());
  if (all.size() != cmd.give.size() + cmd.take.size())
    return make_error(errc::invalid_argument, "a ticket appears twice", "take");
  if (cmd.cash_minor > max_amount_minor || cmd.cash_minor < -max_amount_minor)
    return make_error(errc::invalid_argument, "cash is out of range", "cash_minor");
  auto rp = self->make_response_promise<trade_view>();
  // Look at every ticket first: who owns what, and is it listed.
  auto views = std::make_shared<std::vector<ticket_view>>(all.size());
  std::vector<step_fn> steps;
  std::vector<std::string> ids(cmd.give);
  ids.insert(ids.end(), cmd.take.begin(), cmd.take.end());
  for (size_t i = 0; i < ids.size(); ++i)
    steps.push_back([self, views, i, id = ids[i]](std::shared_ptr<join> j) {
      self->request(deps(self).tickets, deps(self).step_timeout, get_ticket{id})
        .await(
          [views, i, j](ticket_view& v) {
            (*views)[i] = std::move(v);
            j->finish(caf::error{});
          },
          [j](caf::error& err) { j->finish(err); });
    });
  run_parallel(std::move(steps), [self, rp, views, cmd](caf::error err) mutable {
    if (err)
      return void(rp.deliver(err));
    const auto& vs = *views;
    const auto listed = static_cast<uint8_t>(ticket_status::listed);
    for (size_t i = 0; i < cmd.give.size(); ++i) {
      if (vs[i].seller != cmd.proposer)
        return void(rp.deliver(make_error(errc::forbidden, "you do not own ticket " + vs[i].id, "give")));
      if (vs[i].status != listed)
        return void(rp.deliver(make_error(errc::invalid_state, "ticket " + vs[i].id + " is not listed", "give")));
    }
    std::string counterparty = vs[cmd.give.size()].seller;
    for (size_t i = cmd.give.size(); i < vs.size(); ++i) {
      if (vs[i].seller != counterparty)
        return void(rp.deliver(make_error(errc::invalid_argument,
                                     "the tickets to take must have one owner", "take")));
      if (vs[i].status != listed)
        return void(rp.deliver(make_error(errc::invalid_state, "ticket " + vs[i].id + " is not listed", "take")));
    }
    if (counterparty == cmd.proposer || counterparty.empty())
      return void(rp.deliver(make_error(errc::invalid_argument, "you cannot trade with yourself", "take")));
    trade_proposed ev;
    ev.proposer = cmd.proposer;
    ev.counterparty = counterparty;
    ev.give = cmd.give;
    ev.take = cmd.take;
    ev.proposer_pays_minor = cmd.cash_minor > 0 ? cmd.cash_minor : 0;
    ev.counterparty_pays_minor = cmd.cash_minor < 0 ? -cmd.cash_minor : 0;
    ev.currency = vs[0].fields.currency;
    auto& d = deps(self);
    ev.expires_at_ms = self->state.core.env->now_ms() + d.commit_window.count();
    ev.request_hash = cmd.request_hash;
    ev.fee_bps = d.fee_bps;
    auto meta = cmd.meta;
    commit(self, std::move(ev), meta, [self, rp, meta](caf::error err) mutable {
      if (err)
        return void(rp.deliver(err));
      drive(self, meta, answer(self, rp, true));
    });
  });
  return rp;
}

// -- propose a match (the matcher) ---------------------------------------------------

/// Validates a match's shape: 2..max_match_parties distinct parties, each
/// giving 1..10 tickets (no ticket twice) to another party, every party
/// receiving from exactly one, nets in range and summing to zero.
caf::error check_match(const propose_match& cmd) {
  const auto n = cmd.parties.size();
  if (n < 2 || n > max_match_parties)
    return make_error(errc::invalid_argument, "a match has 2 to 3 parties", "parties");
  std::set<std::string> accounts, tickets;
  std::vector<int> received(n, 0);
  int64_t sum = 0;
  size_t total = 0;
  for (size_t i = 0; i < n; ++i) {
    const auto& p = cmd.parties[i];
    if (p.account.empty() || !accounts.insert(p.account).second)
      return make_error(errc::invalid_argument, "parties must be distinct accounts", "parties");
    if (p.give.empty() || p.give.size() > max_trade_tickets)
      return make_error(errc::invalid_argument, "each party gives 1 to 10 tickets", "parties");
    for (const auto& t : p.give)
      if (!tickets.insert(t).second)
        return make_error(errc::invalid_argument, "a ticket appears twice", "parties");
    total += p.give.size();
    if (p.receiver >= n || p.receiver == i)
      return make_error(errc::invalid_argument, "a party gives to another party", "parties");
    ++received[p.receiver];
    if (p.net_cash_minor > max_amount_minor || p.net_cash_minor < -max_amount_minor)
      return make_error(errc::invalid_argument, "cash is out of range", "parties");
    sum += p.net_cash_minor;
  }
  for (auto r : received)
    if (r != 1)
      return make_error(errc::invalid_argument, "every party receives from exactly one other",
                        "parties");
  if (sum != 0)
    return make_error(errc::invalid_argument, "the parties' cash does not net to zero", "parties");
  if (total > max_trade_tickets * max_match_parties)
    return make_error(errc::invalid_argument, "too many tickets", "parties");
  if (cmd.match_key.empty())
    return make_error(errc::invalid_argument, "the match key is required", "match_key");
  return {};
}

caf::result<trade_view> propose_matched(trade_pointer self, propose_match& cmd) {
  auto& core = self->state.core;
  auto& m = core.model;
  if (m.exists) {
    if (m.state.match_key != cmd.match_key)
      return make_error(errc::idempotency_mismatch, "this trade id belongs to another match",
                        "trade_id");
    return m.view(core.seq, false);  // proposed before: same answer
  }
  if (auto err = check_match(cmd))
    return err;
  auto rp = self->make_response_promise<trade_view>();
  // Every ticket must be listed and owned by the party that gives it now.
  struct seen {
    std::string party;
    ticket_view view;
  };
  auto views = std::make_shared<std::vector<seen>>();
  for (const auto& p : cmd.parties)
    views->insert(views->end(), p.give.size(), seen{p.account, {}});
  std::vector<step_fn> steps;
  size_t k = 0;
  for (const auto& p : cmd.parties)
    for (const auto& t : p.give)
      steps.push_back([self, views, i = k++, id = t](std::shared_ptr<join> j) {
        self->request(deps(self).tickets, deps(self).step_timeout, get_ticket{id})
          .await(
            [views, i, j](ticket_view& v) {
              (*views)[i].view = std::move(v);
              j->finish(caf::error{});
            },
            [j](caf::error& err) { j->finish(err); });
      });
  run_parallel(std::move(steps), [self, rp, views, cmd](caf::error err) mutable {
    if (err)
      return void(rp.deliver(err));
    const auto listed = static_cast<uint8_t>(ticket_status::listed);
    std::string currency = (*views)[0].view.fields.currency;
    for (const auto& s : *views) {
      if (s.view.seller != s.party)
        return void(rp.deliver(make_error(errc::invalid_state,
                                          "ticket " + s.view.id + " changed owner", "parties")));
      if (s.view.status != listed)
        return void(rp.deliver(make_error(errc::invalid_state,
                                          "ticket " + s.view.id + " is not listed", "parties")));
      if (s.view.fields.currency != currency)
        return void(rp.deliver(make_error(errc::invalid_argument,
                                          "the tickets are priced in different currencies",
                                          "parties")));
    }
    trade_matched ev;
    for (const auto& p : cmd.parties)
      ev.parties.push_back(trade_party{p.account, p.give, p.receiver, p.credit_minor,
                                       p.net_cash_minor});
    ev.currency = cmd.currency.empty() ? currency : cmd.currency;
    auto& d = deps(self);
    ev.expires_at_ms = self->state.core.env->now_ms()
                       + std::min(d.match_accept_window, d.commit_window).count();
    ev.fee_bps = d.fee_bps;
    ev.match_key = cmd.match_key;
    auto meta = cmd.meta;
    std::vector<std::string> accounts;
    for (const auto& p : ev.parties)
      accounts.push_back(p.account);
    std::vector<event_payload> evs;
    evs.push_back(std::move(ev));
    // The status event names every party, so each is notified.
    evs.push_back(trade_status_changed{trade_status::proposed, trade_status::proposing, {},
                                       std::move(accounts)});
    persist_then(self, std::move(evs), meta, [self, rp](caf::error err) mutable {
      if (err)
        return void(rp.deliver(err));
      rp.deliver(model(self).view(self->state.core.seq, true));
    });
  });
  return rp;
}

// -- actions -------------------------------------------------------------------------

caf::result<trade_view> act(trade_pointer self, trade_action& cmd) {
  auto& core = self->state.core;
  auto& m = core.model;
  auto& s = m.state;
  auto kind = static_cast<trade_action_kind>(cmd.action);
  bool internal = kind == trade_action_kind::wake;
  if (!internal && !cmd.admin && !m.is_party(cmd.by))
    return make_error(errc::not_found, "no such trade", "id");
  auto view = [&] { return m.view(core.seq, false); };
  auto meta = cmd.meta;
  auto now = core.env->now_ms();
  // Starts releasing everything towards `target`, answering when done.
  auto release_to = [&](trade_status target, std::string reason) -> caf::result<trade_view> {
    auto rp = self->make_response_promise<trade_view>();
    commit(self, status_event(self, trade_status::releasing, target, std::move(reason)), meta,
           [self, rp, meta](caf::error err) mutable {
             if (err)
               return void(rp.deliver(err));
             drive(self, meta, answer(self, rp));
           });
    return rp;
  };
  switch (kind) {
    case trade_action_kind::get: return view();
    case trade_action_kind::wake: {
      if (s.status == trade_status::proposing || s.status == trade_status::transferring
          || s.status == trade_status::releasing) {
        auto rp = self->make_response_promise<trade_view>();
        drive(self, meta, [self, rp](caf::error err) mutable {
          if (!err) {
            self->state.failed_wakes = 0;
            rp.deliver(model(self).view(self->state.core.seq, false));
            return;
          }
          // Still stuck: move the wake timer back (exponential, capped), so a
          // trade that keeps failing neither spins nor starves other timers.
          auto n = std::min<uint32_t>(++self->state.failed_wakes, 6);
          auto due = self->state.core.env->now_ms() + trade_model::redrive_after_ms * (int64_t{1} << n);
          reschedule_wake(self, due, [rp, err](caf::error) mutable { rp.deliver(err); });
        });
        return rp;
      }
      if (waiting(s.status) && now >= s.expires_at_ms)
        return release_to(trade_status::expired, "the commit window ended");
      return view();
    }
    case trade_action_kind::accept: {
      // Two-party trades: the counterparty accepts. Matched trades: every
      // party accepts; the last acceptance makes the trade accepted.
      if (!m.matched() && cmd.by != s.counterparty)
        return make_error(errc::forbidden, "only the counterparty may accept");
      if ((m.matched() && m.has_accepted(cmd.by)) || s.status == trade_status::accepted
          || s.status == trade_status::in_escrow || s.status == trade_status::transferring
          || s.status == trade_status::completed)
        return view();
      if (s.status != trade_status::proposed)
        return invalid_state(self, "accept");
      if (now >= s.expires_at_ms)
        return release_to(trade_status::expired, "the commit window ended");
      auto rp = self->make_response_promise<trade_view>();
      auto party = cmd.by;
      hold_side(self, party, meta, [self, rp, meta, party](caf::error err) mutable {
        if (!err) {
          auto& m = model(self);
          if (m.matched()) {
            // The last acceptance also says so to every party (notifications).
            std::vector<event_payload> evs;
            bool last = m.state.accepted.size() + 1 == m.state.parties.size();
            // The last acceptance starts the deposits' commit window.
            evs.push_back(trade_party_accepted{
              party, last ? self->state.core.env->now_ms() + deps(self).commit_window.count() : 0});
            if (last)
              evs.push_back(status_event(self, trade_status::accepted));
            return persist_then(self, std::move(evs), meta, answer(self, rp));
          }
          return commit(self, status_event(self, trade_status::accepted), meta, answer(self, rp));
        }
        if (!definitive(err))
          return void(rp.deliver(err));
        auto code = describe(err).code;
        if (model(self).matched() && code != errc::insufficient_funds) {
          // A ticket of the match is gone (sold, held by another trade,
          // withdrawn): the match can never complete. End it at once and
          // release what the others already hold, instead of waiting for the
          // commit window. (Missing funds can be topped up: it stays.)
          auto reason = "a ticket of the match is no longer available: " + describe(err).message;
          return commit(self,
                        status_event(self, trade_status::releasing, trade_status::rejected, reason),
                        meta, [self, rp, meta, err](caf::error e2) mutable {
                          if (e2)
                            return void(rp.deliver(e2));
                          drive(self, meta, [rp, err](caf::error) mutable { rp.deliver(err); });
                        });
        }
        // Undo what this attempt held; the trade stays proposed.
        std::vector<step_fn> steps;
        release_side(self, party, meta, steps);
        run_parallel(std::move(steps), [rp, err](caf::error) mutable { rp.deliver(err); });
      });
      return rp;
    }
    case trade_action_kind::decline:
      if (cmd.by != s.counterparty && !m.matched())
        return make_error(errc::forbidden, "only the counterparty may decline");
      if (s.status == trade_status::declined
          || (s.status == trade_status::releasing && s.target == trade_status::declined))
        return view();
      if (s.status != trade_status::proposed)
        return invalid_state(self, "decline");
      return release_to(trade_status::declined, cmd.reason);
    case trade_action_kind::cancel:
      if (cmd.by != s.proposer && !m.matched())
        return make_error(errc::forbidden, "only the proposer may cancel");
      if (s.status == trade_status::cancelled
          || (s.status == trade_status::releasing && s.target == trade_status::cancelled))
        return view();
      if (!waiting(s.status))
        return invalid_state(self, "cancel");
      return release_to(trade_status::cancelled, cmd.reason);
    case trade_action_kind::add_cash: {
      if (m.matched())
        return make_error(errc::invalid_state, "the cash of a matched trade is fixed by the match");
      if (!waiting(s.status))
        return invalid_state(self, "add cash");
      if (cmd.amount_minor <= 0 || cmd.amount_minor > max_amount_minor)
        return make_error(errc::invalid_argument, "amount must be positive", "amount_minor");
      auto party = cmd.by;
      int64_t total = m.pays(party) + cmd.amount_minor;
      if (total > max_amount_minor)
        return make_error(errc::invalid_argument, "cash is out of range", "amount_minor");
      bool held_now = party == s.proposer || s.status != trade_status::proposed;
      auto rp = self->make_response_promise<trade_view>();
      auto record = [self, rp, meta, party, amount = cmd.amount_minor](caf::error err) mutable {
        if (err)
          return void(rp.deliver(err));
        commit(self, trade_cash_added{party, amount}, meta, answer(self, rp));
      };
      if (!held_now) {
        record(caf::error{});
        return rp;
      }
      // Hold the larger amount first: a crash between the two leaves a hold
      // that is too large, which capture or cancel settles; never too small.
      run_parallel({payment_fn(self, intent_cmd(self, party, intent_op::authorize, total, meta))},
                   std::move(record));
      return rp;
    }
    case trade_action_kind::deposit: {
      const auto& side = m.side_of(cmd.by);
      if (std::find(side.begin(), side.end(), cmd.ticket_id) == side.end())
        return make_error(errc::invalid_argument, "that ticket is not yours in this trade",
                          "ticket_id");
      if (m.deposited(cmd.ticket_id))
        return view();
      if (s.status != trade_status::accepted && s.status != trade_status::in_escrow)
        return invalid_state(self, "take deposits");
      auto rp = self->make_response_promise<trade_view>();
      ticket_trade_step step{cmd.ticket_id, static_cast<uint8_t>(ticket_step::deposit), m.id,
                             cmd.by, {}, cmd.barcode, step_meta(self, meta)};
      self->request(deps(self).transfers, deps(self).step_timeout, std::move(step))
        .await(
          [self, rp, meta, ticket = cmd.ticket_id](ticket_view&) mutable {
            commit(self, trade_deposit{ticket}, meta, [self, rp, meta](caf::error err) mutable {
              if (err)
                return void(rp.deliver(err));
              // The last deposit starts the transfer; answer once it settled
              // (or with the state it reached; the supervisor finishes it).
              drive(self, meta, [self, rp](caf::error) mutable {
                rp.deliver(model(self).view(self->state.core.seq, false));
              });
            });
          },
          [rp](caf::error& err) mutable { rp.deliver(err); });
      return rp;
    }
    case trade_action_kind::dispute: {
      if (s.status == trade_status::disputed)
        return view();
      // Only once both sides are held (escrow): before that, decline/cancel.
      if (s.status != trade_status::accepted && s.status != trade_status::in_escrow)
        return invalid_state(self, "be disputed");
      auto rp = self->make_response_promise<trade_view>();
      commit(self, trade_disputed{cmd.by, cmd.reason}, meta, answer(self, rp));
      return rp;
    }
    case trade_action_kind::resolve_refund:
    case trade_action_kind::resolve_complete: {
      if (!cmd.admin)
        return make_error(errc::forbidden, "only an operator may resolve disputes");
      bool refund = kind == trade_action_kind::resolve_refund;
      if ((refund && (s.status == trade_status::refunded
                      || (s.status == trade_status::releasing && s.target == trade_status::refunded)))
          || (!refund && (s.status == trade_status::completed || s.status == trade_status::transferring)))
        return view();
      if (s.status != trade_status::disputed)
        return invalid_state(self, "be resolved");
      if (refund)
        return release_to(trade_status::refunded, cmd.reason);
      auto rp = self->make_response_promise<trade_view>();
      commit(self, status_event(self, trade_status::transferring, trade_status::proposing, cmd.reason),
             meta, [self, rp, meta](caf::error err) mutable {
               if (err)
                 return void(rp.deliver(err));
               drive(self, meta, [self, rp](caf::error) mutable {
                 rp.deliver(model(self).view(self->state.core.seq, false));
               });
             });
      return rp;
    }
  }
  return make_error(errc::invalid_argument, "unknown trade action", "action");
}

trade_actor::behavior_type trade_entity(trade_pointer self, entity_env_ptr env, std::string id) {
  self->state.core.env = std::move(env);
  if (auto err = self->state.core.recover(id)) {
    log::error("entity_recovery_failed", {{"kind", "trade"}, {"id", id}});
    return {
      [err](propose_trade&) -> caf::result<trade_view> { return err; },
      [err](propose_match&) -> caf::result<trade_view> { return err; },
      [err](trade_action&) -> caf::result<trade_view> { return err; },
      [self](atoms::passivate_atom) { self->quit(); },
    };
  }
  return {
    [self](propose_trade& cmd) { return propose(self, cmd); },
    [self](propose_match& cmd) { return propose_matched(self, cmd); },
    [self](trade_action& cmd) -> caf::result<trade_view> {
      if (!model(self).exists)
        return make_error(errc::not_found, "no such trade", "id");
      return act(self, cmd);
    },
    [self](atoms::passivate_atom) { self->quit(); },
  };
}

} // namespace

trade_actor spawn_trade_entity(caf::actor_system& sys, entity_env_ptr env, std::string id) {
  return sys.spawn<caf::lazy_init>(trade_entity, std::move(env), std::move(id));
}

} // namespace tt::actors
