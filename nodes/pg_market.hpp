#pragma once
// The marketplace served from PostgreSQL (tt-node --postgres URL
// --marketplace-source postgres): the same query, the same pages and the same
// cursors as the in-memory index (actors/market_index.hpp), read from the
// `tickets` projection (persistence/migrations/004_marketplace.sql). The
// results are those of the projected log prefix: the projection's lag
// (tt_projection_lag_events) is how far behind they may be.
//
// Thread-safe: the edge's I/O threads call query() concurrently; each call
// borrows one connection of a small pool (a caller waits when all are busy)
// and runs one SELECT on it, so an I/O thread blocks for that query (bounded
// by statement_timeout). A broken connection is dropped and reopened by the
// next call.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "actors/market_index.hpp"

namespace tt::nodes {

struct pg_market_config {
  std::string url;  // libpq connection string or URI
  size_t connections = 4;
  std::chrono::milliseconds statement_timeout{2000};
  int connect_timeout_s = 3;
};

class pg_market {
public:
  explicit pg_market(pg_market_config cfg);
  ~pg_market();
  pg_market(const pg_market&) = delete;
  pg_market& operator=(const pg_market&) = delete;

  struct outcome {
    bool ok = false;
    std::string error;  // when !ok: why PostgreSQL did not answer
    actors::market_page page;
  };

  /// One page for `q` (validated by the route: limit 1..100). A malformed
  /// cursor answers ok with page.bad_cursor, like the index.
  outcome query(const actors::market_query& q);

  /// The SELECT for `q` (tests and EXPLAIN); `quote` quotes a text literal.
  /// Empty when the query cannot match anything (a text parameter that is
  /// not UTF-8 names no listing).
  static std::string sql_for(const actors::market_query& q, int64_t after_value,
                             const std::string& after_id, bool has_after,
                             const std::function<std::string(const std::string&)>& quote);

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tt::nodes
