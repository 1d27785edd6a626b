#pragma once
// What every persistent entity on a node shares: the store (for recovery
// reads), the journal (for appends), the node keys, and tuning knobs. Built
// once by the node; copied by value into each entity (cheap: shared handles).

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "messages/interfaces.hpp"

namespace tt::persistence {
class event_store;
class node_keys;
} // namespace tt::persistence

namespace tt::actors {

struct settlement_deps;

struct entity_env {
  std::shared_ptr<const persistence::event_store> store;
  journal_actor journal;
  std::shared_ptr<const persistence::node_keys> keys;
  /// Write a snapshot with the append that brings the entity this many events
  /// past its last snapshot.
  uint32_t snapshot_every = 64;
  /// Timeout of one append request to the journal.
  std::chrono::milliseconds append_timeout{10000};
  /// Wall clock in milliseconds since the epoch (replaceable in tests).
  std::function<int64_t()> clock;
  /// What trade entities talk to (actors/settlement.hpp); null elsewhere.
  std::shared_ptr<const settlement_deps> settlement;

  int64_t now_ms() const;
};

} // namespace tt::actors
