// Each binding translation unit adds its functions to the module's exports.
#pragma once
#include <napi.h>

namespace tz {

struct ErrorSums;
// { signal, noise, dot, recon, maxAbs }: what tensorStats and the encoders' `measure` give back.
Napi::Object ErrorSumsObject(Napi::Env env, const ErrorSums& s);

void RegisterBackend(Napi::Env env, Napi::Object exports);
void RegisterConvert(Napi::Env env, Napi::Object exports);
void RegisterJobs(Napi::Env env, Napi::Object exports);
void RegisterCodec(Napi::Env env, Napi::Object exports);
void RegisterRtn(Napi::Env env, Napi::Object exports);
void RegisterMetrics(Napi::Env env, Napi::Object exports);
void RegisterTernary(Napi::Env env, Napi::Object exports);
void RegisterSeedlm(Napi::Env env, Napi::Object exports);
void RegisterKmeans(Napi::Env env, Napi::Object exports);
void RegisterVptq(Napi::Env env, Napi::Object exports);
void RegisterLlama(Napi::Env env, Napi::Object exports);
void RegisterRotate(Napi::Env env, Napi::Object exports);
void RegisterKernelRows(Napi::Env env, Napi::Object exports);
void RegisterDirectIo(Napi::Env env, Napi::Object exports);
void RegisterAlignedBuffer(Napi::Env env, Napi::Object exports);

}  // namespace tz
