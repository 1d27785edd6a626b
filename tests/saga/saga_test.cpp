// Deterministic tests of the trade saga with CAF's test coordinator
// (caf/test/dsl.hpp): every actor — journal, ticket and wallet regions, the
// ledger payment provider, the escrow adapter, the trade region — runs on the
// simulated scheduler, so each saga step and each compensation is checked in
// a fixed order, and faults (a provider that fails, a region that dies
// mid-saga) are injected exactly where wanted. Storage is a real RocksDB in a
// temp dir.
#define CAF_SUITE saga

#include "caf/test/dsl.hpp"
#include "caf/test/unit_test_impl.hpp"

#include <cstdlib>
#include <filesystem>
#include <memory>

#include "actors/entity_env.hpp"
#include "actors/ledger_audit.hpp"
#include "actors/settlement.hpp"
#include "actors/shard_region.hpp"
#include "actors/ticket_model.hpp"
#include "actors/trade_model.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/system.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "persistence/node_keys.hpp"

using namespace tt;

namespace {

struct saga_config : caf::actor_system_config {
  saga_config() { init_message_types(*this); }
};

/// A payment provider that forwards to the ledger provider, or fails with
/// `unavailable` (a transient error) while `failures` is positive.
struct flaky_state {
  std::shared_ptr<int> failures;
  static inline const char* name = "flaky_provider";
};

payment_provider_actor::behavior_type
flaky_provider(payment_provider_actor::stateful_pointer<flaky_state> self,
               payment_provider_actor inner, std::shared_ptr<int> failures) {
  self->state.failures = std::move(failures);
  return {
    [self, inner](payment_command& cmd) -> caf::result<payment_intent> {
      if (*self->state.failures > 0) {
        --*self->state.failures;
        return make_error(errc::unavailable, "provider down (injected)");
      }
      return self->delegate(inner, std::move(cmd));
    },
  };
}

struct fixture : test_coordinator_fixture<saga_config> {
  /// Dispatches messages only: timeouts (the regions' periodic sweeps,
  /// request timeouts) never fire, so nothing here depends on time passing.
  size_t run() { return sched.run(); }

  std::filesystem::path dir;
  std::shared_ptr<persistence::event_store> store;
  std::shared_ptr<persistence::node_keys> keys = persistence::node_keys::from_secret("saga");
  std::shared_ptr<int64_t> now = std::make_shared<int64_t>(1800000000000);
  std::shared_ptr<int> provider_failures = std::make_shared<int>(0);
  journal_actor journal;
  ticket_region_actor tickets;
  wallet_region_actor wallets;
  payment_provider_actor ledger;
  payment_provider_actor payments;
  transfer_adapter_actor transfers;
  trade_region_actor trades;
  actors::entity_env env;
  std::shared_ptr<actors::settlement_deps> deps;

  fixture() {
    char tmpl[] = "/tmp/tt-saga-XXXXXX";
    dir = ::mkdtemp(tmpl);
    std::string err;
    store = persistence::event_store::open(persistence::store_options{(dir / "db").string()}, &err);
    CAF_REQUIRE(store != nullptr);
    persistence::journal_config jc;
    jc.detached = false;
    journal = persistence::spawn_journal(sys, store, jc, nullptr);
    env.store = store;
    env.journal = journal;
    env.keys = keys;
    env.clock = [n = now] { return *n; };
    actors::region_config rc;
    rc.idle_timeout = std::chrono::hours{1};
    rc.sweep_interval = std::chrono::hours{1};
    tickets = actors::spawn_ticket_region(sys, env, rc, nullptr);
    wallets = actors::spawn_wallet_region(sys, env, rc, nullptr);
    ledger = actors::spawn_ledger_provider(sys, wallets);
    payments = sys.spawn(flaky_provider, ledger, provider_failures);
    transfers = actors::spawn_escrow_upload_adapter(sys, tickets);
    deps = std::make_shared<actors::settlement_deps>();
    deps->tickets = tickets;
    deps->transfers = transfers;
    deps->payments = payments;
    deps->commit_window = std::chrono::hours{1};
    deps->match_accept_window = std::chrono::minutes{10};
    deps->fee_bps = 100;  // 1 %
    spawn_trades();
    run();
  }

  void spawn_trades() {
    auto e = env;
    e.settlement = deps;
    actors::region_config rc;
    rc.idle_timeout = std::chrono::hours{1};
    rc.sweep_interval = std::chrono::hours{1};
    trades = actors::spawn_trade_region(sys, e, rc, nullptr);
  }

  ~fixture() override {
    for (auto h : {caf::actor_cast<caf::actor>(trades), caf::actor_cast<caf::actor>(payments),
                   caf::actor_cast<caf::actor>(ledger), caf::actor_cast<caf::actor>(transfers),
                   caf::actor_cast<caf::actor>(wallets), caf::actor_cast<caf::actor>(tickets),
                   caf::actor_cast<caf::actor>(journal)})
      anon_send_exit(h, caf::exit_reason::user_shutdown);
    run();
    store->close();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  /// Sends `msg` to `dest`, runs the system to quiescence, returns the answer.
  template <class Reply, class Dest, class Msg>
  caf::expected<Reply> ask(const Dest& dest, Msg msg) {
    auto h = self->request(dest, caf::infinite, std::move(msg));
    run();
    CAF_REQUIRE(!self->mailbox().empty());  // nothing may be left hanging
    caf::expected<Reply> out = make_error(errc::unavailable, "no answer");
    h.receive([&](Reply& r) { out = std::move(r); }, [&](caf::error& e) { out = std::move(e); });
    return out;
  }

  std::string list(const std::string& owner, const std::string& barcode) {
    ticket_fields f;
    f.event_id = "ev-1";
    f.event_name = "Show";
    f.currency = "USD";
    f.face_value_minor = 10000;
    f.seats = {barcode};
    auto ids = actors::derive_listing_ids(*keys, owner, f, barcode);
    list_ticket cmd{ids.ticket_id, f, barcode, ids.dedup_hash, {}};
    cmd.meta.user_id = owner;
    auto v = ask<ticket_view>(tickets, cmd);
    CAF_REQUIRE(v);
    return v->id;
  }

  /// A 3-cycle's set-up: tickets of A, B and C listed (barcodes
  /// BARCODE-<tag>A/B/C) and 1000 deposited for A and B; the parties of the
  /// match: a gives to c, b gives to a, c gives to b; nets a +100, b +150,
  /// c -250.
  struct cycle {
    std::string ta, tb, tc;
    std::vector<match_party> parties;
  };
  cycle three_cycle(const std::string& C, const std::string& tag) {
    cycle out;
    out.ta = list(A, "BARCODE-" + tag + "A");
    out.tb = list(B, "BARCODE-" + tag + "B");
    out.tc = list(C, "BARCODE-" + tag + "C");
    deposit(A, 1000);
    deposit(B, 1000);
    out.parties = {{A, {out.ta}, 2, 10000, 100},
                   {B, {out.tb}, 0, 10100, 150},
                   {C, {out.tc}, 1, 10250, -250}};
    return out;
  }

  void deposit(const std::string& account, int64_t amount) {
    wallet_command c;
    c.wallet_id = account;
    c.op = static_cast<uint8_t>(wallet_op::deposit);
    c.ref = "dep-" + std::to_string(amount) + account;
    c.amount_minor = amount;
    c.currency = "USD";
    CAF_REQUIRE(ask<wallet_view>(wallets, c));
  }

  wallet_view wallet(const std::string& account) {
    auto v = ask<wallet_view>(wallets, get_wallet{account});
    return v ? *v : wallet_view{};
  }

  ticket_view ticket(const std::string& id) {
    auto v = ask<ticket_view>(tickets, get_ticket{id});
    CAF_REQUIRE(v);
    return *v;
  }

  caf::expected<trade_view> propose(const std::string& id, const std::string& by,
                                    std::vector<std::string> give, std::vector<std::string> take,
                                    int64_t cash) {
    propose_trade p{id, by, std::move(give), std::move(take), cash, "hash-" + id, {}};
    p.meta.user_id = by;
    return ask<trade_view>(trades, p);
  }

  caf::expected<trade_view> act(const std::string& id, trade_action_kind k, const std::string& by,
                                std::string ticket_id = {}, std::string barcode = {}) {
    trade_action a;
    a.trade_id = id;
    a.action = static_cast<uint8_t>(k);
    a.by = by;
    a.ticket_id = std::move(ticket_id);
    a.barcode = std::move(barcode);
    a.meta.user_id = by;
    return ask<trade_view>(trades, a);
  }

  template <class T>
  void require_ok(const caf::expected<T>& r, int line) {
    if (!r)
      CAF_FAIL("line " << line << ": " << describe(r.error()).message);
  }

  errc code(const caf::expected<trade_view>& r) { return r ? errc::ok : describe(r.error()).code; }

  /// The invariants, from the log alone.
  void check_audit() {
    auto r = actors::run_audit(*store);
    for (auto& v : r.violations)
      CAF_MESSAGE("violation: " << v);
    CAF_CHECK_EQUAL(r.sum, 0);
    CAF_CHECK(r.negative_wallets.empty());
    CAF_CHECK(r.violations.empty());
  }

  const std::string A = "AAAAAAAAAAAAAAAAAAAAAA";
  const std::string B = "BBBBBBBBBBBBBBBBBBBBBB";
};

const std::string T1 = "T111111111111111111111";
const std::string T2 = "T222222222222222222222";

} // namespace

CAF_TEST_FIXTURE_SCOPE(saga_tests, fixture)

CAF_TEST(propose holds the proposer side and accept the counterparty side) {
  auto ta = list(A, "BARCODE-A");
  auto tb = list(B, "BARCODE-B");
  deposit(A, 1000);
  auto t = propose(T1, A, {ta}, {tb}, 300);
  require_ok(t, __LINE__);
  CAF_CHECK_EQUAL(t->status, "proposed");
  CAF_CHECK_EQUAL(t->counterparty, B);
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::held));
  CAF_CHECK_EQUAL(ticket(tb).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(wallet(A).held_minor, 300);
  CAF_CHECK_EQUAL(wallet(A).available_minor, 700);
  // A retry of the same proposal is answered from the trade, nothing moves.
  auto again = propose(T1, A, {ta}, {tb}, 300);
  CAF_REQUIRE(again);
  CAF_CHECK_EQUAL(again->version, t->version);
  CAF_CHECK_EQUAL(wallet(A).held_minor, 300);
  // Only the counterparty accepts.
  CAF_CHECK_EQUAL(code(act(T1, trade_action_kind::accept, A)), errc::forbidden);
  auto acc = act(T1, trade_action_kind::accept, B);
  CAF_REQUIRE(acc);
  CAF_CHECK_EQUAL(acc->status, "accepted");
  CAF_CHECK_EQUAL(ticket(tb).status, static_cast<uint8_t>(ticket_status::held));
  check_audit();
}

CAF_TEST(deposits complete the trade - ownership swaps and the net cash is paid once with the fee) {
  auto ta = list(A, "BARCODE-A");
  auto tb = list(B, "BARCODE-B");
  deposit(A, 1000);
  require_ok(propose(T1, A, {ta}, {tb}, 300), __LINE__);
  require_ok(act(T1, trade_action_kind::accept, B), __LINE__);
  // A wrong barcode changes nothing.
  CAF_CHECK_EQUAL(code(act(T1, trade_action_kind::deposit, A, ta, "WRONG-CODE")),
                  errc::invalid_argument);
  CAF_CHECK_EQUAL(code(act(T1, trade_action_kind::deposit, B, ta, "BARCODE-A")),
                  errc::invalid_argument);  // not B's ticket in this trade
  auto d1 = act(T1, trade_action_kind::deposit, A, ta, "BARCODE-A");
  CAF_REQUIRE(d1);
  CAF_CHECK_EQUAL(d1->status, "in_escrow");
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::in_escrow));
  auto d2 = act(T1, trade_action_kind::deposit, B, tb, "BARCODE-B");
  CAF_REQUIRE(d2);
  CAF_CHECK_EQUAL(d2->status, "completed");
  CAF_CHECK_EQUAL(ticket(ta).seller, B);
  CAF_CHECK_EQUAL(ticket(tb).seller, A);
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(wallet(A).available_minor, 700);
  CAF_CHECK_EQUAL(wallet(A).held_minor, 0);
  CAF_CHECK_EQUAL(wallet(B).available_minor, 297);  // 300 minus the 1 % fee
  auto r = actors::run_audit(*store);
  CAF_CHECK_EQUAL(r.totals[static_cast<size_t>(ledger_account::platform_fees)], 3);
  CAF_CHECK_EQUAL(r.totals[static_cast<size_t>(ledger_account::platform_escrow)], 0);
  // Late duplicates are harmless.
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::deposit, B, tb, "BARCODE-B")->status, "completed");
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::accept, B)->status, "completed");
  CAF_CHECK_EQUAL(wallet(B).available_minor, 297);
  check_audit();
}

CAF_TEST(a proposal that cannot be held is rejected and compensated) {
  auto ta = list(A, "BARCODE-A");
  auto ta2 = list(A, "BARCODE-A2");
  auto tb = list(B, "BARCODE-B");
  deposit(A, 100);
  // Not enough money: A's tickets were held in parallel and are released again.
  CAF_CHECK_EQUAL(code(propose(T1, A, {ta, ta2}, {tb}, 300)), errc::insufficient_funds);
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(ticket(ta2).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(wallet(A).available_minor, 100);
  CAF_CHECK_EQUAL(wallet(A).held_minor, 0);
  // The rejected trade stays rejected when retried.
  CAF_CHECK_EQUAL(code(propose(T1, A, {ta, ta2}, {tb}, 300)), errc::invalid_state);
  // Someone else's ticket, or a ticket in another open trade, is refused.
  CAF_CHECK_EQUAL(code(propose(T2, B, {ta}, {tb}, 0)), errc::forbidden);
  require_ok(propose(T2, A, {ta}, {tb}, 0), __LINE__);
  CAF_CHECK_EQUAL(code(propose("T333333333333333333333", A, {ta}, {tb}, 0)), errc::invalid_state);
  check_audit();
}

CAF_TEST(a failed accept releases what it held and leaves the trade proposed) {
  auto ta = list(A, "BARCODE-A");
  auto tb = list(B, "BARCODE-B");
  // B must pay 500 but has nothing.
  require_ok(propose(T1, A, {ta}, {tb}, -500), __LINE__);
  CAF_CHECK_EQUAL(code(act(T1, trade_action_kind::accept, B)), errc::insufficient_funds);
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::get, A)->status, "proposed");
  CAF_CHECK_EQUAL(ticket(tb).status, static_cast<uint8_t>(ticket_status::listed));
  deposit(B, 800);
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::accept, B)->status, "accepted");
  CAF_CHECK_EQUAL(wallet(B).held_minor, 500);
  check_audit();
}

CAF_TEST(decline cancel and expiry release every hold) {
  auto ta = list(A, "BARCODE-A");
  auto tb = list(B, "BARCODE-B");
  deposit(A, 1000);
  require_ok(propose(T1, A, {ta}, {tb}, 300), __LINE__);
  CAF_CHECK_EQUAL(code(act(T1, trade_action_kind::decline, A)), errc::forbidden);
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::decline, B)->status, "declined");
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(wallet(A).held_minor, 0);
  CAF_CHECK_EQUAL(wallet(A).available_minor, 1000);
  // Cancel after accept and one deposit.
  require_ok(propose(T2, A, {ta}, {tb}, 200), __LINE__);
  require_ok(act(T2, trade_action_kind::accept, B), __LINE__);
  require_ok(act(T2, trade_action_kind::deposit, A, ta, "BARCODE-A"), __LINE__);
  CAF_CHECK_EQUAL(act(T2, trade_action_kind::cancel, A)->status, "cancelled");
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(ticket(tb).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(wallet(A).available_minor, 1000);
  // Expiry: a wake before the deadline does nothing, after it releases.
  const std::string T3 = "T333333333333333333333";
  require_ok(propose(T3, A, {ta}, {tb}, 100), __LINE__);
  CAF_CHECK_EQUAL(act(T3, trade_action_kind::wake, {})->status, "proposed");
  *now += std::chrono::milliseconds{std::chrono::hours{1}}.count();
  CAF_CHECK_EQUAL(act(T3, trade_action_kind::wake, {})->status, "expired");
  CAF_CHECK_EQUAL(code(act(T3, trade_action_kind::accept, B)), errc::invalid_state);
  CAF_CHECK_EQUAL(wallet(A).available_minor, 1000);
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::listed));
  check_audit();
}

CAF_TEST(disputes freeze the trade until an operator refunds or completes it) {
  auto ta = list(A, "BARCODE-A");
  auto tb = list(B, "BARCODE-B");
  deposit(A, 1000);
  require_ok(propose(T1, A, {ta}, {tb}, 300), __LINE__);
  require_ok(act(T1, trade_action_kind::accept, B), __LINE__);
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::dispute, B)->status, "disputed");
  // Frozen: no expiry, no cancel, holds stay.
  *now += std::chrono::milliseconds{std::chrono::hours{2}}.count();
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::wake, {})->status, "disputed");
  CAF_CHECK_EQUAL(code(act(T1, trade_action_kind::cancel, A)), errc::invalid_state);
  CAF_CHECK_EQUAL(wallet(A).held_minor, 300);
  CAF_CHECK_EQUAL(store->scan_index(actors::dispute_index_prefix(), {}, 10).size(), 1u);
  CAF_CHECK_EQUAL(code(act(T1, trade_action_kind::resolve_refund, A)), errc::forbidden);
  trade_action resolve;
  resolve.trade_id = T1;
  resolve.action = static_cast<uint8_t>(trade_action_kind::resolve_refund);
  resolve.admin = true;
  CAF_CHECK_EQUAL(ask<trade_view>(trades, resolve)->status, "refunded");
  CAF_CHECK_EQUAL(wallet(A).held_minor, 0);
  CAF_CHECK_EQUAL(ticket(tb).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK(store->scan_index(actors::dispute_index_prefix(), {}, 10).empty());
  // The other outcome: complete (ownership and money move without deposits).
  *now += 1;
  require_ok(propose(T2, A, {ta}, {tb}, 300), __LINE__);
  require_ok(act(T2, trade_action_kind::accept, B), __LINE__);
  require_ok(act(T2, trade_action_kind::dispute, A), __LINE__);
  resolve.trade_id = T2;
  resolve.action = static_cast<uint8_t>(trade_action_kind::resolve_complete);
  CAF_CHECK_EQUAL(ask<trade_view>(trades, resolve)->status, "completed");
  CAF_CHECK_EQUAL(ticket(ta).seller, B);
  CAF_CHECK_EQUAL(wallet(B).available_minor, 297);
  check_audit();
}

CAF_TEST(a provider outage leaves the saga in its working state and a wake finishes it) {
  auto ta = list(A, "BARCODE-A");
  auto tb = list(B, "BARCODE-B");
  deposit(A, 1000);
  // Proposing: the cash hold fails transiently -> the trade stays proposing.
  *provider_failures = 1;
  CAF_CHECK_EQUAL(code(propose(T1, A, {ta}, {tb}, 300)), errc::unavailable);
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::get, A)->status, "proposing");
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::wake, {})->status, "proposed");
  CAF_CHECK_EQUAL(wallet(A).held_minor, 300);
  require_ok(act(T1, trade_action_kind::accept, B), __LINE__);
  require_ok(act(T1, trade_action_kind::deposit, A, ta, "BARCODE-A"), __LINE__);
  // Transferring: tickets move, the capture fails; the trade stays
  // transferring with the tickets already moved.
  *provider_failures = 1;
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::deposit, B, tb, "BARCODE-B")->status, "transferring");
  CAF_CHECK_EQUAL(ticket(ta).seller, B);
  CAF_CHECK_EQUAL(wallet(A).held_minor, 300);
  // The node "crashes": the trade region and its entities die; a new region
  // recovers the trade from the journal and the supervisor's wake finishes it.
  anon_send_exit(trades, caf::exit_reason::user_shutdown);
  run();
  spawn_trades();
  run();
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::wake, {})->status, "completed");
  CAF_CHECK_EQUAL(wallet(A).available_minor, 700);
  CAF_CHECK_EQUAL(wallet(A).held_minor, 0);
  CAF_CHECK_EQUAL(wallet(B).available_minor, 297);
  // Waking again repeats nothing.
  CAF_CHECK_EQUAL(act(T1, trade_action_kind::wake, {})->status, "completed");
  CAF_CHECK_EQUAL(wallet(B).available_minor, 297);
  check_audit();
}

CAF_TEST(durable timers follow the trade - expiry while waiting and none when final) {
  auto ta = list(A, "BARCODE-A");
  auto tb = list(B, "BARCODE-B");
  deposit(A, 1000);
  require_ok(propose(T1, A, {ta}, {tb}, 300), __LINE__);
  auto due = store->due_timers(std::numeric_limits<int64_t>::max(), 10);
  CAF_REQUIRE_EQUAL(due.size(), 1u);
  CAF_CHECK_EQUAL(due[0].entity_id, T1);
  CAF_CHECK_EQUAL(due[0].due_ms, *now + std::chrono::milliseconds{std::chrono::hours{1}}.count());
  CAF_CHECK(store->due_timers(*now, 10).empty());
  require_ok(act(T1, trade_action_kind::decline, B), __LINE__);
  CAF_CHECK(store->due_timers(std::numeric_limits<int64_t>::max(), 10).empty());
}

CAF_TEST(a matched 3-cycle - shape checks then every party accepts and a provider outage mid-settlement recovers) {
  const std::string C = "CCCCCCCCCCCCCCCCCCCCCC";
  const std::string M = "M111111111111111111111";
  auto [ta, tb, tc, good] = three_cycle(C, "M");
  auto match = [&](std::vector<match_party> ps, std::string key = "k1") {
    propose_match m{M, std::move(ps), "USD", std::move(key), {}};
    return ask<trade_view>(trades, m);
  };
  // Malformed matches are typed errors and write nothing.
  auto bad = good;
  bad[2].net_cash_minor = -200;  // does not net to zero
  CAF_CHECK_EQUAL(code(match(bad)), errc::invalid_argument);
  bad = good;
  bad[1].receiver = 1;  // gives to itself
  CAF_CHECK_EQUAL(code(match(bad)), errc::invalid_argument);
  bad = good;
  bad[1].account = A;  // a party twice
  CAF_CHECK_EQUAL(code(match(bad)), errc::invalid_argument);
  bad = good;
  bad[0].give = {tb};  // not A's ticket
  bad[1].give = {ta};
  CAF_CHECK_EQUAL(code(match(bad)), errc::invalid_state);
  CAF_CHECK_EQUAL(store->last_seq(entity_kind::trade, M), 0u);
  // The real one; proposing it again is the same trade, another key is refused.
  auto v = match(good);
  require_ok(v, __LINE__);
  CAF_CHECK_EQUAL(v->status, "proposed");
  CAF_CHECK_EQUAL(v->parties.size(), 3u);
  auto again = match(good);
  require_ok(again, __LINE__);
  CAF_CHECK_EQUAL(again->version, v->version);
  CAF_CHECK_EQUAL(code(match(good, "k2")), errc::idempotency_mismatch);
  // Nothing is held before each party accepts; accepting holds its side.
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(code(act(M, trade_action_kind::accept, "ZZZZZZZZZZZZZZZZZZZZZZ")), errc::not_found);
  CAF_CHECK_EQUAL(code(act(M, trade_action_kind::add_cash, A)), errc::invalid_state);
  CAF_CHECK_EQUAL(act(M, trade_action_kind::accept, A)->status, "proposed");
  CAF_CHECK_EQUAL(wallet(A).held_minor, 100);
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::held));
  CAF_CHECK_EQUAL(act(M, trade_action_kind::accept, B)->status, "proposed");
  // The acceptance window (10 min) ran until here; the last acceptance gives
  // the deposits the whole commit window (1 h) from now.
  CAF_CHECK_EQUAL(v->expires_at_ms, *now + 10 * 60 * 1000);
  *now += 5 * 60 * 1000;
  auto accepted = act(M, trade_action_kind::accept, C);
  require_ok(accepted, __LINE__);
  CAF_CHECK_EQUAL(accepted->status, "accepted");
  CAF_CHECK_EQUAL(accepted->expires_at_ms, *now + 60 * 60 * 1000);
  *now += 10 * 60 * 1000;  // past the acceptance window: the deposits go on
  require_ok(act(M, trade_action_kind::deposit, A, ta, "BARCODE-MA"), __LINE__);
  require_ok(act(M, trade_action_kind::deposit, B, tb, "BARCODE-MB"), __LINE__);
  // The last deposit starts the transfer; one capture fails (provider down).
  *provider_failures = 1;
  CAF_CHECK_EQUAL(act(M, trade_action_kind::deposit, C, tc, "BARCODE-MC")->status, "transferring");
  // Crash: a new trade region recovers the trade; the wake finishes it.
  anon_send_exit(trades, caf::exit_reason::user_shutdown);
  run();
  spawn_trades();
  run();
  CAF_CHECK_EQUAL(act(M, trade_action_kind::wake, {})->status, "completed");
  CAF_CHECK_EQUAL(ticket(ta).seller, C);
  CAF_CHECK_EQUAL(ticket(tb).seller, A);
  CAF_CHECK_EQUAL(ticket(tc).seller, B);
  // Cash: a paid 100 and b 150 to c, less the 1 % fee on each payment.
  CAF_CHECK_EQUAL(wallet(A).available_minor, 900);
  CAF_CHECK_EQUAL(wallet(B).available_minor, 850);
  CAF_CHECK_EQUAL(wallet(C).available_minor, 99 + 149);
  CAF_CHECK_EQUAL(wallet(A).held_minor + wallet(B).held_minor + wallet(C).held_minor, 0);
  CAF_CHECK_EQUAL(act(M, trade_action_kind::wake, {})->status, "completed");
  CAF_CHECK_EQUAL(wallet(C).available_minor, 248);
  check_audit();
}

CAF_TEST(a matched trade not accepted by every party within the acceptance window expires and releases the others) {
  const std::string C = "CCCCCCCCCCCCCCCCCCCCCC";
  const std::string M = "M222222222222222222222";
  auto [ta, tb, tc, parties] = three_cycle(C, "N");
  propose_match m{M, parties, "USD", "k-window", {}};
  auto v = ask<trade_view>(trades, m);
  require_ok(v, __LINE__);
  CAF_CHECK_EQUAL(v->expires_at_ms, *now + 10 * 60 * 1000);
  // a and b accept (their tickets and cash are held); c never does.
  CAF_CHECK_EQUAL(act(M, trade_action_kind::accept, A)->status, "proposed");
  CAF_CHECK_EQUAL(act(M, trade_action_kind::accept, B)->status, "proposed");
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::held));
  CAF_CHECK_EQUAL(wallet(B).held_minor, 150);
  // Its wake timer is due at the end of the acceptance window, not the commit window.
  bool timer_at_window = false;
  for (auto& t : store->due_timers(std::numeric_limits<int64_t>::max(), 100))
    timer_at_window = timer_at_window || (t.entity_id == M && t.due_ms == v->expires_at_ms);
  CAF_CHECK(timer_at_window);
  *now += 10 * 60 * 1000 - 1;
  CAF_CHECK_EQUAL(act(M, trade_action_kind::wake, {})->status, "proposed");
  *now += 1;
  CAF_CHECK_EQUAL(act(M, trade_action_kind::wake, {})->status, "expired");
  CAF_CHECK_EQUAL(code(act(M, trade_action_kind::accept, C)), errc::invalid_state);
  CAF_CHECK_EQUAL(ticket(ta).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(ticket(tb).status, static_cast<uint8_t>(ticket_status::listed));
  CAF_CHECK_EQUAL(wallet(A).held_minor + wallet(B).held_minor, 0);
  CAF_CHECK_EQUAL(wallet(A).available_minor, 1000);
  CAF_CHECK_EQUAL(wallet(B).available_minor, 1000);
  check_audit();
}

CAF_TEST_FIXTURE_SCOPE_END()
