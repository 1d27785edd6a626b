#pragma once
// A small HTTP/1.1 server on Boost.Beast: keep-alive, N I/O threads, capped
// headers and bodies, read timeouts (slowloris), and asynchronous handlers.
//
// Contract: the handler runs on an I/O thread and must not block; it answers
// by calling `respond` exactly once, from any thread (the reply is posted back
// to the connection's strand). One request per connection is in flight at a
// time (no pipelining), so in-flight work is bounded by the connection count.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tt::nodes {

struct http_request {
  std::string method;
  std::string target;  // path + query, as received
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // lower-case names
  std::string remote_ip;

  /// First header with this lower-case name, or empty.
  const std::string& header(std::string_view name) const;
};

struct http_response {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

using http_responder = std::function<void(http_response)>;
using http_handler = std::function<void(http_request&, http_responder)>;

struct http_server_config {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  unsigned io_threads = 2;
  size_t body_limit = 64 * 1024;
  size_t header_limit = 8 * 1024;
  unsigned read_timeout_seconds = 30;
};

class http_server {
public:
  http_server(http_server_config cfg, http_handler handler);
  ~http_server();

  /// Binds and starts the I/O threads. Returns false and sets `error` if the
  /// port cannot be bound.
  bool start(std::string* error);

  /// The bound port (useful with port 0).
  uint16_t port() const;

  /// Stops accepting and closes all I/O threads (idempotent).
  void stop();

  /// Asks the thread blocked in wait() to return (any thread, signal-safe
  /// with respect to the I/O threads); the caller of wait() then calls stop().
  void request_stop();

  /// Blocks until request_stop() or stop() was called or a signal arrived.
  void wait();

  /// Calls `fn` on SIGINT/SIGTERM (on an I/O thread), then request_stop().
  void on_signal(std::function<void(int)> fn);

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tt::nodes
