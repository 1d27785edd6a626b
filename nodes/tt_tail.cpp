// tt-tail: prints the events of a node's global log, one per line, from an
// offset or from where a named consumer left off, optionally following new
// ones. Reads GET /api/v1/events (admin or analytics role).
//
// Delivery semantics (tested in tests/process/tail_test.cpp):
//   - stdout: at least once. With --consumer NAME the committed offset (PUT
//     /api/v1/consumers/NAME) is the last event written and flushed, so a
//     consumer killed between writing and committing prints those events
//     again after a restart; every line carries its offset for downstream
//     de-duplication.
//   - --out FILE with --consumer NAME: exactly once in FILE. Lines are
//     appended and fdatasync'd before the offset is committed; at start,
//     tt-tail cuts a torn last line and resumes after the larger of the
//     committed offset and the last offset in FILE, so a kill at any moment
//     neither loses nor repeats an event in FILE.
#include <CLI/CLI.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
namespace json = boost::json;
using tcp = net::ip::tcp;

namespace {

struct reply {
  int status = 0;  // 0: no answer
  std::string body;
};

class client {
public:
  client(std::string host, std::string port) : host_(std::move(host)), port_(std::move(port)) {}

  reply call(http::verb verb, const std::string& target, const std::string& body = {}) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!stream_) {
          stream_.emplace(ioc_);
          tcp::resolver resolver{ioc_};
          stream_->expires_after(std::chrono::seconds(10));
          stream_->connect(resolver.resolve(host_, port_));
        }
        http::request<http::string_body> req{verb, target, 11};
        req.set(http::field::host, host_);
        req.keep_alive(true);
        if (!token_.empty())
          req.set(http::field::authorization, "Bearer " + token_);
        if (!body.empty()) {
          req.set(http::field::content_type, "application/json");
          req.body() = body;
        }
        req.prepare_payload();
        stream_->expires_after(std::chrono::seconds(30));
        http::write(*stream_, req);
        http::response_parser<http::string_body> parser;
        parser.body_limit(256u << 20);
        http::read(*stream_, buffer_, parser);
        auto res = parser.release();
        if (!res.keep_alive())
          stream_.reset();
        return {static_cast<int>(res.result_int()), std::move(res.body())};
      } catch (const std::exception&) {
        stream_.reset();
        buffer_.clear();
      }
    }
    return {};
  }

  void set_token(std::string t) { token_ = std::move(t); }

private:
  std::string host_, port_, token_;
  net::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

[[noreturn]] void die(const std::string& msg, int code = 1) {
  std::fprintf(stderr, "tt-tail: %s\n", msg.c_str());
  std::exit(code);
}

std::string error_of(const reply& r) {
  if (r.status == 0)
    return "no answer from the node";
  return "HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300);
}

/// Reads FILE's last complete line's offset, cutting a torn last line.
uint64_t recover_out_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return 0;
  std::string data((std::istreambuf_iterator<char>(in)), {});
  in.close();
  auto complete = data.rfind('\n');
  size_t keep = complete == std::string::npos ? 0 : complete + 1;
  if (keep != data.size()) {
    if (::truncate(path.c_str(), static_cast<off_t>(keep)) != 0)
      die("cannot cut the torn last line of " + path);
    std::fprintf(stderr, "tt-tail: cut a torn last line of %s\n", path.c_str());
  }
  if (keep == 0)
    return 0;
  auto start = data.rfind('\n', keep - 2);
  auto line = data.substr(start == std::string::npos ? 0 : start + 1, keep - 1 - (start == std::string::npos ? 0 : start + 1));
  // json lines: {"offset":N,...}; text lines: "N ..."
  uint64_t off = 0;
  auto p = line.find("\"offset\":");
  const char* s = p != std::string::npos ? line.c_str() + p + 9 : line.c_str();
  off = std::strtoull(s, nullptr, 10);
  return off;
}

std::string to_text(const json::object& e) {
  std::string out = std::to_string(e.at("offset").as_int64());
  const auto& ent = e.at("entity").as_object();
  out += ' ';
  out += ent.at("kind").as_string();
  out += ':';
  out += ent.at("id").as_string();
  out += " #" + std::to_string(e.at("seq").as_int64()) + ' ';
  out += e.at("type").as_string();
  out += ' ';
  out += e.at("at").as_string();
  if (e.at("actor").is_string()) {
    out += " by ";
    out += e.at("actor").as_string();
  }
  out += ' ';
  out += json::serialize(e.at("data"));
  return out;
}

} // namespace

int main(int argc, char** argv) {
  std::string node = "127.0.0.1:8080";
  std::string token;
  std::string email;
  uint64_t from = 0;
  bool from_start = false;
  std::string consumer;
  std::vector<std::string> types;
  std::string entity;
  bool follow = false;
  std::string format = "json";
  std::string out_path;
  size_t batch = 1000;
  double poll_s = 0.2;
  CLI::App app{"tt-tail: print a Ticket Trader node's events (one JSON object or text line each), "
               "from an offset or where a consumer left off; --follow for new ones"};
  app.add_option("--node", node, "HOST:PORT of the node's HTTP edge")->capture_default_str();
  app.add_option("--token", token, "access token (admin or analytics role); or env TT_TOKEN");
  app.add_option("--email", email, "log in as this account instead (password from env TT_PASSWORD)");
  auto* o_from = app.add_option("--from", from, "first offset to print");
  auto* o_start = app.add_flag("--from-start", from_start, "start at offset 1 (the default)");
  auto* o_cons = app.add_option("--consumer", consumer,
                                "resume after this consumer's committed offset, commit as it goes");
  o_from->excludes(o_start)->excludes(o_cons);
  o_start->excludes(o_cons);
  app.add_option("--type", types, "only these event types (repeatable), e.g. ticket_listed");
  app.add_option("--entity", entity, "only this entity kind, or KIND:ID (e.g. trade:abc)");
  app.add_flag("--follow,-f", follow, "keep following new events (Ctrl-C stops)");
  app.add_option("--format", format, "json or text")->check(CLI::IsMember({"json", "text"}))
    ->capture_default_str();
  app.add_option("--out", out_path, "append to FILE (fdatasync'd before each commit) instead of stdout");
  app.add_option("--batch", batch, "events per request (1..5000)")->check(CLI::Range(1, 5000))
    ->capture_default_str();
  app.add_option("--poll-s", poll_s, "pause when caught up (with --follow)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto colon = node.rfind(':');
  if (colon == std::string::npos)
    die("--node must be HOST:PORT", 2);
  client c{node.substr(0, colon), node.substr(colon + 1)};
  if (token.empty())
    if (const char* t = std::getenv("TT_TOKEN"))
      token = t;
  if (token.empty() && !email.empty()) {
    const char* pw = std::getenv("TT_PASSWORD");
    if (!pw)
      die("--email needs the password in env TT_PASSWORD", 2);
    json::object body{{"email", email}, {"password", pw}};
    auto r = c.call(http::verb::post, "/api/v1/auth/login", json::serialize(body));
    if (r.status != 200)
      die("login failed: " + error_of(r));
    token = std::string(json::parse(r.body).at("access_token").as_string());
  }
  if (token.empty())
    die("no token: use --token, env TT_TOKEN, or --email with env TT_PASSWORD", 2);
  c.set_token(token);

  // Where to start.
  uint64_t next = from > 0 ? from : 1;
  if (!consumer.empty()) {
    auto r = c.call(http::verb::get, "/api/v1/consumers/" + consumer);
    if (r.status != 200)
      die("cannot read consumer " + consumer + ": " + error_of(r));
    next = static_cast<uint64_t>(json::parse(r.body).at("offset").as_int64()) + 1;
  }
  int out_fd = -1;
  if (!out_path.empty()) {
    auto last = recover_out_file(out_path);
    if (last + 1 > next) {
      if (!consumer.empty())
        std::fprintf(stderr, "tt-tail: %s already holds up to offset %llu; resuming after it\n",
                     out_path.c_str(), static_cast<unsigned long long>(last));
      next = last + 1;
    }
    out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out_fd < 0)
      die("cannot open " + out_path);
  }
  std::string filter;
  if (!types.empty()) {
    filter += "&type=";
    for (size_t i = 0; i < types.size(); ++i)
      filter += (i ? "," : "") + types[i];
  }
  if (!entity.empty())
    filter += "&entity=" + entity;

  uint64_t stop_at = 0;  // without --follow: the end of the log at start
  uint64_t written = 0;
  auto last_progress = std::chrono::steady_clock::now();
  int failures = 0;
  for (;;) {
    auto r = c.call(http::verb::get, "/api/v1/events?from=" + std::to_string(next)
                                       + "&limit=" + std::to_string(batch) + filter);
    if (r.status != 200) {
      if (!follow || (r.status >= 400 && r.status < 500))
        die("reading events failed: " + error_of(r));
      // The node may be restarting: retry with backoff.
      std::this_thread::sleep_for(std::chrono::milliseconds(std::min(5000, 100 << std::min(failures++, 6))));
      continue;
    }
    failures = 0;
    auto page = json::parse(r.body).as_object();
    uint64_t page_next = static_cast<uint64_t>(page.at("next_offset").as_int64());
    uint64_t end = static_cast<uint64_t>(page.at("end_offset").as_int64());
    if (stop_at == 0)
      stop_at = end;
    std::string lines;
    for (const auto& e : page.at("events").as_array()) {
      lines += format == "json" ? json::serialize(e) : to_text(e.as_object());
      lines += '\n';
      ++written;
    }
    if (!lines.empty()) {
      if (out_fd >= 0) {
        size_t done = 0;
        while (done < lines.size()) {
          auto n = ::write(out_fd, lines.data() + done, lines.size() - done);
          if (n <= 0)
            die("write to " + out_path + " failed");
          done += static_cast<size_t>(n);
        }
        if (::fdatasync(out_fd) != 0)
          die("fdatasync of " + out_path + " failed");
      } else {
        std::fwrite(lines.data(), 1, lines.size(), stdout);
        std::fflush(stdout);
      }
    }
    if (!consumer.empty() && page_next > next) {
      json::object body{{"offset", page_next - 1}};
      auto cr = c.call(http::verb::put, "/api/v1/consumers/" + consumer, json::serialize(body));
      if (cr.status != 200 && !follow)
        die("committing the offset failed: " + error_of(cr));
    }
    next = page_next;
    auto now = std::chrono::steady_clock::now();
    if (out_fd >= 0 && now - last_progress > std::chrono::seconds(2)) {
      std::fprintf(stderr, "tt-tail: %llu events written, at offset %llu of %llu\n",
                   static_cast<unsigned long long>(written), static_cast<unsigned long long>(next - 1),
                   static_cast<unsigned long long>(end - 1));
      last_progress = now;
    }
    if (!follow && next >= stop_at)
      break;
    if (next >= end)
      std::this_thread::sleep_for(std::chrono::duration<double>(poll_s));
  }
  if (out_fd >= 0) {
    std::fprintf(stderr, "tt-tail: %llu events written to %s, up to offset %llu\n",
                 static_cast<unsigned long long>(written), out_path.c_str(),
                 static_cast<unsigned long long>(next - 1));
    ::close(out_fd);
  }
  return 0;
}
