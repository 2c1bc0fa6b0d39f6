// The two shapes every kernel entry point takes: run now on a pinnable kernel path (tests), or
// start a job that runs the kernel over fixed chunks on several threads. `Raw` holds plain
// pointers and sizes only (resolved on the JS thread), since job threads must not call N-API;
// the typed arrays it points into are passed separately to be kept alive.
#pragma once
#include <napi.h>

#include <vector>

#include "args.h"
#include "cpu/runtime/parallel.h"
#include "native_job.h"

namespace tz {

// run(table, raw, first, count) over all raw.n elements on the path named by info[pathArg].
template <class Raw, class Run>
Napi::Value RunKernelNow(const Napi::CallbackInfo& info, const Raw& raw, size_t pathArg, Run run) {
  const KernelTable& k = RequireKernelPath(info, pathArg);
  try {
    run(k, raw, size_t(0), raw.n);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  return info.Env().Undefined();
}

// A job running run(table, raw, first, count) over chunks of `chunk` elements (chunk boundaries
// fixed, so the result is the same for any thread count). info[optionsArg] = { threads },
// info[optionsArg + 1] = onProgress.
template <class Raw, class Run>
Napi::Value StartKernelJob(const Napi::CallbackInfo& info, const Raw& raw, size_t chunk, std::vector<Napi::Object> keepAlive,
                           size_t optionsArg, Run run) {
  Napi::Env env = info.Env();
  Napi::Object options = OptionalObject(info, optionsArg, "options");
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  const KernelTable* k = &kernels();
  JobWork work = [raw, chunk, threads, k, run](JobContext& ctx) -> JobResult {
    parallel_for(raw.n, chunk, threads, ctx, [&](size_t b, size_t e) { run(*k, raw, b, e - b); });
    return nullptr;
  };
  return StartJob(env, std::move(work), {info.Length() > optionsArg + 1 ? info[optionsArg + 1] : env.Undefined(), std::move(keepAlive)});
}

}  // namespace tz
