// Codecs: Cap'n Proto events and snapshots round-trip, committed golden bytes
// of every schema version still decode, hostile bytes never crash a decoder,
// and every CAF message type survives its inspect() round trip.
#include <doctest/doctest.h>

#include <fstream>
#include <iterator>
#include <random>
#include <sstream>

#include "caf/binary_deserializer.hpp"
#include "caf/binary_serializer.hpp"
#include "common.hpp"
#include "golden_events.hpp"
#include "messages/account.hpp"
#include "messages/events.hpp"
#include "messages/journal.hpp"

using namespace tt;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden file " << path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

template <class T>
T caf_round_trip(caf::actor_system& sys, T x) {
  std::vector<char> buf;
  caf::binary_serializer sink{sys, buf};
  auto err = sink(x);
  REQUIRE_FALSE(err);
  T y;
  caf::binary_deserializer source{sys, buf};
  err = source(y);
  REQUIRE_FALSE(err);
  return y;
}

} // namespace

TEST_CASE("every event type round-trips through Cap'n Proto") {
  for (const auto& [name, ev] : test::golden_events_v1()) {
    auto bytes = encode_event(ev);
    CHECK(bytes.size() % 8 == 0);
    std::string why;
    auto back = decode_event(bytes, &why);
    REQUIRE_MESSAGE(back, name << ": " << why);
    CHECK_MESSAGE(*back == ev, name);
    CHECK(std::string(event_type_name(back->payload)) == name);
  }
  for (const auto& [name, s] : test::golden_snapshots_v1()) {
    auto back = decode_snapshot(encode_snapshot(s));
    REQUIRE(back);
    CHECK_MESSAGE(*back == s, name);
  }
}

TEST_CASE("golden files of schema v1 still decode to the same values") {
  std::string dir = std::string(TT_GOLDEN_DIR) + "/v1/";
  for (const auto& [name, expected] : test::golden_events_v1()) {
    auto bytes = read_file(dir + name + ".bin");
    auto ev = decode_event(bytes);
    REQUIRE_MESSAGE(ev, name);
    CHECK_MESSAGE(*ev == expected, name);
  }
  for (const auto& [name, expected] : test::golden_snapshots_v1()) {
    auto s = decode_snapshot(read_file(dir + name + ".bin"));
    REQUIRE_MESSAGE(s, name);
    CHECK_MESSAGE(*s == expected, name);
  }
}

TEST_CASE("a payload from a newer schema decodes as unknown, not as an error") {
  // Union member 200 does not exist in v1: emulate a future writer by
  // patching the discriminant of an encoded event.
  auto ev = test::golden_events_v1()[2].second;  // ticket_withdrawn
  auto bytes = encode_event(ev);
  auto known = decode_event(bytes);
  REQUIRE(known);
  // The union discriminant lives in the Event struct's data section; find the
  // 16-bit value 3 (ticketWithdrawn is the 4th union member) and bump it.
  bool patched = false;
  for (size_t i = 8; i + 1 < bytes.size() && !patched; i += 2) {
    std::string copy = bytes;
    if (static_cast<unsigned char>(copy[i]) == 3 && copy[i + 1] == 0) {
      copy[i] = static_cast<char>(200);
      auto d = decode_event(copy);
      if (d && std::holds_alternative<unknown_payload>(d->payload) && d->entity_id == ev.entity_id) {
        CHECK(std::get<unknown_payload>(d->payload).which == 200);
        patched = true;
      }
    }
  }
  CHECK(patched);
}

TEST_CASE("decoders survive random and mutated bytes") {
  std::mt19937_64 rng{20261129};
  std::vector<std::string> seeds;
  for (const auto& [name, ev] : test::golden_events_v1())
    seeds.push_back(encode_event(ev));
  for (const auto& [name, s] : test::golden_snapshots_v1())
    seeds.push_back(encode_snapshot(s));
  size_t decoded = 0;
  for (int i = 0; i < 30000; ++i) {
    std::string b = seeds[rng() % seeds.size()];
    switch (rng() % 5) {
      case 0:  // flip bytes
        for (int k = 0, n = 1 + rng() % 8; k < n; ++k)
          b[rng() % b.size()] = static_cast<char>(rng());
        break;
      case 1:  // truncate
        b.resize(rng() % b.size());
        break;
      case 2:  // insert
        b.insert(rng() % b.size(), std::string(1 + rng() % 16, static_cast<char>(rng())));
        break;
      case 3: {  // pure noise, word aligned
        b.assign(8 * (rng() % 64), '\0');
        for (auto& c : b)
          c = static_cast<char>(rng());
        break;
      }
      default:  // huge pointer counts in the segment table
        if (b.size() >= 8)
          for (int k = 4; k < 8; ++k)
            b[k] = static_cast<char>(0xff);
    }
    std::string why;
    if (decode_event(b, &why))
      ++decoded;
    decode_snapshot(b, &why);
  }
  MESSAGE("mutations that still decoded: " << decoded << " of 30000");
  CHECK(decode_event("") == std::nullopt);
  CHECK(decode_event("1234567") == std::nullopt);
}

TEST_CASE("message types survive CAF serialization") {
  test::test_config cfg;
  caf::actor_system sys{cfg};
  list_ticket lt;
  lt.ticket_id = "T1";
  lt.fields = test::sample_fields();
  lt.barcode = "BC";
  lt.dedup_hash = "dd";
  lt.meta = request_meta{"u", "d", "ip", "corr", "cause"};
  auto lt2 = caf_round_trip(sys, lt);
  CHECK(lt2.ticket_id == "T1");
  CHECK(lt2.fields == lt.fields);
  CHECK(lt2.barcode == "BC");
  CHECK(lt2.meta.correlation_id == "corr");
  CHECK(lt2.meta.causation_id == "cause");

  ticket_patch p;
  p.has_price = true;
  p.price_minor = 9;
  auto u2 = caf_round_trip(sys, update_ticket{"T1", p, {}});
  CHECK(u2.patch == p);

  ticket_view v;
  v.id = "T1";
  v.fields = test::sample_fields();
  v.status = 1;
  v.version = 7;
  v.created = true;
  auto v2 = caf_round_trip(sys, v);
  CHECK(v2.fields == v.fields);
  CHECK(v2.version == 7);
  CHECK(v2.created);

  append_events ae;
  ae.kind = 1;
  ae.entity_id = "T1";
  ae.expected_seq = 3;
  ae.events = {"a", std::string("\0b", 2)};
  ae.snapshot = "snap";
  ae.snapshot_seq = 5;
  ae.index_writes = {"k", "v"};
  auto ae2 = caf_round_trip(sys, ae);
  CHECK(ae2.events == ae.events);
  CHECK(ae2.index_writes == ae.index_writes);
  CHECK(ae2.snapshot_seq == 5);

  auto rs = caf_round_trip(sys, rotate_session{"A", "F", "h1", "h2", {}});
  CHECK(rs.presented_hash == "h1");
  CHECK(rs.new_hash == "h2");
  auto cv = caf_round_trip(sys, credentials{"A", "$argon2id$x"});
  CHECK(cv.password_hash == "$argon2id$x");
  auto ack = caf_round_trip(sys, append_ack{4, 99});
  CHECK(ack.first_offset == 99);
}
