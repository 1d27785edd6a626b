#pragma once
// Commands and replies of the account entity and the email index (see
// interfaces.hpp). Password hashes are argon2id PHC strings; they travel only
// between the edge and the account entity, never to clients or logs.

#include <cstdint>
#include <string>

#include "caf/meta/type_name.hpp"
#include "messages/entity.hpp"

namespace tt {

struct account_view {
  std::string id;
  std::string email;
  std::string display_name;
  int64_t created_at_ms = 0;
  uint64_t version = 0;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, account_view& x) {
  return f(caf::meta::type_name("tt.account_view"), x.id, x.email, x.display_name,
           x.created_at_ms, x.version);
}

/// Creates the account; `errc::conflict` if it exists already.
struct register_account {
  std::string account_id;
  std::string email;  // normalised
  std::string display_name;
  std::string password_hash;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, register_account& x) {
  return f(caf::meta::type_name("tt.register_account"), x.account_id, x.email, x.display_name,
           x.password_hash, x.meta);
}

struct get_account {
  std::string account_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_account& x) {
  return f(caf::meta::type_name("tt.get_account"), x.account_id);
}

/// For login only: the stored password hash (opened from its sealed form).
struct get_credentials {
  std::string account_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, get_credentials& x) {
  return f(caf::meta::type_name("tt.get_credentials"), x.account_id);
}

struct credentials {
  std::string account_id;
  std::string password_hash;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, credentials& x) {
  return f(caf::meta::type_name("tt.credentials"), x.account_id, x.password_hash);
}

/// Opens a refresh-token family (login).
struct start_session {
  std::string account_id;
  std::string family_id;
  std::string token_hash;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, start_session& x) {
  return f(caf::meta::type_name("tt.start_session"), x.account_id, x.family_id, x.token_hash,
           x.meta);
}

/// Rotates a family: `presented_hash` must be the family's current token.
/// Presenting an older token of a live family revokes the family (theft) and
/// fails with `errc::forbidden`; an unknown or revoked family fails the same.
struct rotate_session {
  std::string account_id;
  std::string family_id;
  std::string presented_hash;
  std::string new_hash;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, rotate_session& x) {
  return f(caf::meta::type_name("tt.rotate_session"), x.account_id, x.family_id,
           x.presented_hash, x.new_hash, x.meta);
}

/// Ends a family (logout). Idempotent.
struct revoke_session {
  std::string account_id;
  std::string family_id;
  std::string reason;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, revoke_session& x) {
  return f(caf::meta::type_name("tt.revoke_session"), x.account_id, x.family_id, x.reason, x.meta);
}

struct session_view {
  std::string account_id;
  std::string family_id;
  uint32_t generation = 0;
  bool active = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_view& x) {
  return f(caf::meta::type_name("tt.session_view"), x.account_id, x.family_id, x.generation,
           x.active);
}

/// Claims a normalised email for an account (first claim wins; a claim by the
/// same account again is answered with the existing claim).
struct claim_email {
  std::string index_id;  // derived from the normalised email
  std::string account_id;
  request_meta meta;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, claim_email& x) {
  return f(caf::meta::type_name("tt.claim_email"), x.index_id, x.account_id, x.meta);
}

struct lookup_email {
  std::string index_id;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, lookup_email& x) {
  return f(caf::meta::type_name("tt.lookup_email"), x.index_id);
}

struct email_claim_view {
  std::string account_id;
  bool created = false;
};

template <class Inspector>
typename Inspector::result_type inspect(Inspector& f, email_claim_view& x) {
  return f(caf::meta::type_name("tt.email_claim_view"), x.account_id, x.created);
}

/// Every command names its target entity; regions route by this.
inline const std::string& target_id(const register_account& x) { return x.account_id; }
inline const std::string& target_id(const get_account& x) { return x.account_id; }
inline const std::string& target_id(const get_credentials& x) { return x.account_id; }
inline const std::string& target_id(const start_session& x) { return x.account_id; }
inline const std::string& target_id(const rotate_session& x) { return x.account_id; }
inline const std::string& target_id(const revoke_session& x) { return x.account_id; }
inline const std::string& target_id(const claim_email& x) { return x.index_id; }
inline const std::string& target_id(const lookup_email& x) { return x.index_id; }

} // namespace tt
