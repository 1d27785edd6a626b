#include "nodes/notifier.hpp"

#include <algorithm>
#include <unordered_map>

#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/events.hpp"
#include "messages/log.hpp"
#include "nodes/event_json.hpp"
#include "persistence/event_store.hpp"

namespace tt::nodes {

namespace {

struct subscription {
  std::weak_ptr<push_sink> sink;
  const push_sink* key = nullptr;
  uint64_t from = 0;  // events with a smaller offset were before this subscription
  std::vector<std::string> types;  // empty: all

  bool wants(const event_envelope& ev) const {
    return types.empty()
           || std::find(types.begin(), types.end(), event_type_name(ev.payload)) != types.end();
  }
};

/// The key of feed subscriptions (every event); account ids never look so.
const std::string all_events = "*";

struct notifier_state {
  std::shared_ptr<const persistence::event_store> store;
  notifier_config cfg;
  uint64_t next = 1;  // next offset to read
  std::unordered_multimap<std::string, subscription> subs;
  static inline const char* name = "notifier";
};

using notifier_pointer = notifier_actor::stateful_pointer<notifier_state>;

void deliver(notifier_pointer self, uint64_t offset, std::string_view bytes) {
  auto ev = decode_event(bytes);
  if (!ev)
    return;
  auto& subs = self->state.subs;
  std::string rendered;
  auto accounts = concerned_accounts(*ev);
  accounts.push_back(all_events);
  for (const auto& account : accounts) {
    auto [b, e] = subs.equal_range(account);
    for (auto it = b; it != e;) {
      if (offset < it->second.from || !it->second.wants(*ev)) {
        ++it;
        continue;
      }
      auto sink = it->second.sink.lock();
      if (!sink || !sink->alive()) {
        it = subs.erase(it);
        continue;
      }
      if (rendered.empty())
        rendered = render_event(offset, *ev);
      if (!sink->push(rendered)) {
        it = subs.erase(it);
        continue;
      }
      ++it;
    }
  }
}

notifier_actor::behavior_type notifier_impl(notifier_pointer self,
                                            std::shared_ptr<const persistence::event_store> store,
                                            notifier_config cfg) {
  self->state.store = std::move(store);
  self->state.cfg = cfg;
  self->state.next = self->state.store->next_offset();
  return {
    [self](log_advanced& msg) {
      auto& st = self->state;
      if (msg.next_offset <= st.next)
        return;
      if (st.subs.empty()) {
        st.next = msg.next_offset;
        return;
      }
      st.store->read_log(st.next, msg.next_offset - st.next, [&](uint64_t off, std::string_view b) {
        deliver(self, off, b);
        return true;
      });
      st.next = msg.next_offset;
    },
    [self](subscribe_events& sub) {
      auto& st = self->state;
      auto sink = sub.sink.lock();
      if (!sink)
        return;
      // Replay [since, next) from the log; later events arrive live, each
      // exactly once (the actor handles one message at a time).
      if (sub.since > 0 && sub.since < st.next) {
        uint64_t span = st.next - sub.since;
        if (span > st.cfg.max_replay) {
          sink->push("{\"type\":\"resync_required\",\"oldest_replayable\":"
                     + std::to_string(st.next - st.cfg.max_replay) + "}");
        } else {
          subscription filter;
          filter.types = sub.types;
          st.store->read_log(sub.since, span, [&](uint64_t off, std::string_view b) {
            auto ev = decode_event(b);
            if (!ev || !filter.wants(*ev))
              return true;
            if (sub.user_id == all_events)
              return sink->push(render_event(off, *ev));
            for (const auto& a : concerned_accounts(*ev))
              if (a == sub.user_id)
                return sink->push(render_event(off, *ev));
            return true;
          });
        }
      }
      st.subs.emplace(sub.user_id, subscription{sub.sink, sink.get(), sub.since, sub.types});
    },
    [self](unsubscribe_events& u) {
      auto& subs = self->state.subs;
      for (auto it = subs.begin(); it != subs.end();) {
        if (it->second.key == u.sink)
          it = subs.erase(it);
        else
          ++it;
      }
    },
  };
}

} // namespace

notifier_actor spawn_notifier(caf::actor_system& sys,
                              std::shared_ptr<const persistence::event_store> store,
                              notifier_config cfg) {
  return sys.spawn(notifier_impl, std::move(store), cfg);
}

} // namespace tt::nodes
