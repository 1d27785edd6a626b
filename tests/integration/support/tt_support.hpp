#pragma once
// Integration-test support: real tt-node child processes on loopback.
//
//  * node_process — fork/execv of TT_NODE_BIN (a compile definition), waits for
//    the "tt-node ready: http://127.0.0.1:P" line on the child's stdout and for
//    GET /healthz; kill(sig) + waitpid with a deadline; alive() via WNOHANG.
//    The child gets PR_SET_PDEATHSIG(SIGKILL), so a test runner killed by a
//    ctest timeout never leaves a node behind. (The signal comes when the
//    *thread* that called start() ends: start nodes from a thread that
//    outlives them, e.g. the test's main thread.) stderr goes to a log file whose
//    tail is printed when the node dies unexpectedly or a test unwinds.
//  * free_port(), temp_dir (RAII, removed even when a REQUIRE throws).
//  * http_client — one synchronous HTTP/1.1 keep-alive connection on
//    Boost.Beast with a per-request deadline; a failed request reports
//    status 0 and the error, and is never retried unless asked (a retried POST
//    could be acknowledged without the test knowing).
//  * raw_exchange — raw bytes over a plain TCP socket (optionally slowly, in
//    pieces), returning every status line that came back.
//  * ticket API helpers: account (register + login), listing bodies.
//
// Header-only; needs Boost.JSON and Threads. Not thread-safe per object: give
// every thread its own http_client.

#include <random>
#include <set>
#include "../../common/free_port.hpp"
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TT_NODE_BIN
#error "define TT_NODE_BIN (the path of tt-node) for the integration tests"
#endif

namespace tt::it {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using headers_t = std::vector<std::pair<std::string, std::string>>;

// -- progress output -------------------------------------------------------------

/// A progress line on stderr (ctest shows it with --output-on-failure / -V).
template <class... Ts>
void progress(const Ts&... parts) {
  static std::mutex mtx;
  std::ostringstream os;
  os << "[it] ";
  (os << ... << parts);
  os << '\n';
  std::lock_guard<std::mutex> guard{mtx};
  std::cerr << os.str() << std::flush;
}

// -- ports and directories ---------------------------------------------------------

/// A port that was free a moment ago (bind to port 0, read it, close).
using tt::testing::free_port;

/// A fresh directory under $TMPDIR (or /tmp), removed with everything in it.
class temp_dir {
public:
  explicit temp_dir(std::string_view prefix = "tt-it") {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/" + std::string(prefix)
                       + "-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data()))
      throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
    path_ = buf.data();
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  std::string sub(std::string_view name) const { return (path_ / std::string(name)).string(); }

private:
  std::filesystem::path path_;
};

inline std::string read_tail(const std::string& file, size_t max_bytes = 4000) {
  std::ifstream in(file, std::ios::binary);
  if (!in)
    return {};
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return all.size() > max_bytes ? all.substr(all.size() - max_bytes) : all;
}

// -- HTTP client ---------------------------------------------------------------------

struct http_result {
  int status = 0;     // 0: no answer (connect/write/read failed or timed out)
  std::string error;  // why, when status == 0
  std::string body;
  headers_t headers;

  bool ok() const { return status != 0; }

  std::string header(std::string_view name) const {
    for (const auto& [k, v] : headers)
      if (beast::iequals(k, name))
        return v;
    return {};
  }

  /// The body as JSON, or null when it is not JSON.
  json::value json() const {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    return ec ? json::value{} : v;
  }
};

/// One keep-alive HTTP/1.1 connection to 127.0.0.1:port; reconnects lazily.
class http_client {
public:
  explicit http_client(uint16_t port, std::chrono::milliseconds timeout = 10s)
    : port_(port), timeout_(timeout) {}

  void set_port(uint16_t port) {
    port_ = port;
    disconnect();
  }
  void set_timeout(std::chrono::milliseconds t) { timeout_ = t; }
  void disconnect() {
    if (stream_) {
      beast::error_code ec;
      stream_->socket().shutdown(tcp::socket::shutdown_both, ec);
    }
    stream_.reset();
    buffer_.clear();
  }

  /// One request. With `retry_once` a request that failed on a reused
  /// keep-alive connection (the server may have closed it) is sent once more
  /// on a fresh connection — only for idempotent requests.
  http_result request(http::verb method, const std::string& target, const std::string& body = {},
                      const headers_t& headers = {}, bool retry_once = false) {
    bool reused = stream_.has_value();
    auto r = attempt(method, target, body, headers);
    if (!r.ok() && retry_once && reused)
      r = attempt(method, target, body, headers);
    return r;
  }

  http_result get(const std::string& t, const headers_t& h = {}) {
    return request(http::verb::get, t, {}, h, true);
  }
  http_result post(const std::string& t, const std::string& b, const headers_t& h = {}) {
    return request(http::verb::post, t, b, h);
  }
  http_result patch(const std::string& t, const std::string& b, const headers_t& h = {}) {
    return request(http::verb::patch, t, b, h);
  }
  http_result put(const std::string& t, const std::string& b, const headers_t& h = {}) {
    return request(http::verb::put, t, b, h);
  }
  http_result del(const std::string& t, const headers_t& h = {}) {
    return request(http::verb::delete_, t, {}, h);
  }

private:
  http_result attempt(http::verb method, const std::string& target, const std::string& body,
                      const headers_t& headers) {
    http_result out;
    try {
      if (!stream_) {
        stream_.emplace(ioc_);
        stream_->expires_after(timeout_);
        stream_->connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port_));
        stream_->socket().set_option(tcp::no_delay(true));
      }
      http::request<http::string_body> req{method, target, 11};
      req.set(http::field::host, "127.0.0.1");
      req.keep_alive(true);
      for (const auto& [k, v] : headers)
        req.set(k, v);
      if (!body.empty() || method == http::verb::post || method == http::verb::patch) {
        if (req.find(http::field::content_type) == req.end())
          req.set(http::field::content_type, "application/json");
        req.body() = body;
      }
      req.prepare_payload();
      stream_->expires_after(timeout_);
      http::write(*stream_, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(16 * 1024 * 1024);
      http::read(*stream_, buffer_, parser);
      auto& res = parser.get();
      out.status = static_cast<int>(res.result_int());
      out.body = std::move(res.body());
      for (const auto& f : res)
        out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
      if (!res.keep_alive())
        disconnect();
    } catch (const std::exception& e) {
      disconnect();
      out = {};
      out.error = e.what();
    }
    return out;
  }

  uint16_t port_;
  std::chrono::milliseconds timeout_;
  net::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

// -- raw sockets -------------------------------------------------------------------

struct raw_result {
  bool connected = false;
  bool closed_by_server = false;  // EOF/reset seen before the deadline
  std::string bytes;              // everything received
  std::vector<int> statuses;      // status code of every "HTTP/1.x NNN" response line

  int first_status() const { return statuses.empty() ? 0 : statuses.front(); }
};

/// The status codes of the responses in `bytes`, in order: walks head by
/// head, skipping bodies by Content-Length; stops at anything else.
inline std::vector<int> response_statuses(const std::string& bytes) {
  std::vector<int> out;
  size_t pos = 0;
  while (pos + 12 <= bytes.size() && bytes.compare(pos, 7, "HTTP/1.") == 0 && bytes[pos + 8] == ' ') {
    int code = 0;
    for (size_t i = pos + 9; i < pos + 12; ++i) {
      if (bytes[i] < '0' || bytes[i] > '9')
        return out;
      code = code * 10 + (bytes[i] - '0');
    }
    out.push_back(code);
    auto head_end = bytes.find("\r\n\r\n", pos);
    if (head_end == std::string::npos)
      break;
    size_t len = 0;
    for (size_t line = bytes.find("\r\n", pos); line != std::string::npos && line < head_end;
         line = bytes.find("\r\n", line + 2)) {
      static constexpr std::string_view cl = "content-length:";
      if (head_end - (line + 2) >= cl.size()
          && beast::iequals(std::string_view(bytes).substr(line + 2, cl.size()), cl))
        len = std::strtoul(bytes.c_str() + line + 2 + cl.size(), nullptr, 10);
    }
    pos = head_end + 4 + len;
  }
  return out;
}

struct raw_options {
  bool half_close = true;                      // shutdown(SHUT_WR) after the last piece
  size_t piece = 0;                            // 0: one write; else write in pieces this big
  std::chrono::milliseconds piece_delay{0};    // pause between pieces
  std::chrono::milliseconds read_timeout{3000};  // give up reading after this (total)
  size_t stop_after_responses = 0;             // stop reading after N complete heads (0: until EOF)
};

/// Sends raw bytes to 127.0.0.1:port and collects what comes back until the
/// server closes, `stop_after_responses` heads arrived, or the deadline.
inline raw_result raw_exchange(uint16_t port, const std::string& bytes, raw_options opt = {}) {
  raw_result out;
  try {
    net::io_context ioc;
    tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec)
      return out;
    out.connected = true;
    s.set_option(tcp::no_delay(true), ec);
    size_t piece = opt.piece == 0 ? bytes.size() : opt.piece;
    for (size_t off = 0; off < bytes.size(); off += piece) {
      net::write(s, net::buffer(bytes.data() + off, std::min(piece, bytes.size() - off)), ec);
      if (ec)
        break;  // the server may close early (e.g. 413 before the body ends)
      if (opt.piece_delay.count() > 0 && off + piece < bytes.size())
        std::this_thread::sleep_for(opt.piece_delay);
    }
    if (opt.half_close)
      s.shutdown(tcp::socket::shutdown_send, ec);
    auto deadline = std::chrono::steady_clock::now() + opt.read_timeout;
    int fd = s.native_handle();
    char buf[8192];
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
      if (left <= 0)
        break;
      pollfd p{fd, POLLIN, 0};
      int pr = ::poll(&p, 1, static_cast<int>(left));
      if (pr <= 0)
        break;
      auto n = ::recv(fd, buf, sizeof(buf), 0);
      if (n <= 0) {
        out.closed_by_server = true;
        break;
      }
      out.bytes.append(buf, static_cast<size_t>(n));
      if (opt.stop_after_responses > 0) {
        // Count complete heads only.
        size_t heads = 0, pos = 0;
        while ((pos = out.bytes.find("\r\n\r\n", pos)) != std::string::npos) {
          ++heads;
          pos += 4;
        }
        if (heads >= opt.stop_after_responses)
          break;
      }
    }
  } catch (const std::exception&) {
  }
  out.statuses = response_statuses(out.bytes);
  return out;
}

// -- the node process -------------------------------------------------------------

class node_process {
public:
  /// `port` 0: the first start asks tt-node for a free port (--http-port 0)
  /// and later starts reuse the port it got.
  node_process(std::string data_dir, uint16_t port, std::vector<std::string> extra_args = {})
    : data_dir_(std::move(data_dir)), port_(port), extra_(std::move(extra_args)) {
    log_file_ = data_dir_ + ".log";
  }
  ~node_process() {
    if (std::uncaught_exceptions() > 0 || died_unexpectedly_)
      print_log_tail("node log at teardown");
    if (pid_ > 0)
      kill(SIGKILL, 10s);
  }
  node_process(const node_process&) = delete;
  node_process& operator=(const node_process&) = delete;

  /// Starts the child and waits for its ready line and a 200 from /healthz.
  /// False (log tail printed) if it exits or does not get ready in time.
  bool start(std::chrono::milliseconds deadline = 30s) {
    if (pid_ > 0)
      throw std::logic_error("node already running");
    int out_pipe[2];
    if (::pipe2(out_pipe, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe failed");
    std::vector<std::string> args = {TT_NODE_BIN,   "--data-dir", data_dir_, "--http-host",
                                     "127.0.0.1",   "--http-port", std::to_string(port_),
                                     "--log-level", "warn"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    std::vector<char*> argv;
    for (auto& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    int log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    pid_t parent = ::getpid();
    const long nofile = max_open_files_;
    pid_ = ::fork();
    if (pid_ < 0)
      throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      // Child: only async-signal-safe calls until execv.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent)
        ::_exit(126);
      ::dup2(out_pipe[1], STDOUT_FILENO);
      if (log_fd >= 0)
        ::dup2(log_fd, STDERR_FILENO);
      if (nofile > 0) {
        struct rlimit rl;
        rl.rlim_cur = rl.rlim_max = static_cast<rlim_t>(nofile);
        ::setrlimit(RLIMIT_NOFILE, &rl);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    ::close(out_pipe[1]);
    if (log_fd >= 0)
      ::close(log_fd);
    ++starts_;
    bool ok = wait_ready_line(out_pipe[0], deadline);
    // Keep draining stdout in the background (nothing else is printed, but a
    // full pipe must never block the child).
    int fd = out_pipe[0];
    std::thread([fd] {
      char buf[256];
      while (::read(fd, buf, sizeof(buf)) > 0) {
      }
      ::close(fd);
    }).detach();
    if (!ok) {
      print_log_tail("tt-node did not get ready");
      return false;
    }
    ok = wait_healthy(deadline);
    if (!ok)
      print_log_tail("tt-node never answered /healthz with 200");
    return ok;
  }

  /// Polls GET /healthz until 200.
  bool wait_healthy(std::chrono::milliseconds deadline = 20s) {
    auto until = std::chrono::steady_clock::now() + deadline;
    http_client c{port_, 1s};
    while (std::chrono::steady_clock::now() < until) {
      if (!alive())
        return false;
      if (c.get("/healthz").status == 200)
        return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }

  /// True while the child runs (waitpid WNOHANG); reaps it otherwise.
  bool alive() {
    if (pid_ <= 0)
      return false;
    int status = 0;
    auto r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      exit_status_ = status;
      pid_ = -1;
      died_unexpectedly_ = !expecting_exit_;
      return false;
    }
    return true;
  }

  /// Sends `sig` and waits up to `deadline` for the exit (then SIGKILL).
  /// Returns the raw wait status, or -1 if there was no child.
  int kill(int sig, std::chrono::milliseconds deadline = 20s) {
    if (pid_ <= 0)
      return -1;
    expecting_exit_ = true;
    ::kill(pid_, sig);
    int status = 0;
    auto until = std::chrono::steady_clock::now() + deadline;
    for (;;) {
      auto r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_ || (r < 0 && errno == ECHILD))
        break;
      if (std::chrono::steady_clock::now() > until) {
        progress("tt-node pid ", pid_, " ignored signal ", sig, " for ", deadline.count(),
                 " ms: SIGKILL");
        timed_out_on_exit_ = true;
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(5ms);
    }
    exit_status_ = status;
    pid_ = -1;
    expecting_exit_ = false;
    return status;
  }

  /// Describes a wait status ("exit 0", "signal 8 (Floating point exception)").
  static std::string describe_status(int status) {
    if (WIFEXITED(status))
      return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status))
      return "signal " + std::to_string(WTERMSIG(status)) + " (" + ::strsignal(WTERMSIG(status))
             + ")";
    return "status " + std::to_string(status);
  }

  void print_log_tail(std::string_view why) const {
    auto tail = read_tail(log_file_);
    progress(why, " — last bytes of ", log_file_, ":\n", tail.empty() ? "(empty)" : tail);
  }

  /// RLIMIT_NOFILE for the next start (0: inherit).
  void set_max_open_files(long n) { max_open_files_ = n; }

  /// CPU time (user + system) the child used so far, from /proc; -1 if gone.
  double cpu_seconds() const {
    if (pid_ <= 0)
      return -1;
    std::ifstream in("/proc/" + std::to_string(pid_) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto close = all.rfind(')');  // the command name may contain spaces
    if (close == std::string::npos)
      return -1;
    std::istringstream fields(all.substr(close + 2));
    std::string f;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i) {  // fields 14 and 15 (1-based)
      if (i == 14)
        utime = std::stoull(f);
      if (i == 15)
        stime = std::stoull(f);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }

  uint16_t port() const { return port_; }
  pid_t pid() const { return pid_; }
  int exit_status() const { return exit_status_; }
  bool timed_out_on_exit() const { return timed_out_on_exit_; }
  int starts() const { return starts_; }
  const std::string& log_file() const { return log_file_; }
  const std::string& data_dir() const { return data_dir_; }

private:
  bool wait_ready_line(int fd, std::chrono::milliseconds deadline) {
    auto until = std::chrono::steady_clock::now() + deadline;
    std::string got;
    while (got.find('\n') == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    until - std::chrono::steady_clock::now())
                    .count();
      if (left <= 0)
        return false;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(std::min<long long>(left, 200))) < 0 && errno != EINTR)
        return false;
      if (p.revents & (POLLIN | POLLHUP)) {
        char buf[256];
        auto n = ::read(fd, buf, sizeof(buf));
        if (n <= 0) {
          alive();
          return false;  // the child closed stdout: it exited
        }
        got.append(buf, static_cast<size_t>(n));
      } else if (!alive()) {
        return false;
      }
    }
    // "tt-node ready: http://127.0.0.1:PORT (data dir D)"
    auto pos = got.find("tt-node ready: http://127.0.0.1:");
    if (pos == std::string::npos) {
      progress("unexpected first stdout line of tt-node: ", got);
      return false;
    }
    auto port = std::atoi(got.c_str() + pos + std::strlen("tt-node ready: http://127.0.0.1:"));
    if (port <= 0 || port > 65535)
      return false;
    if (port_ != 0 && port != port_) {
      progress("tt-node announced port ", port, ", expected ", port_);
      return false;
    }
    port_ = static_cast<uint16_t>(port);
    return true;
  }

  std::string data_dir_;
  uint16_t port_;
  std::vector<std::string> extra_;
  std::string log_file_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
  int starts_ = 0;
  long max_open_files_ = 0;
  bool expecting_exit_ = false;
  bool died_unexpectedly_ = false;
  bool timed_out_on_exit_ = false;
};

/// Options for test nodes: no rate limits, cheap argon2id (tests are not
/// about password cost).
inline std::vector<std::string> fast_node_args() {
  return {"--no-rate-limits", "--argon2-ops", "1", "--argon2-mem-mib", "8"};
}

// -- the ticket API -------------------------------------------------------------------

inline std::pair<std::string, std::string> bearer(const std::string& token) {
  return {"Authorization", "Bearer " + token};
}

struct account {
  std::string id;
  std::string token;
  headers_t auth() const { return {bearer(token)}; }
};

/// Registers (201, or 409 if it exists) and logs in. Empty token on failure.
inline account sign_in(http_client& c, const std::string& email,
                       const std::string& password = "correct horse battery staple") {
  account a;
  json::object reg{{"email", email}, {"password", password}, {"display_name", "IT"}};
  auto r = c.post("/api/v1/auth/register", json::serialize(reg));
  if (r.status != 201 && r.status != 409) {
    progress("register ", email, " -> ", r.status, " ", r.body, r.error);
    return a;
  }
  json::object login{{"email", email}, {"password", password}};
  r = c.post("/api/v1/auth/login", json::serialize(login));
  if (r.status != 200) {
    progress("login ", email, " -> ", r.status, " ", r.body, r.error);
    return a;
  }
  a.token = std::string(r.json().at("access_token").as_string());
  auto me = c.get("/api/v1/me", a.auth());
  if (me.status == 200)
    a.id = std::string(me.json().at("id").as_string());
  return a;
}

/// A valid listing; `tag` and `n` make it unique (barcode and seats).
inline json::object listing(const std::string& tag, int n) {
  static const char* platforms[] = {"upload", "ticketmaster", "axs", "seatgeek", "nft"};
  static const char* currencies[] = {"USD", "EUR", "GBP", "JPY", "CHF"};
  json::array seats;
  seats.emplace_back(std::to_string(n));
  if (n % 3 == 0)
    seats.emplace_back(std::to_string(n) + "b");
  json::object o{
    {"event_id", "ev-" + tag + "-" + std::to_string(n % 7)},
    {"event_name", "Show " + tag + " \xc3\xa9t\xc3\xa9 #" + std::to_string(n)},  // UTF-8
    {"venue", "Hall " + std::to_string(n % 5)},
    {"category", n % 2 ? "concert" : "sports"},
    {"event_starts_at", "2027-0" + std::to_string(1 + n % 9) + "-1" + std::to_string(n % 10)
                          + "T19:30:00" + (n % 4 == 0 ? "+02:00" : "Z")},
    {"section", "S" + std::to_string(n % 40)},
    {"row", std::string(1, static_cast<char>('A' + n % 26))},
    {"seats", std::move(seats)},
    {"face_value_minor", 1000 + n},
    {"currency", currencies[n % 5]},
    {"barcode", "BC-" + tag + "-" + std::to_string(n) + "-XYZ"},
    {"platform", platforms[n % 5]},
  };
  if (n % 2 == 1)
    o["price_minor"] = 2000 + 3 * n;
  return o;
}

/// Parses an RFC 3339 UTC/offset date-time to seconds since the epoch (for
/// comparing what was sent with the normalised form the node renders).
inline std::optional<long long> rfc3339_seconds(std::string_view s) {
  int y, mo, d, h, mi, se;
  char t;
  if (std::sscanf(std::string(s).c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d", &y, &mo, &d, &t, &h, &mi, &se)
      != 7)
    return std::nullopt;
  auto days_from_civil = [](long long y, unsigned m, unsigned dd) {
    y -= m <= 2;
    const long long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + dd - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long long>(doe) - 719468;
  };
  // A leap second (:60) is kept as :59 by the node (it has no leap table).
  long long secs = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400
                   + h * 3600 + mi * 60 + std::min(se, 59);
  size_t pos = 19;
  while (pos < s.size() && (s[pos] == '.' || (s[pos] >= '0' && s[pos] <= '9')))
    ++pos;
  if (pos < s.size() && (s[pos] == '+' || s[pos] == '-') && pos + 6 <= s.size()) {
    int oh = std::atoi(std::string(s.substr(pos + 1, 2)).c_str());
    int om = std::atoi(std::string(s.substr(pos + 4, 2)).c_str());
    secs -= (s[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
  }
  return secs;
}

/// Differences between a sent listing and the ticket the node returned
/// (empty: they agree). `price_too`: also compare price_minor (not after a
/// PATCH changed it).
inline std::string listing_mismatch(const json::object& sent, const json::value& got_v,
                                    bool price_too = true) {
  if (!got_v.is_object())
    return "ticket is not a JSON object";
  const auto& got = got_v.as_object();
  std::string diff;
  for (auto field : {"event_id", "event_name", "venue", "category", "section", "row", "seats",
                     "face_value_minor", "currency", "platform"}) {
    auto* g = got.if_contains(field);
    if (!g || *g != sent.at(field))
      diff += std::string(field) + ": sent " + json::serialize(sent.at(field)) + ", got "
              + (g ? json::serialize(*g) : std::string("nothing")) + "; ";
  }
  if (price_too) {
    const auto& want = sent.contains("price_minor") ? sent.at("price_minor")
                                                    : sent.at("face_value_minor");
    auto* g = got.if_contains("price_minor");
    if (!g || *g != want)
      diff += "price_minor: sent " + json::serialize(want) + ", got "
              + (g ? json::serialize(*g) : std::string("nothing")) + "; ";
  }
  auto* starts = got.if_contains("event_starts_at");
  auto want_s = rfc3339_seconds(sent.at("event_starts_at").as_string());
  if (!starts || !starts->is_string() || rfc3339_seconds(starts->as_string()) != want_s)
    diff += "event_starts_at: sent " + json::serialize(sent.at("event_starts_at")) + ", got "
            + (starts ? json::serialize(*starts) : std::string("nothing")) + "; ";
  if (got.contains("barcode") || got.contains("barcode_hash"))
    diff += "the barcode leaked; ";
  return diff;
}

/// error.code of a 4xx/5xx body, or empty if the body is not the error shape.
inline std::string error_code(const http_result& r) {
  auto v = r.json();
  if (!v.is_object())
    return {};
  auto* e = v.as_object().if_contains("error");
  if (!e || !e->is_object())
    return {};
  auto* code = e->as_object().if_contains("code");
  auto* msg = e->as_object().if_contains("message");
  if (!code || !code->is_string() || code->as_string().empty() || !msg || !msg->is_string())
    return {};
  return std::string(code->as_string());
}


// -- settlement (wallets, trades, audit) ----------------------------------------------

/// Options for settlement test nodes: fast_node_args() plus an operator
/// account (admin@example.com), a short commit window and a quick timer sweep.
inline std::vector<std::string> settlement_node_args(int commit_window_s,
                                                     int timer_poll_ms = 100) {
  auto args = fast_node_args();
  args.insert(args.end(), {"--admin-email", "admin@example.com", "--commit-window-s",
                           std::to_string(commit_window_s), "--timer-poll-ms",
                           std::to_string(timer_poll_ms)});
  return args;
}

/// A valid listing in USD (a trade's cash is in the first given ticket's
/// currency, which must be the wallets' currency).
inline json::object usd_listing(const std::string& tag, int n) {
  auto o = listing(tag, n);
  o["currency"] = "USD";
  return o;
}

/// Final trade statuses (nothing happens to such a trade any more).
inline bool final_trade_status(std::string_view s) {
  return s == "completed" || s == "declined" || s == "cancelled" || s == "expired"
         || s == "rejected" || s == "refunded";
}

/// A string member of a JSON object, or empty.
inline std::string str_of(const json::value& v, std::string_view key) {
  if (!v.is_object())
    return {};
  auto* m = v.as_object().if_contains(key);
  return m && m->is_string() ? std::string(m->as_string()) : std::string{};
}

/// An integer member of a JSON object, or `dflt`.
inline int64_t int_of(const json::value& v, std::string_view key, int64_t dflt = -1) {
  if (!v.is_object())
    return dflt;
  auto* m = v.as_object().if_contains(key);
  return m && m->is_int64() ? m->as_int64() : dflt;
}

struct wallet_balance {
  int status = 0;  // of GET /api/v1/me/wallet
  int64_t available = 0;
  int64_t held = 0;
};

inline wallet_balance get_wallet_balance(http_client& c, const account& a) {
  auto r = c.get("/api/v1/me/wallet", a.auth());
  wallet_balance w;
  w.status = r.status;
  if (r.status == 200) {
    auto j = r.json();
    w.available = int_of(j, "available_minor", 0);
    w.held = int_of(j, "held_minor", 0);
  }
  return w;
}

/// GET /api/v1/admin/audit with an operator's token: empty when the ledger
/// is balanced ("ok": true, "sum_minor": 0, no violations, no negative
/// wallets), else what is wrong (with the body).
inline std::string audit_problem(http_client& c, const account& admin) {
  auto r = c.get("/api/v1/admin/audit", admin.auth());
  if (r.status != 200)
    return "audit answered " + std::to_string(r.status) + " " + r.body + r.error;
  auto j = r.json();
  if (!j.is_object())
    return "audit body is not JSON: " + r.body;
  const auto& o = j.as_object();
  std::string why;
  auto* ok = o.if_contains("ok");
  if (!ok || !ok->is_bool() || !ok->as_bool())
    why += "ok is not true; ";
  auto* sum = o.if_contains("sum_minor");
  if (!sum || !sum->is_int64() || sum->as_int64() != 0)
    why += "sum_minor is not 0; ";
  for (auto key : {"violations", "negative_wallets"}) {
    auto* a = o.if_contains(key);
    if (!a || !a->is_array() || !a->as_array().empty())
      why += std::string(key) + " is not an empty array; ";
  }
  return why.empty() ? why : why + "body: " + r.body;
}

/// One request, sent again (on a fresh connection, after a short pause) while
/// there is no answer or the answer is a 5xx, until `until`. For requests
/// that are idempotent (GETs, keyed writes, trade steps keyed by trade id).
/// Returns the last result (status 0 or 5xx if the deadline passed).
inline http_result request_until_answered(http_client& c, http::verb method,
                                          const std::string& target, const std::string& body,
                                          const headers_t& headers,
                                          std::chrono::steady_clock::time_point until,
                                          int* retries = nullptr) {
  for (;;) {
    auto r = c.request(method, target, body, headers);
    if (r.ok() && r.status < 500)
      return r;
    if (std::chrono::steady_clock::now() >= until)
      return r;
    if (retries)
      ++*retries;
    c.disconnect();
    std::this_thread::sleep_for(r.ok() ? 50ms : 20ms);
  }
}

} // namespace tt::it
