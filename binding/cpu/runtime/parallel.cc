#include "parallel.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace tz {

unsigned default_threads() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw ? hw : 1;
}

void parallel_for(size_t n, size_t chunk, unsigned threads, JobContext& ctx,
                  const std::function<void(size_t, size_t)>& fn, bool reportProgress) {
  if (chunk == 0) chunk = 1;
  const size_t chunks = (n + chunk - 1) / chunk;
  if (threads == 0) threads = default_threads();
  const size_t workers = std::max<size_t>(1, std::min<size_t>(threads, chunks));

  std::atomic<size_t> next{0};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex errorMutex;

  auto run = [&] {
    for (;;) {
      if (failed.load(std::memory_order_relaxed) || ctx.cancelled()) return;
      const size_t c = next.fetch_add(1, std::memory_order_relaxed);
      if (c >= chunks) return;
      const size_t begin = c * chunk, end = std::min(n, begin + chunk);
      try {
        fn(begin, end);
      } catch (...) {
        std::lock_guard<std::mutex> lock(errorMutex);
        if (!error) error = std::current_exception();
        failed.store(true);
        return;
      }
      if (reportProgress) ctx.progress(done.fetch_add(end - begin) + (end - begin), n);
    }
  };

  std::vector<std::thread> pool;
  pool.reserve(workers - 1);
  for (size_t i = 1; i < workers; ++i) pool.emplace_back(run);
  run();
  for (auto& t : pool) t.join();
  if (error) std::rethrow_exception(error);
  ctx.throwIfCancelled();
}

}  // namespace tz
