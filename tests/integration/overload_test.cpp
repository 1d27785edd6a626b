// Resource exhaustion on the edge: a node out of file descriptors (more
// clients than RLIMIT_NOFILE) must not spin or flood its log, and must serve
// again as soon as descriptors free up.
#include <doctest/doctest.h>

#include "support/tt_support.hpp"

using namespace tt::it;

namespace {

size_t count_lines_with(const std::string& file, std::string_view needle) {
  std::ifstream in(file);
  std::string line;
  size_t n = 0;
  while (std::getline(in, line))
    n += line.find(needle) != std::string::npos;
  return n;
}

} // namespace

TEST_CASE("out of file descriptors: no busy accept loop, no log flood, recovery") {
  temp_dir dir{"tt-it-fds"};
  node_process node{dir.sub("node"), 0, fast_node_args()};
  node.set_max_open_files(256);
  REQUIRE(node.start());
  const auto port = node.port();

  net::io_context ioc;  // before the sockets: they must go first
  std::vector<tcp::socket> held;
  for (int i = 0; i < 400; ++i) {
    tcp::socket s(ioc);
    boost::system::error_code ec;
    s.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port), ec);
    if (ec)
      break;  // the listen backlog is full: enough
    held.push_back(std::move(s));
  }
  progress(held.size(), " idle connections against a node limited to 256 descriptors");
  REQUIRE(held.size() > 300);
  std::this_thread::sleep_for(300ms);
  auto lines_before = count_lines_with(node.log_file(), "http_accept_failed");
  auto cpu_before = node.cpu_seconds();
  std::this_thread::sleep_for(2s);
  auto cpu = node.cpu_seconds() - cpu_before;
  auto lines = count_lines_with(node.log_file(), "http_accept_failed") - lines_before;
  progress("over 2 s at the descriptor limit: ", lines, " http_accept_failed log lines, ", cpu,
           " s of node CPU");
  REQUIRE(node.alive());
  CHECK_MESSAGE(lines < 200, "accept failures are logged once per failure, "
                               << lines << " lines in 2 s (log " << std::filesystem::file_size(node.log_file())
                               << " bytes)");
  CHECK_MESSAGE(cpu < 0.5, "the accept loop spins: " << cpu << " s of CPU in 2 s while idle");

  held.clear();  // descriptors free up
  auto until = std::chrono::steady_clock::now() + 5s;
  int status = 0;
  while (std::chrono::steady_clock::now() < until && status != 200) {
    status = http_client{port, 1s}.get("/healthz").status;
    if (status != 200)
      std::this_thread::sleep_for(50ms);
  }
  CHECK_MESSAGE(status == 200, "no service after the connections closed");
  auto s = node.kill(SIGTERM);
  CHECK_MESSAGE((WIFEXITED(s) && WEXITSTATUS(s) == 0), node_process::describe_status(s));
}
