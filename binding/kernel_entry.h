// The shape of every kernel job: run(table, raw, first, count) over fixed chunks on several
// threads (chunk boundaries fixed, so the result is the same for any thread count). `Raw` holds
// plain pointers and sizes only (resolved on the JS thread from named arguments), since job
// threads must not call N-API; the typed arrays it points into are kept alive by the job.
#pragma once
#include <napi.h>

#include "cpu/kernels.h"
#include "cpu/parallel.h"
#include "named_args.h"
#include "native_job.h"

namespace tz {

// The job of an entry point called as (args, onProgress): the threads come from args.
template <class Raw, class Run>
Napi::Value StartKernelJob(const Napi::CallbackInfo& info, NamedArgs& args, const Raw& raw, size_t chunk, Run run) {
  const unsigned threads = args.threads();
  const KernelTable* k = &kernels();
  JobWork work = [raw, chunk, threads, k, run](JobContext& ctx) -> JobResult {
    parallel_for(raw.n, chunk, threads, ctx, [&](size_t b, size_t e) { run(*k, raw, b, e - b); });
    return nullptr;
  };
  return StartJob(info.Env(), std::move(work), {info.Length() > 1 ? info[1] : info.Env().Undefined(), std::move(args.keep())});
}

}  // namespace tz
