// The edge's contract: routes vs OpenAPI, identity input validation, refresh
// token shapes, argon2id, and the account state machine (rotation, reuse).
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <set>

#include "actors/account_model.hpp"
#include "nodes/auth_json.hpp"
#include "nodes/edge.hpp"
#include "nodes/passwords.hpp"
#include "persistence/node_keys.hpp"

using namespace tt;
using namespace tt::nodes;

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace

TEST_CASE("the OpenAPI document lists exactly the routes of the route table") {
  boost::system::error_code ec;
  auto doc = boost::json::parse(std::string(openapi_document()), ec);
  REQUIRE_FALSE(ec);
  REQUIRE(doc.is_object());
  CHECK(doc.at("openapi").as_string().starts_with("3."));
  std::set<std::string> documented;
  for (const auto& [path, item] : doc.at("paths").as_object())
    for (const auto& [method, op] : item.as_object())
      documented.insert(lower(method) + " " + std::string(path));
  std::set<std::string> routed;
  for (const auto& r : edge::routes())
    routed.insert(lower(r.method) + " " + std::string(r.pattern));
  CHECK(documented == routed);
  // Auth in the document matches the table: secured routes need the bearer scheme.
  for (const auto& r : edge::routes()) {
    const auto& op = doc.at("paths").at(std::string(r.pattern)).at(lower(r.method)).as_object();
    auto sec = op.at("security").as_array();
    CHECK_MESSAGE(sec.empty() != r.auth, r.method << " " << r.pattern);
    CHECK(op.contains("responses"));
  }
}

TEST_CASE("register bodies are validated strictly") {
  input_error err;
  auto ok = parse_register(R"({"email":" Alice@Example.COM ","password":"correct horse battery","display_name":"Alice"})", err);
  REQUIRE(ok);
  CHECK(ok->email == "alice@example.com");
  CHECK(ok->display_name == "Alice");

  CHECK_FALSE(parse_register(R"({"email":"a@b.co","password":"short","display_name":"A"})", err));
  CHECK(err.status == 422);
  CHECK(err.field == "password");
  CHECK_FALSE(parse_register(R"({"email":"not-an-email","password":"long enough password","display_name":"A"})", err));
  CHECK(err.field == "email");
  CHECK_FALSE(parse_register(R"({"email":"a@b.co","password":"long enough password"})", err));
  CHECK(err.code == "missing_field");
  CHECK(err.field == "display_name");
  CHECK_FALSE(parse_register(R"({"email":"a@b.co","password":"long enough password","display_name":"A","admin":true})", err));
  CHECK(err.code == "unknown_field");
  CHECK_FALSE(parse_register(R"({"email":"a@b.co","password":12345678901234,"display_name":"A"})", err));
  CHECK(err.code == "invalid_type");
  CHECK_FALSE(parse_register("[]", err));
  CHECK(err.code == "invalid_json");
  CHECK_FALSE(parse_register("{", err));
  CHECK(err.code == "invalid_json");
}

TEST_CASE("refresh tokens have one shape") {
  auto acc = persistence::random_id();
  auto fam = persistence::random_id();
  auto secret = persistence::random_token(32);
  CHECK(secret.size() == 43);
  auto parts = parse_refresh_token(acc + "." + fam + "." + secret);
  REQUIRE(parts);
  CHECK(parts->account_id == acc);
  CHECK(parts->family_id == fam);
  CHECK(parts->secret == secret);
  CHECK_FALSE(parse_refresh_token(acc + "." + fam));
  CHECK_FALSE(parse_refresh_token(acc + "." + fam + "." + secret + "x"));
  CHECK_FALSE(parse_refresh_token(acc + "." + fam + "." + secret.substr(0, 42) + "="));
  CHECK_FALSE(parse_refresh_token("x." + fam + "." + secret));
  CHECK_FALSE(parse_refresh_token(""));
}

TEST_CASE("argon2id hashes verify only the right password") {
  password_cost cheap{1, 8 * 1024 * 1024};
  auto h = hash_password("correct horse battery", cheap);
  REQUIRE_FALSE(h.empty());
  CHECK(h.rfind("$argon2id$", 0) == 0);
  CHECK(verify_password(h, "correct horse battery"));
  CHECK_FALSE(verify_password(h, "correct horse batterY"));
  CHECK_FALSE(verify_password("", "x"));
  CHECK_FALSE(verify_password("$argon2id$garbage", "x"));
  // Salted: the same password hashes differently.
  CHECK(hash_password("correct horse battery", cheap) != h);
}

TEST_CASE("account sessions rotate and a reused token revokes the family") {
  auto keys = persistence::node_keys::from_secret("test-secret");
  actors::account_model m;
  m.id = persistence::random_id();
  int64_t t = 1000;
  uint64_t seq = 0;
  auto apply_all = [&](const std::vector<event_payload>& evs) {
    for (const auto& p : evs) {
      event_envelope ev;
      ev.kind = entity_kind::account;
      ev.entity_id = m.id;
      ev.seq = ++seq;
      ev.timestamp_ms = ++t;
      ev.payload = p;
      m.apply(ev);
    }
  };
  register_account reg{m.id, "a@b.co", "A", "$argon2id$hash", {}};
  auto r = m.decide(reg, *keys);
  REQUIRE(r);
  apply_all(*r);
  CHECK(m.exists);
  CHECK(keys->open(m.state.password_sealed) == std::optional<std::string>("$argon2id$hash"));
  CHECK_FALSE(m.decide(reg, *keys));  // second registration: conflict

  auto s = m.decide(start_session{m.id, "fam1", "h1", {}});
  REQUIRE(s);
  apply_all(*s);
  REQUIRE(m.find_session("fam1"));

  auto rot = m.decide(rotate_session{m.id, "fam1", "h1", "h2", {}});
  REQUIRE(rot);
  CHECK_FALSE(rot->reuse);
  apply_all(rot->events);
  CHECK(m.find_session("fam1")->token_hash == "h2");
  CHECK(m.find_session("fam1")->generation == 2);

  // The old token again: theft. The family is revoked, newest token included.
  auto reuse = m.decide(rotate_session{m.id, "fam1", "h1", "h3", {}});
  REQUIRE(reuse);
  CHECK(reuse->reuse);
  apply_all(reuse->events);
  CHECK(m.find_session("fam1") == nullptr);
  CHECK_FALSE(m.decide(rotate_session{m.id, "fam1", "h2", "h4", {}}));

  // Logout is idempotent.
  apply_all(*m.decide(start_session{m.id, "fam2", "x1", {}}));
  auto out = m.decide(revoke_session{m.id, "fam2", "logout", {}});
  REQUIRE(out);
  CHECK(out->size() == 1);
  apply_all(*out);
  CHECK(m.decide(revoke_session{m.id, "fam2", "logout", {}})->empty());

  // Families are bounded: the least recently used is evicted.
  for (size_t i = 0; i < actors::max_sessions_per_account + 3; ++i)
    apply_all(*m.decide(start_session{m.id, "f" + std::to_string(i), "h", {}}));
  CHECK(m.state.sessions.size() == actors::max_sessions_per_account);
  CHECK(m.find_session("f0") == nullptr);
}

TEST_CASE("email normalisation") {
  CHECK(actors::normalize_email(" Bob@Example.ORG ") == "bob@example.org");
  CHECK(actors::normalize_email("bob@example").empty());
  CHECK(actors::normalize_email("@example.org").empty());
  CHECK(actors::normalize_email("a@b@c.org").empty());
  CHECK(actors::normalize_email("a b@c.org").empty());
  CHECK(actors::normalize_email("").empty());
}
