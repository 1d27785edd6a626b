#pragma once
// Shared helpers of tt_unit_tests: a temp dir per test, an actor system
// config with the project's types, sample listings and a bounded wait.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "actors/ticket_model.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/atom.hpp"
#include "messages/system.hpp"
#include "messages/ticket.hpp"
#include "persistence/event_store.hpp"
#include "persistence/node_keys.hpp"

namespace tt::unit {

/// A fresh directory under /tmp, removed with everything in it on destruction.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/tt-unit-XXXXXX";
    char* p = ::mkdtemp(tmpl);
    REQUIRE_MESSAGE(p != nullptr, "mkdtemp failed");
    path = p;
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string str() const { return path.string(); }
};

/// An actor system config with Ticket Trader's message types and error
/// category, two scheduler threads and CAF's own logging silenced.
struct test_config : caf::actor_system_config {
  test_config() {
    init_message_types(*this);
    set("scheduler.max-threads", size_t{2});
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

inline std::shared_ptr<persistence::event_store> open_store(const std::string& dir) {
  std::string err;
  std::shared_ptr<persistence::event_store> s
    = persistence::event_store::open(persistence::store_options{dir}, &err);
  REQUIRE_MESSAGE(s != nullptr, "cannot open store in " << dir << ": " << err);
  return s;
}

inline ticket_fields sample_fields(int n = 1) {
  ticket_fields f;
  f.event_id = "ucl-final-2026";
  f.event_name = "Champions League Final";
  f.venue = "Puskas Arena";
  f.category = "football";
  f.event_starts_at_ms = 1780081200000;
  f.section = "B" + std::to_string(n);
  f.row = "12";
  f.seats = {std::to_string(n), std::to_string(n + 1)};
  f.face_value_minor = 18000;
  f.price_minor = 21000;
  f.currency = "EUR";
  f.platform = 2;
  return f;
}

inline request_meta as_user(std::string user) {
  request_meta m;
  m.user_id = std::move(user);
  m.device_hash = "dev-" + m.user_id;
  m.ip = "198.51.100.4";
  m.correlation_id = "corr-" + m.user_id;
  return m;
}

/// A list_ticket whose id and dedup hash are derived the way the edge does.
inline list_ticket make_listing(const persistence::node_keys& keys, const std::string& seller,
                                int n = 1, std::string barcode = {}) {
  list_ticket cmd;
  cmd.fields = sample_fields(n);
  cmd.barcode = barcode.empty() ? "QR-" + std::to_string(n) + "-7f3a9c" : std::move(barcode);
  cmd.meta = as_user(seller);
  auto ids = actors::derive_listing_ids(keys, seller, cmd.fields, cmd.barcode);
  cmd.ticket_id = ids.ticket_id;
  cmd.dedup_hash = ids.dedup_hash;
  return cmd;
}

/// Polls `pred` every millisecond until it holds or `limit` passes.
inline bool wait_until(const std::function<bool()>& pred,
                       std::chrono::milliseconds limit = std::chrono::seconds{5}) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline)
      return pred();
    std::this_thread::sleep_for(std::chrono::milliseconds{1});
  }
  return true;
}

} // namespace tt::unit
