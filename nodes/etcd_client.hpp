#pragma once
// A small synchronous client for etcd v3's JSON gateway (`/v3/kv/range|put|
// txn|deleterange`, `/v3/lease/grant|keepalive|revoke`), over Boost.Beast.
//
// Contract: not thread-safe; one owner thread (the cluster member's loop)
// uses it. Every call has a finite timeout and tries the configured endpoints
// in turn; a failure is returned as `std::nullopt` / false with `last_error()`
// saying why, never thrown. Keys and values are raw bytes (base64 on the wire).

#include <atomic>
#include <chrono>
#include <functional>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace tt::nodes {

struct etcd_kv {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t lease = 0;
};

struct etcd_range_result {
  int64_t revision = 0;  // the store's revision when read
  std::vector<etcd_kv> kvs;
};

struct etcd_txn_result {
  bool succeeded = false;
  int64_t revision = 0;  // after the transaction
  std::vector<etcd_kv> kvs;  // the failure branch's range (when it had one)
};

/// One operation inside a transaction branch.
struct etcd_op {
  enum kind_t { put, del, range } kind = put;
  std::string key;
  std::string value;
  int64_t lease = 0;
};

/// One comparison of a transaction (all must hold for the success branch).
struct etcd_compare {
  enum target_t { create_revision, mod_revision, value } target = create_revision;
  std::string key;
  int64_t revision = 0;  // for create/mod revision targets (EQUAL)
  std::string expected_value;  // for the value target (EQUAL)
};

class etcd_client {
public:
  /// `endpoints`: "http://host:port" URLs (comma-separated lists are split by
  /// the caller).
  explicit etcd_client(std::vector<std::string> endpoints,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds{1500});
  ~etcd_client();
  etcd_client(const etcd_client&) = delete;
  etcd_client& operator=(const etcd_client&) = delete;

  /// Parses "http://h:p[,http://h2:p2]" into endpoints; false on a bad URL.
  static bool parse_endpoints(const std::string& list, std::vector<std::string>* out,
                              std::string* error);

  std::optional<int64_t> lease_grant(int64_t ttl_s);
  /// The remaining TTL in seconds; 0 when the lease is gone (expired).
  std::optional<int64_t> lease_keepalive(int64_t lease);
  bool lease_revoke(int64_t lease);

  std::optional<int64_t> put(const std::string& key, const std::string& value, int64_t lease = 0);
  /// Every key with `prefix` (or exactly `key` when `prefix` is false).
  std::optional<etcd_range_result> range(const std::string& key, bool prefix);
  std::optional<int64_t> del(const std::string& key);
  std::optional<etcd_txn_result> txn(const std::vector<etcd_compare>& compare,
                                     const std::vector<etcd_op>& success,
                                     const std::vector<etcd_op>& failure);

  /// Creates `key` only if it does not exist (create_revision == 0); on
  /// failure returns the existing key in `kvs`.
  std::optional<etcd_txn_result> create_if_absent(const std::string& key, const std::string& value,
                                                  int64_t lease = 0);

  const std::string& last_error() const { return last_error_; }

  /// Watches every key under `prefix` through `/v3/watch` (a streamed
  /// response): calls `on_change()` once the watch is created and after every
  /// batch of changes, until `keep_going()` is false, the stream ends or
  /// fails (returns false then, with last_error()). Blocks; run it on its own
  /// thread. `cancel()` from another thread ends it promptly.
  bool watch(const std::string& prefix, const std::function<void()>& on_change,
             const std::function<bool()>& keep_going);
  void cancel();

private:
  struct conn;
  std::optional<std::string> post(const std::string& target, const std::string& body);

  std::vector<std::string> endpoints_;
  std::chrono::milliseconds timeout_;
  size_t current_ = 0;
  std::unique_ptr<conn> conn_;
  std::string last_error_;
  std::atomic<bool> cancelled_{false};
  std::mutex watch_mtx_;  // guards watch_socket_
  void* watch_socket_ = nullptr;  // the streaming watch's socket (cancel closes it)
};

} // namespace tt::nodes
