#include "nodes/ticket_json.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <array>
#include <cstdio>

#include "messages/log.hpp"
#include "nodes/json_input.hpp"

namespace tt::nodes {

namespace json = boost::json;

namespace {


// Active ISO 4217 codes (2024 list).
constexpr std::array<std::string_view, 155> iso4217 = {
  "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT", "BGN",
  "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHF",
  "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB",
  "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL", "HTG",
  "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF",
  "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL", "MGA",
  "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO",
  "NOK", "NPR", "NZD", "OMR", "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
  "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN",
  "SVC", "SYP", "SZL", "THB", "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX",
  "USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XOF", "XPF", "YER", "ZAR", "ZMW",
  "ZWL"};

bool valid_event_id(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
           || c == '_' || c == '.' || c == ':';
  });
}

int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp + (mp < 10 ? 3 : -9);
  y += m <= 2;
}

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size())
    return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9')
      return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

} // namespace

bool is_iso4217(std::string_view code) {
  return std::binary_search(iso4217.begin(), iso4217.end(), code);
}

bool parse_rfc3339(std::string_view s, int64_t& ms) {
  int y, mo, d, h, mi, se;
  if (s.size() < 20 || !digits(s, 0, 4, y) || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-'
      || !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, h)
      || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' || !digits(s, 17, 2, se))
    return false;
  static constexpr int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || (mo == 2 && d == 29 && !leap)
      || h > 23 || mi > 59 || se > 60)
    return false;
  size_t pos = 19;
  int64_t frac_ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    size_t start = pos;
    int scale = 100;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start || pos - start > 9)
      return false;
  }
  if (pos >= s.size())
    return false;
  int64_t offset_min = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    int oh, om;
    if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':'
        || !digits(s, pos + 4, 2, om) || oh > 23 || om > 59)
      return false;
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return false;
  }
  if (pos != s.size())
    return false;
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + std::min(se, 59) - offset_min * 60;
  ms = secs * 1000 + frac_ms;
  // Keep every accepted instant renderable as a four-digit year in UTC.
  constexpr int64_t year_10000_ms = 253402300800000;
  return ms >= 0 && ms < year_10000_ms;
}

std::string format_rfc3339(int64_t ms) {
  int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
  int64_t rem_ms = ms - secs * 1000;
  int64_t days = secs >= 0 ? secs / 86400 : (secs - 86399) / 86400;
  int64_t sod = secs - days * 86400;
  int64_t y;
  unsigned m, d;
  civil_from_days(days, y, m, d);
  char buf[96];  // room for any int64 year (GCC checks the worst case)
  std::snprintf(buf, sizeof(buf), "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%03lldZ",
                static_cast<long long>(y), m, d, static_cast<long long>(sod / 3600),
                static_cast<long long>((sod % 3600) / 60), static_cast<long long>(sod % 60),
                static_cast<long long>(rem_ms));
  return buf;
}

std::optional<listing_input> parse_listing(std::string_view body, input_error& err) {
  auto obj = parse_object(body, err);
  if (!obj)
    return std::nullopt;
  const auto& o = *obj;
  if (!check_keys(o,
                  {"event_id", "event_name", "venue", "category", "event_starts_at", "section", "row",
                   "seats", "face_value_minor", "price_minor", "currency", "barcode", "platform"},
                  err))
    return std::nullopt;
  listing_input in;
  auto& f = in.fields;
  std::string starts_at, platform_name;
  if (!get_string(o, "event_id", 1, 64, true, f.event_id, err)
      || !get_string(o, "event_name", 1, 200, true, f.event_name, err)
      || !get_string(o, "venue", 1, 200, true, f.venue, err)
      || !get_string(o, "category", 1, 64, true, f.category, err)
      || !get_string(o, "event_starts_at", 1, 40, true, starts_at, err)
      || !get_string(o, "section", 1, 32, true, f.section, err)
      || !get_string(o, "row", 1, 16, true, f.row, err)
      || !get_string(o, "currency", 3, 3, true, f.currency, err)
      || !get_string(o, "barcode", 4, 512, true, in.barcode, err)
      || !get_string(o, "platform", 1, 16, true, platform_name, err))
    return std::nullopt;
  if (!valid_event_id(f.event_id)) {
    fail(err, 422, "invalid_value", "event_id may contain only letters, digits and - _ . :",
         "event_id");
    return std::nullopt;
  }
  if (!parse_rfc3339(starts_at, f.event_starts_at_ms)) {
    fail(err, 422, "invalid_value", "event_starts_at must be an RFC 3339 date-time",
         "event_starts_at");
    return std::nullopt;
  }
  if (!is_iso4217(f.currency)) {
    fail(err, 422, "invalid_value", "currency must be an ISO 4217 code such as USD", "currency");
    return std::nullopt;
  }
  platform p;
  if (!parse_platform(platform_name, p)) {
    fail(err, 422, "invalid_value", "platform must be one of upload, ticketmaster, axs, seatgeek, nft",
         "platform");
    return std::nullopt;
  }
  f.platform = static_cast<uint8_t>(p);
  auto seats = o.find("seats");
  if (seats == o.end()) {
    fail(err, 400, "missing_field", "seats is required", "seats");
    return std::nullopt;
  }
  if (!seats->value().is_array()) {
    fail(err, 400, "invalid_type", "seats must be an array of strings", "seats");
    return std::nullopt;
  }
  const auto& arr = seats->value().get_array();
  if (arr.empty() || arr.size() > 20) {
    fail(err, 422, "invalid_value", "seats must list 1 to 20 seats", "seats");
    return std::nullopt;
  }
  for (const auto& s : arr) {
    if (!s.is_string()) {
      fail(err, 400, "invalid_type", "seats must be an array of strings", "seats");
      return std::nullopt;
    }
    const auto& str = s.get_string();
    if (str.empty() || str.size() > 16 || has_control_chars(std::string_view(str.data(), str.size()))) {
      fail(err, 422, "invalid_value", "each seat must be 1 to 16 printable characters", "seats");
      return std::nullopt;
    }
    f.seats.emplace_back(str.data(), str.size());
  }
  auto face = o.find("face_value_minor");
  if (face == o.end()) {
    fail(err, 400, "missing_field", "face_value_minor is required", "face_value_minor");
    return std::nullopt;
  }
  if (!get_money(face->value(), "face_value_minor", f.face_value_minor, err))
    return std::nullopt;
  f.price_minor = f.face_value_minor;
  if (auto price = o.find("price_minor"); price != o.end())
    if (!get_money(price->value(), "price_minor", f.price_minor, err))
      return std::nullopt;
  return in;
}

std::optional<ticket_patch> parse_patch(std::string_view body, input_error& err) {
  auto obj = parse_object(body, err);
  if (!obj)
    return std::nullopt;
  const auto& o = *obj;
  static constexpr std::string_view immutable[] = {"event_id", "section", "row", "seats",
                                                   "face_value_minor", "currency", "barcode",
                                                   "platform", "id", "status", "seller"};
  for (auto k : immutable) {
    if (o.contains(json::string_view(k.data(), k.size()))) {
      fail(err, 422, "immutable_field", std::string(k) + " cannot change after listing",
           std::string(k));
      return std::nullopt;
    }
  }
  if (!check_keys(o, {"price_minor", "event_name", "venue", "category", "event_starts_at"}, err))
    return std::nullopt;
  ticket_patch p;
  if (auto price = o.find("price_minor"); price != o.end()) {
    if (!get_money(price->value(), "price_minor", p.price_minor, err))
      return std::nullopt;
    p.has_price = true;
  }
  if (o.contains("event_name")) {
    if (!get_string(o, "event_name", 1, 200, true, p.event_name, err))
      return std::nullopt;
    p.has_event_name = true;
  }
  if (o.contains("venue")) {
    if (!get_string(o, "venue", 1, 200, true, p.venue, err))
      return std::nullopt;
    p.has_venue = true;
  }
  if (o.contains("category")) {
    if (!get_string(o, "category", 1, 64, true, p.category, err))
      return std::nullopt;
    p.has_category = true;
  }
  if (o.contains("event_starts_at")) {
    std::string s;
    if (!get_string(o, "event_starts_at", 1, 40, true, s, err))
      return std::nullopt;
    if (!parse_rfc3339(s, p.event_starts_at_ms)) {
      fail(err, 422, "invalid_value", "event_starts_at must be an RFC 3339 date-time",
           "event_starts_at");
      return std::nullopt;
    }
    p.has_event_starts_at = true;
  }
  if (p.empty()) {
    fail(err, 422, "invalid_value", "nothing to update");
    return std::nullopt;
  }
  return p;
}

std::string render_ticket(const ticket_view& v) {
  json::object o;
  const auto& f = v.fields;
  o["id"] = v.id;
  o["event_id"] = f.event_id;
  o["event_name"] = f.event_name;
  o["venue"] = f.venue;
  o["category"] = f.category;
  o["event_starts_at"] = format_rfc3339(f.event_starts_at_ms);
  o["section"] = f.section;
  o["row"] = f.row;
  json::array seats;
  for (const auto& s : f.seats)
    seats.emplace_back(json::string(s));
  o["seats"] = std::move(seats);
  o["face_value_minor"] = f.face_value_minor;
  o["price_minor"] = f.price_minor;
  o["currency"] = f.currency;
  o["platform"] = to_string(static_cast<platform>(f.platform));
  o["status"] = to_string(static_cast<ticket_status>(v.status));
  if (v.seller.empty())
    o["seller"] = nullptr;
  else
    o["seller"] = v.seller;
  o["version"] = v.version;
  o["created_at"] = format_rfc3339(v.created_at_ms);
  o["updated_at"] = format_rfc3339(v.updated_at_ms);
  return json::serialize(o);
}

std::string render_error(std::string_view code, std::string_view message, std::string_view field) {
  std::string out = "{\"error\":{\"code\":";
  log::append_json_string(out, code);
  out += ",\"message\":";
  log::append_json_string(out, message);
  if (!field.empty()) {
    out += ",\"field\":";
    log::append_json_string(out, field);
  }
  out += "}}";
  return out;
}

} // namespace tt::nodes
