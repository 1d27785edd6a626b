// The ticket's state machine without actors: decide (command -> events or a
// typed error) and apply (event -> state); listing ids derived from the dedup
// key; the node keys that hash and seal barcodes.
#include <doctest/doctest.h>

#include <fstream>
#include <mutex>
#include <set>
#include <thread>
#include <sys/wait.h>
#include <unistd.h>
#include <sys/stat.h>

#include "actors/ticket_model.hpp"
#include "messages/errc.hpp"
#include "messages/events.hpp"
#include "persistence/node_keys.hpp"
#include "support.hpp"

using namespace tt;
using namespace tt::actors;

namespace {

struct model_fixture {
  std::shared_ptr<persistence::node_keys> keys = persistence::node_keys::from_secret("model-test");
  ticket_model m;
  uint64_t seq = 0;
  int64_t clock = 1780000000000;

  /// Applies decided payloads the way the entity does (as stored envelopes).
  void apply(const std::vector<event_payload>& payloads) {
    for (const auto& p : payloads) {
      event_envelope ev;
      ev.kind = entity_kind::ticket;
      ev.entity_id = m.id;
      ev.seq = ++seq;
      ev.timestamp_ms = ++clock;
      ev.payload = p;
      // Through the codec, as recovery would see it.
      auto decoded = decode_event(encode_event(ev));
      REQUIRE(decoded.has_value());
      m.apply(*decoded);
    }
  }

  /// Lists a ticket for `seller` and applies it; returns the command.
  list_ticket listed(const std::string& seller = "alice", int n = 1) {
    auto cmd = unit::make_listing(*keys, seller, n);
    m.id = cmd.ticket_id;
    auto d = m.decide(cmd, *keys);
    REQUIRE(d);
    REQUIRE(d->size() == 1);
    apply(*d);
    return cmd;
  }
};

template <class T>
error_info failure(const caf::expected<T>& x) {
  REQUIRE_FALSE(static_cast<bool>(x));
  return describe(x.error());
}

ticket_patch price_patch(int64_t p) {
  ticket_patch patch;
  patch.has_price = true;
  patch.price_minor = p;
  return patch;
}

} // namespace

TEST_CASE("ticket model: a new listing decides one ticket_listed, the same again nothing") {
  model_fixture f;
  auto cmd = unit::make_listing(*f.keys, "alice", 1, "BARCODE-0042");
  f.m.id = cmd.ticket_id;
  CHECK_FALSE(f.m.exists);
  auto d = f.m.decide(cmd, *f.keys);
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  REQUIRE(std::holds_alternative<ticket_listed>(d->front()));
  const auto& ev = std::get<ticket_listed>(d->front());
  CHECK(ev.fields == cmd.fields);
  CHECK(ev.seller == "alice");
  CHECK(ev.barcode_hash == f.keys->keyed_hash("barcode", "BARCODE-0042"));
  CHECK(ev.barcode_hash.size() == 64);
  CHECK(ev.dedup_hash == cmd.dedup_hash);
  CHECK(ev.barcode_sealed != "BARCODE-0042");
  CHECK(f.keys->open(ev.barcode_sealed) == std::optional<std::string>("BARCODE-0042"));

  f.apply(*d);
  CHECK(f.m.exists);
  CHECK(f.m.state().status == ticket_status::listed);
  CHECK(f.m.state().seller == "alice");
  CHECK(f.m.state().fields == cmd.fields);
  CHECK(f.m.state().created_at_ms == f.clock);
  CHECK(f.m.state().updated_at_ms == f.clock);

  // Listing the very same ticket again (same seller, same key): dedup hit.
  auto again = f.m.decide(cmd, *f.keys);
  REQUIRE(again);
  CHECK(again->empty());
  // A different price is outside the dedup key: still the same ticket.
  auto repriced = cmd;
  repriced.fields.price_minor += 500;
  auto again2 = f.m.decide(repriced, *f.keys);
  REQUIRE(again2);
  CHECK(again2->empty());

  auto v = f.m.view(1, false);
  CHECK(v.id == cmd.ticket_id);
  CHECK(v.seller == "alice");
  CHECK(v.status == static_cast<uint8_t>(ticket_status::listed));
  CHECK(v.barcode_hash == ev.barcode_hash);
  CHECK(v.version == 1);
}

TEST_CASE("ticket model: listings are validated and ids cannot be forged") {
  model_fixture f;
  auto cmd = unit::make_listing(*f.keys, "alice", 1);

  SUBCASE("an id of the caller's choosing") {
    auto forged = cmd;
    forged.ticket_id = persistence::random_id();
    f.m.id = forged.ticket_id;
    auto e = failure(f.m.decide(forged, *f.keys));
    CHECK(e.code == errc::invalid_argument);
    CHECK(e.field == "id");
  }
  SUBCASE("the right id with a forged dedup hash") {
    auto forged = cmd;
    forged.dedup_hash = std::string(64, '0');
    f.m.id = forged.ticket_id;
    CHECK(failure(f.m.decide(forged, *f.keys)).code == errc::invalid_argument);
  }
  SUBCASE("another user listing under alice's id") {
    auto forged = cmd;
    forged.meta.user_id = "mallory";
    f.m.id = forged.ticket_id;
    auto e = failure(f.m.decide(forged, *f.keys));
    CHECK(e.code == errc::invalid_argument);
    CHECK(e.field == "id");
  }
  SUBCASE("fields changed after the id was derived") {
    auto forged = cmd;
    forged.fields.row = "99";
    f.m.id = forged.ticket_id;
    CHECK(failure(f.m.decide(forged, *f.keys)).code == errc::invalid_argument);
  }
  SUBCASE("a negative face value") {
    auto bad = cmd;
    bad.fields.face_value_minor = -1;
    auto ids = derive_listing_ids(*f.keys, "alice", bad.fields, bad.barcode);
    bad.ticket_id = ids.ticket_id;
    bad.dedup_hash = ids.dedup_hash;
    f.m.id = bad.ticket_id;
    auto e = failure(f.m.decide(bad, *f.keys));
    CHECK(e.code == errc::invalid_argument);
    CHECK(e.field == "face_value_minor");
    CHECK_FALSE(e.message.empty());
  }
  SUBCASE("a negative price") {
    auto bad = cmd;
    bad.fields.price_minor = -100;
    f.m.id = bad.ticket_id;  // price is not in the dedup key: the id still matches
    auto e = failure(f.m.decide(bad, *f.keys));
    CHECK(e.code == errc::invalid_argument);
    CHECK(e.field == "price_minor");
  }
  SUBCASE("no barcode") {
    auto bad = cmd;
    bad.barcode.clear();
    f.m.id = bad.ticket_id;
    auto e = failure(f.m.decide(bad, *f.keys));
    CHECK(e.code == errc::invalid_argument);
    CHECK(e.field == "barcode");
  }
  SUBCASE("zero face value and price are allowed") {
    auto ok = cmd;
    ok.fields.face_value_minor = 0;
    ok.fields.price_minor = 0;
    auto ids = derive_listing_ids(*f.keys, "alice", ok.fields, ok.barcode);
    ok.ticket_id = ids.ticket_id;
    ok.dedup_hash = ids.dedup_hash;
    f.m.id = ok.ticket_id;
    auto d = f.m.decide(ok, *f.keys);
    REQUIRE(d);
    CHECK(d->size() == 1);
  }
  CHECK_FALSE(f.m.exists);  // no decision changes the model
}

TEST_CASE("ticket model: updates") {
  model_fixture f;

  SUBCASE("of a ticket that does not exist") {
    f.m.id = persistence::random_id();
    auto e = failure(f.m.decide(update_ticket{f.m.id.str(), price_patch(1), unit::as_user("alice")}));
    CHECK(e.code == errc::not_found);
  }
  SUBCASE("by someone other than the seller") {
    f.listed("alice");
    auto e = failure(f.m.decide(update_ticket{f.m.id.str(), price_patch(1), unit::as_user("bob")}));
    CHECK(e.code == errc::forbidden);
    auto anon = failure(f.m.decide(update_ticket{f.m.id.str(), price_patch(1), request_meta{}}));
    CHECK(anon.code == errc::forbidden);
  }
  SUBCASE("of a withdrawn ticket") {
    f.listed("alice");
    auto w = f.m.decide(withdraw_ticket{f.m.id.str(), "gone", unit::as_user("alice")});
    REQUIRE(w);
    f.apply(*w);
    auto e = failure(f.m.decide(update_ticket{f.m.id.str(), price_patch(1), unit::as_user("alice")}));
    CHECK(e.code == errc::invalid_state);
  }
  SUBCASE("with nothing in the patch") {
    f.listed("alice");
    ticket_patch empty;
    empty.price_minor = 5;  // a value without its flag is not a change
    empty.venue = "ignored";
    auto e = failure(f.m.decide(update_ticket{f.m.id.str(), empty, unit::as_user("alice")}));
    CHECK(e.code == errc::invalid_argument);
  }
  SUBCASE("to a negative price") {
    f.listed("alice");
    auto e = failure(f.m.decide(update_ticket{f.m.id.str(), price_patch(-1), unit::as_user("alice")}));
    CHECK(e.code == errc::invalid_argument);
    CHECK(e.field == "price_minor");
  }
  SUBCASE("apply only the flagged fields") {
    auto cmd = f.listed("alice");
    auto before = f.m.state();
    ticket_patch p;
    p.has_venue = true;
    p.venue = "Wembley";
    p.price_minor = 1;             // not flagged
    p.event_name = "not flagged";  // not flagged
    p.category = "nope";
    p.event_starts_at_ms = 42;
    auto d = f.m.decide(update_ticket{f.m.id.str(), p, unit::as_user("alice")});
    REQUIRE(d);
    REQUIRE(d->size() == 1);
    CHECK(std::get<ticket_updated>(d->front()).patch == p);
    f.apply(*d);
    CHECK(f.m.state().fields.venue == "Wembley");
    CHECK(f.m.state().fields.price_minor == before.fields.price_minor);
    CHECK(f.m.state().fields.event_name == before.fields.event_name);
    CHECK(f.m.state().fields.category == before.fields.category);
    CHECK(f.m.state().fields.event_starts_at_ms == before.fields.event_starts_at_ms);
    CHECK(f.m.state().created_at_ms == before.created_at_ms);
    CHECK(f.m.state().updated_at_ms == f.clock);
    CHECK(f.m.state().updated_at_ms > before.updated_at_ms);

    ticket_patch all;
    all.has_price = true;
    all.price_minor = 30000;
    all.has_event_name = true;
    all.event_name = "Final (rescheduled)";
    all.has_category = true;
    all.category = "soccer";
    all.has_event_starts_at = true;
    all.event_starts_at_ms = 1790000000000;
    auto d2 = f.m.decide(update_ticket{f.m.id.str(), all, unit::as_user("alice")});
    REQUIRE(d2);
    f.apply(*d2);
    CHECK(f.m.state().fields.price_minor == 30000);
    CHECK(f.m.state().fields.event_name == "Final (rescheduled)");
    CHECK(f.m.state().fields.category == "soccer");
    CHECK(f.m.state().fields.event_starts_at_ms == 1790000000000);
    CHECK(f.m.state().fields.venue == "Wembley");
    // Facts in the dedup key never change by update.
    CHECK(f.m.state().fields.event_id == cmd.fields.event_id);
    CHECK(f.m.state().fields.seats == cmd.fields.seats);
    CHECK(f.m.state().fields.face_value_minor == cmd.fields.face_value_minor);
    CHECK(f.m.state().status == ticket_status::listed);
  }
}

TEST_CASE("ticket model: withdrawal") {
  model_fixture f;
  f.m.id = persistence::random_id();
  CHECK(failure(f.m.decide(withdraw_ticket{f.m.id.str(), "r", unit::as_user("alice")})).code
        == errc::not_found);
  auto cmd = f.listed("alice");
  CHECK(failure(f.m.decide(withdraw_ticket{f.m.id.str(), "r", unit::as_user("bob")})).code
        == errc::forbidden);

  auto d = f.m.decide(withdraw_ticket{f.m.id.str(), "changed plans", unit::as_user("alice")});
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  CHECK(std::get<ticket_withdrawn>(d->front()).reason == "changed plans");
  f.apply(*d);
  CHECK(f.m.state().status == ticket_status::withdrawn);
  CHECK(f.m.view(f.seq, false).status == static_cast<uint8_t>(ticket_status::withdrawn));

  // Withdrawing again is idempotent: no new event, no error.
  auto again = f.m.decide(withdraw_ticket{f.m.id.str(), "again", unit::as_user("alice")});
  REQUIRE(again);
  CHECK(again->empty());
  // ... but only for the seller.
  CHECK(failure(f.m.decide(withdraw_ticket{f.m.id.str(), "r", unit::as_user("bob")})).code
        == errc::forbidden);

  // The same listing after a withdrawal lists it again (same id, creation time kept).
  auto created = f.m.state().created_at_ms;
  auto relist = f.m.decide(cmd, *f.keys);
  REQUIRE(relist);
  REQUIRE(relist->size() == 1);
  f.apply(*relist);
  CHECK(f.m.state().status == ticket_status::listed);
  CHECK(f.m.state().created_at_ms == created);
}

TEST_CASE("ticket model: snapshot/restore, unknown payloads and the owner index") {
  model_fixture f;
  auto cmd = f.listed("alice");
  auto u = f.m.decide(update_ticket{f.m.id.str(), price_patch(999), unit::as_user("alice")});
  REQUIRE(u);
  f.apply(*u);

  auto snap = f.m.snapshot(f.seq, 123);
  CHECK(snap.kind == entity_kind::ticket);
  CHECK(snap.entity_id == cmd.ticket_id);
  CHECK(snap.seq == 2);
  CHECK(snap.taken_at_ms == 123);
  auto decoded = decode_snapshot(encode_snapshot(snap));
  REQUIRE(decoded.has_value());
  ticket_model restored;
  restored.id = cmd.ticket_id;
  REQUIRE(restored.restore(*decoded));
  CHECK(restored.exists);
  CHECK(restored.state() == f.m.state());
  snapshot_envelope not_a_ticket;
  not_a_ticket.state = account_state{};
  ticket_model other;
  CHECK_FALSE(other.restore(not_a_ticket));
  CHECK_FALSE(other.exists);

  // Events this build does not know (or of another kind) leave the state alone.
  auto state = f.m.state();
  event_envelope unknown;
  unknown.timestamp_ms = f.clock + 1000;
  unknown.payload = unknown_payload{99};
  f.m.apply(unknown);
  unknown.payload = session_started{"fam", "hash"};
  f.m.apply(unknown);
  CHECK(f.m.state() == state);

  // Owner index: written on listing and on status change, not on a price change.
  ticket_model empty;
  empty.id = cmd.ticket_id;
  auto key = owner_index_prefix("alice") + cmd.ticket_id;
  CHECK(key == std::string("owner\0alice\0", 12) + cmd.ticket_id);
  CHECK(f.m.index_writes(empty, f.m) == std::vector<std::string>{key, "listed"});
  auto before = f.m;
  auto u2 = f.m.decide(update_ticket{f.m.id.str(), price_patch(5), unit::as_user("alice")});
  REQUIRE(u2);
  f.apply(*u2);
  CHECK(f.m.index_writes(before, f.m).empty());
  before = f.m;
  auto w = f.m.decide(withdraw_ticket{f.m.id.str(), "", unit::as_user("alice")});
  REQUIRE(w);
  f.apply(*w);
  CHECK(f.m.index_writes(before, f.m) == std::vector<std::string>{key, "withdrawn"});
}

TEST_CASE("ticket ids: deterministic per dedup key, different when any component changes") {
  auto keys = persistence::node_keys::from_secret("ids-test");
  auto f0 = unit::sample_fields(1);
  const std::string seller = "alice";
  const std::string barcode = "QR-0001";
  auto base = derive_listing_ids(*keys, seller, f0, barcode);
  CHECK(persistence::is_valid_id(base.ticket_id));
  CHECK(base.barcode_hash == keys->keyed_hash("barcode", barcode));
  CHECK(base.dedup_hash.size() == 64);
  CHECK(base.dedup_hash.find_first_not_of("0123456789abcdef") == std::string::npos);
  // Deterministic: same inputs, same ids (also from a second key object made
  // from the same secret).
  auto again = derive_listing_ids(*persistence::node_keys::from_secret("ids-test"), seller, f0,
                                  barcode);
  CHECK(again.ticket_id == base.ticket_id);
  CHECK(again.dedup_hash == base.dedup_hash);
  CHECK(again.barcode_hash == base.barcode_hash);

  auto id_with = [&](auto mutate, std::string s = "alice", std::string bc = "QR-0001") {
    auto f = f0;
    mutate(f);
    auto ids = derive_listing_ids(*keys, s, f, bc);
    CHECK(persistence::is_valid_id(ids.ticket_id));
    return ids;
  };
  auto same = [](ticket_fields&) {};
  struct variant_case {
    const char* what;
    listing_ids ids;
  };
  std::vector<variant_case> changed = {
    {"seller", id_with(same, "bob")},
    {"barcode", id_with(same, "alice", "QR-0002")},
    {"event_id", id_with([](ticket_fields& f) { f.event_id += "x"; })},
    {"section", id_with([](ticket_fields& f) { f.section = "C9"; })},
    {"row", id_with([](ticket_fields& f) { f.row = "13"; })},
    {"seat value", id_with([](ticket_fields& f) { f.seats.back() = "99"; })},
    {"seat order", id_with([](ticket_fields& f) { std::swap(f.seats[0], f.seats[1]); })},
    {"seat count", id_with([](ticket_fields& f) { f.seats.pop_back(); })},
    {"seats joined", id_with([](ticket_fields& f) { f.seats = {f.seats[0] + f.seats[1]}; })},
    {"face value", id_with([](ticket_fields& f) { f.face_value_minor += 1; })},
  };
  for (const auto& c : changed) {
    CAPTURE(c.what);
    CHECK(c.ids.ticket_id != base.ticket_id);
    CHECK(c.ids.dedup_hash != base.dedup_hash);
  }
  // Pairwise distinct too (no two components collide into one key).
  for (size_t i = 0; i < changed.size(); ++i)
    for (size_t j = i + 1; j < changed.size(); ++j)
      CHECK_MESSAGE(changed[i].ids.ticket_id != changed[j].ids.ticket_id,
                    changed[i].what << " vs " << changed[j].what);
  // Boundaries between components are unambiguous.
  auto a = f0;
  a.section = "AB";
  a.row = "C";
  auto b = f0;
  b.section = "A";
  b.row = "BC";
  CHECK(derive_listing_ids(*keys, seller, a, barcode).ticket_id
        != derive_listing_ids(*keys, seller, b, barcode).ticket_id);
  CHECK(dedup_key("ab", f0, "h") != dedup_key("a", [&] {
          auto f = f0;
          f.event_id = "b" + f.event_id;
          return f;
        }(), "h"));

  // Fields outside the dedup key do not change the id.
  for (auto mutate : std::vector<void (*)(ticket_fields&)>{
         [](ticket_fields& f) { f.price_minor += 1; },
         [](ticket_fields& f) { f.event_name = "other"; },
         [](ticket_fields& f) { f.venue = "other"; },
         [](ticket_fields& f) { f.category = "other"; },
         [](ticket_fields& f) { f.event_starts_at_ms += 1; },
         [](ticket_fields& f) { f.currency = "GBP"; },
         [](ticket_fields& f) { f.platform = 4; },
       }) {
    CHECK(id_with(mutate).ticket_id == base.ticket_id);
  }
  // Another node secret gives other, unrelated ids.
  auto other = persistence::node_keys::from_secret("another-node");
  CHECK(derive_listing_ids(*other, seller, f0, barcode).ticket_id != base.ticket_id);
}

TEST_CASE("the barcode never appears in clear in an encoded listing or snapshot") {
  model_fixture f;
  const std::string barcode = "BC-PLAINTEXT-7731-SECRET";
  auto cmd = unit::make_listing(*f.keys, "alice", 5, barcode);
  f.m.id = cmd.ticket_id;
  auto d = f.m.decide(cmd, *f.keys);
  REQUIRE(d);
  REQUIRE(d->size() == 1);
  event_envelope ev;
  ev.kind = entity_kind::ticket;
  ev.entity_id = cmd.ticket_id;
  ev.seq = 1;
  ev.user_id = "alice";
  ev.payload = d->front();
  auto bytes = encode_event(ev);
  CHECK(bytes.find(barcode) == std::string::npos);
  CHECK(bytes.find("PLAINTEXT-7731") == std::string::npos);
  // It is there, sealed: the stored event can give it back to the node only.
  auto decoded = decode_event(bytes);
  REQUIRE(decoded.has_value());
  CHECK(f.keys->open(std::get<ticket_listed>(decoded->payload).barcode_sealed)
        == std::optional<std::string>(barcode));
  CHECK_FALSE(persistence::node_keys::from_secret("other")
                ->open(std::get<ticket_listed>(decoded->payload).barcode_sealed)
                .has_value());
  f.apply(*d);
  auto snap = encode_snapshot(f.m.snapshot(1, 1));
  CHECK(snap.find(barcode) == std::string::npos);
}

TEST_CASE("node keys: seal/open round trip and tamper detection") {
  auto keys = persistence::node_keys::from_secret("seal-test");
  for (std::string plain : {std::string{}, std::string("x"), std::string("bar\0code\xff", 9),
                            std::string(4096, 'q')}) {
    CAPTURE(plain.size());
    auto sealed = keys->seal(plain);
    CHECK(sealed.size() == plain.size() + 24 + 16);  // nonce + tag
    CHECK(keys->open(sealed) == std::optional<std::string>(plain));
    if (plain.size() > 4)
      CHECK(sealed.find(plain) == std::string::npos);
  }
  auto a = keys->seal("same");
  auto b = keys->seal("same");
  CHECK(a != b);  // random nonce per seal
  CHECK(keys->open(a) == keys->open(b));

  // Flipping any single bit anywhere (nonce, ciphertext, tag) is detected.
  for (size_t i = 0; i < a.size(); ++i) {
    for (int bit : {0, 7}) {
      auto t = a;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      CHECK_MESSAGE(!keys->open(t).has_value(), "byte " << i << " bit " << bit);
    }
  }
  CHECK_FALSE(keys->open(a.substr(0, a.size() - 1)).has_value());
  CHECK_FALSE(keys->open(a + "x").has_value());
  CHECK_FALSE(keys->open("").has_value());
  CHECK_FALSE(keys->open(std::string(39, '\0')).has_value());
  CHECK_FALSE(persistence::node_keys::from_secret("other")->open(a).has_value());

  // Keyed hashes: stable, key- and domain-separated.
  CHECK(keys->keyed_hash("d", "x") == keys->keyed_hash("d", "x"));
  CHECK(keys->keyed_hash("d", "x") != keys->keyed_hash("e", "x"));
  CHECK(keys->keyed_hash("a", "bc") != keys->keyed_hash("ab", "c"));
  CHECK(keys->keyed_hash("d", "x")
        != persistence::node_keys::from_secret("other")->keyed_hash("d", "x"));
  CHECK(keys->derived_id("d", "x") == keys->derived_id("d", "x"));
  CHECK(persistence::is_valid_id(keys->derived_id("d", "x")));
}

TEST_CASE("node keys: the key file is created once (0600) and reloaded") {
  unit::temp_dir dir;
  std::string err;
  auto k1 = persistence::node_keys::load_or_create(dir.str(), &err);
  REQUIRE_MESSAGE(k1, err);
  auto path = dir.str() + "/node.key";
  struct stat st{};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  auto k2 = persistence::node_keys::load_or_create(dir.str(), &err);
  REQUIRE(k2);
  CHECK(k1->keyed_hash("d", "x") == k2->keyed_hash("d", "x"));
  CHECK(k2->open(k1->seal("secret")) == std::optional<std::string>("secret"));
  unit::temp_dir other_dir;
  auto k3 = persistence::node_keys::load_or_create(other_dir.str(), &err);
  REQUIRE(k3);
  CHECK(k1->keyed_hash("d", "x") != k3->keyed_hash("d", "x"));
  // A malformed key file is refused, not replaced.
  std::ofstream(path, std::ios::trunc) << "not-hex\n";
  err.clear();
  CHECK(persistence::node_keys::load_or_create(dir.str(), &err) == nullptr);
  CHECK_FALSE(err.empty());
}

TEST_CASE("ids: format check and random ids") {
  CHECK(persistence::is_valid_id("AAAAAAAAAAAAAAAAAAAAAA"));
  CHECK(persistence::is_valid_id("az09-_AZaz09-_AZaz09-_"));
  CHECK_FALSE(persistence::is_valid_id(""));
  CHECK_FALSE(persistence::is_valid_id("AAAAAAAAAAAAAAAAAAAAA"));    // 21
  CHECK_FALSE(persistence::is_valid_id("AAAAAAAAAAAAAAAAAAAAAAA"));  // 23
  CHECK_FALSE(persistence::is_valid_id("AAAAAAAAAAAAAAAAAAAAA="));
  CHECK_FALSE(persistence::is_valid_id("AAAAAAAAAAAAAAAAAAAAA/"));
  CHECK_FALSE(persistence::is_valid_id(std::string("AAAAAAAAAAAAAAAAAAAAA\0", 22)));
  auto r1 = persistence::random_id();
  auto r2 = persistence::random_id();
  CHECK(persistence::is_valid_id(r1));
  CHECK(r1 != r2);
}

TEST_CASE("ids: buffered random ids stay unique across refills, threads and a fork") {
  // Ids come from a per-thread pool of OS random bytes (4 KiB, ~250 ids):
  // many pools' worth, on several threads at once, must never repeat, and a
  // forked child must not hand out the ids its parent's pool still holds.
  std::set<std::string> seen;
  std::mutex mtx;
  bool all_valid = true;
  auto draw = [&](int n) {
    std::vector<std::string> mine;
    for (int i = 0; i < n; ++i)
      mine.push_back(persistence::random_id());
    std::lock_guard<std::mutex> g{mtx};
    for (auto& id : mine) {
      all_valid = all_valid && persistence::is_valid_id(id);
      seen.insert(std::move(id));
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back(draw, 2000);
  for (auto& t : threads)
    t.join();
  CHECK(all_valid);
  CHECK(seen.size() == 8000);
  CHECK(persistence::random_token(32) != persistence::random_token(32));
  CHECK(persistence::random_hex(8).size() == 16);
  // Fork with this thread's pool part used: the child's next id must differ
  // from the parent's next id.
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    auto id = persistence::random_id();
    auto w = write(fds[1], id.data(), id.size());
    _exit(w == static_cast<ssize_t>(id.size()) ? 0 : 1);
  }
  auto parent_next = persistence::random_id();
  char buf[64] = {};
  auto r = read(fds[0], buf, sizeof(buf));
  int status = 0;
  waitpid(child, &status, 0);
  close(fds[0]);
  close(fds[1]);
  REQUIRE(r == 22);
  CHECK(std::string(buf, 22) != parent_next);
  CHECK(WIFEXITED(status));
}

TEST_CASE("ticket model: its compact storage gives back any state exactly") {
  // Hex hashes are kept as raw bytes, other strings as they are: both must
  // round-trip, as must long strings, many seats, ids longer than 23 chars
  // and the trade part (present or not).
  ticket_state s;
  s.fields.event_id = "evt";
  s.fields.event_name = std::string(70000, 'n');  // past 16-bit offsets
  s.fields.venue = "";
  s.fields.category = "concert";
  s.fields.event_starts_at_ms = 1790000000000;
  s.fields.section = "S1";
  s.fields.row = "R2";
  for (int i = 0; i < 40; ++i)
    s.fields.seats.push_back(std::to_string(i));
  s.fields.face_value_minor = 5000;
  s.fields.price_minor = 6000;
  s.fields.currency = "EUR";
  s.fields.platform = 3;
  s.seller = "a-seller-id-longer-than-twenty-three-chars";
  s.status = ticket_status::withdrawn;
  s.barcode_hash = std::string(64, 'a');  // lowercase hex: stored raw
  s.barcode_sealed = std::string("\0\x01\xff", 3);
  s.created_at_ms = 1;
  s.updated_at_ms = 2;
  for (bool with_trade_part : {false, true}) {
    if (with_trade_part) {
      s.hold_trade_id = "T9";
      s.transfer_refs = {"T1", "T2"};
      s.last_transfer_ref = "T2";
      s.valuation_version = "v1";
      s.valuation_method = "model";
      s.valuation_credit_minor = 777;
      s.offer_open = true;
      s.offer.want_venues = {"Wembley"};
      s.offer.weights_permille = {1000, 0, 5};
      s.offer_at_ms = 3;
    }
    for (auto hash : {std::string(64, 'A'), std::string(64, 'f'), std::string{"abc"},
                      std::string(63, 'b') + "G"}) {
      s.dedup_hash = hash;
      ticket_model m;
      m.id = std::string(40, 'x');
      m.set_state(s);
      CHECK(m.state() == s);
      ticket_model copy = m;
      CHECK(copy.state() == s);
      CHECK(copy.id == std::string(40, 'x'));
      CHECK(m.view(3, false).barcode_hash == s.barcode_hash);
      CHECK(m.barcode_sealed() == s.barcode_sealed);
    }
  }
  ticket_model empty;
  CHECK(empty.state() == ticket_state{});
}

TEST_CASE("ticket model: a copy changed by an event leaves the original alone") {
  // The entity decides on a copy (`next`) and keeps the original when the
  // append fails: the shared trade part must be copied on write.
  model_fixture f;
  f.listed("alice", 7);
  event_envelope ev;
  ev.timestamp_ms = f.clock + 1;
  ev.payload = ticket_valued{500, "USD", 900000, "v1", "model", 0};
  f.m.apply(ev);
  auto original = f.m.state();
  ticket_model next = f.m;
  ev.payload = ticket_held{"T1", "alice"};
  next.apply(ev);
  ev.payload = ticket_valued{600, "USD", 900000, "v2", "model", 0};
  next.apply(ev);
  ev.payload = ticket_transferred{"T1", "alice", "bob"};
  next.apply(ev);
  CHECK(f.m.state() == original);
  CHECK(f.m.trade().valuation_credit_minor == 500);
  CHECK(f.m.seller() == "alice");
  CHECK(next.seller() == "bob");
  CHECK(next.trade().valuation_credit_minor == 600);
  CHECK(next.trade().transfer_refs == std::vector<std::string>{"T1"});
  CHECK(next.state().fields == f.m.state().fields);
  CHECK(next.barcode_hash() == f.m.barcode_hash());
}
