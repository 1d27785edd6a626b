// The trade-match engine: the offer book's index and one matching round.
// See matcher.hpp for the rules and docs/matching.md for the design.
#include "actors/matcher.hpp"

#include "actors/huge_page_allocator.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <atomic>
#include <bit>
#include <thread>
#include <type_traits>
#include <utility>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tt::matching {

// -- the rules on the public offer struct -------------------------------------

namespace {

constexpr double earth_radius_km = 6371.0088;
constexpr double xyz_scale = 32767.0;

using qvec = std::array<int8_t, pref_dims>;
using qxyz = std::array<int16_t, 3>;

/// The vector scaled to unit length and quantized to int8 (x 127); all zeros
/// if its norm is 0 or not finite.
qvec quantize(const pref_vector& v) {
  double n2 = 0;
  for (float x : v)
    n2 += static_cast<double>(x) * static_cast<double>(x);
  qvec q{};
  if (!(n2 > 0) || !std::isfinite(n2))
    return q;
  double n = std::sqrt(n2);
  for (size_t i = 0; i < pref_dims; ++i)
    q[i] = static_cast<int8_t>(std::lround(static_cast<double>(v[i]) / n * 127.0));
  return q;
}

/// The point on the unit sphere, each coordinate quantized to int16.
qxyz to_xyz(const geo_point& p) {
  constexpr double rad = 3.14159265358979323846 / 180.0;
  double la = p.lat * rad, lo = p.lon * rad;
  auto q = [](double c) { return static_cast<int16_t>(std::lround(std::clamp(c, -1.0, 1.0) * xyz_scale)); };
  return {q(std::cos(la) * std::cos(lo)), q(std::cos(la) * std::sin(lo)), q(std::sin(la))};
}

/// Cosine of two quantized vectors (exact integer dot products), 0 if either
/// is zero.
double qcos(const qvec& a, const qvec& b) {
  int32_t d = 0, na = 0, nb = 0;
  for (size_t i = 0; i < pref_dims; ++i) {
    d += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  if (na == 0 || nb == 0)
    return 0;
  return std::clamp(d / std::sqrt(static_cast<double>(na) * static_cast<double>(nb)), -1.0, 1.0);
}

/// Straight-line (chord) distance between two quantized points, km; within
/// 0.1 % of the great-circle distance below 1,000 km.
double chord_km(const qxyz& a, const qxyz& b) {
  int64_t s = 0;
  for (size_t i = 0; i < 3; ++i) {
    int64_t d = int64_t{a[i]} - int64_t{b[i]};
    s += d * d;
  }
  return earth_radius_km * std::sqrt(static_cast<double>(s)) / xyz_scale;
}

/// The six integer dot products of a pair's tastes: {ap.bt, ap.ap, bt.bt,
/// bp.at, bp.bp, at.at} (p = prefs, t = traits of offers a and b).
std::array<int32_t, 6> taste_dots(const qvec& ap, const qvec& at, const qvec& bp, const qvec& bt) {
  std::array<int32_t, 6> r{};
#if defined(__SSE2__)
  auto widen = [](const qvec& v) {  // 8 x int8 -> 8 x int16
    __m128i x = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(v.data()));
    return _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8);
  };
  const __m128i p = widen(ap), t = widen(at), q = widen(bp), u = widen(bt);
  // four vectors of four partial sums -> the four totals
  auto sum4 = [](__m128i v0, __m128i v1, __m128i v2, __m128i v3) {
    __m128i s01 = _mm_add_epi32(_mm_unpacklo_epi32(v0, v1), _mm_unpackhi_epi32(v0, v1));
    __m128i s23 = _mm_add_epi32(_mm_unpacklo_epi32(v2, v3), _mm_unpackhi_epi32(v2, v3));
    return _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23));
  };
  __m128i s0 = sum4(_mm_madd_epi16(p, u), _mm_madd_epi16(p, p), _mm_madd_epi16(u, u),
                    _mm_madd_epi16(q, t));
  __m128i s1 = sum4(_mm_madd_epi16(q, q), _mm_madd_epi16(t, t), _mm_setzero_si128(),
                    _mm_setzero_si128());
  alignas(16) std::array<int32_t, 8> out;
  _mm_store_si128(reinterpret_cast<__m128i*>(out.data()), s0);
  _mm_store_si128(reinterpret_cast<__m128i*>(out.data() + 4), s1);
  std::copy(out.begin(), out.begin() + 6, r.begin());
#else
  for (size_t i = 0; i < pref_dims; ++i) {
    r[0] += ap[i] * bt[i];
    r[1] += ap[i] * ap[i];
    r[2] += bt[i] * bt[i];
    r[3] += bp[i] * at[i];
    r[4] += bp[i] * bp[i];
    r[5] += at[i] * at[i];
  }
#endif
  return r;
}

/// out[i] = 300 + 150 (cos_ab + cos_ba), the two tastes of a pair, in
/// single precision: cos = d / sqrt(n) clamped to [-1, 1], 0 when n == 0.
void estimate_tastes(const float* dab, const float* nab, const float* dba, const float* nba,
                     float* out, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128 zero = _mm_setzero_ps(), lo = _mm_set1_ps(-1.f), hi = _mm_set1_ps(1.f);
  auto cos4 = [&](const float* d, const float* q) {
    __m128 nq = _mm_loadu_ps(q);
    __m128 c = _mm_div_ps(_mm_loadu_ps(d), _mm_sqrt_ps(nq));
    c = _mm_min_ps(_mm_max_ps(c, lo), hi);  // NaN (0 / 0) becomes -1 here ...
    return _mm_and_ps(c, _mm_cmpneq_ps(nq, zero));  // ... and 0 here
  };
  for (; i + 4 <= n; i += 4) {
    __m128 c = _mm_add_ps(cos4(dab + i, nab + i), cos4(dba + i, nba + i));
    _mm_storeu_ps(out + i, _mm_add_ps(_mm_set1_ps(300.f), _mm_mul_ps(_mm_set1_ps(150.f), c)));
  }
#endif
  for (; i < n; ++i) {
    auto cos1 = [](float d, float q) { return q == 0 ? 0.f : std::clamp(d / std::sqrt(q), -1.f, 1.f); };
    out[i] = 300.f + 150.f * (cos1(dab[i], nab[i]) + cos1(dba[i], nba[i]));
  }
}

/// The location and category points of a hop, loc + cat: symmetric in r
/// and g (the chord is), so a pair computes them once for both hops.
double place_points(bool same_venue, bool same_category, bool located_r, bool located_g,
                    const qxyz& lr, const qxyz& lg, double radius_km) {
  double loc = 0;
  if (same_venue)
    loc = 400;
  else if (located_r && located_g && radius_km > 0)
    loc = 400 * std::max(0.0, 1 - chord_km(lr, lg) / radius_km);
  double cat = same_category ? 300 : 0;
  return loc + cat;
}

/// The one place the hop score is computed (the public functions and the
/// book's hot loop both end here, on the same quantized inputs):
/// (loc + cat) + taste.
double score_kernel(double place, const qvec& prefs_r, const qvec& traits_g) {
  double taste = 150 * (1 + qcos(prefs_r, traits_g));
  return place + taste;
}

/// clamp(llround(x), 0, max_score), without the libm call: for 0 <= x <
/// max_score, x - trunc(x) is exact, so comparing it with 0.5 rounds half
/// away from zero exactly as llround does.
int64_t to_score(double x) {
  if (!(x > 0))
    return 0;
  if (x >= static_cast<double>(max_score))
    return max_score;
  auto r = static_cast<int64_t>(x);
  return x - static_cast<double>(r) >= 0.5 ? r + 1 : r;
}

bool list_has(const std::vector<std::string>& xs, const std::string& v) {
  return xs.empty() || std::find(xs.begin(), xs.end(), v) != xs.end();
}

/// Credit window of c: every x with credits_within(c, x, pct) lies in
/// [ceil((100-pct) c / 100), floor(100 c / (100-pct))] and nothing else does.
/// The division by d = 100 - pct (50..100) is a multiply by m = floor((2^64
/// - 1) / d) + 1, which is 2^64 / d + e with 0 <= e < 1: for n = 100 c <
/// 2^47, n m / 2^64 = n / d + n e / 2^64 with the error below 1 / d, so its
/// floor is floor(n / d) exactly.
struct credit_window {
  int64_t pct;
  uint64_t m;
  explicit credit_window(int64_t p)
      : pct(p), m(~uint64_t{0} / static_cast<uint64_t>(100 - p) + 1) {}
  std::pair<int64_t, int64_t> operator()(int64_t c) const {
    __extension__ using u128 = unsigned __int128;
    int64_t lo = ((100 - pct) * c + 99) / 100;
    auto hi = static_cast<int64_t>((u128{static_cast<uint64_t>(100 * c)} * m) >> 64);
    return {lo, hi};
  }
};

} // namespace

double hop_score(const offer& r, const offer& g, const match_config& cfg) {
  qxyz lr{}, lg{};
  if (r.location)
    lr = to_xyz(*r.location);
  if (g.location)
    lg = to_xyz(*g.location);
  return score_kernel(place_points(r.venue == g.venue, r.category == g.category,
                                   r.location.has_value(), g.location.has_value(), lr, lg,
                                   cfg.location_radius_km),
                      quantize(r.prefs), quantize(g.traits));
}

int64_t pair_score(const offer& a, const offer& b, const match_config& cfg) {
  return to_score((hop_score(a, b, cfg) + hop_score(b, a, cfg)) / 2);
}

bool want_satisfied(const want_spec& w, const offer& t) {
  return list_has(w.event_ids, t.event_id) && list_has(w.categories, t.category)
         && list_has(w.venues, t.venue);
}

bool credits_within(int64_t a, int64_t b, int64_t pct) {
  int64_t d = a > b ? a - b : b - a;
  return d * 100 <= pct * std::max(a, b);
}

int64_t gap_ppm(int64_t a, int64_t b) {
  int64_t d = a > b ? a - b : b - a;
  int64_t m = std::max(a, b);
  return m > 0 ? d * 1'000'000 / m : 0;
}

bool can_receive(const offer& r, const offer& g, const match_config& cfg) {
  if (r.owner == g.owner || !want_satisfied(r.want, g)
      || !credits_within(r.credit_minor, g.credit_minor, cfg.tolerance_pct))
    return false;
  int64_t pay = g.credit_minor - r.credit_minor;
  return pay <= 0 || pay <= r.want.max_cash_minor;
}

std::vector<int64_t> cycle_net_cash(std::span<const int64_t> credits) {
  std::vector<int64_t> net(credits.size());
  for (size_t i = 0; i < credits.size(); ++i)
    net[i] = credits[(i + 1) % credits.size()] - credits[i];
  return net;
}

std::vector<int64_t> net_cash(size_t parties, std::span<const ticket_flow> flows) {
  std::vector<int64_t> net(parties, 0);
  for (const auto& f : flows) {
    if (f.giver < parties)
      net[f.giver] -= f.credit_minor;
    if (f.receiver < parties)
      net[f.receiver] += f.credit_minor;
  }
  return net;
}

// -- the book ----------------------------------------------------------------
//
// Layout (see docs/matching.md): per-offer data in slot-indexed flat arrays;
// two flat indexes of fixed-size entries, each one vector sorted by
// (group, side, credit, seq):
//
//  * the pair index. An offer o with primary want list (kind W, values ws)
//    gets one entry per ticket kind K (event, venue, category, any) and per
//    w in ws, for the attribute pair (P, Q) = ((K, o's K-value), (W, w)).
//    Offers a and b want each other's ticket by their primary lists iff some
//    entry of a has (P, Q) and some entry of b has (Q, P) — and that pair of
//    entries is unique. Entries are grouped by the unordered pair {P, Q}
//    (side 0: P <= Q, side 1: P > Q), so a group holds both mirror lists,
//    each ordered by credit: the 2-way pass is one sequential sweep. An
//    entry carries what the sweep needs (owner, cash limit, the quantized
//    score inputs), so a candidate costs no random memory access unless an
//    offer has a second want list.
//  * the cycle index. Per attribute (K, v): the tickets with that value
//    (side 0) and the offers whose primary want list holds it (side 1): the
//    edges "A may receive B's ticket" come from one sweep.
//
// Adds wait in a pending vector; prepare() sorts them and merges them into
// the index in place (dropping removed offers), O(entries), no second buffer.

namespace {

using clk = std::chrono::steady_clock;
constexpr uint32_t no_id = std::numeric_limits<uint32_t>::max();
/// An index entry's cash limit has 24 bits; larger limits are read from hot[].
constexpr uint32_t cash_saturated = (uint32_t{1} << 24) - 1;

double ms_since(clk::time_point t0) {
  return std::chrono::duration<double, std::milli>(clk::now() - t0).count();
}

struct sv_hash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
using id_map = std::unordered_map<std::string, uint32_t, sv_hash, std::equal_to<>>;

constexpr uint32_t value_bits = 30;
constexpr uint32_t max_value = (1u << value_bits) - 1;

struct interner {
  id_map ids;
  uint32_t intern(const std::string& s) {
    auto [it, fresh] = ids.try_emplace(s, static_cast<uint32_t>(ids.size()));
    return it->second;
  }
};

enum flag : uint8_t {
  f_live = 1,
  f_excluded = 2,
  f_matched = 4,    // taken in this round
  f_secondary = 8,  // more than one non-empty want list
  f_located = 16,
  // index entries only: the offer's want lists other than its primary one
  // are exactly one category (entry::sec_category), checked inline
  f_sec_category = 32,
};

/// Attribute kinds, most selective first: an offer's primary want list is
/// its first non-empty list in this order (none: "any").
enum kind : uint32_t { k_event = 0, k_venue = 1, k_category = 2, k_any = 3 };
constexpr uint32_t kinds = 4;

uint32_t attr(uint32_t k, uint32_t v) {
  return (k << value_bits) | v;
}

struct hot_slot {
  int64_t credit = 0;
  int64_t max_cash = 0;
  uint64_t seq = 0;
  uint32_t owner = 0;
  std::array<uint32_t, kinds> t{};  // the ticket's value per kind; t[k_any] = 0
  uint32_t want_off = 0;            // want_pool: [events | categories | venues], sorted
  uint16_t n_ev = 0, n_cat = 0, n_ven = 0;
};

constexpr uint64_t side_bit = uint64_t{1} << 63;

/// An entry of the cycle index: the sort key, plus what a sweep checks
/// without reading the offer's slot (a random access): the cash limit, the
/// ticket's category and the offer's other want lists when they are one
/// category.
struct entry {
  uint64_t group;
  uint64_t side_credit;  // side << 63 | credit
  uint64_t seq;
  uint32_t slot;
  uint32_t owner;
  uint32_t max_cash : 24;  // saturated at cash_saturated (then hot[] has it)
  uint32_t flags : 8;      // f_secondary | f_located | f_sec_category
  uint16_t category;       // the ticket's
  uint16_t sec_category;   // with f_sec_category: the one category wanted besides the primary list
  int64_t credit() const { return static_cast<int64_t>(side_credit & ~side_bit); }
  bool side() const { return (side_credit & side_bit) != 0; }
};
static_assert(sizeof(entry) == 40);

/// An entry of the pair index: an entry plus what the sweep reads.
struct pair_entry : entry {
  uint32_t event;
  uint32_t venue;
  qxyz xyz;
  qvec prefs;
  qvec traits;
};
static_assert(sizeof(pair_entry) == 72);

template <class E>
bool entry_less(const E& a, const E& b) {
  if (a.group != b.group)
    return a.group < b.group;
  if (a.side_credit != b.side_credit)
    return a.side_credit < b.side_credit;
  return a.seq < b.seq;
}

template <class E>
struct flat_index {
  big_vector<E> main;
  big_vector<E> pending;
  bool removed = false;
};

struct cand {
  int64_t dist;  // |credit - c|
  uint64_t seq;
  uint32_t pos;  // index in the scanned list
};

/// A ranked 2-way pair or 3-cycle: key = band, then score (desc), then gap;
/// then the seqs.
struct ranked {
  uint64_t key;
  std::array<uint64_t, 3> seq;
  std::array<uint32_t, 3> slot;
};

/// A 2-way candidate as the sweep records it: its place in the rank order
/// (`order_codec`) and the two slots (lower seq first). 16 bytes: a round
/// sorts millions of them.
struct pair_cand {
  uint64_t order;
  uint32_t lo, hi;
};

/// A 2-way candidate waiting for its score: scores are computed in batches
/// (`score_batch`), so the square roots and divisions of many pairs overlap.
struct pending_score {
  const pair_entry* a;
  const pair_entry* b;
  int64_t gap;
  uint64_t seq_lo;
};

/// Packs a 2-way candidate's rank — band, score (descending), gap, then the
/// lower seq — into one integer whose order is the rank order, as
/// [band | max_score - score | gap within the band | seq_lo], when the
/// fields fit in 64 bits (they do unless seqs pass ~2^38 with the default
/// bands). Otherwise `packed` is false and the integer is the rank key
/// alone; cand_less then breaks ties with the seqs.
struct order_codec {
  bool packed = false;
  int64_t band_ppm = 1;
  unsigned band_bits = 0, score_bits = 0, gap_bits = 0, seq_bits = 0;

  /// gap / band_ppm (gap 0..500,000 ppm) as a multiply, as in
  /// credit_window: exact for gaps below 2^64 / band_ppm. A band of 1 is
  /// the gap; a band above 10^6 ppm holds every gap (band 0).
  uint64_t band_m = 0;
  uint64_t band_of(int64_t gap) const {
    __extension__ using u128 = unsigned __int128;
    if (band_m == 0)
      return band_ppm == 1 ? static_cast<uint64_t>(gap) : 0;
    return static_cast<uint64_t>((u128{static_cast<uint64_t>(gap)} * band_m) >> 64);
  }

  order_codec(const match_config& cfg, uint64_t max_seq)
      : band_ppm(cfg.gap_band_ppm),
        band_m(band_ppm == 1 || band_ppm > 1'000'000
                 ? 0 : ~uint64_t{0} / static_cast<uint64_t>(band_ppm) + 1) {
    const auto bands = static_cast<uint64_t>(cfg.tolerance_pct * 10000 / band_ppm) + 1;
    const auto max_gap = static_cast<uint64_t>(cfg.tolerance_pct * 10000);
    score_bits = static_cast<unsigned>(std::bit_width(static_cast<uint64_t>(max_score)));
    gap_bits = static_cast<unsigned>(
      std::bit_width(std::min(static_cast<uint64_t>(band_ppm) - 1, max_gap)));
    seq_bits = static_cast<unsigned>(std::bit_width(max_seq));
    band_bits = static_cast<unsigned>(std::bit_width(bands - 1));
    packed = band_bits + score_bits + gap_bits + seq_bits <= 64 && band_bits + score_bits <= 20;
  }

  /// The rank key alone (also the ranked key of cycles): band, score, gap.
  uint64_t key(int64_t gap, int64_t score) const {
    auto band = static_cast<uint64_t>(gap / band_ppm);
    return (band << 42) | (static_cast<uint64_t>(max_score - score) << 21)
           | static_cast<uint64_t>(gap);
  }

  uint64_t encode(int64_t gap, int64_t score, uint64_t seq_lo) const {
    if (!packed)
      return key(gap, score);
    auto band = band_of(gap);
    auto in_band = static_cast<uint64_t>(gap) - band * static_cast<uint64_t>(band_ppm);
    uint64_t x = (band << score_bits) | static_cast<uint64_t>(max_score - score);
    x = (x << gap_bits) | in_band;
    return seq_bits == 0 ? x : (x << seq_bits) | seq_lo;
  }

  /// The rank key of an encoded order.
  uint64_t key_of(uint64_t order) const {
    if (!packed)
      return order;
    uint64_t x = seq_bits >= 64 ? 0 : order >> seq_bits;
    uint64_t in_band = x & ((uint64_t{1} << gap_bits) - 1);
    x >>= gap_bits;
    auto score = max_score - static_cast<int64_t>(x & ((uint64_t{1} << score_bits) - 1));
    uint64_t band = x >> score_bits;
    return key(static_cast<int64_t>(band * static_cast<uint64_t>(band_ppm) + in_band), score);
  }
};

bool ranked_less(const ranked& a, const ranked& b) {
  if (a.key != b.key)
    return a.key < b.key;
  return a.seq < b.seq;
}

struct edge {
  uint32_t a, b;
  int64_t dist;
  uint64_t seq_b;
};

/// One bit per slot.
struct bitmap {
  big_vector<uint64_t> w;
  void reset(size_t n) { w.assign((n + 63) / 64, 0); }
  void set(uint32_t i) { w[i >> 6] |= uint64_t{1} << (i & 63); }
  bool test(uint32_t i) const { return (w[i >> 6] >> (i & 63)) & 1; }
};

} // namespace

/// One thread's share of a round: its scratch and what it found. A round
/// splits each index into contiguous runs of whole groups, one per worker;
/// the results do not depend on the split (see run_round).
struct worker {
  std::vector<cand> cands;
  big_vector<uint32_t> lists;
  big_vector<pair_cand> pcs;  // 2-way candidates, sorted by the worker
  big_vector<edge> edges;     // 3-cycle graph edges
  big_vector<entry> free_x;   // one cycle-index group's free tickets
  std::vector<pending_score> pend;  // the last pend.size() pcs, not scored yet
  std::vector<ranked> cycles;    // 3-cycles found from this worker's sources
  std::vector<size_t> at;  // per rank bucket: its candidates' count, then where they go in ranked_pcs
  std::vector<size_t> radix_count;
  big_vector<uint32_t> csr;  // parallel_csr: this thread's count, then next place, per key
  size_t scanned = 0;
  size_t truncated = 0;
};

/// Runs f(0) .. f(n-1), f(0) on the calling thread and the others on their
/// own threads; returns when all are done.
template <class F>
void run_parallel(size_t n, F&& f) {
  std::vector<std::thread> ts;
  ts.reserve(n > 0 ? n - 1 : 0);
  for (size_t i = 1; i < n; ++i)
    ts.emplace_back([&f, i] { f(i); });
  if (n > 0)
    f(0);
  for (auto& t : ts)
    t.join();
}

struct offer_book::impl {
  match_config cfg;
  big_vector<hot_slot> hot;
  big_vector<uint64_t> seqs;  // hot[s].seq, compact: the ranking's tiebreak reads it at random
  big_vector<uint8_t> fl;
  big_vector<offer> cold;
  big_vector<uint32_t> want_pool;
  size_t want_garbage = 0;
  std::vector<uint32_t> free_slots, pending_free;
  id_map by_id;
  interner owners, events, categories, venues;
  flat_index<pair_entry> pairs_ix;
  flat_index<entry> cycles_ix;
  size_t live = 0;
  // per-round scratch, kept so steady-state rounds do not allocate
  std::vector<worker> workers;
  uint64_t max_seq = 0;                 // of every offer ever added
  order_codec codec{match_config{}, 0};  // this round's (run_round sets it)
  credit_window window{3};
  bitmap ok;  // 2-way: eligible; cycles: eligible and not matched
  big_vector<ranked> cycles, chosen;  // ranked 3-cycles; the round's picks
  big_vector<pair_cand> ranked_pcs, radix_tmp;  // all 2-way candidates in rank order; sort scratch
  std::vector<size_t> bucket_start;
  big_vector<edge> by_src;
  big_vector<uint32_t> out_off, out_adj, in_off, in_adj, src_off;

  explicit impl(match_config c) : cfg(c) {
    cfg.tolerance_pct = std::clamp<int64_t>(cfg.tolerance_pct, 0, 50);
    cfg.gap_band_ppm = std::max<int64_t>(cfg.gap_band_ppm, 1);
    cfg.max_candidates = std::max<size_t>(cfg.max_candidates, 1);
    cfg.max_scan = std::max<size_t>(cfg.max_scan, 1);
    cfg.threads = std::clamp<size_t>(cfg.threads, 1, 64);
    workers.resize(cfg.threads);
    window = credit_window{cfg.tolerance_pct};
  }

  struct want_list {
    uint32_t kind;
    const uint32_t* p;
    uint16_t n;
  };

  want_list primary(const hot_slot& h) const {
    static const uint32_t zero = 0;
    const uint32_t* w = want_pool.data() + h.want_off;
    if (h.n_ev > 0)
      return {k_event, w, h.n_ev};
    if (h.n_ven > 0)
      return {k_venue, w + h.n_ev + h.n_cat, h.n_ven};
    if (h.n_cat > 0)
      return {k_category, w + h.n_ev, h.n_cat};
    return {k_any, &zero, 1};
  }

  void index_entries(uint32_t s) {
    const hot_slot& h = hot[s];
    const offer& o = cold[s];
    auto pw = primary(h);
    entry c{};
    c.seq = h.seq;
    c.slot = s;
    c.owner = h.owner;
    c.max_cash = h.max_cash >= cash_saturated ? cash_saturated : static_cast<uint32_t>(h.max_cash) & cash_saturated;
    c.category = static_cast<uint16_t>(h.t[k_category]);
    c.flags = fl[s] & (f_secondary | f_located) & 0xffu;
    // The primary list is events or venues (categories come last): the rest
    // is one category when there is no venue list besides it.
    if ((c.flags & f_secondary) && h.n_cat == 1 && (pw.kind == k_venue || h.n_ven == 0)) {
      uint32_t cat = want_pool[h.want_off + h.n_ev];
      if (cat <= std::numeric_limits<uint16_t>::max()) {
        c.sec_category = static_cast<uint16_t>(cat);
        c.flags = (c.flags | f_sec_category) & 0xffu;
      }
    }
    pair_entry e{};
    static_cast<entry&>(e) = c;
    e.event = h.t[k_event];
    e.venue = h.t[k_venue];
    if (o.location)
      e.xyz = to_xyz(*o.location);
    e.prefs = quantize(o.prefs);
    e.traits = quantize(o.traits);
    auto credit = static_cast<uint64_t>(h.credit);
    for (uint32_t k = 0; k < kinds; ++k) {
      uint32_t p = attr(k, h.t[k]);
      for (uint16_t i = 0; i < pw.n; ++i) {
        uint32_t q = attr(pw.kind, pw.p[i]);
        e.group = (uint64_t{std::min(p, q)} << 32) | std::max(p, q);
        e.side_credit = (p > q ? side_bit : 0) | credit;
        pairs_ix.pending.push_back(e);
      }
      c.group = p;
      c.side_credit = credit;
      cycles_ix.pending.push_back(c);
    }
    for (uint16_t i = 0; i < pw.n; ++i) {
      c.group = attr(pw.kind, pw.p[i]);
      c.side_credit = side_bit | credit;
      cycles_ix.pending.push_back(c);
    }
  }

  template <class Pool>
  static bool push_list(Pool& pool, interner& in,
                        const std::vector<std::string>& xs, uint16_t& n) {
    size_t start = pool.size();
    for (const auto& x : xs)
      pool.push_back(in.intern(x));
    std::sort(pool.begin() + static_cast<ptrdiff_t>(start), pool.end());
    pool.erase(std::unique(pool.begin() + static_cast<ptrdiff_t>(start), pool.end()), pool.end());
    n = static_cast<uint16_t>(pool.size() - start);
    return pool.empty() || pool.back() <= max_value;
  }

  bool add(offer o) {
    if (o.credit_minor < 1 || o.credit_minor > max_credit_minor || o.want.max_cash_minor < 0
        || o.want.event_ids.size() > 10000 || o.want.categories.size() > 10000
        || o.want.venues.size() > 10000 || by_id.contains(o.id))
      return false;
    hot_slot h{};
    h.credit = o.credit_minor;
    h.max_cash = o.want.max_cash_minor;
    h.seq = o.seq;
    h.owner = owners.intern(o.owner);
    h.t[k_event] = events.intern(o.event_id);
    h.t[k_venue] = venues.intern(o.venue);
    h.t[k_category] = categories.intern(o.category);
    h.want_off = static_cast<uint32_t>(want_pool.size());
    bool ok_ = push_list(want_pool, events, o.want.event_ids, h.n_ev)
               && push_list(want_pool, categories, o.want.categories, h.n_cat)
               && push_list(want_pool, venues, o.want.venues, h.n_ven)
               && std::max(h.t[k_event], h.t[k_venue]) <= max_value
               && h.t[k_category] <= std::numeric_limits<uint16_t>::max();
    if (!ok_) {  // more distinct values than an index key holds
      want_pool.resize(h.want_off);
      return false;
    }
    uint32_t s;
    if (!free_slots.empty()) {
      s = free_slots.back();
      free_slots.pop_back();
    } else {
      s = static_cast<uint32_t>(hot.size());
      hot.emplace_back();
      seqs.push_back(0);
      fl.push_back(0);
      cold.emplace_back();
    }
    hot[s] = h;
    seqs[s] = h.seq;
    int lists_n = (h.n_ev > 0) + (h.n_cat > 0) + (h.n_ven > 0);
    fl[s] = static_cast<uint8_t>(f_live | (lists_n > 1 ? f_secondary : 0)
                                 | (o.location ? f_located : 0));
    by_id.emplace(o.id, s);
    max_seq = std::max(max_seq, o.seq);
    cold[s] = std::move(o);
    index_entries(s);
    ++live;
    return true;
  }

  bool remove(std::string_view id) {
    auto it = by_id.find(id);
    if (it == by_id.end())
      return false;
    uint32_t s = it->second;
    by_id.erase(it);
    fl[s] = 0;
    // The offer's strings are freed now, not in the next round's prepare
    // (scattered over the heap: ~0.3 us each).
    cold[s] = offer{};
    pairs_ix.removed = true;
    cycles_ix.removed = true;
    pending_free.push_back(s);
    --live;
    return true;
  }

  /// Folds the pending entries into `main` in place: drops removed offers'
  /// entries (one forward pass, only if something was removed), then merges
  /// the sorted pending entries from the back. No second buffer, so a round
  /// with churn touches no new memory beyond main's growth.
  template <class E>
  void merge(flat_index<E>& ix) {
    if (ix.pending.empty() && !ix.removed)
      return;
    auto alive = [&](const E& e) { return (fl[e.slot] & f_live) != 0; };
    std::erase_if(ix.pending, [&](const E& e) { return !alive(e); });
    std::sort(ix.pending.begin(), ix.pending.end(), entry_less<E>);
    auto& m = ix.main;
    if (ix.removed)
      std::erase_if(m, [&](const E& e) { return !alive(e); });
    ix.removed = false;
    if (m.empty()) {  // the bulk load: adopt the pending buffer as is
      std::swap(m, ix.pending);
      ix.pending.clear();
      return;
    }
    const size_t nm = m.size(), np = ix.pending.size();
    if (np == 0)
      return;
    if (m.capacity() < nm + np)
      m.reserve(nm + np + nm / 8);
    m.resize(nm + np);
    size_t i = nm, j = np, w = nm + np;
    while (j > 0) {
      if (i > 0 && entry_less(ix.pending[j - 1], m[i - 1]))
        m[--w] = m[--i];
      else
        m[--w] = ix.pending[--j];
    }
    ix.pending.clear();
  }

  /// Gives `v` a capacity of at least n, touching the new memory once, so
  /// that a round does not page-fault (very slow on a VM) while it fills it.
  template <class V>
  static void warm(V& v, size_t n) {
    if (v.capacity() >= n)
      return;
    v.clear();
    v.resize(n);
    v.clear();
  }

  void prepare() {
    // The two indexes are independent: merged side by side when the round
    // may use more than one thread.
    run_parallel(std::min<size_t>(workers.size(), 2), [&](size_t i) {
      if (workers.size() == 1) {
        merge(pairs_ix);
        merge(cycles_ix);
      } else if (i == 0) {
        merge(pairs_ix);
      } else {
        merge(cycles_ix);
      }
    });
    // The round's scratch, sized to the book (an estimate; it grows if a
    // round needs more): about one 2-way candidate per pair-index entry (and
    // a second array of them to rank them) and `cycle_out_degree` edges per
    // offer.
    const size_t nw = workers.size();
    for (auto& w : workers) {
      // a worker's share of the candidates, with room for an uneven split
      warm(w.pcs, pairs_ix.main.size() * 5 / 4 / nw);
      warm(w.edges, live * cfg.cycle_out_degree / 2 / nw);
    }
    warm(ranked_pcs, pairs_ix.main.size() * 5 / 4);
    warm(radix_tmp, pairs_ix.main.size() * 5 / 4);
    warm(by_src, live * cfg.cycle_out_degree / 2);
    warm(out_adj, live * cfg.cycle_out_degree / 2);
    warm(in_adj, live * cfg.cycle_out_degree / 2);
    // Per-slot arrays of the cycle graph (and one per thread), and the
    // chosen pairs (about a quarter of the offers are matched in pairs).
    const size_t slots = hot.size() + hot.size() / 8 + 1;
    for (auto& w : workers) {
      warm(w.csr, slots);
      // the cycle pass copies a group's tickets here; the "any" group holds
      // every ticket
      warm(w.free_x, live + live / 8);
    }
    warm(out_off, slots);
    warm(src_off, slots);
    warm(in_off, slots);
    warm(chosen, live * 3 / 10);
    for (uint32_t s : pending_free) {
      const auto& h = hot[s];
      want_garbage += h.n_ev + h.n_cat + h.n_ven;
      hot[s] = hot_slot{};
      free_slots.push_back(s);
    }
    pending_free.clear();
    // Descending, so the lowest free slot is reused first.
    std::sort(free_slots.begin(), free_slots.end(), std::greater<>{});
    if (want_garbage > 4096 && want_garbage * 2 > want_pool.size())
      compact_wants();
  }

  void compact_wants() {
    big_vector<uint32_t> pool;
    pool.reserve(want_pool.size() - want_garbage);
    for (size_t s = 0; s < hot.size(); ++s) {
      auto& h = hot[s];
      if (!(fl[s] & f_live))
        continue;
      size_t n = h.n_ev + h.n_cat + h.n_ven;
      auto off = static_cast<uint32_t>(pool.size());
      pool.insert(pool.end(), want_pool.begin() + h.want_off, want_pool.begin() + h.want_off + n);
      h.want_off = off;
    }
    want_pool = std::move(pool);
    want_garbage = 0;
  }

  // -- predicates and scores ---------------------------------------------------

  static bool in_sorted(const uint32_t* p, uint16_t n, uint32_t v) {
    if (n <= 8) {
      for (uint16_t i = 0; i < n; ++i)
        if (p[i] == v)
          return true;
      return false;
    }
    return std::binary_search(p, p + n, v);
  }

  /// r's whole want accepts the ticket (event, category, venue).
  bool wants(uint32_t r, uint32_t event, uint32_t category, uint32_t venue) const {
    const hot_slot& hr = hot[r];
    const uint32_t* w = want_pool.data() + hr.want_off;
    return (hr.n_ev == 0 || in_sorted(w, hr.n_ev, event))
           && (hr.n_cat == 0 || in_sorted(w + hr.n_ev, hr.n_cat, category))
           && (hr.n_ven == 0 || in_sorted(w + hr.n_ev + hr.n_cat, hr.n_ven, venue));
  }

  bool wants(uint32_t r, uint32_t g) const {
    const hot_slot& hg = hot[g];
    return wants(r, hg.t[k_event], hg.t[k_category], hg.t[k_venue]);
  }

  /// r's want lists other than its primary one (the index group already
  /// matched that) accept the ticket of g.
  template <class G>
  bool rest_wants(const entry& r, const G& g) const {
    if (!(r.flags & f_secondary))
      return true;
    if (r.flags & f_sec_category)
      return g.category == r.sec_category;
    if constexpr (std::is_same_v<G, pair_entry>)
      return wants(r.slot, g.event, g.category, g.venue);
    else
      return wants(r.slot, g.slot);
  }

  int64_t max_cash(const entry& e) const {
    return e.max_cash == cash_saturated ? hot[e.slot].max_cash : int64_t{e.max_cash};
  }

  /// The same score from the offers (cycles; a handful per round).
  double hop(uint32_t r, uint32_t g) const { return hop_score(cold[r], cold[g], cfg); }

  // -- the nearest-in-credit scan ---------------------------------------------

  /// Collects into `cands` the `keep` valid entries of y[0, ny) nearest to
  /// credit c within [lo, hi], by (distance, seq): entries are examined in
  /// exactly that order (upward from `center`, the first entry >= c, which
  /// is already (credit, seq) order; downward one run of equal credit at a
  /// time, each run read forward), so the scan stops at the keep-th valid
  /// entry, or after max_scan entries. Returns whether a cap may have left
  /// valid entries out (entries of the window remained unexamined).
  template <class E, class Valid>
  bool nearest(std::vector<cand>& cands, const E* y, size_t ny, size_t center, int64_t c,
               int64_t lo, int64_t hi, size_t keep, Valid&& valid, size_t& scanned) const {
    cands.clear();
    size_t u = center, budget = cfg.max_scan;
    // The current downward run of equal credit is [d_beg, d_end), read
    // forward from dc; dc == d_end once the window's lower part is used up.
    size_t d_beg = center, d_end = center, dc = center;
    auto next_run = [&] {
      d_end = d_beg;
      if (d_end == 0 || y[d_end - 1].credit() < lo) {
        d_beg = dc = d_end;
        return;
      }
      const int64_t cr = y[d_end - 1].credit();
      size_t b = d_end - 1, step = 1;
      while (b >= step && y[b - step].credit() == cr) {
        b -= step;
        step *= 2;
      }
      size_t l = b >= step ? b - step + 1 : 0;
      d_beg = dc = static_cast<size_t>(
        std::partition_point(y + l, y + b, [&](const E& e) { return e.credit() < cr; }) - y);
    };
    next_run();
    for (;;) {
      bool has_d = dc < d_end;
      bool has_u = u < ny && y[u].credit() <= hi;
      if (!has_d && !has_u)
        return false;
      if (budget == 0 || cands.size() == keep)
        return true;
      size_t pos;
      int64_t dist;
      int64_t dd = has_d ? c - y[dc].credit() : std::numeric_limits<int64_t>::max();
      int64_t du = has_u ? y[u].credit() - c : std::numeric_limits<int64_t>::max();
      if (has_d && (dd < du || (dd == du && y[dc].seq < y[u].seq))) {
        pos = dc++;
        dist = dd;
        if (dc == d_end)
          next_run();
      } else {
        pos = u++;
        dist = du;
      }
      --budget;
      ++scanned;
      if (valid(y[pos]))
        cands.push_back({dist, y[pos].seq, static_cast<uint32_t>(pos)});
    }
  }

  // -- the round --------------------------------------------------------------

  /// 2-way within one pair-index group: each a of x against y (the mirror
  /// list, or x itself for a self-group), keeping its max_candidates nearest.
  /// `x_lists` / `y_lists` record each probe's picks (positions) so a pair
  /// found from both sides is emitted once.
  void join(worker& w, const pair_entry* x, size_t nx, const pair_entry* y, size_t ny, bool self,
            uint32_t* x_lists, const uint32_t* y_lists) const {
    auto& cands = w.cands;
    const size_t k = cfg.max_candidates;
    size_t center = 0;
    for (size_t i = 0; i < nx; ++i) {
      const pair_entry& a = x[i];
      uint32_t* mine = x_lists + i * k;
      std::fill(mine, mine + k, no_id);
      int64_t ca = a.credit();
      while (center < ny && y[center].credit() < ca)
        ++center;
      if (!ok.test(a.slot))
        continue;
      auto [lo, hi] = window(ca);
      hi = std::min(hi, ca + max_cash(a));
      auto valid = [&](const pair_entry& b) {
        if (b.slot == a.slot || b.owner == a.owner || !ok.test(b.slot))
          return false;
        int64_t pay = b.credit() - ca;  // > 0: a pays (window); < 0: b pays
        if (pay < 0 && -pay > max_cash(b))
          return false;
        return rest_wants(a, b) && rest_wants(b, a);
      };
      if (nearest(cands, y, ny, center, ca, lo, hi, k, valid, w.scanned))
        ++w.truncated;
      for (size_t c = 0; c < cands.size(); ++c) {
        uint32_t j = cands[c].pos;
        mine[c] = j;
        // Found from b's side already? (b probed before a and picked a.)
        const uint32_t* theirs = nullptr;
        if (self ? j < i : y_lists != nullptr)
          theirs = (self ? x_lists : y_lists) + size_t{j} * k;
        if (theirs && std::find(theirs, theirs + k, static_cast<uint32_t>(i)) != theirs + k)
          continue;
        const pair_entry& b = y[j];
        bool a_first = a.seq < b.seq;
        w.pend.push_back({&a, &b, gap_ppm(ca, b.credit()), a_first ? a.seq : b.seq});
        w.pcs.push_back({0, a_first ? a.slot : b.slot, a_first ? b.slot : a.slot});
      }
      if (w.pend.size() >= score_batch)
        score_pending(w);
    }
    score_pending(w);
  }

  static constexpr size_t score_batch = 256;

  /// Scores the pending candidates (the last w.pend.size() of w.pcs) and
  /// sets their orders: pair_score's result on the entries' quantized
  /// inputs, bit for bit (the place points once for both hops).
  ///
  /// The two tastes are first computed in single precision, four pairs at
  /// a time (SSE2): that estimate A of the unrounded pair score (0..1000)
  /// is within 1e-4 of the exact value (float error ~2e-7 on each cosine,
  /// x150, plus the roundings of sums below 600), while the double
  /// computation is within 1e-12 of it. So when A is more than 1e-3 away
  /// from every k + 0.5, rounding A gives the same integer as pair_score;
  /// otherwise (about 1 pair in 500) the pair is scored by pair_score's
  /// own double operations.
  void score_pending(worker& w) const {
    const size_t m = w.pend.size();
    if (m == 0)
      return;
    std::array<double, score_batch> s2, place, nab, nba;
    std::array<int32_t, score_batch> dab, dba;
    alignas(16) std::array<float, score_batch> fdab, fnab, fdba, fnba, tastes;
    std::array<uint8_t, score_batch> kind;  // 0 no location, 1 located, 2 same venue; + 4 same category
    std::array<uint16_t, score_batch> by_chord;  // the pairs whose place points need the distance
    for (size_t c0 = 0; c0 < m; c0 += score_batch) {
      const size_t n = std::min(score_batch, m - c0);
      for (size_t i = 0; i < n; ++i) {
        const pair_entry& a = *w.pend[c0 + i].a;
        const pair_entry& b = *w.pend[c0 + i].b;
        int64_t sq = 0;
        for (size_t t = 0; t < 3; ++t) {
          int64_t d = int64_t{a.xyz[t]} - int64_t{b.xyz[t]};
          sq += d * d;
        }
        s2[i] = static_cast<double>(sq);
        auto [d1, pa, tb, d2, pb, ta] = taste_dots(a.prefs, a.traits, b.prefs, b.traits);
        dab[i] = d1;
        nab[i] = static_cast<double>(pa) * static_cast<double>(tb);
        dba[i] = d2;
        nba[i] = static_cast<double>(pb) * static_cast<double>(ta);
        fdab[i] = static_cast<float>(d1);
        fnab[i] = static_cast<float>(nab[i]);
        fdba[i] = static_cast<float>(d2);
        fnba[i] = static_cast<float>(nba[i]);
        uint8_t k = a.venue == b.venue ? 2 : ((a.flags & b.flags & f_located) ? 1 : 0);
        kind[i] = static_cast<uint8_t>(k | (a.category == b.category ? 4 : 0));
      }
      // place_points: loc + cat; loc by the distance only for located
      // pairs at two venues (most pairs share their venue)
      const double radius = cfg.location_radius_km;
      size_t nd = 0;
      for (size_t i = 0; i < n; ++i) {
        place[i] = ((kind[i] & 2) ? 400.0 : 0.0) + ((kind[i] & 4) ? 300.0 : 0.0);
        if ((kind[i] & 3) == 1 && radius > 0)
          by_chord[nd++] = static_cast<uint16_t>(i);
      }
      for (size_t j = 0; j < nd; ++j) {
        const size_t i = by_chord[j];
        double chord = earth_radius_km * std::sqrt(s2[i]) / xyz_scale;
        double loc = 400 * std::max(0.0, 1 - chord / radius);
        place[i] = loc + ((kind[i] & 4) ? 300.0 : 0.0);
      }
      estimate_tastes(fdab.data(), fnab.data(), fdba.data(), fnba.data(), tastes.data(), n);
      for (size_t i = 0; i < n; ++i) {
        const double estimate = place[i] + 0.5 * static_cast<double>(tastes[i]);
        auto r = static_cast<int64_t>(estimate);  // estimate >= 0
        const double frac = estimate - static_cast<double>(r);
        int64_t score;
        if (frac > 0.499 && frac < 0.501) {  // too close to call: the exact operations
          double cab = nab[i] == 0 ? 0.0 : std::clamp(dab[i] / std::sqrt(nab[i]), -1.0, 1.0);
          double cba = nba[i] == 0 ? 0.0 : std::clamp(dba[i] / std::sqrt(nba[i]), -1.0, 1.0);
          double hab = place[i] + 150 * (1 + cab);
          double hba = place[i] + 150 * (1 + cba);
          score = to_score((hab + hba) / 2);
        } else {
          score = std::clamp<int64_t>(frac > 0.5 ? r + 1 : r, 0, max_score);
        }
        const auto& p = w.pend[c0 + i];
        w.pcs[w.pcs.size() - m + c0 + i].order = codec.encode(p.gap, score, p.seq_lo);
      }
    }
    w.pend.clear();
  }

  /// Calls f(group, x, nx, y, ny) for each group of v[b, e) (b and e on
  /// group boundaries): x the side-0 entries, y the side-1 entries.
  template <class E, class F>
  static void for_groups(const E* v, size_t b, size_t e, F&& f) {
    size_t i = b;
    while (i < e) {
      uint64_t g = v[i].group;
      size_t s = i;
      while (s < e && v[s].group == g && !v[s].side())
        ++s;
      size_t j = s;
      while (j < e && v[j].group == g)
        ++j;
      f(g, v + i, s - i, v + s, j - s);
      i = j;
    }
  }

  /// Splits v into `parts` runs of whole groups of about equal size:
  /// returns parts + 1 boundaries.
  template <class V>
  static std::vector<size_t> split_groups(const V& v, size_t parts) {
    std::vector<size_t> cut{0};
    const size_t n = v.size();
    for (size_t p = 1; p < parts; ++p) {
      size_t i = std::max(cut.back(), n * p / parts);
      while (i > 0 && i < n && v[i].group == v[i - 1].group)
        ++i;
      cut.push_back(i);
    }
    cut.push_back(n);
    return cut;
  }

  /// The 2-way candidates of pair-index entries [b, e) into w.pcs.
  void sweep_pairs(worker& w, size_t b, size_t e) const {
    const size_t k = cfg.max_candidates;
    for_groups(pairs_ix.main.data(), b, e, [&](uint64_t g, const pair_entry* x, size_t nx,
                                                const pair_entry* y, size_t ny) {
      if ((g >> 32) == (g & 0xffffffffu)) {  // P == Q: one list, matched with itself
        if (nx < 2)
          return;
        w.lists.resize(nx * k);
        join(w, x, nx, x, nx, true, w.lists.data(), nullptr);
      } else if (nx > 0 && ny > 0) {
        w.lists.resize((nx + ny) * k);
        join(w, x, nx, y, ny, false, w.lists.data(), nullptr);
        join(w, y, ny, x, nx, false, w.lists.data() + nx * k, w.lists.data());
      }
    });
  }

  /// Chunks of groups a sweep is cut into: threads take the next free chunk,
  /// so an expensive part of the index does not leave the others idle.
  static size_t chunks_for(size_t threads) { return threads == 1 ? 1 : threads * 16; }

  /// Puts every worker's candidates into ranked_pcs in rank order
  /// (cand_less). Packed orders: by rank bucket, the order's top bits (a
  /// counting sort: the workers count, then each scatters its own
  /// candidates to their places), then the workers sort the buckets (taking
  /// runs of buckets one at a time): small ones by comparison, large ones by
  /// an LSD radix sort on the bits below the bucket (digits of at most 11
  /// bits; a digit the same for the whole bucket is skipped), stable, so
  /// that only runs of equal orders (one lower offer with two partners of
  /// the same rank) are left to order by the higher seq. Otherwise (seqs
  /// too large to pack) one comparison sort.
  void rank_candidates(const order_codec& codec) {
    auto less = [this, &codec](const pair_cand& x, const pair_cand& z) {
      return cand_less(codec, x, z);
    };
    const size_t nw = workers.size();
    size_t total = 0;
    for (const auto& w : workers)
      total += w.pcs.size();
    ranked_pcs.resize(total);
    if (!codec.packed) {
      size_t at = 0;
      for (const auto& w : workers) {
        std::copy(w.pcs.begin(), w.pcs.end(), ranked_pcs.begin() + static_cast<ptrdiff_t>(at));
        at += w.pcs.size();
      }
      std::sort(ranked_pcs.begin(), ranked_pcs.end(), less);
      return;
    }
    const unsigned bits = codec.band_bits + codec.score_bits + codec.gap_bits + codec.seq_bits;
    const unsigned bucket_bits = std::min(bits, 14u);
    const unsigned low = bits - bucket_bits;  // the bits sorted inside a bucket
    const size_t buckets = size_t{1} << bucket_bits;
    auto bucket = [low](uint64_t order) { return low >= 64 ? 0 : order >> low; };
    run_parallel(nw, [&](size_t i) {
      auto& w = workers[i];
      w.at.assign(buckets, 0);
      for (const auto& c : w.pcs)
        ++w.at[bucket(c.order)];
    });
    bucket_start.assign(buckets + 1, 0);
    for (size_t b = 0, sum = 0; b < buckets; ++b) {
      bucket_start[b] = sum;
      for (auto& w : workers)
        sum += std::exchange(w.at[b], sum);
      bucket_start[b + 1] = sum;
    }
    run_parallel(nw, [&](size_t i) {
      auto& w = workers[i];
      pair_cand* out = ranked_pcs.data();
      for (const auto& c : w.pcs)
        out[w.at[bucket(c.order)]++] = c;
    });
    // Runs of whole buckets of about total / (16 nw) candidates each.
    std::vector<size_t> cut{0};
    const size_t unit = std::max<size_t>(total / (nw * 16), 1);
    for (size_t b = 1; b < buckets; ++b)
      if (bucket_start[b] - bucket_start[cut.back()] >= unit)
        cut.push_back(b);
    cut.push_back(buckets);
    radix_tmp.resize(std::max(radix_tmp.size(), total));
    std::atomic<size_t> next{0};
    run_parallel(nw, [&](size_t i) {
      auto& w = workers[i];
      for (size_t u; (u = next.fetch_add(1)) + 1 < cut.size();)
        for (size_t b = cut[u]; b < cut[u + 1]; ++b)
          sort_bucket(w, codec, low, bucket_start[b], bucket_start[b + 1]);
    });
  }

  /// Sorts ranked_pcs[from, to), one rank bucket (the orders differ only in
  /// their `low` bits), by cand_less.
  void sort_bucket(worker& w, const order_codec& codec, unsigned low, size_t from, size_t to) {
    auto less = [this, &codec](const pair_cand& x, const pair_cand& z) {
      return cand_less(codec, x, z);
    };
    const size_t n = to - from;
    pair_cand* v = ranked_pcs.data() + from;
    if (n < 2)
      return;
    if (n < 512 || low == 0) {
      std::sort(v, v + n, less);
      return;
    }
    const unsigned passes = (low + 10) / 11;
    const unsigned width = (low + passes - 1) / passes;
    const size_t radix = size_t{1} << width;
    const uint64_t mask = radix - 1;
    auto& count = w.radix_count;
    count.assign(radix * passes, 0);
    for (size_t i = 0; i < n; ++i)
      for (unsigned p = 0; p < passes; ++p)
        ++count[p * radix + ((v[i].order >> (p * width)) & mask)];
    pair_cand* src = v;
    pair_cand* dst = radix_tmp.data() + from;
    for (unsigned p = 0; p < passes; ++p) {
      size_t* cnt = count.data() + p * radix;
      if (*std::max_element(cnt, cnt + radix) == n)
        continue;  // one digit value: this pass would not move anything
      size_t sum = 0;
      for (size_t d = 0; d < radix; ++d)
        sum += std::exchange(cnt[d], sum);
      const unsigned shift = p * width;
      for (size_t i = 0; i < n; ++i) {
        const pair_cand c = src[i];
        dst[cnt[(c.order >> shift) & mask]++] = c;
      }
      std::swap(src, dst);
    }
    if (src != v)
      std::copy(src, src + n, v);
    // Equal orders: by the higher seq (read at random: prefetched a little
    // ahead).
    constexpr size_t ahead = 16;
    for (size_t i = 0; i + 1 < n;) {
      if (i + ahead + 1 < n && v[i + ahead].order == v[i + ahead + 1].order) {
        __builtin_prefetch(&seqs[v[i + ahead].hi]);
        __builtin_prefetch(&seqs[v[i + ahead + 1].hi]);
      }
      size_t j = i + 1;
      while (j < n && v[j].order == v[i].order)
        ++j;
      if (j - i > 1)
        std::sort(v + i, v + j, less);
      i = j;
    }
  }

  /// The rank order of 2-way candidates: key (band, score, gap), then the
  /// lower seq, then the higher. Total on distinct pairs.
  bool cand_less(const order_codec& codec, const pair_cand& x, const pair_cand& z) const {
    if (x.order != z.order)
      return x.order < z.order;
    if (!codec.packed && seqs[x.lo] != seqs[z.lo])
      return seqs[x.lo] < seqs[z.lo];
    return seqs[x.hi] < seqs[z.hi];
  }

  round_result run_round() {
    auto t0 = clk::now();
    round_result res;
    auto& st = res.stats;
    prepare();
    st.prepare_ms = ms_since(t0);
    st.offers = live;
    const auto n = static_cast<uint32_t>(hot.size());
    ok.reset(n);
    for (uint32_t s = 0; s < n; ++s) {
      fl[s] &= static_cast<uint8_t>(~f_matched);
      if ((fl[s] & (f_live | f_excluded)) == f_live) {
        ok.set(s);
        ++st.eligible;
      }
    }

    // 2-way: candidates from both sides of every group, each pair once
    // (workers on disjoint runs of groups, each sorting its own candidates
    // by rank); then the sorted runs merged, taken greedily: a pair whose
    // offers are both still free is chosen. Rank order is total on distinct
    // pairs, so the result does not depend on the split.
    auto t1 = clk::now();
    chosen.clear();
    const size_t nw = workers.size();
    codec = order_codec{cfg, max_seq};
    auto cut = split_groups(pairs_ix.main, chunks_for(nw));
    std::atomic<size_t> next_chunk{0};
    run_parallel(nw, [&](size_t i) {
      auto& w = workers[i];
      w.pcs.clear();
      w.scanned = w.truncated = 0;
      for (size_t c; (c = next_chunk.fetch_add(1)) + 1 < cut.size();)
        sweep_pairs(w, cut[c], cut[c + 1]);
    });
    for (const auto& w : workers) {
      st.candidate_pairs += w.pcs.size();
      st.entries_scanned += w.scanned;
      st.truncated_scans += w.truncated;
    }
    rank_candidates(codec);
    st.sweep_ms = ms_since(t1);
    // The greedy pass over all candidates in rank order.
    for (const pair_cand& c : ranked_pcs) {
      if ((fl[c.lo] | fl[c.hi]) & f_matched)
        continue;
      fl[c.lo] |= f_matched;
      fl[c.hi] |= f_matched;
      ranked r{};
      r.key = codec.key_of(c.order);
      r.slot = {c.lo, c.hi, no_id};
      r.seq = {seqs[c.lo], seqs[c.hi], 0};
      chosen.push_back(r);
    }
    st.pairs = chosen.size();
    st.two_way_ms = ms_since(t1);

    // 3-cycles among the eligible offers left unmatched.
    auto t2 = clk::now();
    if (cfg.cycle_out_degree > 0) {
      ok.reset(n);
      for (uint32_t s = 0; s < n; ++s)
        if ((fl[s] & (f_live | f_excluded | f_matched)) == f_live)
          ok.set(s);
      find_cycles(res, n);
    }
    st.cycles = chosen.size() - st.pairs;
    st.cycles_ms = ms_since(t2);
    emit(res);

    // Every offer in a proposed trade is excluded until the caller clears it.
    for (uint32_t s = 0; s < n; ++s)
      if (fl[s] & f_matched)
        fl[s] = static_cast<uint8_t>((fl[s] | f_excluded) & ~f_matched);
    st.total_ms = ms_since(t0);
    return res;
  }

  /// A counting sort into CSR form on the round's threads: count(wi, key)
  /// calls key(k) for each item thread wi holds (k < n); place(wi, place)
  /// calls place(k) for the same items in the same order, which returns
  /// the item's index. `off` gets the n + 1 offsets; within one k the items
  /// keep the threads' order, then each thread's own.
  template <class Count, class Place>
  void parallel_csr(uint32_t n, big_vector<uint32_t>& off, Count&& count, Place&& place) {
    const size_t nw = workers.size();
    run_parallel(nw, [&](size_t wi) {
      auto& c = workers[wi].csr;
      c.assign(n, 0);
      count(wi, [&c](uint32_t k) { ++c[k]; });
    });
    off.resize(n + 1);
    uint32_t sum = 0;
    for (uint32_t k = 0; k < n; ++k) {
      off[k] = sum;
      for (auto& w : workers)
        sum += std::exchange(w.csr[k], sum);
    }
    off[n] = sum;
    run_parallel(nw, [&](size_t wi) {
      auto& c = workers[wi].csr;
      place(wi, [&c](uint32_t k) { return c[k]++; });
    });
  }

  void find_cycles(round_result& res, uint32_t n) {
    auto& st = res.stats;
    const size_t deg = cfg.cycle_out_degree;
    // Edges A -> B (A may receive B's ticket: rules 1-4 for A; B's side is
    // its own edge to the next party), from one sweep of the cycle index.
    auto t_edges = clk::now();
    // Each group's ticket list is first filtered to the offers still free
    // (eligible and not in a 2-way match), so the scans (and max_scan) see
    // only those: after the 2-way pass about half the tickets are taken.
    // Workers take disjoint runs of groups; the graph below does not depend
    // on the order of the edges.
    const size_t nw = workers.size();
    auto cut = split_groups(cycles_ix.main, chunks_for(nw));
    std::atomic<size_t> next_chunk{0};
    run_parallel(nw, [&](size_t wi) {
      auto& w = workers[wi];
      w.edges.clear();
      w.scanned = 0;
      for (size_t ci; (ci = next_chunk.fetch_add(1)) + 1 < cut.size();)
      for_groups(cycles_ix.main.data(), cut[ci], cut[ci + 1],
                 [&](uint64_t, const entry* x0, size_t nx0, const entry* y, size_t ny) {
        if (nx0 == 0 || ny == 0)
          return;
        // branch-free: which tickets are free follows no pattern
        if (w.free_x.size() < nx0)
          w.free_x.resize(nx0);
        size_t nx = 0;
        for (size_t i = 0; i < nx0; ++i) {
          w.free_x[nx] = x0[i];
          nx += ok.test(x0[i].slot);
        }
        const entry* x = w.free_x.data();
        if (nx == 0)
          return;
        size_t center = 0;
        for (size_t i = 0; i < ny; ++i) {
          const entry& a = y[i];
          int64_t ca = a.credit();
          while (center < nx && x[center].credit() < ca)
            ++center;
          if (!ok.test(a.slot))
            continue;
          auto [lo, hi] = window(ca);
          hi = std::min(hi, ca + max_cash(a));
          auto valid = [&](const entry& b) {
            return b.slot != a.slot && b.owner != a.owner && rest_wants(a, b);
          };
          nearest(w.cands, x, nx, center, ca, lo, hi, deg, valid, w.scanned);
          for (const auto& c : w.cands)
            w.edges.push_back({a.slot, x[c.pos].slot, c.dist, c.seq});
        }
      });
    });
    size_t n_edges = 0;
    for (const auto& w : workers) {
      st.entries_scanned += w.scanned;
      n_edges += w.edges.size();
    }
    st.edges_ms = ms_since(t_edges);
    // CSR by source; each source keeps its `deg` nearest, sorted by target.
    by_src.resize(n_edges);
    parallel_csr(
      n, out_off,
      [&](size_t wi, auto&& key) {
        for (const auto& e : workers[wi].edges)
          key(e.a);
      },
      [&](size_t wi, auto&& place) {
        for (const auto& e : workers[wi].edges)
          by_src[place(e.a)] = e;
      });
    // Each source's kept edges (its `deg` nearest) get their place first, so
    // the threads can fill disjoint ranges of sources.
    src_off.assign(n + 1, 0);
    for (uint32_t a = 0; a < n; ++a)
      src_off[a + 1] = src_off[a] + std::min<uint32_t>(out_off[a + 1] - out_off[a],
                                                       static_cast<uint32_t>(deg));
    out_adj.resize(src_off[n]);
    run_parallel(nw, [&](size_t wi) {
      for (uint32_t a = static_cast<uint32_t>(n * wi / nw); a < n * (wi + 1) / nw; ++a) {
        auto b = by_src.begin() + out_off[a], e = by_src.begin() + out_off[a + 1];
        if (static_cast<size_t>(e - b) > deg) {
          std::partial_sort(b, b + static_cast<ptrdiff_t>(deg), e, [](const edge& x, const edge& z) {
            return x.dist != z.dist ? x.dist < z.dist : x.seq_b < z.seq_b;
          });
          e = b + static_cast<ptrdiff_t>(deg);
        }
        auto out = out_adj.begin() + src_off[a];
        for (auto it = b; it != e; ++it)
          *out++ = it->b;
        std::sort(out_adj.begin() + src_off[a], out);
      }
    });
    std::swap(out_off, src_off);
    st.cycle_edges = out_adj.size();
    // in-lists, sources ascending (threads take ascending ranges of sources,
    // and parallel_csr keeps the threads' order)
    in_adj.resize(out_adj.size());
    auto sources = [n, nw](size_t wi) {
      return std::pair{static_cast<uint32_t>(n * wi / nw), static_cast<uint32_t>(n * (wi + 1) / nw)};
    };
    parallel_csr(
      n, in_off,
      [&](size_t wi, auto&& key) {
        auto [from, to] = sources(wi);
        for (uint32_t j = out_off[from]; j < out_off[to]; ++j)
          key(out_adj[j]);
      },
      [&](size_t wi, auto&& place) {
        auto [from, to] = sources(wi);
        for (uint32_t a = from; a < to; ++a)
          for (uint32_t j = out_off[a]; j < out_off[a + 1]; ++j)
            in_adj[place(out_adj[j])] = a;
      });
    // Each cycle once, from its lowest-seq member A: A -> B -> C -> A with
    // seq(B), seq(C) > seq(A); C in out(B) ∩ in(A) (both sorted). Threads
    // take disjoint ranges of A; the ranking below orders them all.
    run_parallel(nw, [&](size_t wi) {
      auto& found = workers[wi].cycles;
      found.clear();
      for (uint32_t a = static_cast<uint32_t>(n * wi / nw); a < n * (wi + 1) / nw; ++a) {
        if (in_off[a] == in_off[a + 1] || out_off[a] == out_off[a + 1])
          continue;
        const uint64_t sa = seqs[a];
        const uint32_t* in_b = in_adj.data() + in_off[a];
        const uint32_t* in_e = in_adj.data() + in_off[a + 1];
        for (uint32_t j = out_off[a]; j < out_off[a + 1]; ++j) {
          uint32_t b = out_adj[j];
          if (seqs[b] < sa)
            continue;
          const uint32_t* ob = out_adj.data() + out_off[b];
          const uint32_t* oe = out_adj.data() + out_off[b + 1];
          const uint32_t* ip = in_b;
          while (ob != oe && ip != in_e) {
            if (*ob < *ip) {
              ++ob;
            } else if (*ip < *ob) {
              ++ip;
            } else {
              uint32_t c = *ob;
              if (c != a && seqs[c] > sa)
                found.push_back(make_cycle(a, b, c));
              ++ob;
              ++ip;
            }
          }
        }
      }
    });
    cycles.clear();
    for (const auto& w : workers)
      cycles.insert(cycles.end(), w.cycles.begin(), w.cycles.end());
    std::sort(cycles.begin(), cycles.end(), ranked_less);
    st.cycles_found = cycles.size();
    for (const auto& cy : cycles) {
      if ((fl[cy.slot[0]] | fl[cy.slot[1]] | fl[cy.slot[2]]) & f_matched)
        continue;
      for (uint32_t s : cy.slot)
        fl[s] |= f_matched;
      chosen.push_back(cy);
    }
  }

  ranked make_cycle(uint32_t a, uint32_t b, uint32_t c) const {
    ranked r{};
    r.slot = {a, b, c};
    r.seq = {seqs[a], seqs[b], seqs[c]};
    int64_t gap = std::max({gap_ppm(hot[a].credit, hot[b].credit),
                            gap_ppm(hot[b].credit, hot[c].credit),
                            gap_ppm(hot[c].credit, hot[a].credit)});
    int64_t score = to_score((hop(a, b) + hop(b, c) + hop(c, a)) / 3);
    r.key = codec.key(gap, score);  // the same key as the 2-way pairs'
    return r;
  }

  /// Writes the chosen pairs and cycles into `res`: the ids copied once into
  /// res.id_bytes, the matches viewing them.
  void emit(round_result& res) {
    auto parties = [](const ranked& r) { return r.slot[2] == no_id ? size_t{2} : size_t{3}; };
    // The offers' ids and credits are read at random: prefetched a few
    // matches ahead; the threads take contiguous ranges of the matches.
    constexpr size_t ahead = 8;
    auto prefetch = [&](size_t j) {
      const ranked& r = chosen[j];
      for (size_t i = 0; i < parties(r); ++i) {
        __builtin_prefetch(&cold[r.slot[i]].id);
        __builtin_prefetch(&hot[r.slot[i]].credit);
      }
    };
    const size_t nm = chosen.size(), nw = std::min(workers.size(), nm / 4096 + 1);
    auto range = [&](size_t wi) { return std::pair{nm * wi / nw, nm * (wi + 1) / nw}; };
    std::vector<size_t> bytes_at(nw + 1, 0);
    run_parallel(nw, [&](size_t wi) {
      auto [b, e] = range(wi);
      size_t bytes = 0;
      for (size_t j = b; j < e; ++j) {
        if (j + ahead < e)
          prefetch(j + ahead);
        const ranked& r = chosen[j];
        for (size_t i = 0; i < parties(r); ++i)
          bytes += cold[r.slot[i]].id.size();
      }
      bytes_at[wi + 1] = bytes;
    });
    for (size_t wi = 0; wi < nw; ++wi)
      bytes_at[wi + 1] += bytes_at[wi];
    res.id_bytes.resize(bytes_at[nw]);
    res.matches.resize(nm);
    run_parallel(nw, [&](size_t wi) {
      auto [b, e] = range(wi);
      char* out = res.id_bytes.data() + bytes_at[wi];
      for (size_t j = b; j < e; ++j) {
        if (j + ahead < e)
          prefetch(j + ahead);
        const ranked& r = chosen[j];
        const size_t n = parties(r);
        match& m = res.matches[j];
        std::array<int64_t, 3> credits{};
        for (size_t i = 0; i < n; ++i) {
          const std::string& id = cold[r.slot[i]].id;
          std::copy(id.begin(), id.end(), out);
          m.offer_ids.push_back(std::string_view{out, id.size()});
          out += id.size();
          m.seqs.push_back(r.seq[i]);
          credits[i] = hot[r.slot[i]].credit;
        }
        // cycle_net_cash, inline: party i receives party i+1's ticket.
        for (size_t i = 0; i < n; ++i)
          m.net_cash_minor.push_back(credits[(i + 1) % n] - credits[i]);
        m.gap_ppm = static_cast<int64_t>(r.key & ((uint64_t{1} << 21) - 1));
        m.score = max_score - static_cast<int64_t>((r.key >> 21) & ((uint64_t{1} << 21) - 1));
      }
    });
  }
};

offer_book::offer_book(match_config cfg) : impl_(std::make_unique<impl>(cfg)) {}
offer_book::~offer_book() = default;
offer_book::offer_book(offer_book&&) noexcept = default;
offer_book& offer_book::operator=(offer_book&&) noexcept = default;

bool offer_book::add(offer o) {
  return impl_->add(std::move(o));
}

bool offer_book::remove(std::string_view id) {
  return impl_->remove(id);
}

bool offer_book::set_excluded(std::string_view id, bool excluded) {
  auto it = impl_->by_id.find(id);
  if (it == impl_->by_id.end())
    return false;
  auto& f = impl_->fl[it->second];
  f = excluded ? (f | f_excluded) : (f & static_cast<uint8_t>(~f_excluded));
  return true;
}

bool offer_book::excluded(std::string_view id) const {
  auto it = impl_->by_id.find(id);
  return it != impl_->by_id.end() && (impl_->fl[it->second] & f_excluded);
}

bool offer_book::contains(std::string_view id) const {
  return impl_->by_id.find(id) != impl_->by_id.end();
}

size_t offer_book::size() const {
  return impl_->live;
}

const offer* offer_book::find(std::string_view id) const {
  auto it = impl_->by_id.find(id);
  return it == impl_->by_id.end() ? nullptr : &impl_->cold[it->second];
}

const match_config& offer_book::config() const {
  return impl_->cfg;
}

void offer_book::prepare() {
  impl_->prepare();
}

round_result offer_book::run_round() {
  return impl_->run_round();
}

} // namespace tt::matching
