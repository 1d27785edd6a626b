#pragma once
// The marketplace search route (nodes/market_routes.cpp). Internal to nodes/.

#include <vector>

#include "nodes/edge_internal.hpp"

namespace tt::nodes {

const std::vector<route_entry>& market_routes();

} // namespace tt::nodes
