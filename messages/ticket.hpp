#pragma once
// Commands and replies of the ticket entity (see interfaces.hpp for who
// answers them). Money is in integer minor units of `currency`.

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"
#include "messages/entity.hpp"

namespace tt {

enum class ticket_status : uint8_t { listed = 0, withdrawn = 1, held = 2, in_escrow = 3, transferred = 4 };
const char* to_string(ticket_status s);

enum class platform : uint8_t { upload = 0, ticketmaster = 1, axs = 2, seatgeek = 3, nft = 4 };
const char* to_string(platform p);
bool parse_platform(std::string_view s, platform& out);

/// What a seller says about a ticket.
struct ticket_fields {
  std::string event_id;
  std::string event_name;
  std::string venue;
  std::string category;
  int64_t event_starts_at_ms = 0;
  std::string section;
  std::string row;
  std::vector<std::string> seats;
  int64_t face_value_minor = 0;
  int64_t price_minor = 0;
  std::string currency;
  uint8_t platform = 0;  // tt::platform

  friend bool operator==(const ticket_fields&, const ticket_fields&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ticket_fields& x) {
  return f(caf::meta::type_name("tt.ticket_fields"), x.event_id, x.event_name, x.venue,
           x.category, x.event_starts_at_ms, x.section, x.row, x.seats, x.face_value_minor,
           x.price_minor, x.currency, x.platform);
}

/// List a ticket. `ticket_id` is derived by the caller from the dedup key
/// (see ticket_ids.hpp), so listing the same ticket twice reaches the same
/// entity and answers with the existing ticket (`created == false`).
struct list_ticket {
  std::string ticket_id;
  ticket_fields fields;
  std::string barcode;
  std::string dedup_hash;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, list_ticket& x) {
  return f(caf::meta::type_name("tt.list_ticket"), x.ticket_id, x.fields, x.barcode,
           x.dedup_hash, x.meta);
}

/// Change fields that may change while a ticket is listed.
struct ticket_patch {
  bool has_price = false;
  int64_t price_minor = 0;
  bool has_event_name = false;
  std::string event_name;
  bool has_venue = false;
  std::string venue;
  bool has_category = false;
  std::string category;
  bool has_event_starts_at = false;
  int64_t event_starts_at_ms = 0;

  bool empty() const {
    return !has_price && !has_event_name && !has_venue && !has_category && !has_event_starts_at;
  }

  friend bool operator==(const ticket_patch&, const ticket_patch&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ticket_patch& x) {
  return f(caf::meta::type_name("tt.ticket_patch"), x.has_price, x.price_minor,
           x.has_event_name, x.event_name, x.has_venue, x.venue, x.has_category, x.category,
           x.has_event_starts_at, x.event_starts_at_ms);
}

/// Applies the fields `p` sets to `f` (the ticket entity and read models).
void apply_patch(ticket_fields& f, const ticket_patch& p);

struct update_ticket {
  std::string ticket_id;
  ticket_patch patch;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, update_ticket& x) {
  return f(caf::meta::type_name("tt.update_ticket"), x.ticket_id, x.patch, x.meta);
}

struct withdraw_ticket {
  std::string ticket_id;
  std::string reason;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, withdraw_ticket& x) {
  return f(caf::meta::type_name("tt.withdraw_ticket"), x.ticket_id, x.reason, x.meta);
}

struct get_ticket {
  std::string ticket_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_ticket& x) {
  return f(caf::meta::type_name("tt.get_ticket"), x.ticket_id);
}

/// Record a valuation of the ticket (sent by the valuation service, see
/// messages/valuation.hpp). The entity writes one `ticket_valued` event only
/// when `model_version`, `method` or `credit_minor` differs from its last
/// recorded valuation; otherwise it answers without writing (idempotent).
/// Money in minor units of `currency`; confidence in parts per million.
struct record_valuation {
  std::string ticket_id;
  int64_t credit_minor = 0;
  std::string currency;
  uint32_t confidence_ppm = 0;
  std::string model_version;
  std::string method;
  uint32_t median_samples = 0;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, record_valuation& x) {
  return f(caf::meta::type_name("tt.record_valuation"), x.ticket_id, x.credit_minor, x.currency,
           x.confidence_ppm, x.model_version, x.method, x.median_samples, x.meta);
}

/// Open (or replace) the ticket's swap offer, or close it (`close`); only the
/// owner. Opening needs the ticket listed; an empty want list means "any";
/// `weights_permille` is the owner's taste per matcher preference dimension
/// (0..1000 each). Closing a closed offer is a no-op (idempotent), and so is
/// opening an identical open offer. Answered with the ticket's view.
struct offer_ticket {
  std::string ticket_id;
  bool close = false;
  std::vector<std::string> want_event_ids;
  std::vector<std::string> want_categories;
  std::vector<std::string> want_venues;
  int64_t max_cash_minor = 0;
  std::vector<int16_t> weights_permille;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, offer_ticket& x) {
  return f(caf::meta::type_name("tt.offer_ticket"), x.ticket_id, x.close, x.want_event_ids,
           x.want_categories, x.want_venues, x.max_cash_minor, x.weights_permille, x.meta);
}

/// A ticket as the outside may see it: never the raw barcode.
struct ticket_view {
  std::string id;
  ticket_fields fields;
  uint8_t status = 0;  // tt::ticket_status
  std::string seller;
  std::string barcode_hash;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  uint64_t version = 0;  // the entity's sequence number
  bool created = false;  // true iff this command created the ticket
  // The swap offer (open, or the last one) and the last valuation.
  bool offer_open = false;
  std::vector<std::string> want_event_ids;
  std::vector<std::string> want_categories;
  std::vector<std::string> want_venues;
  int64_t max_cash_minor = 0;
  std::vector<int16_t> weights_permille;
  int64_t offer_at_ms = 0;
  int64_t credit_minor = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ticket_view& x) {
  return f(caf::meta::type_name("tt.ticket_view"), x.id, x.fields, x.status, x.seller,
           x.barcode_hash, x.created_at_ms, x.updated_at_ms, x.version, x.created, x.offer_open,
           x.want_event_ids, x.want_categories, x.want_venues, x.max_cash_minor,
           x.weights_permille, x.offer_at_ms, x.credit_minor);
}

} // namespace tt

namespace tt {

inline const std::string& target_id(const list_ticket& x) { return x.ticket_id; }
inline const std::string& target_id(const update_ticket& x) { return x.ticket_id; }
inline const std::string& target_id(const withdraw_ticket& x) { return x.ticket_id; }
inline const std::string& target_id(const get_ticket& x) { return x.ticket_id; }
inline const std::string& target_id(const record_valuation& x) { return x.ticket_id; }
inline const std::string& target_id(const offer_ticket& x) { return x.ticket_id; }

} // namespace tt
