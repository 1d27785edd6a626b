#include "actors/market_index.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <mutex>

namespace tt::actors {

namespace {

bool icontains(std::string_view hay, std::string_view needle) {
  if (needle.empty())
    return true;
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

/// Cursor: "<sort value>.<slot>" of the last item of the previous page.
std::string make_cursor(int64_t v, uint32_t slot) {
  return std::to_string(v) + "." + std::to_string(slot);
}

bool parse_cursor(const std::string& c, int64_t& v, uint32_t& slot) {
  auto dot = c.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 >= c.size() || c.size() > 40)
    return false;
  auto r1 = std::from_chars(c.data(), c.data() + dot, v);
  auto r2 = std::from_chars(c.data() + dot + 1, c.data() + c.size(), slot);
  return r1.ec == std::errc{} && r1.ptr == c.data() + dot && r2.ec == std::errc{}
         && r2.ptr == c.data() + c.size();
}

} // namespace

int64_t market_index::sort_value(const market_listing& l, market_sort s) const {
  switch (s) {
    case market_sort::price: return l.fields.price_minor;
    case market_sort::starts_at: return l.fields.event_starts_at_ms;
    case market_sort::created: return l.created_at_ms;
  }
  return 0;
}

void market_index::index_in(uint32_t slot) {
  auto& l = slots_[slot];
  for (int s = 0; s < 3; ++s)
    by_[s].emplace(sort_value(l, static_cast<market_sort>(s)), slot);
  by_event_[l.fields.event_id].insert(slot);
  by_venue_[l.fields.venue].insert(slot);
  by_category_[l.fields.category].insert(slot);
}

void market_index::index_out(uint32_t slot) {
  auto& l = slots_[slot];
  for (int s = 0; s < 3; ++s)
    by_[s].erase({sort_value(l, static_cast<market_sort>(s)), slot});
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
  if (offset >= next_offset_)
    next_offset_ = offset + 1;
  if (ev.kind != entity_kind::ticket)
    return;
  auto it = slot_of_.find(ev.entity_id);
  if (auto* x = std::get_if<ticket_listed>(&ev.payload)) {
    uint32_t slot;
    if (it == slot_of_.end()) {
      slot = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
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
    const auto& p = x->patch;
    if (p.has_price)
      l.fields.price_minor = p.price_minor;
    if (p.has_event_name)
      l.fields.event_name = p.event_name;
    if (p.has_venue)
      l.fields.venue = p.venue;
    if (p.has_category)
      l.fields.category = p.category;
    if (p.has_event_starts_at)
      l.fields.event_starts_at_ms = p.event_starts_at_ms;
    l.updated_at_ms = ev.timestamp_ms;
    set_listed(was);
  } else if (std::get_if<ticket_withdrawn>(&ev.payload) || std::get_if<ticket_held>(&ev.payload)
             || std::get_if<ticket_deposited>(&ev.payload)) {
    set_listed(false);
  } else if (std::get_if<ticket_released>(&ev.payload)) {
    set_listed(true);
  } else if (auto* x = std::get_if<ticket_transferred>(&ev.payload)) {
    set_listed(false);
    l.seller = x->to_owner;
    set_listed(true);
  }
}

market_page market_index::query(const market_query& q) const {
  std::shared_lock<std::shared_mutex> guard{mtx_};
  market_page page;
  auto s = static_cast<int>(q.sort);
  key after{INT64_MIN, 0};
  bool has_after = false;
  if (!q.cursor.empty()) {
    if (!parse_cursor(q.cursor, after.first, after.second)) {
      page.bad_cursor = true;
      return page;
    }
    has_after = true;
  }
  auto matches = [&](const market_listing& l) {
    const auto& f = l.fields;
    return (q.category.empty() || f.category == q.category)
           && (q.event_id.empty() || f.event_id == q.event_id)
           && (q.venue.empty() || f.venue == q.venue)
           && (!q.min_price || f.price_minor >= *q.min_price)
           && (!q.max_price || f.price_minor <= *q.max_price)
           && (!q.starts_after_ms || f.event_starts_at_ms >= *q.starts_after_ms)
           && (!q.starts_before_ms || f.event_starts_at_ms <= *q.starts_before_ms)
           && (q.q.empty() || icontains(f.event_name, q.q) || icontains(f.venue, q.q)
               || icontains(f.category, q.q));
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
  std::vector<key> hits;
  auto take = [&](const key& k) {
    hits.push_back(k);
    return hits.size() > q.limit;  // one extra: is there a next page?
  };
  // A small bucket: collect, filter, order. Otherwise walk the sort order.
  if (bucket && bucket->size() <= 4 * 4096) {
    std::vector<key> keys;
    keys.reserve(bucket->size());
    for (auto slot : *bucket) {
      key k{sort_value(slots_[slot], q.sort), slot};
      if ((!has_after || after < k) && matches(slots_[slot]))
        keys.push_back(k);
    }
    auto n = std::min(keys.size(), q.limit + 1);
    std::partial_sort(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(n), keys.end());
    keys.resize(n);
    hits = std::move(keys);
  } else {
    const auto& order = by_[s];
    auto it = has_after ? order.upper_bound(after) : order.begin();
    for (; it != order.end(); ++it)
      if (matches(slots_[it->second]) && take(*it))
        break;
  }
  if (hits.size() > q.limit) {
    hits.resize(q.limit);
    page.next_cursor = make_cursor(hits.back().first, hits.back().second);
  }
  page.items.reserve(hits.size());
  for (const auto& k : hits)
    page.items.push_back(slots_[k.second]);
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
