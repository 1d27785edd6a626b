#pragma once
// A 24-byte immutable string for entity ids: up to 23 characters inline (ids
// are 22, see persistence::is_valid_id), longer ones in one heap block. Used
// where an id is kept per active entity (the region's maps, entity models),
// where std::string costs 32 bytes inline plus a 32-byte heap block for a
// 22-character id (libstdc++ keeps only 15 inline).

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

namespace tt::actors {

class small_string {
public:
  static constexpr size_t inline_capacity = 23;

  small_string() noexcept { raw_[tag_at] = 0; }
  explicit small_string(std::string_view s) { init(s); }
  small_string(const small_string& other) { init(other.view()); }
  small_string(small_string&& other) noexcept {
    std::memcpy(raw_, other.raw_, sizeof(raw_));
    other.raw_[tag_at] = 0;
  }
  small_string& operator=(const small_string& other) {
    if (this != &other) {
      small_string tmp{other};
      *this = std::move(tmp);
    }
    return *this;
  }
  small_string& operator=(small_string&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(raw_, other.raw_, sizeof(raw_));
      other.raw_[tag_at] = 0;
    }
    return *this;
  }
  small_string& operator=(std::string_view s) {
    small_string tmp{s};
    *this = std::move(tmp);
    return *this;
  }
  ~small_string() { release(); }

  std::string_view view() const noexcept {
    if (raw_[tag_at] != heap_tag)
      return {reinterpret_cast<const char*>(raw_), raw_[tag_at]};
    const char* p = nullptr;
    size_t n = 0;
    std::memcpy(&p, raw_, sizeof(p));
    std::memcpy(&n, raw_ + sizeof(p), sizeof(n));
    return {p, n};
  }
  operator std::string_view() const noexcept { return view(); }
  std::string str() const { return std::string{view()}; }
  size_t size() const noexcept { return view().size(); }
  bool empty() const noexcept { return raw_[tag_at] == 0; }

  friend bool operator==(const small_string& a, const small_string& b) noexcept {
    return a.view() == b.view();
  }
  friend bool operator==(const small_string& a, std::string_view b) noexcept {
    return a.view() == b;
  }

private:
  static constexpr size_t tag_at = inline_capacity;  // length if inline, else heap_tag
  static constexpr unsigned char heap_tag = 0xff;

  void init(std::string_view s) {
    if (s.size() <= inline_capacity) {
      if (!s.empty())
        std::memcpy(raw_, s.data(), s.size());
      raw_[tag_at] = static_cast<unsigned char>(s.size());
      return;
    }
    char* p = new char[s.size()];
    std::memcpy(p, s.data(), s.size());
    size_t n = s.size();
    std::memcpy(raw_, &p, sizeof(p));
    std::memcpy(raw_ + sizeof(p), &n, sizeof(n));
    raw_[tag_at] = heap_tag;
  }

  void release() noexcept {
    if (raw_[tag_at] == heap_tag) {
      char* p = nullptr;
      std::memcpy(&p, raw_, sizeof(p));
      delete[] p;
      raw_[tag_at] = 0;
    }
  }

  alignas(8) unsigned char raw_[inline_capacity + 1];
};

static_assert(sizeof(small_string) == 24);

/// Hash for unordered containers (noexcept and cheap: no cached hash per node).
struct small_string_hash {
  size_t operator()(const small_string& s) const noexcept {
    return std::hash<std::string_view>{}(s.view());
  }
};

} // namespace tt::actors
