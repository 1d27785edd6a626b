#pragma once
// Small helpers shared by the benchmarks.

#include <algorithm>
#include <cstddef>
#include <vector>

namespace tt::bench {

/// The q-quantile (0..1, nearest rank below) of `v`; 0 for an empty sample.
inline double percentile(std::vector<double> v, double q) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

} // namespace tt::bench
