#include "nodes/rate_limiter.hpp"

#include <algorithm>
#include <array>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "messages/entity.hpp"

namespace tt::nodes {

const bucket_rule* rate_limit_config::rule_for(std::string_view method,
                                               std::string_view route) const {
  if (method == "POST" && route == "/api/v1/tickets")
    return &post_tickets;
  if (method == "GET" && route == "/api/v1/marketplace")
    return &get_marketplace;
  if (method == "POST" && route == "/api/v1/trades")
    return &post_trades;
  if (method == "POST" && route == "/api/v1/trades/{id}/cash")
    return &post_trade_cash;
  if (method == "POST" && route == "/api/v1/tickets/{id}/transfer")
    return &post_ticket_transfer;
  return nullptr;
}

namespace {

constexpr size_t shard_count_rl = 16;

struct bucket {
  double tokens = 0;
  std::chrono::steady_clock::time_point updated;
  std::list<std::string>::iterator lru;
};

struct shard {
  std::mutex mtx;
  std::unordered_map<std::string, bucket> buckets;
  std::list<std::string> lru;  // front: most recently used
  size_t calls_since_sweep = 0;
};

} // namespace

struct rate_limiter::impl {
  size_t max_per_shard;
  std::chrono::seconds idle_expiry;
  mutable std::array<shard, shard_count_rl> shards;
};

rate_limiter::rate_limiter(size_t max_keys, std::chrono::seconds idle_expiry)
  : impl_(std::make_unique<impl>()) {
  impl_->max_per_shard = std::max<size_t>(1, max_keys / shard_count_rl);
  impl_->idle_expiry = idle_expiry;
}

rate_limiter::~rate_limiter() = default;

rate_limiter::decision rate_limiter::take(std::string_view key, const bucket_rule& rule,
                                          std::chrono::steady_clock::time_point now) {
  auto& sh = impl_->shards[stable_hash(key) % shard_count_rl];
  std::lock_guard<std::mutex> guard{sh.mtx};
  // Amortised sweep: drop buckets idle longer than the expiry (they would be
  // full again, so forgetting them changes no decision).
  if (++sh.calls_since_sweep >= 1024) {
    sh.calls_since_sweep = 0;
    while (!sh.lru.empty()) {
      auto it = sh.buckets.find(sh.lru.back());
      if (it == sh.buckets.end() || now - it->second.updated < impl_->idle_expiry)
        break;
      sh.buckets.erase(it);
      sh.lru.pop_back();
    }
  }
  auto it = sh.buckets.find(std::string(key));
  if (it == sh.buckets.end()) {
    if (sh.buckets.size() >= impl_->max_per_shard) {
      sh.buckets.erase(sh.lru.back());
      sh.lru.pop_back();
    }
    sh.lru.emplace_front(key);
    bucket b;
    b.tokens = rule.capacity;
    b.updated = now;
    b.lru = sh.lru.begin();
    it = sh.buckets.emplace(std::string(key), b).first;
  } else {
    sh.lru.splice(sh.lru.begin(), sh.lru, it->second.lru);
  }
  auto& b = it->second;
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    b.tokens = std::min(rule.capacity, b.tokens + elapsed * rule.refill_per_second);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {true, 0};
  }
  return {false, (1.0 - b.tokens) / rule.refill_per_second};
}

size_t rate_limiter::size() const {
  size_t n = 0;
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh.mtx};
    n += sh.buckets.size();
  }
  return n;
}

} // namespace tt::nodes
