// The marketplace from PostgreSQL: see pg_market.hpp.
#include "nodes/pg_market.hpp"

#include "persistence/pg_projection.hpp"

#include <boost/json.hpp>
#include <pqxx/pqxx>

#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <vector>

namespace tt::nodes {

namespace {

bool valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t len;
    uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xe0) == 0xc0) {
      len = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      len = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n)
      return false;
    for (size_t k = 1; k < len; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000)
        || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

const char* sort_column(actors::market_sort s) {
  switch (s) {
    case actors::market_sort::price: return "price_minor";
    case actors::market_sort::starts_at: return "starts_at_ms";
    case actors::market_sort::created: return "created_ms";
  }
  return "price_minor";
}

} // namespace

/// The connection pool.
struct pg_market::impl {
  pg_market_config cfg_;
  std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  size_t open_ = 0;  // connections existing (idle or borrowed)

  std::unique_ptr<pqxx::connection> borrow(std::string& error);
  void give_back(std::unique_ptr<pqxx::connection> c);
};

pg_market::pg_market(pg_market_config cfg) : impl_(std::make_unique<impl>()) {
  impl_->cfg_ = std::move(cfg);
  if (impl_->cfg_.connections == 0)
    impl_->cfg_.connections = 1;
}

pg_market::~pg_market() = default;

std::string pg_market::sql_for(const actors::market_query& q, int64_t after_value,
                               const std::string& after_id, bool has_after,
                               const std::function<std::string(const std::string&)>& quote) {
  // Text the index compares byte-wise can only match valid UTF-8 (every
  // listing's text is), and PostgreSQL refuses anything else.
  for (const auto* s : {&q.category, &q.event_id, &q.venue, &q.q})
    if (!valid_utf8(*s))
      return {};
  const std::string col = sort_column(q.sort);
  std::string sql
    = "SELECT id, owner, event_id, event_name, venue, category, starts_at_ms, section, seat_row, "
      "seats::text, face_value_minor, price_minor, currency, platform, created_ms, "
      "(extract(epoch FROM updated_at) * 1000)::bigint, "
    + col + " FROM tickets WHERE status = 'listed'";
  auto text_eq = [&](const char* column, const std::string& v) {
    if (!v.empty())
      sql += std::string(" AND ") + column + " = " + quote(v);
  };
  text_eq("category", q.category);
  text_eq("event_id", q.event_id);
  text_eq("venue", q.venue);
  auto bound = [&](const char* column, const char* op, const std::optional<int64_t>& v) {
    if (v)
      sql += std::string(" AND ") + column + " " + op + " " + std::to_string(*v);
  };
  bound("price_minor", ">=", q.min_price);
  bound("price_minor", "<=", q.max_price);
  bound("starts_at_ms", ">=", q.starts_after_ms);
  bound("starts_at_ms", "<=", q.starts_before_ms);
  for (const auto& w : actors::market_words(q.q))
    sql += " AND strpos(search_text, " + quote(" " + w) + ") > 0";
  if (has_after)
    sql += " AND (" + col + ", id COLLATE \"C\") > (" + std::to_string(after_value) + ", "
           + quote(after_id) + ")";
  sql += " ORDER BY " + col + ", id COLLATE \"C\" LIMIT " + std::to_string(q.limit + 1);
  return sql;
}

std::unique_ptr<pqxx::connection> pg_market::impl::borrow(std::string& error) {
  {
    std::unique_lock<std::mutex> g{mtx_};
    cv_.wait(g, [&] { return !idle_.empty() || open_ < cfg_.connections; });
    if (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      return c;
    }
    ++open_;  // reserved; opened below without the lock
  }
  try {
    auto c = std::make_unique<pqxx::connection>(persistence::pg_conninfo(cfg_.url, cfg_.connect_timeout_s));
    pqxx::nontransaction setup{*c};
    setup.exec("SET statement_timeout = " + std::to_string(cfg_.statement_timeout.count())
               + "; SET default_transaction_read_only = on; SET standard_conforming_strings = on");
    return c;
  } catch (const std::exception& e) {
    error = e.what();
    std::lock_guard<std::mutex> g{mtx_};
    --open_;
    cv_.notify_one();
    return nullptr;
  }
}

void pg_market::impl::give_back(std::unique_ptr<pqxx::connection> c) {
  std::lock_guard<std::mutex> g{mtx_};
  if (c && c->is_open())
    idle_.push_back(std::move(c));
  else
    --open_;
  cv_.notify_one();
}

pg_market::outcome pg_market::query(const actors::market_query& q) {
  outcome out;
  int64_t after_value = 0;
  std::string after_id;
  bool has_after = !q.cursor.empty();
  if (has_after && !actors::parse_market_cursor(q.cursor, after_value, after_id)) {
    out.ok = true;
    out.page.bad_cursor = true;
    return out;
  }
  std::string error;
  auto conn = impl_->borrow(error);
  if (!conn) {
    out.error = "cannot connect to PostgreSQL: " + error;
    return out;
  }
  try {
    // esc() + our own quotes (standard_conforming_strings is on by default
    // since PostgreSQL 9.1): the same as quote(), minus a GCC 12 false
    // -Wrestrict warning inside it.
    auto quote = [&](const std::string& s) {
      std::string out{"'"};
      out.append(conn->esc(s));
      out.push_back('\'');
      return out;
    };
    auto sql = sql_for(q, after_value, after_id, has_after, quote);
    out.ok = true;
    if (sql.empty()) {
      impl_->give_back(std::move(conn));
      return out;
    }
    pqxx::nontransaction tx{*conn};
    auto rows = tx.exec(sql);
    for (const auto& r : rows) {
      actors::market_listing l;
      l.id = r[0].as<std::string>();
      l.seller = r[1].as<std::string>();
      auto& f = l.fields;
      f.event_id = r[2].as<std::string>();
      f.event_name = r[3].as<std::string>();
      f.venue = r[4].as<std::string>();
      f.category = r[5].as<std::string>();
      f.event_starts_at_ms = r[6].as<int64_t>();
      f.section = r[7].as<std::string>();
      f.row = r[8].as<std::string>();
      auto seats = boost::json::parse(r[9].as<std::string>());
      for (const auto& s : seats.as_array())
        f.seats.emplace_back(s.as_string());
      f.face_value_minor = r[10].as<int64_t>();
      f.price_minor = r[11].as<int64_t>();
      f.currency = r[12].as<std::string>();
      platform p{};
      if (parse_platform(r[13].as<std::string>(), p))
        f.platform = static_cast<uint8_t>(p);
      l.created_at_ms = r[14].as<int64_t>();
      l.updated_at_ms = r[15].as<int64_t>();
      l.listed = true;
      out.page.items.push_back(std::move(l));
    }
    if (out.page.items.size() > q.limit) {
      out.page.items.resize(q.limit);
      const auto& last = out.page.items.back();
      out.page.next_cursor
        = actors::make_market_cursor(actors::market_sort_value(last, q.sort), last.id);
    }
  } catch (const std::exception& e) {
    out = outcome{};
    out.error = e.what();
    conn.reset();  // may be broken; the next call opens a fresh one
  }
  impl_->give_back(std::move(conn));
  return out;
}

} // namespace tt::nodes
