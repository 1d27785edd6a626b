#pragma once
// Password hashing with argon2id (libsodium crypto_pwhash_str), on a small
// dedicated thread pool so neither HTTP I/O threads nor CAF workers ever run
// the deliberately slow hash. Callbacks run on a pool thread.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace tt::nodes {

struct password_cost {
  uint64_t ops = 2;                    // crypto_pwhash_OPSLIMIT_INTERACTIVE
  size_t mem_bytes = 64u * 1024 * 1024;  // crypto_pwhash_MEMLIMIT_INTERACTIVE
};

/// Synchronous primitives (used by the pool and by tests).
std::string hash_password(const std::string& password, const password_cost& cost);
bool verify_password(const std::string& phc_hash, const std::string& password);

class password_hasher {
public:
  password_hasher(unsigned threads, password_cost cost);
  ~password_hasher();

  /// Drops queued work and waits for the running jobs (their callbacks run).
  /// Call before whatever the callbacks touch goes away. Idempotent.
  void shutdown();

  void hash(std::string password, std::function<void(std::string)> done);

  /// Verifies against `phc_hash`; an empty hash verifies against a dummy
  /// hash of the same cost (so unknown accounts take as long as known ones)
  /// and always fails.
  void verify(std::string phc_hash, std::string password, std::function<void(bool)> done);

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tt::nodes
