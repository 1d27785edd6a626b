#pragma once
// JWT access tokens (HS256 only) with key ids for rotation. Thread-safe for
// concurrent sign/verify after construction; rotate() is not concurrent with
// them (call it at start or from the admin path with the edge quiesced).

#include <cstdint>
#include <memory>
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
  malformed,        // not three base64url segments / not JSON objects / too long
  bad_header,       // header lacks typ/alg/kid of the right types
  alg_not_allowed,  // "none", RS256, HS512, ... anything but HS256
  unknown_kid,
  bad_signature,
  expired,
  not_yet_valid,    // iat/nbf in the future (beyond the allowed skew)
  bad_claims,       // missing or mistyped sub/exp/iat, wrong issuer
};

const char* to_string(jwt_error e);

class jwt_keyring {
public:
  struct key {
    std::string kid;
    std::string secret;  // 32 bytes
    int64_t created = 0;
  };

  /// Loads `<dir>/jwt.keys` (lines "kid hex-secret created_unix"), creating
  /// it with one key on first start (mode 0600, written atomically).
  static std::shared_ptr<jwt_keyring> load_or_create(const std::string& dir, std::string* error);

  /// A keyring with one fixed key (tests).
  static std::shared_ptr<jwt_keyring> from_secret(std::string kid, std::string secret);

  /// Adds a new signing key; older keys keep verifying. Persists if loaded
  /// from a directory. Returns false if writing the key file failed.
  bool rotate();

  std::string sign(const jwt_claims& claims) const;

  jwt_error verify(std::string_view token, int64_t now_s, jwt_claims& out) const;

  const std::string& signing_kid() const { return keys_.back().kid; }

  static constexpr const char* issuer = "ticket-trader";
  static constexpr int64_t allowed_skew_s = 30;
  static constexpr size_t max_token_size = 4096;

private:
  bool save() const;
  std::vector<key> keys_;
  std::string path_;
};

} // namespace tt::nodes
