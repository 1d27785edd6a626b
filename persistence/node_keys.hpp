#pragma once
// Secret key material of a node, kept in `<data-dir>/node.key` (created with
// mode 0600 on first start, written atomically). Used for keyed hashes
// (barcode hashes, ticket ids derived from the dedup key) and for sealing
// barcodes inside events. Thread-safe after construction (read-only).

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace tt::persistence {

class node_keys {
public:
  /// Loads the key file in `dir`, creating it if missing. Returns nullptr and
  /// sets `error` when the file is unreadable or malformed.
  static std::shared_ptr<node_keys> load_or_create(const std::string& dir, std::string* error);

  /// A key made from fixed bytes (tests only).
  static std::shared_ptr<node_keys> from_secret(std::string_view secret32);

  /// Keyed BLAKE2b-256 of `data` under `domain` (hex, 64 chars).
  std::string keyed_hash(std::string_view domain, std::string_view data) const;

  /// 128-bit keyed hash as URL-safe base64 without padding (22 chars): an
  /// unguessable id that is stable for the same input.
  std::string derived_id(std::string_view domain, std::string_view data) const;

  /// XChaCha20-Poly1305 with a random nonce; output = nonce || ciphertext.
  std::string seal(std::string_view plaintext) const;
  std::optional<std::string> open(std::string_view sealed) const;

private:
  std::array<unsigned char, 32> key_{};
};

/// 128 random bits as URL-safe base64 (22 chars).
std::string random_id();

/// `n` random bytes as URL-safe base64 without padding (32 bytes: 43 chars).
std::string random_token(size_t n);

/// Raw bytes as lower-case hex (the form of keyed_hash's result).
std::string to_hex(std::string_view raw);

/// `n` random bytes as lower-case hex.
std::string random_hex(size_t n);

/// URL-safe base64 alphabet check for ids (length 22).
bool is_valid_id(std::string_view id);

} // namespace tt::persistence
