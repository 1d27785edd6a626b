#pragma once
// Snapshot <-> model for every entity model with members `kind`, `id`,
// `exists` and `state` (whose type is one alternative of
// snapshot_envelope::state).

#include <cstdint>
#include <type_traits>
#include <variant>

#include "messages/events.hpp"

namespace tt::actors {

template <class Model>
snapshot_envelope snapshot_of(const Model& m, uint64_t seq, int64_t now_ms) {
  snapshot_envelope s;
  s.kind = Model::kind;
  s.entity_id = m.id;
  s.seq = seq;
  s.taken_at_ms = now_ms;
  s.state = m.state;
  return s;
}

/// False (and `m` untouched) if the snapshot holds another kind's state.
template <class Model>
bool restore_from(Model& m, const snapshot_envelope& snap) {
  using state_type = std::decay_t<decltype(m.state)>;
  auto* st = std::get_if<state_type>(&snap.state);
  if (st == nullptr)
    return false;
  m.state = *st;
  m.exists = true;
  return true;
}

} // namespace tt::actors
