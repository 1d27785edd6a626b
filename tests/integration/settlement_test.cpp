// Settlement end to end over HTTP against one real tt-node: wallets
// (idempotent deposits/withdrawals, postings), trades (propose, accept,
// deposits, completion, negative cash, several tickets, decline, cancel,
// conflicts, /cash, expiry, disputes), direct transfers and idempotent
// proposals. After every scenario the operator's ledger audit must be clean
// (ok, sum 0, no violations, no negative wallets).
//
// The node runs with --commit-window-s 3 and --timer-poll-ms 100, so expiry
// is observable within seconds; every wait is a bounded poll.
#include <doctest/doctest.h>

#include <map>
#include <memory>

#include "support/tt_support.hpp"

using namespace tt::it;

namespace {

constexpr int commit_window_s = 3;

/// One node for all test cases of this binary (started on first use,
/// killed and its data dir removed at exit).
struct settlement_env {
  temp_dir dir{"tt-it-settle"};
  node_process node{dir.sub("node"), 0, settlement_node_args(commit_window_s)};
  account admin;
  int next_user = 0;

  settlement_env() {
    if (!node.start())
      throw std::runtime_error("tt-node did not start");
    progress("node up on port ", node.port(), ", data dir ", node.data_dir());
    http_client c{node.port()};
    admin = sign_in(c, "admin@example.com");
    if (admin.token.empty())
      throw std::runtime_error("admin sign-in failed");
  }
};

settlement_env& env() {
  static settlement_env e;
  return e;
}

struct user {
  account acct;
  std::string email;
  std::map<std::string, std::string> barcodes;  // ticket id -> barcode
  headers_t auth() const { return acct.auth(); }
  const std::string& id() const { return acct.id; }
};

/// A fresh account with a unique email.
user new_user(http_client& c, const std::string& name) {
  user u;
  u.email = name + "-" + std::to_string(++env().next_user) + "@example.com";
  u.acct = sign_in(c, u.email);
  REQUIRE_MESSAGE(!u.acct.token.empty(), "sign-in of " << u.email);
  REQUIRE_MESSAGE(!u.acct.id.empty(), "GET /me of " << u.email);
  return u;
}

/// Lists a USD ticket; returns its id (the barcode is remembered).
std::string list_ticket(http_client& c, user& u) {
  static int n = 0;
  auto body = usd_listing("st-" + u.id().substr(0, 8), ++n);
  auto r = c.post("/api/v1/tickets", json::serialize(body), u.auth());
  REQUIRE_MESSAGE(r.status == 201, "listing: " << r.status << " " << r.body << r.error);
  auto id = str_of(r.json(), "id");
  REQUIRE(!id.empty());
  u.barcodes[id] = std::string(body.at("barcode").as_string());
  return id;
}

std::vector<std::string> list_tickets(http_client& c, user& u, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i)
    out.push_back(list_ticket(c, u));
  return out;
}

headers_t with_key(const user& u, const std::string& key) {
  auto h = u.auth();
  h.emplace_back("Idempotency-Key", key);
  return h;
}

std::string money_body(int64_t amount, const std::string& currency = "USD") {
  return json::serialize(json::object{{"amount_minor", amount}, {"currency", currency}});
}

void fund(http_client& c, const user& u, int64_t amount) {
  static int k = 0;
  auto r = c.post("/api/v1/me/deposits", money_body(amount),
                  with_key(u, "fund-" + std::to_string(++k)));
  REQUIRE_MESSAGE(r.status == 201, "deposit: " << r.status << " " << r.body << r.error);
}

wallet_balance wallet(http_client& c, const user& u) {
  auto w = get_wallet_balance(c, u.acct);
  REQUIRE(w.status == 200);
  return w;
}

json::value ticket(http_client& c, const std::string& id) {
  auto r = c.get("/api/v1/tickets/" + id);
  REQUIRE_MESSAGE(r.status == 200, "GET ticket " << id << ": " << r.status << " " << r.body);
  return r.json();
}

/// Owner and status of a ticket must be as given.
void check_ticket(http_client& c, const std::string& id, const user& owner,
                  const char* status = "listed") {
  auto t = ticket(c, id);
  CHECK_MESSAGE(str_of(t, "seller") == owner.id(), "ticket " << id << " seller " << str_of(t, "seller")
                                                             << ", expected " << owner.email);
  CHECK_MESSAGE(str_of(t, "status") == status, "ticket " << id << " is " << str_of(t, "status")
                                                         << ", expected " << status);
}

void check_wallet(http_client& c, const user& u, int64_t available, int64_t held) {
  auto w = wallet(c, u);
  CHECK_MESSAGE(w.available == available, u.email << " available " << w.available << ", expected "
                                                  << available);
  CHECK_MESSAGE(w.held == held, u.email << " held " << w.held << ", expected " << held);
}

json::array ids_json(const std::vector<std::string>& ids) {
  json::array a;
  for (const auto& i : ids)
    a.emplace_back(json::string(i));
  return a;
}

std::string trade_body(const std::vector<std::string>& give, const std::vector<std::string>& take,
                       int64_t cash) {
  return json::serialize(
    json::object{{"give", ids_json(give)}, {"take", ids_json(take)}, {"cash_minor", cash}});
}

http_result propose(http_client& c, const user& u, const std::vector<std::string>& give,
                    const std::vector<std::string>& take, int64_t cash, const std::string& key = {}) {
  return c.post("/api/v1/trades", trade_body(give, take, cash),
                key.empty() ? u.auth() : with_key(u, key));
}

/// Proposes and requires 201 "proposed"; returns the trade id.
std::string propose_ok(http_client& c, const user& u, const std::vector<std::string>& give,
                       const std::vector<std::string>& take, int64_t cash) {
  auto r = propose(c, u, give, take, cash);
  REQUIRE_MESSAGE(r.status == 201, "propose: " << r.status << " " << r.body << r.error);
  auto j = r.json();
  REQUIRE(str_of(j, "status") == "proposed");
  CHECK(r.header("Location") == "/api/v1/trades/" + str_of(j, "id"));
  return str_of(j, "id");
}

http_result act(http_client& c, const user& u, const std::string& trade, const std::string& what,
                const std::string& body = {}) {
  return c.post("/api/v1/trades/" + trade + "/" + what, body, u.auth());
}

json::value act_ok(http_client& c, const user& u, const std::string& trade, const std::string& what,
                   const std::string& body = {}) {
  auto r = act(c, u, trade, what, body);
  REQUIRE_MESSAGE(r.status == 200, what << " " << trade << ": " << r.status << " " << r.body << r.error);
  return r.json();
}

http_result deposit_ticket(http_client& c, const user& u, const std::string& trade,
                           const std::string& ticket_id, const std::string& barcode) {
  return act(c, u, trade, "deposits",
             json::serialize(json::object{{"ticket_id", ticket_id}, {"barcode", barcode}}));
}

json::value get_trade(http_client& c, const user& u, const std::string& trade) {
  auto r = c.get("/api/v1/trades/" + trade, u.auth());
  REQUIRE_MESSAGE(r.status == 200, "GET trade " << trade << ": " << r.status << " " << r.body);
  return r.json();
}

/// Polls GET /api/v1/trades/{id} until its status is `want` (bounded).
json::value wait_status(http_client& c, const user& u, const std::string& trade,
                        const std::string& want, std::chrono::seconds bound = 20s) {
  auto until = std::chrono::steady_clock::now() + bound;
  json::value last;
  for (;;) {
    last = get_trade(c, u, trade);
    if (str_of(last, "status") == want)
      return last;
    if (std::chrono::steady_clock::now() > until)
      break;
    std::this_thread::sleep_for(50ms);
  }
  FAIL("trade " << trade << " never became " << want << ": " << json::serialize(last));
  return last;
}

void check_audit(http_client& c, const char* after) {
  auto why = audit_problem(c, env().admin);
  CHECK_MESSAGE(why.empty(), "audit after " << after << ": " << why);
}

bool lists_trade(http_client& c, const user& u, const std::string& trade, const char* status) {
  auto r = c.get("/api/v1/me/trades?limit=100", u.auth());
  REQUIRE(r.status == 200);
  auto j = r.json();
  for (const auto& it : j.at("items").as_array())
    if (str_of(it, "id") == trade)
      return str_of(it, "status") == status;
  return false;
}

} // namespace

TEST_CASE("wallet: idempotent deposits and withdrawals, postings paged") {
  auto& e = env();
  http_client c{e.node.port()};
  auto a = new_user(c, "wallet");
  check_wallet(c, a, 0, 0);

  // Deposits.
  auto r = c.post("/api/v1/me/deposits", money_body(1000), a.auth());
  CHECK(r.status == 400);
  CHECK(error_code(r) == "missing_idempotency_key");
  r = c.post("/api/v1/me/deposits", money_body(1000), with_key(a, "dep-1"));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(r.json().at("replayed") == false);
  CHECK(int_of(r.json(), "available_after_minor") == 1000);
  r = c.post("/api/v1/me/deposits", money_body(1000), with_key(a, "dep-1"));
  CHECK_MESSAGE(r.status == 200, r.body);
  CHECK(r.json().at("replayed") == true);
  check_wallet(c, a, 1000, 0);  // moved once
  r = c.post("/api/v1/me/deposits", money_body(2000), with_key(a, "dep-1"));
  CHECK_MESSAGE(r.status == 422, r.body);
  CHECK(error_code(r) == "idempotency_key_reused");
  r = c.post("/api/v1/me/deposits", money_body(500, "EUR"), with_key(a, "dep-eur"));
  CHECK_MESSAGE(r.status == 422, "a USD wallet takes EUR: " << r.body);
  check_wallet(c, a, 1000, 0);
  r = c.post("/api/v1/me/deposits", money_body(250), with_key(a, "dep-2"));
  REQUIRE(r.status == 201);
  check_wallet(c, a, 1250, 0);

  // Withdrawals.
  r = c.post("/api/v1/me/withdrawals", money_body(300), a.auth());
  CHECK(r.status == 400);
  CHECK(error_code(r) == "missing_idempotency_key");
  r = c.post("/api/v1/me/withdrawals", money_body(300), with_key(a, "wd-1"));
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(int_of(r.json(), "available_after_minor") == 950);
  r = c.post("/api/v1/me/withdrawals", money_body(300), with_key(a, "wd-1"));
  CHECK_MESSAGE(r.status == 200, r.body);
  CHECK(r.json().at("replayed") == true);
  check_wallet(c, a, 950, 0);
  r = c.post("/api/v1/me/withdrawals", money_body(301), with_key(a, "wd-1"));
  CHECK_MESSAGE(r.status == 422, r.body);
  CHECK(error_code(r) == "idempotency_key_reused");
  r = c.post("/api/v1/me/withdrawals", money_body(1000), with_key(a, "dep-1"));
  CHECK_MESSAGE(r.status == 422, "a deposit's key reused for a withdrawal: " << r.body);
  CHECK(error_code(r) == "idempotency_key_reused");
  r = c.post("/api/v1/me/withdrawals", money_body(951), with_key(a, "wd-2"));
  CHECK_MESSAGE(r.status == 422, r.body);
  CHECK(error_code(r) == "insufficient_funds");
  check_wallet(c, a, 950, 0);
  r = c.post("/api/v1/me/withdrawals", money_body(950), with_key(a, "wd-3"));  // all of it
  CHECK_MESSAGE(r.status == 201, r.body);
  check_wallet(c, a, 0, 0);
  for (int i = 0; i < 3; ++i)
    REQUIRE(c.post("/api/v1/me/deposits", money_body(10 + i), with_key(a, "dep-x" + std::to_string(i)))
              .status == 201);
  check_wallet(c, a, 33, 0);

  // Postings: dep-1, dep-2, wd-1, wd-3, dep-x0..2 (7 movements), in pages of 2.
  std::vector<json::object> items;
  std::string cursor;
  int pages = 0;
  for (;;) {
    auto target = "/api/v1/me/wallet/postings?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto p = c.get(target, a.auth());
    REQUIRE_MESSAGE(p.status == 200, p.body);
    auto j = p.json();
    auto& arr = j.at("items").as_array();
    CHECK(arr.size() <= 2);
    for (auto& it : arr)
      items.push_back(it.as_object());
    ++pages;
    REQUIRE(pages < 20);
    if (j.at("next_cursor").is_null())
      break;
    cursor = std::string(j.at("next_cursor").as_string());
  }
  REQUIRE(items.size() == 7);
  CHECK(pages >= 4);
  const char* types[] = {"deposit", "deposit", "withdrawal", "withdrawal", "deposit", "deposit", "deposit"};
  const char* refs[] = {"dep-1", "dep-2", "wd-1", "wd-3", "dep-x0", "dep-x1", "dep-x2"};
  int64_t amounts[] = {1000, 250, 300, 950, 10, 11, 12};
  int64_t last_seq = 0, sum = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    auto& it = items[i];
    CHECK(it.at("seq").as_int64() > last_seq);
    last_seq = it.at("seq").as_int64();
    CHECK(it.at("type") == types[i]);
    CHECK(it.at("ref") == refs[i]);
    CHECK(it.at("amount_minor").as_int64() == amounts[i]);
    auto& ps = it.at("postings").as_array();
    REQUIRE(ps.size() == 1);
    bool dep = std::string_view(types[i]) == "deposit";
    CHECK(ps[0].at("from") == (dep ? "external" : "user_available"));
    CHECK(ps[0].at("to") == (dep ? "user_available" : "external"));
    CHECK(ps[0].at("amount_minor").as_int64() == amounts[i]);
    sum += dep ? amounts[i] : -amounts[i];
  }
  CHECK(sum == 33);
  // The whole list in one page agrees.
  auto all = c.get("/api/v1/me/wallet/postings?limit=100", a.auth());
  REQUIRE(all.status == 200);
  CHECK(all.json().at("items").as_array().size() == 7);
  CHECK(all.json().at("next_cursor").is_null());
  CHECK(c.get("/api/v1/me/wallet/postings?limit=0", a.auth()).status == 400);
  check_audit(c, "wallet");
}

TEST_CASE("trade: happy path, negative cash, several tickets") {
  auto& e = env();
  http_client c{e.node.port()};
  auto a = new_user(c, "alice");
  auto b = new_user(c, "bob");
  auto third = new_user(c, "eve");
  fund(c, a, 10000);
  fund(c, b, 10000);
  auto ta = list_tickets(c, a, 4);
  auto tb = list_tickets(c, b, 3);

  // -- A gives ta[0] for tb[0] and pays 300 -------------------------------------
  auto id = propose_ok(c, a, {ta[0]}, {tb[0]}, 300);
  auto t = get_trade(c, a, id);
  CHECK(str_of(t, "proposer") == a.id());
  CHECK(str_of(t, "counterparty") == b.id());
  CHECK(int_of(t, "cash_minor") == 300);
  CHECK(int_of(t, "proposer_pays_minor") == 300);
  CHECK(int_of(t, "counterparty_pays_minor") == 0);
  CHECK(str_of(t, "currency") == "USD");
  check_wallet(c, a, 9700, 300);
  check_ticket(c, ta[0], a, "held");
  check_ticket(c, tb[0], b, "listed");  // the counterparty's side is held on accept
  CHECK(c.get("/api/v1/trades/" + id, third.auth()).status == 404);
  CHECK(act(c, a, id, "accept").status == 403);  // only the counterparty accepts

  t = act_ok(c, b, id, "accept");
  CHECK(str_of(t, "status") == "accepted");
  check_ticket(c, tb[0], b, "held");
  CHECK(str_of(act_ok(c, b, id, "accept"), "status") == "accepted");  // idempotent

  // A wrong barcode changes nothing.
  auto r = deposit_ticket(c, a, id, ta[0], "NOT-THE-BARCODE");
  CHECK_MESSAGE(r.status == 422, r.body);
  t = get_trade(c, a, id);
  CHECK(str_of(t, "status") == "accepted");
  CHECK(t.at("deposited").as_array().empty());
  check_ticket(c, ta[0], a, "held");
  // Nobody deposits the other side's ticket.
  r = deposit_ticket(c, b, id, ta[0], a.barcodes[ta[0]]);
  CHECK_MESSAGE(r.status == 422, r.body);

  r = deposit_ticket(c, a, id, ta[0], a.barcodes[ta[0]]);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(str_of(r.json(), "status") == "in_escrow");
  check_ticket(c, ta[0], a, "in_escrow");
  r = deposit_ticket(c, a, id, ta[0], a.barcodes[ta[0]]);  // again: no change
  CHECK(r.status == 200);
  CHECK(str_of(r.json(), "status") == "in_escrow");
  r = deposit_ticket(c, b, id, tb[0], b.barcodes[tb[0]]);
  REQUIRE_MESSAGE(r.status == 200, r.body);
  t = wait_status(c, a, id, "completed");
  CHECK(t.at("deposited").as_array().size() == 2);
  check_ticket(c, ta[0], b);
  check_ticket(c, tb[0], a);
  check_wallet(c, a, 9700, 0);
  check_wallet(c, b, 10300, 0);
  CHECK(lists_trade(c, a, id, "completed"));
  CHECK(lists_trade(c, b, id, "completed"));
  CHECK_FALSE(lists_trade(c, third, id, "completed"));
  CHECK(c.get("/api/v1/trades/" + id, third.auth()).status == 404);
  CHECK(act(c, b, id, "decline").status == 409);  // final
  check_audit(c, "happy path");

  // -- negative cash: B pays A 250 ----------------------------------------------------
  id = propose_ok(c, a, {ta[1]}, {tb[1]}, -250);
  t = get_trade(c, b, id);
  CHECK(int_of(t, "cash_minor") == -250);
  CHECK(int_of(t, "counterparty_pays_minor") == 250);
  check_wallet(c, a, 9700, 0);
  check_wallet(c, b, 10300, 0);  // nothing held before the accept
  act_ok(c, b, id, "accept");
  check_wallet(c, b, 10050, 250);
  REQUIRE(deposit_ticket(c, b, id, tb[1], b.barcodes[tb[1]]).status == 200);
  REQUIRE(deposit_ticket(c, a, id, ta[1], a.barcodes[ta[1]]).status == 200);
  wait_status(c, b, id, "completed");
  check_ticket(c, ta[1], b);
  check_ticket(c, tb[1], a);
  check_wallet(c, a, 9950, 0);
  check_wallet(c, b, 10050, 0);
  check_audit(c, "negative cash");

  // -- two for one, no cash -------------------------------------------------------------
  id = propose_ok(c, a, {ta[2], ta[3]}, {tb[2]}, 0);
  check_wallet(c, a, 9950, 0);
  act_ok(c, b, id, "accept");
  REQUIRE(deposit_ticket(c, a, id, ta[2], a.barcodes[ta[2]]).status == 200);
  CHECK(str_of(get_trade(c, a, id), "status") == "in_escrow");
  REQUIRE(deposit_ticket(c, b, id, tb[2], b.barcodes[tb[2]]).status == 200);
  CHECK(str_of(get_trade(c, a, id), "status") == "in_escrow");
  REQUIRE(deposit_ticket(c, a, id, ta[3], a.barcodes[ta[3]]).status == 200);
  wait_status(c, a, id, "completed");
  check_ticket(c, ta[2], b);
  check_ticket(c, ta[3], b);
  check_ticket(c, tb[2], a);
  check_wallet(c, a, 9950, 0);
  check_wallet(c, b, 10050, 0);
  check_audit(c, "two-for-one trade");

  // The new owner trades a received ticket on (the barcode travelled with it).
  id = propose_ok(c, b, {ta[0]}, {tb[0]}, 10);
  act_ok(c, a, id, "accept");
  REQUIRE(deposit_ticket(c, b, id, ta[0], a.barcodes[ta[0]]).status == 200);
  REQUIRE(deposit_ticket(c, a, id, tb[0], b.barcodes[tb[0]]).status == 200);
  wait_status(c, a, id, "completed");
  check_ticket(c, ta[0], a);
  check_ticket(c, tb[0], b);
  check_wallet(c, a, 9960, 0);
  check_wallet(c, b, 10040, 0);
  check_audit(c, "trading a received ticket back");
}

TEST_CASE("trade: decline, cancel, conflicts and refusals") {
  auto& e = env();
  http_client c{e.node.port()};
  auto a = new_user(c, "carol");
  auto b = new_user(c, "dave");
  auto d = new_user(c, "frank");
  fund(c, a, 5000);
  fund(c, b, 5000);
  auto ta = list_tickets(c, a, 4);
  auto tb = list_tickets(c, b, 4);
  auto td = list_tickets(c, d, 1);

  // Decline releases the proposer's holds.
  auto id = propose_ok(c, a, {ta[0]}, {tb[0]}, 100);
  check_wallet(c, a, 4900, 100);
  check_ticket(c, ta[0], a, "held");
  CHECK(act(c, a, id, "decline").status == 403);  // the proposer cannot decline
  auto t = act_ok(c, b, id, "decline", R"({"reason":"no thanks"})");
  CHECK(str_of(t, "status") == "declined");
  check_wallet(c, a, 5000, 0);
  check_ticket(c, ta[0], a, "listed");
  check_ticket(c, tb[0], b, "listed");
  CHECK(str_of(act_ok(c, b, id, "decline"), "status") == "declined");  // idempotent
  CHECK(act(c, b, id, "accept").status == 409);
  check_audit(c, "decline");

  // Cancel after accept releases both sides.
  id = propose_ok(c, a, {ta[0]}, {tb[0]}, -50);
  act_ok(c, b, id, "accept");
  check_wallet(c, b, 4950, 50);
  check_ticket(c, tb[0], b, "held");
  CHECK(act(c, b, id, "cancel").status == 403);  // the counterparty cannot cancel
  t = act_ok(c, a, id, "cancel");
  CHECK(str_of(t, "status") == "cancelled");
  check_wallet(c, a, 5000, 0);
  check_wallet(c, b, 5000, 0);
  check_ticket(c, ta[0], a, "listed");
  check_ticket(c, tb[0], b, "listed");
  CHECK(str_of(act_ok(c, a, id, "cancel"), "status") == "cancelled");  // idempotent
  check_audit(c, "cancel after accept");

  // One ticket, one open trade.
  auto first = propose_ok(c, a, {ta[1]}, {tb[1]}, 20);
  auto r = propose(c, a, {ta[1]}, {tb[2]}, 30);
  CHECK_MESSAGE(r.status == 409, "a held ticket given twice: " << r.status << " " << r.body);
  check_wallet(c, a, 4980, 20);
  act_ok(c, b, first, "accept");
  r = propose(c, d, {td[0]}, {tb[1]}, 0);  // tb[1] is held by `first` now
  CHECK_MESSAGE(r.status == 409, "a held ticket taken: " << r.status << " " << r.body);
  r = propose(c, b, {tb[1]}, {ta[2]}, 0);  // and its owner cannot give it elsewhere
  CHECK_MESSAGE(r.status == 409, r.status << " " << r.body);
  // Nor change or withdraw it while it is held.
  r = c.patch("/api/v1/tickets/" + tb[1], R"({"price_minor":5})", b.auth());
  CHECK_MESSAGE(r.status == 409, "PATCH of a held ticket: " << r.status << " " << r.body);
  r = c.del("/api/v1/tickets/" + ta[1], a.auth());
  CHECK_MESSAGE(r.status == 409, "DELETE of a held ticket: " << r.status << " " << r.body);
  act_ok(c, a, first, "cancel");
  check_wallet(c, a, 5000, 0);
  check_ticket(c, ta[1], a);
  check_ticket(c, tb[1], b);
  check_audit(c, "conflicting proposals");

  // Not the owner, two owners, yourself, no funds.
  r = propose(c, a, {tb[3]}, {td[0]}, 0);
  CHECK_MESSAGE(r.status == 403, "giving somebody else's ticket: " << r.status << " " << r.body);
  r = propose(c, a, {ta[2]}, {tb[3], td[0]}, 0);
  CHECK_MESSAGE(r.status == 422, "taking from two owners: " << r.status << " " << r.body);
  r = propose(c, a, {ta[2]}, {ta[3]}, 0);
  CHECK_MESSAGE(r.status == 422, "trading with yourself: " << r.status << " " << r.body);
  r = propose(c, a, {ta[2]}, {tb[3]}, 5001, "too-rich");
  CHECK_MESSAGE(r.status == 422, "cash beyond the balance: " << r.status << " " << r.body);
  CHECK(error_code(r) == "insufficient_funds");
  // Its replay is refused too (today 409 "the trade was rejected: ...", not
  // the first answer again).
  r = propose(c, a, {ta[2]}, {tb[3]}, 5001, "too-rich");
  CHECK_MESSAGE((r.status == 409 || r.status == 422), r.status << " " << r.body);
  check_wallet(c, a, 5000, 0);
  check_ticket(c, ta[2], a);
  check_ticket(c, tb[3], b);
  // The counterparty short of funds: the accept fails, the trade stays proposed.
  id = propose_ok(c, a, {ta[2]}, {tb[3]}, -5001);
  r = act(c, b, id, "accept");
  CHECK_MESSAGE(r.status == 422, "accepting without the funds: " << r.status << " " << r.body);
  CHECK(error_code(r) == "insufficient_funds");
  CHECK(str_of(get_trade(c, b, id), "status") == "proposed");
  check_wallet(c, b, 5000, 0);
  check_ticket(c, tb[3], b, "listed");
  act_ok(c, b, id, "decline");
  check_ticket(c, ta[2], a);
  check_audit(c, "refused proposals");

  // /cash raises the proposer's hold at once, the counterparty's from the accept on.
  id = propose_ok(c, a, {ta[3]}, {tb[3]}, 100);
  t = act_ok(c, a, id, "cash", R"({"amount_minor":50})");
  CHECK(int_of(t, "proposer_pays_minor") == 150);
  CHECK(int_of(t, "cash_minor") == 150);
  check_wallet(c, a, 4850, 150);
  t = act_ok(c, b, id, "cash", R"({"amount_minor":30})");
  CHECK(int_of(t, "counterparty_pays_minor") == 30);
  CHECK(int_of(t, "cash_minor") == 120);
  check_wallet(c, b, 5000, 0);
  r = act(c, a, id, "cash", R"({"amount_minor":999999})");
  CHECK_MESSAGE(r.status == 422, r.status << " " << r.body);
  CHECK(error_code(r) == "insufficient_funds");
  CHECK(int_of(get_trade(c, a, id), "proposer_pays_minor") == 150);
  check_wallet(c, a, 4850, 150);
  CHECK(act(c, a, id, "cash", R"({"amount_minor":0})").status == 422);
  act_ok(c, b, id, "accept");
  check_wallet(c, b, 4970, 30);
  act_ok(c, a, id, "cancel");
  check_wallet(c, a, 5000, 0);
  check_wallet(c, b, 5000, 0);
  check_ticket(c, ta[3], a);
  check_ticket(c, tb[3], b);
  check_audit(c, "/cash");
}

TEST_CASE("trade: the commit window expires open trades") {
  auto& e = env();
  http_client c{e.node.port()};
  auto a = new_user(c, "gina");
  auto b = new_user(c, "hugo");
  fund(c, a, 1000);
  fund(c, b, 1000);
  auto ta = list_tickets(c, a, 2);
  auto tb = list_tickets(c, b, 2);

  auto start = std::chrono::steady_clock::now();
  auto unaccepted = propose_ok(c, a, {ta[0]}, {tb[0]}, 70);
  auto half = propose_ok(c, a, {ta[1]}, {tb[1]}, -40);
  act_ok(c, b, half, "accept");
  REQUIRE(deposit_ticket(c, a, half, ta[1], a.barcodes[ta[1]]).status == 200);
  CHECK(str_of(get_trade(c, a, half), "status") == "in_escrow");
  check_wallet(c, a, 930, 70);
  check_wallet(c, b, 960, 40);
  check_ticket(c, ta[1], a, "in_escrow");

  auto t = wait_status(c, a, unaccepted, "expired");
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  progress("unaccepted trade expired after ", secs, " s (window ", commit_window_s, " s)");
  CHECK(secs >= commit_window_s - 0.5);
  t = wait_status(c, a, half, "expired");
  check_wallet(c, a, 1000, 0);
  check_wallet(c, b, 1000, 0);
  for (size_t i = 0; i < 2; ++i) {
    check_ticket(c, ta[i], a);
    check_ticket(c, tb[i], b);
  }
  auto r = deposit_ticket(c, b, half, tb[1], b.barcodes[tb[1]]);
  CHECK_MESSAGE(r.status == 409, "deposit into an expired trade: " << r.status << " " << r.body);
  CHECK(act(c, b, unaccepted, "accept").status == 409);
  CHECK(lists_trade(c, b, unaccepted, "expired"));
  check_audit(c, "expiry");
}

TEST_CASE("trade: disputes are resolved by an operator") {
  auto& e = env();
  http_client c{e.node.port()};
  auto a = new_user(c, "ivan");
  auto b = new_user(c, "judy");
  auto stranger = new_user(c, "mallory");
  fund(c, a, 1000);
  fund(c, b, 1000);
  auto ta = list_tickets(c, a, 2);
  auto tb = list_tickets(c, b, 2);

  auto listed_disputes = [&] {
    std::map<std::string, std::string> out;
    auto r = c.get("/api/v1/admin/disputes?limit=100", e.admin.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    auto j = r.json();
    for (auto& it : j.at("items").as_array())
      out[str_of(it, "trade_id")] = str_of(it, "reason");
    return out;
  };

  // Refund.
  auto id = propose_ok(c, a, {ta[0]}, {tb[0]}, 200);
  act_ok(c, b, id, "accept");
  CHECK(act(c, stranger, id, "dispute", R"({"reason":"x"})").status == 404);
  CHECK(act(c, b, id, "dispute").status == 400);  // a reason is required
  auto t = act_ok(c, b, id, "dispute", R"({"reason":"wrong seats"})");
  CHECK(str_of(t, "status") == "disputed");
  CHECK(str_of(t, "dispute_reason") == "wrong seats");
  CHECK(act(c, a, id, "cancel").status == 409);  // frozen
  CHECK(c.get("/api/v1/admin/disputes", a.auth()).status == 403);
  auto ds = listed_disputes();
  REQUIRE(ds.count(id) == 1);
  CHECK(ds[id] == "wrong seats");
  CHECK(c.post("/api/v1/admin/disputes/" + id + "/resolve", R"({"outcome":"refund"})", a.auth())
          .status == 403);
  auto r = c.post("/api/v1/admin/disputes/" + id + "/resolve", R"({"outcome":"sideways"})",
                  e.admin.auth());
  CHECK(r.status == 422);
  r = c.post("/api/v1/admin/disputes/" + id + "/resolve", R"({"outcome":"refund","note":"ok"})",
             e.admin.auth());
  REQUIRE_MESSAGE(r.status == 200, r.body);
  wait_status(c, a, id, "refunded");
  check_wallet(c, a, 1000, 0);
  check_wallet(c, b, 1000, 0);
  check_ticket(c, ta[0], a);
  check_ticket(c, tb[0], b);
  CHECK(listed_disputes().count(id) == 0);
  check_audit(c, "dispute refunded");

  // Complete: ownership moves and the cash is paid, deposited or not.
  id = propose_ok(c, a, {ta[1]}, {tb[1]}, 150);
  act_ok(c, b, id, "accept");
  REQUIRE(deposit_ticket(c, a, id, ta[1], a.barcodes[ta[1]]).status == 200);
  act_ok(c, a, id, "dispute", R"({"reason":"counterparty never uploads"})");
  CHECK(listed_disputes().count(id) == 1);
  r = c.post("/api/v1/admin/disputes/" + id + "/resolve", R"({"outcome":"complete"})",
             e.admin.auth());
  REQUIRE_MESSAGE(r.status == 200, r.body);
  wait_status(c, b, id, "completed");
  check_ticket(c, ta[1], b);
  check_ticket(c, tb[1], a);
  check_wallet(c, a, 850, 0);
  check_wallet(c, b, 1150, 0);
  CHECK(listed_disputes().count(id) == 0);
  check_audit(c, "dispute completed");
}

TEST_CASE("direct transfers and idempotent proposals") {
  auto& e = env();
  http_client c{e.node.port()};
  auto a = new_user(c, "kim");
  auto b = new_user(c, "lee");
  auto stranger = new_user(c, "oscar");
  auto ta = list_tickets(c, a, 4);
  auto tb = list_tickets(c, b, 1);

  auto body = [](const std::string& to) {
    return json::serialize(json::object{{"to_account_id", to}});
  };
  auto r = c.post("/api/v1/tickets/" + ta[0] + "/transfer", body(b.id()), a.auth());
  REQUIRE_MESSAGE(r.status == 200, r.body);
  CHECK(str_of(r.json(), "seller") == b.id());
  check_ticket(c, ta[0], b);
  r = c.post("/api/v1/tickets/" + ta[1] + "/transfer", body(stranger.id()), b.auth());
  CHECK_MESSAGE(r.status == 403, "a stranger's transfer: " << r.status << " " << r.body);
  check_ticket(c, ta[1], a);
  r = c.post("/api/v1/tickets/" + ta[1] + "/transfer", body("AAAAAAAAAAAAAAAAAAAAAA"), a.auth());
  CHECK_MESSAGE(r.status == 422, "to an unknown account: " << r.status << " " << r.body);
  check_ticket(c, ta[1], a);
  // A held ticket cannot be given away.
  auto held = propose_ok(c, a, {ta[1]}, {tb[0]}, 0);
  r = c.post("/api/v1/tickets/" + ta[1] + "/transfer", body(stranger.id()), a.auth());
  CHECK_MESSAGE(r.status == 409, "transfer of a held ticket: " << r.status << " " << r.body);
  act_ok(c, a, held, "cancel");
  check_ticket(c, ta[1], a);
  check_audit(c, "direct transfers");

  // Idempotent proposals.
  r = propose(c, a, {ta[2]}, {tb[0]}, 0, "prop-1");
  REQUIRE_MESSAGE(r.status == 201, r.body);
  auto id = str_of(r.json(), "id");
  r = propose(c, a, {ta[2]}, {tb[0]}, 0, "prop-1");
  CHECK_MESSAGE(r.status == 200, r.body);
  CHECK(str_of(r.json(), "id") == id);
  r = propose(c, a, {ta[3]}, {tb[0]}, 0, "prop-1");
  CHECK_MESSAGE(r.status == 422, r.body);
  CHECK(error_code(r) == "idempotency_key_reused");
  // Keys are per account: B's "prop-1" is another trade (tb[0] is not held
  // by A's proposal: the counterparty's side is held on accept).
  r = propose(c, b, {tb[0]}, {ta[3]}, 0, "prop-1");
  REQUIRE_MESSAGE(r.status == 201, r.body);
  CHECK(str_of(r.json(), "id") != id);
  act_ok(c, b, str_of(r.json(), "id"), "cancel");
  auto me = c.get("/api/v1/me/trades?limit=100", a.auth());
  REQUIRE(me.status == 200);
  int seen = 0;
  auto mj = me.json();
  for (auto& it : mj.at("items").as_array())
    seen += str_of(it, "id") == id;
  CHECK(seen == 1);
  act_ok(c, a, id, "cancel");
  r = propose(c, a, {ta[2]}, {tb[0]}, 0, "prop-1");  // after the cancel: still the same trade
  CHECK_MESSAGE(r.status == 200, r.body);
  CHECK(str_of(r.json(), "status") == "cancelled");
  check_audit(c, "idempotent proposals");
}

// Disputes are about escrow: a merely proposed trade (the counterparty's side
// never held) cannot be disputed — it is declined or cancelled instead — so an
// operator can never "complete" a trade whose counterparty never accepted.
TEST_CASE("an unaccepted trade cannot be disputed, so no operator can complete it") {
  auto& e = env();
  http_client c{e.node.port()};
  auto a = new_user(c, "bug-a");
  auto b = new_user(c, "bug-b");
  fund(c, a, 1000);
  fund(c, b, 1000);
  auto ta = list_tickets(c, a, 1);
  auto tb = list_tickets(c, b, 1);
  auto id = propose_ok(c, a, {ta[0]}, {tb[0]}, -100);  // B would pay 100, never accepts
  auto r = c.post("/api/v1/trades/" + id + "/dispute", R"({"reason":"probe"})", a.auth());
  CHECK_MESSAGE(r.status == 409, r.status << " " << r.body);
  r = c.post("/api/v1/admin/disputes/" + id + "/resolve", R"({"outcome":"complete"})",
             e.admin.auth());
  CHECK_MESSAGE(r.status == 409, r.status << " " << r.body);
  auto t = get_trade(c, a, id);
  CHECK(str_of(t, "status") == "proposed");
  CHECK(str_of(ticket(c, tb[0]), "seller") == b.id());
  act_ok(c, a, id, "cancel", "{}");
  check_wallet(c, a, 1000, 0);
  check_wallet(c, b, 1000, 0);
  check_audit(c, "dispute before acceptance refused");
}
