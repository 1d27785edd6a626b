#include "actors/account_entity.hpp"

#include "actors/account_model.hpp"
#include "actors/persistent_entity.hpp"
#include "caf/actor_system.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/log.hpp"

namespace tt::actors {

namespace {

struct account_entity_state {
  entity_core<account_model> core;
  static inline const char* name = "account";
};

using account_pointer = account_actor::stateful_pointer<account_entity_state>;

session_view session_of(const account_model& m, const std::string& family) {
  session_view v;
  v.account_id = m.id;
  v.family_id = family;
  if (auto* se = m.find_session(family)) {
    v.generation = se->generation;
    v.active = true;
  }
  return v;
}

/// Start or revoke a session family: persist what the model decides (nothing
/// for a retry or an already revoked family) and answer with the family.
template <class Cmd>
caf::result<session_view> change_session(account_pointer self, const Cmd& cmd) {
  auto& core = self->state.core;
  auto d = core.model.decide(cmd);
  if (!d)
    return d.error();
  if (d->empty())
    return session_of(core.model, cmd.family_id);
  auto rp = self->make_response_promise<session_view>();
  persist(self, std::move(*d), cmd.meta, rp,
          [family = cmd.family_id](const account_model& m, uint64_t) {
            return session_of(m, family);
          });
  return rp;
}

account_actor::behavior_type account_broken(account_pointer self, caf::error err) {
  return {
    [err](register_account&) -> caf::result<account_view> { return err; },
    [err](get_account&) -> caf::result<account_view> { return err; },
    [err](get_credentials&) -> caf::result<credentials> { return err; },
    [err](start_session&) -> caf::result<session_view> { return err; },
    [err](rotate_session&) -> caf::result<session_view> { return err; },
    [err](revoke_session&) -> caf::result<session_view> { return err; },
    [self](atoms::passivate_atom) { self->quit(); },
  };
}

account_actor::behavior_type account_entity(account_pointer self, entity_env_ptr env, std::string id) {
  self->state.core.env = std::move(env);
  if (auto err = self->state.core.recover(id)) {
    log::error("entity_recovery_failed", {{"kind", "account"}, {"id", id}});
    return account_broken(self, std::move(err));
  }
  return {
    [self](register_account& cmd) -> caf::result<account_view> {
      auto& core = self->state.core;
      auto d = core.model.decide(cmd, *core.env->keys);
      if (!d)
        return d.error();
      auto rp = self->make_response_promise<account_view>();
      persist(self, std::move(*d), cmd.meta, rp,
              [](const account_model& m, uint64_t seq) { return m.view(seq); });
      return rp;
    },
    [self](get_account&) -> caf::result<account_view> {
      auto& core = self->state.core;
      if (!core.model.exists)
        return make_error(errc::not_found, "no such account");
      return core.model.view(core.seq);
    },
    [self](get_credentials&) -> caf::result<credentials> {
      auto& core = self->state.core;
      if (!core.model.exists)
        return make_error(errc::not_found, "no such account");
      auto hash = core.env->keys->open(core.model.state.password_sealed);
      if (!hash)
        return make_error(errc::decode_failure, "stored password cannot be opened");
      return credentials{core.model.id, std::move(*hash)};
    },
    [self](start_session& cmd) { return change_session(self, cmd); },
    [self](rotate_session& cmd) -> caf::result<session_view> {
      auto& core = self->state.core;
      auto d = core.model.decide(cmd);
      if (!d)
        return d.error();
      auto rp = self->make_response_promise<session_view>();
      bool reuse = d->reuse;
      persist(self, std::move(d->events), cmd.meta, rp,
              [reuse, family = cmd.family_id](const account_model& m,
                                             uint64_t) -> caf::expected<session_view> {
                if (reuse)
                  return make_error(errc::forbidden, "refresh token was already used; session revoked");
                return session_of(m, family);
              });
      return rp;
    },
    [self](revoke_session& cmd) { return change_session(self, cmd); },
    [self](atoms::passivate_atom) { self->quit(); },
  };
}

struct email_index_state {
  entity_core<email_index_model> core;
  static inline const char* name = "email_index";
};

using email_pointer = email_index_actor::stateful_pointer<email_index_state>;

email_index_actor::behavior_type email_index_entity(email_pointer self, entity_env_ptr env,
                                                    std::string id) {
  self->state.core.env = std::move(env);
  if (auto err = self->state.core.recover(id)) {
    log::error("entity_recovery_failed", {{"kind", "email_index"}, {"id", id}});
    return {
      [err](claim_email&) -> caf::result<email_claim_view> { return err; },
      [err](lookup_email&) -> caf::result<email_claim_view> { return err; },
      [self](atoms::passivate_atom) { self->quit(); },
    };
  }
  return {
    [self](claim_email& cmd) -> caf::result<email_claim_view> {
      auto& core = self->state.core;
      auto d = core.model.decide(cmd);
      if (!d)
        return d.error();
      if (d->empty())
        return email_claim_view{core.model.state.account_id, false};
      auto rp = self->make_response_promise<email_claim_view>();
      persist(self, std::move(*d), cmd.meta, rp, [](const email_index_model& m, uint64_t) {
        return email_claim_view{m.state.account_id, true};
      });
      return rp;
    },
    [self](lookup_email&) -> caf::result<email_claim_view> {
      auto& core = self->state.core;
      if (!core.model.exists)
        return make_error(errc::not_found, "no such email");
      return email_claim_view{core.model.state.account_id, false};
    },
    [self](atoms::passivate_atom) { self->quit(); },
  };
}

} // namespace

account_actor spawn_account_entity(caf::actor_system& sys, entity_env_ptr env, std::string id) {
  return sys.spawn<caf::lazy_init>(account_entity, std::move(env), std::move(id));
}

email_index_actor spawn_email_index_entity(caf::actor_system& sys, entity_env_ptr env,
                                           std::string id) {
  return sys.spawn<caf::lazy_init>(email_index_entity, std::move(env), std::move(id));
}

} // namespace tt::actors
