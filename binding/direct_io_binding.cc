// Direct I/O for sequential output files (lib/io/append-file.ts): setDirectIo(fd, on) switches an
// open file's O_DIRECT flag, answering whether the file system took it (tmpfs and some network
// file systems refuse it; the caller then writes through the page cache). The aligned buffers
// such transfers need: aligned_buffer_binding.cc.
#include <fcntl.h>

#include "args.h"
#include "bindings.h"

namespace tz {

namespace {

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
  exports.Set("setDirectIo", Napi::Function::New(env, SetDirectIo, "setDirectIo"));
}

}  // namespace tz
