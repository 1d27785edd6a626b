#include "nodes/peer_market_feed.hpp"

#include <chrono>
#include <map>
#include <set>

#include "actors/market_index.hpp"
#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/events.hpp"
#include "messages/log.hpp"
#include "nodes/cluster_member.hpp"

namespace tt::nodes {

namespace {

constexpr auto poll_interval = std::chrono::milliseconds(250);
constexpr uint32_t page_events = 2048;

struct peer_feed_state {
  std::shared_ptr<cluster_member> cluster;
  std::shared_ptr<actors::market_index> index;
  std::string secret;
  std::string me;
  std::map<std::string, uint64_t> next;  // peer name -> next offset of its log
  std::set<std::string> in_flight;
  matcher_service_actor matcher;
  static inline const char* name = "peer_market_feed";
};

using feed_pointer = peer_feed_actor::stateful_pointer<peer_feed_state>;

void fetch(feed_pointer self, const std::string& peer, const cluster_gateway_actor& gw) {
  auto& st = self->state;
  st.in_flight.insert(peer);
  auto from = st.next.count(peer) ? st.next[peer] : 1;
  self->request(gw, std::chrono::seconds(5), read_log_page{cluster_wire_version, st.secret, from,
                                                           page_events})
    .then(
      [self, peer, gw, from](log_page& page) {
        auto& st = self->state;
        st.in_flight.erase(peer);
        if (page.end < from) {  // the peer's log is shorter than where we were
          log::warn("peer_log_reset", {{"peer", peer}, {"end", page.end}, {"at", from}});
          st.next[peer] = 1;
          return;
        }
        for (auto& bytes : page.events)
          if (auto ev = decode_event(bytes))
            st.index->apply(0, *ev);
        if (st.matcher && !page.events.empty())
          self->send(st.matcher, peer_log_events{peer, from, page.events});
        st.next[peer] = page.next;
        if (page.next < page.end && !page.events.empty())
          fetch(self, peer, gw);  // more to read now
      },
      [self, peer](caf::error&) { self->state.in_flight.erase(peer); });
}

peer_feed_actor::behavior_type peer_feed(feed_pointer self,
                                         std::shared_ptr<cluster_member> cluster,
                                         std::shared_ptr<actors::market_index> index,
                                         std::string secret, std::string me,
                                         matcher_service_actor matcher) {
  auto& st = self->state;
  st.matcher = std::move(matcher);
  st.cluster = std::move(cluster);
  st.index = std::move(index);
  st.secret = std::move(secret);
  st.me = std::move(me);
  self->send(self, atoms::sweep_atom_v);
  return {
    [self](atoms::sweep_atom) {
      auto& st = self->state;
      for (auto& n : st.cluster->view().nodes) {
        if (!n.live || n.name == st.me || st.in_flight.count(n.name))
          continue;
        if (auto gw = st.cluster->peer_gateway(n.name))
          fetch(self, n.name, *gw);
      }
      self->delayed_send(self, poll_interval, atoms::sweep_atom_v);
    },
  };
}

} // namespace

peer_feed_actor spawn_peer_market_feed(caf::actor_system& sys,
                                       std::shared_ptr<cluster_member> cluster,
                                       std::shared_ptr<actors::market_index> index,
                                       std::string secret, std::string me,
                                       matcher_service_actor matcher) {
  return sys.spawn(peer_feed, std::move(cluster), std::move(index), std::move(secret),
                   std::move(me), std::move(matcher));
}

} // namespace tt::nodes
