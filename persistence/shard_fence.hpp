#pragma once
// Which shards this node may write, and under which epoch (cluster mode).
//
// Contract: written by the cluster member's loop thread (nodes/cluster_member)
// whenever it wins, renews or loses ownership; read lock-free by the journal
// (before every append: `serves`) and by entities (their start epoch). An
// entity captures `epoch(shard)` when it recovers and sends it with each
// append; the journal refuses the append (errc::unavailable) unless the shard
// is still served at that very epoch *and* the node's etcd lease is alive. So
// after a lease loss, a hand-off or a re-claim no entity started under an old
// epoch can write: it reloads and picks up the new epoch. Embedded nodes have
// no fence (nullptr): every shard is theirs.
//
// Time: the lease deadline is in the fence's clock (milliseconds; the steady
// clock unless a test injects a fake one). Whoever sets the deadline computes
// it from `now_ms()` of the same fence, so both sides use one clock.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>

#include "messages/entity.hpp"

namespace tt::persistence {

class shard_fence {
public:
  /// Milliseconds on a monotonic clock.
  using clock_fn = std::function<int64_t()>;

  /// `now`: the clock the lease deadline is measured on (default: steady).
  explicit shard_fence(clock_fn now = {}) : now_(std::move(now)) {
    for (auto& e : epochs_)
      e.store(0, std::memory_order_relaxed);
  }

  /// The epoch under which this node serves `shard`; 0: not served here.
  uint64_t epoch(uint32_t shard) const { return epochs_[shard].load(std::memory_order_acquire); }

  /// True while `shard` is served here at `epoch` and the lease is alive.
  bool serves(uint32_t shard, uint64_t e) const {
    return e != 0 && epoch(shard) == e && lease_alive();
  }

  bool lease_alive() const { return now_ms() < lease_deadline_ms_.load(std::memory_order_acquire); }

  void set_epoch(uint32_t shard, uint64_t e) { epochs_[shard].store(e, std::memory_order_release); }

  /// Deadline (on this fence's clock) until which the lease is known alive:
  /// the lease is alive while now_ms() < deadline, so a write exactly at the
  /// deadline is refused. Set to the send time of the last successful
  /// keep-alive + 3/4 TTL (see nodes/cluster_member); 0: lost.
  void set_lease_deadline(int64_t ms) { lease_deadline_ms_.store(ms, std::memory_order_release); }

  int64_t lease_deadline() const { return lease_deadline_ms_.load(std::memory_order_acquire); }

  /// Now on this fence's clock.
  int64_t now_ms() const { return now_ ? now_() : steady_now_ms(); }

  static int64_t steady_now_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }

private:
  clock_fn now_;
  std::array<std::atomic<uint64_t>, shard_count> epochs_;
  std::atomic<int64_t> lease_deadline_ms_{0};
};

} // namespace tt::persistence
