#pragma once
// JWT access tokens (HS256 only, RFC 7519/7515 compact form) with key ids for
// rotation: the newest key signs, every key in the ring verifies. Keys live in
// `<data-dir>/jwt.keys` (mode 0600, written atomically). Thread-safe: sign(),
// verify() and rotate() may run concurrently (a shared mutex guards the ring).
// Nothing here throws to callers except std::bad_alloc.

#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace tt::nodes {

struct jwt_claims {
  std::string sub;   // account id
  std::string sid;   // session (refresh-token family) id
  std::string role = "user";
  int64_t iat = 0;
  int64_t exp = 0;
  std::string jti;
};

enum class jwt_error {
  ok,
  malformed,        // too long, not three strict base64url segments, not JSON objects
  bad_header,       // header lacks alg/kid strings, typ is not "JWT", has "crit"
  alg_not_allowed,  // "none", RS256, HS512, ... anything but HS256
  unknown_kid,
  bad_signature,
  expired,
  not_yet_valid,    // iat/nbf in the future (beyond the allowed skew)
  bad_claims,       // missing or mistyped sub/exp/iat, wrong issuer, mistyped sid/role/jti/nbf
};

const char* to_string(jwt_error e);

class jwt_keyring {
public:
  struct key {
    std::string kid;     // URL-safe base64 (8 chars for generated keys)
    std::string secret;  // 32 random bytes for generated keys
    int64_t created = 0; // unix seconds
  };

  jwt_keyring() = default;
  jwt_keyring(const jwt_keyring&) = delete;
  jwt_keyring& operator=(const jwt_keyring&) = delete;
  ~jwt_keyring();

  /// Loads `<dir>/jwt.keys` (lines "kid hex-secret created_unix", oldest
  /// first), creating it with one key on first start (mode 0600, written
  /// atomically: tmp + fsync + rename + dir fsync). Returns nullptr and sets
  /// `*error` (if non-null) when the file is unreadable or malformed.
  static std::shared_ptr<jwt_keyring> load_or_create(const std::string& dir, std::string* error);

  /// A keyring with one fixed key that is never persisted (tests).
  static std::shared_ptr<jwt_keyring> from_secret(std::string kid, std::string secret);

  /// Adds a new signing key; older keys keep verifying. Persists first when
  /// the ring was loaded from a directory: if writing fails the ring is left
  /// unchanged, false is returned and `*error` (if non-null) says why.
  bool rotate(std::string* error = nullptr);

  /// A compact token signed with the newest key. `iss` is always `issuer`.
  std::string sign(const jwt_claims& claims) const;

  /// Checks a compact token at time `now_s` (unix seconds). Fills `out` only
  /// when the result is jwt_error::ok.
  jwt_error verify(std::string_view token, int64_t now_s, jwt_claims& out) const;

  /// The kid that sign() currently uses.
  std::string signing_kid() const;

  /// Number of keys in the ring (verifying keys, the signing key included).
  size_t key_count() const;

  static constexpr const char* issuer = "ticket-trader";
  static constexpr int64_t allowed_skew_s = 30;
  static constexpr size_t max_token_size = 4096;

private:
  bool save(const std::vector<key>& keys, std::string* error) const;

  mutable std::shared_mutex mtx_;
  std::vector<key> keys_;  // oldest first; back() signs
  std::string path_;       // empty: not persisted
};

} // namespace tt::nodes
