// Both parties of a trade are told over their WebSockets (/api/v1/ws) as it
// moves: the counterparty sees the proposal, both see it accepted and
// completed, and each sees the ticket that came to them.
#include <doctest/doctest.h>

#include "support.hpp"

using namespace tt::test;
namespace json = boost::json;

namespace {

std::string id_of(const http_result& r) { return std::string(r.json().at("id").as_string()); }

/// Reads messages until one matches `pred` or nothing arrives for 5 s.
template <class Pred>
bool wait_for(ws_client& ws, Pred pred) {
  for (int i = 0; i < 100; ++i) {
    auto m = ws.next(std::chrono::seconds(5));
    if (!m)
      return false;
    if (pred(m->as_object()))
      return true;
  }
  return false;
}

bool trade_status(const json::object& m, const std::string& trade, const std::string& status) {
  return m.at("type").as_string() == "trade_status_changed"
         && m.at("entity").at("id").as_string() == trade
         && m.at("data").at("status").as_string() == status;
}

} // namespace

TEST_CASE("both parties are notified of a trade over WebSocket") {
  temp_dir dir;
  auto port = free_port();
  node_process node{(dir.path / "data").string(), port,
                    {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8"}};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  auto a = login(c, "a@notify.test");
  auto b = login(c, "b@notify.test");
  REQUIRE(!a.empty());
  REQUIRE(!b.empty());
  auto ta = c.post("/api/v1/tickets", listing_body("na", 1), {bearer(a)});
  auto tb = c.post("/api/v1/tickets", listing_body("nb", 2), {bearer(b)});
  REQUIRE(ta.status == 201);
  REQUIRE(tb.status == 201);
  REQUIRE(c.post("/api/v1/me/deposits", R"({"amount_minor":1000,"currency":"USD"})",
                 {bearer(a), {"Idempotency-Key", "n1"}})
            .status
          == 201);
  ws_client wa{port, "/api/v1/ws?token=" + a};
  ws_client wb{port, "/api/v1/ws?token=" + b};
  auto prop = c.post("/api/v1/trades",
                     R"({"give":[")" + id_of(ta) + R"("],"take":[")" + id_of(tb) + R"("],"cash_minor":250})",
                     {bearer(a)});
  REQUIRE(prop.status == 201);
  auto trade = id_of(prop);
  // The counterparty hears of the proposal.
  CHECK(wait_for(wb, [&](const json::object& m) { return trade_status(m, trade, "proposed"); }));
  REQUIRE(c.post("/api/v1/trades/" + trade + "/accept", "{}", {bearer(b)}).status == 200);
  REQUIRE(c.post("/api/v1/trades/" + trade + "/deposits",
                 R"({"ticket_id":")" + id_of(ta) + R"(","barcode":"BC-na-1"})", {bearer(a)})
            .status
          == 200);
  auto last = c.post("/api/v1/trades/" + trade + "/deposits",
                     R"({"ticket_id":")" + id_of(tb) + R"(","barcode":"BC-nb-2"})", {bearer(b)});
  REQUIRE(last.status == 200);
  CHECK(last.json().at("status").as_string() == "completed");
  // Both hear of acceptance and completion; each sees its new ticket arrive.
  for (auto* ws : {&wa, &wb}) {
    CHECK(wait_for(*ws, [&](const json::object& m) { return trade_status(m, trade, "accepted"); }));
    CHECK(wait_for(*ws, [&](const json::object& m) { return trade_status(m, trade, "completed"); }));
  }
  // A replay from the start of the log shows A the ticket that came to them.
  ws_client replay_a{port, "/api/v1/ws?token=" + a + "&since=1"};
  CHECK(wait_for(replay_a, [&](const json::object& m) {
    return m.at("type").as_string() == "ticket_transferred"
           && m.at("entity").at("id").as_string() == id_of(tb)
           && m.at("data").at("to").as_string().size() > 0;
  }));
}

TEST_CASE("every party of a matched trade is notified over WebSocket") {
  temp_dir dir;
  auto port = free_port();
  node_process node{(dir.path / "data").string(), port,
                    {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8",
                     "--admin-email", "ops@notify.test", "--match-interval-ms", "0"}};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  auto ops = login(c, "ops@notify.test");
  auto a = login(c, "ma@notify.test");
  auto b = login(c, "mb@notify.test");
  REQUIRE(!ops.empty());
  auto ta = c.post("/api/v1/tickets", listing_body("mna", 1), {bearer(a)});
  auto tb = c.post("/api/v1/tickets", listing_body("mnb", 2), {bearer(b)});
  REQUIRE(ta.status == 201);
  REQUIRE(tb.status == 201);
  for (auto* t : {&ta, &tb})
    REQUIRE(c.put("/api/v1/admin/tickets/" + id_of(*t) + "/valuation",
                  R"({"credit_minor":3000,"currency":"USD"})", {bearer(ops)})
              .status
            == 200);
  ws_client wa{port, "/api/v1/ws?token=" + a};
  ws_client wb{port, "/api/v1/ws?token=" + b};
  REQUIRE(c.post("/api/v1/offers", R"({"ticket_id":")" + id_of(ta) + R"(","want":{"event_ids":["ev-mnb"]}})",
                 {bearer(a)})
            .status
          == 201);
  REQUIRE(c.post("/api/v1/offers", R"({"ticket_id":")" + id_of(tb) + R"(","want":{"event_ids":["ev-mna"]}})",
                 {bearer(b)})
            .status
          == 201);
  REQUIRE(c.post("/api/v1/admin/matcher/rounds", "", {bearer(ops)}).status == 200);
  // Both hear of the match (the proposal names every party).
  std::string trade;
  CHECK(wait_for(wa, [&](const json::object& m) {
    if (m.at("type").as_string() != "trade_matched")
      return false;
    trade = std::string(m.at("entity").at("id").as_string());
    return true;
  }));
  REQUIRE(!trade.empty());
  CHECK(wait_for(wb, [&](const json::object& m) { return trade_status(m, trade, "proposed"); }));
  REQUIRE(c.post("/api/v1/trades/" + trade + "/accept", "", {bearer(a)}).status == 200);
  REQUIRE(c.post("/api/v1/trades/" + trade + "/accept", "", {bearer(b)}).status == 200);
  // The last acceptance is announced to both.
  for (auto* ws : {&wa, &wb})
    CHECK(wait_for(*ws, [&](const json::object& m) { return trade_status(m, trade, "accepted"); }));
}
