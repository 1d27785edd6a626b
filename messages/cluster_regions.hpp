#pragma once
// The region handles one node hands to its peers, and the node's gateway
// interface (published on the cluster port).

#include <string>

#include "messages/cluster.hpp"
#include "messages/interfaces.hpp"

namespace tt {

/// A node's regions as seen from a peer (remote actor handles; the peer's
/// regions forward commands for shards that node owns).
struct node_regions {
  uint32_t version = cluster_wire_version;
  std::string node_name;
  std::string node_id;  // unique per process start (etcd registration)
  ticket_region_actor tickets;
  account_region_actor accounts;
  email_index_region_actor emails;
  wallet_region_actor wallets;
  trade_region_actor trades;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, node_regions& x) {
  return f(caf::meta::type_name("tt.node_regions"), x.version, x.node_name, x.node_id, x.tickets,
           x.accounts, x.emails, x.wallets, x.trades);
}

/// The gateway of a node: peers fetch its regions; tt-admin runs commands.
using cluster_gateway_actor
  = caf::typed_actor<caf::replies_to<cluster_hello>::with<node_regions>,
                     caf::replies_to<admin_command>::with<admin_reply>,
                     caf::replies_to<shard_import>::with<shard_import_ack>,
                     caf::replies_to<read_log_page>::with<log_page>,
                     caf::replies_to<read_index_range>::with<index_rows>>;

} // namespace tt
