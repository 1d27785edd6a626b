#pragma once
// The generic shard region: entity id -> shard (stable hash, 256 shards) ->
// entity actor, started on first message, passivated when idle, restarted from
// the journal after a failure. One region per entity kind per node.
//
// `Traits` provides:
//   using entity_actor = ...;  using region_actor = ...;
//   static constexpr entity_kind kind;  static constexpr const char* name;
//   static entity_actor spawn(caf::actor_system&, entity_env_ptr, std::string id);
//   template <class Cmd> static constexpr bool creates;  // may create the entity
//   static bool valid_id(std::string_view);
//   static region_actor remote(const node_regions&);  // a peer's region
//
// Contract: the only way to reach an entity. Commands are forwarded with
// `delegate`, so the entity answers the original requester directly. While an
// entity is passivating, commands for it wait in the region and go to its
// successor once the old actor is down, so no two actors ever serve one
// entity. Commands that cannot create an entity, for an id with no events, are
// answered `not_found` without starting an actor (one RocksDB read).

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <array>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "actors/cluster_routes.hpp"
#include "actors/entity_env.hpp"
#include "actors/shard_region.hpp"
#include "actors/small_string.hpp"
#include "caf/actor_system.hpp"
#include "caf/blocking_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/errc.hpp"
#include "messages/log.hpp"
#include "persistence/event_store.hpp"
#include "persistence/shard_fence.hpp"

namespace tt::actors {

template <class Traits>
class region {
public:
  using entity_actor = typename Traits::entity_actor;
  using region_actor = typename Traits::region_actor;

  using waiting_list = std::vector<std::function<void(const entity_actor&)>>;

  /// Kept per active entity, so kept small (24 bytes; the map node with its
  /// 24-byte key is one 64-byte malloc chunk).
  struct entry {
    entity_actor handle;
    int64_t last_used_ms : 63 = 0;  // steady clock
    uint64_t passivating : 1 = 0;
    std::unique_ptr<waiting_list> waiting;  // commands held while passivating; usually null
  };

  struct metrics {
    prometheus::Gauge* active = nullptr;
    prometheus::Counter* started = nullptr;
    prometheus::Counter* passivated = nullptr;
    prometheus::Counter* failed = nullptr;
  };

  struct state {
    entity_env_ptr env;  // the one env every entity of this region points to
    region_config cfg;
    metrics m;
    std::array<std::unordered_map<small_string, entry, small_string_hash>, shard_count> shards;
    /// Actor id of each live entity -> its entity id (for down messages).
    std::unordered_map<caf::actor_id, small_string> ids_by_actor;
    /// Cluster mode: forwarded commands not answered yet, per peer node.
    std::map<caf::node_id, size_t> remote_in_flight;
    region_stats stats;
    static inline const char* name = Traits::name;
  };

  using pointer = typename region_actor::template stateful_pointer<state>;

  /// Sets up state, handlers for down/exit messages and the sweep timer.
  static void init(pointer self, entity_env env, region_config cfg, prometheus::Registry* reg) {
    auto& st = self->state;
    st.env = std::make_shared<const entity_env>(std::move(env));
    st.cfg = cfg;
    if (reg != nullptr) {
      st.m.active = &prometheus::BuildGauge()
                       .Name("tt_entities_active")
                       .Help("Entity actors currently in memory")
                       .Register(*reg)
                       .Add({{"kind", Traits::name}});
      auto& life = prometheus::BuildCounter()
                     .Name("tt_entity_lifecycle_total")
                     .Help("Entity starts, passivations and failure restarts")
                     .Register(*reg);
      st.m.started = &life.Add({{"kind", Traits::name}, {"event", "started"}});
      st.m.passivated = &life.Add({{"kind", Traits::name}, {"event", "passivated"}});
      st.m.failed = &life.Add({{"kind", Traits::name}, {"event", "failed"}});
    }
    self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
    // Shutting the region down stops every entity it started (they are not
    // linked, so an entity's failure never takes the region with it).
    self->set_exit_handler([self](caf::exit_msg& msg) {
      std::vector<entity_actor> all;
      all.reserve(self->state.ids_by_actor.size());
      for (auto& shard : self->state.shards)
        for (auto& [id, e] : shard)
          all.push_back(e.handle);
      fan_out(self, std::move(all), [reason = msg.reason](auto* sender, const entity_actor& h) {
        sender->send_exit(h, reason);
      });
      self->quit(msg.reason);
    });
    if (cfg.sweep_interval.count() > 0)
      self->delayed_send(self, cfg.sweep_interval, atoms::sweep_atom_v);
  }

  template <class Reply, class Cmd>
  static caf::result<Reply> route(pointer self, Cmd& cmd) {
    auto& st = self->state;
    const std::string& id = target_id(cmd);
    if (!Traits::valid_id(id))
      return make_error(errc::not_found, std::string{"no such "} + Traits::name, "id");
    auto shard_no = shard_of(id);
    if (st.env->routes) {
      // Cluster mode: forward to the owner, or refuse fast while it is down.
      // A command that already crossed the network is never forwarded again
      // (the sender's view was stale): it is answered `unavailable`.
      auto table = st.env->routes->current();
      const auto& r = (*table)[shard_no];
      auto sender = self->current_sender();
      bool from_peer = sender && sender->node() != self->node();
      if (r.state == shard_route::remote && r.owner && !from_peer)
        return forward<Reply>(self, Traits::remote(*r.owner), std::move(cmd));
      if (r.state != shard_route::local || !st.env->fence
          || !st.env->fence->serves(shard_no, st.env->fence->epoch(shard_no)))
        return make_error(errc::unavailable,
                          "shard " + std::to_string(shard_no)
                            + " is not available right now (its node is down or moving); retry",
                          "shard");
    }
    auto& shard = st.shards[shard_no];
    auto it = shard.find(small_string{id});
    if (it == shard.end() && !Traits::template creates<Cmd>
        && st.env->store->last_seq(Traits::kind, id) == 0)
      return make_error(errc::not_found, std::string{"no such "} + Traits::name, "id");
    entry& e = it != shard.end() ? it->second : start(self, id);
    e.last_used_ms = steady_ms();
    if (e.passivating) {
      auto rp = self->template make_response_promise<Reply>();
      if (!e.waiting)
        e.waiting = std::make_unique<waiting_list>();
      e.waiting->emplace_back([rp, cmd = std::move(cmd)](const entity_actor& h) mutable {
        rp.delegate(h, std::move(cmd));
      });
      return rp;
    }
    return self->delegate(e.handle, std::move(cmd));
  }

  /// Sends `cmd` to a peer's region within the per-peer window and relays
  /// the answer (or unavailable on timeout or a full window).
  template <class Reply, class Handle, class Cmd>
  static caf::result<Reply> forward(pointer self, const Handle& peer, Cmd&& cmd) {
    auto& st = self->state;
    auto node = peer.node();
    auto& n = st.remote_in_flight[node];
    if (n >= st.cfg.remote_window)
      return make_error(errc::unavailable,
                        "too many commands in flight to the shard's node; retry", "shard");
    ++n;
    auto rp = self->template make_response_promise<Reply>();
    auto on_reply = [self, rp, node](Reply& r) mutable {
      --self->state.remote_in_flight[node];
      rp.deliver(std::move(r));
    };
    auto on_error = [self, rp, node](caf::error& err) mutable {
      --self->state.remote_in_flight[node];
      if (err == caf::sec::request_timeout)
        err = make_error(errc::unavailable, "the shard's node did not answer in time; retry",
                         "shard");
      rp.deliver(std::move(err));
    };
    if (st.cfg.remote_timeout.count() > 0)
      self->request(peer, st.cfg.remote_timeout, std::forward<Cmd>(cmd)).then(on_reply, on_error);
    else
      self->request(peer, caf::infinite, std::forward<Cmd>(cmd)).then(on_reply, on_error);
    return rp;
  }

  static region_stats stats(pointer self) {
    auto out = self->state.stats;
    out.active_by_shard.reserve(shard_count);
    for (auto& shard : self->state.shards)
      out.active_by_shard.push_back(static_cast<uint32_t>(shard.size()));
    out.mailbox = self->mailbox().size();
    return out;
  }

  /// Asks every active entity of `shard` to passivate now; returns how many.
  static uint32_t passivate_shard(pointer self, uint32_t shard) {
    if (shard >= shard_count)
      return 0;
    std::vector<entity_actor> hs;
    for (auto& [id, e] : self->state.shards[shard]) {
      if (!e.passivating) {
        e.passivating = true;
        hs.push_back(e.handle);
      }
    }
    auto n = static_cast<uint32_t>(hs.size());
    fan_out(self, std::move(hs), passivate_one_of);
    return n;
  }

  /// Sends one message to many entities: inline for up to 1,024, else from a
  /// blocking actor (own thread) that sends them all and ends. Sent from
  /// inside one handler, every woken entity lands in this worker's queue, and
  /// CAF 0.17's work stealing walks that queue per steal (quadratic: ~200k
  /// entities took over 20 s to stop; with this, ~3 s).
  template <class Send>
  static void fan_out(pointer self, std::vector<entity_actor> hs, Send send) {
    if (hs.size() <= 1024) {
      for (auto& h : hs)
        send(self, h);
      return;
    }
    self->system().spawn([hs = std::move(hs), send](caf::blocking_actor* b) {
      for (auto& h : hs)
        send(b, h);
    });
  }

  static constexpr auto passivate_one_of = [](auto* sender, const entity_actor& h) {
    sender->send(h, atoms::passivate_atom_v);
  };

  /// Asks one active entity to passivate now; false if it is not active.
  static bool passivate_one(pointer self, const std::string& id) {
    auto& shard = self->state.shards[shard_of(id)];
    auto it = shard.find(small_string{id});
    if (it == shard.end() || it->second.passivating)
      return false;
    it->second.passivating = true;
    self->send(it->second.handle, atoms::passivate_atom_v);
    return true;
  }

  static void sweep(pointer self) {
    auto& st = self->state;
    auto cutoff = steady_ms() - st.cfg.idle_timeout.count();
    std::vector<entity_actor> idle;
    for (auto& shard : st.shards) {
      for (auto& [id, e] : shard) {
        if (!e.passivating && e.last_used_ms < cutoff) {
          e.passivating = true;
          idle.push_back(e.handle);
        }
      }
    }
    fan_out(self, std::move(idle), passivate_one_of);
    if (st.cfg.sweep_interval.count() > 0)
      self->delayed_send(self, st.cfg.sweep_interval, atoms::sweep_atom_v);
  }

private:
  static int64_t steady_ms() {
    using namespace std::chrono;
    return duration_cast<milliseconds>(steady_clock::now().time_since_epoch()).count();
  }

  static entry& start(pointer self, std::string_view id) {
    auto& st = self->state;
    auto handle = Traits::spawn(self->system(), st.env, std::string{id});
    self->monitor(handle);
    st.ids_by_actor.emplace(handle.id(), small_string{id});
    auto& e = st.shards[shard_of(id)][small_string{id}];
    e.handle = std::move(handle);
    e.passivating = false;
    e.last_used_ms = steady_ms();
    ++st.stats.started;
    ++st.stats.active_entities;
    if (st.m.started) {
      st.m.started->Increment();
      st.m.active->Increment();
    }
    return e;
  }

  static void on_down(pointer self, caf::down_msg& dm) {
    auto& st = self->state;
    if (!dm.source)
      return;
    auto a = st.ids_by_actor.find(dm.source.id());
    if (a == st.ids_by_actor.end())
      return;
    auto id = std::move(a->second);
    st.ids_by_actor.erase(a);
    auto& shard = st.shards[shard_of(id)];
    auto it = shard.find(id);
    if (it == shard.end() || it->second.handle.address() != dm.source)
      return;
    auto waiting = std::move(it->second.waiting);
    bool passivated = it->second.passivating;
    shard.erase(it);
    --st.stats.active_entities;
    if (st.m.active)
      st.m.active->Decrement();
    if (passivated) {
      ++st.stats.passivated;
      if (st.m.passivated)
        st.m.passivated->Increment();
    } else {
      ++st.stats.restarted_after_failure;
      if (st.m.failed)
        st.m.failed->Increment();
      log::warn("entity_failed",
                {{"kind", Traits::name}, {"id", id.view()}, {"reason", to_string(dm.reason)}});
    }
    if (waiting && !waiting->empty()) {
      auto& e = start(self, id.view());
      for (auto& w : *waiting)
        w(e.handle);
    }
  }
};

} // namespace tt::actors
