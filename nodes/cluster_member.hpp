#pragma once
// Cluster membership and shard ownership through etcd (issue #5).
//
// Keys (all under `prefix`, default "/tt/"):
//   nodes/NAME    {"name","node_id","cluster","http","started_ms"}  leased: the live node list
//   members/NAME  {"name","node_id","cluster","http"}  not leased: every node that ever joined
//   homes/SSS     NAME  not leased: the node whose data dir holds shard SSS (written once by CAS)
//   owners/SSS    {"node","node_id"}  leased by the owner: who serves SSS now; its
//                 mod_revision is the shard's epoch (a claim or a move writes it)
//   secrets/FILE  the cluster-wide node.key and jwt.keys (first node's win)
//
// Rules (pure functions below, unit-tested): homes are assigned by rendezvous
// hashing over the member names once `cluster_size` nodes have joined, and
// never change except by a shard move. A node claims the owner key of every
// shard whose home it is (CAS on create_revision == 0, bound to its lease), so
// a shard is served only by its home, only while the home's lease is alive,
// and comes back to it after a restart (its journal is in that node's data
// dir). Shards whose owner is down answer `unavailable` at once.
//
// Threading: one loop thread owns the etcd client; it publishes ownership to
// the shard fence (epochs, lease deadline) and the route table that regions
// read. `view()` is safe from any thread. The keep-alive and the etcd watch
// have their own threads and connections. Peers are connected off the loop:
// the loop asks for a connect (at most one attempt in flight per peer) and
// routes only to peers already connected; each attempt runs in its own
// short-lived detached actor (TCP probe, CAF connect, cluster_hello, each
// with a timeout) and publishes the peer's regions into shared state. So a
// slow or vanished peer never stalls ownership, re-joins or watch reactions.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "actors/cluster_routes.hpp"
#include "caf/fwd.hpp"
#include "messages/cluster_regions.hpp"
#include "nodes/etcd_client.hpp"

namespace tt::persistence {
class shard_fence;
}

namespace tt::nodes {

class etcd_client;
struct cluster_peer_links;  // shared with the connect attempts (cluster_member.cpp)

struct cluster_config {
  std::string node_name;
  std::string cluster_host = "127.0.0.1";  // advertised host of the cluster port
  uint16_t cluster_port = 0;
  std::string http_address;  // advertised host:port of the edge
  std::vector<std::string> etcd;
  std::string prefix = "/tt/";
  int64_t lease_ttl_s = 3;
  /// Rounds run when the etcd watch reports a change, and at least this
  /// often (keep-alives, and a safety net if the watch stream is down).
  std::chrono::milliseconds poll{250};
  unsigned cluster_size = 1;  // homes are assigned once this many nodes joined
  std::string admin_secret;
};

/// The highest rendezvous score over `names` for `shard` ("" when empty).
std::string rendezvous_home(uint32_t shard, const std::vector<std::string>& names);

/// One shard's decision for one loop round.
struct shard_decision {
  enum action_t { serve, claim, route_remote, down } action = down;
};

/// Decides what this node does about a shard given its home, its current
/// owner (empty node_id: none) and whether that owner is a live node.
shard_decision decide_shard(const std::string& me, const std::string& my_node_id,
                            const std::string& home, const std::string& owner_node_id,
                            bool owner_live, bool lease_alive);

/// The fence deadline after a keep-alive sent at `sent_ms` succeeded: the
/// lease is trusted for 3/4 of its TTL from the *send* time, so the node stops
/// writing before etcd could expire the lease and hand its keys to anyone.
int64_t lease_deadline_ms(int64_t sent_ms, int64_t ttl_s);

/// Applies one keep-alive outcome to the fence: `ttl_left` > 0 (renewed):
/// deadline = lease_deadline_ms(sent_ms, ttl_s); 0 (etcd says the lease is
/// gone): deadline 0 and true (lost: re-join); nullopt (no answer): the
/// deadline stays and runs out on its own. Returns whether the lease is lost.
bool apply_keepalive(persistence::shard_fence& fence, int64_t sent_ms, int64_t ttl_s,
                     std::optional<int64_t> ttl_left);

/// Connection bookkeeping for peers, by node id (pure; not thread-safe; times
/// are the caller's clock in ms). At most one connect attempt per peer is in
/// flight; a failed or abandoned one is retried no sooner than `retry_ms`
/// later; an attempt still running after `abandon_ms` is abandoned (the peer
/// stays unreachable, its shards answer 503) and its late result ignored.
class peer_table {
public:
  static constexpr int64_t retry_ms = 1000;
  static constexpr int64_t abandon_ms = 10000;

  struct slot {
    std::string name;
    std::shared_ptr<const node_regions> regions;  // set once connected
    cluster_gateway_actor gateway;
    uint64_t attempt = 0;  // the attempt in flight (0: none)
    int64_t started_ms = 0;
    int64_t retry_at_ms = 0;
  };

  /// Starts an attempt for a peer that is neither connected nor being
  /// connected and whose back-off has passed: returns its id (never 0);
  /// otherwise 0.
  uint64_t want(const std::string& node_id, const std::string& name, int64_t now);
  /// Attempt `attempt` connected. False (nothing changes) if it was abandoned
  /// or the peer forgotten meanwhile.
  bool connected(const std::string& node_id, uint64_t attempt,
                 std::shared_ptr<const node_regions> regions, cluster_gateway_actor gw);
  /// Attempt `attempt` failed: retry after the back-off. False if stale.
  bool failed(const std::string& node_id, uint64_t attempt, int64_t now);
  /// Abandons attempts started more than abandon_ms ago; returns the names.
  std::vector<std::string> abandon_overdue(int64_t now);
  /// Forgets every peer not in `node_ids` (left, or restarted: new id).
  void retain(const std::set<std::string>& node_ids);

  std::shared_ptr<const node_regions> regions(const std::string& node_id) const;
  std::optional<cluster_gateway_actor> gateway_by_name(const std::string& name) const;
  size_t in_flight() const;

private:
  std::map<std::string, slot> slots_;
  uint64_t next_attempt_ = 1;
};

struct cluster_node_info {
  std::string name;
  std::string node_id;
  std::string cluster;  // host:port
  std::string http;
  int64_t started_ms = 0;
  bool live = false;
  unsigned shards = 0;  // owned now
};

struct cluster_shard_info {
  std::string home;
  std::string owner;  // node name, empty: none
  uint64_t epoch = 0;
  uint8_t state = 0;  // actors::shard_route::state_t
};

/// The outcome of a shard move's etcd transaction.
enum class move_commit { committed, refused, unknown };

/// A move's commit transaction (owner key := `owner_value` if its
/// mod_revision is still `epoch`, home key := `to`, both in one revision) got
/// no answer, and the owner key no longer has revision `epoch` (or a bump of
/// it failed), so the transaction can no longer apply later. Decides from the
/// owner and home keys as read afterwards (nullopt: absent) whether it did:
/// committed if the owner key holds exactly the move's value (the target owns
/// the shard), or if the home key says `to` *and* was written after `epoch`
/// (the transaction writes it even when it already said `to`, so an older
/// home of `to` proves nothing); refused otherwise.
move_commit lost_commit_outcome(const std::optional<etcd_kv>& owner,
                                const std::optional<etcd_kv>& home, uint64_t epoch,
                                const std::string& to, const std::string& owner_value);

struct cluster_view {
  std::string me;
  std::string node_id;
  bool lease_alive = false;
  std::vector<cluster_node_info> nodes;
  std::vector<cluster_shard_info> shards;  // 256 entries
  uint64_t loops = 0;
  std::string last_error;
};

/// The shards whose home is `v.me`: a node contributes only their index rows
/// to the cluster-wide lists (a moved shard's old owner may still hold stale
/// rows until it drops them; they are never read).
inline std::vector<bool> home_shards(const cluster_view& v) {
  std::vector<bool> out(shard_count, false);
  for (size_t s = 0; s < v.shards.size() && s < shard_count; ++s)
    out[s] = v.shards[s].home == v.me;
  return out;
}

class cluster_member {
public:
  cluster_member(cluster_config cfg, caf::actor_system& sys,
                 std::shared_ptr<persistence::shard_fence> fence,
                 std::shared_ptr<actors::cluster_routes> routes);
  ~cluster_member();

  /// Connects to etcd, grants the lease and registers this node. False (with
  /// a clear `error`) when etcd cannot be reached. Does not start the loop.
  bool join(std::string* error);

  /// Starts the lease keep-alive, runs the first round (claims this node's
  /// shards; gives the peer connects it started up to 3 s), then starts the
  /// loop and the watch threads.
  void start();

  /// Stops the loop and revokes the lease (peers see the shards down at
  /// once instead of after the TTL). Idempotent.
  void stop();

  cluster_view view() const;
  const std::string& node_id() const { return node_id_; }
  int64_t lease() const { return lease_atomic_.load(); }

  // -- shard hand-off (called by the gateway actor; thread-safe) ---------------

  /// Stops serving `shard` (fence epoch 0, route down) and keeps the loop
  /// from serving it again until end_move. Returns the epoch it was served
  /// at, or 0 if this node does not serve it (nothing changes then).
  uint64_t begin_move(uint32_t shard);

  /// Lets the loop decide about `shard` again (after a commit it is routed
  /// to the new owner; after an abort it is served here at the old epoch).
  void end_move(uint32_t shard);

  /// The one etcd transaction of a move: if `owners/SSS` still has
  /// mod_revision `epoch`, it now names `to` (bound to `to_lease`) and
  /// `homes/SSS` is `to` (committed). Otherwise nothing changed (refused,
  /// and why). When etcd does not answer the transaction, it first makes sure
  /// the transaction can never apply later (rewrites the owner key unchanged
  /// if it is still at `epoch`: a new epoch for this node), then reads the
  /// home key to tell which (for ~2 s); `unknown` if etcd stays silent.
  /// Blocking: called on the gateway's own thread.
  move_commit commit_move(uint32_t shard, uint64_t epoch, const std::string& to,
                          const std::string& to_node_id, int64_t to_lease, std::string* error);

  /// A live peer's gateway (once a connect attempt reached it; nullopt before).
  std::optional<cluster_gateway_actor> peer_gateway(const std::string& name) const;

  /// Exchanges the cluster-wide secret files with etcd (see the key list):
  /// an existing value in etcd wins over the local file (which is replaced
  /// unless `dir` already holds a journal, then it is an error); a missing
  /// one is uploaded from the local file. Call before loading keys.
  static bool sync_secret_file(etcd_client& etcd, const std::string& prefix,
                               const std::string& path, bool has_data, bool upload,
                               std::string* error);

private:
  void loop();
  void round();
  // Asks for connects to live peers not connected yet; returns the connected
  // peers' regions by node id (never blocks on the network).
  std::map<std::string, std::shared_ptr<const node_regions>>
  connect_peers(const std::map<std::string, cluster_node_info>& live);

  cluster_config cfg_;
  caf::actor_system& sys_;
  std::shared_ptr<persistence::shard_fence> fence_;
  std::shared_ptr<actors::cluster_routes> routes_;
  std::unique_ptr<etcd_client> etcd_;
  std::string node_id_;
  int64_t lease_ = 0;
  std::atomic<bool> lease_lost_{false};
  std::atomic<bool> running_{false};
  std::thread thread_;
  // The watch: its own connection and thread; wakes the loop on changes.
  std::unique_ptr<etcd_client> watcher_;
  std::thread watch_thread_;
  std::mutex wake_mtx_;
  std::condition_variable wake_cv_;
  bool wake_ = false;
  void watch_loop();
  // The keep-alive: its own connection and thread (never starved by a round).
  std::unique_ptr<etcd_client> keeper_;
  std::thread keepalive_thread_;
  std::condition_variable keepalive_cv_;
  void keepalive_loop();
  // Peer connections: shared with the connect attempts (which may outlive
  // this object by a moment; they hold the shared_ptr, never `this`).
  std::shared_ptr<cluster_peer_links> links_;
  std::set<uint32_t> moving_;  // shards mid-hand-off (mtx_)
  std::atomic<int64_t> lease_atomic_{0};
  mutable std::mutex mtx_;
  cluster_view view_;
};

} // namespace tt::nodes
