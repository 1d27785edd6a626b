// Settlement routes of the edge: wallets, trades, direct transfers, and the
// operator's dispute queue and ledger audit. Same contract as edge.cpp: runs
// on I/O threads, never blocks them; every actor call goes through a bridge.

#include <boost/json.hpp>

#include "actors/ledger_audit.hpp"
#include "actors/trade_model.hpp"
#include "actors/wallet_model.hpp"
#include "nodes/edge_internal.hpp"
#include "nodes/json_input.hpp"
#include "nodes/trade_routes.hpp"

namespace tt::nodes {

namespace json = boost::json;

// -- rendering (also used by the admin service) --------------------------------------

std::string render_wallet(const wallet_view& v) {
  json::object o;
  o["currency"] = v.currency.empty() ? json::value(nullptr) : json::value(v.currency);
  o["available_minor"] = v.available_minor;
  o["held_minor"] = v.held_minor;
  o["version"] = v.version;
  return json::serialize(o);
}

namespace {
std::string render_movement(const wallet_command& cmd, const wallet_view& v) {
  json::object o;
  o["idempotency_key"] = cmd.ref;
  o["type"] = to_string(static_cast<wallet_op>(cmd.op));
  o["amount_minor"] = v.op_amount_minor;
  o["currency"] = v.currency;
  o["available_after_minor"] = v.available_after;
  o["held_after_minor"] = v.held_after;
  o["replayed"] = v.replayed;
  return json::serialize(o);
}

} // namespace

static json::array ids_array(const std::vector<std::string>& ids) {
  json::array a;
  for (const auto& id : ids)
    a.emplace_back(json::string(id));
  return a;
}

static json::object trade_object(const trade_view& v) {
  json::object o;
  o["id"] = v.id;
  o["status"] = v.status;
  o["proposer"] = v.proposer;
  o["counterparty"] = v.counterparty;
  o["give"] = ids_array(v.give);
  o["take"] = ids_array(v.take);
  o["cash_minor"] = v.cash_minor;
  o["proposer_pays_minor"] = v.proposer_pays_minor;
  o["counterparty_pays_minor"] = v.counterparty_pays_minor;
  o["currency"] = v.currency;
  o["deposited"] = ids_array(v.deposited);
  o["expires_at"] = format_rfc3339(v.expires_at_ms);
  o["created_at"] = format_rfc3339(v.created_at_ms);
  o["updated_at"] = format_rfc3339(v.updated_at_ms);
  if (!v.reason.empty())
    o["reason"] = v.reason;
  if (!v.dispute_reason.empty())
    o["dispute_reason"] = v.dispute_reason;
  o["version"] = v.version;
  if (v.parties.empty()) {
    o["kind"] = "direct";
  } else {
    // A matched trade: party i gives `give` to party `receiver` and pays
    // pays_minor or receives receives_minor (netted over the cycle).
    o["kind"] = "matched";
    json::array ps;
    for (const auto& p : v.parties) {
      json::object po;
      po["account"] = p.account;
      po["give"] = ids_array(p.give);
      po["gives_to"] = p.receiver < v.parties.size() ? v.parties[p.receiver].account : "";
      po["credit_minor"] = p.credit_minor;
      po["pays_minor"] = p.net_cash_minor > 0 ? p.net_cash_minor : 0;
      po["receives_minor"] = p.net_cash_minor < 0 ? -p.net_cash_minor : 0;
      po["accepted"] = std::find(v.accepted.begin(), v.accepted.end(), p.account) != v.accepted.end();
      ps.push_back(std::move(po));
    }
    o["parties"] = std::move(ps);
  }
  return o;
}

std::string render_trade(const trade_view& v) { return json::serialize(trade_object(v)); }

namespace {

// -- input ---------------------------------------------------------------------------

/// The Idempotency-Key header: required, 1..200 visible ASCII characters.
bool idempotency_key(request_ctx& c, bool required, std::string& out) {
  out = c.req.header("idempotency-key");
  if (out.empty()) {
    if (required)
      c.finish(error_response(400, "missing_idempotency_key",
                              "the Idempotency-Key header is required", "Idempotency-Key"));
    return !required;
  }
  bool ok = out.size() <= 200;
  for (char ch : out)
    ok = ok && ch > 0x20 && ch < 0x7f;
  if (!ok)
    c.finish(error_response(400, "invalid_value",
                            "Idempotency-Key must be 1 to 200 visible ASCII characters",
                            "Idempotency-Key"));
  return ok;
}

/// Hash of what the request asks for; a reused key must ask for the same.
std::string request_hash(request_ctx& c) {
  return c.d.deps.keys->keyed_hash("request", c.req.method + ' ' + c.req.target + '\n' + c.req.body);
}

bool get_ids(const json::object& o, std::string_view key, std::vector<std::string>& out,
             input_error& err) {
  auto it = o.find(key);
  if (it == o.end())
    return fail(err, 400, "missing_field", std::string(key) + " is required", std::string(key));
  if (!it->value().is_array())
    return fail(err, 400, "invalid_type", std::string(key) + " must be an array of ticket ids",
                std::string(key));
  const auto& a = it->value().get_array();
  if (a.empty() || a.size() > actors::max_trade_tickets)
    return fail(err, 422, "invalid_value", std::string(key) + " must name 1 to 10 tickets",
                std::string(key));
  for (const auto& v : a) {
    if (!v.is_string() || !persistence::is_valid_id(std::string_view(v.get_string())))
      return fail(err, 422, "invalid_value", std::string(key) + " holds an invalid ticket id",
                  std::string(key));
    out.emplace_back(v.get_string());
  }
  return true;
}

bool get_signed_money(const json::object& o, std::string_view key, int64_t& out,
                      input_error& err) {
  auto it = o.find(key);
  if (it == o.end()) {
    out = 0;
    return true;
  }
  const auto& v = it->value();
  if (!v.is_int64())
    return fail(err, 400, "invalid_type", std::string(key) + " must be an integer number of minor units",
                std::string(key));
  out = v.get_int64();
  if (out > actors::max_amount_minor || out < -actors::max_amount_minor)
    return fail(err, 422, "invalid_value", std::string(key) + " is out of range", std::string(key));
  return true;
}

bool get_positive_money(const json::object& o, std::string_view key, int64_t& out,
                        input_error& err) {
  auto it = o.find(key);
  if (it == o.end())
    return fail(err, 400, "missing_field", std::string(key) + " is required", std::string(key));
  if (!get_money(it->value(), key, out, err))
    return false;
  if (out == 0)
    return fail(err, 422, "invalid_value", std::string(key) + " must be positive", std::string(key));
  return true;
}

http_response input_failure(const input_error& err) {
  return error_response(err.status, err.code, err.message, err.field);
}

/// Maps errors with settlement meaning before the generic mapping.
http_response settlement_error(const caf::error& err) {
  auto info = describe(err);
  switch (info.code) {
    case errc::insufficient_funds:
      return error_response(422, "insufficient_funds", info.message, info.field);
    case errc::idempotency_mismatch:
      return error_response(422, "idempotency_key_reused", info.message, info.field);
    default: return from_error(err);
  }
}

template <class Reply, class Dest, class Cmd, class OnOk>
void ask(request_ctx& c, Dest dest, Cmd cmd, OnOk on_ok) {
  auto timeout = c.d.cfg.request_timeout;
  c.d.in_bridge([dest, timeout, cmd = std::move(cmd), respond = c.finish,
                 on_ok](bridge_actor::pointer self) mutable {
    self->request(dest, timeout, std::move(cmd))
      .then([respond, on_ok](Reply& r) { respond(on_ok(r)); },
            [respond](caf::error& err) { respond(settlement_error(err)); });
  });
}

bool is_admin(request_ctx& c) {
  if (c.claims.role == "admin")
    return true;
  c.finish(error_response(403, "forbidden", "this route is for operators"));
  return false;
}

// -- wallet ----------------------------------------------------------------------------

void wallet_movement(request_ctx& c, wallet_op op) {
  std::string key;
  if (!idempotency_key(c, true, key))
    return;
  input_error err;
  auto o = parse_object(c.req.body, err);
  if (!o)
    return c.finish(input_failure(err));
  wallet_command cmd;
  if (!check_keys(*o, {"amount_minor", "currency"}, err)
      || !get_positive_money(*o, "amount_minor", cmd.amount_minor, err)
      || !get_string(*o, "currency", 3, 3, true, cmd.currency, err))
    return c.finish(input_failure(err));
  if (!is_iso4217(cmd.currency))
    return c.finish(error_response(422, "invalid_value", "currency must be an ISO 4217 code",
                                   "currency"));
  cmd.wallet_id = c.claims.sub;
  cmd.op = static_cast<uint8_t>(op);
  cmd.ref = key;
  cmd.request_hash = request_hash(c);
  cmd.meta = c.meta;
  auto shown = cmd;
  ask<wallet_view>(c, c.d.deps.wallets, std::move(cmd), [shown](wallet_view& v) {
    return json_response(v.replayed ? 200 : 201, render_movement(shown, v));
  });
}

void post_deposit(request_ctx& c) { wallet_movement(c, wallet_op::deposit); }
void post_withdrawal(request_ctx& c) { wallet_movement(c, wallet_op::withdrawal); }

void get_wallet_route(request_ctx& c) {
  auto respond = c.finish;
  auto& d = c.d;
  d.in_bridge([&d, respond, id = c.claims.sub](bridge_actor::pointer self) {
    self->request(d.deps.wallets, d.cfg.request_timeout, get_wallet{id})
      .then([respond](wallet_view& v) { respond(json_response(200, render_wallet(v))); },
            [respond](caf::error& err) {
              if (describe(err).code == errc::not_found)
                return respond(json_response(200, render_wallet(wallet_view{})));
              respond(from_error(err));
            });
  });
}


void get_postings(request_ctx& c) {
  size_t limit;
  if (!read_limit(c, limit))
    return;
  uint64_t after = 0;
  auto cur = query_param(c.query, "cursor");
  if (!cur.empty()) {
    char* end = nullptr;
    auto v = std::strtoull(cur.c_str(), &end, 10);
    if (end == nullptr || *end != '\0' || cur.size() > 19)
      return c.finish(error_response(400, "invalid_value", "cursor is not valid", "cursor"));
    after = v;
  }
  json::array items;
  uint64_t last = 0;
  bool more = false;
  c.d.deps.store->read_events(
    entity_kind::wallet, c.claims.sub, after + 1, [&](uint64_t seq, std::string_view bytes) {
      if (items.size() == limit) {
        more = true;
        return false;
      }
      auto ev = decode_event(bytes);
      last = seq;
      if (!ev)
        return true;
      auto* x = std::get_if<wallet_posted>(&ev->payload);
      if (!x)
        return true;
      json::array ps;
      for (const auto& p : x->postings)
        ps.push_back(json::object{{"from", to_string(p.from)},
                                  {"to", to_string(p.to)},
                                  {"amount_minor", p.amount_minor}});
      items.push_back(json::object{{"seq", seq},
                                   {"at", format_rfc3339(ev->timestamp_ms)},
                                   {"type", to_string(x->op)},
                                   {"ref", x->ref},
                                   {"amount_minor", x->amount_minor},
                                   {"currency", x->currency},
                                   {"postings", std::move(ps)}});
      return true;
    });
  json::object o;
  o["items"] = std::move(items);
  o["next_cursor"] = more ? json::value(std::to_string(last)) : json::value(nullptr);
  c.finish(json_response(200, json::serialize(o)));
}

// -- trades -------------------------------------------------------------------------------

void post_trade(request_ctx& c) {
  std::string key;
  if (!idempotency_key(c, false, key))
    return;
  input_error err;
  auto o = parse_object(c.req.body, err);
  if (!o)
    return c.finish(input_failure(err));
  propose_trade cmd;
  if (!check_keys(*o, {"give", "take", "cash_minor"}, err) || !get_ids(*o, "give", cmd.give, err)
      || !get_ids(*o, "take", cmd.take, err)
      || !get_signed_money(*o, "cash_minor", cmd.cash_minor, err))
    return c.finish(input_failure(err));
  cmd.proposer = c.claims.sub;
  cmd.trade_id = key.empty() ? persistence::random_id()
                             : c.d.deps.keys->derived_id("trade", c.claims.sub + '\n' + key);
  cmd.request_hash = request_hash(c);
  cmd.meta = c.meta;
  ask<trade_view>(c, c.d.deps.trades, std::move(cmd), [](trade_view& v) {
    auto r = json_response(v.created ? 201 : 200, render_trade(v));
    r.headers.emplace_back("Location", "/api/v1/trades/" + v.id);
    return r;
  });
}

void trade_act(request_ctx& c, trade_action_kind kind, trade_action cmd = {}) {
  if (!persistence::is_valid_id(c.params[0]))
    return c.finish(error_response(404, "not_found", "no such trade", "id"));
  cmd.trade_id = c.params[0];
  cmd.action = static_cast<uint8_t>(kind);
  cmd.by = c.claims.sub;
  cmd.meta = c.meta;
  ask<trade_view>(c, c.d.deps.trades, std::move(cmd),
                  [](trade_view& v) { return json_response(200, render_trade(v)); });
}

/// Actions whose body is empty or an object with an optional reason.
void reason_action(request_ctx& c, trade_action_kind kind, bool reason_required) {
  trade_action cmd;
  if (!c.req.body.empty() || reason_required) {
    input_error err;
    auto o = parse_object(c.req.body, err);
    if (!o || !check_keys(*o, {"reason"}, err)
        || !get_string(*o, "reason", 1, 500, reason_required, cmd.reason, err))
      return c.finish(input_failure(err));
  }
  trade_act(c, kind, std::move(cmd));
}

void get_trade_route(request_ctx& c) { trade_act(c, trade_action_kind::get); }
void post_accept(request_ctx& c) { reason_action(c, trade_action_kind::accept, false); }
void post_decline(request_ctx& c) { reason_action(c, trade_action_kind::decline, false); }
void post_cancel(request_ctx& c) { reason_action(c, trade_action_kind::cancel, false); }
void post_dispute(request_ctx& c) { reason_action(c, trade_action_kind::dispute, true); }

void post_cash(request_ctx& c) {
  input_error err;
  auto o = parse_object(c.req.body, err);
  trade_action cmd;
  if (!o || !check_keys(*o, {"amount_minor"}, err)
      || !get_positive_money(*o, "amount_minor", cmd.amount_minor, err))
    return c.finish(input_failure(err));
  trade_act(c, trade_action_kind::add_cash, std::move(cmd));
}

void post_trade_deposit(request_ctx& c) {
  input_error err;
  auto o = parse_object(c.req.body, err);
  trade_action cmd;
  if (!o || !check_keys(*o, {"ticket_id", "barcode"}, err)
      || !get_string(*o, "ticket_id", 1, 64, true, cmd.ticket_id, err)
      || !get_string(*o, "barcode", 1, 512, true, cmd.barcode, err))
    return c.finish(input_failure(err));
  if (!persistence::is_valid_id(cmd.ticket_id))
    return c.finish(error_response(422, "invalid_value", "ticket_id is not a ticket id", "ticket_id"));
  trade_act(c, trade_action_kind::deposit, std::move(cmd));
}

void get_my_trades(request_ctx& c) {
  auto& d = c.d;
  with_index_page(c, actors::trade_index_prefix(c.claims.sub),
                  [&d, respond = c.finish, user = c.claims.sub](index_page page) {
  auto ids = std::move(page.ids);
  auto next_cursor = std::move(page.next_cursor);
  d.in_bridge([&d, ids = std::move(ids), next_cursor, respond,
               user](bridge_actor::pointer self) {
    auto done = [next_cursor, respond](std::vector<std::optional<trade_view>>& got) {
      json::array items;
      for (auto& it : got)
        if (it)
          items.push_back(trade_object(*it));
      json::object o;
      o["items"] = std::move(items);
      o["next_cursor"] = next_cursor.empty() ? json::value(nullptr) : json::value(next_cursor);
      respond(json_response(200, json::serialize(o)));
    };
    gather<trade_view>(self, d.deps.trades, d.cfg.request_timeout, ids,
                       [&user](const std::string& id) {
                         trade_action get;
                         get.trade_id = id;
                         get.action = static_cast<uint8_t>(trade_action_kind::get);
                         get.by = user;
                         return get;
                       },
                       done);
  });
  });
}

// -- direct transfer ----------------------------------------------------------------------

void post_transfer(request_ctx& c) {
  std::string key;
  if (!idempotency_key(c, false, key))
    return;
  if (!persistence::is_valid_id(c.params[0]))
    return c.finish(error_response(404, "not_found", "no such ticket", "id"));
  input_error err;
  auto o = parse_object(c.req.body, err);
  std::string to;
  if (!o || !check_keys(*o, {"to_account_id"}, err)
      || !get_string(*o, "to_account_id", 1, 64, true, to, err))
    return c.finish(input_failure(err));
  if (!persistence::is_valid_id(to))
    return c.finish(error_response(422, "invalid_value", "to_account_id is not an account id",
                                   "to_account_id"));
  ticket_trade_step step;
  step.ticket_id = c.params[0];
  step.step = static_cast<uint8_t>(ticket_step::transfer);
  step.trade_id = "xfer-" + (key.empty() ? persistence::random_id()
                                         : c.d.deps.keys->derived_id("transfer", c.claims.sub + '\n' + key));
  step.owner = c.claims.sub;
  step.to = to;
  step.meta = c.meta;
  auto respond = c.finish;
  auto& d = c.d;
  d.in_bridge([&d, respond, step = std::move(step)](bridge_actor::pointer self) {
    // The recipient must exist; then the adapter moves the ticket.
    self->request(d.deps.accounts, d.cfg.request_timeout, get_account{step.to})
      .then(
        [&d, self, respond, step](account_view&) {
          self->request(d.deps.transfers, d.cfg.request_timeout, step)
            .then([respond](ticket_view& v) { respond(json_response(200, render_ticket(v))); },
                  [respond](caf::error& err) { respond(settlement_error(err)); });
        },
        [respond](caf::error& err) {
          if (describe(err).code == errc::not_found)
            return respond(error_response(422, "invalid_value", "no such account", "to_account_id"));
          respond(from_error(err));
        });
  });
}

// -- operators ------------------------------------------------------------------------------

void get_disputes(request_ctx& c) {
  if (!is_admin(c))
    return;
  with_index_page(c, actors::dispute_index_prefix(), [respond = c.finish](index_page page) {
    json::array items;
    for (size_t i = 0; i < page.ids.size(); ++i)
      items.push_back(json::object{{"trade_id", page.ids[i]}, {"reason", page.values[i]}});
    json::object o;
    o["items"] = std::move(items);
    o["next_cursor"] = page.next_cursor.empty() ? json::value(nullptr) : json::value(page.next_cursor);
    respond(json_response(200, json::serialize(o)));
  });
}

void post_resolve(request_ctx& c) {
  if (!is_admin(c))
    return;
  input_error err;
  auto o = parse_object(c.req.body, err);
  std::string outcome;
  trade_action cmd;
  if (!o || !check_keys(*o, {"outcome", "note"}, err)
      || !get_string(*o, "outcome", 1, 16, true, outcome, err)
      || !get_string(*o, "note", 0, 500, false, cmd.reason, err))
    return c.finish(input_failure(err));
  trade_action_kind kind;
  if (outcome == "refund")
    kind = trade_action_kind::resolve_refund;
  else if (outcome == "complete")
    kind = trade_action_kind::resolve_complete;
  else
    return c.finish(error_response(422, "invalid_value", "outcome must be refund or complete",
                                   "outcome"));
  cmd.admin = true;
  trade_act(c, kind, std::move(cmd));
}

void get_audit(request_ctx& c) {
  if (!is_admin(c))
    return;
  auto respond = c.finish;
  auto store = c.d.deps.store;
  // A full scan of the log: off the I/O thread.
  c.d.in_bridge([store, respond](bridge_actor::pointer) {
    auto r = actors::run_audit(*store);
    json::object accounts;
    for (size_t i = 0; i < ledger_account_count; ++i)
      accounts[to_string(static_cast<ledger_account>(i))] = r.totals[i];
    json::object trades;
    for (auto& [k, v] : r.trades_by_status)
      trades[k] = v;
    json::array neg;
    for (auto& w : r.negative_wallets)
      neg.emplace_back(json::string(w));
    json::array viol;
    for (auto& v : r.violations)
      viol.emplace_back(json::string(v));
    json::object o{{"ok", r.ok()},
                   {"events", r.events},
                   {"ledger", std::move(accounts)},
                   {"sum_minor", r.sum},
                   {"wallets", r.wallets},
                   {"negative_wallets", std::move(neg)},
                   {"tickets", r.tickets},
                   {"trades", std::move(trades)},
                   {"violations", std::move(viol)}};
    respond(json_response(200, json::serialize(o)));
  });
}

} // namespace

const std::vector<route_entry>& settlement_routes() {
  static const std::vector<route_entry> table = {
    {{"POST", "/api/v1/me/deposits", true, "Add money to the wallet (Idempotency-Key)"}, post_deposit},
    {{"POST", "/api/v1/me/withdrawals", true, "Take money out of the wallet (Idempotency-Key)"}, post_withdrawal},
    {{"GET", "/api/v1/me/wallet", true, "The caller's wallet balances"}, get_wallet_route},
    {{"GET", "/api/v1/me/wallet/postings", true, "The caller's ledger postings, paged"}, get_postings},
    {{"POST", "/api/v1/trades", true, "Propose a trade"}, post_trade},
    {{"GET", "/api/v1/me/trades", true, "Trades the caller is party to"}, get_my_trades},
    {{"GET", "/api/v1/trades/{id}", true, "A trade (parties only)"}, get_trade_route},
    {{"POST", "/api/v1/trades/{id}/accept", true, "Accept a trade (counterparty)"}, post_accept},
    {{"POST", "/api/v1/trades/{id}/decline", true, "Decline a trade (counterparty)"}, post_decline},
    {{"POST", "/api/v1/trades/{id}/cancel", true, "Cancel a trade (proposer)"}, post_cancel},
    {{"POST", "/api/v1/trades/{id}/cash", true, "Add cash to the caller's side"}, post_cash},
    {{"POST", "/api/v1/trades/{id}/deposits", true, "Upload a ticket's barcode into escrow"}, post_trade_deposit},
    {{"POST", "/api/v1/trades/{id}/dispute", true, "Dispute a trade"}, post_dispute},
    {{"POST", "/api/v1/tickets/{id}/transfer", true, "Give a ticket to another account"}, post_transfer},
    {{"GET", "/api/v1/admin/disputes", true, "Open disputes (operators)"}, get_disputes},
    {{"POST", "/api/v1/admin/disputes/{id}/resolve", true, "Resolve a dispute (operators)"}, post_resolve},
    {{"GET", "/api/v1/admin/audit", true, "Settlement invariants from the log (operators)"}, get_audit},
  };
  return table;
}

} // namespace tt::nodes
