// Multi-process tests of identity and the hardened edge over real HTTP and
// WebSocket: accounts, token rotation and theft detection, ownership, rate
// limits, notifications with replay, CORS and edge hygiene.
#include <doctest/doctest.h>

#include <boost/beast/websocket.hpp>

#include <set>

#include "support.hpp"

using namespace tt::test;
namespace json = boost::json;
namespace websocket = beast::websocket;

namespace {

std::vector<std::string> fast(std::vector<std::string> more = {}) {
  std::vector<std::string> args = {"--argon2-ops", "1", "--argon2-mem-mib", "8"};
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

struct running_node {
  temp_dir dir;
  uint16_t port = free_port();
  node_process proc;
  explicit running_node(std::vector<std::string> args)
    : proc((dir.path / "node").string(), port, std::move(args)) {
    proc.start();
    REQUIRE(proc.wait_healthy());
  }
};

std::string str(const json::value& v, const char* key) {
  return std::string(v.at(key).as_string());
}

} // namespace

TEST_CASE("register, login, refresh rotation, reuse detection, logout") {
  running_node n{fast({"--no-rate-limits"})};
  http_client c{n.port};
  auto reg = c.post("/api/v1/auth/register",
                    R"({"email":"Carol@Example.com","password":"correct horse battery","display_name":"Carol"})");
  REQUIRE(reg.status == 201);
  CHECK(str(reg.json(), "email") == "carol@example.com");
  CHECK_FALSE(reg.json().as_object().contains("password"));
  auto dup = c.post("/api/v1/auth/register",
                    R"({"email":"carol@EXAMPLE.com","password":"another long password","display_name":"C2"})");
  CHECK(dup.status == 409);
  CHECK(str(dup.json().at("error"), "field") == "email");
  CHECK(c.post("/api/v1/auth/register", R"({"email":"d@example.com","password":"short","display_name":"D"})").status == 422);

  // Wrong password and unknown email: the same answer.
  auto wrong = c.post("/api/v1/auth/login", R"({"email":"carol@example.com","password":"not the password"})");
  auto unknown = c.post("/api/v1/auth/login", R"({"email":"nobody@example.com","password":"not the password"})");
  CHECK(wrong.status == 401);
  CHECK(unknown.status == 401);
  CHECK(wrong.body == unknown.body);

  auto login = c.post("/api/v1/auth/login", R"({"email":"carol@example.com","password":"correct horse battery"})");
  REQUIRE(login.status == 200);
  auto access = str(login.json(), "access_token");
  auto refresh1 = str(login.json(), "refresh_token");
  CHECK(str(login.json(), "token_type") == "Bearer");
  CHECK(login.json().at("expires_in").as_int64() == 900);
  auto me = c.get("/api/v1/me", {bearer(access)});
  REQUIRE(me.status == 200);
  CHECK(str(me.json(), "id") == str(reg.json(), "id"));

  // Rotation: a new pair; the old refresh token is spent.
  auto r2 = c.post("/api/v1/auth/refresh", R"({"refresh_token":")" + refresh1 + R"("})");
  REQUIRE(r2.status == 200);
  auto refresh2 = str(r2.json(), "refresh_token");
  CHECK(refresh2 != refresh1);
  CHECK(c.get("/api/v1/me", {bearer(str(r2.json(), "access_token"))}).status == 200);
  // Theft: the spent token comes back -> 401 and the whole family dies.
  CHECK(c.post("/api/v1/auth/refresh", R"({"refresh_token":")" + refresh1 + R"("})").status == 401);
  CHECK(c.post("/api/v1/auth/refresh", R"({"refresh_token":")" + refresh2 + R"("})").status == 401);

  // Logout revokes the family of the session.
  auto login2 = c.post("/api/v1/auth/login", R"({"email":"carol@example.com","password":"correct horse battery"})");
  REQUIRE(login2.status == 200);
  CHECK(c.post("/api/v1/auth/logout", "", {bearer(str(login2.json(), "access_token"))}).status == 204);
  CHECK(c.post("/api/v1/auth/refresh", R"({"refresh_token":")" + str(login2.json(), "refresh_token") + R"("})").status == 401);
  CHECK(c.post("/api/v1/auth/refresh", R"({"refresh_token":"garbage"})").status == 401);

  // Tokens survive a restart (keys in the data dir).
  n.proc.kill(SIGTERM);
  n.proc.start();
  REQUIRE(n.proc.wait_healthy());
  http_client c2{n.port};
  CHECK(c2.get("/api/v1/me", {bearer(access)}).status == 200);
  CHECK(c2.post("/api/v1/auth/login", R"({"email":"carol@example.com","password":"correct horse battery"})").status == 200);
}

TEST_CASE("access tokens are checked: none, tampered, wrong scheme") {
  running_node n{fast({"--no-rate-limits"})};
  http_client c{n.port};
  auto token = login(c, "erin@example.com");
  REQUIRE_FALSE(token.empty());
  CHECK(c.get("/api/v1/me").status == 401);
  CHECK_FALSE(c.get("/api/v1/me").header("WWW-Authenticate").empty());
  CHECK(c.get("/api/v1/me", {{"Authorization", "Basic " + token}}).status == 401);
  CHECK(c.get("/api/v1/me", {bearer("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")}).status == 401);
  auto tampered = token;
  tampered[tampered.size() / 2] = tampered[tampered.size() / 2] == 'A' ? 'B' : 'A';
  CHECK(c.get("/api/v1/me", {bearer(tampered)}).status == 401);
  CHECK(c.get("/api/v1/me", {bearer(token)}).status == 200);
}

TEST_CASE("ownership: only the seller changes a ticket; reads are public") {
  running_node n{fast({"--no-rate-limits"})};
  http_client c{n.port};
  auto alice = login(c, "alice@example.com");
  auto bob = login(c, "bob@example.com");
  REQUIRE_FALSE(alice.empty());
  REQUIRE_FALSE(bob.empty());
  CHECK(c.post("/api/v1/tickets", listing_body("own", 1)).status == 401);
  auto listed = c.post("/api/v1/tickets", listing_body("own", 1), {bearer(alice)});
  REQUIRE(listed.status == 201);
  auto id = str(listed.json(), "id");
  // The same barcode listed by someone else is a different listing.
  auto other = c.post("/api/v1/tickets", listing_body("own", 1), {bearer(bob)});
  CHECK(other.status == 201);
  CHECK(str(other.json(), "id") != id);

  CHECK(c.get("/api/v1/tickets/" + id).status == 200);  // public read
  CHECK(c.request(http::verb::patch, "/api/v1/tickets/" + id, R"({"price_minor":5})", {bearer(bob)}).status == 403);
  CHECK(c.request(http::verb::delete_, "/api/v1/tickets/" + id, "", {bearer(bob)}).status == 403);
  CHECK(c.request(http::verb::patch, "/api/v1/tickets/" + id, R"({"price_minor":5})").status == 401);
  CHECK(c.request(http::verb::patch, "/api/v1/tickets/AAAAAAAAAAAAAAAAAAAAAA", R"({"price_minor":5})", {bearer(alice)}).status == 404);
  CHECK(c.request(http::verb::delete_, "/api/v1/tickets/not-an-id", "", {bearer(alice)}).status == 404);
  auto patched = c.request(http::verb::patch, "/api/v1/tickets/" + id, R"({"price_minor":5})", {bearer(alice)});
  REQUIRE(patched.status == 200);
  CHECK(patched.json().at("price_minor").as_int64() == 5);
  CHECK(c.request(http::verb::delete_, "/api/v1/tickets/" + id, "", {bearer(alice)}).status == 200);

  auto mine = c.get("/api/v1/me/tickets", {bearer(alice)});
  REQUIRE(mine.status == 200);
  auto items = mine.json().at("items").as_array();
  REQUIRE(items.size() == 1);
  CHECK(str(items[0], "status") == "withdrawn");
  auto bobs = c.get("/api/v1/me/tickets", {bearer(bob)});
  REQUIRE(bobs.json().at("items").as_array().size() == 1);
  CHECK(str(bobs.json().at("items").as_array()[0], "id") != id);

  // Paging with a stable cursor.
  for (int i = 2; i <= 5; ++i)
    REQUIRE(c.post("/api/v1/tickets", listing_body("own", i), {bearer(alice)}).status == 201);
  std::set<std::string> seen;
  std::string cursor;
  for (int page = 0; page < 5; ++page) {
    auto r = c.get("/api/v1/me/tickets?limit=2" + (cursor.empty() ? "" : "&cursor=" + cursor), {bearer(alice)});
    REQUIRE(r.status == 200);
    auto page_json = r.json();
    for (auto& it : page_json.at("items").as_array())
      CHECK(seen.insert(str(it, "id")).second);
    if (page_json.at("next_cursor").is_null())
      break;
    cursor = str(page_json, "next_cursor");
  }
  CHECK(seen.size() == 5);
  CHECK(c.get("/api/v1/me/tickets?limit=0", {bearer(alice)}).status == 400);
}

TEST_CASE("rate limits answer 429 with Retry-After") {
  running_node n{fast()};
  http_client c{n.port};
  auto token = login(c, "rate@example.com");
  REQUIRE_FALSE(token.empty());
  int created = 0;
  http_result limited;
  for (int i = 0; i < 8; ++i) {
    auto r = c.post("/api/v1/tickets", listing_body("rl", i), {bearer(token)});
    if (r.status == 201)
      ++created;
    else if (r.status == 429) {
      limited = r;
      break;
    }
  }
  CHECK(created == 5);  // POST /api/v1/tickets: 5 per minute per account
  REQUIRE(limited.status == 429);
  CHECK(std::stoi(limited.header("Retry-After")) >= 1);
  CHECK(str(limited.json().at("error"), "code") == "rate_limited");
  // Per IP: at most 20 per second overall.
  int too_many = 0;
  for (int i = 0; i < 40; ++i)
    if (c.get("/healthz").status == 429)
      ++too_many;
  CHECK(too_many > 0);
}

TEST_CASE("WebSocket notifications arrive live and are replayed with since") {
  running_node n{fast({"--no-rate-limits"})};
  http_client c{n.port};
  auto token = login(c, "ws@example.com");
  REQUIRE_FALSE(token.empty());
  CHECK(c.get("/api/v1/ws", {bearer(token)}).status == 426);  // not an upgrade

  ws_client live{n.port, "/api/v1/ws?token=" + token};
  auto listed = c.post("/api/v1/tickets", listing_body("ws", 1), {bearer(token)});
  REQUIRE(listed.status == 201);
  auto id = str(listed.json(), "id");
  auto msg = live.next();
  REQUIRE(msg);
  CHECK(str(*msg, "type") == "ticket_listed");
  CHECK(str(msg->at("entity"), "id") == id);
  auto offset = msg->at("offset").as_int64();
  CHECK(offset > 0);
  CHECK_FALSE(msg->at("data").as_object().contains("barcode"));

  // Events of other accounts are not pushed to this one.
  auto other = login(c, "other@example.com");
  REQUIRE(c.post("/api/v1/tickets", listing_body("ws-other", 1), {bearer(other)}).status == 201);
  // While disconnected, two more events happen.
  live.ws.close(websocket::close_code::normal);
  REQUIRE(c.request(http::verb::patch, "/api/v1/tickets/" + id, R"({"price_minor":7})", {bearer(token)}).status == 200);
  REQUIRE(c.request(http::verb::delete_, "/api/v1/tickets/" + id, "", {bearer(token)}).status == 200);

  ws_client again{n.port, "/api/v1/ws?token=" + token + "&since=" + std::to_string(offset + 1)};
  auto m1 = again.next();
  auto m2 = again.next();
  REQUIRE(m1);
  REQUIRE(m2);
  CHECK(str(*m1, "type") == "ticket_updated");
  CHECK(m1->at("data").at("price_minor").as_int64() == 7);
  CHECK(str(*m2, "type") == "ticket_withdrawn");
  CHECK(m2->at("offset").as_int64() > m1->at("offset").as_int64());
  CHECK_FALSE(again.next(std::chrono::milliseconds(300)));  // nothing of the other account

  // Without a token the upgrade is refused.
  CHECK_THROWS(ws_client(n.port, "/api/v1/ws"));
}

TEST_CASE("edge hygiene: request ids, security headers, CORS, OpenAPI") {
  running_node n{fast({"--no-rate-limits", "--cors-origin", "https://app.example.com"})};
  http_client c{n.port};
  auto r = c.get("/healthz", {{"X-Request-Id", "abc-123"}});
  CHECK(r.header("X-Request-Id") == "abc-123");
  CHECK(r.header("X-Content-Type-Options") == "nosniff");
  CHECK_FALSE(c.get("/healthz").header("X-Request-Id").empty());
  auto pre = c.request(http::verb::options, "/api/v1/tickets", "", {{"Origin", "https://app.example.com"}});
  CHECK(pre.status == 204);
  CHECK(pre.header("Access-Control-Allow-Origin") == "https://app.example.com");
  CHECK(pre.header("Access-Control-Allow-Methods").find("POST") != std::string::npos);
  CHECK(c.request(http::verb::options, "/api/v1/tickets", "", {{"Origin", "https://evil.example"}}).status == 403);
  CHECK(c.get("/healthz", {{"Origin", "https://evil.example"}}).header("Access-Control-Allow-Origin").empty());
  auto doc = c.get("/api/v1/openapi.json");
  REQUIRE(doc.status == 200);
  CHECK(doc.json().at("paths").as_object().contains("/api/v1/tickets/{id}"));
  CHECK(c.request(http::verb::put, "/api/v1/tickets", "{}").status == 405);
  CHECK(c.get("/nope").status == 404);
}
