#pragma once
// The persistent-entity base shared by every event-sourced actor (ticket now;
// account, trade, escrow later).
//
// A `Model` provides: `static constexpr entity_kind kind`, a member `id`
// (std::string, or small_string to save memory per entity),
// `apply(const event_envelope&)`, `restore(const snapshot_envelope&) -> bool`
// and `snapshot(seq, now_ms) -> snapshot_envelope`; optionally
// `index_writes(before, after) -> std::vector<std::string>` (flattened key,
// value pairs written to the secondary index in the same batch as the events).
//
// Life of one command inside the entity actor (one at a time, enforced by
// `await`): decide on the current state -> events -> apply them (to a copy of
// the state if the model derives index or timer rows from before and after,
// else in place) -> request(journal, append) -> on ack (fsync'd) the copy
// becomes the state and the caller gets its reply; on error the state is
// reloaded from the journal (the truth), and if that fails the actor stops,
// so its region restarts it on the next message.

#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "actors/entity_env.hpp"
#include "caf/error.hpp"
#include "caf/expected.hpp"
#include "caf/typed_response_promise.hpp"
#include "messages/errc.hpp"
#include "messages/events.hpp"
#include "messages/log.hpp"
#include "persistence/event_store.hpp"
#include "persistence/node_keys.hpp"
#include "persistence/shard_fence.hpp"

namespace tt::actors {

template <class Model>
struct entity_core {
  Model model;
  uint64_t seq = 0;           // last applied event
  uint64_t snapshot_seq = 0;  // seq of the latest snapshot written or loaded
  uint64_t epoch = 0;         // shard epoch at recovery (cluster mode; 0 embedded)
  entity_env_ptr env;         // shared by every entity of the region, never null

  /// Latest snapshot + replay of every later event. Runs inside the entity
  /// actor when it starts (reads only; RocksDB reads are thread-safe).
  caf::error recover(std::string id) {
    model = Model{};
    model.id = id;
    seq = 0;
    snapshot_seq = 0;
    // Read the epoch before the data: an append under this epoch is accepted
    // only while the shard is still served at it (persistence/shard_fence).
    epoch = env->fence ? env->fence->epoch(shard_of(id)) : 0;
    if (auto snap = env->store->load_snapshot(Model::kind, id)) {
      std::string why;
      auto decoded = decode_snapshot(snap->bytes, &why);
      if (!decoded || !model.restore(*decoded))
        return make_error(errc::decode_failure, "snapshot of " + id + " does not decode: " + why);
      seq = snap->seq;
      snapshot_seq = snap->seq;
    }
    caf::error err;
    bool ok = env->store->read_events(Model::kind, id, seq + 1,
                                     [&](uint64_t s, std::string_view bytes) {
                                       std::string why;
                                       auto ev = decode_event(bytes, &why);
                                       if (!ev || s != seq + 1) {
                                         err = make_error(errc::decode_failure,
                                                          "event " + std::to_string(s) + " of " + id
                                                            + " does not decode: " + why);
                                         return false;
                                       }
                                       model.apply(*ev);
                                       seq = s;
                                       return true;
                                     });
    if (!ok && !err)
      err = make_error(errc::storage_failure, "reading events of " + id + " failed");
    return err;
  }

  /// Wraps payloads into envelopes with sequence numbers after `seq`.
  std::vector<event_envelope> envelopes(std::vector<event_payload> payloads,
                                        const request_meta& meta, int64_t now) const {
    std::vector<event_envelope> out;
    out.reserve(payloads.size());
    uint64_t s = seq;
    for (auto& p : payloads) {
      event_envelope ev;
      ev.kind = Model::kind;
      ev.entity_id = model.id;
      ev.seq = ++s;
      ev.timestamp_ms = now;
      ev.event_id = persistence::random_id();
      ev.causation_id = meta.causation_id;
      ev.correlation_id = meta.correlation_id;
      ev.user_id = meta.user_id;
      ev.device_hash = meta.device_hash;
      ev.ip = meta.ip;
      ev.payload = std::move(p);
      out.push_back(std::move(ev));
    }
    return out;
  }
};

/// Persists `payloads` for the entity behind `self` (whose state has a member
/// `core` of type entity_core<Model>) and then calls `done(err)`: with no
/// error once the events are fsync'd and applied to the state, or with the
/// journal's error (the state is then reloaded from the journal). Must be
/// called from inside a handler of `self`; blocks further commands of this
/// entity until the journal answers. Models may also provide
/// `timer_writes(before, after)` (flattened name, due_ms pairs) for durable
/// timers written in the same batch.
template <class Self, class Done>
void persist_then(Self* self, std::vector<event_payload> payloads, const request_meta& meta,
                  Done done) {
  auto& core = self->state.core;
  using model_type = std::decay_t<decltype(core.model)>;
  // Models whose index or timer rows compare the state before and after
  // apply the events to a copy. The others apply them in place: the entity
  // answers nothing else until the journal does (`await`), and a failed
  // append reloads the state from the journal anyway. This keeps a command
  // from copying a state that grows with its history (a wallet's
  // idempotency refs).
  constexpr bool compares_states = requires(const model_type& m) { m.index_writes(m, m); }
                                   || requires(const model_type& m) { m.timer_writes(m, m); };
  auto now = core.env->now_ms();
  std::optional<model_type> copy;
  if constexpr (compares_states)
    copy.emplace(core.model);
  model_type& next = copy ? *copy : core.model;
  auto evs = core.envelopes(std::move(payloads), meta, now);
  append_events cmd;
  cmd.kind = static_cast<uint8_t>(decltype(core.model)::kind);
  cmd.entity_id = core.model.id;
  cmd.expected_seq = core.seq;
  cmd.epoch = core.epoch;
  cmd.events.reserve(evs.size());
  for (auto& ev : evs) {
    next.apply(ev);
    cmd.events.push_back(encode_event(ev));
  }
  if constexpr (requires { core.model.index_writes(core.model, next); })
    cmd.index_writes = core.model.index_writes(core.model, next);
  if constexpr (requires { core.model.timer_writes(core.model, next); })
    cmd.timer_writes = core.model.timer_writes(core.model, next);
  static_assert(compares_states || !requires { core.model.index_writes(core.model, next); });
  uint64_t new_seq = core.seq + evs.size();
  if (new_seq - core.snapshot_seq >= core.env->snapshot_every) {
    cmd.snapshot = encode_snapshot(next.snapshot(new_seq, now));
    cmd.snapshot_seq = new_seq;
  }
  bool snap = !cmd.snapshot.empty();
  request_journal(self, *core.env, std::move(cmd))
    .await(
      [self, done, copy = std::move(copy), new_seq, snap](const append_ack&) mutable {
        auto& c = self->state.core;
        if (copy)
          c.model = std::move(*copy);
        c.seq = new_seq;
        if (snap)
          c.snapshot_seq = new_seq;
        done(caf::error{});
      },
      [self, done](caf::error& err) mutable {
        // The outcome may be unknown (timeout) or our state stale (conflict):
        // reload from the journal, the truth, before the next command. (A
        // timed-out append that lands later makes the next append conflict,
        // which reloads again.) If even that fails, stop; the region restarts
        // the entity on its next command.
        auto& c = self->state.core;
        log::warn("entity_append_failed", {{"kind", to_string(decltype(c.model)::kind)},
                                           {"id", c.model.id},
                                           {"reason", describe(err).message}});
        std::string id{c.model.id};  // recover() resets the model (id may be a small_string)
        auto reload = c.recover(id);
        done(err);
        if (reload)
          self->quit(reload);
      });
}

/// Persists `payloads` and, once durable, delivers `reply(model, seq)`
/// through `rp` (or the journal's error). See persist_then.
template <class Self, class Reply, class ReplyFn>
void persist(Self* self, std::vector<event_payload> payloads, const request_meta& meta,
             caf::typed_response_promise<Reply> rp, ReplyFn reply) {
  persist_then(self, std::move(payloads), meta, [self, rp, reply](caf::error err) mutable {
    if (err) {
      rp.deliver(err);
      return;
    }
    auto& c = self->state.core;
    // `reply` may return Reply or caf::expected<Reply> (an error that is
    // decided by the persisted events, e.g. a revoked session).
    auto r = reply(c.model, c.seq);
    if constexpr (std::is_same_v<decltype(r), caf::expected<Reply>>) {
      if (r)
        rp.deliver(std::move(*r));
      else
        rp.deliver(r.error());
    } else {
      rp.deliver(std::move(r));
    }
  });
}

} // namespace tt::actors
