#pragma once
// The event feed and consumer offsets (nodes/tail_routes.cpp). Internal to nodes/.

#include <vector>

#include "nodes/edge_internal.hpp"

namespace tt::nodes {

const std::vector<route_entry>& tail_routes();

} // namespace tt::nodes
