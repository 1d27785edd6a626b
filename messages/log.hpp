#pragma once
// Structured logs: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-29T00:00:00.123Z","level":"info","msg":"node_ready","http_port":8080}
// Thread-safe (one mutex around the write); never log secrets, tokens,
// passwords or barcodes.

#include <cstdint>
#include <initializer_list>
#include <string_view>
#include <variant>

namespace tt::log {

enum class level : uint8_t { debug, info, warn, error };

struct field {
  using value_type = std::variant<std::string_view, int64_t, uint64_t, double, bool>;
  std::string_view key;
  value_type value;
  field(std::string_view k, std::string_view v) : key(k), value(v) {}
  field(std::string_view k, const char* v) : key(k), value(std::string_view{v}) {}
  field(std::string_view k, int v) : key(k), value(int64_t{v}) {}
  field(std::string_view k, long v) : key(k), value(int64_t{v}) {}
  field(std::string_view k, long long v) : key(k), value(int64_t{v}) {}
  field(std::string_view k, unsigned v) : key(k), value(uint64_t{v}) {}
  field(std::string_view k, unsigned long v) : key(k), value(uint64_t{v}) {}
  field(std::string_view k, unsigned long long v) : key(k), value(uint64_t{v}) {}
  field(std::string_view k, double v) : key(k), value(v) {}
  field(std::string_view k, bool v) : key(k), value(v) {}
};

/// Lines below this level are dropped (default: info).
void set_min_level(level lvl);

void write(level lvl, std::string_view msg, std::initializer_list<field> fields = {});

inline void debug(std::string_view msg, std::initializer_list<field> f = {}) { write(level::debug, msg, f); }
inline void info(std::string_view msg, std::initializer_list<field> f = {}) { write(level::info, msg, f); }
inline void warn(std::string_view msg, std::initializer_list<field> f = {}) { write(level::warn, msg, f); }
inline void error(std::string_view msg, std::initializer_list<field> f = {}) { write(level::error, msg, f); }

/// Appends `s` to `out` as a JSON string literal (with quotes).
void append_json_string(std::string& out, std::string_view s);

} // namespace tt::log
