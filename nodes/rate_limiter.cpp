#include "nodes/rate_limiter.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

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
  if (method == "GET" && route == "/api/v1/tickets/{id}/valuation")
    return &get_valuation;
  return nullptr;
}

namespace {

constexpr size_t shard_count_rl = 16;
constexpr size_t sweep_every = 256;       // calls per shard between sweeps
constexpr size_t sweep_budget = 1024;     // buckets examined per sweep at most

using clock_type = std::chrono::steady_clock;

// Keyed SipHash-2-4 (libsodium's crypto_shorthash), key random per limiter.
struct keyed_hash {
  using is_transparent = void;
  std::array<unsigned char, crypto_shorthash_KEYBYTES> k{};
  size_t operator()(std::string_view s) const noexcept {
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, reinterpret_cast<const unsigned char*>(s.data()), s.size(), k.data());
    uint64_t h;
    std::memcpy(&h, out, sizeof(h));
    return static_cast<size_t>(h);
  }
  size_t operator()(const std::string& s) const noexcept { return (*this)(std::string_view(s)); }
};

struct bucket {
  double tokens = 0;
  clock_type::time_point updated;
  bucket_rule rule;                           // last rule used (for the idle sweep)
  std::list<const std::string*>::iterator lru;  // points at this bucket's map key
};

struct shard {
  std::mutex mtx;
  std::unordered_map<std::string, bucket, keyed_hash, std::equal_to<>> buckets;
  std::list<const std::string*> lru;  // front: most recently used; keys live in `buckets`
  size_t calls_since_sweep = 0;

  explicit shard(const keyed_hash& h) : buckets(0, h) {}

  void erase(std::unordered_map<std::string, bucket, keyed_hash, std::equal_to<>>::iterator it) {
    lru.erase(it->second.lru);
    buckets.erase(it);
  }
};

bool full_at(const bucket& b, clock_type::time_point now) {
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed < 0)
    elapsed = 0;
  return b.tokens + elapsed * b.rule.refill_per_second >= b.rule.capacity;
}

} // namespace

struct rate_limiter::impl {
  size_t max_per_shard = 1;
  clock_type::duration idle_expiry{};
  keyed_hash hasher;
  std::array<std::unique_ptr<shard>, shard_count_rl> shards;

  // Drops, from the least recently used end, buckets that have been idle for
  // idle_expiry and are full again: forgetting them changes no decision.
  // Idle buckets that are not yet full (rules slower than the expiry) are
  // skipped; the shard cap still bounds them.
  void sweep(shard& sh, clock_type::time_point now) {
    size_t budget = sweep_budget;
    auto it = sh.lru.end();
    while (it != sh.lru.begin() && budget-- > 0) {
      --it;
      auto b = sh.buckets.find(**it);
      if (now - b->second.updated < idle_expiry)
        break;  // everything further to the front was used more recently
      if (full_at(b->second, now)) {
        it = std::next(it);  // erase invalidates the current element only
        sh.erase(b);
      }
    }
  }
};

rate_limiter::rate_limiter(size_t max_keys, std::chrono::seconds idle_expiry)
  : impl_(std::make_unique<impl>()) {
  if (sodium_init() < 0)
    std::abort();
  randombytes_buf(impl_->hasher.k.data(), impl_->hasher.k.size());
  impl_->max_per_shard = std::max<size_t>(1, max_keys / shard_count_rl);
  impl_->idle_expiry = idle_expiry;
  for (auto& sh : impl_->shards)
    sh = std::make_unique<shard>(impl_->hasher);
}

rate_limiter::~rate_limiter() = default;

rate_limiter::decision rate_limiter::take(std::string_view key, const bucket_rule& rule,
                                          clock_type::time_point now) {
  const size_t h = impl_->hasher(key);
  // The map uses the low bits of the same hash; pick the shard from the top.
  auto& sh = *impl_->shards[(static_cast<uint64_t>(h) >> 60) % shard_count_rl];
  std::lock_guard<std::mutex> guard{sh.mtx};
  if (++sh.calls_since_sweep >= sweep_every) {
    sh.calls_since_sweep = 0;
    impl_->sweep(sh, now);
  }
  auto it = sh.buckets.find(key);
  if (it == sh.buckets.end()) {
    while (!sh.lru.empty() && sh.buckets.size() >= impl_->max_per_shard)
      sh.erase(sh.buckets.find(*sh.lru.back()));
    it = sh.buckets.emplace(std::string(key), bucket{}).first;
    auto& b = it->second;
    b.tokens = rule.capacity;
    b.updated = now;
    sh.lru.push_front(&it->first);  // node-based map: the key's address is stable
    b.lru = sh.lru.begin();
  } else {
    sh.lru.splice(sh.lru.begin(), sh.lru, it->second.lru);
  }
  auto& b = it->second;
  b.rule = rule;
  double elapsed = std::chrono::duration<double>(now - b.updated).count();
  if (elapsed > 0) {
    if (rule.refill_per_second > 0)
      b.tokens = std::min(rule.capacity, b.tokens + elapsed * rule.refill_per_second);
    b.updated = now;
  }
  b.tokens = std::min(b.tokens, rule.capacity);  // a rule may have shrunk
  // A hair of tolerance so that a client retrying exactly when told is not
  // turned away by rounding (the overdraft carries over, so it cannot add up).
  constexpr double eps = 1e-9;
  if (b.tokens >= 1.0 - eps) {
    b.tokens -= 1.0;
    return {true, 0};
  }
  double wait = rule.refill_per_second > 0 && rule.capacity >= 1.0
                  ? (1.0 - b.tokens) / rule.refill_per_second
                  : max_retry_after_s;
  if (!(wait > 0))  // NaN guard; denied always means a positive wait
    wait = max_retry_after_s;
  // Whole microseconds, ignoring float noise: 1.0000000000000004 s is 1 s, so
  // the caller's ceil() gives the Retry-After a human would expect.
  wait = std::max(1e-6, std::ceil(wait * 1e6 - 1e-3) / 1e6);
  return {false, std::min(wait, max_retry_after_s)};
}

size_t rate_limiter::size() const {
  size_t n = 0;
  for (auto& sh : impl_->shards) {
    std::lock_guard<std::mutex> guard{sh->mtx};
    n += sh->buckets.size();
  }
  return n;
}

} // namespace tt::nodes
