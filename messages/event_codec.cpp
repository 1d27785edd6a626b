#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include <cstring>

#include "messages/events.capnp.h"
#include "messages/events.hpp"

namespace tt {

namespace {

capnp::Text::Reader text(const std::string& s) {
  return capnp::Text::Reader(s.data(), s.size());
}

std::string str(capnp::Text::Reader r) {
  return std::string(r.cStr(), r.size());
}

capnp::Data::Reader data(const std::string& s) {
  return capnp::Data::Reader(reinterpret_cast<const kj::byte*>(s.data()), s.size());
}

std::string str(capnp::Data::Reader r) {
  return std::string(reinterpret_cast<const char*>(r.begin()), r.size());
}

void write_fields(schema::TicketFields::Builder b, const ticket_fields& f) {
  b.setEventId(text(f.event_id));
  b.setEventName(text(f.event_name));
  b.setVenue(text(f.venue));
  b.setCategory(text(f.category));
  b.setEventStartsAtMs(f.event_starts_at_ms);
  b.setSection(text(f.section));
  b.setRow(text(f.row));
  auto seats = b.initSeats(static_cast<unsigned>(f.seats.size()));
  for (unsigned i = 0; i < f.seats.size(); ++i)
    seats.set(i, text(f.seats[i]));
  b.setFaceValueMinor(f.face_value_minor);
  b.setPriceMinor(f.price_minor);
  b.setCurrency(text(f.currency));
  b.setPlatform(static_cast<schema::Platform>(f.platform));
}

ticket_fields read_fields(schema::TicketFields::Reader r) {
  ticket_fields f;
  f.event_id = str(r.getEventId());
  f.event_name = str(r.getEventName());
  f.venue = str(r.getVenue());
  f.category = str(r.getCategory());
  f.event_starts_at_ms = r.getEventStartsAtMs();
  f.section = str(r.getSection());
  f.row = str(r.getRow());
  for (auto s : r.getSeats())
    f.seats.push_back(str(s));
  f.face_value_minor = r.getFaceValueMinor();
  f.price_minor = r.getPriceMinor();
  f.currency = str(r.getCurrency());
  f.platform = static_cast<uint8_t>(r.getPlatform());
  return f;
}

std::string to_bytes(capnp::MallocMessageBuilder& mb) {
  auto words = capnp::messageToFlatArray(mb);
  auto bytes = words.asBytes();
  return std::string(reinterpret_cast<const char*>(bytes.begin()), bytes.size());
}

// Copies into word-aligned memory; Cap'n Proto reads in place.
kj::Array<capnp::word> aligned(std::string_view bytes) {
  auto words = kj::heapArray<capnp::word>(bytes.size() / sizeof(capnp::word));
  std::memcpy(words.begin(), bytes.data(), words.size() * sizeof(capnp::word));
  return words;
}

capnp::ReaderOptions reader_options() {
  capnp::ReaderOptions opts;
  opts.traversalLimitInWords = 1 << 20;  // 8 MiB: far above any real event
  opts.nestingLimit = 16;
  return opts;
}

bool check_size(std::string_view bytes, std::string* why) {
  if (bytes.empty() || bytes.size() % sizeof(capnp::word) != 0) {
    if (why)
      *why = "size is not a positive multiple of 8";
    return false;
  }
  return true;
}

} // namespace

const char* to_string(entity_kind k) {
  switch (k) {
    case entity_kind::ticket: return "ticket";
    case entity_kind::account: return "account";
    case entity_kind::trade: return "trade";
    case entity_kind::escrow: return "escrow";
    case entity_kind::email_index: return "email_index";
    default: return "unknown";
  }
}

const char* event_type_name(const event_payload& p) {
  struct visitor {
    const char* operator()(const unknown_payload&) const { return "unknown"; }
    const char* operator()(const ticket_listed&) const { return "ticket_listed"; }
    const char* operator()(const ticket_updated&) const { return "ticket_updated"; }
    const char* operator()(const ticket_withdrawn&) const { return "ticket_withdrawn"; }
    const char* operator()(const account_registered&) const { return "account_registered"; }
    const char* operator()(const session_started&) const { return "session_started"; }
    const char* operator()(const session_rotated&) const { return "session_rotated"; }
    const char* operator()(const session_revoked&) const { return "session_revoked"; }
    const char* operator()(const email_claimed&) const { return "email_claimed"; }
  };
  return std::visit(visitor{}, p);
}

std::string encode_event(const event_envelope& e) {
  capnp::MallocMessageBuilder mb;
  auto ev = mb.initRoot<schema::Event>();
  ev.setSchemaVersion(e.schema_version);
  ev.setEntityKind(static_cast<schema::EntityKind>(e.kind));
  ev.setEntityId(text(e.entity_id));
  ev.setSeq(e.seq);
  ev.setTimestampMs(e.timestamp_ms);
  ev.setEventId(text(e.event_id));
  ev.setCausationId(text(e.causation_id));
  ev.setCorrelationId(text(e.correlation_id));
  auto actor = ev.initActor();
  actor.setUserId(text(e.user_id));
  actor.setDeviceHash(text(e.device_hash));
  actor.setIp(text(e.ip));
  auto payload = ev.initPayload();
  struct visitor {
    schema::Event::Payload::Builder& b;
    void operator()(const unknown_payload&) { b.setNone(); }
    void operator()(const ticket_listed& x) {
      auto t = b.initTicketListed();
      write_fields(t.initFields(), x.fields);
      t.setSeller(text(x.seller));
      t.setBarcodeHash(text(x.barcode_hash));
      t.setBarcodeSealed(data(x.barcode_sealed));
      t.setDedupHash(text(x.dedup_hash));
    }
    void operator()(const ticket_updated& x) {
      auto t = b.initTicketUpdated();
      const auto& p = x.patch;
      t.setHasPrice(p.has_price);
      t.setPriceMinor(p.price_minor);
      t.setHasEventName(p.has_event_name);
      t.setEventName(text(p.event_name));
      t.setHasVenue(p.has_venue);
      t.setVenue(text(p.venue));
      t.setHasCategory(p.has_category);
      t.setCategory(text(p.category));
      t.setHasEventStartsAt(p.has_event_starts_at);
      t.setEventStartsAtMs(p.event_starts_at_ms);
    }
    void operator()(const ticket_withdrawn& x) {
      b.initTicketWithdrawn().setReason(text(x.reason));
    }
    void operator()(const account_registered& x) {
      auto t = b.initAccountRegistered();
      t.setEmail(text(x.email));
      t.setDisplayName(text(x.display_name));
      t.setPasswordSealed(data(x.password_sealed));
    }
    void operator()(const session_started& x) {
      auto t = b.initSessionStarted();
      t.setFamilyId(text(x.family_id));
      t.setTokenHash(text(x.token_hash));
    }
    void operator()(const session_rotated& x) {
      auto t = b.initSessionRotated();
      t.setFamilyId(text(x.family_id));
      t.setTokenHash(text(x.token_hash));
    }
    void operator()(const session_revoked& x) {
      auto t = b.initSessionRevoked();
      t.setFamilyId(text(x.family_id));
      t.setReason(text(x.reason));
    }
    void operator()(const email_claimed& x) {
      b.initEmailClaimed().setAccountId(text(x.account_id));
    }
  };
  std::visit(visitor{payload}, e.payload);
  return to_bytes(mb);
}

std::optional<event_envelope> decode_event(std::string_view bytes, std::string* why) {
  if (!check_size(bytes, why))
    return std::nullopt;
  auto words = aligned(bytes);
  std::optional<event_envelope> result;
  auto ex = kj::runCatchingExceptions([&] {
    capnp::FlatArrayMessageReader reader(words.asPtr(), reader_options());
    auto ev = reader.getRoot<schema::Event>();
    event_envelope e;
    e.schema_version = ev.getSchemaVersion();
    e.kind = static_cast<entity_kind>(ev.getEntityKind());
    e.entity_id = str(ev.getEntityId());
    e.seq = ev.getSeq();
    e.timestamp_ms = ev.getTimestampMs();
    e.event_id = str(ev.getEventId());
    e.causation_id = str(ev.getCausationId());
    e.correlation_id = str(ev.getCorrelationId());
    auto actor = ev.getActor();
    e.user_id = str(actor.getUserId());
    e.device_hash = str(actor.getDeviceHash());
    e.ip = str(actor.getIp());
    auto p = ev.getPayload();
    switch (p.which()) {
      case schema::Event::Payload::NONE:
        e.payload = unknown_payload{0};
        break;
      case schema::Event::Payload::TICKET_LISTED: {
        auto t = p.getTicketListed();
        ticket_listed x;
        x.fields = read_fields(t.getFields());
        x.seller = str(t.getSeller());
        x.barcode_hash = str(t.getBarcodeHash());
        x.barcode_sealed = str(t.getBarcodeSealed());
        x.dedup_hash = str(t.getDedupHash());
        e.payload = std::move(x);
        break;
      }
      case schema::Event::Payload::TICKET_UPDATED: {
        auto t = p.getTicketUpdated();
        ticket_updated x;
        x.patch.has_price = t.getHasPrice();
        x.patch.price_minor = t.getPriceMinor();
        x.patch.has_event_name = t.getHasEventName();
        x.patch.event_name = str(t.getEventName());
        x.patch.has_venue = t.getHasVenue();
        x.patch.venue = str(t.getVenue());
        x.patch.has_category = t.getHasCategory();
        x.patch.category = str(t.getCategory());
        x.patch.has_event_starts_at = t.getHasEventStartsAt();
        x.patch.event_starts_at_ms = t.getEventStartsAtMs();
        e.payload = std::move(x);
        break;
      }
      case schema::Event::Payload::TICKET_WITHDRAWN:
        e.payload = ticket_withdrawn{str(p.getTicketWithdrawn().getReason())};
        break;
      case schema::Event::Payload::ACCOUNT_REGISTERED: {
        auto t = p.getAccountRegistered();
        e.payload = account_registered{str(t.getEmail()), str(t.getDisplayName()),
                                       str(t.getPasswordSealed())};
        break;
      }
      case schema::Event::Payload::SESSION_STARTED: {
        auto t = p.getSessionStarted();
        e.payload = session_started{str(t.getFamilyId()), str(t.getTokenHash())};
        break;
      }
      case schema::Event::Payload::SESSION_ROTATED: {
        auto t = p.getSessionRotated();
        e.payload = session_rotated{str(t.getFamilyId()), str(t.getTokenHash())};
        break;
      }
      case schema::Event::Payload::SESSION_REVOKED: {
        auto t = p.getSessionRevoked();
        e.payload = session_revoked{str(t.getFamilyId()), str(t.getReason())};
        break;
      }
      case schema::Event::Payload::EMAIL_CLAIMED:
        e.payload = email_claimed{str(p.getEmailClaimed().getAccountId())};
        break;
      default:
        e.payload = unknown_payload{static_cast<uint16_t>(p.which())};
    }
    result = std::move(e);
  });
  KJ_IF_MAYBE (e, ex) {
    if (why)
      *why = e->getDescription().cStr();
    return std::nullopt;
  }
  return result;
}

std::string encode_snapshot(const snapshot_envelope& s) {
  capnp::MallocMessageBuilder mb;
  auto sn = mb.initRoot<schema::Snapshot>();
  sn.setSchemaVersion(s.schema_version);
  sn.setEntityKind(static_cast<schema::EntityKind>(s.kind));
  sn.setEntityId(text(s.entity_id));
  sn.setSeq(s.seq);
  sn.setTakenAtMs(s.taken_at_ms);
  auto st = sn.initState();
  if (auto* t = std::get_if<ticket_state>(&s.state)) {
    auto b = st.initTicket();
    write_fields(b.initFields(), t->fields);
    b.setSeller(text(t->seller));
    b.setStatus(static_cast<schema::TicketStatus>(t->status));
    b.setBarcodeHash(text(t->barcode_hash));
    b.setBarcodeSealed(data(t->barcode_sealed));
    b.setDedupHash(text(t->dedup_hash));
    b.setCreatedAtMs(t->created_at_ms);
    b.setUpdatedAtMs(t->updated_at_ms);
  } else if (auto* a = std::get_if<account_state>(&s.state)) {
    auto b = st.initAccount();
    b.setEmail(text(a->email));
    b.setDisplayName(text(a->display_name));
    b.setPasswordSealed(data(a->password_sealed));
    b.setCreatedAtMs(a->created_at_ms);
    auto list = b.initSessions(static_cast<unsigned>(a->sessions.size()));
    for (unsigned i = 0; i < a->sessions.size(); ++i) {
      const auto& x = a->sessions[i];
      auto sb = list[i];
      sb.setFamilyId(text(x.family_id));
      sb.setTokenHash(text(x.token_hash));
      sb.setGeneration(x.generation);
      sb.setStartedAtMs(x.started_at_ms);
      sb.setLastUsedMs(x.last_used_ms);
    }
  } else if (auto* c = std::get_if<email_claim_state>(&s.state)) {
    auto b = st.initEmailClaim();
    b.setAccountId(text(c->account_id));
    b.setClaimedAtMs(c->claimed_at_ms);
  } else {
    st.setNone();
  }
  return to_bytes(mb);
}

std::optional<snapshot_envelope> decode_snapshot(std::string_view bytes, std::string* why) {
  if (!check_size(bytes, why))
    return std::nullopt;
  auto words = aligned(bytes);
  std::optional<snapshot_envelope> result;
  auto ex = kj::runCatchingExceptions([&] {
    capnp::FlatArrayMessageReader reader(words.asPtr(), reader_options());
    auto sn = reader.getRoot<schema::Snapshot>();
    snapshot_envelope s;
    s.schema_version = sn.getSchemaVersion();
    s.kind = static_cast<entity_kind>(sn.getEntityKind());
    s.entity_id = str(sn.getEntityId());
    s.seq = sn.getSeq();
    s.taken_at_ms = sn.getTakenAtMs();
    auto st = sn.getState();
    if (st.which() == schema::Snapshot::State::TICKET) {
      auto r = st.getTicket();
      ticket_state t;
      t.fields = read_fields(r.getFields());
      t.seller = str(r.getSeller());
      t.status = static_cast<ticket_status>(r.getStatus());
      t.barcode_hash = str(r.getBarcodeHash());
      t.barcode_sealed = str(r.getBarcodeSealed());
      t.dedup_hash = str(r.getDedupHash());
      t.created_at_ms = r.getCreatedAtMs();
      t.updated_at_ms = r.getUpdatedAtMs();
      s.state = std::move(t);
    } else if (st.which() == schema::Snapshot::State::ACCOUNT) {
      auto r = st.getAccount();
      account_state a;
      a.email = str(r.getEmail());
      a.display_name = str(r.getDisplayName());
      a.password_sealed = str(r.getPasswordSealed());
      a.created_at_ms = r.getCreatedAtMs();
      for (auto x : r.getSessions())
        a.sessions.push_back(session_info{str(x.getFamilyId()), str(x.getTokenHash()),
                                          x.getGeneration(), x.getStartedAtMs(),
                                          x.getLastUsedMs()});
      s.state = std::move(a);
    } else if (st.which() == schema::Snapshot::State::EMAIL_CLAIM) {
      auto r = st.getEmailClaim();
      s.state = email_claim_state{str(r.getAccountId()), r.getClaimedAtMs()};
    }
    result = std::move(s);
  });
  KJ_IF_MAYBE (e, ex) {
    if (why)
      *why = e->getDescription().cStr();
    return std::nullopt;
  }
  return result;
}

} // namespace tt
