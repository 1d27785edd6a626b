// GET /api/v1/marketplace on a real node: public, only listed tickets,
// filters, sort orders, cursor paging to the end, an empty result, and bad
// parameters answered 400 with the field named.
#include <doctest/doctest.h>

#include <set>

#include "support.hpp"

using namespace tt::test;
namespace json = boost::json;

namespace {

std::string listing(const std::string& event, const std::string& category, int price, int n,
                    const std::string& starts) {
  return R"({"event_id":")" + event + R"(","event_name":"Big )" + category + R"( Night","venue":"Hall )"
         + event + R"(","category":")" + category + R"(","event_starts_at":")" + starts
         + R"(","section":"S","row":"R","seats":[")" + std::to_string(n)
         + R"("],"face_value_minor":)" + std::to_string(price) + R"(,"currency":"USD","barcode":"BC-m-)"
         + std::to_string(n) + R"(","platform":"upload"})";
}

json::array items(const http_result& r) { return r.json().at("items").as_array(); }

} // namespace

TEST_CASE("marketplace search over HTTP") {
  temp_dir dir;
  auto port = free_port();
  node_process node{(dir.path / "data").string(), port,
                    {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8"}};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  auto seller = login(c, "seller@market.test");
  REQUIRE(!seller.empty());
  std::vector<std::string> ids;
  for (int i = 0; i < 30; ++i) {
    auto r = c.post("/api/v1/tickets",
                    listing(i % 2 ? "ev-a" : "ev-b", i % 3 ? "music" : "sports", 1000 + (i * 37) % 500,
                            i, i < 15 ? "2027-03-01T20:00:00Z" : "2027-06-01T20:00:00Z"),
                    {bearer(seller)});
    REQUIRE(r.status == 201);
    ids.emplace_back(r.json().at("id").as_string());
  }
  // Withdrawn tickets are not found.
  REQUIRE(c.request(boost::beast::http::verb::delete_, "/api/v1/tickets/" + ids[0], {},
                    {bearer(seller)}).status == 200);
  // The index follows the log asynchronously: wait until it shows 29.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  size_t seen = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = c.get("/api/v1/marketplace?limit=100");
    if (r.status == 200 && (seen = items(r).size()) == 29)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  REQUIRE(seen == 29);

  SUBCASE("filters") {
    auto r = c.get("/api/v1/marketplace?event_id=ev-a&category=music&limit=100");
    REQUIRE(r.status == 200);
    for (auto& it : items(r)) {
      CHECK(it.at("event_id").as_string() == "ev-a");
      CHECK(it.at("category").as_string() == "music");
      CHECK(it.at("status").as_string() == "listed");
    }
    CHECK(!items(r).empty());
    r = c.get("/api/v1/marketplace?min_price=1200&max_price=1300&limit=100");
    for (auto& it : items(r)) {
      auto p = it.at("price_minor").as_int64();
      CHECK((p >= 1200 && p <= 1300));
    }
    r = c.get("/api/v1/marketplace?starts_after=2027-05-01T00%3A00%3A00Z&limit=100");
    CHECK(items(r).size() == 15);
    r = c.get("/api/v1/marketplace?q=big+spo&limit=100");
    for (auto& it : items(r))
      CHECK(it.at("category").as_string() == "sports");
    CHECK(!items(r).empty());
    r = c.get("/api/v1/marketplace?event_id=nothing-here");
    REQUIRE(r.status == 200);
    CHECK(items(r).empty());
    CHECK(r.json().at("next_cursor").is_null());
  }

  SUBCASE("each sort order pages through everything exactly once") {
    for (std::string sort : {"price", "starts_at", "created"}) {
      std::set<std::string> got;
      std::string cursor;
      std::string last_key;
      for (int page = 0; page < 20; ++page) {
        auto r = c.get("/api/v1/marketplace?sort=" + sort + "&limit=7"
                       + (cursor.empty() ? "" : "&cursor=" + cursor));
        REQUIRE(r.status == 200);
        for (auto& it : items(r))
          CHECK(got.insert(std::string(it.at("id").as_string())).second);
        auto next = r.json().at("next_cursor");
        if (next.is_null())
          break;
        cursor = std::string(next.as_string());
      }
      CHECK(got.size() == 29);
      CHECK(got.count(ids[0]) == 0);
    }
  }

  SUBCASE("bad parameters are 400 with the field named") {
    for (auto [query, field] : std::vector<std::pair<std::string, std::string>>{
           {"sort=cheapest", "sort"},
           {"limit=0", "limit"},
           {"limit=101", "limit"},
           {"min_price=-1", "min_price"},
           {"max_price=abc", "max_price"},
           {"min_price=10&max_price=5", "min_price"},
           {"starts_after=yesterday", "starts_after"},
           {"cursor=nonsense", "cursor"},
           {"q=%ZZ", "q"},
           {"color=red", "color"}}) {
      auto r = c.get("/api/v1/marketplace?" + query);
      CHECK_MESSAGE(r.status == 400, query << " -> " << r.status);
      CHECK_MESSAGE(r.json().at("error").at("field").as_string() == field, query);
    }
  }
}
