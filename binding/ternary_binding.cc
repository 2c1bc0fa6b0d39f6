// ternary entry points: ternaryEncode / ternaryDecode (synchronous, pinnable kernel path) and
// ternaryEncodeAsync / ternaryDecodeAsync (jobs, parallel over byte-aligned whole groups).
//   (weights, group, packing, tensorScale, rounds, packed, scales, path | options, onProgress)
// tensorScale < 0: one f16 absmean scale per group (scales holds ceil(n/group) values);
// tensorScale >= 0: that one scale for every weight (scales must be empty, group is ignored).
#include <algorithm>
#include <numeric>

#include "args.h"
#include "bindings.h"
#include "cpu/parallel.h"
#include "cpu/ternary.h"
#include "native_job.h"

namespace tz {

namespace {

struct TernaryCall {
  Napi::TypedArray weights, packed, scales;  // JS thread only (kept alive by the job)
  float* w;
  uint8_t* codes;
  uint16_t* scaleBits;
  size_t n, group;
  unsigned packing, rounds;
  float tensorScale;
};

TernaryCall ParseTernary(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TernaryCall c;
  c.weights = RequireTypedArray(info, 0, napi_float32_array, "weights");
  c.group = size_t(RequireInt(info, 1, "group", 1, int64_t(1) << 40));
  c.packing = unsigned(RequireInt(info, 2, "packing", 2, 3));
  if (!info[3].IsNumber()) throw Napi::TypeError::New(env, "tensorScale must be a number");
  c.tensorScale = info[3].As<Napi::Number>().FloatValue();
  if (!(c.tensorScale < 0) && !std::isfinite(c.tensorScale)) throw Napi::RangeError::New(env, "tensorScale must be finite");
  c.rounds = unsigned(RequireInt(info, 4, "rounds", 0, 16));
  if (c.rounds && c.tensorScale >= 0) throw Napi::RangeError::New(env, "rounds needs group scales, not a tensor scale");
  c.packed = RequireTypedArray(info, 5, napi_uint8_array, "packed");
  c.scales = RequireTypedArray(info, 6, napi_uint16_array, "scales");
  c.n = c.weights.ElementLength();
  const size_t wantPacked = ternary_packed_bytes(c.n, c.packing);
  const size_t wantScales = c.tensorScale >= 0 ? 0 : (c.n + c.group - 1) / c.group;
  if (c.packed.ByteLength() != wantPacked)
    throw Napi::RangeError::New(env, "packed must hold " + std::to_string(wantPacked) + " bytes, got " + std::to_string(c.packed.ByteLength()));
  if (c.scales.ElementLength() != wantScales)
    throw Napi::RangeError::New(env, "scales must hold " + std::to_string(wantScales) + " values, got " + std::to_string(c.scales.ElementLength()));
  RequireDisjoint(c.weights, c.packed, "weights and packed");
  RequireDisjoint(c.weights, c.scales, "weights and scales");
  c.w = reinterpret_cast<float*>(TypedArrayBytes(c.weights));
  c.codes = TypedArrayBytes(c.packed);
  c.scaleBits = reinterpret_cast<uint16_t*>(TypedArrayBytes(c.scales));
  return c;
}

// [first, first + count): `first` is a multiple of the group and of the packing block.
template <bool Encode>
void RunTernary(const KernelTable& k, const TernaryCall& c, size_t first, size_t count) {
  uint8_t* packed = c.codes + first / ternary_per_byte(c.packing);
  uint16_t* scales = c.tensorScale >= 0 ? c.scaleBits : c.scaleBits + first / c.group;
  if (Encode) k.ternary_encode(c.w + first, count, c.group, c.packing, c.tensorScale, c.rounds, packed, scales);
  else k.ternary_decode(packed, scales, count, c.group, c.packing, c.tensorScale, c.w + first);
}

template <bool Encode>
Napi::Value TernarySync(const Napi::CallbackInfo& info) {
  const TernaryCall c = ParseTernary(info);
  const KernelTable& k = RequireKernelPath(info, 7);
  try {
    RunTernary<Encode>(k, c, 0, c.n);
  } catch (const std::exception& e) {
    throw Napi::Error::New(info.Env(), e.what());
  }
  return info.Env().Undefined();
}

template <bool Encode>
Napi::Value TernaryAsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const TernaryCall c = ParseTernary(info);
  Napi::Object options = OptionalObject(info, 7, "options");
  const unsigned threads = unsigned(OptionalInt(options, "threads", 0, 0, 1024));
  const KernelTable* k = &kernels();
  TernaryCall raw = c;  // the job's copy holds no JS handles
  raw.weights = raw.packed = raw.scales = Napi::TypedArray();
  // Chunks of whole groups that also start on a packing block: a multiple of lcm(group, block).
  const size_t block = ternary_block(c.packing);
  const size_t unit = c.tensorScale >= 0 ? block : std::lcm(c.group, block);
  const size_t chunk = unit * std::max<size_t>(1, (size_t(1) << 18) / unit);
  JobWork work = [raw, threads, k, chunk](JobContext& ctx) -> JobResult {
    parallel_for(raw.n, chunk, threads, ctx, [&](size_t b, size_t e) { RunTernary<Encode>(*k, raw, b, e - b); });
    return nullptr;
  };
  return StartJob(env, std::move(work), {info.Length() > 8 ? info[8] : env.Undefined(), {c.weights, c.packed, c.scales}});
}

}  // namespace

void RegisterTernary(Napi::Env env, Napi::Object exports) {
  exports.Set("ternaryEncode", Napi::Function::New(env, TernarySync<true>, "ternaryEncode"));
  exports.Set("ternaryDecode", Napi::Function::New(env, TernarySync<false>, "ternaryDecode"));
  exports.Set("ternaryEncodeAsync", Napi::Function::New(env, TernaryAsync<true>, "ternaryEncodeAsync"));
  exports.Set("ternaryDecodeAsync", Napi::Function::New(env, TernaryAsync<false>, "ternaryDecodeAsync"));
}

}  // namespace tz
