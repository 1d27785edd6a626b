// Pure edge units: listing/patch validation (every rejection named), RFC 3339,
// JWT verification (each rejection reason, rotation), token buckets.
#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <thread>

#include "common.hpp"
#include "nodes/jwt.hpp"
#include "nodes/rate_limiter.hpp"
#include "nodes/ticket_json.hpp"

using namespace tt;
using namespace tt::nodes;

namespace {

const std::string valid = R"({"event_id":"nba-1","event_name":"Game","venue":"Arena","category":"basketball","event_starts_at":"2026-12-25T20:00:00Z","section":"101","row":"A","seats":["1","2"],"face_value_minor":25000,"currency":"USD","barcode":"ABCD-1234","platform":"upload"})";

std::string with(const std::string& key, const std::string& json_value) {
  auto body = valid;
  auto pos = body.find("\"" + key + "\":");
  REQUIRE(pos != std::string::npos);
  auto start = pos + key.size() + 3;
  auto end = start;
  int depth = 0;
  for (; end < body.size(); ++end) {
    char c = body[end];
    if (c == '[')
      ++depth;
    if (c == ']')
      --depth;
    if (c == '"' && depth == 0 && end != start) {
      ++end;
      break;
    }
    if ((c == ',' || c == '}') && depth == 0)
      break;
  }
  return body.substr(0, start) + json_value + body.substr(end);
}

std::string without(const std::string& key) {
  auto body = with(key, "0");
  auto pos = body.find("\"" + key + "\":0");
  auto end = pos + key.size() + 4;
  if (body[end] == ',')
    ++end;
  else if (body[pos - 1] == ',')
    --pos;
  return body.substr(0, pos) + body.substr(end);
}

void rejects(const std::string& body, unsigned status, const std::string& code,
             const std::string& field) {
  input_error err;
  auto r = parse_listing(body, err);
  CHECK_MESSAGE(!r, body);
  CHECK_MESSAGE(err.status == status, body << " -> " << err.message);
  CHECK_MESSAGE(err.code == code, body << " -> " << err.code);
  CHECK_MESSAGE(err.field == field, body << " -> " << err.field);
  CHECK_FALSE(err.message.empty());
}

} // namespace

TEST_CASE("a valid listing parses") {
  input_error err;
  auto r = parse_listing(valid, err);
  REQUIRE(r);
  CHECK(r->fields.face_value_minor == 25000);
  CHECK(r->fields.price_minor == 25000);
  CHECK(r->fields.seats.size() == 2);
  CHECK(r->barcode == "ABCD-1234");
  CHECK(r->fields.event_starts_at_ms == 1798228800000);
}

TEST_CASE("every listing validation error names the problem and the field") {
  rejects("", 400, "invalid_json", "");
  rejects("{", 400, "invalid_json", "");
  rejects("[1]", 400, "invalid_json", "");
  rejects(R"({"a":)" + std::string(100, '[') + std::string(100, ']') + "}", 400, "invalid_json", "");
  rejects(with("face_value_minor", "-1"), 422, "invalid_value", "face_value_minor");
  rejects(with("face_value_minor", "10.5"), 400, "invalid_type", "face_value_minor");
  rejects(with("face_value_minor", "\"100\""), 400, "invalid_type", "face_value_minor");
  rejects(with("face_value_minor", "18446744073709551615"), 422, "invalid_value", "face_value_minor");
  rejects(with("face_value_minor", "100000000001"), 422, "invalid_value", "face_value_minor");
  rejects(with("currency", "\"usd\""), 422, "invalid_value", "currency");
  rejects(with("currency", "\"XXX\""), 422, "invalid_value", "currency");
  rejects(with("currency", "\"US\""), 422, "invalid_value", "currency");
  rejects(with("platform", "\"ebay\""), 422, "invalid_value", "platform");
  rejects(with("event_starts_at", "\"2026-13-01T00:00:00Z\""), 422, "invalid_value", "event_starts_at");
  rejects(with("event_starts_at", "\"2026-02-30T00:00:00Z\""), 422, "invalid_value", "event_starts_at");
  rejects(with("event_starts_at", "\"tomorrow\""), 422, "invalid_value", "event_starts_at");
  rejects(with("seats", "[]"), 422, "invalid_value", "seats");
  rejects(with("seats", "[1]"), 400, "invalid_type", "seats");
  rejects(with("seats", "\"1\""), 400, "invalid_type", "seats");
  rejects(with("event_id", "\"has space\""), 422, "invalid_value", "event_id");
  rejects(with("event_name", "\"\""), 422, "invalid_value", "event_name");
  rejects(with("event_name", "\"tab\\there\""), 422, "invalid_value", "event_name");
  rejects(with("event_name", "\"" + std::string(201, 'x') + "\""), 422, "invalid_value", "event_name");
  rejects(with("barcode", "42"), 400, "invalid_type", "barcode");
  rejects(without("barcode"), 400, "missing_field", "barcode");
  rejects(without("seats"), 400, "missing_field", "seats");
  rejects(without("face_value_minor"), 400, "missing_field", "face_value_minor");
  rejects(valid.substr(0, valid.size() - 1) + R"(,"owner":"me"})", 400, "unknown_field", "owner");
  rejects(valid.substr(0, valid.size() - 1) + R"(,"price_minor":-5})", 422, "invalid_value",
          "price_minor");
}

TEST_CASE("patch bodies: allowed, immutable and unknown fields") {
  input_error err;
  auto p = parse_patch(R"({"price_minor":100,"venue":"New Arena"})", err);
  REQUIRE(p);
  CHECK(p->has_price);
  CHECK(p->price_minor == 100);
  CHECK(p->has_venue);
  CHECK_FALSE(p->has_event_name);
  CHECK_FALSE(parse_patch(R"({"barcode":"x"})", err));
  CHECK(err.code == "immutable_field");
  CHECK(err.field == "barcode");
  CHECK_FALSE(parse_patch(R"({"colour":"red"})", err));
  CHECK(err.code == "unknown_field");
  CHECK_FALSE(parse_patch("{}", err));
  CHECK(err.status == 422);
  CHECK_FALSE(parse_patch(R"({"price_minor":-1})", err));
  CHECK(err.field == "price_minor");
}

TEST_CASE("RFC 3339 parsing and formatting") {
  int64_t ms = 0;
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z", ms));
  CHECK(ms == 0);
  CHECK(parse_rfc3339("2026-12-25T20:00:00.250Z", ms));
  CHECK(ms == 1798228800250);
  CHECK(parse_rfc3339("2026-12-25T22:00:00+02:00", ms));
  CHECK(ms == 1798228800000);
  CHECK(parse_rfc3339("2024-02-29T00:00:00Z", ms));
  CHECK_FALSE(parse_rfc3339("2023-02-29T00:00:00Z", ms));
  CHECK_FALSE(parse_rfc3339("2026-12-25 20:00:00Z", ms));
  CHECK_FALSE(parse_rfc3339("2026-12-25T20:00:00", ms));
  CHECK_FALSE(parse_rfc3339("2026-12-25T20:00:00Zjunk", ms));
  CHECK(format_rfc3339(1798228800250) == "2026-12-25T20:00:00.250Z");
  std::mt19937 rng{7};
  for (int i = 0; i < 1000; ++i) {
    int64_t t = static_cast<int64_t>(rng()) * 1000 + rng() % 1000;
    int64_t back = 0;
    REQUIRE(parse_rfc3339(format_rfc3339(t), back));
    CHECK(back == t);
  }
}

TEST_CASE("JWT: round trip and every rejection reason") {
  auto ring = jwt_keyring::from_secret("k1", std::string(32, 's'));
  jwt_claims c;
  c.sub = "acct";
  c.sid = "fam";
  c.iat = 1000;
  c.exp = 1900;
  c.jti = "j";
  auto token = ring->sign(c);
  jwt_claims out;
  REQUIRE(ring->verify(token, 1500, out) == jwt_error::ok);
  CHECK(out.sub == "acct");
  CHECK(out.sid == "fam");
  CHECK(ring->verify(token, 1900 + 31, out) == jwt_error::expired);
  CHECK(ring->verify(token, 1000 - 31, out) == jwt_error::not_yet_valid);
  auto dot1 = token.find('.');
  auto dot2 = token.rfind('.');
  auto tampered = token;
  tampered[dot1 + 5] = tampered[dot1 + 5] == 'A' ? 'B' : 'A';
  CHECK(ring->verify(tampered, 1500, out) != jwt_error::ok);
  auto badsig = token.substr(0, dot2 + 1) + "AAAA" + token.substr(dot2 + 5);
  CHECK(ring->verify(badsig, 1500, out) == jwt_error::bad_signature);
  // alg=none with an empty signature, and other algorithms.
  auto b64 = [](std::string s) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    int val = 0, bits = -6;
    for (unsigned char ch : s) {
      val = (val << 8) + ch;
      bits += 8;
      while (bits >= 0) {
        out.push_back(t[(val >> bits) & 0x3F]);
        bits -= 6;
      }
    }
    if (bits > -6)
      out.push_back(t[((val << 8) >> (bits + 8)) & 0x3F]);
    return out;
  };
  auto payload = token.substr(dot1 + 1, dot2 - dot1 - 1);
  CHECK(ring->verify(b64(R"({"alg":"none","typ":"JWT","kid":"k1"})") + "." + payload + ".", 1500, out)
        == jwt_error::alg_not_allowed);
  CHECK(ring->verify(b64(R"({"alg":"HS512","typ":"JWT","kid":"k1"})") + "." + payload + "."
                       + token.substr(dot2 + 1),
                     1500, out)
        == jwt_error::alg_not_allowed);
  CHECK(ring->verify(b64(R"({"alg":"RS256","kid":"k1"})") + "." + payload + ".AAAA", 1500, out)
        == jwt_error::alg_not_allowed);
  CHECK(ring->verify(b64(R"({"alg":"HS256","typ":"JWT"})") + "." + payload + ".AAAA", 1500, out)
        == jwt_error::bad_header);
  CHECK(ring->verify(b64(R"({"alg":"HS256","typ":"JWT","kid":"zz"})") + "." + payload + ".AAAA", 1500, out)
        == jwt_error::unknown_kid);
  CHECK(ring->verify("a.b", 1500, out) == jwt_error::malformed);
  CHECK(ring->verify(token + ".x", 1500, out) == jwt_error::malformed);
  CHECK(ring->verify(token.substr(0, dot2) + ".a+b/", 1500, out) == jwt_error::malformed);
  CHECK(ring->verify(std::string(5000, 'a'), 1500, out) == jwt_error::malformed);
  // Another key: unknown kid; same kid other secret: bad signature.
  auto other = jwt_keyring::from_secret("k1", std::string(32, 't'));
  CHECK(other->verify(token, 1500, out) == jwt_error::bad_signature);
  // Mutation fuzz: never crashes, never verifies.
  std::mt19937 rng{42};
  for (int i = 0; i < 20000; ++i) {
    auto m = token;
    for (int k = 0, n = 1 + rng() % 4; k < n; ++k)
      m[rng() % m.size()] = static_cast<char>(rng() % 256);
    if (m == token)
      continue;
    CHECK(ring->verify(m, 1500, out) != jwt_error::ok);
  }
}

TEST_CASE("JWT keys rotate and persist") {
  test::temp_dir dir;
  std::string err;
  auto ring = jwt_keyring::load_or_create(dir.str(), &err);
  REQUIRE(ring);
  jwt_claims c;
  c.sub = "a";
  c.iat = 100;
  c.exp = 10000;
  auto old_token = ring->sign(c);
  auto old_kid = ring->signing_kid();
  REQUIRE(ring->rotate());
  CHECK(ring->signing_kid() != old_kid);
  jwt_claims out;
  CHECK(ring->verify(old_token, 200, out) == jwt_error::ok);
  auto reloaded = jwt_keyring::load_or_create(dir.str(), &err);
  REQUIRE(reloaded);
  CHECK(reloaded->signing_kid() == ring->signing_kid());
  CHECK(reloaded->verify(old_token, 200, out) == jwt_error::ok);
  CHECK(reloaded->verify(ring->sign(c), 200, out) == jwt_error::ok);
}

TEST_CASE("token buckets: burst, refill, retry-after, bounded memory") {
  using clock = std::chrono::steady_clock;
  rate_limiter rl{1000, std::chrono::seconds(60)};
  bucket_rule five_per_min{5, 5.0 / 60};
  auto t0 = clock::now();
  for (int i = 0; i < 5; ++i)
    CHECK(rl.take("acct", five_per_min, t0).allowed);
  auto denied = rl.take("acct", five_per_min, t0);
  CHECK_FALSE(denied.allowed);
  CHECK(denied.retry_after_seconds == doctest::Approx(12.0).epsilon(0.01));
  CHECK(rl.take("other", five_per_min, t0).allowed);  // independent keys
  CHECK_FALSE(rl.take("acct", five_per_min, t0 + std::chrono::seconds(11)).allowed);
  CHECK(rl.take("acct", five_per_min, t0 + std::chrono::seconds(13)).allowed);
  // Bounded memory: many distinct keys never exceed the cap.
  for (int i = 0; i < 100000; ++i)
    rl.take("k" + std::to_string(i), five_per_min, t0);
  CHECK(rl.size() <= 1000);
  // Concurrency: never more than the capacity at one instant.
  rate_limiter shared;
  std::atomic<int> admitted{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 1000; ++i)
        if (shared.take("hot", bucket_rule{20, 0.0001}, t0).allowed)
          ++admitted;
    });
  for (auto& t : ts)
    t.join();
  CHECK(admitted == 20);
  rate_limit_config cfg;
  CHECK(cfg.rule_for("POST", "/api/v1/tickets") == &cfg.post_tickets);
  CHECK(cfg.rule_for("GET", "/api/v1/tickets/{id}") == nullptr);
}
