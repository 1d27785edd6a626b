// Pure edge units: listing/patch validation (every rejection named) and RFC 3339.
// (JWT and token buckets: tests/unit_edge; parser fuzzing: tests/fuzz.)
#include <doctest/doctest.h>

#include <atomic>
#include <random>
#include <thread>

#include "common.hpp"
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
  CHECK_FALSE(parse_rfc3339("9999-12-31T23:59:59-23:59", ms));  // past year 9999 in UTC
  CHECK(parse_rfc3339("9999-12-31T23:59:59Z", ms));
  CHECK(format_rfc3339(ms) == "9999-12-31T23:59:59.000Z");
  CHECK(format_rfc3339(1798228800250) == "2026-12-25T20:00:00.250Z");
  std::mt19937 rng{7};
  for (int i = 0; i < 1000; ++i) {
    int64_t t = static_cast<int64_t>(rng()) * 1000 + rng() % 1000;
    int64_t back = 0;
    REQUIRE(parse_rfc3339(format_rfc3339(t), back));
    CHECK(back == t);
  }
}
