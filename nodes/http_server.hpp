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

#include "messages/notify.hpp"

namespace tt::nodes {

/// A WebSocket connection handed to the application after an upgrade.
/// Thread-safe: send() and close() may be called from any thread.
class ws_connection : public push_sink {
public:
  ~ws_connection() override = default;

  bool push(std::string json) override { return send(std::move(json)); }
  bool alive() const override { return is_open(); }

  /// Queues a text message. Returns false (and closes the connection with
  /// code 1008, "slow consumer") when the client does not keep up: the
  /// outgoing queue is bounded, never buffered without limit.
  virtual bool send(std::string text) = 0;

  virtual void close(uint16_t code, std::string reason) = 0;

  virtual bool is_open() const = 0;
};

struct http_request {
  bool websocket_upgrade = false;  // a valid "Upgrade: websocket" request
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
  /// Set to accept a WebSocket upgrade: the server completes the handshake
  /// (status and body are ignored) and hands over the connection. Called on
  /// an I/O thread; `on_closed` of the same response runs once when it ends.
  std::function<void(std::shared_ptr<ws_connection>)> on_upgrade;
  std::function<void(ws_connection*)> on_closed;
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
  size_t ws_max_queued_messages = 1024;
  /// PEM files; both set: serve HTTPS/WSS only (TLS 1.2+).
  std::string tls_cert_file;
  std::string tls_key_file;
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
