// The marketplace read model: filters, sorting, stable cursor paging, and the
// ticket life cycle (updates, holds, releases, transfers, withdrawals) moving
// listings in and out — all through events, as the feed applies them.
#include <doctest/doctest.h>

#include <set>

#include "actors/market_index.hpp"

using namespace tt;
using namespace tt::actors;

namespace {

struct market_fixture {
  market_index idx;
  uint64_t offset = 0;

  void apply(const std::string& id, event_payload p, int64_t at = 1000) {
    event_envelope ev;
    ev.kind = entity_kind::ticket;
    ev.entity_id = id;
    ev.timestamp_ms = at + static_cast<int64_t>(offset);
    ev.payload = std::move(p);
    idx.apply(++offset, ev);
  }

  void list(const std::string& id, std::string event, std::string category, std::string venue,
            int64_t price, int64_t starts, std::string name = "Show") {
    ticket_listed x;
    x.seller = "S";
    x.fields.event_id = std::move(event);
    x.fields.category = std::move(category);
    x.fields.venue = std::move(venue);
    x.fields.event_name = std::move(name);
    x.fields.price_minor = price;
    x.fields.event_starts_at_ms = starts;
    x.fields.currency = "USD";
    apply(id, x);
  }

  std::vector<std::string> ids(const market_query& q) {
    std::vector<std::string> out;
    for (auto& l : idx.query(q).items)
      out.push_back(l.id);
    return out;
  }
};

} // namespace

TEST_CASE("market index: filters and sort orders") {
  market_fixture m;
  m.list("t1", "e1", "music", "Arena", 500, 3000, "Rock Night");
  m.list("t2", "e1", "music", "Arena", 300, 2000, "Rock Night");
  m.list("t3", "e2", "sports", "Stadium", 900, 1000, "Final");
  m.list("t4", "e3", "music", "Club", 100, 4000, "Jazz");
  market_query q;
  CHECK(m.ids(q) == std::vector<std::string>{"t4", "t2", "t1", "t3"});  // by price
  q.sort = market_sort::starts_at;
  CHECK(m.ids(q) == std::vector<std::string>{"t3", "t2", "t1", "t4"});
  q.sort = market_sort::created;
  CHECK(m.ids(q) == std::vector<std::string>{"t1", "t2", "t3", "t4"});
  q = {};
  q.category = "music";
  CHECK(m.ids(q) == std::vector<std::string>{"t4", "t2", "t1"});
  q.event_id = "e1";
  q.max_price = 400;
  CHECK(m.ids(q) == std::vector<std::string>{"t2"});
  q = {};
  q.q = "rOcK";
  CHECK(m.ids(q) == std::vector<std::string>{"t2", "t1"});
  q = {};
  q.q = "nig roc";  // word prefixes, any order of fields
  CHECK(m.ids(q) == std::vector<std::string>{"t2", "t1"});
  q.q = "ock";  // not a word start
  CHECK(m.ids(q).empty());
  q = {};
  q.q = "jazz";
  q.category = "music";
  CHECK(m.ids(q) == std::vector<std::string>{"t4"});
  q = {};
  q.sort = market_sort::price;
  q.min_price = 300;
  q.max_price = 500;
  CHECK(m.ids(q) == std::vector<std::string>{"t2", "t1"});
  q.sort = market_sort::starts_at;
  CHECK(m.ids(q) == std::vector<std::string>{"t2", "t1"});
  q = {};
  q.venue = "Stadium";
  q.starts_after_ms = 500;
  q.starts_before_ms = 1500;
  CHECK(m.ids(q) == std::vector<std::string>{"t3"});
  q = {};
  q.event_id = "nope";
  CHECK(m.ids(q).empty());
  q = {};
  q.min_price = 10000;
  CHECK(m.ids(q).empty());
}

TEST_CASE("market index: cursors page through everything exactly once, stable under inserts") {
  market_fixture m;
  for (int i = 0; i < 250; ++i)
    m.list("t" + std::to_string(i), "e" + std::to_string(i % 3), "music", "Arena", 1000 + i % 17,
           5000 + i);
  bool late_added = false;
  for (auto sort : {market_sort::price, market_sort::starts_at, market_sort::created}) {
    for (bool filtered : {false, true}) {
      size_t expected = (filtered ? 83u : 250u) + (late_added ? 1u : 0u);
      market_query q;
      q.sort = sort;
      q.limit = 7;
      if (filtered)
        q.event_id = "e1";
      std::set<std::string> seen;
      int64_t last = INT64_MIN;
      size_t pages = 0;
      for (;;) {
        auto page = m.idx.query(q);
        REQUIRE_FALSE(page.bad_cursor);
        for (auto& l : page.items) {
          CHECK(seen.insert(l.id).second);
          int64_t v = sort == market_sort::price       ? l.fields.price_minor
                      : sort == market_sort::starts_at ? l.fields.event_starts_at_ms
                                                       : l.created_at_ms;
          CHECK(v >= last);
          last = v;
        }
        ++pages;
        if (page.next_cursor.empty())
          break;
        if (pages == 2 && !late_added) {
          // A listing arriving mid-walk, sorting before the cursor, is not
          // seen by this walk and disturbs nothing.
          m.list("late", "e1", "music", "Arena", 1, 1);
          late_added = true;
        }
        q.cursor = page.next_cursor;
      }
      CHECK(seen.size() == expected);
    }
  }
  market_query bad;
  bad.cursor = "garbage";
  CHECK(m.idx.query(bad).bad_cursor);
  for (const char* c : {"12.", ".t1", "12.a b", "x.t1", "12.t1.5", "1e3.t1"}) {
    bad.cursor = c;
    CHECK_MESSAGE(m.idx.query(bad).bad_cursor, c);
  }
  // A well-formed cursor naming no listing still positions the walk: the
  // order is (sort value, id), whether or not that listing exists.
  market_query after;
  after.cursor = make_market_cursor(1008, "t5");  // price 1008: t8, t25, ...; "t5" sorts before "t8"
  auto page = m.idx.query(after);
  REQUIRE_FALSE(page.bad_cursor);
  REQUIRE_FALSE(page.items.empty());
  CHECK(page.items.front().fields.price_minor == 1008);
  CHECK(page.items.front().id > std::string{"t5"});
}

TEST_CASE("market index: only listed tickets are found") {
  market_fixture m;
  m.list("t1", "e1", "music", "Arena", 500, 3000);
  m.list("t2", "e1", "music", "Arena", 600, 3000);
  market_query q;
  q.event_id = "e1";
  m.apply("t1", ticket_held{"T", "S"});
  CHECK(m.ids(q) == std::vector<std::string>{"t2"});
  m.apply("t1", ticket_released{"T"});
  CHECK(m.ids(q) == std::vector<std::string>{"t1", "t2"});
  ticket_patch p;
  p.has_price = true;
  p.price_minor = 700;
  m.apply("t1", ticket_updated{p});
  CHECK(m.ids(q) == std::vector<std::string>{"t2", "t1"});
  m.apply("t2", ticket_held{"T2", "S"});
  m.apply("t2", ticket_deposited{"T2"});
  m.apply("t2", ticket_transferred{"T2", "S", "B"});
  auto page = m.idx.query(q);
  REQUIRE(page.items.size() == 2);
  CHECK(page.items[0].id == "t2");
  CHECK(page.items[0].seller == "B");
  m.apply("t2", ticket_withdrawn{"gone"});
  CHECK(m.ids(q) == std::vector<std::string>{"t1"});
  CHECK(m.idx.listed_count() == 1);
  CHECK(m.idx.next_offset() == m.offset + 1);
}
