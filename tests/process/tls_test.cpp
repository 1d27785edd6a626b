// Optional TLS on the edge: with --tls-cert/--tls-key the node serves HTTPS
// (and WSS) only. Uses the openssl and curl command-line tools.
#include <doctest/doctest.h>

#include <cstdio>

#include "support.hpp"

using namespace tt::test;

namespace {

std::string run(const std::string& cmd) {
  std::string out;
  if (FILE* p = popen(cmd.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), p)) > 0)
      out.append(buf, n);
    pclose(p);
  }
  return out;
}

} // namespace

TEST_CASE("the edge serves HTTPS with a configured certificate") {
  if (std::system("command -v openssl >/dev/null && command -v curl >/dev/null") != 0) {
    MESSAGE("openssl or curl missing; skipped");
    return;
  }
  temp_dir dir;
  auto cert = (dir.path / "tls.crt").string();
  auto key = (dir.path / "tls.key").string();
  REQUIRE(std::system(("openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                       "-keyout " + key + " -out " + cert + " >/dev/null 2>&1").c_str())
          == 0);
  auto port = free_port();
  node_process node{(dir.path / "node").string(), port, {"--tls-cert", cert, "--tls-key", key}};
  node.start();
  std::string url = "https://127.0.0.1:" + std::to_string(port);
  std::string body;
  for (int i = 0; i < 100 && body.find("ok") == std::string::npos; ++i) {
    body = run("curl -sk --max-time 2 " + url + "/healthz");
    if (body.find("ok") == std::string::npos)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  CHECK(body == R"({"status":"ok"})");
  // Certificate verification with the right CA works; plain HTTP does not.
  CHECK(run("curl -s --max-time 2 --cacert " + cert + " --resolve localhost:" + std::to_string(port)
            + ":127.0.0.1 https://localhost:" + std::to_string(port) + "/healthz")
        == R"({"status":"ok"})");
  CHECK(run("curl -s --max-time 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:"
            + std::to_string(port) + "/healthz")
        != "200");
  CHECK(node.alive());
  // A missing key file is a clear start-up error.
  node_process bad{(dir.path / "bad").string(), free_port(), {"--tls-cert", cert, "--tls-key", "/nonexistent"}};
  bad.start();
  CHECK_FALSE(bad.wait_healthy(std::chrono::seconds(3)));
}
