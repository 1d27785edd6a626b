#pragma once
// What every persistent entity on a node shares: the store (for recovery
// reads), the journal (for appends), the node keys, and tuning knobs. Built
// once by the node and handed to each region by value; the region freezes it
// into one immutable `entity_env_ptr` that all its entities point to (one
// pointer per entity instead of a copy of every handle: see bench/README.md).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "caf/duration.hpp"

#include "messages/interfaces.hpp"

namespace tt::persistence {
class event_store;
class node_keys;
class shard_fence;
} // namespace tt::persistence

namespace tt::actors {

struct settlement_deps;
class cluster_routes;

struct entity_env {
  std::shared_ptr<const persistence::event_store> store;
  journal_actor journal;
  std::shared_ptr<const persistence::node_keys> keys;
  /// Write a snapshot with the append that brings the entity this many events
  /// past its last snapshot.
  uint32_t snapshot_every = 64;
  /// Timeout of one append request to the journal; 0 (the default): none.
  /// The journal answers every append it takes (ack or error) and stops only
  /// after every entity did (node shutdown order); requests still queued at a
  /// stopped journal are bounced by CAF. A finite timeout only costs: CAF 0.17
  /// never cancels request timeouts, each one is a clock-thread wake-up
  /// (measured: 13 % of a settlement run's CPU).
  std::chrono::milliseconds append_timeout{0};
  /// Wall clock in milliseconds since the epoch (replaceable in tests).
  std::function<int64_t()> clock;
  /// What trade entities talk to (actors/settlement.hpp); null elsewhere.
  std::shared_ptr<const settlement_deps> settlement;
  /// Cluster mode only (both null on an embedded node): the shard epochs this
  /// node serves (entities send theirs with each append) and where every
  /// other shard lives (regions forward commands there).
  std::shared_ptr<const persistence::shard_fence> fence;
  std::shared_ptr<const cluster_routes> routes;

  int64_t now_ms() const;
};

/// `self->request(env.journal, ...)` with `append_timeout` (none if 0).
template <class Self, class... Ts>
auto request_journal(Self* self, const entity_env& env, Ts&&... xs) {
  if (env.append_timeout.count() == 0)
    return self->request(env.journal, caf::infinite, std::forward<Ts>(xs)...);
  return self->request(env.journal, env.append_timeout, std::forward<Ts>(xs)...);
}

/// The region's one shared, immutable env; each entity holds a copy of this
/// pointer (`entity_core::env`).
using entity_env_ptr = std::shared_ptr<const entity_env>;

} // namespace tt::actors
