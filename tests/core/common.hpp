#pragma once
// Shared fixtures of the core tests: temp dirs, an actor system with the
// project's types, sample listings.

#include <filesystem>
#include <string>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "messages/system.hpp"
#include "messages/ticket.hpp"

namespace tt::test {

struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/tt-core-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

struct test_config : caf::actor_system_config {
  test_config() {
    init_message_types(*this);
    set("scheduler.max-threads", size_t{2});
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

inline ticket_fields sample_fields(int n = 1) {
  ticket_fields f;
  f.event_id = "nba-2026-lal-bos";
  f.event_name = "Lakers vs Celtics";
  f.venue = "Crypto.com Arena";
  f.category = "basketball";
  f.event_starts_at_ms = 1798228800000;
  f.section = "101";
  f.row = "A";
  f.seats = {std::to_string(n), std::to_string(n + 1)};
  f.face_value_minor = 25000;
  f.price_minor = 27500;
  f.currency = "USD";
  f.platform = 0;
  return f;
}

} // namespace tt::test
