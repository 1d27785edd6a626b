// Swap offers and matching (issue #7, docs/matching.md):
//   POST   /api/v1/offers          open (or replace) the offer of a ticket the caller owns
//   GET    /api/v1/me/offers       the caller's open offers
//   DELETE /api/v1/offers/{id}     close it (the id is the ticket id)
//   PUT    /api/v1/admin/tickets/{id}/valuation   an operator's appraisal (recorded
//                                  as a `ticket_valued` event, method "manual")
//   POST   /api/v1/admin/matcher/rounds           run a matching round now
// The offer lives in the ticket entity (ticket_offered / ticket_offer_closed);
// the matcher service follows the log and proposes trades from open offers.

#include "nodes/offer_routes.hpp"

#include <boost/json.hpp>

#include "actors/matcher_service.hpp"
#include "actors/ticket_model.hpp"
#include "actors/wallet_model.hpp"
#include "nodes/json_input.hpp"
#include "nodes/ticket_json.hpp"
#include "persistence/node_keys.hpp"

namespace tt::nodes {

namespace json = boost::json;

std::string render_offer(const ticket_view& v) {
  json::object o;
  o["id"] = v.id;
  o["ticket_id"] = v.id;
  o["status"] = v.offer_open ? "open" : "closed";
  auto list = [](const std::vector<std::string>& xs) {
    json::array a;
    for (const auto& x : xs)
      a.emplace_back(json::string(x));
    return a;
  };
  o["want"] = json::object{{"event_ids", list(v.want_event_ids)},
                           {"categories", list(v.want_categories)},
                           {"venues", list(v.want_venues)},
                           {"max_cash_minor", v.max_cash_minor}};
  json::object w;
  for (size_t i = 0; i < v.weights_permille.size() && i < matching::pref_dims; ++i)
    if (v.weights_permille[i] != 0)
      w[actors::taste_dimensions[i]] = static_cast<double>(v.weights_permille[i]) / 1000.0;
  o["weights"] = std::move(w);
  if (v.credit_minor > 0)
    o["credit_minor"] = v.credit_minor;
  else
    o["credit_minor"] = nullptr;
  o["currency"] = v.fields.currency;
  o["event_id"] = v.fields.event_id;
  o["ticket_status"] = to_string(static_cast<ticket_status>(v.status));
  o["created_at"] = format_rfc3339(v.offer_at_ms);
  return json::serialize(o);
}

namespace {

http_response failure(const input_error& err) {
  return error_response(err.status, err.code, err.message, err.field);
}

/// A list of 0..20 strings of 1..200 bytes under `key` (absent: empty).
bool get_list(const json::object& o, std::string_view key, std::string_view field,
              std::vector<std::string>& out, input_error& err) {
  auto it = o.find(key);
  if (it == o.end())
    return true;
  if (!it->value().is_array())
    return fail(err, 400, "invalid_type", std::string(field) + " must be an array of strings",
                std::string(field));
  const auto& a = it->value().get_array();
  if (a.size() > 20)
    return fail(err, 422, "invalid_value", std::string(field) + " holds at most 20 values",
                std::string(field));
  for (const auto& v : a) {
    if (!v.is_string() || v.get_string().empty() || v.get_string().size() > 200
        || has_control_chars(v.get_string()))
      return fail(err, 422, "invalid_value",
                  std::string(field) + " holds 1 to 200 character strings", std::string(field));
    out.emplace_back(v.get_string());
  }
  return true;
}

/// The body of POST /api/v1/offers.
bool parse_offer(std::string_view body, offer_ticket& cmd, input_error& err) {
  auto o = parse_object(body, err);
  if (!o || !check_keys(*o, {"ticket_id", "want", "weights"}, err)
      || !get_string(*o, "ticket_id", 1, 64, true, cmd.ticket_id, err))
    return false;
  if (!persistence::is_valid_id(cmd.ticket_id))
    return fail(err, 422, "invalid_value", "ticket_id is not a ticket id", "ticket_id");
  if (auto it = o->find("want"); it != o->end()) {
    if (!it->value().is_object())
      return fail(err, 400, "invalid_type", "want must be an object", "want");
    const auto& w = it->value().get_object();
    if (!check_keys(w, {"event_ids", "categories", "venues", "max_cash_minor"}, err)
        || !get_list(w, "event_ids", "want.event_ids", cmd.want_event_ids, err)
        || !get_list(w, "categories", "want.categories", cmd.want_categories, err)
        || !get_list(w, "venues", "want.venues", cmd.want_venues, err))
      return false;
    if (w.contains("max_cash_minor")) {
      if (!get_money(w.at("max_cash_minor"), "want.max_cash_minor", cmd.max_cash_minor, err))
        return false;
      if (cmd.max_cash_minor > actors::max_amount_minor)
        return fail(err, 422, "invalid_value", "want.max_cash_minor is too large",
                    "want.max_cash_minor");
    }
  }
  if (auto it = o->find("weights"); it != o->end()) {
    if (!it->value().is_object())
      return fail(err, 400, "invalid_type", "weights must be an object", "weights");
    cmd.weights_permille.assign(matching::pref_dims, 0);
    for (const auto& [k, v] : it->value().get_object()) {
      int dim = -1;
      for (size_t i = 0; i < matching::pref_dims; ++i)
        if (k == actors::taste_dimensions[i])
          dim = static_cast<int>(i);
      if (dim < 0)
        return fail(err, 422, "invalid_value",
                    "weights keys are basketball, football, baseball, hockey, soccer, music, "
                    "stage, family",
                    "weights");
      double x;
      if (v.is_double())
        x = v.get_double();
      else if (v.is_int64())
        x = static_cast<double>(v.get_int64());
      else if (v.is_uint64())
        x = static_cast<double>(v.get_uint64());
      else
        return fail(err, 400, "invalid_type", "a weight is a number from 0 to 1", "weights");
      if (!(x >= 0.0 && x <= 1.0))
        return fail(err, 422, "invalid_value", "a weight is a number from 0 to 1", "weights");
      cmd.weights_permille[static_cast<size_t>(dim)] = static_cast<int16_t>(x * 1000.0 + 0.5);
    }
  }
  return true;
}

void post_offer(request_ctx& c) {
  input_error err;
  offer_ticket cmd;
  if (!parse_offer(c.req.body, cmd, err))
    return c.finish(failure(err));
  cmd.meta = c.meta;
  c.ask<ticket_view>(c.d.deps.tickets, std::move(cmd), [](ticket_view& v) {
    auto r = json_response(201, render_offer(v));
    r.headers.emplace_back("Location", "/api/v1/offers/" + v.id);
    return r;
  });
}

void delete_offer(request_ctx& c) {
  if (!persistence::is_valid_id(c.params[0]))
    return c.finish(error_response(404, "not_found", "no such offer", "id"));
  offer_ticket cmd;
  cmd.ticket_id = c.params[0];
  cmd.close = true;
  cmd.meta = c.meta;
  c.ask<ticket_view>(c.d.deps.tickets, std::move(cmd),
                     [](ticket_view& v) { return json_response(200, render_offer(v)); });
}

void get_my_offers(request_ctx& c) {
  owned_tickets_page(c, [me = c.claims.sub](const ticket_view& v) {
    return v.offer_open && v.seller == me ? render_offer(v) : std::string{};
  });
}

bool operator_only(request_ctx& c) {
  if (c.claims.role == "admin")
    return true;
  c.finish(error_response(403, "forbidden", "this route is for operators"));
  return false;
}

void put_appraisal(request_ctx& c) {
  if (!operator_only(c))
    return;
  if (!persistence::is_valid_id(c.params[0]))
    return c.finish(error_response(404, "not_found", "no such ticket", "id"));
  input_error err;
  auto o = parse_object(c.req.body, err);
  record_valuation cmd;
  if (!o || !check_keys(*o, {"credit_minor", "currency"}, err)
      || !get_string(*o, "currency", 3, 3, true, cmd.currency, err))
    return c.finish(failure(err));
  if (!o->contains("credit_minor"))
    return c.finish(error_response(400, "missing_field", "credit_minor is required", "credit_minor"));
  if (!get_money(o->at("credit_minor"), "credit_minor", cmd.credit_minor, err))
    return c.finish(failure(err));
  if (cmd.credit_minor <= 0 || cmd.credit_minor > matching::max_credit_minor)
    return c.finish(error_response(422, "invalid_value", "credit_minor must be positive",
                                   "credit_minor"));
  cmd.ticket_id = c.params[0];
  cmd.confidence_ppm = 1'000'000;
  cmd.model_version = "manual";
  cmd.method = "manual";
  cmd.meta = c.meta;
  auto credit = cmd.credit_minor;
  auto currency = cmd.currency;
  c.ask<ticket_view>(c.d.deps.tickets, std::move(cmd), [credit, currency](ticket_view& v) {
    json::object o{{"ticket_id", v.id},
                   {"credit_minor", credit},
                   {"currency", currency},
                   {"method", "manual"}};
    return json_response(200, json::serialize(o));
  });
}

void post_match_round(request_ctx& c) {
  if (!operator_only(c))
    return;
  if (!c.d.deps.matcher)
    return c.finish(error_response(503, "unavailable", "the matcher is not running"));
  c.ask<matcher_report>(c.d.deps.matcher, run_match_round{}, [](matcher_report& r) {
    json::object o{{"rounds", r.rounds},
                   {"offers", r.offers},
                   {"booked", r.booked},
                   {"pairs", r.last_pairs},
                   {"cycles", r.last_cycles},
                   {"round_us", r.last_round_us},
                   {"proposed_total", r.proposed},
                   {"refused_total", r.failed}};
    return json_response(200, json::serialize(o));
  });
}

} // namespace

const std::vector<route_entry>& offer_routes() {
  static const std::vector<route_entry> table = {
    {{"POST", "/api/v1/offers", true, "Offer a ticket you own for a swap"}, post_offer},
    {{"GET", "/api/v1/me/offers", true, "The caller's open offers"}, get_my_offers},
    {{"DELETE", "/api/v1/offers/{id}", true, "Withdraw an offer"}, delete_offer},
    {{"PUT", "/api/v1/admin/tickets/{id}/valuation", true, "Record an operator's appraisal"}, put_appraisal},
    {{"POST", "/api/v1/admin/matcher/rounds", true, "Run a matching round now (operators)"}, post_match_round},
  };
  return table;
}

} // namespace tt::nodes
