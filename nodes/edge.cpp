#include "nodes/edge.hpp"

#include "nodes/edge_internal.hpp"
#include "nodes/market_routes.hpp"
#include "nodes/offer_routes.hpp"
#include "nodes/tail_routes.hpp"
#include "nodes/trade_routes.hpp"
#include "nodes/valuation_routes.hpp"

namespace tt::nodes {

namespace {

// -- tickets -------------------------------------------------------------------

http_response ticket_ok(const ticket_view& v) { return json_response(200, render_ticket(v)); }

void post_ticket(request_ctx& c) {
  input_error err;
  auto in = parse_listing(c.req.body, err);
  if (!in)
    return c.finish(error_response(err.status, err.code, err.message, err.field));
  list_ticket cmd;
  auto ids = actors::derive_listing_ids(*c.d.deps.keys, c.meta.user_id, in->fields, in->barcode);
  cmd.ticket_id = ids.ticket_id;
  cmd.dedup_hash = ids.dedup_hash;
  cmd.fields = std::move(in->fields);
  cmd.barcode = std::move(in->barcode);
  cmd.meta = c.meta;
  c.ask<ticket_view>(c.d.deps.tickets, std::move(cmd), [](const ticket_view& v) {
    auto r = json_response(v.created ? 201 : 200, render_ticket(v));
    r.headers.emplace_back("Location", "/api/v1/tickets/" + v.id);
    return r;
  });
}

bool ticket_id_ok(request_ctx& c) {
  if (persistence::is_valid_id(c.params[0]))
    return true;
  c.finish(error_response(404, "not_found", "no such ticket", "id"));
  return false;
}

void get_ticket_route(request_ctx& c) {
  if (ticket_id_ok(c))
    c.ask<ticket_view>(c.d.deps.tickets, get_ticket{c.params[0]}, ticket_ok);
}

void patch_ticket(request_ctx& c) {
  if (!ticket_id_ok(c))
    return;
  input_error err;
  auto patch = parse_patch(c.req.body, err);
  if (!patch)
    return c.finish(error_response(err.status, err.code, err.message, err.field));
  c.ask<ticket_view>(c.d.deps.tickets, update_ticket{c.params[0], std::move(*patch), c.meta},
                     ticket_ok);
}

void delete_ticket(request_ctx& c) {
  if (ticket_id_ok(c))
    c.ask<ticket_view>(c.d.deps.tickets,
                       withdraw_ticket{c.params[0], "withdrawn by seller", c.meta}, ticket_ok);
}

// -- identity ------------------------------------------------------------------

/// Issues an access token and a refresh token for a new session family.
void issue_tokens(edge::impl& d, bridge_actor::pointer self, const std::string& account_id,
                  const request_meta& meta, http_responder respond, std::string role = {}) {
  auto family = persistence::random_id();
  // 32 random bytes (43 URL-safe characters); only its keyed hash is stored.
  auto secret = persistence::random_token(32);
  auto hash = d.deps.keys->keyed_hash("refresh", secret);
  start_session cmd{account_id, family, hash, meta};
  auto ttl = d.cfg.access_token_ttl;
  auto jwt = d.deps.jwt;
  if ((!d.cfg.admin_emails.empty() || !d.cfg.analytics_emails.empty()) && role.empty()) {
    // Operators are named by email in the node's configuration.
    self->request(d.deps.accounts, d.cfg.request_timeout, get_account{account_id})
      .then(
        [&d, self, account_id, meta, respond](account_view& a) {
          auto listed = [&a](const std::vector<std::string>& emails) {
            return std::find(emails.begin(), emails.end(), a.email) != emails.end();
          };
          issue_tokens(d, self, account_id, meta, respond,
                       listed(d.cfg.admin_emails)       ? "admin"
                       : listed(d.cfg.analytics_emails) ? "analytics"
                                                        : "user");
        },
        [respond](caf::error& err) { respond(from_error(err)); });
    return;
  }
  self->request(d.deps.accounts, d.cfg.request_timeout, std::move(cmd))
    .then(
      [=](session_view& s) {
        jwt_claims claims;
        claims.role = role.empty() ? "user" : role;
        claims.sub = s.account_id;
        claims.sid = s.family_id;
        claims.iat = now_seconds();
        claims.exp = claims.iat + ttl.count();
        claims.jti = persistence::random_id();
        auto refresh = s.account_id + "." + s.family_id + "." + secret;
        respond(json_response(200, render_tokens(jwt->sign(claims), refresh, ttl.count())));
      },
      [respond](caf::error& err) { respond(from_error(err)); });
}

void post_register(request_ctx& c) {
  input_error err;
  auto in = parse_register(c.req.body, err);
  if (!in)
    return c.finish(error_response(err.status, err.code, err.message, err.field));
  auto& d = c.d;
  auto index_id = d.deps.keys->derived_id("email", in->email);
  auto meta = c.meta;
  auto respond = c.finish;
  auto email = in->email;
  auto display = in->display_name;
  d.deps.hasher->hash(std::move(in->password), [&d, index_id, meta, respond, email,
                                                display](std::string hash) {
    if (hash.empty())
      return respond(error_response(503, "unavailable", "password hashing failed; retry"));
    d.in_bridge([&d, index_id, meta, respond, email, display,
                 hash = std::move(hash)](bridge_actor::pointer self) {
      auto timeout = d.cfg.request_timeout;
      auto fresh_id = persistence::random_id();
      // 1. claim the email (first claim wins); 2. create the account under the
      // claiming id. A crash between the steps leaves a claim without account,
      // which the next registration of that email completes.
      self->request(d.deps.emails, timeout, claim_email{index_id, fresh_id, meta})
        .then(
          [&d, self, timeout, meta, respond, email, display, hash](email_claim_view& claim) {
            register_account cmd{claim.account_id, email, display, hash, meta};
            self->request(d.deps.accounts, timeout, std::move(cmd))
              .then(
                [respond](account_view& v) {
                  auto r = json_response(201, render_account(v));
                  r.headers.emplace_back("Location", "/api/v1/me");
                  respond(std::move(r));
                },
                [respond](caf::error& err) {
                  auto info = describe(err);
                  if (info.code == errc::conflict)
                    return respond(error_response(409, "email_taken",
                                                  "an account with this email exists", "email"));
                  respond(from_error(err));
                });
          },
          [respond](caf::error& err) { respond(from_error(err)); });
    });
  });
}

void post_login(request_ctx& c) {
  input_error err;
  auto in = parse_login(c.req.body, err);
  if (!in)
    return c.finish(error_response(err.status, err.code, err.message, err.field));
  auto& d = c.d;
  auto meta = c.meta;
  auto respond = c.finish;
  auto password = std::move(in->password);
  auto bad = [respond] { respond(unauthorized("invalid_credentials", "wrong email or password")); };
  // Unknown email and wrong password take the same path through the hasher,
  // with the same message, so neither status nor timing tells them apart.
  auto verify_and_login = [&d, meta, respond, password, bad](std::string account_id,
                                                             std::string phc) {
    d.deps.hasher->verify(phc, password, [&d, meta, respond, bad, account_id](bool ok) {
      if (!ok || account_id.empty())
        return bad();
      d.in_bridge([&d, meta, respond, account_id](bridge_actor::pointer self) {
        issue_tokens(d, self, account_id, meta, respond);
      });
    });
  };
  if (in->email.empty())
    return verify_and_login({}, {});
  auto index_id = d.deps.keys->derived_id("email", in->email);
  d.in_bridge([&d, index_id, respond, verify_and_login](bridge_actor::pointer self) {
    auto timeout = d.cfg.request_timeout;
    self->request(d.deps.emails, timeout, lookup_email{index_id})
      .then(
        [&d, self, timeout, respond, verify_and_login](email_claim_view& claim) {
          self->request(d.deps.accounts, timeout, get_credentials{claim.account_id})
            .then([verify_and_login](credentials& cr) { verify_and_login(cr.account_id, cr.password_hash); },
                  [respond, verify_and_login](caf::error& err) {
                    if (describe(err).code == errc::not_found)
                      return verify_and_login({}, {});
                    respond(from_error(err));
                  });
        },
        [respond, verify_and_login](caf::error& err) {
          if (describe(err).code == errc::not_found)
            return verify_and_login({}, {});
          respond(from_error(err));
        });
  });
}

void post_refresh(request_ctx& c) {
  input_error err;
  auto token = parse_refresh(c.req.body, err);
  if (!token)
    return c.finish(error_response(err.status, err.code, err.message, err.field));
  auto parts = parse_refresh_token(*token);
  if (!parts)
    return c.finish(unauthorized("invalid_refresh_token", "refresh token is not valid"));
  auto& d = c.d;
  auto new_secret = persistence::random_token(32);
  rotate_session cmd{parts->account_id, parts->family_id,
                     d.deps.keys->keyed_hash("refresh", parts->secret),
                     d.deps.keys->keyed_hash("refresh", new_secret), c.meta};
  auto respond = c.finish;
  auto ttl = d.cfg.access_token_ttl;
  auto jwt = d.deps.jwt;
  d.in_bridge([&d, cmd = std::move(cmd), respond, new_secret, ttl, jwt](bridge_actor::pointer self) mutable {
    self->request(d.deps.accounts, d.cfg.request_timeout, std::move(cmd))
      .then(
        [respond, new_secret, ttl, jwt](session_view& s) {
          jwt_claims claims;
          claims.sub = s.account_id;
          claims.sid = s.family_id;
          claims.iat = now_seconds();
          claims.exp = claims.iat + ttl.count();
          claims.jti = persistence::random_id();
          auto refresh = s.account_id + "." + s.family_id + "." + new_secret;
          respond(json_response(200, render_tokens(jwt->sign(claims), refresh, ttl.count())));
        },
        [respond](caf::error& err) {
          auto code = describe(err).code;
          if (code == errc::forbidden || code == errc::not_found)
            return respond(unauthorized("invalid_refresh_token", "refresh token is not valid"));
          respond(from_error(err));
        });
  });
}

void post_logout(request_ctx& c) {
  revoke_session cmd{c.claims.sub, c.claims.sid, "logout", c.meta};
  c.ask<session_view>(c.d.deps.accounts, std::move(cmd), [](const session_view&) {
    http_response r;
    r.status = 204;
    return r;
  });
}

void get_me(request_ctx& c) {
  c.ask<account_view>(c.d.deps.accounts, get_account{c.claims.sub},
                      [](const account_view& v) { return json_response(200, render_account(v)); });
}

} // namespace

void with_index_page(request_ctx& c, const std::string& prefix,
                     std::function<void(index_page)> then) {
  auto& d = c.d;
  if (!d.deps.peers) {
    index_page page;
    if (read_index_page(c, prefix, page))
      then(std::move(page));
    return;
  }
  size_t limit;
  std::string cursor;
  if (!read_page_params(c, limit, cursor))
    return;
  auto peers = d.deps.peers();
  if (!peers.down.empty()) {
    auto r = error_response(503, "unavailable",
                            "node " + peers.down.front() + " is down; its part of the list is missing");
    r.headers.emplace_back("Retry-After", "1");
    return c.finish(std::move(r));
  }
  // Each node's first limit + 1 rows after the cursor; the merged first
  // limit + 1 decide the page and whether there is a next one.
  struct merged {
    std::vector<std::pair<std::string, std::string>> rows;  // id, value
    size_t pending = 0;
    bool failed = false;
  };
  auto m = std::make_shared<merged>();
  std::function<bool(std::string_view)> keep;
  if (d.deps.home_shards)
    keep = [home = d.deps.home_shards()](std::string_view id) { return home[shard_of(id)]; };
  for (auto& [k, v] : d.deps.store->scan_index(prefix, cursor.empty() ? std::string{} : prefix + cursor,
                                              limit + 1, keep))
    m->rows.emplace_back(k.substr(prefix.size()), std::move(v));
  auto finish_page = [m, limit, respond = c.finish, then] {
    if (m->failed) {
      auto r = error_response(503, "unavailable", "a node did not answer; its part of the list is missing");
      r.headers.emplace_back("Retry-After", "1");
      return respond(std::move(r));
    }
    std::sort(m->rows.begin(), m->rows.end());
    m->rows.erase(std::unique(m->rows.begin(), m->rows.end(),
                              [](const auto& a, const auto& b) { return a.first == b.first; }),
                  m->rows.end());
    index_page page;
    if (m->rows.size() > limit) {
      m->rows.resize(limit);
      page.next_cursor = m->rows.back().first;
    }
    for (auto& [id, v] : m->rows) {
      page.ids.push_back(std::move(id));
      page.values.push_back(std::move(v));
    }
    then(std::move(page));
  };
  if (peers.gateways.empty())
    return finish_page();
  m->pending = peers.gateways.size();
  d.in_bridge([m, finish_page, gateways = std::move(peers.gateways),
               ask = read_index_range{cluster_wire_version, d.deps.cluster_secret, prefix, cursor,
                                      static_cast<uint32_t>(limit + 1)},
               timeout = d.cfg.request_timeout](bridge_actor::pointer self) {
    for (const auto& gw : gateways)
      self->request(gw, timeout, ask)
        .then(
          [m, finish_page](index_rows& r) {
            for (size_t i = 0; i < r.ids.size(); ++i)
              m->rows.emplace_back(std::move(r.ids[i]),
                                   i < r.values.size() ? std::move(r.values[i]) : std::string{});
            if (--m->pending == 0)
              finish_page();
          },
          [m, finish_page](caf::error&) {
            m->failed = true;
            if (--m->pending == 0)
              finish_page();
          });
  });
}

void owned_tickets_page(request_ctx& c, std::function<std::string(const ticket_view&)> render) {
  auto& d = c.d;
  with_index_page(c, actors::owner_index_prefix(c.claims.sub),
                  [&d, respond = c.finish, render = std::move(render)](index_page page) {
  auto ids = std::move(page.ids);
  auto next_cursor = std::move(page.next_cursor);
  d.in_bridge([&d, ids = std::move(ids), next_cursor, respond,
               render = std::move(render)](bridge_actor::pointer self) {
    auto done = [next_cursor, respond, render](std::vector<std::optional<ticket_view>>& items) {
      std::string body = "{\"items\":[";
      bool first = true;
      for (auto& it : items) {
        if (!it)
          continue;
        auto item = render(*it);
        if (item.empty())
          continue;
        if (!first)
          body += ',';
        first = false;
        body += item;
      }
      body += "],\"next_cursor\":";
      if (next_cursor.empty())
        body += "null";
      else
        log::append_json_string(body, next_cursor);
      body += '}';
      respond(json_response(200, std::move(body)));
    };
    gather<ticket_view>(self, d.deps.tickets, d.cfg.request_timeout, ids,
                        [](const std::string& id) { return get_ticket{id}; }, done);
  });
  });
}

namespace {

void get_my_tickets(request_ctx& c) {
  owned_tickets_page(c, [](const ticket_view& v) { return render_ticket(v); });
}

// -- notifications -------------------------------------------------------------

/// Upgrades to a WebSocket fed by the notifier: the caller's own events, or
/// with `feed` every event (filtered by `type`), from `since`/`from` on.
void upgrade_to_events(request_ctx& c, bool feed);

void get_ws(request_ctx& c) { upgrade_to_events(c, false); }

void get_event_stream(request_ctx& c) {
  if (c.claims.role != "admin" && c.claims.role != "analytics")
    return c.finish(error_response(403, "forbidden", "the event feed needs the admin or analytics role"));
  upgrade_to_events(c, true);
}

void upgrade_to_events(request_ctx& c, bool feed) {
  if (!c.req.websocket_upgrade) {
    auto r = error_response(426, "upgrade_required", "connect with a WebSocket upgrade");
    r.headers.emplace_back("Upgrade", "websocket");
    return c.finish(std::move(r));
  }
  if (c.req.header("sec-websocket-key").empty() || c.req.header("sec-websocket-version") != "13")
    return c.finish(error_response(400, "bad_websocket_handshake",
                                   "a WebSocket upgrade needs Sec-WebSocket-Key and version 13"));
  uint64_t since = 0;
  std::vector<std::string> types;
  if (feed) {
    auto t = query_param(c.query, "type");
    for (size_t pos = 0; pos < t.size();) {
      auto comma = t.find(',', pos);
      auto one = t.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
      if (one.empty() || one.size() > 40 || types.size() >= 32)
        return c.finish(error_response(400, "invalid_value", "type is a comma-separated list", "type"));
      types.push_back(one);
      pos = comma == std::string::npos ? t.size() : comma + 1;
    }
  }
  auto since_param = query_param(c.query, feed ? "from" : "since");
  if (auto s = since_param; !s.empty()) {
    char* end = nullptr;
    auto v = std::strtoull(s.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || s[0] == '-')
      return c.finish(error_response(400, "invalid_value", std::string(feed ? "from" : "since") + " must be an offset", feed ? "from" : "since"));
    since = v;
  }
  // Without `since`, the client gets every event committed after this
  // request arrived (the end of the log now), however long the handshake and
  // the subscription take.
  if (since == 0)
    since = c.d.deps.store->next_offset();
  http_response r;
  r.status = 101;
  auto notifier = c.d.deps.notifier;
  r.on_upgrade = [notifier, user = feed ? std::string{"*"} : c.claims.sub, since,
                  types](std::shared_ptr<ws_connection> conn) {
    caf::anon_send(notifier, subscribe_events{user, since, conn, types});
  };
  r.on_closed = [notifier](ws_connection* conn) {
    caf::anon_send(notifier, unsubscribe_events{conn});
  };
  c.finish(std::move(r));
}

// -- operations ----------------------------------------------------------------

void get_healthz(request_ctx& c) {
  if (!c.d.ready)
    return c.finish(error_response(503, "starting", "the node is still starting"));
  c.finish(json_response(200, "{\"status\":\"ok\"}"));
}

void get_metrics(request_ctx& c) {
  http_response r;
  r.content_type = "text/plain; version=0.0.4";
  if (c.d.deps.registry)
    r.body = prometheus::TextSerializer().Serialize(c.d.deps.registry->Collect());
  c.finish(std::move(r));
}

void get_openapi(request_ctx& c) { c.finish(json_response(200, std::string(openapi_document()))); }

const std::vector<route_entry>& route_table() {
  static const std::vector<route_entry> table = [] {
  std::vector<route_entry> t = {
    {{"GET", "/healthz", false, "Liveness and readiness"}, get_healthz},
    {{"GET", "/metrics", false, "Prometheus metrics"}, get_metrics},
    {{"GET", "/api/v1/openapi.json", false, "This API as OpenAPI 3"}, get_openapi},
    {{"POST", "/api/v1/auth/register", false, "Create an account"}, post_register},
    {{"POST", "/api/v1/auth/login", false, "Log in: access and refresh token"}, post_login},
    {{"POST", "/api/v1/auth/refresh", false, "Rotate a refresh token"}, post_refresh},
    {{"POST", "/api/v1/auth/logout", true, "Revoke the session's token family"}, post_logout},
    {{"GET", "/api/v1/me", true, "The caller's account"}, get_me},
    {{"GET", "/api/v1/me/tickets", true, "Tickets the caller owns"}, get_my_tickets},
    {{"POST", "/api/v1/tickets", true, "List a ticket"}, post_ticket},
    {{"GET", "/api/v1/tickets/{id}", false, "A ticket"}, get_ticket_route},
    {{"PATCH", "/api/v1/tickets/{id}", true, "Change a listed ticket"}, patch_ticket},
    {{"DELETE", "/api/v1/tickets/{id}", true, "Withdraw a ticket"}, delete_ticket},
    {{"GET", "/api/v1/ws", true, "Live notifications over WebSocket"}, get_ws},
    {{"GET", "/api/v1/events/stream", true, "Every event over WebSocket (admin/analytics)"}, get_event_stream},
  };
  for (const auto* more : {&settlement_routes(), &market_routes(), &tail_routes(), &valuation_routes(), &offer_routes()})
    t.insert(t.end(), more->begin(), more->end());
  return t;
  }();
  return table;
}

} // namespace

const std::vector<route_info>& edge::routes() {
  static const std::vector<route_info> infos = [] {
    std::vector<route_info> out;
    for (const auto& e : route_table())
      out.push_back(e.info);
    return out;
  }();
  return infos;
}

edge::edge(caf::actor_system& sys, edge_deps deps, edge_config cfg)
  : impl_(std::make_unique<impl>(sys)) {
  auto& d = *impl_;
  d.deps = std::move(deps);
  d.cfg = cfg;
  for (unsigned i = 0; i < std::max(1u, cfg.bridges); ++i)
    d.bridges.push_back(sys.spawn(bridge_impl));
  if (d.deps.registry) {
    d.requests = &prometheus::BuildCounter()
                    .Name("tt_http_requests_total")
                    .Help("HTTP requests by route, method and status")
                    .Register(*d.deps.registry);
    d.latency = &prometheus::BuildHistogram()
                   .Name("tt_http_request_duration_seconds")
                   .Help("HTTP request latency by route")
                   .Register(*d.deps.registry);
    d.rate_limited = &prometheus::BuildCounter()
                        .Name("tt_http_rate_limited_total")
                        .Help("Requests refused with 429")
                        .Register(*d.deps.registry)
                        .Add({});
  }
}

edge::~edge() { shutdown(); }

void edge::set_ready(bool ready) { impl_->ready = ready; }

void edge::shutdown() {
  std::unique_lock<std::shared_mutex> guard{impl_->bridges_mtx};
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
  std::string_view query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  std::string request_id = req.header("x-request-id");
  if (!valid_request_id(request_id))
    request_id = persistence::random_id();

  // Find the route (and whether the path exists with another method).
  const route_entry* found = nullptr;
  std::string allow;
  std::vector<std::string> params;
  for (const auto& e : route_table()) {
    std::vector<std::string> p;
    if (!match(e.info.pattern, path, p))
      continue;
    if (e.info.method == req.method) {
      found = &e;
      params = std::move(p);
      break;
    }
    if (!allow.empty())
      allow += ", ";
    allow += e.info.method;
  }
  std::string route = found ? std::string(found->info.pattern) : "other";

  // CORS: echo an allowed Origin back (exact match or "*").
  std::string cors_origin;
  if (const auto& origin = req.header("origin"); !origin.empty()) {
    for (const auto& o : d.cfg.cors_origins)
      if (o == "*" || o == origin)
        cors_origin = origin;
  }

  // Every answer goes through here: request id, security headers, metrics.
  auto finish = [&d, start, request_id, route, method = req.method, respond,
                 cors_origin](http_response r) {
    if (!cors_origin.empty()) {
      r.headers.emplace_back("Access-Control-Allow-Origin", cors_origin);
      r.headers.emplace_back("Vary", "Origin");
      r.headers.emplace_back("Access-Control-Expose-Headers", "X-Request-Id, Retry-After, Location");
    }
    r.headers.emplace_back("X-Request-Id", request_id);
    r.headers.emplace_back("Cache-Control", "no-store");
    r.headers.emplace_back("X-Content-Type-Options", "nosniff");
    r.headers.emplace_back("X-Frame-Options", "DENY");
    r.headers.emplace_back("Referrer-Policy", "no-referrer");
    auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    d.observe(route, method, r.status, secs);
    if (r.status >= 500)
      log::warn("http_5xx", {{"request_id", request_id}, {"status", r.status}, {"route", route}});
    respond(std::move(r));
  };

  auto too_many = [&](double retry_after) {
    if (d.rate_limited)
      d.rate_limited->Increment();
    auto r = error_response(429, "rate_limited", "too many requests; slow down");
    r.headers.emplace_back("Retry-After",
                           std::to_string(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(retry_after)))));
    finish(std::move(r));
  };

  auto now = std::chrono::steady_clock::now();
  const bool limits_on = d.deps.limiter && d.deps.limits && d.deps.limits->enabled;
  if (limits_on) {
    auto dec = d.deps.limiter->take("ip:" + req.remote_ip, d.deps.limits->per_ip, now);
    if (!dec.allowed)
      return too_many(dec.retry_after_seconds);
  }

  if (!found && req.method == "OPTIONS" && !allow.empty()) {
    // CORS preflight for an existing path.
    if (cors_origin.empty())
      return finish(error_response(403, "cors_origin_not_allowed", "origin not allowed"));
    http_response r;
    r.status = 204;
    r.headers.emplace_back("Access-Control-Allow-Methods", allow);
    r.headers.emplace_back("Access-Control-Allow-Headers",
                           "Authorization, Content-Type, X-Request-Id, X-Device-Fingerprint, "
                           "Idempotency-Key");
    r.headers.emplace_back("Access-Control-Max-Age", "600");
    return finish(std::move(r));
  }
  if (!found) {
    if (!allow.empty()) {
      auto r = error_response(405, "method_not_allowed", "use " + allow);
      r.headers.emplace_back("Allow", allow);
      return finish(std::move(r));
    }
    return finish(error_response(404, "not_found", "no such route"));
  }

  request_ctx ctx{d, req, std::move(params), query, {}, {}, false, finish};
  ctx.meta.correlation_id = request_id;
  ctx.meta.ip = req.remote_ip;
  if (const auto& fp = req.header("x-device-fingerprint"); !fp.empty())
    ctx.meta.device_hash = d.deps.keys->keyed_hash("device", fp).substr(0, 32);

  // Authentication: a Bearer access token where the route needs one (and,
  // when present, on public routes too).
  std::string authz = req.header("authorization");
  if (authz.empty() && req.websocket_upgrade) {
    // Browsers cannot set headers on WebSocket requests: ?token= instead.
    if (auto t = query_param(query, "token"); !t.empty())
      authz = "Bearer " + t;
  }
  if (!authz.empty()) {
    constexpr std::string_view bearer = "Bearer ";
    if (authz.size() <= bearer.size() || authz.compare(0, bearer.size(), bearer) != 0)
      return finish(unauthorized("invalid_token", "Authorization must be 'Bearer <token>'"));
    auto token = std::string_view(authz).substr(bearer.size());
    auto now_s = now_seconds();
    if (!d.tokens.find(token, now_s, ctx.claims)) {
      auto verdict = d.deps.jwt->verify(token, now_s, ctx.claims);
      if (verdict != jwt_error::ok)
        return finish(unauthorized("invalid_token", std::string("access token rejected: ")
                                                      + to_string(verdict)));
      d.tokens.insert(token, ctx.claims);
    }
    ctx.authenticated = true;
    ctx.meta.user_id = ctx.claims.sub;
  } else if (found->info.auth) {
    return finish(unauthorized("unauthorized", "this route needs an access token"));
  }

  if (limits_on) {
    if (const auto* rule = d.deps.limits->rule_for(found->info.method, found->info.pattern)) {
      std::string key = std::string(found->info.method) + ' ' + std::string(found->info.pattern)
                        + '|' + (ctx.authenticated ? ctx.claims.sub : "ip:" + req.remote_ip);
      auto dec = d.deps.limiter->take(key, *rule, now);
      if (!dec.allowed)
        return too_many(dec.retry_after_seconds);
    }
  }
  found->handler(ctx);
}

} // namespace tt::nodes
