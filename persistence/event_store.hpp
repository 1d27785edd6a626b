#pragma once
// The RocksDB store of one node: per-entity event streams, the global log,
// snapshots and durable timers, each in its own column family.
//
// Keys (all integers big-endian so byte order is numeric order):
//   events     kind(1) id '\0' seq(8)      -> encoded Event
//   log        offset(8)                   -> events key of that event
//   snapshots  kind(1) id                  -> seq(8) encoded Snapshot
//   timers     due_ms(8) kind(1) id '\0' name -> payload
//   timer_idx  kind(1) id '\0' name        -> due_ms(8)
//   index      caller-defined key           -> caller-defined value (secondary
//              indexes, e.g. owner -> tickets, written with the events)
//
// Threading: `append_batch` and the timer writers are called by one writer
// thread at a time (the journal actor); every reader is thread-safe and sees
// only what a completed, fsync'd batch wrote.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "messages/entity.hpp"
#include "messages/errc.hpp"

namespace tt::persistence {

struct store_options {
  std::string dir;
  bool sync = true;               // fsync every batch (never off in production)
  size_t block_cache_bytes = 64u << 20;
  /// The newest log events kept in memory for read_log (the log's followers
  /// read each event right after it lands); 0 keeps none.
  size_t recent_log_bytes = 16u << 20;
};

struct append_request {
  entity_kind kind = entity_kind::unknown;
  std::string_view entity_id;
  uint64_t expected_seq = 0;
  std::span<const std::string> events;
  std::string_view snapshot;  // empty: none
  uint64_t snapshot_seq = 0;
  std::span<const std::string> index_writes;  // (key, value) pairs; empty value deletes
  std::span<const std::string> timer_writes;  // (name, due_ms decimal) pairs; empty due deletes
};

struct append_result {
  errc code = errc::ok;
  uint64_t last_seq = 0;
  uint64_t first_offset = 0;
  std::string message;
};

struct batch_info {
  size_t events = 0;
  size_t bytes = 0;
  double write_seconds = 0;  // WriteBatch + fsync
};

struct stored_snapshot {
  uint64_t seq = 0;
  std::string bytes;
};

struct due_timer {
  int64_t due_ms = 0;
  entity_kind kind = entity_kind::unknown;
  std::string entity_id;
  std::string name;
  std::string payload;
};

class event_store {
public:
  /// Opens (creating if missing) the store in `opts.dir`. Returns nullptr and
  /// sets `error` if RocksDB refuses.
  static std::unique_ptr<event_store> open(const store_options& opts, std::string* error);

  ~event_store();
  event_store(const event_store&) = delete;
  event_store& operator=(const event_store&) = delete;

  // -- writer side (one thread at a time) -------------------------------------

  /// Validates each request against the stored last sequence number (optimistic
  /// concurrency), writes all valid ones as one WriteBatch (synced), and fills
  /// `results` (one per request). A request that conflicts fails alone; if the
  /// write itself fails, every request fails with `storage_failure` and no
  /// in-memory counter moves.
  void append_batch(std::span<const append_request> requests, std::vector<append_result>& results,
                    batch_info* info = nullptr);

  errc put_timer(const due_timer& t);

  /// Shard hand-off, receiving side: writes raw entries exported by a peer's
  /// `export_shard` (flattened (cf code, key, value) triples) as one synced
  /// batch, without touching the global log (those events stay in the old
  /// owner's log history). Clears the last-sequence cache. Refuses unknown
  /// column-family codes, malformed keys and keys of entities outside
  /// `shard` (invalid_argument), writing nothing. With `purge`, the same batch
  /// first deletes what `drop_shard(shard)` deletes (what an interrupted
  /// earlier hand-off left here).
  errc import_raw(uint32_t shard, std::span<const std::string> triples, bool purge = false);

  /// Shard hand-off: deletes the shard's durable timers and index rows (the
  /// old owner after the move committed, so it never wakes entities it no
  /// longer owns; the target of an aborted move). Events and snapshots stay:
  /// they are part of this node's global log history, which tailers and
  /// projections read; the shard's fence keeps them from being served or
  /// appended to. Returns the number deleted.
  uint64_t drop_shard(uint32_t shard);
  errc delete_timer(entity_kind kind, std::string_view entity_id, std::string_view name);

  // -- readers (thread-safe) ----------------------------------------------------

  /// Last sequence number of the entity's stream (0: no events).
  uint64_t last_seq(entity_kind kind, std::string_view entity_id) const;

  /// Calls `fn(seq, bytes)` for each event with seq >= from_seq in order, until
  /// `fn` returns false. Returns false if RocksDB reported an error.
  bool read_events(entity_kind kind, std::string_view entity_id, uint64_t from_seq,
                   const std::function<bool(uint64_t, std::string_view)>& fn) const;

  std::optional<stored_snapshot> load_snapshot(entity_kind kind, std::string_view entity_id) const;

  /// The offset the next appended event gets; offsets start at 1.
  uint64_t next_offset() const;

  /// Calls `fn(offset, event bytes)` for offsets >= from, at most `max` times.
  /// Returns the number of events visited.
  size_t read_log(uint64_t from, size_t max,
                  const std::function<bool(uint64_t, std::string_view)>& fn) const;

  /// Index entries whose key starts with `prefix` and is greater than
  /// `after` (empty: from the start), in key order, at most `max`; with
  /// `keep`, only entries whose key minus `prefix` it accepts (the others
  /// are skipped and not counted).
  std::vector<std::pair<std::string, std::string>>
  scan_index(std::string_view prefix, std::string_view after, size_t max,
             const std::function<bool(std::string_view)>& keep = {}) const;

  /// Calls `fn(cf code, key, value)` for every event, snapshot, timer and
  /// entity-owned index row (owner/trades/disputes lists) of the entities in
  /// `shard` (a full scan; shard hand-off only). Node-local index rows
  /// (consumer offsets) are not part of any shard.
  /// Returns false if RocksDB reported an error or `fn` stopped early.
  bool export_shard(uint32_t shard,
                    const std::function<bool(uint8_t, std::string_view, std::string_view)>& fn) const;

  /// Timers due at or before `now_ms`, earliest first, at most `max`; with
  /// `keep`, only timers whose entity id it accepts (the others are skipped
  /// without counting, e.g. those of shards this node does not serve).
  std::vector<due_timer> due_timers(int64_t now_ms, size_t max,
                                    const std::function<bool(std::string_view)>& keep = {}) const;
  /// When the durable timer `name` of the entity fires; nullopt if none.
  std::optional<int64_t> timer_due(entity_kind kind, std::string_view entity_id,
                                   std::string_view name) const;

  /// Flushes memtables and closes; called by the destructor too.
  void close();

  struct impl;

private:
  explicit event_store(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// Key helpers, exposed for tests and tools.
std::string event_key(entity_kind kind, std::string_view entity_id, uint64_t seq);
std::string entity_prefix(entity_kind kind, std::string_view entity_id);

} // namespace tt::persistence
