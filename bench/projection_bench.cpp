// tt_bench_projection: PostgreSQL projection throughput (issue 6). Writes N
// events into a fresh store — every event type of schema v1..v3 (the golden
// events), each on its own entity — starts a throwaway PostgreSQL 15 and times
// the projector catching up from offset 0 (batched transactions, the offset
// committed with the rows: exactly once). Baseline, same run, same server: a
// plain PostgreSQL implementation inserting the same number of audit rows with
// one multi-row INSERT per batch (no projection logic, no offset bookkeeping).
// Prints events/s for both and the ratio; progress on stderr, a JSON line last.
#include <CLI/CLI.hpp>
#include <pqxx/pqxx>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "messages/events.hpp"
#include "persistence/event_store.hpp"
#include "persistence/pg_projection.hpp"
#include "pg_cluster.hpp"
#include "tests/core/golden_events.hpp"

using namespace tt;
using clk = std::chrono::steady_clock;

int main(int argc, char** argv) {
  CLI::App app{"tt_bench_projection: events/s the PostgreSQL projection writes, vs plain "
               "multi-row INSERTs of the same number of rows (throwaway PostgreSQL 15)"};
  size_t events = 100'000;
  size_t batch = 1000;
  app.add_option("--events", events, "events in the log")->capture_default_str();
  app.add_option("--batch", batch, "events per PostgreSQL transaction (both sides)")
    ->capture_default_str();
  double load_eps = 5000;
  double load_s = 10;
  app.add_option("--load-eps", load_eps,
                 "phase 2: listings appended per second while the projector follows (lag under load)")
    ->capture_default_str();
  app.add_option("--load-seconds", load_s, "phase 2 duration (0: skip)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!std::filesystem::exists(std::string(test::pg_bindir) + "/initdb")) {
    std::fprintf(stderr, "needs PostgreSQL 15 server binaries (apt install postgresql-15)\n");
    return 2;
  }

  // 1. The log.
  test::temp_dir dir;
  std::string err;
  std::shared_ptr<persistence::event_store> store = persistence::event_store::open(
    persistence::store_options{(dir.path / "journal").string(), false}, &err);
  if (!store) {
    std::fprintf(stderr, "cannot open the store: %s\n", err.c_str());
    return 1;
  }
  std::vector<event_envelope> kinds;
  for (auto* gen : {&test::golden_events_v1, &test::golden_events_v2, &test::golden_events_v3})
    for (auto& [name, ev] : gen())
      kinds.push_back(ev);
  std::fprintf(stderr, "[bench] writing %zu events (%zu event types) ...\n", events, kinds.size());
  std::vector<std::string> ids, bytes;
  std::vector<persistence::append_request> reqs;
  std::vector<persistence::append_result> results;
  for (size_t done = 0; done < events;) {
    size_t n = std::min<size_t>(4096, events - done);
    ids.clear();
    bytes.clear();
    reqs.clear();
    ids.reserve(n);
    bytes.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      auto ev = kinds[(done + i) % kinds.size()];
      char id[32];
      std::snprintf(id, sizeof id, "bench%017zu", done + i);  // 22 chars, unique
      ev.entity_id = id;
      ev.seq = 1;
      ids.push_back(id);
      bytes.push_back(encode_event(ev));
    }
    for (size_t i = 0; i < n; ++i) {
      persistence::append_request r;
      r.kind = kinds[(done + i) % kinds.size()].kind;
      r.entity_id = ids[i];
      r.expected_seq = 0;
      r.events = std::span<const std::string>(&bytes[i], 1);
      reqs.push_back(r);
    }
    store->append_batch(reqs, results);
    done += n;
  }
  auto end_offset = store->next_offset() - 1;

  // 2. PostgreSQL.
  std::fprintf(stderr, "[bench] starting a throwaway PostgreSQL 15 ...\n");
  test::pg_cluster pg;
  if (!pg.init() || !pg.start()) {
    std::fprintf(stderr, "PostgreSQL did not start\n");
    return 1;
  }

  // 3. The projector from offset 0.
  persistence::pg_projection_config pc;
  pc.url = pg.url();
  pc.batch_events = batch;
  persistence::pg_projector projector{pc, store, nullptr};
  std::fprintf(stderr, "[bench] projecting %llu events ...\n",
               static_cast<unsigned long long>(end_offset));
  auto t0 = clk::now();
  projector.start();
  projector.notify(end_offset + 1);
  auto last_report = t0;
  while (projector.projected_offset() < end_offset) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (clk::now() - last_report > std::chrono::seconds(2)) {
      std::fprintf(stderr, "[bench]   at offset %llu of %llu\n",
                   static_cast<unsigned long long>(projector.projected_offset()),
                   static_cast<unsigned long long>(end_offset));
      last_report = clk::now();
    }
    if (clk::now() - t0 > std::chrono::minutes(10)) {
      std::fprintf(stderr, "projection did not finish in 10 minutes\n");
      return 1;
    }
  }
  double proj_s = std::chrono::duration<double>(clk::now() - t0).count();

  // 3b. Lag under load: ticket listings appended at --load-eps (in small
  // group commits, as the journal does, each followed by the journal's
  // notify) while the projector follows; lag = log end - projected offset,
  // sampled every 10 ms.
  std::vector<uint64_t> lags;
  uint64_t load_events = 0;
  double catch_up_s = 0;
  if (load_s > 0 && load_eps > 0) {
    std::fprintf(stderr, "[bench] lag under load: %.0f listings/s for %.0f s ...\n", load_eps, load_s);
    auto listed = std::get<ticket_listed>(test::golden_events_v1()[0].second.payload);
    const size_t per_batch = 32;
    auto period = std::chrono::duration<double>(static_cast<double>(per_batch) / load_eps);
    auto l0 = clk::now();
    auto next_batch = l0;
    auto next_sample = l0;
    size_t k = 0;
    while (clk::now() - l0 < std::chrono::duration<double>(load_s)) {
      auto now = clk::now();
      if (now >= next_batch) {
        ids.clear();
        bytes.clear();
        reqs.clear();
        for (size_t i = 0; i < per_batch; ++i, ++k) {
          event_envelope ev = kinds[0];
          ev.payload = listed;
          char id[32];
          std::snprintf(id, sizeof id, "load%018zu", k);
          ev.entity_id = id;
          ev.kind = entity_kind::ticket;
          ev.seq = 1;
          ids.push_back(id);
          bytes.push_back(encode_event(ev));
        }
        for (size_t i = 0; i < per_batch; ++i) {
          persistence::append_request r;
          r.kind = entity_kind::ticket;
          r.entity_id = ids[i];
          r.expected_seq = 0;
          r.events = std::span<const std::string>(&bytes[i], 1);
          reqs.push_back(r);
        }
        store->append_batch(reqs, results);
        load_events += per_batch;
        projector.notify(store->next_offset());
        next_batch += std::chrono::duration_cast<clk::duration>(period);
      }
      if (now >= next_sample) {
        lags.push_back(store->next_offset() - 1 - projector.projected_offset());
        next_sample += std::chrono::milliseconds(10);
      }
      std::this_thread::sleep_for(std::chrono::microseconds(500));
    }
    auto c0 = clk::now();
    while (projector.projected_offset() < store->next_offset() - 1
           && clk::now() - c0 < std::chrono::minutes(5))
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    catch_up_s = std::chrono::duration<double>(clk::now() - c0).count();
  }
  std::sort(lags.begin(), lags.end());
  auto pct = [&](double p) {
    return lags.empty() ? uint64_t{0}
                        : lags[std::min(lags.size() - 1, static_cast<size_t>(p * static_cast<double>(lags.size())))];
  };
  projector.stop();
  const uint64_t log_end = store->next_offset() - 1;  // with the load phase's events
  auto audit_rows = pg.number("SELECT count(*) FROM audit_log");

  // 4. Baseline: plain multi-row INSERTs of as many audit-shaped rows.
  std::fprintf(stderr, "[bench] baseline: %llu plain rows ...\n",
               static_cast<unsigned long long>(end_offset));
  double base_s = 0;
  {
    pqxx::connection c{pg.url()};
    {
      pqxx::work w{c};
      w.exec("CREATE TABLE audit_plain (\"offset\" bigint PRIMARY KEY, actor text, action text "
             "NOT NULL, entity_kind text NOT NULL, entity_id text NOT NULL, seq bigint NOT NULL, "
             "event_id text, correlation_id text, at timestamptz)");
      w.commit();
    }
    auto b0 = clk::now();
    for (uint64_t off = 1; off <= end_offset;) {
      std::string sql = "INSERT INTO audit_plain VALUES ";
      uint64_t last = std::min<uint64_t>(end_offset, off + batch - 1);
      for (uint64_t o = off; o <= last; ++o) {
        if (o != off)
          sql += ',';
        sql += "(" + std::to_string(o) + ",'u','ticket_listed','ticket','bench" + std::to_string(o)
               + "',1,'e','c','2026-11-29T00:00:00Z')";
      }
      pqxx::work w{c};
      w.exec(sql);
      w.commit();
      off = last + 1;
    }
    base_s = std::chrono::duration<double>(clk::now() - b0).count();
  }
  double proj_rate = static_cast<double>(end_offset) / proj_s;
  double base_rate = static_cast<double>(end_offset) / base_s;
  std::fprintf(stderr,
               "\n%-44s %12s %10s\n%-44s %12.0f %10.2f\n%-44s %12.0f %10.2f\n"
               "projection / plain inserts = %.2fx; audit_log rows %lld of %llu events\n",
               "writer", "events/s",
               "seconds", "projection (all tables, offset in the same txn)", proj_rate, proj_s,
               "plain multi-row INSERT (audit rows only)", base_rate, base_s,
               proj_rate / base_rate, static_cast<long long>(audit_rows),
               static_cast<unsigned long long>(log_end));
  if (!lags.empty())
    std::fprintf(stderr,
                 "lag under %.0f listings/s (%llu events in %.0f s): p50 %llu, p99 %llu, max %llu "
                 "events (p99 %.0f ms of load); caught up %.2f s after the load stopped\n",
                 load_eps, static_cast<unsigned long long>(load_events), load_s,
                 static_cast<unsigned long long>(pct(0.5)), static_cast<unsigned long long>(pct(0.99)),
                 static_cast<unsigned long long>(lags.back()),
                 1000.0 * static_cast<double>(pct(0.99)) / load_eps, catch_up_s);
  std::printf("{\"bench\":\"projection\",\"events\":%llu,\"batch\":%zu,\"projection_eps\":%.0f,"
              "\"plain_insert_eps\":%.0f,\"ratio\":%.3f,\"audit_rows\":%lld,"
              "\"load_eps\":%.0f,\"lag_p50_events\":%llu,\"lag_p99_events\":%llu,"
              "\"lag_max_events\":%llu,\"catch_up_s\":%.3f}\n",
              static_cast<unsigned long long>(end_offset), batch, proj_rate, base_rate,
              proj_rate / base_rate, static_cast<long long>(audit_rows), load_eps,
              static_cast<unsigned long long>(pct(0.5)), static_cast<unsigned long long>(pct(0.99)),
              static_cast<unsigned long long>(lags.empty() ? 0 : lags.back()), catch_up_s);
  return audit_rows == static_cast<long long>(log_end) ? 0 : 1;
}
