#pragma once
// Shared by the process and integration test support headers.

#include <cstdint>
#include <mutex>
#include <random>
#include <set>

#include <boost/asio/ip/tcp.hpp>

namespace tt::testing {

/// A port nothing listens on, for a server a test starts next. Picked at
/// random in 30000-32699: below the kernel's ephemeral range (32768+), so an
/// outgoing connection (a client, a node dialing etcd or PostgreSQL) cannot
/// take it between this call and the server's bind, and above the deploy
/// test's base ports (20000-29999). Never the same port twice per process.
inline uint16_t free_port() {
  namespace net = boost::asio;
  using net::ip::tcp;
  static std::mutex mtx;
  static std::set<uint16_t> handed_out;
  static std::mt19937 rng{std::random_device{}()};
  std::lock_guard<std::mutex> guard{mtx};
  net::io_context ioc;
  for (int attempt = 0; attempt < 1000; ++attempt) {
    auto port = static_cast<uint16_t>(30000 + rng() % 2700);
    if (handed_out.count(port))
      continue;
    boost::system::error_code ec;
    tcp::acceptor a(ioc);
    a.open(tcp::v4(), ec);
    if (!ec)
      a.bind(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec)
      continue;
    handed_out.insert(port);
    return port;
  }
  tcp::acceptor a(ioc, tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
  return a.local_endpoint().port();
}

} // namespace tt::testing
