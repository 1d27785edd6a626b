#pragma once
// A fixed list of strings packed into one heap block (8 bytes inline): for
// entity state that is kept per active entity and rarely changes. Layout:
// [width w: 1 byte][count: w bytes][end offset of each part: w bytes each]
// [the bytes], w = 2 while everything fits 16 bits, else 4. Value semantics
// (copies copy the block); any change builds a new block.

#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace tt::actors {

class packed_strings {
public:
  packed_strings() noexcept = default;

  explicit packed_strings(std::span<const std::string_view> parts) {
    size_t bytes = 0;
    for (auto p : parts)
      bytes += p.size();
    size_t w = bytes <= 0xffff && parts.size() <= 0xffff ? 2 : 4;
    size_t header = 1 + w * (1 + parts.size());
    data_.reset(new char[header + bytes]);
    data_[0] = static_cast<char>(w);
    put(1, w, parts.size());
    size_t end = 0;
    char* out = data_.get() + header;
    for (size_t i = 0; i < parts.size(); ++i) {
      if (!parts[i].empty())
        std::memcpy(out + end, parts[i].data(), parts[i].size());
      end += parts[i].size();
      put(1 + w * (1 + i), w, end);
    }
  }

  packed_strings(const packed_strings& other) {
    if (other.data_) {
      auto n = other.total_bytes();
      data_.reset(new char[n]);
      std::memcpy(data_.get(), other.data_.get(), n);
    }
  }
  packed_strings& operator=(const packed_strings& other) {
    if (this != &other) {
      packed_strings tmp{other};
      data_ = std::move(tmp.data_);
    }
    return *this;
  }
  packed_strings(packed_strings&&) noexcept = default;
  packed_strings& operator=(packed_strings&&) noexcept = default;

  size_t size() const noexcept { return data_ ? get(1, width()) : 0; }

  /// Part `i` (< size()); valid until this object changes.
  std::string_view operator[](size_t i) const noexcept {
    size_t w = width();
    size_t header = 1 + w * (1 + size());
    size_t begin = i == 0 ? 0 : get(1 + w * i, w);
    size_t end = get(1 + w * (1 + i), w);
    return {data_.get() + header + begin, end - begin};
  }

private:
  size_t width() const noexcept { return static_cast<unsigned char>(data_[0]); }

  size_t total_bytes() const noexcept {
    size_t w = width(), n = size();
    return 1 + w * (1 + n) + (n == 0 ? 0 : get(1 + w * n, w));
  }

  void put(size_t at, size_t w, size_t v) noexcept {
    if (w == 2) {
      auto x = static_cast<uint16_t>(v);
      std::memcpy(data_.get() + at, &x, 2);
    } else {
      auto x = static_cast<uint32_t>(v);
      std::memcpy(data_.get() + at, &x, 4);
    }
  }

  size_t get(size_t at, size_t w) const noexcept {
    if (w == 2) {
      uint16_t x;
      std::memcpy(&x, data_.get() + at, 2);
      return x;
    }
    uint32_t x;
    std::memcpy(&x, data_.get() + at, 4);
    return x;
  }

  std::unique_ptr<char[]> data_;
};

} // namespace tt::actors
