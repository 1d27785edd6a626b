#pragma once
// The journal actor: group commit for every entity on this node.
//
// Contract: entities `request(journal, timeout, append_events{...})` with at
// most one append in flight each. The journal gathers every append waiting in
// its mailbox (up to `max_batch_events`) into one synced RocksDB WriteBatch and
// answers each request only after that write returned: an `append_ack` means
// the events are on disk. Runs detached (its own thread), so fsync never
// blocks CAF's scheduler.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace prometheus {
class Registry;
}

namespace tt::persistence {

class event_store;
class shard_fence;

struct journal_config {
  size_t max_batch_events = 4096;
  /// How long a lone append may wait for company before it is written. 0:
  /// write as soon as the mailbox holds no further appends.
  std::chrono::microseconds max_delay{0};
  /// Called on the journal's thread after each batch that wrote events, with
  /// the new end of the global log. Must be cheap and must not block.
  std::function<void(uint64_t next_offset)> on_commit;
  /// Run on its own thread (production). Deterministic tests (CAF's test
  /// coordinator) turn this off so every step runs on the simulated scheduler.
  bool detached = true;
  /// Cluster mode: appends for shards this node does not serve at the
  /// append's epoch are refused with errc::unavailable. Null: no fencing.
  std::shared_ptr<const shard_fence> fence;
};

journal_actor spawn_journal(caf::actor_system& sys, std::shared_ptr<event_store> store,
                            journal_config cfg, prometheus::Registry* metrics);

} // namespace tt::persistence
