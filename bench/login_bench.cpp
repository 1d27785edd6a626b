// tt_bench_login: what argon2id cost settings mean for login throughput.
// Login is bounded by password verification by design; this measures one
// verify at several (passes, memory) settings on this machine and prints
// logins/s per hashing thread, with the node's default marked. Baseline in
// the same run: one keyed BLAKE2b hash of the same password (the cost of a
// login if passwords were merely hashed, i.e. what argon2id buys).
#include <CLI/CLI.hpp>
#include <sodium.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "nodes/passwords.hpp"

int main(int argc, char** argv) {
  CLI::App app{"tt_bench_login: argon2id verify cost vs. login throughput"};
  int rounds = 5;
  app.add_option("--rounds", rounds, "verifications per setting")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (sodium_init() < 0)
    return 1;
  const std::string pw = "correct horse battery staple";
  auto now = [] { return std::chrono::steady_clock::now(); };
  // Baseline: a fast keyed hash.
  unsigned char key[32] = {1}, out[32];
  auto b0 = now();
  for (int i = 0; i < 100000; ++i)
    crypto_generichash(out, 32, reinterpret_cast<const unsigned char*>(pw.data()), pw.size(), key, 32);
  double fast_us = std::chrono::duration<double, std::micro>(now() - b0).count() / 100000;

  struct setting {
    uint64_t ops;
    size_t mib;
  };
  std::vector<setting> settings = {{1, 8}, {1, 19}, {2, 19}, {2, 32}, {2, 64}, {3, 64}, {4, 128}};
  std::printf("%-8s%-10s%14s%18s%16s\n", "passes", "memory", "verify ms", "logins/s/thread",
              "x BLAKE2b");
  std::string json = "{\"bench\":\"login\",\"baseline_blake2b_us\":" + std::to_string(fast_us)
                     + ",\"settings\":[";
  for (size_t i = 0; i < settings.size(); ++i) {
    auto [ops, mib] = settings[i];
    std::fprintf(stderr, "[login] passes=%llu memory=%zu MiB ...\n",
                 static_cast<unsigned long long>(ops), mib);
    tt::nodes::password_cost cost{ops, mib * 1024 * 1024};
    auto hash = tt::nodes::hash_password(pw, cost);
    auto t0 = now();
    for (int r = 0; r < rounds; ++r)
      if (!tt::nodes::verify_password(hash, pw))
        return 2;
    double ms = std::chrono::duration<double, std::milli>(now() - t0).count() / rounds;
    bool is_default = ops == 2 && mib == 19;
    std::printf("%-8llu%-10s%14.1f%18.1f%16.0f%s\n", static_cast<unsigned long long>(ops),
                (std::to_string(mib) + " MiB").c_str(), ms, 1000.0 / ms, ms * 1000 / fast_us,
                is_default ? "   <- tt-node default" : "");
    json += std::string(i ? "," : "") + "{\"ops\":" + std::to_string(ops) + ",\"mib\":"
            + std::to_string(mib) + ",\"verify_ms\":" + std::to_string(ms) + "}";
  }
  json += "]}";
  std::printf("%s\n", json.c_str());
  return 0;
}
