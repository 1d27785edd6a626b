// Fuzzing the edge over real sockets: random and mutated JSON bodies and raw
// malformed HTTP must never crash the node and never earn a 5xx. The seed is
// printed so a failure replays (TT_FUZZ_SEED=... to reuse one).
#include <doctest/doctest.h>

#include <random>

#include "support.hpp"

using namespace tt::test;

namespace {

uint64_t seed() {
  if (const char* s = std::getenv("TT_FUZZ_SEED"))
    return std::strtoull(s, nullptr, 10);
  return std::random_device{}();
}

std::string mutate_json(std::mt19937_64& rng, std::string b) {
  static const std::vector<std::string> tokens = {
    "null", "true", "-1", "1e309", "18446744073709551616", "-0", "0.5", "\"\"", "[]", "{}",
    "\"\\u0000\"", "\"\\ud800\"", "\"\xff\xfe\"", "9223372036854775807", "[[[[[[[[[[[[[[[[",
    "\"price_minor\":", ",", ":", "\"seats\":[1,2]", "\"currency\":\"EUR\"", "\"a\":1"};
  int n = 1 + static_cast<int>(rng() % 6);
  for (int k = 0; k < n && !b.empty(); ++k) {
    size_t pos = rng() % b.size();
    switch (rng() % 6) {
      case 0: b[pos] = static_cast<char>(rng()); break;
      case 1: b.erase(pos, 1 + rng() % 16); break;
      case 2: b.insert(pos, tokens[rng() % tokens.size()]); break;
      case 3: b.resize(pos); break;
      case 4: b.insert(pos, b.substr(rng() % b.size(), rng() % 32)); break;
      default: {
        // Replace a value after a colon with a random token.
        auto colon = b.find(':', pos);
        if (colon != std::string::npos) {
          auto end = b.find_first_of(",}", colon);
          b.replace(colon + 1, (end == std::string::npos ? b.size() : end) - colon - 1,
                    tokens[rng() % tokens.size()]);
        }
      }
    }
  }
  return b;
}

/// Sends raw bytes and returns the status of the first response line, or 0.
int raw_exchange(uint16_t port, const std::string& bytes, bool half_close = true) {
  try {
    net::io_context ioc;
    beast::tcp_stream s(ioc);
    s.expires_after(std::chrono::seconds(3));
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    net::write(s.socket(), net::buffer(bytes));
    if (half_close)
      s.socket().shutdown(tcp::socket::shutdown_send);
    std::string got;
    char buf[4096];
    boost::system::error_code ec;
    for (;;) {
      s.expires_after(std::chrono::seconds(3));
      auto n = s.socket().read_some(net::buffer(buf), ec);
      got.append(buf, n);
      if (ec || got.find("\r\n\r\n") != std::string::npos)
        break;
    }
    if (got.rfind("HTTP/1.1 ", 0) != 0)
      return 0;
    return std::atoi(got.c_str() + 9);
  } catch (...) {
    return 0;
  }
}

} // namespace

TEST_CASE("mutated JSON bodies get 2xx/4xx with an error body, never 5xx") {
  auto s = seed();
  MESSAGE("TT_FUZZ_SEED=" << s);
  std::mt19937_64 rng{s};
  temp_dir dir;
  auto port = free_port();
  node_process node{(dir.path / "node").string(), port,
                    {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8"}};
  node.start();
  REQUIRE(node.wait_healthy());
  http_client c{port};
  auto token = login(c, "fuzz@example.com");
  REQUIRE_FALSE(token.empty());
  auto listed = c.post("/api/v1/tickets", listing_body("fz", 0), {bearer(token)});
  REQUIRE(listed.status == 201);
  std::string id(listed.json().at("id").as_string());
  int counts[6] = {0};
  for (int i = 0; i < 3000; ++i) {
    http_result r;
    int which = static_cast<int>(rng() % 4);
    if (which == 0) {
      r = c.post("/api/v1/tickets", mutate_json(rng, listing_body("fz", i)), {bearer(token)});
    } else if (which == 1) {
      r = c.request(http::verb::patch, "/api/v1/tickets/" + id,
                    mutate_json(rng, R"({"price_minor":100,"venue":"V"})"), {bearer(token)});
    } else if (which == 2) {
      r = c.post("/api/v1/auth/register",
                 mutate_json(rng, R"({"email":"a@b.co","password":"long enough pw","display_name":"A"})"));
    } else {
      r = c.post("/api/v1/auth/refresh", mutate_json(rng, R"({"refresh_token":"x.y.z"})"));
    }
    REQUIRE_MESSAGE(r.status != 0, "no answer (crash?) at iteration " << i);
    REQUIRE_MESSAGE(r.status < 500, "5xx at iteration " << i << ": " << r.body);
    counts[r.status / 100]++;
    if (r.status >= 400) {
      auto j = r.json();
      REQUIRE_MESSAGE(j.is_object(), r.body);
      CHECK(j.at("error").at("code").is_string());
    }
  }
  MESSAGE("2xx " << counts[2] << ", 4xx " << counts[4]);
  CHECK(node.alive());
  CHECK(http_client{port}.get("/healthz").status == 200);
  // The ticket is intact and consistent after all of that.
  auto t = c.get("/api/v1/tickets/" + id);
  CHECK(t.status == 200);
}

TEST_CASE("malformed raw HTTP never crashes the node or earns a 5xx") {
  auto s = seed();
  MESSAGE("TT_FUZZ_SEED=" << s);
  std::mt19937_64 rng{s};
  temp_dir dir;
  auto port = free_port();
  node_process node{(dir.path / "node").string(), port, {"--no-rate-limits"}};
  node.start();
  REQUIRE(node.wait_healthy());
  std::vector<std::string> cases = {
    "GARBAGE\r\n\r\n",
    "GET\r\n\r\n",
    "GET / HTTP/9.9\r\n\r\n",
    "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n",
    "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, '{'),
    "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\nabc\r\n0\r\n\r\n",
    "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + std::string(70000, 'a'),
    "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello",
    "GET /api/v1/tickets/%00%ff HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /api/v1/tickets/" + std::string(5000, 'A') + " HTTP/1.1\r\nHost: x\r\n\r\n",
    "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + std::string(6000, 'x') + "\r\n\r\n",
    "GET /api/v1/ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11),
  };
  for (int i = 0; i < 300; ++i) {
    std::string b(1 + rng() % 512, '\0');
    for (auto& ch : b)
      ch = static_cast<char>(rng());
    if (rng() % 2)
      b = "POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(b.size())
          + "\r\n\r\n" + b;
    cases.push_back(std::move(b));
  }
  int answered = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    int status = raw_exchange(port, cases[i]);
    if (status != 0) {
      ++answered;
      CHECK_MESSAGE(status < 500, "case " << i << " got " << status);
    }
    if (i % 50 == 0)
      REQUIRE_MESSAGE(node.alive(), "node died at case " << i);
  }
  MESSAGE("answered " << answered << " of " << cases.size());
  // A slow, never-finished request holds no resources forever: the node
  // keeps serving others meanwhile.
  net::io_context ioc;
  beast::tcp_stream slow(ioc);
  slow.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  net::write(slow.socket(), net::buffer(std::string("POST /api/v1/tickets HTTP/1.1\r\nHost: x\r\n")));
  CHECK(http_client{port}.get("/healthz").status == 200);
  REQUIRE(node.alive());
  CHECK(http_client{port}.get("/healthz").status == 200);
}
