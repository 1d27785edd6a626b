#include "actors/matcher_service.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/errc.hpp"
#include "messages/events.hpp"
#include "messages/log.hpp"
#include "persistence/event_store.hpp"
#include "persistence/node_keys.hpp"

namespace tt::actors {

int taste_dimension_of(std::string_view category) {
  std::string c;
  for (char ch : category)
    c.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
  if (c == "basketball")
    return 0;
  if (c == "football")
    return 1;
  if (c == "baseball")
    return 2;
  if (c == "hockey")
    return 3;
  if (c == "soccer")
    return 4;
  if (c == "concert" || c == "festival" || c == "music")
    return 5;
  if (c == "theatre" || c == "theater" || c == "opera" || c == "comedy" || c == "stage")
    return 6;
  if (c == "family")
    return 7;
  return -1;
}

namespace {

/// What the matcher knows of one ticket, from its events.
struct ticket_info {
  std::string owner;
  ticket_status status = ticket_status::listed;
  // Only what matching reads (a node may hold millions of tickets).
  struct {
    std::string event_id, category, venue, currency;
  } fields;
  int64_t credit_minor = 0;
  bool offer_open = false;
  ticket_offered offer;
  uint64_t offer_offset = 0;  // log offset of the ticket_offered event (in its node's log): the offer's version
  std::string active_trade;   // an open matched trade proposing this ticket
  uint32_t matched_count = 0; // matched trades this ticket was in (the match key's generation)
  // In the book of `booked_currency` as version (offer_offset, credit).
  bool booked = false;
  std::string booked_currency;
  uint64_t booked_offset = 0;
  int64_t booked_credit = 0;
};

struct matcher_state {
  std::shared_ptr<const persistence::event_store> store;
  std::shared_ptr<const persistence::node_keys> keys;
  trade_region_actor trades;
  valuation_service_actor valuation;
  matcher_service_config cfg;
  uint64_t next_offset = 1;
  uint64_t target = 0;
  std::unordered_map<std::string, ticket_info> infos;
  std::unordered_map<std::string, std::vector<std::string>> matched_trades;  // trade -> tickets
  std::map<std::string, matching::offer_book> books;                        // by currency
  std::unordered_set<std::string> valuing;  // valuation requests in flight
  std::unordered_set<std::string> uncredited;  // open offers of listed tickets without a credit
  uint64_t next_seq = 1;  // the books' offer order: arrival order here
  size_t open_offers = 0;
  matcher_report report;
  static inline const char* name = "matcher";
};

using matcher_pointer = matcher_service_actor::stateful_pointer<matcher_state>;

bool eligible(const ticket_info& t) {
  return t.offer_open && t.status == ticket_status::listed && t.credit_minor > 0
         && t.credit_minor <= matching::max_credit_minor && t.active_trade.empty()
         && !t.owner.empty() && !t.fields.currency.empty();
}

matching::offer to_offer(const std::string& id, const ticket_info& t, uint64_t seq) {
  matching::offer o;
  o.seq = seq;
  o.id = id;
  o.ticket_id = id;
  o.owner = t.owner;
  o.credit_minor = t.credit_minor;
  o.event_id = t.fields.event_id;
  o.category = t.fields.category;
  o.venue = t.fields.venue;
  o.want.event_ids = t.offer.want_event_ids;
  o.want.categories = t.offer.want_categories;
  o.want.venues = t.offer.want_venues;
  o.want.max_cash_minor = t.offer.max_cash_minor;
  for (size_t i = 0; i < t.offer.weights_permille.size() && i < matching::pref_dims; ++i)
    o.prefs[i] = static_cast<float>(t.offer.weights_permille[i]) / 1000.0f;
  if (auto d = taste_dimension_of(t.fields.category); d >= 0)
    o.traits[static_cast<size_t>(d)] = 1.0f;
  return o;
}

/// Puts the ticket's offer into (or out of) its book so the book holds
/// exactly the eligible offers at their current versions.
void sync(matcher_state& st, const std::string& id, ticket_info& t) {
  if (t.offer_open && t.status == ticket_status::listed && t.credit_minor <= 0)
    st.uncredited.insert(id);
  else
    st.uncredited.erase(id);
  bool want = eligible(t);
  if (t.booked
      && (!want || t.booked_currency != t.fields.currency || t.booked_offset != t.offer_offset
          || t.booked_credit != t.credit_minor)) {
    st.books[t.booked_currency].remove(id);
    t.booked = false;
  }
  if (want && !t.booked) {
    auto it = st.books.find(t.fields.currency);
    if (it == st.books.end())
      it = st.books.emplace(t.fields.currency, matching::offer_book{st.cfg.match}).first;
    if (it->second.add(to_offer(id, t, st.next_seq++))) {
      t.booked = true;
      t.booked_currency = t.fields.currency;
      t.booked_offset = t.offer_offset;
      t.booked_credit = t.credit_minor;
    }
  }
}

void apply(matcher_state& st, uint64_t offset, const event_envelope& ev) {
  if (ev.kind == entity_kind::ticket) {
    auto& t = st.infos[ev.entity_id];
    bool was_open = t.offer_open;
    if (auto* x = std::get_if<ticket_listed>(&ev.payload)) {
      t.owner = x->seller;
      t.fields = {x->fields.event_id, x->fields.category, x->fields.venue, x->fields.currency};
      t.status = ticket_status::listed;
    } else if (auto* x = std::get_if<ticket_updated>(&ev.payload)) {
      if (x->patch.has_category)
        t.fields.category = x->patch.category;
      if (x->patch.has_venue)
        t.fields.venue = x->patch.venue;
    } else if (std::get_if<ticket_withdrawn>(&ev.payload)) {
      t.status = ticket_status::withdrawn;
      t.offer_open = false;
    } else if (std::get_if<ticket_held>(&ev.payload)) {
      t.status = ticket_status::held;
    } else if (std::get_if<ticket_released>(&ev.payload)) {
      t.status = ticket_status::listed;
    } else if (std::get_if<ticket_deposited>(&ev.payload)) {
      t.status = ticket_status::in_escrow;
    } else if (auto* x = std::get_if<ticket_transferred>(&ev.payload)) {
      t.owner = x->to_owner;
      t.status = ticket_status::listed;
      t.offer_open = false;
    } else if (auto* x = std::get_if<ticket_valued>(&ev.payload)) {
      t.credit_minor = x->credit_minor;
    } else if (auto* x = std::get_if<ticket_offered>(&ev.payload)) {
      t.offer_open = true;
      t.offer = *x;
      t.offer_offset = offset;
    } else if (std::get_if<ticket_offer_closed>(&ev.payload)) {
      t.offer_open = false;
    } else {
      return;
    }
    if (was_open != t.offer_open)
      st.open_offers += t.offer_open ? 1 : static_cast<size_t>(-1);
    sync(st, ev.entity_id, t);
  } else if (ev.kind == entity_kind::trade) {
    if (auto* x = std::get_if<trade_matched>(&ev.payload)) {
      auto& ids = st.matched_trades[ev.entity_id];
      for (const auto& p : x->parties)
        for (const auto& id : p.give) {
          ids.push_back(id);
          auto& t = st.infos[id];
          t.active_trade = ev.entity_id;
          ++t.matched_count;
          sync(st, id, t);
        }
    } else if (auto* x = std::get_if<trade_status_changed>(&ev.payload)) {
      if (!is_final(x->status))
        return;
      auto it = st.matched_trades.find(ev.entity_id);
      if (it == st.matched_trades.end())
        return;
      for (const auto& id : it->second) {
        auto& t = st.infos[id];
        if (t.active_trade == ev.entity_id) {
          t.active_trade.clear();
          sync(st, id, t);
        }
      }
      st.matched_trades.erase(it);
    }
  }
}

/// Reads the log from `next_offset` on, one chunk per message.
void catch_up(matcher_pointer self) {
  auto& st = self->state;
  if (st.next_offset >= st.target)
    return;
  size_t visited = st.store->read_log(st.next_offset, st.cfg.feed_chunk,
                                      [&](uint64_t offset, std::string_view bytes) {
                                        if (auto ev = decode_event(bytes))
                                          apply(st, offset, *ev);
                                        st.next_offset = offset + 1;
                                        return true;
                                      });
  if (visited > 0 && st.next_offset < st.target)
    self->send(self, log_advanced{st.target});
}

/// "m1|<offer>@<version>.<generation>|…" in cycle order: names one match of
/// offers at their versions (the offer's log offset) and generations (how
/// many matched trades the ticket was in before); the trade id is derived
/// from it, so re-proposing after a crash is the same trade, while a match of
/// the same offers after an earlier match of theirs ended is a new one.
std::string match_key(const matcher_state& st, const matching::match& m) {
  std::string key = "m1";
  for (const auto& id : m.offer_ids) {
    key += '|';
    key += id;
    key += '@';
    auto it = st.infos.find(std::string{id});
    key += std::to_string(it == st.infos.end() ? 0 : it->second.offer_offset);
    key += '.';
    key += std::to_string(it == st.infos.end() ? 0 : it->second.matched_count);
  }
  return key;
}

void propose(matcher_pointer self, const std::string& currency, const matching::match& m) {
  auto& st = self->state;
  propose_match cmd;
  cmd.match_key = match_key(st, m);
  cmd.trade_id = st.keys->derived_id("match", cmd.match_key);
  cmd.currency = currency;
  const auto n = m.offer_ids.size();
  // The owner of offer i receives offer i+1's ticket, so party i+1 gives to
  // party i: receiver(k) = k - 1 (mod n).
  for (size_t k = 0; k < n; ++k) {
    const auto& t = st.infos[std::string{m.offer_ids[k]}];
    match_party p;
    p.account = t.owner;
    p.give = {std::string{m.offer_ids[k]}};
    p.receiver = static_cast<uint32_t>((k + n - 1) % n);
    p.credit_minor = t.credit_minor;
    p.net_cash_minor = m.net_cash_minor[k];
    cmd.parties.push_back(std::move(p));
  }
  cmd.meta.user_id = "";  // the system, not a user
  cmd.meta.correlation_id = cmd.trade_id;
  std::vector<std::string> ids(m.offer_ids.begin(), m.offer_ids.end());
  self->request(st.trades, st.cfg.request_timeout, std::move(cmd))
    .then(
      [self](trade_view& v) {
        ++self->state.report.proposed;
        log::info("match_proposed", {{"trade", v.id}, {"parties", static_cast<uint64_t>(v.parties.size())}});
      },
      [self, ids, currency](caf::error& err) {
        auto& st = self->state;
        ++st.report.failed;
        log::warn("match_refused", {{"offer", ids.front()}, {"reason", describe(err).message}});
        // Back into the next round (unless the log has moved them on).
        auto it = st.books.find(currency);
        if (it != st.books.end())
          for (const auto& id : ids)
            it->second.set_excluded(id, false);
      });
}

void request_valuations(matcher_pointer self) {
  auto& st = self->state;
  size_t asked = 0;
  for (const auto& id : st.uncredited) {
    if (asked >= st.cfg.valuations_per_round)
      break;
    if (st.valuing.count(id) > 0)
      continue;
    st.valuing.insert(id);
    ++asked;
    ++st.report.valuations_requested;
    valuate_ticket cmd{id, {}};
    cmd.meta.correlation_id = "matcher";
    self->request(st.valuation, st.cfg.request_timeout, std::move(cmd))
      .then([self, id = id](ticket_valuation&) { self->state.valuing.erase(id); },
            [self, id = id](caf::error& err) {
              self->state.valuing.erase(id);
              log::debug("matcher_valuation_failed", {{"ticket", id}, {"reason", describe(err).message}});
            });
  }
}

matcher_report report_of(const matcher_state& st) {
  auto r = st.report;
  r.offers = st.open_offers;
  r.booked = 0;
  for (const auto& [currency, book] : st.books)
    r.booked += book.size();
  r.next_offset = st.next_offset;
  return r;
}

matcher_report round(matcher_pointer self) {
  auto& st = self->state;
  auto start = std::chrono::steady_clock::now();
  if (st.valuation)
    request_valuations(self);
  uint64_t pairs = 0, cycles = 0;
  for (auto& [currency, book] : st.books) {
    auto res = book.run_round();
    pairs += res.stats.pairs;
    cycles += res.stats.cycles;
    for (const auto& m : res.matches)
      propose(self, currency, m);
  }
  auto& r = st.report;
  ++r.rounds;
  r.last_pairs = pairs;
  r.last_cycles = cycles;
  r.last_round_us = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                            std::chrono::steady_clock::now() - start)
                                            .count());
  if (pairs + cycles > 0)
    log::info("match_round", {{"pairs", pairs}, {"cycles", cycles}, {"us", r.last_round_us}});
  return report_of(st);
}

} // namespace

namespace {

matcher_service_actor::behavior_type
matcher_impl(matcher_pointer self, std::shared_ptr<const persistence::event_store> store,
             std::shared_ptr<const persistence::node_keys> keys, trade_region_actor trades,
             valuation_service_actor valuation,
             matcher_service_config cfg) {
  auto& st = self->state;
  st.store = std::move(store);
  st.keys = std::move(keys);
  st.trades = std::move(trades);
  st.valuation = std::move(valuation);
  st.cfg = std::move(cfg);
  st.target = st.store->next_offset();
  self->send(self, log_advanced{st.target});
  if (st.cfg.round_interval.count() > 0)
    self->delayed_send(self, st.cfg.round_interval, atoms::sweep_atom_v);
  return {
    [self](log_advanced& adv) {
      auto& st = self->state;
      st.target = std::max(st.target, adv.next_offset);
      catch_up(self);
    },
    [self](peer_log_events& pe) {
      auto& st = self->state;
      uint64_t offset = pe.from;
      for (const auto& bytes : pe.events) {
        if (auto ev = decode_event(bytes))
          apply(st, offset, *ev);
        ++offset;
      }
    },
    [self](atoms::sweep_atom) {
      if (!self->state.cfg.leads || self->state.cfg.leads())
        round(self);
      self->delayed_send(self, self->state.cfg.round_interval, atoms::sweep_atom_v);
    },
    [self](run_match_round&) -> matcher_report {
      // Read what the log holds first, so a round right after a write sees it.
      auto& st = self->state;
      st.target = std::max(st.target, st.store->next_offset());
      while (st.next_offset < st.target) {
        auto before = st.next_offset;
        catch_up(self);
        if (st.next_offset == before)
          break;
      }
      return round(self);
    },
    [self](atoms::stats_atom) -> matcher_report { return report_of(self->state); },
  };
}

} // namespace

matcher_service_actor spawn_matcher_service(caf::actor_system& sys,
                                            std::shared_ptr<const persistence::event_store> store,
                                            std::shared_ptr<const persistence::node_keys> keys,
                                            trade_region_actor trades,
                                            valuation_service_actor valuation,
                                            matcher_service_config cfg) {
  // Detached: a round over a large book holds the actor for up to a second,
  // which must not hold one of the scheduler's workers.
  return sys.spawn<caf::detached>(matcher_impl, std::move(store), std::move(keys), std::move(trades),
                   std::move(valuation), std::move(cfg));
}

} // namespace tt::actors
