// tt_bench_cluster: cross-node request throughput. Starts a throwaway etcd and
// two tt-node processes (fsync on), lists tickets, then drives durable writes
// (PATCH price, one event each) through node A for (1) tickets whose shard A
// owns — the same-node baseline measured in this run — and (2) tickets whose
// shard B owns, forwarded over the CAF middleman; then (3) new listings
// through A, each sorted by whether its (server-chosen) shard lives on A or B.
// Prints the rates, latencies and remote/local ratios (target: >= 0.5x).
#include <CLI/CLI.hpp>

#include <atomic>
#include <functional>
#include <cstdio>
#include <mutex>

#include "messages/entity.hpp"
#include "support.hpp"
#include "bench_stats.hpp"

using namespace tt::test;
using clk = std::chrono::steady_clock;

namespace {

struct result {
  double rate = 0;
  double p50 = 0, p99 = 0;
  size_t errors = 0;
};

/// `clients` closed-loop connections to `port`, each PATCHing its own slice
/// of `ids` round-robin for `seconds`.
result drive(uint16_t port, const std::vector<std::string>& ids, const std::string& token,
             int clients, double seconds) {
  std::atomic<size_t> done{0}, errors{0};
  std::mutex mtx;
  std::vector<double> lat;
  std::vector<std::thread> threads;
  auto until = clk::now() + std::chrono::duration<double>(seconds);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      http_client h{port};
      std::vector<double> mine;
      int64_t price = 5000 + c;
      for (size_t i = static_cast<size_t>(c); clk::now() < until; i += static_cast<size_t>(clients)) {
        auto& id = ids[i % ids.size()];
        auto t0 = clk::now();
        auto r = h.request(boost::beast::http::verb::patch, "/api/v1/tickets/" + id,
                           R"({"price_minor":)" + std::to_string(++price) + "}", {bearer(token)});
        mine.push_back(std::chrono::duration<double, std::milli>(clk::now() - t0).count());
        if (r.status == 200)
          ++done;
        else
          ++errors;
      }
      std::lock_guard<std::mutex> g{mtx};
      lat.insert(lat.end(), mine.begin(), mine.end());
    });
  }
  for (auto& t : threads)
    t.join();
  return result{static_cast<double>(done) / seconds, tt::bench::percentile(lat, 0.5), tt::bench::percentile(lat, 0.99), errors};
}

/// Listings (POST /api/v1/tickets, one durable event each) through `port`
/// from `clients` closed-loop connections for `seconds`. A new ticket's id,
/// and so its shard, is chosen by the server, so one run mixes both kinds;
/// each answer is sorted by where its shard lives (`is_local(id)`).
struct listing_result {
  double rate = 0;  // all listings per second
  std::vector<double> local_ms, remote_ms;
  size_t errors = 0;
};

listing_result drive_listings(uint16_t port, const std::string& token, int clients, double seconds,
                              const std::function<bool(const std::string&)>& is_local) {
  std::atomic<size_t> errors{0};
  std::mutex mtx;
  listing_result out;
  std::vector<std::thread> threads;
  auto until = clk::now() + std::chrono::duration<double>(seconds);
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      http_client h{port};
      std::vector<double> local, remote;
      for (int k = 0; clk::now() < until; ++k) {
        auto t0 = clk::now();
        auto r = h.post("/api/v1/tickets", listing_body("l" + std::to_string(c), 100000 + k),
                        {bearer(token)});
        double ms = std::chrono::duration<double, std::milli>(clk::now() - t0).count();
        if (r.status != 201) {
          ++errors;
          continue;
        }
        (is_local(std::string(r.json().at("id").as_string())) ? local : remote).push_back(ms);
      }
      std::lock_guard<std::mutex> g{mtx};
      out.local_ms.insert(out.local_ms.end(), local.begin(), local.end());
      out.remote_ms.insert(out.remote_ms.end(), remote.begin(), remote.end());
    });
  }
  for (auto& t : threads)
    t.join();
  out.errors = errors;
  out.rate = static_cast<double>(out.local_ms.size() + out.remote_ms.size()) / seconds;
  return out;
}

double mean(const std::vector<double>& v) {
  double s = 0;
  for (double x : v)
    s += x;
  return v.empty() ? 0 : s / static_cast<double>(v.size());
}

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"tt_bench_cluster: listings/updates through a node that does not own the shard vs "
               "one that does (throwaway etcd + 2 nodes)"};
  int tickets = 400;
  int clients = 32;
  double seconds = 8;
  std::string node_bin = TT_NODE_BIN;
  app.add_option("--tickets", tickets, "tickets listed before the runs")->capture_default_str();
  app.add_option("--clients", clients, "concurrent HTTP connections")->capture_default_str();
  app.add_option("--seconds", seconds, "duration of each run")->capture_default_str();
  app.add_option("--node-bin", node_bin, "tt-node binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (!std::filesystem::exists("/usr/bin/etcd")) {
    std::fprintf(stderr, "needs /usr/bin/etcd (apt install etcd-server)\n");
    return 2;
  }
  setenv("TT_ADMIN_SECRET", "bench-admin-secret-0123456789", 1);
  temp_dir dir;
  auto ep = free_port(), pp = free_port();
  child etcd;
  auto cu = "http://127.0.0.1:" + std::to_string(ep), pu = "http://127.0.0.1:" + std::to_string(pp);
  etcd.start({"/usr/bin/etcd", "--name", "e1", "--data-dir", (dir.path / "etcd").string(),
              "--listen-client-urls", cu, "--advertise-client-urls", cu, "--listen-peer-urls", pu,
              "--initial-advertise-peer-urls", pu, "--initial-cluster", "e1=" + pu},
             (dir.path / "etcd.log").string());
  std::fprintf(stderr, "[bench] starting etcd and 2 nodes in %s\n", dir.path.c_str());
  for (int i = 0; i < 200; ++i) {
    http_client c{ep, std::chrono::milliseconds(300)};
    if (c.get("/health").status == 200)
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::array<uint16_t, 2> http{free_port(), free_port()}, cport{free_port(), free_port()};
  std::vector<std::unique_ptr<node_process>> nodes;
  for (int i = 0; i < 2; ++i) {
    nodes.push_back(std::make_unique<node_process>(
      (dir.path / ("n" + std::to_string(i + 1))).string(), http[static_cast<size_t>(i)],
      std::vector<std::string>{"--node-name", "n" + std::to_string(i + 1), "--cluster-port",
                               std::to_string(cport[static_cast<size_t>(i)]), "--etcd", cu,
                               "--cluster-size", "2", "--no-rate-limits", "--argon2-mem-mib", "8",
                               "--argon2-ops", "1"}));
    nodes.back()->start();
  }
  for (auto& n : nodes)
    if (!n->wait_healthy(std::chrono::seconds(30))) {
      std::fprintf(stderr, "a node did not start; logs in %s\n", dir.path.c_str());
      return 1;
    }
  http_client a{http[0]};
  std::string token;
  for (int i = 0; i < 100 && token.empty(); ++i) {
    token = login(a, "bench@example.com");
    if (token.empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (token.empty()) {
    std::fprintf(stderr, "cannot log in (cluster not formed?)\n");
    return 1;
  }
  // Split the ids by the home of their shard: the same rendezvous rule the
  // nodes applied when the two-node cluster formed (nodes/cluster_member).
  std::vector<std::string> local_ids, remote_ids;
  // Home of a shard: the highest rendezvous score (nodes/cluster_member).
  auto on_n1 = [](const std::string& id) {
    auto s = tt::shard_of(id);
    return tt::rendezvous_score("n1", s) >= tt::rendezvous_score("n2", s);
  };
  std::fprintf(stderr, "[bench] listing %d tickets\n", tickets);
  for (int k = 0; k < tickets; ++k) {
    auto r = a.post("/api/v1/tickets", listing_body("bench", k), {bearer(token)});
    if (r.status != 201) {
      std::fprintf(stderr, "listing failed: %d %s\n", r.status, r.body.c_str());
      return 1;
    }
    auto id = std::string(r.json().at("id").as_string());
    (on_n1(id) ? local_ids : remote_ids).push_back(id);
  }
  std::fprintf(stderr, "[bench] %zu tickets on n1 (local), %zu on n2 (remote)\n", local_ids.size(),
               remote_ids.size());
  std::fprintf(stderr, "[bench] local run (%d clients, %.0f s)\n", clients, seconds);
  auto local = drive(http[0], local_ids, token, clients, seconds);
  std::fprintf(stderr, "[bench] remote run (%d clients, %.0f s)\n", clients, seconds);
  auto remote = drive(http[0], remote_ids, token, clients, seconds);
  double ratio = local.rate > 0 ? remote.rate / local.rate : 0;
  std::fprintf(stderr,
               "\n%-28s %12s %10s %10s %8s\n%-28s %12.0f %10.1f %10.1f %8zu\n%-28s %12.0f %10.1f "
               "%10.1f %8zu\nremote/local = %.2fx (target >= 0.5x)\n",
               "writes via n1 (PATCH)", "req/s", "p50 ms", "p99 ms", "errors", "shard on n1 (local)",
               local.rate, local.p50, local.p99, local.errors, "shard on n2 (remote)", remote.rate,
               remote.p50, remote.p99, remote.errors, ratio);
  // Listings through n1: where each new ticket lands is the server's choice,
  // so both kinds share one run. At a fixed number of closed-loop clients,
  // throughput is clients / mean latency, so the listings/s each kind would
  // reach alone is estimated as clients / its mean latency.
  std::fprintf(stderr, "[bench] listing run through n1 (%d clients, %.0f s)\n", clients, seconds);
  auto lst = drive_listings(http[0], token, clients, seconds, on_n1);
  double lm = mean(lst.local_ms), rm = mean(lst.remote_ms);
  double l_rate = lm > 0 ? clients * 1000.0 / lm : 0, r_rate = rm > 0 ? clients * 1000.0 / rm : 0;
  double l_ratio = l_rate > 0 ? r_rate / l_rate : 0;
  std::fprintf(stderr,
               "\n%-28s %12s %10s %10s %10s %8s\n%-28s %12.0f %10.1f %10.1f %10zu\n%-28s %12.0f "
               "%10.1f %10.1f %10zu\nlistings/s through n1, both kinds: %.0f (%zu errors)\n"
               "remote/local listings = %.2fx (target >= 0.5x)\n",
               "listings via n1 (POST)", "est. req/s", "p50 ms", "p99 ms", "count", "",
               "landed on n1 (local)", l_rate, tt::bench::percentile(lst.local_ms, 0.5),
               tt::bench::percentile(lst.local_ms, 0.99), lst.local_ms.size(),
               "landed on n2 (remote)", r_rate, tt::bench::percentile(lst.remote_ms, 0.5),
               tt::bench::percentile(lst.remote_ms, 0.99), lst.remote_ms.size(), lst.rate,
               lst.errors, l_ratio);
  std::printf("{\"bench\":\"cluster\",\"clients\":%d,\"local_rps\":%.0f,\"remote_rps\":%.0f,"
              "\"local_p99_ms\":%.1f,\"remote_p99_ms\":%.1f,\"ratio\":%.3f,\"errors\":%zu,"
              "\"listings_rps\":%.0f,\"listing_local_est_rps\":%.0f,"
              "\"listing_remote_est_rps\":%.0f,\"listing_ratio\":%.3f,\"listing_errors\":%zu}\n",
              clients, local.rate, remote.rate, local.p99, remote.p99, ratio,
              local.errors + remote.errors, lst.rate, l_rate, r_rate, l_ratio, lst.errors);
  for (auto& n : nodes)
    n->kill(SIGTERM);
  return 0;
}
