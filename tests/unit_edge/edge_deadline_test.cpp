// The edge's request deadline: a request the destination does not answer in
// time gets 504 from the bridge (nodes/edge_internal.hpp, await_until), once;
// an answer in time is passed on, once, and a late answer is dropped.

#include <doctest/doctest.h>

#include <chrono>
#include <deque>
#include <thread>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/errc.hpp"
#include "messages/interfaces.hpp"
#include "caf/typed_response_promise.hpp"
#include "messages/system.hpp"
#include "nodes/edge.hpp"
#include "nodes/http_server.hpp"
#include "persistence/node_keys.hpp"

using namespace std::chrono_literals;

namespace {

struct config : caf::actor_system_config {
  config() {
    tt::init_message_types(*this);
    set("scheduler.max-threads", size_t{2});
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

/// A ticket region that answers each get_ticket after `delay` (holding the
/// promise meanwhile); every other command is refused at once.
struct slow_state {
  std::deque<std::pair<caf::typed_response_promise<tt::ticket_view>, tt::ticket_view>> waiting;
  static inline const char* name = "slow_tickets";
};

tt::ticket_region_actor::behavior_type
slow_tickets(tt::ticket_region_actor::stateful_pointer<slow_state> self,
             std::chrono::milliseconds delay) {
  auto refuse = []() -> caf::error {
    return tt::make_error(tt::errc::invalid_argument, "not in this test");
  };
  return {
    [self, delay](tt::get_ticket& g) -> caf::result<tt::ticket_view> {
      auto rp = self->make_response_promise<tt::ticket_view>();
      tt::ticket_view v;
      v.id = g.ticket_id;
      v.version = 1;
      self->state.waiting.emplace_back(rp, std::move(v));
      self->delayed_send(self, delay, tt::atoms::sweep_atom_v);
      return rp;
    },
    [refuse](tt::list_ticket&) -> caf::result<tt::ticket_view> { return refuse(); },
    [refuse](tt::update_ticket&) -> caf::result<tt::ticket_view> { return refuse(); },
    [refuse](tt::withdraw_ticket&) -> caf::result<tt::ticket_view> { return refuse(); },
    [refuse](tt::ticket_trade_step&) -> caf::result<tt::ticket_view> { return refuse(); },
    [refuse](tt::record_valuation&) -> caf::result<tt::ticket_view> { return refuse(); },
    [refuse](tt::offer_ticket&) -> caf::result<tt::ticket_view> { return refuse(); },
    [](tt::atoms::stats_atom) { return tt::region_stats{}; },
    [self](tt::atoms::sweep_atom) {
      auto& w = self->state.waiting;
      if (w.empty())
        return;
      auto [rp, v] = std::move(w.front());
      w.pop_front();
      rp.deliver(std::move(v));
    },
    [](tt::atoms::passivate_atom, std::string&) { return false; },
    [](tt::atoms::passivate_atom, uint32_t) { return uint32_t{0}; },
  };
}

/// The answers one request got.
struct answers {
  std::mutex mtx;
  std::condition_variable cv;
  std::vector<tt::nodes::http_response> got;

  tt::nodes::http_responder responder() {
    return [this](tt::nodes::http_response r) {
      std::lock_guard<std::mutex> guard{mtx};
      got.push_back(std::move(r));
      cv.notify_all();
    };
  }
  bool wait_first(std::chrono::milliseconds within) {
    std::unique_lock<std::mutex> guard{mtx};
    return cv.wait_for(guard, within, [this] { return !got.empty(); });
  }
};

/// GET /api/v1/tickets/{id} through an edge whose ticket region answers
/// after `delay`, with a `timeout` request deadline; returns every answer
/// seen within `observe` and the time to the first.
std::pair<std::vector<tt::nodes::http_response>, std::chrono::milliseconds>
get_through_edge(std::chrono::milliseconds delay, std::chrono::milliseconds timeout,
                 std::chrono::milliseconds observe) {
  config cfg;
  caf::actor_system sys{cfg};
  tt::nodes::edge_deps deps;
  deps.tickets = sys.spawn(slow_tickets, delay);
  deps.keys = tt::persistence::node_keys::from_secret("edge-deadline-test-0123456789abc");
  tt::nodes::edge_config ec;
  ec.request_timeout = timeout;
  ec.bridges = 1;
  std::vector<tt::nodes::http_response> out;
  std::chrono::milliseconds first{-1};
  {
    tt::nodes::edge e{sys, deps, ec};
    e.set_ready(true);
    tt::nodes::http_request req;
    req.method = "GET";
    req.target = "/api/v1/tickets/AAAAAAAAAAAAAAAAAAAAAA";
    req.remote_ip = "127.0.0.1";
    answers a;
    auto t0 = std::chrono::steady_clock::now();
    e.handle(req, a.responder());
    if (a.wait_first(observe))
      first = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - t0);
    std::this_thread::sleep_for(observe);  // room for a second (wrong) answer
    std::lock_guard<std::mutex> guard{a.mtx};
    out = a.got;
    e.shutdown();
  }
  caf::anon_send_exit(deps.tickets, caf::exit_reason::user_shutdown);
  return {out, first};
}

} // namespace

TEST_CASE("edge deadline: no answer in time is a 504, once; a late answer is dropped") {
  auto [got, first] = get_through_edge(600ms, 150ms, 900ms);
  REQUIRE(got.size() == 1);
  CHECK(got[0].status == 504);
  CHECK(got[0].body.find("\"timeout\"") != std::string::npos);
  CHECK(first >= 150ms);
  CHECK(first < 500ms);  // the deadline plus at most one sweep, with room for a slow CI box
}

TEST_CASE("edge deadline: an answer in time is passed on, once, and nothing follows") {
  auto [got, first] = get_through_edge(20ms, 2000ms, 300ms);
  REQUIRE(got.size() == 1);
  CHECK(got[0].status == 200);
  CHECK(got[0].body.find("AAAAAAAAAAAAAAAAAAAAAA") != std::string::npos);
}
