#include "actors/ticket_model.hpp"

#include <algorithm>

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

namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  return -1;  // upper case too: it would not round-trip
}

/// 64 lowercase hex characters -> 32 raw bytes in `out`; false otherwise.
bool hex64_to_raw(std::string_view hex, char* out) {
  if (hex.size() != 64)
    return false;
  for (size_t i = 0; i < 32; ++i) {
    int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0)
      return false;
    out[i] = static_cast<char>(hi << 4 | lo);
  }
  return true;
}

} // namespace

void ticket_model::pack(const ticket_fields& f, std::string_view seller,
                        std::string_view barcode_hash, std::string_view barcode_sealed,
                        std::string_view dedup_hash) {
  char bh[32], dh[32];
  uint8_t raw = 0;
  if (hex64_to_raw(barcode_hash, bh)) {
    barcode_hash = {bh, 32};
    raw |= barcode_hash_raw;
  }
  if (hex64_to_raw(dedup_hash, dh)) {
    dedup_hash = {dh, 32};
    raw |= dedup_hash_raw;
  }
  std::vector<std::string_view> parts{f.event_id, f.event_name,   f.venue,        f.category,
                                      f.section,  f.row,          f.currency,     seller,
                                      barcode_hash, barcode_sealed, dedup_hash};
  for (const auto& seat : f.seats)
    parts.emplace_back(seat);
  strings_ = packed_strings{parts};
  raw_hashes_ = raw;
  event_starts_at_ms_ = f.event_starts_at_ms;
  face_value_minor_ = f.face_value_minor;
  price_minor_ = f.price_minor;
  platform_ = f.platform;
}

void ticket_model::repack(const ticket_fields& f, std::string_view seller) {
  // The hashes are re-read as stored (raw parts stay raw: same flags).
  std::string sel{seller}, sealed{barcode_sealed()};
  auto bh = hash_part(barcode_hash_at, barcode_hash_raw);
  auto dh = hash_part(dedup_hash_at, dedup_hash_raw);
  pack(f, sel, bh, sealed, dh);
}

std::string ticket_model::hash_part(size_t i, uint8_t raw_flag) const {
  auto p = part(i);
  return (raw_hashes_ & raw_flag) != 0 ? persistence::to_hex(p) : std::string{p};
}

ticket_fields ticket_model::fields() const {
  ticket_fields f;
  f.event_id = part(event_id_at);
  f.event_name = part(event_name_at);
  f.venue = part(venue_at);
  f.category = part(category_at);
  f.event_starts_at_ms = event_starts_at_ms_;
  f.section = part(section_at);
  f.row = part(row_at);
  for (size_t i = seats_at; i < strings_.size(); ++i)
    f.seats.emplace_back(strings_[i]);
  f.face_value_minor = face_value_minor_;
  f.price_minor = price_minor_;
  f.currency = part(currency_at);
  f.platform = platform_;
  return f;
}

const ticket_trade_part& ticket_model::trade() const {
  static const ticket_trade_part none;
  return trade_ ? *trade_ : none;
}

ticket_trade_part& ticket_model::mutable_trade() {
  if (!trade_)
    trade_ = std::make_shared<ticket_trade_part>();
  else if (trade_.use_count() > 1)
    trade_ = std::make_shared<ticket_trade_part>(*trade_);  // copy on write
  return *trade_;
}

// state() and set_state() name every field of ticket_state and of its
// out-of-line ticket_trade_part; a field added to either struct must be
// added to both functions (and to the part), or snapshots silently drop it.
// These sizes (x86-64, libstdc++) make adding one a compile error here.
#if defined(__x86_64__) && defined(__GLIBCXX__)
static_assert(sizeof(ticket_state) == 712,
              "ticket_state changed: pack the new field in ticket_model::state()/set_state()");
static_assert(sizeof(ticket_trade_part) == 280,
              "ticket_trade_part changed: keep it in step with ticket_state");
#endif

ticket_state ticket_model::state() const {
  ticket_state s;
  s.fields = fields();
  s.seller = seller();
  s.status = status_;
  s.barcode_hash = barcode_hash();
  s.barcode_sealed = barcode_sealed();
  s.dedup_hash = hash_part(dedup_hash_at, dedup_hash_raw);
  s.created_at_ms = created_at_ms_;
  s.updated_at_ms = updated_at_ms_;
  const auto& t = trade();
  s.hold_trade_id = t.hold_trade_id;
  s.last_transfer_ref = t.last_transfer_ref;
  s.transfer_refs = t.transfer_refs;
  s.valuation_version = t.valuation_version;
  s.valuation_method = t.valuation_method;
  s.valuation_credit_minor = t.valuation_credit_minor;
  s.offer_open = t.offer_open;
  s.offer = t.offer;
  s.offer_at_ms = t.offer_at_ms;
  return s;
}

void ticket_model::set_state(const ticket_state& s) {
  pack(s.fields, s.seller, s.barcode_hash, s.barcode_sealed, s.dedup_hash);
  status_ = s.status;
  created_at_ms_ = s.created_at_ms;
  updated_at_ms_ = s.updated_at_ms;
  ticket_trade_part t{s.hold_trade_id,          s.last_transfer_ref, s.transfer_refs,
                      s.valuation_version,      s.valuation_method,  s.valuation_credit_minor,
                      s.offer_open,             s.offer,             s.offer_at_ms};
  if (t == ticket_trade_part{})
    trade_.reset();
  else
    trade_ = std::make_shared<ticket_trade_part>(std::move(t));
}

void ticket_model::apply(const event_envelope& ev) {
  if (auto* x = std::get_if<ticket_listed>(&ev.payload)) {
    exists = true;
    pack(x->fields, x->seller, x->barcode_hash, x->barcode_sealed, x->dedup_hash);
    status_ = ticket_status::listed;
    if (created_at_ms_ == 0)
      created_at_ms_ = ev.timestamp_ms;
    updated_at_ms_ = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_updated>(&ev.payload)) {
    auto f = fields();
    apply_patch(f, x->patch);
    repack(f, seller());  // repack copies what it reads from the old block
    updated_at_ms_ = ev.timestamp_ms;
  } else if (std::get_if<ticket_withdrawn>(&ev.payload)) {
    status_ = ticket_status::withdrawn;
    if (trade().offer_open)
      mutable_trade().offer_open = false;  // an offer ends with its listing
    updated_at_ms_ = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_held>(&ev.payload)) {
    status_ = ticket_status::held;
    mutable_trade().hold_trade_id = x->trade_id;
    updated_at_ms_ = ev.timestamp_ms;
  } else if (std::get_if<ticket_released>(&ev.payload)) {
    status_ = ticket_status::listed;
    if (!trade().hold_trade_id.empty())
      mutable_trade().hold_trade_id.clear();
    updated_at_ms_ = ev.timestamp_ms;
  } else if (std::get_if<ticket_deposited>(&ev.payload)) {
    status_ = ticket_status::in_escrow;
    updated_at_ms_ = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_transferred>(&ev.payload)) {
    // The new owner holds it, listed for further trades, like the
    // PostgreSQL anchor; the barcode travels with it.
    repack(fields(), x->to_owner);
    status_ = ticket_status::listed;
    auto& t = mutable_trade();
    t.hold_trade_id.clear();
    t.last_transfer_ref = x->trade_id;
    t.transfer_refs.push_back(x->trade_id);
    t.offer_open = false;  // the old owner's offer does not bind the new one
    updated_at_ms_ = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_valued>(&ev.payload)) {
    // A valuation is not a change of the ticket: updated_at stays.
    auto& t = mutable_trade();
    t.valuation_version = x->model_version;
    t.valuation_method = x->method;
    t.valuation_credit_minor = x->credit_minor;
  } else if (auto* x = std::get_if<ticket_offered>(&ev.payload)) {
    auto& t = mutable_trade();
    t.offer_open = true;
    t.offer = *x;
    t.offer_at_ms = ev.timestamp_ms;
  } else if (std::get_if<ticket_offer_closed>(&ev.payload)) {
    if (trade().offer_open)
      mutable_trade().offer_open = false;
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
  if (!after.exists || after.seller().empty())
    return out;
  if (before.exists && before.status() == after.status() && before.seller() == after.seller())
    return out;
  if (before.exists && !before.seller().empty() && before.seller() != after.seller()) {
    out.push_back(owner_index_prefix(before.seller()).append(after.id.view()));
    out.emplace_back();  // delete
  }
  out.push_back(owner_index_prefix(after.seller()).append(after.id.view()));
  out.emplace_back(to_string(after.status()));
  return out;
}

bool ticket_model::restore(const snapshot_envelope& snap) {
  auto* st = std::get_if<ticket_state>(&snap.state);
  if (st == nullptr)
    return false;
  set_state(*st);
  exists = true;
  return true;
}

snapshot_envelope ticket_model::snapshot(uint64_t seq, int64_t now_ms) const {
  snapshot_envelope s;
  s.kind = kind;
  s.entity_id = id.view();
  s.seq = seq;
  s.taken_at_ms = now_ms;
  s.state = state();
  return s;
}

ticket_view ticket_model::view(uint64_t version, bool created) const {
  ticket_view v;
  v.id = id.view();
  v.fields = fields();
  v.status = static_cast<uint8_t>(status_);
  v.seller = seller();
  v.barcode_hash = barcode_hash();
  v.created_at_ms = created_at_ms_;
  v.updated_at_ms = updated_at_ms_;
  v.version = version;
  v.created = created;
  const auto& t = trade();
  v.offer_open = t.offer_open;
  v.want_event_ids = t.offer.want_event_ids;
  v.want_categories = t.offer.want_categories;
  v.want_venues = t.offer.want_venues;
  v.max_cash_minor = t.offer.max_cash_minor;
  v.weights_permille = t.offer.weights_permille;
  v.offer_at_ms = t.offer_at_ms;
  v.credit_minor = t.valuation_credit_minor;
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
  if (exists && status_ != ticket_status::withdrawn)
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
  if (cmd.meta.user_id != seller())
    return make_error(errc::forbidden, "only the seller may change this ticket");
  if (status_ != ticket_status::listed)
    return make_error(errc::invalid_state,
                      std::string{"ticket is "} + to_string(status_) + ", not listed");
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
  if (cmd.meta.user_id != seller())
    return make_error(errc::forbidden, "only the seller may withdraw this ticket");
  if (status_ == ticket_status::withdrawn)
    return std::vector<event_payload>{};  // idempotent
  if (status_ != ticket_status::listed)
    return make_error(errc::invalid_state,
                      std::string{"ticket is "} + to_string(status_) + ", cannot withdraw");
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
  const auto& s = trade();
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
  if (cmd.meta.user_id != seller())
    return make_error(errc::forbidden, "only the owner may offer this ticket", "ticket_id");
  if (cmd.close) {
    if (!trade().offer_open)
      return out{};  // idempotent
    return out{ticket_offer_closed{"withdrawn"}};
  }
  if (status_ != ticket_status::listed)
    return make_error(errc::invalid_state,
                      std::string{"ticket is "} + to_string(status_) + ", not listed",
                      "ticket_id");
  if (cmd.max_cash_minor < 0 || cmd.max_cash_minor > max_amount_minor)
    return make_error(errc::invalid_argument, "max cash is out of range", "want.max_cash_minor");
  for (auto w : cmd.weights_permille)
    if (w < 0 || w > 1000)
      return make_error(errc::invalid_argument, "weights are 0..1", "weights");
  ticket_offered ev{cmd.want_event_ids, cmd.want_categories, cmd.want_venues,
                    cmd.max_cash_minor, cmd.weights_permille};
  if (trade().offer_open && trade().offer == ev)
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
  const auto& s = trade();
  auto owner = seller();
  bool mine = s.hold_trade_id == cmd.trade_id;
  bool moved_by_it = std::find(s.transfer_refs.begin(), s.transfer_refs.end(), cmd.trade_id)
                     != s.transfer_refs.end();
  auto status_error = [&](const char* what) {
    return make_error(errc::invalid_state, std::string{"ticket is "} + to_string(status_)
                                             + (s.hold_trade_id.empty() ? "" : " by another trade")
                                             + ", cannot " + what);
  };
  switch (static_cast<ticket_step>(cmd.step)) {
    case ticket_step::hold:
      if (mine)
        return out{};  // held (or deposited) by this trade already
      if (moved_by_it)
        return make_error(errc::invalid_state, "this trade already moved the ticket");
      if (owner != cmd.owner)
        return make_error(errc::forbidden, "the ticket belongs to someone else", "ticket_id");
      if (status_ != ticket_status::listed)
        return status_error("hold");
      return out{ticket_held{cmd.trade_id, cmd.owner}};
    case ticket_step::release:
      if (!mine)
        return out{};  // not ours (never held, released, or moved): nothing to do
      return out{ticket_released{cmd.trade_id}};
    case ticket_step::deposit:
      if (!mine)
        return status_error("deposit into this trade");
      if (keys.keyed_hash("barcode", cmd.barcode) != barcode_hash())
        return make_error(errc::invalid_argument, "the barcode does not match the listed ticket",
                          "barcode");
      if (status_ == ticket_status::in_escrow)
        return out{};
      return out{ticket_deposited{cmd.trade_id}};
    case ticket_step::transfer:
      if (moved_by_it)
        return out{};  // done already (the ticket may have moved on since)
      if (cmd.to.empty())
        return make_error(errc::invalid_argument, "the new owner is required", "to");
      if (mine)
        return out{ticket_transferred{cmd.trade_id, std::string{owner}, cmd.to}};
      // A direct transfer (not part of a trade) by the owner of a listed ticket.
      if (!s.hold_trade_id.empty() || status_ != ticket_status::listed)
        return status_error("transfer");
      if (owner != cmd.owner)
        return make_error(errc::forbidden, "only the owner may transfer this ticket");
      if (cmd.to == owner)
        return make_error(errc::invalid_argument, "the ticket already belongs to this account",
                          "to_account_id");
      return out{ticket_transferred{cmd.trade_id, std::string{owner}, cmd.to}};
  }
  return make_error(errc::invalid_argument, "unknown ticket step", "step");
}

} // namespace tt::actors
