// Fixed-chunk parallel loop. Chunk boundaries depend only on (n, chunk), never on the thread
// count or timing, so kernels built on it are deterministic for any number of threads.
#pragma once
#include <cstddef>
#include <functional>

#include "job_context.h"

namespace tz {

// Threads to use when the caller passes 0.
unsigned default_threads();

// Runs fn(begin, end) over [0, n) in chunks of `chunk` items on up to `threads` threads (the
// calling thread included). Polls ctx between chunks, reports progress in items, rethrows the
// first exception a chunk threw, and throws JobCancelled if the job was cancelled. Steps inside
// a larger job pass reportProgress = false and report their own progress.
void parallel_for(size_t n, size_t chunk, unsigned threads, JobContext& ctx,
                  const std::function<void(size_t begin, size_t end)>& fn, bool reportProgress = true);

}  // namespace tz
