// Clean shutdown (SIGTERM) of a busy tt-node: it must exit 0 within its
// deadline, whatever is in flight, and lose nothing it acknowledged.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>

#include "support/tt_support.hpp"

using namespace tt::it;

namespace {

void check_clean_exit(int status, const node_process& node) {
  // tt-node's shutdown watchdog (--stop-timeout-s) exits 0 after naming the
  // phase that stalled: report it loudly, it is a bug to chase.
  std::ifstream log{node.log_file()};
  std::string text{std::istreambuf_iterator<char>(log), {}};
  if (text.find("shutdown_stalled") != std::string::npos
      || text.find("shutdown_actors_alive") != std::string::npos) {
    // shutdown_actors_alive names the long-lived actors that had not gone
    // down 10 s after their exit messages.
    progress("WARNING: shutdown stalled (see shutdown_actors_alive / shutdown_stalled below)");
    node.print_log_tail("stalled shutdown");
  }
  CHECK_MESSAGE((WIFEXITED(status) && WEXITSTATUS(status) == 0),
                "SIGTERM ended tt-node with " << node_process::describe_status(status));
  CHECK_FALSE(node.timed_out_on_exit());
  if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
    node.print_log_tail("unclean exit");
}

} // namespace

TEST_CASE("SIGTERM on an idle node exits 0, three times in a row") {
  temp_dir dir{"tt-it-stop"};
  node_process node{dir.sub("node"), 0, fast_node_args()};
  for (int i = 0; i < 3; ++i) {
    REQUIRE(node.start());
    auto status = node.kill(SIGTERM);
    check_clean_exit(status, node);
  }
  progress("idle start/SIGTERM x3: clean");
}

TEST_CASE("SIGTERM during listings exits 0 and keeps every acknowledged listing") {
  temp_dir dir{"tt-it-stop"};
  node_process node{dir.sub("node"), 0, fast_node_args()};
  REQUIRE(node.start());
  http_client admin{node.port()};
  auto seller = sign_in(admin, "stop@example.com");
  REQUIRE_FALSE(seller.token.empty());
  std::mutex mtx;
  std::vector<std::pair<json::object, std::string>> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t)
    clients.emplace_back([&, t] {
      http_client c{node.port(), 5s};
      for (int k = 0; !stop && k < 10000; ++k) {
        auto body = listing("stop", t * 100000 + k);
        auto r = c.post("/api/v1/tickets", json::serialize(body), seller.auth());
        if (!r.ok())
          break;
        if (r.status == 201) {
          std::lock_guard<std::mutex> g{mtx};
          acked.emplace_back(std::move(body), std::string(r.json().at("id").as_string()));
        }
      }
    });
  while (true) {
    {
      std::lock_guard<std::mutex> g{mtx};
      if (acked.size() >= 200)
        break;
    }
    std::this_thread::sleep_for(1ms);
  }
  auto status = node.kill(SIGTERM);
  stop = true;
  for (auto& th : clients)
    th.join();
  progress("SIGTERM under load after ", acked.size(), " acks: ", node_process::describe_status(status));
  check_clean_exit(status, node);
  REQUIRE(node.start());
  http_client c{node.port()};
  size_t present = 0;
  for (const auto& [body, id] : acked) {
    auto r = c.get("/api/v1/tickets/" + id);
    present += r.status == 200 && listing_mismatch(body, r.json()).empty();
  }
  CHECK(present == acked.size());
  progress("after restart: ", present, "/", acked.size(), " acknowledged listings intact");
}

// Password hashing runs on its own pool; its completions hop back into the
// edge. A SIGTERM while hashes are still queued must not crash the node.
TEST_CASE("SIGTERM while password hashes are queued exits 0") {
  temp_dir dir{"tt-it-stop"};
  // The real argon2id cost (19 MiB, 2 passes) on one hash thread: a burst of
  // registrations queues work for well over a second.
  node_process node{dir.sub("node"), 0, {"--no-rate-limits", "--hash-threads", "1"}};
  REQUIRE(node.start());
  std::atomic<int> answered{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 24; ++t)
    clients.emplace_back([&, t] {
      http_client c{node.port(), 10s};
      json::object reg{{"email", "u" + std::to_string(t) + "@example.com"},
                       {"password", "long enough password"},
                       {"display_name", "U"}};
      auto r = c.post("/api/v1/auth/register", json::serialize(reg));
      if (r.ok())
        ++answered;
    });
  std::this_thread::sleep_for(300ms);  // requests are in, most hashes still queued
  auto status = node.kill(SIGTERM);
  for (auto& th : clients)
    th.join();
  progress("SIGTERM with queued password hashes (", answered.load(), "/24 answered before): ",
           node_process::describe_status(status));
  check_clean_exit(status, node);
  // Whatever happened, the data dir opens again.
  REQUIRE(node.start());
  CHECK(http_client{node.port()}.get("/healthz").status == 200);
}
