#include "actors/shard_region.hpp"

#include "actors/account_entity.hpp"
#include "actors/region.hpp"
#include "actors/ticket_entity.hpp"
#include "actors/trade_entity.hpp"
#include "actors/wallet_entity.hpp"
#include "persistence/node_keys.hpp"

namespace tt::actors {

namespace {

struct ticket_traits {
  using entity_actor = ticket_actor;
  using region_actor = ticket_region_actor;
  static constexpr entity_kind kind = entity_kind::ticket;
  static constexpr const char* name = "ticket";
  static region_actor remote(const node_regions& n) { return n.tickets; }
  static entity_actor spawn(caf::actor_system& sys, entity_env_ptr env, std::string id) {
    return spawn_ticket_entity(sys, std::move(env), std::move(id));
  }
  template <class Cmd>
  static constexpr bool creates = std::is_same_v<Cmd, list_ticket>;
  static bool valid_id(std::string_view id) { return persistence::is_valid_id(id); }
};

struct account_traits {
  using entity_actor = account_actor;
  using region_actor = account_region_actor;
  static constexpr entity_kind kind = entity_kind::account;
  static constexpr const char* name = "account";
  static region_actor remote(const node_regions& n) { return n.accounts; }
  static entity_actor spawn(caf::actor_system& sys, entity_env_ptr env, std::string id) {
    return spawn_account_entity(sys, std::move(env), std::move(id));
  }
  template <class Cmd>
  static constexpr bool creates = std::is_same_v<Cmd, register_account>;
  static bool valid_id(std::string_view id) { return persistence::is_valid_id(id); }
};

struct email_index_traits {
  using entity_actor = email_index_actor;
  using region_actor = email_index_region_actor;
  static constexpr entity_kind kind = entity_kind::email_index;
  static constexpr const char* name = "email_index";
  static region_actor remote(const node_regions& n) { return n.emails; }
  static entity_actor spawn(caf::actor_system& sys, entity_env_ptr env, std::string id) {
    return spawn_email_index_entity(sys, std::move(env), std::move(id));
  }
  template <class Cmd>
  static constexpr bool creates = std::is_same_v<Cmd, claim_email>;
  static bool valid_id(std::string_view id) { return persistence::is_valid_id(id); }
};

struct wallet_traits {
  using entity_actor = wallet_actor;
  using region_actor = wallet_region_actor;
  static constexpr entity_kind kind = entity_kind::wallet;
  static constexpr const char* name = "wallet";
  static region_actor remote(const node_regions& n) { return n.wallets; }
  static entity_actor spawn(caf::actor_system& sys, entity_env_ptr env, std::string id) {
    return spawn_wallet_entity(sys, std::move(env), std::move(id));
  }
  template <class Cmd>
  static constexpr bool creates = std::is_same_v<Cmd, wallet_command>;
  static bool valid_id(std::string_view id) { return persistence::is_valid_id(id); }
};

struct trade_traits {
  using entity_actor = trade_actor;
  using region_actor = trade_region_actor;
  static constexpr entity_kind kind = entity_kind::trade;
  static constexpr const char* name = "trade";
  static region_actor remote(const node_regions& n) { return n.trades; }
  static entity_actor spawn(caf::actor_system& sys, entity_env_ptr env, std::string id) {
    return spawn_trade_entity(sys, std::move(env), std::move(id));
  }
  template <class Cmd>
  static constexpr bool creates
    = std::is_same_v<Cmd, propose_trade> || std::is_same_v<Cmd, propose_match>;
  static bool valid_id(std::string_view id) { return persistence::is_valid_id(id); }
};

using ticket_region = region<ticket_traits>;
using wallet_region = region<wallet_traits>;
using trade_region = region<trade_traits>;
using account_region = region<account_traits>;
using email_region = region<email_index_traits>;

ticket_region_actor::behavior_type ticket_region_impl(ticket_region::pointer self, entity_env env,
                                                      region_config cfg,
                                                      prometheus::Registry* reg) {
  ticket_region::init(self, std::move(env), cfg, reg);
  return {
    [self](list_ticket& c) { return ticket_region::route<ticket_view>(self, c); },
    [self](update_ticket& c) { return ticket_region::route<ticket_view>(self, c); },
    [self](withdraw_ticket& c) { return ticket_region::route<ticket_view>(self, c); },
    [self](get_ticket& c) { return ticket_region::route<ticket_view>(self, c); },
    [self](ticket_trade_step& c) { return ticket_region::route<ticket_view>(self, c); },
    [self](record_valuation& c) { return ticket_region::route<ticket_view>(self, c); },
    [self](offer_ticket& c) { return ticket_region::route<ticket_view>(self, c); },
    [self](atoms::stats_atom) { return ticket_region::stats(self); },
    [self](atoms::sweep_atom) { ticket_region::sweep(self); },
    [self](atoms::passivate_atom, std::string& id) { return ticket_region::passivate_one(self, id); },
    [self](atoms::passivate_atom, uint32_t shard) { return ticket_region::passivate_shard(self, shard); },
  };
}

account_region_actor::behavior_type account_region_impl(account_region::pointer self,
                                                        entity_env env, region_config cfg,
                                                        prometheus::Registry* reg) {
  account_region::init(self, std::move(env), cfg, reg);
  return {
    [self](register_account& c) { return account_region::route<account_view>(self, c); },
    [self](get_account& c) { return account_region::route<account_view>(self, c); },
    [self](get_credentials& c) { return account_region::route<credentials>(self, c); },
    [self](start_session& c) { return account_region::route<session_view>(self, c); },
    [self](rotate_session& c) { return account_region::route<session_view>(self, c); },
    [self](revoke_session& c) { return account_region::route<session_view>(self, c); },
    [self](atoms::stats_atom) { return account_region::stats(self); },
    [self](atoms::sweep_atom) { account_region::sweep(self); },
    [self](atoms::passivate_atom, std::string& id) { return account_region::passivate_one(self, id); },
    [self](atoms::passivate_atom, uint32_t shard) { return account_region::passivate_shard(self, shard); },
  };
}

email_index_region_actor::behavior_type email_region_impl(email_region::pointer self,
                                                          entity_env env, region_config cfg,
                                                          prometheus::Registry* reg) {
  email_region::init(self, std::move(env), cfg, reg);
  return {
    [self](claim_email& c) { return email_region::route<email_claim_view>(self, c); },
    [self](lookup_email& c) { return email_region::route<email_claim_view>(self, c); },
    [self](atoms::stats_atom) { return email_region::stats(self); },
    [self](atoms::sweep_atom) { email_region::sweep(self); },
    [self](atoms::passivate_atom, std::string& id) { return email_region::passivate_one(self, id); },
    [self](atoms::passivate_atom, uint32_t shard) { return email_region::passivate_shard(self, shard); },
  };
}

wallet_region_actor::behavior_type wallet_region_impl(wallet_region::pointer self, entity_env env,
                                                      region_config cfg,
                                                      prometheus::Registry* reg) {
  wallet_region::init(self, std::move(env), cfg, reg);
  return {
    [self](wallet_command& c) { return wallet_region::route<wallet_view>(self, c); },
    [self](get_wallet& c) { return wallet_region::route<wallet_view>(self, c); },
    [self](atoms::stats_atom) { return wallet_region::stats(self); },
    [self](atoms::sweep_atom) { wallet_region::sweep(self); },
    [self](atoms::passivate_atom, std::string& id) { return wallet_region::passivate_one(self, id); },
    [self](atoms::passivate_atom, uint32_t shard) { return wallet_region::passivate_shard(self, shard); },
  };
}

trade_region_actor::behavior_type trade_region_impl(trade_region::pointer self, entity_env env,
                                                    region_config cfg,
                                                    prometheus::Registry* reg) {
  trade_region::init(self, std::move(env), cfg, reg);
  return {
    [self](propose_trade& c) { return trade_region::route<trade_view>(self, c); },
    [self](propose_match& c) { return trade_region::route<trade_view>(self, c); },
    [self](trade_action& c) { return trade_region::route<trade_view>(self, c); },
    [self](atoms::stats_atom) { return trade_region::stats(self); },
    [self](atoms::sweep_atom) { trade_region::sweep(self); },
    [self](atoms::passivate_atom, std::string& id) { return trade_region::passivate_one(self, id); },
    [self](atoms::passivate_atom, uint32_t shard) { return trade_region::passivate_shard(self, shard); },
  };
}

} // namespace

wallet_region_actor spawn_wallet_region(caf::actor_system& sys, entity_env env,
                                        const region_config& cfg, prometheus::Registry* metrics) {
  return sys.spawn(wallet_region_impl, std::move(env), cfg, metrics);
}

trade_region_actor spawn_trade_region(caf::actor_system& sys, entity_env env,
                                      const region_config& cfg, prometheus::Registry* metrics) {
  return sys.spawn(trade_region_impl, std::move(env), cfg, metrics);
}

ticket_region_actor spawn_ticket_region(caf::actor_system& sys, entity_env env,
                                        const region_config& cfg, prometheus::Registry* metrics) {
  return sys.spawn(ticket_region_impl, std::move(env), cfg, metrics);
}

account_region_actor spawn_account_region(caf::actor_system& sys, entity_env env,
                                          const region_config& cfg, prometheus::Registry* metrics) {
  return sys.spawn(account_region_impl, std::move(env), cfg, metrics);
}

email_index_region_actor spawn_email_index_region(caf::actor_system& sys, entity_env env,
                                                  const region_config& cfg,
                                                  prometheus::Registry* metrics) {
  return sys.spawn(email_region_impl, std::move(env), cfg, metrics);
}

} // namespace tt::actors
