#include "nodes/cluster_member.hpp"

#include <boost/json.hpp>


#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/io/middleman.hpp"
#include "caf/io/middleman_actor.hpp"
#include "caf/send.hpp"
#include "messages/entity.hpp"
#include "messages/errc.hpp"
#include "messages/log.hpp"
#include "nodes/etcd_client.hpp"
#include "nodes/tcp_probe.hpp"
#include "persistence/node_keys.hpp"
#include "persistence/shard_fence.hpp"

namespace tt::nodes {

namespace json = boost::json;
using actors::shard_route;

std::string rendezvous_home(uint32_t shard, const std::vector<std::string>& names) {
  std::string best;
  uint64_t best_score = 0;
  for (auto& n : names) {
    auto score = rendezvous_score(n, shard);
    if (best.empty() || score > best_score || (score == best_score && n < best)) {
      best = n;
      best_score = score;
    }
  }
  return best;
}

move_commit lost_commit_outcome(const std::optional<etcd_kv>& owner,
                                const std::optional<etcd_kv>& home, uint64_t epoch,
                                const std::string& to, const std::string& owner_value) {
  if (owner && owner->value == owner_value)
    return move_commit::committed;
  if (home && home->value == to && home->mod_revision > static_cast<int64_t>(epoch))
    return move_commit::committed;
  return move_commit::refused;
}

shard_decision decide_shard(const std::string& me, const std::string& my_node_id,
                            const std::string& home, const std::string& owner_node_id,
                            bool owner_live, bool lease_alive) {
  if (!owner_node_id.empty()) {
    if (owner_node_id == my_node_id)
      return {lease_alive ? shard_decision::serve : shard_decision::down};
    return {owner_live ? shard_decision::route_remote : shard_decision::down};
  }
  // No owner: only the home may claim it (its data lives there), and only
  // with a live lease.
  if (home == me && lease_alive)
    return {shard_decision::claim};
  return {shard_decision::down};
}

int64_t lease_deadline_ms(int64_t sent_ms, int64_t ttl_s) { return sent_ms + ttl_s * 1000 * 3 / 4; }

bool apply_keepalive(persistence::shard_fence& fence, int64_t sent_ms, int64_t ttl_s,
                     std::optional<int64_t> ttl_left) {
  if (!ttl_left)
    return false;  // no answer: the deadline runs out on its own
  if (*ttl_left > 0) {
    fence.set_lease_deadline(lease_deadline_ms(sent_ms, ttl_s));
    return false;
  }
  fence.set_lease_deadline(0);
  return true;
}

uint64_t peer_table::want(const std::string& node_id, const std::string& name, int64_t now) {
  auto& sl = slots_[node_id];
  sl.name = name;
  if (sl.regions || sl.attempt != 0 || now < sl.retry_at_ms)
    return 0;
  sl.attempt = next_attempt_++;
  sl.started_ms = now;
  return sl.attempt;
}

bool peer_table::connected(const std::string& node_id, uint64_t attempt,
                           std::shared_ptr<const node_regions> regions, cluster_gateway_actor gw) {
  auto it = slots_.find(node_id);
  if (it == slots_.end() || attempt == 0 || it->second.attempt != attempt)
    return false;
  it->second.attempt = 0;
  it->second.regions = std::move(regions);
  it->second.gateway = std::move(gw);
  return true;
}

bool peer_table::failed(const std::string& node_id, uint64_t attempt, int64_t now) {
  auto it = slots_.find(node_id);
  if (it == slots_.end() || attempt == 0 || it->second.attempt != attempt)
    return false;
  it->second.attempt = 0;
  it->second.retry_at_ms = now + retry_ms;
  return true;
}

std::vector<std::string> peer_table::abandon_overdue(int64_t now) {
  std::vector<std::string> out;
  for (auto& [id, sl] : slots_)
    if (sl.attempt != 0 && now - sl.started_ms > abandon_ms) {
      sl.attempt = 0;
      sl.retry_at_ms = now + retry_ms;
      out.push_back(sl.name);
    }
  return out;
}

void peer_table::retain(const std::set<std::string>& node_ids) {
  for (auto it = slots_.begin(); it != slots_.end();)
    it = node_ids.count(it->first) ? std::next(it) : slots_.erase(it);
}

std::shared_ptr<const node_regions> peer_table::regions(const std::string& node_id) const {
  auto it = slots_.find(node_id);
  return it == slots_.end() ? nullptr : it->second.regions;
}

std::optional<cluster_gateway_actor> peer_table::gateway_by_name(const std::string& name) const {
  for (auto& [id, sl] : slots_)
    if (sl.name == name && sl.regions)
      return sl.gateway;
  return std::nullopt;
}

size_t peer_table::in_flight() const {
  size_t n = 0;
  for (auto& [id, sl] : slots_)
    n += sl.attempt != 0;
  return n;
}

/// Shared by the member and its connect attempts (see cluster_member.hpp).
struct cluster_peer_links {
  std::shared_ptr<const persistence::shard_fence> fence;  // its clock
  std::mutex mtx;
  std::condition_variable cv;  // an attempt ended
  peer_table table;
  bool stopping = false;
  std::function<void()> wake;  // wakes the loop; cleared by stop() (mtx)
  std::map<uint64_t, caf::actor> running;  // attempts alive, by id (mtx)
};

namespace {

int64_t steady_ms() { return persistence::shard_fence::steady_now_ms(); }

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string shard_key(uint32_t s) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%03u", s);
  return buf;
}

std::optional<json::object> parse_object(const std::string& s) {
  boost::system::error_code ec;
  auto v = json::parse(s, ec);
  if (ec || !v.is_object())
    return std::nullopt;
  return std::move(v.as_object());
}

std::string str(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_string())
    return {};
  return std::string{it->value().as_string()};
}

bool split_host_port(const std::string& hp, std::string* host, uint16_t* port) {
  auto c = hp.rfind(':');
  if (c == std::string::npos)
    return false;
  *host = hp.substr(0, c);
  try {
    *port = static_cast<uint16_t>(std::stoul(hp.substr(c + 1)));
  } catch (...) {
    return false;
  }
  return *port != 0;
}

bool read_file(const std::string& path, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  *out = ss.str();
  return true;
}

bool write_file_0600(const std::string& path, const std::string& content, std::string* error) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) {
      *error = "cannot write " + tmp;
      return false;
    }
    out << content;
    out.flush();
    if (!out) {
      *error = "cannot write " + tmp;
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_read
                                      | std::filesystem::perms::owner_write,
                               ec);
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    *error = "cannot replace " + path + ": " + ec.message();
    return false;
  }
  return true;
}

struct connect_job {
  std::string node_id, name, cluster;  // cluster: host:port
  uint64_t attempt = 0;
};

constexpr auto probe_timeout = std::chrono::milliseconds(1000);
constexpr auto caf_connect_timeout = std::chrono::seconds(5);
constexpr auto hello_timeout = std::chrono::seconds(2);
// start(): how long the first round's peer connects may delay the edge.
constexpr auto first_connect_wait = std::chrono::seconds(3);

/// Ends attempt `job` in the shared table (connected when `regions` is set;
/// then the loop is woken so the route appears at once).
void finish_attempt(const std::shared_ptr<cluster_peer_links>& links, const connect_job& job,
                    std::shared_ptr<const node_regions> regions, cluster_gateway_actor gw,
                    const std::string& why) {
  std::lock_guard<std::mutex> g{links->mtx};
  if (links->stopping)
    return;
  bool regions_set = regions != nullptr;
  if (regions_set) {
    if (links->table.connected(job.node_id, job.attempt, std::move(regions), std::move(gw)))
      log::info("cluster_peer_connected", {{"peer", job.name}, {"node_id", job.node_id}});
  } else if (links->table.failed(job.node_id, job.attempt, links->fence->now_ms())) {
    log::warn("cluster_peer_unreachable", {{"peer", job.name}, {"reason", why}});
  }
  links->cv.notify_all();
  if (regions_set && links->wake)
    links->wake();  // route to it now (a failure waits for the back-off anyway)
}

/// One connect attempt in its own detached actor (the probe blocks its
/// thread for at most probe_timeout): TCP probe, CAF connect through the
/// middleman actor, then cluster_hello — every step with a timeout, so the
/// actor ends within ~probe + 5 s + 2 s; stop() kills it earlier.
void spawn_attempt(caf::actor_system& sys, const std::shared_ptr<cluster_peer_links>& links,
                   connect_job job, cluster_hello hello) {
  // Spawned under links->mtx, so the entry is in `running` before the
  // actor's exit handler can erase it.
  auto a = sys.spawn<caf::detached>([links, job, hello](caf::event_based_actor* self) {
    self->attach_functor([links, id = job.attempt] {
      std::lock_guard<std::mutex> g{links->mtx};
      links->running.erase(id);
    });
    auto fail = [links, job](const std::string& why) {
      finish_attempt(links, job, nullptr, {}, why);
    };
    std::string host, why;
    uint16_t port = 0;
    if (!split_host_port(job.cluster, &host, &port))
      return fail("bad cluster address '" + job.cluster + "'");
    if (!tcp_probe(host, port, probe_timeout, &why))
      return fail(why);
    auto mm = self->system().middleman().actor_handle();
    self->request(mm, caf_connect_timeout, caf::connect_atom::value, host, port)
      .then(
        [self, links, job, hello, fail](caf::node_id&, caf::strong_actor_ptr& ptr,
                                        std::set<std::string>& ifs) {
          if (!ptr)
            return fail("no actor published at " + job.cluster);
          if (!self->system().assignable<cluster_gateway_actor>(ifs))
            return fail("the actor at " + job.cluster + " is not a cluster gateway");
          auto gw = caf::actor_cast<cluster_gateway_actor>(std::move(ptr));
          self->request(gw, hello_timeout, hello)
            .then(
              [links, job, gw, fail](node_regions& r) {
                if (r.node_id != job.node_id || r.version != cluster_wire_version)
                  return fail("node id or wire version differs from etcd's registration");
                finish_attempt(links, job, std::make_shared<const node_regions>(std::move(r)), gw,
                               {});
              },
              [fail](caf::error& err) { fail("hello refused: " + describe(err).message); });
        },
        [self, fail](caf::error& err) { fail(self->system().render(err)); });
  });
  links->running.emplace(job.attempt, std::move(a));
}

} // namespace

cluster_member::cluster_member(cluster_config cfg, caf::actor_system& sys,
                               std::shared_ptr<persistence::shard_fence> fence,
                               std::shared_ptr<actors::cluster_routes> routes)
  : cfg_(std::move(cfg)),
    sys_(sys),
    fence_(std::move(fence)),
    routes_(std::move(routes)),
    etcd_(std::make_unique<etcd_client>(cfg_.etcd)),
    node_id_(persistence::random_id()),
    links_(std::make_shared<cluster_peer_links>()) {
  links_->fence = fence_;
  view_.me = cfg_.node_name;
  view_.node_id = node_id_;
  view_.shards.resize(shard_count);
}

cluster_member::~cluster_member() { stop(); }

bool cluster_member::sync_secret_file(etcd_client& etcd, const std::string& prefix,
                                      const std::string& path, bool has_data, bool upload,
                                      std::string* error) {
  auto name = std::filesystem::path(path).filename().string();
  auto key = prefix + "secrets/" + name;
  std::string local;
  bool have_local = read_file(path, &local);
  if (upload) {
    if (!have_local) {
      *error = "cannot read " + path;
      return false;
    }
    auto r = etcd.create_if_absent(key, local);
    if (!r) {
      *error = "etcd: " + etcd.last_error();
      return false;
    }
    if (r->succeeded || (!r->kvs.empty() && r->kvs[0].value == local))
      return true;
    if (r->kvs.empty()) {
      *error = "etcd: secret " + key + " vanished";
      return false;
    }
    if (has_data) {
      *error = path + " differs from the cluster's and this data dir already holds data";
      return false;
    }
    return write_file_0600(path, r->kvs[0].value, error);
  }
  auto r = etcd.range(key, false);
  if (!r) {
    *error = "cannot reach etcd (" + etcd.last_error() + ")";
    return false;
  }
  if (r->kvs.empty() || (have_local && r->kvs[0].value == local))
    return true;
  if (have_local && has_data) {
    *error = path + " differs from the cluster's secret and this data dir already holds data"
             " (it belongs to another cluster)";
    return false;
  }
  return write_file_0600(path, r->kvs[0].value, error);
}

bool cluster_member::join(std::string* error) {
  auto lease = etcd_->lease_grant(cfg_.lease_ttl_s);
  if (!lease) {
    *error = "cannot reach etcd at " + (cfg_.etcd.empty() ? std::string{} : cfg_.etcd[0]) + ": "
             + etcd_->last_error();
    return false;
  }
  lease_ = *lease;
  lease_atomic_ = lease_;
  auto sent = fence_->now_ms();
  json::object info{{"name", cfg_.node_name},
                    {"node_id", node_id_},
                    {"cluster", cfg_.cluster_host + ":" + std::to_string(cfg_.cluster_port)},
                    {"http", cfg_.http_address},
                    {"started_ms", wall_ms()}};
  auto text = json::serialize(info);
  if (!etcd_->put(cfg_.prefix + "nodes/" + cfg_.node_name, text, lease_)
      || !etcd_->put(cfg_.prefix + "members/" + cfg_.node_name, text)) {
    *error = "cannot register in etcd: " + etcd_->last_error();
    return false;
  }
  fence_->set_lease_deadline(lease_deadline_ms(sent, cfg_.lease_ttl_s));
  log::info("cluster_joined", {{"node", cfg_.node_name},
                               {"node_id", node_id_},
                               {"lease_ttl_s", cfg_.lease_ttl_s}});
  return true;
}

void cluster_member::start() {
  if (running_.exchange(true))
    return;
  {
    std::lock_guard<std::mutex> g{links_->mtx};
    links_->wake = [this] {
      std::lock_guard<std::mutex> w{wake_mtx_};
      wake_ = true;
      wake_cv_.notify_one();
    };
  }
  // The lease is kept alive from now on, before any shard is claimed (the
  // first round may take a while; join() set the first deadline).
  keeper_ = std::make_unique<etcd_client>(cfg_.etcd);
  keepalive_thread_ = std::thread([this] { keepalive_loop(); });
  // Claim what is ours before the edge opens; give the peers' connects that
  // round started a moment (bounded), so the edge opens with their routes.
  round();
  {
    std::unique_lock<std::mutex> lk{links_->mtx};
    links_->cv.wait_for(lk, first_connect_wait, [this] { return links_->table.in_flight() == 0; });
  }
  round();
  thread_ = std::thread([this] { loop(); });
  watcher_ = std::make_unique<etcd_client>(cfg_.etcd);
  watch_thread_ = std::thread([this] { watch_loop(); });
}

/// Keeps the lease alive every TTL/3 on its own connection, so a busy or
/// blocked ownership round never starves it. Each success moves the fence's
/// deadline to (send time + 3/4 TTL): the node stops writing before etcd
/// could expire the lease. An expired lease wakes the loop to re-join.
void cluster_member::keepalive_loop() {
  auto period = std::chrono::milliseconds(cfg_.lease_ttl_s * 1000 / 3);
  while (running_.load()) {
    auto sent = fence_->now_ms();
    auto sent_steady = steady_ms();
    auto ka = keeper_->lease_keepalive(lease_atomic_.load());
    auto pause = std::chrono::milliseconds(200);
    if (apply_keepalive(*fence_, sent, cfg_.lease_ttl_s, ka)) {
      lease_lost_ = true;
      std::lock_guard<std::mutex> g{wake_mtx_};
      wake_ = true;
      wake_cv_.notify_all();
    } else if (ka) {  // renewed: next one a third of the TTL after this send
      pause = period - std::chrono::milliseconds(steady_ms() - sent_steady);
    }
    std::unique_lock<std::mutex> lk{wake_mtx_};
    keepalive_cv_.wait_for(lk, std::max(pause, std::chrono::milliseconds(10)),
                           [this] { return !running_.load(); });
  }
}

void cluster_member::watch_loop() {
  while (running_.load()) {
    bool ok = watcher_->watch(
      cfg_.prefix,
      [this] {
        std::lock_guard<std::mutex> g{wake_mtx_};
        wake_ = true;
        wake_cv_.notify_one();
      },
      [this] { return running_.load(); });
    if (!running_.load())
      break;
    if (!ok)
      log::warn("cluster_watch_failed", {{"reason", watcher_->last_error()}});
    // Re-create the watch after a pause; the loop's periodic rounds cover
    // the gap.
    for (int i = 0; i < 10 && running_.load(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void cluster_member::stop() {
  if (!running_.exchange(false)) {
    return;
  }
  if (watcher_)
    watcher_->cancel();
  {
    std::lock_guard<std::mutex> g{wake_mtx_};
    wake_cv_.notify_one();
  }
  {
    std::lock_guard<std::mutex> g{wake_mtx_};
    keepalive_cv_.notify_all();
  }
  if (thread_.joinable())
    thread_.join();
  if (watch_thread_.joinable())
    watch_thread_.join();
  if (keepalive_thread_.joinable())
    keepalive_thread_.join();
  {
    // Connect attempts still running end now (a late result is dropped;
    // they hold links_, never `this`).
    std::lock_guard<std::mutex> g{links_->mtx};
    links_->stopping = true;
    links_->wake = nullptr;
    for (auto& [id, a] : links_->running)
      caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  }
  for (uint32_t s = 0; s < shard_count; ++s)
    fence_->set_epoch(s, 0);
  fence_->set_lease_deadline(0);
  if (lease_ != 0)
    etcd_->lease_revoke(lease_);  // our owner keys vanish now, not after the TTL
  log::info("cluster_left", {{"node", cfg_.node_name}});
}

cluster_view cluster_member::view() const {
  std::lock_guard<std::mutex> g{mtx_};
  return view_;
}

void cluster_member::loop() {
  while (running_.load()) {
    auto t0 = steady_ms();
    try {
      round();
    } catch (const std::exception& e) {
      log::error("cluster_round_failed", {{"reason", e.what()}});
    }
    auto spent = steady_ms() - t0;
    auto wait = std::max<int64_t>(cfg_.poll.count() - spent, 0);
    // Until the watch reports a change, the poll interval passes, or stop();
    // but never more often than every 50 ms (our own claims echo back as
    // watch events from every node).
    std::unique_lock<std::mutex> lk{wake_mtx_};
    wake_cv_.wait_for(lk, std::chrono::milliseconds(wait),
                      [this] { return wake_ || !running_.load(); });
    wake_ = false;
    lk.unlock();
    if (steady_ms() - t0 < 50 && running_.load())
      std::this_thread::sleep_for(std::chrono::milliseconds(50 - (steady_ms() - t0)));
  }
}

std::map<std::string, std::shared_ptr<const node_regions>>
cluster_member::connect_peers(const std::map<std::string, cluster_node_info>& live) {
  std::map<std::string, std::shared_ptr<const node_regions>> out;  // by node id
  std::set<std::string> ids;
  for (auto& [name, n] : live)
    ids.insert(n.node_id);
  cluster_hello hello{cluster_wire_version, cfg_.admin_secret, cfg_.node_name};
  std::lock_guard<std::mutex> g{links_->mtx};
  auto& table = links_->table;
  auto now = fence_->now_ms();
  table.retain(ids);  // peers that restarted or left: their proxies are stale
  for (auto& name : table.abandon_overdue(now))
    log::warn("cluster_peer_unreachable",
              {{"peer", name}, {"reason", "connect attempt still running; abandoned"}});
  for (auto& [name, n] : live) {
    if (n.node_id == node_id_)
      continue;
    if (auto r = table.regions(n.node_id))
      out.emplace(n.node_id, std::move(r));
    else if (auto attempt = table.want(n.node_id, n.name, now); attempt != 0 && !links_->stopping)
      spawn_attempt(sys_, links_, connect_job{n.node_id, n.name, n.cluster, attempt}, hello);
  }
  return out;
}

void cluster_member::round() {
  auto& etcd = *etcd_;
  std::string err;
  // 1. The lease (kept alive by its own thread; see keepalive_loop).
  if (lease_lost_.exchange(false)) {
    // Expired (etcd was unreachable for longer than the TTL): every owner key
    // of ours is gone. Stop serving, then register afresh.
    log::warn("cluster_lease_lost", {{"node", cfg_.node_name}});
    fence_->set_lease_deadline(0);
    for (uint32_t s = 0; s < shard_count; ++s)
      fence_->set_epoch(s, 0);
    std::string e;
    if (!join(&e)) {
      err = e;
      lease_lost_ = true;  // try again next round
    }
  }
  // 2. Read the cluster.
  auto nodes = etcd.range(cfg_.prefix + "nodes/", true);
  auto members = nodes ? etcd.range(cfg_.prefix + "members/", true) : std::nullopt;
  auto homes = members ? etcd.range(cfg_.prefix + "homes/", true) : std::nullopt;
  auto owners = homes ? etcd.range(cfg_.prefix + "owners/", true) : std::nullopt;
  if (!owners) {
    std::lock_guard<std::mutex> g{mtx_};
    view_.last_error = etcd.last_error();
    view_.lease_alive = fence_->lease_alive();
    if (!view_.lease_alive)  // the fence refuses them now: show it
      for (auto& sh : view_.shards)
        if (sh.state == shard_route::local)
          sh.state = shard_route::down;
    return;
  }
  std::map<std::string, cluster_node_info> live;  // by name
  for (auto& kv : nodes->kvs) {
    auto o = parse_object(kv.value);
    if (!o)
      continue;
    cluster_node_info n;
    n.name = str(*o, "name");
    n.node_id = str(*o, "node_id");
    n.cluster = str(*o, "cluster");
    n.http = str(*o, "http");
    if (auto it = o->find("started_ms"); it != o->end() && it->value().is_int64())
      n.started_ms = it->value().as_int64();
    n.live = true;
    live[n.name] = n;
  }
  std::vector<std::string> member_names;
  std::map<std::string, cluster_node_info> all = live;
  for (auto& kv : members->kvs) {
    auto o = parse_object(kv.value);
    if (!o)
      continue;
    auto name = str(*o, "name");
    member_names.push_back(name);
    if (!all.count(name)) {
      cluster_node_info n;
      n.name = name;
      n.cluster = str(*o, "cluster");
      n.http = str(*o, "http");
      all[name] = n;
    }
  }
  std::array<std::string, shard_count> home;
  for (auto& kv : homes->kvs) {
    auto s = kv.key.substr(kv.key.rfind('/') + 1);
    auto idx = std::strtoul(s.c_str(), nullptr, 10);
    if (idx < shard_count)
      home[idx] = kv.value;
  }
  // 3. Assign homes once the expected cluster has formed (CAS: first wins).
  if (homes->kvs.size() < shard_count && member_names.size() >= cfg_.cluster_size) {
    for (uint32_t s = 0; s < shard_count; ++s) {
      if (!home[s].empty())
        continue;
      auto want = rendezvous_home(s, member_names);
      auto r = etcd.create_if_absent(cfg_.prefix + "homes/" + shard_key(s), want);
      if (!r)
        break;
      home[s] = r->succeeded ? want : (r->kvs.empty() ? std::string{} : r->kvs[0].value);
    }
  }
  struct owner_t {
    std::string node, node_id;
    uint64_t epoch = 0;
  };
  std::array<owner_t, shard_count> owner;
  for (auto& kv : owners->kvs) {
    auto s = kv.key.substr(kv.key.rfind('/') + 1);
    auto idx = std::strtoul(s.c_str(), nullptr, 10);
    auto o = parse_object(kv.value);
    if (idx < shard_count && o)
      owner[idx] = owner_t{str(*o, "node"), str(*o, "node_id"),
                           static_cast<uint64_t>(kv.mod_revision)};
  }
  // 4. Decide every shard; claim ours. Route only to peers connected now.
  auto peers = connect_peers(live);
  bool lease_alive = fence_->lease_alive();
  std::array<uint64_t, shard_count> want_epoch{};
  auto table = std::make_shared<actors::route_table>();
  auto old = routes_->current();
  std::vector<cluster_shard_info> shards(shard_count);
  std::map<std::string, unsigned> owned_by;
  std::string owner_value = json::serialize(json::object{{"node", cfg_.node_name},
                                                         {"node_id", node_id_}});
  for (uint32_t s = 0; s < shard_count; ++s) {
    auto& o = owner[s];
    bool owner_live = false;
    const cluster_node_info* owner_node = nullptr;
    if (auto it = live.find(o.node); it != live.end() && it->second.node_id == o.node_id) {
      owner_live = true;
      owner_node = &it->second;
    }
    auto d = decide_shard(cfg_.node_name, node_id_, home[s], o.node_id, owner_live, lease_alive);
    auto& r = (*table)[s];
    if (d.action == shard_decision::claim) {
      auto res = etcd.create_if_absent(cfg_.prefix + "owners/" + shard_key(s), owner_value, lease_);
      if (res && res->succeeded) {
        o = owner_t{cfg_.node_name, node_id_, static_cast<uint64_t>(res->revision)};
        d.action = shard_decision::serve;
        log::info("shard_claimed", {{"shard", s}, {"epoch", o.epoch}});
      } else {
        d.action = shard_decision::down;
      }
    }
    switch (d.action) {
      case shard_decision::serve:
        want_epoch[s] = o.epoch;
        r.state = shard_route::local;
        r.epoch = o.epoch;
        break;
      case shard_decision::route_remote:
        if (auto p = peers.find(owner_node->node_id); p != peers.end()) {
          r.state = shard_route::remote;
          r.epoch = o.epoch;
          r.owner = p->second;
        }  // not connected (yet): down, 503 at once
        break;
      default:
        break;
    }
    shards[s].home = home[s];
    shards[s].owner = o.node;
    shards[s].epoch = o.epoch;
    shards[s].state = r.state;
    if (r.state != shard_route::down)
      ++owned_by[o.node];
  }
  // Apply under the lock begin_move takes, so a shard being handed off is
  // never re-opened by a round that decided before the move began.
  std::lock_guard<std::mutex> g{mtx_};
  for (uint32_t s = 0; s < shard_count; ++s) {
    if (moving_.count(s)) {
      want_epoch[s] = 0;
      (*table)[s] = shard_route{};
      shards[s].state = shard_route::down;
    }
    fence_->set_epoch(s, want_epoch[s]);
  }
  routes_->publish(std::move(table));
  view_.lease_alive = lease_alive;
  view_.nodes.clear();
  for (auto& [name, n] : all) {
    auto x = n;
    x.shards = owned_by[name];
    view_.nodes.push_back(std::move(x));
  }
  view_.shards = std::move(shards);
  ++view_.loops;
  view_.last_error = err;
}

uint64_t cluster_member::begin_move(uint32_t shard) {
  if (shard >= shard_count)
    return 0;
  std::lock_guard<std::mutex> g{mtx_};
  if (moving_.count(shard))
    return 0;
  auto epoch = fence_->epoch(shard);
  if (epoch == 0 || !fence_->lease_alive())
    return 0;
  moving_.insert(shard);
  fence_->set_epoch(shard, 0);  // the journal refuses appends for it from now on
  auto table = std::make_shared<actors::route_table>(*routes_->current());
  (*table)[shard] = shard_route{};  // down: commands answer 503 during the move
  routes_->publish(std::move(table));
  log::info("shard_move_begin", {{"shard", shard}, {"epoch", epoch}});
  return epoch;
}

void cluster_member::end_move(uint32_t shard) {
  std::lock_guard<std::mutex> g{mtx_};
  moving_.erase(shard);
}

move_commit cluster_member::commit_move(uint32_t shard, uint64_t epoch, const std::string& to,
                                        const std::string& to_node_id, int64_t to_lease,
                                        std::string* error) {
  etcd_client etcd{cfg_.etcd};  // this thread's own connection
  auto owner_key = cfg_.prefix + "owners/" + shard_key(shard);
  etcd_compare c;
  c.target = etcd_compare::mod_revision;
  c.key = owner_key;
  c.revision = static_cast<int64_t>(epoch);
  auto value = json::serialize(json::object{{"node", to}, {"node_id", to_node_id}});
  auto r = etcd.txn({c},
                    {etcd_op{etcd_op::put, owner_key, value, to_lease},
                     etcd_op{etcd_op::put, cfg_.prefix + "homes/" + shard_key(shard), to, 0}},
                    {});
  if (!r) {
    // No answer: the transaction may have been applied, or may still be
    // (etcd can apply a request whose answer timed out). First make sure it
    // cannot apply later: rewrite the owner key unchanged if it still has
    // revision `epoch` (its compare then fails forever; this node serves the
    // shard at the new revision). Then the owner and home keys tell
    // (lost_commit_outcome): the transaction writes both in one revision, and
    // the home key is not leased, so it outlives the target's lease.
    *error = "etcd: " + etcd.last_error();
    auto home_key = cfg_.prefix + "homes/" + shard_key(shard);
    auto first = [](const etcd_range_result& r) {
      return r.kvs.empty() ? std::optional<etcd_kv>{} : std::optional<etcd_kv>{r.kvs[0]};
    };
    for (int attempt = 0; attempt < 10; ++attempt) {
      if (attempt > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      auto owner = etcd.range(owner_key, false);
      if (!owner)
        continue;
      if (!owner->kvs.empty() && owner->kvs[0].mod_revision == static_cast<int64_t>(epoch)) {
        auto bump = etcd.txn(
          {c}, {etcd_op{etcd_op::put, owner_key, owner->kvs[0].value, owner->kvs[0].lease}}, {});
        if (!bump)
          continue;
        if (bump->succeeded)
          return move_commit::refused;  // the move's transaction can no longer apply
        owner = etcd.range(owner_key, false);  // it changed under the bump: read it again
        if (!owner)
          continue;
      }
      auto home = etcd.range(home_key, false);
      if (!home)
        continue;
      auto outcome = lost_commit_outcome(first(*owner), first(*home), epoch, to, value);
      if (outcome == move_commit::committed)
        log::info("shard_move_committed", {{"shard", shard}, {"to", to}, {"resolved", true}});
      return outcome;
    }
    return move_commit::unknown;
  }
  if (!r->succeeded) {
    *error = "the owner key of shard " + std::to_string(shard) + " changed (epoch " +
             std::to_string(epoch) + " is stale)";
    return move_commit::refused;
  }
  log::info("shard_move_committed", {{"shard", shard}, {"to", to}, {"epoch", r->revision}});
  return move_commit::committed;
}

std::optional<cluster_gateway_actor> cluster_member::peer_gateway(const std::string& name) const {
  std::lock_guard<std::mutex> g{links_->mtx};
  return links_->table.gateway_by_name(name);
}

} // namespace tt::nodes
