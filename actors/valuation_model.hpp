#pragma once
// Ticket valuation (seed §3.2): features of a ticket computed from market data,
// a gradient-boosted regression (XGBoost C API) of the resale price, SHAP
// factors, a calibrated confidence and the median-resale fallback.
// The definitions (features, confidence, files, CSV) are in docs/valuation.md.
//
// Contracts:
// - Money is integer minor units everywhere in this API (face values, prices,
//   valuations, SHAP contributions, MAE). Floats exist only inside the feature
//   vector handed to XGBoost and in unit-free quantities (scores, ratios).
// - Nothing here is an actor: a valuation actor owns one `valuation_model`.
//   `predict`/`valuate` are const and serialised by an internal mutex, so one
//   instance may also be shared between threads (they then take turns).
// - Never keep a `valuation_model` in a static or thread-local variable:
//   XGBoost's booster destructor uses XGBoost thread-local state, which is
//   gone once main() has returned (freeing a booster then crashes).
// - Failures (XGBoost errors, unreadable or inconsistent model files, bad
//   arguments) throw `valuation_error` with a message naming the cause; they
//   never abort the process.

#include <array>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace tt::actors {

class valuation_error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// ---------------------------------------------------------------------------
// Market data: where the features come from.

/// One event as the marketplace knows it (an event-metadata table row).
struct event_meta {
  std::string event_id;
  std::string category;       // "basketball", "concert", "theatre", ...
  std::string venue;
  int64_t starts_at_ms = 0;   // UTC
  int32_t team_rank = 0;      // league rank of the home team, 1 = best; 0 = not a sports event
  int32_t opponent_rank = 0;  // same for the opponent; 0 = none
  double demand_score = 0;    // search-interest index 0..100 (a Google-Trends-like score)
};

/// One section of a venue (a section table row). `desirability` is the
/// section desirability index in [0, 1] (1 = best seats of the venue).
struct section_info {
  std::string venue;
  std::string section;
  int32_t tier = 0;  // 1 = best tier of the venue
  double desirability = 0;
};

/// The features of one ticket at one moment (seed §3.2 "Feature Extraction").
struct valuation_features {
  double section_desirability = 0;  // [0, 1], from the section table
  double demand_score = 0;          // [0, 100], from the event
  double days_to_event = 0;         // (starts_at - at) in days, >= 0
  int32_t team_rank = 0;            // 0 = n/a (a missing value for the model)
  int32_t opponent_rank = 0;        // 0 = n/a
  double resale_velocity = 0;       // trades of this event in the 7 days before `at`
  std::string category;             // encoded by the model's vocabulary
  std::string venue;                // encoded by the model's vocabulary
  int32_t month = 0;                // 1..12 of the event start (UTC)
  int32_t weekday = 0;              // 0 = Sunday .. 6 = Saturday of the event start (UTC)
  int64_t face_value_minor = 0;     // printed price of the ticket
};

/// The event/section/trade tables the features are computed from. Contract:
/// `features` fails (nullopt) only when the event or the section is unknown;
/// `resale_velocity` counts the trades recorded with `add_trade` for the event
/// in [at - velocity_window, at) — the trade being valued is not counted.
class market_data {
public:
  static constexpr int64_t velocity_window_ms = 7LL * 86'400'000;

  void add_event(event_meta e);
  void add_section(section_info s);
  /// Records one completed resale of a ticket of `event_id` at `at_ms`.
  void add_trade(const std::string& event_id, int64_t at_ms);

  const event_meta* event(const std::string& event_id) const;
  const section_info* section(const std::string& venue, const std::string& section) const;
  size_t trades_between(const std::string& event_id, int64_t from_ms, int64_t to_ms) const;

  /// The features of a ticket of `event_id` in `section` with the given face
  /// value, as of `at_ms`.
  std::optional<valuation_features> features(const std::string& event_id,
                                             const std::string& section,
                                             int64_t face_value_minor, int64_t at_ms) const;

private:
  std::unordered_map<std::string, event_meta> events_;
  std::unordered_map<std::string, section_info> sections_;  // key: venue '\0' section
  std::unordered_map<std::string, std::vector<int64_t>> trades_;  // sorted times per event
};

// ---------------------------------------------------------------------------
// The feature vector.

inline constexpr size_t n_features = 11;

/// Feature names in vector order (also the SHAP factor names).
const std::array<std::string_view, n_features>& feature_names();

/// Category and venue codes: the sorted vocabulary seen in training; a value
/// outside it encodes as missing (NaN), which XGBoost routes by its learned
/// default direction.
struct feature_encoding {
  std::vector<std::string> categories;  // sorted, unique
  std::vector<std::string> venues;      // sorted, unique
  float category_code(const std::string& c) const;
  float venue_code(const std::string& v) const;
};

using feature_vector = std::array<float, n_features>;

/// The float vector XGBoost sees, in `feature_names()` order. Ranks of 0
/// become NaN (missing); category and venue their codes.
feature_vector to_vector(const valuation_features& f, const feature_encoding& enc);

// ---------------------------------------------------------------------------
// Training data and the median baseline.

/// One past sale: the ticket's features at the moment of sale and its price.
struct training_row {
  std::string event_id;
  std::string section;
  valuation_features features;
  int64_t price_minor = 0;  // > 0
};

/// Median resale price per (event, section) — the seed's fallback — and per
/// event. Medians of an even count are the lower of the two middle values
/// (an observed price, no rounding).
class resale_medians {
public:
  void add(const std::string& event_id, const std::string& section, int64_t price_minor);
  std::optional<int64_t> median(const std::string& event_id, const std::string& section) const;
  size_t count(const std::string& event_id, const std::string& section) const;
  std::optional<int64_t> event_median(const std::string& event_id) const;

private:
  static std::optional<int64_t> median_of(const std::vector<int64_t>* sorted);
  std::unordered_map<std::string, std::vector<int64_t>> by_section_;  // sorted prices
  std::unordered_map<std::string, std::vector<int64_t>> by_event_;
};

/// The training CSV (docs/valuation.md, "CSV format"): the header line
/// `training_csv_header`, then one sale per line; no quoting (text fields may
/// not contain ',' or '"'). Throws valuation_error "<name>:<line>: <problem>"
/// on the first bad line.
extern const char* const training_csv_header;
std::vector<training_row> read_training_csv(std::istream& in, const std::string& name);
void write_training_csv(std::ostream& out, const std::vector<training_row>& rows);

// ---------------------------------------------------------------------------
// The model.

struct train_params {
  int rounds = 150;              // boosting rounds of every ensemble member
  int max_depth = 5;             // SHAP cost grows with depth squared: 5 keeps a valuation < 1 ms
  double eta = 0.1;              // learning rate
  double subsample = 0.8;        // row subsampling per tree
  double colsample_bytree = 0.9;
  double min_child_weight = 2;
  double lambda = 1;             // L2 on leaf weights
  int members = 4;               // ensemble size (>= 2): member 0 on the training split, the rest on bootstrap resamples
                                 // (plus one shallow error model on their out-of-bag residuals)
  double validation_fraction = 0.2;
  uint64_t seed = 1;
  int threads = 1;               // XGBoost threads while training (prediction uses 1); >1 only on an idle machine
  double tolerance = 0.10;       // "accurate" = |relative error| < tolerance (confidence target)
  int calibration_bins = 10;
};

struct train_progress {
  int member = 0;     // 0-based ensemble member being trained
  int members = 0;
  int round = 0;      // rounds done of this member (1..rounds)
  int rounds = 0;
  double valid_mae_log = -1;  // member 0 only: MAE of log(price) on the validation split; -1 otherwise
};
using progress_callback = std::function<void(const train_progress&)>;

/// One bin of the confidence calibration table: held-out rows whose
/// uncertainty score is <= max_score (and above the previous bin's) were
/// accurate with probability `p` (after monotone smoothing); `n` rows, `hits`
/// accurate. Score and confidence are defined in docs/valuation.md.
struct calibration_bin {
  double max_score = 0;
  double p = 0;
  int64_t n = 0;
  int64_t hits = 0;
};

/// Validation metrics (held-out split; money in minor units).
struct valuation_metrics {
  int64_t train_rows = 0;
  int64_t validation_rows = 0;
  int64_t mae_minor = 0;           // model
  int64_t baseline_mae_minor = 0;  // median baseline (section -> event -> global median of the training split)
  double mae_ratio = 0;            // mae / baseline_mae
  double r2 = 0;                   // of the price (not the log)
  double median_ape = 0;           // median |relative error| of the model
  double accurate_fraction = 0;    // share with |relative error| < tolerance
  // Calibration check on the half of the validation split NOT used to fit the table:
  double mean_confidence = 0;      // mean predicted confidence there
  double confident_share = 0;      // share with confidence >= 0.75
  double confident_accurate = 0;   // accurate share among those (-1 if none)
  int64_t confident_mae_minor = 0; // model MAE among those
  // The fallback on that half: rows below 0.75 whose event and section have a
  // training-split median (what valuate() would answer with the median).
  double fallback_share = 0;
  int64_t fallback_model_mae_minor = 0;   // the model's MAE on those rows
  int64_t fallback_median_mae_minor = 0;  // the median's MAE on those rows
};

struct factor {
  std::string feature;           // a name from feature_names()
  int64_t contribution_minor = 0;
};

struct valuation {
  int64_t credit_minor = 0;
  double confidence = 0;  // see docs/valuation.md: P(|relative error| < tolerance)
  std::string model_version;
  std::vector<factor> positive;  // up to 3, largest first (> 0)
  std::vector<factor> negative;  // up to 3, most negative first (< 0)
  /// The expected value before any feature is known; bias + every feature's
  /// contribution == credit_minor exactly (for method "model").
  int64_t bias_minor = 0;
  /// "model"; "median_fallback" (confidence below the threshold: credit is the
  /// median resale price of the same event and section, factors empty);
  /// "model_low_confidence" (below the threshold but no resale to take a
  /// median of: the model's answer, flagged).
  std::string method;
  bool in_distribution = true;  // false: some feature outside the training range (confidence 0)
  int64_t median_samples = 0;   // resales behind a median_fallback
  /// Every feature's contribution (feature_names() order) for method "model"
  /// and "model_low_confidence"; empty for "median_fallback".
  std::vector<int64_t> contributions_minor;
};

class valuation_model {
public:
  static constexpr double default_confidence_threshold = 0.75;

  valuation_model();
  ~valuation_model();
  valuation_model(valuation_model&&) noexcept;
  valuation_model& operator=(valuation_model&&) noexcept;
  valuation_model(const valuation_model&) = delete;
  valuation_model& operator=(const valuation_model&) = delete;

  /// Trains the ensemble on `rows`: a seeded random `validation_fraction` is
  /// held out; members are trained on the rest; the held-out split gives the
  /// metrics and (one half of it) the confidence calibration. Replaces any
  /// loaded model. Needs >= 200 rows with price_minor > 0.
  valuation_metrics train(const std::vector<training_row>& rows, const train_params& params,
                          const progress_callback& progress = {});

  /// Writes `path` (the boosters) and `path + ".json"` (the sidecar).
  void save(const std::string& path) const;
  /// Reads both files; throws valuation_error naming the file and the problem.
  static valuation_model load(const std::string& path);

  bool trained() const;
  const std::string& version() const;
  const valuation_metrics& metrics() const;
  const feature_encoding& encoding() const;
  const std::vector<calibration_bin>& calibration() const;

  /// The model's valuation (method "model"; no threshold applied).
  valuation predict(const valuation_features& f) const;
  /// Several at once (one XGBoost call per member; used by training and benches).
  std::vector<valuation> predict_batch(const std::vector<valuation_features>& fs) const;

  /// The seed's rule: the model's valuation, or — when its confidence is below
  /// `threshold` — the median resale price of the same event and section.
  valuation valuate(const valuation_features& f, const resale_medians& medians,
                    const std::string& event_id, const std::string& section,
                    double threshold = default_confidence_threshold) const;

  /// The calibrated confidence of an uncertainty score (exposed for tests/docs).
  double confidence_of_score(double spread) const;

private:
  struct impl;
  std::unique_ptr<impl> p_;
};

} // namespace tt::actors
