#pragma once
// The valuation route (nodes/valuation_routes.cpp). Internal to nodes/.

#include <string>
#include <vector>

#include "nodes/edge_internal.hpp"

namespace tt::nodes {

const std::vector<route_entry>& valuation_routes();

/// The JSON body of a valuation (docs/valuation.md "In the node").
std::string render_valuation(const ticket_valuation& v);

} // namespace tt::nodes
