#pragma once
// The settlement routes (nodes/trade_routes.cpp), appended to the edge's
// route table. Internal to nodes/.

#include <vector>

#include "nodes/edge_internal.hpp"

namespace tt::nodes {

const std::vector<route_entry>& settlement_routes();

/// JSON renderings shared with the admin service.
std::string render_wallet(const wallet_view& v);
std::string render_trade(const trade_view& v);

} // namespace tt::nodes
