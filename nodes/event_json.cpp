#include "nodes/event_json.hpp"

#include <algorithm>

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
  } else if (auto* x = std::get_if<ticket_held>(&ev.payload)) {
    data["status"] = "held";
    data["trade_id"] = x->trade_id;
  } else if (auto* x = std::get_if<ticket_released>(&ev.payload)) {
    data["status"] = "listed";
    data["trade_id"] = x->trade_id;
  } else if (auto* x = std::get_if<ticket_deposited>(&ev.payload)) {
    data["status"] = "in_escrow";
    data["trade_id"] = x->trade_id;
  } else if (auto* x = std::get_if<ticket_transferred>(&ev.payload)) {
    data["trade_id"] = x->trade_id;
    data["from"] = x->from_owner;
    data["to"] = x->to_owner;
  } else if (auto* x = std::get_if<wallet_posted>(&ev.payload)) {
    data["op"] = to_string(x->op);
    data["ref"] = x->ref;
    data["amount_minor"] = x->amount_minor;
    data["currency"] = x->currency;
    json::array ps;
    for (const auto& p : x->postings)
      ps.push_back(json::object{{"from", to_string(p.from)},
                                {"to", to_string(p.to)},
                                {"amount_minor", p.amount_minor}});
    data["postings"] = std::move(ps);
  } else if (auto* x = std::get_if<trade_proposed>(&ev.payload)) {
    data["status"] = "proposing";
    data["proposer"] = x->proposer;
    data["counterparty"] = x->counterparty;
    data["cash_minor"] = x->proposer_pays_minor - x->counterparty_pays_minor;
    data["currency"] = x->currency;
  } else if (auto* x = std::get_if<trade_status_changed>(&ev.payload)) {
    data["status"] = to_string(x->status);
    if (x->status == trade_status::releasing)
      data["target"] = to_string(x->target);
    if (!x->reason.empty())
      data["reason"] = x->reason;
  } else if (auto* x = std::get_if<trade_cash_added>(&ev.payload)) {
    data["party"] = x->party;
    data["amount_minor"] = x->amount_minor;
  } else if (auto* x = std::get_if<trade_deposit>(&ev.payload)) {
    data["ticket_id"] = x->ticket_id;
  } else if (auto* x = std::get_if<trade_disputed>(&ev.payload)) {
    data["status"] = "disputed";
    data["reason"] = x->reason;
  } else if (auto* x = std::get_if<ticket_valued>(&ev.payload)) {
    data["credit_minor"] = x->credit_minor;
    data["currency"] = x->currency;
    data["confidence_ppm"] = x->confidence_ppm;
    data["model_version"] = x->model_version;
    data["method"] = x->method;
    if (x->method == "median_fallback")
      data["median_samples"] = x->median_samples;
  } else if (auto* x = std::get_if<ticket_offered>(&ev.payload)) {
    auto list = [](const std::vector<std::string>& xs) {
      json::array a;
      for (const auto& s : xs)
        a.emplace_back(json::string(s));
      return a;
    };
    data["offer"] = "open";
    data["want"] = json::object{{"event_ids", list(x->want_event_ids)},
                                {"categories", list(x->want_categories)},
                                {"venues", list(x->want_venues)},
                                {"max_cash_minor", x->max_cash_minor}};
  } else if (auto* x = std::get_if<ticket_offer_closed>(&ev.payload)) {
    data["offer"] = "closed";
    data["reason"] = x->reason;
  } else if (auto* x = std::get_if<trade_matched>(&ev.payload)) {
    data["status"] = "proposed";
    data["currency"] = x->currency;
    json::array ps;
    for (const auto& p : x->parties) {
      json::array give;
      for (const auto& t : p.give)
        give.emplace_back(json::string(t));
      ps.push_back(json::object{{"account", p.account},
                                {"give", std::move(give)},
                                {"receiver", p.receiver},
                                {"credit_minor", p.credit_minor},
                                {"net_cash_minor", p.net_cash_minor}});
    }
    data["parties"] = std::move(ps);
  } else if (auto* x = std::get_if<trade_party_accepted>(&ev.payload)) {
    data["party"] = x->party;
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
  if ((ev.kind == entity_kind::account || ev.kind == entity_kind::wallet)
      && ev.entity_id != ev.user_id)
    out.push_back(ev.entity_id);
  auto add = [&](const std::string& a) {
    if (!a.empty() && std::find(out.begin(), out.end(), a) == out.end())
      out.push_back(a);
  };
  if (auto* x = std::get_if<ticket_transferred>(&ev.payload)) {
    add(x->from_owner);
    add(x->to_owner);
  } else if (auto* x = std::get_if<trade_proposed>(&ev.payload)) {
    add(x->proposer);
    add(x->counterparty);
  } else if (auto* x = std::get_if<trade_status_changed>(&ev.payload)) {
    for (const auto& p : x->parties)
      add(p);
  } else if (auto* x = std::get_if<trade_matched>(&ev.payload)) {
    for (const auto& p : x->parties)
      add(p.account);
  }
  return out;
}

} // namespace tt::nodes
