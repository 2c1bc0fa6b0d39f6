// Direct I/O for sequential output files (lib/io/append-file.ts): alignedBuffer(bytes) gives
// memory aligned for O_DIRECT transfers, and setDirectIo(fd, on) switches an open file's
// O_DIRECT flag, answering whether the file system took it (tmpfs and some network file systems
// refuse it; the caller then writes through the page cache).
#include <fcntl.h>

#include <cstdlib>

#include "args.h"
#include "bindings.h"

namespace tz {

namespace {

// O_DIRECT needs buffers, offsets and lengths aligned to the device's logical block size: 4096
// covers every block size in use (512 and 4096).
constexpr size_t kDirectAlign = 4096;

Napi::Value AlignedBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "alignedBuffer(bytes): bytes must be a number");
  const double want = info[0].As<Napi::Number>().DoubleValue();
  if (!(want >= kDirectAlign && want <= double(1u << 30)) || double(size_t(want)) != want || size_t(want) % kDirectAlign)
    throw Napi::RangeError::New(env, "alignedBuffer(bytes): bytes must be a multiple of 4096 from 4 KiB to 1 GiB");
  const size_t bytes = size_t(want);
  void* p = nullptr;
  if (posix_memalign(&p, kDirectAlign, bytes) != 0) throw Napi::Error::New(env, "alignedBuffer: out of memory");
  return Napi::ArrayBuffer::New(env, p, bytes, [](Napi::Env, void* data) { std::free(data); });
}

Napi::Value SetDirectIo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBoolean()) throw Napi::TypeError::New(env, "setDirectIo(fd, on): fd a number, on a boolean");
  const int fd = info[0].As<Napi::Number>().Int32Value();
  const bool on = info[1].As<Napi::Boolean>().Value();
#if defined(O_DIRECT)
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return Napi::Boolean::New(env, false);
  if (bool(flags & O_DIRECT) == on) return Napi::Boolean::New(env, true);
  return Napi::Boolean::New(env, fcntl(fd, F_SETFL, on ? flags | O_DIRECT : flags & ~O_DIRECT) == 0);
#else
  return Napi::Boolean::New(env, !on);
#endif
}

}  // namespace

void RegisterDirectIo(Napi::Env env, Napi::Object exports) {
  exports.Set("alignedBuffer", Napi::Function::New(env, AlignedBuffer, "alignedBuffer"));
  exports.Set("setDirectIo", Napi::Function::New(env, SetDirectIo, "setDirectIo"));
}

}  // namespace tz
