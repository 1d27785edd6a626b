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

} // namespace tt::test
