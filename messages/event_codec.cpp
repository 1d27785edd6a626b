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

template <class List>
void write_list(List l, const std::vector<std::string>& v) {
  for (unsigned i = 0; i < v.size(); ++i)
    l.set(i, text(v[i]));
}

template <class Reader>
std::vector<std::string> read_list(Reader r) {
  std::vector<std::string> out;
  out.reserve(r.size());
  for (auto x : r)
    out.push_back(str(x));
  return out;
}

void write_offer(schema::TicketOffered::Builder t, const ticket_offered& x) {
  write_list(t.initWantEventIds(static_cast<unsigned>(x.want_event_ids.size())), x.want_event_ids);
  write_list(t.initWantCategories(static_cast<unsigned>(x.want_categories.size())),
             x.want_categories);
  write_list(t.initWantVenues(static_cast<unsigned>(x.want_venues.size())), x.want_venues);
  t.setMaxCashMinor(x.max_cash_minor);
  auto w = t.initWeightsPermille(static_cast<unsigned>(x.weights_permille.size()));
  for (unsigned i = 0; i < x.weights_permille.size(); ++i)
    w.set(i, x.weights_permille[i]);
}

ticket_offered read_offer(schema::TicketOffered::Reader t) {
  ticket_offered x;
  x.want_event_ids = read_list(t.getWantEventIds());
  x.want_categories = read_list(t.getWantCategories());
  x.want_venues = read_list(t.getWantVenues());
  x.max_cash_minor = t.getMaxCashMinor();
  for (auto v : t.getWeightsPermille())
    x.weights_permille.push_back(v);
  return x;
}

void write_parties(capnp::List<schema::TradeParty>::Builder l, const std::vector<trade_party>& v) {
  for (unsigned i = 0; i < v.size(); ++i) {
    auto b = l[i];
    b.setAccount(text(v[i].account));
    write_list(b.initGive(static_cast<unsigned>(v[i].give.size())), v[i].give);
    b.setReceiver(v[i].receiver);
    b.setCreditMinor(v[i].credit_minor);
    b.setNetCashMinor(v[i].net_cash_minor);
  }
}

std::vector<trade_party> read_parties(capnp::List<schema::TradeParty>::Reader l) {
  std::vector<trade_party> out;
  for (auto r : l)
    out.push_back(trade_party{str(r.getAccount()), read_list(r.getGive()), r.getReceiver(),
                              r.getCreditMinor(), r.getNetCashMinor()});
  return out;
}

template <class B>
void write_postings(B b, const std::vector<posting>& ps) {
  auto l = b.initPostings(static_cast<unsigned>(ps.size()));
  for (unsigned i = 0; i < ps.size(); ++i) {
    l[i].setFrom(static_cast<schema::LedgerAccount>(ps[i].from));
    l[i].setTo(static_cast<schema::LedgerAccount>(ps[i].to));
    l[i].setAmountMinor(ps[i].amount_minor);
  }
}

ledger_account read_account(schema::LedgerAccount a) {
  auto v = static_cast<uint16_t>(a);
  return v < ledger_account_count ? static_cast<ledger_account>(v) : ledger_account::external;
}

trade_status read_status(schema::TradeStatus s) {
  auto v = static_cast<uint16_t>(s);
  return v <= static_cast<uint16_t>(trade_status::refunded) ? static_cast<trade_status>(v)
                                                             : trade_status::rejected;
}

wallet_op read_op(schema::WalletOp o) {
  auto v = static_cast<uint16_t>(o);
  return v <= static_cast<uint16_t>(wallet_op::payout) ? static_cast<wallet_op>(v)
                                                        : wallet_op::deposit;
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
    case entity_kind::wallet: return "wallet";
    case entity_kind::consumer: return "consumer";
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
    const char* operator()(const ticket_held&) const { return "ticket_held"; }
    const char* operator()(const ticket_released&) const { return "ticket_released"; }
    const char* operator()(const ticket_deposited&) const { return "ticket_deposited"; }
    const char* operator()(const ticket_transferred&) const { return "ticket_transferred"; }
    const char* operator()(const wallet_posted&) const { return "wallet_posted"; }
    const char* operator()(const trade_proposed&) const { return "trade_proposed"; }
    const char* operator()(const trade_status_changed&) const { return "trade_status_changed"; }
    const char* operator()(const trade_cash_added&) const { return "trade_cash_added"; }
    const char* operator()(const trade_deposit&) const { return "trade_deposit"; }
    const char* operator()(const trade_disputed&) const { return "trade_disputed"; }
    const char* operator()(const ticket_valued&) const { return "ticket_valued"; }
    const char* operator()(const ticket_offered&) const { return "ticket_offered"; }
    const char* operator()(const ticket_offer_closed&) const { return "ticket_offer_closed"; }
    const char* operator()(const trade_matched&) const { return "trade_matched"; }
    const char* operator()(const trade_party_accepted&) const { return "trade_party_accepted"; }
  };
  return std::visit(visitor{}, p);
}

const char* to_string(ledger_account a) {
  switch (a) {
    case ledger_account::external: return "external";
    case ledger_account::user_available: return "user_available";
    case ledger_account::user_held: return "user_held";
    case ledger_account::platform_escrow: return "platform_escrow";
    case ledger_account::platform_fees: return "platform_fees";
  }
  return "unknown";
}

const char* to_string(wallet_op op) {
  switch (op) {
    case wallet_op::deposit: return "deposit";
    case wallet_op::withdrawal: return "withdrawal";
    case wallet_op::hold: return "hold";
    case wallet_op::release: return "release";
    case wallet_op::capture: return "capture";
    case wallet_op::payout: return "payout";
  }
  return "unknown";
}

const char* to_string(trade_status s) {
  switch (s) {
    case trade_status::proposing: return "proposing";
    case trade_status::proposed: return "proposed";
    case trade_status::accepted: return "accepted";
    case trade_status::in_escrow: return "in_escrow";
    case trade_status::transferring: return "transferring";
    case trade_status::completed: return "completed";
    case trade_status::releasing: return "releasing";
    case trade_status::declined: return "declined";
    case trade_status::cancelled: return "cancelled";
    case trade_status::expired: return "expired";
    case trade_status::rejected: return "rejected";
    case trade_status::disputed: return "disputed";
    case trade_status::refunded: return "refunded";
  }
  return "unknown";
}

bool is_final(trade_status s) {
  switch (s) {
    case trade_status::completed:
    case trade_status::declined:
    case trade_status::cancelled:
    case trade_status::expired:
    case trade_status::rejected:
    case trade_status::refunded: return true;
    default: return false;
  }
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
    void operator()(const ticket_held& x) {
      auto t = b.initTicketHeld();
      t.setTradeId(text(x.trade_id));
      t.setOwner(text(x.owner));
    }
    void operator()(const ticket_released& x) {
      b.initTicketReleased().setTradeId(text(x.trade_id));
    }
    void operator()(const ticket_deposited& x) {
      b.initTicketDeposited().setTradeId(text(x.trade_id));
    }
    void operator()(const ticket_transferred& x) {
      auto t = b.initTicketTransferred();
      t.setTradeId(text(x.trade_id));
      t.setFromOwner(text(x.from_owner));
      t.setToOwner(text(x.to_owner));
    }
    void operator()(const wallet_posted& x) {
      auto t = b.initWalletPosted();
      t.setOp(static_cast<schema::WalletOp>(x.op));
      t.setRef(text(x.ref));
      t.setCurrency(text(x.currency));
      t.setAmountMinor(x.amount_minor);
      t.setRequestHash(text(x.request_hash));
      write_postings(t, x.postings);
      t.setCounterparty(text(x.counterparty));
    }
    void operator()(const trade_proposed& x) {
      auto t = b.initTradeProposed();
      t.setProposer(text(x.proposer));
      t.setCounterparty(text(x.counterparty));
      write_list(t.initGive(static_cast<unsigned>(x.give.size())), x.give);
      write_list(t.initTake(static_cast<unsigned>(x.take.size())), x.take);
      t.setProposerPaysMinor(x.proposer_pays_minor);
      t.setCounterpartyPaysMinor(x.counterparty_pays_minor);
      t.setCurrency(text(x.currency));
      t.setExpiresAtMs(x.expires_at_ms);
      t.setRequestHash(text(x.request_hash));
      t.setFeeBps(x.fee_bps);
    }
    void operator()(const trade_status_changed& x) {
      auto t = b.initTradeStatusChanged();
      t.setStatus(static_cast<schema::TradeStatus>(x.status));
      t.setTarget(static_cast<schema::TradeStatus>(x.target));
      t.setReason(text(x.reason));
      write_list(t.initParties(static_cast<unsigned>(x.parties.size())), x.parties);
    }
    void operator()(const trade_cash_added& x) {
      auto t = b.initTradeCashAdded();
      t.setParty(text(x.party));
      t.setAmountMinor(x.amount_minor);
    }
    void operator()(const trade_deposit& x) {
      b.initTradeDeposit().setTicketId(text(x.ticket_id));
    }
    void operator()(const trade_disputed& x) {
      auto t = b.initTradeDisputed();
      t.setBy(text(x.by));
      t.setReason(text(x.reason));
    }
    void operator()(const ticket_valued& x) {
      auto t = b.initTicketValued();
      t.setCreditMinor(x.credit_minor);
      t.setCurrency(text(x.currency));
      t.setConfidencePpm(x.confidence_ppm);
      t.setModelVersion(text(x.model_version));
      t.setMethod(text(x.method));
      t.setMedianSamples(x.median_samples);
    }
    void operator()(const ticket_offered& x) { write_offer(b.initTicketOffered(), x); }
    void operator()(const ticket_offer_closed& x) {
      b.initTicketOfferClosed().setReason(text(x.reason));
    }
    void operator()(const trade_matched& x) {
      auto t = b.initTradeMatched();
      write_parties(t.initParties(static_cast<unsigned>(x.parties.size())), x.parties);
      t.setCurrency(text(x.currency));
      t.setExpiresAtMs(x.expires_at_ms);
      t.setFeeBps(x.fee_bps);
      t.setMatchKey(text(x.match_key));
    }
    void operator()(const trade_party_accepted& x) {
      auto t = b.initTradePartyAccepted();
      t.setParty(text(x.party));
      t.setExpiresAtMs(x.expires_at_ms);
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
      case schema::Event::Payload::TICKET_HELD: {
        auto t = p.getTicketHeld();
        e.payload = ticket_held{str(t.getTradeId()), str(t.getOwner())};
        break;
      }
      case schema::Event::Payload::TICKET_RELEASED:
        e.payload = ticket_released{str(p.getTicketReleased().getTradeId())};
        break;
      case schema::Event::Payload::TICKET_DEPOSITED:
        e.payload = ticket_deposited{str(p.getTicketDeposited().getTradeId())};
        break;
      case schema::Event::Payload::TICKET_TRANSFERRED: {
        auto t = p.getTicketTransferred();
        e.payload = ticket_transferred{str(t.getTradeId()), str(t.getFromOwner()),
                                       str(t.getToOwner())};
        break;
      }
      case schema::Event::Payload::WALLET_POSTED: {
        auto t = p.getWalletPosted();
        wallet_posted x;
        x.op = read_op(t.getOp());
        x.ref = str(t.getRef());
        x.currency = str(t.getCurrency());
        x.amount_minor = t.getAmountMinor();
        x.request_hash = str(t.getRequestHash());
        for (auto ps : t.getPostings())
          x.postings.push_back(
            posting{read_account(ps.getFrom()), read_account(ps.getTo()), ps.getAmountMinor()});
        x.counterparty = str(t.getCounterparty());
        e.payload = std::move(x);
        break;
      }
      case schema::Event::Payload::TRADE_PROPOSED: {
        auto t = p.getTradeProposed();
        trade_proposed x;
        x.proposer = str(t.getProposer());
        x.counterparty = str(t.getCounterparty());
        x.give = read_list(t.getGive());
        x.take = read_list(t.getTake());
        x.proposer_pays_minor = t.getProposerPaysMinor();
        x.counterparty_pays_minor = t.getCounterpartyPaysMinor();
        x.currency = str(t.getCurrency());
        x.expires_at_ms = t.getExpiresAtMs();
        x.request_hash = str(t.getRequestHash());
        x.fee_bps = t.getFeeBps();
        e.payload = std::move(x);
        break;
      }
      case schema::Event::Payload::TRADE_STATUS_CHANGED: {
        auto t = p.getTradeStatusChanged();
        e.payload = trade_status_changed{read_status(t.getStatus()), read_status(t.getTarget()),
                                         str(t.getReason()), read_list(t.getParties())};
        break;
      }
      case schema::Event::Payload::TRADE_CASH_ADDED: {
        auto t = p.getTradeCashAdded();
        e.payload = trade_cash_added{str(t.getParty()), t.getAmountMinor()};
        break;
      }
      case schema::Event::Payload::TRADE_DEPOSIT:
        e.payload = trade_deposit{str(p.getTradeDeposit().getTicketId())};
        break;
      case schema::Event::Payload::TRADE_DISPUTED: {
        auto t = p.getTradeDisputed();
        e.payload = trade_disputed{str(t.getBy()), str(t.getReason())};
        break;
      }
      case schema::Event::Payload::TICKET_VALUED: {
        auto t = p.getTicketValued();
        ticket_valued x;
        x.credit_minor = t.getCreditMinor();
        x.currency = str(t.getCurrency());
        x.confidence_ppm = t.getConfidencePpm();
        x.model_version = str(t.getModelVersion());
        x.method = str(t.getMethod());
        x.median_samples = t.getMedianSamples();
        e.payload = std::move(x);
        break;
      }
      case schema::Event::Payload::TICKET_OFFERED:
        e.payload = read_offer(p.getTicketOffered());
        break;
      case schema::Event::Payload::TICKET_OFFER_CLOSED:
        e.payload = ticket_offer_closed{str(p.getTicketOfferClosed().getReason())};
        break;
      case schema::Event::Payload::TRADE_MATCHED: {
        auto t = p.getTradeMatched();
        trade_matched x;
        x.parties = read_parties(t.getParties());
        x.currency = str(t.getCurrency());
        x.expires_at_ms = t.getExpiresAtMs();
        x.fee_bps = t.getFeeBps();
        x.match_key = str(t.getMatchKey());
        e.payload = std::move(x);
        break;
      }
      case schema::Event::Payload::TRADE_PARTY_ACCEPTED:
        e.payload = trade_party_accepted{str(p.getTradePartyAccepted().getParty()),
                                         p.getTradePartyAccepted().getExpiresAtMs()};
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
    b.setHoldTradeId(text(t->hold_trade_id));
    b.setLastTransferRef(text(t->last_transfer_ref));
    write_list(b.initTransferRefs(static_cast<unsigned>(t->transfer_refs.size())), t->transfer_refs);
    b.setValuationVersion(text(t->valuation_version));
    b.setValuationMethod(text(t->valuation_method));
    b.setValuationCreditMinor(t->valuation_credit_minor);
    b.setOfferOpen(t->offer_open);
    write_offer(b.initOffer(), t->offer);
    b.setOfferAtMs(t->offer_at_ms);
  } else if (auto* w = std::get_if<wallet_state>(&s.state)) {
    auto b = st.initWallet();
    b.setCurrency(text(w->currency));
    b.setAvailableMinor(w->available_minor);
    b.setHeldMinor(w->held_minor);
    auto hl = b.initHolds(static_cast<unsigned>(w->holds.size()));
    for (unsigned i = 0; i < w->holds.size(); ++i) {
      hl[i].setRef(text(w->holds[i].ref));
      hl[i].setAmountMinor(w->holds[i].amount_minor);
    }
    auto rl = b.initRefs(static_cast<unsigned>(w->refs.size()));
    for (unsigned i = 0; i < w->refs.size(); ++i) {
      const auto& r = w->refs[i];
      rl[i].setRef(text(r.ref));
      rl[i].setOp(static_cast<schema::WalletOp>(r.op));
      rl[i].setAmountMinor(r.amount_minor);
      rl[i].setRequestHash(text(r.request_hash));
      rl[i].setAvailableAfter(r.available_after);
      rl[i].setHeldAfter(r.held_after);
      rl[i].setAtMs(r.at_ms);
    }
    b.setCreatedAtMs(w->created_at_ms);
    b.setUpdatedAtMs(w->updated_at_ms);
  } else if (auto* tr = std::get_if<trade_state>(&s.state)) {
    auto b = st.initTrade();
    b.setProposer(text(tr->proposer));
    b.setCounterparty(text(tr->counterparty));
    write_list(b.initGive(static_cast<unsigned>(tr->give.size())), tr->give);
    write_list(b.initTake(static_cast<unsigned>(tr->take.size())), tr->take);
    b.setProposerPaysMinor(tr->proposer_pays_minor);
    b.setCounterpartyPaysMinor(tr->counterparty_pays_minor);
    b.setCurrency(text(tr->currency));
    b.setExpiresAtMs(tr->expires_at_ms);
    b.setRequestHash(text(tr->request_hash));
    b.setFeeBps(tr->fee_bps);
    b.setStatus(static_cast<schema::TradeStatus>(tr->status));
    b.setTarget(static_cast<schema::TradeStatus>(tr->target));
    b.setReason(text(tr->reason));
    write_list(b.initDeposited(static_cast<unsigned>(tr->deposited.size())), tr->deposited);
    b.setCreatedAtMs(tr->created_at_ms);
    b.setUpdatedAtMs(tr->updated_at_ms);
    b.setDisputeReason(text(tr->dispute_reason));
    b.setDisputedBy(text(tr->disputed_by));
    write_parties(b.initParties(static_cast<unsigned>(tr->parties.size())), tr->parties);
    write_list(b.initAccepted(static_cast<unsigned>(tr->accepted.size())), tr->accepted);
    b.setMatchKey(text(tr->match_key));
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
      t.hold_trade_id = str(r.getHoldTradeId());
      t.last_transfer_ref = str(r.getLastTransferRef());
      t.transfer_refs = read_list(r.getTransferRefs());
      t.valuation_version = str(r.getValuationVersion());
      t.valuation_method = str(r.getValuationMethod());
      t.valuation_credit_minor = r.getValuationCreditMinor();
      t.offer_open = r.getOfferOpen();
      t.offer = read_offer(r.getOffer());
      t.offer_at_ms = r.getOfferAtMs();
      s.state = std::move(t);
    } else if (st.which() == schema::Snapshot::State::WALLET) {
      auto r = st.getWallet();
      wallet_state w;
      w.currency = str(r.getCurrency());
      w.available_minor = r.getAvailableMinor();
      w.held_minor = r.getHeldMinor();
      for (auto h : r.getHolds())
        w.holds.push_back(wallet_hold{str(h.getRef()), h.getAmountMinor()});
      for (auto x : r.getRefs())
        w.refs.push_back(wallet_ref{str(x.getRef()), read_op(x.getOp()), x.getAmountMinor(),
                                    str(x.getRequestHash()), x.getAvailableAfter(),
                                    x.getHeldAfter(), x.getAtMs()});
      w.created_at_ms = r.getCreatedAtMs();
      w.updated_at_ms = r.getUpdatedAtMs();
      s.state = std::move(w);
    } else if (st.which() == schema::Snapshot::State::TRADE) {
      auto r = st.getTrade();
      trade_state t;
      t.proposer = str(r.getProposer());
      t.counterparty = str(r.getCounterparty());
      t.give = read_list(r.getGive());
      t.take = read_list(r.getTake());
      t.proposer_pays_minor = r.getProposerPaysMinor();
      t.counterparty_pays_minor = r.getCounterpartyPaysMinor();
      t.currency = str(r.getCurrency());
      t.expires_at_ms = r.getExpiresAtMs();
      t.request_hash = str(r.getRequestHash());
      t.fee_bps = r.getFeeBps();
      t.status = read_status(r.getStatus());
      t.target = read_status(r.getTarget());
      t.reason = str(r.getReason());
      t.deposited = read_list(r.getDeposited());
      t.created_at_ms = r.getCreatedAtMs();
      t.updated_at_ms = r.getUpdatedAtMs();
      t.dispute_reason = str(r.getDisputeReason());
      t.disputed_by = str(r.getDisputedBy());
      t.parties = read_parties(r.getParties());
      t.accepted = read_list(r.getAccepted());
      t.match_key = str(r.getMatchKey());
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
