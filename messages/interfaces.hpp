#pragma once
// The typed actor interfaces of Ticket Trader, declared once. Modules pass
// only these handles between each other, never untyped `caf::actor`s.

#include "caf/replies_to.hpp"
#include "caf/typed_actor.hpp"
#include "messages/account.hpp"
#include "messages/journal.hpp"
#include "messages/notify.hpp"
#include "messages/settlement.hpp"
#include "messages/ticket.hpp"
#include "messages/type_ids.hpp"
#include "messages/valuation.hpp"

namespace tt {

/// The journal of one node (persistence/journal_actor.hpp). Group-commits
/// appends from many entities; replies only after fsync.
using journal_actor = caf::typed_actor<
  caf::replies_to<append_events>::with<append_ack>,
  caf::replies_to<atoms::stats_atom>::with<journal_stats>,
  caf::reacts_to<atoms::flush_atom>,
  caf::replies_to<import_entries>::with<uint64_t>,
  caf::replies_to<drop_shard>::with<uint64_t>,
  caf::replies_to<journal_barrier>::with<uint64_t>>;

/// Commands every ticket-addressed actor understands (entity and region).
using ticket_commands = caf::typed_actor<
  caf::replies_to<list_ticket>::with<ticket_view>,
  caf::replies_to<update_ticket>::with<ticket_view>,
  caf::replies_to<withdraw_ticket>::with<ticket_view>,
  caf::replies_to<get_ticket>::with<ticket_view>,
  caf::replies_to<ticket_trade_step>::with<ticket_view>,
  caf::replies_to<record_valuation>::with<ticket_view>,
  caf::replies_to<offer_ticket>::with<ticket_view>>;

/// One ticket entity (actors/ticket_entity.hpp). Started and passivated by the
/// region; `passivate_atom` asks it to stop after the commands before it.
using ticket_actor
  = ticket_commands::extend<caf::reacts_to<atoms::passivate_atom>>;

/// The node-local region for tickets (actors/shard_region.hpp): routes by
/// ticket id -> shard -> entity actor, starting entities on first message.
/// Every region also answers `(passivate_atom, id)`: passivate that entity
/// now if it is active (true) or not (false); used by tt-admin. And
/// `(passivate_atom, shard)`: passivate every active entity of that shard
/// (shard hand-off); replies how many.
using ticket_region_actor
  = ticket_commands::extend<caf::replies_to<atoms::stats_atom>::with<region_stats>,
                            caf::reacts_to<atoms::sweep_atom>,
                            caf::replies_to<atoms::passivate_atom, std::string>::with<bool>,
                            caf::replies_to<atoms::passivate_atom, uint32_t>::with<uint32_t>>;

/// Commands of the account entity (actors/account_entity.hpp).
using account_commands = caf::typed_actor<
  caf::replies_to<register_account>::with<account_view>,
  caf::replies_to<get_account>::with<account_view>,
  caf::replies_to<get_credentials>::with<credentials>,
  caf::replies_to<start_session>::with<session_view>,
  caf::replies_to<rotate_session>::with<session_view>,
  caf::replies_to<revoke_session>::with<session_view>>;

using account_actor = account_commands::extend<caf::reacts_to<atoms::passivate_atom>>;

using account_region_actor
  = account_commands::extend<caf::replies_to<atoms::stats_atom>::with<region_stats>,
                             caf::reacts_to<atoms::sweep_atom>,
                            caf::replies_to<atoms::passivate_atom, std::string>::with<bool>,
                            caf::replies_to<atoms::passivate_atom, uint32_t>::with<uint32_t>>;

/// The email index entity: one per normalised email, makes emails unique.
using email_index_commands = caf::typed_actor<
  caf::replies_to<claim_email>::with<email_claim_view>,
  caf::replies_to<lookup_email>::with<email_claim_view>>;

using email_index_actor = email_index_commands::extend<caf::reacts_to<atoms::passivate_atom>>;

using email_index_region_actor
  = email_index_commands::extend<caf::replies_to<atoms::stats_atom>::with<region_stats>,
                                 caf::reacts_to<atoms::sweep_atom>,
                            caf::replies_to<atoms::passivate_atom, std::string>::with<bool>,
                            caf::replies_to<atoms::passivate_atom, uint32_t>::with<uint32_t>>;

/// Commands of the wallet entity (actors/wallet_entity.hpp): one per
/// account, the account's ledger.
using wallet_commands = caf::typed_actor<caf::replies_to<wallet_command>::with<wallet_view>,
                                         caf::replies_to<get_wallet>::with<wallet_view>>;

using wallet_actor = wallet_commands::extend<caf::reacts_to<atoms::passivate_atom>>;

using wallet_region_actor
  = wallet_commands::extend<caf::replies_to<atoms::stats_atom>::with<region_stats>,
                            caf::reacts_to<atoms::sweep_atom>,
                            caf::replies_to<atoms::passivate_atom, std::string>::with<bool>,
                            caf::replies_to<atoms::passivate_atom, uint32_t>::with<uint32_t>>;

/// Commands of the trade entity (actors/trade_entity.hpp), which runs the
/// settlement saga of one trade.
using trade_commands = caf::typed_actor<caf::replies_to<propose_trade>::with<trade_view>,
                                        caf::replies_to<propose_match>::with<trade_view>,
                                        caf::replies_to<trade_action>::with<trade_view>>;

using trade_actor = trade_commands::extend<caf::reacts_to<atoms::passivate_atom>>;

using trade_region_actor
  = trade_commands::extend<caf::replies_to<atoms::stats_atom>::with<region_stats>,
                           caf::reacts_to<atoms::sweep_atom>,
                            caf::replies_to<atoms::passivate_atom, std::string>::with<bool>,
                            caf::replies_to<atoms::passivate_atom, uint32_t>::with<uint32_t>>;

/// A payment provider with PaymentIntent semantics (authorize with manual
/// capture, capture, cancel; the intent id is the idempotency key of every
/// call). Replies may say `processing` for providers that finish
/// asynchronously (webhooks); the caller then retries later.
using payment_provider_actor
  = caf::typed_actor<caf::replies_to<payment_command>::with<payment_intent>>;

/// A ticket transfer adapter (seed §3.5): validate (`ticket_step::deposit`,
/// proof of possession), transfer (`ticket_step::transfer`) and status
/// (`get_ticket`). The escrow upload adapter is built in; partner APIs and
/// NFTs implement the same interface.
using transfer_adapter_actor
  = caf::typed_actor<caf::replies_to<ticket_trade_step>::with<ticket_view>,
                     caf::replies_to<get_ticket>::with<ticket_view>>;

/// The timer service (actors/settlement.hpp): polls durable timers on
/// `sweep_atom` (it schedules its own polls).
using timer_service_actor = caf::typed_actor<caf::reacts_to<atoms::sweep_atom>>;

/// The market feed (actors/market_index.hpp): applies new log events to the
/// marketplace index when the journal says the log advanced.
using market_feed_actor = caf::typed_actor<caf::reacts_to<log_advanced>>;

/// The valuation service (actors/valuation_service.hpp): follows the global
/// log like the market feed (listings -> event table, completed trades ->
/// resale velocity and medians), owns the loaded model, values tickets and
/// records each valuation on the ticket (`record_valuation`).
using valuation_service_actor
  = caf::typed_actor<caf::reacts_to<log_advanced>,
                     caf::replies_to<valuate_ticket>::with<ticket_valuation>,
                     caf::replies_to<reload_model>::with<model_status>,
                     caf::replies_to<retrain_model>::with<model_status>>;

/// The matcher service (actors/matcher_service.hpp): follows the log (offers,
/// valuations, trades), runs a matching round every few seconds (and on
/// `run_match_round`; the timer is `sweep_atom`) and proposes each match as a trade; `stats_atom`
/// reports its counters.
using matcher_service_actor
  = caf::typed_actor<caf::reacts_to<log_advanced>,
                     caf::reacts_to<peer_log_events>,
                     caf::replies_to<run_match_round>::with<matcher_report>,
                     caf::replies_to<atoms::stats_atom>::with<matcher_report>,
                     caf::reacts_to<atoms::sweep_atom>>;  // its own round timer

/// The node's notifier (nodes/notifier.hpp): fans committed events out to
/// live subscribers.
using notifier_actor = caf::typed_actor<caf::reacts_to<log_advanced>,
                                        caf::reacts_to<subscribe_events>,
                                        caf::reacts_to<unsubscribe_events>>;

} // namespace tt
