// rtn entry points: rtnEncode / rtnDecode (synchronous, with a pinnable kernel path for tests)
// and rtnEncodeAsync / rtnDecodeAsync (jobs, parallel over whole groups).
#include <algorithm>

#include "args.h"
#include "bindings.h"
#include "cpu/bitpack.h"
#include "cpu/parallel.h"
#include "native_job.h"

namespace tz {

namespace {

// Raw pointers are resolved on the JS thread while parsing: job threads must not call N-API.
struct RtnCall {
  Napi::TypedArray weights, codes, scales;  // JS thread only (kept alive by the job)
  float* w;
  uint8_t* packed;
  uint16_t* scaleBits;
  size_t n;
  unsigned bits;
  size_t group;
};

// (weights: Float32Array, bits, group, codes: Uint8Array, scales: Uint16Array, ...): checks the
// sizes the packed layout implies (rtn.h).
RtnCall ParseRtn(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  RtnCall c;
  c.weights = RequireTypedArray(info, 0, napi_float32_array, "weights");
  c.bits = unsigned(RequireInt(info, 1, "bits", 2, 8));
  c.group = size_t(RequireInt(info, 2, "group", 8, 1 << 20));
  if (c.group % 8) throw Napi::RangeError::New(env, "group must be a multiple of 8");
  c.codes = RequireTypedArray(info, 3, napi_uint8_array, "codes");
  c.scales = RequireTypedArray(info, 4, napi_uint16_array, "scales");
  c.n = c.weights.ElementLength();
  const size_t wantCodes = packed_bytes(c.n, c.bits), wantScales = (c.n + c.group - 1) / c.group;
  if (c.codes.ByteLength() != wantCodes)
    throw Napi::RangeError::New(env, "codes must hold " + std::to_string(wantCodes) + " bytes, got " + std::to_string(c.codes.ByteLength()));
  if (c.scales.ElementLength() != wantScales)
    throw Napi::RangeError::New(env, "scales must hold " + std::to_string(wantScales) + " values, got " + std::to_string(c.scales.ElementLength()));
  RequireDisjoint(c.weights, c.codes, "weights and codes");
  RequireDisjoint(c.weights, c.scales, "weights and scales");
  RequireDisjoint(c.codes, c.scales, "codes and scales");
  c.w = reinterpret_cast<float*>(TypedArrayBytes(c.weights));
  c.packed = TypedArrayBytes(c.codes);
  c.scaleBits = reinterpret_cast<uint16_t*>(TypedArrayBytes(c.scales));
  return c;
}

// Runs fn(table, firstElement, count) over chunks of whole groups: groups are byte-aligned in
// the packed codes, so chunks write disjoint bytes and the result is independent of threads.
template <class Fn>
void ForGroupChunks(const RtnCall& c, unsigned threads, JobContext& ctx, Fn fn) {
  const size_t chunk = c.group * std::max<size_t>(1, (size_t(1) << 18) / c.group);
  parallel_for(c.n, chunk, threads, ctx, [&](size_t b, size_t e) { fn(b, e - b); });
}

template <bool Encode>
void RunRtn(const KernelTable& k, const RtnCall& c, size_t first, size_t count) {
  uint8_t* packed = c.packed + first * c.bits / 8;
  uint16_t* scales = c.scaleBits + first / c.group;
  if (Encode) k.rtn_encode(c.w + first, count, c.bits, c.group, packed, scales);
  else k.rtn_decode(packed, scales, count, c.bits, c.group, c.w + first);
}

// rtnEncode(weights, bits, group, codes, scales, path?) / rtnDecode(out, bits, group, codes, scales, path?)
template <bool Encode>
Napi::Value RtnSync(const Napi::CallbackInfo& info) {
  const RtnCall c = ParseRtn(info);
  const KernelTable& k = RequireKernelPath(info, 5);
  try {
    RunRtn<Encode>(k, c, 0, c.n);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  return info.Env().Undefined();
}

// rtnEncodeAsync(weights, bits, group, codes, scales, { threads }, onProgress) and the decoder.
template <bool Encode>
Napi::Value RtnAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const RtnCall c = ParseRtn(info);
  Napi::Object options = OptionalObject(info, 5, "options");
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  const KernelTable* k = &kernels();
  RtnCall raw = c;  // the job's copy holds no JS handles
  raw.weights = raw.codes = raw.scales = Napi::TypedArray();
  JobWork work = [raw, threads, k](JobContext& ctx) -> JobResult {
    ForGroupChunks(raw, threads, ctx, [&](size_t first, size_t count) { RunRtn<Encode>(*k, raw, first, count); });
    return nullptr;
  };
  return StartJob(env, std::move(work), {info.Length() > 6 ? info[6] : env.Undefined(), {c.weights, c.codes, c.scales}});
}

}  // namespace

void RegisterRtn(Napi::Env env, Napi::Object exports) {
  exports.Set("rtnEncode", Napi::Function::New(env, RtnSync<true>, "rtnEncode"));
  exports.Set("rtnDecode", Napi::Function::New(env, RtnSync<false>, "rtnDecode"));
  exports.Set("rtnEncodeAsync", Napi::Function::New(env, RtnAsync<true>, "rtnEncodeAsync"));
  exports.Set("rtnDecodeAsync", Napi::Function::New(env, RtnAsync<false>, "rtnDecodeAsync"));
}

}  // namespace tz
