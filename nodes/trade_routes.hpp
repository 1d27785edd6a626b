#pragma once
// The settlement routes (nodes/trade_routes.cpp), appended to the edge's
// route table. Internal to nodes/.

#include <vector>

#include "nodes/edge_internal.hpp"

namespace tt::nodes {

const std::vector<route_entry>& settlement_routes();

} // namespace tt::nodes
