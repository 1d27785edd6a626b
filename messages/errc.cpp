#include "messages/errc.hpp"

#include "caf/sec.hpp"

namespace tt {

const char* to_string(errc x) {
  switch (x) {
    case errc::ok: return "ok";
    case errc::invalid_argument: return "invalid_argument";
    case errc::not_found: return "not_found";
    case errc::conflict: return "conflict";
    case errc::invalid_state: return "invalid_state";
    case errc::forbidden: return "forbidden";
    case errc::storage_failure: return "storage_failure";
    case errc::decode_failure: return "decode_failure";
    case errc::unavailable: return "unavailable";
    case errc::timeout: return "timeout";
    case errc::insufficient_funds: return "insufficient_funds";
    case errc::idempotency_mismatch: return "idempotency_mismatch";
  }
  return "unknown";
}

error_info describe(const caf::error& err) {
  error_info out;
  if (!err)
    return out;
  if (err.category() == errc_category) {
    out.code = static_cast<errc>(err.code());
    const auto& ctx = err.context();
    if (ctx.match_elements<std::string, std::string>()) {
      out.message = ctx.get_as<std::string>(0);
      out.field = ctx.get_as<std::string>(1);
    } else {
      out.message = to_string(out.code);
    }
    return out;
  }
  if (err.category() == caf::atom("system")) {
    auto code = static_cast<caf::sec>(err.code());
    if (code == caf::sec::request_timeout) {
      out.code = errc::timeout;
      out.message = "request timed out";
      return out;
    }
    out.code = errc::unavailable;
    out.message = caf::to_string(code);
    return out;
  }
  out.code = errc::unavailable;
  out.message = "unexpected error";
  return out;
}

std::string render_errc(uint8_t code, caf::atom_value, const caf::message& ctx) {
  std::string out = "tt::";
  out += to_string(static_cast<errc>(code));
  if (ctx.match_elements<std::string, std::string>()) {
    out += "(";
    out += ctx.get_as<std::string>(0);
    if (!ctx.get_as<std::string>(1).empty()) {
      out += ", field=";
      out += ctx.get_as<std::string>(1);
    }
    out += ")";
  }
  return out;
}

} // namespace tt
