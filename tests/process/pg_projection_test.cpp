// PostgreSQL projections (tt-node --postgres): the row mapping of every golden
// event type, and a fault test against a throwaway PostgreSQL 15 — kill -9 the
// node mid-load, restart it, crash-restart PostgreSQL mid-load, and check the
// projection is exactly once: one tickets row per listing, one audit_log row
// per log offset 1..N without gaps.
#include <doctest/doctest.h>

#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "messages/events.hpp"
#include "messages/errc.hpp"
#include "persistence/event_store.hpp"
#include "persistence/pg_projection.hpp"
#include "pg_test_support.hpp"
#include "support.hpp"

using namespace tt::test;
namespace pp = tt::persistence;

namespace {

// -- golden mapping -----------------------------------------------------------------

std::string read_all(const std::filesystem::path& p) {
  std::ifstream in{p, std::ios::binary};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const pp::pg_row_op* find_op(const std::vector<pp::pg_row_op>& ops, std::string_view table,
                             size_t nth = 0) {
  for (const auto& op : ops)
    if (op.table == table && nth-- == 0)
      return &op;
  return nullptr;
}

std::optional<std::string> col(const pp::pg_row_op* op, std::string_view name) {
  REQUIRE(op != nullptr);
  auto* c = op->column(name);
  REQUIRE_MESSAGE(c != nullptr, "no column " << name << " in " << op->table);
  return c->value;
}

const char* alice = "U1111111111111111111111";
const char* bob = "U4444444444444444444444";
const char* trade = "T2222222222222222222222";
const char* ticket2 = "K3333333333333333333333";

} // namespace

TEST_CASE("golden events of every type map to the expected rows") {
  std::set<std::string> seen;
  for (const char* version : {"v1", "v2", "v3", "v4", "v5"}) {
    for (const auto& entry : std::filesystem::directory_iterator(std::filesystem::path(TT_GOLDEN_DIR) / version)) {
      auto stem = entry.path().stem().string();
      if (stem.rfind("snapshot_", 0) == 0)
        continue;
      CAPTURE(version);
      CAPTURE(stem);
      std::string why;
      auto ev = tt::decode_event(read_all(entry.path()), &why);
      REQUIRE_MESSAGE(ev.has_value(), why);
      CHECK(tt::event_type_name(ev->payload) == stem);
      seen.insert(stem);
      const uint64_t offset = 41;
      auto ops = pp::pg_rows_for(offset, *ev);
      REQUIRE(!ops.empty());
      // Always first: exactly one audit row keyed by the offset.
      auto* audit = &ops.front();
      CHECK(audit->table == "audit_log");
      CHECK(audit->op == pp::pg_row_op::kind::insert);
      REQUIRE(audit->key("\"offset\"") != nullptr);
      CHECK(audit->key("\"offset\"")->value == "41");
      CHECK(col(audit, "action") == stem);
      CHECK(col(audit, "entity_kind") == std::string(tt::to_string(ev->kind)));
      CHECK(col(audit, "entity_id") == ev->entity_id);
      if (stem != "trade_matched")  // the system proposes matches: no user
        CHECK(col(audit, "actor") == std::string(alice));
      CHECK(col(audit, "seq") == std::to_string(ev->seq));
      CHECK(col(audit, "at") == pp::pg_time(ev->timestamp_ms));
      CHECK(std::count_if(ops.begin(), ops.end(), [](auto& o) { return o.table == "audit_log"; }) == 1);
      // Every statement renders.
      for (const auto& op : ops)
        CHECK(!pp::pg_sql(op).empty());

      if (stem == "ticket_listed") {
        REQUIRE(ops.size() == 2);
        auto* t = find_op(ops, "tickets");
        CHECK(t->op == pp::pg_row_op::kind::upsert);
        CHECK(t->key("id")->value == "T000000000000000000001");
        CHECK(col(t, "owner") == std::string(alice));
        CHECK(col(t, "status") == "listed");
        CHECK(col(t, "event_id") == "nba-2026-lal-bos");
        CHECK(col(t, "event_name") == "Lakers vs Celtics");
        CHECK(col(t, "venue") == "Crypto.com Arena");
        CHECK(col(t, "category") == "basketball");
        CHECK(col(t, "section") == "101");
        CHECK(col(t, "seat_row") == "A");
        CHECK(col(t, "seats") == R"(["1","2"])");
        CHECK(col(t, "face_value_minor") == "25000");
        CHECK(col(t, "price_minor") == "27500");
        CHECK(col(t, "currency") == "USD");
        CHECK(col(t, "platform") == "ticketmaster");
        CHECK(col(t, "event_starts_at") == pp::pg_time(1798228800000));
        CHECK(col(t, "last_offset") == "41");
        CHECK(t->column("created_at")->mode == pp::pg_column::how::insert_only);
        // Barcodes never leave the entity.
        CHECK(t->column("barcode_sealed") == nullptr);
        CHECK(pp::pg_sql(*t).find("ON CONFLICT (id) DO UPDATE SET") != std::string::npos);
        CHECK(pp::pg_sql(*t).find("created_at = EXCLUDED") == std::string::npos);
      } else if (stem == "ticket_updated") {
        REQUIRE(ops.size() == 2);
        auto* t = find_op(ops, "tickets");
        CHECK(t->op == pp::pg_row_op::kind::update);
        CHECK(col(t, "price_minor") == "30000");
        CHECK(col(t, "venue") == "Staples Center");
        CHECK(t->column("event_name") == nullptr);
      } else if (stem == "ticket_withdrawn") {
        auto* t = find_op(ops, "tickets");
        CHECK(col(t, "status") == "withdrawn");
        CHECK(col(t, "withdraw_reason") == "sold elsewhere");
      } else if (stem == "ticket_held") {
        auto* t = find_op(ops, "tickets");
        CHECK(t->key("id")->value == ticket2);
        CHECK(col(t, "status") == "held");
        CHECK(col(t, "hold_trade_id") == std::string(trade));
      } else if (stem == "ticket_released") {
        auto* t = find_op(ops, "tickets");
        CHECK(col(t, "status") == "listed");
        CHECK(col(t, "hold_trade_id") == std::nullopt);
        auto* e = find_op(ops, "escrows");
        CHECK(e->op == pp::pg_row_op::kind::update);
        CHECK(e->key("trade_id")->value == trade);
        CHECK(e->key("ticket_id")->value == ticket2);
        CHECK(col(e, "status") == "released");
      } else if (stem == "ticket_deposited") {
        CHECK(col(find_op(ops, "tickets"), "status") == "in_escrow");
        auto* e = find_op(ops, "escrows");
        CHECK(e->op == pp::pg_row_op::kind::upsert);
        CHECK(e->key("trade_id")->value == trade);
        CHECK(e->key("ticket_id")->value == ticket2);
        CHECK(col(e, "status") == "deposited");
      } else if (stem == "ticket_transferred") {
        auto* t = find_op(ops, "tickets");
        CHECK(col(t, "owner") == std::string(bob));
        CHECK(col(t, "status") == "listed");
        CHECK(col(t, "last_transfer_ref") == std::string(trade));
        CHECK(col(find_op(ops, "escrows"), "status") == "transferred");
      } else if (stem == "wallet_posted") {
        REQUIRE(ops.size() == 2);
        auto* p = find_op(ops, "payments");
        CHECK(p->op == pp::pg_row_op::kind::insert);
        CHECK(p->key("\"offset\"")->value == "41");
        CHECK(col(p, "wallet") == std::string(alice));
        CHECK(col(p, "op") == "capture");
        CHECK(col(p, "ref") == std::string(trade) + ":p");
        CHECK(col(p, "amount_minor") == "300");
        CHECK(col(p, "currency") == "USD");
        CHECK(col(p, "counterparty") == std::string(bob));
        CHECK(col(p, "postings")
              == R"([{"from":"user_held","to":"platform_escrow","amount_minor":300},)"
                 R"({"from":"user_held","to":"user_available","amount_minor":200}])");
      } else if (stem == "trade_proposed") {
        auto* t = find_op(ops, "trades");
        CHECK(t->op == pp::pg_row_op::kind::upsert);
        CHECK(t->key("id")->value == trade);
        CHECK(col(t, "proposer") == std::string(alice));
        CHECK(col(t, "counterparty") == std::string(bob));
        CHECK(col(t, "status") == "proposing");
        CHECK(col(t, "give") == R"(["K3333333333333333333333"])");
        CHECK(col(t, "take") == R"(["K5555555555555555555555","K6666666666666666666666"])");
        CHECK(col(t, "ticket_count") == "3");
        CHECK(col(t, "proposer_pays_minor") == "500");
        CHECK(col(t, "counterparty_pays_minor") == "0");
        CHECK(col(t, "currency") == "USD");
        CHECK(col(t, "fee_bps") == "150");
        CHECK(col(t, "expires_at") == pp::pg_time(1795996800000));
      } else if (stem == "trade_status_changed") {
        auto* t = find_op(ops, "trades");
        CHECK(col(t, "status") == "releasing");
        CHECK(col(t, "target") == "expired");
        CHECK(col(t, "reason") == "the commit window ended");
        CHECK(find_op(ops, "disputes") == nullptr);  // not final
      } else if (stem == "trade_cash_added") {
        // bob is not the proposer: the second update (proposer <> bob) applies.
        REQUIRE(ops.size() == 3);
        auto* p = find_op(ops, "trades", 0);
        auto* c = find_op(ops, "trades", 1);
        CHECK(p->key("proposer")->value == bob);
        CHECK_FALSE(p->key("proposer")->negate);
        CHECK(p->column("proposer_pays_minor")->mode == pp::pg_column::how::add);
        CHECK(col(p, "proposer_pays_minor") == "125");
        CHECK(c->key("proposer")->negate);
        CHECK(col(c, "counterparty_pays_minor") == "125");
        CHECK(pp::pg_sql(*c).find("counterparty_pays_minor = counterparty_pays_minor + '125'")
              != std::string::npos);
        CHECK(pp::pg_sql(*c).find("proposer <> 'U4444444444444444444444'") != std::string::npos);
      } else if (stem == "trade_deposit") {
        auto* e = find_op(ops, "escrows");
        CHECK(e->key("trade_id")->value == trade);
        CHECK(e->key("ticket_id")->value == ticket2);
        auto* t = find_op(ops, "trades");
        CHECK(col(t, "deposited_count") == "1");
        CHECK(t->column("status")->mode == pp::pg_column::how::expr);
      } else if (stem == "ticket_valued") {
        REQUIRE(ops.size() == 2);
        auto* v = find_op(ops, "valuation_history");
        CHECK(v->op == pp::pg_row_op::kind::insert);
        CHECK(v->key("\"offset\"")->value == "41");
        CHECK(col(v, "ticket_id") == std::string(ticket2));
        CHECK(col(v, "value_minor") == "31250");
        CHECK(col(v, "currency") == "USD");
        CHECK(col(v, "source") == "median_fallback");
        CHECK(col(v, "confidence_ppm") == "812500");
        CHECK(col(v, "model_version") == "tt-val-0123456789ab");
        CHECK(col(v, "median_samples") == "7");
        CHECK(col(v, "at") == pp::pg_time(ev->timestamp_ms));
        CHECK(find_op(ops, "tickets") == nullptr);  // a valuation does not change the ticket row
      } else if (stem == "trade_disputed") {
        CHECK(col(find_op(ops, "trades"), "status") == "disputed");
        auto* d = find_op(ops, "disputes");
        CHECK(d->key("trade_id")->value == trade);
        CHECK(col(d, "disputed_by") == std::string(bob));
        CHECK(col(d, "reason") == "wrong seats");
        CHECK(col(d, "resolution") == std::nullopt);
      } else if (stem == "ticket_offered" || stem == "ticket_offer_closed") {
        auto* t = find_op(ops, "tickets");
        CHECK(t->op == pp::pg_row_op::kind::update);
        CHECK(col(t, "offer_open") == (stem == "ticket_offered" ? "true" : "false"));
        CHECK(col(t, "last_offset") == "41");
        CHECK(t->column("updated_at") == nullptr);  // an offer does not change the ticket
      } else if (stem == "trade_matched") {
        auto* t = find_op(ops, "trades");
        CHECK(t->op == pp::pg_row_op::kind::upsert);
        CHECK(col(t, "proposer") == "");
        CHECK(col(t, "status") == "proposed");
        CHECK(col(t, "give")
              == R"(["K3333333333333333333333","K5555555555555555555555","K6666666666666666666666"])");
        CHECK(col(t, "ticket_count") == "3");
        CHECK(col(t, "party_count") == "3");
        CHECK(col(t, "parties")->find(R"({"account":"U6666666666666666666666","give":["K6666666666666666666666"],"receiver":1,"credit_minor":10250,"net_cash_minor":-250})")
              != std::string::npos);
        CHECK(col(t, "match_key")->starts_with("m1|"));
      } else if (stem == "trade_party_accepted") {
        auto* t = find_op(ops, "trades");
        CHECK(t->column("accepted_count")->mode == pp::pg_column::how::add);
        CHECK(pp::pg_sql(*t).find("party_count") != std::string::npos);
        // v5: the last acceptance moves the deadline; v4 leaves it alone.
        CHECK((t->column("expires_at") != nullptr) == (std::string(version) == "v5"));
      } else {
        // Identity events: only the audit row (no PII tables).
        CHECK(ops.size() == 1);
      }
    }
  }
  // Every event type of the schema has a golden file, hence was checked.
  CHECK(seen.size() == 23);

  // A final status resolves the dispute; undecodable bytes still get their audit row.
  tt::event_envelope e;
  e.kind = tt::entity_kind::trade;
  e.entity_id = trade;
  e.timestamp_ms = 1000;
  e.payload = tt::trade_status_changed{tt::trade_status::refunded, tt::trade_status::proposing, "operator", {}};
  auto ops = pp::pg_rows_for(7, e);
  auto* d = find_op(ops, "disputes");
  REQUIRE(d != nullptr);
  CHECK(col(d, "resolution") == "refunded");
  CHECK(col(find_op(ops, "trades"), "target") == std::nullopt);
  auto bad = pp::pg_rows_for_undecodable(9);
  REQUIRE(bad.size() == 1);
  CHECK(col(&bad[0], "action") == "undecodable");
  // Quoting and sanitising.
  CHECK(pp::pg_literal("it's") == "'it''s'");
  CHECK(pp::pg_literal(std::string("a\0b", 3)) == "'ab'");
  CHECK(pp::pg_literal("\xff") == "'\xEF\xBF\xBD'");
  CHECK(pp::pg_time(1795910400001) == "2026-11-29T00:00:00.001Z");
  REQUIRE(!pp::pg_migrations().empty());
  CHECK(pp::pg_migrations()[0].name == "001_projections");
}

// -- PostgreSQL fault test ----------------------------------------------------------------

namespace {

/// The value of tt_projection_lag_events in /metrics, or -1.
double projection_lag(http_client& c) {
  auto r = c.get("/metrics");
  if (r.status != 200)
    return -1;
  auto pos = r.body.find("\ntt_projection_lag_events{");
  if (pos == std::string::npos)
    return -1;
  auto sp = r.body.find("} ", pos);
  return std::stod(r.body.substr(sp + 2, r.body.find('\n', sp) - sp - 2));
}

/// Waits until the projection reports lag 0 and PostgreSQL's stored offset
/// stopped moving; returns that offset (the number of events N), or -1.
int64_t wait_caught_up(pg_cluster& pg, http_client& c, std::chrono::seconds deadline) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (projection_lag(c) == 0) {
      auto off = pg.query(R"(SELECT "offset" FROM projection_offsets WHERE name = 'main')");
      if (off && !off->empty()) {
        // Lag 0 means offset == the store's next_offset - 1; confirm it holds.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        auto again = pg.query(R"(SELECT "offset" FROM projection_offsets WHERE name = 'main')");
        if (again == off && projection_lag(c) == 0)
          return std::stoll(*off);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return -1;
}

std::vector<std::string> fast_args(const std::string& url) {
  return {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8", "--postgres", url};
}

/// Lists tickets from `clients` threads until `stop` or `per_client` each;
/// acknowledged ids go to `acked`.
void list_load(uint16_t port, const std::string& token, const std::string& tag, int clients,
               int per_client, std::atomic<bool>& stop, std::mutex& mtx,
               std::vector<std::string>& acked, std::atomic<int>& count) {
  std::vector<std::thread> ts;
  for (int t = 0; t < clients; ++t) {
    ts.emplace_back([&, t] {
      http_client c{port, std::chrono::seconds(5)};
      c.no_retry = true;
      for (int k = 0; k < per_client && !stop; ++k) {
        auto r = c.post("/api/v1/tickets", listing_body(tag, t * 1000 + k), {bearer(token)});
        if (r.status == 0)
          break;
        if (r.status == 201) {
          std::lock_guard<std::mutex> g{mtx};
          acked.push_back(std::string(r.json().at("id").as_string()));
          ++count;
        }
      }
    });
  }
  for (auto& th : ts)
    th.join();
}

/// The projection is exactly once for a log of `n` events.
void check_exactly_once(pg_cluster& pg, int64_t n, const std::vector<std::string>& acked,
                        const std::string& account) {
  CHECK(pg.number("SELECT count(*) FROM audit_log") == n);
  CHECK(pg.number(R"(SELECT min("offset") FROM audit_log)") == 1);
  CHECK(pg.number(R"(SELECT max("offset") FROM audit_log)") == n);
  CHECK(pg.number("SELECT count(*) FROM audit_log WHERE action = 'undecodable'") == 0);
  // One tickets row per listed ticket: every acknowledged one, and no other
  // than those the log lists (a listing in flight at the kill may be there
  // without its ack).
  auto rows = pg.number("SELECT count(*) FROM tickets");
  CHECK(rows == pg.number("SELECT count(DISTINCT entity_id) FROM audit_log WHERE action = 'ticket_listed'"));
  CHECK(rows == pg.number("SELECT count(*) FROM audit_log WHERE action = 'ticket_listed'"));
  CHECK(rows >= static_cast<int64_t>(acked.size()));
  CHECK(rows <= static_cast<int64_t>(acked.size()) + 64);
  std::string in;
  for (const auto& id : acked)
    in += (in.empty() ? "'" : ",'") + id + "'";
  CHECK(pg.number("SELECT count(*) FROM tickets WHERE id IN (" + in + ")")
        == static_cast<int64_t>(acked.size()));
  CHECK(pg.number("SELECT count(*) FROM tickets WHERE owner <> '" + account + "' OR status <> 'listed'") == 0);
  CHECK(pg.number("SELECT count(*) FROM tickets WHERE last_offset < 1 OR last_offset > " + std::to_string(n)) == 0);
}

} // namespace

TEST_CASE("a batch's audit rows render as one multi-row INSERT; mixed ops fall back to one each") {
  tt::event_envelope ev;
  ev.kind = tt::entity_kind::ticket;
  ev.entity_id = ticket2;
  ev.seq = 1;
  ev.timestamp_ms = 1'780'000'000'123;
  ev.user_id = alice;
  ev.payload = tt::ticket_withdrawn{"it's mine"};
  std::vector<pp::pg_row_op> audit;
  for (uint64_t off : {7, 8, 9})
    audit.push_back(pp::pg_rows_for(off, ev).front());
  auto sql = pp::pg_sql_rows_many(audit);
  CHECK(sql.rfind("INSERT INTO audit_log (log, \"offset\", actor, action", 0) == 0);
  CHECK(sql.find("VALUES ('main', '7', ") != std::string::npos);
  CHECK(sql.find("), ('main', '8', ") != std::string::npos);
  CHECK(sql.find("), ('main', '9', ") != std::string::npos);
  CHECK(sql.find("INSERT", 1) == std::string::npos);  // one statement
  CHECK(sql.substr(sql.size() - 2) == ";\n");
  CHECK(pp::pg_sql_rows_many({}).empty());
  // Not all alike (a ticket update among them): each op's own statement.
  auto ops = pp::pg_rows_for(10, ev);
  REQUIRE(ops.size() >= 2);
  auto mixed = pp::pg_sql_rows_many(ops);
  CHECK(mixed == pp::pg_sql(ops[0]) + ";\n" + pp::pg_sql(ops[1]) + ";\n"
                   + (ops.size() > 2 ? pp::pg_sql(ops[2]) + ";\n" : std::string{}));
}

TEST_CASE("a batch: listings merge into one upsert until a statement on the same table") {
  auto listed = [](const std::string& id) {
    tt::event_envelope ev;
    ev.kind = tt::entity_kind::ticket;
    ev.entity_id = id;
    ev.seq = 1;
    ev.timestamp_ms = 1'780'000'000'000;
    tt::ticket_listed x;
    x.seller = alice;
    x.fields.event_id = "E1";
    x.fields.currency = "USD";
    ev.payload = x;
    return ev;
  };
  auto count = [](const std::string& sql, const std::string& what) {
    size_t n = 0;
    for (auto at = sql.find(what); at != std::string::npos; at = sql.find(what, at + 1))
      ++n;
    return n;
  };
  pp::pg_batch_sql b;
  auto e1 = listed("K1"), e2 = listed("K2"), e3 = listed("K3");
  b.add(1, &e1);
  b.add(2, &e2);
  b.add(3, &e3);
  auto held = e2;
  held.seq = 2;
  held.payload = tt::ticket_held{"T1", alice};
  b.add(4, &held);  // an update of tickets: the run of three ends before it
  auto e4 = listed("K4"), again = listed("K4");
  b.add(5, &e4);
  b.add(6, &again);  // the same row twice: a second statement
  b.add(7, nullptr);  // undecodable: only its audit row
  auto sql = b.take();
  CHECK(count(sql, "INSERT INTO tickets") == 3);
  CHECK(count(sql, "UPDATE tickets") == 1);
  CHECK(sql.find("UPDATE tickets") > sql.find("'K3'"));
  CHECK(sql.find("UPDATE tickets") < sql.find("'K4'"));
  CHECK(count(sql, "INSERT INTO audit_log") == 1);  // all seven rows in one
  CHECK(count(sql, "'undecodable'") == 1);
  CHECK(b.take().empty());
}

TEST_CASE("projection into PostgreSQL is exactly once across kill -9 and a PostgreSQL crash") {
  auto pg_ptr = started_pg();
  if (!pg_ptr)
    return;
  auto& pg = *pg_ptr;
  temp_dir dir;
  auto data = (dir.path / "node").string();
  auto port = free_port();
  node_process node{data, port, fast_args(pg.url())};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client admin{port};
  auto token = login(admin, "pgseller@example.com");
  REQUIRE_FALSE(token.empty());
  auto me = admin.get("/api/v1/me", {bearer(token)});
  REQUIRE(me.status == 200);
  std::string account = std::string(me.json().at("id").as_string());
  // Migrations applied at start.
  {
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < until
           && pg.query("SELECT count(*) FROM schema_migrations")
                != std::optional<std::string>{std::to_string(pp::pg_migrations().size())})
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    REQUIRE(pg.number("SELECT count(*) FROM schema_migrations WHERE version = '001_projections'") == 1);
    REQUIRE(pg.number("SELECT count(*) FROM schema_migrations WHERE version = '002_valuation_history'") == 1);
    REQUIRE(pg.number("SELECT count(*) FROM schema_migrations WHERE version = '003_offers_and_matches'") == 1);
    REQUIRE(pg.number("SELECT count(*) FROM valuation_history") == 0);
  }

  // -- phase 1: concurrent listings, kill -9 mid-load ------------------------------------
  std::mutex mtx;
  std::vector<std::string> acked;
  std::atomic<int> count{0};
  std::atomic<bool> stop{false};
  std::thread load{[&] { list_load(port, token, "pg1", 16, 30, stop, mtx, acked, count); }};
  while (count < 250 && node.alive())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  node.kill(SIGKILL);
  stop = true;
  load.join();
  MESSAGE("acknowledged before kill -9: " << acked.size());
  REQUIRE(acked.size() >= 250);

  // What PostgreSQL held at the kill: the restart resumes after it.
  MESSAGE("projected offset at the kill: "
          << pg.query(R"(SELECT "offset" FROM projection_offsets WHERE name = 'main')").value_or("?"));
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  auto n = wait_caught_up(pg, c, std::chrono::seconds(60));
  REQUIRE_MESSAGE(n > 0, "the projection did not catch up after the restart");
  MESSAGE("events projected after restart: " << n);
  check_exactly_once(pg, n, acked, account);

  // -- phase 2: PostgreSQL crashes (immediate stop) mid-load, then comes back -----------
  stop = false;
  count = 0;
  std::thread load2{[&] { list_load(port, token, "pg2", 8, 25, stop, mtx, acked, count); }};
  while (count < 40)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  REQUIRE(pg.stop("immediate"));
  // The node keeps serving while PostgreSQL is down; the lag grows.
  load2.join();
  auto while_down = c.post("/api/v1/tickets", listing_body("pg3", 1), {bearer(token)});
  CHECK(while_down.status == 201);
  if (while_down.status == 201)
    acked.push_back(std::string(while_down.json().at("id").as_string()));
  // The lag gauge is refreshed by the projector's loop (every ~0.5 s while
  // PostgreSQL is unreachable): poll it, bounded.
  auto lag_seen = [&] {
    for (int i = 0; i < 60; ++i) {
      if (projection_lag(c) > 0)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  };
  CHECK(lag_seen());
  // A node (re)started while PostgreSQL is down starts and serves anyway.
  node.kill(SIGKILL);
  node.start();
  REQUIRE(node.wait_healthy());
  auto after_restart = c.post("/api/v1/tickets", listing_body("pg3", 2), {bearer(token)});
  CHECK(after_restart.status == 201);
  if (after_restart.status == 201)
    acked.push_back(std::string(after_restart.json().at("id").as_string()));
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // a few reconnect attempts
  CHECK(lag_seen());
  REQUIRE(pg.start_on_port());
  auto n2 = wait_caught_up(pg, c, std::chrono::seconds(60));
  REQUIRE_MESSAGE(n2 > n, "the projection did not catch up after PostgreSQL came back");
  MESSAGE("events projected after the PostgreSQL crash: " << n2);
  check_exactly_once(pg, n2, acked, account);

  // -- phase 3: a clean PostgreSQL restart while idle, then new events ----------------------
  REQUIRE(pg.stop("fast"));
  REQUIRE(pg.start_on_port());
  auto more = c.post("/api/v1/tickets", listing_body("pg4", 1), {bearer(token)});
  REQUIRE(more.status == 201);
  acked.push_back(std::string(more.json().at("id").as_string()));
  auto n3 = wait_caught_up(pg, c, std::chrono::seconds(60));
  REQUIRE(n3 > n2);
  check_exactly_once(pg, n3, acked, account);
  CHECK(pg.number("SELECT count(*) FROM schema_migrations")
        == static_cast<int64_t>(pp::pg_migrations().size()));  // each once, not re-applied
  node.kill(SIGTERM);
  CHECK(WIFEXITED(node.exit_status()));
}

TEST_CASE("two logs, one database: each projector keeps its own offsets and rows") {
  // Nodes of a cluster share a database under their own names ("node:NAME");
  // their log offsets overlap, so rows keyed by offset must name their log.
  auto pg_ptr = started_pg();
  if (!pg_ptr)
    return;
  auto& pg = *pg_ptr;
  temp_dir dir;
  // The same three kinds of offset-keyed rows at offsets 1..3 of both logs:
  // an audit row each, a payment, a valuation.
  auto fill = [](const std::string& path, const std::string& tag) {
    pp::store_options o;
    o.dir = path;
    o.sync = false;
    std::string err;
    auto store = pp::event_store::open(o, &err);
    REQUIRE_MESSAGE(store, err);
    auto append = [&](tt::entity_kind kind, const std::string& id, tt::event_payload p) {
      tt::event_envelope ev;
      ev.kind = kind;
      ev.entity_id = id;
      ev.seq = 1;
      ev.timestamp_ms = 1'780'000'000'000;
      ev.payload = std::move(p);
      std::vector<std::string> bytes{tt::encode_event(ev)};
      pp::append_request r;
      r.kind = kind;
      r.entity_id = id;
      r.events = bytes;
      std::vector<pp::append_result> res;
      store->append_batch({&r, 1}, res);
      REQUIRE(res.at(0).code == tt::errc::ok);
    };
    tt::ticket_listed listed;
    listed.seller = alice;
    listed.fields.event_id = "E1";
    listed.fields.currency = "USD";
    append(tt::entity_kind::ticket, "T" + tag, listed);
    tt::wallet_posted posted;
    posted.ref = "dep-" + tag;
    posted.currency = "USD";
    posted.amount_minor = 500;
    append(tt::entity_kind::wallet, "W" + tag, posted);
    append(tt::entity_kind::ticket, "T" + tag + "x",
           tt::ticket_valued{700, "USD", 900'000, "v1", "model", 3});
    return std::shared_ptr<const pp::event_store>(std::move(store));
  };
  auto a = fill((dir.path / "a").string(), "a");
  auto b = fill((dir.path / "b").string(), "b");
  std::vector<std::unique_ptr<pp::pg_projector>> projectors;
  for (auto& [name, store] : {std::pair{"node:a", a}, std::pair{"node:b", b}}) {
    pp::pg_projection_config cfg;
    cfg.url = pg.url();
    cfg.name = name;
    cfg.idle_poll = std::chrono::milliseconds(50);
    projectors.push_back(std::make_unique<pp::pg_projector>(cfg, store, nullptr));
    projectors.back()->start();
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < until
         && (projectors[0]->projected_offset() < 3 || projectors[1]->projected_offset() < 3))
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  CHECK(projectors[0]->projected_offset() == 3);
  CHECK(projectors[1]->projected_offset() == 3);
  for (auto& p : projectors)
    p->stop();
  CHECK(pg.number(R"(SELECT "offset" FROM projection_offsets WHERE name = 'node:a')") == 3);
  CHECK(pg.number(R"(SELECT "offset" FROM projection_offsets WHERE name = 'node:b')") == 3);
  for (const char* log : {"node:a", "node:b"}) {
    CAPTURE(log);
    auto where = std::string{" WHERE log = '"} + log + "'";
    CHECK(pg.number("SELECT count(*) FROM audit_log" + where) == 3);
    CHECK(pg.number(R"(SELECT max("offset") FROM audit_log)" + where) == 3);
    CHECK(pg.number("SELECT count(*) FROM payments" + where) == 1);
    CHECK(pg.number("SELECT count(*) FROM valuation_history" + where) == 1);
  }
  CHECK(pg.number("SELECT count(*) FROM tickets WHERE id IN ('Ta', 'Tb')") == 2);
  CHECK(pg.number("SELECT count(*) FROM payments WHERE ref IN ('dep-a', 'dep-b')") == 2);
}
