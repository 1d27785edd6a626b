#pragma once
// Token buckets with bounded memory, for the edge's rate limits (seed §3.6,
// §10). Thread-safe: 16 shards, each with its own mutex. Idle buckets (full
// again) are swept out as calls arrive, and a shard at its cap evicts its
// least recently used bucket instead of growing.

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace tt::nodes {

struct bucket_rule {
  double capacity = 1;          // burst
  double refill_per_second = 1;
};

struct rate_limit_config {
  bool enabled = true;
  bucket_rule per_ip{20, 20};   // all requests of one client IP
  // Per account (or per IP when anonymous) and endpoint:
  bucket_rule post_tickets{5, 5.0 / 60};
  bucket_rule get_marketplace{30, 30.0 / 60};
  bucket_rule post_trades{3, 3.0 / 60};
  bucket_rule post_trade_cash{5, 5.0 / 60};
  bucket_rule post_ticket_transfer{10, 10.0 / 60};

  /// The per-endpoint rule for a route of the route table, or nullptr.
  const bucket_rule* rule_for(std::string_view method, std::string_view route_pattern) const;
};

class rate_limiter {
public:
  explicit rate_limiter(size_t max_keys = 100000,
                        std::chrono::seconds idle_expiry = std::chrono::seconds(300));
  ~rate_limiter();

  struct decision {
    bool allowed = true;
    double retry_after_seconds = 0;  // > 0 when denied: until one token is back
  };

  decision take(std::string_view key, const bucket_rule& rule,
                std::chrono::steady_clock::time_point now);

  size_t size() const;

  struct impl;

private:
  std::unique_ptr<impl> impl_;
};

} // namespace tt::nodes
