#include "nodes/event_json.hpp"

#include <boost/json.hpp>

#include "nodes/ticket_json.hpp"

namespace tt::nodes {

namespace json = boost::json;

std::string render_event(uint64_t offset, const event_envelope& ev) {
  json::object o;
  o["offset"] = offset;
  o["type"] = event_type_name(ev.payload);
  o["entity"] = json::object{{"kind", to_string(ev.kind)}, {"id", ev.entity_id}};
  o["seq"] = ev.seq;
  o["at"] = format_rfc3339(ev.timestamp_ms);
  if (ev.user_id.empty())
    o["actor"] = nullptr;
  else
    o["actor"] = ev.user_id;
  json::object data;
  if (auto* x = std::get_if<ticket_listed>(&ev.payload)) {
    const auto& f = x->fields;
    data["event_id"] = f.event_id;
    data["event_name"] = f.event_name;
    data["section"] = f.section;
    data["row"] = f.row;
    json::array seats;
    for (const auto& s : f.seats)
      seats.emplace_back(json::string(s));
    data["seats"] = std::move(seats);
    data["price_minor"] = f.price_minor;
    data["currency"] = f.currency;
    data["status"] = "listed";
  } else if (auto* x = std::get_if<ticket_updated>(&ev.payload)) {
    const auto& p = x->patch;
    if (p.has_price)
      data["price_minor"] = p.price_minor;
    if (p.has_event_name)
      data["event_name"] = p.event_name;
    if (p.has_venue)
      data["venue"] = p.venue;
    if (p.has_category)
      data["category"] = p.category;
    if (p.has_event_starts_at)
      data["event_starts_at"] = format_rfc3339(p.event_starts_at_ms);
  } else if (auto* x = std::get_if<ticket_withdrawn>(&ev.payload)) {
    data["status"] = "withdrawn";
    data["reason"] = x->reason;
  } else if (auto* x = std::get_if<session_revoked>(&ev.payload)) {
    data["reason"] = x->reason;
  }
  o["data"] = std::move(data);
  return json::serialize(o);
}

std::vector<std::string> concerned_accounts(const event_envelope& ev) {
  std::vector<std::string> out;
  if (!ev.user_id.empty())
    out.push_back(ev.user_id);
  if (auto* x = std::get_if<ticket_listed>(&ev.payload); x && !x->seller.empty()
                                                         && x->seller != ev.user_id)
    out.push_back(x->seller);
  if (ev.kind == entity_kind::account && ev.entity_id != ev.user_id)
    out.push_back(ev.entity_id);
  return out;
}

} // namespace tt::nodes
