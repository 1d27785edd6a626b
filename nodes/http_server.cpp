#include "nodes/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/version.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <atomic>
#include <deque>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "messages/log.hpp"

namespace tt::nodes {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

const std::string& http_request::header(std::string_view name) const {
  static const std::string empty;
  for (const auto& [k, v] : headers)
    if (k == name)
      return v;
  return empty;
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'A' && c <= 'Z')
      c = static_cast<char>(c - 'A' + 'a');
  return out;
}

http::response<http::string_body> to_beast(http_response&& r, unsigned version, bool keep_alive) {
  http::response<http::string_body> res{static_cast<http::status>(r.status), version};
  res.set(http::field::server, "ticket-trader");
  res.set(http::field::content_type, r.content_type);
  for (auto& [k, v] : r.headers)
    res.set(k, v);
  res.body() = std::move(r.body);
  res.keep_alive(keep_alive);
  res.prepare_payload();
  return res;
}

http_response error_response(unsigned status, std::string_view code, std::string_view message) {
  http_response r;
  r.status = status;
  r.body = "{\"error\":{\"code\":";
  log::append_json_string(r.body, code);
  r.body += ",\"message\":";
  log::append_json_string(r.body, message);
  r.body += "}}";
  return r;
}

template <class Stream>
class ws_session : public ws_connection, public std::enable_shared_from_this<ws_session<Stream>> {
public:
  using std::enable_shared_from_this<ws_session<Stream>>::shared_from_this;

  ws_session(Stream&& stream, size_t max_queue, std::function<void(ws_connection*)> on_closed)
    : ws_(std::move(stream)), max_queue_(max_queue), on_closed_(std::move(on_closed)) {}

  ~ws_session() override {
    if (on_closed_)
      on_closed_(this);
  }

  template <class Request>
  void accept(Request req, std::function<void(std::shared_ptr<ws_connection>)> on_open) {
    beast::get_lowest_layer(ws_).expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.set_option(websocket::stream_base::decorator(
      [](websocket::response_type& res) { res.set(http::field::server, "ticket-trader"); }));
    ws_.read_message_max(64 * 1024);
    auto self = shared_from_this();
    ws_.async_accept(req, [self, on_open = std::move(on_open)](beast::error_code ec) {
      if (ec)
        return;
      self->open_ = true;
      on_open(self);
      self->do_read();
    });
  }

  bool send(std::string text) override {
    if (!open_)
      return false;
    if (queued_.fetch_add(1) >= max_queue_) {
      queued_.fetch_sub(1);
      close(1008, "slow consumer");
      return false;
    }
    net::post(ws_.get_executor(), [self = shared_from_this(), text = std::move(text)]() mutable {
      self->queue_.push_back(std::move(text));
      if (self->queue_.size() == 1)
        self->do_write();
    });
    return true;
  }

  void close(uint16_t code, std::string reason) override {
    bool was_open = open_.exchange(false);
    if (!was_open)
      return;
    net::post(ws_.get_executor(), [self = shared_from_this(), code, reason = std::move(reason)] {
      websocket::close_reason cr{static_cast<websocket::close_code>(code), reason};
      self->ws_.async_close(cr, [self](beast::error_code) {});
    });
  }

  bool is_open() const override { return open_; }

private:
  // Client messages are read (control frames, close) and ignored.
  void do_read() {
    ws_.async_read(read_buf_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->open_ = false;
        return;
      }
      self->read_buf_.consume(self->read_buf_.size());
      self->do_read();
    });
  }

  void do_write() {
    ws_.text(true);
    ws_.async_write(net::buffer(queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      self->queue_.pop_front();
                      self->queued_.fetch_sub(1);
                      if (ec) {
                        self->open_ = false;
                        return;
                      }
                      if (!self->queue_.empty())
                        self->do_write();
                    });
  }

  websocket::stream<Stream> ws_;
  beast::flat_buffer read_buf_;
  std::deque<std::string> queue_;
  std::atomic<size_t> queued_{0};
  size_t max_queue_;
  std::atomic<bool> open_{false};
  std::function<void(ws_connection*)> on_closed_;
};

template <class Stream>
class session : public std::enable_shared_from_this<session<Stream>> {
public:
  using std::enable_shared_from_this<session<Stream>>::shared_from_this;

  template <class... Args>
  session(const http_server_config& cfg, const http_handler& handler, Args&&... args)
    : stream_(std::forward<Args>(args)...), cfg_(cfg), handler_(handler) {
    beast::error_code ec;
    auto ep = beast::get_lowest_layer(stream_).socket().remote_endpoint(ec);
    if (!ec)
      remote_ip_ = ep.address().to_string();
  }

  void run() {
    net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
      if constexpr (is_tls) {
        beast::get_lowest_layer(self->stream_)
          .expires_after(std::chrono::seconds(self->cfg_.read_timeout_seconds));
        self->stream_.async_handshake(net::ssl::stream_base::server,
                                      [self](beast::error_code ec) {
                                        if (ec)
                                          return self->close();
                                        self->do_read();
                                      });
      } else {
        self->do_read();
      }
    });
  }

  static constexpr bool is_tls = !std::is_same_v<Stream, beast::tcp_stream>;

private:
  void do_read() {
    parser_.emplace();
    parser_->body_limit(cfg_.body_limit);
    parser_->header_limit(static_cast<uint32_t>(cfg_.header_limit));
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(cfg_.read_timeout_seconds));
    http::async_read(stream_, buffer_, *parser_,
                     beast::bind_front_handler(&session::on_read, shared_from_this()));
  }

  void on_read(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream || ec == net::error::eof) {
      close();
      return;
    }
    if (ec == beast::error::timeout || ec == net::error::operation_aborted
        || ec == net::error::connection_reset) {
      close();
      return;
    }
    if (ec) {
      // Malformed or oversize requests get a clear 4xx, then the connection
      // closes (the stream position is unknown).
      unsigned status = 400;
      std::string code = "bad_request";
      if (ec == http::error::body_limit) {
        status = 413;
        code = "body_too_large";
      } else if (ec == http::error::header_limit) {
        status = 431;
        code = "headers_too_large";
      }
      keep_alive_ = false;
      version_ = 11;
      write(error_response(status, code, ec.message()));
      return;
    }
    auto& req = parser_->get();
    version_ = req.version();
    keep_alive_ = req.keep_alive();
    http_request r;
    r.websocket_upgrade = websocket::is_upgrade(req);
    r.method = std::string(req.method_string());
    r.target = std::string(req.target());
    r.body = std::move(req.body());
    r.remote_ip = remote_ip_;
    for (const auto& f : req)
      r.headers.emplace_back(lower(f.name_string()), std::string(f.value()));
    beast::get_lowest_layer(stream_).expires_never();
    auto self = shared_from_this();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    handler_(r, [self, answered](http_response res) {
      if (answered->exchange(true))
        return;
      net::post(self->stream_.get_executor(),
                [self, res = std::move(res)]() mutable { self->write(std::move(res)); });
    });
  }

  void write(http_response&& r) {
    if (r.on_upgrade && parser_ && websocket::is_upgrade(parser_->get())) {
      auto ws = std::make_shared<ws_session<Stream>>(std::move(stream_), cfg_.ws_max_queued_messages,
                                             std::move(r.on_closed));
      ws->accept(parser_->release(), std::move(r.on_upgrade));
      return;
    }
    auto res = std::make_shared<http::response<http::string_body>>(
      to_beast(std::move(r), version_, keep_alive_));
    beast::get_lowest_layer(stream_).expires_after(std::chrono::seconds(cfg_.read_timeout_seconds));
    http::async_write(stream_, *res,
                      [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
                        self->on_write(ec, res->need_eof());
                      });
  }

  void on_write(beast::error_code ec, bool need_eof) {
    if (ec || need_eof || !keep_alive_) {
      close();
      return;
    }
    do_read();
  }

  void close() {
    beast::error_code ec;
    auto& sock = beast::get_lowest_layer(stream_).socket();
    sock.shutdown(tcp::socket::shutdown_send, ec);
    sock.close(ec);
  }

  Stream stream_;
  const http_server_config& cfg_;
  const http_handler& handler_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::string remote_ip_;
  unsigned version_ = 11;
  bool keep_alive_ = true;
};

} // namespace

struct http_server::impl {
  http_server_config cfg;
  http_handler handler;
  net::io_context ioc;
  tcp::acceptor acceptor{ioc};
  net::signal_set signals{ioc};
  net::steady_timer accept_backoff{ioc};
  std::chrono::steady_clock::time_point last_accept_log{};
  std::function<void(int)> on_signal;
  std::vector<std::thread> threads;
  std::mutex mtx;
  std::condition_variable cv;
  bool stopped = false;
  bool stop_requested = false;
  uint16_t bound_port = 0;
  std::unique_ptr<net::ssl::context> tls;

  impl(http_server_config c, http_handler h)
    : cfg(std::move(c)), handler(std::move(h)), ioc(static_cast<int>(cfg.io_threads)) {}

  void do_accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
      if (ec) {
        if (ec == net::error::operation_aborted || !acceptor.is_open())
          return;
        // Out of descriptors (EMFILE/ENFILE) and the like: back off instead
        // of spinning, and log at most once a second.
        auto now = std::chrono::steady_clock::now();
        if (now - last_accept_log >= std::chrono::seconds(1)) {
          last_accept_log = now;
          log::warn("http_accept_failed", {{"error", ec.message()}});
        }
        accept_backoff.expires_after(std::chrono::milliseconds(50));
        accept_backoff.async_wait([this](beast::error_code wait_ec) {
          if (!wait_ec && acceptor.is_open())
            do_accept();
        });
        return;
      } else {
        if (tls)
          std::make_shared<session<beast::ssl_stream<beast::tcp_stream>>>(cfg, handler,
                                                                           std::move(socket), *tls)
            ->run();
        else
          std::make_shared<session<beast::tcp_stream>>(cfg, handler, std::move(socket))->run();
      }
      do_accept();
    });
  }
};

http_server::http_server(http_server_config cfg, http_handler handler)
  : impl_(std::make_unique<impl>(std::move(cfg), std::move(handler))) {}

http_server::~http_server() { stop(); }

bool http_server::start(std::string* error) {
  auto& d = *impl_;
  beast::error_code ec;
  if (!d.cfg.tls_cert_file.empty() || !d.cfg.tls_key_file.empty()) {
    d.tls = std::make_unique<net::ssl::context>(net::ssl::context::tls_server);
    d.tls->set_options(net::ssl::context::default_workarounds | net::ssl::context::no_sslv2
                       | net::ssl::context::no_sslv3 | net::ssl::context::no_tlsv1
                       | net::ssl::context::no_tlsv1_1 | net::ssl::context::single_dh_use);
    d.tls->use_certificate_chain_file(d.cfg.tls_cert_file, ec);
    if (!ec)
      d.tls->use_private_key_file(d.cfg.tls_key_file, net::ssl::context::pem, ec);
    if (ec) {
      *error = "cannot load TLS certificate/key: " + ec.message();
      return false;
    }
  }
  auto addr = net::ip::make_address(d.cfg.host, ec);
  if (ec) {
    *error = "bad listen address " + d.cfg.host + ": " + ec.message();
    return false;
  }
  tcp::endpoint ep{addr, d.cfg.port};
  d.acceptor.open(ep.protocol(), ec);
  if (!ec)
    d.acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    d.acceptor.bind(ep, ec);
  if (!ec)
    d.acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    *error = "cannot listen on " + d.cfg.host + ":" + std::to_string(d.cfg.port) + ": "
             + ec.message();
    return false;
  }
  d.bound_port = d.acceptor.local_endpoint().port();
  d.signals.add(SIGINT);
  d.signals.add(SIGTERM);
  d.signals.async_wait([this](beast::error_code ec, int sig) {
    if (ec)
      return;
    if (impl_->on_signal)
      impl_->on_signal(sig);
    request_stop();
  });
  d.do_accept();
  for (unsigned i = 0; i < std::max(1u, d.cfg.io_threads); ++i)
    d.threads.emplace_back([this] { impl_->ioc.run(); });
  return true;
}

uint16_t http_server::port() const { return impl_->bound_port; }

void http_server::on_signal(std::function<void(int)> fn) { impl_->on_signal = std::move(fn); }

void http_server::stop() {
  auto& d = *impl_;
  {
    std::lock_guard<std::mutex> guard{d.mtx};
    if (d.stopped)
      return;
    d.stopped = true;
  }
  net::post(d.ioc, [this] {
    beast::error_code ec;
    impl_->acceptor.close(ec);
    impl_->accept_backoff.cancel();
    impl_->signals.cancel(ec);
  });
  d.ioc.stop();
  for (auto& t : d.threads)
    if (t.joinable() && t.get_id() != std::this_thread::get_id())
      t.join();
  {
    std::lock_guard<std::mutex> guard{d.mtx};
    d.stop_requested = true;
  }
  d.cv.notify_all();
}

void http_server::request_stop() {
  {
    std::lock_guard<std::mutex> guard{impl_->mtx};
    impl_->stop_requested = true;
  }
  impl_->cv.notify_all();
}

void http_server::wait() {
  std::unique_lock<std::mutex> guard{impl_->mtx};
  impl_->cv.wait(guard, [this] { return impl_->stop_requested; });
}

} // namespace tt::nodes
