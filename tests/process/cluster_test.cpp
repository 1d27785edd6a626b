// A real cluster on loopback: a throwaway etcd 3.4 and three tt-node
// processes. Tickets listed through every edge are served by every edge;
// kill -9 of one node makes only its shards answer 503 (fast, with
// Retry-After) once its lease expires; a restart serves everything it
// acknowledged again; a shard moves under write load losing nothing; etcd
// paused stops every node from acting (503) until it returns; tt-admin lists
// the nodes and refuses a wrong secret.
// Skips with a message when /usr/bin/etcd is absent.
#include <doctest/doctest.h>

#include <array>
#include <fstream>
#include <atomic>
#include <map>
#include <set>

#include "messages/entity.hpp"
#include "pg_test_support.hpp"
#include "support.hpp"

using namespace tt::test;

namespace {

constexpr const char* etcd_bin = "/usr/bin/etcd";
constexpr const char* secret = "test-admin-secret-0123456789";

/// Runs a command to completion; returns (exit code, stdout+stderr).
std::pair<int, std::string> run(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (!p)
    return {-1, {}};
  char buf[4096];
  while (auto n = fread(buf, 1, sizeof buf, p))
    out.append(buf, n);
  int rc = pclose(p);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

bool etcd_healthy(uint16_t port) {
  http_client c{port, std::chrono::milliseconds(500)};
  auto r = c.get("/health");
  return r.status == 200 && r.body.find("true") != std::string::npos;
}

struct cluster_fixture {
  temp_dir dir;
  uint16_t etcd_port = free_port();
  uint16_t peer_port = free_port();
  child etcd;
  std::array<uint16_t, 3> http{free_port(), free_port(), free_port()};
  std::array<uint16_t, 3> cport{free_port(), free_port(), free_port()};
  std::vector<std::unique_ptr<node_process>> nodes;

  bool start_etcd() {
    auto data = (dir.path / "etcd").string();
    auto client = "http://127.0.0.1:" + std::to_string(etcd_port);
    auto peer = "http://127.0.0.1:" + std::to_string(peer_port);
    etcd.start({etcd_bin, "--name", "e1", "--data-dir", data, "--listen-client-urls", client,
                "--advertise-client-urls", client, "--listen-peer-urls", peer,
                "--initial-advertise-peer-urls", peer, "--initial-cluster", "e1=" + peer},
               (dir.path / "etcd.log").string());
    for (int i = 0; i < 200; ++i) {
      if (etcd_healthy(etcd_port))
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  std::unique_ptr<node_process> make_node(int i, const std::vector<std::string>& more = {}) {
    std::vector<std::string> extra = {
      "--node-name",   "n" + std::to_string(i + 1),
      "--cluster-port", std::to_string(cport[i]),
      "--etcd",        "http://127.0.0.1:" + std::to_string(etcd_port),
      "--cluster-size", "3",
      "--lease-ttl-s", "4",  // keep-alive margin for a loaded CI machine
      "--argon2-mem-mib", "8",
      "--argon2-ops", "1",
      "--no-rate-limits",
      "--analytics-email", "tail@example.com",
      "--admin-email", "ops@example.com",
      "--match-interval-ms", "0"};  // matching rounds only on demand here
    extra.insert(extra.end(), more.begin(), more.end());
    return std::make_unique<node_process>((dir.path / ("n" + std::to_string(i + 1))).string(),
                                          http[i], extra);
  }

  std::string admin(int i, const std::string& command, const std::string& with_secret = secret) {
    auto cmd = std::string{"TT_ADMIN_SECRET='"} + with_secret + "' " + TT_ADMIN_BIN
               + " --node 127.0.0.1:" + std::to_string(cport[i]) + " --json -c '" + command + "'";
    return run(cmd).second;
  }
};

/// Owner node name per shard, from tt-admin shards.
std::map<uint32_t, std::string> owners(cluster_fixture& f, int via) {
  std::map<uint32_t, std::string> out;
  auto text = f.admin(via, "shards");
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_object())
    return out;
  for (auto& s : v.at("shards").as_array()) {
    auto& o = s.as_object();
    if (o.at("state").as_string() != "down")
      out[static_cast<uint32_t>(o.at("shard").as_int64())] = std::string(o.at("owner").as_string());
  }
  return out;
}

} // namespace

TEST_CASE("three nodes, one etcd: routing, node loss, restart, tt-admin") {
  if (!std::filesystem::exists(etcd_bin)) {
    MESSAGE("skipped: " << etcd_bin << " not installed (apt install etcd-server)");
    return;
  }
  setenv("TT_ADMIN_SECRET", secret, 1);
  cluster_fixture f;
  REQUIRE(f.start_etcd());
  for (int i = 0; i < 3; ++i) {
    f.nodes.push_back(f.make_node(i));
    f.nodes.back()->start();
  }
  for (auto& n : f.nodes)
    REQUIRE(n->wait_healthy(std::chrono::seconds(30)));
  // Every shard gets an owner once all three joined.
  std::map<uint32_t, std::string> own;
  for (int i = 0; i < 100 && own.size() < tt::shard_count; ++i) {
    own = owners(f, 0);
    if (own.size() < tt::shard_count)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(own.size() == tt::shard_count);
  std::set<std::string> names;
  for (auto& [s, n] : own)
    names.insert(n);
  CHECK(names.size() == 3);

  // The receiving side of a hand-off, driven directly by a test peer
  // (cluster_probe.cpp) as no real move reaches it: only the shard's current
  // owner may send it; a chunk with a key of another shard is refused whole;
  // an abort makes the target drop what the move's chunks wrote there.
  {
    const uint32_t s = 7;
    const std::string owner = own.at(s);
    const int target = owner == "n1" ? 1 : 0;
    const std::string target_name = "n" + std::to_string(target + 1);
    std::string bystander;
    for (auto& n : names)
      if (n != owner && n != target_name)
        bystander = n;
    auto probe = [&](const std::string& from, const std::string& args) {
      auto [rc, out] = run(std::string{TT_CLUSTER_PROBE_BIN} + " --node 127.0.0.1:"
                           + std::to_string(f.cport[target]) + " --shard " + std::to_string(s)
                           + " --from " + from + " " + args);
      CAPTURE(out);
      REQUIRE(rc == 0);
      return boost::json::parse(out.substr(0, out.find('\n'))).as_object();
    };
    auto target_has_timer_of = [&](const boost::json::value& id) {
      auto timers = boost::json::parse(f.admin(target, "timers"));
      for (auto& t : timers.at("timers").as_array())
        if (t.at("id") == id)
          return true;
      return false;
    };
    auto forged = probe(bystander, "import");
    CHECK(forged.at("ok") == false);
    CHECK(forged.at("code") == "forbidden");
    CHECK_FALSE(target_has_timer_of(forged.at("id")));
    auto foreign = probe(owner, "--foreign import");
    CHECK(foreign.at("ok") == false);
    CHECK_FALSE(target_has_timer_of(foreign.at("id")));
    auto chunk = probe(owner, "import");
    REQUIRE(chunk.at("ok") == true);
    CHECK(chunk.at("written").as_int64() == 2);  // the timer's two rows
    CHECK(target_has_timer_of(chunk.at("id")));
    auto aborted = probe(owner, "abort");
    REQUIRE(aborted.at("ok") == true);
    CHECK_FALSE(target_has_timer_of(chunk.at("id")));
    // The shard itself never left its owner.
    CHECK(owners(f, 0).at(s) == owner);
  }

  SUBCASE("tt-admin") {
    auto text = f.admin(1, "nodes");
    auto v = boost::json::parse(text);
    CHECK(v.at("nodes").as_array().size() == 3);
    for (auto& n : v.at("nodes").as_array())
      CHECK(n.at("status") == "up");
    auto [rc, out] = run(std::string{"TT_ADMIN_SECRET=wrong-secret-wrong-secret "} + TT_ADMIN_BIN
                         + " --node 127.0.0.1:" + std::to_string(f.cport[0]) + " -c nodes");
    CHECK(rc != 0);
    CHECK(out.find("forbidden") != std::string::npos);
    auto cfg = f.admin(2, "config");
    CHECK(cfg.find("test-admin-secret") == std::string::npos);
    CHECK(cfg.find("redacted") != std::string::npos);
  }

  // One account, registered through node 1 (its email index and account
  // live wherever their shards are), logs in through every edge.
  std::vector<std::unique_ptr<http_client>> owned_edges;
  auto connect_edges = [&] {
    owned_edges.clear();
    for (int i = 0; i < 3; ++i)
      owned_edges.push_back(std::make_unique<http_client>(f.http[i]));
  };
  connect_edges();
  auto edges = [&](int i) -> http_client& { return *owned_edges[static_cast<size_t>(i)]; };
  auto token = login(edges(0), "cluster@example.com");
  REQUIRE(!token.empty());
  for (int i = 1; i < 3; ++i)
    CHECK(edges(i).get("/api/v1/me", {bearer(token)}).status == 200);

  // 60 listings through the three edges; each served by every edge.
  struct listed {
    std::string id;
    std::string owner;
  };
  std::vector<listed> tickets;
  for (int k = 0; k < 60; ++k) {
    auto r = edges(k % 3).post("/api/v1/tickets", listing_body("cl", k), {bearer(token)});
    REQUIRE(r.status == 201);
    auto id = std::string(r.json().at("id").as_string());
    tickets.push_back({id, own.at(tt::shard_of(id))});
  }
  for (auto& t : tickets)
    for (int i = 0; i < 3; ++i)
      CHECK(edges(i).get("/api/v1/tickets/" + t.id).status == 200);

  // The marketplace on every node lists the tickets of every node (each node
  // follows its peers' logs).
  for (int i = 0; i < 3; ++i) {
    size_t seen = 0;
    for (int attempt = 0; attempt < 50 && seen < tickets.size(); ++attempt) {
      auto r = edges(i).get("/api/v1/marketplace?event_id=ev-cl&limit=100");
      REQUIRE(r.status == 200);
      seen = r.json().at("items").as_array().size();
      if (seen < tickets.size())
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CAPTURE(i);
    CHECK(seen == tickets.size());
  }

  // The owner's own lists span the nodes: /me/tickets through every edge
  // pages through all 60 tickets, though each node holds the index rows of
  // the tickets it owns only.
  auto my_tickets = [&](int edge, const std::string& who) {
    std::set<std::string> got;
    std::string cursor;
    for (int pages = 0; pages < 30; ++pages) {
      auto r = edges(edge).get("/api/v1/me/tickets?limit=7" + (cursor.empty() ? "" : "&cursor=" + cursor),
                               {bearer(who)});
      REQUIRE(r.status == 200);
      auto j = r.json();
      for (auto& it : j.at("items").as_array())
        CHECK(got.insert(std::string(it.at("id").as_string())).second);  // no id twice
      if (j.at("next_cursor").is_null())
        break;
      cursor = std::string(j.at("next_cursor").as_string());
    }
    return got;
  };
  {
    std::set<std::string> want;
    std::set<std::string> owners;
    for (auto& t : tickets) {
      want.insert(t.id);
      owners.insert(t.owner);
    }
    CHECK(owners.size() == 3);  // the listings really are spread
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(my_tickets(i, token) == want);
    }
  }

  // Deposits `ticket` (its listed barcode) into `trade` through an edge.
  auto deposit = [&](int edge, const std::string& trade, const std::string& ticket,
                     const std::string& barcode, const std::string& who) {
    return edges(edge).post("/api/v1/trades/" + trade + "/deposits",
                            R"({"ticket_id":")" + ticket + R"(","barcode":")" + barcode + R"("})",
                            {bearer(who)});
  };

  // Lists tickets of `who` until one lands on a node other than
  // `avoid_owner` (empty: any); its id and barcode.
  auto list_on = [&](const std::string& who, const std::string& tag,
                     const std::string& avoid_owner) -> std::pair<std::string, std::string> {
    for (int k = 0; k < 40; ++k) {
      auto r = edges(k % 3).post("/api/v1/tickets", listing_body(tag, k), {bearer(who)});
      REQUIRE(r.status == 201);
      auto id = std::string(r.json().at("id").as_string());
      if (own.at(tt::shard_of(id)) != avoid_owner)
        return {id, "BC-" + tag + "-" + std::to_string(k)};
    }
    FAIL("no listing landed on another node");
    return {};
  };

  // A cross-node swap: the two tickets, the trade and the wallets live on
  // different nodes; every call goes through a different edge.
  {
    auto alice = token;
    auto bob = login(edges(1), "bob-cluster@example.com");
    REQUIRE(!bob.empty());
    auto [ta, bca] = list_on(alice, "xa", "");
    auto [tb, bcb] = list_on(bob, "xb", own.at(tt::shard_of(ta)));
    CHECK(own.at(tt::shard_of(ta)) != own.at(tt::shard_of(tb)));
    REQUIRE(edges(2).post("/api/v1/me/deposits", R"({"amount_minor":1000,"currency":"USD"})",
                          {bearer(alice), {"Idempotency-Key", "x-dep-1"}})
              .status
            == 201);
    auto prop = edges(0).post("/api/v1/trades",
                              R"({"give":[")" + ta + R"("],"take":[")" + tb + R"("],"cash_minor":250})",
                              {bearer(alice)});
    REQUIRE(prop.status == 201);
    auto trade = std::string(prop.json().at("id").as_string());
    REQUIRE(edges(1).post("/api/v1/trades/" + trade + "/accept", "{}", {bearer(bob)}).status == 200);
    REQUIRE(deposit(2, trade, ta, bca, alice).status == 200);
    auto last = deposit(0, trade, tb, bcb, bob);
    REQUIRE(last.status == 200);
    CHECK(last.json().at("status") == "completed");
    auto alice_id = std::string(edges(1).get("/api/v1/me", {bearer(alice)}).json().at("id").as_string());
    auto bob_id = std::string(edges(2).get("/api/v1/me", {bearer(bob)}).json().at("id").as_string());
    CHECK(edges(2).get("/api/v1/tickets/" + ta).json().at("seller") == bob_id.c_str());
    CHECK(edges(0).get("/api/v1/tickets/" + tb).json().at("seller") == alice_id.c_str());
    CHECK(edges(1).get("/api/v1/me/wallet", {bearer(alice)}).json().at("available_minor") == 750);
    CHECK(edges(2).get("/api/v1/me/wallet", {bearer(bob)}).json().at("available_minor") == 250);
  }

  // Cluster-wide matching: two offers whose tickets live on different nodes
  // match (every node's matcher follows every log), the proposal routes to
  // the trade's owner, and the matched swap settles across nodes.
  {
    auto ops = login(edges(0), "ops@example.com");
    auto carol = login(edges(1), "carol-cluster@example.com");
    auto dave = login(edges(2), "dave-cluster@example.com");
    REQUIRE(!ops.empty());
    REQUIRE(!carol.empty());
    REQUIRE(!dave.empty());
    auto [tc, bcc] = list_on(carol, "mc", "");
    auto [td, bcd] = list_on(dave, "md", own.at(tt::shard_of(tc)));
    for (auto* t : {&tc, &td})
      REQUIRE(edges(0).put("/api/v1/admin/tickets/" + *t + "/valuation",
                           R"({"credit_minor":5000,"currency":"USD"})", {bearer(ops)})
                .status
              == 200);
    REQUIRE(edges(1).post("/api/v1/offers",
                          R"({"ticket_id":")" + tc + R"(","want":{"event_ids":["ev-md"]}})",
                          {bearer(carol)})
              .status
            == 201);
    REQUIRE(edges(2).post("/api/v1/offers",
                          R"({"ticket_id":")" + td + R"(","want":{"event_ids":["ev-mc"]}})",
                          {bearer(dave)})
              .status
            == 201);
    // Rounds on every node until one proposes; the trade id derives from the
    // offers, so whichever node proposes, it is the same trade.
    std::string trade;
    for (int attempt = 0; attempt < 60 && trade.empty(); ++attempt) {
      for (int i = 0; i < 3; ++i)
        edges(i).post("/api/v1/admin/matcher/rounds", "", {bearer(ops)});
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      for (int i = 0; i < 3 && trade.empty(); ++i) {
        auto r = edges(i).get("/api/v1/me/trades", {bearer(carol)});
        if (r.status != 200)
          continue;
        auto doc = r.json();
        for (auto& t : doc.at("items").as_array())
          if (t.at("kind") == "matched")
            trade = std::string(t.at("id").as_string());
      }
    }
    REQUIRE_MESSAGE(!trade.empty(), "no matched trade across nodes");
    REQUIRE(edges(0).post("/api/v1/trades/" + trade + "/accept", "", {bearer(carol)}).status == 200);
    auto acc = edges(1).post("/api/v1/trades/" + trade + "/accept", "", {bearer(dave)});
    REQUIRE(acc.status == 200);
    CHECK(acc.json().at("status") == "accepted");
    REQUIRE(deposit(2, trade, tc, bcc, carol).status == 200);
    auto last = deposit(0, trade, td, bcd, dave);
    REQUIRE(last.status == 200);
    CHECK(last.json().at("status") == "completed");
    auto carol_id = std::string(edges(1).get("/api/v1/me", {bearer(carol)}).json().at("id").as_string());
    CHECK(edges(2).get("/api/v1/tickets/" + td).json().at("seller") == carol_id.c_str());
  }

  // kill -9 n3: within its lease TTL (4 s) plus a poll, its shards answer
  // 503 fast; everything else keeps serving.
  const auto list_before_kill = my_tickets(0, token);
  CHECK(list_before_kill.size() >= tickets.size());
  f.nodes[2]->kill(SIGKILL);
  std::this_thread::sleep_for(std::chrono::milliseconds(5500));
  int down = 0, up = 0;
  for (auto& t : tickets) {
    for (int i = 0; i < 2; ++i) {
      auto t0 = std::chrono::steady_clock::now();
      auto r = edges(i).get("/api/v1/tickets/" + t.id);
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - t0)
                  .count();
      if (t.owner == "n3") {
        CHECK(r.status == 503);
        CHECK(!r.header("Retry-After").empty());
        CHECK(ms < 1000);
        ++down;
      } else {
        CHECK(r.status == 200);
        ++up;
      }
    }
  }
  CHECK(down > 0);
  CHECK(up > 0);
  // A list whose rows live on every node answers 503 while one is down
  // (never a list missing n3's part).
  {
    auto t0 = std::chrono::steady_clock::now();
    auto r = edges(0).get("/api/v1/me/tickets?limit=7", {bearer(token)});
    CHECK(r.status == 503);
    CHECK(!r.header("Retry-After").empty());
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(2));
  }
  auto nodes_now = boost::json::parse(f.admin(0, "nodes"));
  for (auto& n : nodes_now.at("nodes").as_array())
    CHECK(n.at("status") == (n.at("name") == "n3" ? "down" : "up"));

  // Restart n3: everything it acknowledged is served again, through every edge.
  f.nodes[2] = f.make_node(2);
  f.nodes[2]->start();
  REQUIRE(f.nodes[2]->wait_healthy(std::chrono::seconds(30)));
  for (int i = 0; i < 100; ++i) {
    if (owners(f, 0).size() == tt::shard_count)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  connect_edges();
  for (auto& t : tickets)
    for (int i = 0; i < 3; ++i) {
      auto r = edges(i).get("/api/v1/tickets/" + t.id);
      CHECK(r.status == 200);
    }
  // ... and the lists are whole again once every edge sees n3's gateway.
  for (int i = 0; i < 50 && edges(0).get("/api/v1/me/tickets?limit=1", {bearer(token)}).status != 200; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  CHECK(my_tickets(0, token) == list_before_kill);

  // Shard move under load: writes to the shard's tickets keep arriving (503s
  // during the hand-off are retried); afterwards every acknowledged write is
  // there, served by the new owner through every edge.
  auto own2 = owners(f, 0);
  REQUIRE(own2.size() == tt::shard_count);
  uint32_t shard = tt::shard_of(tickets[0].id);
  std::string from = own2.at(shard);
  std::string to = from == "n1" ? "n2" : "n1";
  int from_idx = from[1] - '1';
  std::vector<std::string> in_shard;
  for (auto& t : tickets)
    if (tt::shard_of(t.id) == shard)
      in_shard.push_back(t.id);
  std::map<std::string, int64_t> acked;  // ticket -> last acknowledged price
  std::atomic<bool> stop{false};
  std::atomic<int> retries{0};
  std::thread load([&] {
    http_client c{f.http[2]};
    int64_t price = 7000;
    while (!stop.load()) {
      for (auto& id : in_shard) {
        ++price;
        auto r = c.request(boost::beast::http::verb::patch, "/api/v1/tickets/" + id,
                           R"({"price_minor":)" + std::to_string(price) + "}", {bearer(token)});
        if (r.status == 200)
          acked[id] = price;
        else
          ++retries;
      }
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto moved = f.admin(from_idx, "shard move " + std::to_string(shard) + " " + to);
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  stop = true;
  load.join();
  MESSAGE("moved shard " << shard << " " << from << " -> " << to << ": " << moved << " ("
                         << retries.load() << " writes refused during the move)");
  CHECK(moved.find("\"to\":\"" + to + "\"") != std::string::npos);
  CHECK(owners(f, 0).at(shard) == to);
  REQUIRE(!acked.empty());
  for (auto& [id, price] : acked)
    for (int i = 0; i < 3; ++i) {
      auto r = edges(i).get("/api/v1/tickets/" + id);
      REQUIRE(r.status == 200);
      CHECK(r.json().at("price_minor").as_int64() == price);
    }
  // The old owner refuses to move what it no longer has.
  auto again = f.admin(from_idx, "shard move " + std::to_string(shard) + " " + to);
  CHECK(again.find("not served by this node") != std::string::npos);
  // The owner lists now come from the new owner's rows: a ticket of the
  // moved shard given away after the move leaves its seller's list and joins
  // the receiver's, through every edge (the old owner's rows are not read).
  {
    auto erin = login(edges(0), "erin-cluster@example.com");
    auto me = edges(1).get("/api/v1/me", {bearer(erin)});
    REQUIRE(me.status == 200);
    auto erin_id = std::string(me.json().at("id").as_string());
    const auto& gift = in_shard.front();
    auto r = edges(2).post("/api/v1/tickets/" + gift + "/transfer",
                           R"({"to_account_id":")" + erin_id + R"("})", {bearer(token)});
    REQUIRE(r.status == 200);
    auto mine = list_before_kill;
    REQUIRE(mine.erase(gift) == 1);
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(my_tickets(i, token) == mine);
      CHECK(my_tickets(i, erin) == std::set<std::string>{gift});
    }
    // tt-admin on any node shows the moved ticket's events and snapshot: a
    // node that does not own the shard runs the command on the owner.
    std::string first_events;
    for (int i = 0; i < 3; ++i) {
      CAPTURE(i);
      auto ev = f.admin(i, "entity events ticket " + gift);
      boost::system::error_code ec;
      auto j = boost::json::parse(ev, ec);
      REQUIRE_MESSAGE(!ec, ev);
      auto& arr = j.at("events").as_array();
      CHECK(arr.size() >= 3);  // listed, price updates, transferred
      CHECK(arr.back().at("type") == "ticket_transferred");
      if (i == 0)
        first_events = ev;
      CHECK(ev == first_events);
      auto snap = boost::json::parse(f.admin(i, "snapshot ticket " + gift), ec);
      REQUIRE(!ec);
      CHECK(snap.at("last_seq").as_int64() == static_cast<int64_t>(arr.size()));
    }
  }

  // A move interrupted by the target's death (kill -9 just before it): the
  // move is refused or aborted, and the old owner still owns the shard with
  // all its data.
  {
    auto own3 = owners(f, 0);
    REQUIRE(own3.size() == tt::shard_count);
    uint32_t s2 = tt::shard_of(tickets[1].id);
    std::string owner = own3.at(s2);
    std::string target = owner == "n2" ? "n3" : "n2";
    int owner_idx = owner[1] - '1', target_idx = target[1] - '1';
    std::map<std::string, std::string> before;  // ticket -> body
    for (auto& t : tickets)
      if (tt::shard_of(t.id) == s2)
        before[t.id] = edges(owner_idx).get("/api/v1/tickets/" + t.id).body;
    f.nodes[static_cast<size_t>(target_idx)]->kill(SIGKILL);
    auto res = f.admin(owner_idx, "shard move " + std::to_string(s2) + " " + target);
    MESSAGE("move to a dead node: " << res);
    CHECK(res.find("\"to\"") == std::string::npos);  // not moved
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    CHECK(owners(f, owner_idx).at(s2) == owner);
    for (auto& [id, body] : before) {
      auto r = edges(owner_idx).get("/api/v1/tickets/" + id);
      CHECK(r.status == 200);
      CHECK(r.body == body);
    }
    f.nodes[static_cast<size_t>(target_idx)] = f.make_node(target_idx);
    f.nodes[static_cast<size_t>(target_idx)]->start();
    REQUIRE(f.nodes[static_cast<size_t>(target_idx)]->wait_healthy(std::chrono::seconds(30)));
    for (int i = 0; i < 100 && owners(f, 0).size() < tt::shard_count; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    connect_edges();
  }

  // etcd lost: every node stops acting for its shards once its lease would
  // have expired (503 everywhere, nothing hangs); etcd back: the nodes
  // re-register, re-claim their shards (new epochs) and serve everything.
  ::kill(f.etcd.pid, SIGSTOP);
  std::this_thread::sleep_for(std::chrono::milliseconds(3500));
  for (int i = 0; i < 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    auto r = edges(i).get("/api/v1/tickets/" + tickets[0].id);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
    CHECK(r.status == 503);
    CHECK(ms < 1000);
  }
  ::kill(f.etcd.pid, SIGCONT);
  bool back = false;
  for (int i = 0; i < 150 && !back; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    back = owners(f, 0).size() == tt::shard_count;
  }
  CHECK(back);
  connect_edges();
  for (auto& t : tickets) {
    auto& c = edges(static_cast<int>(t.id[0]) % 3);
    int status = 0;
    for (int i = 0; i < 50 && status != 200; ++i) {  // a peer may still be re-claiming
      status = c.get("/api/v1/tickets/" + t.id).status;
      if (status != 200)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    CHECK(status == 200);
  }

  // tt-tail --cluster: one consumer follows all three logs, one committed
  // offset per node; every event lands in FILE exactly once, a second run
  // adds nothing.
  auto tail_token = login(edges(0), "tail@example.com");
  REQUIRE(!tail_token.empty());
  uint64_t total = 0;
  for (int i = 0; i < 3; ++i) {
    auto r = edges(i).get("/api/v1/events?from=1&limit=1", {bearer(tail_token)});
    REQUIRE(r.status == 200);
    total += static_cast<uint64_t>(r.json().at("end_offset").as_int64()) - 1;
  }
  auto out = (f.dir.path / "tail.jsonl").string();
  auto tail_cmd = std::string{TT_TAIL_BIN} + " --cluster --node 127.0.0.1:"
                  + std::to_string(f.http[0]) + " --token " + tail_token
                  + " --consumer everything --out " + out;
  CHECK(run(tail_cmd).first == 0);
  auto count_lines = [&] {
    std::ifstream in(out);
    std::map<std::string, std::set<int64_t>> seen;
    std::string line;
    size_t n = 0;
    while (std::getline(in, line)) {
      auto v = boost::json::parse(line);
      seen[std::string(v.at("node").as_string())].insert(v.at("offset").as_int64());
      ++n;
    }
    size_t distinct = 0;
    for (auto& [node, offs] : seen)
      distinct += offs.size();
    CHECK(distinct == n);  // no event twice
    CHECK(seen.size() == 3);
    return n;
  };
  CHECK(count_lines() >= total);
  auto first = count_lines();
  CHECK(run(tail_cmd).first == 0);
  CHECK(count_lines() == first);

  for (auto& n : f.nodes)
    n->kill(SIGTERM);
}

TEST_CASE("tt-admin against a single embedded node: every command") {
  setenv("TT_ADMIN_SECRET", secret, 1);
  temp_dir dir;
  auto http = free_port(), cport = free_port();
  node_process n{(dir.path / "node").string(), http,
                 {"--cluster-port", std::to_string(cport), "--no-rate-limits", "--argon2-mem-mib",
                  "8", "--argon2-ops", "1"}};
  n.start();
  REQUIRE(n.wait_healthy());
  http_client c{http};
  auto token = login(c, "admin-shell@example.com");
  REQUIRE(!token.empty());
  auto r = c.post("/api/v1/tickets", listing_body("adm", 1), {bearer(token)});
  REQUIRE(r.status == 201);
  auto id = std::string(r.json().at("id").as_string());
  REQUIRE(c.request(boost::beast::http::verb::patch, "/api/v1/tickets/" + id,
                    R"({"price_minor":4321})", {bearer(token)})
            .status
          == 200);
  auto admin = [&](const std::string& cmd, bool as_json = true) {
    return run(std::string{"TT_ADMIN_SECRET='"} + secret + "' " + TT_ADMIN_BIN
               + " --node 127.0.0.1:" + std::to_string(cport) + (as_json ? " --json" : "")
               + " -c '" + cmd + "'");
  };
  auto json_of = [&](const std::string& cmd) {
    auto [rc, out] = admin(cmd);
    CAPTURE(cmd);
    CAPTURE(out);
    CHECK(rc == 0);
    boost::system::error_code ec;
    auto v = boost::json::parse(out, ec);
    CHECK(!ec);
    return v;
  };
  auto nodes = json_of("nodes");
  CHECK(nodes.at("nodes").as_array().size() == 1);
  auto shards = json_of("shards");
  CHECK(shards.at("shards").as_array().size() == tt::shard_count);
  auto shown = json_of("entity show ticket " + id);
  CHECK(shown.at("price_minor") == 4321);
  auto events = json_of("entity events ticket " + id);
  REQUIRE(events.at("events").as_array().size() == 2);
  CHECK(events.at("events").as_array()[1].at("type") == "ticket_updated");
  auto later = json_of("entity events ticket " + id + " --from 2");
  CHECK(later.at("events").as_array().size() == 1);
  auto snap = json_of("snapshot ticket " + id);
  CHECK(snap.at("last_seq") == 2);
  auto pass = json_of("passivate ticket " + id);
  CHECK(pass.at("was_active") == true);
  auto timers = json_of("timers");
  CHECK(timers.at("timers").is_array());
  auto stats = json_of("stats");
  CHECK(stats.at("events_total").as_int64() >= 3);
  // The journal's synced writes: a latency above zero, p50 <= p99 <= max.
  auto& w = stats.at("journal_write_us");
  CHECK(w.at("p50").to_number<int64_t>() > 0);
  CHECK(w.at("p50").to_number<int64_t>() <= w.at("p99").to_number<int64_t>());
  CHECK(w.at("p99").to_number<int64_t>() <= w.at("max").to_number<int64_t>());
  CHECK(stats.at("events_per_s").is_number());  // integer: a few events over seconds may be 0
  CHECK(stats.at("mailbox_depths").is_object());
  REQUIRE(stats.as_object().contains("matcher"));
  CHECK(stats.at("matcher").at("rounds").is_number());
  auto match = json_of("match");
  CHECK(match.at("round").as_int64() >= 1);
  CHECK(match.at("pairs").as_int64() == 0);
  auto cfg = json_of("config");
  CHECK(cfg.at("config").at("cluster_port") == cport);
  // Tables for people, clear errors for mistakes.
  auto [rc_t, table] = admin("shards", false);
  CHECK(rc_t == 0);
  CHECK(table.find("SHARD") != std::string::npos);
  auto [rc_bad, bad] = admin("entity show dragon " + id);
  CHECK(rc_bad != 0);
  CHECK(bad.find("unknown kind") != std::string::npos);
  auto [rc_move, move] = admin("shard move 3 n2");
  CHECK(rc_move != 0);
  CHECK(move.find("cluster mode") != std::string::npos);
  // A node told to join an unreachable etcd says so and exits.
  auto [rc_etcd, etcd_out] = run(std::string{TT_NODE_BIN} + " --data-dir " + (dir.path / "x").string()
                                 + " --http-port 0 --node-name x --cluster-port "
                                 + std::to_string(free_port()) + " --etcd http://127.0.0.1:1");
  CHECK(rc_etcd != 0);
  CHECK(etcd_out.find("cannot reach etcd") != std::string::npos);
  // The PostgreSQL marketplace holds one node's log: refused in a cluster.
  auto [rc_pg, pg_out] = run(std::string{TT_NODE_BIN} + " --data-dir " + (dir.path / "y").string()
                             + " --http-port 0 --node-name y --cluster-port "
                             + std::to_string(free_port()) + " --etcd http://127.0.0.1:1"
                             + " --postgres postgresql://127.0.0.1:1/tt --marketplace-source postgres");
  CHECK(rc_pg != 0);
  CHECK(pg_out.find("served from memory") != std::string::npos);
  // tt-admin against a port where nothing listens fails at once, clearly.
  auto [rc_dead, dead] = run(std::string{"TT_ADMIN_SECRET=x "} + TT_ADMIN_BIN
                             + " --node 127.0.0.1:" + std::to_string(free_port()) + " -c nodes");
  CHECK(rc_dead != 0);
  CHECK(dead.find("cannot connect") != std::string::npos);
  auto [rc_help, help] = admin("help", false);
  CHECK(rc_help == 0);
  CHECK(help.find("shard move") != std::string::npos);
  n.kill(SIGTERM);
}

TEST_CASE("three nodes share one PostgreSQL: each node projects its own log under its own name") {
  // Nodes of a cluster may share one database (persistence/migrations/
  // 005_log_names.sql): their log offsets overlap, so each projects under
  // "node:NAME", and the rows keyed by offset carry that name.
  if (!std::filesystem::exists(etcd_bin)) {
    MESSAGE("skipped: etcd-server is not installed");
    return;
  }
  setenv("TT_ADMIN_SECRET", secret, 1);
  auto pg_ptr = started_pg();
  if (!pg_ptr)
    return;
  auto& pg = *pg_ptr;
  cluster_fixture f;
  REQUIRE(f.start_etcd());
  for (int i = 0; i < 3; ++i) {
    f.nodes.push_back(f.make_node(i, {"--postgres", pg.url()}));
    f.nodes.back()->start();
  }
  for (auto& n : f.nodes)
    REQUIRE(n->wait_healthy(std::chrono::seconds(30)));
  for (int i = 0; i < 100 && owners(f, 0).size() < tt::shard_count; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  REQUIRE(owners(f, 0).size() == tt::shard_count);

  http_client c0{f.http[0]};
  auto token = login(c0, "pg-cluster@example.com");
  REQUIRE(!token.empty());
  std::vector<std::string> ids;
  for (int k = 0; k < 30; ++k) {
    http_client c{f.http[k % 3]};
    auto r = c.post("/api/v1/tickets", listing_body("pgc", k), {bearer(token)});
    REQUIRE(r.status == 201);
    ids.push_back(std::string(r.json().at("id").as_string()));
  }
  // Each node's projection catches up with its own log's end.
  auto log_end = [&](int i) {
    auto stats = boost::json::parse(f.admin(i, "stats"));
    return stats.at("log_next_offset").as_int64() - 1;
  };
  auto projected = [&](int i) {
    return pg.number(R"(SELECT coalesce(max("offset"), 0) FROM projection_offsets WHERE name = 'node:n)"
                     + std::to_string(i + 1) + "'");
  };
  int with_events = 0;
  for (int i = 0; i < 3; ++i) {
    CAPTURE(i);
    auto end = log_end(i);
    for (int k = 0; k < 200 && projected(i) < end; ++k)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CHECK(projected(i) == end);
    auto log = "'node:n" + std::to_string(i + 1) + "'";
    CHECK(pg.number("SELECT count(*) FROM audit_log WHERE log = " + log) == end);
    if (end > 0)
      ++with_events;
  }
  CHECK(with_events >= 2);  // overlapping offsets really were projected side by side
  std::string in;
  for (auto& id : ids)
    in += (in.empty() ? "'" : ", '") + id + "'";
  CHECK(pg.number("SELECT count(*) FROM tickets WHERE id IN (" + in + ")") == 30);
  CHECK(pg.number("SELECT count(*) FROM projection_offsets WHERE name = 'main'") == 0);
}
