#include "actors/wallet_entity.hpp"

#include "actors/persistent_entity.hpp"
#include "actors/wallet_model.hpp"
#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"

namespace tt::actors {

namespace {

struct wallet_entity_state {
  entity_core<wallet_model> core;
  static inline const char* name = "wallet";
};

using wallet_pointer = wallet_actor::stateful_pointer<wallet_entity_state>;

wallet_actor::behavior_type wallet_entity(wallet_pointer self, entity_env_ptr env, std::string id) {
  self->state.core.env = std::move(env);
  if (auto err = self->state.core.recover(id)) {
    log::error("entity_recovery_failed", {{"kind", "wallet"}, {"id", id}});
    return {
      [err](wallet_command&) -> caf::result<wallet_view> { return err; },
      [err](get_wallet&) -> caf::result<wallet_view> { return err; },
      [self](atoms::passivate_atom) { self->quit(); },
    };
  }
  return {
    [self](wallet_command& cmd) -> caf::result<wallet_view> {
      auto& core = self->state.core;
      auto decision = core.model.decide(cmd);
      if (!decision)
        return decision.error();
      if (decision->empty())
        return core.model.answer(cmd, core.seq, true);
      auto rp = self->make_response_promise<wallet_view>();
      persist(self, std::move(*decision), cmd.meta, rp,
              [cmd](const wallet_model& m, uint64_t seq) { return m.answer(cmd, seq, false); });
      return rp;
    },
    [self](get_wallet&) -> caf::result<wallet_view> {
      auto& core = self->state.core;
      if (!core.model.exists)
        return make_error(errc::not_found, "no wallet yet", "wallet");
      return core.model.view(core.seq);
    },
    [self](atoms::passivate_atom) { self->quit(); },
  };
}

} // namespace

wallet_actor spawn_wallet_entity(caf::actor_system& sys, entity_env_ptr env, std::string id) {
  return sys.spawn<caf::lazy_init>(wallet_entity, std::move(env), std::move(id));
}

} // namespace tt::actors
