#include "actors/market_index.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>

namespace tt::actors {

namespace {

/// " w1 w2 ..." of lower-case alphanumeric words (everything else separates).
std::string search_text(const ticket_fields& f) {
  std::string out = " ";
  for (const auto* s : {&f.event_name, &f.venue, &f.category}) {
    for (unsigned char c : *s) {
      if (std::isalnum(c) || c >= 0x80)
        out.push_back(static_cast<char>(std::tolower(c)));
      else if (out.back() != ' ')
        out.push_back(' ');
    }
    if (out.back() != ' ')
      out.push_back(' ');
  }
  return out;
}

} // namespace

std::vector<std::string> market_words(std::string_view text) {
  std::vector<std::string> out;
  std::string w;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c >= 0x80) {
      w.push_back(static_cast<char>(std::tolower(c)));
    } else if (!w.empty()) {
      out.push_back(std::move(w));
      w.clear();
    }
  }
  if (!w.empty())
    out.push_back(std::move(w));
  return out;
}

std::string make_market_cursor(int64_t value, std::string_view id) {
  std::string out = std::to_string(value);
  out += '.';
  out += id;
  return out;
}

bool parse_market_cursor(std::string_view c, int64_t& value, std::string& id) {
  auto dot = c.find('.');
  if (dot == std::string_view::npos || dot == 0 || c.size() > 96)
    return false;
  auto r = std::from_chars(c.data(), c.data() + dot, value);
  if (r.ec != std::errc{} || r.ptr != c.data() + dot)
    return false;
  auto rest = c.substr(dot + 1);
  if (rest.empty() || rest.size() > 64)
    return false;
  for (unsigned char ch : rest)
    if (!(std::isalnum(ch) || ch == '-' || ch == '_'))
      return false;
  id.assign(rest);
  return true;
}

int64_t market_sort_value(const market_listing& l, market_sort s) {
  switch (s) {
    case market_sort::price: return l.fields.price_minor;
    case market_sort::starts_at: return l.fields.event_starts_at_ms;
    case market_sort::created: return l.created_at_ms;
  }
  return 0;
}

namespace {

uint64_t id_prefix_of(std::string_view id) {
  uint64_t p = 0;
  for (size_t i = 0; i < 8; ++i)
    p = (p << 8) | (i < id.size() ? static_cast<unsigned char>(id[i]) : 0u);
  return p;
}

} // namespace

market_index::probe::probe(int64_t v, std::string_view i)
  : value(v), id_prefix(id_prefix_of(i)), id(i) {}

market_index::key market_index::key_of(uint32_t slot, market_sort s) const {
  const auto& l = slots_[slot];
  return key{market_sort_value(l, s), id_prefix_of(l.id), slot};
}

bool market_index::key_less::operator()(const key& a, const key& b) const {
  if (a.value != b.value)
    return a.value < b.value;
  if (a.id_prefix != b.id_prefix)
    return a.id_prefix < b.id_prefix;
  return a.slot != b.slot && (*slots)[a.slot].id < (*slots)[b.slot].id;
}

bool market_index::key_less::operator()(const key& a, const probe& b) const {
  if (a.value != b.value)
    return a.value < b.value;
  if (a.id_prefix != b.id_prefix)
    return a.id_prefix < b.id_prefix;
  return std::string_view{(*slots)[a.slot].id} < b.id;
}

bool market_index::key_less::operator()(const probe& a, const key& b) const {
  if (a.value != b.value)
    return a.value < b.value;
  if (a.id_prefix != b.id_prefix)
    return a.id_prefix < b.id_prefix;
  return a.id < std::string_view{(*slots)[b.slot].id};
}

market_index::market_index()
  : by_{std::set<key, key_less>(key_less{&slots_}), std::set<key, key_less>(key_less{&slots_}),
        std::set<key, key_less>(key_less{&slots_})} {}

void market_index::index_in(uint32_t slot) {
  auto& l = slots_[slot];
  for (int s = 0; s < 3; ++s)
    by_[s].insert(key_of(slot, static_cast<market_sort>(s)));
  by_event_[l.fields.event_id].insert(slot);
  by_venue_[l.fields.venue].insert(slot);
  by_category_[l.fields.category].insert(slot);
  auto text = search_text(l.fields);
  if (search_[slot] != text) {
    // Words only ever get slots added; stale entries are filtered by matches.
    for (auto& w : market_words(text)) {
      auto& v = words_[w];
      if (v.empty() || v.back() != slot)
        v.push_back(slot);
    }
    search_[slot] = std::move(text);
  }
}

void market_index::index_out(uint32_t slot) {
  auto& l = slots_[slot];
  for (int s = 0; s < 3; ++s)
    by_[s].erase(key_of(slot, static_cast<market_sort>(s)));
  auto drop = [slot](auto& m, const std::string& k) {
    auto it = m.find(k);
    if (it == m.end())
      return;
    it->second.erase(slot);
    if (it->second.empty())
      m.erase(it);
  };
  drop(by_event_, l.fields.event_id);
  drop(by_venue_, l.fields.venue);
  drop(by_category_, l.fields.category);
}

void market_index::apply(uint64_t offset, const event_envelope& ev) {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  if (offset != 0 && offset >= next_offset_)
    next_offset_ = offset + 1;
  if (ev.kind != entity_kind::ticket)
    return;
  auto it = slot_of_.find(ev.entity_id);
  if (auto* x = std::get_if<ticket_listed>(&ev.payload)) {
    uint32_t slot;
    if (it == slot_of_.end()) {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
      search_.emplace_back();
      slot_of_.emplace(ev.entity_id, slot);
      slots_[slot].id = ev.entity_id;
      slots_[slot].created_at_ms = ev.timestamp_ms;
    } else {
      slot = it->second;
      if (slots_[slot].listed)
        index_out(slot);
    }
    auto& l = slots_[slot];
    l.seller = x->seller;
    l.fields = x->fields;
    l.updated_at_ms = ev.timestamp_ms;
    l.listed = true;
    index_in(slot);
    return;
  }
  if (it == slot_of_.end())
    return;
  auto slot = it->second;
  auto& l = slots_[slot];
  auto set_listed = [&](bool listed) {
    if (l.listed == listed)
      return;
    if (l.listed)
      index_out(slot);
    l.listed = listed;
    if (listed)
      index_in(slot);
  };
  if (auto* x = std::get_if<ticket_updated>(&ev.payload)) {
    bool was = l.listed;
    set_listed(false);
    apply_patch(l.fields, x->patch);
    l.updated_at_ms = ev.timestamp_ms;
    set_listed(was);
  } else if (std::get_if<ticket_withdrawn>(&ev.payload) || std::get_if<ticket_held>(&ev.payload)
             || std::get_if<ticket_deposited>(&ev.payload)) {
    set_listed(false);
    l.updated_at_ms = ev.timestamp_ms;
  } else if (std::get_if<ticket_released>(&ev.payload)) {
    set_listed(true);
    l.updated_at_ms = ev.timestamp_ms;
  } else if (auto* x = std::get_if<ticket_transferred>(&ev.payload)) {
    set_listed(false);
    l.seller = x->to_owner;
    l.updated_at_ms = ev.timestamp_ms;
    set_listed(true);
  }
  // updated_at follows the ticket entity (actors/ticket_model.cpp): offers
  // and valuations do not change it.
}

market_page market_index::query(const market_query& q) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  market_page page;
  auto s = static_cast<int>(q.sort);
  int64_t after_value = INT64_MIN;
  std::string after_id;
  bool has_after = false;
  if (!q.cursor.empty()) {
    if (!parse_market_cursor(q.cursor, after_value, after_id)) {
      page.bad_cursor = true;
      return page;
    }
    has_after = true;
  }
  std::vector<std::string> qwords;
  for (auto& w : market_words(q.q))
    qwords.push_back(" " + w);
  auto matches_text = [&](uint32_t slot) {
    for (const auto& w : qwords)
      if (search_[slot].find(w) == std::string::npos)
        return false;
    return true;
  };
  auto matches = [&](const market_listing& l) {
    const auto& f = l.fields;
    return (q.category.empty() || f.category == q.category)
           && (q.event_id.empty() || f.event_id == q.event_id)
           && (q.venue.empty() || f.venue == q.venue)
           && (!q.min_price || f.price_minor >= *q.min_price)
           && (!q.max_price || f.price_minor <= *q.max_price)
           && (!q.starts_after_ms || f.event_starts_at_ms >= *q.starts_after_ms)
           && (!q.starts_before_ms || f.event_starts_at_ms <= *q.starts_before_ms)
           && matches_text(static_cast<uint32_t>(&l - slots_.data()));
  };
  // The smallest equality bucket, if any filter names one.
  const std::unordered_set<uint32_t>* bucket = nullptr;
  static const std::unordered_set<uint32_t> empty;
  auto consider = [&](const auto& m, const std::string& k) {
    if (k.empty())
      return;
    auto it = m.find(k);
    const auto* b = it == m.end() ? &empty : &it->second;
    if (!bucket || b->size() < bucket->size())
      bucket = b;
  };
  consider(by_event_, q.event_id);
  consider(by_venue_, q.venue);
  consider(by_category_, q.category);
  // Text: the slots of every word starting with the rarest query word, if
  // that is a small enough set (else the ordered walk filters instead).
  constexpr size_t collect_limit = 50000;
  std::vector<uint32_t> text_slots;
  bool use_text = false;
  if (!qwords.empty()) {
    size_t best = SIZE_MAX;
    for (const auto& w : qwords) {
      auto prefix = std::string_view(w).substr(1);
      size_t n = 0;
      for (auto it = words_.lower_bound(std::string(prefix));
           it != words_.end() && it->first.compare(0, prefix.size(), prefix) == 0 && n <= collect_limit;
           ++it)
        n += it->second.size();
      if (n < best) {
        best = n;
        if (n <= collect_limit) {
          text_slots.clear();
          for (auto it = words_.lower_bound(std::string(prefix));
               it != words_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
            text_slots.insert(text_slots.end(), it->second.begin(), it->second.end());
          use_text = true;
        }
      }
    }
    if (use_text && bucket && bucket->size() < text_slots.size())
      use_text = false;
    if (use_text) {
      std::sort(text_slots.begin(), text_slots.end());
      text_slots.erase(std::unique(text_slots.begin(), text_slots.end()), text_slots.end());
    }
  }
  const key_less less{&slots_};
  std::vector<key> hits;
  auto take = [&](const key& k) {
    hits.push_back(k);
    return hits.size() > q.limit;  // one extra: is there a next page?
  };
  auto collect = [&](const auto& slots) {
    std::vector<key> keys;
    keys.reserve(slots.size());
    for (auto slot : slots) {
      const auto& l = slots_[slot];
      if (!l.listed)
        continue;
      key k = key_of(slot, q.sort);
      if ((!has_after || less(probe{after_value, after_id}, k)) && matches(l))
        keys.push_back(k);
    }
    return keys;
  };
  // A small candidate set: collect, filter, order. Otherwise walk the sort
  // order, bounded by the range filter on the sort key if there is one.
  if (use_text || (bucket && bucket->size() <= collect_limit)) {
    auto keys = use_text ? collect(text_slots) : collect(*bucket);
    auto n = std::min(keys.size(), q.limit + 1);
    std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n), keys.end(), less);
    keys.resize(n);
    hits = std::move(keys);
  } else {
    const auto& order = by_[s];
    std::optional<int64_t> lo, hi;
    if (q.sort == market_sort::price) {
      lo = q.min_price;
      hi = q.max_price;
    } else if (q.sort == market_sort::starts_at) {
      lo = q.starts_after_ms;
      hi = q.starts_before_ms;
    }
    probe start{after_value, after_id};
    bool inclusive = !has_after;
    if (lo && (!has_after || after_value < *lo)) {
      start = probe{*lo, std::string_view{}};
      inclusive = true;
    }
    auto it = inclusive ? order.lower_bound(start) : order.upper_bound(start);
    for (; it != order.end(); ++it) {
      if (hi && it->value > *hi)
        break;
      if (matches(slots_[it->slot]) && take(*it))
        break;
    }
  }
  if (hits.size() > q.limit) {
    hits.resize(q.limit);
    page.next_cursor = make_market_cursor(hits.back().value, slots_[hits.back().slot].id);
  }
  page.items.reserve(hits.size());
  for (const auto& k : hits)
    page.items.push_back(slots_[k.slot]);
  return page;
}

uint64_t market_index::next_offset() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return next_offset_;
}

size_t market_index::listed_count() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return by_[0].size();
}

bool market_index::ready() const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  return ready_;
}

void market_index::set_ready() {
  std::unique_lock<std::shared_mutex> guard{mtx_};
  ready_ = true;
}

} // namespace tt::actors

#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/log.hpp"
#include "persistence/event_store.hpp"

namespace tt::actors {

namespace {

struct feed_state {
  std::shared_ptr<const persistence::event_store> store;
  std::shared_ptr<market_index> index;
  uint64_t target = 0;  // the log end we know of
  static inline const char* name = "market_feed";
};

constexpr size_t feed_chunk = 4096;

market_feed_actor::behavior_type market_feed(market_feed_actor::stateful_pointer<feed_state> self,
                                             std::shared_ptr<const persistence::event_store> store,
                                             std::shared_ptr<market_index> index) {
  self->state.store = std::move(store);
  self->state.index = std::move(index);
  // Catch up with the log as it is now, one chunk per message, so the feed
  // never holds a scheduler thread for long.
  self->state.target = self->state.store->next_offset();
  self->send(self, log_advanced{self->state.target});
  return {
    [self](log_advanced& adv) {
      auto& st = self->state;
      st.target = std::max(st.target, adv.next_offset);
      auto from = st.index->next_offset();
      size_t visited = 0;
      if (from < st.target) {
        visited = st.store->read_log(from, feed_chunk, [&](uint64_t offset, std::string_view bytes) {
          if (auto ev = decode_event(bytes))
            st.index->apply(offset, *ev);
          else
            st.index->apply(offset, event_envelope{});  // skip, but advance
          return true;
        });
      }
      if (visited > 0 && st.index->next_offset() < st.target) {
        self->send(self, log_advanced{st.target});
      } else if (!st.index->ready()) {
        st.index->set_ready();
        log::info("market_index_ready", {{"listed", std::to_string(st.index->listed_count())},
                                         {"next_offset", std::to_string(st.index->next_offset())}});
      }
    },
  };
}

} // namespace

market_feed_actor spawn_market_feed(caf::actor_system& sys,
                                    std::shared_ptr<const persistence::event_store> store,
                                    std::shared_ptr<market_index> index) {
  return sys.spawn(market_feed, std::move(store), std::move(index));
}

} // namespace tt::actors
