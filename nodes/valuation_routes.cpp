// GET /api/v1/tickets/{id}/valuation: the ticket's credit, confidence and
// factors from the valuation service (actors/valuation_service.hpp), which
// records each changed valuation as a `ticket_valued` event.
//
// Access: any authenticated user (401 without a token). A valuation costs a
// model evaluation (~1 ms) and may write an event, so it is attributed to a
// user (the event's actor) and rate-limited per account; the ticket itself
// stays public at GET /api/v1/tickets/{id}.
// Errors: unknown ticket -> 404; no model loaded -> 503 `no_model` with
// Retry-After (the message names tt-train); the service still reading the
// log at start -> 503 `unavailable` with Retry-After.

#include "nodes/valuation_routes.hpp"

#include <cstdio>

namespace tt::nodes {

std::string render_valuation(const ticket_valuation& v) {
  // Rendered by hand so the confidence prints as a plain decimal ("0.8125",
  // exact for every ppm value), not Boost.JSON's exponent form.
  auto str = [](std::string& out, std::string_view s) { log::append_json_string(out, s); };
  auto factors = [&](std::string& out, const std::vector<valuation_factor>& fs) {
    out += '[';
    for (size_t i = 0; i < fs.size(); ++i) {
      out += i ? ",{\"feature\":" : "{\"feature\":";
      str(out, fs[i].feature);
      out += ",\"contribution_minor\":" + std::to_string(fs[i].contribution_minor) + '}';
    }
    out += ']';
  };
  char conf[16];
  std::snprintf(conf, sizeof conf, "%u.%06u", v.confidence_ppm / 1'000'000u,
                v.confidence_ppm % 1'000'000u);
  std::string c = conf;
  while (c.back() == '0' && c[c.size() - 2] != '.')
    c.pop_back();
  std::string out = "{\"ticket_id\":";
  str(out, v.ticket_id);
  out += ",\"credit_minor\":" + std::to_string(v.credit_minor) + ",\"currency\":";
  str(out, v.currency);
  out += ",\"confidence\":" + c + ",\"model_version\":";
  str(out, v.model_version);
  out += ",\"factors\":{\"positive\":";
  factors(out, v.positive);
  out += ",\"negative\":";
  factors(out, v.negative);
  out += "},\"method\":";
  str(out, v.method);
  if (v.method == "median_fallback")
    out += ",\"median_samples\":" + std::to_string(v.median_samples);
  out += ",\"valued_at\":";
  str(out, format_rfc3339(v.valued_at_ms));
  out += '}';
  return out;
}

namespace {

http_response valuation_error(const caf::error& err) {
  auto info = describe(err);
  if (info.code == errc::unavailable && info.field == "model") {
    auto r = error_response(503, "no_model", info.message);
    r.headers.emplace_back("Retry-After", "30");
    return r;
  }
  if (info.code == errc::unavailable && info.field == "market") {
    auto r = error_response(503, "unavailable", info.message);
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }
  if (info.code == errc::not_found)
    return error_response(404, "not_found", "no such ticket", "id");
  return from_error(err);
}

void get_valuation(request_ctx& c) {
  const auto& id = c.params[0];
  if (!persistence::is_valid_id(id))
    return c.finish(error_response(404, "not_found", "no such ticket", "id"));
  auto& d = c.d;
  if (!d.deps.valuation) {
    auto r = error_response(503, "no_model", "this node has no valuation service");
    r.headers.emplace_back("Retry-After", "30");
    return c.finish(std::move(r));
  }
  // The service asks the ticket region twice (read, record): allow both.
  auto timeout = d.cfg.request_timeout * 2;
  d.in_bridge([&d, timeout, cmd = valuate_ticket{id, c.meta},
               respond = c.finish](bridge_actor::pointer self) mutable {
    self->request(d.deps.valuation, timeout, std::move(cmd))
      .then([respond](ticket_valuation& v) { respond(json_response(200, render_valuation(v))); },
            [respond](caf::error& err) { respond(valuation_error(err)); });
  });
}

} // namespace

const std::vector<route_entry>& valuation_routes() {
  static const std::vector<route_entry> table = {
    {{"GET", "/api/v1/tickets/{id}/valuation", true, "The ticket's credit, confidence and factors"},
     get_valuation},
  };
  return table;
}

} // namespace tt::nodes
