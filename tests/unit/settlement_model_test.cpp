// Settlement state machines without actors: the wallet's double-entry rules
// (idempotency, holds, captures, payouts, never negative), the ticket's trade
// steps (hold/release/deposit/transfer, idempotent per trade id), the trade's
// status graph, index and timer writes, and the fee arithmetic.
#include <doctest/doctest.h>

#include <map>

#include "actors/ticket_model.hpp"
#include "actors/trade_model.hpp"
#include "actors/wallet_model.hpp"
#include "messages/errc.hpp"
#include "messages/events.hpp"
#include "persistence/node_keys.hpp"

using namespace tt;
using namespace tt::actors;

namespace {

template <class Model>
struct fold {
  Model m;
  uint64_t seq = 0;
  int64_t clock = 1780000000000;

  /// Applies payloads as the entity does, through the codec.
  void apply(const std::vector<event_payload>& payloads) {
    for (const auto& p : payloads) {
      event_envelope ev;
      ev.kind = Model::kind;
      ev.entity_id = m.id;
      ev.seq = ++seq;
      ev.timestamp_ms = ++clock;
      ev.payload = p;
      auto decoded = decode_event(encode_event(ev));
      REQUIRE(decoded.has_value());
      m.apply(*decoded);
    }
  }

  /// Decides and applies; returns the error code (ok on success).
  template <class Cmd, class... Ts>
  errc run(const Cmd& cmd, Ts&&... xs) {
    auto d = m.decide(cmd, std::forward<Ts>(xs)...);
    if (!d)
      return describe(d.error()).code;
    apply(*d);
    return errc::ok;
  }
};

/// A USD ticket of event "e" listed by "A" with barcode "BARCODE-1".
fold<ticket_model> listed_by_a(const persistence::node_keys& keys) {
  fold<ticket_model> t;
  ticket_fields f;
  f.event_id = "e";
  f.currency = "USD";
  auto ids = derive_listing_ids(keys, "A", f, "BARCODE-1");
  t.m.id = ids.ticket_id;
  list_ticket lt{ids.ticket_id, f, "BARCODE-1", ids.dedup_hash, {}};
  lt.meta.user_id = "A";
  REQUIRE(t.run(lt, keys) == errc::ok);
  return t;
}

wallet_command wcmd(wallet_op op, std::string ref, int64_t amount, std::string currency = "USD",
                    std::string hash = "h") {
  wallet_command c;
  c.wallet_id = "W";
  c.op = static_cast<uint8_t>(op);
  c.ref = std::move(ref);
  c.amount_minor = amount;
  c.currency = std::move(currency);
  c.request_hash = std::move(hash);
  return c;
}

} // namespace

TEST_CASE("wallet: deposits and withdrawals are idempotent by key and never overdraw") {
  fold<wallet_model> w;
  w.m.id = "W";
  CHECK(w.run(wcmd(wallet_op::deposit, "k1", 1000)) == errc::ok);
  CHECK(w.m.state.available_minor == 1000);
  CHECK(w.m.state.currency == "USD");
  // Same key, same body: nothing new is decided.
  auto again = w.m.decide(wcmd(wallet_op::deposit, "k1", 1000));
  REQUIRE(again);
  CHECK(again->empty());
  CHECK(w.m.answer(wcmd(wallet_op::deposit, "k1", 1000), w.seq, true).available_after == 1000);
  // Same key, other body: refused.
  CHECK(w.run(wcmd(wallet_op::deposit, "k1", 2000, "USD", "other")) == errc::idempotency_mismatch);
  // One currency per wallet.
  CHECK(w.run(wcmd(wallet_op::deposit, "k2", 10, "EUR")) == errc::invalid_argument);
  CHECK(w.run(wcmd(wallet_op::withdrawal, "k3", 1001)) == errc::insufficient_funds);
  CHECK(w.run(wcmd(wallet_op::withdrawal, "k3", 400)) == errc::ok);
  CHECK(w.m.state.available_minor == 600);
  CHECK(w.run(wcmd(wallet_op::deposit, "k4", 0)) == errc::invalid_argument);
  CHECK(w.run(wcmd(wallet_op::deposit, "k5", -5)) == errc::invalid_argument);
  CHECK(w.run(wcmd(wallet_op::deposit, "k6", max_amount_minor + 1)) == errc::invalid_argument);
}

TEST_CASE("wallet: holds move exactly to the target, capture pays escrow, release closes") {
  fold<wallet_model> w;
  w.m.id = "W";
  REQUIRE(w.run(wcmd(wallet_op::deposit, "k1", 1000)) == errc::ok);
  CHECK(w.run(wcmd(wallet_op::hold, "T:p", 300)) == errc::ok);
  CHECK(w.m.state.available_minor == 700);
  CHECK(w.m.state.held_minor == 300);
  // Repeating the same hold changes nothing; raising it holds the difference.
  auto same = w.m.decide(wcmd(wallet_op::hold, "T:p", 300));
  REQUIRE(same);
  CHECK(same->empty());
  CHECK(w.run(wcmd(wallet_op::hold, "T:p", 500)) == errc::ok);
  CHECK(w.m.state.held_minor == 500);
  CHECK(w.run(wcmd(wallet_op::hold, "T:p", 1001)) == errc::insufficient_funds);
  // Capture part of it: 400 to escrow, 100 back to available; the hold closes.
  auto cap = w.m.decide(wcmd(wallet_op::capture, "T:p", 400));
  REQUIRE(cap);
  REQUIRE(cap->size() == 1);
  const auto& posted = std::get<wallet_posted>((*cap)[0]);
  REQUIRE(posted.postings.size() == 2);
  CHECK(posted.postings[0] == posting{ledger_account::user_held, ledger_account::platform_escrow, 400});
  CHECK(posted.postings[1] == posting{ledger_account::user_held, ledger_account::user_available, 100});
  w.apply(*cap);
  CHECK(w.m.state.available_minor == 600);
  CHECK(w.m.state.held_minor == 0);
  CHECK(w.m.state.holds.empty());
  // Capturing again is a replay; holding a closed intent is refused.
  auto recap = w.m.decide(wcmd(wallet_op::capture, "T:p", 400));
  REQUIRE(recap);
  CHECK(recap->empty());
  CHECK(w.run(wcmd(wallet_op::hold, "T:p", 100)) == errc::invalid_state);
  // Release: the whole hold back; releasing again (or an unknown ref) is a no-op.
  CHECK(w.run(wcmd(wallet_op::hold, "U:c", 200)) == errc::ok);
  CHECK(w.run(wcmd(wallet_op::release, "U:c", 0)) == errc::ok);
  CHECK(w.m.state.available_minor == 600);
  auto rerel = w.m.decide(wcmd(wallet_op::release, "U:c", 0));
  REQUIRE(rerel);
  CHECK(rerel->empty());
  CHECK(w.run(wcmd(wallet_op::hold, "U:c", 50)) == errc::invalid_state);
  // Capture without a hold is refused.
  CHECK(w.run(wcmd(wallet_op::capture, "V:p", 1)) == errc::invalid_state);
}

TEST_CASE("wallet: payouts come out of escrow minus the fee, once") {
  fold<wallet_model> w;
  w.m.id = "B";
  auto c = wcmd(wallet_op::payout, "T:p", 1000);
  c.fee_minor = 15;
  auto d = w.m.decide(c);
  REQUIRE(d);
  const auto& posted = std::get<wallet_posted>((*d)[0]);
  REQUIRE(posted.postings.size() == 2);
  CHECK(posted.postings[0] == posting{ledger_account::platform_escrow, ledger_account::user_available, 985});
  CHECK(posted.postings[1] == posting{ledger_account::platform_escrow, ledger_account::platform_fees, 15});
  w.apply(*d);
  CHECK(w.m.state.available_minor == 985);
  auto again = w.m.decide(c);
  REQUIRE(again);
  CHECK(again->empty());
  c.fee_minor = 2000;
  c.ref = "X";
  CHECK(w.run(c) == errc::invalid_argument);
}

TEST_CASE("wallet: a snapshot restores balances, holds and idempotency records") {
  fold<wallet_model> w;
  w.m.id = "W";
  REQUIRE(w.run(wcmd(wallet_op::deposit, "k1", 1000)) == errc::ok);
  REQUIRE(w.run(wcmd(wallet_op::hold, "T:p", 300)) == errc::ok);
  REQUIRE(w.run(wcmd(wallet_op::release, "T:p", 0)) == errc::ok);
  auto snap = decode_snapshot(encode_snapshot(w.m.snapshot(w.seq, 1)));
  REQUIRE(snap);
  wallet_model r;
  r.id = "W";
  REQUIRE(r.restore(*snap));
  CHECK(r.state == w.m.state);
  CHECK(describe(r.decide(wcmd(wallet_op::deposit, "k1", 1000, "USD", "other")).error()).code
        == errc::idempotency_mismatch);
  CHECK(describe(r.decide(wcmd(wallet_op::hold, "T:p", 10)).error()).code == errc::invalid_state);
}

TEST_CASE("ticket trade steps: hold, deposit and transfer are fenced by the trade id") {
  auto keys = persistence::node_keys::from_secret("settlement-test");
  auto t = listed_by_a(*keys);
  auto step = [&](ticket_step s, std::string trade, std::string owner = "A", std::string to = {},
                  std::string barcode = {}) {
    ticket_trade_step c{t.m.id.str(), static_cast<uint8_t>(s), std::move(trade), std::move(owner),
                        std::move(to), std::move(barcode), {}};
    return t.run(c, *keys);
  };
  CHECK(step(ticket_step::hold, "T1", "B") == errc::forbidden);  // B does not own it
  CHECK(step(ticket_step::hold, "T1") == errc::ok);
  CHECK(t.m.state().status == ticket_status::held);
  CHECK(step(ticket_step::hold, "T1") == errc::ok);  // idempotent
  CHECK(t.seq == 2);
  CHECK(step(ticket_step::hold, "T2") == errc::invalid_state);  // one open trade at a time
  update_ticket up;
  up.ticket_id = t.m.id.str();
  up.patch.has_price = true;
  up.meta.user_id = "A";
  CHECK(describe(t.m.decide(up).error()).code == errc::invalid_state);  // frozen while held
  CHECK(step(ticket_step::deposit, "T2", "A", {}, "BARCODE-1") == errc::invalid_state);
  CHECK(step(ticket_step::deposit, "T1", "A", {}, "WRONG-CODE") == errc::invalid_argument);
  CHECK(t.m.state().status == ticket_status::held);
  CHECK(step(ticket_step::deposit, "T1", "A", {}, "BARCODE-1") == errc::ok);
  CHECK(t.m.state().status == ticket_status::in_escrow);
  CHECK(step(ticket_step::transfer, "T1", "A", "B") == errc::ok);
  CHECK(t.m.state().seller == "B");
  CHECK(t.m.state().status == ticket_status::listed);
  CHECK(t.m.state().hold_trade_id.empty());
  auto before = t.seq;
  CHECK(step(ticket_step::transfer, "T1", "A", "B") == errc::ok);  // replay
  CHECK(step(ticket_step::release, "T1") == errc::ok);              // not held: no-op
  CHECK(step(ticket_step::hold, "T1") == errc::invalid_state);      // a finished trade cannot re-hold
  CHECK(t.seq == before);
  // The owner index follows the owner.
  ticket_model old = t.m;
  auto old_state = old.state();
  old_state.seller = "A";
  old.set_state(old_state);
  auto writes = t.m.index_writes(old, t.m);
  REQUIRE(writes.size() == 4);
  CHECK(writes[0] == owner_index_prefix("A") + t.m.id.str());
  CHECK(writes[1].empty());
  CHECK(writes[2] == owner_index_prefix("B") + t.m.id.str());
  // Direct transfers: only the owner, only while listed, not to oneself.
  CHECK(step(ticket_step::transfer, "xfer-1", "A", "C") == errc::forbidden);
  CHECK(step(ticket_step::transfer, "xfer-1", "B", "B") == errc::invalid_argument);
  CHECK(step(ticket_step::transfer, "xfer-1", "B", "C") == errc::ok);
  CHECK(t.m.state().seller == "C");
  // A re-driven step of the older trade T1 is recognised as done although
  // the ticket moved on since (it must not fail, nor move it back).
  before = t.seq;
  CHECK(step(ticket_step::transfer, "T1", "A", "B") == errc::ok);
  CHECK(t.seq == before);
  CHECK(t.m.state().seller == "C");
  CHECK(t.m.state().transfer_refs == std::vector<std::string>{"T1", "xfer-1"});
  // Release after hold restores listed.
  CHECK(step(ticket_step::hold, "T3", "C") == errc::ok);
  CHECK(step(ticket_step::release, "T3") == errc::ok);
  CHECK(t.m.state().status == ticket_status::listed);
}

TEST_CASE("trade model: status graph, deposits, index and timer writes") {
  fold<trade_model> t;
  t.m.id = "T";
  trade_proposed p;
  p.proposer = "A";
  p.counterparty = "B";
  p.give = {"g1"};
  p.take = {"t1", "t2"};
  p.proposer_pays_minor = 300;
  p.currency = "USD";
  p.expires_at_ms = 1790000000000;
  trade_model before = t.m;
  t.apply({p});
  CHECK(t.m.state.status == trade_status::proposing);
  CHECK(t.m.intent_of("A") == "T:p");
  CHECK(t.m.intent_of("B") == "T:c");
  CHECK(t.m.side_of("B") == std::vector<std::string>{"t1", "t2"});
  // A working state carries a re-drive timer; waiting states the expiry.
  auto tw = t.m.timer_writes(before, t.m);
  REQUIRE(tw.size() == 2);
  CHECK(tw[0] == "wake");
  CHECK(tw[1] == std::to_string(t.m.state.updated_at_ms + trade_model::redrive_after_ms));
  auto idx = t.m.index_writes(before, t.m);
  REQUIRE(idx.size() == 4);
  CHECK(idx[0] == trade_index_prefix("A") + "T");
  CHECK(idx[1] == "proposing");
  CHECK(idx[2] == trade_index_prefix("B") + "T");
  before = t.m;
  t.apply({trade_status_changed{trade_status::proposed, trade_status::proposing, {}, {"A", "B"}}});
  CHECK(t.m.timer_writes(before, t.m) == std::vector<std::string>{"wake", "1790000000000"});
  t.apply({trade_status_changed{trade_status::accepted, trade_status::proposing, {}, {"A", "B"}}});
  t.apply({trade_deposit{"t1"}});
  CHECK(t.m.state.status == trade_status::in_escrow);
  t.apply({trade_deposit{"t1"}});  // the same deposit twice counts once
  CHECK(t.m.state.deposited.size() == 1);
  t.apply({trade_deposit{"g1"}});
  CHECK(t.m.state.status == trade_status::in_escrow);
  t.apply({trade_deposit{"t2"}});
  CHECK(t.m.state.status == trade_status::transferring);
  before = t.m;
  t.apply({trade_status_changed{trade_status::completed, trade_status::proposing, {}, {"A", "B"}}});
  CHECK(t.m.timer_writes(before, t.m) == std::vector<std::string>{"wake", ""});  // deleted
  CHECK(is_final(t.m.state.status));
  // Disputes enter and leave the compliance queue.
  fold<trade_model> d;
  d.m.id = "D";
  d.apply({p});
  d.apply({trade_status_changed{trade_status::proposed, trade_status::proposing, {}, {}}});
  before = d.m;
  d.apply({trade_disputed{"B", "fake"}});
  auto q = d.m.index_writes(before, d.m);
  REQUIRE(q.size() == 6);
  CHECK(q[4] == dispute_index_prefix() + "D");
  CHECK(q[5] == "fake");
  CHECK(d.m.timer_writes(before, d.m) == std::vector<std::string>{"wake", ""});  // frozen
  before = d.m;
  d.apply({trade_status_changed{trade_status::releasing, trade_status::refunded, {}, {}}});
  q = d.m.index_writes(before, d.m);
  REQUIRE(q.size() == 6);
  CHECK(q[5].empty());  // left the queue
  // Snapshots round-trip.
  auto snap = decode_snapshot(encode_snapshot(d.m.snapshot(d.seq, 1)));
  REQUIRE(snap);
  trade_model r;
  r.id = "D";
  REQUIRE(r.restore(*snap));
  CHECK(r.state == d.m.state);
}

TEST_CASE("fees are basis points of the net cash, rounded down, without overflow") {
  CHECK(trade_model::fee_of(10000, 150) == 150);
  CHECK(trade_model::fee_of(99, 150) == 1);
  CHECK(trade_model::fee_of(66, 150) == 0);
  CHECK(trade_model::fee_of(max_amount_minor, 10000) == max_amount_minor);
  CHECK(trade_model::fee_of(1000, 0) == 0);
}

TEST_CASE("ticket offers: owner only, listed only, idempotent, closed by withdrawal and transfer") {
  auto keys = persistence::node_keys::from_secret("settlement-test");
  auto t = listed_by_a(*keys);
  offer_ticket o;
  o.ticket_id = t.m.id.str();
  o.want_event_ids = {"x"};
  o.max_cash_minor = 500;
  o.weights_permille = {1000, 0};
  o.meta.user_id = "B";
  CHECK(t.run(o) == errc::forbidden);
  o.meta.user_id = "A";
  o.max_cash_minor = -1;
  CHECK(t.run(o) == errc::invalid_argument);
  o.max_cash_minor = 500;
  o.weights_permille = {1001};
  CHECK(t.run(o) == errc::invalid_argument);
  o.weights_permille = {1000, 0};
  auto seq = t.seq;
  CHECK(t.run(o) == errc::ok);
  CHECK(t.m.state().offer_open);
  CHECK(t.m.view(t.seq, false).want_event_ids == std::vector<std::string>{"x"});
  CHECK(t.run(o) == errc::ok);  // the same offer: nothing written
  CHECK(t.seq == seq + 1);
  o.want_event_ids = {"y"};
  CHECK(t.run(o) == errc::ok);  // replaced
  CHECK(t.m.state().offer.want_event_ids == std::vector<std::string>{"y"});
  offer_ticket close{t.m.id.str(), true, {}, {}, {}, 0, {}, {}};
  close.meta.user_id = "A";
  CHECK(t.run(close) == errc::ok);
  CHECK_FALSE(t.m.state().offer_open);
  seq = t.seq;
  CHECK(t.run(close) == errc::ok);  // idempotent
  CHECK(t.seq == seq);
  // A transfer ends the offer: the new owner is not bound by it.
  CHECK(t.run(o) == errc::ok);
  ticket_trade_step tr{t.m.id.str(), static_cast<uint8_t>(ticket_step::transfer), "X1", "A", "B", {}, {}};
  CHECK(t.run(tr, *keys) == errc::ok);
  CHECK_FALSE(t.m.state().offer_open);
  // Not listed: no offer.
  ticket_trade_step hold{t.m.id.str(), static_cast<uint8_t>(ticket_step::hold), "X2", "B", {}, {}, {}};
  CHECK(t.run(hold, *keys) == errc::ok);
  o.meta.user_id = "B";
  CHECK(t.run(o) == errc::invalid_state);
}

TEST_CASE("matched trades: parties, acceptance, deposits and cash flows that net exactly") {
  fold<trade_model> t;
  t.m.id = "M";
  trade_matched m;
  // a gives to c, b gives to a, c gives to b; nets +100, +150, -250.
  m.parties = {trade_party{"a", {"ta"}, 2, 10000, 100}, trade_party{"b", {"tb"}, 0, 10100, 150},
               trade_party{"c", {"tc"}, 1, 10250, -250}};
  m.currency = "USD";
  m.expires_at_ms = 1790000000000;
  m.match_key = "k";
  trade_model before = t.m;
  t.apply({m});
  CHECK(t.m.matched());
  CHECK(t.m.state.status == trade_status::proposed);
  CHECK(t.m.is_party("b"));
  CHECK_FALSE(t.m.is_party("z"));
  CHECK(t.m.receiver_of("a") == "c");
  CHECK(t.m.receiver_of("b") == "a");
  CHECK(t.m.side_of("c") == std::vector<std::string>{"tc"});
  CHECK(t.m.ticket_count() == 3);
  auto flows = t.m.cash_flows();
  REQUIRE(flows.size() == 2);
  CHECK(flows[0].payer == "a");
  CHECK(flows[0].payee == "c");
  CHECK(flows[0].amount_minor == 100);
  CHECK(flows[1].payer == "b");
  CHECK(flows[1].payee == "c");
  CHECK(flows[1].amount_minor == 150);
  CHECK(flows[0].intent != flows[1].intent);
  CHECK(t.m.pays("a") == 100);
  CHECK(t.m.pays("c") == 0);
  // Every party's index entry.
  auto idx = t.m.index_writes(before, t.m);
  CHECK(idx.size() == 6);
  t.apply({trade_party_accepted{"a"}, trade_party_accepted{"b"}});
  CHECK(t.m.state.status == trade_status::proposed);
  t.apply({trade_party_accepted{"b"}});  // twice: counted once
  CHECK(t.m.state.accepted.size() == 2);
  t.apply({trade_party_accepted{"c"}});
  CHECK(t.m.state.status == trade_status::accepted);
  t.apply({trade_deposit{"ta"}, trade_deposit{"tb"}});
  CHECK(t.m.state.status == trade_status::in_escrow);
  t.apply({trade_deposit{"tc"}});
  CHECK(t.m.state.status == trade_status::transferring);
  // A payer owing two payees gets two flows; the flows always net out.
  trade_model two;
  two.id = "N";
  two.state.parties = {trade_party{"p", {"1"}, 1, 0, 300}, trade_party{"q", {"2"}, 2, 0, -100},
                       trade_party{"r", {"3"}, 0, 0, -200}};
  std::map<std::string, int64_t> net;
  for (const auto& f : two.cash_flows()) {
    net[f.payer] += f.amount_minor;
    net[f.payee] -= f.amount_minor;
  }
  CHECK(net["p"] == 300);
  CHECK(net["q"] == -100);
  CHECK(net["r"] == -200);
}
