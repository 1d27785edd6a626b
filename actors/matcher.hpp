#pragma once
// The trade-match engine (seed §3.3, §11.1 N-way trades; issue #7): a pure
// algorithm over all open offers — no actors, no I/O; one owner calls it (a
// round fans out to match_config::threads threads internally). The
// matcher actor owns one `offer_book`, feeds it offers as they come and go,
// and calls `run_round()` every 5 s. See docs/matching.md for the rules, the
// ranking and the measured numbers.
//
// Vocabulary. An offer puts one ticket (valued at `credit_minor`) up for a
// swap and says which tickets its owner would take in return (`want`). A
// *hop* "r receives g's ticket" is allowed (`can_receive(r, g)`) when
//   1. r and g have different owners;
//   2. g's ticket satisfies r's want (`want_satisfied`): for each of the three
//      lists event_ids / categories / venues, the list is empty ("any") or
//      contains g's value — every non-empty list must match (AND over lists,
//      OR within a list);
//   3. the credits are within the tolerance (`credits_within`, ±3 % by
//      default): |cr - cg| * 100 <= pct * max(cr, cg), in integers;
//   4. r's cash for the hop, cg - cr, is <= r.want.max_cash_minor when it is
//      positive (the side receiving the more valuable ticket pays the
//      difference; a negative amount is cash r receives, never limited).
// A 2-way swap {a, b} is both hops: can_receive(a, b) && can_receive(b, a).
// A 3-cycle [A, B, C] is A receives B's, B receives C's, C receives A's
// ticket — every hop allowed, three different owners.
//
// Money is integer minor units throughout; floating point appears only in
// the secondary score (distance, cosine), never in credits or cash.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "actors/huge_page_allocator.hpp"

namespace tt::matching {

/// Credits above this are rejected by `offer_book::add` (10^12 minor units):
/// keeps every product in the integer rules far from int64 overflow.
inline constexpr int64_t max_credit_minor = 1'000'000'000'000;

/// Dimensions of the preference / trait vectors (opaque to the matcher; the
/// profile service fills them, e.g. category affinities and price tiers).
inline constexpr size_t pref_dims = 8;
using pref_vector = std::array<float, pref_dims>;

/// The highest secondary score (see `hop_score`).
inline constexpr int64_t max_score = 1000;

struct geo_point {
  double lat = 0;  // degrees
  double lon = 0;  // degrees
};

/// What an offer's owner takes in return. Empty list = any value.
struct want_spec {
  std::vector<std::string> event_ids;
  std::vector<std::string> categories;
  std::vector<std::string> venues;
  /// The most cash this owner adds to receive a more valuable ticket (>= 0).
  int64_t max_cash_minor = 0;
};

struct offer {
  /// Stable order and the final tiebreak everywhere. Unique per book
  /// (precondition; the matcher actor uses the offer's log offset).
  uint64_t seq = 0;
  std::string id;         // unique per book
  std::string ticket_id;
  std::string owner;
  int64_t credit_minor = 0;  // the ticket's valuation, 1..max_credit_minor
  std::string event_id;
  std::string category;
  std::string venue;
  std::optional<geo_point> location;  // the venue's location, if known
  want_spec want;
  /// The owner's preference weights (what they like) and the ticket's traits
  /// (what it is), over the same `pref_dims` dimensions. All-zero = unknown.
  pref_vector prefs{};
  pref_vector traits{};
};

struct match_config {
  /// Credit tolerance in whole percent (the seed's ±3 %), 0..50.
  int64_t tolerance_pct = 3;
  /// Primary ranking key is the relative credit gap in ppm divided by this
  /// (bands of 0.5 % by default): within one band the secondary score
  /// decides. 1 = the exact gap is the primary key.
  int64_t gap_band_ppm = 5000;
  /// Per offer and index group, at most this many valid candidates (nearest
  /// in credit, then lowest seq) are kept for the greedy 2-way pass ...
  size_t max_candidates = 4;
  /// ... and at most this many index entries are examined (nearest first).
  size_t max_scan = 256;
  /// Out-degree cap of the 3-cycle graph (nearest in credit, then lowest
  /// seq); 0 disables the 3-cycle pass.
  size_t cycle_out_degree = 4;
  /// Venues this far apart (or farther) get no location points.
  double location_radius_km = 1000;
  /// Threads a round uses for its sweeps (1..64; the calling thread is one
  /// of them). The result is the same for any count.
  size_t threads = 1;
};

/// Points for r receiving g's ticket, 0..max_score, deterministic (computed
/// from quantized inputs, so the index's copies give the same bits):
///   location  0..400: same venue 400; else both located:
///                     400 * max(0, 1 - km / location_radius_km), km = the
///                     chord between the points on a sphere of radius
///                     6371 km, coordinates quantized to 1/32767;
///                     else 0;
///   category  0|300:  same category 300;
///   taste     0..300: 150 * (1 + cos(r.prefs, g.traits)), each vector
///                     normalized and quantized to int8 (x127) first; 150 if
///                     either vector is all zero.
double hop_score(const offer& r, const offer& g, const match_config& cfg = {});

/// The score of a 2-way swap: llround((hop(a,b) + hop(b,a)) / 2).
int64_t pair_score(const offer& a, const offer& b, const match_config& cfg = {});

/// Whether the ticket of `ticket` satisfies `w` (AND over non-empty lists).
bool want_satisfied(const want_spec& w, const offer& ticket);

/// |a - b| * 100 <= pct * max(a, b), for credits in 1..max_credit_minor.
bool credits_within(int64_t a, int64_t b, int64_t pct = 3);

/// floor(|a - b| * 1e6 / max(a, b)): the relative gap in ppm.
int64_t gap_ppm(int64_t a, int64_t b);

/// Rules 1-4 of the header for "r receives g's ticket".
bool can_receive(const offer& r, const offer& g, const match_config& cfg = {});

/// Net cash of an N-party cycle (N >= 2) given the parties' credits in cycle
/// order (party i receives party i+1's ticket, the last receives the
/// first's): net[i] = credit[i+1] - credit[i]. Positive = party i pays that
/// much; negative = party i is paid that much. The nets always sum to zero.
std::vector<int64_t> cycle_net_cash(std::span<const int64_t> credits_in_cycle_order);

/// One ticket movement of a settlement: `giver`'s ticket (worth `credit`)
/// goes to `receiver` (party indexes).
struct ticket_flow {
  size_t giver = 0;
  size_t receiver = 0;
  int64_t credit_minor = 0;
};
/// General netting over `parties` parties: net[p] = credits received by p -
/// credits given by p (positive = p pays). Sums to zero for any flows.
std::vector<int64_t> net_cash(size_t parties, std::span<const ticket_flow> flows);

/// Up to three values, one per party of a match, stored inline (a round
/// returns hundreds of thousands of matches; no heap block per match).
template <class T>
class per_party {
public:
  static constexpr size_t capacity = 3;
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  const T* begin() const { return v_.data(); }
  const T* end() const { return v_.data() + n_; }
  T* begin() { return v_.data(); }
  T* end() { return v_.data() + n_; }
  const T& operator[](size_t i) const { return v_[i]; }
  T& operator[](size_t i) { return v_[i]; }
  const T& front() const { return v_[0]; }
  /// Precondition: size() < capacity.
  void push_back(T x) { v_[n_++] = std::move(x); }
  /// Element-wise equality with any range (e.g. a std::vector in a test).
  template <class Range>
  bool operator==(const Range& other) const {
    return std::equal(begin(), end(), std::begin(other), std::end(other));
  }

private:
  std::array<T, capacity> v_{};
  uint8_t n_ = 0;
};

/// One proposed trade: 2 offers (a swap) or 3 (a cycle), in cycle order —
/// the owner of offer_ids[i] receives the ticket of offer_ids[i+1] (the last
/// receives the first's). For a swap, offer_ids[0] is the lower seq; for a
/// cycle, the lowest seq comes first.
struct match {
  /// Views of the ids held by the round_result that returned this match:
  /// valid as long as that result lives (moving it keeps them valid).
  per_party<std::string_view> offer_ids;
  per_party<uint64_t> seqs;
  /// Per party (same order), `cycle_net_cash` of the credits: > 0 pays.
  per_party<int64_t> net_cash_minor;
  /// pair_score for a swap; for a cycle llround(sum of the 3 hops / 3).
  int64_t score = 0;
  /// The largest hop gap in ppm.
  int64_t gap_ppm = 0;
};

struct round_stats {
  size_t offers = 0;            // live offers in the book
  size_t eligible = 0;          // live and not excluded
  size_t entries_scanned = 0;   // index entries examined (both passes)
  size_t candidate_pairs = 0;   // distinct valid 2-way pairs ranked
  size_t pairs = 0;             // 2-way matches chosen
  size_t cycle_edges = 0;       // edges of the 3-cycle graph
  size_t cycles_found = 0;      // 3-cycles ranked
  size_t cycles = 0;            // 3-cycles chosen
  size_t truncated_scans = 0;   // scans (offer x index group) cut by a cap
  double prepare_ms = 0;        // applying adds/removes to the index
  double two_way_ms = 0;
  double sweep_ms = 0;          // 2-way: finding and scoring candidates (part of two_way_ms)
  double edges_ms = 0;          // 3-cycles: building the graph's edges (part of cycles_ms)
  double cycles_ms = 0;
  double total_ms = 0;
};

/// What a round returns. Move-only: its matches view the ids it owns.
struct round_result {
  round_result() = default;
  round_result(round_result&&) noexcept = default;
  round_result& operator=(round_result&&) noexcept = default;
  round_result(const round_result&) = delete;
  round_result& operator=(const round_result&) = delete;

  big_vector<match> matches;  // pairs (in ranking order), then cycles
  round_stats stats;
  /// The matched offers' ids, back to back (what match::offer_ids view).
  big_vector<char> id_bytes;
};

/// The open offers and their credit-ordered indexes. One owner (the matcher
/// actor) calls everything, from one thread at a time; run_round and
/// prepare use `threads` threads inside and return when they are done.
///
/// Offers live in slots of flat arrays (interned integer ids for owners,
/// events, categories and venues). Two flat indexes of fixed-size entries,
/// each one vector sorted by (group, side, credit, seq), so every group's
/// lists are credit-ordered (a credit window is a binary search, O(log n);
/// a round sweeps them sequentially instead):
///  * the pair index groups the offers that can want each other's tickets
///    (by the attribute pair {held value, wanted value}; both mirror lists
///    in one group), for the 2-way pass;
///  * the cycle index groups, per attribute value, the tickets that have it
///    and the offers that want it, for the 3-cycle pass.
/// Adds and removes between rounds wait in a pending list and are merged at
/// the start of the next round (`prepare`, O(entries)).
class offer_book {
public:
  explicit offer_book(match_config cfg = {});
  ~offer_book();
  offer_book(offer_book&&) noexcept;
  offer_book& operator=(offer_book&&) noexcept;
  offer_book(const offer_book&) = delete;
  offer_book& operator=(const offer_book&) = delete;

  /// Adds an open offer. False (and no change) for a duplicate id, a credit
  /// outside 1..max_credit_minor or a negative max_cash_minor. To change an
  /// offer, remove it and add the new version.
  bool add(offer o);
  /// Removes an offer (sold, withdrawn, traded). False if unknown.
  bool remove(std::string_view id);
  /// An excluded offer stays in the book but is never matched (it is in a
  /// proposed trade). False if unknown.
  bool set_excluded(std::string_view id, bool excluded);
  bool excluded(std::string_view id) const;
  bool contains(std::string_view id) const;
  /// Live offers (excluded ones included).
  size_t size() const;
  const offer* find(std::string_view id) const;
  const match_config& config() const;

  /// Merges buffered adds/removes into the index (also done by run_round).
  void prepare();

  /// One round: the greedy 2-way pass, then 3-cycles among the offers it left
  /// unmatched. Every offer of a returned match becomes excluded (it is in a
  /// proposed trade) until the caller calls set_excluded(id, false) or
  /// remove(id). Same book contents → same result, whatever the order of
  /// the adds.
  round_result run_round();

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tt::matching
