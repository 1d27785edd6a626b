// resumed<Actor>: the actor of a class that is running on this thread (for
// actor classes sharing one behavior object; actors/resumed.hpp).

#include <doctest/doctest.h>

#include <thread>

#include "actors/resumed.hpp"

namespace {
struct fake_actor {
  int id;
};
} // namespace

using tt::actors::resumed;

TEST_CASE("resumed: a scope sets the running actor and restores the previous one") {
  fake_actor a{1}, b{2};
  {
    resumed<fake_actor>::scope outer{&a};
    CHECK(resumed<fake_actor>::get() == &a);
    {
      resumed<fake_actor>::scope inner{&b};  // an actor resumed inline by another
      CHECK(resumed<fake_actor>::get()->id == 2);
    }
    CHECK(resumed<fake_actor>::get() == &a);
    // Per thread: another thread sees its own actor, never this one.
    std::thread t{[&b] {
      resumed<fake_actor>::scope s{&b};
      CHECK(resumed<fake_actor>::get() == &b);
    }};
    t.join();
    CHECK(resumed<fake_actor>::get() == &a);
  }
}
