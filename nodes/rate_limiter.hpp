#pragma once
// Token buckets with bounded memory, for the edge's rate limits (seed §3.6,
// §10). Thread-safe with low contention: 16 shards, each with its own mutex
// and hash map; keys are spread with a per-instance keyed SipHash, so clients
// cannot aim their keys at one shard or one hash chain. Idle buckets (full
// again and untouched for `idle_expiry`) are swept out, amortised, as calls
// arrive; a shard at its cap (max_keys / 16, at least 1) evicts its least
// recently used bucket instead of growing, so size() <= max(max_keys, 16).

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
  bucket_rule get_valuation{60, 60.0 / 60};  // model evaluations (~1 ms each) per account

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
    // > 0 when denied: seconds until one token is back (capped at
    // max_retry_after_s, also for rules that never refill). The caller rounds
    // up to whole seconds for Retry-After.
    double retry_after_seconds = 0;
  };

  /// Takes one token from the bucket of `key` (created full under `rule` on
  /// first use). `now` is the caller's clock, so tests can simulate time;
  /// a `now` earlier than the bucket's last update refills nothing.
  decision take(std::string_view key, const bucket_rule& rule,
                std::chrono::steady_clock::time_point now);

  /// Number of buckets held (all shards).
  size_t size() const;

  static constexpr double max_retry_after_s = 86400;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace tt::nodes
