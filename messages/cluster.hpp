#pragma once
// Messages between nodes of a cluster and from tt-admin, over CAF's middleman
// (the cluster port). Every request names the cluster's admin secret; a node
// answers nothing without it (errc::forbidden).

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"

namespace tt {

/// Version of the cluster wire structs (bumped on incompatible changes; a
/// node refuses a peer or admin shell that speaks another version).
constexpr uint32_t cluster_wire_version = 2;

/// A peer (or tt-admin) introducing itself to a node's gateway.
struct cluster_hello {
  uint32_t version = cluster_wire_version;
  std::string secret;
  std::string from;  // node name or "tt-admin"
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, cluster_hello& x) {
  return f(caf::meta::type_name("tt.cluster_hello"), x.version, x.secret, x.from);
}

/// One admin command (`args[0]` is the verb, as typed in tt-admin).
struct admin_command {
  uint32_t version = cluster_wire_version;
  std::string secret;
  std::vector<std::string> args;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_command& x) {
  return f(caf::meta::type_name("tt.admin_command"), x.version, x.secret, x.args);
}

/// The answer: a JSON document (tt-admin renders tables from it).
struct admin_reply {
  std::string json;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, admin_reply& x) {
  return f(caf::meta::type_name("tt.admin_reply"), x.json);
}

/// Shard hand-off: one chunk of a shard's entries from its old owner to the
/// new one (the new node's journal writes it). `done` marks the last chunk;
/// its ack carries what the old owner needs for the etcd transaction.
struct shard_import {
  uint32_t version = cluster_wire_version;
  std::string secret;
  uint32_t shard = 0;
  std::string from_node;
  std::vector<std::string> triples;  // (cf code, key, value) flattened
  /// 0 for the first chunk of a move (the target then clears what an earlier,
  /// interrupted move of this shard left behind), then 1, 2, ...
  uint32_t chunk = 0;
  bool done = false;
  /// The move was aborted: the target drops what it received (no triples).
  bool aborted = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shard_import& x) {
  return f(caf::meta::type_name("tt.shard_import"), x.version, x.secret, x.shard, x.from_node,
           x.triples, x.chunk, x.done, x.aborted);
}

struct shard_import_ack {
  std::string node_id;
  int64_t lease = 0;     // the receiving node's etcd lease (for the owner key)
  uint64_t written = 0;  // entries written by this chunk
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, shard_import_ack& x) {
  return f(caf::meta::type_name("tt.shard_import_ack"), x.node_id, x.lease, x.written);
}

/// A page of a node's global log for a peer's read models (the cluster-wide
/// marketplace): events with offset >= `from`, at most `max`.
struct read_log_page {
  uint32_t version = cluster_wire_version;
  std::string secret;
  uint64_t from = 1;
  uint32_t max = 1024;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_log_page& x) {
  return f(caf::meta::type_name("tt.read_log_page"), x.version, x.secret, x.from, x.max);
}

struct log_page {
  std::vector<std::string> events;  // encoded Event, in offset order from `from`
  uint64_t next = 1;                // the offset to ask for next
  uint64_t end = 1;                 // the log's end when read (next offset to be written)
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, log_page& x) {
  return f(caf::meta::type_name("tt.log_page"), x.events, x.next, x.end);
}

/// Rows of a node's secondary index for a peer's cluster-wide lists
/// (GET /api/v1/me/tickets, /me/trades ...): the rows under `prefix` whose
/// key suffix (an entity id) sorts after `after` (empty: from the start) and
/// whose entity's shard has the answering node as its home (so each row comes
/// from one node only, even while a moved shard's old copy remains), at most
/// `max` (capped at 1000), in key order.
struct read_index_range {
  uint32_t version = cluster_wire_version;
  std::string secret;
  std::string prefix;
  std::string after;
  uint32_t max = 100;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, read_index_range& x) {
  return f(caf::meta::type_name("tt.read_index_range"), x.version, x.secret, x.prefix, x.after,
           x.max);
}

struct index_rows {
  std::vector<std::string> ids;     // key suffixes, ascending
  std::vector<std::string> values;  // same order
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, index_rows& x) {
  return f(caf::meta::type_name("tt.index_rows"), x.ids, x.values);
}

} // namespace tt
