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
//   - --cluster: every node has its own log and offsets. tt-tail asks the
//     seed node for the cluster's nodes (GET /api/v1/cluster/nodes, again
//     every few seconds with --follow, so a node that joins is picked up),
//     follows each one, adds "node" to every line and commits one offset per
//     node under the consumer's name on that node. A node that is down is
//     retried with backoff and resumed from its own offset when it is back;
//     with --out the per-node resume points are recovered from FILE's lines.
#include <CLI/CLI.hpp>

#include <map>
#include <memory>

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

/// --cluster --out: the highest offset FILE holds per node (lines carry
/// "node"; json lines {"node":"n1","offset":N,...}, text lines "n1 N ...").
std::map<std::string, uint64_t> recover_cluster_offsets(const std::string& path) {
  std::map<std::string, uint64_t> out;
  recover_out_file(path);  // cuts a torn last line
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    std::string node;
    uint64_t off = 0;
    if (!line.empty() && line[0] == '{') {
      auto n = line.find("\"node\":\"");
      auto o = line.find("\"offset\":");
      if (n == std::string::npos || o == std::string::npos)
        continue;
      auto end = line.find('"', n + 8);
      node = line.substr(n + 8, end - n - 8);
      off = std::strtoull(line.c_str() + o + 9, nullptr, 10);
    } else {
      auto sp = line.find(' ');
      if (sp == std::string::npos)
        continue;
      node = line.substr(0, sp);
      off = std::strtoull(line.c_str() + sp + 1, nullptr, 10);
    }
    auto& best = out[node];
    best = std::max(best, off);
  }
  return out;
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
  bool cluster = false;
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
  app.add_flag("--cluster", cluster,
               "follow every node of the cluster (one committed offset per node; lines carry "
               "\"node\")");
  app.add_option("--poll-s", poll_s, "pause when caught up (with --follow)")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto split = [](const std::string& hp) -> std::pair<std::string, std::string> {
    auto colon = hp.rfind(':');
    if (colon == std::string::npos)
      return {};
    return {hp.substr(0, colon), hp.substr(colon + 1)};
  };
  auto [seed_host, seed_port] = split(node);
  if (seed_host.empty())
    die("--node must be HOST:PORT", 2);
  client c{seed_host, seed_port};
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

  // One source per node followed (one without --cluster).
  struct source {
    std::string name;  // "" without --cluster
    std::unique_ptr<client> conn;
    uint64_t next = 0;      // 0: not started (consumer offset not read yet)
    uint64_t stop_at = 0;   // without --follow: the end of its log when first read
    uint64_t file_last = 0; // --out: the last offset FILE holds for it
    bool finished = false;
    int failures = 0;
    std::chrono::steady_clock::time_point retry_at{};
  };
  std::vector<source> sources;
  std::map<std::string, uint64_t> file_offsets;  // --cluster --out
  int out_fd = -1;
  if (!out_path.empty()) {
    if (cluster)
      file_offsets = recover_cluster_offsets(out_path);
    else
      file_offsets[""] = recover_out_file(out_path);
    out_fd = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (out_fd < 0)
      die("cannot open " + out_path);
  }
  auto add_source = [&](const std::string& name, const std::string& address) {
    for (auto& s : sources)
      if (s.name == name)
        return;
    auto [h, p] = split(address);
    if (h.empty())
      return;
    source s;
    s.name = name;
    s.conn = std::make_unique<client>(h, p);
    s.conn->set_token(token);
    s.file_last = file_offsets.count(name) ? file_offsets[name] : 0;
    std::fprintf(stderr, "tt-tail: following %s%s%s\n", name.empty() ? "" : name.c_str(),
                 name.empty() ? "" : " at ", address.c_str());
    sources.push_back(std::move(s));
  };
  auto discover = [&]() -> bool {
    auto r = c.call(http::verb::get, "/api/v1/cluster/nodes");
    if (r.status != 200)
      return false;
    boost::system::error_code ec;
    auto v = json::parse(r.body, ec);
    if (ec || !v.is_object())
      return false;
    for (auto& n : v.at("nodes").as_array()) {
      auto& o = n.as_object();
      std::string name{o.at("name").as_string()};
      std::string http_addr{o.at("http").as_string()};
      if (http_addr.empty() || name == "local")
        http_addr = node;  // an embedded node answers with itself
      // Nodes listening on every interface advertise 0.0.0.0: reach them
      // through the seed's host.
      if (http_addr.rfind("0.0.0.0:", 0) == 0)
        http_addr = seed_host + http_addr.substr(7);
      add_source(name, http_addr);
    }
    return true;
  };
  if (cluster) {
    if (!discover())
      die("cannot list the cluster's nodes at " + node + " (GET /api/v1/cluster/nodes)");
  } else {
    add_source("", node);
  }

  std::string filter;
  if (!types.empty()) {
    filter += "&type=";
    for (size_t i = 0; i < types.size(); ++i)
      filter += (i ? "," : "") + types[i];
  }
  if (!entity.empty())
    filter += "&entity=" + entity;

  // Where a source starts: the consumer's committed offset on that node (or
  // --from), moved past what FILE already holds.
  auto start_source = [&](source& s) -> bool {
    uint64_t next = from > 0 ? from : 1;
    if (!consumer.empty()) {
      auto r = s.conn->call(http::verb::get, "/api/v1/consumers/" + consumer);
      if (r.status != 200) {
        if (!cluster && (r.status >= 400 && r.status < 500))
          die("cannot read consumer " + consumer + ": " + error_of(r));
        return false;
      }
      next = static_cast<uint64_t>(json::parse(r.body).at("offset").as_int64()) + 1;
    }
    if (s.file_last + 1 > next) {
      if (!consumer.empty())
        std::fprintf(stderr, "tt-tail: %s already holds up to offset %llu%s%s; resuming after it\n",
                     out_path.c_str(), static_cast<unsigned long long>(s.file_last),
                     s.name.empty() ? "" : " of ", s.name.c_str());
      next = s.file_last + 1;
    }
    s.next = next;
    return true;
  };
  auto backoff = [&](source& s) {
    s.retry_at = std::chrono::steady_clock::now()
                 + std::chrono::milliseconds(std::min(5000, 100 << std::min(s.failures++, 6)));
  };

  uint64_t written = 0;
  auto last_progress = std::chrono::steady_clock::now();
  auto last_discover = last_progress;
  for (;;) {
    bool progressed = false;
    bool all_caught_up = true;
    for (auto& s : sources) {
      if (s.finished)
        continue;
      if (std::chrono::steady_clock::now() < s.retry_at) {
        all_caught_up = false;
        continue;
      }
      if (s.next == 0 && !start_source(s)) {
        if (!cluster && !follow)
          die("cannot reach " + node);
        backoff(s);
        all_caught_up = false;
        continue;
      }
      auto r = s.conn->call(http::verb::get, "/api/v1/events?from=" + std::to_string(s.next)
                                               + "&limit=" + std::to_string(batch) + filter);
      if (r.status != 200) {
        if (!cluster && (!follow || (r.status >= 400 && r.status < 500)))
          die("reading events failed: " + error_of(r));
        if (cluster && !follow && s.failures >= 5) {
          std::fprintf(stderr, "tt-tail: %s is unreachable (%s); its events after offset %llu "
                               "are not printed (run again to resume)\n",
                       s.name.c_str(), error_of(r).c_str(),
                       static_cast<unsigned long long>(s.next - 1));
          s.finished = true;
          continue;
        }
        backoff(s);  // the node may be restarting
        all_caught_up = false;
        continue;
      }
      s.failures = 0;
      auto page = json::parse(r.body).as_object();
      uint64_t page_next = static_cast<uint64_t>(page.at("next_offset").as_int64());
      uint64_t end = static_cast<uint64_t>(page.at("end_offset").as_int64());
      if (s.stop_at == 0)
        s.stop_at = end;
      std::string lines;
      for (const auto& e : page.at("events").as_array()) {
        if (cluster) {
          if (format == "json") {
            json::object o{{"node", s.name}};
            for (auto& kv : e.as_object())
              o[kv.key()] = kv.value();
            lines += json::serialize(o);
          } else {
            lines += s.name + " " + to_text(e.as_object());
          }
        } else {
          lines += format == "json" ? json::serialize(e) : to_text(e.as_object());
        }
        lines += '\n';
        ++written;
      }
      if (!lines.empty()) {
        progressed = true;
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
      if (!consumer.empty() && page_next > s.next) {
        json::object body{{"offset", page_next - 1}};
        auto cr = s.conn->call(http::verb::put, "/api/v1/consumers/" + consumer,
                               json::serialize(body));
        if (cr.status != 200 && !follow && !cluster)
          die("committing the offset failed: " + error_of(cr));
      }
      s.next = page_next;
      if (!follow && s.next >= s.stop_at)
        s.finished = true;
      if (s.next < end)
        all_caught_up = false;
      auto now = std::chrono::steady_clock::now();
      if (out_fd >= 0 && now - last_progress > std::chrono::seconds(2)) {
        std::fprintf(stderr, "tt-tail: %llu events written%s%s, at offset %llu of %llu\n",
                     static_cast<unsigned long long>(written), s.name.empty() ? "" : "; ",
                     s.name.c_str(), static_cast<unsigned long long>(s.next - 1),
                     static_cast<unsigned long long>(end - 1));
        last_progress = now;
      }
    }
    bool all_finished = !sources.empty();
    for (auto& s : sources)
      all_finished = all_finished && s.finished;
    if (!follow && all_finished)
      break;
    if (cluster && follow
        && std::chrono::steady_clock::now() - last_discover > std::chrono::seconds(3)) {
      discover();  // nodes that joined since
      last_discover = std::chrono::steady_clock::now();
    }
    if (!progressed && (all_caught_up || follow))
      std::this_thread::sleep_for(std::chrono::duration<double>(poll_s));
  }
  if (out_fd >= 0) {
    std::fprintf(stderr, "tt-tail: %llu events written to %s\n",
                 static_cast<unsigned long long>(written), out_path.c_str());
    ::close(out_fd);
  }
  return 0;
}
