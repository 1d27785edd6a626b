// Live fuzz of the settlement routes: random and mutated JSON bodies, random
// Idempotency-Key headers and odd ids against every settlement POST route of
// a real tt-node. Every answer must be 2xx or 4xx (never 5xx, never silence),
// every 4xx must carry the JSON error shape, the node must stay up, and
// afterwards the settlement invariants (GET /api/v1/admin/audit) must hold.
// Duration: TT_FUZZ_SECONDS (default 15); replay with TT_FUZZ_SEED.
#include <doctest/doctest.h>

#include <boost/json.hpp>

#include <cstdlib>
#include <map>
#include <random>

#include "support.hpp"

using namespace tt::test;
namespace json = boost::json;

namespace {

std::string pick_string(std::mt19937_64& rng) {
  static const char* pool[] = {"", "x", "USD", "usd", "EUR", "ZZZ", "refund", "complete", "nope",
                               "\u00e9\u00e9", "AAAAAAAAAAAAAAAAAAAAAA", "../../etc/passwd",
                               "\x01\x02", "9999999999999999999999999", "BC-f-1",
                               "a very long reason a very long reason a very long reason"};
  return pool[rng() % std::size(pool)];
}

json::value random_value(std::mt19937_64& rng, int depth = 0) {
  switch (rng() % 9) {
    case 0: return nullptr;
    case 1: return static_cast<int64_t>(rng() % 2000) - 500;
    case 2: return static_cast<int64_t>(rng());
    case 3: return static_cast<double>(rng() % 1000) / 7.0;
    case 4: return (rng() & 1) != 0;
    case 5: return json::string(pick_string(rng));
    case 6: {
      json::array a;
      if (depth < 3)
        for (size_t i = 0, n = rng() % 4; i < n; ++i)
          a.push_back(random_value(rng, depth + 1));
      return a;
    }
    case 7: {
      json::object o;
      if (depth < 3)
        for (size_t i = 0, n = rng() % 3; i < n; ++i)
          o[pick_string(rng)] = random_value(rng, depth + 1);
      return o;
    }
    default: return static_cast<int64_t>(rng() % 100000);
  }
}

/// A body that is valid-looking for `route`, then mutated.
std::string body_for(std::mt19937_64& rng, int route, const std::vector<std::string>& mine,
                     const std::vector<std::string>& theirs, const std::string& other_account) {
  json::object o;
  switch (route) {
    case 0:
    case 1:
      o["amount_minor"] = static_cast<int64_t>(rng() % 5000);
      o["currency"] = "USD";
      break;
    case 2:
      o["give"] = json::array{json::string(mine[rng() % mine.size()])};
      o["take"] = json::array{json::string(theirs[rng() % theirs.size()])};
      o["cash_minor"] = static_cast<int64_t>(rng() % 600) - 300;
      break;
    case 3: o["amount_minor"] = static_cast<int64_t>(rng() % 500); break;
    case 4:
      o["ticket_id"] = mine[rng() % mine.size()];
      o["barcode"] = "BC-f-" + std::to_string(rng() % 4);
      break;
    case 5: o["reason"] = "fuzz"; break;
    case 6: o["to_account_id"] = other_account; break;
    default:
      o["outcome"] = (rng() & 1) ? "refund" : "complete";
      break;
  }
  switch (rng() % 7) {
    case 0: break;  // as is
    case 1: o[pick_string(rng)] = random_value(rng); break;
    case 2:
      if (!o.empty())
        o.erase(o.begin());
      break;
    case 3:
      if (!o.empty())
        o.begin()->value() = random_value(rng);
      break;
    case 4: return json::serialize(random_value(rng));
    case 5: {
      auto s = json::serialize(o);
      if (!s.empty())
        s.resize(rng() % s.size());
      return s;
    }
    default: {
      auto s = json::serialize(o);
      for (int i = 0; i < 3 && !s.empty(); ++i)
        s[rng() % s.size()] = static_cast<char>(rng() % 256);
      return s;
    }
  }
  return json::serialize(o);
}

} // namespace

TEST_CASE("settlement routes survive random and mutated input and keep the invariants") {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("TT_FUZZ_SEED"))
    seed = std::strtoull(s, nullptr, 10);
  int seconds = 15;
  if (const char* s = std::getenv("TT_FUZZ_SECONDS"))
    seconds = std::atoi(s);
  MESSAGE("TT_FUZZ_SEED=" << seed << " (replay with this), " << seconds << " s");
  std::mt19937_64 rng{seed};
  temp_dir dir;
  auto port = free_port();
  node_process node{(dir.path / "data").string(), port,
                    {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8",
                     "--admin-email", "admin@fuzz.test", "--commit-window-s", "2",
                     "--timer-poll-ms", "100"}};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  auto a = login(c, "a@fuzz.test");
  auto b = login(c, "b@fuzz.test");
  auto admin = login(c, "admin@fuzz.test");
  REQUIRE(!a.empty());
  REQUIRE(!b.empty());
  REQUIRE(!admin.empty());
  auto b_id = std::string(c.get("/api/v1/me", {bearer(b)}).json().at("id").as_string());
  std::vector<std::string> mine, theirs;
  for (int i = 0; i < 4; ++i) {
    auto r = c.post("/api/v1/tickets", listing_body("f", i), {bearer(a)});
    REQUIRE(r.status == 201);
    mine.emplace_back(r.json().at("id").as_string());
    r = c.post("/api/v1/tickets", listing_body("g", i), {bearer(b)});
    REQUIRE(r.status == 201);
    theirs.emplace_back(r.json().at("id").as_string());
  }
  for (const auto& tok : {a, b})
    REQUIRE(c.post("/api/v1/me/deposits", R"({"amount_minor":100000,"currency":"USD"})",
                   {bearer(tok), {"Idempotency-Key", "seed"}})
              .status
            == 201);
  std::vector<std::string> trades;
  static const char* actions[] = {"accept", "decline", "cancel", "cash", "deposits", "dispute"};
  size_t requests = 0, ok = 0;
  std::map<int, size_t> statuses;
  auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < until) {
    int route = static_cast<int>(rng() % 8);
    std::string target;
    switch (route) {
      case 0: target = "/api/v1/me/deposits"; break;
      case 1: target = "/api/v1/me/withdrawals"; break;
      case 2: target = "/api/v1/trades"; break;
      case 6: target = "/api/v1/tickets/" + mine[rng() % mine.size()] + "/transfer"; break;
      case 7: {
        auto id = trades.empty() || rng() % 4 == 0 ? pick_string(rng) : trades[rng() % trades.size()];
        target = "/api/v1/admin/disputes/" + id + "/resolve";
        break;
      }
      default: {
        auto id = trades.empty() || rng() % 5 == 0 ? pick_string(rng) : trades[rng() % trades.size()];
        auto act = route == 3 ? "cash" : route == 4 ? "deposits" : actions[rng() % std::size(actions)];
        target = "/api/v1/trades/" + (id.empty() ? std::string("x") : id) + "/" + act;
      }
    }
    // Percent-escape nothing: odd ids go in raw; the edge must cope.
    for (auto& ch : target)
      if (static_cast<unsigned char>(ch) < 0x21 || ch == '?' || ch == '#')
        ch = '_';
    std::vector<std::pair<std::string, std::string>> headers;
    auto who = rng() % 3;
    headers.push_back(bearer(route == 7 && who == 0 ? admin : who == 1 ? b : a));
    if (rng() % 4 != 0)
      headers.emplace_back("Idempotency-Key", rng() % 3 == 0 ? pick_string(rng)
                                                             : "k" + std::to_string(rng() % 50));
    auto r = c.post(target, body_for(rng, route, mine, theirs, b_id), headers);
    ++requests;
    statuses[r.status]++;
    REQUIRE_MESSAGE(r.status != 0, "no answer for POST " << target);
    REQUIRE_MESSAGE(r.status < 500, "POST " << target << " -> " << r.status << " " << r.body);
    if (r.status >= 400) {
      auto j = r.json();
      REQUIRE_MESSAGE(j.is_object(), "4xx without a JSON body: " << r.body);
      REQUIRE(j.as_object().contains("error"));
    } else {
      ++ok;
      if (route == 2 && r.status == 201)
        trades.emplace_back(r.json().at("id").as_string());
    }
  }
  REQUIRE(node.alive());
  std::string summary;
  for (auto& [s, n] : statuses)
    summary += std::to_string(s) + ":" + std::to_string(n) + " ";
  MESSAGE(requests << " requests, " << ok << " accepted, " << trades.size()
                   << " trades proposed; statuses " << summary);
  CHECK(ok > 0);
  // Let expiries and re-drives settle, then check the invariants from the log.
  json::value audit;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto r = c.get("/api/v1/admin/audit", {bearer(admin)});
    REQUIRE(r.status == 200);
    audit = r.json();
    auto& t = audit.at("trades").as_object();
    bool settled = !t.contains("proposing") && !t.contains("releasing")
                   && !t.contains("transferring");
    if (settled || std::chrono::steady_clock::now() > deadline)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  INFO(json::serialize(audit));
  CHECK(audit.at("sum_minor").as_int64() == 0);
  CHECK(audit.at("negative_wallets").as_array().empty());
  CHECK(audit.at("violations").as_array().empty());
  CHECK(audit.at("ok").as_bool());
}
