#include "actors/valuation_model.hpp"

#include <xgboost/c_api.h>

#include <boost/json.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <istream>
#include <limits>
#include <numeric>
#include <ostream>
#include <sstream>

namespace tt::actors {

namespace {

constexpr int64_t day_ms = 86'400'000;
constexpr char model_magic[8] = {'T', 'T', 'V', 'A', 'L', 'M', '1', '\n'};
constexpr int sidecar_format_version = 1;

// --- small helpers ---------------------------------------------------------

int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// Month (1..12) of a day count since 1970-01-01 (H. Hinnant's civil_from_days).
int32_t month_of_days(int64_t z) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  return static_cast<int32_t>(mp < 10 ? mp + 3 : mp - 9);
}

uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 1469598103934665603ULL) {
  auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

std::string hex64(uint64_t x) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(x));
  return buf;
}

// Deterministic split/bootstrap randomness (splitmix64).
struct splitmix {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) {
    return static_cast<size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
};

std::string section_key(const std::string& a, const std::string& b) {
  std::string k;
  k.reserve(a.size() + b.size() + 1);
  k += a;
  k += '\0';
  k += b;
  return k;
}

// --- XGBoost handles ---------------------------------------------------------

void xgb(int rc, const char* what) {
  if (rc != 0)
    throw valuation_error(std::string("XGBoost: ") + what + ": " + XGBGetLastError());
}

struct dmatrix {
  DMatrixHandle h = nullptr;
  dmatrix(const float* data, size_t rows, size_t cols) {
    xgb(XGDMatrixCreateFromMat(data, static_cast<bst_ulong>(rows), static_cast<bst_ulong>(cols),
                               std::numeric_limits<float>::quiet_NaN(), &h),
        "creating a DMatrix");
  }
  ~dmatrix() {
    if (h)
      XGDMatrixFree(h);
  }
  dmatrix(const dmatrix&) = delete;
  dmatrix& operator=(const dmatrix&) = delete;
};

struct booster {
  BoosterHandle h = nullptr;
  booster() = default;
  explicit booster(BoosterHandle x) : h(x) {}
  booster(booster&& o) noexcept : h(std::exchange(o.h, nullptr)) {}
  booster& operator=(booster&& o) noexcept {
    std::swap(h, o.h);
    return *this;
  }
  ~booster() {
    if (h)
      XGBoosterFree(h);
  }
  void set(const char* k, const std::string& v) {
    xgb(XGBoosterSetParam(h, k, v.c_str()), k);
  }
};

// type 0: values; type 2: SHAP contributions (n x (features + 1), bias last).
std::vector<float> xgb_predict(const booster& b, const dmatrix& d, int type, size_t expect) {
  char cfg[160];
  std::snprintf(cfg, sizeof cfg,
                "{\"type\": %d, \"training\": false, \"iteration_begin\": 0, "
                "\"iteration_end\": 0, \"strict_shape\": false}",
                type);
  const bst_ulong* shape = nullptr;
  bst_ulong dim = 0;
  const float* out = nullptr;
  xgb(XGBoosterPredictFromDMatrix(b.h, d.h, cfg, &shape, &dim, &out), "predicting");
  size_t n = 1;
  for (bst_ulong i = 0; i < dim; ++i)
    n *= static_cast<size_t>(shape[i]);
  if (n != expect)
    throw valuation_error("XGBoost: prediction has " + std::to_string(n) + " values, expected "
                          + std::to_string(expect));
  return {out, out + n};
}

// Doubles that go through the sidecar sit on a 1e-9 grid: Boost.JSON 1.81
// parses decimals to within an ulp, not always exactly, and re-snapping the
// parsed value to the grid gives back the very same double.
double grid(double x) {
  return std::round(x * 1e9) / 1e9;
}

std::string fmt_double(double x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

std::vector<char> read_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw valuation_error("cannot open " + std::string(what) + " " + path + ": "
                          + std::strerror(errno));
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file_atomically(const std::string& path, const void* data, size_t n) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out)
      throw valuation_error("cannot write " + tmp + ": " + std::strerror(errno));
    out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n));
    out.flush();
    if (!out)
      throw valuation_error("cannot write " + tmp + ": " + std::strerror(errno));
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    throw valuation_error("cannot rename " + tmp + " to " + path + ": " + std::strerror(errno));
}

} // namespace

// ---------------------------------------------------------------------------
// market_data

void market_data::add_event(event_meta e) {
  auto id = e.event_id;
  events_[id] = std::move(e);
}

void market_data::add_section(section_info s) {
  auto k = section_key(s.venue, s.section);
  sections_[k] = std::move(s);
}

void market_data::add_trade(const std::string& event_id, int64_t at_ms) {
  auto& v = trades_[event_id];
  v.insert(std::upper_bound(v.begin(), v.end(), at_ms), at_ms);
}

const event_meta* market_data::event(const std::string& event_id) const {
  auto i = events_.find(event_id);
  return i == events_.end() ? nullptr : &i->second;
}

const section_info* market_data::section(const std::string& venue,
                                         const std::string& section) const {
  auto i = sections_.find(section_key(venue, section));
  return i == sections_.end() ? nullptr : &i->second;
}

size_t market_data::trades_between(const std::string& event_id, int64_t from_ms,
                                   int64_t to_ms) const {
  auto i = trades_.find(event_id);
  if (i == trades_.end() || to_ms <= from_ms)
    return 0;
  const auto& v = i->second;
  return static_cast<size_t>(std::lower_bound(v.begin(), v.end(), to_ms)
                             - std::lower_bound(v.begin(), v.end(), from_ms));
}

std::optional<valuation_features> market_data::features(const std::string& event_id,
                                                        const std::string& section_name,
                                                        int64_t face_value_minor,
                                                        int64_t at_ms) const {
  const auto* e = event(event_id);
  if (!e)
    return std::nullopt;
  const auto* s = section(e->venue, section_name);
  if (!s)
    return std::nullopt;
  valuation_features f;
  f.section_desirability = s->desirability;
  f.demand_score = e->demand_score;
  f.days_to_event = std::max<double>(0, static_cast<double>(e->starts_at_ms - at_ms) / day_ms);
  f.team_rank = e->team_rank;
  f.opponent_rank = e->opponent_rank;
  f.resale_velocity =
    static_cast<double>(trades_between(event_id, at_ms - velocity_window_ms, at_ms));
  f.category = e->category;
  f.venue = e->venue;
  int64_t days = floor_div(e->starts_at_ms, day_ms);
  f.month = month_of_days(days);
  f.weekday = static_cast<int32_t>(((days + 4) % 7 + 7) % 7);  // 1970-01-01 was a Thursday
  f.face_value_minor = face_value_minor;
  return f;
}

// ---------------------------------------------------------------------------
// feature vector

const std::array<std::string_view, n_features>& feature_names() {
  static const std::array<std::string_view, n_features> names = {
    "section_desirability", "demand_score", "days_to_event", "team_rank",
    "opponent_rank",        "resale_velocity", "category",   "venue",
    "event_month",          "event_weekday",   "face_value"};
  return names;
}

namespace {
float code_in(const std::vector<std::string>& vocab, const std::string& x) {
  auto i = std::lower_bound(vocab.begin(), vocab.end(), x);
  if (i == vocab.end() || *i != x)
    return std::numeric_limits<float>::quiet_NaN();
  return static_cast<float>(i - vocab.begin());
}
} // namespace

float feature_encoding::category_code(const std::string& c) const {
  return code_in(categories, c);
}

float feature_encoding::venue_code(const std::string& v) const {
  return code_in(venues, v);
}

feature_vector to_vector(const valuation_features& f, const feature_encoding& enc) {
  constexpr float nan = std::numeric_limits<float>::quiet_NaN();
  return {static_cast<float>(f.section_desirability),
          static_cast<float>(f.demand_score),
          static_cast<float>(f.days_to_event),
          f.team_rank > 0 ? static_cast<float>(f.team_rank) : nan,
          f.opponent_rank > 0 ? static_cast<float>(f.opponent_rank) : nan,
          static_cast<float>(f.resale_velocity),
          enc.category_code(f.category),
          enc.venue_code(f.venue),
          static_cast<float>(f.month),
          static_cast<float>(f.weekday),
          static_cast<float>(f.face_value_minor)};
}

// ---------------------------------------------------------------------------
// resale_medians

void resale_medians::add(const std::string& event_id, const std::string& section,
                         int64_t price_minor) {
  auto put = [price_minor](std::vector<int64_t>& v) {
    v.insert(std::upper_bound(v.begin(), v.end(), price_minor), price_minor);
  };
  put(by_section_[section_key(event_id, section)]);
  put(by_event_[event_id]);
}

std::optional<int64_t> resale_medians::median_of(const std::vector<int64_t>* v) {
  if (!v || v->empty())
    return std::nullopt;
  return (*v)[(v->size() - 1) / 2];
}

std::optional<int64_t> resale_medians::median(const std::string& event_id,
                                              const std::string& section) const {
  auto i = by_section_.find(section_key(event_id, section));
  return median_of(i == by_section_.end() ? nullptr : &i->second);
}

size_t resale_medians::count(const std::string& event_id, const std::string& section) const {
  auto i = by_section_.find(section_key(event_id, section));
  return i == by_section_.end() ? 0 : i->second.size();
}

std::optional<int64_t> resale_medians::event_median(const std::string& event_id) const {
  auto i = by_event_.find(event_id);
  return median_of(i == by_event_.end() ? nullptr : &i->second);
}

// ---------------------------------------------------------------------------
// CSV

const char* const training_csv_header =
  "event_id,section,category,venue,section_desirability,demand_score,days_to_event,"
  "team_rank,opponent_rank,resale_velocity,event_month,event_weekday,face_value_minor,"
  "price_minor";

namespace {

constexpr size_t csv_columns = 14;
const char* const csv_names[csv_columns] = {
  "event_id",        "section",       "category",      "venue",
  "section_desirability", "demand_score", "days_to_event", "team_rank",
  "opponent_rank",   "resale_velocity", "event_month", "event_weekday",
  "face_value_minor", "price_minor"};

struct csv_line_error {
  std::string msg;
};

int64_t parse_int(std::string_view s, size_t col) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size())
    throw csv_line_error{std::string("column ") + csv_names[col] + ": '" + std::string(s)
                         + "' is not an integer"
                         + (col >= 12 ? " (money is integer minor units)" : "")};
  return v;
}

double parse_real(std::string_view s, size_t col) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (s.empty() || ec != std::errc{} || p != s.data() + s.size() || !std::isfinite(v))
    throw csv_line_error{std::string("column ") + csv_names[col] + ": '" + std::string(s)
                         + "' is not a number"};
  return v;
}

void check_range(bool ok, size_t col, const std::string& rule) {
  if (!ok)
    throw csv_line_error{std::string("column ") + csv_names[col] + ": must be " + rule};
}

} // namespace

std::vector<training_row> read_training_csv(std::istream& in, const std::string& name) {
  std::vector<training_row> rows;
  std::string line;
  size_t lineno = 0;
  bool header = false;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r')
      line.pop_back();
    if (line.empty())
      continue;
    auto where = name + ":" + std::to_string(lineno) + ": ";
    if (!header) {
      if (line != training_csv_header)
        throw valuation_error(where + "the header must be exactly: " + training_csv_header);
      header = true;
      continue;
    }
    std::vector<std::string_view> f;
    std::string_view rest = line;
    for (;;) {
      auto c = rest.find(',');
      f.push_back(rest.substr(0, c));
      if (c == std::string_view::npos)
        break;
      rest.remove_prefix(c + 1);
    }
    try {
      if (f.size() != csv_columns)
        throw csv_line_error{"expected " + std::to_string(csv_columns) + " fields, got "
                             + std::to_string(f.size())};
      if (line.find('"') != std::string::npos)
        throw csv_line_error{"quotes are not supported"};
      for (size_t c = 0; c < 4; ++c)
        check_range(!f[c].empty(), c, "non-empty");
      training_row r;
      r.event_id = f[0];
      r.section = f[1];
      auto& x = r.features;
      x.category = f[2];
      x.venue = f[3];
      x.section_desirability = parse_real(f[4], 4);
      check_range(x.section_desirability >= 0 && x.section_desirability <= 1, 4, "in [0, 1]");
      x.demand_score = parse_real(f[5], 5);
      check_range(x.demand_score >= 0 && x.demand_score <= 100, 5, "in [0, 100]");
      x.days_to_event = parse_real(f[6], 6);
      check_range(x.days_to_event >= 0, 6, ">= 0");
      x.team_rank = static_cast<int32_t>(parse_int(f[7], 7));
      check_range(x.team_rank >= 0 && x.team_rank <= 1000, 7, "in [0, 1000] (0 = n/a)");
      x.opponent_rank = static_cast<int32_t>(parse_int(f[8], 8));
      check_range(x.opponent_rank >= 0 && x.opponent_rank <= 1000, 8, "in [0, 1000] (0 = n/a)");
      x.resale_velocity = parse_real(f[9], 9);
      check_range(x.resale_velocity >= 0, 9, ">= 0");
      x.month = static_cast<int32_t>(parse_int(f[10], 10));
      check_range(x.month >= 1 && x.month <= 12, 10, "in [1, 12]");
      x.weekday = static_cast<int32_t>(parse_int(f[11], 11));
      check_range(x.weekday >= 0 && x.weekday <= 6, 11, "in [0, 6] (0 = Sunday)");
      x.face_value_minor = parse_int(f[12], 12);
      check_range(x.face_value_minor > 0, 12, "> 0");
      r.price_minor = parse_int(f[13], 13);
      check_range(r.price_minor > 0, 13, "> 0");
      rows.push_back(std::move(r));
    } catch (const csv_line_error& e) {
      throw valuation_error(where + e.msg);
    }
  }
  if (!header)
    throw valuation_error(name + ": empty file (expected the header line: " + training_csv_header
                          + ")");
  return rows;
}

void write_training_csv(std::ostream& out, const std::vector<training_row>& rows) {
  out << training_csv_header << '\n';
  char buf[512];
  for (const auto& r : rows) {
    const auto& x = r.features;
    std::snprintf(buf, sizeof buf, ",%.6g,%.6g,%.6g,%d,%d,%.6g,%d,%d,%lld,%lld\n",
                  x.section_desirability, x.demand_score, x.days_to_event, x.team_rank,
                  x.opponent_rank, x.resale_velocity, x.month, x.weekday,
                  static_cast<long long>(x.face_value_minor),
                  static_cast<long long>(r.price_minor));
    out << r.event_id << ',' << r.section << ',' << x.category << ',' << x.venue << buf;
  }
}

// ---------------------------------------------------------------------------
// valuation_model

struct valuation_model::impl {
  std::vector<booster> members;  // [0] is the predictor; all give the spread
  booster error_model;           // expected |log error| (trained on out-of-bag residuals)
  feature_encoding enc;
  std::array<std::pair<float, float>, n_features> ranges{};  // allowed [lo, hi] per feature
  std::vector<calibration_bin> bins;
  valuation_metrics metrics;
  train_params params;
  std::string version;
  std::string xgboost_version;
  mutable std::mutex mu;

  bool in_range(const feature_vector& x) const {
    for (size_t i = 0; i < n_features; ++i) {
      if (std::isnan(x[i])) {
        // Unknown category or venue: never seen in training.
        if (i == 6 || i == 7)
          return false;
        continue;
      }
      if (x[i] < ranges[i].first || x[i] > ranges[i].second)
        return false;
    }
    return true;
  }

  double confidence(double spread) const {
    if (bins.empty())
      return 0;
    for (const auto& b : bins)
      if (spread <= b.max_score)
        return b.p;
    return bins.back().p;
  }

  // Ensemble output for n rows: the uncertainty score, whether the row is
  // inside the training ranges and — after shap() — member 0's SHAP values
  // (n x (F + 1), bias last; log space).
  struct raw {
    std::unique_ptr<dmatrix> d;
    std::vector<double> score;  // the uncertainty score u (see docs/valuation.md)
    std::vector<char> in_dist;
    std::vector<float> contribs;
  };

  raw run(const std::vector<feature_vector>& xs) const {
    raw out;
    size_t n = xs.size();
    if (members.empty())
      throw valuation_error("valuation model: not trained or loaded");
    if (n == 0)
      return out;
    out.d = std::make_unique<dmatrix>(xs.front().data(), n, n_features);
    std::vector<std::vector<float>> ys;
    for (const auto& m : members)
      ys.push_back(xgb_predict(m, *out.d, 0, n));
    auto err = xgb_predict(error_model, *out.d, 0, n);
    out.score.resize(n);
    out.in_dist.resize(n);
    double k = static_cast<double>(members.size());
    for (size_t r = 0; r < n; ++r) {
      double sum = 0, sq = 0;
      for (const auto& y : ys) {
        sum += y[r];
        sq += static_cast<double>(y[r]) * y[r];
      }
      double mean = sum / k;
      double spread = std::sqrt(std::max(0.0, (sq - k * mean * mean) / (k - 1)));
      double e = std::max(0.0, static_cast<double>(err[r]));
      out.score[r] = std::sqrt(spread * spread + e * e);
      out.in_dist[r] = in_range(xs[r]);
    }
    return out;
  }

  void shap(raw& x) const {
    size_t n = x.score.size();
    if (n)
      x.contribs = xgb_predict(members[0], *x.d, 2, n * (n_features + 1));
  }

  double confidence_at(const raw& x, size_t r) const {
    return x.in_dist[r] ? confidence(x.score[r]) : 0.0;
  }

  valuation make(const raw& x, size_t r) const {
    valuation v;
    v.model_version = version;
    v.method = "model";
    v.in_distribution = x.in_dist[r] != 0;
    v.confidence = confidence_at(x, r);
    const float* c = &x.contribs[r * (n_features + 1)];
    double bias = c[n_features];
    double total = bias;
    for (size_t i = 0; i < n_features; ++i)
      total += c[i];
    // Log-space SHAP -> minor units: each feature's share of (P - B) is its
    // share of (log P - log B), i.e. contributions are scaled by the
    // logarithmic mean of P and B. Signs are kept and they sum to P - B.
    double p = std::exp(total), b = std::exp(bias);
    double d = total - bias;
    double scale = std::fabs(d) > 1e-12 ? (p - b) / d : p;
    v.credit_minor = std::max<int64_t>(1, std::llround(p));
    v.contributions_minor.resize(n_features);
    int64_t sum = 0;
    for (size_t i = 0; i < n_features; ++i) {
      v.contributions_minor[i] = std::llround(c[i] * scale);
      sum += v.contributions_minor[i];
    }
    v.bias_minor = v.credit_minor - sum;  // absorbs the rounding (<= n_features / 2 + 1)
    std::vector<size_t> idx(n_features);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b2) {
      return v.contributions_minor[a] > v.contributions_minor[b2];
    });
    for (size_t i : idx)
      if (v.contributions_minor[i] > 0 && v.positive.size() < 3)
        v.positive.push_back({std::string(feature_names()[i]), v.contributions_minor[i]});
    for (auto it = idx.rbegin(); it != idx.rend(); ++it)
      if (v.contributions_minor[*it] < 0 && v.negative.size() < 3)
        v.negative.push_back({std::string(feature_names()[*it]), v.contributions_minor[*it]});
    return v;
  }

  std::vector<uint8_t> serialize_members() const;
  std::vector<const booster*> all() const {  // members, then the error model
    std::vector<const booster*> v;
    for (const auto& m : members)
      v.push_back(&m);
    v.push_back(&error_model);
    return v;
  }
};

valuation_model::valuation_model() : p_(std::make_unique<impl>()) {
  int major = 0, minor = 0, patch = 0;
  XGBoostVersion(&major, &minor, &patch);
  p_->xgboost_version =
    std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
}
valuation_model::~valuation_model() = default;
valuation_model::valuation_model(valuation_model&&) noexcept = default;
valuation_model& valuation_model::operator=(valuation_model&&) noexcept = default;

bool valuation_model::trained() const {
  return p_ && !p_->members.empty();
}
const std::string& valuation_model::version() const {
  return p_->version;
}
const valuation_metrics& valuation_model::metrics() const {
  return p_->metrics;
}
const feature_encoding& valuation_model::encoding() const {
  return p_->enc;
}
const std::vector<calibration_bin>& valuation_model::calibration() const {
  return p_->bins;
}
double valuation_model::confidence_of_score(double spread) const {
  return p_->confidence(spread);
}

namespace {

std::vector<uint8_t> booster_bytes(const booster& b) {
  bst_ulong len = 0;
  const char* data = nullptr;
  xgb(XGBoosterSaveModelToBuffer(b.h, "{\"format\": \"ubj\"}", &len, &data), "serialising");
  return {reinterpret_cast<const uint8_t*>(data), reinterpret_cast<const uint8_t*>(data) + len};
}

void put_u64(std::vector<uint8_t>& out, uint64_t x) {
  for (int i = 0; i < 8; ++i)
    out.push_back(static_cast<uint8_t>(x >> (8 * i)));
}

// Pool-adjacent-violators: the weighted least-squares non-increasing fit.
void make_non_increasing(std::vector<calibration_bin>& bins) {
  struct block {
    double hits, n;
    size_t count;
  };
  std::vector<block> st;
  for (const auto& b : bins) {
    st.push_back({static_cast<double>(b.hits), static_cast<double>(b.n), 1});
    while (st.size() > 1) {
      auto& a = st[st.size() - 2];
      auto& c = st.back();
      if (a.hits / a.n >= c.hits / c.n)
        break;
      a.hits += c.hits;
      a.n += c.n;
      a.count += c.count;
      st.pop_back();
    }
  }
  size_t i = 0;
  for (const auto& b : st)
    for (size_t k = 0; k < b.count; ++k)
      bins[i++].p = b.hits / b.n;
}

} // namespace

std::vector<uint8_t> valuation_model::impl::serialize_members() const {
  std::vector<uint8_t> out(model_magic, model_magic + sizeof model_magic);
  put_u64(out, members.size() + 1);
  for (const auto* m : all()) {
    auto bytes = booster_bytes(*m);
    put_u64(out, bytes.size());
    out.insert(out.end(), bytes.begin(), bytes.end());
  }
  return out;
}

valuation_metrics valuation_model::train(const std::vector<training_row>& rows,
                                         const train_params& prm,
                                         const progress_callback& progress) {
  if (rows.size() < 200)
    throw valuation_error("valuation model: need at least 200 rows to train, got "
                          + std::to_string(rows.size()));
  if (prm.members < 2)
    throw valuation_error("valuation model: members must be >= 2 (the spread needs two)");
  if (prm.rounds < 1)
    throw valuation_error("valuation model: rounds must be >= 1");
  if (!(prm.validation_fraction > 0 && prm.validation_fraction < 0.9))
    throw valuation_error("valuation model: validation_fraction must be in (0, 0.9)");
  for (const auto& r : rows)
    if (r.price_minor <= 0)
      throw valuation_error("valuation model: price_minor must be > 0 (event " + r.event_id
                            + ", section " + r.section + ")");

  auto fresh = std::make_unique<impl>();
  fresh->xgboost_version = p_->xgboost_version;
  auto& m = *fresh;
  m.params = prm;

  // Split: a seeded shuffle; the first `n_valid` rows are held out.
  std::vector<size_t> order(rows.size());
  std::iota(order.begin(), order.end(), 0);
  splitmix rng{prm.seed * 0x2545F4914F6CDD1DULL + 17};
  for (size_t i = order.size(); i > 1; --i)
    std::swap(order[i - 1], order[rng.below(i)]);
  size_t n_valid = std::max<size_t>(100, static_cast<size_t>(prm.validation_fraction
                                                             * static_cast<double>(rows.size())));
  std::vector<size_t> valid(order.begin(), order.begin() + static_cast<ptrdiff_t>(n_valid));
  std::vector<size_t> train(order.begin() + static_cast<ptrdiff_t>(n_valid), order.end());

  for (size_t i : train) {
    m.enc.categories.push_back(rows[i].features.category);
    m.enc.venues.push_back(rows[i].features.venue);
  }
  for (auto* v : {&m.enc.categories, &m.enc.venues}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }

  std::vector<float> xtrain;
  xtrain.reserve(train.size() * n_features);
  std::vector<float> ytrain;
  double ysum = 0;
  std::array<std::pair<float, float>, n_features> seen;
  seen.fill({std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()});
  for (size_t i : train) {
    auto x = to_vector(rows[i].features, m.enc);
    for (size_t k = 0; k < n_features; ++k)
      if (!std::isnan(x[k]))
        seen[k] = {std::min(seen[k].first, x[k]), std::max(seen[k].second, x[k])};
    xtrain.insert(xtrain.end(), x.begin(), x.end());
    float y = static_cast<float>(std::log(static_cast<double>(rows[i].price_minor)));
    ytrain.push_back(y);
    ysum += y;
  }
  // The training range widened by 5% of its width on each side; a feature
  // never seen (all missing) accepts only missing.
  for (size_t k = 0; k < n_features; ++k) {
    auto [lo, hi] = seen[k];
    if (lo > hi) {
      m.ranges[k] = {1, 0};
      continue;
    }
    float pad = 0.05f * (hi - lo);
    m.ranges[k] = {lo - pad, hi + pad};
  }
  std::vector<float> xvalid;
  for (size_t i : valid) {
    auto x = to_vector(rows[i].features, m.enc);
    xvalid.insert(xvalid.end(), x.begin(), x.end());
  }
  std::vector<float> yvalid;
  for (size_t i : valid)
    yvalid.push_back(static_cast<float>(std::log(static_cast<double>(rows[i].price_minor))));
  dmatrix dvalid(xvalid.data(), valid.size(), n_features);
  xgb(XGDMatrixSetFloatInfo(dvalid.h, "label", yvalid.data(), yvalid.size()), "labels");
  double base_score = ysum / static_cast<double>(train.size());

  // Out-of-bag predictions of the bootstrap members (sum, count per row).
  std::vector<double> oob_sum(train.size(), 0.0);
  std::vector<int> oob_n(train.size(), 0);
  auto configure = [&](booster& bst, int depth, double base, uint64_t seed) {
    bst.set("objective", "reg:squarederror");
    bst.set("tree_method", "hist");
    bst.set("max_depth", std::to_string(depth));
    bst.set("eta", fmt_double(prm.eta));
    bst.set("subsample", fmt_double(prm.subsample));
    bst.set("colsample_bytree", fmt_double(prm.colsample_bytree));
    bst.set("min_child_weight", fmt_double(prm.min_child_weight));
    bst.set("lambda", fmt_double(prm.lambda));
    bst.set("seed", std::to_string(seed % 2147483647ULL));
    bst.set("nthread", std::to_string(std::max(1, prm.threads)));
    bst.set("base_score", fmt_double(base));
    bst.set("eval_metric", "mae");
  };
  for (int mi = 0; mi < prm.members; ++mi) {
    dmatrix dtrain(xtrain.data(), train.size(), n_features);
    xgb(XGDMatrixSetFloatInfo(dtrain.h, "label", ytrain.data(), ytrain.size()), "labels");
    std::vector<float> w;
    if (mi > 0) {  // bootstrap resample as integer weights
      w.assign(train.size(), 0.0f);
      splitmix b{prm.seed * 1000003ULL + static_cast<uint64_t>(mi)};
      for (size_t k = 0; k < train.size(); ++k)
        w[b.below(train.size())] += 1.0f;
      xgb(XGDMatrixSetFloatInfo(dtrain.h, "weight", w.data(), w.size()), "weights");
    }
    DMatrixHandle cache[2] = {dtrain.h, dvalid.h};
    BoosterHandle h = nullptr;
    xgb(XGBoosterCreate(cache, mi == 0 ? 2 : 1, &h), "creating a booster");
    booster bst(h);
    configure(bst, prm.max_depth, base_score, prm.seed + static_cast<uint64_t>(mi));
    for (int it = 0; it < prm.rounds; ++it) {
      xgb(XGBoosterUpdateOneIter(bst.h, it, dtrain.h), "boosting");
      train_progress tp{mi, prm.members, it + 1, prm.rounds, -1};
      if (mi == 0 && progress) {
        const char* names[1] = {"valid"};
        DMatrixHandle ev[1] = {dvalid.h};
        const char* s = nullptr;
        xgb(XGBoosterEvalOneIter(bst.h, it, ev, names, 1, &s), "evaluating");
        if (const char* at = s ? std::strstr(s, "valid-mae:") : nullptr)
          tp.valid_mae_log = std::atof(at + 10);
      }
      if (progress)
        progress(tp);
    }
    if (mi > 0) {
      auto pr = xgb_predict(bst, dtrain, 0, train.size());
      for (size_t k = 0; k < train.size(); ++k)
        if (w[k] == 0.0f) {
          oob_sum[k] += pr[k];
          ++oob_n[k];
        }
    }
    bst.set("nthread", "1");  // serving: one row at a time
    m.members.push_back(std::move(bst));
  }

  // The error model: E|log price - prediction| from the features, fitted on
  // the out-of-bag residuals of the bootstrap members (rows that no member
  // left out are skipped). Shallow and short: it only has to rank risk.
  {
    std::vector<float> xe, ye;
    double esum = 0;
    for (size_t k = 0; k < train.size(); ++k) {
      if (oob_n[k] == 0)
        continue;
      xe.insert(xe.end(), xtrain.begin() + static_cast<ptrdiff_t>(k * n_features),
                xtrain.begin() + static_cast<ptrdiff_t>((k + 1) * n_features));
      float e = static_cast<float>(std::fabs(ytrain[k] - oob_sum[k] / oob_n[k]));
      ye.push_back(e);
      esum += e;
    }
    if (ye.size() < 50)
      throw valuation_error("valuation model: too few out-of-bag rows for the error model");
    dmatrix de(xe.data(), ye.size(), n_features);
    xgb(XGDMatrixSetFloatInfo(de.h, "label", ye.data(), ye.size()), "labels");
    BoosterHandle h = nullptr;
    xgb(XGBoosterCreate(&de.h, 1, &h), "creating a booster");
    booster bst(h);
    configure(bst, std::min(prm.max_depth, 4), esum / static_cast<double>(ye.size()),
              prm.seed + 7919);
    bst.set("min_child_weight", "20");
    int er = std::max(10, prm.rounds / 2);
    for (int it = 0; it < er; ++it)
      xgb(XGBoosterUpdateOneIter(bst.h, it, de.h), "boosting the error model");
    bst.set("nthread", "1");
    m.error_model = std::move(bst);
  }

  auto bytes = m.serialize_members();
  m.version = "tt-val-" + hex64(fnv1a64(bytes.data(), bytes.size())).substr(0, 12);

  // Validation: predictions, the median baseline, calibration on half A.
  std::vector<feature_vector> xs;
  for (size_t i : valid)
    xs.push_back(to_vector(rows[i].features, m.enc));
  auto raw = m.run(xs);
  m.shap(raw);
  std::vector<int64_t> pred(valid.size());
  for (size_t r = 0; r < valid.size(); ++r) {
    double t = 0;
    for (size_t k = 0; k <= n_features; ++k)
      t += raw.contribs[r * (n_features + 1) + k];
    pred[r] = std::max<int64_t>(1, std::llround(std::exp(t)));
  }
  auto accurate = [&](size_t r) {
    double y = static_cast<double>(rows[valid[r]].price_minor);
    return std::fabs(static_cast<double>(pred[r]) - y) / y < prm.tolerance;
  };
  std::vector<size_t> half_a, half_b;
  for (size_t r = 0; r < valid.size(); ++r)
    (r % 2 == 0 ? half_a : half_b).push_back(r);
  std::sort(half_a.begin(), half_a.end(),
            [&](size_t a, size_t b) { return raw.score[a] < raw.score[b]; });
  size_t nbins = static_cast<size_t>(std::max(1, prm.calibration_bins));
  nbins = std::max<size_t>(1, std::min(nbins, half_a.size() / 50));
  for (size_t bi = 0; bi < nbins; ++bi) {
    size_t lo = half_a.size() * bi / nbins, hi = half_a.size() * (bi + 1) / nbins;
    calibration_bin b;
    for (size_t k = lo; k < hi; ++k) {
      b.n++;
      b.hits += accurate(half_a[k]) ? 1 : 0;
    }
    b.max_score = raw.score[half_a[hi - 1]];
    m.bins.push_back(b);
  }
  make_non_increasing(m.bins);
  for (auto& b : m.bins) {
    b.max_score = grid(b.max_score);
    b.p = grid(b.p);
  }

  resale_medians med;
  std::vector<int64_t> train_prices;
  for (size_t i : train) {
    med.add(rows[i].event_id, rows[i].section, rows[i].price_minor);
    train_prices.push_back(rows[i].price_minor);
  }
  std::nth_element(train_prices.begin(), train_prices.begin() + (train_prices.size() - 1) / 2,
                   train_prices.end());
  int64_t global_median = train_prices[(train_prices.size() - 1) / 2];

  auto& mt = m.metrics;
  mt.train_rows = static_cast<int64_t>(train.size());
  mt.validation_rows = static_cast<int64_t>(valid.size());
  double abs_err = 0, base_err = 0, ymean = 0, ss_res = 0, ss_tot = 0;
  std::vector<double> ape;
  size_t acc = 0;
  for (size_t r = 0; r < valid.size(); ++r)
    ymean += static_cast<double>(rows[valid[r]].price_minor);
  ymean /= static_cast<double>(valid.size());
  for (size_t r = 0; r < valid.size(); ++r) {
    const auto& row = rows[valid[r]];
    double y = static_cast<double>(row.price_minor);
    double e = static_cast<double>(pred[r]) - y;
    abs_err += std::fabs(e);
    ss_res += e * e;
    ss_tot += (y - ymean) * (y - ymean);
    ape.push_back(std::fabs(e) / y);
    acc += accurate(r);
    auto base = med.median(row.event_id, row.section);
    if (!base)
      base = med.event_median(row.event_id);
    base_err += std::fabs(static_cast<double>(base.value_or(global_median)) - y);
  }
  double nv = static_cast<double>(valid.size());
  mt.mae_minor = std::llround(abs_err / nv);
  mt.baseline_mae_minor = std::llround(base_err / nv);
  mt.mae_ratio = base_err > 0 ? abs_err / base_err : 0;
  mt.r2 = ss_tot > 0 ? 1 - ss_res / ss_tot : 0;
  std::nth_element(ape.begin(), ape.begin() + static_cast<ptrdiff_t>(ape.size() / 2), ape.end());
  mt.median_ape = ape[ape.size() / 2];
  mt.accurate_fraction = static_cast<double>(acc) / nv;
  double conf_sum = 0, conf_err = 0, low_model_err = 0, low_median_err = 0;
  size_t conf_n = 0, conf_acc = 0, low_n = 0;
  for (size_t r : half_b) {
    const auto& row = rows[valid[r]];
    double c = m.confidence_at(raw, r);
    conf_sum += c;
    if (c >= default_confidence_threshold) {
      ++conf_n;
      conf_acc += accurate(r);
      conf_err += std::fabs(static_cast<double>(pred[r] - row.price_minor));
    } else if (auto md = med.median(row.event_id, row.section)) {
      ++low_n;  // valuate() would answer with the median
      low_model_err += std::fabs(static_cast<double>(pred[r] - row.price_minor));
      low_median_err += std::fabs(static_cast<double>(*md - row.price_minor));
    }
  }
  double nb = static_cast<double>(std::max<size_t>(1, half_b.size()));
  mt.mean_confidence = conf_sum / nb;
  mt.confident_share = static_cast<double>(conf_n) / nb;
  mt.confident_accurate = conf_n ? static_cast<double>(conf_acc) / static_cast<double>(conf_n) : -1;
  mt.confident_mae_minor = conf_n ? std::llround(conf_err / static_cast<double>(conf_n)) : 0;
  mt.fallback_share = static_cast<double>(low_n) / nb;
  mt.fallback_model_mae_minor = low_n ? std::llround(low_model_err / static_cast<double>(low_n)) : 0;
  mt.fallback_median_mae_minor =
    low_n ? std::llround(low_median_err / static_cast<double>(low_n)) : 0;

  for (double* x : {&mt.mae_ratio, &mt.r2, &mt.median_ape, &mt.accurate_fraction,
                    &mt.mean_confidence, &mt.confident_share, &mt.confident_accurate,
                    &mt.fallback_share})
    *x = grid(*x);
  p_ = std::move(fresh);
  return p_->metrics;
}

std::vector<valuation> valuation_model::predict_batch(
  const std::vector<valuation_features>& fs) const {
  std::vector<feature_vector> xs;
  xs.reserve(fs.size());
  for (const auto& f : fs)
    xs.push_back(to_vector(f, p_->enc));
  std::lock_guard<std::mutex> guard(p_->mu);
  auto raw = p_->run(xs);
  p_->shap(raw);
  std::vector<valuation> out;
  out.reserve(fs.size());
  for (size_t r = 0; r < fs.size(); ++r)
    out.push_back(p_->make(raw, r));
  return out;
}

valuation valuation_model::predict(const valuation_features& f) const {
  std::vector<feature_vector> xs{to_vector(f, p_->enc)};
  std::lock_guard<std::mutex> guard(p_->mu);
  auto raw = p_->run(xs);
  p_->shap(raw);
  return p_->make(raw, 0);
}

valuation valuation_model::valuate(const valuation_features& f, const resale_medians& medians,
                                   const std::string& event_id, const std::string& section,
                                   double threshold) const {
  std::vector<feature_vector> xs{to_vector(f, p_->enc)};
  std::lock_guard<std::mutex> guard(p_->mu);
  auto raw = p_->run(xs);
  double c = p_->confidence_at(raw, 0);
  std::optional<int64_t> median;
  if (c < threshold)
    median = medians.median(event_id, section);
  if (median) {  // no SHAP pass: the answer is not the model's
    valuation v;
    v.model_version = p_->version;
    v.confidence = c;
    v.in_distribution = raw.in_dist[0] != 0;
    v.method = "median_fallback";
    v.credit_minor = *median;
    v.median_samples = static_cast<int64_t>(medians.count(event_id, section));
    return v;
  }
  p_->shap(raw);
  auto v = p_->make(raw, 0);
  if (c < threshold)
    v.method = "model_low_confidence";
  return v;
}

// ---------------------------------------------------------------------------
// files

namespace json = boost::json;

void valuation_model::save(const std::string& path) const {
  if (!trained())
    throw valuation_error("valuation model: nothing to save (not trained or loaded)");
  const auto& m = *p_;
  std::vector<uint8_t> bytes;
  {
    std::lock_guard<std::mutex> guard(m.mu);
    bytes = m.serialize_members();
  }
  json::object o;
  o["format"] = "tt-valuation-model";
  o["format_version"] = sidecar_format_version;
  o["model_version"] = m.version;
  o["xgboost_version"] = m.xgboost_version;
  o["target"] = "log(price_minor)";
  o["members"] = m.members.size();
  o["model_file_fnv1a64"] = hex64(fnv1a64(bytes.data(), bytes.size()));
  json::array names, ranges;
  for (size_t i = 0; i < n_features; ++i) {
    names.emplace_back(json::string(feature_names()[i]));
    ranges.emplace_back(json::array{m.ranges[i].first, m.ranges[i].second});
  }
  o["features"] = std::move(names);
  o["feature_ranges"] = std::move(ranges);
  json::array cats, venues;
  for (const auto& c : m.enc.categories)
    cats.emplace_back(json::string(c));
  for (const auto& v : m.enc.venues)
    venues.emplace_back(json::string(v));
  o["categories"] = std::move(cats);
  o["venues"] = std::move(venues);
  const auto& p = m.params;
  o["params"] = json::object{{"rounds", p.rounds},
                             {"max_depth", p.max_depth},
                             {"eta", p.eta},
                             {"subsample", p.subsample},
                             {"colsample_bytree", p.colsample_bytree},
                             {"min_child_weight", p.min_child_weight},
                             {"lambda", p.lambda},
                             {"members", p.members},
                             {"validation_fraction", p.validation_fraction},
                             {"seed", p.seed},
                             {"tolerance", p.tolerance},
                             {"calibration_bins", p.calibration_bins}};
  const auto& t = m.metrics;
  o["validation"] = json::object{{"train_rows", t.train_rows},
                                 {"validation_rows", t.validation_rows},
                                 {"mae_minor", t.mae_minor},
                                 {"baseline_mae_minor", t.baseline_mae_minor},
                                 {"mae_ratio", t.mae_ratio},
                                 {"r2", t.r2},
                                 {"median_ape", t.median_ape},
                                 {"accurate_fraction", t.accurate_fraction},
                                 {"mean_confidence", t.mean_confidence},
                                 {"confident_share", t.confident_share},
                                 {"confident_accurate", t.confident_accurate},
                                 {"confident_mae_minor", t.confident_mae_minor},
                                 {"fallback_share", t.fallback_share},
                                 {"fallback_model_mae_minor", t.fallback_model_mae_minor},
                                 {"fallback_median_mae_minor", t.fallback_median_mae_minor}};
  json::array bins;
  for (const auto& b : m.bins)
    bins.emplace_back(
      json::object{{"max_score", b.max_score}, {"p", b.p}, {"n", b.n}, {"hits", b.hits}});
  o["calibration"] = json::object{
    {"definition",
     "confidence = P(|credit - price| / price < tolerance), looked up by the uncertainty "
     "score u = sqrt(s^2 + e^2) (s: sample std of the members' log-price predictions; e: the "
     "error model's expected |log error|) in equal-count bins fitted on half of the held-out "
     "split, made non-increasing in u; 0 when a feature is outside the training range or the "
     "category/venue is unknown"},
    {"tolerance", p.tolerance},
    {"threshold", default_confidence_threshold},
    {"bins", std::move(bins)}};
  auto text = json::serialize(o);
  text += '\n';
  write_file_atomically(path, bytes.data(), bytes.size());
  write_file_atomically(path + ".json", text.data(), text.size());
}

namespace {

const json::value& field(const json::object& o, const char* k, const std::string& file) {
  auto* v = o.if_contains(k);
  if (!v)
    throw valuation_error(file + ": missing field \"" + k + "\"");
  return *v;
}

double num_raw(const json::value& v, const char* k, const std::string& file) {
  if (v.is_double())
    return v.get_double();
  if (v.is_int64())
    return static_cast<double>(v.get_int64());
  if (v.is_uint64())
    return static_cast<double>(v.get_uint64());
  throw valuation_error(file + ": field \"" + k + "\" is not a number");
}

double num(const json::value& v, const char* k, const std::string& file) {
  if (v.is_double())
    return grid(v.get_double());
  if (v.is_int64())
    return static_cast<double>(v.get_int64());
  if (v.is_uint64())
    return static_cast<double>(v.get_uint64());
  throw valuation_error(file + ": field \"" + k + "\" is not a number");
}

int64_t integer(const json::value& v, const char* k, const std::string& file) {
  if (v.is_int64())
    return v.get_int64();
  if (v.is_uint64())
    return static_cast<int64_t>(v.get_uint64());
  throw valuation_error(file + ": field \"" + k + "\" is not an integer");
}

std::string str(const json::value& v, const char* k, const std::string& file) {
  if (!v.is_string())
    throw valuation_error(file + ": field \"" + k + "\" is not a string");
  return std::string(v.get_string());
}

const json::array& arr(const json::value& v, const char* k, const std::string& file) {
  if (!v.is_array())
    throw valuation_error(file + ": field \"" + k + "\" is not an array");
  return v.get_array();
}

const json::object& obj(const json::value& v, const char* k, const std::string& file) {
  if (!v.is_object())
    throw valuation_error(file + ": field \"" + k + "\" is not an object");
  return v.get_object();
}

uint64_t get_u64(const std::vector<char>& b, size_t& at, const std::string& file) {
  if (b.size() - at < 8)
    throw valuation_error(file + ": truncated model file");
  uint64_t x = 0;
  for (int i = 0; i < 8; ++i)
    x |= static_cast<uint64_t>(static_cast<uint8_t>(b[at + static_cast<size_t>(i)])) << (8 * i);
  at += 8;
  return x;
}

} // namespace

valuation_model valuation_model::load(const std::string& path) {
  auto sidecar = path + ".json";
  auto bytes = read_file(path, "model file");
  auto text = read_file(sidecar, "model sidecar");
  if (bytes.size() < sizeof model_magic
      || std::memcmp(bytes.data(), model_magic, sizeof model_magic) != 0)
    throw valuation_error(path + ": not a Ticket Trader valuation model (bad magic)");

  json::value doc;
  {
    boost::system::error_code ec;
    doc = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec)
      throw valuation_error(sidecar + ": invalid JSON: " + ec.message());
  }
  if (!doc.is_object())
    throw valuation_error(sidecar + ": not a JSON object");
  const auto& o = doc.get_object();
  if (str(field(o, "format", sidecar), "format", sidecar) != "tt-valuation-model")
    throw valuation_error(sidecar + ": not a valuation model sidecar");
  if (integer(field(o, "format_version", sidecar), "format_version", sidecar)
      != sidecar_format_version)
    throw valuation_error(sidecar + ": unsupported format_version");
  auto sum = hex64(fnv1a64(bytes.data(), bytes.size()));
  if (str(field(o, "model_file_fnv1a64", sidecar), "model_file_fnv1a64", sidecar) != sum)
    throw valuation_error(sidecar + " does not describe " + path
                          + " (checksum mismatch: a different or damaged model file)");
  const auto& names = arr(field(o, "features", sidecar), "features", sidecar);
  bool same = names.size() == n_features;
  for (size_t i = 0; same && i < n_features; ++i)
    same = names[i].is_string() && names[i].get_string() == feature_names()[i];
  if (!same)
    throw valuation_error(sidecar + ": the model was trained on other features than this build "
                                    "computes ("
                          + json::serialize(names) + ")");

  valuation_model out;
  auto& m = *out.p_;
  m.version = str(field(o, "model_version", sidecar), "model_version", sidecar);
  const auto& ranges = arr(field(o, "feature_ranges", sidecar), "feature_ranges", sidecar);
  if (ranges.size() != n_features)
    throw valuation_error(sidecar + ": feature_ranges must have one [lo, hi] per feature");
  for (size_t i = 0; i < n_features; ++i) {
    const auto& r = arr(ranges[i], "feature_ranges", sidecar);
    if (r.size() != 2)
      throw valuation_error(sidecar + ": feature_ranges must have one [lo, hi] per feature");
    // Floats stored as doubles: an ulp of parsing error cannot move them.
    m.ranges[i] = {static_cast<float>(num_raw(r[0], "feature_ranges", sidecar)),
                   static_cast<float>(num_raw(r[1], "feature_ranges", sidecar))};
  }
  for (const auto& c : arr(field(o, "categories", sidecar), "categories", sidecar))
    m.enc.categories.push_back(str(c, "categories", sidecar));
  for (const auto& v : arr(field(o, "venues", sidecar), "venues", sidecar))
    m.enc.venues.push_back(str(v, "venues", sidecar));
  if (!std::is_sorted(m.enc.categories.begin(), m.enc.categories.end())
      || !std::is_sorted(m.enc.venues.begin(), m.enc.venues.end()))
    throw valuation_error(sidecar + ": categories and venues must be sorted");

  const auto& p = obj(field(o, "params", sidecar), "params", sidecar);
  auto& tp = m.params;
  tp.rounds = static_cast<int>(integer(field(p, "rounds", sidecar), "rounds", sidecar));
  tp.max_depth = static_cast<int>(integer(field(p, "max_depth", sidecar), "max_depth", sidecar));
  tp.eta = num(field(p, "eta", sidecar), "eta", sidecar);
  tp.subsample = num(field(p, "subsample", sidecar), "subsample", sidecar);
  tp.colsample_bytree = num(field(p, "colsample_bytree", sidecar), "colsample_bytree", sidecar);
  tp.min_child_weight = num(field(p, "min_child_weight", sidecar), "min_child_weight", sidecar);
  tp.lambda = num(field(p, "lambda", sidecar), "lambda", sidecar);
  tp.members = static_cast<int>(integer(field(p, "members", sidecar), "members", sidecar));
  tp.validation_fraction =
    num(field(p, "validation_fraction", sidecar), "validation_fraction", sidecar);
  tp.seed = static_cast<uint64_t>(integer(field(p, "seed", sidecar), "seed", sidecar));
  tp.tolerance = num(field(p, "tolerance", sidecar), "tolerance", sidecar);
  tp.calibration_bins =
    static_cast<int>(integer(field(p, "calibration_bins", sidecar), "calibration_bins", sidecar));

  const auto& v = obj(field(o, "validation", sidecar), "validation", sidecar);
  auto& t = m.metrics;
  auto gi = [&](const char* k) { return integer(field(v, k, sidecar), k, sidecar); };
  auto gd = [&](const char* k) { return num(field(v, k, sidecar), k, sidecar); };
  t.train_rows = gi("train_rows");
  t.validation_rows = gi("validation_rows");
  t.mae_minor = gi("mae_minor");
  t.baseline_mae_minor = gi("baseline_mae_minor");
  t.mae_ratio = gd("mae_ratio");
  t.r2 = gd("r2");
  t.median_ape = gd("median_ape");
  t.accurate_fraction = gd("accurate_fraction");
  t.mean_confidence = gd("mean_confidence");
  t.confident_share = gd("confident_share");
  t.confident_accurate = gd("confident_accurate");
  t.confident_mae_minor = gi("confident_mae_minor");
  t.fallback_share = gd("fallback_share");
  t.fallback_model_mae_minor = gi("fallback_model_mae_minor");
  t.fallback_median_mae_minor = gi("fallback_median_mae_minor");

  const auto& cal = obj(field(o, "calibration", sidecar), "calibration", sidecar);
  for (const auto& b : arr(field(cal, "bins", sidecar), "bins", sidecar)) {
    const auto& bo = obj(b, "bins", sidecar);
    calibration_bin cb;
    cb.max_score = num(field(bo, "max_score", sidecar), "max_score", sidecar);
    cb.p = num(field(bo, "p", sidecar), "p", sidecar);
    cb.n = integer(field(bo, "n", sidecar), "n", sidecar);
    cb.hits = integer(field(bo, "hits", sidecar), "hits", sidecar);
    if (!(cb.p >= 0 && cb.p <= 1))
      throw valuation_error(sidecar + ": calibration p must be in [0, 1]");
    m.bins.push_back(cb);
  }
  if (m.bins.empty())
    throw valuation_error(sidecar + ": empty calibration table");

  size_t at = sizeof model_magic;
  uint64_t count = get_u64(bytes, at, path);
  if (count < 3 || count > 1000)
    throw valuation_error(path + ": implausible booster count " + std::to_string(count));
  auto declared = integer(field(o, "members", sidecar), "members", sidecar);
  if (declared + 1 != static_cast<int64_t>(count))
    throw valuation_error(sidecar + ": members does not match " + path);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t len = get_u64(bytes, at, path);
    if (len > bytes.size() - at)
      throw valuation_error(path + ": truncated model file");
    BoosterHandle h = nullptr;
    xgb(XGBoosterCreate(nullptr, 0, &h), "creating a booster");
    booster b(h);
    if (XGBoosterLoadModelFromBuffer(b.h, bytes.data() + at, static_cast<bst_ulong>(len)) != 0)
      throw valuation_error(path + ": XGBoost cannot load member " + std::to_string(i) + ": "
                            + XGBGetLastError());
    bst_ulong nf = 0;
    xgb(XGBoosterGetNumFeature(b.h, &nf), "reading the feature count");
    if (nf != n_features)
      throw valuation_error(path + ": member " + std::to_string(i) + " expects "
                            + std::to_string(nf) + " features, this build computes "
                            + std::to_string(n_features));
    b.set("nthread", "1");
    if (i + 1 == count)
      m.error_model = std::move(b);
    else
      m.members.push_back(std::move(b));
    at += len;
  }
  if (at != bytes.size())
    throw valuation_error(path + ": trailing bytes after the last member");
  return out;
}

} // namespace tt::actors
