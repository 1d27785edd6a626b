#pragma once
// PostgreSQL projections of the global event log (read side, `tt-node
// --postgres URL`).
//
// A projector owns one thread. It connects (libpqxx), applies the SQL
// migrations compiled in from persistence/migrations/NNN_name.sql (tracked in
// `schema_migrations`), then follows the log: it reads up to `batch` events
// after the offset stored in `projection_offsets` and, in ONE transaction,
// upserts the rows those events imply and moves that offset. A crash of the
// node or of PostgreSQL therefore loses or repeats nothing: after a restart it
// resumes from the committed offset. When PostgreSQL is unreachable it
// reconnects with exponential backoff; actors and the journal never wait for
// it (the journal's on_commit only calls `notify`, which takes a mutex for a
// few instructions).
//
// The row mapping (`pg_rows_for`) is a pure function of (offset, event), so
// tests can check it without a database.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "messages/events.hpp"

namespace prometheus {
class Registry;
}

namespace tt::persistence {

class event_store;

// -- row mapping (pure) ---------------------------------------------------------

struct pg_column {
  enum class how : uint8_t {
    set,          // column = value (upsert: also on conflict)
    insert_only,  // only when the row is created (upsert); never overwritten
    add,          // column = column + value (integers)
    expr,         // column = <value as raw SQL> (update only; a constant of this file)
  };
  std::string name;
  std::optional<std::string> value;  // nullopt: SQL NULL
  how mode = how::set;

  friend bool operator==(const pg_column&, const pg_column&) = default;
};

struct pg_key {
  std::string name;
  std::string value;
  bool negate = false;  // update only: column <> value

  friend bool operator==(const pg_key&, const pg_key&) = default;
};

struct pg_row_op {
  enum class kind : uint8_t { insert, upsert, update };
  kind op = kind::insert;
  std::string table;
  std::vector<pg_key> keys;  // insert/upsert: conflict target columns; update: WHERE
  std::vector<pg_column> columns;

  /// The column named `name`, or nullptr.
  const pg_column* column(std::string_view name) const;
  /// The key named `name`, or nullptr.
  const pg_key* key(std::string_view name) const;
};

/// The row changes one event implies, in order: always exactly one
/// `audit_log` insert (first), then the projection rows of its type.
/// `log`: the projector's name, stored with the rows keyed by offset
/// (audit_log, payments, valuation_history), as nodes may share a database.
std::vector<pg_row_op> pg_rows_for(uint64_t offset, const event_envelope& ev,
                                   std::string_view log = "main");
/// Bytes at `offset` that do not decode: only the audit row (action
/// "undecodable"), so the offsets stay gap-free.
std::vector<pg_row_op> pg_rows_for_undecodable(uint64_t offset, std::string_view log = "main");

/// One SQL statement for `op` (literals quoted for standard_conforming_strings
/// = on; text is sanitised: NUL dropped, invalid UTF-8 replaced by U+FFFD).
std::string pg_sql(const pg_row_op& op);
/// One multi-row INSERT or upsert (ending ";\n") for ops of the same shape
/// (kind, table, columns and modes; for upserts, distinct rows — PostgreSQL
/// refuses to update a row twice in one statement), e.g. a batch's audit
/// rows; otherwise each op's own statement. Empty for no ops.
std::string pg_sql_rows_many(std::span<const pg_row_op> ops);
/// Whether two ops render the same statement shape (kind, table, columns,
/// modes), so pg_sql_rows_many can merge them.
bool same_shape_op(const pg_row_op& a, const pg_row_op& b);
/// The SQL of one batch of consecutive log events — what the projector runs
/// in one transaction before it moves its offset. Fewer statements for
/// PostgreSQL to parse than one per row: the audit rows (independent of the
/// rest) become one multi-row INSERT at the end, and a run of same-shaped
/// upserts of distinct rows of one table (a stream of listings) one
/// multi-row upsert. A run ends before any other statement on its table (an
/// update must see the rows), at a change of shape, and at a second upsert
/// of a row already in it; statements on other tables may pass it (no
/// projection statement reads another table).
class pg_batch_sql {
public:
  /// `log`: the projector's name (see pg_rows_for).
  explicit pg_batch_sql(std::string log = "main") : log_(std::move(log)) {}

  /// The event at `offset`; nullptr: bytes that do not decode.
  void add(uint64_t offset, const event_envelope* ev);
  /// The batch's statements (each ending ";\n"); empties the builder.
  std::string take();

private:
  static std::string row_key(const pg_row_op& op);
  void flush_run();

  std::string log_;
  std::string sql_;
  std::vector<pg_row_op> audit_, run_;
  std::unordered_set<std::string> run_rows_;
};

/// `url` (a libpq URI or key=value string) with connect_timeout added
/// unless it names one or `connect_timeout_s` <= 0.
std::string pg_conninfo(const std::string& url, int connect_timeout_s);
/// A SQL string literal ('...').
std::string pg_literal(std::string_view s);
/// Milliseconds since the epoch as an ISO-8601 UTC timestamp literal body.
std::string pg_time(int64_t ms);

// -- migrations -------------------------------------------------------------------

struct pg_migration {
  std::string_view name;  // "001_projections"
  std::string_view sql;
};
/// Compiled in from persistence/migrations/*.sql, in name order.
std::span<const pg_migration> pg_migrations();

// -- the projector ------------------------------------------------------------------

struct pg_projection_config {
  std::string url;                // libpq connection string or URI
  std::string name = "main";      // its row in projection_offsets
  size_t batch_events = 1000;     // events per transaction
  std::chrono::milliseconds backoff_min{100};
  std::chrono::milliseconds backoff_max{5000};
  std::chrono::milliseconds idle_poll{500};  // re-checks the log end this often anyway
  int connect_timeout_s = 3;      // added to the URL unless it names one
};

class pg_projector {
public:
  pg_projector(pg_projection_config cfg, std::shared_ptr<const event_store> store,
               prometheus::Registry* metrics);
  ~pg_projector();
  pg_projector(const pg_projector&) = delete;
  pg_projector& operator=(const pg_projector&) = delete;

  /// Starts the projector thread (returns at once; connecting happens there).
  void start();
  /// The log end moved (called by the journal's on_commit): wakes the thread.
  void notify(uint64_t next_offset);
  /// Stops and joins the thread (an open transaction is rolled back).
  /// Idempotent; notify() afterwards is a no-op.
  void stop();

  /// The last offset committed to PostgreSQL (0: none yet).
  uint64_t projected_offset() const;
  bool connected() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tt::persistence
