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

// -- schema version 2 (settlement), tests/golden/v2/ --------------------------------

namespace {

event_envelope golden_v2(const std::string& name, entity_kind kind, const char* id, uint64_t seq) {
  auto path = std::string(TT_GOLDEN_DIR) + "/v2/" + name + ".bin";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  std::string why;
  auto ev = decode_event(bytes, &why);
  REQUIRE_MESSAGE(ev.has_value(), name << " no longer decodes: " << why);
  CHECK(ev->schema_version == 2);
  CHECK(ev->kind == kind);
  CHECK(ev->entity_id == id);
  CHECK(ev->seq == seq);
  CHECK(ev->timestamp_ms == 1795910400000 + static_cast<int64_t>(seq));
  CHECK(ev->user_id == "U1111111111111111111111");
  return *ev;
}

snapshot_envelope golden_snapshot_v2(const std::string& name) {
  auto path = std::string(TT_GOLDEN_DIR) + "/v2/" + name + ".bin";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  auto s = decode_snapshot(bytes);
  REQUIRE(s.has_value());
  CHECK(s->schema_version == 2);
  return *s;
}

constexpr const char* g_trade = "T2222222222222222222222";
constexpr const char* g_ticket = "K3333333333333333333333";
constexpr const char* g_alice = "U1111111111111111111111";
constexpr const char* g_bob = "U4444444444444444444444";

} // namespace

TEST_CASE("v2 golden: ticket settlement events decode to the same values") {
  auto held = golden_v2("ticket_held", entity_kind::ticket, g_ticket, 2);
  CHECK(std::get<ticket_held>(held.payload) == ticket_held{g_trade, g_alice});
  auto rel = golden_v2("ticket_released", entity_kind::ticket, g_ticket, 3);
  CHECK(std::get<ticket_released>(rel.payload).trade_id == g_trade);
  auto dep = golden_v2("ticket_deposited", entity_kind::ticket, g_ticket, 4);
  CHECK(std::get<ticket_deposited>(dep.payload).trade_id == g_trade);
  auto moved = golden_v2("ticket_transferred", entity_kind::ticket, g_ticket, 5);
  CHECK(std::get<ticket_transferred>(moved.payload) == ticket_transferred{g_trade, g_alice, g_bob});
}

TEST_CASE("v2 golden: wallet postings decode to the same values") {
  auto ev = golden_v2("wallet_posted", entity_kind::wallet, g_alice, 6);
  const auto& w = std::get<wallet_posted>(ev.payload);
  CHECK(w.op == wallet_op::capture);
  CHECK(w.ref == std::string(g_trade) + ":p");
  CHECK(w.currency == "USD");
  CHECK(w.amount_minor == 300);
  CHECK(w.request_hash == "h4sh");
  REQUIRE(w.postings.size() == 2);
  CHECK(w.postings[0] == posting{ledger_account::user_held, ledger_account::platform_escrow, 300});
  CHECK(w.postings[1] == posting{ledger_account::user_held, ledger_account::user_available, 200});
  CHECK(w.counterparty == g_bob);
}

TEST_CASE("v2 golden: trade events decode to the same values") {
  auto p = golden_v2("trade_proposed", entity_kind::trade, g_trade, 1);
  const auto& tp = std::get<trade_proposed>(p.payload);
  CHECK(tp.proposer == g_alice);
  CHECK(tp.counterparty == g_bob);
  CHECK(tp.give == std::vector<std::string>{g_ticket});
  CHECK(tp.take == std::vector<std::string>{"K5555555555555555555555", "K6666666666666666666666"});
  CHECK(tp.proposer_pays_minor == 500);
  CHECK(tp.counterparty_pays_minor == 0);
  CHECK(tp.currency == "USD");
  CHECK(tp.expires_at_ms == 1795996800000);
  CHECK(tp.request_hash == "rq");
  CHECK(tp.fee_bps == 150);
  auto sc = golden_v2("trade_status_changed", entity_kind::trade, g_trade, 2);
  const auto& st = std::get<trade_status_changed>(sc.payload);
  CHECK(st.status == trade_status::releasing);
  CHECK(st.target == trade_status::expired);
  CHECK(st.reason == "the commit window ended");
  CHECK(st.parties == std::vector<std::string>{g_alice, g_bob});
  auto cash = golden_v2("trade_cash_added", entity_kind::trade, g_trade, 3);
  CHECK(std::get<trade_cash_added>(cash.payload) == trade_cash_added{g_bob, 125});
  auto dep = golden_v2("trade_deposit", entity_kind::trade, g_trade, 4);
  CHECK(std::get<trade_deposit>(dep.payload).ticket_id == g_ticket);
  auto dis = golden_v2("trade_disputed", entity_kind::trade, g_trade, 5);
  CHECK(std::get<trade_disputed>(dis.payload) == trade_disputed{g_bob, "wrong seats"});
}

TEST_CASE("v2 golden: wallet, trade and ticket snapshots decode to the same values") {
  auto w = golden_snapshot_v2("snapshot_wallet");
  CHECK(w.kind == entity_kind::wallet);
  CHECK(w.seq == 9);
  const auto& ws = std::get<wallet_state>(w.state);
  CHECK(ws.currency == "EUR");
  CHECK(ws.available_minor == 1234);
  CHECK(ws.held_minor == 500);
  REQUIRE(ws.holds.size() == 1);
  CHECK(ws.holds[0] == wallet_hold{std::string(g_trade) + ":p", 500});
  REQUIRE(ws.refs.size() == 2);
  CHECK(ws.refs[0] == wallet_ref{"key:dep-1", wallet_op::deposit, 1734, "rh", 1734, 0, 1795910400001});
  CHECK(ws.refs[1] == wallet_ref{"hold:T:p", wallet_op::hold, 500, "", 1234, 500, 1795910400002});
  auto t = golden_snapshot_v2("snapshot_trade");
  const auto& ts = std::get<trade_state>(t.state);
  CHECK(ts.proposer == g_alice);
  CHECK(ts.counterparty == g_bob);
  CHECK(ts.status == trade_status::in_escrow);
  CHECK(ts.proposer_pays_minor == 500);
  CHECK(ts.counterparty_pays_minor == 125);
  CHECK(ts.deposited == std::vector<std::string>{g_ticket});
  CHECK(ts.fee_bps == 150);
  auto k = golden_snapshot_v2("snapshot_ticket");
  const auto& kt = std::get<ticket_state>(k.state);
  CHECK(kt.status == ticket_status::in_escrow);
  CHECK(kt.hold_trade_id == g_trade);
  CHECK(kt.last_transfer_ref == "xfer-1");
  CHECK(kt.barcode_sealed == std::string("\x01\x02\x00\x03", 4));
}

TEST_CASE("v1 ticket snapshots read the settlement fields as empty") {
  auto s = golden_snapshot("snapshot_ticket");
  const auto& t = std::get<ticket_state>(s.state);
  CHECK(t.hold_trade_id.empty());
  CHECK(t.last_transfer_ref.empty());
}

// -- schema version 3 (valuations), tests/golden/v3/ ----------------------------------

namespace {

/// The committed bytes of tests/golden/<version>/<name>.bin.
std::string golden_bytes(const std::string& version, const std::string& name) {
  auto path = std::string(TT_GOLDEN_DIR) + "/" + version + "/" + name + ".bin";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

} // namespace

TEST_CASE("v3 golden: ticket_valued decodes to the same values") {
  std::string why;
  auto ev = decode_event(golden_bytes("v3", "ticket_valued"), &why);
  REQUIRE_MESSAGE(ev.has_value(), why);
  CHECK(ev->schema_version == 3);
  CHECK(ev->kind == entity_kind::ticket);
  CHECK(ev->entity_id == "K3333333333333333333333");
  CHECK(ev->seq == 6);
  CHECK(ev->timestamp_ms == 1795910400006);
  CHECK(ev->user_id == "U1111111111111111111111");
  const auto& v = std::get<ticket_valued>(ev->payload);
  CHECK(v.credit_minor == 31250);
  CHECK(v.currency == "USD");
  CHECK(v.confidence_ppm == 812500);
  CHECK(v.model_version == "tt-val-0123456789ab");
  CHECK(v.method == "median_fallback");
  CHECK(v.median_samples == 7);
  CHECK(std::string(event_type_name(ev->payload)) == "ticket_valued");
}

TEST_CASE("v3 golden: the ticket snapshot carries the last valuation") {
  auto path = std::string(TT_GOLDEN_DIR) + "/v3/snapshot_ticket.bin";
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path);
  std::string bytes(std::istreambuf_iterator<char>(in), {});
  auto s = decode_snapshot(bytes);
  REQUIRE(s.has_value());
  CHECK(s->schema_version == 3);
  CHECK(s->seq == 6);
  const auto& t = std::get<ticket_state>(s->state);
  CHECK(t.status == ticket_status::listed);
  CHECK(t.seller == "U1111111111111111111111");
  CHECK(t.updated_at_ms == 1795910400005);
  CHECK(t.transfer_refs == std::vector<std::string>{"xfer-1"});
  CHECK(t.valuation_version == "tt-val-0123456789ab");
  CHECK(t.valuation_method == "median_fallback");
  CHECK(t.valuation_credit_minor == 31250);
}

TEST_CASE("v1 and v2 ticket snapshots read the valuation fields as empty") {
  auto v1 = golden_snapshot("snapshot_ticket");
  auto v2 = golden_snapshot_v2("snapshot_ticket");
  for (const auto* s : {&v1, &v2}) {
    const auto& t = std::get<ticket_state>(s->state);
    CHECK(t.valuation_version.empty());
    CHECK(t.valuation_method.empty());
    CHECK(t.valuation_credit_minor == 0);
  }
}

// -- schema version 4 (offers and matched trades), tests/golden/v4/ -----------------------

namespace {

event_envelope golden_v4(const std::string& name, entity_kind kind, const char* id, uint64_t seq) {
  std::string why;
  auto ev = decode_event(golden_bytes("v4", name), &why);
  REQUIRE_MESSAGE(ev.has_value(), name << " no longer decodes: " << why);
  CHECK(ev->schema_version == 4);
  CHECK(ev->kind == kind);
  CHECK(ev->entity_id == id);
  CHECK(ev->seq == seq);
  CHECK(ev->timestamp_ms == 1795910400000 + static_cast<int64_t>(seq));
  CHECK(std::string(event_type_name(ev->payload)) == name);
  return *ev;
}

} // namespace

TEST_CASE("v4 golden: offer events decode to the same values") {
  auto o = golden_v4("ticket_offered", entity_kind::ticket, g_ticket, 7);
  const auto& x = std::get<ticket_offered>(o.payload);
  CHECK(x.want_event_ids == std::vector<std::string>{"nba-2026-lal-gsw"});
  CHECK(x.want_categories == std::vector<std::string>{"basketball"});
  CHECK(x.want_venues.empty());
  CHECK(x.max_cash_minor == 1500);
  CHECK(x.weights_permille == std::vector<int16_t>{900, 0, 0, 0, 0, 250, 0, 0});
  auto c = golden_v4("ticket_offer_closed", entity_kind::ticket, g_ticket, 8);
  CHECK(std::get<ticket_offer_closed>(c.payload).reason == "withdrawn");
}

TEST_CASE("v4 golden: matched-trade events decode to the same values") {
  auto m = golden_v4("trade_matched", entity_kind::trade, g_trade, 1);
  CHECK(m.user_id.empty());
  const auto& x = std::get<trade_matched>(m.payload);
  REQUIRE(x.parties.size() == 3);
  CHECK(x.parties[0].account == g_alice);
  CHECK(x.parties[0].give == std::vector<std::string>{g_ticket});
  CHECK(x.parties[0].receiver == 2);
  CHECK(x.parties[0].credit_minor == 10000);
  CHECK(x.parties[0].net_cash_minor == 100);
  CHECK(x.parties[1].account == g_bob);
  CHECK(x.parties[1].receiver == 0);
  CHECK(x.parties[1].net_cash_minor == 150);
  CHECK(x.parties[2].account == "U6666666666666666666666");
  CHECK(x.parties[2].give == std::vector<std::string>{"K6666666666666666666666"});
  CHECK(x.parties[2].net_cash_minor == -250);
  CHECK(x.currency == "USD");
  CHECK(x.expires_at_ms == 1795996800000);
  CHECK(x.fee_bps == 150);
  CHECK(x.match_key.starts_with("m1|K3333333333333333333333@41.0|"));
  auto a = golden_v4("trade_party_accepted", entity_kind::trade, g_trade, 3);
  CHECK(std::get<trade_party_accepted>(a.payload).party == g_bob);
  // Written before v5: no deadline, which means "unchanged".
  CHECK(std::get<trade_party_accepted>(a.payload).expires_at_ms == 0);
}

TEST_CASE("v5 golden: the last acceptance of a matched trade carries the deposits' deadline") {
  std::string why;
  auto ev = decode_event(golden_bytes("v5", "trade_party_accepted"), &why);
  REQUIRE_MESSAGE(ev.has_value(), why);
  CHECK(ev->schema_version == 5);
  CHECK(ev->kind == entity_kind::trade);
  CHECK(ev->entity_id == g_trade);
  CHECK(ev->seq == 4);
  CHECK(ev->timestamp_ms == 1795910400004);
  const auto& x = std::get<trade_party_accepted>(ev->payload);
  CHECK(x.party == g_alice);
  CHECK(x.expires_at_ms == 1796000400000);
}

TEST_CASE("v4 golden: trade and ticket snapshots carry parties and the offer") {
  auto t = decode_snapshot(golden_bytes("v4", "snapshot_trade"));
  REQUIRE(t.has_value());
  CHECK(t->schema_version == 4);
  const auto& ts = std::get<trade_state>(t->state);
  REQUIRE(ts.parties.size() == 3);
  CHECK(ts.parties[2].net_cash_minor == -250);
  CHECK(ts.accepted == std::vector<std::string>{g_bob});
  CHECK(ts.status == trade_status::proposed);
  CHECK(ts.proposer.empty());
  auto k = decode_snapshot(golden_bytes("v4", "snapshot_ticket"));
  REQUIRE(k.has_value());
  const auto& ks = std::get<ticket_state>(k->state);
  CHECK(ks.offer_open);
  CHECK(ks.offer.max_cash_minor == 1500);
  CHECK(ks.offer_at_ms == 1795910400007);
  CHECK(ks.valuation_method == "manual");
}

TEST_CASE("v1 to v3 snapshots read the offer and party fields as empty") {
  auto v3 = decode_snapshot(golden_bytes("v3", "snapshot_ticket"));
  REQUIRE(v3.has_value());
  CHECK_FALSE(std::get<ticket_state>(v3->state).offer_open);
  CHECK(std::get<ticket_state>(v3->state).offer.want_event_ids.empty());
  auto v2 = golden_snapshot_v2("snapshot_trade");
  CHECK(std::get<trade_state>(v2.state).parties.empty());
  CHECK(std::get<trade_state>(v2.state).accepted.empty());
}
