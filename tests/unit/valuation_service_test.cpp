// The valuation service's data side without actors: the feature tables built
// from log events (listings -> events and section desirability, completed
// trades -> resale velocity and medians), the --event-meta file, the fallback
// rule on those tables, and the ticket's record_valuation decision (one event
// only when the valuation changed).
#include <doctest/doctest.h>

#include <sstream>

#include "actors/market_generator.hpp"
#include "actors/ticket_model.hpp"
#include "actors/valuation_service.hpp"
#include "messages/errc.hpp"
#include "messages/events.hpp"

using namespace tt;
using namespace tt::actors;

namespace {

constexpr int64_t day = 86'400'000;
constexpr int64_t t0 = 1'790'000'000'000;  // 2026-09-21

ticket_fields listing(std::string event, std::string section, int64_t face, int64_t price,
                      std::string venue = "Arena One") {
  ticket_fields f;
  f.event_id = std::move(event);
  f.event_name = "Some Event";
  f.venue = std::move(venue);
  f.category = "basketball";
  f.event_starts_at_ms = t0 + 30 * day;
  f.section = std::move(section);
  f.row = "A";
  f.seats = {"1"};
  f.face_value_minor = face;
  f.price_minor = price;
  f.currency = "USD";
  return f;
}

struct log_builder {
  valuation_tables& tables;
  uint64_t offset = 0;

  void put(entity_kind kind, const std::string& id, int64_t at, event_payload p) {
    event_envelope ev;
    ev.kind = kind;
    ev.entity_id = id;
    ev.seq = 1;
    ev.timestamp_ms = at;
    ev.payload = std::move(p);
    // Through the codec, as the service reads the log.
    auto decoded = decode_event(encode_event(ev));
    REQUIRE(decoded.has_value());
    tables.apply(++offset, *decoded);
  }
  void list(const std::string& id, ticket_fields f, int64_t at = t0) {
    ticket_listed x;
    x.fields = std::move(f);
    x.seller = "seller";
    put(entity_kind::ticket, id, at, x);
  }
  void trade(const std::string& id, std::vector<std::string> give, std::vector<std::string> take,
             trade_status end, int64_t at) {
    trade_proposed p;
    p.give = std::move(give);
    p.take = std::move(take);
    put(entity_kind::trade, id, at - 1000, p);
    put(entity_kind::trade, id, at, trade_status_changed{end, end, "", {}});
  }
};

} // namespace

TEST_CASE("valuation tables: the event table comes from listings and the --event-meta file") {
  std::unordered_map<std::string, event_extra> extra{{"ev-1", event_extra{3, 17, 81.5}}};
  valuation_tables t{extra};
  log_builder log{t};
  log.list("K1", listing("ev-1", "101", 10000, 12000));
  log.list("K2", listing("ev-2", "101", 10000, 12000, "Other Hall"));
  CHECK(t.next_offset() == 3);

  auto f1 = t.features(listing("ev-1", "101", 10000, 12000), t0);
  CHECK(f1.team_rank == 3);
  CHECK(f1.opponent_rank == 17);
  CHECK(f1.demand_score == doctest::Approx(81.5));
  CHECK(f1.category == "basketball");
  CHECK(f1.venue == "Arena One");
  CHECK(f1.days_to_event == doctest::Approx(30.0));
  CHECK(f1.face_value_minor == 10000);
  CHECK(f1.month == 10);   // 2026-10-21 (UTC)
  CHECK(f1.weekday == 3);  // a Wednesday

  // Not in the file: the documented defaults (no ranks, demand 50).
  auto f2 = t.features(listing("ev-2", "101", 10000, 12000, "Other Hall"), t0);
  CHECK(f2.team_rank == 0);
  CHECK(f2.opponent_rank == 0);
  CHECK(f2.demand_score == doctest::Approx(valuation_tables::default_demand_score));

  // A ticket the feed has not shown yet is valued from its own fields.
  auto f3 = t.features(listing("ev-new", "9", 5000, 5000, "New Venue"), t0 + day);
  CHECK(f3.venue == "New Venue");
  CHECK(f3.section_desirability == doctest::Approx(0.5));
  CHECK(f3.days_to_event == doctest::Approx(29.0));
}

TEST_CASE("valuation tables: section desirability ranks the venue's sections by median face value") {
  valuation_tables t;
  log_builder log{t};
  // Venue "Arena One": cheap 301 (two tickets), mid 201, top 101; the
  // section medians are 4000, 8000, 20000.
  log.list("A1", listing("ev-1", "301", 4000, 4000));
  log.list("A2", listing("ev-1", "301", 4200, 4000));
  log.list("A3", listing("ev-2", "201", 8000, 9000));
  log.list("A4", listing("ev-2", "101", 20000, 25000));
  CHECK(t.desirability("Arena One", "301") == doctest::Approx(0.0));
  CHECK(t.desirability("Arena One", "201") == doctest::Approx(0.5));
  CHECK(t.desirability("Arena One", "101") == doctest::Approx(1.0));
  CHECK(t.desirability("Arena One", "unknown") == doctest::Approx(0.5));
  // Another venue with a single section: 0.5.
  log.list("B1", listing("ev-3", "A", 9999, 9999, "Theatre"));
  CHECK(t.desirability("Theatre", "A") == doctest::Approx(0.5));
  // Ties share their mean rank: a fourth section equal to 201's median.
  log.list("A5", listing("ev-2", "202", 8000, 9000));
  CHECK(t.desirability("Arena One", "201") == doctest::Approx(0.5));
  CHECK(t.desirability("Arena One", "202") == doctest::Approx(0.5));
  CHECK(t.desirability("Arena One", "101") == doctest::Approx(1.0));
  // A relisting of the same ticket counts once; a venue change moves it.
  log.list("B1", listing("ev-3", "A", 9999, 9999, "Theatre"));
  ticket_patch p;
  p.has_venue = true;
  p.venue = "Arena One";
  log.put(entity_kind::ticket, "B1", t0, ticket_updated{p});
  CHECK(t.desirability("Theatre", "A") == doctest::Approx(0.5));  // no section left: default
  CHECK(t.desirability("Arena One", "A") > 0.5);                  // 9999: between 202 and 101
  CHECK(t.desirability("Arena One", "A") < 1.0);
  CHECK(t.tickets_seen() == 6);
}

TEST_CASE("valuation tables: completed trades give the resale velocity and the medians") {
  valuation_tables t;
  log_builder log{t};
  log.list("K1", listing("ev-1", "101", 10000, 12000));
  log.list("K2", listing("ev-1", "101", 10000, 15000));
  log.list("K3", listing("ev-1", "101", 10000, 30000));
  log.list("K4", listing("ev-2", "5", 10000, 11000, "Other Hall"));
  // Completed: K1 <-> K4 (one ticket of each event), then K2 <-> K3.
  log.trade("T1", {"K1"}, {"K4"}, trade_status::completed, t0 + day);
  log.trade("T2", {"K2"}, {"K3"}, trade_status::completed, t0 + 2 * day);
  // Ended otherwise: counts for nothing.
  log.trade("T3", {"K1"}, {"K2"}, trade_status::cancelled, t0 + 2 * day);
  log.trade("T4", {"K3"}, {"K4"}, trade_status::expired, t0 + 2 * day);
  CHECK(t.trades_completed() == 2);

  // Velocity: trades of the event in [at - 7 days, at).
  auto at = t0 + 3 * day;
  CHECK(t.features(listing("ev-1", "101", 10000, 12000), at).resale_velocity == doctest::Approx(3));
  CHECK(t.features(listing("ev-2", "5", 10000, 11000, "Other Hall"), at).resale_velocity
        == doctest::Approx(1));
  CHECK(t.features(listing("ev-1", "101", 10000, 12000), t0 + day).resale_velocity
        == doctest::Approx(0));  // the trade at `at` itself is not counted
  CHECK(t.features(listing("ev-1", "101", 10000, 12000), t0 + 10 * day).resale_velocity
        == doctest::Approx(0));  // out of the window

  // Medians: the asking prices of the traded tickets (lower middle value).
  CHECK(t.medians().count("ev-1", "101") == 3);
  CHECK(t.medians().median("ev-1", "101") == 15000);
  CHECK(t.medians().median("ev-2", "5") == 11000);
  CHECK_FALSE(t.medians().median("ev-2", "6").has_value());
  // A price change before a later sale is the price it sold at.
  ticket_patch p;
  p.has_price = true;
  p.price_minor = 16000;
  log.put(entity_kind::ticket, "K4", t0 + 4 * day, ticket_updated{p});
  log.trade("T5", {"K4"}, {"K1"}, trade_status::completed, t0 + 5 * day);
  CHECK(t.medians().median("ev-2", "5") == 11000);  // {11000, 16000}: lower middle
  CHECK(t.medians().count("ev-2", "5") == 2);
}

TEST_CASE("--event-meta CSV: rows, and the first bad line named") {
  std::istringstream ok{"event_id,team_rank,opponent_rank,demand_score\r\n"
                        "nba-1,3,17,81.5\n"
                        "\n"
                        "concert-1,0,0,44\n"};
  auto m = read_event_meta_csv(ok, "meta.csv");
  REQUIRE(m.size() == 2);
  CHECK(m.at("nba-1").team_rank == 3);
  CHECK(m.at("nba-1").opponent_rank == 17);
  CHECK(m.at("nba-1").demand_score == doctest::Approx(81.5));
  CHECK(m.at("concert-1").team_rank == 0);

  auto bad = [](const std::string& text) {
    std::istringstream in{text};
    try {
      read_event_meta_csv(in, "m.csv");
    } catch (const valuation_error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(bad("event_id,rank\n").find("m.csv:1: the header") == 0);
  CHECK(bad("event_id,team_rank,opponent_rank,demand_score\nx,1,2\n") == "m.csv:2: expected 4 columns, got 3");
  CHECK(bad("event_id,team_rank,opponent_rank,demand_score\nx,1,2,101\n").find("m.csv:2: column demand_score") == 0);
  CHECK(bad("event_id,team_rank,opponent_rank,demand_score\nx,-1,2,50\n").find("m.csv:2: column team_rank") == 0);
  CHECK(bad("event_id,team_rank,opponent_rank,demand_score\nx,1,2,50\nx,1,2,50\n").find("m.csv:3: event 'x' appears twice") == 0);
  CHECK(bad("").find("m.csv:0: empty file") == 0);
}

namespace {

// A small model (3k generated sales, 2 members x 20 rounds). Deliberately
// leaked: boosters must not be freed after main() returns.
const valuation_model& small_model() {
  static const valuation_model& m = *[] {
    auto* p = new valuation_model;
    market_params mp;
    mp.sales = 3000;
    mp.seed = 5;
    auto market = generate_market(mp);
    train_params tp;
    tp.rounds = 20;
    tp.members = 2;
    tp.eta = 0.3;
    p->train(market.rows, tp);
    return p;
  }();
  return m;
}

} // namespace

TEST_CASE("fallback rule on the tables: below the threshold the section's resale median answers") {
  const auto& model = small_model();
  valuation_tables t;
  log_builder log{t};
  log.list("K1", listing("ev-1", "101", 10000, 12000));
  log.list("K2", listing("ev-1", "101", 10000, 14000));
  log.list("K3", listing("ev-1", "101", 10000, 50000));
  log.list("K9", listing("ev-1", "999", 10000, 50000));
  log.trade("T1", {"K1"}, {"K2"}, trade_status::completed, t0 + day);
  log.trade("T2", {"K3"}, {"K9"}, trade_status::completed, t0 + day);
  auto f = t.features(listing("ev-1", "101", 10000, 12000), t0 + 2 * day);

  // Threshold above any confidence: the median of the same event and section.
  auto fb = model.valuate(f, t.medians(), "ev-1", "101", 1.01);
  CHECK(fb.method == "median_fallback");
  CHECK(fb.credit_minor == 14000);  // {12000, 14000, 50000}
  CHECK(fb.median_samples == 3);
  CHECK(fb.positive.empty());
  CHECK(fb.negative.empty());
  // No resale of that section: the model's answer, flagged.
  auto lc = model.valuate(f, t.medians(), "ev-1", "102", 1.01);
  CHECK(lc.method == "model_low_confidence");
  CHECK(lc.credit_minor > 0);
  // Threshold 0: always the model, factors sum with the bias to the credit.
  auto mv = model.valuate(f, t.medians(), "ev-1", "101", 0.0);
  CHECK(mv.method == "model");
  int64_t sum = mv.bias_minor;
  for (auto c : mv.contributions_minor)
    sum += c;
  CHECK(sum == mv.credit_minor);
  CHECK(mv.positive.size() <= 3);
  CHECK(mv.negative.size() <= 3);
  // "Arena One" is no venue of the synthetic market: outside the training
  // distribution, so the confidence is 0 and the default threshold falls back.
  auto def = model.valuate(f, t.medians(), "ev-1", "101");
  CHECK(def.confidence == 0.0);
  CHECK(def.method == "median_fallback");
}

TEST_CASE("ticket model: record_valuation writes one event only when the valuation changed") {
  ticket_model m;
  m.id = "K1";
  record_valuation r;
  r.ticket_id = "K1";
  r.credit_minor = 12345;
  r.currency = "USD";
  r.confidence_ppm = 812500;
  r.model_version = "tt-val-aaaaaaaaaaaa";
  r.method = "model";
  auto missing = m.decide(r);
  REQUIRE_FALSE(missing);
  CHECK(describe(missing.error()).code == errc::not_found);

  event_envelope listed;
  listed.kind = entity_kind::ticket;
  listed.entity_id = "K1";
  listed.timestamp_ms = 1000;
  listed.payload = ticket_listed{listing("ev-1", "101", 10000, 12000), "seller", "h", "s", "d"};
  m.apply(listed);

  auto first = m.decide(r);
  REQUIRE(first);
  REQUIRE(first->size() == 1);
  const auto& v = std::get<ticket_valued>(first->front());
  CHECK(v == ticket_valued{12345, "USD", 812500, "tt-val-aaaaaaaaaaaa", "model", 0});
  event_envelope ev;
  ev.kind = entity_kind::ticket;
  ev.entity_id = "K1";
  ev.timestamp_ms = 2000;
  ev.payload = v;
  m.apply(*decode_event(encode_event(ev)));
  CHECK(m.state().valuation_credit_minor == 12345);
  CHECK(m.state().valuation_version == "tt-val-aaaaaaaaaaaa");
  CHECK(m.state().valuation_method == "model");
  CHECK(m.state().updated_at_ms == 1000);  // a valuation does not change the ticket

  // Same version, method and credit (confidence may differ): nothing.
  r.confidence_ppm = 700000;
  auto same = m.decide(r);
  REQUIRE(same);
  CHECK(same->empty());
  // Any of the three changed: one event each.
  auto credit = r;
  credit.credit_minor = 12346;
  CHECK(m.decide(credit)->size() == 1);
  auto version = r;
  version.model_version = "tt-val-bbbbbbbbbbbb";
  CHECK(m.decide(version)->size() == 1);
  auto method = r;
  method.method = "median_fallback";
  CHECK(m.decide(method)->size() == 1);
  // Bad input is refused.
  auto neg = r;
  neg.credit_minor = -1;
  CHECK(describe(m.decide(neg).error()).code == errc::invalid_argument);
  auto conf = r;
  conf.confidence_ppm = 1'000'001;
  CHECK(describe(m.decide(conf).error()).code == errc::invalid_argument);
  auto nover = r;
  nover.model_version.clear();
  CHECK(describe(m.decide(nover).error()).code == errc::invalid_argument);

  // The snapshot keeps the last valuation.
  auto snap = decode_snapshot(encode_snapshot(m.snapshot(2, 3000)));
  REQUIRE(snap);
  ticket_model back;
  back.id = "K1";
  REQUIRE(back.restore(*snap));
  CHECK(back.state().valuation_credit_minor == 12345);
  CHECK(back.decide(r)->empty());
}

TEST_CASE("valuation: the nightly retrain runs at the next configured UTC hour") {
  const int64_t day = 86'400'000, hour = 3'600'000;
  const int64_t midnight = 1'795'910'400'000;  // 2026-11-29T00:00Z
  CHECK(next_retrain_ms(midnight + 2 * hour, 3, std::chrono::seconds(0)) == midnight + 3 * hour);
  CHECK(next_retrain_ms(midnight + 3 * hour, 3, std::chrono::seconds(0)) == midnight + day + 3 * hour);
  CHECK(next_retrain_ms(midnight + 23 * hour, 0, std::chrono::seconds(0)) == midnight + day);
  CHECK(next_retrain_ms(midnight + 5, 3, std::chrono::seconds(90)) == midnight + 5 + 90'000);
}
