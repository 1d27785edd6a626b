#include "nodes/etcd_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

namespace tt::nodes {

namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace asio = boost::asio;

namespace {

std::string b64(const std::string& s) {
  std::string out(beast::detail::base64::encoded_size(s.size()), '\0');
  out.resize(beast::detail::base64::encode(out.data(), s.data(), s.size()));
  return out;
}

std::string unb64(std::string_view s) {
  std::string out(beast::detail::base64::decoded_size(s.size()), '\0');
  auto r = beast::detail::base64::decode(out.data(), s.data(), s.size());
  out.resize(r.first);
  return out;
}

/// etcd's gateway renders int64 as strings; absent means 0.
int64_t num(const json::object& o, std::string_view k) {
  auto it = o.find(k);
  if (it == o.end())
    return 0;
  if (it->value().is_string()) {
    try {
      return std::stoll(std::string{it->value().as_string()});
    } catch (...) {
      return 0;
    }
  }
  if (it->value().is_int64())
    return it->value().as_int64();
  return 0;
}

std::vector<etcd_kv> kvs_of(const json::object& o) {
  std::vector<etcd_kv> out;
  auto it = o.find("kvs");
  if (it == o.end() || !it->value().is_array())
    return out;
  for (auto& v : it->value().as_array()) {
    if (!v.is_object())
      continue;
    auto& kv = v.as_object();
    etcd_kv x;
    if (auto k = kv.find("key"); k != kv.end() && k->value().is_string())
      x.key = unb64(k->value().as_string());
    if (auto k = kv.find("value"); k != kv.end() && k->value().is_string())
      x.value = unb64(k->value().as_string());
    x.create_revision = num(kv, "create_revision");
    x.mod_revision = num(kv, "mod_revision");
    x.lease = num(kv, "lease");
    out.push_back(std::move(x));
  }
  return out;
}

/// The smallest key greater than every key with `prefix`.
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    auto& c = prefix.back();
    if (static_cast<unsigned char>(c) < 0xff) {
      ++c;
      return prefix;
    }
    prefix.pop_back();
  }
  return std::string(1, '\0');
}

json::object op_json(const etcd_op& op) {
  json::object o;
  switch (op.kind) {
    case etcd_op::put: {
      json::object p{{"key", b64(op.key)}, {"value", b64(op.value)}};
      if (op.lease != 0)
        p["lease"] = std::to_string(op.lease);
      o["request_put"] = std::move(p);
      break;
    }
    case etcd_op::del:
      o["request_delete_range"] = json::object{{"key", b64(op.key)}};
      break;
    case etcd_op::range:
      o["request_range"] = json::object{{"key", b64(op.key)}};
      break;
  }
  return o;
}

struct url_parts {
  std::string host;
  std::string port;
};

std::optional<url_parts> split_url(const std::string& url) {
  std::string_view s = url;
  if (s.rfind("http://", 0) != 0)
    return std::nullopt;
  s.remove_prefix(7);
  while (!s.empty() && s.back() == '/')
    s.remove_suffix(1);
  auto colon = s.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 >= s.size())
    return std::nullopt;
  url_parts p{std::string{s.substr(0, colon)}, std::string{s.substr(colon + 1)}};
  for (char c : p.port)
    if (c < '0' || c > '9')
      return std::nullopt;
  return p;
}

} // namespace

struct etcd_client::conn {
  asio::io_context io;
  std::optional<beast::tcp_stream> stream;
  beast::flat_buffer buffer;
  std::string host;
};

etcd_client::etcd_client(std::vector<std::string> endpoints, std::chrono::milliseconds timeout)
  : endpoints_(std::move(endpoints)), timeout_(timeout) {}

etcd_client::~etcd_client() = default;

bool etcd_client::parse_endpoints(const std::string& list, std::vector<std::string>* out,
                                  std::string* error) {
  out->clear();
  size_t start = 0;
  while (start <= list.size()) {
    auto comma = list.find(',', start);
    auto item = list.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!item.empty()) {
      if (!split_url(item)) {
        *error = "bad etcd URL '" + item + "' (expected http://HOST:PORT)";
        return false;
      }
      out->push_back(item);
    }
    if (comma == std::string::npos)
      break;
    start = comma + 1;
  }
  if (out->empty()) {
    *error = "no etcd endpoint given";
    return false;
  }
  return true;
}

std::optional<std::string> etcd_client::post(const std::string& target, const std::string& body) {
  for (size_t attempt = 0; attempt < endpoints_.size() * 2; ++attempt) {
    auto url = split_url(endpoints_[current_]);
    try {
      if (!conn_) {
        conn_ = std::make_unique<conn>();
        asio::ip::tcp::resolver resolver{conn_->io};
        auto results = resolver.resolve(url->host, url->port);
        conn_->stream.emplace(conn_->io);
        conn_->stream->expires_after(timeout_);
        conn_->stream->connect(results);
        conn_->host = url->host + ":" + url->port;
      }
      http::request<http::string_body> req{http::verb::post, target, 11};
      req.set(http::field::host, conn_->host);
      req.set(http::field::content_type, "application/json");
      req.keep_alive(true);
      req.body() = body;
      req.prepare_payload();
      conn_->stream->expires_after(timeout_);
      http::write(*conn_->stream, req);
      http::response_parser<http::string_body> parser;
      parser.body_limit(64 * 1024 * 1024);
      http::read(*conn_->stream, conn_->buffer, parser);
      auto res = parser.release();
      if (!res.keep_alive())
        conn_.reset();
      if (res.result_int() != 200) {
        last_error_ = "etcd " + target + " answered " + std::to_string(res.result_int()) + ": "
                      + res.body().substr(0, 200);
        return std::nullopt;  // a real answer: do not retry elsewhere
      }
      return std::move(res.body());
    } catch (const boost::system::system_error& e) {
      last_error_ = "etcd " + endpoints_[current_] + target + ": " + e.code().message();
      conn_.reset();
      if (attempt % 2 == 1)
        current_ = (current_ + 1) % endpoints_.size();
    } catch (const std::exception& e) {
      last_error_ = "etcd " + endpoints_[current_] + target + ": " + e.what();
      conn_.reset();
      if (attempt % 2 == 1)
        current_ = (current_ + 1) % endpoints_.size();
    }
  }
  return std::nullopt;
}

namespace {

std::optional<json::object> parse_obj(const std::optional<std::string>& body, std::string* err) {
  if (!body)
    return std::nullopt;
  boost::system::error_code ec;
  auto v = json::parse(*body, ec);
  if (ec || !v.is_object()) {
    *err = "etcd answered malformed JSON";
    return std::nullopt;
  }
  return std::move(v.as_object());
}

int64_t header_revision(const json::object& o) {
  auto h = o.find("header");
  if (h == o.end() || !h->value().is_object())
    return 0;
  return num(h->value().as_object(), "revision");
}

} // namespace

std::optional<int64_t> etcd_client::lease_grant(int64_t ttl_s) {
  auto o = parse_obj(post("/v3/lease/grant", json::serialize(json::object{{"TTL", ttl_s}})),
                     &last_error_);
  if (!o)
    return std::nullopt;
  auto id = num(*o, "ID");
  if (id == 0) {
    last_error_ = "etcd granted no lease";
    return std::nullopt;
  }
  return id;
}

std::optional<int64_t> etcd_client::lease_keepalive(int64_t lease) {
  auto o = parse_obj(post("/v3/lease/keepalive",
                          json::serialize(json::object{{"ID", std::to_string(lease)}})),
                     &last_error_);
  if (!o)
    return std::nullopt;
  auto r = o->find("result");
  if (r == o->end() || !r->value().is_object())
    return int64_t{0};
  return num(r->value().as_object(), "TTL");
}

bool etcd_client::lease_revoke(int64_t lease) {
  return parse_obj(post("/v3/lease/revoke",
                        json::serialize(json::object{{"ID", std::to_string(lease)}})),
                   &last_error_)
    .has_value();
}

std::optional<int64_t> etcd_client::put(const std::string& key, const std::string& value,
                                        int64_t lease) {
  json::object req{{"key", b64(key)}, {"value", b64(value)}};
  if (lease != 0)
    req["lease"] = std::to_string(lease);
  auto o = parse_obj(post("/v3/kv/put", json::serialize(req)), &last_error_);
  if (!o)
    return std::nullopt;
  return header_revision(*o);
}

std::optional<etcd_range_result> etcd_client::range(const std::string& key, bool prefix) {
  json::object req{{"key", b64(key)}};
  if (prefix)
    req["range_end"] = b64(prefix_end(key));
  auto o = parse_obj(post("/v3/kv/range", json::serialize(req)), &last_error_);
  if (!o)
    return std::nullopt;
  etcd_range_result r;
  r.revision = header_revision(*o);
  r.kvs = kvs_of(*o);
  return r;
}

std::optional<int64_t> etcd_client::del(const std::string& key) {
  auto o = parse_obj(post("/v3/kv/deleterange", json::serialize(json::object{{"key", b64(key)}})),
                     &last_error_);
  if (!o)
    return std::nullopt;
  return header_revision(*o);
}

std::optional<etcd_txn_result> etcd_client::txn(const std::vector<etcd_compare>& compare,
                                                const std::vector<etcd_op>& success,
                                                const std::vector<etcd_op>& failure) {
  json::array cmp;
  for (auto& c : compare) {
    json::object x{{"key", b64(c.key)}, {"result", "EQUAL"}};
    switch (c.target) {
      case etcd_compare::create_revision:
        x["target"] = "CREATE";
        x["create_revision"] = std::to_string(c.revision);
        break;
      case etcd_compare::mod_revision:
        x["target"] = "MOD";
        x["mod_revision"] = std::to_string(c.revision);
        break;
      case etcd_compare::value:
        x["target"] = "VALUE";
        x["value"] = b64(c.expected_value);
        break;
    }
    cmp.push_back(std::move(x));
  }
  json::array ok, bad;
  for (auto& op : success)
    ok.push_back(op_json(op));
  for (auto& op : failure)
    bad.push_back(op_json(op));
  json::object req{{"compare", std::move(cmp)}, {"success", std::move(ok)},
                   {"failure", std::move(bad)}};
  auto o = parse_obj(post("/v3/kv/txn", json::serialize(req)), &last_error_);
  if (!o)
    return std::nullopt;
  etcd_txn_result r;
  r.revision = header_revision(*o);
  if (auto s = o->find("succeeded"); s != o->end() && s->value().is_bool())
    r.succeeded = s->value().as_bool();
  if (auto rs = o->find("responses"); rs != o->end() && rs->value().is_array()) {
    for (auto& v : rs->value().as_array()) {
      if (!v.is_object())
        continue;
      if (auto rr = v.as_object().find("response_range");
          rr != v.as_object().end() && rr->value().is_object()) {
        auto more = kvs_of(rr->value().as_object());
        r.kvs.insert(r.kvs.end(), more.begin(), more.end());
      }
    }
  }
  return r;
}

std::optional<etcd_txn_result> etcd_client::create_if_absent(const std::string& key,
                                                             const std::string& value,
                                                             int64_t lease) {
  etcd_compare c;
  c.target = etcd_compare::create_revision;
  c.key = key;
  c.revision = 0;
  etcd_op put_op{etcd_op::put, key, value, lease};
  etcd_op get_op{etcd_op::range, key, {}, 0};
  return txn({c}, {put_op}, {get_op});
}

bool etcd_client::watch(const std::string& prefix, const std::function<void()>& on_change,
                        const std::function<bool()>& keep_going) {
  auto url = split_url(endpoints_[current_]);
  try {
    asio::io_context io;
    asio::ip::tcp::resolver resolver{io};
    beast::tcp_stream stream{io};
    stream.expires_after(timeout_);
    stream.connect(resolver.resolve(url->host, url->port));
    {
      std::lock_guard<std::mutex> g{watch_mtx_};
      if (cancelled_)
        return false;
      watch_socket_ = &stream.socket();
    }
    struct unregister {
      etcd_client* self;
      ~unregister() {
        std::lock_guard<std::mutex> g{self->watch_mtx_};
        self->watch_socket_ = nullptr;
      }
    } guard{this};
    json::object create{{"key", b64(prefix)}, {"range_end", b64(prefix_end(prefix))}};
    http::request<http::string_body> req{http::verb::post, "/v3/watch", 11};
    req.set(http::field::host, url->host + ":" + url->port);
    req.set(http::field::content_type, "application/json");
    req.body() = json::serialize(json::object{{"create_request", std::move(create)}});
    req.prepare_payload();
    http::write(stream, req);
    // The gateway streams one JSON object per message (chunked); each one
    // (created, events, progress) is a reason to look again.
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(boost::none);
    beast::flat_buffer buffer;
    stream.expires_never();
    http::read_header(stream, buffer, parser);
    if (parser.get().result_int() != 200) {
      last_error_ = "etcd watch answered " + std::to_string(parser.get().result_int());
      return false;
    }
    char chunk[16 * 1024];
    while (keep_going() && !cancelled_ && !parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof chunk;
      beast::error_code ec;
      http::read_some(stream, buffer, parser, ec);
      if (ec && ec != http::error::need_buffer) {
        last_error_ = "etcd watch: " + ec.message();
        return false;
      }
      if (parser.get().body().size < sizeof chunk)  // some bytes arrived
        on_change();
    }
    return true;
  } catch (const std::exception& e) {
    last_error_ = std::string{"etcd watch: "} + e.what();
    return false;
  }
}

void etcd_client::cancel() {
  cancelled_ = true;
  std::lock_guard<std::mutex> g{watch_mtx_};
  if (watch_socket_) {
    boost::system::error_code ec;
    static_cast<asio::ip::tcp::socket*>(watch_socket_)->shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  }
}

} // namespace tt::nodes
