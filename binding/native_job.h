// Running long native work off the JS thread.
//
// StartJob runs `work` on its own thread (not the libuv pool, which file I/O needs), so a job
// never blocks the event loop or starves fs. The work polls the JobContext for cancellation and
// reports progress through it; progress reaches the JS callback coalesced (only the newest
// value is delivered when the JS thread is busy) and always before the promise settles, because
// progress and completion travel through the same thread-safe function queue.
#pragma once
#include <napi.h>

#include <functional>
#include <vector>

#include "cpu/runtime/job_context.h"

namespace tz {

// Turns the finished work's result into a JS value; runs on the JS thread.
using JobResult = std::function<Napi::Value(Napi::Env)>;
// The work itself; runs on the job thread. Throw std::exception to fail, JobCancelled to stop.
using JobWork = std::function<JobResult(JobContext&)>;

struct JobOptions {
  Napi::Value onProgress;              // function(done, total) or undefined
  std::vector<Napi::Object> keepAlive;  // JS objects (typed arrays) the work reads or writes
};

// Starts the job and returns { promise, cancel }. The promise resolves with the result, rejects
// with an Error carrying the native message, or, after cancel(), with an AbortError
// (name 'AbortError', code 'ABORT_ERR'). A throwing progress callback cancels the job and the
// promise rejects with what it threw.
Napi::Object StartJob(Napi::Env env, JobWork work, JobOptions options);

// Jobs started and not yet settled (lets tests check that jobs release their resources).
int ActiveJobs();

}  // namespace tz
