#pragma once
// Entity addressing shared by every module: an entity is (kind, id); its id
// maps to one of `shard_count` shards by a stable hash (FNV-1a 64), so a shard
// can move between nodes without changing entity code.

#include <cstdint>
#include <string>
#include <string_view>

#include "caf/meta/type_name.hpp"

namespace tt {

enum class entity_kind : uint8_t {
  unknown = 0,
  ticket = 1,
  account = 2,
  trade = 3,
  escrow = 4,
  email_index = 5,
  wallet = 6,
  consumer = 7,  // an event-log consumer's committed offset (no events, index only)
};

const char* to_string(entity_kind k);

constexpr uint32_t shard_count = 256;

/// Stable across processes, builds and platforms (never std::hash).
constexpr uint64_t stable_hash(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

constexpr uint32_t shard_of(std::string_view entity_id) {
  return static_cast<uint32_t>(stable_hash(entity_id) % shard_count);
}

/// A node's rendezvous score for a shard (cluster mode: a shard's home is the
/// member with the highest score). FNV-1a of "node/shard" followed by
/// MurmurHash3's 64-bit finalizer: FNV alone barely mixes the last
/// characters into the high bits, which skewed homes (e.g. 166/90 of 256
/// for two nodes, 256/0 for some pairs of names).
inline uint64_t rendezvous_score(std::string_view node, uint32_t shard) {
  std::string key(node);
  key += '/';
  key += std::to_string(shard);
  uint64_t h = stable_hash(key);
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

/// The acting user and where the command came from; recorded on every event.
struct request_meta {
  std::string user_id;       // empty: anonymous
  std::string device_hash;   // hash of X-Device-Fingerprint (hex), may be empty
  std::string ip;
  std::string correlation_id;  // the edge's request id
  std::string causation_id;    // the event or command that caused this one
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, request_meta& x) {
  return f(caf::meta::type_name("tt.request_meta"), x.user_id, x.device_hash, x.ip,
           x.correlation_id, x.causation_id);
}

} // namespace tt
