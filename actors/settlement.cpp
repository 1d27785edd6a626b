#include "actors/settlement.hpp"

#include <prometheus/counter.h>
#include <prometheus/registry.h>

#include <set>

#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/errc.hpp"
#include "messages/events.hpp"
#include "messages/log.hpp"
#include "persistence/event_store.hpp"

namespace tt::actors {

namespace {

// -- ledger provider -----------------------------------------------------------------

payment_provider_actor::behavior_type ledger_provider(payment_provider_actor::pointer self,
                                                      wallet_region_actor wallets) {
  static constexpr auto timeout = std::chrono::seconds{10};
  return {
    [self, wallets](payment_command& cmd) -> caf::result<payment_intent> {
      if (cmd.intent_id.empty() || cmd.payer.empty())
        return make_error(errc::invalid_argument, "intent id and payer are required", "intent_id");
      wallet_command w;
      w.wallet_id = cmd.payer;
      w.ref = cmd.intent_id;
      w.amount_minor = cmd.amount_minor;
      w.currency = cmd.currency;
      w.counterparty = cmd.payee;
      w.meta = cmd.meta;
      auto rp = self->make_response_promise<payment_intent>();
      auto id = cmd.intent_id;
      switch (static_cast<intent_op>(cmd.op)) {
        case intent_op::authorize:
          w.op = static_cast<uint8_t>(wallet_op::hold);
          self->request(wallets, timeout, std::move(w))
            .then([rp, id](wallet_view& v) mutable {
                    rp.deliver(payment_intent{id, "requires_capture", v.op_amount_minor});
                  },
                  [rp](caf::error& err) mutable { rp.deliver(err); });
          break;
        case intent_op::cancel:
          w.op = static_cast<uint8_t>(wallet_op::release);
          self->request(wallets, timeout, std::move(w))
            .then([rp, id](wallet_view&) mutable { rp.deliver(payment_intent{id, "canceled", 0}); },
                  [rp](caf::error& err) mutable { rp.deliver(err); });
          break;
        case intent_op::capture: {
          if (cmd.payee.empty())
            return make_error(errc::invalid_argument, "a capture needs a payee", "payee");
          // Capture into platform escrow, then pay the payee out of it. Both
          // are keyed by the intent id, so a retry after a crash between the
          // two repeats nothing and finishes the payout.
          w.op = static_cast<uint8_t>(wallet_op::capture);
          wallet_command payout;
          payout.wallet_id = cmd.payee;
          payout.op = static_cast<uint8_t>(wallet_op::payout);
          payout.ref = cmd.intent_id;
          payout.amount_minor = cmd.amount_minor;
          payout.fee_minor = cmd.fee_minor;
          payout.currency = cmd.currency;
          payout.counterparty = cmd.payer;
          payout.meta = cmd.meta;
          self->request(wallets, timeout, std::move(w))
            .then(
              [self, wallets, rp, id, payout](wallet_view&) mutable {
                self->request(wallets, timeout, payout)
                  .then([rp, id, amount = payout.amount_minor](wallet_view&) mutable {
                          rp.deliver(payment_intent{id, "succeeded", amount});
                        },
                        [rp](caf::error& err) mutable { rp.deliver(err); });
              },
              [rp](caf::error& err) mutable { rp.deliver(err); });
          break;
        }
        default: return make_error(errc::invalid_argument, "unknown payment operation", "op");
      }
      return rp;
    },
  };
}

// -- escrow upload adapter ---------------------------------------------------------------

transfer_adapter_actor::behavior_type escrow_upload_adapter(transfer_adapter_actor::pointer self,
                                                           ticket_region_actor tickets) {
  return {
    [self, tickets](ticket_trade_step& cmd) -> caf::result<ticket_view> {
      auto step = static_cast<ticket_step>(cmd.step);
      if (step != ticket_step::deposit && step != ticket_step::transfer)
        return make_error(errc::invalid_argument, "the adapter validates and transfers only",
                          "step");
      if (step == ticket_step::deposit && cmd.barcode.empty())
        return make_error(errc::invalid_argument, "barcode is required", "barcode");
      return self->delegate(tickets, std::move(cmd));
    },
    [self, tickets](get_ticket& cmd) -> caf::result<ticket_view> {
      return self->delegate(tickets, std::move(cmd));
    },
  };
}

// -- timer service --------------------------------------------------------------------------

struct timer_state {
  std::shared_ptr<const persistence::event_store> store;
  trade_region_actor trades;
  valuation_service_actor valuation;  // the nightly retrain timer
  timer_service_config cfg;
  std::set<std::string> in_flight;  // trade ids woken and not yet answered
  prometheus::Counter* fired = nullptr;
  prometheus::Counter* failed = nullptr;
  static inline const char* name = "timer_service";
};

timer_service_actor::behavior_type
timer_service(timer_service_actor::stateful_pointer<timer_state> self,
              std::shared_ptr<const persistence::event_store> store, trade_region_actor trades,
              timer_service_config cfg, prometheus::Registry* reg,
              valuation_service_actor valuation) {
  auto& st = self->state;
  st.store = std::move(store);
  st.trades = std::move(trades);
  st.valuation = std::move(valuation);
  st.cfg = cfg;
  if (reg != nullptr) {
    auto& fam = prometheus::BuildCounter()
                  .Name("tt_timers_fired_total")
                  .Help("Durable timers that woke an entity, by outcome")
                  .Register(*reg);
    st.fired = &fam.Add({{"outcome", "ok"}});
    st.failed = &fam.Add({{"outcome", "error"}});
  }
  self->send(self, atoms::sweep_atom_v);
  return {
    [self](atoms::sweep_atom) {
      auto& st = self->state;
      using namespace std::chrono;
      auto now = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
      for (auto& t : st.store->due_timers(now, st.cfg.max_in_flight, st.cfg.fires)) {
        if (t.kind == entity_kind::unknown && t.entity_id == "valuation" && t.name == "retrain"
            && st.valuation && st.in_flight.insert(t.entity_id).second) {
          // The valuation service moves the timer on before it answers.
          self->request(st.valuation, st.cfg.wake_timeout, retrain_model{})
            .then([self](model_status&) { self->state.in_flight.erase("valuation"); },
                  [self](caf::error& err) {
                    self->state.in_flight.erase("valuation");
                    log::warn("timer_retrain_failed", {{"reason", describe(err).message}});
                  });
          continue;
        }
        if (t.kind != entity_kind::trade || st.in_flight.size() >= st.cfg.max_in_flight
            || !st.in_flight.insert(t.entity_id).second)
          continue;
        trade_action wake;
        wake.trade_id = t.entity_id;
        wake.action = static_cast<uint8_t>(trade_action_kind::wake);
        wake.meta.causation_id = "timer:" + t.name;
        auto id = t.entity_id;
        self->request(st.trades, st.cfg.wake_timeout, std::move(wake))
          .then(
            [self, id](trade_view&) {
              self->state.in_flight.erase(id);
              if (self->state.fired)
                self->state.fired->Increment();
            },
            [self, id](caf::error& err) {
              self->state.in_flight.erase(id);
              if (self->state.failed)
                self->state.failed->Increment();
              log::warn("timer_wake_failed", {{"trade", id}, {"reason", describe(err).message}});
            });
      }
      self->delayed_send(self, st.cfg.poll_interval, atoms::sweep_atom_v);
    },
  };
}

} // namespace

payment_provider_actor spawn_ledger_provider(caf::actor_system& sys, wallet_region_actor wallets) {
  return sys.spawn(ledger_provider, std::move(wallets));
}

transfer_adapter_actor spawn_escrow_upload_adapter(caf::actor_system& sys,
                                                   ticket_region_actor tickets) {
  return sys.spawn(escrow_upload_adapter, std::move(tickets));
}

timer_service_actor spawn_timer_service(caf::actor_system& sys,
                                        std::shared_ptr<const persistence::event_store> store,
                                        trade_region_actor trades, timer_service_config cfg,
                                        prometheus::Registry* metrics,
                                        valuation_service_actor valuation) {
  return sys.spawn(timer_service, std::move(store), std::move(trades), cfg, metrics,
                   std::move(valuation));
}

} // namespace tt::actors
