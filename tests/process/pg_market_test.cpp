// The marketplace from PostgreSQL gives the same pages as the in-memory index
// (issue #6: "with PostgreSQL configured the same results can come from
// there"). A random ticket history (listings with awkward text — punctuation,
// mixed case, non-ASCII —, equal prices, start times and creation times,
// updates, holds, releases, deposits, transfers, withdrawals, relistings,
// offers) is applied to a market_index and, through the projector's own row
// batches (pg_batch_sql: multi-row upserts), to a throwaway PostgreSQL 15
// with the migrations. Then hundreds of random queries — every filter, every sort,
// text words, limits — are paged through to the end on both, and every page
// must be equal: the ids in order, every field, and the next cursor. Skips
// with a message when PostgreSQL 15 is not installed.
#include <doctest/doctest.h>

#include <pqxx/pqxx>

#include <map>
#include <random>

#include "actors/market_index.hpp"
#include "messages/events.hpp"
#include "nodes/pg_market.hpp"
#include "persistence/pg_projection.hpp"
#include "pg_test_support.hpp"

using namespace tt::test;
using tt::actors::market_index;
using tt::actors::market_page;
using tt::actors::market_query;
using tt::actors::market_sort;

namespace {

const std::vector<std::string> event_names = {
  "Lakers vs Celtics", "LAKERS at Warriors!", "Café Tacuba — Live", "AT&T Presents: 49ers/Rams",
  "Les Misérables", "O'Brien's Comedy_Night", "Ünïcode Fest 2026", "x-y-z", "  spaced   out  ",
  "Émilie & Co.", "ΑΒΓ Greek Night", "日本 ツアー", "Mötley Crüe", "", "...", "a1b2 C3D4"};
const std::vector<std::string> venues = {"Crypto.com Arena", "Madison Square Garden", "Zürich Hallenstadion",
                                         "The O2", "arena", "Arena", "Chase Center"};
const std::vector<std::string> categories = {"basketball", "music", "Music", "theatre", "comedy",
                                             "sports"};
const std::vector<std::string> query_words = {
  "lak",  "LAKERS", "cel",   "café", "caf",  "tacuba live", "at",  "t",     "49",   "49ers rams",
  "les",  "mis",    "o",     "brien", "comedy_night", "night", "ünïcode", "fest 2026", "x y", "spaced",
  "émilie", "co",   "αβγ",   "日本",  "mötley", "crüe",  "a1b2", "c3d4", "arena", "madison garden",
  "zürich", "the",  "o2",    "chase", "music", "basket", "zzz",  "!!!",  "   ", "-", "ma sq ga",
  // words only a punctuation separator makes: "49ers/Rams", "O'Brien's",
  // "x-y-z", "Presents:", "Comedy_Night", "— Live", "Co."
  "rams", "presents", "brien s", "s", "y", "z", "live", "co", "warriors", "celtics", "greek",
  "ツアー", "hallen", "square", "center", "out", "spaced out"};

struct history {
  std::vector<tt::event_envelope> events;
  std::vector<std::string> event_ids;
};

history make_history(std::mt19937_64& rng, size_t tickets) {
  history h;
  for (int e = 0; e < 12; ++e)
    h.event_ids.push_back("E" + std::to_string(e));
  enum class st { listed, held, escrow, withdrawn };
  struct ticket {
    std::string id, owner;
    st state;
  };
  std::vector<ticket> ts;
  int64_t now = 1'780'000'000'000;
  uint64_t seq_counter = 0;
  auto pick = [&](const auto& v) -> const auto& { return v[rng() % v.size()]; };
  auto emit = [&](const std::string& id, tt::event_payload p) {
    tt::event_envelope ev;
    ev.kind = tt::entity_kind::ticket;
    ev.entity_id = id;
    ev.seq = ++seq_counter;
    if (rng() % 3 == 0)
      ++now;  // several events share a millisecond
    ev.timestamp_ms = now;
    ev.user_id = "U1";
    ev.payload = std::move(p);
    h.events.push_back(std::move(ev));
  };
  auto fields = [&]() {
    tt::ticket_fields f;
    f.event_id = pick(h.event_ids);
    f.event_name = pick(event_names);
    f.venue = pick(venues);
    f.category = pick(categories);
    // a few unknown starts (0), many equal ones
    f.event_starts_at_ms = rng() % 10 == 0 ? 0 : 1'790'000'000'000 + static_cast<int64_t>(rng() % 20) * 3'600'000;
    f.section = "S" + std::to_string(rng() % 5);
    f.row = std::to_string(rng() % 30);
    f.seats = {std::to_string(rng() % 20), std::to_string(rng() % 20)};
    f.face_value_minor = 1000 + static_cast<int64_t>(rng() % 50) * 100;
    f.price_minor = 500 + static_cast<int64_t>(rng() % 40) * 250;  // many ties
    f.currency = "USD";
    f.platform = static_cast<uint8_t>(rng() % 3);
    return f;
  };
  auto random_id = [&]() {
    static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string id;
    for (int i = 0; i < 22; ++i)
      id.push_back(alphabet[rng() % 64]);
    return id;
  };
  for (size_t step = 0; step < tickets * 4; ++step) {
    if (ts.size() < tickets && (ts.empty() || rng() % 3 == 0)) {
      ticket t{random_id(), "U" + std::to_string(rng() % 50), st::listed};
      tt::ticket_listed x;
      x.fields = fields();
      x.seller = t.owner;
      emit(t.id, x);
      ts.push_back(std::move(t));
      continue;
    }
    auto& t = ts[rng() % ts.size()];
    auto r = rng() % 10;
    switch (t.state) {
      case st::listed:
        if (r < 3) {
          tt::ticket_updated x;
          auto& p = x.patch;
          p.has_price = rng() % 2;
          p.price_minor = 500 + static_cast<int64_t>(rng() % 40) * 250;
          p.has_event_name = rng() % 3 == 0;
          p.event_name = pick(event_names);
          p.has_venue = rng() % 3 == 0;
          p.venue = pick(venues);
          p.has_category = rng() % 4 == 0;
          p.category = pick(categories);
          p.has_event_starts_at = rng() % 4 == 0;
          p.event_starts_at_ms = 1'790'000'000'000 + static_cast<int64_t>(rng() % 20) * 3'600'000;
          if (p.empty())
            p.has_price = true;
          emit(t.id, x);
        } else if (r < 5) {
          emit(t.id, tt::ticket_held{"T" + std::to_string(step), t.owner});
          t.state = st::held;
        } else if (r < 6) {
          emit(t.id, tt::ticket_withdrawn{"changed plans"});
          t.state = st::withdrawn;
        } else if (r < 8) {
          tt::ticket_offered x;
          x.want_event_ids = {pick(h.event_ids)};
          emit(t.id, x);
        } else {
          emit(t.id, tt::ticket_offer_closed{"withdrawn"});
        }
        break;
      case st::held:
        if (r < 5) {
          emit(t.id, tt::ticket_released{"T"});
          t.state = st::listed;
        } else {
          emit(t.id, tt::ticket_deposited{"T"});
          t.state = st::escrow;
        }
        break;
      case st::escrow:
        if (r < 7) {
          auto to = "U" + std::to_string(rng() % 50);
          emit(t.id, tt::ticket_transferred{"T", t.owner, to});
          t.owner = to;
        } else {
          emit(t.id, tt::ticket_released{"T"});
        }
        t.state = st::listed;
        break;
      case st::withdrawn:
        if (r < 5) {
          tt::ticket_listed x;
          x.fields = fields();
          x.seller = t.owner;
          emit(t.id, x);
          t.state = st::listed;
        }
        break;
    }
  }
  return h;
}

market_query random_query(std::mt19937_64& rng, const history& h) {
  market_query q;
  auto pick = [&](const auto& v) -> const auto& { return v[rng() % v.size()]; };
  q.sort = static_cast<market_sort>(rng() % 3);
  static const size_t limits[] = {1, 2, 3, 7, 20, 100};
  q.limit = limits[rng() % 6];
  if (rng() % 4 == 0)
    q.category = rng() % 8 == 0 ? "nope" : pick(categories);
  if (rng() % 4 == 0)
    q.event_id = pick(h.event_ids);
  if (rng() % 5 == 0)
    q.venue = pick(venues);
  if (rng() % 3 == 0)
    q.q = pick(query_words);
  if (rng() % 4 == 0)
    q.min_price = 500 + static_cast<int64_t>(rng() % 40) * 250;
  if (rng() % 4 == 0)
    q.max_price = (q.min_price ? *q.min_price : 0) + static_cast<int64_t>(rng() % 20) * 250;
  if (rng() % 5 == 0)
    q.starts_after_ms = 1'790'000'000'000 + static_cast<int64_t>(rng() % 20) * 3'600'000;
  if (rng() % 5 == 0)
    q.starts_before_ms = 1'790'000'000'000 + static_cast<int64_t>(rng() % 20) * 3'600'000;
  return q;
}

void check_same(const market_page& mem, const market_page& db) {
  REQUIRE(mem.items.size() == db.items.size());
  for (size_t i = 0; i < mem.items.size(); ++i) {
    const auto& a = mem.items[i];
    const auto& b = db.items[i];
    CAPTURE(i);
    CHECK(a.id == b.id);
    CHECK(a.seller == b.seller);
    CHECK(a.fields == b.fields);
    CHECK(a.created_at_ms == b.created_at_ms);
    CHECK(a.updated_at_ms == b.updated_at_ms);
  }
  CHECK(mem.next_cursor == db.next_cursor);
  CHECK(mem.bad_cursor == db.bad_cursor);
}

struct compare_stats {
  size_t pages = 0, items = 0, empty_results = 0;
};

/// Pages through `q` on both to the end (at most 60 pages), comparing each.
void compare_all_pages(const market_index& idx, tt::nodes::pg_market& db, market_query q,
                       compare_stats& st) {
  for (int page = 0; page < 60; ++page) {
    auto mem = idx.query(q);
    auto db_page = db.query(q);
    REQUIRE_MESSAGE(db_page.ok, db_page.error);
    CAPTURE(page);
    CAPTURE(q.cursor);
    check_same(mem, db_page.page);
    ++st.pages;
    st.items += mem.items.size();
    if (page == 0 && mem.items.empty())
      ++st.empty_results;
    if (mem.next_cursor.empty() || mem.next_cursor != db_page.page.next_cursor)
      break;
    q.cursor = mem.next_cursor;
  }
}

} // namespace

TEST_CASE("the PostgreSQL marketplace answers every query with the in-memory index's pages") {
  auto pg_ptr = started_pg();
  if (!pg_ptr)
    return;
  auto& pg = *pg_ptr;
  std::mt19937_64 rng{20261129};
  auto h = make_history(rng, 3000);
  MESSAGE(h.events.size() << " ticket events");

  // The index, and the projection's rows through its own mapping.
  market_index idx;
  {
    pqxx::connection c{pg.url()};
    {
      pqxx::work tx{c};
      for (const auto& m : tt::persistence::pg_migrations())
        tx.exec(std::string(m.sql));
      tx.commit();
    }
    // In batches of random size through the projector's own batch builder
    // (multi-row upserts and audit inserts included).
    uint64_t offset = 0;
    for (size_t at = 0; at < h.events.size();) {
      tt::persistence::pg_batch_sql batch;
      for (size_t n = 0, size = 1 + rng() % 1500; n < size && at < h.events.size(); ++n, ++at) {
        ++offset;
        idx.apply(offset, h.events[at]);
        batch.add(offset, &h.events[at]);
      }
      pqxx::work tx{c};
      tx.exec(batch.take());
      tx.commit();
    }
    CHECK(pg.number("SELECT count(*) FROM audit_log") == static_cast<int64_t>(offset));
  }
  idx.set_ready();
  MESSAGE(idx.listed_count() << " tickets listed");
  // The text column follows the index's word rule (a spot check; the
  // queries below check it everywhere).
  CHECK(pg.query("SELECT tt_market_words('AT&T Presents: 49ers/Rams — O''Brien_s x-y-z')")
        == " at t presents 49ers rams — o brien s x y z ");
  REQUIRE(idx.listed_count() > 500);
  REQUIRE(pg.number("SELECT count(*) FROM tickets WHERE status = 'listed'")
          == static_cast<int64_t>(idx.listed_count()));

  tt::nodes::pg_market_config pc;
  pc.url = pg.url();
  pc.connections = 2;
  tt::nodes::pg_market db{pc};

  compare_stats words;
  // Every query word alone, under every sort, paged to the end.
  for (const auto& w : query_words)
    for (auto s : {market_sort::price, market_sort::starts_at, market_sort::created}) {
      market_query q;
      q.q = w;
      q.sort = s;
      q.limit = 100;
      CAPTURE(w);
      compare_all_pages(idx, db, q, words);
    }
  compare_stats st;
  size_t queries = 0;
  for (int round = 0; round < 400; ++round) {
    auto q = random_query(rng, h);
    CAPTURE(round);
    CAPTURE(q.category);
    CAPTURE(q.event_id);
    CAPTURE(q.venue);
    CAPTURE(q.q);
    CAPTURE(static_cast<int>(q.sort));
    CAPTURE(q.limit);
    ++queries;
    compare_all_pages(idx, db, q, st);
  }
  MESSAGE(words.pages << " pages of single words and " << queries << " random queries, "
                       << st.pages << " pages, " << st.items << " items compared; "
                       << st.empty_results << " empty results");
  CHECK(st.empty_results > 0);
  CHECK(st.empty_results < queries / 2);

  // Cursors naming no listing, and malformed ones.
  for (const char* c : {"0.A", "1000.zzzz", "-5.Q", "999999999999999.x_-", "12.", "x.1", "1.a b"}) {
    market_query q;
    q.cursor = c;
    q.limit = 5;
    for (auto s : {market_sort::price, market_sort::starts_at, market_sort::created}) {
      q.sort = s;
      auto db_page = db.query(q);
      REQUIRE(db_page.ok);
      CAPTURE(c);
      check_same(idx.query(q), db_page.page);
    }
  }
  // Text that is not UTF-8 names nothing in either.
  market_query bad;
  bad.q = "caf\xff";
  auto db_page = db.query(bad);
  REQUIRE(db_page.ok);
  check_same(idx.query(bad), db_page.page);
  CHECK(db_page.page.items.empty());
}

TEST_CASE("the PostgreSQL marketplace answers 'not ok' when PostgreSQL is down, never a wrong page") {
  tt::nodes::pg_market_config pc;
  pc.url = "postgresql://tt@127.0.0.1:" + std::to_string(free_port()) + "/postgres";
  pc.connect_timeout_s = 1;
  tt::nodes::pg_market db{pc};
  market_query q;
  auto r = db.query(q);
  CHECK_FALSE(r.ok);
  CHECK_FALSE(r.error.empty());
  CHECK(r.page.items.empty());
}

namespace {

std::string listing_json(int n) {
  static const char* names[] = {"Lakers vs Celtics", "Café Tacuba — Live", "AT&T Presents: 49ers/Rams",
                                "O'Brien's Comedy_Night"};
  static const char* cats[] = {"basketball", "music", "sports", "comedy"};
  boost::json::object o;
  o["event_id"] = "ev-" + std::to_string(n % 3);
  o["event_name"] = names[n % 4];
  o["venue"] = n % 2 ? "Hall A" : "Zürich Hallenstadion";
  o["category"] = cats[n % 4];
  o["event_starts_at"] = n % 5 < 2 ? "2027-03-01T20:00:00Z" : "2027-06-01T20:00:00Z";
  o["section"] = "S";
  o["row"] = "R";
  o["seats"] = boost::json::array{boost::json::string(std::to_string(n))};
  o["face_value_minor"] = 1000 + (n * 37) % 300;  // equal prices among them
  o["currency"] = "USD";
  o["barcode"] = "BC-pgm-" + std::to_string(n);
  o["platform"] = "upload";
  return boost::json::serialize(o);
}

} // namespace

TEST_CASE("tt-node --marketplace-source postgres serves the pages the in-memory index serves") {
  auto pg_ptr = started_pg();
  if (!pg_ptr)
    return;
  auto& pg = *pg_ptr;
  temp_dir dir;
  const auto data = (dir.path / "data").string();
  const std::vector<std::string> base = {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8"};
  auto with = [&](std::vector<std::string> more) {
    auto v = base;
    v.insert(v.end(), more.begin(), more.end());
    return v;
  };
  // The flag needs --postgres.
  {
    node_process bad{data, free_port(), with({"--marketplace-source", "postgres"})};
    bad.start();
    for (int i = 0; i < 200 && bad.alive(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    CHECK_FALSE(bad.alive());
  }
  const std::vector<std::string> urls = {
    "/api/v1/marketplace?limit=7",
    "/api/v1/marketplace?sort=starts_at&limit=5",
    "/api/v1/marketplace?sort=created&limit=100",
    "/api/v1/marketplace?q=rams&limit=100",
    "/api/v1/marketplace?q=brien+night&sort=created&limit=3",
    "/api/v1/marketplace?q=z%C3%BCrich&limit=100",
    "/api/v1/marketplace?venue=Hall+A&min_price=1100&limit=4",
    "/api/v1/marketplace?category=music&starts_after=2027-05-01T00%3A00%3A00Z&limit=100",
    "/api/v1/marketplace?event_id=ev-1&max_price=1200&sort=starts_at&limit=2",
    "/api/v1/marketplace?q=nothing-like-this"};
  // Every page of every URL, following next_cursor.
  auto crawl = [&](http_client& c) {
    std::vector<std::string> bodies;
    for (const auto& u : urls) {
      std::string cursor;
      for (int page = 0; page < 50; ++page) {
        auto r = c.get(u + (cursor.empty() ? "" : "&cursor=" + cursor));
        REQUIRE(r.status == 200);
        bodies.push_back(r.body);
        auto next = r.json().at("next_cursor");
        if (next.is_null())
          break;
        cursor = std::string(next.as_string());
      }
    }
    return bodies;
  };
  auto wait_count = [&](http_client& c, size_t want) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    size_t seen = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      auto r = c.get("/api/v1/marketplace?limit=100");
      if (r.status == 200 && (seen = r.json().at("items").as_array().size()) == want)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    MESSAGE("marketplace shows " << seen << ", expected " << want);
    return false;
  };

  std::vector<std::string> from_pg;
  const auto port = free_port();
  {
    node_process node{data, port, with({"--postgres", pg.url(), "--marketplace-source", "postgres"})};
    node.start();
    REQUIRE(node.wait_healthy());
    http_client c{port};
    auto seller = login(c, "seller@pgmarket.test");
    REQUIRE(!seller.empty());
    std::vector<std::string> ids;
    for (int i = 0; i < 40; ++i) {
      auto r = c.post("/api/v1/tickets", listing_json(i), {bearer(seller)});
      REQUIRE(r.status == 201);
      ids.emplace_back(r.json().at("id").as_string());
    }
    for (int i : {3, 17})
      REQUIRE(c.request(boost::beast::http::verb::delete_, "/api/v1/tickets/" + ids[i], {},
                        {bearer(seller)}).status == 200);
    REQUIRE(wait_count(c, 38));
    from_pg = crawl(c);
    // PostgreSQL down: 503 with Retry-After, fast, never a stale or empty 200.
    REQUIRE(pg.stop("immediate"));
    auto t0 = std::chrono::steady_clock::now();
    auto r = c.get("/api/v1/marketplace?limit=5");
    CHECK(r.status == 503);
    CHECK(r.header("Retry-After") == "1");
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    REQUIRE(pg.start_on_port());
    node.kill(SIGTERM);
  }
  // The same node from its own log, marketplace in memory: the same bytes.
  {
    node_process node{data, port, base};
    node.start();
    REQUIRE(node.wait_healthy());
    http_client c{port};
    REQUIRE(wait_count(c, 38));
    auto from_memory = crawl(c);
    REQUIRE(from_memory.size() == from_pg.size());
    for (size_t i = 0; i < from_pg.size(); ++i) {
      CAPTURE(i);
      CHECK(from_memory[i] == from_pg[i]);
    }
    node.kill(SIGTERM);
  }
}
