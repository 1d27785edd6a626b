#pragma once
// Live notifications: the journal reports each committed batch as the new end
// of the global log (`log_advanced`); the notifier reads the new events and
// pushes those that concern a subscriber to its sink (a WebSocket at the
// edge). Subscriptions carry process-local sinks and never cross nodes.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "caf/allowed_unsafe_message_type.hpp"
#include "caf/meta/type_name.hpp"

namespace tt {

/// Where pushed notifications go. Thread-safe; push() never blocks and
/// returns false when the sink is gone or refuses (slow consumer).
class push_sink {
public:
  virtual ~push_sink() = default;
  virtual bool push(std::string json) = 0;
  virtual bool alive() const = 0;
};

struct log_advanced {
  uint64_t next_offset = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_advanced& x) {
  return f(caf::meta::type_name("tt.log_advanced"), x.next_offset);
}

/// Subscribe `sink` to events concerning `user_id` with offset >= `since`:
/// committed ones are replayed first, later ones pushed as they commit.
struct subscribe_events {
  std::string user_id;  // "*": every event (the admin/analytics feed)
  uint64_t since = 0;
  std::weak_ptr<push_sink> sink;
  std::vector<std::string> types;  // only these event types; empty: all
};

struct unsubscribe_events {
  const push_sink* sink = nullptr;
};

} // namespace tt

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tt::subscribe_events)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(tt::unsubscribe_events)
