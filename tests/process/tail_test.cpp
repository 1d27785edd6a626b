// tt-tail against a real node: the feed's filters and roles, and the
// exactly-once contract of `--consumer NAME --out FILE`: a consumer killed
// with SIGKILL at random moments while listings keep arriving, restarted each
// time, leaves FILE holding every event of the log exactly once, in order.
#include <doctest/doctest.h>

#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include "support.hpp"

using namespace tt::test;
namespace json = boost::json;

namespace {

/// Runs tt-tail with `args` and env TT_TOKEN; returns the child's pid.
pid_t spawn_tail(const std::vector<std::string>& args, const std::string& token,
                 const std::string& stdout_path) {
  pid_t pid = fork();
  if (pid == 0) {
    setenv("TT_TOKEN", token.c_str(), 1);
    int out = ::open(stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int devnull = ::open("/dev/null", O_WRONLY);
    dup2(out >= 0 ? out : devnull, STDOUT_FILENO);
    dup2(devnull, STDERR_FILENO);
    std::vector<std::string> all = {TT_TAIL_BIN};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::vector<uint64_t> offsets_in(const std::string& path) {
  std::vector<uint64_t> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    auto v = json::parse(line);
    out.push_back(static_cast<uint64_t>(v.at("offset").as_int64()));
  }
  return out;
}

uint64_t log_end(http_client& c, const std::string& admin) {
  auto r = c.get("/api/v1/events?from=1&limit=1", {bearer(admin)});
  REQUIRE(r.status == 200);
  return static_cast<uint64_t>(r.json().at("end_offset").as_int64());
}

} // namespace

TEST_CASE("tt-tail: filters, roles, and exactly once into a file across kill -9") {
  temp_dir dir;
  auto port = free_port();
  node_process node{(dir.path / "data").string(), port,
                    {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8",
                     "--admin-email", "admin@tail.test", "--analytics-email", "bi@tail.test"}};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  auto admin = login(c, "admin@tail.test");
  auto analyst = login(c, "bi@tail.test");
  auto user = login(c, "user@tail.test");
  REQUIRE(!admin.empty());
  REQUIRE(!analyst.empty());
  REQUIRE(!user.empty());
  for (int i = 0; i < 20; ++i)
    REQUIRE(c.post("/api/v1/tickets", listing_body("tail", i), {bearer(user)}).status == 201);
  auto node_addr = "127.0.0.1:" + std::to_string(port);
  auto out = (dir.path / "stdout.txt").string();

  SUBCASE("roles: a plain user is refused, analytics may read") {
    CHECK(c.get("/api/v1/events", {bearer(user)}).status == 403);
    CHECK(c.get("/api/v1/events", {bearer(analyst)}).status == 200);
    CHECK(wait_exit(spawn_tail({"--node", node_addr}, user, out)) != 0);
    CHECK(c.get("/api/v1/events?from=0", {bearer(admin)}).status == 400);
    CHECK(c.get("/api/v1/events?limit=99999", {bearer(admin)}).status == 400);
    CHECK(c.request(boost::beast::http::verb::put, "/api/v1/consumers/bad name!", R"({"offset":1})",
                    {bearer(admin)}).status == 400);
  }

  SUBCASE("without --follow it prints the log up to its end; filters apply") {
    auto end = log_end(c, admin);
    REQUIRE(wait_exit(spawn_tail({"--node", node_addr, "--from-start"}, analyst, out)) == 0);
    auto all = offsets_in(out);
    REQUIRE(all.size() == end - 1);
    for (size_t i = 0; i < all.size(); ++i)
      CHECK(all[i] == i + 1);
    REQUIRE(wait_exit(spawn_tail({"--node", node_addr, "--type", "ticket_listed"}, analyst, out)) == 0);
    CHECK(offsets_in(out).size() == 20);
    REQUIRE(wait_exit(spawn_tail({"--node", node_addr, "--entity", "account", "--from", "2"},
                                 analyst, out))
            == 0);
    auto acc = offsets_in(out);
    CHECK(!acc.empty());
    CHECK(acc.front() >= 2);
  }

  SUBCASE("a consumer killed at random moments writes every event exactly once") {
    std::atomic<bool> stop{false};
    std::atomic<int> listed{0};
    std::thread load([&] {
      http_client lc{port};
      for (int i = 100; !stop; ++i)
        if (lc.post("/api/v1/tickets", listing_body("load", i), {bearer(user)}).status == 201)
          ++listed;
    });
    auto file = (dir.path / "consumer.jsonl").string();
    std::mt19937 rng{std::random_device{}()};
    int kills = 0;
    for (int round = 0; round < 8; ++round) {
      auto pid = spawn_tail({"--node", node_addr, "--consumer", "bi", "--out", file, "--follow",
                             "--batch", std::to_string(1 + rng() % 200), "--poll-s", "0.05"},
                            analyst, out);
      std::this_thread::sleep_for(std::chrono::milliseconds(100 + rng() % 500));
      ::kill(pid, SIGKILL);
      wait_exit(pid);
      ++kills;
    }
    stop = true;
    load.join();
    // Catch up to the end without --follow, then compare with the log.
    REQUIRE(wait_exit(spawn_tail({"--node", node_addr, "--consumer", "bi", "--out", file}, analyst,
                                 out))
            == 0);
    auto end = log_end(c, admin);
    auto got = offsets_in(file);
    MESSAGE(kills << " kills, " << listed.load() << " listings during the run, " << got.size()
                  << " events in the file, log end " << end);
    REQUIRE(got.size() == end - 1);
    for (size_t i = 0; i < got.size(); ++i)
      REQUIRE_MESSAGE(got[i] == i + 1, "offset " << got[i] << " at line " << i + 1);
    auto committed = c.get("/api/v1/consumers/bi", {bearer(analyst)});
    REQUIRE(committed.status == 200);
    CHECK(committed.json().at("offset").as_int64() == static_cast<int64_t>(end - 1));
  }
}

TEST_CASE("the event feed over WebSocket: every event from an offset, filtered by type") {
  temp_dir dir;
  auto port = free_port();
  node_process node{(dir.path / "data").string(), port,
                    {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8",
                     "--analytics-email", "bi@feed.test"}};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  auto analyst = login(c, "bi@feed.test");
  auto user = login(c, "user@feed.test");
  REQUIRE(!analyst.empty());
  REQUIRE(c.post("/api/v1/tickets", listing_body("feed", 1), {bearer(user)}).status == 201);
  // A plain user may not open the feed.
  CHECK_THROWS(ws_client(port, "/api/v1/events/stream?token=" + user));
  // From offset 1, only listings: the one before and the one after connecting.
  ws_client feed{port, "/api/v1/events/stream?token=" + analyst + "&from=1&type=ticket_listed"};
  auto first = feed.next();
  REQUIRE(first);
  CHECK(first->at("type").as_string() == "ticket_listed");
  REQUIRE(c.post("/api/v1/tickets", listing_body("feed", 2), {bearer(user)}).status == 201);
  auto second = feed.next();
  REQUIRE(second);
  CHECK(second->at("type").as_string() == "ticket_listed");
  CHECK(second->at("offset").as_int64() > first->at("offset").as_int64());
  CHECK_FALSE(feed.next(std::chrono::milliseconds(500)));  // nothing else matches
}
