#include "actors/ticket_entity.hpp"

#include "actors/persistent_entity.hpp"
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

ticket_actor::behavior_type ticket_entity(ticket_pointer self, entity_env_ptr env, std::string id) {
  self->state.core.env = std::move(env);
  if (auto err = self->state.core.recover(id)) {
    log::error("entity_recovery_failed", {{"kind", "ticket"}, {"id", id}});
    return broken(self, std::move(err));
  }
  return {
    [self](list_ticket& cmd) { return handle(self, cmd, true); },
    [self](update_ticket& cmd) { return handle(self, cmd, false); },
    [self](withdraw_ticket& cmd) { return handle(self, cmd, false); },
    [self](ticket_trade_step& cmd) { return handle(self, cmd, false); },
    [self](record_valuation& cmd) { return handle(self, cmd, false); },
    [self](offer_ticket& cmd) { return handle(self, cmd, false); },
    [self](get_ticket&) -> caf::result<ticket_view> {
      auto& core = self->state.core;
      if (!core.model.exists)
        return make_error(errc::not_found, "no such ticket", "id");
      return core.model.view(core.seq, false);
    },
    [self](atoms::passivate_atom) { self->quit(); },
  };
}

} // namespace

ticket_actor spawn_ticket_entity(caf::actor_system& sys, entity_env_ptr env, std::string id) {
  return sys.spawn<caf::lazy_init>(ticket_entity, std::move(env), std::move(id));
}

} // namespace tt::actors
