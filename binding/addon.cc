// Module entry point of tensorzip.node.
#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "addon_path.h"
#include "bindings.h"

namespace {

// glibc serves each block above 128 KiB with its own mmap and unmaps it on free, and trims freed
// heap memory above 128 KiB, so a process encoding many small pieces page-faults fresh memory
// for every LZMA encoder and buffer: a 219-tensor model took 3.6 s in a fresh process and 0.4 s
// after one large model, once glibc had raised both thresholds itself (to at most 32 and 64 MiB).
// Start from those values. Once per process, and only if nothing has set them.
void TuneMalloc() {
#if defined(__GLIBC__)
  static const bool once = [] {
    if (!std::getenv("MALLOC_MMAP_THRESHOLD_") && !std::getenv("MALLOC_TRIM_THRESHOLD_") && !std::getenv("GLIBC_TUNABLES")) {
      mallopt(M_MMAP_THRESHOLD, 32 << 20);
      mallopt(M_TRIM_THRESHOLD, 64 << 20);
    }
    return true;
  }();
  (void)once;
#endif
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tz::PinAddon();
  TuneMalloc();
  exports.Set("version", Napi::String::New(env, TENSORZIP_VERSION));
  tz::RegisterBackend(env, exports);
  tz::RegisterConvert(env, exports);
  tz::RegisterJobs(env, exports);
  tz::RegisterCodec(env, exports);
  tz::RegisterRtn(env, exports);
  tz::RegisterMetrics(env, exports);
  tz::RegisterRotate(env, exports);
  tz::RegisterTernary(env, exports);
  tz::RegisterSeedlm(env, exports);
  tz::RegisterKmeans(env, exports);
  tz::RegisterVptq(env, exports);
  tz::RegisterLlama(env, exports);
  tz::RegisterKernelRows(env, exports);
  tz::RegisterDirectIo(env, exports);
  tz::RegisterAlignedBuffer(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorzip, Init)
