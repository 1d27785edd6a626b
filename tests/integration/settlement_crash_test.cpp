// Fault test: crash anywhere during settlement. Client threads run many
// concurrent trades (cash both ways; completed, declined, cancelled before
// and after the accept) while another thread kill -9s the node at random
// moments and restarts it on the same data dir and port. Every HTTP call is
// re-sent on a connection failure or a 5xx (proposals carry an
// Idempotency-Key; accept/deposit/decline/cancel are idempotent per trade),
// and clients keep going until each trade they started is final. After every
// round:
//   * every trade of every user (GET /api/v1/me/trades) is final;
//   * the operator's ledger audit is clean (ok, sum 0, no violations, no
//     negative wallets);
//   * nothing is held, and each wallet holds what it had at the start of the
//     round plus the net cash of the completed trades it was party to; all
//     wallets together hold exactly what was deposited (no fee);
//   * every ticket is listed, owned by one of the users, and its owner is the
//     end of a chain of the round's completed trades that moved it.
// Seeds are printed; TT_CRASH_SEED=<n> replays a run's random choices (the
// interleaving of threads and kills is up to the machine).
// TT_CRASH_KNOWN_BUGS=1 adds the triggers of two known node bugs (README,
// "Known node bugs"), left out by default so that the outcome is
// deterministic.
#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <random>
#include <set>

#include "support/tt_support.hpp"

using namespace tt::it;
using clk = std::chrono::steady_clock;

namespace {

constexpr int n_users = 8;
constexpr int tickets_per_user = 6;
constexpr int n_rounds = 4;
constexpr int n_clients = 8;
constexpr int min_trades_per_client = 4;   // after the last kill of the round
constexpr int max_attempts_per_client = 5000;
constexpr auto round_deadline = 75s;       // every trade of a round final by then
constexpr int commit_window_s = 30;

struct member {
  account acct;
  std::string email;
  int64_t deposited = 0;
};

struct ticket_info {
  std::string id;
  std::string barcode;
};

/// What a client does with a trade once it is proposed.
enum class plan { complete, decline, cancel_before_accept, cancel_after_accept };

const char* to_string(plan p) {
  switch (p) {
    case plan::complete: return "complete";
    case plan::decline: return "decline";
    case plan::cancel_before_accept: return "cancel-before-accept";
    case plan::cancel_after_accept: return "cancel-after-accept";
  }
  return "?";
}

/// A trade as it ended.
struct finished_trade {
  std::string id;
  std::string status;
  int proposer = -1, counterparty = -1;
  std::vector<std::string> give, take;
  int64_t proposer_pays = 0, counterparty_pays = 0;
};

struct round_stats {
  std::map<std::string, int> final_status;  // trades by final status
  std::map<std::string, int> refused;       // proposals refused, by "status code"
  int proposals = 0;
  int retries = 0;          // requests re-sent after no answer or a 5xx
  int step_refusals = 0;    // accept/deposit refused (the trade then got declined/cancelled)
  int cash_added = 0;       // POST /cash answered 200 (sent once, never re-sent)
  int working_seen = 0;     // trades seen in proposing/transferring/releasing (waited for)
  double longest_wait_s = 0;  // the longest time a trade took from proposal to final
  int kills = 0;
};

std::vector<std::string> string_ids(const json::value& v, std::string_view key) {
  std::vector<std::string> out;
  if (!v.is_object())
    return out;
  auto* a = v.as_object().if_contains(key);
  if (a && a->is_array())
    for (const auto& x : a->as_array())
      if (x.is_string())
        out.emplace_back(x.as_string());
  return out;
}

json::array ids_json(const std::vector<std::string>& ids) {
  json::array a;
  for (const auto& i : ids)
    a.emplace_back(json::string(i));
  return a;
}

/// Shared state of one round.
struct round_ctx {
  int round = 0;
  uint64_t seed = 0;
  uint16_t port = 0;
  clk::time_point deadline;
  const std::vector<member>* users = nullptr;
  const std::map<std::string, ticket_info>* tickets = nullptr;

  std::mutex mtx;
  std::map<std::string, int> owner;          // ticket -> user index (the clients' belief)
  std::map<std::string, int> reserved;       // ticket -> open trades of ours using it
  std::vector<finished_trade> finished;
  std::vector<std::string> failures;
  round_stats stats;
  std::atomic<bool> killer_done{false};
  std::atomic<bool> abort{false};

  void fail(std::string why) {
    std::lock_guard<std::mutex> g{mtx};
    if (failures.size() < 20)
      progress("round ", round, " FAILURE: ", why);
    failures.push_back(std::move(why));
    abort = true;
  }
};

/// TT_CRASH_KNOWN_BUGS=1: also do what triggers two known node bugs (see
/// the README): take tickets from trades that are not final yet (a ticket a
/// re-driven trade already moved gets moved on, and the re-drive then fails
/// for good: the trade stays "transferring"), and raise the cash of a side
/// that paid nothing (a kill between the hold and its record leaks the hold).
bool known_bugs() {
  // On by default since both bugs are fixed (transfer steps recognise every
  // earlier transfer of their trade; releases cancel both intents whatever
  // the trade recorded). TT_CRASH_KNOWN_BUGS=0 turns the triggers off.
  const char* s = std::getenv("TT_CRASH_KNOWN_BUGS");
  return !s || std::string_view(s) != "0";
}

int user_index(const std::vector<member>& users, const std::string& id) {
  for (size_t i = 0; i < users.size(); ++i)
    if (users[i].acct.id == id)
      return static_cast<int>(i);
  return -1;
}

/// One client thread: proposes trades and drives each to a final status.
class client {
public:
  client(round_ctx& ctx, int index)
    : ctx_(ctx), index_(index), rng_(ctx.seed * 1000 + static_cast<uint64_t>(index) + 1),
      http_(ctx.port, 15s) {}

  /// Trades until the killer is done, then `min_trades_per_client` more (so
  /// every kill lands in the middle of the load).
  void run() {
    int after_kills = 0;
    for (int attempt = 0; attempt < max_attempts_per_client && !ctx_.abort; ++attempt) {
      if (after_kills >= min_trades_per_client)
        break;
      if (clk::now() > ctx_.deadline - 30s) {  // leave time to finish what is open
        if (!ctx_.killer_done)
          ctx_.fail("client " + std::to_string(index_) + ": the killer did not finish in time");
        break;
      }
      bool killer_was_done = ctx_.killer_done;
      if (one_trade(attempt) && killer_was_done)
        ++after_kills;
    }
  }

private:
  const std::vector<member>& users() const { return *ctx_.users; }
  headers_t auth(int u) const { return users()[static_cast<size_t>(u)].acct.auth(); }

  http_result call(http::verb method, const std::string& target, const std::string& body,
                   headers_t headers) {
    int retries = 0;
    auto r = request_until_answered(http_, method, target, body, headers, ctx_.deadline, &retries);
    if (retries > 0) {
      std::lock_guard<std::mutex> g{ctx_.mtx};
      ctx_.stats.retries += retries;
    }
    return r;
  }

  /// Picks `n` tickets of user `u` (not reserved unless `contend`: the
  /// proposal then likely runs into another open trade, on purpose).
  std::vector<std::string> pick(int u, size_t n, bool contend) {
    std::vector<std::string> mine;
    for (const auto& [t, o] : ctx_.owner)
      if (o == u && (contend || ctx_.reserved[t] == 0))
        mine.push_back(t);
    if (mine.size() < n)
      return {};
    std::shuffle(mine.begin(), mine.end(), rng_);
    mine.resize(n);
    return mine;
  }

  void unreserve(const std::vector<std::string>& ts) {
    for (const auto& t : ts)
      if (--ctx_.reserved[t] < 0)
        ctx_.reserved[t] = 0;
  }

  /// One trade from proposal to a final status. False if nothing could be
  /// proposed (no free tickets right now).
  bool one_trade(int attempt) {
    auto roll = [&](int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); };
    int p = roll(n_users), q = roll(n_users - 1);
    if (q >= p)
      ++q;
    bool contend = roll(10) == 0;  // ignore our reservations: conflicts on purpose
    std::vector<std::string> give, take;
    {
      std::lock_guard<std::mutex> g{ctx_.mtx};
      give = pick(p, roll(3) == 0 ? 2 : 1, contend);
      // Taken tickets are contended only with TT_CRASH_KNOWN_BUGS: the
      // counterparty is whoever owns them now, so such a trade can move on a
      // ticket that a trade still "transferring" after a kill already moved.
      take = pick(q, roll(4) == 0 ? 2 : 1, contend && known_bugs());
      if (give.empty() || take.empty()) {
        give.clear();
        take.clear();
      } else {
        for (const auto& t : give)
          ++ctx_.reserved[t];
        for (const auto& t : take)
          ++ctx_.reserved[t];
      }
    }
    if (give.empty()) {
      std::this_thread::sleep_for(5ms);
      return false;
    }
    int64_t cash = roll(801) - 400;
    int r = roll(20);
    plan pl = r < 12 ? plan::complete
              : r < 15 ? plan::decline
              : r < 17 ? plan::cancel_before_accept
                       : plan::cancel_after_accept;
    std::string key = "crash-r" + std::to_string(ctx_.round) + "-c" + std::to_string(index_) + "-"
                      + std::to_string(attempt);
    std::string body = json::serialize(
      json::object{{"give", ids_json(give)}, {"take", ids_json(take)}, {"cash_minor", cash}});
    auto propose_headers = auth(p);
    propose_headers.emplace_back("Idempotency-Key", key);

    auto release_all = [&] {
      std::lock_guard<std::mutex> g{ctx_.mtx};
      unreserve(give);
      unreserve(take);
    };
    auto res = call(http::verb::post, "/api/v1/trades", body, propose_headers);
    {
      std::lock_guard<std::mutex> g{ctx_.mtx};
      ++ctx_.stats.proposals;
    }
    if (!res.ok() || res.status >= 500) {
      release_all();
      ctx_.fail("proposal " + key + " never answered: " + std::to_string(res.status) + " "
                + res.error);
      return true;
    }
    if (res.status != 200 && res.status != 201) {
      // Refused on its merits (a ticket in another trade, no funds, a stale
      // owner, two owners): fine, counted.
      if (res.status != 403 && res.status != 409 && res.status != 422)
        ctx_.fail("proposal " + key + " answered " + std::to_string(res.status) + " " + res.body);
      std::lock_guard<std::mutex> g{ctx_.mtx};
      ++ctx_.stats.refused[std::to_string(res.status) + " " + error_code(res)];
      unreserve(give);
      unreserve(take);
      return true;
    }
    auto id = str_of(res.json(), "id");
    if (id.empty()) {
      release_all();
      ctx_.fail("proposal " + key + " answered without an id: " + res.body);
      return true;
    }
    // The counterparty is whoever owns the tickets taken: with a stale
    // belief (a contended pick right after another trade moved them) that
    // is not `q`.
    if (str_of(res.json(), "proposer") != users()[static_cast<size_t>(p)].acct.id) {
      release_all();
      ctx_.fail("trade " + id + " has the wrong proposer: " + res.body);
      return true;
    }
    q = user_index(users(), str_of(res.json(), "counterparty"));
    if (q < 0 || q == p) {
      release_all();
      ctx_.fail("trade " + id + " has a stranger as counterparty: " + res.body);
      return true;
    }
    cash_ = cash;
    drive(id, p, q, pl, body, propose_headers);
    release_all();
    return true;
  }

  /// Re-reads the trade and sends its next step until it is final.
  void drive(const std::string& id, int p, int q, plan pl, const std::string& propose_body,
             const headers_t& propose_headers) {
    const std::string base = "/api/v1/trades/" + id;
    bool fallback = false;  // a step was refused: end the trade (decline/cancel)
    bool saw_working = false;
    // The proposer raises the cash once; unless TT_CRASH_KNOWN_BUGS, only
    // when they already pay something (see known_bugs()).
    bool add_cash = rng_() % 6 == 0 && (cash_ > 0 || known_bugs());
    const auto started = clk::now();
    std::string last_status;
    for (;;) {
      if (ctx_.abort)
        return;
      auto g = call(http::verb::get, base, {}, auth(p));
      if (g.status != 200) {
        ctx_.fail("GET trade " + id + ": " + std::to_string(g.status) + " " + g.body + g.error);
        return;
      }
      auto v = g.json();
      auto st = str_of(v, "status");
      last_status = st;
      if (final_trade_status(st)) {
        auto secs = std::chrono::duration<double>(clk::now() - started).count();
        std::lock_guard<std::mutex> lk{ctx_.mtx};
        ctx_.stats.working_seen += saw_working;
        ctx_.stats.longest_wait_s = std::max(ctx_.stats.longest_wait_s, secs);
        record(v, p, q);
        return;
      }
      if (st == "proposing" || st == "transferring" || st == "releasing")
        saw_working = true;
      if (clk::now() > ctx_.deadline) {
        ctx_.fail("trade " + id + " (plan " + to_string(pl) + ") still " + st
                  + " at the round's deadline: " + g.body);
        return;
      }
      http_result r;
      bool stepped = true;
      if (st == "proposing") {
        r = call(http::verb::post, "/api/v1/trades", propose_body, propose_headers);
      } else if (st == "proposed" && add_cash && !fallback) {
        // Once, never re-sent (POST /cash has no idempotency key): a lost
        // answer leaves it in doubt, and the final view says what happened.
        add_cash = false;
        auto amount = 1 + static_cast<int64_t>(rng_() % 50);
        auto cr = http_.post(base + "/cash",
                             json::serialize(json::object{{"amount_minor", amount}}), auth(p));
        if (cr.status == 200) {
          std::lock_guard<std::mutex> lk{ctx_.mtx};
          ++ctx_.stats.cash_added;
        } else if (cr.ok() && cr.status < 500 && cr.status != 409 && cr.status != 422) {
          ctx_.fail("trade " + id + ": /cash answered " + std::to_string(cr.status) + " " + cr.body);
          return;
        }
        continue;
      } else if (st == "proposed") {
        if (fallback || pl == plan::decline)
          r = call(http::verb::post, base + "/decline", {}, auth(q));
        else if (pl == plan::cancel_before_accept)
          r = call(http::verb::post, base + "/cancel", {}, auth(p));
        else
          r = call(http::verb::post, base + "/accept", {}, auth(q));
      } else if (st == "accepted" || st == "in_escrow") {
        if (fallback || pl == plan::cancel_after_accept || pl == plan::cancel_before_accept
            || pl == plan::decline) {
          r = call(http::verb::post, base + "/cancel", {}, auth(p));
        } else {
          auto give = string_ids(v, "give");
          auto deposited = string_ids(v, "deposited");
          std::set<std::string> done(deposited.begin(), deposited.end());
          std::string ticket;
          int by = p;
          for (const auto& t : give)
            if (!done.count(t) && ticket.empty())
              ticket = t;
          if (ticket.empty()) {
            by = q;
            for (const auto& t : string_ids(v, "take"))
              if (!done.count(t) && ticket.empty())
                ticket = t;
          }
          if (ticket.empty()) {
            stepped = false;  // all deposited: the node is transferring
            std::this_thread::sleep_for(50ms);
          } else {
            r = call(http::verb::post, base + "/deposits",
                     json::serialize(json::object{{"ticket_id", ticket},
                                                  {"barcode", ctx_.tickets->at(ticket).barcode}}),
                     auth(by));
          }
        }
      } else if (st == "transferring" || st == "releasing") {
        stepped = false;  // the node (or its timer after a restart) finishes these
        std::this_thread::sleep_for(50ms);
      } else {
        ctx_.fail("trade " + id + " in unexpected status " + st + ": " + g.body);
        return;
      }
      if (!stepped)
        continue;
      if (!r.ok() || r.status >= 500) {
        ctx_.fail("trade " + id + ": step in " + st + " never answered: " + std::to_string(r.status)
                  + " " + r.body + r.error);
        return;
      }
      if (r.status >= 400) {
        // A step refused on its merits (accept: the counterparty's ticket is
        // in another trade or no funds; a race with expiry): end the trade.
        if (!fallback && st != "proposing") {
          std::lock_guard<std::mutex> lk{ctx_.mtx};
          ++ctx_.stats.step_refusals;
        }
        if (r.status != 403 && r.status != 409 && r.status != 422) {
          ctx_.fail("trade " + id + ": step in " + st + " answered " + std::to_string(r.status)
                    + " " + r.body);
          return;
        }
        fallback = true;
        std::this_thread::sleep_for(20ms);
      }
    }
  }

  /// (Called with ctx_.mtx held.)
  void record(const json::value& v, int p, int q) {
    finished_trade f;
    f.id = str_of(v, "id");
    f.status = str_of(v, "status");
    f.proposer = p;
    f.counterparty = q;
    f.give = string_ids(v, "give");
    f.take = string_ids(v, "take");
    f.proposer_pays = int_of(v, "proposer_pays_minor", 0);
    f.counterparty_pays = int_of(v, "counterparty_pays_minor", 0);
    if (str_of(v, "proposer") != users()[static_cast<size_t>(p)].acct.id
        || str_of(v, "counterparty") != users()[static_cast<size_t>(q)].acct.id) {
      ctx_.failures.push_back("trade " + f.id + " has the wrong parties: " + json::serialize(v));
      ctx_.abort = true;
    }
    ++ctx_.stats.final_status[f.status];
    if (f.status == "completed") {
      for (const auto& t : f.give)
        ctx_.owner[t] = q;
      for (const auto& t : f.take)
        ctx_.owner[t] = p;
    }
    ctx_.finished.push_back(std::move(f));
  }

  round_ctx& ctx_;
  int index_;
  std::mt19937_64 rng_;
  http_client http_;
  int64_t cash_ = 0;  // of the trade being driven
};

/// Why user `u` still has money held: the holds (by payment intent, i.e.
/// "<trade id>:p|c") that no release or capture closed, from the postings.
std::string open_holds(http_client& c, const account& u) {
  std::map<std::string, int64_t> held;
  std::string cursor;
  for (int page = 0; page < 1000; ++page) {
    auto r = c.get("/api/v1/me/wallet/postings?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor),
                   u.auth());
    if (r.status != 200)
      return "postings: " + std::to_string(r.status);
    auto j = r.json();
    for (const auto& it : j.at("items").as_array())
      for (const auto& p : it.at("postings").as_array()) {
        auto ref = str_of(it, "ref");
        auto amount = int_of(p, "amount_minor", 0);
        if (str_of(p, "to") == "user_held")
          held[ref] += amount;
        if (str_of(p, "from") == "user_held")
          held[ref] -= amount;
      }
    if (j.at("next_cursor").is_null())
      break;
    cursor = std::string(j.at("next_cursor").as_string());
  }
  std::string out;
  for (const auto& [ref, amount] : held)
    if (amount != 0) {
      auto trade = ref.substr(0, ref.find(':'));
      auto t = c.get("/api/v1/trades/" + trade, u.auth());
      out += "hold " + ref + " = " + std::to_string(amount) + " (trade: " + t.body + "); ";
    }
  return out.empty() ? "no open hold in the postings" : out;
}

/// Is there an order of `moves` (from, to) starting at `owner` that uses
/// them all and ends at `end`? (The trades that moved one ticket in a round.)
bool chain_exists(int owner, int end, std::vector<std::pair<int, int>>& moves,
                  std::vector<bool>& used, size_t left) {
  if (left == 0)
    return owner == end;
  for (size_t i = 0; i < moves.size(); ++i) {
    if (used[i] || moves[i].first != owner)
      continue;
    used[i] = true;
    if (chain_exists(moves[i].second, end, moves, used, left - 1))
      return true;
    used[i] = false;
  }
  return false;
}

uint64_t base_seed() {
  if (const char* s = std::getenv("TT_CRASH_SEED"); s && *s)
    return std::strtoull(s, nullptr, 10);
  return std::random_device{}() % 1000000000ULL;
}

} // namespace

TEST_CASE("kill -9 anywhere during concurrent trades: every trade final, nothing lost or doubled") {
  const uint64_t seed0 = base_seed();
  progress("TT_CRASH_SEED=", seed0, " (set it to replay the random choices)",
           known_bugs() ? "; TT_CRASH_KNOWN_BUGS set: known node bugs may show" : "");
  auto test_start = clk::now();
  temp_dir dir{"tt-it-settle-crash"};
  node_process node{dir.sub("node"), free_port(), settlement_node_args(commit_window_s)};
  REQUIRE(node.start());
  progress("node up on port ", node.port(), ", data dir ", node.data_dir());
  http_client c{node.port(), 15s};
  // GETs of the checks between rounds (the node is up then; a failure is
  // re-tried for a while and reported).
  auto get = [&](const std::string& target, const headers_t& h = {}) {
    int retries = 0;
    auto r = request_until_answered(c, http::verb::get, target, {}, h, clk::now() + 20s, &retries);
    if (retries > 0)
      progress("GET ", target, " needed ", retries, " re-sends: ", r.status, " ", r.error);
    return r;
  };
  auto admin = sign_in(c, "admin@example.com");
  REQUIRE_FALSE(admin.token.empty());

  // -- users, money, tickets --------------------------------------------------------
  std::vector<member> users(n_users);
  std::map<std::string, ticket_info> tickets;
  for (int i = 0; i < n_users; ++i) {
    auto& u = users[static_cast<size_t>(i)];
    u.email = "trader" + std::to_string(i) + "@example.com";
    u.acct = sign_in(c, u.email);
    REQUIRE_MESSAGE(!u.acct.token.empty(), u.email);
    REQUIRE_MESSAGE(!u.acct.id.empty(), u.email);
    // The last trader is poor: their cash holds fail now and then.
    u.deposited = i == n_users - 1 ? 600 : 100000;
    auto h = u.acct.auth();
    h.emplace_back("Idempotency-Key", "initial");
    auto r = c.post("/api/v1/me/deposits",
                    json::serialize(json::object{{"amount_minor", u.deposited}, {"currency", "USD"}}),
                    h);
    REQUIRE_MESSAGE(r.status == 201, r.body);
    for (int k = 0; k < tickets_per_user; ++k) {
      auto body = usd_listing("crash" + std::to_string(i), k);
      r = c.post("/api/v1/tickets", json::serialize(body), u.acct.auth());
      REQUIRE_MESSAGE(r.status == 201, r.body);
      auto id = str_of(r.json(), "id");
      tickets[id] = {id, std::string(body.at("barcode").as_string())};
    }
  }
  int64_t total_deposited = 0;
  for (const auto& u : users)
    total_deposited += u.deposited;
  progress(n_users, " traders, ", tickets.size(), " tickets, ", total_deposited,
           " minor units deposited");

  int total_kills = 0, total_trades = 0;
  for (int round = 0; round < n_rounds; ++round) {
    const uint64_t seed = seed0 * 100 + static_cast<uint64_t>(round);
    round_ctx ctx;
    ctx.round = round;
    ctx.seed = seed;
    ctx.port = node.port();
    ctx.deadline = clk::now() + round_deadline;
    ctx.users = &users;
    ctx.tickets = &tickets;

    // Where things stand at the start of the round, from the node.
    std::vector<int64_t> start_available(n_users);
    for (const auto& [id, t] : tickets) {
      auto r = get("/api/v1/tickets/" + id);
      REQUIRE_MESSAGE(r.status == 200, r.body);
      int o = user_index(users, str_of(r.json(), "seller"));
      REQUIRE_MESSAGE(o >= 0, "ticket " << id << " is owned by a stranger: " << r.body);
      ctx.owner[id] = o;
    }
    for (int i = 0; i < n_users; ++i) {
      auto w = get_wallet_balance(c, users[static_cast<size_t>(i)].acct);
      REQUIRE(w.status == 200);
      REQUIRE_MESSAGE(w.held == 0, "a hold left from the round before");
      start_available[static_cast<size_t>(i)] = w.available;
    }
    const auto start_owner = ctx.owner;
    progress("round ", round, ": seed ", seed);

    // -- clients and the killer ---------------------------------------------------------
    std::vector<std::thread> threads;
    std::atomic<int> clients_running{n_clients};
    for (int t = 0; t < n_clients; ++t)
      threads.emplace_back([&ctx, &clients_running, t] {
        try {
          client cl{ctx, t};
          cl.run();
        } catch (const std::exception& e) {
          ctx.fail(std::string("client threw: ") + e.what());
        }
        --clients_running;
      });
    // The killer runs on this thread: PR_SET_PDEATHSIG fires when the thread
    // that forked the node ends, so a node restarted from a short-lived
    // thread would die with it.
    {
      std::mt19937_64 rng{seed ^ 0x9e3779b97f4a7c15ULL};
      int kills = 1 + static_cast<int>(rng() % 2);
      for (int k = 0; k < kills && !ctx.abort; ++k) {
        auto wait = std::chrono::milliseconds(300 + rng() % 1201);
        auto until = clk::now() + wait;
        while (clk::now() < until && !ctx.abort)
          std::this_thread::sleep_for(5ms);
        if (ctx.abort)
          break;
        int proposals;
        {
          std::lock_guard<std::mutex> g{ctx.mtx};
          proposals = ctx.stats.proposals;
        }
        auto t0 = clk::now();
        node.kill(SIGKILL);
        bool up = node.start();
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(clk::now() - t0).count();
        progress("round ", round, ": kill -9 #", k + 1, " after ", wait.count(), " ms (",
                 proposals, " proposals so far); restarted in ", ms, " ms");
        {
          std::lock_guard<std::mutex> g{ctx.mtx};
          ++ctx.stats.kills;
        }
        if (!up) {
          ctx.fail("the node did not restart after kill -9");
          break;
        }
      }
      ctx.killer_done = true;
      // Then watch: a node that dies on its own fails the round at once.
      while (!ctx.abort && clients_running > 0) {
        if (!node.alive()) {
          ctx.fail("the node died on its own: "
                   + node_process::describe_status(node.exit_status()));
          break;
        }
        std::this_thread::sleep_for(20ms);
      }
    }
    for (auto& th : threads)
      th.join();
    total_kills += ctx.stats.kills;
    REQUIRE(node.alive());
    c.disconnect();  // its connection was to the node before the kills
    for (const auto& f : ctx.failures)
      FAIL_CHECK(f);
    REQUIRE_MESSAGE(ctx.failures.empty(), "round " << round << " (TT_CRASH_SEED=" << seed0
                                                   << ") failed, see above");

    // -- every trade of every user is final (also those we never heard of) -------------
    size_t party_rows = 0;
    for (int i = 0; i < n_users; ++i) {
      const auto& u = users[static_cast<size_t>(i)];
      auto until = clk::now() + 40s;
      for (;;) {
        std::vector<std::string> open;
        size_t rows = 0;
        std::string cursor;
        for (int page = 0; page < 100; ++page) {
          auto r = get("/api/v1/me/trades?limit=100" + (cursor.empty() ? "" : "&cursor=" + cursor),
                       u.acct.auth());
          REQUIRE_MESSAGE(r.status == 200, r.status << " " << r.body << r.error);
          auto j = r.json();
          for (const auto& it : j.at("items").as_array()) {
            ++rows;
            if (!final_trade_status(str_of(it, "status")))
              open.push_back(str_of(it, "id") + " " + str_of(it, "status"));
          }
          if (j.at("next_cursor").is_null())
            break;
          cursor = std::string(j.at("next_cursor").as_string());
        }
        if (open.empty()) {
          party_rows += rows;
          break;
        }
        if (clk::now() > until) {
          std::string all;
          for (const auto& o : open)
            all += o + "; ";
          FAIL("round " << round << ": " << u.email << " still has open trades: " << all);
        }
        std::this_thread::sleep_for(100ms);
      }
    }

    // -- ledger audit ------------------------------------------------------------------
    auto why = audit_problem(c, admin);
    CHECK_MESSAGE(why.empty(), "round " << round << " audit: " << why);

    // -- money: nothing held, every cent where the completed trades put it --------------
    std::vector<int64_t> expect = start_available;
    for (const auto& f : ctx.finished)
      if (f.status == "completed") {
        int64_t net = f.proposer_pays - f.counterparty_pays;
        expect[static_cast<size_t>(f.proposer)] -= net;
        expect[static_cast<size_t>(f.counterparty)] += net;
      }
    int64_t total = 0;
    for (int i = 0; i < n_users; ++i) {
      const auto& u = users[static_cast<size_t>(i)];
      auto w = get_wallet_balance(c, u.acct);
      REQUIRE(w.status == 200);
      total += w.available + w.held;
      CHECK_MESSAGE(w.held == 0, "round " << round << ": " << u.email << " still has " << w.held
                                          << " held: " << (w.held ? open_holds(c, u.acct) : ""));
      CHECK_MESSAGE(w.available == expect[static_cast<size_t>(i)],
                    "round " << round << ": " << u.email << " has " << w.available
                             << " available, the completed trades say "
                             << expect[static_cast<size_t>(i)]);
    }
    CHECK_MESSAGE(total == total_deposited, "round " << round << ": wallets hold " << total
                                                     << ", deposits were " << total_deposited);

    // -- tickets: listed, one owner, the end of the chain of completed moves ----------
    std::map<std::string, std::vector<std::pair<int, int>>> moves;
    for (const auto& f : ctx.finished)
      if (f.status == "completed") {
        for (const auto& t : f.give)
          moves[t].emplace_back(f.proposer, f.counterparty);
        for (const auto& t : f.take)
          moves[t].emplace_back(f.counterparty, f.proposer);
      }
    size_t moved = 0;
    for (const auto& [id, t] : tickets) {
      auto r = get("/api/v1/tickets/" + id);
      REQUIRE(r.status == 200);
      auto j = r.json();
      CHECK_MESSAGE(str_of(j, "status") == "listed", "round " << round << ": ticket " << id
                                                              << " is " << str_of(j, "status"));
      int o = user_index(users, str_of(j, "seller"));
      CHECK_MESSAGE(o >= 0, "round " << round << ": ticket " << id << " owned by a stranger: "
                                     << r.body);
      auto& mv = moves[id];
      moved += mv.size();
      std::vector<bool> used(mv.size(), false);
      CHECK_MESSAGE(chain_exists(start_owner.at(id), o, mv, used, mv.size()),
                    "round " << round << ": ticket " << id << " ended with user " << o
                             << ", which the " << mv.size()
                             << " completed trades moving it from user " << start_owner.at(id)
                             << " cannot explain");
    }

    // -- summary ---------------------------------------------------------------------------
    std::ostringstream os;
    os << "round " << round << " (seed " << seed << "): " << ctx.stats.proposals << " proposals, "
       << ctx.finished.size() << " trades driven to the end (";
    for (const auto& [s, n] : ctx.stats.final_status)
      os << s << " " << n << ", ";
    os << "), refused proposals {";
    for (const auto& [s, n] : ctx.stats.refused)
      os << s << ": " << n << ", ";
    os << "}, " << ctx.stats.cash_added << " /cash raises, " << ctx.stats.step_refusals
       << " refused steps, " << ctx.stats.retries
       << " re-sent requests, " << ctx.stats.working_seen
       << " trades waited for in a working state, longest trade " << ctx.stats.longest_wait_s
       << " s, " << ctx.stats.kills << " kill -9, " << moved
       << " ticket moves, " << party_rows << " trade rows over all users";
    progress(os.str());
    total_trades += static_cast<int>(ctx.finished.size());
    CHECK(ctx.stats.final_status["completed"] > 0);
  }

  auto secs = std::chrono::duration<double>(clk::now() - test_start).count();
  progress("done: ", n_rounds, " rounds, ", total_trades, " trades, ", total_kills, " kill -9 in ",
           secs, " s (TT_CRASH_SEED=", seed0, ")");
  auto status = node.kill(SIGTERM);
  CHECK_MESSAGE(WIFEXITED(status), node_process::describe_status(status));
  auto log = read_tail(node.log_file(), 1500);
  if (!log.empty())
    progress("node log (warnings and errors, last bytes):\n", log);
}
