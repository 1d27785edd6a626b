#include "actors/entity_env.hpp"

#include <chrono>

namespace tt::actors {

int64_t entity_env::now_ms() const {
  if (clock)
    return clock();
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

} // namespace tt::actors
