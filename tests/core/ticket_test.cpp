// The ticket's state machine: listing, dedup, validation, updates,
// withdrawal, ownership, and the owner index it maintains.
#include <doctest/doctest.h>

#include "actors/ticket_model.hpp"
#include "common.hpp"
#include "messages/errc.hpp"
#include "persistence/node_keys.hpp"

using namespace tt;
using namespace tt::actors;

namespace {

struct fixture {
  std::shared_ptr<persistence::node_keys> keys = persistence::node_keys::from_secret("unit");
  ticket_model m;
  uint64_t seq = 0;

  list_ticket listing(const std::string& seller, int n = 1, std::string barcode = "BC-1") {
    list_ticket cmd;
    cmd.fields = test::sample_fields(n);
    cmd.barcode = barcode;
    cmd.meta.user_id = seller;
    auto ids = derive_listing_ids(*keys, seller, cmd.fields, barcode);
    cmd.ticket_id = ids.ticket_id;
    cmd.dedup_hash = ids.dedup_hash;
    return cmd;
  }

  void apply(const std::vector<event_payload>& evs) {
    for (const auto& p : evs) {
      event_envelope ev;
      ev.kind = entity_kind::ticket;
      ev.entity_id = m.id;
      ev.seq = ++seq;
      ev.timestamp_ms = 1000 + static_cast<int64_t>(seq);
      ev.payload = p;
      m.apply(ev);
    }
  }
};

errc code_of(const caf::error& e) { return describe(e).code; }

} // namespace

TEST_CASE("listing creates a ticket once; the same listing again is a dedup hit") {
  fixture f;
  auto cmd = f.listing("alice");
  f.m.id = cmd.ticket_id;
  auto d = f.m.decide(cmd, *f.keys);
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  auto& ev = std::get<ticket_listed>(d->front());
  CHECK(ev.seller == "alice");
  CHECK(ev.barcode_hash.size() == 64);
  CHECK(ev.barcode_sealed.find("BC-1") == std::string::npos);  // sealed, not plain
  CHECK(f.keys->open(ev.barcode_sealed) == std::optional<std::string>("BC-1"));
  f.apply(*d);
  CHECK(f.m.exists);
  CHECK(f.m.state.status == ticket_status::listed);
  auto again = f.m.decide(cmd, *f.keys);
  REQUIRE(again);
  CHECK(again->empty());
  // The encoded event never carries the barcode in clear.
  event_envelope env;
  env.payload = ev;
  CHECK(encode_event(env).find("BC-1") == std::string::npos);
}

TEST_CASE("ticket ids are unguessable but stable per dedup key") {
  fixture f;
  auto base = derive_listing_ids(*f.keys, "alice", test::sample_fields(), "BC-1");
  CHECK(persistence::is_valid_id(base.ticket_id));
  CHECK(derive_listing_ids(*f.keys, "alice", test::sample_fields(), "BC-1").ticket_id
        == base.ticket_id);
  auto differs = [&](auto mutate, std::string seller = "alice", std::string barcode = "BC-1") {
    auto fields = test::sample_fields();
    mutate(fields);
    return derive_listing_ids(*f.keys, seller, fields, barcode).ticket_id != base.ticket_id;
  };
  CHECK(differs([](ticket_fields&) {}, "bob"));
  CHECK(differs([](ticket_fields&) {}, "alice", "BC-2"));
  CHECK(differs([](ticket_fields& x) { x.event_id = "other"; }));
  CHECK(differs([](ticket_fields& x) { x.section = "102"; }));
  CHECK(differs([](ticket_fields& x) { x.row = "B"; }));
  CHECK(differs([](ticket_fields& x) { x.seats = {"1"}; }));
  CHECK(differs([](ticket_fields& x) { x.face_value_minor = 1; }));
  // Fields outside the dedup key do not change the id.
  CHECK_FALSE(differs([](ticket_fields& x) { x.price_minor = 1; }));
  // Another node key gives other ids.
  auto other = persistence::node_keys::from_secret("other");
  CHECK(derive_listing_ids(*other, "alice", test::sample_fields(), "BC-1").ticket_id
        != base.ticket_id);
  // Ambiguity: seats ["1","2"] vs ["12"] must differ.
  auto a = test::sample_fields();
  a.seats = {"1", "2"};
  auto b = test::sample_fields();
  b.seats = {"12"};
  CHECK(dedup_key("s", a, "h") != dedup_key("s", b, "h"));
}

TEST_CASE("listing validation inside the entity") {
  fixture f;
  auto cmd = f.listing("alice");
  f.m.id = cmd.ticket_id;
  auto forged = cmd;
  forged.ticket_id = persistence::random_id();
  f.m.id = forged.ticket_id;
  auto r = f.m.decide(forged, *f.keys);
  REQUIRE_FALSE(r);
  CHECK(code_of(r.error()) == errc::invalid_argument);
  f.m.id = cmd.ticket_id;
  auto neg = cmd;
  neg.fields.price_minor = -1;
  auto r2 = f.m.decide(neg, *f.keys);
  REQUIRE_FALSE(r2);
  CHECK(describe(r2.error()).field == "price_minor");
  auto nobc = cmd;
  nobc.barcode.clear();
  CHECK_FALSE(f.m.decide(nobc, *f.keys));
}

TEST_CASE("updates and withdrawal: ownership, states, idempotence") {
  fixture f;
  auto cmd = f.listing("alice");
  f.m.id = cmd.ticket_id;
  CHECK(code_of(f.m.decide(update_ticket{cmd.ticket_id, {}, {}}).error()) == errc::not_found);
  f.apply(*f.m.decide(cmd, *f.keys));

  ticket_patch p;
  p.has_price = true;
  p.price_minor = 30000;
  request_meta bob;
  bob.user_id = "bob";
  request_meta alice;
  alice.user_id = "alice";
  CHECK(code_of(f.m.decide(update_ticket{cmd.ticket_id, p, bob}).error()) == errc::forbidden);
  CHECK(code_of(f.m.decide(update_ticket{cmd.ticket_id, ticket_patch{}, alice}).error())
        == errc::invalid_argument);
  auto up = f.m.decide(update_ticket{cmd.ticket_id, p, alice});
  REQUIRE(up);
  f.apply(*up);
  CHECK(f.m.state.fields.price_minor == 30000);
  CHECK(f.m.state.fields.venue == test::sample_fields().venue);  // untouched

  CHECK(code_of(f.m.decide(withdraw_ticket{cmd.ticket_id, "x", bob}).error()) == errc::forbidden);
  auto w = f.m.decide(withdraw_ticket{cmd.ticket_id, "sold", alice});
  REQUIRE(w);
  f.apply(*w);
  CHECK(f.m.state.status == ticket_status::withdrawn);
  CHECK(f.m.decide(withdraw_ticket{cmd.ticket_id, "sold", alice})->empty());  // idempotent
  CHECK(code_of(f.m.decide(update_ticket{cmd.ticket_id, p, alice}).error()) == errc::invalid_state);
  // Relisting a withdrawn ticket lists it again.
  auto re = f.m.decide(cmd, *f.keys);
  REQUIRE(re);
  CHECK(re->size() == 1);
}

TEST_CASE("the owner index follows status changes") {
  fixture f;
  auto cmd = f.listing("alice");
  f.m.id = cmd.ticket_id;
  auto before = f.m;
  f.apply(*f.m.decide(cmd, *f.keys));
  auto w = f.m.index_writes(before, f.m);
  REQUIRE(w.size() == 2);
  CHECK(w[0] == owner_index_prefix("alice") + cmd.ticket_id);
  CHECK(w[1] == "listed");
  auto listed = f.m;
  ticket_patch p;
  p.has_price = true;
  p.price_minor = 1;
  request_meta alice;
  alice.user_id = "alice";
  f.apply(*f.m.decide(update_ticket{cmd.ticket_id, p, alice}));
  CHECK(f.m.index_writes(listed, f.m).empty());  // status unchanged: nothing to write
  auto updated = f.m;
  f.apply(*f.m.decide(withdraw_ticket{cmd.ticket_id, "x", alice}));
  auto w2 = f.m.index_writes(updated, f.m);
  REQUIRE(w2.size() == 2);
  CHECK(w2[1] == "withdrawn");
}

TEST_CASE("node keys: seal/open and tamper detection, key file persistence") {
  test::temp_dir dir;
  std::string err;
  auto k1 = persistence::node_keys::load_or_create(dir.str(), &err);
  REQUIRE(k1);
  auto k2 = persistence::node_keys::load_or_create(dir.str(), &err);
  REQUIRE(k2);
  CHECK(k1->keyed_hash("d", "x") == k2->keyed_hash("d", "x"));
  CHECK(k1->keyed_hash("d", "x") != k1->keyed_hash("e", "x"));
  auto sealed = k1->seal("secret barcode");
  CHECK(k2->open(sealed) == std::optional<std::string>("secret barcode"));
  auto tampered = sealed;
  tampered.back() ^= 1;
  CHECK_FALSE(k2->open(tampered));
  CHECK_FALSE(k2->open("short"));
  CHECK(k1->seal("same") != k1->seal("same"));  // random nonce
}
