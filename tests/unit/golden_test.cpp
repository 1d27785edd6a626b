// Golden bytes: the committed encodings under tests/golden/v1/ (written once
// by schema version 1, see tests/golden/README.md) must keep decoding to the
// same values under the current schema. Every expected value is a literal
// here, on purpose: nothing is re-encoded or derived from the current code,
// so a schema change that reinterprets old bytes fails this test.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "messages/events.hpp"

using namespace tt;

namespace {

std::string golden(const std::string& name) {
  auto path = std::string(TT_GOLDEN_DIR) + "/v1/" + name + ".bin";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

event_envelope golden_event(const std::string& name) {
  auto bytes = golden(name);
  std::string why;
  auto ev = decode_event(bytes, &why);
  REQUIRE_MESSAGE(ev.has_value(), name << " no longer decodes: " << why);
  return *ev;
}

snapshot_envelope golden_snapshot(const std::string& name) {
  auto bytes = golden(name);
  std::string why;
  auto s = decode_snapshot(bytes, &why);
  REQUIRE_MESSAGE(s.has_value(), name << " no longer decodes: " << why);
  return *s;
}

// The envelope every v1 golden event shares (seq-dependent parts aside).
void check_header(const event_envelope& e, entity_kind kind, const char* id, uint64_t seq) {
  CHECK(e.schema_version == 1);
  CHECK(e.kind == kind);
  CHECK(e.entity_id == id);
  CHECK(e.seq == seq);
  CHECK(e.timestamp_ms == 1795910400000 + static_cast<int64_t>(seq));
  CHECK(e.event_id == "evt-" + std::to_string(seq));
  CHECK(e.causation_id == "cause-1");
  CHECK(e.correlation_id == "req-42");
  CHECK(e.user_id == "U1111111111111111111111");
  CHECK(e.device_hash == "d3v1c3");
  CHECK(e.ip == "203.0.113.7");
}

void check_v1_fields(const ticket_fields& f) {
  CHECK(f.event_id == "nba-2026-lal-bos");
  CHECK(f.event_name == "Lakers vs Celtics");
  CHECK(f.venue == "Crypto.com Arena");
  CHECK(f.category == "basketball");
  CHECK(f.event_starts_at_ms == 1798228800000);
  CHECK(f.section == "101");
  CHECK(f.row == "A");
  REQUIRE(f.seats.size() == 2);
  CHECK(f.seats[0] == "1");
  CHECK(f.seats[1] == "2");
  CHECK(f.face_value_minor == 25000);
  CHECK(f.price_minor == 27500);
  CHECK(f.currency == "USD");
  CHECK(f.platform == 1);  // ticketmaster
}

const char* const ticket_id = "T000000000000000000001";
const char* const account_id = "A000000000000000000001";

} // namespace

TEST_CASE("golden v1: every committed file is present and word aligned") {
  namespace fs = std::filesystem;
  auto dir = fs::path(TT_GOLDEN_DIR) / "v1";
  REQUIRE(fs::is_directory(dir));
  for (const char* name :
       {"ticket_listed", "ticket_updated", "ticket_withdrawn", "account_registered",
        "session_started", "session_rotated", "session_revoked", "email_claimed",
        "snapshot_ticket", "snapshot_account"}) {
    CAPTURE(name);
    auto bytes = golden(name);
    CHECK(bytes.size() >= 16);
    CHECK(bytes.size() % 8 == 0);
  }
}

TEST_CASE("golden v1: ticket_listed") {
  auto e = golden_event("ticket_listed");
  check_header(e, entity_kind::ticket, ticket_id, 1);
  REQUIRE(std::holds_alternative<ticket_listed>(e.payload));
  const auto& x = std::get<ticket_listed>(e.payload);
  check_v1_fields(x.fields);
  CHECK(x.seller == "U1111111111111111111111");
  CHECK(x.barcode_hash == "bc-hash");
  CHECK(x.barcode_sealed == std::string("sealed\0bytes", 12));
  CHECK(x.barcode_sealed.size() == 12);
  CHECK(x.dedup_hash == "dedup-hash");
}

TEST_CASE("golden v1: ticket_updated") {
  auto e = golden_event("ticket_updated");
  check_header(e, entity_kind::ticket, ticket_id, 2);
  REQUIRE(std::holds_alternative<ticket_updated>(e.payload));
  const auto& p = std::get<ticket_updated>(e.payload).patch;
  CHECK(p.has_price);
  CHECK(p.price_minor == 30000);
  CHECK_FALSE(p.has_event_name);
  CHECK(p.event_name.empty());
  CHECK(p.has_venue);
  CHECK(p.venue == "Staples Center");
  CHECK_FALSE(p.has_category);
  CHECK(p.category.empty());
  CHECK_FALSE(p.has_event_starts_at);
  CHECK(p.event_starts_at_ms == 0);
}

TEST_CASE("golden v1: ticket_withdrawn") {
  auto e = golden_event("ticket_withdrawn");
  check_header(e, entity_kind::ticket, ticket_id, 3);
  REQUIRE(std::holds_alternative<ticket_withdrawn>(e.payload));
  CHECK(std::get<ticket_withdrawn>(e.payload).reason == "sold elsewhere");
}

TEST_CASE("golden v1: account and email index events") {
  {
    auto e = golden_event("account_registered");
    check_header(e, entity_kind::account, account_id, 1);
    REQUIRE(std::holds_alternative<account_registered>(e.payload));
    const auto& x = std::get<account_registered>(e.payload);
    CHECK(x.email == "alice@example.com");
    CHECK(x.display_name == "Alice");
    CHECK(x.password_sealed == std::string("\x01\x02pw", 4));
  }
  {
    auto e = golden_event("session_started");
    check_header(e, entity_kind::account, account_id, 2);
    REQUIRE(std::holds_alternative<session_started>(e.payload));
    CHECK(std::get<session_started>(e.payload).family_id == "F000000000000000000001");
    CHECK(std::get<session_started>(e.payload).token_hash == "tok-hash-1");
  }
  {
    auto e = golden_event("session_rotated");
    check_header(e, entity_kind::account, account_id, 3);
    REQUIRE(std::holds_alternative<session_rotated>(e.payload));
    CHECK(std::get<session_rotated>(e.payload).family_id == "F000000000000000000001");
    CHECK(std::get<session_rotated>(e.payload).token_hash == "tok-hash-2");
  }
  {
    auto e = golden_event("session_revoked");
    check_header(e, entity_kind::account, account_id, 4);
    REQUIRE(std::holds_alternative<session_revoked>(e.payload));
    CHECK(std::get<session_revoked>(e.payload).family_id == "F000000000000000000001");
    CHECK(std::get<session_revoked>(e.payload).reason == "reuse_detected");
  }
  {
    auto e = golden_event("email_claimed");
    check_header(e, entity_kind::email_index, "E000000000000000000001", 1);
    REQUIRE(std::holds_alternative<email_claimed>(e.payload));
    CHECK(std::get<email_claimed>(e.payload).account_id == account_id);
  }
}

TEST_CASE("golden v1: ticket snapshot") {
  auto s = golden_snapshot("snapshot_ticket");
  CHECK(s.schema_version == 1);
  CHECK(s.kind == entity_kind::ticket);
  CHECK(s.entity_id == ticket_id);
  CHECK(s.seq == 3);
  CHECK(s.taken_at_ms == 1795910400100);
  REQUIRE(std::holds_alternative<ticket_state>(s.state));
  const auto& t = std::get<ticket_state>(s.state);
  check_v1_fields(t.fields);
  CHECK(t.seller == "U1111111111111111111111");
  CHECK(t.status == ticket_status::withdrawn);
  CHECK(t.barcode_hash == "bc-hash");
  CHECK(t.barcode_sealed == std::string("sealed\0bytes", 12));
  CHECK(t.dedup_hash == "dedup-hash");
  CHECK(t.created_at_ms == 1795910400001);
  CHECK(t.updated_at_ms == 1795910400003);
}

TEST_CASE("golden v1: account snapshot") {
  auto s = golden_snapshot("snapshot_account");
  CHECK(s.schema_version == 1);
  CHECK(s.kind == entity_kind::account);
  CHECK(s.entity_id == account_id);
  CHECK(s.seq == 3);
  CHECK(s.taken_at_ms == 1795910400200);
  REQUIRE(std::holds_alternative<account_state>(s.state));
  const auto& a = std::get<account_state>(s.state);
  CHECK(a.email == "alice@example.com");
  CHECK(a.display_name == "Alice");
  CHECK(a.password_sealed == "sealed-pw");
  CHECK(a.created_at_ms == 1795910400001);
  REQUIRE(a.sessions.size() == 1);
  CHECK(a.sessions[0].family_id == "F000000000000000000001");
  CHECK(a.sessions[0].token_hash == "tok-hash-2");
  CHECK(a.sessions[0].generation == 2);
  CHECK(a.sessions[0].started_at_ms == 1795910400002);
  CHECK(a.sessions[0].last_used_ms == 1795910400003);
}
