#pragma once
// Messages of the journal actor (persistence/journal_actor.hpp answers them).

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"
#include "messages/entity.hpp"

namespace tt {

/// Append `events` (encoded `Event`s, sequence numbers expected_seq+1 ...) to
/// one entity's stream. Fails with `errc::conflict` if the stream's last
/// sequence number is not `expected_seq`. The ack arrives only after the
/// batch holding these events is fsync'd.
struct append_events {
  uint8_t kind = 0;  // tt::entity_kind
  std::string entity_id;
  uint64_t expected_seq = 0;
  std::vector<std::string> events;
  /// Optional snapshot (encoded `Snapshot`) written in the same batch after
  /// the events; empty for none.
  std::string snapshot;
  uint64_t snapshot_seq = 0;
  /// Secondary-index entries written atomically with the events, as flattened
  /// (key, value) pairs; an empty value deletes the key.
  std::vector<std::string> index_writes;
  /// Durable timers of this entity written in the same batch, as flattened
  /// (name, due_ms in decimal) pairs; an empty due deletes the timer.
  std::vector<std::string> timer_writes;
  /// Cluster mode: the shard epoch the entity recovered under (see
  /// persistence/shard_fence.hpp); the journal refuses a stale one. 0 on
  /// embedded nodes (no fence).
  uint64_t epoch = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_events& x) {
  return f(caf::meta::type_name("tt.append_events"), x.kind, x.entity_id, x.expected_seq,
           x.events, x.snapshot, x.snapshot_seq, x.index_writes, x.timer_writes, x.epoch);
}

struct append_ack {
  uint64_t last_seq = 0;
  uint64_t first_offset = 0;  // global log offset of the first appended event
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, append_ack& x) {
  return f(caf::meta::type_name("tt.append_ack"), x.last_seq, x.first_offset);
}

/// Shard hand-off (receiving node): raw entries of another node's shard
/// (flattened (cf code, key, value) triples from event_store::export_shard),
/// written by the journal in one synced batch. Every key must belong to
/// `shard` (otherwise nothing is written: errc::invalid_argument). With
/// `purge`, the same batch first deletes this node's own timers and index
/// rows of the shard (left by an earlier, interrupted hand-off). Replies the
/// number of entries written.
struct import_entries {
  uint32_t shard = 0;
  std::vector<std::string> triples;
  bool purge = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, import_entries& x) {
  return f(caf::meta::type_name("tt.import_entries"), x.shard, x.triples, x.purge);
}

/// Shard hand-off: delete the shard's durable timers and index rows on this
/// node — the old owner after the move committed, or the target of a move
/// that was aborted. Events and snapshots stay (this node's global log
/// points at them). Replies the number of entries deleted.
struct drop_shard {
  uint32_t shard = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, drop_shard& x) {
  return f(caf::meta::type_name("tt.drop_shard"), x.shard);
}

struct journal_stats {
  uint64_t next_offset = 0;
  uint64_t batches = 0;
  uint64_t events = 0;
  uint64_t conflicts = 0;
  uint64_t fenced = 0;  // appends refused for a shard not served at their epoch
  uint64_t mailbox = 0;  // messages waiting in the journal's mailbox (approximate)
  uint64_t pending = 0;  // appends gathered for the next batch
  /// Synced batch writes (WriteBatch + fsync) over the last <= 1024 batches,
  /// in microseconds: median, 99th percentile, largest. 0 before any batch.
  uint64_t write_us_p50 = 0;
  uint64_t write_us_p99 = 0;
  uint64_t write_us_max = 0;
  /// Events per second over the same batches, up to the time of the reply
  /// (decays while the journal is idle).
  uint64_t events_per_s = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journal_stats& x) {
  return f(caf::meta::type_name("tt.journal_stats"), x.next_offset, x.batches, x.events,
           x.conflicts, x.fenced, x.mailbox, x.pending, x.write_us_p50, x.write_us_p99,
           x.write_us_max, x.events_per_s);
}

/// A write barrier (shard hand-off): the journal writes every append it
/// received before this message (synced) and then replies its next global
/// log offset. Appends after it are the fence's business.
struct journal_barrier {
  uint32_t shard = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, journal_barrier& x) {
  return f(caf::meta::type_name("tt.journal_barrier"), x.shard);
}

struct region_stats {
  uint64_t active_entities = 0;
  uint64_t started = 0;
  uint64_t passivated = 0;
  uint64_t restarted_after_failure = 0;
  std::vector<uint32_t> active_by_shard;  // filled by stats requests (256 entries)
  uint64_t mailbox = 0;  // messages waiting in the region's mailbox (approximate)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, region_stats& x) {
  return f(caf::meta::type_name("tt.region_stats"), x.active_entities, x.started,
           x.passivated, x.restarted_after_failure, x.active_by_shard,
           x.mailbox);
}

} // namespace tt
