#pragma once
// Messages of the matcher service (actors/matcher_service.hpp): a round on
// demand and its counters. See docs/matching.md for the rules.

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"

namespace tt {

/// Run one matching round now (tests, `tt-admin`), besides the periodic ones.
struct run_match_round {
  uint32_t version = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, run_match_round& x) {
  return f(caf::meta::type_name("tt.run_match_round"), x.version);
}

/// Cluster mode: events of a peer's global log (encoded, offsets `from`,
/// `from + 1`, …), forwarded by the peer feed so the matcher sees every
/// node's offers, credits and matched trades.
struct peer_log_events {
  std::string peer;
  uint64_t from = 0;
  std::vector<std::string> events;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, peer_log_events& x) {
  return f(caf::meta::type_name("tt.peer_log_events"), x.peer, x.from, x.events);
}

/// What the matcher did: totals since start and the last round's numbers.
struct matcher_report {
  uint64_t rounds = 0;
  uint64_t offers = 0;        // open offers known (any status)
  uint64_t booked = 0;        // offers in the books (eligible or excluded)
  uint64_t last_pairs = 0;    // 2-way matches in the last round
  uint64_t last_cycles = 0;   // 3-cycles in the last round
  uint64_t last_round_us = 0;
  uint64_t proposed = 0;      // trades proposed (accepted by the trade entity)
  uint64_t failed = 0;        // proposals the trade entity refused
  uint64_t valuations_requested = 0;
  uint64_t next_offset = 0;   // first log offset not read yet
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, matcher_report& x) {
  return f(caf::meta::type_name("tt.matcher_report"), x.rounds, x.offers, x.booked, x.last_pairs,
           x.last_cycles, x.last_round_us, x.proposed, x.failed, x.valuations_requested,
           x.next_offset);
}

} // namespace tt
