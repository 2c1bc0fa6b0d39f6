// Module entry point of tensorzip.node.
#include "addon_path.h"
#include "bindings.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tz::PinAddon();
  exports.Set("version", Napi::String::New(env, TENSORZIP_VERSION));
  tz::RegisterBackend(env, exports);
  tz::RegisterConvert(env, exports);
  tz::RegisterJobs(env, exports);
  tz::RegisterCodec(env, exports);
  tz::RegisterRtn(env, exports);
  tz::RegisterMetrics(env, exports);
  tz::RegisterTernary(env, exports);
  tz::RegisterSeedlm(env, exports);
  tz::RegisterKmeans(env, exports);
  tz::RegisterVptq(env, exports);
  tz::RegisterBitpack(env, exports);
  tz::RegisterLlama(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(tensorzip, Init)
