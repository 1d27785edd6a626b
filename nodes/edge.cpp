#include "nodes/edge.hpp"

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <functional>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/send.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/errc.hpp"
#include "messages/log.hpp"
#include "nodes/ticket_json.hpp"
#include "persistence/node_keys.hpp"
#include "actors/ticket_model.hpp"

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

namespace {

bridge_actor::behavior_type bridge_impl(bridge_actor::pointer self) {
  return {
    [self](edge_job& job) { job.run(self); },
  };
}

http_response json_response(unsigned status, std::string body) {
  http_response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

http_response error_response(unsigned status, std::string_view code, std::string_view message,
                             std::string_view field = {}) {
  return json_response(status, render_error(code, message, field));
}

http_response from_error(const caf::error& err) {
  auto info = describe(err);
  switch (info.code) {
    case errc::invalid_argument:
      return error_response(422, "invalid_value", info.message, info.field);
    case errc::not_found:
      return error_response(404, "not_found", info.message, info.field);
    case errc::conflict:
      return error_response(409, "conflict", info.message);
    case errc::invalid_state:
      return error_response(409, "invalid_state", info.message);
    case errc::forbidden:
      return error_response(403, "forbidden", info.message);
    case errc::timeout:
      return error_response(504, "timeout", "the request timed out; it may or may not have taken effect");
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

bool valid_request_id(std::string_view s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_' || c == '.'))
      return false;
  return true;
}

} // namespace

struct edge::impl {
  caf::actor_system& sys;
  ticket_region_actor region;
  journal_actor journal;
  std::shared_ptr<const persistence::node_keys> keys;
  std::shared_ptr<prometheus::Registry> registry;
  edge_config cfg;
  std::vector<bridge_actor> bridges;
  std::atomic<size_t> next_bridge{0};
  std::atomic<bool> ready{false};

  prometheus::Family<prometheus::Counter>* requests = nullptr;
  prometheus::Family<prometheus::Histogram>* latency = nullptr;
  std::mutex metrics_mtx;
  std::unordered_map<std::string, prometheus::Counter*> counters;
  std::unordered_map<std::string, prometheus::Histogram*> histograms;

  impl(caf::actor_system& s) : sys(s) {}

  const bridge_actor& pick_bridge() {
    return bridges[next_bridge.fetch_add(1, std::memory_order_relaxed) % bridges.size()];
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
        cref = &requests->Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}});
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

  /// Runs `cmd` against the region and answers with `on_ok(view)`.
  template <class Cmd, class OnOk>
  void ask_region(Cmd cmd, http_responder respond, OnOk on_ok) {
    auto region_handle = region;
    auto timeout = cfg.request_timeout;
    caf::anon_send(pick_bridge(),
                   edge_job{[region_handle, timeout, cmd = std::move(cmd), respond,
                             on_ok](bridge_actor::pointer self) mutable {
                     self->request(region_handle, timeout, std::move(cmd))
                       .then([respond, on_ok](ticket_view& v) { respond(on_ok(v)); },
                             [respond](caf::error& err) { respond(from_error(err)); });
                   }});
  }
};

edge::edge(caf::actor_system& sys, ticket_region_actor region, journal_actor journal,
           std::shared_ptr<const persistence::node_keys> keys,
           std::shared_ptr<prometheus::Registry> registry, edge_config cfg)
  : impl_(std::make_unique<impl>(sys)) {
  auto& d = *impl_;
  d.region = std::move(region);
  d.journal = std::move(journal);
  d.keys = std::move(keys);
  d.registry = std::move(registry);
  d.cfg = cfg;
  for (unsigned i = 0; i < std::max(1u, cfg.bridges); ++i)
    d.bridges.push_back(sys.spawn(bridge_impl));
  if (d.registry) {
    d.requests = &prometheus::BuildCounter()
                    .Name("tt_http_requests_total")
                    .Help("HTTP requests by route, method and status")
                    .Register(*d.registry);
    d.latency = &prometheus::BuildHistogram()
                   .Name("tt_http_request_duration_seconds")
                   .Help("HTTP request latency by route")
                   .Register(*d.registry);
  }
}

edge::~edge() { shutdown(); }

void edge::set_ready(bool ready) { impl_->ready = ready; }

void edge::shutdown() {
  for (auto& b : impl_->bridges)
    caf::anon_send_exit(b, caf::exit_reason::user_shutdown);
  impl_->bridges.clear();
}

void edge::handle(http_request& req, http_responder respond) {
  auto& d = *impl_;
  auto start = std::chrono::steady_clock::now();
  std::string_view target = req.target;
  auto q = target.find('?');
  std::string_view path = target.substr(0, q);
  std::string request_id = req.header("x-request-id");
  if (!valid_request_id(request_id))
    request_id = persistence::random_id();
  constexpr std::string_view tickets_prefix = "/api/v1/tickets";
  bool ticket_item = path.size() > tickets_prefix.size() + 1
                     && path.substr(0, tickets_prefix.size()) == tickets_prefix
                     && path[tickets_prefix.size()] == '/';
  std::string route = path == "/healthz" || path == "/metrics" || path == tickets_prefix
                        ? std::string(path)
                        : ticket_item ? "/api/v1/tickets/{id}" : "other";
  // Every answer goes through here: request id, security headers, metrics.
  auto finish = [&d, start, request_id, route, method = req.method, respond](http_response r) {
    r.headers.emplace_back("X-Request-Id", request_id);
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    d.observe(route, method, r.status, secs);
    if (r.status >= 500)
      log::warn("http_5xx", {{"request_id", request_id}, {"status", r.status}, {"route", route}});
    respond(std::move(r));
  };

  request_meta meta;
  meta.correlation_id = request_id;
  meta.ip = req.remote_ip;
  if (const auto& fp = req.header("x-device-fingerprint"); !fp.empty())
    meta.device_hash = d.keys->keyed_hash("device", fp).substr(0, 32);

  if (path == "/healthz") {
    if (req.method != "GET")
      return finish(error_response(405, "method_not_allowed", "use GET"));
    if (!d.ready)
      return finish(error_response(503, "starting", "the node is still starting"));
    return finish(json_response(200, "{\"status\":\"ok\"}"));
  }
  if (path == "/metrics") {
    http_response r;
    r.content_type = "text/plain; version=0.0.4";
    if (d.registry)
      r.body = prometheus::TextSerializer().Serialize(d.registry->Collect());
    return finish(std::move(r));
  }
  if (path == tickets_prefix) {
    if (req.method != "POST") {
      auto r = error_response(405, "method_not_allowed", "use POST");
      r.headers.emplace_back("Allow", "POST");
      return finish(std::move(r));
    }
    input_error err;
    auto in = parse_listing(req.body, err);
    if (!in)
      return finish(error_response(err.status, err.code, err.message, err.field));
    list_ticket cmd;
    auto ids = actors::derive_listing_ids(*d.keys, meta.user_id, in->fields, in->barcode);
    cmd.ticket_id = ids.ticket_id;
    cmd.dedup_hash = ids.dedup_hash;
    cmd.fields = std::move(in->fields);
    cmd.barcode = std::move(in->barcode);
    cmd.meta = std::move(meta);
    d.ask_region(std::move(cmd), finish, [](const ticket_view& v) {
      auto r = json_response(v.created ? 201 : 200, render_ticket(v));
      r.headers.emplace_back("Location", "/api/v1/tickets/" + v.id);
      return r;
    });
    return;
  }
  if (ticket_item) {
    std::string id(path.substr(tickets_prefix.size() + 1));
    if (!persistence::is_valid_id(id))
      return finish(error_response(404, "not_found", "no such ticket", "id"));
    auto ok = [](const ticket_view& v) { return json_response(200, render_ticket(v)); };
    if (req.method == "GET") {
      d.ask_region(get_ticket{std::move(id)}, finish, ok);
      return;
    }
    if (req.method == "PATCH") {
      input_error err;
      auto patch = parse_patch(req.body, err);
      if (!patch)
        return finish(error_response(err.status, err.code, err.message, err.field));
      d.ask_region(update_ticket{std::move(id), std::move(*patch), std::move(meta)}, finish, ok);
      return;
    }
    if (req.method == "DELETE") {
      d.ask_region(withdraw_ticket{std::move(id), "withdrawn by seller", std::move(meta)}, finish,
                   ok);
      return;
    }
    auto r = error_response(405, "method_not_allowed", "use GET, PATCH or DELETE");
    r.headers.emplace_back("Allow", "GET, PATCH, DELETE");
    return finish(std::move(r));
  }
  finish(error_response(404, "not_found", "no such route"));
}

} // namespace tt::nodes
