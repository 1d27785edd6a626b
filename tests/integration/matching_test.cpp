// Offers and matching end to end over HTTP against one real tt-node (issue
// #7): five users offer one ticket each; an operator appraises the tickets
// (exact credits, so the expected cash is known); the matcher (rounds every
// 300 ms) proposes one 2-way swap and one 3-cycle; every party accepts and
// deposits; both trades complete with the right owners and the netted cash,
// the offers close, and the ledger audit stays clean.
#include <doctest/doctest.h>

#include <map>

#include "support/tt_support.hpp"

using namespace tt::it;

namespace {

struct party {
  std::string name;
  account acct;
  std::string ticket;
  std::string barcode;
  std::string event_id;
};

headers_t keyed(const account& a, const std::string& key) {
  auto h = a.auth();
  h.emplace_back("Idempotency-Key", key);
  return h;
}

void list_ticket(http_client& c, party& p, int n) {
  auto body = usd_listing("match-" + p.name, n);
  p.event_id = "ev-match-" + p.name;
  body["event_id"] = p.event_id;
  body["category"] = "concert";
  auto r = c.post("/api/v1/tickets", json::serialize(body), p.acct.auth());
  REQUIRE_MESSAGE(r.status == 201, "listing: " << r.status << " " << r.body << r.error);
  p.ticket = str_of(r.json(), "id");
  p.barcode = std::string(body.at("barcode").as_string());
}

void appraise(http_client& c, const account& admin, const party& p, int64_t credit) {
  auto r = c.put("/api/v1/admin/tickets/" + p.ticket + "/valuation",
                 json::serialize(json::object{{"credit_minor", credit}, {"currency", "USD"}}),
                 admin.auth());
  REQUIRE_MESSAGE(r.status == 200, "appraisal: " << r.status << " " << r.body);
}

void offer(http_client& c, const party& p, const std::string& wants_event) {
  json::object body{{"ticket_id", p.ticket},
                    {"want", json::object{{"event_ids", json::array{json::string(wants_event)}},
                                          {"max_cash_minor", 1000}}},
                    {"weights", json::object{{"music", 0.9}}}};
  auto r = c.post("/api/v1/offers", json::serialize(body), p.acct.auth());
  REQUIRE_MESSAGE(r.status == 201, "offer: " << r.status << " " << r.body);
  CHECK(str_of(r.json(), "status") == "open");
  CHECK(str_of(r.json(), "id") == p.ticket);
}

/// The caller's matched trades (GET /api/v1/me/trades).
std::vector<json::value> matched_trades(http_client& c, const party& p) {
  auto r = c.get("/api/v1/me/trades", p.acct.auth());
  REQUIRE(r.status == 200);
  std::vector<json::value> out;
  auto body = r.json();
  for (const auto& t : body.at("items").as_array())
    if (str_of(t, "kind") == "matched")
      out.push_back(t);
  return out;
}

/// Polls until `p` is in one matched trade; returns it.
json::value wait_matched(http_client& c, const party& p) {
  auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until) {
    auto ts = matched_trades(c, p);
    if (!ts.empty())
      return ts.front();
    std::this_thread::sleep_for(100ms);
  }
  FAIL("no matched trade for " << p.name);
  return {};
}

json::value get_trade(http_client& c, const party& p, const std::string& id) {
  auto r = c.get("/api/v1/trades/" + id, p.acct.auth());
  REQUIRE_MESSAGE(r.status == 200, "GET trade: " << r.status << " " << r.body);
  return r.json();
}

json::value wait_status(http_client& c, const party& p, const std::string& id,
                        const std::string& want) {
  auto until = std::chrono::steady_clock::now() + 20s;
  json::value last;
  while (std::chrono::steady_clock::now() < until) {
    last = get_trade(c, p, id);
    if (str_of(last, "status") == want)
      return last;
    std::this_thread::sleep_for(50ms);
  }
  FAIL("trade " << id << " never became " << want << ": " << json::serialize(last));
  return last;
}

/// The party entry of `account` in a matched trade's JSON.
json::object party_of(const json::value& trade, const std::string& account) {
  const auto& parties = trade.at("parties").as_array();
  for (const auto& p : parties)
    if (str_of(p, "account") == account)
      return p.as_object();
  FAIL("account not in trade: " << json::serialize(trade));
  return {};
}

} // namespace

TEST_CASE("five offers become one 2-way swap and one 3-cycle that settle with exact cash") {
  temp_dir dir{"tt-it-match"};
  auto args = settlement_node_args(120);
  args.insert(args.end(), {"--match-interval-ms", "300"});
  node_process node{dir.sub("node"), 0, args};
  REQUIRE(node.start());
  http_client c{node.port(), 10s};
  auto admin = sign_in(c, "admin@example.com");
  REQUIRE_FALSE(admin.token.empty());

  std::map<std::string, party> ps;
  int n = 1;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    party p;
    p.name = name;
    p.acct = sign_in(c, std::string("match-") + name + "@example.com");
    REQUIRE_FALSE(p.acct.id.empty());
    list_ticket(c, p, n++);
    ps[name] = std::move(p);
  }
  auto& a = ps["a"];
  auto& b = ps["b"];
  auto& cc = ps["c"];
  auto& d = ps["d"];
  auto& e = ps["e"];
  // Credits: a-b 2 % apart; c, d, e hops 1 %, 1.5 %, 2.4 %.
  const std::map<std::string, int64_t> credit
    = {{"a", 10000}, {"b", 10200}, {"c", 10000}, {"d", 10100}, {"e", 10250}};
  for (auto& [name, p] : ps)
    appraise(c, admin, p, credit.at(name));
  // Payers fund their wallets (the cash each will owe: a 200, c 100, d 150).
  for (auto* p : {&a, &cc, &d}) {
    auto r = c.post("/api/v1/me/deposits",
                    json::serialize(json::object{{"amount_minor", 1000}, {"currency", "USD"}}),
                    keyed(p->acct, "fund-" + p->name));
    REQUIRE_MESSAGE(r.status == 201, r.body);
  }

  // Bad offers change nothing: someone else's ticket, unknown weight keys.
  {
    json::object theirs{{"ticket_id", b.ticket}};
    auto r = c.post("/api/v1/offers", json::serialize(theirs), a.acct.auth());
    CHECK(r.status == 403);
    json::object bad{{"ticket_id", a.ticket}, {"weights", json::object{{"opera", 0.5}}}};
    r = c.post("/api/v1/offers", json::serialize(bad), a.acct.auth());
    CHECK(r.status == 422);
    CHECK(error_code(r) == "invalid_value");
    r = c.post("/api/v1/offers", "{\"ticket_id\":", a.acct.auth());
    CHECK(r.status == 400);
    auto offers = c.get("/api/v1/me/offers", a.acct.auth()).json();
    CHECK(offers.at("items").as_array().empty());
  }

  // The swap: a wants b's event and b wants a's. The cycle: c wants d's,
  // d wants e's, e wants c's (no two of them want each other).
  offer(c, a, b.event_id);
  offer(c, b, a.event_id);
  offer(c, cc, d.event_id);
  offer(c, d, e.event_id);
  offer(c, e, cc.event_id);
  auto mine = c.get("/api/v1/me/offers", a.acct.auth());
  REQUIRE(mine.status == 200);
  auto mine_body = mine.json();
  REQUIRE(mine_body.at("items").as_array().size() == 1);
  CHECK(int_of(mine_body.at("items").as_array()[0], "credit_minor") == 10000);

  auto swap = wait_matched(c, a);
  auto cycle = wait_matched(c, cc);
  progress("matched: swap ", str_of(swap, "id"), ", cycle ", str_of(cycle, "id"));
  REQUIRE(swap.at("parties").as_array().size() == 2);
  REQUIRE(cycle.at("parties").as_array().size() == 3);
  CHECK(str_of(swap, "status") == "proposed");
  CHECK(str_of(wait_matched(c, b), "id") == str_of(swap, "id"));
  CHECK(str_of(wait_matched(c, d), "id") == str_of(cycle, "id"));
  CHECK(str_of(wait_matched(c, e), "id") == str_of(cycle, "id"));
  // Who gives to whom, and the netted cash.
  auto pa = party_of(swap, a.acct.id);
  CHECK(str_of(pa, "gives_to") == b.acct.id);
  CHECK(int_of(pa, "pays_minor") == 200);
  CHECK(int_of(party_of(swap, b.acct.id), "receives_minor") == 200);
  CHECK(str_of(party_of(cycle, cc.acct.id), "gives_to") == e.acct.id);
  CHECK(str_of(party_of(cycle, d.acct.id), "gives_to") == cc.acct.id);
  CHECK(str_of(party_of(cycle, e.acct.id), "gives_to") == d.acct.id);
  CHECK(int_of(party_of(cycle, cc.acct.id), "pays_minor") == 100);
  CHECK(int_of(party_of(cycle, d.acct.id), "pays_minor") == 150);
  CHECK(int_of(party_of(cycle, e.acct.id), "receives_minor") == 250);

  // Offers in a proposed trade are not matched again.
  auto rr = c.post("/api/v1/admin/matcher/rounds", "", admin.auth());
  REQUIRE(rr.status == 200);
  CHECK(int_of(rr.json(), "pairs") == 0);
  CHECK(int_of(rr.json(), "cycles") == 0);
  CHECK(int_of(rr.json(), "proposed_total") == 2);
  // Only parties may act, and nobody but a party sees the trade.
  CHECK(c.post("/api/v1/trades/" + str_of(cycle, "id") + "/accept", "", a.acct.auth()).status == 404);

  // Everyone accepts: the payers' cash is held.
  auto accept = [&](const party& p, const json::value& t) {
    auto r = c.post("/api/v1/trades/" + str_of(t, "id") + "/accept", "", p.acct.auth());
    REQUIRE_MESSAGE(r.status == 200, "accept by " << p.name << ": " << r.status << " " << r.body);
    return r.json();
  };
  accept(a, swap);
  CHECK(str_of(accept(b, swap), "status") == "accepted");
  accept(cc, cycle);
  accept(d, cycle);
  CHECK(str_of(get_trade(c, e, str_of(cycle, "id")), "status") == "proposed");
  CHECK(str_of(accept(e, cycle), "status") == "accepted");
  CHECK(get_wallet_balance(c, cc.acct).held == 100);
  CHECK(get_wallet_balance(c, d.acct).held == 150);

  // Everyone deposits; the last deposit settles.
  for (auto* p : {&a, &b})
    CHECK(c.post("/api/v1/trades/" + str_of(swap, "id") + "/deposits",
                 json::serialize(json::object{{"ticket_id", p->ticket}, {"barcode", p->barcode}}),
                 p->acct.auth())
            .status
          == 200);
  for (auto* p : {&cc, &d, &e})
    CHECK(c.post("/api/v1/trades/" + str_of(cycle, "id") + "/deposits",
                 json::serialize(json::object{{"ticket_id", p->ticket}, {"barcode", p->barcode}}),
                 p->acct.auth())
            .status
          == 200);
  wait_status(c, a, str_of(swap, "id"), "completed");
  wait_status(c, cc, str_of(cycle, "id"), "completed");

  // Ownership: each party holds the ticket it wanted.
  auto owner = [&](const party& p) { return str_of(c.get("/api/v1/tickets/" + p.ticket).json(), "seller"); };
  CHECK(owner(a) == b.acct.id);
  CHECK(owner(b) == a.acct.id);
  CHECK(owner(d) == cc.acct.id);
  CHECK(owner(e) == d.acct.id);
  CHECK(owner(cc) == e.acct.id);
  // Cash: exactly the nets, nothing held.
  const std::map<std::string, int64_t> after
    = {{"a", 800}, {"b", 200}, {"c", 900}, {"d", 850}, {"e", 250}};
  for (auto& [name, p] : ps) {
    auto w = get_wallet_balance(c, p.acct);
    CHECK_MESSAGE(w.available == after.at(name), name << " has " << w.available);
    CHECK_MESSAGE(w.held == 0, name << " holds " << w.held);
    // The offers ended with the transfer.
    auto offers = c.get("/api/v1/me/offers", p.acct.auth()).json();
    CHECK(offers.at("items").as_array().empty());
  }
  CHECK(audit_problem(c, admin).empty());
  progress("swap and 3-cycle settled; wallets a 800, b 200, c 900, d 850, e 250");
}

TEST_CASE("a declined match releases everything and its offers match again") {
  temp_dir dir{"tt-it-match"};
  auto args = settlement_node_args(120);
  args.insert(args.end(), {"--match-interval-ms", "0"});  // rounds only on demand
  node_process node{dir.sub("node"), 0, args};
  REQUIRE(node.start());
  http_client c{node.port(), 10s};
  auto admin = sign_in(c, "admin@example.com");
  party a, b;
  a.name = "x";
  b.name = "y";
  a.acct = sign_in(c, "match-x@example.com");
  b.acct = sign_in(c, "match-y@example.com");
  list_ticket(c, a, 11);
  list_ticket(c, b, 12);
  appraise(c, admin, a, 5000);
  appraise(c, admin, b, 5000);
  offer(c, a, b.event_id);
  offer(c, b, a.event_id);
  auto round = [&] {
    auto r = c.post("/api/v1/admin/matcher/rounds", "", admin.auth());
    REQUIRE(r.status == 200);
    return r.json();
  };
  CHECK(int_of(round(), "pairs") == 1);
  auto t = wait_matched(c, a);
  CHECK(int_of(party_of(t, a.acct.id), "pays_minor") == 0);
  auto r = c.post("/api/v1/trades/" + str_of(t, "id") + "/accept", "", a.acct.auth());
  REQUIRE(r.status == 200);
  CHECK(str_of(c.get("/api/v1/tickets/" + a.ticket).json(), "status") == "held");
  r = c.post("/api/v1/trades/" + str_of(t, "id") + "/decline", "", b.acct.auth());
  REQUIRE(r.status == 200);
  wait_status(c, a, str_of(t, "id"), "declined");
  CHECK(str_of(c.get("/api/v1/tickets/" + a.ticket).json(), "status") == "listed");
  // The offers are still open and match again (a new trade: new versions are
  // not needed, the old trade is over).
  std::string second;
  auto until = std::chrono::steady_clock::now() + 10s;
  while (second.empty() && std::chrono::steady_clock::now() < until) {
    round();
    for (const auto& x : matched_trades(c, a))
      if (str_of(x, "status") == "proposed")
        second = str_of(x, "id");
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE_FALSE(second.empty());
  // A ticket of a proposed match goes away: the next acceptance ends the
  // match at once (rejected) and releases what the others already hold.
  r = c.post("/api/v1/trades/" + second + "/accept", "", a.acct.auth());
  REQUIRE(r.status == 200);
  CHECK(str_of(c.get("/api/v1/tickets/" + a.ticket).json(), "status") == "held");
  REQUIRE(c.del("/api/v1/tickets/" + b.ticket, b.acct.auth()).status == 200);
  r = c.post("/api/v1/trades/" + second + "/accept", "", b.acct.auth());
  CHECK(r.status == 409);
  auto ended = wait_status(c, a, second, "rejected");
  CHECK(str_of(ended, "reason").find("no longer available") != std::string::npos);
  CHECK(str_of(c.get("/api/v1/tickets/" + a.ticket).json(), "status") == "listed");
  // Withdrawing an offer removes it from matching (idempotent).
  r = c.del("/api/v1/offers/" + a.ticket, a.acct.auth());
  CHECK(r.status == 200);
  CHECK(str_of(r.json(), "status") == "closed");
  CHECK(c.del("/api/v1/offers/" + a.ticket, a.acct.auth()).status == 200);
  CHECK(c.del("/api/v1/offers/" + a.ticket, b.acct.auth()).status == 403);
  auto problem = audit_problem(c, admin);
  CHECK_MESSAGE(problem.empty(), problem);
}

TEST_CASE("kill -9 while a 3-cycle settles: after restart it completes with exact cash") {
  temp_dir dir{"tt-it-match"};
  auto args = settlement_node_args(120);
  args.insert(args.end(), {"--match-interval-ms", "0"});
  node_process node{dir.sub("node"), 0, args};
  REQUIRE(node.start());
  auto c = std::make_unique<http_client>(node.port(), 10s);
  auto admin = sign_in(*c, "admin@example.com");
  std::vector<party> ps(3);
  const char* names[] = {"p", "q", "r"};
  const int64_t credits[] = {20000, 20400, 20100};
  for (int i = 0; i < 3; ++i) {
    ps[i].name = names[i];
    ps[i].acct = sign_in(*c, std::string("crash-") + names[i] + "@example.com");
    list_ticket(*c, ps[i], 21 + i);
    appraise(*c, admin, ps[i], credits[i]);
  }
  // p wants q's, q wants r's, r wants p's: p pays 400, q is paid 300, r is paid 100.
  for (int i = 0; i < 3; ++i) {
    auto r = c->post("/api/v1/me/deposits",
                     json::serialize(json::object{{"amount_minor", 1000}, {"currency", "USD"}}),
                     keyed(ps[i].acct, "crash-fund-" + ps[i].name));
    REQUIRE(r.status == 201);
    offer(*c, ps[i], ps[(i + 1) % 3].event_id);
  }
  REQUIRE(c->post("/api/v1/admin/matcher/rounds", "", admin.auth()).status == 200);
  auto trade = str_of(wait_matched(*c, ps[0]), "id");
  auto restart = [&] {
    node.kill(SIGKILL);
    REQUIRE(node.start());
    c = std::make_unique<http_client>(node.port(), 10s);
  };
  // Every call is retried across the crashes until it answers (all idempotent).
  auto call = [&](const party& p, const std::string& what, const std::string& body) {
    for (int attempt = 0; attempt < 50; ++attempt) {
      auto r = c->post("/api/v1/trades/" + trade + "/" + what, body, p.acct.auth());
      if (r.ok() && r.status < 500)
        return r;
      std::this_thread::sleep_for(100ms);
    }
    FAIL("no answer to " << what);
    return http_result{};
  };
  CHECK(call(ps[0], "accept", "").status == 200);
  restart();
  CHECK(call(ps[1], "accept", "").status == 200);
  CHECK(call(ps[2], "accept", "").status == 200);
  CHECK(str_of(get_trade(*c, ps[0], trade), "status") == "accepted");
  restart();
  CHECK(get_wallet_balance(*c, ps[0].acct).held == 400);
  for (int i = 0; i < 2; ++i)
    CHECK(call(ps[i], "deposits",
               json::serialize(json::object{{"ticket_id", ps[i].ticket}, {"barcode", ps[i].barcode}}))
            .status
          == 200);
  // The last deposit starts the transfer; crash right after sending it.
  {
    http_client last{node.port(), 10s};
    std::thread t([&] {
      last.post("/api/v1/trades/" + trade + "/deposits",
                json::serialize(json::object{{"ticket_id", ps[2].ticket}, {"barcode", ps[2].barcode}}),
                ps[2].acct.auth());
    });
    std::this_thread::sleep_for(5ms);
    node.kill(SIGKILL);
    t.join();
  }
  REQUIRE(node.start());
  c = std::make_unique<http_client>(node.port(), 10s);
  // Re-sending the deposit is harmless; the saga finishes either way.
  call(ps[2], "deposits",
       json::serialize(json::object{{"ticket_id", ps[2].ticket}, {"barcode", ps[2].barcode}}));
  wait_status(*c, ps[0], trade, "completed");
  CHECK(str_of(c->get("/api/v1/tickets/" + ps[1].ticket).json(), "seller") == ps[0].acct.id);
  CHECK(str_of(c->get("/api/v1/tickets/" + ps[2].ticket).json(), "seller") == ps[1].acct.id);
  CHECK(str_of(c->get("/api/v1/tickets/" + ps[0].ticket).json(), "seller") == ps[2].acct.id);
  const int64_t after[] = {600, 1300, 1100};
  for (int i = 0; i < 3; ++i) {
    auto w = get_wallet_balance(*c, ps[i].acct);
    CHECK_MESSAGE(w.available == after[i], ps[i].name << " has " << w.available);
    CHECK(w.held == 0);
  }
  auto problem = audit_problem(*c, admin);
  CHECK_MESSAGE(problem.empty(), problem);
}
