#include "nodes/jwt.hpp"

#include <boost/json.hpp>
#include <sodium.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>

#include "persistence/node_keys.hpp"

namespace tt::nodes {

namespace json = boost::json;

namespace {

void init_sodium() {
  static std::once_flag flag;
  std::call_once(flag, [] {
    if (sodium_init() < 0)
      std::abort();
  });
}

bool is_b64url_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'
         || c == '_';
}

std::string b64url(std::string_view bin) {
  std::string out(sodium_base64_ENCODED_LEN(bin.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING),
                  '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bin.data()),
                    bin.size(), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  out.resize(std::strlen(out.c_str()));
  return out;
}

// Strict base64url without padding: only [A-Za-z0-9_-]; '=' '+' '/' and
// whitespace are rejected, as are impossible lengths and non-zero trailing
// bits (libsodium checks both), so every token has one spelling.
bool unb64url(std::string_view in, std::string& out) {
  for (char c : in)
    if (!is_b64url_char(c))
      return false;
  out.assign(in.size(), '\0');
  size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), in.data(),
                        in.size(), nullptr, &len, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING)
        != 0
      || end != in.data() + in.size())
    return false;
  out.resize(len);
  return true;
}

// HMAC-SHA256 over `data`; the streaming API accepts keys of any length
// (generated keys are 32 bytes, i.e. crypto_auth_hmacsha256_KEYBYTES).
void mac(const std::string& secret, std::string_view data,
         unsigned char (&out)[crypto_auth_hmacsha256_BYTES]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, reinterpret_cast<const unsigned char*>(secret.data()),
                              secret.size());
  crypto_auth_hmacsha256_update(&st, reinterpret_cast<const unsigned char*>(data.data()),
                                data.size());
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof(st));
}

std::optional<json::object> parse_obj(std::string_view text) {
  try {
    boost::system::error_code ec;
    json::parse_options opts;
    opts.max_depth = 4;
    auto v = json::parse(json::string_view(text.data(), text.size()), ec, json::storage_ptr(), opts);
    if (ec || !v.is_object())
      return std::nullopt;
    return std::move(v.as_object());
  } catch (const std::bad_alloc&) {
    throw;
  } catch (...) {
    return std::nullopt;
  }
}

enum class field { absent, ok, wrong_type };

field get_str(const json::object& o, std::string_view k, std::string& out) {
  auto it = o.find(json::string_view(k.data(), k.size()));
  if (it == o.end())
    return field::absent;
  if (!it->value().is_string())
    return field::wrong_type;
  out.assign(it->value().get_string().data(), it->value().get_string().size());
  return field::ok;
}

field get_int(const json::object& o, std::string_view k, int64_t& out) {
  auto it = o.find(json::string_view(k.data(), k.size()));
  if (it == o.end())
    return field::absent;
  if (!it->value().is_int64())
    return field::wrong_type;  // doubles, uint64 beyond int64, strings, ...
  out = it->value().get_int64();
  return field::ok;
}

std::string to_hex(std::string_view bin) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bin.size() * 2);
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

bool valid_kid(std::string_view kid) {
  if (kid.empty() || kid.size() > 64)
    return false;
  for (char c : kid)
    if (!is_b64url_char(c))
      return false;
  return true;
}

void set_error(std::string* error, std::string msg) {
  if (error)
    *error = std::move(msg);
}

// Reads a small file. Returns false with errno set on failure (ENOENT when
// missing, EFBIG when larger than `cap`).
bool read_small_file(const std::string& path, size_t cap, std::string& out) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return false;
  out.clear();
  char buf[4096];
  for (;;) {
    auto n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      ::close(fd);
      errno = e;
      return false;
    }
    if (n == 0)
      break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > cap) {
      ::close(fd);
      errno = EFBIG;
      return false;
    }
  }
  ::close(fd);
  return true;
}

// Splits `line` on single spaces/tabs into fields.
std::vector<std::string_view> split_fields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
      ++i;
    size_t j = i;
    while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r')
      ++j;
    if (j > i)
      out.push_back(line.substr(i, j - i));
    i = j;
  }
  return out;
}

jwt_keyring::key new_key() {
  init_sodium();
  jwt_keyring::key k;
  k.kid = persistence::random_token(6);  // 8 URL-safe chars
  k.secret.assign(crypto_auth_hmacsha256_KEYBYTES, '\0');
  randombytes_buf(k.secret.data(), k.secret.size());
  k.created = unix_now();
  return k;
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

jwt_keyring::~jwt_keyring() {
  for (auto& k : keys_)
    if (!k.secret.empty())
      sodium_memzero(k.secret.data(), k.secret.size());
}

std::shared_ptr<jwt_keyring> jwt_keyring::load_or_create(const std::string& dir,
                                                         std::string* error) {
  init_sodium();
  auto ring = std::make_shared<jwt_keyring>();
  ring->path_ = dir + "/jwt.keys";
  std::string content;
  if (!read_small_file(ring->path_, 1 << 20, content)) {
    if (errno != ENOENT) {
      // Never replace a key file we merely failed to read.
      set_error(error, "cannot read " + ring->path_ + ": " + std::strerror(errno));
      return nullptr;
    }
    content.clear();
  }
  std::string_view rest = content;
  size_t line_no = 0;
  while (!rest.empty()) {
    auto nl = rest.find('\n');
    auto line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    ++line_no;
    auto f = split_fields(line);
    if (f.empty())
      continue;
    auto bad = [&](const char* why) {
      set_error(error, ring->path_ + " is malformed (line " + std::to_string(line_no) + ": " + why
                         + "; expected 'kid hex-secret created_unix')");
      return nullptr;
    };
    if (f.size() != 3)
      return bad("wrong number of fields");
    key k;
    k.kid.assign(f[0]);
    if (!valid_kid(k.kid))
      return bad("bad kid");
    for (const auto& other : ring->keys_)
      if (other.kid == k.kid)
        return bad("duplicate kid");
    if (f[1].size() < 64 || f[1].size() % 2 != 0 || f[1].size() > 256)
      return bad("secret must be 32..128 bytes of hex");
    k.secret.assign(f[1].size() / 2, '\0');
    size_t len = 0;
    const char* end = nullptr;
    if (sodium_hex2bin(reinterpret_cast<unsigned char*>(k.secret.data()), k.secret.size(),
                       f[1].data(), f[1].size(), nullptr, &len, &end)
          != 0
        || len != k.secret.size() || end != f[1].data() + f[1].size())
      return bad("bad hex secret");
    auto [p, ec] = std::from_chars(f[2].data(), f[2].data() + f[2].size(), k.created);
    if (ec != std::errc{} || p != f[2].data() + f[2].size())
      return bad("bad created time");
    ring->keys_.push_back(std::move(k));
  }
  if (!ring->keys_.empty()) {
    // Tighten the mode of a file that was created or copied loosely.
    ::chmod(ring->path_.c_str(), 0600);
    return ring;
  }
  std::string err;
  if (!ring->rotate(&err)) {
    set_error(error, err);
    return nullptr;
  }
  return ring;
}

std::shared_ptr<jwt_keyring> jwt_keyring::from_secret(std::string kid, std::string secret) {
  init_sodium();
  auto ring = std::make_shared<jwt_keyring>();
  ring->keys_.push_back(key{std::move(kid), std::move(secret), unix_now()});
  return ring;
}

bool jwt_keyring::rotate(std::string* error) {
  auto k = new_key();
  std::unique_lock lock{mtx_};
  while (std::any_of(keys_.begin(), keys_.end(), [&](const key& o) { return o.kid == k.kid; }))
    k.kid = persistence::random_token(6);
  if (!path_.empty()) {
    auto next = keys_;
    next.push_back(k);
    bool ok = save(next, error);
    for (auto& old : next)
      sodium_memzero(old.secret.data(), old.secret.size());
    if (!ok) {
      sodium_memzero(k.secret.data(), k.secret.size());
      return false;
    }
  }
  keys_.push_back(std::move(k));
  return true;
}

bool jwt_keyring::save(const std::vector<key>& keys, std::string* error) const {
  std::string content;
  for (const auto& k : keys)
    content += k.kid + " " + to_hex(k.secret) + " " + std::to_string(k.created) + "\n";
  auto tmp = path_ + ".tmp";
  auto fail = [&](const std::string& what) {
    set_error(error, "cannot write " + what + ": " + std::strerror(errno));
    sodium_memzero(content.data(), content.size());
    return false;
  };
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return fail(tmp);
  // O_CREAT's mode does not apply to a stale tmp file left by a crash.
  bool ok = ::fchmod(fd, 0600) == 0;
  size_t off = 0;
  while (ok && off < content.size()) {
    auto n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      ok = false;
    else
      off += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    errno = saved;
    return fail(tmp);
  }
  if (::rename(tmp.c_str(), path_.c_str()) != 0) {
    saved = errno;
    ::unlink(tmp.c_str());
    errno = saved;
    return fail(path_);
  }
  // Make the rename durable.
  auto slash = path_.rfind('/');
  auto dir = slash == std::string::npos ? std::string{"."}
             : slash == 0                ? std::string{"/"}
                                         : path_.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  sodium_memzero(content.data(), content.size());
  return true;
}

std::string jwt_keyring::signing_kid() const {
  std::shared_lock lock{mtx_};
  return keys_.empty() ? std::string{} : keys_.back().kid;
}

size_t jwt_keyring::key_count() const {
  std::shared_lock lock{mtx_};
  return keys_.size();
}

std::string jwt_keyring::sign(const jwt_claims& c) const {
  json::object payload{{"iss", issuer}, {"sub", c.sub}, {"sid", c.sid}, {"role", c.role},
                       {"iat", c.iat},  {"exp", c.exp}, {"jti", c.jti}};
  auto payload_b64 = b64url(json::serialize(payload));
  std::shared_lock lock{mtx_};
  if (keys_.empty())
    return {};
  const auto& k = keys_.back();
  json::object header{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", k.kid}};
  auto signing_input = b64url(json::serialize(header)) + "." + payload_b64;
  unsigned char sig[crypto_auth_hmacsha256_BYTES];
  mac(k.secret, signing_input, sig);
  lock.unlock();
  return signing_input + "."
         + b64url(std::string_view(reinterpret_cast<const char*>(sig), sizeof(sig)));
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
  if (d1 == 0 || d2 == d1 + 1 || !unb64url(token.substr(0, d1), header_text)
      || !unb64url(token.substr(d1 + 1, d2 - d1 - 1), payload_text)
      || !unb64url(token.substr(d2 + 1), sig))
    return jwt_error::malformed;

  // Header: only what we need to pick the key is trusted before the MAC.
  auto header = parse_obj(header_text);
  if (!header)
    return jwt_error::malformed;
  std::string alg, kid, typ;
  if (get_str(*header, "alg", alg) != field::ok)
    return jwt_error::bad_header;
  if (alg != "HS256")
    return jwt_error::alg_not_allowed;
  if (auto t = get_str(*header, "typ", typ);
      t == field::wrong_type || (t == field::ok && typ != "JWT"))
    return jwt_error::bad_header;
  if (header->contains("crit"))  // we understand no extensions (RFC 7515 §4.1.11)
    return jwt_error::bad_header;
  if (get_str(*header, "kid", kid) != field::ok || kid.empty())
    return jwt_error::bad_header;

  {
    std::shared_lock lock{mtx_};
    const key* k = nullptr;
    for (const auto& candidate : keys_)
      if (candidate.kid == kid)
        k = &candidate;
    if (k == nullptr)
      return jwt_error::unknown_kid;
    if (sig.size() != crypto_auth_hmacsha256_BYTES)
      return jwt_error::bad_signature;
    unsigned char expected[crypto_auth_hmacsha256_BYTES];
    mac(k->secret, token.substr(0, d2), expected);
    // Constant-time comparison.
    if (sodium_memcmp(sig.data(), expected, sizeof(expected)) != 0)
      return jwt_error::bad_signature;
  }

  // Claims, now authenticated.
  auto payload = parse_obj(payload_text);
  if (!payload)
    return jwt_error::malformed;
  jwt_claims c;
  std::string iss;
  if (get_str(*payload, "iss", iss) != field::ok || iss != issuer
      || get_str(*payload, "sub", c.sub) != field::ok || c.sub.empty()
      || get_int(*payload, "exp", c.exp) != field::ok
      || get_int(*payload, "iat", c.iat) != field::ok || c.exp < c.iat)
    return jwt_error::bad_claims;
  int64_t nbf = 0;
  auto nbf_field = get_int(*payload, "nbf", nbf);
  if (get_str(*payload, "sid", c.sid) == field::wrong_type
      || get_str(*payload, "role", c.role) == field::wrong_type
      || get_str(*payload, "jti", c.jti) == field::wrong_type || nbf_field == field::wrong_type)
    return jwt_error::bad_claims;
  // Written so that no token value can overflow (now_s is ours, sane).
  if (c.exp < now_s - allowed_skew_s)
    return jwt_error::expired;
  if (c.iat > now_s + allowed_skew_s || (nbf_field == field::ok && nbf > now_s + allowed_skew_s))
    return jwt_error::not_yet_valid;
  out = std::move(c);
  return jwt_error::ok;
}

} // namespace tt::nodes
