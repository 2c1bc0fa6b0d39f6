// What a long-running kernel sees of the job it runs in: a cancellation flag it polls between
// chunks of work and a progress sink. Free of Node-API so kernels stay plain C++.
#pragma once
#include <atomic>
#include <cstdint>
#include <stdexcept>

namespace tz {

// Thrown (and only thrown) when a kernel stops because its job was cancelled.
struct JobCancelled : std::exception {
  const char* what() const noexcept override { return "The operation was aborted"; }
};

class JobContext {
 public:
  virtual ~JobContext() = default;
  bool cancelled() const { return cancel_.load(std::memory_order_relaxed); }
  void throwIfCancelled() const {
    if (cancelled()) throw JobCancelled();
  }
  void cancel() { cancel_.store(true, std::memory_order_relaxed); }
  // Called from any thread; implementations must be thread-safe and cheap (they coalesce).
  virtual void progress(uint64_t done, uint64_t total) { (void)done, (void)total; }

 private:
  std::atomic<bool> cancel_{false};
};

}  // namespace tz
