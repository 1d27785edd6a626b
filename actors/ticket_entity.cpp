#include "actors/ticket_entity.hpp"

#include "actors/persistent_entity.hpp"
#include "actors/resumed.hpp"
#include "actors/ticket_model.hpp"
#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/log.hpp"

namespace tt::actors {

namespace {

struct ticket_entity_state {
  entity_core<ticket_model> core;
  static inline const char* name = "ticket";
};

using ticket_pointer = ticket_actor::stateful_pointer<ticket_entity_state>;

ticket_actor::behavior_type broken(ticket_pointer self, caf::error err) {
  auto fail = [err](auto&&...) -> caf::result<ticket_view> { return err; };
  return {
    [fail](list_ticket& x) { return fail(x); },
    [fail](update_ticket& x) { return fail(x); },
    [fail](withdraw_ticket& x) { return fail(x); },
    [fail](get_ticket& x) { return fail(x); },
    [fail](ticket_trade_step& x) { return fail(x); },
    [fail](record_valuation& x) { return fail(x); },
    [fail](offer_ticket& x) { return fail(x); },
    [self](atoms::passivate_atom) { self->quit(); },
  };
}

template <class Cmd>
caf::result<ticket_view> handle(ticket_pointer self, const Cmd& cmd, bool creates) {
  auto& core = self->state.core;
  caf::expected<std::vector<event_payload>> decision = [&] {
    if constexpr (std::is_same_v<Cmd, list_ticket> || std::is_same_v<Cmd, ticket_trade_step>)
      return core.model.decide(cmd, *core.env->keys);
    else
      return core.model.decide(cmd);
  }();
  if (!decision)
    return decision.error();
  if (decision->empty())
    return core.model.view(core.seq, false);
  auto rp = self->make_response_promise<ticket_view>();
  persist(self, std::move(*decision), cmd.meta, rp,
          [creates](const ticket_model& m, uint64_t seq) { return m.view(seq, creates); });
  return rp;
}

/// The ticket entity. All ticket entities share one behavior object (built
/// once, below): CAF 0.17 keeps a behavior per actor, ~380 bytes for eight
/// handlers, which was a fifth of an active ticket's memory. The shared
/// handlers find their actor through `resumed<ticket_entity>::get()`, which
/// `resume` sets for as long as this actor runs on the calling thread (every
/// handler and response continuation runs inside `resume`).
class ticket_entity : public caf::stateful_actor<ticket_entity_state, ticket_actor::base> {
public:
  using super = caf::stateful_actor<ticket_entity_state, ticket_actor::base>;

  ticket_entity(caf::actor_config& cfg, entity_env_ptr env, std::string id) : super(cfg) {
    state.core.env = std::move(env);
    state.core.model.id = id;
  }

  behavior_type make_behavior() override {
    std::string id{state.core.model.id};
    if (auto err = state.core.recover(id)) {
      log::error("entity_recovery_failed", {{"kind", "ticket"}, {"id", id}});
      return broken(this, std::move(err));
    }
    return shared_behavior();
  }

  caf::resumable::resume_result resume(caf::execution_unit* eu, size_t max_throughput) override {
    resumed<ticket_entity>::scope running{this};
    return super::resume(eu, max_throughput);
  }

private:
  static ticket_actor::behavior_type shared_behavior() {
    static const ticket_actor::behavior_type shared{
      [](list_ticket& cmd) { return handle(self(), cmd, true); },
      [](update_ticket& cmd) { return handle(self(), cmd, false); },
      [](withdraw_ticket& cmd) { return handle(self(), cmd, false); },
      [](ticket_trade_step& cmd) { return handle(self(), cmd, false); },
      [](record_valuation& cmd) { return handle(self(), cmd, false); },
      [](offer_ticket& cmd) { return handle(self(), cmd, false); },
      [](get_ticket&) -> caf::result<ticket_view> {
        auto& core = self()->state.core;
        if (!core.model.exists)
          return make_error(errc::not_found, "no such ticket", "id");
        return core.model.view(core.seq, false);
      },
      [](atoms::passivate_atom) { self()->quit(); },
    };
    return shared;
  }

  static ticket_pointer self() { return resumed<ticket_entity>::get(); }
};

} // namespace

ticket_actor spawn_ticket_entity(caf::actor_system& sys, entity_env_ptr env, std::string id) {
  return sys.spawn<ticket_entity, caf::lazy_init>(std::move(env), std::move(id));
}

} // namespace tt::actors
