#include "golden_events.hpp"

namespace tt::test {

namespace {

event_envelope base(entity_kind kind, std::string id, uint64_t seq) {
  event_envelope e;
  e.schema_version = 1;
  e.kind = kind;
  e.entity_id = std::move(id);
  e.seq = seq;
  e.timestamp_ms = 1795910400000 + static_cast<int64_t>(seq);
  e.event_id = "evt-" + std::to_string(seq);
  e.causation_id = "cause-1";
  e.correlation_id = "req-42";
  e.user_id = "U1111111111111111111111";
  e.device_hash = "d3v1c3";
  e.ip = "203.0.113.7";
  return e;
}

ticket_fields fields() {
  ticket_fields f;
  f.event_id = "nba-2026-lal-bos";
  f.event_name = "Lakers vs Celtics";
  f.venue = "Crypto.com Arena";
  f.category = "basketball";
  f.event_starts_at_ms = 1798228800000;
  f.section = "101";
  f.row = "A";
  f.seats = {"1", "2"};
  f.face_value_minor = 25000;
  f.price_minor = 27500;
  f.currency = "USD";
  f.platform = 1;
  return f;
}

} // namespace

std::vector<std::pair<std::string, event_envelope>> golden_events_v1() {
  std::vector<std::pair<std::string, event_envelope>> out;
  auto t = "T000000000000000000001";
  {
    auto e = base(entity_kind::ticket, t, 1);
    e.payload = ticket_listed{fields(), "U1111111111111111111111", "bc-hash",
                              std::string("sealed\0bytes", 12), "dedup-hash"};
    out.emplace_back("ticket_listed", e);
  }
  {
    auto e = base(entity_kind::ticket, t, 2);
    ticket_patch p;
    p.has_price = true;
    p.price_minor = 30000;
    p.has_venue = true;
    p.venue = "Staples Center";
    e.payload = ticket_updated{p};
    out.emplace_back("ticket_updated", e);
  }
  {
    auto e = base(entity_kind::ticket, t, 3);
    e.payload = ticket_withdrawn{"sold elsewhere"};
    out.emplace_back("ticket_withdrawn", e);
  }
  auto a = "A000000000000000000001";
  {
    auto e = base(entity_kind::account, a, 1);
    e.payload = account_registered{"alice@example.com", "Alice", std::string("\x01\x02pw", 4)};
    out.emplace_back("account_registered", e);
  }
  {
    auto e = base(entity_kind::account, a, 2);
    e.payload = session_started{"F000000000000000000001", "tok-hash-1"};
    out.emplace_back("session_started", e);
  }
  {
    auto e = base(entity_kind::account, a, 3);
    e.payload = session_rotated{"F000000000000000000001", "tok-hash-2"};
    out.emplace_back("session_rotated", e);
  }
  {
    auto e = base(entity_kind::account, a, 4);
    e.payload = session_revoked{"F000000000000000000001", "reuse_detected"};
    out.emplace_back("session_revoked", e);
  }
  {
    auto e = base(entity_kind::email_index, "E000000000000000000001", 1);
    e.payload = email_claimed{a};
    out.emplace_back("email_claimed", e);
  }
  return out;
}

std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v1() {
  std::vector<std::pair<std::string, snapshot_envelope>> out;
  {
    snapshot_envelope s;
    s.kind = entity_kind::ticket;
    s.entity_id = "T000000000000000000001";
    s.seq = 3;
    s.taken_at_ms = 1795910400100;
    ticket_state st;
    st.fields = fields();
    st.seller = "U1111111111111111111111";
    st.status = ticket_status::withdrawn;
    st.barcode_hash = "bc-hash";
    st.barcode_sealed = std::string("sealed\0bytes", 12);
    st.dedup_hash = "dedup-hash";
    st.created_at_ms = 1795910400001;
    st.updated_at_ms = 1795910400003;
    s.state = st;
    out.emplace_back("snapshot_ticket", s);
  }
  {
    snapshot_envelope s;
    s.kind = entity_kind::account;
    s.entity_id = "A000000000000000000001";
    s.seq = 3;
    s.taken_at_ms = 1795910400200;
    account_state st;
    st.email = "alice@example.com";
    st.display_name = "Alice";
    st.password_sealed = "sealed-pw";
    st.created_at_ms = 1795910400001;
    st.sessions.push_back(session_info{"F000000000000000000001", "tok-hash-2", 2, 1795910400002,
                                       1795910400003});
    s.state = st;
    out.emplace_back("snapshot_account", s);
  }
  return out;
}

namespace {

event_envelope base_v2(entity_kind kind, std::string id, uint64_t seq, event_payload p) {
  auto e = base(kind, std::move(id), seq);
  e.schema_version = 2;
  e.payload = std::move(p);
  return e;
}

const char* trade_id = "T2222222222222222222222";
const char* ticket_id = "K3333333333333333333333";
const char* alice = "U1111111111111111111111";
const char* bob = "U4444444444444444444444";

} // namespace

std::vector<std::pair<std::string, event_envelope>> golden_events_v2() {
  std::vector<std::pair<std::string, event_envelope>> out;
  out.emplace_back("ticket_held", base_v2(entity_kind::ticket, ticket_id, 2, ticket_held{trade_id, alice}));
  out.emplace_back("ticket_released", base_v2(entity_kind::ticket, ticket_id, 3, ticket_released{trade_id}));
  out.emplace_back("ticket_deposited", base_v2(entity_kind::ticket, ticket_id, 4, ticket_deposited{trade_id}));
  out.emplace_back("ticket_transferred",
                   base_v2(entity_kind::ticket, ticket_id, 5, ticket_transferred{trade_id, alice, bob}));
  wallet_posted w;
  w.op = wallet_op::capture;
  w.ref = std::string(trade_id) + ":p";
  w.currency = "USD";
  w.amount_minor = 300;
  w.request_hash = "h4sh";
  w.postings = {posting{ledger_account::user_held, ledger_account::platform_escrow, 300},
                posting{ledger_account::user_held, ledger_account::user_available, 200}};
  w.counterparty = bob;
  out.emplace_back("wallet_posted", base_v2(entity_kind::wallet, alice, 6, w));
  trade_proposed tp;
  tp.proposer = alice;
  tp.counterparty = bob;
  tp.give = {ticket_id};
  tp.take = {"K5555555555555555555555", "K6666666666666666666666"};
  tp.proposer_pays_minor = 500;
  tp.counterparty_pays_minor = 0;
  tp.currency = "USD";
  tp.expires_at_ms = 1795996800000;
  tp.request_hash = "rq";
  tp.fee_bps = 150;
  out.emplace_back("trade_proposed", base_v2(entity_kind::trade, trade_id, 1, tp));
  out.emplace_back("trade_status_changed",
                   base_v2(entity_kind::trade, trade_id, 2,
                           trade_status_changed{trade_status::releasing, trade_status::expired,
                                                "the commit window ended", {alice, bob}}));
  out.emplace_back("trade_cash_added",
                   base_v2(entity_kind::trade, trade_id, 3, trade_cash_added{bob, 125}));
  out.emplace_back("trade_deposit", base_v2(entity_kind::trade, trade_id, 4, trade_deposit{ticket_id}));
  out.emplace_back("trade_disputed",
                   base_v2(entity_kind::trade, trade_id, 5, trade_disputed{bob, "wrong seats"}));
  return out;
}

std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v2() {
  std::vector<std::pair<std::string, snapshot_envelope>> out;
  snapshot_envelope w;
  w.schema_version = 2;
  w.kind = entity_kind::wallet;
  w.entity_id = alice;
  w.seq = 9;
  w.taken_at_ms = 1795910400999;
  wallet_state ws;
  ws.currency = "EUR";
  ws.available_minor = 1234;
  ws.held_minor = 500;
  ws.holds = {wallet_hold{std::string(trade_id) + ":p", 500}};
  ws.refs = {wallet_ref{"key:dep-1", wallet_op::deposit, 1734, "rh", 1734, 0, 1795910400001},
             wallet_ref{"hold:T:p", wallet_op::hold, 500, "", 1234, 500, 1795910400002}};
  ws.created_at_ms = 1795910400001;
  ws.updated_at_ms = 1795910400002;
  w.state = ws;
  out.emplace_back("snapshot_wallet", w);
  snapshot_envelope t;
  t.schema_version = 2;
  t.kind = entity_kind::trade;
  t.entity_id = trade_id;
  t.seq = 4;
  t.taken_at_ms = 1795910400999;
  trade_state ts;
  ts.proposer = alice;
  ts.counterparty = bob;
  ts.give = {ticket_id};
  ts.take = {"K5555555555555555555555"};
  ts.proposer_pays_minor = 500;
  ts.counterparty_pays_minor = 125;
  ts.currency = "USD";
  ts.expires_at_ms = 1795996800000;
  ts.request_hash = "rq";
  ts.fee_bps = 150;
  ts.status = trade_status::in_escrow;
  ts.target = trade_status::proposing;
  ts.reason = "";
  ts.deposited = {ticket_id};
  ts.created_at_ms = 1795910400001;
  ts.updated_at_ms = 1795910400004;
  ts.dispute_reason = "";
  ts.disputed_by = "";
  t.state = ts;
  out.emplace_back("snapshot_trade", t);
  snapshot_envelope k;
  k.schema_version = 2;
  k.kind = entity_kind::ticket;
  k.entity_id = ticket_id;
  k.seq = 4;
  k.taken_at_ms = 1795910400999;
  ticket_state kt;
  kt.fields = fields();
  kt.seller = alice;
  kt.status = ticket_status::in_escrow;
  kt.barcode_hash = "bh";
  kt.barcode_sealed = std::string("\x01\x02\x00\x03", 4);
  kt.dedup_hash = "dh";
  kt.created_at_ms = 1795910400001;
  kt.updated_at_ms = 1795910400004;
  kt.hold_trade_id = trade_id;
  kt.last_transfer_ref = "xfer-1";
  k.state = kt;
  out.emplace_back("snapshot_ticket", k);
  return out;
}

std::vector<std::pair<std::string, event_envelope>> golden_events_v3() {
  std::vector<std::pair<std::string, event_envelope>> out;
  ticket_valued v;
  v.credit_minor = 31250;
  v.currency = "USD";
  v.confidence_ppm = 812500;
  v.model_version = "tt-val-0123456789ab";
  v.method = "median_fallback";
  v.median_samples = 7;
  auto e = base_v2(entity_kind::ticket, ticket_id, 6, v);
  e.schema_version = 3;
  out.emplace_back("ticket_valued", e);
  return out;
}

std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v3() {
  std::vector<std::pair<std::string, snapshot_envelope>> out;
  snapshot_envelope k;
  k.schema_version = 3;
  k.kind = entity_kind::ticket;
  k.entity_id = ticket_id;
  k.seq = 6;
  k.taken_at_ms = 1795910400999;
  ticket_state kt;
  kt.fields = fields();
  kt.seller = alice;
  kt.status = ticket_status::listed;
  kt.barcode_hash = "bh";
  kt.barcode_sealed = std::string("\x01\x02\x00\x03", 4);
  kt.dedup_hash = "dh";
  kt.created_at_ms = 1795910400001;
  kt.updated_at_ms = 1795910400005;
  kt.last_transfer_ref = "xfer-1";
  kt.transfer_refs = {"xfer-1"};
  kt.valuation_version = "tt-val-0123456789ab";
  kt.valuation_method = "median_fallback";
  kt.valuation_credit_minor = 31250;
  k.state = kt;
  out.emplace_back("snapshot_ticket", k);
  return out;
}

std::vector<std::pair<std::string, event_envelope>> golden_events_v4() {
  std::vector<std::pair<std::string, event_envelope>> out;
  ticket_offered o;
  o.want_event_ids = {"nba-2026-lal-gsw"};
  o.want_categories = {"basketball"};
  o.want_venues = {};
  o.max_cash_minor = 1500;
  o.weights_permille = {900, 0, 0, 0, 0, 250, 0, 0};
  auto e = base_v2(entity_kind::ticket, ticket_id, 7, o);
  e.schema_version = 4;
  out.emplace_back("ticket_offered", e);
  e = base_v2(entity_kind::ticket, ticket_id, 8, ticket_offer_closed{"withdrawn"});
  e.schema_version = 4;
  out.emplace_back("ticket_offer_closed", e);
  trade_matched m;
  m.parties = {trade_party{alice, {ticket_id}, 2, 10000, 100},
               trade_party{bob, {"K5555555555555555555555"}, 0, 10100, 150},
               trade_party{"U6666666666666666666666", {"K6666666666666666666666"}, 1, 10250, -250}};
  m.currency = "USD";
  m.expires_at_ms = 1795996800000;
  m.fee_bps = 150;
  m.match_key = "m1|K3333333333333333333333@41.0|K5555555555555555555555@42.0|K6666666666666666666666@43.0";
  e = base_v2(entity_kind::trade, trade_id, 1, m);
  e.schema_version = 4;
  e.user_id.clear();  // the system proposes
  out.emplace_back("trade_matched", e);
  e = base_v2(entity_kind::trade, trade_id, 3, trade_party_accepted{bob});
  e.schema_version = 4;
  out.emplace_back("trade_party_accepted", e);
  return out;
}

std::vector<std::pair<std::string, event_envelope>> golden_events_v5() {
  std::vector<std::pair<std::string, event_envelope>> out;
  auto e = base_v2(entity_kind::trade, trade_id, 4, trade_party_accepted{alice, 1796000400000});
  e.schema_version = 5;
  out.emplace_back("trade_party_accepted", e);
  return out;
}

std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v5() { return {}; }

std::vector<std::pair<std::string, snapshot_envelope>> golden_snapshots_v4() {
  std::vector<std::pair<std::string, snapshot_envelope>> out;
  snapshot_envelope k;
  k.schema_version = 4;
  k.kind = entity_kind::trade;
  k.entity_id = trade_id;
  k.seq = 3;
  k.taken_at_ms = 1795910400999;
  trade_state t;
  const auto& m = std::get<trade_matched>(golden_events_v4()[2].second.payload);
  t.parties = m.parties;
  t.currency = "USD";
  t.expires_at_ms = m.expires_at_ms;
  t.fee_bps = 150;
  t.status = trade_status::proposed;
  t.accepted = {bob};
  t.match_key = m.match_key;
  t.created_at_ms = 1795910400001;
  t.updated_at_ms = 1795910400003;
  k.state = t;
  out.emplace_back("snapshot_trade", k);
  snapshot_envelope s;
  s.schema_version = 4;
  s.kind = entity_kind::ticket;
  s.entity_id = ticket_id;
  s.seq = 7;
  s.taken_at_ms = 1795910400999;
  ticket_state kt;
  kt.fields = fields();
  kt.seller = alice;
  kt.status = ticket_status::listed;
  kt.barcode_hash = "bh";
  kt.dedup_hash = "dh";
  kt.created_at_ms = 1795910400001;
  kt.updated_at_ms = 1795910400005;
  kt.valuation_version = "manual";
  kt.valuation_method = "manual";
  kt.valuation_credit_minor = 10000;
  kt.offer_open = true;
  kt.offer = std::get<ticket_offered>(golden_events_v4()[0].second.payload);
  kt.offer_at_ms = 1795910400007;
  s.state = kt;
  out.emplace_back("snapshot_ticket", s);
  return out;
}

} // namespace tt::test
