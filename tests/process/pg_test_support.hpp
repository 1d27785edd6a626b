#pragma once
// For doctest test cases that need a throwaway PostgreSQL (pg_cluster.hpp
// stays free of doctest: benchmarks use it too).

#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "pg_cluster.hpp"

namespace tt::test {

/// A started throwaway PostgreSQL, or null (with a message: the test then
/// skips) when PostgreSQL 15 is not installed. Fails the test if it is
/// installed but does not start. Call from a doctest test case.
inline std::unique_ptr<pg_cluster> started_pg() {
  if (!std::filesystem::exists(std::string(pg_bindir) + "/initdb")) {
    MESSAGE("skipped: PostgreSQL 15 is not installed at " << pg_bindir);
    return nullptr;
  }
  auto pg = std::make_unique<pg_cluster>();
  REQUIRE_MESSAGE(pg->init(), "initdb failed");
  REQUIRE_MESSAGE(pg->start(), "PostgreSQL did not start");
  return pg;
}

} // namespace tt::test
