// The event feed for programs (tt-tail, analytics): pages of the global log
// from an offset, filtered by type and entity, and committed consumer offsets
// stored on the node. Admin or analytics role. The page read runs in a bridge
// actor (RocksDB reads, bounded per request), never on an I/O thread.

#include <boost/json.hpp>

#include <charconv>

#include "actors/trade_model.hpp"
#include "nodes/edge_internal.hpp"
#include "nodes/event_json.hpp"
#include "nodes/json_input.hpp"
#include "nodes/tail_routes.hpp"

namespace tt::nodes {

namespace json = boost::json;

namespace {

/// Events scanned per request at most (filters may skip many).
constexpr size_t max_scan = 20000;

bool may_read_feed(request_ctx& c) {
  if (c.claims.role == "admin" || c.claims.role == "analytics")
    return true;
  c.finish(error_response(403, "forbidden", "the event feed needs the admin or analytics role"));
  return false;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  auto r = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && r.ec == std::errc{} && r.ptr == s.data() + s.size();
}

bool valid_consumer_name(std::string_view s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
          || ch == '-' || ch == '_' || ch == '.'))
      return false;
  return true;
}

std::string consumer_key(std::string_view name) {
  std::string k = "consumer";
  k.push_back('\0');
  k.append(name);
  return k;
}

void get_events(request_ctx& c) {
  if (!may_read_feed(c))
    return;
  uint64_t from = 1;
  size_t limit = 500;
  auto f = query_param(c.query, "from");
  if (!f.empty() && (!parse_u64(f, from) || from == 0))
    return c.finish(error_response(400, "invalid_value", "from must be an offset >= 1", "from"));
  auto l = query_param(c.query, "limit");
  uint64_t lv = 0;
  if (!l.empty()) {
    if (!parse_u64(l, lv) || lv < 1 || lv > 5000)
      return c.finish(error_response(400, "invalid_value", "limit must be 1 to 5000", "limit"));
    limit = lv;
  }
  // type=a,b,c ; entity=KIND or KIND:ID
  std::vector<std::string> types;
  auto t = query_param(c.query, "type");
  for (size_t pos = 0; pos < t.size();) {
    auto comma = t.find(',', pos);
    auto one = t.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    if (one.empty() || one.size() > 40)
      return c.finish(error_response(400, "invalid_value", "type is a comma-separated list", "type"));
    types.push_back(one);
    pos = comma == std::string::npos ? t.size() : comma + 1;
  }
  std::string kind, id;
  auto e = query_param(c.query, "entity");
  if (!e.empty()) {
    auto colon = e.find(':');
    kind = e.substr(0, colon);
    if (colon != std::string::npos)
      id = e.substr(colon + 1);
    if (kind.empty() || kind.size() > 20 || id.size() > 64)
      return c.finish(error_response(400, "invalid_value", "entity is KIND or KIND:ID", "entity"));
  }
  auto respond = c.finish;
  auto store = c.d.deps.store;
  c.d.in_bridge([store, respond, from, limit, types, kind, id](bridge_actor::pointer) {
    std::string body = "{\"events\":[";
    size_t n = 0, scanned = 0;
    uint64_t next = from;
    auto end = store->next_offset();
    store->read_log(from, max_scan, [&](uint64_t offset, std::string_view bytes) {
      ++scanned;
      auto ev = decode_event(bytes);
      if (ev) {
        bool keep = (types.empty()
                     || std::find(types.begin(), types.end(), event_type_name(ev->payload))
                          != types.end())
                    && (kind.empty() || kind == to_string(ev->kind))
                    && (id.empty() || id == ev->entity_id);
        if (keep) {
          if (n++ > 0)
            body += ',';
          body += render_event(offset, *ev);
        }
      }
      next = offset + 1;
      return n < limit;
    });
    body += "],\"next_offset\":" + std::to_string(next) + ",\"end_offset\":" + std::to_string(end)
            + "}";
    respond(json_response(200, std::move(body)));
  });
}

void get_consumer(request_ctx& c) {
  if (!may_read_feed(c))
    return;
  const auto& name = c.params[0];
  if (!valid_consumer_name(name))
    return c.finish(error_response(400, "invalid_value",
                                   "consumer names are 1-64 of [A-Za-z0-9._-]", "name"));
  auto key = consumer_key(name);
  auto rows = c.d.deps.store->scan_index(key, {}, 1);
  uint64_t offset = 0;
  if (!rows.empty() && rows[0].first == key)
    parse_u64(rows[0].second, offset);
  json::object o{{"name", name}, {"offset", offset}};
  c.finish(json_response(200, json::serialize(o)));
}

void put_consumer(request_ctx& c) {
  if (!may_read_feed(c))
    return;
  const auto& name = c.params[0];
  if (!valid_consumer_name(name))
    return c.finish(error_response(400, "invalid_value",
                                   "consumer names are 1-64 of [A-Za-z0-9._-]", "name"));
  input_error err;
  auto o = parse_object(c.req.body, err);
  int64_t offset = 0;
  if (!o || !check_keys(*o, {"offset"}, err))
    return c.finish(error_response(err.status, err.code, err.message, err.field));
  auto it = o->find("offset");
  if (it == o->end() || !get_money(it->value(), "offset", offset, err))
    return c.finish(error_response(it == o->end() ? 400 : err.status,
                                   it == o->end() ? "missing_field" : err.code,
                                   it == o->end() ? "offset is required" : err.message, "offset"));
  if (static_cast<uint64_t>(offset) > c.d.deps.store->next_offset())
    return c.finish(error_response(422, "invalid_value", "offset is beyond the end of the log",
                                   "offset"));
  // Durable before the answer: an index-only append through the journal.
  append_events cmd;
  cmd.kind = static_cast<uint8_t>(entity_kind::consumer);
  cmd.entity_id = name;
  cmd.expected_seq = 0;  // consumers never have events
  cmd.index_writes = {consumer_key(name), std::to_string(offset)};
  auto respond = c.finish;
  auto journal = c.d.deps.journal;
  auto timeout = c.d.cfg.request_timeout;
  c.d.in_bridge([journal, timeout, cmd = std::move(cmd), respond, name,
                 offset](bridge_actor::pointer self) mutable {
    self->request(journal, timeout, std::move(cmd))
      .then(
        [respond, name, offset](append_ack&) {
          json::object o{{"name", name}, {"offset", offset}};
          respond(json_response(200, json::serialize(o)));
        },
        [respond](caf::error& err) { respond(from_error(err)); });
  });
}

/// The nodes a cluster-wide consumer follows (tt-tail --cluster): every
/// node's HTTP address and status; one entry on an embedded node.
void get_cluster_nodes(request_ctx& c) {
  if (!may_read_feed(c))
    return;
  std::string nodes;
  if (c.d.deps.cluster_nodes)
    nodes = c.d.deps.cluster_nodes();
  if (nodes.empty()) {
    json::array one{json::object{{"name", "local"}, {"http", ""}, {"status", "up"}}};
    nodes = json::serialize(one);
  }
  c.finish(json_response(200, "{\"nodes\":" + nodes + "}"));
}

} // namespace

const std::vector<route_entry>& tail_routes() {
  static const std::vector<route_entry> table = {
    {{"GET", "/api/v1/events", true, "The global event log from an offset (admin/analytics)"}, get_events},
    {{"GET", "/api/v1/consumers/{name}", true, "A consumer's committed offset"}, get_consumer},
    {{"PUT", "/api/v1/consumers/{name}", true, "Commit a consumer's offset (durable)"}, put_consumer},
    {{"GET", "/api/v1/cluster/nodes", true, "The cluster's nodes and their HTTP addresses (admin/analytics)"},
     get_cluster_nodes},
  };
  return table;
}

} // namespace tt::nodes
