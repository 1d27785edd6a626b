// tt_bench_matching: one matching round (greedy 2-way swaps + 3-cycles, see
// docs/matching.md) over N open offers in the in-memory offer book, for each
// N of --sizes (default 100k and 1M). Target: a round over 1M offers < 1 s on
// this machine (--threads, default: all its cores; the result is the same for
// any thread count). Timed per size: the index build (add every offer + prepare), the
// first round, and a steady-state round after churn (2 % of the offers
// removed, 2 % new ones added, the trades of half the first round's matches
// ended — their offers released).
//
// The offers are synthetic but shaped like a market: 2,000 events at 200
// venues (real-ish US coordinates) in 12 categories with Zipf popularity;
// credits log-normal around a per-event price level, whole dollars; owners
// hold ~3 offers each. Wants: 55 % one to three events of the same category,
// 15 % one or two categories, 15 % one to three venues of the same region,
// 10 % a category at a venue, 5 % anything; 30 % add no cash, the rest up to
// 10 % of their credit.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "actors/matcher.hpp"

using namespace tt;
using clk = std::chrono::steady_clock;

namespace {

const char* categories[] = {"basketball", "football", "baseball", "hockey", "soccer", "concert",
                            "theatre", "comedy", "opera", "festival", "family", "esports"};
constexpr size_t n_categories = 12;
constexpr size_t n_venues = 200;
constexpr size_t n_events = 2000;

double secs(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

/// CPU time of this process (all its threads), s (on a shared box the wall clock also counts
/// time other processes hold the core).
double cpu_now() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double load1() {
  double l = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1)
      l = 0;
    std::fclose(f);
  }
  return l;
}

struct market {
  struct event {
    size_t category, venue;
    double price;  // median credit, minor units
  };
  std::vector<matching::geo_point> venue_at;
  std::vector<event> events;
  std::discrete_distribution<size_t> pick_event;
  std::vector<std::vector<size_t>> by_category;
  std::vector<std::discrete_distribution<size_t>> pick_in_category;

  explicit market(std::mt19937_64& rng) {
    std::uniform_real_distribution<double> lat(25.5, 48.5), lon(-123.0, -70.0);
    for (size_t v = 0; v < n_venues; ++v)
      venue_at.push_back({lat(rng), lon(rng)});
    std::lognormal_distribution<double> price(std::log(12000.0), 0.6);
    std::vector<double> w;
    by_category.resize(n_categories);
    for (size_t e = 0; e < n_events; ++e) {
      events.push_back({e % n_categories, (e * 7 + e / n_categories) % n_venues, price(rng)});
      w.push_back(1.0 / std::pow(static_cast<double>(e / n_categories + 1), 0.8));
      by_category[e % n_categories].push_back(e);
    }
    pick_event = std::discrete_distribution<size_t>(w.begin(), w.end());
    for (const auto& es : by_category) {
      std::vector<double> cw;
      for (size_t e : es)
        cw.push_back(w[e]);
      pick_in_category.emplace_back(cw.begin(), cw.end());
    }
  }

  matching::offer make(std::mt19937_64& rng, uint64_t seq, size_t owners) {
    matching::offer o;
    o.seq = seq;
    o.id = "O" + std::to_string(seq);
    o.ticket_id = "T" + std::to_string(seq);
    o.owner = "U" + std::to_string(rng() % owners);
    size_t e = pick_event(rng);
    const auto& ev = events[e];
    o.event_id = "ev-" + std::to_string(e);
    o.category = categories[ev.category];
    o.venue = "venue-" + std::to_string(ev.venue);
    std::lognormal_distribution<double> spread(0, 0.35);
    auto credit = static_cast<int64_t>(ev.price * spread(rng) / 100.0 + 0.5) * 100;
    o.credit_minor = std::max<int64_t>(credit, 500);
    if (rng() % 20 != 0)
      o.location = venue_at[ev.venue];
    auto& w = o.want;
    auto kind = rng() % 100;
    if (kind < 55) {
      size_t n = 1 + rng() % 3;
      for (size_t i = 0; i < n; ++i)
        w.event_ids.push_back(
          "ev-" + std::to_string(by_category[ev.category][pick_in_category[ev.category](rng)]));
    } else if (kind < 70) {
      w.categories.push_back(o.category);
      if (rng() % 2)
        w.categories.push_back(categories[rng() % n_categories]);
    } else if (kind < 85) {
      size_t region = ev.venue / 20, n = 1 + rng() % 3;
      for (size_t i = 0; i < n; ++i)
        w.venues.push_back("venue-" + std::to_string(region * 20 + rng() % 20));
    } else if (kind < 95) {
      w.categories.push_back(o.category);
      w.venues.push_back("venue-" + std::to_string((ev.venue / 20) * 20 + rng() % 20));
    }
    if (rng() % 10 >= 3)
      w.max_cash_minor = static_cast<int64_t>(rng() % static_cast<uint64_t>(o.credit_minor / 10 + 1));
    // traits: the ticket's category family and price tier; prefs: the owner's
    // taste, noisy around the ticket they hold.
    std::normal_distribution<float> noise(0.f, 0.3f);
    o.traits[ev.category % 6] = 1.f;
    o.traits[6 + (o.credit_minor > 15000 ? 1 : 0)] = 0.7f;
    for (size_t i = 0; i < matching::pref_dims; ++i)
      o.prefs[i] = std::max(0.f, o.traits[i] + noise(rng));
    return o;
  }
};

struct row {
  size_t offers;
  double build_s, round1_s, round2_s, round1_cpu_s, round2_cpu_s;
  double round1_max_s = 0;  // with --repeat: round 1's slowest run (round1_s is the fastest)
  matching::round_stats s1, s2;
  size_t rss_mb;
};

size_t rss_mb() {
  size_t kb = 0;
  if (FILE* f = std::fopen("/proc/self/status", "r")) {
    char line[256];
    while (std::fgets(line, sizeof line, f))
      if (std::sscanf(line, "VmRSS: %zu kB", &kb) == 1)
        break;
    std::fclose(f);
  }
  return kb / 1024;
}

} // namespace

int main(int argc, char** argv) {
  std::string sizes = "100000,1000000";
  unsigned seed = 7;
  double churn = 0.02;
  matching::match_config cfg;
  cfg.threads = std::max(1u, std::thread::hardware_concurrency());
  CLI::App app{"tt_bench_matching: one matching round (2-way + 3-cycles) over N open offers"};
  app.add_option("--sizes", sizes, "comma-separated offer counts")->capture_default_str();
  app.add_option("--seed", seed, "random seed")->capture_default_str();
  app.add_option("--churn", churn, "fraction removed and added before round 2")
    ->capture_default_str();
  app.add_option("--threads", cfg.threads, "threads per round (default: the cores here)")
    ->capture_default_str();
  app.add_option("--max-candidates", cfg.max_candidates, "2-way candidates kept per offer and group")
    ->capture_default_str();
  app.add_option("--cycle-degree", cfg.cycle_out_degree, "out-degree of the 3-cycle graph (0: off)")
    ->capture_default_str();
  size_t repeat = 1;
  app.add_option("--repeat", repeat,
                 "run round 1 this often (the book is restored in between: its matched offers are "
                 "released again); the fastest run is reported, and the slowest too. Round 2 (after "
                 "churn, with its prepare) runs once")
    ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  std::vector<size_t> ns;
  {
    std::stringstream ss(sizes);
    std::string x;
    while (std::getline(ss, x, ','))
      if (!x.empty())
        ns.push_back(std::stoul(x));
  }
  double load_start = load1();
  std::fprintf(stderr, "[bench] load average at start %.2f; %zu thread(s) per round\n", load_start,
               cfg.threads);
  std::vector<row> rows;
  for (size_t n : ns) {
    std::mt19937_64 rng{seed};
    market mk{rng};
    size_t owners = std::max<size_t>(1, n / 3);
    std::vector<matching::offer> offers;
    offers.reserve(n);
    for (size_t i = 0; i < n; ++i)
      offers.push_back(mk.make(rng, i + 1, owners));
    std::fprintf(stderr, "[bench] %zu offers generated; building the book\n", n);
    row r{};
    r.offers = n;
    matching::offer_book book{cfg};
    auto t0 = clk::now();
    for (auto& o : offers)
      book.add(std::move(o));
    book.prepare();
    r.build_s = secs(t0);
    std::fprintf(stderr, "[bench] built in %.2f s; round 1\n", r.build_s);
    // Round 1, timed `repeat` times on the same book: between runs the
    // matched offers are released again, which restores the book exactly
    // (the stats are the fastest run's).
    auto timed_round = [&](size_t runs, double& wall, double& cpu, double& wall_max,
                           matching::round_stats& stats) {
      matching::round_result res;
      for (size_t i = 0; i < std::max<size_t>(runs, 1); ++i) {
        if (i > 0)
          for (const auto& m : res.matches)
            for (const auto& id : m.offer_ids)
              book.set_excluded(id, false);
        auto t = clk::now();
        double c = cpu_now();
        res = book.run_round();
        double w = secs(t), cp = cpu_now() - c;
        if (i == 0 || w < wall) {
          wall = w;
          cpu = cp;
          stats = res.stats;
        }
        wall_max = std::max(wall_max, w);
        if (runs > 1)
          std::fprintf(stderr, "[bench]   run %zu: %.3f s wall, %.3f s cpu (load %.2f)\n", i + 1, w,
                       cp, load1());
      }
      return res;
    };
    auto res1 = timed_round(repeat, r.round1_s, r.round1_cpu_s, r.round1_max_s, r.s1);
    std::fprintf(stderr, "[bench] round 1: %.3f s, %zu pairs, %zu cycles; churn %.1f %%\n",
                 r.round1_s, r.s1.pairs, r.s1.cycles, churn * 100);
    // churn: half the proposed trades end (their offers return), the other
    // half completed (offers removed); random removals and new offers.
    for (size_t i = 0; i < res1.matches.size(); ++i)
      for (const auto& id : res1.matches[i].offer_ids) {
        if (i % 2 == 0)
          book.set_excluded(id, false);
        else
          book.remove(id);
      }
    auto k = static_cast<size_t>(static_cast<double>(n) * churn);
    for (size_t i = 0; i < k; ++i)
      book.remove("O" + std::to_string(1 + rng() % n));
    for (size_t i = 0; i < k; ++i)
      book.add(mk.make(rng, n + 1 + i, owners));
    double round2_max_s = 0;
    auto res2 = timed_round(1, r.round2_s, r.round2_cpu_s, round2_max_s, r.s2);
    r.rss_mb = rss_mb();
    std::fprintf(stderr, "[bench] round 2: %.3f s (prepare %.1f ms), %zu pairs, %zu cycles\n",
                 r.round2_s, r.s2.prepare_ms, r.s2.pairs, r.s2.cycles);
    std::fprintf(stderr,
                 "[bench] round 1 phases: 2-way sweep %.1f ms + ranking %.1f ms; cycle edges %.1f ms + "
                 "graph/ranking %.1f ms\n",
                 r.s1.sweep_ms, r.s1.two_way_ms - r.s1.sweep_ms, r.s1.edges_ms,
                 r.s1.cycles_ms - r.s1.edges_ms);
    std::fprintf(stderr,
                 "[bench] round 2 phases: prepare %.1f ms; 2-way sweep %.1f ms + ranking %.1f ms; cycle edges %.1f ms + "
                 "graph/ranking %.1f ms\n",
                 r.s2.prepare_ms, r.s2.sweep_ms, r.s2.two_way_ms - r.s2.sweep_ms, r.s2.edges_ms,
                 r.s2.cycles_ms - r.s2.edges_ms);
    rows.push_back(r);
  }
  double load_end = load1();
  std::printf("\n%-9s %8s %9s %8s %8s %8s %9s %8s %8s %9s %9s %8s %10s %6s\n", "offers",
              "build s", "round1 s", "cpu s", "2-way ms", "cyc ms", "cand prs", "pairs", "cycles",
              "matched%", "round2 s", "cpu s", "scanned", "RSS MB");
  for (const auto& r : rows) {
    double matched = 100.0 * static_cast<double>(2 * r.s1.pairs + 3 * r.s1.cycles)
                     / static_cast<double>(std::max<size_t>(1, r.s1.eligible));
    std::printf(
      "%-9zu %8.2f %9.3f %8.3f %8.1f %8.1f %9zu %8zu %8zu %8.1f%% %9.3f %8.3f %10zu %6zu\n",
      r.offers, r.build_s, r.round1_s, r.round1_cpu_s, r.s1.two_way_ms, r.s1.cycles_ms,
      r.s1.candidate_pairs, r.s1.pairs, r.s1.cycles, matched, r.round2_s, r.round2_cpu_s,
      r.s1.entries_scanned, r.rss_mb);
  }
  const row& big = rows.empty() ? row{} : rows.back();
  std::printf("round over %zu offers: %.3f s (target < 1 s: %s); load average %.2f -> %.2f\n",
              big.offers, big.round1_s, big.round1_s < 1 ? "met" : "NOT met", load_start,
              load_end);
  if (repeat > 1)
    std::printf("round 1 over %zu runs: fastest %.3f s, slowest %.3f s\n", repeat, big.round1_s,
                big.round1_max_s);
  std::printf("{\"sizes\":[");
  for (size_t i = 0; i < rows.size(); ++i) {
    const auto& r = rows[i];
    std::printf("%s{\"offers\":%zu,\"build_s\":%.3f,\"round_s\":%.4f,\"round_cpu_s\":%.4f,\"two_way_ms\":%.1f,"
                "\"cycles_ms\":%.1f,\"candidate_pairs\":%zu,\"pairs\":%zu,\"cycles_found\":%zu,"
                "\"cycles\":%zu,\"entries_scanned\":%zu,\"truncated_scans\":%zu,"
                "\"round2_s\":%.4f,\"round2_cpu_s\":%.4f,\"round2_pairs\":%zu,\"round2_cycles\":%zu,\"rss_mb\":%zu}",
                i ? "," : "", r.offers, r.build_s, r.round1_s, r.round1_cpu_s, r.s1.two_way_ms, r.s1.cycles_ms,
                r.s1.candidate_pairs, r.s1.pairs, r.s1.cycles_found, r.s1.cycles,
                r.s1.entries_scanned, r.s1.truncated_scans, r.round2_s, r.round2_cpu_s, r.s2.pairs, r.s2.cycles,
                r.rss_mb);
  }
  std::printf("],\"threads\":%zu,\"load_start\":%.2f,\"load_end\":%.2f}\n", cfg.threads, load_start,
              load_end);
  return 0;
}
