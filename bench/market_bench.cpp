// tt_bench_market: marketplace query latency over N listed tickets (default
// 1M) in the in-memory market index, against a full scan of the same data
// measured in the same run (the baseline: what a query costs without the
// index's buckets and orders). Target: p99 < 10 ms for a filtered page.
//
// The listings are synthetic but shaped like a market: 2,000 events at 200
// venues in 12 categories, prices 20..2000 USD, start times over a year.
// Queries: a random mix of the filters the API offers (event, venue,
// category, price range, time window, text) with each sort order, first pages
// and cursor pages.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "actors/market_index.hpp"
#include "bench_stats.hpp"

using namespace tt;
using clk = std::chrono::steady_clock;

namespace {

const char* categories[] = {"basketball", "football", "baseball", "hockey", "soccer", "concert",
                            "theatre", "comedy", "opera", "festival", "family", "esports"};

} // namespace

int main(int argc, char** argv) {
  size_t listings = 1'000'000;
  size_t queries = 20'000;
  unsigned seed = 7;
  CLI::App app{"tt_bench_market: marketplace query latency over N listings vs a full scan"};
  app.add_option("--listings", listings, "listed tickets in the index")->capture_default_str();
  app.add_option("--queries", queries, "queries to time")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::mt19937_64 rng{seed};
  actors::market_index idx;
  auto t0 = clk::now();
  int64_t year0 = 1798761600000;  // 2027-01-01
  for (size_t i = 0; i < listings; ++i) {
    event_envelope ev;
    ev.kind = entity_kind::ticket;
    ev.entity_id = "T" + std::to_string(i);
    ev.timestamp_ms = year0 - 86400000LL * 30 + static_cast<int64_t>(i);
    ticket_listed x;
    x.seller = "S" + std::to_string(rng() % 100000);
    auto e = rng() % 2000;
    x.fields.event_id = "ev-" + std::to_string(e);
    x.fields.event_name = std::string(categories[e % 12]) + " night " + std::to_string(e);
    x.fields.venue = "venue-" + std::to_string(e % 200);
    x.fields.category = categories[e % 12];
    x.fields.event_starts_at_ms = year0 + static_cast<int64_t>(e) * 15768000LL;  // spread over a year
    x.fields.price_minor = 2000 + static_cast<int64_t>(rng() % 198000);
    x.fields.currency = "USD";
    x.fields.section = std::to_string(rng() % 300);
    x.fields.seats = {std::to_string(rng() % 30)};
    ev.payload = std::move(x);
    idx.apply(i + 1, ev);
    if ((i + 1) % 200000 == 0)
      std::fprintf(stderr, "[bench] indexed %zu listings\n", i + 1);
  }
  double build_s = std::chrono::duration<double>(clk::now() - t0).count();
  std::fprintf(stderr, "[bench] %zu listings indexed in %.1f s; timing %zu queries\n", listings,
               build_s, queries);
  auto random_query = [&] {
    actors::market_query q;
    switch (rng() % 6) {
      case 0: q.event_id = "ev-" + std::to_string(rng() % 2000); break;
      case 1: q.venue = "venue-" + std::to_string(rng() % 200); break;
      case 2: q.category = categories[rng() % 12]; break;
      case 3: {
        q.category = categories[rng() % 12];
        int64_t lo = 2000 + static_cast<int64_t>(rng() % 150000);
        q.min_price = lo;
        q.max_price = lo + 5000;
        break;
      }
      case 4: {
        int64_t from = year0 + static_cast<int64_t>(rng() % 300) * 86400000LL;
        q.starts_after_ms = from;
        q.starts_before_ms = from + 7 * 86400000LL;
        break;
      }
      default: q.q = "night " + std::to_string(rng() % 2000); break;
    }
    q.sort = static_cast<actors::market_sort>(rng() % 3);
    q.limit = 20;
    return q;
  };
  std::vector<double> lat;
  lat.reserve(queries);
  size_t empty = 0, results = 0;
  for (size_t i = 0; i < queries; ++i) {
    auto q = random_query();
    auto a = clk::now();
    auto page = idx.query(q);
    if (!page.next_cursor.empty() && rng() % 2 == 0) {  // half of them also fetch page 2
      q.cursor = page.next_cursor;
      page = idx.query(q);
    }
    lat.push_back(std::chrono::duration<double, std::milli>(clk::now() - a).count());
    results += page.items.size();
    empty += page.items.empty();
  }
  // Baseline: the same kind of queries answered by scanning every listing
  // (fewer of them: it is slow).
  std::vector<double> scan;
  size_t scans = std::max<size_t>(20, queries / 500);
  {
    actors::market_query all;
    all.limit = 100;
    std::vector<actors::market_listing> everything;
    everything.reserve(listings);
    for (;;) {
      auto p = idx.query(all);
      everything.insert(everything.end(), p.items.begin(), p.items.end());
      if (p.next_cursor.empty())
        break;
      all.cursor = p.next_cursor;
    }
    for (size_t i = 0; i < scans; ++i) {
      auto q = random_query();
      auto a = clk::now();
      std::vector<const actors::market_listing*> hits;
      for (const auto& l : everything) {
        const auto& f = l.fields;
        if ((q.event_id.empty() || f.event_id == q.event_id)
            && (q.venue.empty() || f.venue == q.venue)
            && (q.category.empty() || f.category == q.category)
            && (!q.min_price || f.price_minor >= *q.min_price)
            && (!q.max_price || f.price_minor <= *q.max_price)
            && (!q.starts_after_ms || f.event_starts_at_ms >= *q.starts_after_ms)
            && (!q.starts_before_ms || f.event_starts_at_ms <= *q.starts_before_ms)
            && (q.q.empty() || f.event_name.find(q.q) != std::string::npos))
          hits.push_back(&l);
      }
      auto n = std::min<size_t>(20, hits.size());
      std::partial_sort(hits.begin(), hits.begin() + static_cast<std::ptrdiff_t>(n), hits.end(),
                        [](auto* x, auto* y) { return x->fields.price_minor < y->fields.price_minor; });
      scan.push_back(std::chrono::duration<double, std::milli>(clk::now() - a).count());
    }
  }
  double p50 = tt::bench::percentile(lat, 0.5), p99 = tt::bench::percentile(lat, 0.99), mx = tt::bench::percentile(lat, 1.0);
  double s50 = tt::bench::percentile(scan, 0.5);
  std::printf("\n%-26s %10s %10s %10s\n", "", "p50 ms", "p99 ms", "max ms");
  std::printf("%-26s %10.3f %10.3f %10.3f\n", "market index", p50, p99, mx);
  std::printf("%-26s %10.3f %10.3f %10.3f\n", "full scan (baseline)", s50, tt::bench::percentile(scan, 0.99),
              tt::bench::percentile(scan, 1.0));
  std::printf("index p50 is %.0fx faster than a scan; p99 %.3f ms (target < 10 ms: %s)\n",
              p50 > 0 ? s50 / p50 : 0.0, p99, p99 < 10 ? "met" : "NOT met");
  std::printf("{\"listings\":%zu,\"queries\":%zu,\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f,"
              "\"scan_p50_ms\":%.3f,\"speedup\":%.1f,\"build_s\":%.2f,\"avg_results\":%.1f,"
              "\"empty_pages\":%zu}\n",
              listings, queries, p50, p99, mx, s50, p50 > 0 ? s50 / p50 : 0.0, build_s,
              static_cast<double>(results) / static_cast<double>(queries), empty);
  return 0;
}
