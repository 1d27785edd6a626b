#include "actors/ticket_model.hpp"

#include <algorithm>

#include "actors/model_snapshot.hpp"
#include "actors/wallet_model.hpp"
#include "messages/errc.hpp"
#include "persistence/node_keys.hpp"

namespace tt::actors {

namespace {

void append_part(std::string& out, std::string_view part) {
  out += std::to_string(part.size());
  out += ':';
  out.append(part);
}

} // namespace

std::string dedup_key(const std::string& seller, const ticket_fields& f,
                      const std::string& barcode_hash) {
  std::string key;
  append_part(key, seller);
  append_part(key, f.event_id);
  append_part(key, f.section);
  append_part(key, f.row);
  key += std::to_string(f.seats.size());
  key += '[';
  for (const auto& s : f.seats)
    append_part(key, s);
  key += ']';
  append_part(key, std::to_string(f.face_value_minor));
  append_part(key, barcode_hash);
  return key;
}

listing_ids derive_listing_ids(const persistence::node_keys& keys, const std::string& seller,
                               const ticket_fields& f, const std::string& barcode) {
  listing_ids ids;
  ids.barcode_hash = keys.keyed_hash("barcode", barcode);
  auto key = dedup_key(seller, f, ids.barcode_hash);
  ids.dedup_hash = keys.keyed_hash("dedup", key);
  ids.ticket_id = keys.derived_id("ticket", key);
  return ids;
}

void ticket_model::apply(const event_envelope& ev) {
  auto& s = state;
  if (auto* x = std::get_if<ticket_listed>(&ev.payload)) {
    exists = true;
    s.fields = x->fields;
    s.seller = x->seller;
    s.status = ticket_status::listed;
    s.barcode_hash = x->barcode_hash;
    s.barcode_sealed = x->barcode_sealed;
    s.dedup_hash = x->dedup_hash;
    if (s.created_at_ms == 0)
      s.created_at_ms = ev.timestamp_ms;
    s.updated_at_ms = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_updated>(&ev.payload)) {
    apply_patch(s.fields, x->patch);
    s.updated_at_ms = ev.timestamp_ms;
  } else if (std::get_if<ticket_withdrawn>(&ev.payload)) {
    s.status = ticket_status::withdrawn;
    s.offer_open = false;  // an offer ends with its listing
    s.updated_at_ms = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_held>(&ev.payload)) {
    s.status = ticket_status::held;
    s.hold_trade_id = x->trade_id;
    s.updated_at_ms = ev.timestamp_ms;
  } else if (std::get_if<ticket_released>(&ev.payload)) {
    s.status = ticket_status::listed;
    s.hold_trade_id.clear();
    s.updated_at_ms = ev.timestamp_ms;
  } else if (std::get_if<ticket_deposited>(&ev.payload)) {
    s.status = ticket_status::in_escrow;
    s.updated_at_ms = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_transferred>(&ev.payload)) {
    // The new owner holds it, listed for further trades, like the
    // PostgreSQL anchor; the barcode travels with it.
    s.seller = x->to_owner;
    s.status = ticket_status::listed;
    s.hold_trade_id.clear();
    s.last_transfer_ref = x->trade_id;
    s.transfer_refs.push_back(x->trade_id);
    s.offer_open = false;  // the old owner's offer does not bind the new one
    s.updated_at_ms = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_valued>(&ev.payload)) {
    // A valuation is not a change of the ticket: updated_at stays.
    s.valuation_version = x->model_version;
    s.valuation_method = x->method;
    s.valuation_credit_minor = x->credit_minor;
  } else if (auto* x = std::get_if<ticket_offered>(&ev.payload)) {
    s.offer_open = true;
    s.offer = *x;
    s.offer_at_ms = ev.timestamp_ms;
  } else if (std::get_if<ticket_offer_closed>(&ev.payload)) {
    s.offer_open = false;
  }
  // Unknown payloads (a newer build's) and other kinds' payloads are ignored.
}

std::string owner_index_prefix(std::string_view account_id) {
  std::string key = "owner";
  key.push_back('\0');
  key.append(account_id);
  key.push_back('\0');
  return key;
}

std::vector<std::string> ticket_model::index_writes(const ticket_model& before,
                                                    const ticket_model& after) const {
  std::vector<std::string> out;
  if (!after.exists || after.state.seller.empty())
    return out;
  if (before.exists && before.state.status == after.state.status
      && before.state.seller == after.state.seller)
    return out;
  if (before.exists && !before.state.seller.empty() && before.state.seller != after.state.seller) {
    out.push_back(owner_index_prefix(before.state.seller) + after.id);
    out.emplace_back();  // delete
  }
  out.push_back(owner_index_prefix(after.state.seller) + after.id);
  out.emplace_back(to_string(after.state.status));
  return out;
}

bool ticket_model::restore(const snapshot_envelope& snap) { return restore_from(*this, snap); }

snapshot_envelope ticket_model::snapshot(uint64_t seq, int64_t now_ms) const {
  return snapshot_of(*this, seq, now_ms);
}

ticket_view ticket_model::view(uint64_t version, bool created) const {
  ticket_view v;
  v.id = id;
  v.fields = state.fields;
  v.status = static_cast<uint8_t>(state.status);
  v.seller = state.seller;
  v.barcode_hash = state.barcode_hash;
  v.created_at_ms = state.created_at_ms;
  v.updated_at_ms = state.updated_at_ms;
  v.version = version;
  v.created = created;
  v.offer_open = state.offer_open;
  v.want_event_ids = state.offer.want_event_ids;
  v.want_categories = state.offer.want_categories;
  v.want_venues = state.offer.want_venues;
  v.max_cash_minor = state.offer.max_cash_minor;
  v.weights_permille = state.offer.weights_permille;
  v.offer_at_ms = state.offer_at_ms;
  v.credit_minor = state.valuation_credit_minor;
  return v;
}

caf::expected<std::vector<event_payload>>
ticket_model::decide(const list_ticket& cmd, const persistence::node_keys& keys) const {
  const auto& f = cmd.fields;
  if (f.face_value_minor < 0)
    return make_error(errc::invalid_argument, "face value must not be negative", "face_value_minor");
  if (f.price_minor < 0)
    return make_error(errc::invalid_argument, "price must not be negative", "price_minor");
  if (cmd.barcode.empty())
    return make_error(errc::invalid_argument, "barcode is required", "barcode");
  // The id must be the one derived from the dedup key: a caller cannot list
  // under an id of its choosing.
  auto ids = derive_listing_ids(keys, cmd.meta.user_id, f, cmd.barcode);
  if (ids.ticket_id != id || ids.dedup_hash != cmd.dedup_hash)
    return make_error(errc::invalid_argument, "ticket id does not match the listing", "id");
  if (exists && state.status != ticket_status::withdrawn)
    return std::vector<event_payload>{};  // duplicate listing: answer with the existing ticket
  ticket_listed ev;
  ev.fields = f;
  ev.seller = cmd.meta.user_id;
  ev.barcode_hash = ids.barcode_hash;
  ev.barcode_sealed = keys.seal(cmd.barcode);
  ev.dedup_hash = ids.dedup_hash;
  return std::vector<event_payload>{std::move(ev)};
}

caf::expected<std::vector<event_payload>> ticket_model::decide(const update_ticket& cmd) const {
  if (!exists)
    return make_error(errc::not_found, "no such ticket", "id");
  if (cmd.meta.user_id != state.seller)
    return make_error(errc::forbidden, "only the seller may change this ticket");
  if (state.status != ticket_status::listed)
    return make_error(errc::invalid_state,
                      std::string{"ticket is "} + to_string(state.status) + ", not listed");
  const auto& p = cmd.patch;
  if (p.empty())
    return make_error(errc::invalid_argument, "nothing to update");
  if (p.has_price && p.price_minor < 0)
    return make_error(errc::invalid_argument, "price must not be negative", "price_minor");
  return std::vector<event_payload>{ticket_updated{p}};
}

caf::expected<std::vector<event_payload>> ticket_model::decide(const withdraw_ticket& cmd) const {
  if (!exists)
    return make_error(errc::not_found, "no such ticket", "id");
  if (cmd.meta.user_id != state.seller)
    return make_error(errc::forbidden, "only the seller may withdraw this ticket");
  if (state.status == ticket_status::withdrawn)
    return std::vector<event_payload>{};  // idempotent
  if (state.status != ticket_status::listed)
    return make_error(errc::invalid_state,
                      std::string{"ticket is "} + to_string(state.status) + ", cannot withdraw");
  return std::vector<event_payload>{ticket_withdrawn{cmd.reason}};
}

caf::expected<std::vector<event_payload>>
ticket_model::decide(const record_valuation& cmd) const {
  using out = std::vector<event_payload>;
  if (!exists)
    return make_error(errc::not_found, "no such ticket", "id");
  if (cmd.credit_minor < 0)
    return make_error(errc::invalid_argument, "credit must not be negative", "credit_minor");
  if (cmd.confidence_ppm > 1'000'000)
    return make_error(errc::invalid_argument, "confidence is at most 1000000 ppm", "confidence_ppm");
  if (cmd.model_version.empty() || cmd.method.empty())
    return make_error(errc::invalid_argument, "model version and method are required", "method");
  const auto& s = state;
  if (s.valuation_version == cmd.model_version && s.valuation_method == cmd.method
      && s.valuation_credit_minor == cmd.credit_minor)
    return out{};  // unchanged: nothing to record
  return out{ticket_valued{cmd.credit_minor, cmd.currency, cmd.confidence_ppm, cmd.model_version,
                           cmd.method, cmd.median_samples}};
}

caf::expected<std::vector<event_payload>> ticket_model::decide(const offer_ticket& cmd) const {
  using out = std::vector<event_payload>;
  if (!exists)
    return make_error(errc::not_found, "no such ticket", "ticket_id");
  if (cmd.meta.user_id != state.seller)
    return make_error(errc::forbidden, "only the owner may offer this ticket", "ticket_id");
  if (cmd.close) {
    if (!state.offer_open)
      return out{};  // idempotent
    return out{ticket_offer_closed{"withdrawn"}};
  }
  if (state.status != ticket_status::listed)
    return make_error(errc::invalid_state,
                      std::string{"ticket is "} + to_string(state.status) + ", not listed",
                      "ticket_id");
  if (cmd.max_cash_minor < 0 || cmd.max_cash_minor > max_amount_minor)
    return make_error(errc::invalid_argument, "max cash is out of range", "want.max_cash_minor");
  for (auto w : cmd.weights_permille)
    if (w < 0 || w > 1000)
      return make_error(errc::invalid_argument, "weights are 0..1", "weights");
  ticket_offered ev{cmd.want_event_ids, cmd.want_categories, cmd.want_venues,
                    cmd.max_cash_minor, cmd.weights_permille};
  if (state.offer_open && state.offer == ev)
    return out{};  // the same offer is open already
  return out{std::move(ev)};
}

caf::expected<std::vector<event_payload>>
ticket_model::decide(const ticket_trade_step& cmd, const persistence::node_keys& keys) const {
  using out = std::vector<event_payload>;
  if (!exists)
    return make_error(errc::not_found, "no such ticket", "ticket_id");
  if (cmd.trade_id.empty())
    return make_error(errc::invalid_argument, "trade id is required", "trade_id");
  const auto& s = state;
  bool mine = s.hold_trade_id == cmd.trade_id;
  bool moved_by_it = std::find(s.transfer_refs.begin(), s.transfer_refs.end(), cmd.trade_id)
                     != s.transfer_refs.end();
  auto status_error = [&](const char* what) {
    return make_error(errc::invalid_state, std::string{"ticket is "} + to_string(s.status)
                                             + (s.hold_trade_id.empty() ? "" : " by another trade")
                                             + ", cannot " + what);
  };
  switch (static_cast<ticket_step>(cmd.step)) {
    case ticket_step::hold:
      if (mine)
        return out{};  // held (or deposited) by this trade already
      if (moved_by_it)
        return make_error(errc::invalid_state, "this trade already moved the ticket");
      if (s.seller != cmd.owner)
        return make_error(errc::forbidden, "the ticket belongs to someone else", "ticket_id");
      if (s.status != ticket_status::listed)
        return status_error("hold");
      return out{ticket_held{cmd.trade_id, cmd.owner}};
    case ticket_step::release:
      if (!mine)
        return out{};  // not ours (never held, released, or moved): nothing to do
      return out{ticket_released{cmd.trade_id}};
    case ticket_step::deposit:
      if (!mine)
        return status_error("deposit into this trade");
      if (keys.keyed_hash("barcode", cmd.barcode) != s.barcode_hash)
        return make_error(errc::invalid_argument, "the barcode does not match the listed ticket",
                          "barcode");
      if (s.status == ticket_status::in_escrow)
        return out{};
      return out{ticket_deposited{cmd.trade_id}};
    case ticket_step::transfer:
      if (moved_by_it)
        return out{};  // done already (the ticket may have moved on since)
      if (cmd.to.empty())
        return make_error(errc::invalid_argument, "the new owner is required", "to");
      if (mine)
        return out{ticket_transferred{cmd.trade_id, s.seller, cmd.to}};
      // A direct transfer (not part of a trade) by the owner of a listed ticket.
      if (!s.hold_trade_id.empty() || s.status != ticket_status::listed)
        return status_error("transfer");
      if (s.seller != cmd.owner)
        return make_error(errc::forbidden, "only the owner may transfer this ticket");
      if (cmd.to == s.seller)
        return make_error(errc::invalid_argument, "the ticket already belongs to this account",
                          "to_account_id");
      return out{ticket_transferred{cmd.trade_id, s.seller, cmd.to}};
  }
  return make_error(errc::invalid_argument, "unknown ticket step", "step");
}

} // namespace tt::actors
