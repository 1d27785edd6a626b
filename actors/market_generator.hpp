#pragma once
// A deterministic synthetic resale market for training and testing the
// valuation model (docs/valuation.md, "The synthetic market"). Contract: the
// same `market_params` give the same market on the same platform (own
// splitmix64/Box-Muller generator, no std:: distributions, whose output
// differs between standard libraries); every price is integer minor units.
//
// What it models: events of 11 categories (sports with home/opponent league
// ranks, concerts, festivals, theatre, opera, comedy, family shows) at venues
// of three kinds (arena, stadium, theatre) with 12..48 sections in 3..5 tiers;
// seasons by category and month, weekend nights; a latent "hype" per event
// that the demand score and the resale volume only partly reveal; face values
// by category, venue and tier; resale prices that drift with days to the
// event (hot events rise, cold ones fall at the end); multiplicative
// log-normal noise whose width depends on the category and grows near the
// event; and 2% outliers (panic dumps and scalper asks). The features of each
// sale are computed by `market_data::features` from the generated tables and
// trade log — the same path a live service uses.

#include <cstdint>
#include <vector>

#include "actors/valuation_model.hpp"

namespace tt::actors {

struct market_params {
  size_t sales = 20'000;         // rows to generate
  uint64_t seed = 1;
  size_t events = 0;             // 0: max(30, sales / 40)
  size_t venues = 0;             // 0: clamp(events / 8, 8, 120)
  int64_t first_event_ms = 1'767'225'600'000;  // 2026-01-01T00:00Z: events start in [first, first + days)
  int32_t days = 365;
};

struct synthetic_market {
  std::vector<event_meta> events;
  std::vector<section_info> sections;
  std::vector<training_row> rows;     // one per sale, in sale-time order
  std::vector<int64_t> sold_at_ms;    // parallel to rows
  std::vector<double> noise_sigma;    // parallel to rows: the log-noise width the price was drawn with
  market_data data;                   // the tables and every sale as a trade
};

synthetic_market generate_market(const market_params& params);

} // namespace tt::actors
