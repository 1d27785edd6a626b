#include "nodes/jwt.hpp"

#include <boost/json.hpp>
#include <sodium.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "persistence/node_keys.hpp"

namespace tt::nodes {

namespace json = boost::json;

namespace {

std::string b64url(std::string_view bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

bool unb64url(std::string_view in, std::string& out) {
  for (char c : in)
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
          || c == '_'))
      return false;
  out.assign(in.size(), '\0');
  size_t len = 0;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                        in.size(), nullptr, &len, nullptr,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING)
      != 0)
    return false;
  out.resize(len);
  return true;
}

std::string mac(const std::string& secret, std::string_view data) {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, out);
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

std::optional<json::object> parse_obj(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options opts;
  opts.max_depth = 4;
  auto v = json::parse(json::string_view(text.data(), text.size()), ec, json::storage_ptr(), opts);
  if (ec || !v.is_object())
    return std::nullopt;
  return std::move(v.as_object());
}

bool get_str(const json::object& o, const char* k, std::string& out) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_string())
    return false;
  out.assign(it->value().get_string().data(), it->value().get_string().size());
  return true;
}

bool get_int(const json::object& o, const char* k, int64_t& out) {
  auto it = o.find(k);
  if (it == o.end() || !it->value().is_int64())
    return false;
  out = it->value().get_int64();
  return true;
}

std::string to_hex(std::string_view bin) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bin) {
    out += hex[c >> 4];
    out += hex[c & 0xf];
  }
  return out;
}

int64_t unix_now() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace

const char* to_string(jwt_error e) {
  switch (e) {
    case jwt_error::ok: return "ok";
    case jwt_error::malformed: return "malformed";
    case jwt_error::bad_header: return "bad_header";
    case jwt_error::alg_not_allowed: return "alg_not_allowed";
    case jwt_error::unknown_kid: return "unknown_kid";
    case jwt_error::bad_signature: return "bad_signature";
    case jwt_error::expired: return "expired";
    case jwt_error::not_yet_valid: return "not_yet_valid";
    case jwt_error::bad_claims: return "bad_claims";
  }
  return "unknown";
}

std::shared_ptr<jwt_keyring> jwt_keyring::load_or_create(const std::string& dir,
                                                         std::string* error) {
  if (sodium_init() < 0) {
    *error = "libsodium failed to initialise";
    return nullptr;
  }
  auto ring = std::make_shared<jwt_keyring>();
  ring->path_ = dir + "/jwt.keys";
  std::ifstream in(ring->path_);
  if (in) {
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty())
        continue;
      std::istringstream ls(line);
      key k;
      std::string hex;
      ls >> k.kid >> hex >> k.created;
      std::string bin(32, '\0');
      size_t len = 0;
      if (k.kid.empty() || hex.size() != 64
          || sodium_hex2bin(reinterpret_cast<unsigned char*>(bin.data()), bin.size(), hex.data(),
                            hex.size(), nullptr, &len, nullptr)
               != 0
          || len != 32) {
        *error = ring->path_ + " is malformed";
        return nullptr;
      }
      k.secret = bin;
      ring->keys_.push_back(std::move(k));
    }
    if (!ring->keys_.empty())
      return ring;
  }
  if (!ring->rotate()) {
    *error = "cannot write " + ring->path_ + ": " + std::strerror(errno);
    return nullptr;
  }
  return ring;
}

std::shared_ptr<jwt_keyring> jwt_keyring::from_secret(std::string kid, std::string secret) {
  auto ring = std::make_shared<jwt_keyring>();
  ring->keys_.push_back(key{std::move(kid), std::move(secret), unix_now()});
  return ring;
}

bool jwt_keyring::rotate() {
  key k;
  k.kid = persistence::random_token(6);
  k.secret.assign(32, '\0');
  randombytes_buf(k.secret.data(), k.secret.size());
  k.created = unix_now();
  keys_.push_back(std::move(k));
  return path_.empty() || save();
}

bool jwt_keyring::save() const {
  std::string content;
  for (const auto& k : keys_)
    content += k.kid + " " + to_hex(k.secret) + " " + std::to_string(k.created) + "\n";
  auto tmp = path_ + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0)
    return false;
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size())
            && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path_.c_str()) != 0)
    return false;
  auto slash = path_.rfind('/');
  int dfd = ::open(slash == std::string::npos ? "." : path_.substr(0, slash).c_str(),
                   O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return true;
}

std::string jwt_keyring::sign(const jwt_claims& c) const {
  const auto& k = keys_.back();
  json::object header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", k.kid}};
  json::object payload{{"iss", issuer}, {"sub", c.sub},     {"sid", c.sid}, {"role", c.role},
                       {"iat", c.iat},  {"exp", c.exp},     {"jti", c.jti}};
  auto signing_input = b64url(json::serialize(header)) + "." + b64url(json::serialize(payload));
  return signing_input + "." + b64url(mac(k.secret, signing_input));
}

jwt_error jwt_keyring::verify(std::string_view token, int64_t now_s, jwt_claims& out) const {
  if (token.empty() || token.size() > max_token_size)
    return jwt_error::malformed;
  auto d1 = token.find('.');
  if (d1 == std::string_view::npos)
    return jwt_error::malformed;
  auto d2 = token.find('.', d1 + 1);
  if (d2 == std::string_view::npos || token.find('.', d2 + 1) != std::string_view::npos)
    return jwt_error::malformed;
  std::string header_text, payload_text, sig;
  if (!unb64url(token.substr(0, d1), header_text)
      || !unb64url(token.substr(d1 + 1, d2 - d1 - 1), payload_text)
      || !unb64url(token.substr(d2 + 1), sig))
    return jwt_error::malformed;
  auto header = parse_obj(header_text);
  auto payload = parse_obj(payload_text);
  if (!header || !payload)
    return jwt_error::malformed;
  std::string alg, kid;
  if (!get_str(*header, "alg", alg))
    return jwt_error::bad_header;
  if (alg != "HS256")
    return jwt_error::alg_not_allowed;
  if (!get_str(*header, "kid", kid))
    return jwt_error::bad_header;
  const key* k = nullptr;
  for (const auto& candidate : keys_)
    if (candidate.kid == kid)
      k = &candidate;
  if (k == nullptr)
    return jwt_error::unknown_kid;
  auto expected = mac(k->secret, token.substr(0, d2));
  if (sig.size() != expected.size()
      || sodium_memcmp(sig.data(), expected.data(), expected.size()) != 0)
    return jwt_error::bad_signature;
  jwt_claims c;
  std::string iss;
  if (!get_str(*payload, "iss", iss) || iss != issuer || !get_str(*payload, "sub", c.sub)
      || c.sub.empty() || !get_int(*payload, "exp", c.exp) || !get_int(*payload, "iat", c.iat))
    return jwt_error::bad_claims;
  get_str(*payload, "sid", c.sid);
  get_str(*payload, "role", c.role);
  get_str(*payload, "jti", c.jti);
  if (now_s > c.exp + allowed_skew_s)
    return jwt_error::expired;
  int64_t nbf = 0;
  if (c.iat > now_s + allowed_skew_s
      || (get_int(*payload, "nbf", nbf) && nbf > now_s + allowed_skew_s))
    return jwt_error::not_yet_valid;
  out = std::move(c);
  return jwt_error::ok;
}

} // namespace tt::nodes
