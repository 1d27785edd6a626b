#pragma once
// The valuation service (seed §3.2, docs/valuation.md "In the node"): the
// one actor of a node that values tickets. It
// - follows the global log like the market feed (catch-up from offset 1 in
//   chunks at start, then `log_advanced` from the journal hook) and keeps the
//   tables the features come from in `valuation_tables`;
// - owns the loaded `valuation_model` (loaded on a thread of its own at start
//   and on `reload_model`, swapped in only when the load succeeded);
// - answers `valuate_ticket`: reads the ticket from the ticket region (the
//   truth; `not_found` passes through), computes its features, applies the
//   model's fallback rule and records the result on the ticket
//   (`record_valuation`, which writes `ticket_valued` only when the model
//   version, the method or the credit changed), then replies.
//
// Contract: money is integer minor units; no floating point leaves this
// actor except inside the model. Errors are `errc`: `unavailable` with field
// "model" while no model is loaded, with field "market" while the log is
// still being read at start; the ticket region's errors otherwise.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "actors/valuation_model.hpp"
#include "caf/fwd.hpp"
#include "messages/events.hpp"
#include "messages/interfaces.hpp"

namespace tt::persistence {
class event_store;
}

namespace tt::actors {

/// What a listing does not say about its event (the `--event-meta` file).
struct event_extra {
  int32_t team_rank = 0;      // 0: not a sports event (missing for the model)
  int32_t opponent_rank = 0;  // 0: none
  double demand_score = 0;    // 0..100
};

/// The `--event-meta` CSV (docs/valuation.md): the header line
/// `event_id,team_rank,opponent_rank,demand_score`, then one event per line;
/// ranks are integers 0..1000 (0 = not applicable), the demand score a number
/// 0..100; empty lines and a trailing '\r' are ignored; no quoting. Throws
/// valuation_error "<name>:<line>: <problem>" on the first bad line.
extern const char* const event_meta_csv_header;
std::unordered_map<std::string, event_extra> read_event_meta_csv(std::istream& in,
                                                                 const std::string& name);

/// The feature tables built from the log. Not thread-safe (one owner: the
/// valuation service). Rules (docs/valuation.md "In the node"):
/// - events: category, venue and start from the latest listing or update of
///   any ticket of the event; ranks and demand score from the extra table
///   (demand `default_demand_score` and no ranks when the event is not in it);
/// - section desirability: the section's median face value ranked among the
///   venue's sections seen in listings, scaled to [0, 1] (ties share their
///   mean rank; a venue with one known section gets 0.5);
/// - resale velocity: one trade per ticket of every completed trade, at the
///   completion time, for the ticket's event;
/// - resale medians: every ticket of a completed trade adds its asking price
///   (`price_minor`) at completion to its event and section.
class valuation_tables {
public:
  static constexpr double default_demand_score = 50;

  explicit valuation_tables(std::unordered_map<std::string, event_extra> extra = {});

  /// Applies one log event (offset order; events of any kind, others ignored).
  void apply(uint64_t offset, const event_envelope& ev);
  /// The next log offset to apply.
  uint64_t next_offset() const { return next_offset_; }

  /// The features of a ticket with fields `f` as of `at_ms`. A ticket the log
  /// has not shown yet (the feed lags the journal a little) is taken from `f`.
  valuation_features features(const ticket_fields& f, int64_t at_ms);

  /// The desirability the rule gives `section` of `venue` now (0.5 if unknown).
  double desirability(const std::string& venue, const std::string& section);

  const resale_medians& medians() const { return medians_; }
  /// Every completed trade's tickets as training rows (features at the
  /// completion, the listed price), oldest first: the retrain's log data.
  const std::vector<training_row>& sales() const { return sales_; }
  const market_data& data() const { return data_; }
  size_t tickets_seen() const { return tickets_.size(); }
  size_t trades_completed() const { return trades_completed_; }

private:
  struct ticket_row {
    std::string event_id;
    std::string venue;
    std::string section;
    int64_t face_value_minor = 0;
    int64_t price_minor = 0;
  };
  void see_ticket(const std::string& id, const ticket_fields& f);
  void put_event(const ticket_fields& f);
  void add_face(const std::string& venue, const std::string& section, int64_t face);
  void drop_face(const std::string& venue, const std::string& section, int64_t face);
  void refresh_venue(const std::string& venue);

  std::unordered_map<std::string, event_extra> extra_;
  std::unordered_map<std::string, ticket_row> tickets_;
  std::unordered_map<std::string, std::vector<std::string>> open_trades_;  // trade -> tickets
  // venue -> section -> face values of its tickets (sorted)
  std::unordered_map<std::string, std::map<std::string, std::vector<int64_t>>> faces_;
  std::unordered_set<std::string> dirty_venues_;
  market_data data_;
  resale_medians medians_;
  size_t trades_completed_ = 0;
  std::vector<training_row> sales_;
  uint64_t next_offset_ = 1;
};

/// The newest `*.model` file in `dir` (by modification time, then name), or
/// empty if there is none (or no such directory).
std::string newest_model_file(const std::string& dir);

struct valuation_service_config {
  std::string model_path;  // --model; empty: the newest *.model in models_dir
  std::string models_dir;  // <data-dir>/models
  std::unordered_map<std::string, event_extra> event_meta;  // --event-meta
  double threshold = valuation_model::default_confidence_threshold;
  std::chrono::milliseconds request_timeout{5000};  // to the ticket region
  /// Nightly retrain: the durable timer fires at `retrain_hour_utc` every
  /// day, or every `retrain_interval` if that is non-zero. The training set
  /// is a synthetic market of `retrain_base_sales` rows (docs/valuation.md)
  /// plus every sale in the log; fewer than 200 rows in all: skipped.
  /// Without a journal handle no retrain is scheduled.
  journal_actor journal;
  int retrain_hour_utc = 3;
  std::chrono::seconds retrain_interval{0};
  size_t retrain_base_sales = 20'000;
};

/// When the retrain timer should fire next after `now_ms`.
int64_t next_retrain_ms(int64_t now_ms, int retrain_hour_utc, std::chrono::seconds interval);

/// Spawns the service; it starts loading the model at once (on a detached
/// loader actor, so start-up never waits) and reads the log from offset 1.
valuation_service_actor spawn_valuation_service(caf::actor_system& sys,
                                                std::shared_ptr<const persistence::event_store> store,
                                                ticket_region_actor tickets,
                                                valuation_service_config cfg);

} // namespace tt::actors
