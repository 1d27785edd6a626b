// In-process fuzzer of the edge's JSON parsers (nodes/ticket_json):
// parse_listing, parse_patch, parse_rfc3339/format_rfc3339, render_ticket,
// render_error. Properties checked on every input:
//  * nothing throws or crashes;
//  * a rejection is a 400/422 with a known code and a message, and
//    render_error() of it is a JSON object carrying that code;
//  * an accepted listing/patch respects every documented bound (lengths,
//    seats 1..20, money 0..1e11, ISO 4217, platform, no control characters);
//  * normalisation is stable: what the node renders for an accepted input is
//    accepted again and parses to the same values (render -> parse round trip).
//
// Two ways to run it:
//  * default build: a self-contained mutation loop, bounded in time
//    (tt_ticket_json_fuzz [--seconds S] [--seed N]; TT_FUZZ_SEED=N replays);
//  * -DTT_LIBFUZZER=ON with clang: a libFuzzer target (ASan+UBSan) built from
//    the same LLVMFuzzerTestOneInput.
#include <boost/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "nodes/ticket_json.hpp"

namespace json = boost::json;
using namespace tt;
using namespace tt::nodes;

namespace {

std::string g_current;  // the input being checked (for failure reports)
std::map<std::string, size_t> g_failures;  // property -> count (first one printed)
size_t g_accepted_listings = 0, g_accepted_patches = 0, g_rejected = 0, g_rfc_ok = 0;

std::string escaped(std::string_view s, size_t max = 400) {
  std::string out;
  for (unsigned char ch : s.substr(0, max)) {
    if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
      out += static_cast<char>(ch);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", ch);
      out += buf;
    }
  }
  if (s.size() > max)
    out += "...";
  return out;
}

/// Records a violated property. Under libFuzzer it aborts (so the input is
/// saved); in the loop it is counted and the first input of each kind shown.
void violated(const std::string& property, const std::string& detail) {
  auto& n = g_failures[property];
  if (n++ == 0)
    std::fprintf(stderr, "PROPERTY VIOLATED: %s\n  %s\n  input: \"%s\"\n", property.c_str(),
                 detail.c_str(), escaped(g_current).c_str());
#ifdef TT_LIBFUZZER
  std::abort();
#endif
}

#define PROP(cond, name, detail)                                                                   \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      violated(name, detail);                                                                      \
  } while (false)

bool printable(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return false;
  return true;
}

bool valid_event_id(std::string_view s) {
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_' || c == '.' || c == ':'))
      return false;
  return true;
}

void check_error(const input_error& err, const char* what) {
  static const std::set<std::string> codes = {"invalid_json",  "missing_field", "unknown_field",
                                              "invalid_type",  "invalid_value", "immutable_field"};
  PROP(err.status == 400 || err.status == 422, std::string(what) + ": status 400/422",
       "status " + std::to_string(err.status));
  PROP(codes.count(err.code) == 1, std::string(what) + ": known error code", "code " + err.code);
  PROP(!err.message.empty(), std::string(what) + ": message", "empty message");
  auto rendered = render_error(err.code, err.message, err.field);
  boost::system::error_code ec;
  auto v = json::parse(rendered, ec);
  PROP(!ec && v.is_object() && v.as_object().contains("error")
         && v.at("error").at("code") == json::string_view(err.code),
       std::string(what) + ": render_error is JSON with the code", rendered);
}

bool in_bounds(std::string_view s, size_t lo, size_t hi) {
  return s.size() >= lo && s.size() <= hi && printable(s);
}

void check_money(int64_t v, const char* name) {
  PROP(v >= 0 && v <= 100'000'000'000, std::string("accepted ") + name + " in 0..1e11",
       std::to_string(v));
}

/// A body that lists exactly `f` + `barcode`, written the way the node renders.
std::string listing_body(const ticket_fields& f, const std::string& barcode) {
  json::object o;
  o["event_id"] = f.event_id;
  o["event_name"] = f.event_name;
  o["venue"] = f.venue;
  o["category"] = f.category;
  o["event_starts_at"] = format_rfc3339(f.event_starts_at_ms);
  o["section"] = f.section;
  o["row"] = f.row;
  json::array seats;
  for (const auto& s : f.seats)
    seats.emplace_back(json::string_view(s));
  o["seats"] = std::move(seats);
  o["face_value_minor"] = f.face_value_minor;
  o["price_minor"] = f.price_minor;
  o["currency"] = f.currency;
  o["barcode"] = barcode;
  o["platform"] = to_string(static_cast<platform>(f.platform));
  return json::serialize(o);
}

void check_rfc3339(std::string_view s) {
  int64_t ms = 0;
  if (!parse_rfc3339(s, ms))
    return;
  ++g_rfc_ok;
  auto out = format_rfc3339(ms);
  int64_t again = 0;
  PROP(parse_rfc3339(out, again), "rfc3339: the rendered form of an accepted time parses",
       std::string(s) + " -> " + out);
  if (parse_rfc3339(out, again))
    PROP(again == ms, "rfc3339: render -> parse keeps the instant",
         std::string(s) + " -> " + out + " -> " + std::to_string(again) + " != " + std::to_string(ms));
}

void check_listing(std::string_view data) {
  input_error err;
  auto in = parse_listing(data, err);
  if (!in) {
    ++g_rejected;
    check_error(err, "listing");
    return;
  }
  ++g_accepted_listings;
  const auto& f = in->fields;
  PROP(in_bounds(f.event_id, 1, 64) && valid_event_id(f.event_id), "listing: event_id bounds", f.event_id);
  PROP(in_bounds(f.event_name, 1, 200), "listing: event_name bounds", f.event_name);
  PROP(in_bounds(f.venue, 1, 200), "listing: venue bounds", f.venue);
  PROP(in_bounds(f.category, 1, 64), "listing: category bounds", f.category);
  PROP(in_bounds(f.section, 1, 32), "listing: section bounds", f.section);
  PROP(in_bounds(f.row, 1, 16), "listing: row bounds", f.row);
  PROP(in_bounds(in->barcode, 4, 512), "listing: barcode bounds", in->barcode);
  PROP(is_iso4217(f.currency), "listing: currency", f.currency);
  PROP(f.platform <= static_cast<uint8_t>(platform::nft), "listing: platform", std::to_string(f.platform));
  PROP(!f.seats.empty() && f.seats.size() <= 20, "listing: 1..20 seats", std::to_string(f.seats.size()));
  for (const auto& s : f.seats)
    PROP(in_bounds(s, 1, 16), "listing: seat bounds", s);
  check_money(f.face_value_minor, "face_value_minor");
  check_money(f.price_minor, "price_minor");

  // What GET renders for it must be valid JSON with the same values...
  ticket_view v;
  v.id = "AAAAAAAAAAAAAAAAAAAAAA";
  v.fields = f;
  v.seller = "seller";
  v.version = 1;
  auto rendered = render_ticket(v);
  boost::system::error_code ec;
  auto j = json::parse(rendered, ec);
  PROP(!ec && j.is_object(), "listing: render_ticket is a JSON object", rendered);
  if (!ec && j.is_object()) {
    const auto& o = j.as_object();
    PROP(o.at("event_name") == json::string_view(f.event_name), "listing: rendered event_name", rendered);
    PROP(o.at("face_value_minor") == f.face_value_minor, "listing: rendered face value", rendered);
    PROP(!o.contains("barcode"), "listing: barcode never rendered", rendered);
    int64_t ms = 0;
    PROP(parse_rfc3339(o.at("event_starts_at").as_string(), ms) && ms == f.event_starts_at_ms,
         "listing: rendered event_starts_at parses back to the same instant",
         std::string(o.at("event_starts_at").as_string()) + " vs " + std::to_string(f.event_starts_at_ms));
  }
  // ...and listing it again the way it is rendered gives the same listing.
  auto body = listing_body(f, in->barcode);
  input_error err2;
  auto again = parse_listing(body, err2);
  PROP(again.has_value(), "listing: the normalised listing is accepted again",
       body + " -> " + err2.code + ": " + err2.message);
  if (again)
    PROP(again->fields == f && again->barcode == in->barcode,
         "listing: the normalised listing parses to the same fields", body);
}

void check_patch(std::string_view data) {
  input_error err;
  auto p = parse_patch(data, err);
  if (!p) {
    ++g_rejected;
    check_error(err, "patch");
    return;
  }
  ++g_accepted_patches;
  PROP(!p->empty(), "patch: accepted patches change something", "empty patch");
  if (p->has_price)
    check_money(p->price_minor, "price_minor (patch)");
  if (p->has_event_name)
    PROP(in_bounds(p->event_name, 1, 200), "patch: event_name bounds", p->event_name);
  if (p->has_venue)
    PROP(in_bounds(p->venue, 1, 200), "patch: venue bounds", p->venue);
  if (p->has_category)
    PROP(in_bounds(p->category, 1, 64), "patch: category bounds", p->category);
  json::object o;
  if (p->has_price)
    o["price_minor"] = p->price_minor;
  if (p->has_event_name)
    o["event_name"] = p->event_name;
  if (p->has_venue)
    o["venue"] = p->venue;
  if (p->has_category)
    o["category"] = p->category;
  if (p->has_event_starts_at)
    o["event_starts_at"] = format_rfc3339(p->event_starts_at_ms);
  auto body = json::serialize(o);
  input_error err2;
  auto again = parse_patch(body, err2);
  PROP(again.has_value(), "patch: the normalised patch is accepted again",
       body + " -> " + err2.code + ": " + err2.message);
  if (again)
    PROP(*again == *p, "patch: the normalised patch parses to the same values", body);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  g_current.assign(s);
  try {
    check_listing(s);
    check_patch(s);
    check_rfc3339(s);
  } catch (const std::exception& e) {
    violated("no exceptions", e.what());
  }
  return 0;
}

#ifndef TT_LIBFUZZER

namespace {

using rng_t = std::mt19937_64;

std::vector<std::string> seed_corpus() {
  std::vector<std::string> c = {
    R"({"event_id":"nba-2026-lal-bos","event_name":"Lakers vs Celtics","venue":"Crypto.com Arena","category":"basketball","event_starts_at":"2026-12-25T20:00:00Z","section":"101","row":"A","seats":["1","2"],"face_value_minor":25000,"currency":"USD","barcode":"ABCD-1234-XYZ","platform":"upload"})",
    R"({"event_id":"e:1.x_y","event_name":"\u00c9t\u00e9 \ud83c\udfab","venue":"V","category":"c","event_starts_at":"2027-06-30T23:59:60.123456789+14:00","section":"S","row":"R","seats":["1"],"face_value_minor":0,"price_minor":100000000000,"currency":"JPY","barcode":"abcd","platform":"nft"})",
    R"({"price_minor":100})",
    R"({"event_name":"New","venue":"Hall","category":"rock","event_starts_at":"2027-01-01T00:00:00-05:00"})",
    "2026-12-25T20:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "1970-01-01T00:00:00+00:01",
    "2028-02-29T12:00:00.5z",
  };
  return c;
}

const std::vector<std::string>& dictionary() {
  static const std::vector<std::string> d = {
    "\"event_id\"", "\"seats\"", "\"price_minor\"", "\"face_value_minor\"", "\"currency\"",
    "\"platform\"", "\"event_starts_at\"", "\"barcode\"", "\"id\"", "null", "true", "-1", "0",
    "1e2", "1.5", "9223372036854775807", "9223372036854775808", "100000000001", "[]", "{}",
    "\"\"", "\"\\u0000\"", "\"\\ud800\"", "\"\xf0\x9f\x8e\xab\"", "\"\xc0\xaf\"", ",", ":", "[[[[[[[[[",
    "\"USD\"", "\"nft\"", "T23:59:60", "-23:59", "+14:00", ".999999999", "Z", "9999-12-31",
    "1970-01-01", "02-29",
  };
  return d;
}

std::string mutate(rng_t& rng, std::string s) {
  int n = 1 + static_cast<int>(rng() % 4);
  for (int k = 0; k < n; ++k) {
    size_t pos = s.empty() ? 0 : rng() % (s.size() + 1);
    switch (rng() % 8) {
      case 0:
        if (!s.empty())
          s[pos % s.size()] = static_cast<char>(rng());
        break;
      case 1:
        if (!s.empty())
          s.erase(pos % s.size(), 1 + rng() % 8);
        break;
      case 2: s.insert(pos, dictionary()[rng() % dictionary().size()]); break;
      case 3:
        if (!s.empty())
          s.insert(pos, s.substr(rng() % s.size(), rng() % 16));
        break;
      case 4: s.resize(pos); break;
      case 5:
        if (!s.empty()) {  // digit tweak
          size_t p = pos % s.size();
          if (s[p] >= '0' && s[p] <= '9')
            s[p] = static_cast<char>('0' + rng() % 10);
        }
        break;
      default: {  // replace a JSON value after a colon by a dictionary token
        auto colon = s.find(':', pos);
        if (colon != std::string::npos) {
          auto end = s.find_first_of(",}", colon);
          s.replace(colon + 1, (end == std::string::npos ? s.size() : end) - colon - 1,
                    dictionary()[rng() % dictionary().size()]);
        }
      }
    }
  }
  if (s.size() > 70000)
    s.resize(70000);
  return s;
}

} // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  uint64_t seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  if (const char* e = std::getenv("TT_FUZZ_SEED"); e && *e)
    seed = std::strtoull(e, nullptr, 10);
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--seconds") == 0)
      seconds = std::atof(argv[i + 1]);
    else if (std::strcmp(argv[i], "--seed") == 0)
      seed = std::strtoull(argv[i + 1], nullptr, 10);
  }
  std::fprintf(stderr, "ticket_json fuzz: TT_FUZZ_SEED=%llu, %.0f s\n",
               static_cast<unsigned long long>(seed), seconds);
  rng_t rng{seed};
  auto corpus = seed_corpus();
  auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  size_t runs = 0;
  while (std::chrono::steady_clock::now() < until) {
    for (int i = 0; i < 256; ++i, ++runs) {
      auto input = mutate(rng, corpus[rng() % corpus.size()]);
      auto before = g_accepted_listings + g_accepted_patches + g_rfc_ok;
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
      // Keep accepted inputs (bounded): their neighbours are the interesting
      // edge of the grammar.
      if (g_accepted_listings + g_accepted_patches + g_rfc_ok > before && corpus.size() < 4096)
        corpus.push_back(std::move(input));
    }
  }
  std::fprintf(stderr,
               "ticket_json fuzz: %zu inputs, %zu listings and %zu patches accepted, %zu rejections, "
               "%zu valid times, corpus %zu\n",
               runs, g_accepted_listings, g_accepted_patches, g_rejected, g_rfc_ok, corpus.size());
  for (const auto& [prop, n] : g_failures)
    std::fprintf(stderr, "  FAILED %zux: %s\n", n, prop.c_str());
  return g_failures.empty() ? 0 : 1;
}

#endif
