// Codecs: every event payload and snapshot state round-trips through Cap'n
// Proto, hostile bytes never crash a decoder (deterministic mutation fuzz),
// a union member from a newer schema decodes as unknown_payload, and every
// message type of the CAF type-ID block survives its inspect() round trip.
#include <doctest/doctest.h>
#include <iterator>
#include <fstream>
#include <filesystem>

#include <cstring>
#include <random>
#include <tuple>
#include <utility>

#include "caf/actor_system.hpp"
#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"
#include "caf/sec.hpp"
#include "messages/account.hpp"
#include "messages/events.hpp"
#include "messages/journal.hpp"
#include "messages/notify.hpp"
#include "messages/type_ids.hpp"
#include "support.hpp"

using namespace tt;

namespace {

const std::string sealed_bytes = std::string("\0\x01sealed\0\xff\x80\0tail\0", 16);

event_envelope envelope(event_payload p, uint64_t seq = 7) {
  event_envelope e;
  e.schema_version = 1;
  e.kind = entity_kind::ticket;
  e.entity_id = "Xq3VJwz1nYp0b8rT4kLm2A";
  e.seq = seq;
  e.timestamp_ms = 1780000000123;
  e.event_id = "evt-" + std::to_string(seq);
  e.causation_id = "cause-9";
  e.correlation_id = "req-31";
  e.user_id = "seller-1";
  e.device_hash = "ab12cd34";
  e.ip = "2001:db8::1";
  e.payload = std::move(p);
  return e;
}

ticket_listed sample_listed() {
  ticket_listed x;
  x.fields = unit::sample_fields(3);
  x.fields.seats = {"14", "15", "16"};
  x.seller = "seller-1";
  x.barcode_hash = std::string(64, 'a');
  x.barcode_sealed = sealed_bytes;
  x.dedup_hash = std::string(64, 'd');
  return x;
}

event_envelope round_trip(const event_envelope& e) {
  auto bytes = encode_event(e);
  CHECK(bytes.size() % 8 == 0);
  std::string why;
  auto back = decode_event(bytes, &why);
  REQUIRE_MESSAGE(back.has_value(), "decode failed: " << why);
  return *back;
}

void check_envelope_header(const event_envelope& got, const event_envelope& want) {
  CHECK(got.schema_version == want.schema_version);
  CHECK(got.kind == want.kind);
  CHECK(got.entity_id == want.entity_id);
  CHECK(got.seq == want.seq);
  CHECK(got.timestamp_ms == want.timestamp_ms);
  CHECK(got.event_id == want.event_id);
  CHECK(got.causation_id == want.causation_id);
  CHECK(got.correlation_id == want.correlation_id);
  CHECK(got.user_id == want.user_id);
  CHECK(got.device_hash == want.device_hash);
  CHECK(got.ip == want.ip);
}

// Byte offset of the root struct's data section in a single-segment flat array.
size_t root_data_offset(const std::string& bytes) {
  REQUIRE(bytes.size() >= 16);
  uint32_t ptr_lo = 0;
  std::memcpy(&ptr_lo, bytes.data() + 8, 4);  // little endian host (x86/arm64)
  REQUIRE((ptr_lo & 3u) == 0u);               // a struct pointer
  int32_t offset_words = static_cast<int32_t>(ptr_lo) >> 2;
  return 8 + 8 * static_cast<size_t>(1 + offset_words);
}

} // namespace

TEST_CASE("codec: ticket_listed round-trips seats and binary sealed bytes") {
  auto e = envelope(sample_listed());
  auto back = round_trip(e);
  check_envelope_header(back, e);
  REQUIRE(std::holds_alternative<ticket_listed>(back.payload));
  const auto& x = std::get<ticket_listed>(back.payload);
  CHECK(x.fields == sample_listed().fields);
  REQUIRE(x.fields.seats.size() == 3);
  CHECK(x.fields.seats[2] == "16");
  CHECK(x.fields.platform == 2);
  CHECK(x.seller == "seller-1");
  CHECK(x.barcode_sealed.size() == sealed_bytes.size());
  CHECK(x.barcode_sealed == sealed_bytes);  // embedded NULs preserved
  CHECK(x.barcode_hash == std::string(64, 'a'));
  CHECK(x.dedup_hash == std::string(64, 'd'));
  CHECK(back == e);
  CHECK(std::string(event_type_name(back.payload)) == "ticket_listed");

  // Empty seats and an empty sealed blob survive too.
  auto bare = sample_listed();
  bare.fields.seats.clear();
  bare.barcode_sealed.clear();
  CHECK(round_trip(envelope(bare)) == envelope(bare));
}

TEST_CASE("codec: ticket_updated carries exactly the flagged fields") {
  auto all_values = [] {
    ticket_patch p;
    p.price_minor = 12345;
    p.event_name = "Renamed";
    p.venue = "New Venue";
    p.category = "concert";
    p.event_starts_at_ms = 1790000000000;
    return p;
  };
  std::vector<std::pair<const char*, bool ticket_patch::*>> flags = {
    {"has_price", &ticket_patch::has_price},
    {"has_event_name", &ticket_patch::has_event_name},
    {"has_venue", &ticket_patch::has_venue},
    {"has_category", &ticket_patch::has_category},
    {"has_event_starts_at", &ticket_patch::has_event_starts_at},
  };
  for (const auto& [name, flag] : flags) {
    CAPTURE(name);
    auto p = all_values();
    p.*flag = true;
    auto back = round_trip(envelope(ticket_updated{p}));
    REQUIRE(std::holds_alternative<ticket_updated>(back.payload));
    const auto& got = std::get<ticket_updated>(back.payload).patch;
    for (const auto& [other, other_flag] : flags) {
      CAPTURE(other);
      CHECK(got.*other_flag == (other_flag == flag));
    }
    CHECK(got == p);
  }
  ticket_patch every = all_values();
  for (const auto& [name, flag] : flags)
    every.*flag = true;
  auto back = round_trip(envelope(ticket_updated{every}));
  CHECK(std::get<ticket_updated>(back.payload).patch == every);
  // A negative price and a zero timestamp are values, not "unset".
  ticket_patch neg;
  neg.has_price = true;
  neg.price_minor = -5;
  neg.has_event_starts_at = true;
  neg.event_starts_at_ms = 0;
  CHECK(std::get<ticket_updated>(round_trip(envelope(ticket_updated{neg})).payload).patch == neg);
}

TEST_CASE("codec: ticket_withdrawn, account payloads and unknown_payload") {
  {
    auto e = envelope(ticket_withdrawn{"sold elsewhere"});
    auto back = round_trip(e);
    check_envelope_header(back, e);
    REQUIRE(std::holds_alternative<ticket_withdrawn>(back.payload));
    CHECK(std::get<ticket_withdrawn>(back.payload).reason == "sold elsewhere");
  }
  {
    auto e = envelope(account_registered{"a@example.org", "A", sealed_bytes});
    e.kind = entity_kind::account;
    CHECK(round_trip(e) == e);
    e.payload = session_started{"fam-1", "hash-1"};
    CHECK(round_trip(e) == e);
    e.payload = session_rotated{"fam-1", "hash-2"};
    CHECK(round_trip(e) == e);
    e.payload = session_revoked{"fam-1", "logout"};
    CHECK(round_trip(e) == e);
    e.kind = entity_kind::email_index;
    e.payload = email_claimed{"acc-1"};
    CHECK(round_trip(e) == e);
  }
  {
    auto e = envelope(unknown_payload{0});
    auto back = round_trip(e);
    check_envelope_header(back, e);
    REQUIRE(std::holds_alternative<unknown_payload>(back.payload));
    CHECK(std::get<unknown_payload>(back.payload).which == 0);
    CHECK(std::string(event_type_name(back.payload)) == "unknown");
  }
  {
    // Empty strings everywhere and extreme integers.
    event_envelope e;
    e.seq = UINT64_MAX;
    e.timestamp_ms = INT64_MIN;
    e.payload = ticket_withdrawn{};
    CHECK(round_trip(e) == e);
  }
}

TEST_CASE("codec: a payload of a newer schema decodes as unknown_payload with its tag") {
  auto e = envelope(ticket_withdrawn{"r"});
  auto bytes = encode_event(e);
  auto at = root_data_offset(bytes) + 4;  // union discriminant: 16-bit element 2
  REQUIRE(at + 2 <= bytes.size());
  CHECK(static_cast<unsigned char>(bytes[at]) == 3);  // ticketWithdrawn = 4th member
  CHECK(bytes[at + 1] == 0);
  bytes[at] = static_cast<char>(0x2a);
  bytes[at + 1] = static_cast<char>(0x01);  // 298: no such member in v1
  auto back = decode_event(bytes);
  REQUIRE(back.has_value());
  check_envelope_header(*back, e);
  REQUIRE(std::holds_alternative<unknown_payload>(back->payload));
  CHECK(std::get<unknown_payload>(back->payload).which == 298);
}

TEST_CASE("codec: snapshots of every state kind round-trip") {
  snapshot_envelope s;
  s.kind = entity_kind::ticket;
  s.entity_id = "Xq3VJwz1nYp0b8rT4kLm2A";
  s.seq = 42;
  s.taken_at_ms = 1780000009999;
  ticket_state t;
  t.fields = sample_listed().fields;
  t.seller = "seller-1";
  t.status = ticket_status::withdrawn;
  t.barcode_hash = "bh";
  t.barcode_sealed = sealed_bytes;
  t.dedup_hash = "dh";
  t.created_at_ms = 11;
  t.updated_at_ms = 22;
  s.state = t;
  auto bytes = encode_snapshot(s);
  CHECK(bytes.size() % 8 == 0);
  auto back = decode_snapshot(bytes);
  REQUIRE(back.has_value());
  CHECK(back->kind == entity_kind::ticket);
  CHECK(back->entity_id == s.entity_id);
  CHECK(back->seq == 42);
  CHECK(back->taken_at_ms == 1780000009999);
  REQUIRE(std::holds_alternative<ticket_state>(back->state));
  const auto& bt = std::get<ticket_state>(back->state);
  CHECK(bt.status == ticket_status::withdrawn);
  CHECK(bt.barcode_sealed == sealed_bytes);
  CHECK(bt.fields == t.fields);
  CHECK(bt.created_at_ms == 11);
  CHECK(bt.updated_at_ms == 22);
  CHECK(*back == s);

  account_state a;
  a.email = "a@example.org";
  a.display_name = "A";
  a.password_sealed = sealed_bytes;
  a.created_at_ms = 5;
  a.sessions = {{"f1", "h1", 1, 10, 11}, {"f2", "h2", 7, 20, 21}};
  s.kind = entity_kind::account;
  s.state = a;
  CHECK(decode_snapshot(encode_snapshot(s)) == std::optional<snapshot_envelope>(s));
  s.kind = entity_kind::email_index;
  s.state = email_claim_state{"acc-1", 77};
  CHECK(decode_snapshot(encode_snapshot(s)) == std::optional<snapshot_envelope>(s));
  s.state = std::monostate{};
  CHECK(decode_snapshot(encode_snapshot(s)) == std::optional<snapshot_envelope>(s));
}

TEST_CASE("codec: empty, odd-size and truncated bytes are rejected with a reason") {
  auto bytes = encode_event(envelope(sample_listed()));
  auto snap = [] {
    snapshot_envelope s;
    s.kind = entity_kind::ticket;
    s.entity_id = "x";
    s.state = ticket_state{};
    return encode_snapshot(s);
  }();
  std::string why;
  CHECK_FALSE(decode_event("", &why).has_value());
  CHECK_FALSE(why.empty());
  CHECK_FALSE(decode_snapshot("").has_value());
  for (size_t n : {size_t{1}, size_t{7}, size_t{9}, bytes.size() - 1, bytes.size() + 3}) {
    CAPTURE(n);
    std::string b = bytes;
    b.resize(n, '\0');
    why.clear();
    CHECK_FALSE(decode_event(b, &why).has_value());
    CHECK_FALSE(why.empty());
    CHECK_FALSE(decode_snapshot(b).has_value());
  }
  // Every word-aligned truncation of a valid message lacks part of its
  // segment: the decoders must say no rather than read past the end.
  for (size_t n = 8; n < bytes.size(); n += 8) {
    CAPTURE(n);
    why.clear();
    CHECK_FALSE(decode_event(std::string_view(bytes).substr(0, n), &why).has_value());
    CHECK_FALSE(why.empty());
  }
  for (size_t n = 8; n < snap.size(); n += 8)
    CHECK_FALSE(decode_snapshot(std::string_view(snap).substr(0, n)).has_value());
  // A segment table claiming 2^32 segments or a giant segment.
  std::string huge = bytes;
  std::memset(huge.data(), 0xff, 8);
  CHECK_FALSE(decode_event(huge).has_value());
  CHECK_FALSE(decode_snapshot(huge).has_value());
  // Unaligned input (a view into the middle of a buffer) still decodes.
  std::string shifted = "x" + bytes;
  CHECK(decode_event(std::string_view(shifted).substr(1)) == decode_event(bytes));
}

TEST_CASE("codec: deterministic mutation fuzz never crashes a decoder") {
  std::vector<std::string> seeds;
  seeds.push_back(encode_event(envelope(sample_listed())));
  ticket_patch p;
  p.has_price = true;
  p.price_minor = 9;
  p.has_venue = true;
  p.venue = "V";
  seeds.push_back(encode_event(envelope(ticket_updated{p})));
  seeds.push_back(encode_event(envelope(ticket_withdrawn{"why"})));
  seeds.push_back(encode_event(envelope(unknown_payload{0})));
  seeds.push_back(encode_event(envelope(account_registered{"e", "n", sealed_bytes})));
  {
    snapshot_envelope s;
    s.kind = entity_kind::ticket;
    s.entity_id = "id";
    s.seq = 3;
    ticket_state t;
    t.fields = sample_listed().fields;
    t.barcode_sealed = sealed_bytes;
    s.state = t;
    seeds.push_back(encode_snapshot(s));
    account_state a;
    a.sessions = {{"f", "h", 1, 2, 3}};
    s.state = a;
    seeds.push_back(encode_snapshot(s));
  }
  // Every committed golden event and snapshot of every schema version (v4:
  // offers, matched trades with nested party lists) seeds the mutations too.
  size_t golden_seeds = 0;
  for (const char* v : {"v1", "v2", "v3", "v4", "v5"})
    for (const auto& e : std::filesystem::directory_iterator(std::string(TT_GOLDEN_DIR) + "/" + v)) {
      std::ifstream in(e.path(), std::ios::binary);
      seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      ++golden_seeds;
    }
  CHECK(golden_seeds >= 20);
  std::mt19937 rng{0x7E57C0DE};
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  constexpr int iterations = 20000;
  int decoded_events = 0;
  int decoded_snapshots = 0;
  for (int i = 0; i < iterations; ++i) {
    std::string b = seeds[pick(seeds.size())];
    int rounds = 1 + static_cast<int>(rng() % 3);
    for (int r = 0; r < rounds; ++r) {
      switch (rng() % 8) {
        case 0:  // flip single bits
          for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n && !b.empty(); ++k)
            b[pick(b.size())] ^= static_cast<char>(1u << (rng() % 8));
          break;
        case 1:  // overwrite bytes
          for (int k = 0, n = 1 + static_cast<int>(rng() % 8); k < n && !b.empty(); ++k)
            b[pick(b.size())] = static_cast<char>(rng());
          break;
        case 2:  // insert a run (usually breaks alignment)
          b.insert(pick(b.size() + 1), std::string(1 + rng() % 16, static_cast<char>(rng())));
          break;
        case 3:  // erase a run
          if (!b.empty()) {
            auto at = pick(b.size());
            b.erase(at, 1 + rng() % 16);
          }
          break;
        case 4:  // truncate
          b.resize(pick(b.size() + 1));
          break;
        case 5:  // corrupt a pointer word with extreme values
          if (b.size() >= 16) {
            auto w = 8 * pick(b.size() / 8);
            for (int k = 0; k < 8; ++k)
              b[w + k] = static_cast<char>((rng() & 1) ? 0xff : rng());
          }
          break;
        case 6:  // segment table: many segments / huge sizes
          if (b.size() >= 8) {
            uint32_t v = (rng() & 1) ? 0xffffffffu : static_cast<uint32_t>(rng() % 64);
            std::memcpy(b.data() + 4 * pick(2), &v, 4);
          }
          break;
        default: {  // pure noise, word aligned
          b.assign(8 * pick(48), '\0');
          for (auto& c : b)
            c = static_cast<char>(rng());
        }
      }
    }
    if (auto ev = decode_event(b)) {
      ++decoded_events;
      // Whatever decoded must re-encode and decode to the same value.
      auto again = decode_event(encode_event(*ev));
      REQUIRE(again.has_value());
      // An unknown union member cannot be re-encoded: it is written as `none`.
      if (auto* u = std::get_if<unknown_payload>(&ev->payload))
        u->which = 0;
      CHECK(*again == *ev);
    }
    if (auto s = decode_snapshot(b)) {
      ++decoded_snapshots;
      auto again = decode_snapshot(encode_snapshot(*s));
      REQUIRE(again.has_value());
      CHECK(*again == *s);
    }
  }
  MESSAGE("fuzz: " << decoded_events << " events and " << decoded_snapshots << " snapshots of "
                   << iterations << " mutations still decoded");
  // The mutations must not all be trivially rejected (else the fuzz proves nothing)
  // nor all accepted.
  CHECK(decoded_events > 0);
  CHECK(decoded_events < iterations);
}

// -- CAF inspect() round trips -------------------------------------------------

namespace {

template <class T>
T caf_round_trip(caf::actor_system& sys, const T& in) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  T copy = in;
  auto err = sink(copy);
  REQUIRE_MESSAGE(!err, caf::to_string(err));
  REQUIRE_FALSE(buf.empty());
  T out;
  caf::binary_deserializer source{sys, buf};
  err = source(out);
  REQUIRE_MESSAGE(!err, caf::to_string(err));
  CHECK(source.remaining() == 0);  // every byte written was read back
  return out;
}

// All members of each message type, spelled out here independently of its
// inspect(): a member that inspect() forgets comes back default-constructed.
auto members(const request_meta& x) {
  return std::tie(x.user_id, x.device_hash, x.ip, x.correlation_id, x.causation_id);
}
auto members(const ticket_fields& x) {
  return std::tie(x.event_id, x.event_name, x.venue, x.category, x.event_starts_at_ms, x.section,
                  x.row, x.seats, x.face_value_minor, x.price_minor, x.currency, x.platform);
}
auto members(const list_ticket& x) {
  return std::tuple_cat(std::tie(x.ticket_id), members(x.fields), std::tie(x.barcode, x.dedup_hash),
                        members(x.meta));
}
auto members(const ticket_patch& x) {
  return std::tie(x.has_price, x.price_minor, x.has_event_name, x.event_name, x.has_venue, x.venue,
                  x.has_category, x.category, x.has_event_starts_at, x.event_starts_at_ms);
}
auto members(const update_ticket& x) {
  return std::tuple_cat(std::tie(x.ticket_id), members(x.patch), members(x.meta));
}
auto members(const withdraw_ticket& x) {
  return std::tuple_cat(std::tie(x.ticket_id, x.reason), members(x.meta));
}
auto members(const get_ticket& x) { return std::tie(x.ticket_id); }
auto members(const ticket_view& x) {
  return std::tuple_cat(std::tie(x.id), members(x.fields),
                        std::tie(x.status, x.seller, x.barcode_hash, x.created_at_ms,
                                 x.updated_at_ms, x.version, x.created, x.offer_open,
                                 x.want_event_ids, x.want_categories, x.want_venues,
                                 x.max_cash_minor, x.weights_permille, x.offer_at_ms,
                                 x.credit_minor));
}
auto members(const offer_ticket& x) {
  return std::tuple_cat(std::tie(x.ticket_id, x.close, x.want_event_ids, x.want_categories,
                                 x.want_venues, x.max_cash_minor, x.weights_permille),
                        members(x.meta));
}
auto members(const match_party& x) {
  return std::tie(x.account, x.give, x.receiver, x.credit_minor, x.net_cash_minor);
}
auto members(const propose_match& x) {
  return std::tuple_cat(std::tie(x.trade_id, x.parties, x.currency, x.match_key), members(x.meta));
}
auto members(const run_match_round& x) { return std::tie(x.version); }
auto members(const matcher_report& x) {
  return std::tie(x.rounds, x.offers, x.booked, x.last_pairs, x.last_cycles, x.last_round_us,
                  x.proposed, x.failed, x.valuations_requested, x.next_offset);
}
auto members(const append_events& x) {
  return std::tie(x.kind, x.entity_id, x.expected_seq, x.events, x.snapshot, x.snapshot_seq,
                  x.index_writes, x.timer_writes, x.epoch);
}
auto members(const append_ack& x) { return std::tie(x.last_seq, x.first_offset); }
auto members(const journal_stats& x) {
  return std::tie(x.next_offset, x.batches, x.events, x.conflicts, x.fenced, x.mailbox, x.pending,
                  x.write_us_p50, x.write_us_p99, x.write_us_max, x.events_per_s);
}
auto members(const region_stats& x) {
  return std::tie(x.active_entities, x.started, x.passivated, x.restarted_after_failure,
                  x.active_by_shard, x.mailbox);
}
auto members(const cluster_hello& x) { return std::tie(x.version, x.secret, x.from); }
auto members(const admin_command& x) { return std::tie(x.version, x.secret, x.args); }
auto members(const admin_reply& x) { return std::tie(x.json); }
auto members(const import_entries& x) { return std::tie(x.shard, x.triples, x.purge); }
auto members(const journal_barrier& x) { return std::tie(x.shard); }
auto members(const drop_shard& x) { return std::tie(x.shard); }
auto members(const shard_import& x) {
  return std::tie(x.version, x.secret, x.shard, x.from_node, x.triples, x.chunk, x.done,
                  x.aborted);
}
auto members(const shard_import_ack& x) { return std::tie(x.node_id, x.lease, x.written); }
auto members(const read_log_page& x) { return std::tie(x.version, x.secret, x.from, x.max); }
auto members(const log_page& x) { return std::tie(x.events, x.next, x.end); }
auto members(const read_index_range& x) {
  return std::tie(x.version, x.secret, x.prefix, x.after, x.max);
}
auto members(const index_rows& x) { return std::tie(x.ids, x.values); }
auto members(const account_view& x) {
  return std::tie(x.id, x.email, x.display_name, x.created_at_ms, x.version);
}
auto members(const register_account& x) {
  return std::tuple_cat(std::tie(x.account_id, x.email, x.display_name, x.password_hash),
                        members(x.meta));
}
auto members(const get_account& x) { return std::tie(x.account_id); }
auto members(const get_credentials& x) { return std::tie(x.account_id); }
auto members(const credentials& x) { return std::tie(x.account_id, x.password_hash); }
auto members(const start_session& x) {
  return std::tuple_cat(std::tie(x.account_id, x.family_id, x.token_hash), members(x.meta));
}
auto members(const rotate_session& x) {
  return std::tuple_cat(std::tie(x.account_id, x.family_id, x.presented_hash, x.new_hash),
                        members(x.meta));
}
auto members(const revoke_session& x) {
  return std::tuple_cat(std::tie(x.account_id, x.family_id, x.reason), members(x.meta));
}
auto members(const session_view& x) {
  return std::tie(x.account_id, x.family_id, x.generation, x.active);
}
auto members(const claim_email& x) {
  return std::tuple_cat(std::tie(x.index_id, x.account_id), members(x.meta));
}
auto members(const lookup_email& x) { return std::tie(x.index_id); }
auto members(const email_claim_view& x) { return std::tie(x.account_id, x.created); }
auto members(const log_advanced& x) { return std::tie(x.next_offset); }

/// True iff every member of `a` differs from the same member of `b`.
template <class... Ts>
bool all_differ(const std::tuple<Ts...>& a, const std::tuple<Ts...>& b) {
  return [&]<size_t... I>(std::index_sequence<I...>) {
    return ((std::get<I>(a) != std::get<I>(b)) && ...);
  }(std::index_sequence_for<Ts...>{});
}

/// Index of the first member that differs, or -1.
template <class... Ts>
int first_difference(const std::tuple<Ts...>& a, const std::tuple<Ts...>& b) {
  int out = -1;
  [&]<size_t... I>(std::index_sequence<I...>) {
    ((out < 0 && std::get<I>(a) != std::get<I>(b) ? (out = static_cast<int>(I), 0) : 0), ...);
  }(std::index_sequence_for<Ts...>{});
  return out;
}

template <class T>
void check_round_trip(caf::actor_system& sys, const char* name, const T& sample) {
  CAPTURE(name);
  // The sample sets every member to a non-default value, so a member that
  // does not survive the round trip is visible.
  REQUIRE_MESSAGE(all_differ(members(sample), members(T{})),
                  name << ": sample leaves a member at its default");
  T back = caf_round_trip(sys, sample);
  auto diff = first_difference(members(back), members(sample));
  CHECK_MESSAGE(diff == -1, name << ": member #" << diff << " lost in the round trip");
}

request_meta sample_meta() { return request_meta{"user-7", "dev-hash", "192.0.2.9", "corr-1", "cause-2"}; }

} // namespace

TEST_CASE("CAF: every message type of the tt type-ID block survives inspect()") {
  unit::test_config cfg;
  caf::actor_system sys{cfg};

  auto fields = unit::sample_fields(4);
  fields.platform = 3;
  check_round_trip(sys, "request_meta", sample_meta());
  check_round_trip(sys, "ticket_fields", fields);
  check_round_trip(sys, "list_ticket",
                   list_ticket{"Xq3VJwz1nYp0b8rT4kLm2A", fields, std::string("bar\0code", 8),
                               "dedup", sample_meta()});
  ticket_patch patch{true, 1, true, "n", true, "v", true, "c", true, 99};
  check_round_trip(sys, "ticket_patch", patch);
  check_round_trip(sys, "update_ticket", update_ticket{"tid", patch, sample_meta()});
  check_round_trip(sys, "withdraw_ticket", withdraw_ticket{"tid", "reason", sample_meta()});
  check_round_trip(sys, "get_ticket", get_ticket{"tid"});
  check_round_trip(sys, "ticket_view",
                   ticket_view{"tid", fields, 1, "seller", "bh", 100, 200, 3, true, true,
                               {"ev"}, {"cat"}, {"ven"}, 500, {900, 0, 250}, 300, 12345});
  check_round_trip(sys, "offer_ticket",
                   offer_ticket{"tid", true, {"ev"}, {"cat"}, {"ven"}, 700, {1, 2}, sample_meta()});
  check_round_trip(sys, "match_party", match_party{"acct", {"t1", "t2"}, 2, 10250, -250});
  check_round_trip(sys, "propose_match",
                   propose_match{"trade", {match_party{"a", {"t"}, 1, 5, 5}}, "USD", "m1|x",
                                 sample_meta()});
  check_round_trip(sys, "run_match_round", run_match_round{2});
  check_round_trip(sys, "matcher_report", matcher_report{1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  check_round_trip(sys, "append_events",
                   append_events{1, "tid", 4, {"e1", std::string("\0e2", 3)}, "snap", 6,
                                 {"owner\0k", "listed"}, {"wake", "123"}, 77});
  check_round_trip(sys, "append_ack", append_ack{5, 17});
  check_round_trip(sys, "journal_stats", journal_stats{10, 2, 9, 1, 3, 4, 5, 6, 7, 8, 12});
  check_round_trip(sys, "region_stats", region_stats{3, 4, 5, 6, {0, 2, 1}, 7});
  check_round_trip(sys, "cluster_hello", cluster_hello{7, "secret", "n1"});
  check_round_trip(sys, "admin_command", admin_command{7, "secret", {"entity", "show"}});
  check_round_trip(sys, "admin_reply", admin_reply{"{\"nodes\":[]}"});
  check_round_trip(sys, "import_entries", import_entries{7, {std::string(1, '\1'), "k", "v"}, true});
  check_round_trip(sys, "journal_barrier", journal_barrier{11});
  check_round_trip(sys, "drop_shard", drop_shard{9});
  check_round_trip(sys, "shard_import",
                   shard_import{7, "secret", 5, "n1", {std::string(1, '\3'), "k", "v"}, 4, true, true});
  check_round_trip(sys, "shard_import_ack", shard_import_ack{"nid", 77, 3});
  check_round_trip(sys, "read_log_page", read_log_page{7, "secret", 9, 100});
  check_round_trip(sys, "log_page", log_page{{std::string("\0ev", 3)}, 10, 12});
  check_round_trip(sys, "read_index_range",
                   read_index_range{7, "secret", std::string("owner\0U1\0", 10), "K9", 51});
  check_round_trip(sys, "index_rows", index_rows{{"K1", "K2"}, {"", std::string("\0v", 2)}});
  {
    std::vector<std::string> v{"a", "", std::string("\0z", 2)};
    CHECK(caf_round_trip(sys, v) == v);
  }
  check_round_trip(sys, "account_view", account_view{"aid", "e@x", "Name", 12, 3});
  check_round_trip(sys, "register_account",
                   register_account{"aid", "e@x", "Name", "$argon2id$v=19$...", sample_meta()});
  check_round_trip(sys, "get_account", get_account{"aid"});
  check_round_trip(sys, "get_credentials", get_credentials{"aid"});
  check_round_trip(sys, "credentials", credentials{"aid", "$argon2id$"});
  check_round_trip(sys, "start_session", start_session{"aid", "fam", "th", sample_meta()});
  check_round_trip(sys, "rotate_session",
                   rotate_session{"aid", "fam", "old", "new", sample_meta()});
  check_round_trip(sys, "revoke_session", revoke_session{"aid", "fam", "logout", sample_meta()});
  check_round_trip(sys, "session_view", session_view{"aid", "fam", 4, true});
  check_round_trip(sys, "claim_email", claim_email{"idx", "aid", sample_meta()});
  check_round_trip(sys, "lookup_email", lookup_email{"idx"});
  check_round_trip(sys, "email_claim_view", email_claim_view{"aid", true});
  check_round_trip(sys, "log_advanced", log_advanced{123456789});
}

TEST_CASE("CAF: tt errors keep code, message and field across a message") {
  auto err = make_error(errc::invalid_argument, "price must not be negative", "price_minor");
  auto info = describe(err);
  CHECK(info.code == errc::invalid_argument);
  CHECK(info.message == "price must not be negative");
  CHECK(info.field == "price_minor");
  CHECK(describe(make_error(errc::conflict)).code == errc::conflict);
  CHECK(describe(make_error(errc::conflict)).message == "conflict");
  CHECK(describe(caf::make_error(caf::sec::request_timeout)).code == errc::timeout);
  CHECK(describe(caf::error{}).code == errc::ok);
  CHECK(render_errc(static_cast<uint8_t>(errc::not_found), errc_category,
                    caf::make_message(std::string("gone"), std::string("id")))
        == "tt::not_found(gone, field=id)");

  unit::test_config cfg;
  caf::actor_system sys{cfg};
  auto back = caf_round_trip(sys, err);
  auto binfo = describe(back);
  CHECK(binfo.code == errc::invalid_argument);
  CHECK(binfo.message == "price must not be negative");
  CHECK(binfo.field == "price_minor");
}
