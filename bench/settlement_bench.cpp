// tt_bench_settlement: end-to-end settlements per second on one node against
// the plain-PostgreSQL swap measured in the same run.
//
// Ticket Trader side: the node's settlement actors as tt-node wires them (a
// detached group-commit journal on RocksDB with fsync, ticket/wallet/trade
// regions, the ledger payment provider, the escrow upload adapter) in one
// actor system with 2 scheduler threads ("sharing" policy, as tt-node). C
// client actors each run swaps back to back between their own two users: propose
// (give 1 ticket, take 1 ticket, 300 cents in alternating directions) ->
// accept -> deposit A -> deposit B -> completed. A swap counts when the last
// deposit answers "completed"; its latency is propose-sent to that answer.
// Every step is durable (fsync'd) before it is answered, as in the node.
//
// PostgreSQL side: bench/settlement/pg_anchor.sh (a throwaway PostgreSQL 15,
// the anchor's schema and pgbench script, 16 clients, synchronous_commit on).
//
// The HTTP edge is not in this path; bench/README.md says what that costs.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "actors/entity_env.hpp"
#include "actors/ledger_audit.hpp"
#include "actors/settlement.hpp"
#include "actors/shard_region.hpp"
#include "actors/ticket_model.hpp"
#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/scoped_actor.hpp"
#include "messages/system.hpp"
#include "persistence/event_store.hpp"
#include "persistence/journal_actor.hpp"
#include "persistence/node_keys.hpp"
#include "bench_stats.hpp"

#include <sys/resource.h>

using namespace tt;
using clk = std::chrono::steady_clock;

namespace {

double loadavg1() {
  double v = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf", &v) != 1)
      v = 0;
    std::fclose(f);
  }
  return v;
}

/// CPU time (user + system) of this process so far, in seconds.
double process_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(ru.ru_utime) + secs(ru.ru_stime);
}

struct results {
  std::mutex mtx;
  std::vector<double> latencies_ms;
  std::vector<double> call_ms;  // each of the 4 API calls of a swap, pooled
  std::atomic<uint64_t> swaps{0};
  std::atomic<uint64_t> errors{0};
  std::atomic<bool> measuring{false};
  std::atomic<bool> stop{false};
};

struct pair_setup {
  std::string a, b;      // accounts
  std::string ta, tb;    // tickets, a owns ta and b owns tb at the start
  std::string ca, cb;    // barcodes of ta, tb
};

/// One client: swaps between its two users until told to stop.
void client(caf::event_based_actor* self, trade_region_actor trades, pair_setup p,
            std::shared_ptr<results> res) {
  struct loop_state {
    bool flip = false;
    uint64_t n = 0;
  };
  auto st = std::make_shared<loop_state>();
  auto timeout = std::chrono::seconds{30};
  auto next = std::make_shared<std::function<void()>>();
  *next = [self, trades, p, res, st, timeout, next] {
    if (res->stop)
      return self->quit();
    // Who holds what alternates every swap.
    const auto& giver_ticket = st->flip ? p.tb : p.ta;
    const auto& taker_ticket = st->flip ? p.ta : p.tb;
    const auto& giver_code = st->flip ? p.cb : p.ca;
    const auto& taker_code = st->flip ? p.ca : p.cb;
    int64_t cash = st->flip ? -300 : 300;
    auto id = persistence::random_id();
    auto t0 = clk::now();
    propose_trade prop{id, p.a, {giver_ticket}, {taker_ticket}, cash, "bench", {}};
    prop.meta.user_id = p.a;
    auto fail = [self, res, next](caf::error&) {
      res->errors++;
      (*next)();
    };
    auto action = [id](trade_action_kind k, const std::string& by, const std::string& ticket = {},
                       const std::string& code = {}) {
      trade_action a;
      a.trade_id = id;
      a.action = static_cast<uint8_t>(k);
      a.by = by;
      a.ticket_id = ticket;
      a.barcode = code;
      a.meta.user_id = by;
      return a;
    };
    auto call_done = [res](clk::time_point since) {
      if (!res->measuring)
        return;
      double ms = std::chrono::duration<double, std::milli>(clk::now() - since).count();
      std::lock_guard<std::mutex> g{res->mtx};
      res->call_ms.push_back(ms);
    };
    self->request(trades, timeout, prop).then(
      [=](trade_view&) {
        call_done(t0);
        auto t1 = clk::now();
        self->request(trades, timeout, action(trade_action_kind::accept, p.b)).then(
          [=](trade_view&) {
            call_done(t1);
            auto t2 = clk::now();
            self->request(trades, timeout,
                          action(trade_action_kind::deposit, p.a, giver_ticket, giver_code))
              .then(
                [=](trade_view&) {
                  call_done(t2);
                  auto t3 = clk::now();
                  self->request(trades, timeout,
                                action(trade_action_kind::deposit, p.b, taker_ticket, taker_code))
                    .then(
                      [=](trade_view& v) {
                        call_done(t3);
                        if (v.status != "completed") {
                          res->errors++;
                        } else {
                          st->flip = !st->flip;
                          if (res->measuring) {
                            res->swaps++;
                            double ms
                              = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
                            std::lock_guard<std::mutex> g{res->mtx};
                            res->latencies_ms.push_back(ms);
                          }
                        }
                        (*next)();
                      },
                      fail);
                },
                fail);
          },
          fail);
      },
      fail);
  };
  (*next)();
  self->become([](const caf::message&) {});
}

/// Runs the PostgreSQL anchor script; returns its last stdout line (JSON).
std::string run_pg_anchor(const std::string& script, unsigned clients, unsigned seconds) {
  std::string cmd = script + " --clients " + std::to_string(clients) + " --seconds "
                    + std::to_string(seconds);
  std::fprintf(stderr, "[bench] PostgreSQL anchor: %s\n", cmd.c_str());
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p)
    return {};
  std::string last;
  char line[4096];
  while (std::fgets(line, sizeof line, p)) {
    std::string s(line);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
      s.pop_back();
    if (!s.empty())
      last = s;
  }
  int rc = ::pclose(p);
  if (rc != 0) {
    std::fprintf(stderr, "[bench] PostgreSQL anchor failed (exit %d)\n", rc);
    return {};
  }
  return last;
}

double json_number(const std::string& json, const std::string& key) {
  auto k = "\"" + key + "\":";
  auto pos = json.find(k);
  if (pos == std::string::npos)
    return 0;
  return std::strtod(json.c_str() + pos + k.size(), nullptr);
}

} // namespace

int main(int argc, char** argv) {
  unsigned clients = 64;
  unsigned seconds = 10;
  unsigned warmup = 2;
  unsigned pg_clients = 16;
  std::string dir;
  std::string pg_script;
  bool no_pg = false;
  bool keep = false;
  CLI::App app{"tt_bench_settlement: end-to-end swaps/s (propose -> accept -> deposits -> "
               "completed, all durable) vs the plain-PostgreSQL swap anchor in the same run"};
  app.add_option("--clients", clients, "concurrent swapping client actors (each its own 2 users)")
    ->capture_default_str();
  app.add_option("--seconds", seconds, "measured seconds per side")->capture_default_str();
  app.add_option("--warmup", warmup, "warm-up seconds (not measured)")->capture_default_str();
  app.add_option("--pg-clients", pg_clients, "pgbench clients for the anchor")->capture_default_str();
  app.add_option("--pg-script", pg_script, "the anchor script (default: next to the sources)");
  app.add_flag("--no-pg", no_pg, "skip the PostgreSQL anchor");
  app.add_option("--dir", dir, "scratch directory (the disk to measure; default $TMPDIR)");
  app.add_flag("--keep", keep, "keep the scratch data");
  CLI11_PARSE(app, argc, argv);
  if (pg_script.empty())
    pg_script = std::string(TT_SOURCE_DIR) + "/bench/settlement/pg_anchor.sh";
  double load_start = loadavg1();

  // -- PostgreSQL anchor first (its server is gone before we start) --------------
  std::string pg;
  if (!no_pg)
    pg = run_pg_anchor(pg_script, pg_clients, seconds);
  double pg_tps = json_number(pg, "pg_swaps_per_s");
  double pg_p99 = json_number(pg, "pg_p99_ms");
  double pg_p50 = json_number(pg, "pg_p50_ms");

  // -- Ticket Trader --------------------------------------------------------------
  if (dir.empty()) {
    const char* t = std::getenv("TMPDIR");
    dir = t ? t : "/tmp";
  }
  auto scratch = std::filesystem::path(dir) / ("tt-bench-settlement-" + persistence::random_hex(4));
  std::filesystem::create_directories(scratch);
  std::string err;
  std::shared_ptr<persistence::event_store> store
    = persistence::event_store::open(persistence::store_options{scratch.string()}, &err);
  if (!store) {
    std::fprintf(stderr, "cannot open store: %s\n", err.c_str());
    return 1;
  }
  caf::actor_system_config cfg;
  init_message_types(cfg);
  cfg.set("scheduler.max-threads", size_t{2});
  cfg.set("scheduler.policy", caf::atom("sharing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  cfg.set("logger.console-verbosity", caf::atom("quiet"));
  auto res = std::make_shared<results>();
  uint64_t audit_events = 0;
  bool audit_ok = false;
  int64_t audit_sum = -1;
  {
    caf::actor_system sys{cfg};
    auto keys = persistence::node_keys::from_secret("bench-settlement");
    persistence::journal_config jc;
    auto journal = persistence::spawn_journal(sys, store, jc, nullptr);
    actors::entity_env env;
    env.store = store;
    env.journal = journal;
    env.keys = keys;
    actors::region_config rc;
    auto tickets = actors::spawn_ticket_region(sys, env, rc, nullptr);
    auto wallets = actors::spawn_wallet_region(sys, env, rc, nullptr);
    auto payments = actors::spawn_ledger_provider(sys, wallets);
    auto transfers = actors::spawn_escrow_upload_adapter(sys, tickets);
    auto sd = std::make_shared<actors::settlement_deps>();
    sd->tickets = tickets;
    sd->transfers = transfers;
    sd->payments = payments;
    auto tenv = env;
    tenv.settlement = sd;
    auto trades = actors::spawn_trade_region(sys, tenv, rc, nullptr);

    // Users, wallets and tickets.
    std::fprintf(stderr, "[bench] setting up %u client pairs\n", clients);
    std::vector<pair_setup> pairs;
    {
      caf::scoped_actor self{sys};
      auto list = [&](const std::string& owner, const std::string& code) {
        ticket_fields f;
        f.event_id = "bench-event";
        f.event_name = "Bench";
        f.currency = "USD";
        f.face_value_minor = 10000;
        f.seats = {code};
        auto ids = actors::derive_listing_ids(*keys, owner, f, code);
        list_ticket cmd{ids.ticket_id, f, code, ids.dedup_hash, {}};
        cmd.meta.user_id = owner;
        std::string id;
        self->request(tickets, std::chrono::seconds{10}, cmd)
          .receive([&](ticket_view& v) { id = v.id; },
                   [&](caf::error& e) { std::fprintf(stderr, "list failed: %s\n", describe(e).message.c_str()); });
        return id;
      };
      for (unsigned i = 0; i < clients; ++i) {
        pair_setup p;
        p.a = persistence::random_id();
        p.b = persistence::random_id();
        p.ca = "BENCH-A-" + std::to_string(i);
        p.cb = "BENCH-B-" + std::to_string(i);
        p.ta = list(p.a, p.ca);
        p.tb = list(p.b, p.cb);
        for (const auto* who : {&p.a, &p.b}) {
          wallet_command d;
          d.wallet_id = *who;
          d.op = static_cast<uint8_t>(wallet_op::deposit);
          d.ref = "seed";
          d.amount_minor = 1'000'000;
          d.currency = "USD";
          self->request(wallets, std::chrono::seconds{10}, d).receive([](wallet_view&) {}, [](caf::error&) {});
        }
        if (p.ta.empty() || p.tb.empty())
          return 1;
        pairs.push_back(std::move(p));
      }
    }
    std::fprintf(stderr, "[bench] warm-up %us, then %us measured, %u clients\n", warmup, seconds,
                 clients);
    for (auto& p : pairs)
      sys.spawn(client, trades, p, res);
    std::this_thread::sleep_for(std::chrono::seconds{warmup});
    auto journal_sample = [&] {
      caf::scoped_actor self{sys};
      journal_stats out;
      self->request(journal, std::chrono::seconds{10}, atoms::stats_atom_v)
        .receive([&](journal_stats& s) { out = s; }, [](caf::error&) {});
      return out;
    };
    auto j0 = journal_sample();
    auto cpu0 = process_cpu_seconds();
    res->measuring = true;
    auto t0 = clk::now();
    for (unsigned s = 0; s < seconds; ++s) {
      std::this_thread::sleep_for(std::chrono::seconds{1});
      std::fprintf(stderr, "[bench] %us: %llu swaps\n", s + 1,
                   static_cast<unsigned long long>(res->swaps.load()));
    }
    res->measuring = false;
    auto elapsed = std::chrono::duration<double>(clk::now() - t0).count();
    auto cpu1 = process_cpu_seconds();
    auto j1 = journal_sample();
    res->stop = true;
    std::this_thread::sleep_for(std::chrono::seconds{2});  // let the swaps in flight finish
    double tps = static_cast<double>(res->swaps.load()) / elapsed;
    {
      std::lock_guard<std::mutex> g{res->mtx};
      double p50 = tt::bench::percentile(res->latencies_ms, 0.5);
      double p99 = tt::bench::percentile(res->latencies_ms, 0.99);
      // The invariants still hold after the load.
      auto audit = actors::run_audit(*store);
      audit_events = audit.events;
      audit_ok = audit.ok();
      audit_sum = audit.sum;
      double load_end = loadavg1();
      std::printf("\n%-28s %12s %10s %10s\n", "", "swaps/s", "p50 ms", "p99 ms");
      if (!pg.empty())
        std::printf("%-28s %12.0f %10.2f %10.2f\n", "PostgreSQL anchor", pg_tps, pg_p50, pg_p99);
      std::printf("%-28s %12.0f %10.2f %10.2f\n", "Ticket Trader (actors)", tps, p50, p99);
      double c50 = tt::bench::percentile(res->call_ms, 0.5), c99 = tt::bench::percentile(res->call_ms, 0.99);
      std::printf("%-28s %12s %10.2f %10.2f   (each of the 4 calls of a swap)\n",
                  "  per API call", "", c50, c99);
      if (pg_tps > 0)
        std::printf("ratio tt/pg: %.2fx (target >= 3x), p99 %s\n", tps / pg_tps,
                    p99 < pg_p99 ? "lower" : "NOT lower");
      auto batches = static_cast<double>(j1.batches - j0.batches);
      std::printf("journal: %.0f batches/s, %.1f events/batch, write+fsync p50 %llu us p99 %llu us; "
                  "process CPU %.2f cores, %.0f us per swap\n",
                  batches / elapsed,
                  batches > 0 ? static_cast<double>(j1.events - j0.events) / batches : 0.0,
                  static_cast<unsigned long long>(j1.write_us_p50),
                  static_cast<unsigned long long>(j1.write_us_p99), (cpu1 - cpu0) / elapsed,
                  tps > 0 ? (cpu1 - cpu0) / elapsed / tps * 1e6 : 0.0);
      std::printf("audit after the run: %s (events %llu, ledger sum %lld), errors %llu\n",
                  audit_ok ? "ok" : "VIOLATED", static_cast<unsigned long long>(audit_events),
                  static_cast<long long>(audit_sum),
                  static_cast<unsigned long long>(res->errors.load()));
      std::printf("{\"tt_call_p50_ms\":%.3f,\"tt_call_p99_ms\":%.3f,",
                  tt::bench::percentile(res->call_ms, 0.5), tt::bench::percentile(res->call_ms, 0.99));
      std::printf("\"tt_swaps_per_s\":%.1f,\"tt_p50_ms\":%.3f,\"tt_p99_ms\":%.3f,"
                  "\"pg_swaps_per_s\":%.1f,\"pg_p50_ms\":%.3f,\"pg_p99_ms\":%.3f,\"ratio\":%.3f,"
                  "\"clients\":%u,\"pg_clients\":%u,\"seconds\":%u,\"errors\":%llu,"
                  "\"audit_ok\":%s,\"loadavg_start\":%.2f,\"loadavg_end\":%.2f}\n",
                  tps, p50, p99, pg_tps, pg_p50, pg_p99, pg_tps > 0 ? tps / pg_tps : 0.0, clients,
                  pg_clients, seconds, static_cast<unsigned long long>(res->errors.load()),
                  audit_ok ? "true" : "false", load_start, load_end);
    }
    for (auto h : {caf::actor_cast<caf::actor>(trades), caf::actor_cast<caf::actor>(payments),
                   caf::actor_cast<caf::actor>(transfers), caf::actor_cast<caf::actor>(wallets),
                   caf::actor_cast<caf::actor>(tickets), caf::actor_cast<caf::actor>(journal)})
      caf::anon_send_exit(h, caf::exit_reason::user_shutdown);
    journal = nullptr;
  }
  store->close();
  store.reset();
  if (!keep)
    std::filesystem::remove_all(scratch);
  return audit_ok ? 0 : 1;
}
