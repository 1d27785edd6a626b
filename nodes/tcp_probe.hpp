#pragma once
// A TCP connect with a deadline (name resolution included, on the caller's
// thread). CAF 0.17's `remote_actor` connects blocking inside the middleman
// actor, for minutes against an address that swallows SYNs; callers probe
// first (the cluster's peer connects, tt-admin) so they fail fast instead.

#include <chrono>
#include <cstdint>
#include <string>

namespace tt::nodes {

/// Whether a TCP connect to host:port succeeds within `timeout`; `why` says
/// why not. Closes the probe connection either way.
bool tcp_probe(const std::string& host, uint16_t port, std::chrono::milliseconds timeout,
               std::string* why);

} // namespace tt::nodes
