// JWT access tokens: round trip, every rejection reason, key rotation, the
// persisted key file, concurrency, and a mutation fuzz loop.

#include <doctest/doctest.h>

#include "nodes/jwt.hpp"

#include <boost/json.hpp>
#include <sodium.h>

#include <array>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <vector>

using namespace tt::nodes;
namespace json = boost::json;

namespace {

const std::string secret32 = "0123456789abcdef0123456789abcdef";
constexpr int64_t now0 = 1'800'000'000;

std::string b64(std::string_view bin, int variant = sodium_base64_VARIANT_URLSAFE_NO_PADDING) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), variant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), variant);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string unb64(std::string_view s) {
  std::string out(s.size(), '\0');
  size_t len = 0;
  REQUIRE(sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), s.data(),
                            s.size(), nullptr, &len, nullptr,
                            sodium_base64_VARIANT_URLSAFE_NO_PADDING)
          == 0);
  out.resize(len);
  return out;
}

std::string hs256(const std::string& key, std::string_view data) {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

// A token from raw header/payload JSON text, HMAC-SHA256-signed with `key`
// (whatever the header claims), so only the check under test can fail.
std::string make_token(std::string_view header, std::string_view payload,
                       const std::string& key = secret32) {
  auto input = b64(header) + "." + b64(payload);
  return input + "." + b64(hs256(key, input));
}

std::string std_header(std::string_view kid = "k1") {
  return R"({"alg":"HS256","typ":"JWT","kid":")" + std::string(kid) + "\"}";
}

json::object good_payload() {
  return json::object{{"iss", "ticket-trader"}, {"sub", "acct-1"}, {"sid", "fam-1"},
                      {"role", "user"},         {"iat", now0},     {"exp", now0 + 900},
                      {"jti", "j-1"}};
}

json::object with(json::object p, std::string_view key, json::value v) {
  p[key] = std::move(v);
  return p;
}

json::object without(json::object p, std::string_view key) {
  p.erase(key);
  return p;
}

std::string make_token(std::string_view header, const json::object& payload,
                       const std::string& key = secret32) {
  return make_token(header, std::string_view(json::serialize(payload)), key);
}

std::shared_ptr<jwt_keyring> ring() { return jwt_keyring::from_secret("k1", secret32); }

jwt_error check(const jwt_keyring& r, std::string_view token, int64_t now = now0) {
  jwt_claims c;
  return r.verify(token, now, c);
}

jwt_claims sample_claims() {
  jwt_claims c;
  c.sub = "acct-42";
  c.sid = "family-7";
  c.role = "admin";
  c.iat = now0;
  c.exp = now0 + 900;
  c.jti = "jti-abc";
  return c;
}

std::vector<std::string> split(const std::string& token) {
  std::vector<std::string> out;
  std::stringstream ss(token);
  std::string part;
  while (std::getline(ss, part, '.'))
    out.push_back(part);
  if (!token.empty() && token.back() == '.')
    out.emplace_back();
  return out;
}

struct temp_dir {
  std::string path;
  temp_dir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tt_jwt_test_XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line))
    if (!line.empty())
      out.push_back(line);
  return out;
}

} // namespace

TEST_SUITE("jwt") {

TEST_CASE("sign and verify round trip") {
  auto r = ring();
  auto c = sample_claims();
  auto token = r->sign(c);
  auto parts = split(token);
  REQUIRE(parts.size() == 3);
  CHECK(token.find('=') == std::string::npos);

  auto header = json::parse(unb64(parts[0])).as_object();
  CHECK(header.at("alg") == "HS256");
  CHECK(header.at("typ") == "JWT");
  CHECK(header.at("kid") == "k1");
  auto payload = json::parse(unb64(parts[1])).as_object();
  CHECK(payload.at("iss") == "ticket-trader");
  CHECK(payload.at("sub") == "acct-42");
  CHECK(payload.at("sid") == "family-7");
  CHECK(payload.at("role") == "admin");
  CHECK(payload.at("iat").as_int64() == now0);
  CHECK(payload.at("exp").as_int64() == now0 + 900);
  CHECK(payload.at("jti") == "jti-abc");

  jwt_claims out;
  REQUIRE(r->verify(token, now0 + 10, out) == jwt_error::ok);
  CHECK(out.sub == c.sub);
  CHECK(out.sid == c.sid);
  CHECK(out.role == c.role);
  CHECK(out.iat == c.iat);
  CHECK(out.exp == c.exp);
  CHECK(out.jti == c.jti);

  // A hand-made token with the same key verifies too (interoperable HS256).
  CHECK(check(*r, make_token(std_header(), json::serialize(good_payload()))) == jwt_error::ok);
  // Optional claims may be absent: role defaults to "user".
  auto minimal = make_token(std_header(), without(without(without(good_payload(), "sid"), "jti"),
                                                  "role"));
  REQUIRE(r->verify(minimal, now0, out) == jwt_error::ok);
  CHECK(out.role == "user");
  CHECK(out.sid.empty());
  // typ is optional.
  CHECK(check(*r, make_token(R"({"alg":"HS256","kid":"k1"})", json::serialize(good_payload())))
        == jwt_error::ok);
}

TEST_CASE("to_string names every error") {
  CHECK(std::string(to_string(jwt_error::ok)) == "ok");
  CHECK(std::string(to_string(jwt_error::malformed)) == "malformed");
  CHECK(std::string(to_string(jwt_error::bad_header)) == "bad_header");
  CHECK(std::string(to_string(jwt_error::alg_not_allowed)) == "alg_not_allowed");
  CHECK(std::string(to_string(jwt_error::unknown_kid)) == "unknown_kid");
  CHECK(std::string(to_string(jwt_error::bad_signature)) == "bad_signature");
  CHECK(std::string(to_string(jwt_error::expired)) == "expired");
  CHECK(std::string(to_string(jwt_error::not_yet_valid)) == "not_yet_valid");
  CHECK(std::string(to_string(jwt_error::bad_claims)) == "bad_claims");
}

TEST_CASE("algorithm confusion is rejected") {
  auto r = ring();
  auto payload = json::serialize(good_payload());
  // alg none with an empty signature.
  auto none = b64(R"({"alg":"none","typ":"JWT","kid":"k1"})") + "." + b64(payload) + ".";
  CHECK(check(*r, none) == jwt_error::alg_not_allowed);
  CHECK(check(*r, b64(R"({"alg":"none","typ":"JWT"})") + "." + b64(payload) + ".")
        == jwt_error::alg_not_allowed);
  // "None", "HS512", "RS256", "hs256": all signed with a valid HS256 MAC.
  for (auto alg : {"none", "None", "HS512", "HS384", "RS256", "ES256", "PS256", "hs256", ""}) {
    CAPTURE(alg);
    auto h = std::string(R"({"alg":")") + alg + R"(","typ":"JWT","kid":"k1"})";
    CHECK(check(*r, make_token(h, payload)) == jwt_error::alg_not_allowed);
  }
  // alg missing or not a string.
  CHECK(check(*r, make_token(R"({"typ":"JWT","kid":"k1"})", payload)) == jwt_error::bad_header);
  CHECK(check(*r, make_token(R"({"alg":256,"typ":"JWT","kid":"k1"})", payload))
        == jwt_error::bad_header);
  CHECK(check(*r, make_token(R"({"alg":["HS256"],"kid":"k1"})", payload))
        == jwt_error::bad_header);
}

TEST_CASE("header problems") {
  auto r = ring();
  auto payload = json::serialize(good_payload());
  CHECK(check(*r, make_token(R"({"alg":"HS256","typ":"JWT"})", payload)) == jwt_error::bad_header);
  CHECK(check(*r, make_token(R"({"alg":"HS256","typ":"JWT","kid":1})", payload))
        == jwt_error::bad_header);
  CHECK(check(*r, make_token(R"({"alg":"HS256","typ":"JWT","kid":""})", payload))
        == jwt_error::bad_header);
  CHECK(check(*r, make_token(R"({"alg":"HS256","typ":"JWS","kid":"k1"})", payload))
        == jwt_error::bad_header);
  CHECK(check(*r, make_token(R"({"alg":"HS256","typ":1,"kid":"k1"})", payload))
        == jwt_error::bad_header);
  CHECK(check(*r, make_token(R"({"alg":"HS256","kid":"k1","crit":["exp"]})", payload))
        == jwt_error::bad_header);
  // Unknown kid: signed with the right secret, but the ring has no such key.
  CHECK(check(*r, make_token(std_header("k2"), payload)) == jwt_error::unknown_kid);
  auto other = jwt_keyring::from_secret("other", secret32);
  CHECK(check(*other, r->sign(sample_claims())) == jwt_error::unknown_kid);
  // Header that is not a JSON object.
  CHECK(check(*r, make_token("[1,2]", payload)) == jwt_error::malformed);
  CHECK(check(*r, make_token("not json", payload)) == jwt_error::malformed);
  CHECK(check(*r, make_token(R"({"alg":"HS256")", payload)) == jwt_error::malformed);
  CHECK(check(*r, make_token(R"({"a":{"b":{"c":{"d":{"e":1}}}},"alg":"HS256","kid":"k1"})",
                             payload))
        == jwt_error::malformed);  // nesting beyond the parser's depth cap
}

TEST_CASE("tampering is detected") {
  auto r = ring();
  auto token = r->sign(sample_claims());
  auto parts = split(token);
  REQUIRE(parts.size() == 3);

  SUBCASE("tampered payload") {
    auto c = sample_claims();
    c.role = "admin";
    c.sub = "acct-1";  // someone else's account
    auto forged_payload = split(jwt_keyring::from_secret("k1", "wrong key")->sign(c))[1];
    CHECK(check(*r, parts[0] + "." + forged_payload + "." + parts[2]) == jwt_error::bad_signature);
    // Or longer expiry, re-encoded by hand.
    auto p = json::parse(unb64(parts[1])).as_object();
    p["exp"] = now0 + 999999;
    CHECK(check(*r, parts[0] + "." + b64(json::serialize(p)) + "." + parts[2])
          == jwt_error::bad_signature);
  }
  SUBCASE("tampered header") {
    auto h = b64(R"({"typ":"JWT","alg":"HS256","kid":"k1"})");  // same fields, other bytes
    CHECK(check(*r, h + "." + parts[1] + "." + parts[2]) == jwt_error::bad_signature);
  }
  SUBCASE("tampered signature") {
    auto sig = parts[2];
    sig[0] = sig[0] == 'A' ? 'B' : 'A';
    CHECK(check(*r, parts[0] + "." + parts[1] + "." + sig) == jwt_error::bad_signature);
    sig = parts[2];
    sig[10] = sig[10] == '-' ? '_' : '-';
    CHECK(check(*r, parts[0] + "." + parts[1] + "." + sig) == jwt_error::bad_signature);
    // Signature of the wrong length (29 bytes / 33 bytes).
    auto mac_bytes = unb64(parts[2]);
    REQUIRE(mac_bytes.size() == 32);
    CHECK(check(*r, parts[0] + "." + parts[1] + "." + b64(mac_bytes.substr(0, 29)))
          == jwt_error::bad_signature);
    CHECK(check(*r, parts[0] + "." + parts[1] + "." + b64(mac_bytes + "xyz"))
          == jwt_error::bad_signature);
    // Empty signature on an HS256 token.
    CHECK(check(*r, parts[0] + "." + parts[1] + ".") == jwt_error::bad_signature);
    // Signed with a different secret.
    CHECK(check(*r, make_token(std_header(), json::serialize(good_payload()), "another secret"))
          == jwt_error::bad_signature);
  }
  SUBCASE("non-canonical base64 (non-zero trailing bits) is not a second spelling") {
    // 32-byte MAC -> 43 chars; the last char carries 2 unused bits.
    auto sig = parts[2];
    REQUIRE(sig.size() == 43);
    const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    auto pos = alphabet.find(sig.back());
    REQUIRE(pos != std::string::npos);
    sig.back() = alphabet[pos ^ 1];  // same decoded bytes, a dirty padding bit
    CHECK(check(*r, parts[0] + "." + parts[1] + "." + sig) == jwt_error::malformed);
  }
}

TEST_CASE("structural problems are malformed") {
  auto r = ring();
  auto token = r->sign(sample_claims());
  auto parts = split(token);
  CHECK(check(*r, "") == jwt_error::malformed);
  CHECK(check(*r, ".") == jwt_error::malformed);
  CHECK(check(*r, "..") == jwt_error::malformed);
  CHECK(check(*r, "abc") == jwt_error::malformed);
  // Truncated: the signature segment dropped, or cut anywhere.
  CHECK(check(*r, parts[0] + "." + parts[1]) == jwt_error::malformed);
  CHECK(check(*r, parts[0] + "." + parts[1] + ".") == jwt_error::bad_signature);
  for (size_t n = 0; n < token.size(); ++n) {
    CAPTURE(n);
    CHECK(check(*r, token.substr(0, n)) != jwt_error::ok);
  }
  // Extra segment (JWE-like, or just appended).
  CHECK(check(*r, token + ".abc") == jwt_error::malformed);
  CHECK(check(*r, token + ".") == jwt_error::malformed);
  CHECK(check(*r, "." + token) == jwt_error::malformed);
  // Empty header or payload segment.
  CHECK(check(*r, "." + parts[1] + "." + parts[2]) == jwt_error::malformed);
  CHECK(check(*r, parts[0] + ".." + parts[2]) == jwt_error::malformed);
  // Too long: capped before any decoding.
  auto huge = make_token(std_header(), with(good_payload(), "pad", json::string(std::string(4000, 'x'))));
  REQUIRE(huge.size() > jwt_keyring::max_token_size);
  CHECK(check(*r, huge) == jwt_error::malformed);
  CHECK(check(*r, std::string(1 << 20, 'A')) == jwt_error::malformed);
  // Just under the cap still works.
  auto big = make_token(std_header(), with(good_payload(), "pad", json::string(std::string(2500, 'x'))));
  REQUIRE(big.size() < jwt_keyring::max_token_size);
  CHECK(check(*r, big) == jwt_error::ok);
  // Payload that is not a JSON object (validly signed).
  CHECK(check(*r, make_token(std_header(), "[]")) == jwt_error::malformed);
  CHECK(check(*r, make_token(std_header(), "\"str\"")) == jwt_error::malformed);
  CHECK(check(*r, make_token(std_header(), "{\"sub\":")) == jwt_error::malformed);
  CHECK(check(*r, make_token(std_header(), std::string("{\"sub\":\"a\0b\"}", 12))) != jwt_error::ok);
}

TEST_CASE("only strict base64url without padding is accepted") {
  auto r = ring();
  auto payload = json::serialize(good_payload());
  auto token = make_token(std_header(), payload);
  REQUIRE(check(*r, token) == jwt_error::ok);
  auto parts = split(token);

  for (char bad : {'+', '/', '=', '*', ' ', '\n', '\0', '\xff', '%', '~'}) {
    CAPTURE(static_cast<int>(static_cast<unsigned char>(bad)));
    for (size_t seg = 0; seg < 3; ++seg) {
      auto p = parts;
      p[seg][p[seg].size() / 2] = bad;
      CHECK(check(*r, p[0] + "." + p[1] + "." + p[2]) == jwt_error::malformed);
    }
  }
  // Padded encodings of exactly the same bytes.
  auto sig = hs256(secret32, parts[0] + "." + parts[1]);
  auto padded_sig = b64(sig, sodium_base64_VARIANT_URLSAFE);
  REQUIRE(padded_sig.back() == '=');
  CHECK(check(*r, parts[0] + "." + parts[1] + "." + padded_sig) == jwt_error::malformed);
  // A header whose length needs padding, spelled with it.
  std::string h = std_header() + " ";  // make the length not a multiple of 3
  if (h.size() % 3 == 0)
    h += " ";
  auto hp = b64(h, sodium_base64_VARIANT_URLSAFE);
  REQUIRE(hp.back() == '=');
  auto input = hp + "." + parts[1];
  CHECK(check(*r, input + "." + b64(hs256(secret32, input))) == jwt_error::malformed);
  // Standard alphabet (+ and /) instead of URL-safe: find a payload whose
  // standard encoding contains one of them.
  bool tested = false;
  for (int i = 0; i < 200 && !tested; ++i) {
    auto p = json::serialize(with(good_payload(), "jti", json::string("?>?>" + std::to_string(i) + "~~~\xff")));
    auto s = b64(p, sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
    if (s.find_first_of("+/") == std::string::npos)
      continue;
    auto in = b64(std_header()) + "." + s;
    CHECK(check(*r, in + "." + b64(hs256(secret32, in))) == jwt_error::malformed);
    tested = true;
  }
  CHECK(tested);
  // Length 1 mod 4 can never be valid base64.
  REQUIRE(parts[2].size() % 4 == 3);
  CHECK(check(*r, parts[0] + "." + parts[1] + "." + parts[2] + "AA") == jwt_error::malformed);
  CHECK(check(*r, parts[0] + "." + parts[1] + "." + "A") == jwt_error::malformed);
}

TEST_CASE("time checks with 30 s of skew") {
  auto r = ring();
  auto c = sample_claims();
  auto token = r->sign(c);
  CHECK(check(*r, token, c.exp) == jwt_error::ok);
  CHECK(check(*r, token, c.exp + 30) == jwt_error::ok);
  CHECK(check(*r, token, c.exp + 31) == jwt_error::expired);
  CHECK(check(*r, token, c.exp + 86400) == jwt_error::expired);
  // iat in the future.
  CHECK(check(*r, token, c.iat - 30) == jwt_error::ok);
  CHECK(check(*r, token, c.iat - 31) == jwt_error::not_yet_valid);
  auto future = make_token(std_header(), with(with(good_payload(), "iat", now0 + 3600), "exp",
                                              now0 + 7200));
  CHECK(check(*r, future) == jwt_error::not_yet_valid);
  // nbf in the future.
  CHECK(check(*r, make_token(std_header(), with(good_payload(), "nbf", now0 + 31)))
        == jwt_error::not_yet_valid);
  CHECK(check(*r, make_token(std_header(), with(good_payload(), "nbf", now0 + 30)))
        == jwt_error::ok);
  CHECK(check(*r, make_token(std_header(), with(good_payload(), "nbf", now0 - 100)))
        == jwt_error::ok);
  // Extreme values do not overflow into acceptance.
  CHECK(check(*r, make_token(std_header(), with(good_payload(), "exp", INT64_MIN)))
        == jwt_error::bad_claims);  // exp < iat
  auto ancient = make_token(std_header(), with(with(good_payload(), "iat", INT64_MIN), "exp",
                                               INT64_MIN + 5));
  CHECK(check(*r, ancient) == jwt_error::expired);
  CHECK(check(*r, make_token(std_header(), with(good_payload(), "exp", INT64_MAX)))
        == jwt_error::ok);
  CHECK(check(*r, make_token(std_header(), with(with(good_payload(), "iat", INT64_MAX), "exp",
                                                INT64_MAX)))
        == jwt_error::not_yet_valid);
  CHECK(check(*r, make_token(std_header(), with(good_payload(), "nbf", INT64_MAX)))
        == jwt_error::not_yet_valid);
}

TEST_CASE("claim problems") {
  auto r = ring();
  auto bad = [&](const json::object& payload) {
    return check(*r, make_token(std_header(), payload));
  };
  CHECK(bad(with(good_payload(), "iss", "evil")) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "iss", "Ticket-Trader")) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "iss", 1)) == jwt_error::bad_claims);
  CHECK(bad(without(good_payload(), "iss")) == jwt_error::bad_claims);
  CHECK(bad(without(good_payload(), "sub")) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "sub", "")) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "sub", 42)) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "sub", nullptr)) == jwt_error::bad_claims);
  CHECK(bad(without(good_payload(), "exp")) == jwt_error::bad_claims);
  CHECK(bad(without(good_payload(), "iat")) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "exp", "1900000000")) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "exp", 1.9e9)) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "exp", uint64_t{18'000'000'000'000'000'000ull}))
        == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "iat", true)) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "exp", now0 - 1)) == jwt_error::bad_claims);  // exp < iat
  CHECK(bad(with(good_payload(), "sid", 7)) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "role", json::array{"admin"})) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "jti", json::object{})) == jwt_error::bad_claims);
  CHECK(bad(with(good_payload(), "nbf", "soon")) == jwt_error::bad_claims);
  // Unknown extra claims are ignored.
  CHECK(bad(with(good_payload(), "aud", "x")) == jwt_error::ok);
}

TEST_CASE("verify leaves out untouched on failure") {
  auto r = ring();
  jwt_claims out;
  out.sub = "sentinel";
  CHECK(r->verify(r->sign(sample_claims()), now0 + 100000, out) == jwt_error::expired);
  CHECK(out.sub == "sentinel");
}

TEST_CASE("rotation: old tokens keep verifying, new ones use the new kid") {
  temp_dir dir;
  std::string err;
  auto r = jwt_keyring::load_or_create(dir.path, &err);
  REQUIRE_MESSAGE(r, err);
  auto kid1 = r->signing_kid();
  CHECK(kid1.size() == 8);
  auto old_token = r->sign(sample_claims());

  REQUIRE(r->rotate(&err));
  auto kid2 = r->signing_kid();
  CHECK(kid2 != kid1);
  CHECK(r->key_count() == 2);
  auto new_token = r->sign(sample_claims());
  CHECK(json::parse(unb64(split(new_token)[0])).as_object().at("kid") == kid2.c_str());
  CHECK(json::parse(unb64(split(old_token)[0])).as_object().at("kid") == kid1.c_str());
  CHECK(check(*r, old_token) == jwt_error::ok);
  CHECK(check(*r, new_token) == jwt_error::ok);

  // Rotation is persisted: a restart still knows both keys.
  auto again = jwt_keyring::load_or_create(dir.path, &err);
  REQUIRE_MESSAGE(again, err);
  CHECK(again->key_count() == 2);
  CHECK(again->signing_kid() == kid2);
  CHECK(check(*again, old_token) == jwt_error::ok);
  CHECK(check(*again, new_token) == jwt_error::ok);

  // A keyring made from a secret rotates in memory only.
  auto mem = ring();
  auto t1 = mem->sign(sample_claims());
  REQUIRE(mem->rotate());
  CHECK(mem->signing_kid() != "k1");
  CHECK(check(*mem, t1) == jwt_error::ok);
  CHECK(check(*mem, mem->sign(sample_claims())) == jwt_error::ok);
}

TEST_CASE("load_or_create persists and reloads the same keys") {
  temp_dir dir;
  std::string err;
  auto path = dir.path + "/jwt.keys";
  auto a = jwt_keyring::load_or_create(dir.path, &err);
  REQUIRE_MESSAGE(a, err);
  REQUIRE(std::filesystem::exists(path));
  CHECK_FALSE(std::filesystem::exists(path + ".tmp"));
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);

  auto lines = read_lines(path);
  REQUIRE(lines.size() == 1);
  std::istringstream ls(lines[0]);
  std::string kid, hex;
  int64_t created = 0;
  ls >> kid >> hex >> created;
  CHECK(kid == a->signing_kid());
  CHECK(hex.size() == 64);
  CHECK(hex.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(created > 1'600'000'000);

  // The file holds the real secret: a ring made from it verifies a's tokens.
  std::string secret(32, '\0');
  REQUIRE(sodium_hex2bin(reinterpret_cast<unsigned char*>(secret.data()), 32, hex.data(),
                         hex.size(), nullptr, nullptr, nullptr)
          == 0);
  auto token = a->sign(sample_claims());
  CHECK(check(*jwt_keyring::from_secret(kid, secret), token) == jwt_error::ok);

  auto b = jwt_keyring::load_or_create(dir.path, &err);
  REQUIRE_MESSAGE(b, err);
  CHECK(b->signing_kid() == a->signing_kid());
  CHECK(b->key_count() == 1);
  CHECK(check(*b, token) == jwt_error::ok);
  CHECK(read_lines(path) == lines);  // loading does not rewrite

  // Two separate directories get different keys.
  temp_dir other;
  auto c = jwt_keyring::load_or_create(other.path, &err);
  REQUIRE(c);
  CHECK(check(*c, token) != jwt_error::ok);

  SUBCASE("a loosely permissioned file is tightened on load") {
    ::chmod(path.c_str(), 0644);
    REQUIRE(jwt_keyring::load_or_create(dir.path, &err));
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  SUBCASE("a malformed file is an error, not silently replaced") {
    for (std::string bad : {std::string("kid-only\n"), std::string("k zz 1\n"),
                            "k1 " + std::string(64, 'a') + " notanumber\n",
                            "k1 " + std::string(62, 'a') + " 1\n",
                            "k1 " + std::string(64, 'g') + " 1\n",
                            "k/1 " + std::string(64, 'a') + " 1\n",
                            "k1 " + std::string(64, 'a') + " 1 extra\n",
                            "k1 " + std::string(64, 'a') + " 1\nk1 " + std::string(64, 'b')
                              + " 2\n"}) {
      CAPTURE(bad);
      { std::ofstream(path, std::ios::trunc) << bad; }
      err.clear();
      CHECK(jwt_keyring::load_or_create(dir.path, &err) == nullptr);
      CHECK(err.find("malformed") != std::string::npos);
      CHECK(jwt_keyring::load_or_create(dir.path, nullptr) == nullptr);  // null error is fine
      CHECK(read_lines(path).size() >= 1);  // still there
    }
  }
  SUBCASE("a hand-written file with several keys loads in order") {
    {
      std::ofstream out(path, std::ios::trunc);
      out << "old " << std::string(64, 'a') << " 100\n\n";
      out << "new " << std::string(64, 'b') << " 200\n";
    }
    auto r = jwt_keyring::load_or_create(dir.path, &err);
    REQUIRE_MESSAGE(r, err);
    CHECK(r->key_count() == 2);
    CHECK(r->signing_kid() == "new");
    CHECK(check(*r, jwt_keyring::from_secret("old", std::string(32, '\xaa'))
                      ->sign(sample_claims()))
          == jwt_error::ok);
  }
  SUBCASE("an empty file gets a key") {
    { std::ofstream(path, std::ios::trunc); }
    auto r = jwt_keyring::load_or_create(dir.path, &err);
    REQUIRE_MESSAGE(r, err);
    CHECK(r->key_count() == 1);
    CHECK(read_lines(path).size() == 1);
  }
}

TEST_CASE("load_or_create reports unusable directories") {
  std::string err;
  CHECK(jwt_keyring::load_or_create("/nonexistent/tt-jwt-test", &err) == nullptr);
  CHECK_FALSE(err.empty());
  CHECK(jwt_keyring::load_or_create("/nonexistent/tt-jwt-test", nullptr) == nullptr);
}

TEST_CASE("concurrent sign, verify and rotate") {
  auto r = ring();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0}, verified{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      auto c = sample_claims();
      c.jti = std::string("t").append(std::to_string(t));
      while (!stop.load()) {
        auto token = r->sign(c);
        jwt_claims out;
        if (r->verify(token, now0, out) != jwt_error::ok || out.jti != c.jti)
          failures.fetch_add(1);
        verified.fetch_add(1);
      }
    });
  for (int i = 0; i < 20; ++i) {
    REQUIRE(r->rotate());
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  while (verified.load() < 2000)
    std::this_thread::yield();
  stop = true;
  for (auto& t : threads)
    t.join();
  CHECK(failures.load() == 0);
  CHECK(r->key_count() == 21);
}

TEST_CASE("mutation fuzz: never crashes, never verifies") {
  auto r = ring();
  auto valid = r->sign(sample_claims());
  REQUIRE(check(*r, valid) == jwt_error::ok);
  auto parts = split(valid);
  std::mt19937_64 rng(20241129);
  const std::string interesting =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ \t\n\r\"{}[]:,\\%";
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % std::max<size_t>(n, 1)); };
  auto random_char = [&]() -> char {
    return rng() % 4 == 0 ? static_cast<char>(rng() & 0xff) : interesting[pick(interesting.size())];
  };
  // Decoded-JSON-level mutations need a valid encoding to reach the parser.
  auto header_text = unb64(parts[0]);
  auto payload_text = unb64(parts[1]);

  std::array<int, 9> seen{};
  int ok = 0;
  constexpr int rounds = 20000;
  for (int i = 0; i < rounds; ++i) {
    std::string t = valid;
    int edits = 1 + static_cast<int>(pick(4));
    for (int e = 0; e < edits; ++e) {
      switch (pick(10)) {
        case 0: if (!t.empty()) t[pick(t.size())] = random_char(); break;
        case 1: t.insert(t.begin() + static_cast<long>(pick(t.size() + 1)), random_char()); break;
        case 2: if (!t.empty()) t.erase(pick(t.size()), 1 + pick(8)); break;
        case 3: t.resize(pick(t.size() + 1)); break;
        case 4: if (!t.empty()) t[pick(t.size())] ^= static_cast<char>(1u << pick(8)); break;
        case 5: {  // re-encode a mutated header or payload, keep the signature
          auto text = pick(2) ? header_text : payload_text;
          if (!text.empty())
            text[pick(text.size())] = random_char();
          t = pick(2) ? b64(text) + "." + parts[1] + "." + parts[2]
                      : parts[0] + "." + b64(text) + "." + parts[2];
          break;
        }
        case 6: {  // shuffle segments
          auto p = parts;
          std::swap(p[pick(3)], p[pick(3)]);
          t = p[0] + "." + p[1] + "." + p[2];
          break;
        }
        case 7: t += "." + parts[pick(3)]; break;
        case 8: {  // random bytes
          t.assign(pick(200), '\0');
          for (auto& ch : t)
            ch = random_char();
          break;
        }
        default: {  // duplicate a slice
          if (t.empty())
            break;
          auto a = pick(t.size());
          t.insert(pick(t.size()), t.substr(a, 1 + pick(16)));
        }
      }
    }
    if (t == valid)
      continue;
    jwt_claims out;
    auto res = r->verify(t, now0, out);
    seen[static_cast<size_t>(res)]++;
    if (res == jwt_error::ok) {
      ++ok;
      FAIL_CHECK("mutated token verified: " << t);
    }
  }
  CHECK(ok == 0);
  // The fuzz reaches past the base64 layer.
  CHECK(seen[static_cast<size_t>(jwt_error::malformed)] > 0);
  CHECK(seen[static_cast<size_t>(jwt_error::bad_signature)] > 0);
  MESSAGE("fuzz outcomes: malformed=" << seen[1] << " bad_header=" << seen[2]
                                       << " alg=" << seen[3] << " kid=" << seen[4]
                                       << " sig=" << seen[5]);
}

} // TEST_SUITE
