// alignedBuffer(bytes): memory for the buffers a run reuses (lib/core/buffer-pool.ts) and for
// O_DIRECT transfers (lib/io/append-file.ts). Aligned to 4096 bytes, which O_DIRECT needs. A
// buffer of 2 MiB or more is aligned to 2 MiB and asks the kernel for transparent huge pages
// (where THP is set to `madvise`, the common default, plain memory never gets them): first
// touching a 2 MiB page is one fault instead of 512, and copies into it miss the TLB less. On the
// 2-vCPU VM this took a lossless compress from 46k page faults to 12k and 2.22 s to 1.59 s
// (docs/BENCHMARKS.md, "Huge pages for the reused buffers").
#include <sys/mman.h>

#include <cstdlib>

#include "bindings.h"

namespace tz {

namespace {

constexpr size_t kDirectAlign = 4096;  // covers every logical block size in use (512 and 4096)
constexpr size_t kHugePage = size_t(2) << 20;

Napi::Value AlignedBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "alignedBuffer(bytes): bytes must be a number");
  const double want = info[0].As<Napi::Number>().DoubleValue();
  if (!(want >= kDirectAlign && want <= double(1u << 30)) || double(size_t(want)) != want || size_t(want) % kDirectAlign)
    throw Napi::RangeError::New(env, "alignedBuffer(bytes): bytes must be a multiple of 4096 from 4 KiB to 1 GiB");
  const size_t bytes = size_t(want);
  const bool huge = bytes >= kHugePage;
  void* p = nullptr;
  if (posix_memalign(&p, huge ? kHugePage : kDirectAlign, bytes) != 0) throw Napi::Error::New(env, "alignedBuffer: out of memory");
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // a hint: refused, the memory is ordinary pages
#endif
  // The garbage collector counts this memory, so that dropped buffers are collected in time.
  Napi::MemoryManagement::AdjustExternalMemory(env, int64_t(bytes));
  return Napi::ArrayBuffer::New(env, p, bytes, [bytes](Napi::Env e, void* data) {
    std::free(data);
    Napi::MemoryManagement::AdjustExternalMemory(e, -int64_t(bytes));
  });
}

}  // namespace

void RegisterAlignedBuffer(Napi::Env env, Napi::Object exports) {
  exports.Set("alignedBuffer", Napi::Function::New(env, AlignedBuffer, "alignedBuffer"));
}

}  // namespace tz
