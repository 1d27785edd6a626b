// Shard ownership rules of the cluster (nodes/cluster_member.hpp): homes by
// rendezvous hashing, and what a node does about each shard.
#include <doctest/doctest.h>

#include <map>
#include <set>

#include "messages/entity.hpp"
#include "nodes/cluster_member.hpp"
#include "nodes/etcd_client.hpp"

using namespace tt::nodes;

TEST_CASE("rendezvous homes: deterministic, balanced, minimal movement") {
  std::vector<std::string> three{"n1", "n2", "n3"};
  std::vector<std::string> shuffled{"n3", "n1", "n2"};
  std::map<std::string, int> count;
  for (uint32_t s = 0; s < tt::shard_count; ++s) {
    auto h = rendezvous_home(s, three);
    CHECK(h == rendezvous_home(s, shuffled));  // order of the member list is irrelevant
    ++count[h];
  }
  REQUIRE(count.size() == 3);
  for (auto& [n, c] : count) {
    CAPTURE(n);
    CHECK(c > 60);  // 256 / 3 = 85 expected; no node starves
    CHECK(c < 112);
  }
  // Balanced for other names and sizes too (FNV alone gave 166/90 for two
  // nodes and 256/0 for "ghost"/"n1").
  for (const std::vector<std::string>& names :
       {std::vector<std::string>{"n1", "n2"}, std::vector<std::string>{"ghost", "n1"},
        std::vector<std::string>{"tt-node-0", "tt-node-1", "tt-node-2"},
        std::vector<std::string>{"a", "b", "c", "d", "e"}}) {
    std::map<std::string, int> per;
    for (uint32_t s = 0; s < tt::shard_count; ++s)
      ++per[rendezvous_home(s, names)];
    REQUIRE(per.size() == names.size());
    double fair = 256.0 / static_cast<double>(names.size());
    for (auto& [n, c] : per) {
      CAPTURE(n);
      CHECK(c > fair * 0.7);
      CHECK(c < fair * 1.3);
    }
  }
  // A fourth member takes shards only for itself: no shard moves between the
  // old three (homes are written once anyway; this is why the rule is stable).
  std::vector<std::string> four{"n1", "n2", "n3", "n4"};
  for (uint32_t s = 0; s < tt::shard_count; ++s) {
    auto before = rendezvous_home(s, three);
    auto after = rendezvous_home(s, four);
    CHECK((after == before || after == "n4"));
  }
  CHECK(rendezvous_home(7, {}).empty());
}

TEST_CASE("decide_shard: only the home claims, only with a live lease; never two owners") {
  // Unowned: the home claims while its lease lives; nobody else does.
  CHECK(decide_shard("n1", "id1", "n1", "", false, true).action == shard_decision::claim);
  CHECK(decide_shard("n1", "id1", "n1", "", false, false).action == shard_decision::down);
  CHECK(decide_shard("n2", "id2", "n1", "", false, true).action == shard_decision::down);
  // No home yet (cluster still forming): down everywhere.
  CHECK(decide_shard("n1", "id1", "", "", false, true).action == shard_decision::down);
  // Owned by this process: serve while the lease lives.
  CHECK(decide_shard("n1", "id1", "n1", "id1", true, true).action == shard_decision::serve);
  CHECK(decide_shard("n1", "id1", "n1", "id1", true, false).action == shard_decision::down);
  // Owned by an earlier incarnation of this node (same name, other node id):
  // wait until its lease expires and the key vanishes; never serve beside it.
  CHECK(decide_shard("n1", "id1-new", "n1", "id1-old", false, true).action
        == shard_decision::down);
  // Owned by a live peer: route there; by a dead one: down (503), no takeover.
  CHECK(decide_shard("n2", "id2", "n1", "id1", true, true).action == shard_decision::route_remote);
  CHECK(decide_shard("n2", "id2", "n1", "id1", false, true).action == shard_decision::down);
}

TEST_CASE("etcd endpoints parse or fail clearly") {
  std::vector<std::string> eps;
  std::string err;
  CHECK(etcd_client::parse_endpoints("http://127.0.0.1:2379,http://h2:2380", &eps, &err));
  CHECK(eps.size() == 2);
  CHECK_FALSE(etcd_client::parse_endpoints("https://x:1", &eps, &err));
  CHECK(err.find("https://x:1") != std::string::npos);
  CHECK_FALSE(etcd_client::parse_endpoints("http://nohost", &eps, &err));
  CHECK_FALSE(etcd_client::parse_endpoints("", &eps, &err));
}

TEST_CASE("etcd client: an unreachable endpoint is an error, not a hang") {
  etcd_client c{{"http://127.0.0.1:1"}, std::chrono::milliseconds(300)};
  auto t0 = std::chrono::steady_clock::now();
  CHECK_FALSE(c.lease_grant(3).has_value());
  CHECK_FALSE(c.last_error().empty());
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(3));
}

TEST_CASE("a move's commit without an answer: what etcd shows afterwards decides") {
  const uint64_t epoch = 500;
  const std::string to = "n3";
  const std::string value = R"({"node":"n3","node_id":"id-n3"})";
  auto kv = [](std::string v, int64_t mod_revision) {
    etcd_kv k;
    k.value = std::move(v);
    k.mod_revision = mod_revision;
    return std::optional<etcd_kv>{k};
  };
  const std::optional<etcd_kv> absent;
  // The transaction applied: the owner key holds its value and the home key
  // was written with it.
  CHECK(lost_commit_outcome(kv(value, 512), kv(to, 512), epoch, to, value) == move_commit::committed);
  // It applied, then the target's lease expired (owner key gone): the home
  // key, written after the epoch, still tells.
  CHECK(lost_commit_outcome(absent, kv(to, 512), epoch, to, value) == move_commit::committed);
  // The target itself claimed the shard with the same value: it owns it.
  CHECK(lost_commit_outcome(kv(value, 530), kv(to, 100), epoch, to, value) == move_commit::committed);
  // It did not apply and the owner key moved on (this node's lease expired):
  // a move back to the shard's home finds the home key saying `to` already,
  // from before the move. That is not proof: refused.
  CHECK(lost_commit_outcome(absent, kv(to, 100), epoch, to, value) == move_commit::refused);
  CHECK(lost_commit_outcome(absent, kv(to, 500), epoch, to, value) == move_commit::refused);
  // Another node took the shard; the home names someone else or nothing.
  CHECK(lost_commit_outcome(kv(R"({"node":"n2","node_id":"id-n2"})", 520), kv("n2", 520), epoch,
                            to, value)
        == move_commit::refused);
  CHECK(lost_commit_outcome(absent, absent, epoch, to, value) == move_commit::refused);
  // The owner names the target but from another process (a restart): only
  // the home key's revision could prove the move.
  CHECK(lost_commit_outcome(kv(R"({"node":"n3","node_id":"id-n3-old"})", 520), kv(to, 90), epoch,
                            to, value)
        == move_commit::refused);
}
