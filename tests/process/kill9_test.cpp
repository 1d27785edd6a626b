// Fault test: list tickets concurrently over HTTP, kill -9 the node mid-load,
// restart on the same data dir, and check that every acknowledged write is
// there, intact (nothing acknowledged is ever lost).
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <mutex>

#include "support.hpp"

using namespace tt::test;
namespace json = boost::json;

namespace {

std::vector<std::string> fast_hash_args() {
  return {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8"};
}

struct acked_listing {
  std::string body;
  std::string id;
};

} // namespace

TEST_CASE("kill -9 during concurrent listings loses no acknowledged ticket") {
  temp_dir dir;
  auto data = (dir.path / "node").string();
  auto port = free_port();
  node_process node{data, port, fast_hash_args()};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client admin{port};
  auto token = login(admin, "seller@example.com");
  REQUIRE_FALSE(token.empty());
  auto me = admin.get("/api/v1/me", {bearer(token)});
  REQUIRE(me.status == 200);
  std::string account = std::string(me.json().at("id").as_string());

  // -- phase 1: 640 listings from 16 clients, kill -9 after ~300 acks ---------------------------------
  std::mutex mtx;
  std::vector<acked_listing> acked;
  std::atomic<int> ack_count{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      http_client c{port, std::chrono::seconds(5)};
      c.no_retry = true;
      for (int k = 0; k < 40 && !stop; ++k) {
        auto body = listing_body("k9", t * 1000 + k);
        auto r = c.post("/api/v1/tickets", body, {bearer(token)});
        if (r.status == 0)
          break;  // node gone: this one is not acknowledged
        if (r.status == 201) {
          std::lock_guard<std::mutex> g{mtx};
          acked.push_back({body, std::string(r.json().at("id").as_string())});
          ++ack_count;
        }
      }
    });
  }
  while (ack_count < 300)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  node.kill(SIGKILL);
  stop = true;
  for (auto& th : clients)
    th.join();
  MESSAGE("acknowledged before kill -9: " << acked.size());
  REQUIRE(acked.size() >= 300);

  // -- restart: every acknowledged ticket is there, intact ------------------------
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  size_t checked = 0;
  for (const auto& a : acked) {
    auto r = c.get("/api/v1/tickets/" + a.id);
    REQUIRE_MESSAGE(r.status == 200, "lost ticket " << a.id);
    auto got = r.json().as_object();
    auto sent = json::parse(a.body).as_object();
    for (auto field : {"event_id", "event_name", "venue", "category", "section", "row", "seats",
                       "face_value_minor", "currency", "platform"})
      CHECK_MESSAGE(got.at(field) == sent.at(field), field << " of " << a.id);
    CHECK(got.at("status") == "listed");
    CHECK(got.at("seller") == account.c_str());
    CHECK_FALSE(got.contains("barcode"));
    ++checked;
  }
  MESSAGE("verified after restart: " << checked);
  // Dedup survives the restart: the same listing answers 200 with the same id.
  for (size_t i = 0; i < acked.size(); i += 25) {
    auto r = c.post("/api/v1/tickets", acked[i].body, {bearer(token)});
    CHECK(r.status == 200);
    CHECK(r.json().at("id") == acked[i].id.c_str());
  }
  // The owner index agrees.
  auto mine = c.get("/api/v1/me/tickets?limit=100", {bearer(token)});
  REQUIRE(mine.status == 200);
  CHECK(mine.json().at("items").as_array().size() == 100);

  // -- phase 2: price updates under kill -9 ----------------------------------------
  std::map<std::string, std::pair<int64_t, uint64_t>> acked_updates;  // id -> (price, version)
  stop = false;
  std::atomic<int> updates{0};
  std::vector<std::thread> updaters;
  for (int t = 0; t < 8; ++t) {
    updaters.emplace_back([&, t] {
      http_client uc{port, std::chrono::seconds(5)};
      uc.no_retry = true;
      for (int round = 0; round < 50 && !stop; ++round) {
        const auto& a = acked[(t * 7 + round) % acked.size()];
        int64_t price = 100000 + t * 1000 + round;
        auto r = uc.request(http::verb::patch, "/api/v1/tickets/" + a.id,
                            R"({"price_minor":)" + std::to_string(price) + "}", {bearer(token)});
        if (r.status == 0)
          break;
        if (r.status == 200) {
          std::lock_guard<std::mutex> g{mtx};
          auto v = r.json().at("version").as_int64();
          auto& slot = acked_updates[a.id];
          if (static_cast<uint64_t>(v) > slot.second)
            slot = {price, static_cast<uint64_t>(v)};
          ++updates;
        }
      }
    });
  }
  while (updates < 60)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  node.kill(SIGKILL);
  stop = true;
  for (auto& th : updaters)
    th.join();
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c2{port};
  for (const auto& [id, pv] : acked_updates) {
    auto r = c2.get("/api/v1/tickets/" + id);
    REQUIRE(r.status == 200);
    auto v = static_cast<uint64_t>(r.json().at("version").as_int64());
    CHECK(v >= pv.second);  // never behind what was acknowledged
    if (v == pv.second)
      CHECK(r.json().at("price_minor").as_int64() == pv.first);
  }
  MESSAGE("updates acknowledged before the second kill -9: " << updates.load()
          << ", tickets checked: " << acked_updates.size());
  node.kill(SIGTERM);
  CHECK(WIFEXITED(node.exit_status()));
  CHECK(WEXITSTATUS(node.exit_status()) == 0);
}
