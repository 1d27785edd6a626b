#include "nodes/admin_service.hpp"

#include <boost/json.hpp>
#include <sodium.h>

#include <chrono>
#include <map>
#include <thread>

#include "caf/actor_system.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/typed_response_promise.hpp"
#include "messages/entity.hpp"
#include "messages/errc.hpp"
#include "messages/events.hpp"
#include "messages/log.hpp"
#include "nodes/auth_json.hpp"
#include "nodes/cluster_member.hpp"
#include "nodes/event_json.hpp"
#include "nodes/ticket_json.hpp"
#include "nodes/trade_routes.hpp"
#include "persistence/event_store.hpp"

namespace tt::nodes {

namespace json = boost::json;

bool secret_equal(const std::string& a, const std::string& b) {
  if (a.size() != b.size() || a.empty())
    return false;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

constexpr const char* help_text
  = "nodes | shards | shard move SHARD NODE | entity show KIND ID | "
    "entity events KIND ID [--from SEQ] | snapshot KIND ID | passivate KIND ID | "
    "timers [--due] | stats | config | model reload [PATH] | model retrain | match | help";

/// Entries per shard_import chunk are capped by bytes (keys + values).
constexpr size_t import_chunk_bytes = 512 * 1024;

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::optional<entity_kind> parse_kind(const std::string& s) {
  for (auto k : {entity_kind::ticket, entity_kind::account, entity_kind::trade,
                 entity_kind::email_index, entity_kind::wallet})
    if (s == to_string(k))
      return k;
  return std::nullopt;
}

struct gateway_state {
  gateway_deps deps;
  static inline const char* name = "cluster_gateway";
};

using gateway_pointer = cluster_gateway_actor::stateful_pointer<gateway_state>;

const char* state_name(uint8_t s) {
  switch (s) {
    case actors::shard_route::local:
      return "local";
    case actors::shard_route::remote:
      return "remote";
    default:
      return "down";
  }
}

json::object nodes_doc(gateway_pointer self) {
  auto& d = self->state.deps;
  json::array arr;
  auto now = wall_ms();
  if (d.cluster) {
    auto v = d.cluster->view();
    for (auto& n : v.nodes) {
      json::object o{{"name", n.name},       {"node_id", n.node_id},
                     {"address", n.cluster}, {"http", n.http},
                     {"status", n.live ? "up" : "down"}, {"shards", n.shards},
                     {"uptime_s", n.live && n.started_ms > 0 ? (now - n.started_ms) / 1000 : 0}};
      arr.push_back(std::move(o));
    }
  } else {
    arr.push_back(json::object{{"name", d.node_name},
                               {"node_id", d.node_id},
                               {"address", d.cluster_address},
                               {"http", d.http_address},
                               {"status", "up"},
                               {"shards", shard_count},
                               {"uptime_s", (now - d.started_ms) / 1000}});
  }
  return json::object{{"nodes", std::move(arr)}};
}

/// Calls f(name, region) for each of the node's five regions (f is generic:
/// the handles have different interfaces).
template <class F>
void for_each_region(const node_regions& r, F&& f) {
  f("ticket_region", r.tickets);
  f("account_region", r.accounts);
  f("email_index_region", r.emails);
  f("wallet_region", r.wallets);
  f("trade_region", r.trades);
}

/// Sums the per-shard active counts of every region kind; also reports each
/// region's mailbox depth (by kind).
void gather_active(gateway_pointer self,
                   std::function<void(std::vector<uint32_t>, json::object)> done) {
  auto& r = self->state.deps.regions;
  auto acc = std::make_shared<std::vector<uint32_t>>(shard_count, 0);
  auto boxes = std::make_shared<json::object>();
  auto pending = std::make_shared<int>(5);
  auto finish = [acc, boxes, pending, done] {
    if (--*pending == 0)
      done(*acc, *boxes);
  };
  auto add = [acc, boxes, finish](const char* kind) {
    return [acc, boxes, finish, kind](const region_stats& s) {
      for (size_t i = 0; i < s.active_by_shard.size() && i < acc->size(); ++i)
        (*acc)[i] += s.active_by_shard[i];
      (*boxes)[kind] = s.mailbox;
      finish();
    };
  };
  auto fail = [finish](caf::error&) { finish(); };
  for_each_region(r, [&](const char* kind, const auto& region) {
    self->request(region, std::chrono::seconds(2), atoms::stats_atom_v).then(add(kind), fail);
  });
}

caf::result<admin_reply> shards_cmd(gateway_pointer self) {
  auto rp = self->make_response_promise<admin_reply>();
  gather_active(self, [self, rp](std::vector<uint32_t> active, json::object) mutable {
    auto& d = self->state.deps;
    json::array arr;
    std::vector<cluster_shard_info> shards;
    if (d.cluster)
      shards = d.cluster->view().shards;
    for (uint32_t s = 0; s < shard_count; ++s) {
      json::object o{{"shard", s}};
      if (d.cluster && s < shards.size()) {
        o["home"] = shards[s].home;
        o["owner"] = shards[s].owner;
        o["epoch"] = shards[s].epoch;
        o["state"] = state_name(shards[s].state);
      } else {
        o["home"] = d.node_name;
        o["owner"] = d.node_name;
        o["epoch"] = 0;
        o["state"] = "local";
      }
      o["active"] = active[s];
      arr.push_back(std::move(o));
    }
    rp.deliver(admin_reply{json::serialize(json::object{{"shards", std::move(arr)}})});
  });
  return rp;
}

template <class Reply, class Handle, class Cmd, class Render>
caf::result<admin_reply> ask(gateway_pointer self, const Handle& h, Cmd cmd, Render render) {
  auto rp = self->make_response_promise<admin_reply>();
  self->request(h, std::chrono::seconds(5), std::move(cmd))
    .then([rp, render](Reply& v) mutable { rp.deliver(admin_reply{render(v)}); },
          [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

caf::result<admin_reply> entity_show(gateway_pointer self, entity_kind k, const std::string& id) {
  auto& r = self->state.deps.regions;
  switch (k) {
    case entity_kind::ticket:
      return ask<ticket_view>(self, r.tickets, get_ticket{id},
                              [](const ticket_view& v) { return render_ticket(v); });
    case entity_kind::account:
      return ask<account_view>(self, r.accounts, get_account{id},
                               [](const account_view& v) { return render_account(v); });
    case entity_kind::wallet:
      return ask<wallet_view>(self, r.wallets, get_wallet{id},
                              [](const wallet_view& v) { return render_wallet(v); });
    case entity_kind::trade: {
      trade_action a;
      a.trade_id = id;
      a.action = static_cast<uint8_t>(trade_action_kind::get);
      a.admin = true;
      return ask<trade_view>(self, r.trades, std::move(a),
                             [](const trade_view& v) { return render_trade(v); });
    }
    default:
      break;
  }
  return make_error(errc::invalid_argument,
                    std::string{"entity show supports ticket, account, wallet, trade; not "}
                      + to_string(k),
                    "kind");
}

/// The node that owns `id`'s shard when that is not this one ("" when it
/// is this one, or in the embedded mode).
std::string owner_elsewhere(gateway_pointer self, const std::string& id) {
  auto& d = self->state.deps;
  if (!d.cluster)
    return {};
  auto v = d.cluster->view();
  auto s = shard_of(id);
  if (s < v.shards.size() && v.shards[s].owner != d.node_name)
    return v.shards[s].owner.empty() ? std::string{"(none)"} : v.shards[s].owner;
  return {};
}

/// Events, snapshots and passivation use this node's journal and regions,
/// so the shard must be served here (`run` forwards such commands to the
/// owner first; this catches an owner that changed meanwhile).
caf::error require_local(gateway_pointer self, const std::string& id) {
  auto owner = owner_elsewhere(self, id);
  if (owner.empty())
    return {};
  return make_error(errc::unavailable,
                    "shard " + std::to_string(shard_of(id)) + " of " + id + " lives on node '"
                      + owner + "'",
                    "node");
}

/// Runs an admin command on node `owner` (its gateway) and relays the reply.
/// `args` end with "--here", so the owner runs it and never forwards again.
caf::result<admin_reply> forward_to(gateway_pointer self, const std::string& owner,
                                    std::vector<std::string> args) {
  auto& d = self->state.deps;
  auto gw = d.cluster ? d.cluster->peer_gateway(owner) : std::nullopt;
  if (!gw)
    return make_error(errc::unavailable,
                      "node '" + owner + "' (the owner) is not connected; try again", "node");
  args.emplace_back("--here");
  auto rp = self->make_response_promise<admin_reply>();
  self->request(*gw, std::chrono::seconds(10),
                admin_command{cluster_wire_version, d.secret, std::move(args)})
    .then([rp](admin_reply& r) mutable { rp.deliver(std::move(r)); },
          [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

caf::result<admin_reply> entity_events(gateway_pointer self, entity_kind k, const std::string& id,
                                       uint64_t from) {
  if (auto err = require_local(self, id))
    return err;
  json::array arr;
  size_t n = 0;
  bool ok = self->state.deps.store->read_events(
    k, id, from, [&](uint64_t, std::string_view bytes) {
      auto ev = decode_event(bytes);
      if (ev) {
        boost::system::error_code ec;
        arr.push_back(json::parse(render_event(0, *ev), ec));
      }
      return ++n < 10000;
    });
  if (!ok)
    return make_error(errc::storage_failure, "reading events failed");
  return admin_reply{json::serialize(json::object{{"events", std::move(arr)}})};
}

caf::result<admin_reply> snapshot_cmd(gateway_pointer self, entity_kind k, const std::string& id) {
  if (auto err = require_local(self, id))
    return err;
  auto& store = *self->state.deps.store;
  json::object o{{"kind", to_string(k)}, {"id", id}, {"last_seq", store.last_seq(k, id)}};
  if (auto snap = store.load_snapshot(k, id)) {
    o["snapshot_seq"] = snap->seq;
    o["bytes"] = snap->bytes.size();
    if (auto dec = decode_snapshot(snap->bytes)) {
      o["schema_version"] = dec->schema_version;
      o["taken_at"] = format_rfc3339(dec->taken_at_ms);
    }
  } else {
    o["snapshot_seq"] = nullptr;
  }
  return admin_reply{json::serialize(o)};
}

template <class Handle>
caf::result<admin_reply> passivate_on(gateway_pointer self, const Handle& h, entity_kind k,
                                      const std::string& id) {
  auto rp = self->make_response_promise<admin_reply>();
  self->request(h, std::chrono::seconds(5), atoms::passivate_atom_v, id)
    .then(
      [rp, k, id](bool active) mutable {
        rp.deliver(admin_reply{json::serialize(
          json::object{{"kind", to_string(k)}, {"id", id}, {"was_active", active}})});
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

caf::result<admin_reply> passivate_cmd(gateway_pointer self, entity_kind k, const std::string& id) {
  if (auto err = require_local(self, id))
    return err;
  auto& r = self->state.deps.regions;
  switch (k) {
    case entity_kind::ticket:
      return passivate_on(self, r.tickets, k, id);
    case entity_kind::account:
      return passivate_on(self, r.accounts, k, id);
    case entity_kind::email_index:
      return passivate_on(self, r.emails, k, id);
    case entity_kind::wallet:
      return passivate_on(self, r.wallets, k, id);
    case entity_kind::trade:
      return passivate_on(self, r.trades, k, id);
    default:
      break;
  }
  return make_error(errc::invalid_argument, "unknown kind", "kind");
}

caf::result<admin_reply> timers_cmd(gateway_pointer self, bool due_only) {
  auto horizon = due_only ? wall_ms() : std::numeric_limits<int64_t>::max();
  auto timers = self->state.deps.store->due_timers(horizon, 1000);
  json::array arr;
  for (auto& t : timers)
    arr.push_back(json::object{{"due", format_rfc3339(t.due_ms)},
                               {"kind", to_string(t.kind)},
                               {"id", t.entity_id},
                               {"name", t.name}});
  return admin_reply{json::serialize(json::object{{"timers", std::move(arr)}})};
}

caf::result<admin_reply> stats_cmd(gateway_pointer self) {
  auto rp = self->make_response_promise<admin_reply>();
  self->request(self->state.deps.journal, std::chrono::seconds(5), atoms::stats_atom_v)
    .then(
      [self, rp](journal_stats& js) mutable {
        auto extra = self->state.deps.extra_stats;
        gather_active(self, [self, rp, js, extra](std::vector<uint32_t> active,
                                                  json::object boxes) mutable {
          uint64_t total = 0;
          for (auto a : active)
            total += a;
          json::object o{
            {"events_total", js.events},
            {"events_per_s", js.events_per_s},  // over the last <= 1024 batches
            {"batches_total", js.batches},
            {"mean_batch_events",
             js.batches ? static_cast<double>(js.events) / static_cast<double>(js.batches) : 0.0},
            {"conflicts_total", js.conflicts},
            {"fenced_appends_total", js.fenced},
            {"log_next_offset", js.next_offset},
            {"active_entities", total},
            {"journal_write_us",  // synced WriteBatch (write + fsync), last <= 1024 batches
             json::object{{"p50", js.write_us_p50},
                          {"p99", js.write_us_p99},
                          {"max", js.write_us_max}}}};
          boxes["journal"] = js.mailbox;
          o["mailbox_depths"] = std::move(boxes);
          o["journal_pending_appends"] = js.pending;
          if (extra) {
            boost::system::error_code ec;
            auto more = json::parse(extra(), ec);
            if (!ec && more.is_object())
              for (auto& kv : more.as_object())
                o[kv.key()] = kv.value();
          }
          auto matcher = self->state.deps.matcher;
          if (!matcher) {
            rp.deliver(admin_reply{json::serialize(o)});
            return;  // never `return rp.deliver(…)`: deliver returns a promise
          }
          auto reply = rp;
          auto base = std::make_shared<json::object>(std::move(o));
          self->request(matcher, std::chrono::seconds(5), atoms::stats_atom_v)
            .then(
              [reply, base](matcher_report& m) mutable {
                (*base)["matcher"] = json::object{{"rounds", m.rounds},
                                                  {"open_offers", m.offers},
                                                  {"booked_offers", m.booked},
                                                  {"last_round_pairs", m.last_pairs},
                                                  {"last_round_cycles", m.last_cycles},
                                                  {"last_round_us", m.last_round_us},
                                                  {"proposed_total", m.proposed},
                                                  {"refused_total", m.failed},
                                                  {"log_next_offset", m.next_offset}};
                reply.deliver(admin_reply{json::serialize(*base)});
              },
              [reply, base](caf::error&) mutable {
                reply.deliver(admin_reply{json::serialize(*base)});
              });
        });
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

/// Asks every region to passivate `shard`'s entities and waits (blocking,
/// up to `limit`) until none of them is active. Runs on a detached actor's
/// thread (the shard mover). False if some entity was still active at the
/// deadline.
bool passivate_and_wait(caf::actor_system& sys, const node_regions& r, uint32_t shard,
                        std::chrono::milliseconds limit) {
  caf::scoped_actor blocking{sys, true};
  auto t = std::chrono::seconds(2);
  for_each_region(r, [&](const char*, const auto& region) {
    blocking->request(region, t, atoms::passivate_atom_v, shard)
      .receive([](uint32_t) {}, [](caf::error&) {});
  });
  auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    uint64_t active = 0;
    for_each_region(r, [&](const char*, const auto& region) {
      blocking->request(region, t, atoms::stats_atom_v)
        .receive(
          [&](region_stats& st) {
            if (shard < st.active_by_shard.size())
              active += st.active_by_shard[shard];
          },
          [&](caf::error&) { ++active; });
    });
    if (active == 0)
      return true;
    if (std::chrono::steady_clock::now() >= deadline)
      return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

/// One shard move, run by its own detached actor (`shard_mover`) so that the
/// blocking parts (passivation wait, the export scan, the etcd transaction)
/// never hold the gateway, which keeps answering peers and tt-admin.
struct move_job {
  gateway_deps deps;
  uint32_t shard = 0;
  std::string to;
  uint64_t epoch = 0;
  cluster_gateway_actor target;
};

/// The mover: answers its one `ok_atom` request with the move's result. It
/// monitors the target's gateway, so the target's death aborts the move at
/// once. Every path ends the move in the cluster member exactly once.
caf::behavior shard_mover(caf::event_based_actor* self, move_job job) {
  auto j = std::make_shared<move_job>(std::move(job));
  auto rp = std::make_shared<caf::response_promise>();
  auto finished = std::make_shared<bool>(false);  // abort and commit happen once
  auto done = [self, j, rp, finished](caf::expected<admin_reply> out) {
    *finished = true;
    j->deps.cluster->end_move(j->shard);
    if (out)
      rp->deliver(std::move(*out));
    else
      rp->deliver(out.error());
    self->quit();
  };
  auto abort = [self, j, finished, done](const std::string& why) {
    if (*finished)
      return;
    // The target drops whatever it received (best effort: a target that is
    // down clears it with the first chunk of the next move of this shard,
    // and never fires timers of a shard it does not serve).
    shard_import drop;
    drop.secret = j->deps.secret;
    drop.shard = j->shard;
    drop.from_node = j->deps.node_name;
    drop.aborted = true;
    drop.done = true;
    caf::anon_send(j->target, std::move(drop));
    log::warn("shard_move_aborted", {{"shard", j->shard}, {"reason", why}});
    done(make_error(errc::unavailable, "shard move aborted: " + why + "; "
                                         "this node still owns the shard with all its data"));
  };
  self->monitor(j->target);
  self->set_down_handler([abort](caf::down_msg& dm) {
    abort("the target node went down (" + to_string(dm.reason) + ")");
  });
  return {
    [self, j, rp, finished, done, abort](caf::ok_atom) -> caf::response_promise {
      *rp = self->make_response_promise();
      auto& d = j->deps;
      // 1. Barrier: every append the journal received before the fence
      //    closed is written (synced) before it answers; later ones are
      //    refused by the fence.
      self->request(d.journal, std::chrono::seconds(30), journal_barrier{j->shard})
        .then(
          [self, j, finished, done, abort](uint64_t) mutable {
            auto& d = j->deps;
            // 2. Passivate the shard's entities and wait until they are gone
            //    (their state is on disk; none can write any more: fenced).
            if (!passivate_and_wait(self->system(), d.regions, j->shard, std::chrono::seconds(5)))
              return abort("the shard's entities did not passivate within 5 s");
            if (*finished)
              return;  // the target went down meanwhile
            // 3. Export (this actor is detached: a blocking scan is fine).
            auto chunks = std::make_shared<std::vector<std::vector<std::string>>>(1);
            size_t bytes = 0, entries = 0;
            bool ok = d.store->export_shard(j->shard, [&](uint8_t cf, std::string_view k,
                                                          std::string_view v) {
              if (bytes > import_chunk_bytes) {
                chunks->emplace_back();
                bytes = 0;
              }
              auto& c = chunks->back();
              c.emplace_back(1, static_cast<char>(cf));
              c.emplace_back(k);
              c.emplace_back(v);
              bytes += k.size() + v.size() + 1;
              ++entries;
              return true;
            });
            if (!ok)
              return abort("reading the shard's entries failed");
            // 4. Stream the chunks, one at a time, then commit in etcd.
            auto send = std::make_shared<std::function<void(size_t)>>();
            *send = [self, j, finished, done, abort, chunks, entries, send](size_t i) mutable {
              shard_import msg;
              msg.secret = j->deps.secret;
              msg.shard = j->shard;
              msg.from_node = j->deps.node_name;
              msg.triples = std::move((*chunks)[i]);
              msg.chunk = static_cast<uint32_t>(i);
              msg.done = i + 1 == chunks->size();
              self->request(j->target, std::chrono::seconds(15), std::move(msg))
                .then(
                  [self, j, finished, done, abort, chunks, entries, send,
                   i](shard_import_ack& ack) mutable {
                    if (*finished)
                      return;  // aborted meanwhile (the target went down)
                    if (i + 1 < chunks->size())
                      return (*send)(i + 1);
                    *send = nullptr;  // break the self-reference
                    std::string err;
                    auto outcome = j->deps.cluster->commit_move(j->shard, j->epoch, j->to,
                                                                ack.node_id, ack.lease, &err);
                    if (outcome == move_commit::refused)
                      return abort(err);
                    if (outcome == move_commit::unknown) {
                      // Neither side may drop anything: one of them owns it.
                      log::error("shard_move_unconfirmed", {{"shard", j->shard}, {"reason", err}});
                      return done(make_error(errc::unavailable,
                                             "shard move of " + std::to_string(j->shard)
                                               + ": etcd did not confirm the ownership change ("
                                               + err + "); run `shards` to see the owner"));
                    }
                    // 5. The new owner serves it now; drop our timers and
                    //    index rows of it (stale ones are never used
                    //    meanwhile: timers of unserved shards do not fire,
                    //    lists read each row from the shard's home only).
                    caf::anon_send(j->deps.journal, drop_shard{j->shard});
                    done(admin_reply{json::serialize(
                      json::object{{"shard", j->shard},
                                   {"from", j->deps.node_name},
                                   {"to", j->to},
                                   {"entries", entries},
                                   {"old_epoch", j->epoch}})});
                  },
                  [abort, send](caf::error& err) mutable {
                    *send = nullptr;
                    abort("the new owner refused the entries: " + describe(err).message);
                  });
            };
            (*send)(0);
          },
          [abort](caf::error& err) mutable {
            abort("journal barrier: " + describe(err).message);
          });
      return *rp;
    },
  };
}

/// `shard move SHARD NODE` on the shard's current owner (see
/// docs/ARCHITECTURE.md "Shard hand-off"): stop serving (fence), write the
/// appends already queued (journal barrier), passivate the shard's entities
/// and wait until they are gone, stream its entries to NODE (the first chunk
/// clears what an earlier interrupted move left there), then move ownership
/// with one etcd transaction (new epoch) and drop the local timers and index
/// rows. Any failure before the transaction leaves this node the owner with
/// all its data, and tells NODE to drop what it received; a transaction
/// whose outcome etcd cannot confirm is reported as such. The work runs on a
/// detached `shard_mover`; the gateway only starts it and relays its answer.
caf::result<admin_reply> shard_move(gateway_pointer self, uint32_t shard, const std::string& to) {
  auto& d = self->state.deps;
  if (!d.cluster)
    return make_error(errc::invalid_argument, "shard move needs cluster mode (--etcd)", "mode");
  auto cluster = d.cluster;
  if (to == d.node_name)
    return make_error(errc::invalid_argument, "shard " + std::to_string(shard)
                                                + " cannot move to the node it is on", "node");
  auto view = cluster->view();
  bool live = false;
  for (auto& n : view.nodes)
    live = live || (n.name == to && n.live);
  auto gw = cluster->peer_gateway(to);
  if (!live || !gw)
    return make_error(errc::invalid_argument, "node '" + to + "' is not a live, connected peer",
                      "node");
  auto epoch = cluster->begin_move(shard);
  if (epoch == 0) {
    auto owner = shard < view.shards.size() ? view.shards[shard].owner : std::string{};
    return make_error(errc::invalid_argument,
                      "shard " + std::to_string(shard) + " is not served by this node (owner: '"
                        + owner + "'); run the move there",
                      "shard");
  }
  auto mover = self->system().spawn<caf::detached>(shard_mover,
                                                   move_job{d, shard, to, epoch, *gw});
  auto rp = self->make_response_promise<admin_reply>();
  self->request(mover, caf::infinite, caf::ok_atom_v)
    .then([rp](admin_reply& r) mutable { rp.deliver(std::move(r)); },
          [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

/// `model reload [PATH]`: the valuation service loads PATH (default: its
/// --model, else the newest *.model in <data-dir>/models/) on a thread of its
/// own and swaps it in; the reply names the version serving now and its
/// validation metrics. A failed load keeps the old model and is an error.
/// `match`: one matching round on this node now (its matcher follows every
/// node's log; the periodic rounds run on the owner of shard 0 only).
caf::result<admin_reply> match_cmd(gateway_pointer self) {
  auto& d = self->state.deps;
  if (!d.matcher)
    return make_error(errc::unavailable, "this node has no matcher");
  auto rp = self->make_response_promise<admin_reply>();
  self->request(d.matcher, std::chrono::seconds(60), run_match_round{})
    .then(
      [rp](matcher_report& m) mutable {
        rp.deliver(admin_reply{json::serialize(json::object{{"round", m.rounds},
                                                            {"open_offers", m.offers},
                                                            {"booked_offers", m.booked},
                                                            {"pairs", m.last_pairs},
                                                            {"cycles", m.last_cycles},
                                                            {"round_us", m.last_round_us}})});
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

/// Starts a retrain now (the nightly timer moves to its next run); the new
/// model loads when the training finished (watch `model_version` in stats).
caf::result<admin_reply> model_retrain(gateway_pointer self) {
  auto& d = self->state.deps;
  if (!d.valuation)
    return make_error(errc::unavailable, "this node has no valuation service");
  auto rp = self->make_response_promise<admin_reply>();
  self->request(d.valuation, std::chrono::seconds(30), retrain_model{})
    .then(
      [rp](model_status& s) mutable {
        if (!s.error.empty())
          return void(rp.deliver(make_error(errc::invalid_state, s.error, "model")));
        rp.deliver(admin_reply{json::serialize(
          json::object{{"retrain", "started"}, {"serving", s.loaded ? s.version : std::string{}}})});
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

caf::result<admin_reply> model_reload(gateway_pointer self, const std::string& path) {
  auto& d = self->state.deps;
  if (!d.valuation)
    return make_error(errc::unavailable, "this node has no valuation service");
  auto rp = self->make_response_promise<admin_reply>();
  self->request(d.valuation, std::chrono::seconds(120), reload_model{path})
    .then(
      [rp](model_status& s) mutable {
        if (!s.error.empty()) {
          rp.deliver(make_error(errc::invalid_argument,
                                "model reload failed: " + s.error
                                  + (s.loaded ? "; still serving " + s.version : std::string{}),
                                "model"));
          return;
        }
        boost::system::error_code ec;
        auto metrics = json::parse(s.metrics_json, ec);
        rp.deliver(admin_reply{json::serialize(
          json::object{{"model_version", s.version},
                       {"path", s.path},
                       {"loaded_at", format_rfc3339(s.loaded_at_ms)},
                       {"metrics", ec ? json::value{} : metrics}})});
      },
      [rp](caf::error& err) mutable { rp.deliver(err); });
  return rp;
}

/// The receiving side of a hand-off: write the entries through our journal.
caf::result<shard_import_ack> shard_import_cmd(gateway_pointer self, shard_import& x) {
  auto& d = self->state.deps;
  if (!d.cluster)
    return make_error(errc::invalid_argument, "not in cluster mode");
  if (x.shard >= shard_count)
    return make_error(errc::invalid_argument, "no such shard", "shard");
  auto view = d.cluster->view();
  if (view.shards[x.shard].owner == d.node_name)
    return make_error(errc::invalid_state, "this node owns shard " + std::to_string(x.shard));
  // Only the shard's current owner hands it off (its owner key stays until
  // the move commits).
  if (view.shards[x.shard].owner != x.from_node)
    return make_error(errc::forbidden, "node '" + x.from_node + "' does not own shard "
                                         + std::to_string(x.shard) + " (owner: '"
                                         + view.shards[x.shard].owner + "')");
  auto rp = self->make_response_promise<shard_import_ack>();
  auto node_id = d.node_id;
  auto lease = d.cluster->lease();
  auto ack = [rp, node_id, lease](uint64_t n) mutable {
    rp.deliver(shard_import_ack{node_id, lease, n});
  };
  auto fail = [rp](caf::error& err) mutable { rp.deliver(err); };
  log::info("shard_import", {{"shard", x.shard},
                             {"from", x.from_node},
                             {"chunk", x.chunk},
                             {"done", x.done},
                             {"aborted", x.aborted}});
  if (x.aborted) {
    self->request(d.journal, std::chrono::seconds(60), drop_shard{x.shard}).then(ack, fail);
    return rp;
  }
  self->request(d.journal, std::chrono::seconds(60),
                import_entries{x.shard, std::move(x.triples), x.chunk == 0})
    .then(ack, fail);
  return rp;
}

caf::result<admin_reply> run(gateway_pointer self, std::vector<std::string> a) {
  // "--here" (appended when a node forwards a command to an entity's owner):
  // run it on this node, never forward again.
  bool here = !a.empty() && a.back() == "--here";
  if (here)
    a.pop_back();
  auto bad = [](std::string msg) {
    return make_error(errc::invalid_argument, std::move(msg) + "; commands: " + help_text,
                      "command");
  };
  if (a.empty() || a[0] == "help")
    return admin_reply{json::serialize(json::object{{"help", help_text}})};
  const auto& verb = a[0];
  if (verb == "nodes")
    return admin_reply{json::serialize(nodes_doc(self))};
  if (verb == "shards")
    return shards_cmd(self);
  if (verb == "stats")
    return stats_cmd(self);
  if (verb == "config") {
    boost::system::error_code ec;
    auto cfg = json::parse(self->state.deps.config_json, ec);
    return admin_reply{json::serialize(json::object{{"config", ec ? json::value{} : cfg}})};
  }
  if (verb == "timers")
    return timers_cmd(self, a.size() > 1 && a[1] == "--due");
  if (verb == "match")
    return match_cmd(self);
  if (verb == "model") {
    if (a.size() == 2 && a[1] == "retrain")
      return model_retrain(self);
    if (a.size() < 2 || a.size() > 3 || a[1] != "reload")
      return bad("usage: model reload [PATH] | model retrain");
    return model_reload(self, a.size() == 3 ? a[2] : std::string{});
  }
  if (verb == "shard") {
    if (a.size() != 4 || a[1] != "move")
      return bad("usage: shard move SHARD NODE");
    uint32_t shard = shard_count;
    try {
      shard = static_cast<uint32_t>(std::stoul(a[2]));
    } catch (...) {
    }
    if (shard >= shard_count)
      return bad("SHARD must be 0.." + std::to_string(shard_count - 1));
    return shard_move(self, shard, a[3]);
  }
  bool is_entity = verb == "entity";
  size_t base = is_entity ? 2 : 1;
  if (is_entity && (a.size() < 2 || (a[1] != "show" && a[1] != "events")))
    return bad("usage: entity show|events KIND ID");
  if (is_entity || verb == "snapshot" || verb == "passivate") {
    if (a.size() < base + 2)
      return bad("usage: " + verb + (is_entity ? " " + a[1] : "") + " KIND ID");
    auto k = parse_kind(a[base]);
    if (!k)
      return bad("unknown kind '" + a[base] + "' (ticket, account, wallet, trade, email_index)");
    const auto& id = a[base + 1];
    if (id.empty() || id.size() > 64)
      return bad("bad id");
    // Events, snapshots and passivation happen where the entity lives.
    if (!here && (verb != "entity" || a[1] == "events"))
      if (auto owner = owner_elsewhere(self, id); !owner.empty() && owner != "(none)")
        return forward_to(self, owner, a);
    if (verb == "snapshot")
      return snapshot_cmd(self, *k, id);
    if (verb == "passivate")
      return passivate_cmd(self, *k, id);
    if (a[1] == "show")
      return entity_show(self, *k, id);
    uint64_t from = 1;
    if (a.size() >= base + 4 && a[base + 2] == "--from") {
      try {
        from = std::stoull(a[base + 3]);
      } catch (...) {
        return bad("--from needs a number");
      }
    }
    return entity_events(self, *k, id, std::max<uint64_t>(from, 1));
  }
  return bad("unknown command '" + verb + "'");
}

cluster_gateway_actor::behavior_type gateway_impl(gateway_pointer self, gateway_deps deps) {
  self->state.deps = std::move(deps);
  return {
    [self](cluster_hello& h) -> caf::result<node_regions> {
      if (h.version != cluster_wire_version || !secret_equal(h.secret, self->state.deps.secret)) {
        log::warn("cluster_hello_refused", {{"from", h.from}});
        return make_error(errc::forbidden, "bad cluster secret or wire version");
      }
      return self->state.deps.regions;
    },
    [self](admin_command& c) -> caf::result<admin_reply> {
      if (c.version != cluster_wire_version || !secret_equal(c.secret, self->state.deps.secret)) {
        log::warn("admin_command_refused", {{"verb", c.args.empty() ? "" : c.args[0]}});
        return make_error(errc::forbidden, "bad admin secret or wire version");
      }
      log::info("admin_command", {{"verb", c.args.empty() ? "" : c.args[0]}});
      return run(self, c.args);
    },
    [self](read_log_page& x) -> caf::result<log_page> {
      if (x.version != cluster_wire_version || !secret_equal(x.secret, self->state.deps.secret))
        return make_error(errc::forbidden, "bad cluster secret or wire version");
      log_page page;
      auto& store = *self->state.deps.store;
      page.end = store.next_offset();
      page.next = std::max<uint64_t>(x.from, 1);
      auto max = std::min<uint32_t>(std::max<uint32_t>(x.max, 1), 4096);
      store.read_log(page.next, max, [&](uint64_t offset, std::string_view bytes) {
        page.events.emplace_back(bytes);
        page.next = offset + 1;
        return true;
      });
      return page;
    },
    [self](read_index_range& x) -> caf::result<index_rows> {
      if (x.version != cluster_wire_version || !secret_equal(x.secret, self->state.deps.secret))
        return make_error(errc::forbidden, "bad cluster secret or wire version");
      index_rows out;
      auto max = std::min<uint32_t>(std::max<uint32_t>(x.max, 1), 1000);
      // Only rows of shards whose home is this node (see home_shards).
      std::function<bool(std::string_view)> keep;
      if (auto& c = self->state.deps.cluster)
        keep = [home = home_shards(c->view())](std::string_view id) { return home[shard_of(id)]; };
      auto rows = self->state.deps.store->scan_index(
        x.prefix, x.after.empty() ? std::string{} : x.prefix + x.after, max, keep);
      for (auto& [k, v] : rows) {
        out.ids.push_back(k.substr(x.prefix.size()));
        out.values.push_back(std::move(v));
      }
      return out;
    },
    [self](shard_import& x) -> caf::result<shard_import_ack> {
      if (x.version != cluster_wire_version || !secret_equal(x.secret, self->state.deps.secret)) {
        log::warn("shard_import_refused", {{"from", x.from_node}});
        return make_error(errc::forbidden, "bad cluster secret or wire version");
      }
      return shard_import_cmd(self, x);
    },
  };
}

} // namespace

cluster_gateway_actor spawn_gateway(caf::actor_system& sys, gateway_deps deps) {
  // Detached: a shard move scans the store and calls etcd synchronously.
  return sys.spawn<caf::detached>(gateway_impl, std::move(deps));
}

} // namespace tt::nodes
