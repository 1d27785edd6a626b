#include "actors/shard_region.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <functional>
#include <unordered_map>

#include "actors/ticket_entity.hpp"
#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/errc.hpp"
#include "messages/log.hpp"
#include "persistence/event_store.hpp"
#include "persistence/node_keys.hpp"

namespace tt::actors {

namespace {

struct region_metrics {
  prometheus::Gauge* active = nullptr;
  prometheus::Counter* started = nullptr;
  prometheus::Counter* passivated = nullptr;
  prometheus::Counter* failed = nullptr;
};

region_metrics make_metrics(prometheus::Registry* reg) {
  region_metrics m;
  if (reg == nullptr)
    return m;
  m.active = &prometheus::BuildGauge()
                .Name("tt_entities_active")
                .Help("Entity actors currently in memory")
                .Register(*reg)
                .Add({{"kind", "ticket"}});
  auto& life = prometheus::BuildCounter()
                 .Name("tt_entity_lifecycle_total")
                 .Help("Entity starts, passivations and failure restarts")
                 .Register(*reg);
  m.started = &life.Add({{"kind", "ticket"}, {"event", "started"}});
  m.passivated = &life.Add({{"kind", "ticket"}, {"event", "passivated"}});
  m.failed = &life.Add({{"kind", "ticket"}, {"event", "failed"}});
  return m;
}

struct entry {
  ticket_actor handle;
  int64_t last_used_ms = 0;
  bool passivating = false;
  std::vector<std::function<void(const ticket_actor&)>> waiting;
};

struct region_state {
  entity_env env;
  region_config cfg;
  region_metrics metrics;
  std::array<std::unordered_map<std::string, entry>, shard_count> shards;
  std::unordered_map<caf::actor_addr, std::string> ids_by_addr;
  region_stats stats;
  static inline const char* name = "ticket_region";
};

using region_pointer = ticket_region_actor::stateful_pointer<region_state>;

int64_t steady_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
}

entry& start_entity(region_pointer self, const std::string& id) {
  auto& st = self->state;
  auto handle = spawn_ticket_entity(self->system(), st.env, id);
  self->monitor(handle);
  st.ids_by_addr.emplace(handle.address(), id);
  auto& e = st.shards[shard_of(id)][id];
  e.handle = std::move(handle);
  e.passivating = false;
  e.last_used_ms = steady_ms();
  ++st.stats.started;
  ++st.stats.active_entities;
  if (st.metrics.started) {
    st.metrics.started->Increment();
    st.metrics.active->Increment();
  }
  return e;
}

template <class Cmd>
caf::result<ticket_view> route(region_pointer self, Cmd& cmd) {
  auto& st = self->state;
  const auto& id = cmd.ticket_id;
  if (!persistence::is_valid_id(id))
    return make_error(errc::not_found, "no such ticket", "id");
  auto& shard = st.shards[shard_of(id)];
  auto it = shard.find(id);
  if (it == shard.end() && !std::is_same_v<Cmd, list_ticket>
      && st.env.store->last_seq(entity_kind::ticket, id) == 0) {
    // Only a listing creates a ticket: answer the rest without starting an
    // actor, so lookups of random ids cost one read and no memory. Safe: an
    // entity not in the map has no appends in flight.
    return make_error(errc::not_found, "no such ticket", "id");
  }
  entry& e = it != shard.end() ? it->second : start_entity(self, id);
  e.last_used_ms = steady_ms();
  if (e.passivating) {
    auto rp = self->make_response_promise<ticket_view>();
    e.waiting.emplace_back([rp, cmd = std::move(cmd)](const ticket_actor& h) mutable {
      rp.delegate(h, std::move(cmd));
    });
    return rp;
  }
  return self->delegate(e.handle, std::move(cmd));
}

void on_down(region_pointer self, caf::down_msg& dm) {
  auto& st = self->state;
  auto a = st.ids_by_addr.find(dm.source);
  if (a == st.ids_by_addr.end())
    return;
  auto id = std::move(a->second);
  st.ids_by_addr.erase(a);
  auto& shard = st.shards[shard_of(id)];
  auto it = shard.find(id);
  if (it == shard.end() || it->second.handle.address() != dm.source)
    return;
  auto waiting = std::move(it->second.waiting);
  bool passivated = it->second.passivating;
  shard.erase(it);
  --st.stats.active_entities;
  if (st.metrics.active)
    st.metrics.active->Decrement();
  if (passivated) {
    ++st.stats.passivated;
    if (st.metrics.passivated)
      st.metrics.passivated->Increment();
  } else {
    ++st.stats.restarted_after_failure;
    if (st.metrics.failed)
      st.metrics.failed->Increment();
    log::warn("entity_failed", {{"kind", "ticket"}, {"id", id}, {"reason", to_string(dm.reason)}});
  }
  if (!waiting.empty()) {
    auto& e = start_entity(self, id);
    for (auto& w : waiting)
      w(e.handle);
  }
}

void sweep(region_pointer self) {
  auto& st = self->state;
  auto cutoff = steady_ms() - st.cfg.idle_timeout.count();
  for (auto& shard : st.shards) {
    for (auto& [id, e] : shard) {
      if (!e.passivating && e.last_used_ms < cutoff) {
        e.passivating = true;
        self->send(e.handle, atoms::passivate_atom_v);
      }
    }
  }
}

ticket_region_actor::behavior_type region_impl(region_pointer self, entity_env env,
                                               region_config cfg, prometheus::Registry* reg) {
  self->state.env = std::move(env);
  self->state.cfg = cfg;
  self->state.metrics = make_metrics(reg);
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  // Shutting the region down stops every entity it started (they are not
  // linked, so an entity's failure never takes the region with it).
  self->set_exit_handler([self](caf::exit_msg& msg) {
    for (auto& shard : self->state.shards)
      for (auto& [id, e] : shard)
        self->send_exit(e.handle, msg.reason);
    self->quit(msg.reason);
  });
  self->delayed_send(self, cfg.sweep_interval, atoms::sweep_atom_v);
  return {
    [self](list_ticket& cmd) { return route(self, cmd); },
    [self](update_ticket& cmd) { return route(self, cmd); },
    [self](withdraw_ticket& cmd) { return route(self, cmd); },
    [self](get_ticket& cmd) { return route(self, cmd); },
    [self](atoms::stats_atom) { return self->state.stats; },
    [self](atoms::sweep_atom) {
      sweep(self);
      self->delayed_send(self, self->state.cfg.sweep_interval, atoms::sweep_atom_v);
    },
  };
}

} // namespace

ticket_region_actor spawn_ticket_region(caf::actor_system& sys, entity_env env, region_config cfg,
                                        prometheus::Registry* metrics) {
  return sys.spawn(region_impl, std::move(env), cfg, metrics);
}

} // namespace tt::actors
