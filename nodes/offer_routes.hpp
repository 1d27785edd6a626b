#pragma once
// The swap-offer and matching routes (nodes/offer_routes.cpp), appended to the
// edge's route table. Internal to nodes/.

#include <vector>

#include "nodes/edge_internal.hpp"

namespace tt::nodes {

const std::vector<route_entry>& offer_routes();

/// An offer as JSON: {"id","ticket_id","status","want","weights",
/// "credit_minor","currency","created_at"} (the id is the ticket id).
std::string render_offer(const ticket_view& v);

} // namespace tt::nodes
