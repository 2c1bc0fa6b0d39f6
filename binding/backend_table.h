// The one device seam, as faiss pairs its CPU and GPU indexes: per capability, the CPU
// implementation over the KernelTable (cpu_backend.h) and, where there is one, the CUDA
// implementation over libtensorzip_cuda (cuda_backend.h). A job resolves its device once, in
// Place: a capability without a CUDA implementation, or a call its CUDA implementation cannot
// take, runs on the CPU, and the caller's onFallback hears which capability and why
// (docs/METHODS.md, "Devices"). Adding a GPU kernel is filling one row's `cuda`.
#pragma once
#include <napi.h>

#include <functional>

#include "capabilities.h"
#include "cpu/runtime/job_context.h"
#include "cpu/runtime/kernels.h"
#include "named_args.h"
#include "native_job.h"

namespace tz {

template <class Call>
struct Capability {
  const char* name;  // as the fallback note names it, e.g. "rtn encode"
  void (*cpu)(const KernelTable& k, const Call& c, unsigned threads, JobContext& ctx);
  void (*cuda)(int gpu, const Call& c, unsigned threads, JobContext& ctx);  // nullptr: none
  // Why the CUDA implementation cannot take this call, or nullptr when it can (nullptr: always).
  const char* (*cudaDeclines)(const Call& c);
};

struct BackendTable {
  Capability<ConvertCall> convert;
  Capability<RtnCall> rtnEncode, rtnDecode;
  Capability<TernaryCall> ternaryEncode, ternaryDecode;
  Capability<SeedlmCall> seedlmSearch, seedlmDecode;
  Capability<KmeansAssignCall> kmeansAssign;
  Capability<KmeansLloydCall> kmeansLloyd;
  Capability<VptqCall> vptqEncode, vptqDecode;
  Capability<HadamardCall> hadamard;
  Capability<PiecesCall> ransDecode;
  Capability<EncodePiecesCall> ransEncode;
};

const BackendTable& backend_table();

// The device a call asks for, from its `device` argument: absent, or { cuda: N, onFallback? }
// (onFallback(capability, reason) is called on the JS thread). Throws when CUDA is unavailable
// (with the reason) or N is not one of its GPUs.
struct DeviceRequest {
  int gpu = -1;  // -1: the CPU
  Napi::Function onFallback;
  explicit DeviceRequest(const NamedArgs& a);
};

// Where a job runs: a GPU index, or -1 for the CPU.
struct Placement {
  int gpu = -1;
};

// The fallback rule, the one place a device is chosen.
Placement Place(const char* capability, bool hasCuda, const char* declined, const DeviceRequest& d);

template <class Call>
Placement Place(const Capability<Call>& row, const DeviceRequest& d, const Call& c) {
  return Place(row.name, row.cuda != nullptr, row.cuda && row.cudaDeclines ? row.cudaDeclines(c) : nullptr, d);
}

template <class Call>
void Run(const Capability<Call>& row, Placement p, const Call& c, unsigned threads, JobContext& ctx) {
  if (p.gpu >= 0) row.cuda(p.gpu, c, threads, ctx);
  else row.cpu(kernels(), c, threads, ctx);
}

// Work a job does around its capability on the job's thread (vptq unpacks its indices before
// and packs them after; ternary measures its encoding's error): calls run() once, where the
// capability belongs, and gives the job's result (nullptr: undefined).
using AroundCapability = std::function<JobResult(JobContext& ctx, const std::function<void()>& run)>;

// The job of an entry point called as (args, onProgress): the call placed once from args'
// device, then run with args' threads; the arrays args read are kept alive until it settles.
template <class Call>
Napi::Value StartCapabilityJob(const Napi::CallbackInfo& info, NamedArgs& a, const Capability<Call>& row, const Call& c, AroundCapability around = {}) {
  const Placement p = Place(row, DeviceRequest(a), c);
  const unsigned threads = a.threads();
  const Capability<Call>* r = &row;
  JobWork work = [r, p, c, threads, around](JobContext& ctx) -> JobResult {
    const auto run = [&] { Run(*r, p, c, threads, ctx); };
    if (around) return around(ctx, run);
    run();
    return nullptr;
  };
  return StartJob(info.Env(), std::move(work), {info.Length() > 1 ? info[1] : info.Env().Undefined(), std::move(a.keep())});
}

}  // namespace tz
