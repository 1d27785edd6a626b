#pragma once
// Error codes of Ticket Trader, one CAF error category ("tt") for the domain.
// Handlers return `caf::result<T>`; an error carries an `errc` and, as its
// context, a human-readable message and (optionally) the offending field name.

#include <cstdint>
#include <string>

#include "caf/atom.hpp"
#include "caf/error.hpp"
#include "caf/make_message.hpp"

namespace tt {

enum class errc : uint8_t {
  ok = 0,
  invalid_argument,   // a command failed validation (edge: 400/422)
  not_found,          // the entity does not exist (edge: 404)
  conflict,           // optimistic concurrency: expected seq mismatch (edge: 409)
  invalid_state,      // command not allowed in the entity's state (edge: 409)
  forbidden,          // the acting user may not do this (edge: 403)
  storage_failure,    // RocksDB refused a write or read (edge: 503)
  decode_failure,     // stored or received bytes do not decode (edge: 500)
  unavailable,        // shard not served here / shutting down (edge: 503)
  timeout,            // a request timed out (edge: 504)
  insufficient_funds,    // a wallet cannot cover the amount (edge: 422)
  idempotency_mismatch,  // a reused idempotency key with a different body (edge: 422)
};

/// The CAF error category atom for `errc`.
constexpr caf::atom_value errc_category = caf::atom("tt");

const char* to_string(errc x);

inline caf::error make_error(errc x) {
  return caf::error{static_cast<uint8_t>(x), errc_category};
}

/// An error with a message and (possibly empty) field name as context.
inline caf::error make_error(errc x, std::string message, std::string field = {}) {
  return caf::error{static_cast<uint8_t>(x), errc_category,
                    caf::make_message(std::move(message), std::move(field))};
}

/// Decodes an error into (code, message, field); non-`tt` errors map to
/// `unavailable`/`timeout` where CAF's own codes say so.
struct error_info {
  errc code = errc::ok;
  std::string message;
  std::string field;
};
error_info describe(const caf::error& err);

/// Renders an error for logs (registered with the actor system config).
std::string render_errc(uint8_t code, caf::atom_value, const caf::message& ctx);

} // namespace tt
