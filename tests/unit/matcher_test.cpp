// The matching engine (actors/matcher.hpp): the integer ±3 % rule at its
// boundaries, cash limits, owners, wants semantics, ranking, greedy
// disjointness, 3-cycles, exclusion, netting, determinism, and a randomized
// comparison of the greedy 2-way pass against a brute-force O(n²) reference.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "actors/matcher.hpp"

using namespace tt::matching;

namespace {

uint64_t next_seq = 1;

offer mk(std::string id, std::string owner, int64_t credit, std::string event = "e1",
         want_spec w = {}, std::string category = "rock", std::string venue = "v1") {
  offer o;
  o.seq = next_seq++;
  o.id = std::move(id);
  o.ticket_id = "T-" + o.id;
  o.owner = std::move(owner);
  o.credit_minor = credit;
  o.event_id = std::move(event);
  o.category = std::move(category);
  o.venue = std::move(venue);
  o.want = std::move(w);
  return o;
}

want_spec cash(int64_t c) {
  want_spec w;
  w.max_cash_minor = c;
  return w;
}

std::vector<std::vector<std::string>> ids(const round_result& r) {
  std::vector<std::vector<std::string>> v;
  for (const auto& m : r.matches)
    v.emplace_back(m.offer_ids.begin(), m.offer_ids.end());
  return v;
}

round_result run(std::vector<offer> offers, match_config cfg = {}) {
  offer_book b{cfg};
  for (auto& o : offers)
    REQUIRE(b.add(std::move(o)));
  return b.run_round();
}

} // namespace

TEST_CASE("matcher: ±3 % boundary is exact in integers, both directions") {
  // 10000 vs 10309: 309*100 = 30900 <= 3*10309 = 30927 — in.
  CHECK(credits_within(10000, 10309));
  CHECK(credits_within(10309, 10000));
  // 10000 vs 10310: 31000 > 30930 — out.
  CHECK_FALSE(credits_within(10000, 10310));
  CHECK_FALSE(credits_within(10310, 10000));
  // 10000 vs 9700: 300*100 = 30000 <= 3*10000 — in; 9699 — out.
  CHECK(credits_within(10000, 9700));
  CHECK_FALSE(credits_within(10000, 9699));
  CHECK(credits_within(9700, 10000));
  CHECK_FALSE(credits_within(9699, 10000));

  // The same boundary through the book (cash allowed on both sides).
  auto pair_of = [](int64_t ca, int64_t cb) {
    return run({mk("a", "A", ca, "e1", cash(1'000'000)), mk("b", "B", cb, "e1", cash(1'000'000))})
      .matches.size();
  };
  CHECK(pair_of(10000, 10309) == 1);
  CHECK(pair_of(10309, 10000) == 1);
  CHECK(pair_of(10000, 10310) == 0);
  CHECK(pair_of(10310, 10000) == 0);
  CHECK(pair_of(10000, 9700) == 1);
  CHECK(pair_of(10000, 9699) == 0);
  CHECK(gap_ppm(10000, 10309) == 309 * 1'000'000 / 10309);
}

TEST_CASE("matcher: the lower-credit side pays the difference, up to its max_cash") {
  // b (9800) receives a's 10000 ticket: b pays 200.
  auto r = run({mk("a", "A", 10000), mk("b", "B", 9800, "e1", cash(200))});
  REQUIRE(r.matches.size() == 1);
  const auto& m = r.matches[0];
  CHECK(m.offer_ids == std::vector<std::string>{"a", "b"});
  CHECK(m.net_cash_minor == std::vector<int64_t>{-200, 200});  // a is paid, b pays
  CHECK(run({mk("a", "A", 10000), mk("b", "B", 9800, "e1", cash(199))}).matches.empty());
  // The higher side's limit does not matter; equal credits need no cash.
  CHECK(run({mk("a", "A", 10000, "e1", cash(0)), mk("b", "B", 9800, "e1", cash(200))})
          .matches.size() == 1);
  CHECK(run({mk("a", "A", 10000), mk("b", "B", 10000)}).matches.size() == 1);
}

TEST_CASE("matcher: cash limits beyond an index entry's 24 bits are exact, in pairs and cycles") {
  // Index entries hold cash limits below 2^24 (16,777,215); larger ones are
  // read from the offer. b pays 20,000,000 to receive a's ticket.
  const int64_t big = 1'000'000'000;
  CHECK(run({mk("a", "A", big), mk("b", "B", big - 20'000'000, "e1", cash(20'000'000))})
          .matches.size() == 1);
  CHECK(run({mk("a", "A", big), mk("b", "B", big - 20'000'000, "e1", cash(19'999'999))})
          .matches.empty());
  // A 3-cycle (no 2-way swap: each wants only the next one's event) whose
  // hops need such limits.
  auto cyc = [&](int64_t limit) {
    want_spec wa = cash(limit), wb = cash(limit), wc = cash(limit);
    wa.event_ids = {"eb"};
    wb.event_ids = {"ec"};
    wc.event_ids = {"ea"};
    return run({mk("ca", "A", big - 20'000'000, "ea", wa), mk("cb", "B", big, "eb", wb),
                mk("cc", "C", big, "ec", wc)});
  };
  auto yes = cyc(20'000'000);
  REQUIRE(yes.matches.size() == 1);
  CHECK(yes.matches[0].offer_ids.size() == 3);
  CHECK(cyc(19'999'999).matches.empty());
}

TEST_CASE("matcher: same owner never matches") {
  CHECK(run({mk("a", "A", 10000), mk("b", "A", 10000)}).matches.empty());
  offer x = mk("x", "A", 10000), y = mk("y", "A", 10000);
  CHECK_FALSE(can_receive(x, y));
}

TEST_CASE("matcher: wants semantics — empty list is any, every non-empty list must match") {
  offer t = mk("t", "T", 10000, "e1", {}, "rock", "v1");
  want_spec w;
  CHECK(want_satisfied(w, t));  // all empty: anything
  w.event_ids = {"e2", "e1"};
  CHECK(want_satisfied(w, t));  // OR within a list
  w.categories = {"jazz"};
  CHECK_FALSE(want_satisfied(w, t));  // AND over lists
  w.categories = {"rock"};
  w.venues = {"v2"};
  CHECK_FALSE(want_satisfied(w, t));
  w.venues = {"v1"};
  CHECK(want_satisfied(w, t));

  // Through the book: a wants only e2; b holds e1 → no match; b holds e2 → match.
  want_spec only_e2;
  only_e2.event_ids = {"e2"};
  CHECK(run({mk("a", "A", 10000, "e1", only_e2), mk("b", "B", 10000, "e1")}).matches.empty());
  CHECK(run({mk("a", "A", 10000, "e1", only_e2), mk("b", "B", 10000, "e2")}).matches.size() == 1);
  // A secondary list is enforced: a wants category jazz at venue v1.
  want_spec jazz_v1;
  jazz_v1.categories = {"jazz"};
  jazz_v1.venues = {"v1"};
  CHECK(run({mk("a", "A", 10000, "e1", jazz_v1), mk("b", "B", 10000, "e2", {}, "rock", "v1")})
          .matches.empty());
  CHECK(run({mk("a", "A", 10000, "e1", jazz_v1), mk("b", "B", 10000, "e2", {}, "jazz", "v1")})
          .matches.size() == 1);
}

TEST_CASE("matcher: secondary score — location, category, taste — ranks equal-gap candidates") {
  // a can swap with b (far venue, other category) or c (same venue, same
  // category); same credits, so the score decides.
  offer a = mk("a", "A", 10000, "e1", {}, "rock", "v1");
  offer b = mk("b", "B", 10000, "e2", {}, "jazz", "v9");
  offer c = mk("c", "C", 10000, "e3", {}, "rock", "v1");
  a.location = geo_point{40.0, -74.0};
  b.location = geo_point{34.0, -118.0};
  c.location = geo_point{40.0, -74.0};
  CHECK(pair_score(a, c) > pair_score(a, b));
  CHECK(pair_score(a, c) == pair_score(c, a));
  auto r = run({a, b, c});
  REQUIRE(r.matches.size() == 1);
  CHECK(r.matches[0].offer_ids == std::vector<std::string>{"a", "c"});
  CHECK(r.matches[0].score == pair_score(a, c));

  // Location alone: nearer beats farther.
  offer near = mk("n", "N", 10000, "e2", {}, "jazz", "v2");
  offer far = mk("f", "F", 10000, "e3", {}, "jazz", "v3");
  near.location = geo_point{40.5, -74.0};
  far.location = geo_point{42.0, -74.0};
  CHECK(hop_score(a, near) > hop_score(a, far));
  // Taste alone: a likes dimension 0; t0 has trait 0, t1 has trait 1.
  offer t0 = mk("t0", "X", 10000, "e2", {}, "jazz", "vx");
  offer t1 = mk("t1", "Y", 10000, "e2", {}, "jazz", "vx");
  a.prefs[0] = 1.f;
  t0.traits[0] = 1.f;
  t1.traits[1] = 1.f;
  CHECK(hop_score(a, t0) > hop_score(a, t1));
  offer blank = mk("z", "Z", 10000, "e2", {}, "rock", "v1");  // no prefs: neutral taste
  CHECK(hop_score(blank, t1) == doctest::Approx(hop_score(blank, t0)));
  // Ties in score fall back to the lower seqs.
  auto tie = run({mk("p", "P", 10000), mk("q", "Q", 10000), mk("r", "R", 10000)});
  REQUIRE(tie.matches.size() == 1);
  CHECK(tie.matches[0].offer_ids == std::vector<std::string>{"p", "q"});
}

TEST_CASE("matcher: greedy pairing takes the better pair first and keeps pairs disjoint") {
  // All four fit each other. Gaps: a-b 0.1 % (best), c-d 0.2 %, b-c 2 %.
  // Greedy takes (a, b), then (c, d) — never (b, c), which would strand a and d.
  auto r = run({mk("a", "A", 10000, "e1", cash(1000)), mk("b", "B", 10010, "e1", cash(1000)),
                mk("c", "C", 10210, "e1", cash(1000)), mk("d", "D", 10230, "e1", cash(1000))},
               match_config{.gap_band_ppm = 1});
  REQUIRE(r.matches.size() == 2);
  CHECK(r.matches[0].offer_ids == std::vector<std::string>{"a", "b"});
  CHECK(r.matches[1].offer_ids == std::vector<std::string>{"c", "d"});
  CHECK(r.matches[0].gap_ppm < r.matches[1].gap_ppm);
  CHECK(r.stats.pairs == 2);
}

TEST_CASE("matcher: a 3-cycle is found when no 2-way swap exists") {
  // A wants e2 (B's), B wants e3 (C's), C wants e1 (A's).
  auto want_ev = [](std::string e, int64_t c = 1000) {
    want_spec w;
    w.event_ids = {std::move(e)};
    w.max_cash_minor = c;
    return w;
  };
  auto r = run({mk("A", "ua", 10000, "e1", want_ev("e2")), mk("B", "ub", 10100, "e2", want_ev("e3")),
                mk("C", "uc", 10200, "e3", want_ev("e1"))});
  REQUIRE(r.matches.size() == 1);
  const auto& m = r.matches[0];
  CHECK(m.offer_ids == std::vector<std::string>{"A", "B", "C"});  // A receives B's, B C's, C A's
  CHECK(m.net_cash_minor == std::vector<int64_t>{100, 100, -200});
  CHECK(std::accumulate(m.net_cash_minor.begin(), m.net_cash_minor.end(), int64_t{0}) == 0);
  CHECK(r.stats.pairs == 0);
  CHECK(r.stats.cycles == 1);
  // Three different owners required.
  CHECK(run({mk("A", "ua", 10000, "e1", want_ev("e2")), mk("B", "ub", 10100, "e2", want_ev("e3")),
             mk("C", "ua", 10200, "e3", want_ev("e1"))})
          .matches.empty());
  // A hop out of tolerance breaks the cycle.
  CHECK(run({mk("A", "ua", 10000, "e1", want_ev("e2")), mk("B", "ub", 10100, "e2", want_ev("e3")),
             mk("C", "uc", 10500, "e3", want_ev("e1", 5000))})
          .matches.empty());
  // A's cash limit (it pays 100 for B's ticket) is enforced.
  CHECK(run({mk("A", "ua", 10000, "e1", want_ev("e2", 99)), mk("B", "ub", 10100, "e2", want_ev("e3")),
             mk("C", "uc", 10200, "e3", want_ev("e1"))})
          .matches.empty());
}

TEST_CASE("matcher: pairs and cycles are disjoint; excluded offers are skipped") {
  auto want_ev = [](std::string e) {
    want_spec w;
    w.event_ids = {std::move(e)};
    w.max_cash_minor = 1000;
    return w;
  };
  std::vector<offer> v = {
    // a 2-way pair on e9
    mk("p1", "u1", 10000, "e9", want_ev("e9")), mk("p2", "u2", 10000, "e9", want_ev("e9")),
    // a 3-cycle e1 -> e2 -> e3
    mk("A", "ua", 10000, "e1", want_ev("e2")), mk("B", "ub", 10000, "e2", want_ev("e3")),
    mk("C", "uc", 10000, "e3", want_ev("e1")),
    // D (like A) holds e1 and wants e2: cycles (A, B, C) and (B, C, D) share B and C; one is taken
    mk("D", "ud", 10000, "e1", want_ev("e2"))};
  offer_book b;
  for (auto& o : v)
    REQUIRE(b.add(o));
  auto r = b.run_round();
  std::set<std::string> used;
  for (const auto& m : r.matches)
    for (const auto& id : m.offer_ids)
      CHECK(used.insert(std::string{id}).second);
  CHECK(r.stats.pairs == 1);
  CHECK(r.stats.cycles == 1);
  // Matched offers are now excluded: a second round finds nothing new.
  for (const auto& id : used)
    CHECK(b.excluded(id));
  CHECK(b.run_round().matches.empty());
  // Releasing one trade's offers makes them matchable again.
  b.set_excluded("p1", false);
  b.set_excluded("p2", false);
  auto r2 = b.run_round();
  REQUIRE(r2.matches.size() == 1);
  CHECK(r2.matches[0].offer_ids == std::vector<std::string>{"p1", "p2"});
  // An excluded offer is never matched; removal works between rounds.
  offer_book c;
  c.add(mk("x", "X", 10000));
  c.add(mk("y", "Y", 10000));
  c.add(mk("z", "Z", 10000));
  c.set_excluded("x", true);
  auto r3 = c.run_round();
  REQUIRE(r3.matches.size() == 1);
  CHECK(r3.matches[0].offer_ids == std::vector<std::string>{"y", "z"});
  CHECK(c.remove("y"));
  CHECK_FALSE(c.remove("y"));
  c.set_excluded("x", false);
  c.set_excluded("z", false);
  c.add(mk("w", "W", 10000));
  CHECK(c.size() == 3);
  auto r4 = c.run_round();
  REQUIRE(r4.matches.size() == 1);
  CHECK(r4.matches[0].offer_ids == std::vector<std::string>{"x", "z"});
}

TEST_CASE("matcher: netting over N-party cycles sums to zero") {
  std::vector<int64_t> c = {10000, 10250, 9900, 10100, 9950};
  auto net = cycle_net_cash(c);
  CHECK(net == std::vector<int64_t>{250, -350, 200, -150, 50});
  CHECK(std::accumulate(net.begin(), net.end(), int64_t{0}) == 0);
  std::vector<ticket_flow> flows = {{0, 1, 10000}, {1, 2, 10250}, {2, 0, 9900}};
  auto n2 = net_cash(3, flows);
  CHECK(n2 == std::vector<int64_t>{-100, -250, 350});  // p0 gives 10000, receives 9900
  CHECK(std::accumulate(n2.begin(), n2.end(), int64_t{0}) == 0);
}

TEST_CASE("matcher: invalid offers are rejected") {
  offer_book b;
  CHECK(b.add(mk("a", "A", 10000)));
  CHECK_FALSE(b.add(mk("a", "B", 10000)));  // duplicate id
  CHECK_FALSE(b.add(mk("z", "B", 0)));
  CHECK_FALSE(b.add(mk("z", "B", max_credit_minor + 1)));
  CHECK_FALSE(b.add(mk("z", "B", 10000, "e1", cash(-1))));
  CHECK(b.size() == 1);
}

namespace {

const char* cats[] = {"rock", "jazz", "pop", "sport"};

std::vector<offer> random_offers(size_t n, uint64_t seed, size_t events = 12, size_t owners = 0) {
  std::mt19937_64 rng{seed};
  if (owners == 0)
    owners = n / 2 + 1;
  std::vector<offer> v;
  for (size_t i = 0; i < n; ++i) {
    offer o;
    o.seq = 1000 + i * 7;
    o.id = std::string{"o"}.append(std::to_string(i));
    o.owner = std::string{"u"}.append(std::to_string(rng() % owners));
    size_t e = rng() % events;
    o.event_id = std::string{"e"}.append(std::to_string(e));
    o.category = cats[e % 4];
    o.venue = std::string{"v"}.append(std::to_string(e % 5));
    o.credit_minor = 9000 + static_cast<int64_t>(rng() % 2000);
    if (rng() % 4 != 0)
      o.location = geo_point{40.0 + static_cast<double>(e % 5), -74.0 - static_cast<double>(e % 3)};
    auto k = rng() % 6;
    if (k == 0 || k == 1) {
      for (size_t j = 0, m = 1 + rng() % 3; j < m; ++j)
        o.want.event_ids.push_back("e" + std::to_string(rng() % events));
    } else if (k == 2) {
      o.want.categories.push_back(cats[rng() % 4]);
    } else if (k == 3) {
      o.want.venues.push_back("v" + std::to_string(rng() % 5));
      if (rng() % 2)
        o.want.categories.push_back(cats[rng() % 4]);
    } else if (k == 4) {
      o.want.event_ids.push_back("e" + std::to_string(rng() % events));
      o.want.venues.push_back("v" + std::to_string(rng() % 5));
    }
    o.want.max_cash_minor = (rng() % 3 == 0) ? 0 : static_cast<int64_t>(rng() % 400);
    for (auto& x : o.prefs)
      x = static_cast<float>(rng() % 5);
    for (auto& x : o.traits)
      x = static_cast<float>(rng() % 3);
    v.push_back(std::move(o));
  }
  return v;
}

/// The spec, written independently of the engine: every valid pair, ranked
/// by (gap band, score desc, gap, lower seq, higher seq), taken greedily.
std::vector<std::vector<std::string>> brute_force_pairs(const std::vector<offer>& v,
                                                        const match_config& cfg) {
  auto has = [](const std::vector<std::string>& xs, const std::string& x) {
    return xs.empty() || std::find(xs.begin(), xs.end(), x) != xs.end();
  };
  auto receives = [&](const offer& r, const offer& g) {
    if (r.owner == g.owner)
      return false;
    if (!has(r.want.event_ids, g.event_id) || !has(r.want.categories, g.category)
        || !has(r.want.venues, g.venue))
      return false;
    int64_t d = std::abs(r.credit_minor - g.credit_minor);
    if (d * 100 > 3 * std::max(r.credit_minor, g.credit_minor))
      return false;
    return g.credit_minor - r.credit_minor <= r.want.max_cash_minor;
  };
  struct cand {
    int64_t band, score, gap;
    uint64_t s0, s1;
    size_t i, j;
  };
  std::vector<cand> cs;
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t j = i + 1; j < v.size(); ++j)
      if (receives(v[i], v[j]) && receives(v[j], v[i])) {
        int64_t hi = std::max(v[i].credit_minor, v[j].credit_minor);
        int64_t gap = std::abs(v[i].credit_minor - v[j].credit_minor) * 1'000'000 / hi;
        bool first = v[i].seq < v[j].seq;
        cs.push_back({gap / cfg.gap_band_ppm, pair_score(v[i], v[j], cfg), gap,
                      first ? v[i].seq : v[j].seq, first ? v[j].seq : v[i].seq, first ? i : j,
                      first ? j : i});
      }
  std::sort(cs.begin(), cs.end(), [](const cand& a, const cand& b) {
    return std::tie(a.band, b.score, a.gap, a.s0, a.s1) < std::tie(b.band, a.score, b.gap, b.s0, b.s1);
  });
  std::vector<bool> used(v.size());
  std::vector<std::vector<std::string>> out;
  for (const auto& c : cs) {
    if (used[c.i] || used[c.j])
      continue;
    used[c.i] = used[c.j] = true;
    out.push_back({v[c.i].id, v[c.j].id});
  }
  return out;
}

/// Checks every rule of every match against the offers themselves.
void check_rules(const std::vector<offer>& v, const round_result& r, const match_config& cfg) {
  std::map<std::string, const offer*> by_id;
  for (const auto& o : v)
    by_id[o.id] = &o;
  std::set<std::string> used;
  for (const auto& m : r.matches) {
    REQUIRE((m.offer_ids.size() == 2 || m.offer_ids.size() == 3));
    std::vector<const offer*> os;
    std::set<std::string> owners;
    std::vector<int64_t> credits;
    for (std::string_view idv : m.offer_ids) {
      std::string id{idv};
      CHECK(used.insert(id).second);  // no offer twice
      os.push_back(by_id.at(id));
      owners.insert(os.back()->owner);
      credits.push_back(os.back()->credit_minor);
    }
    CHECK(owners.size() == os.size());
    for (size_t i = 0; i < os.size(); ++i) {
      const offer& rcv = *os[i];
      const offer& giv = *os[(i + 1) % os.size()];
      CHECK(can_receive(rcv, giv, cfg));
      CHECK(credits_within(rcv.credit_minor, giv.credit_minor));
    }
    CHECK(m.net_cash_minor == cycle_net_cash(credits));
    CHECK(std::accumulate(m.net_cash_minor.begin(), m.net_cash_minor.end(), int64_t{0}) == 0);
    for (size_t i = 0; i < os.size(); ++i)
      if (m.net_cash_minor[i] > 0)
        CHECK(m.net_cash_minor[i] <= os[i]->want.max_cash_minor);
  }
}

} // namespace

TEST_CASE("matcher: greedy 2-way equals a brute-force O(n^2) reference (300 offers)") {
  for (uint64_t seed : {1u, 2u, 3u, 4u, 5u}) {
    CAPTURE(seed);
    auto v = random_offers(300, seed, 6, 200);
    for (int64_t band : {int64_t{1}, int64_t{5000}}) {
      CAPTURE(band);
      match_config cfg;
      cfg.gap_band_ppm = band;
      cfg.max_candidates = 1000;  // no caps: the engine must see every pair
      cfg.max_scan = 100000;
      cfg.cycle_out_degree = 0;
      auto got = run(v, cfg);
      CHECK(got.stats.truncated_scans == 0);
      auto want = brute_force_pairs(v, cfg);
      CHECK(want.size() > 20);
      CHECK(ids(got) == want);
      // With the default caps the result here is the same: no scan is cut
      // short on an instance this sparse... or, if one is, still valid.
      match_config dflt;
      dflt.gap_band_ppm = band;
      dflt.cycle_out_degree = 0;
      auto capped = run(v, dflt);
      check_rules(v, capped, dflt);
      if (capped.stats.truncated_scans == 0)
        CHECK(ids(capped) == want);
    }
  }
}

TEST_CASE("matcher: randomized property — 5k offers, every match obeys every rule") {
  auto v = random_offers(5000, 42, 40);
  match_config cfg;
  offer_book b{cfg};
  for (const auto& o : v)
    REQUIRE(b.add(o));
  auto r = b.run_round();
  CHECK(r.stats.pairs > 100);
  check_rules(v, r, cfg);
  // Cycles appear on this mix, and they obey the rules too (checked above).
  MESSAGE("pairs " << r.stats.pairs << ", cycles " << r.stats.cycles);
  // A second round adds only offers not used by the first.
  auto r2 = b.run_round();
  std::set<std::string> first;
  for (const auto& m : r.matches)
    first.insert(m.offer_ids.begin(), m.offer_ids.end());
  for (const auto& m : r2.matches)
    for (const auto& id : m.offer_ids)
      CHECK(first.count(std::string{id}) == 0);
}

TEST_CASE("matcher: determinism — same offers in any insertion order give the same round") {
  auto v = random_offers(2000, 9, 20);
  auto a = run(v);
  auto shuffled = v;
  std::mt19937_64 rng{123};
  std::shuffle(shuffled.begin(), shuffled.end(), rng);
  auto b = run(shuffled);
  CHECK(ids(a) == ids(b));
  CHECK(a.stats.pairs == b.stats.pairs);
  CHECK(a.stats.cycles == b.stats.cycles);
  for (size_t i = 0; i < std::min(a.matches.size(), b.matches.size()); ++i) {
    CHECK(a.matches[i].net_cash_minor == b.matches[i].net_cash_minor);
    CHECK(a.matches[i].score == b.matches[i].score);
  }
  // Churn: removing and re-adding offers (slots reused) gives the same round.
  offer_book c;
  for (const auto& o : v)
    c.add(o);
  c.prepare();
  for (size_t i = 0; i < v.size(); i += 3)
    c.remove(v[i].id);
  c.prepare();
  for (size_t i = 0; i < v.size(); i += 3)
    c.add(v[i]);
  CHECK(ids(c.run_round()) == ids(a));
}

TEST_CASE("matcher: any thread count gives the same round") {
  auto v = random_offers(20000, 11, 30);
  match_config one;
  one.threads = 1;
  auto a = run(v, one);
  REQUIRE(a.stats.pairs > 100);
  for (size_t threads : {2, 3, 8}) {
    match_config many;
    many.threads = threads;
    auto b = run(v, many);
    CHECK(ids(a) == ids(b));
    CHECK(a.stats.candidate_pairs == b.stats.candidate_pairs);
    CHECK(a.stats.entries_scanned == b.stats.entries_scanned);
    CHECK(a.stats.cycle_edges == b.stats.cycle_edges);
    for (size_t i = 0; i < std::min(a.matches.size(), b.matches.size()); ++i) {
      CHECK(a.matches[i].score == b.matches[i].score);
      CHECK(a.matches[i].gap_ppm == b.matches[i].gap_ppm);
    }
  }
}

TEST_CASE("matcher: seqs too large to pack into the rank order rank the same") {
  // Seqs above 2^60 cannot share 64 bits with the rank key, so the round
  // falls back to comparing seqs; the order of the seqs is the same, so the
  // round must be too.
  auto v = random_offers(3000, 5, 20);
  auto big = v;
  for (auto& o : big)
    o.seq += uint64_t{1} << 60;
  auto a = run(v);
  auto b = run(big);
  REQUIRE(a.stats.pairs > 10);
  CHECK(ids(a) == ids(b));
  for (size_t i = 0; i < std::min(a.matches.size(), b.matches.size()); ++i) {
    CHECK(a.matches[i].score == b.matches[i].score);
    CHECK(a.matches[i].gap_ppm == b.matches[i].gap_ppm);
    CHECK(a.matches[i].seqs[0] + (uint64_t{1} << 60) == b.matches[i].seqs[0]);
  }
}

TEST_CASE("matcher: match ids stay valid as long as their round result, moves included") {
  offer_book b;
  REQUIRE(b.add(mk("a-long-offer-id-beyond-sso", "u1", 10000)));
  REQUIRE(b.add(mk("b-long-offer-id-beyond-sso", "u2", 10000)));
  round_result kept;
  {
    auto r = b.run_round();
    REQUIRE(r.matches.size() == 1);
    kept = std::move(r);
  }
  // The book changes (the offers go, new ones come, slots are reused) ...
  CHECK(b.remove("a-long-offer-id-beyond-sso"));
  CHECK(b.remove("b-long-offer-id-beyond-sso"));
  for (int i = 0; i < 50; ++i) {
    auto n = std::to_string(i);
    REQUIRE(b.add(mk(std::string{"x"}.append(n), std::string{"u"}.append(n), 10000)));
  }
  b.prepare();
  // ... and the result still names its offers.
  CHECK(kept.matches[0].offer_ids
        == std::vector<std::string>{"a-long-offer-id-beyond-sso", "b-long-offer-id-beyond-sso"});
}

namespace {

/// FNV-1a over everything a round returns (ids, seqs, scores, gaps, cash,
/// the counts): a change of any bit of the result changes it.
struct fnv {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void* p, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      h ^= static_cast<const unsigned char*>(p)[i];
      h *= 1099511628211ull;
    }
  }
  void num(uint64_t x) { bytes(&x, sizeof x); }
};

uint64_t fingerprint(const round_result& r) {
  fnv f;
  for (const auto& m : r.matches) {
    f.num(m.offer_ids.size());
    for (size_t i = 0; i < m.offer_ids.size(); ++i) {
      f.bytes(m.offer_ids[i].data(), m.offer_ids[i].size());
      f.num(m.seqs[i]);
      f.num(static_cast<uint64_t>(m.net_cash_minor[i]));
    }
    f.num(static_cast<uint64_t>(m.score));
    f.num(static_cast<uint64_t>(m.gap_ppm));
  }
  const auto& s = r.stats;
  for (size_t x : {s.offers, s.eligible, s.entries_scanned, s.candidate_pairs, s.pairs,
                   s.cycle_edges, s.cycles_found, s.cycles, s.truncated_scans})
    f.num(x);
  return f.h;
}

/// A market-like mix with wide credits (several bands), venues with
/// locations, and every kind of want list, including secondary lists.
std::vector<offer> golden_offers(size_t n, uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::vector<offer> v;
  for (size_t i = 0; i < n; ++i) {
    offer o;
    o.seq = 1 + i;
    o.id = "g" + std::to_string(i);
    o.owner = "u" + std::to_string(rng() % (n / 3 + 1));
    size_t e = rng() % 60;
    o.event_id = "e" + std::to_string(e);
    o.category = cats[e % 4];
    o.venue = "v" + std::to_string(e % 15);
    o.credit_minor = 100 * (80 + static_cast<int64_t>(rng() % 60));
    if (rng() % 5 != 0)
      o.location = geo_point{30.0 + static_cast<double>(e % 15) * 0.7,
                             -100.0 + static_cast<double>(e % 7) * 1.3};
    auto k = rng() % 8;
    if (k <= 2) {
      for (size_t j = 0, m = 1 + rng() % 3; j < m; ++j)
        o.want.event_ids.push_back("e" + std::to_string(rng() % 60));
      if (k == 2)
        o.want.categories.push_back(cats[rng() % 4]);
    } else if (k == 3) {
      o.want.categories.push_back(cats[rng() % 4]);
      if (rng() % 2)
        o.want.categories.push_back(cats[rng() % 4]);
    } else if (k == 4 || k == 5) {
      o.want.venues.push_back("v" + std::to_string(rng() % 15));
      if (k == 5)
        o.want.categories.push_back(cats[rng() % 4]);
    } else if (k == 6) {
      o.want.event_ids.push_back("e" + std::to_string(rng() % 60));
      o.want.venues.push_back("v" + std::to_string(rng() % 15));
      if (rng() % 2)
        o.want.categories.push_back(cats[rng() % 4]);
    }
    o.want.max_cash_minor = (rng() % 3 == 0) ? 0 : static_cast<int64_t>(rng() % 600);
    for (auto& x : o.prefs)
      x = static_cast<float>(rng() % 4) * 0.5f;
    for (auto& x : o.traits)
      x = static_cast<float>(rng() % 3);
    v.push_back(std::move(o));
  }
  return v;
}

} // namespace

TEST_CASE("matcher: golden round — the exact result (ids, scores, gaps, counts) is pinned") {
  // Recorded before the 2026-11-29 speed work (integer fast paths, inline
  // secondary wants, parallel ranking): those must not change one bit.
  auto v = golden_offers(30000, 77);
  for (size_t threads : {1, 2}) {
    CAPTURE(threads);
    match_config cfg;
    cfg.threads = threads;
    offer_book b{cfg};
    for (const auto& o : v)
      REQUIRE(b.add(o));
    auto r1 = b.run_round();
    // churn: half the matches end, the other half leave; some offers go, new ones come
    for (size_t i = 0; i < r1.matches.size(); ++i)
      for (const auto& id : r1.matches[i].offer_ids)
        i % 2 == 0 ? b.set_excluded(id, false) : b.remove(id);
    for (size_t i = 0; i < v.size(); i += 37)
      b.remove(v[i].id);
    auto more = golden_offers(1000, 78);
    for (auto& o : more) {
      o.seq += 100000;
      o.id = "h" + o.id;
      b.add(o);
    }
    auto r2 = b.run_round();
    MESSAGE("golden r1 " << r1.stats.candidate_pairs << " cands, " << r1.stats.pairs << " pairs, "
                         << r1.stats.cycles << " cycles, fp " << fingerprint(r1));
    MESSAGE("golden r2 " << r2.stats.candidate_pairs << " cands, " << r2.stats.pairs << " pairs, "
                         << r2.stats.cycles << " cycles, fp " << fingerprint(r2));
    CHECK(r1.stats.truncated_scans > 0);  // the caps bind somewhere
    CHECK(r1.stats.cycles > 0);
    CHECK(fingerprint(r1) == 2374624546525343317ull);
    CHECK(fingerprint(r2) == 7444543055814921304ull);
  }
}

TEST_CASE("matcher: ranking with many ties — one huge rank bucket — equals the brute-force greedy, any thread count") {
  // 900 offers at one venue, in one category, with no taste, wanting any of
  // the three events (or anything): every pair has the same score, and the
  // credits sit on a few values, so most candidates share one (band, score)
  // bucket and many share their whole packed order (the same lower offer,
  // partners at one credit, found in different index groups). The ranking
  // then runs its radix path and its seq tiebreak.
  std::mt19937_64 rng{2026};
  std::vector<offer> v;
  for (size_t i = 0; i < 900; ++i) {
    offer o;
    o.seq = 5 + (rng() % 4) + i * 4;  // increasing, uneven steps
    o.id = "t" + std::to_string(i);
    o.owner = "u" + std::to_string(rng() % 400);
    o.event_id = "e" + std::to_string(rng() % 3);  // partners of one offer in several index groups
    o.category = "rock";
    o.venue = "v1";
    o.credit_minor = 10000 + 50 * static_cast<int64_t>(rng() % 5);
    if (rng() % 4 != 0)
      o.want.event_ids = {"e2", "e0", "e1"};
    o.want.max_cash_minor = (rng() % 2) ? 1000 : 0;
    v.push_back(std::move(o));
  }
  match_config all;  // no caps: every valid pair is a candidate
  all.max_candidates = 100000;
  all.max_scan = 100000;
  all.cycle_out_degree = 0;
  auto want = brute_force_pairs(v, all);
  REQUIRE(want.size() > 300);
  for (size_t threads : {1, 2, 3}) {
    CAPTURE(threads);
    all.threads = threads;
    auto got = run(v, all);
    CHECK(got.stats.candidate_pairs > 100000);
    CHECK(ids(got) == want);
  }
  // With the default caps: the same round for any thread count.
  match_config one;
  one.threads = 1;
  auto a = run(v, one);
  for (size_t threads : {2, 3}) {
    match_config many;
    many.threads = threads;
    auto b = run(v, many);
    CHECK(fingerprint(a) == fingerprint(b));
  }
}

TEST_CASE("matcher: every 2-way match's score is pair_score of its offers, bit for bit") {
  // The round scores pairs from its index entries (a single-precision
  // estimate, the double operations when the estimate is within 1e-3 of a
  // rounding boundary); the public pair_score is the reference.
  for (uint64_t seed : {3u, 4u}) {
    auto v = golden_offers(4000, seed);
    for (auto& o : v)  // finer prefs: more distinct cosines, more near-ties
      for (size_t i = 0; i < o.prefs.size(); ++i)
        o.prefs[i] = static_cast<float>((o.seq * 7919 + i * 104729) % 1000) / 997.f;
    std::map<std::string, const offer*> by_id;
    for (const auto& o : v)
      by_id[o.id] = &o;
    match_config cfg;
    auto r = run(v, cfg);
    size_t pairs = 0;
    for (const auto& m : r.matches)
      if (m.offer_ids.size() == 2) {
        ++pairs;
        CHECK(m.score == pair_score(*by_id.at(std::string{m.offer_ids[0]}),
                                    *by_id.at(std::string{m.offer_ids[1]}), cfg));
      }
    CHECK(pairs > 200);
  }
}
