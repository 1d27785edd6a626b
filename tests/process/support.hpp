#pragma once
// Multi-process test support: start/kill tt-node, free ports, temp dirs, and a
// small synchronous HTTP/1.1 client (keep-alive, timeouts) on Boost.Beast.
// Every helper cleans up in its destructor, so a failing check never leaves a
// node running or a data dir behind.

#include <mutex>
#include <set>
#include "../common/free_port.hpp"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json.hpp>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fcntl.h>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace tt::test {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

using tt::testing::free_port;

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/tt-test-XXXXXX";
    if (!mkdtemp(tmpl))
      throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

struct http_result {
  int status = 0;  // 0: no answer (connection error or timeout)
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(std::string_view name) const {
    for (auto& [k, v] : headers)
      if (beast::iequals(k, name))
        return v;
    return {};
  }
  boost::json::value json() const {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    return ec ? boost::json::value{} : v;
  }
};

/// One keep-alive connection; reconnects on demand. Not thread-safe.
class http_client {
public:
  explicit http_client(uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(10))
    : port_(port), timeout_(timeout) {}

  http_result request(http::verb method, const std::string& target, const std::string& body = {},
                      const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!stream_)
          connect();
        http::request<http::string_body> req{method, target, 11};
        req.set(http::field::host, "127.0.0.1");
        req.keep_alive(true);
        for (auto& [k, v] : headers)
          req.set(k, v);
        if (!body.empty() || method == http::verb::post || method == http::verb::patch) {
          req.set(http::field::content_type, "application/json");
          req.body() = body;
        }
        req.prepare_payload();
        stream_->expires_after(timeout_);
        http::write(*stream_, req);
        http::response<http::string_body> res;
        http::read(*stream_, buffer_, res);
        http_result out;
        out.status = static_cast<int>(res.result_int());
        out.body = res.body();
        for (auto& f : res)
          out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        if (!res.keep_alive())
          stream_.reset();
        return out;
      } catch (const std::exception&) {
        stream_.reset();
        buffer_.clear();
        if (attempt == 1 || no_retry)
          return {};
      }
    }
    return {};
  }

  http_result get(const std::string& t, const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return request(http::verb::get, t, {}, h);
  }
  http_result post(const std::string& t, const std::string& b,
                   const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return request(http::verb::post, t, b, h);
  }
  http_result put(const std::string& t, const std::string& b,
                  const std::vector<std::pair<std::string, std::string>>& h = {}) {
    return request(http::verb::put, t, b, h);
  }

  /// When set, a failed request is not retried on a new connection (a
  /// retried POST could be acknowledged without the test knowing).
  bool no_retry = false;

private:
  void connect() {
    stream_.emplace(ioc_);
    stream_->expires_after(timeout_);
    stream_->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
  }
  uint16_t port_;
  std::chrono::milliseconds timeout_;
  net::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

/// A child process with arguments (etcd, tt-admin, ...), stdout and stderr
/// appended to `log`; killed (SIGKILL) when destroyed.
struct child {
  pid_t pid = -1;
  void start(std::vector<std::string> args, const std::string& log) {
    pid = fork();
    if (pid == 0) {
      int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
  }
  ~child() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      int st = 0;
      waitpid(pid, &st, 0);
    }
  }
};

/// A tt-node child process.
class node_process {
public:
  node_process(std::string data_dir, uint16_t port, std::vector<std::string> extra = {})
    : data_dir_(std::move(data_dir)), port_(port), extra_(std::move(extra)) {}
  ~node_process() { kill(SIGKILL); }

  void start() {
    std::vector<std::string> args = {TT_NODE_BIN, "--data-dir", data_dir_, "--http-port",
                                     std::to_string(port_), "--log-level", "warn"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = fork();
    if (pid_ == 0) {
      int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, STDOUT_FILENO);
      auto log = data_dir_ + ".log";
      int logfd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      dup2(logfd >= 0 ? logfd : devnull, STDERR_FILENO);
      std::vector<char*> argv;
      for (auto& a : args)
        argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
  }

  /// Polls /healthz until 200 or the deadline.
  bool wait_healthy(std::chrono::seconds deadline = std::chrono::seconds(20)) {
    auto until = std::chrono::steady_clock::now() + deadline;
    http_client c{port_, std::chrono::milliseconds(500)};
    while (std::chrono::steady_clock::now() < until) {
      if (!alive())
        return false;
      if (c.get("/healthz").status == 200)
        return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  bool alive() {
    if (pid_ <= 0)
      return false;
    int status = 0;
    auto r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return false;
    }
    return true;
  }

  void kill(int sig) {
    if (pid_ <= 0)
      return;
    ::kill(pid_, sig);
    int status = 0;
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > until) {
        ::kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    exit_status_ = status;
    pid_ = -1;
  }

  int exit_status() const { return exit_status_; }
  uint16_t port() const { return port_; }

private:
  std::string data_dir_;
  uint16_t port_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
};

/// A valid listing body; `n` makes it unique (barcode and seat).
inline std::string listing_body(const std::string& tag, int n) {
  return R"({"event_id":"ev-)" + tag + R"(","event_name":"Show )" + tag
         + R"(","venue":"Hall","category":"concert","event_starts_at":"2026-12-25T20:00:00Z","section":"S1","row":"R","seats":[")"
         + std::to_string(n) + R"("],"face_value_minor":)" + std::to_string(1000 + n)
         + R"(,"currency":"USD","barcode":"BC-)" + tag + "-" + std::to_string(n)
         + R"(","platform":"upload"})";
}

/// Registers (if needed) and logs in; returns the access token.
inline std::string login(http_client& c, const std::string& email,
                         const std::string& password = "correct horse battery staple") {
  c.post("/api/v1/auth/register", R"({"email":")" + email + R"(","password":")" + password
                                    + R"(","display_name":"T"})");
  auto r = c.post("/api/v1/auth/login",
                  R"({"email":")" + email + R"(","password":")" + password + R"("})");
  if (r.status != 200)
    return {};
  return std::string(r.json().at("access_token").as_string());
}

inline std::pair<std::string, std::string> bearer(const std::string& token) {
  return {"Authorization", "Bearer " + token};
}

/// A WebSocket client that reads JSON text messages with a deadline.
struct ws_client {
  net::io_context ioc;
  boost::beast::websocket::stream<beast::tcp_stream> ws{ioc};
  ws_client(uint16_t port, const std::string& target) {
    beast::get_lowest_layer(ws).connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
    ws.handshake("127.0.0.1", target);
  }
  /// Sync reads ignore tcp_stream timeouts: read asynchronously, bounded.
  std::optional<boost::json::value> next(std::chrono::milliseconds timeout = std::chrono::seconds(3)) {
    beast::flat_buffer buf;
    std::optional<beast::error_code> result;
    beast::get_lowest_layer(ws).expires_after(timeout);
    ws.async_read(buf, [&](beast::error_code ec, std::size_t) { result = ec; });
    ioc.restart();
    ioc.run_for(timeout + std::chrono::milliseconds(200));
    if (!result) {
      beast::get_lowest_layer(ws).cancel();
      ioc.restart();
      ioc.run_for(std::chrono::milliseconds(200));
      return std::nullopt;
    }
    if (*result)
      return std::nullopt;
    return boost::json::parse(beast::buffers_to_string(buf.data()));
  }
};


} // namespace tt::test
