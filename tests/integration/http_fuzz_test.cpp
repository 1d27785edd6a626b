// Fuzzing a live tt-node over real sockets.
//  (a) random and mutated JSON bodies to POST /api/v1/tickets and PATCH
//      /api/v1/tickets/{id}: every answer is a 2xx or 4xx (never 5xx, never
//      silence) with a JSON body; 4xx bodies carry error.code and
//      error.message; accepted listings carry exactly what was sent; accepted
//      patches bump the version by one.
//  (b) raw malformed HTTP over plain TCP: garbage, oversize heads and bodies,
//      bad chunking, smuggling shapes, pipelining, slow and stalled requests,
//      random bytes. The node must stay alive (waitpid WNOHANG) and healthy
//      (/healthz after every batch), and whatever answers come back are not 5xx.
//
// Bounded in time: TT_FUZZ_SECONDS (default 40) is split between the cases.
// The RNG seed is printed; TT_FUZZ_SEED=<n> replays a run.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "support/tt_support.hpp"

using namespace tt::it;

namespace {

uint64_t fuzz_seed() {
  static const uint64_t seed = []() -> uint64_t {
    if (const char* s = std::getenv("TT_FUZZ_SEED"); s && *s)
      return std::strtoull(s, nullptr, 10);
    return static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count())
           ^ static_cast<uint64_t>(::getpid());
  }();
  return seed;
}

std::chrono::milliseconds fuzz_budget(double share) {
  double secs = 40;
  if (const char* s = std::getenv("TT_FUZZ_SECONDS"); s && *s)
    secs = std::atof(s);
  return std::chrono::milliseconds(static_cast<int64_t>(secs * share * 1000));
}

/// Printable excerpt of an input, for failure messages.
std::string shown(std::string_view s, size_t max = 300) {
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
    out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

using rng_t = std::mt19937_64;

size_t pick(rng_t& rng, size_t n) { return n == 0 ? 0 : static_cast<size_t>(rng() % n); }

// -- JSON mutation ---------------------------------------------------------------

/// Interesting JSON values (as text) of every type.
const std::vector<std::string>& nasty_values() {
  static const std::vector<std::string> v = {
    "null", "true", "false", "0", "-0", "-1", "1", "0.0", "1.5", "-1.5", "1e2", "1E400", "-1e-400",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
    "18446744073709551615", "18446744073709551616", "100000000000", "100000000001",
    "123456789012345678901234567890", "\"\"", "\" \"", "\"USD\"", "\"usd\"", "\"XXX\"",
    "\"upload\"", "\"UPLOAD\"", "\"nft\"", "\"2026-02-29T10:00:00Z\"", "\"2028-02-29T10:00:00Z\"",
    "\"2026-12-25T20:00:00\"", "\"2026-12-25T24:00:00Z\"", "\"2026-12-25T20:00:60Z\"",
    "\"1969-12-31T23:59:59Z\"", "\"9999-12-31T23:59:59.999999999+23:59\"",
    "\"2026-12-25 20:00:00Z\"", "\"2026-12-25T20:00:00.Z\"", "\"2026-12-25T20:00:00+2:00\"",
    "\"\\u0000\"", "\"a\\u0000b\"", "\"\\ud800\"", "\"\\udc00\\ud800\"", "\"\\ud83c\\udfab\"",
    "\"\xf0\x9f\x8e\xab ticket\"", "\"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d\"", "\"e\xcc\x81\xcc\x81\xcc\x81\"",
    "\"\xc0\xaf\"", "\"\xff\xfe\"", "\"\xed\xa0\x80\"", "\"\\t\"", "\"\\n\"", "\"\x7f\"",
    "\"\\\"quoted\\\"\"", "\"\\\\\"", "[]", "[\"1\"]", "[1,2]", "[null]", "[\"\"]", "[[\"1\"]]",
    "{}", "{\"a\":1}", "[\"1\",\"1\"]", "NaN", "Infinity", "-Infinity", "+1", "01", "0x10", "'x'",
    "\"x\"\"y\"", "[1,]", "{\"a\":1,}",
  };
  return v;
}

std::string long_string(rng_t& rng) {
  static const size_t sizes[] = {15, 16, 17, 32, 33, 63, 64, 65, 199, 200, 201, 511, 512, 513,
                                 4096, 40000};
  size_t n = sizes[pick(rng, std::size(sizes))];
  std::string s(n, 'x');
  if (rng() % 3 == 0) {  // multi-byte characters: n bytes but fewer characters
    s.clear();
    while (s.size() + 3 <= n)
      s += "\xe2\x82\xac";
    s.append(n - s.size(), 'x');
  }
  return json::serialize(json::value(json::string_view(s.data(), s.size())));
}

std::string deep_nesting(rng_t& rng) {
  size_t depth = 1 + pick(rng, 200);
  bool obj = rng() % 2;
  std::string s;
  for (size_t i = 0; i < depth; ++i)
    s += obj ? "{\"a\":" : "[";
  s += "1";
  for (size_t i = 0; i < depth; ++i)
    s += obj ? "}" : "]";
  return s;
}

std::string random_value(rng_t& rng) {
  switch (rng() % 8) {
    case 0: return long_string(rng);
    case 1: return deep_nesting(rng);
    case 2: {  // seat arrays of odd sizes
      size_t n = pick(rng, 25);
      std::string s = "[";
      for (size_t i = 0; i < n; ++i)
        s += (i ? ",\"" : "\"") + std::to_string(rng() % 100) + "\"";
      return s + "]";
    }
    case 3: return std::to_string(static_cast<int64_t>(rng()));
    default: return nasty_values()[pick(rng, nasty_values().size())];
  }
}

/// Serialises an object by hand so mutations can produce duplicate keys and
/// arbitrary (even invalid) value text.
std::string object_text(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string s = "{";
  for (size_t i = 0; i < kv.size(); ++i) {
    if (i)
      s += ',';
    s += json::serialize(json::value(json::string_view(kv[i].first))) + ":" + kv[i].second;
  }
  return s + "}";
}

std::vector<std::pair<std::string, std::string>> fields_of(const json::object& o) {
  std::vector<std::pair<std::string, std::string>> kv;
  for (const auto& [k, v] : o)
    kv.emplace_back(std::string(k), json::serialize(v));
  return kv;
}

/// One mutated body derived from a valid object.
std::string mutate(rng_t& rng, const json::object& valid) {
  auto kv = fields_of(valid);
  int structural = 1 + static_cast<int>(rng() % 3);
  for (int m = 0; m < structural; ++m) {
    switch (rng() % 7) {
      case 0:  // missing field
        if (!kv.empty())
          kv.erase(kv.begin() + static_cast<long>(pick(rng, kv.size())));
        break;
      case 1: {  // extra field (unknown or a known one of another route)
        static const char* extra[] = {"id", "status", "seller", "version", "barcode_hash", "",
                                      "price", "Price_Minor", "__proto__", "\xf0\x9f\x8e\xab",
                                      "created_at", "seats "};
        kv.emplace_back(extra[pick(rng, std::size(extra))], random_value(rng));
        break;
      }
      case 2:  // duplicate key with another value
        if (!kv.empty()) {
          auto k = kv[pick(rng, kv.size())].first;
          kv.insert(kv.begin() + static_cast<long>(pick(rng, kv.size() + 1)),
                    {k, random_value(rng)});
        }
        break;
      default:  // wrong type / odd value for an existing field
        if (!kv.empty())
          kv[pick(rng, kv.size())].second = random_value(rng);
    }
  }
  std::string b = object_text(kv);
  // Byte-level damage now and then.
  switch (rng() % 10) {
    case 0: b.resize(pick(rng, b.size())); break;                        // truncation
    case 1: b[pick(rng, b.size())] = static_cast<char>(rng()); break;    // byte flip
    case 2: b.insert(pick(rng, b.size()), std::string(1, static_cast<char>(rng()))); break;
    case 3: b = "  \r\n\t" + b + " \n "; break;                           // whitespace is fine
    case 4: b += rng() % 2 ? "{}" : "x"; break;                           // trailing garbage
    default: break;
  }
  return b;
}

std::string random_bytes(rng_t& rng, size_t max) {
  std::string s(pick(rng, max) + 1, '\0');
  for (auto& ch : s)
    ch = static_cast<char>(rng());
  return s;
}

std::string random_json_body(rng_t& rng, const json::object& valid) {
  switch (rng() % 12) {
    case 0: return random_bytes(rng, 300);
    case 1: return random_value(rng);                     // a non-object
    case 2: return "";
    case 3: return deep_nesting(rng);
    case 4: return "{" + std::string(pick(rng, 70000), ' ') + "}";  // up to past the body limit
    default: return mutate(rng, valid);
  }
}

/// Shape checks for any answer; returns a problem or empty.
std::string answer_problem(const http_result& r) {
  if (!r.ok())
    return "no answer: " + r.error;
  if (r.status >= 500)
    return "5xx";
  if (r.status < 200 || (r.status >= 300 && r.status < 400))
    return "unexpected status class";
  auto j = r.json();
  if (!j.is_object())
    return "body is not a JSON object";
  if (r.status >= 400 && error_code(r).empty())
    return "4xx without error.code/error.message";
  if (r.header("Content-Type").find("application/json") == std::string::npos)
    return "Content-Type is not application/json";
  return {};
}

struct counts {
  std::atomic<int> total{0}, s2xx{0}, s4xx{0}, created{0}, cut_off{0}, offers{0};
  std::map<int, int> by_status;
  std::mutex mtx;
  void add(int status) {
    ++total;
    if (status < 300)
      ++s2xx;
    else
      ++s4xx;
    std::lock_guard<std::mutex> g{mtx};
    ++by_status[status];
  }
  std::string summary() {
    std::lock_guard<std::mutex> g{mtx};
    std::string s;
    for (auto [k, v] : by_status)
      s += " " + std::to_string(k) + "x" + std::to_string(v);
    return s;
  }
};

/// One JSON fuzz client; returns false on the first failed check.
bool json_fuzz_client(uint16_t port, const account& seller, uint64_t seed, int tag,
                      std::chrono::steady_clock::time_point until, counts& cnt) {
  rng_t rng{seed};
  http_client c{port, 10s};
  // A ticket to patch, and its version as we know it.
  auto base = listing("fz" + std::to_string(tag), 0);
  auto first = c.post("/api/v1/tickets", json::serialize(base), seller.auth());
  if (first.status != 201 && first.status != 200) {
    FAIL_CHECK("could not list the patch target: " << first.status << " " << first.body);
    return false;
  }
  std::string target_id(first.json().at("id").as_string());
  int64_t version = first.json().at("version").as_int64();
  const json::object patch_valid{{"price_minor", 4200}, {"event_name", "Renamed"},
                                 {"venue", "Other Hall"}, {"category", "theatre"},
                                 {"event_starts_at", "2027-03-01T18:00:00-05:00"}};
  int i = 0;
  for (; std::chrono::steady_clock::now() < until; ++i) {
    auto valid = listing("fz" + std::to_string(tag), 1 + i);
    std::string body, target;
    bool is_patch = rng() % 3 == 0;
    bool is_offer = !is_patch && rng() % 5 == 0;
    http_result r;
    if (is_offer) {
      // Swap offers on the live ticket: random and mutated offer bodies.
      const json::object offer_valid{
        {"ticket_id", target_id},
        {"want", json::object{{"event_ids", json::array{"ev-x"}}, {"max_cash_minor", 500}}},
        {"weights", json::object{{"music", 0.5}}}};
      target = "/api/v1/offers";
      body = rng() % 5 == 0 ? json::serialize(offer_valid) : random_json_body(rng, offer_valid);
      r = c.post(target, body, seller.auth());
    } else if (is_patch) {
      json::object pv;
      for (const auto& [k, v] : patch_valid)  // a random valid subset as the seed
        if (rng() % 2)
          pv[k] = v;
      if (pv.empty())
        pv["price_minor"] = static_cast<int64_t>(rng() % 100000);
      body = rng() % 5 == 0 ? json::serialize(pv) : random_json_body(rng, pv);
      // Mostly the live ticket; sometimes odd ids.
      static const char* odd_ids[] = {"AAAAAAAAAAAAAAAAAAAAAA", "x", "%00", "..", "a%2Fb",
                                      "\xc3\xa9", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
      target = "/api/v1/tickets/" + (rng() % 8 ? target_id : std::string(odd_ids[pick(rng, std::size(odd_ids))]));
      r = c.patch(target, body, seller.auth());
    } else {
      target = "/api/v1/tickets";
      body = rng() % 6 == 0 ? json::serialize(valid) : random_json_body(rng, valid);
      r = c.post(target, body, seller.auth());
    }
    if (!r.ok() && body.size() > 64 * 1024) {
      // Over the body limit the node answers 413 and closes at once; the
      // answer can be lost to the reset of the unread upload (see report).
      ++cnt.cut_off;
      continue;
    }
    auto problem = answer_problem(r);
    if (r.ok())
      cnt.add(r.status);
    if (!problem.empty()) {
      FAIL_CHECK(problem << " for " << (is_patch ? "PATCH " : "POST ") << target << " (client " << tag
                         << ", iteration " << i << "): " << r.status << " " << shown(r.body)
                         << "\n  body sent: " << shown(body));
      return false;
    }
    if (r.status >= 300)
      continue;
    if (is_offer) {
      // An open offer on the ticket; the ticket's version moved with it.
      if (r.json().as_object().if_contains("status") == nullptr || r.json().at("status") != "open") {
        FAIL_CHECK("2xx without an open offer: " << shown(r.body));
        return false;
      }
      auto now = c.get("/api/v1/tickets/" + target_id);
      if (now.status == 200)
        version = now.json().at("version").as_int64();
      ++cnt.offers;
      continue;
    }
    // Accepted: the answer must be a ticket that matches what was sent.
    auto got = r.json().as_object();
    if (!got.contains("id") || got.contains("barcode") || !got.contains("version")) {
      FAIL_CHECK("2xx without a proper ticket: " << shown(r.body));
      return false;
    }
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = 8;
    auto sent = json::parse(body, ec, {}, opts);
    if (ec || !sent.is_object()) {
      FAIL_CHECK("the node accepted a body that is not a JSON object: " << shown(body) << " -> "
                                                                         << shown(r.body));
      return false;
    }
    if (is_patch) {
      auto v = got.at("version").as_int64();
      if (v != version + 1) {
        FAIL_CHECK("PATCH version " << v << " after " << version << ": " << shown(body));
        return false;
      }
      version = v;
      if (auto* p = sent.as_object().if_contains("price_minor"); p && p->is_int64())
        CHECK_MESSAGE(got.at("price_minor") == *p, shown(body) << " -> " << shown(r.body));
    } else if (r.status == 201) {
      ++cnt.created;
      auto diff = listing_mismatch(sent.as_object(), got);
      CHECK_MESSAGE(diff.empty(), diff << "\n  body sent: " << shown(body));
      CHECK(got.at("status") == "listed");
    }
  }
  // Nothing changed the patch target behind our back.
  auto after = c.get("/api/v1/tickets/" + target_id);
  CHECK(after.status == 200);
  CHECK(after.json().at("version").as_int64() == version);
  progress("json client ", tag, ": ", i, " requests");
  return true;
}

// -- raw HTTP --------------------------------------------------------------------

std::string req(std::string_view head_lines, std::string_view body = {}) {
  return std::string(head_lines) + "\r\n" + std::string(body);
}

/// Checks the first answer on a raw connection: status class and JSON body.
std::string raw_problem(const raw_result& r, bool json_errors = true) {
  for (int s : r.statuses)
    if (s >= 500)
      return "5xx (" + std::to_string(s) + ")";
  if (r.statuses.empty())
    return {};
  // The body of the first response, by Content-Length.
  auto head_end = r.bytes.find("\r\n\r\n");
  if (head_end == std::string::npos)
    return {};
  std::string head = r.bytes.substr(0, head_end);
  std::string lower;
  for (char ch : head)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  auto cl = lower.find("\r\ncontent-length:");
  if (cl == std::string::npos)
    return r.first_status() == 101 ? std::string{} : "response without Content-Length";
  size_t len = std::strtoul(head.c_str() + cl + 17, nullptr, 10);
  std::string body = r.bytes.substr(head_end + 4, len);
  if (body.size() < len)
    return {};  // cut short by our read deadline
  if (r.first_status() >= 400 && json_errors) {
    http_result hr;
    hr.status = r.first_status();
    hr.body = body;
    if (error_code(hr).empty())
      return "4xx body without error.code: " + shown(body);
  }
  return {};
}

struct raw_case {
  std::string name;
  std::string bytes;
  int expect = -1;  // -1: anything but 5xx; 0: no answer expected; else this first status
  raw_options opt{};
  bool json_errors = true;  // 4xx bodies must be the JSON error shape
};

std::vector<raw_case> fixed_raw_cases(const std::string& token, const std::string& id) {
  std::string auth = "Authorization: Bearer " + token + "\r\n";
  std::string listing_body = json::serialize(listing("raw", 1));
  std::string slow_body = json::serialize(listing("raw", 2));
  std::string big(70 * 1024, 'a');
  std::vector<raw_case> v = {
    {"garbage line", "GARBAGE\r\n\r\n", 400},
    {"method only", "GET\r\n\r\n", 400},
    {"no version", "GET /healthz\r\n\r\n", 400},
    {"bad version", "GET /healthz HTTP/9.9\r\n\r\n", 400},
    {"lowercase version", "GET /healthz http/1.1\r\nHost: x\r\n\r\n", 400},
    {"LF only", "GET /healthz HTTP/1.1\nHost: x\n\n", -1},
    {"space before colon", "GET /healthz HTTP/1.1\r\nHost : x\r\n\r\n", 400},
    {"header without colon", "GET /healthz HTTP/1.1\r\nHost x\r\n\r\n", 400},
    {"obs-fold", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", -1},
    {"NUL in header", std::string("GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a") + '\0' + "b\r\n\r\n", 400},
    {"header 9 KiB", req("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(9 * 1024, 'a') + "\r\n"), 431},
    {"200 headers", [] {
       std::string s = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
       for (int i = 0; i < 200; ++i)
         s += "X-H" + std::to_string(i) + ": " + std::string(60, 'v') + "\r\n";
       return s + "\r\n";
     }(), 431},
    {"target 100 KiB", "GET /" + std::string(100 * 1024, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 431},
    {"body 70 KiB with Content-Length",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: " + std::to_string(big.size()) + "\r\n", big), 413},
    {"body 70 KiB chunked", [&] {
       std::string s = "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n";
       for (int i = 0; i < 70; ++i)
         s += "400\r\n" + std::string(1024, 'a') + "\r\n";
       return s + "0\r\n\r\n";
     }(), 413},
    {"body 70 KiB without Content-Length",  // empty body (400), then garbage as the next request
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth, big), 400},
    {"Content-Length 1 GiB, short body",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 1073741824\r\n", "{}"), 413},
    {"Content-Length overflow",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n", "{}"), -1},
    {"negative Content-Length", req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n"), 400},
    {"two different Content-Lengths",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n", "hello!"), 400},
    {"Content-Length and chunked",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n"), -1},
    {"chunk size not hex",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n", "ZZZ\r\nabc\r\n0\r\n\r\n"), 400},
    {"chunk size overflow",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n", "FFFFFFFFFFFFFFFFFFFF\r\nabc\r\n0\r\n\r\n"), -1},
    {"chunk without CRLF",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n", "3\r\nabcdef0\r\n\r\n"), 400},
    {"chunked, no last chunk",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n", "3\r\nabc\r\n"), 400},
    {"chunk extension flood",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n",
         "3;" + std::string(20000, 'e') + "\r\nabc\r\n0\r\n\r\n"), -1},
    {"unknown transfer coding",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: gzip\r\n", "abc"), -1},
    {"valid chunked listing", [&] {
       std::string s = "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Transfer-Encoding: chunked\r\n\r\n";
       for (size_t off = 0; off < listing_body.size(); off += 7) {
         auto piece = listing_body.substr(off, 7);
         char hex[16];
         std::snprintf(hex, sizeof(hex), "%zx", piece.size());
         s += std::string(hex) + "\r\n" + piece + "\r\n";
       }
       return s + "0\r\n\r\n";
     }(), 201},
    {"HTTP/1.0", "GET /healthz HTTP/1.0\r\n\r\n", 200},
    {"absolute-form target", "GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: x\r\n\r\n", -1},
    {"asterisk target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", -1},
    {"unknown method", "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", -1},
    {"CONNECT", "CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n", -1},
    {"TRACE", "TRACE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405},
    {"percent garbage id", "GET /api/v1/tickets/%00%ff%zz HTTP/1.1\r\nHost: x\r\n\r\n", 404},
    {"dot segments", "GET /api/v1/tickets/../../healthz HTTP/1.1\r\nHost: x\r\n\r\n", -1},
    {"long id", "GET /api/v1/tickets/" + std::string(5000, 'A') + " HTTP/1.1\r\nHost: x\r\n\r\n", 404},
    {"query flood", "GET /healthz?" + std::string(6000, '&') + " HTTP/1.1\r\nHost: x\r\n\r\n", 200},
    {"bearer 6 KiB", "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(6000, 'x') + "\r\n\r\n", 401},
    {"bearer garbage", "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c\r\n\r\n", 401},
    {"basic auth", "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nAuthorization: Basic Zm9vOmJhcg==\r\nContent-Length: 2\r\n\r\n{}", 401},
    {"PATCH without body", "PATCH /api/v1/tickets/" + id + " HTTP/1.1\r\nHost: x\r\n" + auth + "\r\n", 400},
    {"DELETE with body", "DELETE /api/v1/tickets/AAAAAAAAAAAAAAAAAAAAAA HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Length: 5\r\n\r\nhello", 404},
    {"Expect 100-continue",
     req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Expect: 100-continue\r\nContent-Length: 2\r\n", "{}"), 400},
    {"websocket upgrade without token",
     "GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", 401},
    // Beast's own handshake rejection answers text/plain (reported; see
    // json_errors below), so only the status is checked here.
    {"broken websocket upgrade", "GET /api/v1/ws HTTP/1.1\r\nHost: x\r\n" + auth + "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n", 400, {}, false},
    {"TLS ClientHello", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11) + std::string(500, '\x01'), 400},
    {"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 400},
    {"only CRLFs", std::string(3000, '\n'), -1},
    {"empty", "", 0},
  };
  // Pipelining: three requests in one write, answered in order.
  raw_case pipe{"pipelined x3",
                "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /api/v1/tickets/" + id
                  + " HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n",
                200};
  pipe.opt.stop_after_responses = 3;
  v.push_back(pipe);
  // Slow but complete: a listing trickled in 3-byte pieces.
  raw_case slow{"slow listing (3-byte pieces)",
                req("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n" + auth + "Content-Type: application/json\r\nContent-Length: "
                      + std::to_string(slow_body.size()) + "\r\nConnection: close\r\n",
                    slow_body),
                201};
  slow.opt.piece = 3;
  slow.opt.piece_delay = 1ms;
  slow.opt.half_close = false;
  slow.opt.read_timeout = 10s;
  v.push_back(slow);
  return v;
}

std::string random_request(rng_t& rng, const std::string& token, const std::string& id) {
  static const char* methods[] = {"GET", "POST", "PATCH", "DELETE", "PUT", "HEAD", "OPTIONS", "G\x01T", ""};
  const std::string targets[] = {"/healthz", "/metrics", "/api/v1/tickets", "/api/v1/tickets/" + id,
                                 "/api/v1/me", "/api/v1/auth/login", "/", "*", "/api/v1/tickets/\xff",
                                 "/api/v1/openapi.json"};
  static const char* versions[] = {"HTTP/1.1", "HTTP/1.0", "HTTP/1.1", "HTTP/2", "HTTP/1.1 x", ""};
  static const char* headers[] = {"Host: x", "Connection: close", "Connection: keep-alive",
                                  "Content-Type: application/json", "Transfer-Encoding: chunked",
                                  "Content-Length: 0", "Content-Length: 10", "Accept: */*",
                                  "X-Request-Id: abc", "X-Request-Id: \x01\x02", "Origin: http://evil",
                                  "Expect: 100-continue", "Upgrade: websocket", ": empty-name",
                                  "X-Device-Fingerprint: fp"};
  std::string s = std::string(methods[pick(rng, std::size(methods))]) + " " + targets[pick(rng, std::size(targets))]
                  + " " + versions[pick(rng, std::size(versions))] + "\r\n";
  size_t nh = pick(rng, 6);
  for (size_t i = 0; i < nh; ++i)
    s += std::string(headers[pick(rng, std::size(headers))]) + "\r\n";
  if (rng() % 2)
    s += "Authorization: Bearer " + token + "\r\n";
  std::string body;
  if (rng() % 2) {
    body = rng() % 2 ? json::serialize(listing("rnd", static_cast<int>(rng() % 100000))) : random_bytes(rng, 200);
    if (rng() % 3)
      s += "Content-Length: " + std::to_string(rng() % 4 ? body.size() : pick(rng, body.size() * 2 + 1)) + "\r\n";
  }
  s += "\r\n" + body;
  // Byte damage now and then.
  if (rng() % 4 == 0 && !s.empty())
    for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k)
      s[pick(rng, s.size())] = static_cast<char>(rng());
  return s;
}

} // namespace

TEST_CASE("fuzz: mutated JSON bodies on POST and PATCH get 2xx/4xx JSON answers, never 5xx") {
  auto seed = fuzz_seed();
  progress("TT_FUZZ_SEED=", seed, " (set it to replay)");
  temp_dir dir{"tt-it-fuzz"};
  node_process node{dir.sub("node"), 0, fast_node_args()};
  REQUIRE(node.start());
  http_client c{node.port()};
  auto seller = sign_in(c, "fuzz@example.com");
  REQUIRE_FALSE(seller.token.empty());

  // Single client first (replayable step by step), then 4 concurrent ones.
  counts cnt;
  auto until = std::chrono::steady_clock::now() + fuzz_budget(0.35);
  CHECK(json_fuzz_client(node.port(), seller, seed, 0, until, cnt));
  REQUIRE(node.alive());
  until = std::chrono::steady_clock::now() + fuzz_budget(0.25);
  std::vector<std::thread> ts;
  std::atomic<int> failed{0};
  for (int t = 1; t <= 4; ++t)
    ts.emplace_back([&, t] {
      if (!json_fuzz_client(node.port(), seller, seed + static_cast<uint64_t>(t), t, until, cnt))
        ++failed;
    });
  for (auto& t : ts)
    t.join();
  CHECK(failed == 0);
  progress("json fuzz: ", cnt.total.load(), " answers, ", cnt.s2xx.load(), " 2xx (", cnt.created.load(),
           " new listings, ", cnt.offers.load(), " offers), ", cnt.s4xx.load(), " 4xx, ", cnt.cut_off.load(), " oversize uploads cut off; by status:", cnt.summary());
  CHECK(cnt.s2xx > 0);  // the fuzzer also reached the accepting paths
  CHECK(cnt.s4xx > 0);
  REQUIRE(node.alive());
  CHECK(http_client{node.port()}.get("/healthz").status == 200);
  auto metrics = http_client{node.port()}.get("/metrics");
  CHECK(metrics.status == 200);
  CHECK(metrics.body.find("status=\"5") == std::string::npos);  // no 5xx was ever counted
}

TEST_CASE("fuzz: malformed raw HTTP never crashes the node nor earns a 5xx") {
  auto seed = fuzz_seed();
  progress("TT_FUZZ_SEED=", seed, " (set it to replay)");
  rng_t rng{seed ^ 0x9e3779b97f4a7c15ULL};
  temp_dir dir{"tt-it-rawfuzz"};
  node_process node{dir.sub("node"), 0, fast_node_args()};
  REQUIRE(node.start());
  const auto port = node.port();
  http_client c{port};
  auto seller = sign_in(c, "raw@example.com");
  REQUIRE_FALSE(seller.token.empty());
  auto t = c.post("/api/v1/tickets", json::serialize(listing("rawbase", 1)), seller.auth());
  REQUIRE(t.status == 201);
  std::string id(t.json().at("id").as_string());

  auto healthy = [&](const std::string& after) {
    REQUIRE_MESSAGE(node.alive(), "tt-node died after " << after << " ("
                                                        << node_process::describe_status(node.exit_status()) << ")");
    auto h = http_client{port, 5s}.get("/healthz");
    REQUIRE_MESSAGE(h.status == 200, "/healthz after " << after << ": " << h.status << " " << h.error);
  };

  // -- fixed cases with known answers ---------------------------------------------------
  int answered = 0, silent = 0;
  auto cases = fixed_raw_cases(seller.token, id);
  for (const auto& rc : cases) {
    auto r = raw_exchange(port, rc.bytes, rc.opt);
    REQUIRE_MESSAGE(r.connected, rc.name);
    auto problem = raw_problem(r, rc.json_errors);
    CHECK_MESSAGE(problem.empty(), rc.name << ": " << problem << " — got " << shown(r.bytes, 400));
    if (rc.expect > 0)
      CHECK_MESSAGE(r.first_status() == rc.expect,
                    rc.name << ": expected " << rc.expect << ", got " << shown(r.bytes, 400));
    if (rc.expect == 0)
      CHECK_MESSAGE(r.statuses.empty(), rc.name << ": " << shown(r.bytes, 400));
    if (rc.name == "pipelined x3")
      CHECK_MESSAGE((r.statuses == std::vector<int>{200, 200, 404}), shown(r.bytes, 600));
    (r.statuses.empty() ? silent : answered)++;
  }
  healthy("the fixed cases");
  progress("raw fixed cases: ", cases.size(), " sent, ", answered, " answered, ", silent, " silent");

  // -- stalled and slow connections: the node keeps serving others ------------------------
  {
    net::io_context ioc;  // before the sockets: they must go first
    std::vector<tcp::socket> stalled;
    for (int i = 0; i < 200; ++i) {
      tcp::socket s(ioc);
      boost::system::error_code ec;
      s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
      REQUIRE_MESSAGE(!ec, "connection " << i << ": " << ec.message());
      std::string partial = i % 3 == 0 ? "" : i % 3 == 1 ? "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n"
                                                         : "POST /api/v1/tickets HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"ev";
      if (!partial.empty())
        net::write(s, net::buffer(partial), ec);
      stalled.push_back(std::move(s));
    }
    // With 200 stalled connections open, requests still go through promptly.
    http_client fresh{port, 3s};
    for (int i = 0; i < 20; ++i) {
      auto h = fresh.get("/healthz");
      REQUIRE_MESSAGE(h.status == 200, "with stalled connections open: " << h.status << " " << h.error);
      auto g = fresh.get("/api/v1/tickets/" + id);
      REQUIRE(g.status == 200);
    }
    progress("200 stalled/partial connections open: node still serves");
  }  // closing them all mid-request must not hurt either
  healthy("200 stalled connections closed mid-request");

  // -- random requests and random bytes, checked in batches --------------------------------
  auto until = std::chrono::steady_clock::now() + fuzz_budget(0.3);
  int sent = 0;
  std::map<int, int> by_status;
  for (int batch = 0; std::chrono::steady_clock::now() < until; ++batch) {
    for (int i = 0; i < 50; ++i) {
      std::string bytes = rng() % 4 == 0 ? random_bytes(rng, 2048) : random_request(rng, seller.token, id);
      raw_options opt;
      opt.read_timeout = 2s;
      if (rng() % 10 == 0) {  // sometimes trickled
        opt.piece = 1 + pick(rng, 16);
        opt.piece_delay = std::chrono::milliseconds(pick(rng, 2));
      }
      opt.half_close = rng() % 4 != 0;
      if (!opt.half_close)
        opt.read_timeout = 500ms;  // an incomplete request just sits there
      auto r = raw_exchange(port, bytes, opt);
      ++sent;
      for (int s : r.statuses)
        ++by_status[s];
      auto problem = raw_problem(r);
      if (!problem.empty()) {
        FAIL_CHECK("random case " << sent << ": " << problem << "\n  sent: " << shown(bytes, 600)
                                  << "\n  got: " << shown(r.bytes, 600));
      }
    }
    healthy("random batch " + std::to_string(batch));
  }
  std::string hist;
  for (auto [k, v] : by_status)
    hist += " " + std::to_string(k) + "x" + std::to_string(v);
  progress("raw random: ", sent, " connections; answers by status:", hist);

  // The ticket is still readable and consistent (random requests may have
  // withdrawn it with the real token: a valid DELETE).
  auto g = c.get("/api/v1/tickets/" + id);
  CHECK(g.status == 200);
  CHECK(listing_mismatch(listing("rawbase", 1), g.json(), false).empty());
  auto status = node.kill(SIGTERM);
  CHECK_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0), node_process::describe_status(status));
}
