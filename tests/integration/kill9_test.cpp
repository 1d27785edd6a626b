// Fault test: kill -9 a tt-node in the middle of concurrent listings, restart
// it on the same data dir, and check that every acknowledged (201) listing is
// there with exactly the fields that were sent, that dedup survives the
// restart, and that PATCH/DELETE keep working and keep their versions across
// a second kill -9. Writes without an answer ("in doubt") may or may not be
// there, but if they are, they must be intact.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "support/tt_support.hpp"

using namespace tt::it;

namespace {

struct acked {
  json::object body;
  std::string id;
  int64_t version = 0;
};

/// Runs `threads` clients, each on its own keep-alive connection; calls
/// kill() from another thread once `kill_after` operations were acknowledged.
template <class Op>
void run_until_killed(int threads, int per_thread, std::atomic<int>& acks, int kill_after,
                      node_process& node, Op op) {
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < threads; ++t)
    clients.emplace_back([&, t] {
      http_client c{node.port(), 5s};
      for (int k = 0; k < per_thread && !stop; ++k)
        if (!op(c, t, k))
          break;  // no answer: the node is gone
    });
  std::thread killer([&] {
    auto until = std::chrono::steady_clock::now() + 60s;
    while (acks < kill_after && std::chrono::steady_clock::now() < until && node.alive())
      std::this_thread::sleep_for(200us);
    progress("kill -9 after ", acks.load(), " acknowledged operations");
    node.kill(SIGKILL);
    stop = true;
  });
  killer.join();
  for (auto& th : clients)
    th.join();
}

} // namespace

TEST_CASE("kill -9 mid-load loses no acknowledged listing, update or withdrawal") {
  temp_dir dir{"tt-it-kill9"};
  node_process node{dir.sub("node"), free_port(), fast_node_args()};
  REQUIRE(node.start());
  progress("node up on port ", node.port(), ", data dir ", node.data_dir());
  http_client admin{node.port()};
  auto seller = sign_in(admin, "seller@example.com");
  auto other = sign_in(admin, "other@example.com");
  REQUIRE_FALSE(seller.token.empty());
  REQUIRE_FALSE(other.token.empty());
  REQUIRE_FALSE(seller.id.empty());

  // -- phase 1: 16 clients list 40 distinct tickets each; kill -9 after ~half --------
  constexpr int threads = 16, per_thread = 40;
  std::mutex mtx;
  std::vector<acked> listed;
  std::vector<json::object> in_doubt;  // sent, no answer
  std::atomic<int> acks{0};
  std::atomic<int> non_2xx{0};
  run_until_killed(threads, per_thread, acks, threads * per_thread / 2, node,
                   [&](http_client& c, int t, int k) {
                     auto body = listing("k9", t * 1000 + k);
                     auto r = c.post("/api/v1/tickets", json::serialize(body), seller.auth());
                     std::lock_guard<std::mutex> g{mtx};
                     if (!r.ok()) {
                       in_doubt.push_back(std::move(body));
                       return false;
                     }
                     if (r.status == 201) {
                       auto j = r.json();
                       listed.push_back({std::move(body), std::string(j.at("id").as_string()),
                                         j.at("version").as_int64()});
                       ++acks;
                     } else {
                       ++non_2xx;
                       progress("listing answered ", r.status, ": ", r.body);
                     }
                     return true;
                   });
  progress("phase 1: ", listed.size(), " listings acknowledged, ", in_doubt.size(),
           " in doubt, ", non_2xx.load(), " refused; node ",
           node_process::describe_status(node.exit_status()));
  CHECK(non_2xx == 0);
  REQUIRE(listed.size() >= threads * per_thread / 2);
  REQUIRE(listed.size() < threads * per_thread);  // the kill really was mid-load

  // -- restart: every acknowledged listing is there, intact --------------------------
  REQUIRE(node.start());
  progress("restarted (", node.starts(), ") on port ", node.port());
  http_client c{node.port()};
  size_t lost = 0, bad = 0;
  std::set<std::string> ids;
  for (const auto& a : listed) {
    ids.insert(a.id);
    auto r = c.get("/api/v1/tickets/" + a.id);
    if (r.status != 200) {
      ++lost;
      CHECK_MESSAGE(r.status == 200, "acknowledged ticket " << a.id << " lost: " << r.status << " "
                                                            << r.body);
      continue;
    }
    auto got = r.json();
    auto diff = listing_mismatch(a.body, got);
    if (!diff.empty())
      ++bad;
    CHECK_MESSAGE(diff.empty(), a.id << ": " << diff);
    CHECK(got.at("status") == "listed");
    CHECK(got.at("seller") == seller.id.c_str());
    CHECK(got.at("version").as_int64() == a.version);
  }
  CHECK(ids.size() == listed.size());  // distinct listings, distinct ids
  progress("after restart: ", listed.size() - lost, "/", listed.size(), " acknowledged present, ",
           bad, " with wrong fields");

  // In-doubt listings: present or absent, never half-written.
  size_t doubt_present = 0;
  for (const auto& body : in_doubt) {
    auto r = c.post("/api/v1/tickets", json::serialize(body), seller.auth());
    REQUIRE_MESSAGE((r.status == 200 || r.status == 201), r.status << " " << r.body);
    doubt_present += r.status == 200;
    CHECK_MESSAGE(listing_mismatch(body, r.json()).empty(), listing_mismatch(body, r.json()));
  }
  progress("in-doubt listings: ", doubt_present, " had landed, ", in_doubt.size() - doubt_present,
           " had not (both fine)");

  // Dedup survives the restart: every acknowledged body again -> 200, same id and version.
  size_t dedup_ok = 0;
  for (const auto& a : listed) {
    auto r = c.post("/api/v1/tickets", json::serialize(a.body), seller.auth());
    bool ok = r.status == 200 && r.json().at("id") == a.id.c_str()
              && r.json().at("version").as_int64() == a.version;
    dedup_ok += ok;
    CHECK_MESSAGE(ok, "re-POST of " << a.id << " -> " << r.status << " " << r.body);
  }
  progress("dedup after restart: ", dedup_ok, "/", listed.size(), " re-POSTs answered 200 with the same id");

  // -- PATCH / DELETE after the restart ------------------------------------------------
  // Tickets 0..59: price updates; 60..89: withdrawn; the rest untouched.
  REQUIRE(listed.size() >= 120);
  std::map<std::string, std::pair<int64_t, int64_t>> expect;  // id -> (price, version) acknowledged
  std::set<std::string> withdrawn;
  for (size_t i = 0; i < 60; ++i) {
    auto& a = listed[i];
    int64_t price = 50000 + static_cast<int64_t>(i);
    auto r = c.patch("/api/v1/tickets/" + a.id, R"({"price_minor":)" + std::to_string(price) + "}",
                     seller.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.json().at("version").as_int64() == a.version + 1);
    CHECK(r.json().at("price_minor").as_int64() == price);
    expect[a.id] = {price, r.json().at("version").as_int64()};
  }
  for (size_t i = 60; i < 90; ++i) {
    auto& a = listed[i];
    auto r = c.del("/api/v1/tickets/" + a.id, seller.auth());
    REQUIRE_MESSAGE(r.status == 200, r.body);
    CHECK(r.json().at("status") == "withdrawn");
    CHECK(r.json().at("version").as_int64() == a.version + 1);
    auto again = c.del("/api/v1/tickets/" + a.id, seller.auth());  // idempotent
    CHECK(again.status == 200);
    CHECK(again.json().at("version").as_int64() == a.version + 1);
    auto p = c.patch("/api/v1/tickets/" + a.id, R"({"price_minor":1})", seller.auth());
    CHECK(p.status == 409);
    CHECK(error_code(p) == "invalid_state");
    withdrawn.insert(a.id);
  }
  // Somebody else may neither change nor withdraw them.
  for (size_t i = 90; i < 95; ++i) {
    auto p = c.patch("/api/v1/tickets/" + listed[i].id, R"({"price_minor":1})", other.auth());
    CHECK(p.status == 403);
    auto d = c.del("/api/v1/tickets/" + listed[i].id, other.auth());
    CHECK(d.status == 403);
  }
  progress("after restart: 60 PATCHes, 30 DELETEs (idempotent), 409 on withdrawn, 403 for strangers");

  // -- phase 2: concurrent PATCH/DELETE, second kill -9 --------------------------------
  std::atomic<int> acks2{0};
  std::map<std::string, std::pair<int64_t, int64_t>> acked_updates;  // highest acked version
  std::set<std::string> acked_deletes;
  run_until_killed(8, 60, acks2, 150, node, [&](http_client& uc, int t, int k) {
    // Thread t works on its own tickets (90 + t + 8j), so versions per ticket
    // are ordered by that thread alone.
    size_t idx = 90 + static_cast<size_t>(t) + 8 * static_cast<size_t>(k % 12);
    if (idx >= listed.size())
      return true;
    const auto& a = listed[idx];
    bool is_delete = k >= 48 && (k % 12) < 3;
    int64_t price = 70000 + t * 1000 + k;
    auto r = is_delete ? uc.del("/api/v1/tickets/" + a.id, seller.auth())
                       : uc.patch("/api/v1/tickets/" + a.id,
                                  R"({"price_minor":)" + std::to_string(price) + "}", seller.auth());
    if (!r.ok())
      return false;
    std::lock_guard<std::mutex> g{mtx};
    if (r.status == 200) {
      ++acks2;
      auto v = r.json().at("version").as_int64();
      if (is_delete) {
        acked_deletes.insert(a.id);
        acked_updates[a.id].second = std::max(acked_updates[a.id].second, v);
      } else {
        auto& slot = acked_updates[a.id];
        if (v > slot.second)
          slot = {price, v};
      }
    } else if (r.status != 409) {  // 409: a PATCH after this thread's DELETE
      progress("phase 2 answer ", r.status, ": ", r.body);
    }
    return true;
  });
  progress("phase 2: ", acks2.load(), " updates/withdrawals acknowledged before the second kill -9");
  REQUIRE(acks2 >= 150);

  REQUIRE(node.start());
  progress("restarted (", node.starts(), ")");
  c.set_port(node.port());
  size_t checked = 0;
  for (const auto& [id, pv] : acked_updates) {
    auto r = c.get("/api/v1/tickets/" + id);
    REQUIRE_MESSAGE(r.status == 200, id << " " << r.body);
    auto v = r.json().at("version").as_int64();
    CHECK_MESSAGE(v >= pv.second, id << ": version " << v << " behind acknowledged " << pv.second);
    if (acked_deletes.count(id)) {
      CHECK_MESSAGE(r.json().at("status") == "withdrawn", id << " withdrawal lost");
    } else if (v == pv.second) {
      CHECK(r.json().at("price_minor").as_int64() == pv.first);
    }
    ++checked;
  }
  // Phase-1 PATCHes and DELETEs (acknowledged before the second kill) are intact.
  for (const auto& [id, pv] : expect) {
    auto r = c.get("/api/v1/tickets/" + id);
    REQUIRE(r.status == 200);
    CHECK(r.json().at("version").as_int64() == pv.second);
    CHECK(r.json().at("price_minor").as_int64() == pv.first);
    CHECK(r.json().at("status") == "listed");
  }
  for (const auto& id : withdrawn) {
    auto r = c.get("/api/v1/tickets/" + id);
    REQUIRE(r.status == 200);
    CHECK(r.json().at("status") == "withdrawn");
  }
  // And every listing from phase 1 is still there.
  size_t still = 0;
  for (const auto& a : listed)
    still += c.get("/api/v1/tickets/" + a.id).status == 200;
  CHECK(still == listed.size());
  progress("after the second restart: ", checked, " tickets with acknowledged updates checked, ",
           still, "/", listed.size(), " listings present");

  // -- clean stop: SIGTERM exits 0 -----------------------------------------------------
  auto status = node.kill(SIGTERM);
  CHECK_MESSAGE(WIFEXITED(status), node_process::describe_status(status));
  CHECK_MESSAGE(WEXITSTATUS(status) == 0, node_process::describe_status(status));
  CHECK_FALSE(node.timed_out_on_exit());
  progress("SIGTERM: ", node_process::describe_status(status));
}
