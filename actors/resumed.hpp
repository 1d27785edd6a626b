#pragma once
// `resumed<Actor>`: which actor of class `Actor` is running on this thread.
// For actor classes whose actors all share one behavior object (its handlers
// cannot capture `self`): the class overrides `resume` and opens a `scope`
// around the base class's `resume`; its handlers call `get()`. CAF runs every
// message handler and response continuation of an actor inside its `resume`,
// on one thread at a time, so `get()` is the actor whose message is being
// handled. Scopes nest (restoring the previous value), in case a scheduler
// ever resumes another actor inline.

#include <cassert>

namespace tt::actors {

template <class Actor>
class resumed {
public:
  class scope {
  public:
    explicit scope(Actor* self) noexcept : prev_(current_) { current_ = self; }
    ~scope() { current_ = prev_; }
    scope(const scope&) = delete;
    scope& operator=(const scope&) = delete;

  private:
    Actor* prev_;
  };

  /// The actor being resumed on this thread; only valid inside its handlers.
  static Actor* get() noexcept {
    assert(current_ != nullptr);
    return current_;
  }

private:
  static inline thread_local Actor* current_ = nullptr;
};

} // namespace tt::actors
