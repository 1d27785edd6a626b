#include "persistence/pg_projection.hpp"

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>

#include <pqxx/pqxx>

#include <algorithm>
#include <condition_variable>
#include <ctime>
#include <map>
#include <unordered_set>
#include <mutex>
#include <thread>

#include "messages/log.hpp"
#include "persistence/event_store.hpp"

namespace tt::persistence {

// -- row mapping ----------------------------------------------------------------------

const pg_column* pg_row_op::column(std::string_view name) const {
  for (const auto& c : columns)
    if (c.name == name)
      return &c;
  return nullptr;
}

const pg_key* pg_row_op::key(std::string_view name) const {
  for (const auto& k : keys)
    if (k.name == name)
      return &k;
  return nullptr;
}

namespace {

/// Drops NUL, replaces invalid UTF-8 with U+FFFD (PostgreSQL text accepts neither).
std::string clean_text(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  auto bad = [&] {
    out += "\xEF\xBF\xBD";
    ++i;
  };
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == 0) {
      ++i;
      continue;
    }
    if (c < 0x80) {
      out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 && c < 0xE0 ? 2 : 0;
    if (n == 0 || i + n > s.size()) {
      bad();
      continue;
    }
    bool ok = true;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
        ok = false;
    if (ok && n == 3) {
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0))
        ok = false;  // overlong, surrogate
    }
    if (ok && n == 4) {
      auto c1 = static_cast<unsigned char>(s[i + 1]);
      if ((c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 >= 0x90))
        ok = false;
    }
    if (!ok) {
      bad();
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

std::string json_string_array(const std::vector<std::string>& xs) {
  std::string out = "[";
  for (size_t i = 0; i < xs.size(); ++i) {
    if (i)
      out += ',';
    log::append_json_string(out, clean_text(xs[i]));
  }
  out += ']';
  return out;
}

std::string postings_json(const std::vector<posting>& ps) {
  std::string out = "[";
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i)
      out += ',';
    out += R"({"from":")";
    out += to_string(ps[i].from);
    out += R"(","to":")";
    out += to_string(ps[i].to);
    out += R"(","amount_minor":)";
    out += std::to_string(ps[i].amount_minor);
    out += '}';
  }
  out += ']';
  return out;
}

std::optional<std::string> opt_text(const std::string& s) {
  if (s.empty())
    return std::nullopt;
  return s;
}

std::optional<std::string> opt_time(int64_t ms) {
  if (ms == 0)
    return std::nullopt;
  return pg_time(ms);
}

pg_column set(std::string name, std::optional<std::string> v) {
  return {std::move(name), std::move(v), pg_column::how::set};
}
pg_column set(std::string name, int64_t v) { return set(std::move(name), std::to_string(v)); }
pg_column set(std::string name, const char* v) { return set(std::move(name), std::string(v)); }
pg_column once(std::string name, std::string v) {
  return {std::move(name), std::move(v), pg_column::how::insert_only};
}
pg_column add(std::string name, int64_t v) {
  return {std::move(name), std::to_string(v), pg_column::how::add};
}
pg_column expr(std::string name, std::string sql) {
  return {std::move(name), std::move(sql), pg_column::how::expr};
}

pg_row_op update(std::string table, std::vector<pg_key> keys, std::vector<pg_column> cols) {
  return {pg_row_op::kind::update, std::move(table), std::move(keys), std::move(cols)};
}
pg_row_op upsert(std::string table, std::vector<pg_key> keys, std::vector<pg_column> cols) {
  return {pg_row_op::kind::upsert, std::move(table), std::move(keys), std::move(cols)};
}
pg_row_op insert(std::string table, std::vector<pg_key> keys, std::vector<pg_column> cols) {
  return {pg_row_op::kind::insert, std::move(table), std::move(keys), std::move(cols)};
}

pg_row_op audit_row(std::string_view log, uint64_t offset, const event_envelope* ev) {
  std::vector<pg_column> cols;
  if (ev) {
    cols = {set("actor", opt_text(ev->user_id)),
            set("action", event_type_name(ev->payload)),
            set("entity_kind", to_string(ev->kind)),
            set("entity_id", ev->entity_id),
            set("seq", static_cast<int64_t>(ev->seq)),
            set("event_id", opt_text(ev->event_id)),
            set("correlation_id", opt_text(ev->correlation_id)),
            set("at", opt_time(ev->timestamp_ms))};
  } else {
    cols = {set("actor", std::nullopt), set("action", "undecodable"), set("entity_kind", "unknown"),
            set("entity_id", std::string{}), set("seq", int64_t{0}),
            set("event_id", std::nullopt), set("correlation_id", std::nullopt),
            set("at", std::nullopt)};
  }
  return insert("audit_log", {{"log", std::string{log}}, {"\"offset\"", std::to_string(offset)}},
                std::move(cols));
}

std::vector<pg_key> id_key(const std::string& id) { return {{"id", id}}; }
std::vector<pg_key> escrow_key(const std::string& trade, const std::string& ticket) {
  return {{"trade_id", trade}, {"ticket_id", ticket}};
}

struct mapper {
  std::string_view log;  // the projector's name: rows keyed by offset name their log
  uint64_t offset;
  const event_envelope& ev;
  std::vector<pg_row_op>& out;

  std::vector<pg_key> offset_key() const { return {{"log", std::string{log}}, {"\"offset\"", off()}}; }

  std::string ts() const { return pg_time(ev.timestamp_ms); }
  std::string off() const { return std::to_string(offset); }

  void touch(std::vector<pg_column>& cols) const {
    cols.push_back(set("updated_at", ts()));
    cols.push_back(set("last_offset", off()));
  }
  void ticket_update(std::vector<pg_column> cols) const {
    touch(cols);
    out.push_back(update("tickets", id_key(ev.entity_id), std::move(cols)));
  }
  void trade_update(std::vector<pg_column> cols) const {
    touch(cols);
    out.push_back(update("trades", id_key(ev.entity_id), std::move(cols)));
  }

  void operator()(const unknown_payload&) const {}
  void operator()(const account_registered&) const {}
  void operator()(const session_started&) const {}
  void operator()(const session_rotated&) const {}
  void operator()(const session_revoked&) const {}
  void operator()(const email_claimed&) const {}

  void operator()(const ticket_listed& x) const {
    const auto& f = x.fields;
    std::vector<pg_column> cols = {
      set("owner", x.seller),
      set("status", to_string(ticket_status::listed)),
      set("event_id", f.event_id),
      set("event_name", f.event_name),
      set("venue", f.venue),
      set("category", f.category),
      set("event_starts_at", opt_time(f.event_starts_at_ms)),
      set("section", f.section),
      set("seat_row", f.row),
      set("seats", json_string_array(f.seats)),
      set("face_value_minor", f.face_value_minor),
      set("price_minor", f.price_minor),
      set("currency", f.currency),
      set("platform", to_string(static_cast<platform>(f.platform))),
      set("hold_trade_id", std::nullopt),
      set("withdraw_reason", std::nullopt),
      once("created_at", ts()),  // a relisting keeps the first listing time
    };
    touch(cols);
    out.push_back(upsert("tickets", id_key(ev.entity_id), std::move(cols)));
  }
  void operator()(const ticket_updated& x) const {
    const auto& p = x.patch;
    std::vector<pg_column> cols;
    if (p.has_price)
      cols.push_back(set("price_minor", p.price_minor));
    if (p.has_event_name)
      cols.push_back(set("event_name", p.event_name));
    if (p.has_venue)
      cols.push_back(set("venue", p.venue));
    if (p.has_category)
      cols.push_back(set("category", p.category));
    if (p.has_event_starts_at)
      cols.push_back(set("event_starts_at", opt_time(p.event_starts_at_ms)));
    ticket_update(std::move(cols));
  }
  void operator()(const ticket_withdrawn& x) const {
    ticket_update({set("status", to_string(ticket_status::withdrawn)), set("offer_open", "false"),
                   set("withdraw_reason", opt_text(x.reason))});
  }
  void operator()(const ticket_held& x) const {
    ticket_update({set("status", to_string(ticket_status::held)), set("hold_trade_id", x.trade_id)});
  }
  void operator()(const ticket_released& x) const {
    ticket_update({set("status", to_string(ticket_status::listed)), set("hold_trade_id", std::nullopt)});
    out.push_back(update("escrows", escrow_key(x.trade_id, ev.entity_id),
                         {set("status", "released"), set("settled_at", ts()), set("updated_at", ts())}));
  }
  void operator()(const ticket_deposited& x) const {
    ticket_update({set("status", to_string(ticket_status::in_escrow))});
    out.push_back(upsert("escrows", escrow_key(x.trade_id, ev.entity_id),
                         {once("status", "deposited"), set("ticket_deposited_at", ts()),
                          set("updated_at", ts())}));
  }
  void operator()(const ticket_transferred& x) const {
    // The new owner holds it, listed (as the ticket model does).
    ticket_update({set("owner", x.to_owner), set("status", to_string(ticket_status::listed)),
                   set("offer_open", "false"),
                   set("hold_trade_id", std::nullopt), set("last_transfer_ref", x.trade_id)});
    out.push_back(update("escrows", escrow_key(x.trade_id, ev.entity_id),
                         {set("status", "transferred"), set("settled_at", ts()),
                          set("updated_at", ts())}));
  }
  void operator()(const wallet_posted& x) const {
    out.push_back(insert("payments", offset_key(),
                         {set("wallet", ev.entity_id), set("op", to_string(x.op)), set("ref", x.ref),
                          set("amount_minor", x.amount_minor), set("currency", x.currency),
                          set("counterparty", opt_text(x.counterparty)),
                          set("postings", postings_json(x.postings)), set("at", ts())}));
  }
  void operator()(const trade_proposed& x) const {
    std::vector<pg_column> cols = {
      set("proposer", x.proposer),
      set("counterparty", x.counterparty),
      set("status", to_string(trade_status::proposing)),
      set("target", std::nullopt),
      set("give", json_string_array(x.give)),
      set("take", json_string_array(x.take)),
      set("ticket_count", static_cast<int64_t>(x.give.size() + x.take.size())),
      set("proposer_pays_minor", x.proposer_pays_minor),
      set("counterparty_pays_minor", x.counterparty_pays_minor),
      set("currency", x.currency),
      set("fee_bps", static_cast<int64_t>(x.fee_bps)),
      set("expires_at", opt_time(x.expires_at_ms)),
      once("created_at", ts()),
    };
    touch(cols);
    out.push_back(upsert("trades", id_key(ev.entity_id), std::move(cols)));
  }
  void operator()(const trade_status_changed& x) const {
    std::vector<pg_column> cols = {
      set("status", to_string(x.status)),
      set("target", x.status == trade_status::releasing ? std::optional<std::string>{to_string(x.target)}
                                                        : std::nullopt)};
    if (!x.reason.empty())
      cols.push_back(set("reason", x.reason));
    trade_update(std::move(cols));
    if (is_final(x.status))
      out.push_back(update("disputes", {{"trade_id", ev.entity_id}},
                           {set("resolution", to_string(x.status)),
                            set("resolution_reason", opt_text(x.reason)), set("resolved_at", ts())}));
  }
  void operator()(const trade_cash_added& x) const {
    // The trade model: the proposer's cash if the party is the proposer, else
    // the counterparty's.
    std::vector<pg_column> p = {add("proposer_pays_minor", x.amount_minor)};
    touch(p);
    out.push_back(update("trades", {{"id", ev.entity_id}, {"proposer", x.party}}, std::move(p)));
    std::vector<pg_column> c = {add("counterparty_pays_minor", x.amount_minor)};
    touch(c);
    out.push_back(update("trades", {{"id", ev.entity_id}, {"proposer", x.party, true}}, std::move(c)));
  }
  void operator()(const trade_deposit& x) const {
    out.push_back(upsert("escrows", escrow_key(ev.entity_id, x.ticket_id),
                         {once("status", "deposited"), set("trade_recorded_at", ts()),
                          set("updated_at", ts())}));
    // As trade_model::apply: accepted -> in_escrow on a deposit, and the last
    // deposit starts the transfer. (SET expressions see the old row.)
    trade_update({add("deposited_count", 1),
                  expr("status", "CASE WHEN deposited_count + 1 >= ticket_count THEN 'transferring' "
                                 "WHEN status = 'accepted' THEN 'in_escrow' ELSE status END")});
  }
  void operator()(const ticket_valued& x) const {
    // One history row per valuation (the ticket row does not change).
    out.push_back(insert("valuation_history", offset_key(),
                         {set("ticket_id", ev.entity_id), set("at", ts()),
                          set("value_minor", x.credit_minor), set("currency", x.currency),
                          set("source", x.method),
                          set("confidence_ppm", static_cast<int64_t>(x.confidence_ppm)),
                          set("model_version", x.model_version),
                          set("median_samples", static_cast<int64_t>(x.median_samples))}));
  }
  // An offer is not a change of the ticket: updated_at stays (as in the
  // ticket entity and the market index); last_offset moves.
  void operator()(const ticket_offered&) const {
    out.push_back(update("tickets", id_key(ev.entity_id),
                         {set("offer_open", "true"), set("last_offset", off())}));
  }
  void operator()(const ticket_offer_closed&) const {
    out.push_back(update("tickets", id_key(ev.entity_id),
                         {set("offer_open", "false"), set("last_offset", off())}));
  }
  void operator()(const trade_matched& x) const {
    std::vector<std::string> gives;
    std::string parties = "[";
    for (size_t i = 0; i < x.parties.size(); ++i) {
      const auto& p = x.parties[i];
      gives.insert(gives.end(), p.give.begin(), p.give.end());
      if (i)
        parties += ',';
      parties += "{\"account\":";
      log::append_json_string(parties, clean_text(p.account));
      parties += ",\"give\":" + json_string_array(p.give);
      parties += ",\"receiver\":" + std::to_string(p.receiver);
      parties += ",\"credit_minor\":" + std::to_string(p.credit_minor);
      parties += ",\"net_cash_minor\":" + std::to_string(p.net_cash_minor) + "}";
    }
    parties += "]";
    std::vector<pg_column> cols = {
      set("proposer", ""),
      set("counterparty", ""),
      set("status", to_string(trade_status::proposed)),
      set("target", std::nullopt),
      set("give", json_string_array(gives)),
      set("take", "[]"),
      set("ticket_count", static_cast<int64_t>(gives.size())),
      set("currency", x.currency),
      set("fee_bps", static_cast<int64_t>(x.fee_bps)),
      set("expires_at", opt_time(x.expires_at_ms)),
      set("parties", parties),
      set("match_key", x.match_key),
      set("party_count", static_cast<int64_t>(x.parties.size())),
      once("created_at", ts()),
    };
    touch(cols);
    out.push_back(upsert("trades", id_key(ev.entity_id), std::move(cols)));
  }
  void operator()(const trade_party_accepted& x) const {
    // As trade_model::apply: the last acceptance moves proposed -> accepted
    // (and, v5, sets the deposits' deadline).
    std::vector<pg_column> cols{add("accepted_count", 1),
                                expr("status", "CASE WHEN accepted_count + 1 >= party_count AND "
                                               "status = 'proposed' THEN 'accepted' ELSE status END")};
    if (x.expires_at_ms > 0)
      cols.push_back(set("expires_at", opt_time(x.expires_at_ms)));
    trade_update(std::move(cols));
  }
  void operator()(const trade_disputed& x) const {
    trade_update({set("status", to_string(trade_status::disputed))});
    out.push_back(upsert("disputes", {{"trade_id", ev.entity_id}},
                         {set("disputed_by", x.by), set("reason", x.reason), set("disputed_at", ts()),
                          set("resolution", std::nullopt), set("resolution_reason", std::nullopt),
                          set("resolved_at", std::nullopt)}));
  }
};

} // namespace

std::vector<pg_row_op> pg_rows_for(uint64_t offset, const event_envelope& ev,
                                   std::string_view log) {
  std::vector<pg_row_op> out;
  out.push_back(audit_row(log, offset, &ev));
  std::visit(mapper{log, offset, ev, out}, ev.payload);
  return out;
}

std::vector<pg_row_op> pg_rows_for_undecodable(uint64_t offset, std::string_view log) {
  std::vector<pg_row_op> out;
  out.push_back(audit_row(log, offset, nullptr));
  return out;
}

std::string pg_literal(std::string_view s) {
  auto clean = clean_text(s);
  std::string out;
  out.reserve(clean.size() + 2);
  out.push_back('\'');
  for (char c : clean) {
    if (c == '\'')
      out.push_back('\'');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

std::string pg_time(int64_t ms) {
  auto secs = static_cast<time_t>(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  int milli = static_cast<int>(ms - static_cast<int64_t>(secs) * 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, milli);
  return buf;
}

namespace {

std::string value_sql(const std::optional<std::string>& v) {
  return v ? pg_literal(*v) : std::string{"NULL"};
}

} // namespace

namespace {

/// "k1, k2, c1, c2" of an insert/upsert.
std::string column_names(const pg_row_op& op) {
  std::string names;
  for (const auto& k : op.keys)
    names += (names.empty() ? "" : ", ") + k.name;
  for (const auto& c : op.columns)
    names += (names.empty() ? "" : ", ") + c.name;
  return names;
}

/// "(v1, v2, ...)" of an insert/upsert.
std::string values_tuple(const pg_row_op& op) {
  std::string values;
  for (const auto& k : op.keys)
    values += (values.empty() ? "" : ", ") + pg_literal(k.value);
  for (const auto& c : op.columns)
    values += (values.empty() ? "" : ", ") + value_sql(c.value);
  return "(" + values + ")";
}

/// " ON CONFLICT (...) DO ..." of an upsert; empty for an insert.
std::string conflict_clause(const pg_row_op& op) {
  if (op.op != pg_row_op::kind::upsert)
    return {};
  std::string target, sets;
  for (const auto& k : op.keys)
    target += (target.empty() ? "" : ", ") + k.name;
  for (const auto& c : op.columns) {
    if (c.mode == pg_column::how::insert_only)
      continue;
    sets += (sets.empty() ? "" : ", ") + c.name + " = ";
    if (c.mode == pg_column::how::add)
      sets += op.table + "." + c.name + " + EXCLUDED." + c.name;
    else
      sets += "EXCLUDED." + c.name;
  }
  return " ON CONFLICT (" + target + ")" + (sets.empty() ? " DO NOTHING" : " DO UPDATE SET " + sets);
}

/// Same statement shape: kind, table, columns and their modes.
bool same_shape(const pg_row_op& a, const pg_row_op& b) {
  if (a.op != b.op || a.table != b.table || a.keys.size() != b.keys.size()
      || a.columns.size() != b.columns.size())
    return false;
  for (size_t i = 0; i < a.keys.size(); ++i)
    if (a.keys[i].name != b.keys[i].name)
      return false;
  for (size_t i = 0; i < a.columns.size(); ++i)
    if (a.columns[i].name != b.columns[i].name || a.columns[i].mode != b.columns[i].mode)
      return false;
  return true;
}

} // namespace

bool same_shape_op(const pg_row_op& a, const pg_row_op& b) {
  return same_shape(a, b);
}

std::string pg_conninfo(const std::string& u, int connect_timeout_s) {
  if (u.find("connect_timeout") != std::string::npos || connect_timeout_s <= 0)
    return u;
  auto param = "connect_timeout=" + std::to_string(connect_timeout_s);
  if (u.rfind("postgres://", 0) == 0 || u.rfind("postgresql://", 0) == 0)
    return u + (u.find('?') == std::string::npos ? "?" : "&") + param;
  return u + (u.empty() ? "" : " ") + param;
}

std::string pg_sql_rows_many(std::span<const pg_row_op> ops) {
  std::string sql;
  if (ops.empty())
    return sql;
  const auto& first = ops.front();
  bool one_statement = first.op != pg_row_op::kind::update;
  for (const auto& op : ops)
    one_statement = one_statement && same_shape(op, first);
  if (!one_statement) {
    for (const auto& op : ops)
      sql += pg_sql(op) + ";\n";
    return sql;
  }
  sql = "INSERT INTO " + first.table + " (" + column_names(first) + ") VALUES ";
  for (size_t i = 0; i < ops.size(); ++i)
    sql += (i ? ", " : "") + values_tuple(ops[i]);
  sql += conflict_clause(first) + ";\n";
  return sql;
}

std::string pg_sql(const pg_row_op& op) {
  std::string sql;
  if (op.op == pg_row_op::kind::update) {
    sql = "UPDATE " + op.table + " SET ";
    bool first = true;
    for (const auto& c : op.columns) {
      if (!first)
        sql += ", ";
      first = false;
      sql += c.name + " = ";
      switch (c.mode) {
        case pg_column::how::add: sql += c.name + " + " + value_sql(c.value); break;
        case pg_column::how::expr: sql += c.value ? *c.value : std::string{"NULL"}; break;
        default: sql += value_sql(c.value); break;
      }
    }
    for (size_t i = 0; i < op.keys.size(); ++i) {
      sql += i == 0 ? " WHERE " : " AND ";
      sql += op.keys[i].name + (op.keys[i].negate ? " <> " : " = ") + pg_literal(op.keys[i].value);
    }
    return sql;
  }
  return "INSERT INTO " + op.table + " (" + column_names(op) + ") VALUES " + values_tuple(op)
         + conflict_clause(op);
}

// -- a batch's SQL --------------------------------------------------------------

std::string pg_batch_sql::row_key(const pg_row_op& op) {
  std::string k;
  for (const auto& key : op.keys) {
    k += key.value;
    k += '\0';
  }
  return k;
}

void pg_batch_sql::flush_run() {
  sql_ += pg_sql_rows_many(run_);
  run_.clear();
  run_rows_.clear();
}

void pg_batch_sql::add(uint64_t offset, const event_envelope* ev) {
  auto ops = ev ? pg_rows_for(offset, *ev, log_) : pg_rows_for_undecodable(offset, log_);
  for (auto& op : ops) {
    if (op.op == pg_row_op::kind::insert && op.table == "audit_log") {
      audit_.push_back(std::move(op));
      continue;
    }
    if (!run_.empty() && run_.front().table == op.table
        && (op.op != pg_row_op::kind::upsert || !same_shape_op(run_.front(), op)
            || run_rows_.count(row_key(op)) > 0))
      flush_run();
    if (op.op == pg_row_op::kind::upsert) {
      if (!run_.empty() && run_.front().table != op.table)
        flush_run();
      run_rows_.insert(row_key(op));
      run_.push_back(std::move(op));
      continue;
    }
    sql_ += pg_sql(op);
    sql_ += ";\n";
  }
}

std::string pg_batch_sql::take() {
  flush_run();
  sql_ += pg_sql_rows_many(audit_);
  audit_.clear();
  std::string out;
  out.swap(sql_);
  return out;
}

// -- the projector ----------------------------------------------------------------

struct pg_projector::impl {
  pg_projection_config cfg;
  std::shared_ptr<const event_store> store;
  prometheus::Gauge* lag = nullptr;
  prometheus::Gauge* offset_gauge = nullptr;
  prometheus::Gauge* connected_gauge = nullptr;
  prometheus::Counter* events_total = nullptr;
  prometheus::Counter* batches_total = nullptr;
  prometheus::Counter* errors_total = nullptr;

  std::mutex mtx;
  std::condition_variable cv;
  bool stopping = false;
  bool started = false;
  uint64_t known_end = 0;  // largest next_offset notified
  std::thread thread;

  std::atomic<uint64_t> projected{0};
  std::atomic<bool> is_connected{false};

  // Thread-only state.
  std::unique_ptr<pqxx::connection> conn;
  std::chrono::milliseconds backoff{0};
  uint64_t idle_end = 0;  // the log end when the last batch found nothing to do

  std::string conninfo() const { return pg_conninfo(cfg.url, cfg.connect_timeout_s); }

  /// Waits up to `d` unless stopped or (if `wake_on_log`) the log moved past
  /// what is projected. False when stopping.
  bool wait_for(std::chrono::milliseconds d, bool wake_on_log) {
    std::unique_lock<std::mutex> g{mtx};
    cv.wait_for(g, d, [&] {
      return stopping || (wake_on_log && known_end > idle_end);
    });
    return !stopping;
  }

  bool stop_requested() {
    std::lock_guard<std::mutex> g{mtx};
    return stopping;
  }

  void update_gauges() {
    auto end = store->next_offset();
    auto done = projected.load();
    double l = end > done + 1 ? static_cast<double>(end - done - 1) : 0.0;
    if (lag)
      lag->Set(l);
    if (offset_gauge)
      offset_gauge->Set(static_cast<double>(done));
    if (connected_gauge)
      connected_gauge->Set(is_connected ? 1.0 : 0.0);
  }

  void disconnect() {
    conn.reset();
    is_connected = false;
  }

  void migrate() {
    pqxx::work txn{*conn};
    // Serialise nodes migrating the same database at once.
    txn.exec("SELECT pg_advisory_xact_lock(7346021911)");
    txn.exec("CREATE TABLE IF NOT EXISTS schema_migrations ("
             "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())");
    auto done = txn.exec("SELECT version FROM schema_migrations");
    std::vector<std::string> applied;
    for (const auto& row : done)
      applied.push_back(row[0].as<std::string>());
    for (const auto& m : pg_migrations()) {
      std::string name{m.name};
      if (std::find(applied.begin(), applied.end(), name) != applied.end())
        continue;
      txn.exec(std::string{m.sql});
      txn.exec("INSERT INTO schema_migrations (version) VALUES (" + pg_literal(name) + ")");
      log::info("pg_migration_applied", {{"version", name}});
    }
    txn.exec("INSERT INTO projection_offsets (name, \"offset\") VALUES (" + pg_literal(cfg.name)
             + ", 0) ON CONFLICT (name) DO NOTHING");
    auto r = txn.exec("SELECT \"offset\" FROM projection_offsets WHERE name = " + pg_literal(cfg.name));
    projected = r[0][0].as<uint64_t>();
    txn.commit();
  }

  void connect() {
    conn = std::make_unique<pqxx::connection>(conninfo());
    {
      pqxx::nontransaction nt{*conn};
      nt.exec("SET standard_conforming_strings = on");
      nt.exec("SET client_encoding = 'UTF8'");
      nt.exec("SET statement_timeout = '60s'");
      nt.exec("SET TIME ZONE 'UTC'");
    }
    migrate();
    is_connected = true;
    if (projected.load() >= store->next_offset())
      log::warn("pg_projection_ahead_of_log",  // a database fed from another data dir?
                {{"projection", cfg.name}, {"offset", projected.load()},
                 {"log_next_offset", store->next_offset()}});
    log::info("pg_projection_connected",
              {{"projection", cfg.name}, {"offset", projected.load()},
               {"log_next_offset", store->next_offset()}});
  }

  /// Projects one batch. Returns the number of events committed (0: nothing
  /// to do, or the stored offset moved under us and was adopted).
  size_t apply_batch() {
    auto from = projected.load() + 1;
    auto end = store->next_offset();
    idle_end = end;
    if (from >= end)
      return 0;  // caught up (or ahead: a database fed by another data dir)
    uint64_t last = from - 1;
    size_t n = 0;
    pg_batch_sql batch{cfg.name};
    store->read_log(from, cfg.batch_events, [&](uint64_t offset, std::string_view bytes) {
      if (offset != last + 1)
        return false;  // never skip: stop at a hole and retry later
      auto ev = decode_event(bytes);
      batch.add(offset, ev ? &*ev : nullptr);
      last = offset;
      ++n;
      return true;
    });
    if (n == 0)
      return 0;
    const auto sql = batch.take();
    pqxx::work txn{*conn};
    auto r = txn.exec("SELECT \"offset\" FROM projection_offsets WHERE name = " + pg_literal(cfg.name)
                      + " FOR UPDATE");
    auto stored = r.empty() ? 0 : r[0][0].as<uint64_t>();
    if (stored != from - 1) {
      // Someone else (or an in-doubt commit of ours) moved it: adopt it.
      log::warn("pg_projection_offset_moved",
                {{"projection", cfg.name}, {"expected", from - 1}, {"stored", stored}});
      projected = stored;
      idle_end = 0;  // retry at once
      return 0;      // txn rolls back
    }
    txn.exec(sql);
    txn.exec("UPDATE projection_offsets SET \"offset\" = " + std::to_string(last)
             + ", updated_at = now() WHERE name = " + pg_literal(cfg.name));
    txn.commit();
    projected = last;
    if (events_total)
      events_total->Increment(static_cast<double>(n));
    if (batches_total)
      batches_total->Increment();
    return n;
  }

  void fail(const char* what, const std::exception& e) {
    if (errors_total)
      errors_total->Increment();
    bool was = is_connected;
    disconnect();
    backoff = backoff.count() == 0 ? cfg.backoff_min : std::min(backoff * 2, cfg.backoff_max);
    auto level = was ? log::level::warn : log::level::debug;
    log::write(level, "pg_projection_error",
               {{"projection", cfg.name}, {"step", what}, {"error", std::string_view{e.what()}},
                {"retry_ms", static_cast<int64_t>(backoff.count())}});
  }

  void run() {
    bool warned_down = false;
    while (!stop_requested()) {
      update_gauges();
      if (!conn) {
        try {
          connect();
          backoff = std::chrono::milliseconds{0};
          warned_down = false;
        } catch (const std::exception& e) {
          if (!warned_down) {
            log::warn("pg_projection_unavailable",
                      {{"projection", cfg.name}, {"error", std::string_view{e.what()}}});
            warned_down = true;
          }
          fail("connect", e);
          if (!wait_for(backoff, false))
            break;
          continue;
        }
      }
      size_t n = 0;
      try {
        n = apply_batch();
        backoff = std::chrono::milliseconds{0};
      } catch (const std::exception& e) {
        fail("apply", e);
        if (!wait_for(backoff, false))
          break;
        continue;
      }
      if (n == 0 && !wait_for(cfg.idle_poll, true))
        break;
    }
    disconnect();
    update_gauges();
  }
};

pg_projector::pg_projector(pg_projection_config cfg, std::shared_ptr<const event_store> store,
                           prometheus::Registry* metrics)
  : impl_(std::make_unique<impl>()) {
  impl_->cfg = std::move(cfg);
  impl_->store = std::move(store);
  if (metrics) {
    const std::map<std::string, std::string> labels{{"projection", impl_->cfg.name}};
    impl_->lag = &prometheus::BuildGauge()
                    .Name("tt_projection_lag_events")
                    .Help("events in the log not yet projected into PostgreSQL")
                    .Register(*metrics)
                    .Add(labels);
    impl_->offset_gauge = &prometheus::BuildGauge()
                             .Name("tt_projection_offset")
                             .Help("last log offset committed to PostgreSQL")
                             .Register(*metrics)
                             .Add(labels);
    impl_->connected_gauge = &prometheus::BuildGauge()
                                .Name("tt_projection_connected")
                                .Help("1 while the projector holds a PostgreSQL connection")
                                .Register(*metrics)
                                .Add(labels);
    impl_->events_total = &prometheus::BuildCounter()
                             .Name("tt_projection_events_total")
                             .Help("events projected into PostgreSQL")
                             .Register(*metrics)
                             .Add(labels);
    impl_->batches_total = &prometheus::BuildCounter()
                              .Name("tt_projection_batches_total")
                              .Help("projection transactions committed")
                              .Register(*metrics)
                              .Add(labels);
    impl_->errors_total = &prometheus::BuildCounter()
                             .Name("tt_projection_errors_total")
                             .Help("failed PostgreSQL connects or batches (each retried)")
                             .Register(*metrics)
                             .Add(labels);
  }
}

pg_projector::~pg_projector() { stop(); }

void pg_projector::start() {
  std::lock_guard<std::mutex> g{impl_->mtx};
  if (impl_->started || impl_->stopping)
    return;
  impl_->started = true;
  impl_->known_end = impl_->store->next_offset();
  impl_->thread = std::thread([d = impl_.get()] { d->run(); });
}

void pg_projector::notify(uint64_t next_offset) {
  {
    std::lock_guard<std::mutex> g{impl_->mtx};
    if (impl_->stopping || next_offset <= impl_->known_end)
      return;
    impl_->known_end = next_offset;
  }
  impl_->cv.notify_one();
}

void pg_projector::stop() {
  {
    std::lock_guard<std::mutex> g{impl_->mtx};
    impl_->stopping = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable())
    impl_->thread.join();
}

uint64_t pg_projector::projected_offset() const { return impl_->projected.load(); }

bool pg_projector::connected() const { return impl_->is_connected.load(); }

} // namespace tt::persistence
