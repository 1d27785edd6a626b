#include "actors/market_generator.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

namespace tt::actors {

namespace {

constexpr int64_t day_ms = 86'400'000;
constexpr double pi = 3.14159265358979323846;

// splitmix64 + Box-Muller: the same numbers on every standard library.
struct rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  double uniform() {  // [0, 1)
    return static_cast<double>(next() >> 11) * 0x1.0p-53;
  }
  size_t below(size_t n) {
    return static_cast<size_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  double normal() {
    double u1 = 1.0 - uniform();  // (0, 1]
    double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * pi * u2);
  }
};

enum class venue_kind { arena, stadium, theatre };

struct category_spec {
  const char* name;
  bool sports;
  int64_t face_minor;      // typical face value of a mid-tier seat
  double markup;           // log resale premium over face
  double sigma;            // log-noise width of resale prices
  int peak_month;          // 1..12, season peak
  double season_width;     // 0: no season
  double weight;           // share of events
  venue_kind kinds[2];     // where it plays
};

const category_spec categories[] = {
  {"basketball", true, 9000, 0.10, 0.08, 2, 1.0, 0.12, {venue_kind::arena, venue_kind::arena}},
  {"hockey", true, 7000, 0.00, 0.07, 2, 1.0, 0.08, {venue_kind::arena, venue_kind::arena}},
  {"football", true, 12000, 0.20, 0.07, 11, 1.0, 0.08, {venue_kind::stadium, venue_kind::stadium}},
  {"baseball", true, 5000, -0.10, 0.06, 7, 1.0, 0.12, {venue_kind::stadium, venue_kind::stadium}},
  {"soccer", true, 6000, 0.05, 0.08, 4, 0.8, 0.08, {venue_kind::stadium, venue_kind::stadium}},
  {"concert", false, 8000, 0.25, 0.15, 7, 0.6, 0.20, {venue_kind::arena, venue_kind::stadium}},
  {"festival", false, 15000, 0.15, 0.18, 7, 1.0, 0.04, {venue_kind::stadium, venue_kind::stadium}},
  {"theatre", false, 9000, -0.05, 0.05, 12, 0.5, 0.12, {venue_kind::theatre, venue_kind::theatre}},
  {"opera", false, 11000, -0.15, 0.04, 12, 0.5, 0.04, {venue_kind::theatre, venue_kind::theatre}},
  {"comedy", false, 5000, -0.10, 0.08, 0, 0.0, 0.06, {venue_kind::theatre, venue_kind::arena}},
  {"family", false, 4000, -0.20, 0.05, 12, 0.4, 0.06, {venue_kind::arena, venue_kind::theatre}},
};
constexpr size_t n_categories = sizeof categories / sizeof categories[0];

struct venue_gen {
  std::string name;
  venue_kind kind;
  double prestige;  // log effect on face values and resale premium
  std::vector<size_t> sections;  // indices into market.sections
};

// In [-1, 1]: 1 at the category's peak month, -1 six months away.
double season(const category_spec& c, int month) {
  if (c.season_width == 0)
    return 0;
  return c.season_width * std::cos(2.0 * pi * (month - c.peak_month) / 12.0);
}

int month_of(int64_t ms) {
  int64_t z = ms / day_ms + 719468;
  int64_t era = z / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  return static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
}

int weekday_of(int64_t ms) {
  return static_cast<int>((ms / day_ms + 4) % 7);  // 0 = Sunday; ms >= 0 here
}

} // namespace

synthetic_market generate_market(const market_params& prm) {
  synthetic_market mk;
  rng r{prm.seed ^ 0x5eed0fa11e7ULL};
  size_t n_events = prm.events ? prm.events : std::max<size_t>(30, prm.sales / 40);
  size_t n_venues =
    prm.venues ? prm.venues : std::clamp<size_t>(n_events / 8, 8, 120);

  // Venues and their sections. Section names are "<tier><nn>" (e.g. "112");
  // desirability falls with the tier and, within a tier, away from the centre.
  std::vector<venue_gen> venues;
  for (size_t v = 0; v < n_venues; ++v) {
    venue_gen g;
    g.kind = static_cast<venue_kind>(v % 3);
    g.name = (g.kind == venue_kind::arena     ? "arena-"
              : g.kind == venue_kind::stadium ? "stadium-"
                                              : "theatre-")
             + std::to_string(v);
    g.prestige = 0.15 * r.normal();
    int tiers = 3 + static_cast<int>(r.below(3));
    int per_tier = (g.kind == venue_kind::theatre ? 4 : 6) + static_cast<int>(r.below(7));
    for (int t = 1; t <= tiers; ++t) {
      for (int k = 0; k < per_tier; ++k) {
        section_info s;
        s.venue = g.name;
        s.section = std::to_string(t * 100 + k + 1);
        s.tier = t;
        double centre = 1.0 - std::fabs(2.0 * (k + 0.5) / per_tier - 1.0);  // 0 edge .. 1 centre
        double d = 1.0 - (t - 1 + 0.6 * (1.0 - centre)) / tiers + 0.04 * r.normal();
        s.desirability = std::round(std::clamp(d, 0.0, 1.0) * 1000.0) / 1000.0;
        g.sections.push_back(mk.sections.size());
        mk.sections.push_back(s);
        mk.data.add_section(s);
      }
    }
    venues.push_back(std::move(g));
  }

  // Events. Each has a latent hype z (unobserved); the demand score is a
  // noisy index of hype, ranks, season and weekend.
  struct event_gen {
    size_t cat;
    size_t venue;
    double hype;
    double premium;   // log premium over face shared by the event's sales
    int64_t face;     // face value of a mid-tier seat
  };
  std::vector<event_gen> egen;
  double wsum = 0;
  for (const auto& c : categories)
    wsum += c.weight;
  std::vector<double> sale_weight;
  for (size_t e = 0; e < n_events; ++e) {
    double u = r.uniform() * wsum;
    size_t ci = 0;
    while (ci + 1 < n_categories && u >= categories[ci].weight) {
      u -= categories[ci].weight;
      ++ci;
    }
    const auto& c = categories[ci];
    auto kind = c.kinds[r.below(2)];
    std::vector<size_t> fit;
    for (size_t v = 0; v < venues.size(); ++v)
      if (venues[v].kind == kind)
        fit.push_back(v);
    size_t vi = fit.empty() ? r.below(venues.size()) : fit[r.below(fit.size())];
    int64_t day = static_cast<int64_t>(r.below(static_cast<size_t>(std::max(1, prm.days))));
    int64_t start = prm.first_event_ms + day * day_ms + (19 * 60 + 30) * 60'000LL;
    int month = month_of(start), wd = weekday_of(start);
    double weekend = (wd == 5 || wd == 6) ? 1.0 : wd == 0 ? 0.4 : 0.0;
    double seas = season(c, month);

    event_meta m;
    m.event_id = "ev-" + std::to_string(prm.seed) + "-" + std::to_string(e);
    m.category = c.name;
    m.venue = venues[vi].name;
    m.starts_at_ms = start;
    double rank_quality = 0;  // -1 (two bottom teams) .. 1 (two top teams)
    if (c.sports) {
      m.team_rank = 1 + static_cast<int32_t>(r.below(30));
      m.opponent_rank = 1 + static_cast<int32_t>(r.below(30));
      rank_quality = (60.0 - m.team_rank - m.opponent_rank) / 29.0 - 1.0;
    }
    double hype = r.normal();
    double demand = 50 + 14 * hype + 8 * seas + 5 * weekend + 10 * rank_quality + 4 * r.normal();
    m.demand_score = std::round(std::clamp(demand, 0.0, 100.0) * 10.0) / 10.0;

    double premium = c.markup + venues[vi].prestige + 0.15 * hype + 0.08 * seas
                     + 0.06 * weekend + 0.20 * rank_quality;
    if (c.sports && m.team_rank <= 5 && m.opponent_rank <= 5)
      premium += 0.15;  // a top-of-the-table clash
    int64_t face = static_cast<int64_t>(std::llround(
      static_cast<double>(c.face_minor) * std::exp(0.5 * venues[vi].prestige + 0.1 * r.normal())));
    egen.push_back({ci, vi, hype, premium, face});
    sale_weight.push_back(std::exp(0.7 * hype + 0.3 * seas));
    mk.events.push_back(m);
    mk.data.add_event(m);
  }

  // Sales: events drawn by weight (hyped, in-season events resell more),
  // days before the event skewed towards the end (~60% in the last 3 weeks).
  std::vector<double> cum(sale_weight.size());
  std::partial_sum(sale_weight.begin(), sale_weight.end(), cum.begin());
  struct sale {
    size_t event;
    size_t section;
    int64_t at;
  };
  std::vector<sale> sales;
  sales.reserve(prm.sales);
  for (size_t i = 0; i < prm.sales; ++i) {
    size_t e = static_cast<size_t>(std::upper_bound(cum.begin(), cum.end(), r.uniform() * cum.back())
                                   - cum.begin());
    e = std::min(e, n_events - 1);
    const auto& secs = venues[egen[e].venue].sections;
    size_t s = secs[r.below(secs.size())];
    double days_before = 120.0 * std::pow(r.uniform(), 2.2);
    int64_t at = mk.events[e].starts_at_ms - static_cast<int64_t>(days_before * day_ms)
                 - static_cast<int64_t>(r.below(3'600'000));
    sales.push_back({e, s, at});
  }
  std::stable_sort(sales.begin(), sales.end(),
                   [](const sale& a, const sale& b) { return a.at < b.at; });
  for (const auto& s : sales)
    mk.data.add_trade(mk.events[s.event].event_id, s.at);

  // Prices.
  static const double tier_face[] = {0, 1.9, 1.35, 1.0, 0.75, 0.55};
  mk.rows.reserve(sales.size());
  for (const auto& s : sales) {
    const auto& eg = egen[s.event];
    const auto& ev = mk.events[s.event];
    const auto& sec = mk.sections[s.section];
    const auto& c = categories[eg.cat];
    int64_t face = std::max<int64_t>(
      500, (static_cast<int64_t>(std::llround(static_cast<double>(eg.face) * tier_face[sec.tier]))
            + 250) / 500 * 500);  // whole 5.00 steps
    auto f = mk.data.features(ev.event_id, sec.section, face, s.at);
    double days = f->days_to_event;
    double heat = (ev.demand_score - 50.0) / 50.0 + 0.5 * eg.hype;
    double log_price = std::log(static_cast<double>(face)) + eg.premium
                       + 0.6 * (sec.desirability - 0.5)
                       + 0.35 * heat * std::exp(-days / 10.0)     // late drift
                       + 0.04 * std::log1p(f->resale_velocity);  // a busy market is a dearer one
    double sigma = c.sigma * (1.0 + 0.8 * std::exp(-days / 5.0));
    log_price += sigma * r.normal();
    double u = r.uniform();
    if (u < 0.01)
      log_price += std::log(0.5);  // panic dump
    else if (u < 0.02)
      log_price += std::log(1.8);  // scalper ask that sold anyway
    int64_t price = std::max<int64_t>(
      100, (static_cast<int64_t>(std::llround(std::exp(log_price))) + 50) / 100 * 100);
    training_row row;
    row.event_id = ev.event_id;
    row.section = sec.section;
    row.features = *f;
    row.price_minor = price;
    mk.rows.push_back(std::move(row));
    mk.sold_at_ms.push_back(s.at);
    mk.noise_sigma.push_back(sigma);
  }
  return mk;
}

} // namespace tt::actors
