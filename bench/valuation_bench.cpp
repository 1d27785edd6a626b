// tt_bench_valuation: the valuation model (seed §3.2, docs/valuation.md) on a
// generated market — accuracy against the median baseline measured in the
// same run, and the latency of valuing one ticket.
//
// 1. Generates a market of --sales past sales (actors/market_generator) and
//    trains the ensemble on it (or --model loads a trained one and only the
//    latency part runs; its accuracy is then the sidecar's).
// 2. Accuracy (held-out split of train()): model MAE vs the median baseline
//    (median price of the same event and section in the training split, else
//    of the event, else of everything), R², share within ±10%, and how the
//    confidence behaves on the half of the split not used to calibrate it.
// 3. Latency: --tickets tickets drawn from the market, each valued alone with
//    `predict` (features -> XGBoost, 1 thread: a DMatrix, the SHAP pass of
//    member 0, a plain pass of the other members, factors) and with `valuate`
//    (the same plus the confidence threshold and the median fallback);
//    p50/p99 per call, and the batch throughput for comparison.
// Progress and the human table go to stderr; the last stdout line is JSON.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "actors/market_generator.hpp"
#include "actors/valuation_model.hpp"
#include "bench_stats.hpp"

using namespace tt::actors;
using clk = std::chrono::steady_clock;

namespace {

double loadavg() {
  double l = -1;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &l) != 1)
      l = -1;
    std::fclose(f);
  }
  return l;
}

} // namespace

int main(int argc, char** argv) {
  size_t sales = 100'000;
  size_t tickets = 10'000;
  uint64_t seed = 7;
  train_params tp;
  std::string model_path;
  CLI::App app{"tt_bench_valuation: valuation accuracy vs the median baseline, latency per ticket"};
  app.add_option("--sales", sales, "past sales in the generated market")->capture_default_str();
  app.add_option("--tickets", tickets, "tickets valued one by one (timed)")->capture_default_str();
  app.add_option("--seed", seed, "market and training seed")->capture_default_str();
  app.add_option("--rounds", tp.rounds, "boosting rounds per member")->capture_default_str();
  app.add_option("--members", tp.members, "ensemble members")->capture_default_str();
  app.add_option("--threads", tp.threads, "XGBoost threads while training")->capture_default_str();
  app.add_option("--model", model_path, "load this model instead of training one");
  CLI11_PARSE(app, argc, argv);
  tp.seed = seed;
  double load0 = loadavg();
  std::fprintf(stderr, "[bench] load average %.2f; generating %zu sales (seed %llu)\n", load0,
               sales, static_cast<unsigned long long>(seed));

  auto t0 = clk::now();
  market_params mp;
  mp.sales = sales;
  mp.seed = seed;
  auto market = generate_market(mp);
  double gen_s = std::chrono::duration<double>(clk::now() - t0).count();
  std::fprintf(stderr, "[bench] %zu events, %zu sections, %zu sales in %.1f s\n",
               market.events.size(), market.sections.size(), market.rows.size(), gen_s);
  // The noise floor: the share of sales within +-10% of the noise-free price
  // (what an oracle knowing every latent effect would reach), from the noise
  // width each price was drawn with; 2% outliers never are.
  double oracle = 0;
  for (double sg : market.noise_sigma) {
    auto cdf = [](double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); };
    oracle += cdf(-std::log(0.9) / sg) - cdf(-std::log(1.1) / sg);
  }
  oracle = 0.98 * oracle / static_cast<double>(std::max<size_t>(1, market.noise_sigma.size()));

  valuation_model model;
  double train_s = 0;
  try {
    if (model_path.empty()) {
      auto t1 = clk::now();
      int last = -1;
      model.train(market.rows, tp, [&](const train_progress& p) {
        int pcent = (p.member * p.rounds + p.round) * 100 / (p.members * p.rounds);
        if (pcent / 10 != last / 10) {
          std::fprintf(stderr, "[bench] training %3d%% (member %d/%d, round %d/%d)\n", pcent,
                       p.member + 1, p.members, p.round, p.rounds);
          last = pcent;
        }
      });
      train_s = std::chrono::duration<double>(clk::now() - t1).count();
    } else {
      model = valuation_model::load(model_path);
    }
  } catch (const valuation_error& e) {
    std::fprintf(stderr, "tt_bench_valuation: %s\n", e.what());
    return 1;
  }
  const auto& m = model.metrics();

  resale_medians medians;
  for (const auto& r : market.rows)
    medians.add(r.event_id, r.section, r.price_minor);
  std::vector<size_t> pick(tickets);
  uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 1;
  for (auto& i : pick) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    i = static_cast<size_t>(s % market.rows.size());
  }
  std::fprintf(stderr, "[bench] timing %zu single-ticket valuations\n", tickets);
  for (size_t i = 0; i < std::min<size_t>(200, tickets); ++i)  // warm-up
    (void)model.predict(market.rows[pick[i]].features);
  std::vector<double> lat_predict, lat_valuate;
  lat_predict.reserve(tickets);
  lat_valuate.reserve(tickets);
  size_t fallbacks = 0, low = 0;
  int64_t sink = 0;
  for (size_t i : pick) {
    const auto& row = market.rows[i];
    auto a = clk::now();
    auto v = model.predict(row.features);
    auto b = clk::now();
    auto w = model.valuate(row.features, medians, row.event_id, row.section);
    auto c = clk::now();
    lat_predict.push_back(std::chrono::duration<double, std::micro>(b - a).count());
    lat_valuate.push_back(std::chrono::duration<double, std::micro>(c - b).count());
    sink += v.credit_minor + w.credit_minor;
    fallbacks += w.method == "median_fallback";
    low += v.confidence < valuation_model::default_confidence_threshold;
  }
  std::vector<valuation_features> batch;
  for (size_t i : pick)
    batch.push_back(market.rows[i].features);
  auto tb = clk::now();
  auto out = model.predict_batch(batch);
  double batch_us = std::chrono::duration<double, std::micro>(clk::now() - tb).count()
                    / static_cast<double>(std::max<size_t>(1, batch.size()));
  sink += out.empty() ? 0 : out[0].credit_minor;
  double load1 = loadavg();

  double p50 = tt::bench::percentile(lat_predict, 0.5), p99 = tt::bench::percentile(lat_predict, 0.99);
  double v50 = tt::bench::percentile(lat_valuate, 0.5), v99 = tt::bench::percentile(lat_valuate, 0.99);
  std::fprintf(stderr,
               "\n valuation model %s (%s)\n"
               " accuracy on %lld held-out sales (trained on %lld)\n"
               "   model MAE            %10.2f\n"
               "   median-baseline MAE  %10.2f\n"
               "   ratio                %10.3f   (target < 0.8)\n"
               "   R^2 (price)          %10.3f\n"
               "   median |rel. error|  %10.3f\n"
               "   within +-10%%         %10.3f   (noise floor: an oracle reaches %.3f)\n"
               "   confidence >= 0.75   %10.3f of tickets; %.3f of those within +-10%% "
               "(mean confidence %.3f)\n"
               " latency per ticket (us, 1 thread)    p50      p99\n"
               "   predict                       %8.1f %8.1f\n"
               "   valuate (+ median fallback)   %8.1f %8.1f\n"
               "   batch of %zu, per ticket      %8.1f\n"
               " fallbacks %zu of %zu tickets (%zu below the threshold); train %.1f s; load %.2f -> %.2f\n",
               model.version().c_str(), model_path.empty() ? "trained here" : model_path.c_str(),
               static_cast<long long>(m.validation_rows), static_cast<long long>(m.train_rows),
               static_cast<double>(m.mae_minor) / 100.0,
               static_cast<double>(m.baseline_mae_minor) / 100.0, m.mae_ratio, m.r2, m.median_ape,
               m.accurate_fraction, oracle, m.confident_share, m.confident_accurate, m.mean_confidence, p50,
               p99, v50, v99, batch.size(), batch_us, fallbacks, tickets, low, train_s, load0,
               load1);
  std::printf("{\"bench\":\"valuation\",\"model_version\":\"%s\",\"sales\":%zu,\"events\":%zu,"
              "\"rounds\":%d,\"members\":%d,\"train_seconds\":%.2f,\"validation_rows\":%lld,"
              "\"mae_minor\":%lld,\"baseline_mae_minor\":%lld,\"mae_ratio\":%.4f,\"r2\":%.4f,"
              "\"median_ape\":%.4f,\"accurate_fraction\":%.4f,\"oracle_accurate_fraction\":%.4f,\"confident_share\":%.4f,"
              "\"confident_accurate\":%.4f,\"tickets\":%zu,\"predict_p50_us\":%.1f,"
              "\"predict_p99_us\":%.1f,\"valuate_p50_us\":%.1f,\"valuate_p99_us\":%.1f,"
              "\"batch_us_per_ticket\":%.2f,\"fallbacks\":%zu,\"load_start\":%.2f,"
              "\"load_end\":%.2f,\"checksum\":%lld}\n",
              model.version().c_str(), sales, market.events.size(), tp.rounds, tp.members,
              train_s, static_cast<long long>(m.validation_rows),
              static_cast<long long>(m.mae_minor), static_cast<long long>(m.baseline_mae_minor),
              m.mae_ratio, m.r2, m.median_ape, m.accurate_fraction, oracle, m.confident_share,
              m.confident_accurate, tickets, p50, p99, v50, v99, batch_us, fallbacks, load0, load1,
              static_cast<long long>(sink));
  return 0;
}
