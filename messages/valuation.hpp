#pragma once
// Messages of the valuation service (actors/valuation_service.hpp answers
// them; docs/valuation.md defines the numbers). Money is integer minor units
// of `currency`; the confidence travels in parts per million (0..1000000) so
// replies and events carry no floating point.

#include <cstdint>
#include <string>
#include <vector>

#include "caf/meta/type_name.hpp"
#include "messages/entity.hpp"

namespace tt {

/// Value one ticket now. Errors: `not_found` (no such ticket), `unavailable`
/// with field "model" (no model loaded yet: train one with tt-train) or with
/// field "market" (the service is still reading the log at start), and the
/// ticket entity's errors when recording the valuation fails.
struct valuate_ticket {
  std::string ticket_id;
  request_meta meta;  // the caller: the actor of the ticket_valued event
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, valuate_ticket& x) {
  return f(caf::meta::type_name("tt.valuate_ticket"), x.ticket_id, x.meta);
}

/// One SHAP factor in minor units (actors/valuation_model.hpp `factor`).
struct valuation_factor {
  std::string feature;
  int64_t contribution_minor = 0;
  friend bool operator==(const valuation_factor&, const valuation_factor&) = default;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, valuation_factor& x) {
  return f(caf::meta::type_name("tt.valuation_factor"), x.feature, x.contribution_minor);
}

/// The answer to `valuate_ticket`. `method`: "model" (confidence >= 0.75),
/// "median_fallback" (the median resale price of the same event and section;
/// factors empty) or "model_low_confidence" (below 0.75 and no resale to take
/// a median of). `positive`/`negative`: up to three factors each.
struct ticket_valuation {
  std::string ticket_id;
  int64_t credit_minor = 0;
  std::string currency;
  uint32_t confidence_ppm = 0;
  std::string model_version;
  std::string method;
  uint32_t median_samples = 0;
  std::vector<valuation_factor> positive;
  std::vector<valuation_factor> negative;
  int64_t valued_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, ticket_valuation& x) {
  return f(caf::meta::type_name("tt.ticket_valuation"), x.ticket_id, x.credit_minor, x.currency,
           x.confidence_ppm, x.model_version, x.method, x.median_samples, x.positive, x.negative,
           x.valued_at_ms);
}

/// Load a model file and swap it in when it loads (the old one serves until
/// then, and stays if the load fails). `path` empty: the configured
/// `--model`, else the newest `*.model` in `<data-dir>/models/`. Replies once
/// the load finished (it runs on a thread of its own).
struct reload_model {
  std::string path;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, reload_model& x) {
  return f(caf::meta::type_name("tt.reload_model"), x.path);
}

/// Retrain now (the nightly durable timer "retrain" of entity
/// (unknown, "valuation") sends it; `tt-admin model retrain` too). The
/// service first moves that timer to the next run, then trains in the
/// background on the base market plus every sale in the log, saves
/// `<models>/tt-val-retrain-<ms>.model` and loads it. Replies at once with the
/// current status (`error` says why a retrain was skipped).
struct retrain_model {
  uint32_t version = 1;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, retrain_model& x) {
  return f(caf::meta::type_name("tt.retrain_model"), x.version);
}

/// What the service serves now. `metrics_json`: the model's validation
/// metrics (a JSON object, "{}" without a model); `error`: why the last load
/// failed (empty if it did not).
struct model_status {
  bool loaded = false;
  std::string version;
  std::string path;
  std::string metrics_json;
  std::string error;
  int64_t loaded_at_ms = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, model_status& x) {
  return f(caf::meta::type_name("tt.model_status"), x.loaded, x.version, x.path, x.metrics_json,
           x.error, x.loaded_at_ms);
}

} // namespace tt
