#pragma once
// A throwaway PostgreSQL 15 server for tests and benchmarks (the same recipe
// as bench/settlement/pg_anchor.sh): initdb in a temp dir, trust auth, a free
// 127.0.0.1 port, run as user postgres (or nobody) when we are root. Stopped
// (immediate) and deleted in the destructor. Needs /usr/lib/postgresql/15/bin.

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <utility>

#include "support.hpp"

namespace tt::test {

constexpr const char* pg_bindir = "/usr/lib/postgresql/15/bin";

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

/// Runs a shell command; returns (exit code, stdout).
inline std::pair<int, std::string> run_command(const std::string& cmd) {
  std::string out;
  FILE* f = popen(cmd.c_str(), "r");
  if (!f)
    return {-1, {}};
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0)
    out.append(buf, n);
  int rc = pclose(f);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

/// A throwaway PostgreSQL 15 cluster (as bench/settlement/pg_anchor.sh):
/// initdb in a temp dir, trust auth, a free 127.0.0.1 port; as user postgres
/// (or nobody) when run as root. Stopped and deleted in the destructor.
class pg_cluster {
public:
  pg_cluster() {
    char tmpl[] = "/tmp/tt-pgproj-XXXXXX";
    if (!mkdtemp(tmpl))
      throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    if (getuid() == 0) {
      runas_ = run_command("id postgres >/dev/null 2>&1 && echo postgres || echo nobody").second;
      while (!runas_.empty() && (runas_.back() == '\n'))
        runas_.pop_back();
      run_command("chown " + runas_ + " " + dir_);
      prefix_ = "runuser -u " + runas_ + " -- ";
    }
  }
  ~pg_cluster() {
    if (std::filesystem::exists(dir_ + "/data/postmaster.pid"))
      run_command(prefix_ + pg_bindir + "/pg_ctl -D " + dir_ + "/data -m immediate -w -t 30 stop >/dev/null 2>&1");
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  bool init() {
    auto r = run_command(prefix_ + pg_bindir + "/initdb -D " + dir_ + "/data -U tt -A trust >" + dir_
                 + "/initdb.log 2>&1");
    return r.first == 0;
  }
  bool start() {
    for (int attempt = 0; attempt < 5; ++attempt) {
      if (port_ == 0 || attempt > 0)
        port_ = free_port();
      if (start_on_port())
        return true;
    }
    return false;
  }
  /// Starts again on the same port (the node's URL names it).
  bool start_on_port() {
    auto r = run_command(prefix_ + pg_bindir + "/pg_ctl -D " + dir_ + "/data -l " + dir_
                 + "/server.log -w -t 60 -o " + shell_quote("-p " + std::to_string(port_) + " -k " + dir_
                                                            + " -c listen_addresses=127.0.0.1")
                 + " start >/dev/null 2>&1");
    return r.first == 0;
  }
  bool stop(const char* mode) {
    return run_command(prefix_ + pg_bindir + "/pg_ctl -D " + dir_ + "/data -m " + mode
               + " -w -t 60 stop >/dev/null 2>&1")
             .first
           == 0;
  }
  std::string url() const { return "postgresql://tt@127.0.0.1:" + std::to_string(port_) + "/postgres"; }

  /// One value (first column of the first row), or nullopt on error.
  std::optional<std::string> query(const std::string& sql) {
    auto r = run_command(std::string(pg_bindir) + "/psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "
                 + std::to_string(port_) + " -U tt -d postgres -c " + shell_quote(sql) + " 2>/dev/null");
    if (r.first != 0)
      return std::nullopt;
    auto s = r.second;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r'))
      s.pop_back();
    return s;
  }
  int64_t number(const std::string& sql) {
    auto v = query(sql);
    if (!v)
      throw std::runtime_error("query failed: " + sql);
    return std::stoll(v->empty() ? "0" : *v);
  }

private:
  std::string dir_;
  std::string runas_;
  std::string prefix_;
  uint16_t port_ = 0;
};

} // namespace tt::test
