#pragma once
// Where each of the 256 shards is served, as this node currently believes
// (cluster mode). Regions consult it for every command.
//
// Contract: the cluster member's loop thread publishes a new immutable table
// (`publish`) whenever ownership or membership changes; regions read the
// current one (`current`) on their own threads, lock-free for readers except
// for the shared_ptr's reference count. A stale view is harmless: the owner
// checks its own fence before serving, so a command forwarded to a node that
// no longer owns the shard is answered `unavailable`, never served twice.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>

#include "messages/cluster_regions.hpp"
#include "messages/entity.hpp"

namespace tt::actors {

struct shard_route {
  enum state_t : uint8_t {
    down = 0,    // no live owner (its node is down or not yet claimed)
    local = 1,   // served by this node
    remote = 2,  // served by `owner`
  };
  state_t state = down;
  uint64_t epoch = 0;
  std::shared_ptr<const node_regions> owner;  // remote only
};

using route_table = std::array<shard_route, shard_count>;

class cluster_routes {
public:
  cluster_routes() : table_(std::make_shared<const route_table>()) {}

  std::shared_ptr<const route_table> current() const { return std::atomic_load(&table_); }

  void publish(std::shared_ptr<const route_table> t) { std::atomic_store(&table_, std::move(t)); }

private:
  std::shared_ptr<const route_table> table_;
};

} // namespace tt::actors
