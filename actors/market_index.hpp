#pragma once
// The marketplace read model: every `listed` ticket, kept in memory from the
// global event log, searchable by category / event / venue / text / price /
// start time and sorted by price, start time or creation, with stable
// cursors. Contract: one writer (the market feed actor applies events in log
// order); any number of readers (the edge's I/O threads) query concurrently
// under a shared lock. Rebuilt from the log at start (no state of its own).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "messages/events.hpp"

namespace tt::actors {

enum class market_sort : uint8_t { price = 0, starts_at = 1, created = 2 };

struct market_query {
  std::string category;
  std::string event_id;
  std::string venue;
  /// Words; each must start a word of the event name, venue or category
  /// (case-insensitive): "lak cel" finds "Lakers vs Celtics".
  std::string q;
  std::optional<int64_t> min_price;
  std::optional<int64_t> max_price;
  std::optional<int64_t> starts_after_ms;
  std::optional<int64_t> starts_before_ms;
  market_sort sort = market_sort::price;
  size_t limit = 20;
  /// From a previous page's next_cursor; empty: the first page. A cursor is
  /// "<sort value>.<ticket id>" of the last item of that page: the order is
  /// (sort value, ticket id in byte order), which every store can reproduce
  /// (the PostgreSQL marketplace, nodes/pg_market.hpp, gives the same pages).
  std::string cursor;
};

/// The words of a search text: lower-case (ASCII) runs of ASCII letters and
/// digits and non-ASCII bytes; everything else separates. A listing matches
/// `q` when each query word starts one of its words.
std::vector<std::string> market_words(std::string_view text);

/// Parses a cursor ("<int64>.<ticket id>"); false if malformed.
bool parse_market_cursor(std::string_view cursor, int64_t& value, std::string& id);
/// The cursor after the listing with this sort value and id.
std::string make_market_cursor(int64_t value, std::string_view id);


struct market_listing {
  std::string id;
  std::string seller;
  ticket_fields fields;
  int64_t created_at_ms = 0;
  int64_t updated_at_ms = 0;
  bool listed = false;
};

/// The value a listing sorts by under `s` (event start 0 when unknown).
int64_t market_sort_value(const market_listing& l, market_sort s);

struct market_page {
  std::vector<market_listing> items;
  std::string next_cursor;  // empty: no more
  bool bad_cursor = false;
};

class market_index {
public:
  market_index();
  market_index(const market_index&) = delete;
  market_index& operator=(const market_index&) = delete;

  /// Applies one event (ticket events change the index; others are ignored).
  /// Called by the writers in each log's order; `offset` is the event's
  /// offset in this node's log, or 0 for an event from a peer's log (cluster
  /// mode: it does not move this node's `next_offset`).
  void apply(uint64_t offset, const event_envelope& ev);

  /// One page of listed tickets matching `q`, in the requested order.
  market_page query(const market_query& q) const;

  /// The log offset up to which events were applied (next to apply).
  uint64_t next_offset() const;
  size_t listed_count() const;

  /// True once the writer caught up with the log as it was at start.
  bool ready() const;
  void set_ready();

private:
  /// A listed ticket in one order: its sort value, the first 8 bytes of its
  /// id (big-endian, zero-padded: orders like the id unless they tie), slot.
  struct key {
    int64_t value;
    uint64_t id_prefix;
    uint32_t slot;
  };
  /// (sort value, id) after a cursor or at a range start; an empty id is
  /// before every listing of that value.
  struct probe {
    int64_t value;
    uint64_t id_prefix;
    std::string_view id;
    probe(int64_t v, std::string_view i);
  };
  key key_of(uint32_t slot, market_sort s) const;
  /// Orders keys by (sort value, the slot's ticket id).
  struct key_less {
    using is_transparent = void;
    const std::vector<market_listing>* slots;
    bool operator()(const key& a, const key& b) const;
    bool operator()(const key& a, const probe& b) const;
    bool operator()(const probe& a, const key& b) const;
  };
  void index_in(uint32_t slot);
  void index_out(uint32_t slot);

  mutable std::shared_mutex mtx_;
  std::vector<market_listing> slots_;              // slot = order first seen in the log
  std::vector<std::string> search_;                // per slot: " word word ..." lower case
  std::map<std::string, std::vector<uint32_t>> words_;  // word -> slots (append-only)
  std::unordered_map<std::string, uint32_t> slot_of_;
  std::set<key, key_less> by_[3];                  // listed only, per market_sort
  std::unordered_map<std::string, std::unordered_set<uint32_t>> by_event_, by_venue_,
    by_category_;
  uint64_t next_offset_ = 1;
  bool ready_ = false;
};

} // namespace tt::actors

#include <memory>

#include "caf/fwd.hpp"
#include "messages/interfaces.hpp"

namespace tt::persistence {
class event_store;
}

namespace tt::actors {

/// Keeps `index` up to date from the store's global log: at start it catches
/// up from offset 1 in chunks (then marks the index ready), afterwards it
/// reads the new events on every `log_advanced` (sent by the journal hook).
market_feed_actor spawn_market_feed(caf::actor_system& sys,
                                    std::shared_ptr<const persistence::event_store> store,
                                    std::shared_ptr<market_index> index);

} // namespace tt::actors
