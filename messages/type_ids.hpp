#pragma once
// The CAF type-ID block of Ticket Trader: every message type that crosses an
// actor boundary is listed here (and has an `inspect()` beside its struct).
// Register with `cfg.add_message_types<caf::id_block::tt>()` (see
// init_message_types() in messages/system.hpp).

#include <string>
#include <vector>

#include "caf/atom.hpp"
#include "caf/type_id.hpp"
#include "messages/account.hpp"
#include "messages/cluster.hpp"
#include "messages/journal.hpp"
#include "messages/matching.hpp"
#include "messages/notify.hpp"
#include "messages/settlement.hpp"
#include "messages/ticket.hpp"
#include "messages/valuation.hpp"

namespace tt {
struct node_regions;  // messages/cluster_regions.hpp (holds region handles)
} // namespace tt

CAF_BEGIN_TYPE_ID_BLOCK(tt, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(tt, (tt::request_meta))
  CAF_ADD_TYPE_ID(tt, (tt::ticket_fields))
  CAF_ADD_TYPE_ID(tt, (tt::list_ticket))
  CAF_ADD_TYPE_ID(tt, (tt::ticket_patch))
  CAF_ADD_TYPE_ID(tt, (tt::update_ticket))
  CAF_ADD_TYPE_ID(tt, (tt::withdraw_ticket))
  CAF_ADD_TYPE_ID(tt, (tt::get_ticket))
  CAF_ADD_TYPE_ID(tt, (tt::ticket_view))
  CAF_ADD_TYPE_ID(tt, (tt::append_events))
  CAF_ADD_TYPE_ID(tt, (tt::append_ack))
  CAF_ADD_TYPE_ID(tt, (tt::journal_stats))
  CAF_ADD_TYPE_ID(tt, (tt::region_stats))
  CAF_ADD_TYPE_ID(tt, (std::vector<std::string>))
  CAF_ADD_TYPE_ID(tt, (tt::account_view))
  CAF_ADD_TYPE_ID(tt, (tt::register_account))
  CAF_ADD_TYPE_ID(tt, (tt::get_account))
  CAF_ADD_TYPE_ID(tt, (tt::get_credentials))
  CAF_ADD_TYPE_ID(tt, (tt::credentials))
  CAF_ADD_TYPE_ID(tt, (tt::start_session))
  CAF_ADD_TYPE_ID(tt, (tt::rotate_session))
  CAF_ADD_TYPE_ID(tt, (tt::revoke_session))
  CAF_ADD_TYPE_ID(tt, (tt::session_view))
  CAF_ADD_TYPE_ID(tt, (tt::claim_email))
  CAF_ADD_TYPE_ID(tt, (tt::lookup_email))
  CAF_ADD_TYPE_ID(tt, (tt::email_claim_view))
  CAF_ADD_TYPE_ID(tt, (tt::log_advanced))
  CAF_ADD_TYPE_ID(tt, (tt::ticket_trade_step))
  CAF_ADD_TYPE_ID(tt, (tt::wallet_command))
  CAF_ADD_TYPE_ID(tt, (tt::get_wallet))
  CAF_ADD_TYPE_ID(tt, (tt::wallet_view))
  CAF_ADD_TYPE_ID(tt, (tt::payment_command))
  CAF_ADD_TYPE_ID(tt, (tt::payment_intent))
  CAF_ADD_TYPE_ID(tt, (tt::propose_trade))
  CAF_ADD_TYPE_ID(tt, (tt::trade_action))
  CAF_ADD_TYPE_ID(tt, (tt::trade_view))
  CAF_ADD_TYPE_ID(tt, (tt::cluster_hello))
  CAF_ADD_TYPE_ID(tt, (tt::admin_command))
  CAF_ADD_TYPE_ID(tt, (tt::admin_reply))
  CAF_ADD_TYPE_ID(tt, (tt::node_regions))
  CAF_ADD_TYPE_ID(tt, (tt::import_entries))
  CAF_ADD_TYPE_ID(tt, (tt::drop_shard))
  CAF_ADD_TYPE_ID(tt, (tt::shard_import))
  CAF_ADD_TYPE_ID(tt, (tt::shard_import_ack))
  CAF_ADD_TYPE_ID(tt, (tt::read_log_page))
  CAF_ADD_TYPE_ID(tt, (tt::log_page))
  CAF_ADD_TYPE_ID(tt, (tt::record_valuation))
  CAF_ADD_TYPE_ID(tt, (tt::valuate_ticket))
  CAF_ADD_TYPE_ID(tt, (tt::valuation_factor))
  CAF_ADD_TYPE_ID(tt, (tt::ticket_valuation))
  CAF_ADD_TYPE_ID(tt, (tt::reload_model))
  CAF_ADD_TYPE_ID(tt, (tt::model_status))
  CAF_ADD_TYPE_ID(tt, (tt::offer_ticket))
  CAF_ADD_TYPE_ID(tt, (tt::match_party))
  CAF_ADD_TYPE_ID(tt, (tt::propose_match))
  CAF_ADD_TYPE_ID(tt, (tt::run_match_round))
  CAF_ADD_TYPE_ID(tt, (tt::retrain_model))
  CAF_ADD_TYPE_ID(tt, (tt::matcher_report))
  CAF_ADD_TYPE_ID(tt, (tt::peer_log_events))

  CAF_ADD_ATOM(tt, tt::atoms, passivate_atom, "passivate")
  CAF_ADD_ATOM(tt, tt::atoms, stats_atom, "stats")
  CAF_ADD_ATOM(tt, tt::atoms, flush_atom, "flush")
  CAF_ADD_ATOM(tt, tt::atoms, sweep_atom, "sweep")
  CAF_ADD_TYPE_ID(tt, (tt::read_index_range))
  CAF_ADD_TYPE_ID(tt, (tt::index_rows))
  CAF_ADD_TYPE_ID(tt, (tt::journal_barrier))

CAF_END_TYPE_ID_BLOCK(tt)
