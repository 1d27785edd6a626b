#pragma once
// An allocator for the large, long-lived arrays of in-memory indexes (the
// offer book, its round scratch): blocks of 2 MiB and more are 2 MiB-aligned
// and marked MADV_HUGEPAGE, so the kernel backs them with transparent huge
// pages when it can (THP mode "madvise", the Debian default). Smaller blocks
// come from the normal heap.
//
// Why: first-touching fresh memory costs one page fault per 4 KiB page, and
// on the VMs we run on a fault costs ~15 us (measured: 100 MB in ~420 ms;
// with huge pages ~10 ms once the kernel has free huge pages). A matching
// round over 1M offers fills ~200 MB of scratch. Without THP (mode "never")
// this is the plain heap, just slower on first touch. Thread-safe like
// malloc; stateless, so all instances compare equal.

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#include <sys/mman.h>

namespace tt {

template <class T>
struct huge_page_allocator {
  using value_type = T;
  static constexpr size_t huge_threshold = size_t{2} << 20;
  static constexpr size_t huge_page = size_t{2} << 20;

  huge_page_allocator() noexcept = default;
  template <class U>
  huge_page_allocator(const huge_page_allocator<U>&) noexcept {}

  static size_t rounded(size_t n) {
    size_t bytes = n * sizeof(T);
    return (bytes + huge_page - 1) / huge_page * huge_page;
  }

  T* allocate(size_t n) {
    if (n > static_cast<size_t>(-1) / sizeof(T))
      throw std::bad_array_new_length();
    if (n * sizeof(T) < huge_threshold)
      return static_cast<T*>(::operator new(n * sizeof(T)));
    size_t bytes = rounded(n);
    void* p = std::aligned_alloc(huge_page, bytes);
    if (p == nullptr)
      throw std::bad_alloc();
    ::madvise(p, bytes, MADV_HUGEPAGE);  // advisory: failure only costs speed
    return static_cast<T*>(p);
  }

  void deallocate(T* p, size_t n) noexcept {
    if (n * sizeof(T) < huge_threshold)
      ::operator delete(p);
    else
      std::free(p);
  }

  template <class U>
  bool operator==(const huge_page_allocator<U>&) const noexcept {
    return true;
  }
};

/// A std::vector whose large buffers use transparent huge pages.
template <class T>
using big_vector = std::vector<T, huge_page_allocator<T>>;

} // namespace tt
