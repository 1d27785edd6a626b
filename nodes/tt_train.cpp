// tt-train: trains the valuation model (seed §3.2, docs/valuation.md) on a
// CSV of past sales (--data, format in docs/valuation.md) or on a generated
// synthetic market (--generate N), and writes MODEL and MODEL.json.
//
// stderr: progress (a bar on a terminal, a line per 10% otherwise) and the
// validation metrics; stdout: one JSON line with the same metrics.
// Exit status: 0 written; 1 bad input or training/saving failed; CLI11's own
// codes for bad arguments.
#include <CLI/CLI.hpp>

#include <boost/json.hpp>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <unistd.h>

#include "actors/market_generator.hpp"
#include "actors/valuation_model.hpp"

using namespace tt::actors;
using clk = std::chrono::steady_clock;

namespace {

// One progress bar over all members' rounds, on stderr.
class progress_bar {
public:
  explicit progress_bar(bool tty) : tty_(tty) {}

  void operator()(const train_progress& p) {
    int total = p.members * p.rounds;
    int done = p.member * p.rounds + p.round;
    int pct = done * 100 / total;
    if (!tty_) {
      if (pct / 10 != last_ / 10 || done == total)
        std::fprintf(stderr, "[tt-train] %3d%%  member %d/%d round %d/%d\n", pct, p.member + 1,
                     p.members, p.round, p.rounds);
      last_ = pct;
      return;
    }
    auto now = clk::now();
    if (done != total && now - shown_ < std::chrono::milliseconds(100))
      return;
    shown_ = now;
    if (p.valid_mae_log >= 0)
      mae_ = p.valid_mae_log;
    constexpr int width = 30;
    char bar[width + 1];
    int fill = done * width / total;
    for (int i = 0; i < width; ++i)
      bar[i] = i < fill ? '#' : '.';
    bar[width] = '\0';
    std::fprintf(stderr, "\r[tt-train] [%s] %3d%%  member %d/%d  round %3d/%d", bar, pct,
                 p.member + 1, p.members, p.round, p.rounds);
    if (mae_ >= 0)
      std::fprintf(stderr, "  valid MAE(log) %.4f", mae_);
    if (done == total)
      std::fputc('\n', stderr);
    std::fflush(stderr);
  }

private:
  bool tty_;
  int last_ = -1;
  double mae_ = -1;
  clk::time_point shown_{};
};

} // namespace

int main(int argc, char** argv) {
  std::string data_path, out_path, csv_out;
  size_t generate = 0;
  uint64_t seed = 1;
  train_params tp;
  CLI::App app{"tt-train: train the ticket valuation model (XGBoost ensemble, SHAP factors, "
               "calibrated confidence). Writes MODEL and MODEL.json; see docs/valuation.md."};
  auto* data_opt =
    app.add_option("--data", data_path, "CSV of past sales (header and columns: docs/valuation.md)")
      ->check(CLI::ExistingFile);
  auto* gen_opt = app.add_option("--generate", generate,
                                 "train on N sales of a generated synthetic market instead");
  data_opt->excludes(gen_opt);
  gen_opt->excludes(data_opt);
  app.add_option("--seed", seed, "seed of the generated market, the split and the ensemble")
    ->capture_default_str();
  app.add_option("--out", out_path, "model file to write (and MODEL.json beside it)")
    ->required();
  app.add_option("--rounds", tp.rounds, "boosting rounds per ensemble member")
    ->capture_default_str()
    ->check(CLI::Range(1, 100000));
  app.add_option("--members", tp.members, "ensemble members (confidence needs >= 2)")
    ->capture_default_str()
    ->check(CLI::Range(2, 50));
  app.add_option("--max-depth", tp.max_depth, "tree depth")->capture_default_str()->check(
    CLI::Range(1, 16));
  app.add_option("--eta", tp.eta, "learning rate")->capture_default_str()->check(
    CLI::Range(0.001, 1.0));
  app.add_option("--validation", tp.validation_fraction, "held-out share of the rows")
    ->capture_default_str()
    ->check(CLI::Range(0.05, 0.5));
  app.add_option("--tolerance", tp.tolerance,
                 "relative error counted as accurate by the confidence")
    ->capture_default_str()
    ->check(CLI::Range(0.01, 1.0));
  app.add_option("--threads", tp.threads, "XGBoost threads while training")
    ->capture_default_str()
    ->check(CLI::Range(1, 256));
  app.add_option("--write-csv", csv_out, "with --generate: also write the generated sales as CSV");
  CLI11_PARSE(app, argc, argv);
  if (data_path.empty() && generate == 0) {
    std::fprintf(stderr, "tt-train: give --data FILE.csv or --generate N (N > 0)\n%s",
                 app.help().c_str());
    return 1;
  }
  if (!csv_out.empty() && generate == 0) {
    std::fprintf(stderr, "tt-train: --write-csv needs --generate\n");
    return 1;
  }
  tp.seed = seed;

  auto t0 = clk::now();
  std::vector<training_row> rows;
  std::string source;
  try {
    if (!data_path.empty()) {
      std::ifstream in(data_path);
      if (!in) {
        std::fprintf(stderr, "tt-train: cannot open %s\n", data_path.c_str());
        return 1;
      }
      rows = read_training_csv(in, data_path);
      source = data_path;
      std::fprintf(stderr, "[tt-train] read %zu sales from %s\n", rows.size(), data_path.c_str());
    } else {
      market_params mp;
      mp.sales = generate;
      mp.seed = seed;
      auto market = generate_market(mp);
      std::fprintf(stderr, "[tt-train] generated %zu sales of %zu events at %zu sections (seed %llu)\n",
                   market.rows.size(), market.events.size(), market.sections.size(),
                   static_cast<unsigned long long>(seed));
      rows = std::move(market.rows);
      source = "generated:" + std::to_string(generate);
      if (!csv_out.empty()) {
        std::ofstream out(csv_out, std::ios::trunc);
        write_training_csv(out, rows);
        out.flush();
        if (!out) {
          std::fprintf(stderr, "tt-train: cannot write %s\n", csv_out.c_str());
          return 1;
        }
        std::fprintf(stderr, "[tt-train] wrote %s\n", csv_out.c_str());
      }
    }
  } catch (const valuation_error& e) {
    std::fprintf(stderr, "tt-train: %s\n", e.what());
    return 1;
  }

  std::fprintf(stderr, "[tt-train] training %d members x %d rounds (depth %d, eta %g) on %zu rows\n",
               tp.members, tp.rounds, tp.max_depth, tp.eta, rows.size());
  valuation_model model;
  valuation_metrics m;
  auto t1 = clk::now();
  try {
    progress_bar bar(::isatty(2) != 0);
    m = model.train(rows, tp, [&](const train_progress& p) { bar(p); });
    model.save(out_path);
  } catch (const valuation_error& e) {
    std::fprintf(stderr, "\ntt-train: %s\n", e.what());
    return 1;
  }
  double train_s = std::chrono::duration<double>(clk::now() - t1).count();
  double total_s = std::chrono::duration<double>(clk::now() - t0).count();

  std::fprintf(stderr,
               "\n model %s -> %s (+ .json), trained in %.1f s\n"
               " validation on %lld held-out sales (trained on %lld)\n"
               "   model MAE                %12.2f\n"
               "   median-baseline MAE      %12.2f   (same event+section, else event, median)\n"
               "   MAE ratio model/median   %12.3f\n"
               "   R^2 (price)              %12.3f\n"
               "   median |relative error|  %12.3f\n"
               "   within +-%.0f%%              %12.3f\n"
               "   confidence >= 0.75       %12.3f of sales, %.3f of those within +-%.0f%%\n"
               "   below 0.75, median known %12.3f of sales: model MAE %.2f vs median MAE %.2f\n",
               model.version().c_str(), out_path.c_str(), train_s,
               static_cast<long long>(m.validation_rows), static_cast<long long>(m.train_rows),
               static_cast<double>(m.mae_minor) / 100.0,
               static_cast<double>(m.baseline_mae_minor) / 100.0, m.mae_ratio, m.r2, m.median_ape,
               tp.tolerance * 100, m.accurate_fraction, m.confident_share, m.confident_accurate,
               tp.tolerance * 100, m.fallback_share,
               static_cast<double>(m.fallback_model_mae_minor) / 100.0,
               static_cast<double>(m.fallback_median_mae_minor) / 100.0);

  boost::json::object o{{"model", out_path},
                        {"sidecar", out_path + ".json"},
                        {"model_version", model.version()},
                        {"source", source},
                        {"rows", rows.size()},
                        {"train_rows", m.train_rows},
                        {"validation_rows", m.validation_rows},
                        {"rounds", tp.rounds},
                        {"members", tp.members},
                        {"mae_minor", m.mae_minor},
                        {"baseline_mae_minor", m.baseline_mae_minor},
                        {"mae_ratio", m.mae_ratio},
                        {"r2", m.r2},
                        {"median_ape", m.median_ape},
                        {"accurate_fraction", m.accurate_fraction},
                        {"confident_share", m.confident_share},
                        {"confident_accurate", m.confident_accurate},
                        {"fallback_share", m.fallback_share},
                        {"fallback_model_mae_minor", m.fallback_model_mae_minor},
                        {"fallback_median_mae_minor", m.fallback_median_mae_minor},
                        {"train_seconds", train_s},
                        {"total_seconds", total_s}};
  std::printf("%s\n", boost::json::serialize(o).c_str());
  return 0;
}
