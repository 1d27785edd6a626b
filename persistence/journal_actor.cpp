#include "persistence/journal_actor.hpp"

#include <algorithm>

#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "caf/actor_system.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"
#include "messages/log.hpp"
#include "persistence/event_store.hpp"
#include "persistence/shard_fence.hpp"

namespace tt::persistence {

namespace {

struct journal_metrics {
  prometheus::Histogram* batch_events = nullptr;
  prometheus::Histogram* fsync_seconds = nullptr;
  prometheus::Counter* events = nullptr;
  prometheus::Counter* batches = nullptr;
  prometheus::Counter* conflicts = nullptr;
};

journal_metrics make_metrics(prometheus::Registry* reg) {
  journal_metrics m;
  if (reg == nullptr)
    return m;
  m.batch_events = &prometheus::BuildHistogram()
                      .Name("tt_journal_batch_events")
                      .Help("Events per group-committed RocksDB WriteBatch")
                      .Register(*reg)
                      .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 5, 10, 20, 50, 100,
                                                                       200, 500, 1000, 2000, 5000});
  m.fsync_seconds = &prometheus::BuildHistogram()
                       .Name("tt_journal_write_seconds")
                       .Help("Time of one synced WriteBatch (write + fsync)")
                       .Register(*reg)
                       .Add({}, prometheus::Histogram::BucketBoundaries{
                                  0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05,
                                  0.1, 0.25, 1});
  auto& counters = prometheus::BuildCounter()
                     .Name("tt_journal_total")
                     .Help("Journal counters by kind")
                     .Register(*reg);
  m.events = &counters.Add({{"kind", "events"}});
  m.batches = &counters.Add({{"kind", "batches"}});
  m.conflicts = &counters.Add({{"kind", "conflicts"}});
  return m;
}

struct pending_append {
  append_events cmd;
  caf::typed_response_promise<append_ack> rp;
};

struct journal_state {
  std::shared_ptr<event_store> store;
  journal_config cfg;
  journal_metrics metrics;
  std::vector<pending_append> pending;
  size_t pending_events = 0;
  bool flush_scheduled = false;
  journal_stats stats;
  /// The last write_ring_size synced batch writes, in microseconds (a ring).
  static constexpr size_t write_ring_size = 1024;
  std::vector<uint32_t> write_us;
  /// Per ring slot: when that batch was written (steady ms) and the events
  /// total before it.
  std::vector<std::pair<int64_t, uint64_t>> written_at;
  size_t write_at = 0;
  // Reused buffers.
  std::vector<append_request> requests;
  std::vector<append_result> results;
  static inline const char* name = "journal";
};

using journal_pointer = journal_actor::stateful_pointer<journal_state>;

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

void flush(journal_pointer self) {
  auto& st = self->state;
  st.flush_scheduled = false;
  if (st.pending.empty())
    return;
  st.requests.clear();
  st.requests.reserve(st.pending.size());
  for (auto& p : st.pending) {
    append_request r;
    r.kind = static_cast<entity_kind>(p.cmd.kind);
    r.entity_id = p.cmd.entity_id;
    r.expected_seq = p.cmd.expected_seq;
    r.events = std::span<const std::string>(p.cmd.events);
    r.snapshot = p.cmd.snapshot;
    r.snapshot_seq = p.cmd.snapshot_seq;
    r.index_writes = std::span<const std::string>(p.cmd.index_writes);
    r.timer_writes = std::span<const std::string>(p.cmd.timer_writes);
    st.requests.push_back(r);
  }
  batch_info info;
  st.store->append_batch(st.requests, st.results, &info);
  ++st.stats.batches;
  st.stats.events += info.events;
  st.stats.next_offset = st.store->next_offset();
  auto us = static_cast<uint32_t>(std::min(info.write_seconds * 1e6, 4e9));
  std::pair<int64_t, uint64_t> when{steady_ms(), st.stats.events - info.events};
  if (st.write_us.size() < journal_state::write_ring_size) {
    st.write_us.push_back(us);
    st.written_at.push_back(when);
  } else {
    auto slot = st.write_at++ % journal_state::write_ring_size;
    st.write_us[slot] = us;
    st.written_at[slot] = when;
  }
  if (st.metrics.batch_events) {
    st.metrics.batch_events->Observe(static_cast<double>(info.events));
    st.metrics.fsync_seconds->Observe(info.write_seconds);
    st.metrics.events->Increment(static_cast<double>(info.events));
    st.metrics.batches->Increment();
  }
  for (size_t i = 0; i < st.pending.size(); ++i) {
    auto& res = st.results[i];
    auto& rp = st.pending[i].rp;
    if (res.code == errc::ok) {
      rp.deliver(append_ack{res.last_seq, res.first_offset});
    } else {
      if (res.code == errc::conflict) {
        ++st.stats.conflicts;
        if (st.metrics.conflicts)
          st.metrics.conflicts->Increment();
      } else {
        log::error("journal_write_failed", {{"reason", res.message}});
      }
      rp.deliver(make_error(res.code, res.message));
    }
  }
  st.pending.clear();
  st.pending_events = 0;
  if (info.events > 0 && st.cfg.on_commit)
    st.cfg.on_commit(st.stats.next_offset);
}

journal_actor::behavior_type journal_impl(journal_pointer self, std::shared_ptr<event_store> store,
                                          journal_config cfg, prometheus::Registry* reg) {
  self->state.store = std::move(store);
  self->state.cfg = cfg;
  self->state.metrics = make_metrics(reg);
  self->state.stats.next_offset = self->state.store->next_offset();
  return {
    [self](append_events& cmd) -> caf::result<append_ack> {
      auto& st = self->state;
      if (st.cfg.fence && !st.cfg.fence->serves(shard_of(cmd.entity_id), cmd.epoch)) {
        ++st.stats.fenced;
        return make_error(errc::unavailable,
                          "shard " + std::to_string(shard_of(cmd.entity_id))
                            + " is not served by this node at epoch " + std::to_string(cmd.epoch),
                          "shard");
      }
      auto rp = self->make_response_promise<append_ack>();
      st.pending_events += cmd.events.size();
      st.pending.push_back(pending_append{std::move(cmd), rp});
      if (st.pending_events >= st.cfg.max_batch_events) {
        flush(self);
      } else if (!st.flush_scheduled) {
        st.flush_scheduled = true;
        // The flush message queues behind every append already in the mailbox,
        // so one batch takes all of them (group commit).
        if (st.cfg.max_delay.count() > 0)
          self->delayed_send(self, st.cfg.max_delay, atoms::flush_atom_v);
        else
          self->send(self, atoms::flush_atom_v);
      }
      return rp;
    },
    [self](atoms::flush_atom) {
      if (self->state.flush_scheduled || !self->state.pending.empty())
        flush(self);
    },
    [self](atoms::stats_atom) -> journal_stats {
      auto out = self->state.stats;
      out.mailbox = self->mailbox().size();
      out.pending = self->state.pending.size();
      auto w = self->state.write_us;  // a copy: at most 4 KB
      if (!w.empty()) {
        auto at = [&](size_t permille) {
          auto k = std::min(w.size() - 1, w.size() * permille / 1000);
          std::nth_element(w.begin(), w.begin() + static_cast<ptrdiff_t>(k), w.end());
          return static_cast<uint64_t>(w[k]);
        };
        out.write_us_p50 = at(500);
        out.write_us_p99 = at(990);
        out.write_us_max = *std::max_element(w.begin(), w.end());
        // The oldest batch in the ring: the next slot to overwrite once full.
        auto& ring = self->state.written_at;
        auto oldest = ring.size() < journal_state::write_ring_size
                        ? ring.front()
                        : ring[self->state.write_at % journal_state::write_ring_size];
        auto span_ms = std::max<int64_t>(steady_ms() - oldest.first, 1);
        out.events_per_s = (out.events - oldest.second) * 1000 / static_cast<uint64_t>(span_ms);
      }
      return out;
    },
    [self](journal_barrier&) -> uint64_t {
      flush(self);
      return self->state.store->next_offset();
    },
    // Shard hand-off. Both run after every append queued before them (one
    // mailbox), on the writer thread that owns the store's caches.
    [self](import_entries& x) -> caf::result<uint64_t> {
      flush(self);
      auto rc = self->state.store->import_raw(x.shard, x.triples, x.purge);
      if (rc != errc::ok)
        return make_error(rc, "importing entries of shard " + std::to_string(x.shard) + " failed");
      return static_cast<uint64_t>(x.triples.size() / 3);
    },
    [self](drop_shard& x) -> uint64_t {
      flush(self);
      return self->state.store->drop_shard(x.shard);
    },
  };
}

} // namespace

journal_actor spawn_journal(caf::actor_system& sys, std::shared_ptr<event_store> store,
                            journal_config cfg, prometheus::Registry* metrics) {
  if (!cfg.detached)
    return sys.spawn(journal_impl, std::move(store), cfg, metrics);
  return sys.spawn<caf::detached>(journal_impl, std::move(store), cfg, metrics);
}

} // namespace tt::persistence
