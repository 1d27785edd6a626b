#pragma once
// Internals of the edge shared by its route files (edge.cpp, trade_routes.cpp):
// the bridge actors, the per-request context and response helpers. Not for
// use outside nodes/.

#include "nodes/edge.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <deque>
#include <functional>
#include <optional>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "actors/ticket_model.hpp"
#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/send.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/errc.hpp"
#include "messages/log.hpp"
#include "nodes/auth_json.hpp"
#include "nodes/jwt.hpp"
#include "nodes/notifier.hpp"
#include "nodes/passwords.hpp"
#include "nodes/rate_limiter.hpp"
#include "nodes/ticket_json.hpp"
#include "persistence/event_store.hpp"
#include "persistence/node_keys.hpp"

namespace tt::nodes {
struct edge_job;
using bridge_actor = caf::typed_actor<caf::reacts_to<edge_job>>;
/// A closure run inside a bridge actor (local only, never serialized).
struct edge_job {
  std::function<void(bridge_actor::pointer)> run;
};
} // namespace tt::nodes

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tt::nodes::edge_job)

namespace tt::nodes {


inline http_response json_response(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

inline http_response error_response(unsigned status, std::string_view code, std::string_view message,
                             std::string_view field = {}) {
  return json_response(status, render_error(code, message, field));
}

inline http_response unauthorized(std::string_view code, std::string_view message) {
  auto r = error_response(401, code, message);
  r.headers.emplace_back("WWW-Authenticate", "Bearer");
  return r;
}

inline http_response from_error(const caf::error& err) {
  auto info = describe(err);
  switch (info.code) {
    case errc::invalid_argument:
      return error_response(422, "invalid_value", info.message, info.field);
    case errc::not_found:
      return error_response(404, "not_found", info.message, info.field);
    case errc::conflict:
      return error_response(409, "conflict", info.message, info.field);
    case errc::invalid_state:
      return error_response(409, "invalid_state", info.message);
    case errc::forbidden:
      return error_response(403, "forbidden", info.message);
    case errc::timeout:
      return error_response(504, "timeout",
                            "the request timed out; it may or may not have taken effect");
    case errc::decode_failure:
      return error_response(500, "internal", "stored data could not be read");
    case errc::storage_failure:
    case errc::unavailable:
    default: {
      auto r = error_response(503, "unavailable", "the service is temporarily unavailable");
      r.headers.emplace_back("Retry-After", "1");
      return r;
    }
  }
}

inline bool valid_request_id(std::string_view s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_' || c == '.'))
      return false;
  return true;
}

/// A request a bridge is waiting on for an HTTP client: answered once, by
/// the reply or by the bridge's deadline sweep, whichever comes first.
struct awaited_answer {
  http_responder respond;
  bool answered = false;

  void answer(http_response r) {
    if (answered)
      return;
    answered = true;
    auto fn = std::move(respond);
    respond = nullptr;  // releases the connection now, not when the entry leaves the queue
    fn(std::move(r));
  }
};

/// A bridge's state: the deadlines of its `request_ctx::ask` requests, in
/// deadline order (they all use the edge's one request timeout). The bridge
/// keeps them itself, swept every `sweep_every` while any is waiting, instead
/// of a CAF request timeout per request: CAF 0.17 puts every timeout into
/// its clock thread's queue (a mutex, often a wake-up) and fires it even
/// after the reply came, as one more message to the bridge.
struct bridge_state {
  static constexpr std::chrono::milliseconds sweep_every{50};
  std::deque<std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<awaited_answer>>>
    deadlines;
  bool sweeping = false;
  static inline const char* name = "edge_bridge";
};

using bridge_pointer = bridge_actor::stateful_pointer<bridge_state>;

/// Every bridge is spawned with `bridge_impl` (a stateful actor), so a job's
/// `bridge_actor::pointer` is always one.
inline bridge_state& bridge_state_of(bridge_actor::pointer self) {
  return static_cast<bridge_pointer>(self)->state;
}

/// Answers every waiting request whose deadline passed with a timeout (504)
/// and drops the answered ones from the front; runs again in `sweep_every`
/// while any is left.
inline void sweep_deadlines(bridge_actor::pointer self) {
  auto& st = bridge_state_of(self);
  auto now = std::chrono::steady_clock::now();
  while (!st.deadlines.empty()
         && (st.deadlines.front().second->answered || st.deadlines.front().first <= now)) {
    auto& a = *st.deadlines.front().second;
    if (!a.answered)  // overdue (most entries were answered long before)
      a.answer(from_error(caf::make_error(caf::sec::request_timeout)));
    st.deadlines.pop_front();
  }
  st.sweeping = !st.deadlines.empty();
  if (st.sweeping)
    self->delayed_send(self, bridge_state::sweep_every, edge_job{sweep_deadlines});
}

/// Registers `a` to be answered with a timeout at `deadline` unless answered
/// before.
inline void await_until(bridge_actor::pointer self, std::chrono::steady_clock::time_point deadline,
                        std::shared_ptr<awaited_answer> a) {
  auto& st = bridge_state_of(self);
  st.deadlines.emplace_back(deadline, std::move(a));
  if (!st.sweeping) {
    st.sweeping = true;
    self->delayed_send(self, bridge_state::sweep_every, edge_job{sweep_deadlines});
  }
}

inline bridge_actor::behavior_type bridge_impl(bridge_pointer self) {
  return {
    [self](edge_job& job) { job.run(self); },
  };
}

inline int64_t now_seconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

/// Splits "/a/b/c" into segments; false if a pattern does not match.
inline bool match(std::string_view pattern, std::string_view path, std::vector<std::string>& params) {
  params.clear();
  while (!pattern.empty() || !path.empty()) {
    if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/')
      return false;
    pattern.remove_prefix(1);
    path.remove_prefix(1);
    auto pe = pattern.find('/');
    auto se = path.find('/');
    auto pseg = pattern.substr(0, pe);
    auto sseg = path.substr(0, se);
    if (pseg.size() > 2 && pseg.front() == '{' && pseg.back() == '}') {
      if (sseg.empty())
        return false;
      params.emplace_back(sseg);
    } else if (pseg != sseg) {
      return false;
    }
    pattern = pe == std::string_view::npos ? std::string_view{} : pattern.substr(pe);
    path = se == std::string_view::npos ? std::string_view{} : path.substr(se);
  }
  return true;
}

inline std::string query_param(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (part.substr(0, eq) == name)
      return eq == std::string_view::npos ? std::string{} : std::string(part.substr(eq + 1));
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
  }
  return {};
}

/// Tokens that passed full verification, so a client reusing its access
/// token (the normal case) costs a hash lookup instead of base64 + JSON +
/// HMAC. Entries hold the verified claims and are re-checked for expiry on
/// every hit; memory is bounded (a full shard is cleared).
class verified_tokens {
public:
  bool find(std::string_view token, int64_t now_s, jwt_claims& out) {
    auto& sh = shard(token);
    std::lock_guard<std::mutex> guard{sh.mtx};
    auto it = sh.map.find(std::string(token));
    if (it == sh.map.end())
      return false;
    if (now_s > it->second.exp + jwt_keyring::allowed_skew_s) {
      sh.map.erase(it);
      return false;
    }
    out = it->second;
    return true;
  }

  void insert(std::string_view token, const jwt_claims& claims) {
    auto& sh = shard(token);
    std::lock_guard<std::mutex> guard{sh.mtx};
    if (sh.map.size() >= max_per_shard)
      sh.map.clear();
    sh.map.emplace(std::string(token), claims);
  }

private:
  static constexpr size_t shards = 16;
  static constexpr size_t max_per_shard = 4096;
  struct shard_t {
    std::mutex mtx;
    std::unordered_map<std::string, jwt_claims> map;
  };
  shard_t& shard(std::string_view token) { return shards_[stable_hash(token) % shards]; }
  std::array<shard_t, shards> shards_;
};

struct request_ctx;
using route_handler = void (*)(request_ctx&);

struct route_entry {
  route_info info;
  route_handler handler;
};

struct edge::impl {
  caf::actor_system& sys;
  edge_deps deps;
  edge_config cfg;
  std::vector<bridge_actor> bridges;
  std::shared_mutex bridges_mtx;  // shutdown() clears `bridges` while others send
  std::atomic<size_t> next_bridge{0};
  std::atomic<bool> ready{false};
  verified_tokens tokens;

  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  prometheus::Counter* rate_limited = nullptr;
  std::mutex metrics_mtx;
  std::unordered_map<std::string, prometheus::Counter*> counters;
  std::unordered_map<std::string, prometheus::Histogram*> histograms;

  explicit impl(caf::actor_system& s) : sys(s) {}

  const bridge_actor& pick_bridge() {
    return bridges[next_bridge.fetch_add(1, std::memory_order_relaxed) % bridges.size()];
  }

  /// Runs `fn(self)` inside a bridge actor; dropped after shutdown (the
  /// connection it would answer is gone by then).
  void in_bridge(std::function<void(bridge_actor::pointer)> fn) {
    std::shared_lock<std::shared_mutex> guard{bridges_mtx};
    if (bridges.empty())
      return;
    caf::anon_send(pick_bridge(), edge_job{std::move(fn)});
  }

  void observe(const std::string& route, const std::string& method, unsigned status,
               double seconds) {
    if (!requests)
      return;
    std::string key = route + '|' + method + '|' + std::to_string(status);
    prometheus::Counter* c;
    prometheus::Histogram* h;
    {
      std::lock_guard<std::mutex> guard{metrics_mtx};
      auto& cref = counters[key];
      if (!cref)
        cref = &requests->Add(
          {{"route", route}, {"method", method}, {"status", std::to_string(status)}});
      c = cref;
      auto& href = histograms[route];
      if (!href)
        href = &latency->Add({{"route", route}}, prometheus::Histogram::BucketBoundaries{
                                                   0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                                   0.1, 0.25, 0.5, 1, 5});
      h = href;
    }
    c->Increment();
    h->Observe(seconds);
  }
};

/// One request on its way through the edge.
struct request_ctx {
  edge::impl& d;
  http_request& req;
  std::vector<std::string> params;
  std::string_view query;
  request_meta meta;
  jwt_claims claims;
  bool authenticated = false;
  http_responder finish;

  /// Asks `dest` for `cmd` from a bridge and answers with `on_ok(reply)`, or
  /// the mapped error.
  /// The request itself has no CAF timeout: the bridge answers 504 at the
  /// edge's request timeout (`await_until`); a reply after that is dropped.
  /// (Every destination answers, errors included, and a request stuck in a
  /// dying actor's mailbox is bounced by CAF; only a promise an actor drops
  /// without delivering would leave CAF's small response handler behind.)
  template <class Reply, class Dest, class Cmd, class OnOk>
  void ask(Dest dest, Cmd cmd, OnOk on_ok) {
    auto deadline = std::chrono::steady_clock::now() + d.cfg.request_timeout;
    d.in_bridge([dest, deadline, cmd = std::move(cmd), respond = finish,
                 on_ok](bridge_actor::pointer self) mutable {
      auto a = std::make_shared<awaited_answer>(awaited_answer{std::move(respond)});
      await_until(self, deadline, a);
      self->request(dest, caf::infinite, std::move(cmd))
        .then([a, on_ok](Reply& r) { a->answer(on_ok(r)); },
              [a](caf::error& err) { a->answer(from_error(err)); });
    });
  }
};

/// A page of the caller's tickets (the owner index, `limit`/`cursor` from the
/// query): {"items":[render(ticket)…],"next_cursor"}; `render` returning an
/// empty string leaves the ticket out. Defined in edge.cpp.
void owned_tickets_page(request_ctx& c, std::function<std::string(const ticket_view&)> render);

/// Asks `dest` for one `make(id)` per id in parallel from a bridge and
/// calls `done(items)` once all answered; items that failed stay empty, in
/// the order of `ids`. Runs inside a bridge actor (`self`).
template <class Reply, class Dest, class Make, class Done>
void gather(bridge_actor::pointer self, const Dest& dest, std::chrono::milliseconds timeout,
            const std::vector<std::string>& ids, Make make, Done done) {
  struct state {
    std::vector<std::optional<Reply>> items;
    size_t pending = 0;
  };
  auto g = std::make_shared<state>();
  g->items.resize(ids.size());
  g->pending = ids.size();
  if (ids.empty())
    return done(g->items);
  for (size_t i = 0; i < ids.size(); ++i)
    self->request(dest, timeout, make(ids[i]))
      .then(
        [g, i, done](Reply& v) {
          g->items[i] = std::move(v);
          if (--g->pending == 0)
            done(g->items);
        },
        [g, done](caf::error&) {
          if (--g->pending == 0)
            done(g->items);
        });
}

/// One page of the secondary index under `prefix` for `?limit=` (1..100,
/// default 50) and `?cursor=` (the last id of the previous page). Answers 400
/// and returns false on bad parameters.
struct index_page {
  std::vector<std::string> ids;
  std::vector<std::string> values;
  std::string next_cursor;  // empty: last page
};

/// `?limit=` of a paged route: 1..100, default 50; answers 400 otherwise.
inline bool read_limit(request_ctx& c, size_t& limit) {
  limit = 50;
  auto lim = query_param(c.query, "limit");
  if (lim.empty())
    return true;
  char* end = nullptr;
  auto v = std::strtol(lim.c_str(), &end, 10);
  if (end == nullptr || *end != '\0' || v < 1 || v > 100) {
    c.finish(error_response(400, "invalid_value", "limit must be 1 to 100", "limit"));
    return false;
  }
  limit = static_cast<size_t>(v);
  return true;
}

/// The same page across the cluster: the rows under `prefix` of this node
/// and of every peer (each node holds the rows of the entities it owns),
/// merged by id. Calls `then(page)` — at once in embedded mode, else from a
/// bridge actor once every peer answered —, or answers 400 (bad limit or
/// cursor) or 503 (a node is down or did not answer: the list would miss its
/// rows) itself. `then` must not use the request_ctx.
void with_index_page(request_ctx& c, const std::string& prefix,
                     std::function<void(index_page)> then);

/// `?limit=` and `?cursor=` (an id) of a paged index route; answers 400 and
/// returns false when either is bad.
inline bool read_page_params(request_ctx& c, size_t& limit, std::string& cursor) {
  if (!read_limit(c, limit))
    return false;
  cursor = query_param(c.query, "cursor");
  if (!cursor.empty() && !persistence::is_valid_id(cursor)) {
    c.finish(error_response(400, "invalid_value", "cursor is not valid", "cursor"));
    return false;
  }
  return true;
}

inline bool read_index_page(request_ctx& c, const std::string& prefix, index_page& out) {
  size_t limit;
  std::string cursor;
  if (!read_page_params(c, limit, cursor))
    return false;
  auto rows = c.d.deps.store->scan_index(prefix, cursor.empty() ? std::string{} : prefix + cursor,
                                         limit + 1);
  if (rows.size() > limit) {
    rows.resize(limit);
    out.next_cursor = rows.back().first.substr(prefix.size());
  }
  for (auto& [k, v] : rows) {
    out.ids.push_back(k.substr(prefix.size()));
    out.values.push_back(std::move(v));
  }
  return true;
}

} // namespace tt::nodes
