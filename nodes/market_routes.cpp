// GET /api/v1/marketplace: public search over the in-memory market index
// (actors/market_index.hpp), or with --marketplace-source postgres over the
// PostgreSQL projection (nodes/pg_market.hpp; same pages). Runs on the I/O
// thread: a query takes a shared lock and touches at most one bucket or one
// ordered walk (PostgreSQL: one SELECT on a pooled connection).

#include <boost/json.hpp>

#include <charconv>

#include "actors/market_index.hpp"
#include "nodes/edge_internal.hpp"
#include "nodes/market_routes.hpp"
#include "nodes/pg_market.hpp"

namespace tt::nodes {

namespace json = boost::json;

namespace {

int hex(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

/// Percent-decoding of a query value ('+' is a space); false if malformed.
bool url_decode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%') {
      if (i + 2 >= in.size())
        return false;
      int h = hex(in[i + 1]), l = hex(in[i + 2]);
      if (h < 0 || l < 0)
        return false;
      out.push_back(static_cast<char>(h * 16 + l));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  for (unsigned char ch : out)
    if (ch < 0x20 || ch == 0x7f)
      return false;
  return true;
}

void get_marketplace(request_ctx& c) {
  auto& d = c.d;
  if (!d.deps.market_db && (!d.deps.market || !d.deps.market->ready())) {
    auto r = error_response(503, "unavailable", "the market index is still loading");
    r.headers.emplace_back("Retry-After", "1");
    return c.finish(std::move(r));
  }
  actors::market_query q;
  auto bad = [&](std::string_view field, std::string_view msg) {
    c.finish(error_response(400, "invalid_value", msg, field));
  };
  // Unknown parameters are refused like unknown JSON fields.
  static const std::string_view known[] = {"category", "event_id", "venue", "q", "min_price",
                                           "max_price", "starts_after", "starts_before", "sort",
                                           "limit", "cursor"};
  std::string_view rest = c.query;
  while (!rest.empty()) {
    auto amp = rest.find('&');
    auto part = rest.substr(0, amp);
    auto name = part.substr(0, part.find('='));
    if (!part.empty() && std::find(std::begin(known), std::end(known), name) == std::end(known))
      return c.finish(error_response(400, "unknown_field",
                                     "unknown parameter " + std::string(name.substr(0, 64)),
                                     std::string(name.substr(0, 64))));
    rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
  }
  auto text = [&](const char* name, std::string& out, size_t max) {
    auto raw = query_param(c.query, name);
    if (!url_decode(raw, out) || out.size() > max) {
      bad(name, std::string(name) + " is not valid text (at most " + std::to_string(max)
                  + " bytes)");
      return false;
    }
    return true;
  };
  auto integer = [&](const char* name, std::optional<int64_t>& out) {
    auto raw = query_param(c.query, name);
    if (raw.empty())
      return true;
    int64_t v = 0;
    auto r = std::from_chars(raw.data(), raw.data() + raw.size(), v);
    if (r.ec != std::errc{} || r.ptr != raw.data() + raw.size() || v < 0) {
      bad(name, std::string(name) + " must be a non-negative integer of minor units");
      return false;
    }
    out = v;
    return true;
  };
  auto time = [&](const char* name, std::optional<int64_t>& out) {
    std::string s;
    if (!text(name, s, 64))
      return false;
    if (s.empty())
      return true;
    int64_t ms = 0;
    if (!parse_rfc3339(s, ms)) {
      bad(name, std::string(name) + " must be an RFC 3339 time");
      return false;
    }
    out = ms;
    return true;
  };
  std::string sort, limit;
  if (!text("category", q.category, 100) || !text("event_id", q.event_id, 100)
      || !text("venue", q.venue, 200) || !text("q", q.q, 100) || !integer("min_price", q.min_price)
      || !integer("max_price", q.max_price) || !time("starts_after", q.starts_after_ms)
      || !time("starts_before", q.starts_before_ms) || !text("sort", sort, 16)
      || !text("limit", limit, 4) || !text("cursor", q.cursor, 96))
    return;
  if (sort.empty() || sort == "price")
    q.sort = actors::market_sort::price;
  else if (sort == "starts_at")
    q.sort = actors::market_sort::starts_at;
  else if (sort == "created")
    q.sort = actors::market_sort::created;
  else
    return bad("sort", "sort must be price, starts_at or created");
  if (!limit.empty()) {
    int v = 0;
    auto r = std::from_chars(limit.data(), limit.data() + limit.size(), v);
    if (r.ec != std::errc{} || r.ptr != limit.data() + limit.size() || v < 1 || v > 100)
      return bad("limit", "limit must be 1 to 100");
    q.limit = static_cast<size_t>(v);
  }
  if (q.min_price && q.max_price && *q.min_price > *q.max_price)
    return bad("min_price", "min_price is above max_price");
  actors::market_page page;
  if (d.deps.market_db) {
    auto r = d.deps.market_db->query(q);
    if (!r.ok) {
      log::warn("marketplace_postgres_failed", {{"reason", r.error.substr(0, 300)}});
      auto resp = error_response(503, "unavailable", "the marketplace database is not answering");
      resp.headers.emplace_back("Retry-After", "1");
      return c.finish(std::move(resp));
    }
    page = std::move(r.page);
  } else {
    page = d.deps.market->query(q);
  }
  if (page.bad_cursor)
    return bad("cursor", "cursor is not valid");
  std::string body = "{\"items\":[";
  bool first = true;
  for (const auto& l : page.items) {
    if (!first)
      body += ',';
    first = false;
    ticket_view v;
    v.id = l.id;
    v.fields = l.fields;
    v.status = static_cast<uint8_t>(ticket_status::listed);
    v.seller = l.seller;
    v.created_at_ms = l.created_at_ms;
    v.updated_at_ms = l.updated_at_ms;
    body += render_ticket(v);
  }
  body += "],\"next_cursor\":";
  if (page.next_cursor.empty())
    body += "null";
  else
    log::append_json_string(body, page.next_cursor);
  body += '}';
  c.finish(json_response(200, std::move(body)));
}

} // namespace

const std::vector<route_entry>& market_routes() {
  static const std::vector<route_entry> table = {
    {{"GET", "/api/v1/marketplace", false, "Search listed tickets"}, get_marketplace},
  };
  return table;
}

} // namespace tt::nodes
