// seedlm entry points (definitions in cpu/seedlm.h):
//   seedlmEncode(weights, C, P, eMin, keep, seeds, fields, path?) and seedlmEncodeAsync(...,
//   options, onProgress): the seed search (keep 0: exhaustive; keep K: the approximate mode's K
//   best seeds by least-squares error), parallel over blocks (the job's chunks are blocks).
//   seedlmDecode(out, C, P, eMin, seeds, fields) and seedlmDecodeAsync(...): the integer decoder.
//   seedlmTables(C, P) -> { worstInverseError }, seedlmStates(C, P, seed, count) -> the LFSR
//   states after `seed` (for tests), seedlmExpMin(absMax) -> the per-tensor exponent base.
//   seedlmEncodeAsync's options may choose the GPU ({ device: 'cuda', cudaDevice }) for the
//   exhaustive search; the result is the same.
// weights/out: Float32Array of n weights (the last block zero-padded); seeds: Uint16Array of
// ceil(n / C) blocks; fields: Uint8Array of (P + 1) bytes per block (e4, then q_p as int8).
#include <algorithm>
#include <cmath>
#include <cstring>

#include "bindings.h"
#include "cpu/quant/seedlm_tables.h"
#include "cuda_call.h"
#include "kernel_entry.h"
#include "native_job.h"

namespace tz {

namespace {

struct SeedlmRaw {
  float* w;
  uint16_t* seeds;
  uint8_t* fields;
  size_t n;  // blocks (the unit the kernel entry helpers iterate over)
  size_t weights;
  const SeedlmTables* t;
  int eMin;
  unsigned keep;
};

const SeedlmTables& RequireTables(const Napi::CallbackInfo& info, size_t i) {
  const unsigned C = unsigned(RequireInt(info, i, "C", 1, kSeedlmMaxC)), P = unsigned(RequireInt(info, i + 1, "P", 1, kSeedlmMaxP));
  if (!((C == 8 && P == 3) || (C == 12 && P == 4))) throw Napi::RangeError::New(info.Env(), "seedlm supports C 8, P 3 and C 12, P 4");
  return seedlm_tables(C, P);
}

// Encode takes `keep` after eMin; the arguments after it shift by one.
template <bool Encode>
SeedlmRaw ParseSeedlm(const Napi::CallbackInfo& info, std::vector<Napi::Object>& keep) {
  Napi::Env env = info.Env();
  Napi::TypedArray weights = RequireTypedArray(info, 0, napi_float32_array, "weights");
  const SeedlmTables& t = RequireTables(info, 1);
  const int eMin = int(RequireInt(info, 3, "eMin", kSeedlmMinExp, kSeedlmMaxExp));
  const unsigned shortlist = Encode ? unsigned(RequireInt(info, 4, "keep", 0, SeedlmShortlist::kMax)) : 0;
  Napi::TypedArray seeds = RequireTypedArray(info, 4 + Encode, napi_uint16_array, "seeds");
  Napi::TypedArray fields = RequireTypedArray(info, 5 + Encode, napi_uint8_array, "fields");
  const size_t n = weights.ElementLength(), blocks = (n + t.C - 1) / t.C;
  if (seeds.ElementLength() != blocks)
    throw Napi::RangeError::New(env, "seeds must hold " + std::to_string(blocks) + " values, got " + std::to_string(seeds.ElementLength()));
  if (fields.ByteLength() != blocks * (t.P + 1))
    throw Napi::RangeError::New(env, "fields must hold " + std::to_string(blocks * (t.P + 1)) + " bytes, got " + std::to_string(fields.ByteLength()));
  RequireDisjoint(weights, seeds, "weights and seeds");
  RequireDisjoint(weights, fields, "weights and fields");
  RequireDisjoint(seeds, fields, "seeds and fields");
  keep = {weights, seeds, fields};
  return {reinterpret_cast<float*>(TypedArrayBytes(weights)), reinterpret_cast<uint16_t*>(TypedArrayBytes(seeds)), TypedArrayBytes(fields), blocks, n, &t, eMin, shortlist};
}

// Blocks [first, first + count); the last block of the tensor may be partial (zero-padded here).
template <bool Encode>
void RunSeedlm(const KernelTable& k, const SeedlmRaw& c, size_t first, size_t count) {
  const unsigned C = c.t->C, P = c.t->P;
  const size_t whole = std::min(count, c.weights / C - std::min(first, c.weights / C));  // full blocks in range
  uint16_t* seeds = c.seeds + first;
  uint8_t* fields = c.fields + first * (P + 1);
  float* w = c.w + first * C;
  if (Encode) k.seedlm_search(*c.t, w, whole, c.eMin, c.keep, seeds, fields);
  else seedlm_decode(*c.t, c.eMin, seeds, fields, whole, w);
  if (whole == count) return;
  float padded[kSeedlmMaxC] = {};
  const size_t tail = c.weights - (first + whole) * C;
  if (Encode) {
    std::memcpy(padded, w + whole * C, tail * sizeof(float));
    k.seedlm_search(*c.t, padded, 1, c.eMin, c.keep, seeds + whole, fields + whole * (P + 1));
  } else {
    seedlm_decode(*c.t, c.eMin, seeds + whole, fields + whole * (P + 1), 1, padded);
    std::memcpy(w + whole * C, padded, tail * sizeof(float));
  }
}

template <bool Encode>
Napi::Value SeedlmSync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Object> keep;
  return RunKernelNow(info, ParseSeedlm<Encode>(info, keep), 6 + Encode, RunSeedlm<Encode>);
}

// The exhaustive search on the GPU (libtensorzip_cuda's tzc_seedlm_search gives each block's seed
// and exponent), then each block's fields on the CPU from them, as the CPU search derives them.
Napi::Value SeedlmEncodeCuda(const Napi::CallbackInfo& info, const SeedlmRaw& c, int gpu, std::vector<Napi::Object> keep) {
  Napi::Env env = info.Env();
  if (c.keep) throw Napi::RangeError::New(env, "the approximate search (keep > 0) has no CUDA kernel: run it on the CPU");
  JobWork work = [c, gpu](JobContext& ctx) -> JobResult {
    const unsigned C = c.t->C, P = c.t->P;
    // The last block zero-padded, as the CPU search pads it.
    std::vector<float> padded;
    const float* w = c.w;
    if (c.weights % C) {
      padded.assign(c.n * C, 0.0f);
      std::memcpy(padded.data(), c.w, c.weights * sizeof(float));
      w = padded.data();
    }
    std::vector<int32_t> exponents(c.n);
    const tzc_job job = CudaJob(ctx);
    CheckCuda(Cuda().seedlmSearch(gpu, C, P, c.t->perSeed.data(), w, c.n, c.eMin, c.seeds, exponents.data(), &job), "the seedlm search");
    for (size_t b = 0; b < c.n; ++b) seedlm_fields(*c.t, w + b * C, c.seeds[b], exponents[b], c.eMin, c.fields + b * (P + 1));
    return nullptr;
  };
  return StartJob(env, std::move(work), {info.Length() > 8 ? info[8] : env.Undefined(), std::move(keep)});
}

template <bool Encode>
Napi::Value SeedlmAsync(const Napi::CallbackInfo& info) {
  std::vector<Napi::Object> keep;
  const SeedlmRaw c = ParseSeedlm<Encode>(info, keep);
  if (Encode) {
    const int gpu = OptionalCudaDevice(info.Env(), OptionalObject(info, 7, "options"));
    if (gpu >= 0) return SeedlmEncodeCuda(info, c, gpu, std::move(keep));
  }
  // Encode: 64 blocks per chunk (milliseconds each, so progress and cancellation stay prompt).
  return StartKernelJob(info, c, Encode ? 64 : size_t(1) << 16, std::move(keep), 6 + Encode, RunSeedlm<Encode>);
}

Napi::Value Tables(const Napi::CallbackInfo& info) {
  const SeedlmTables& t = RequireTables(info, 0);
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("worstInverseError", t.worstInverseError);
  return out;
}

Napi::Value ExpMin(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "absMax must be a number");
  const float absMax = info[0].As<Napi::Number>().FloatValue();
  if (!(absMax >= 0) || !std::isfinite(absMax)) throw Napi::RangeError::New(info.Env(), "absMax must be finite and >= 0");
  return Napi::Number::New(info.Env(), seedlm_exp_min(absMax));
}

Napi::Value States(const Napi::CallbackInfo& info) {
  const SeedlmTables& t = RequireTables(info, 0);
  const unsigned seed = unsigned(RequireInt(info, 2, "seed", 1, kSeedCount));
  const size_t count = size_t(RequireInt(info, 3, "count", 0, 1 << 20));
  Napi::Uint16Array out = Napi::Uint16Array::New(info.Env(), count);
  for (size_t k = 0; k < count; ++k) out[k] = t.cycle[(t.where[seed] + k + 1) % kSeedCount];
  return out;
}

}  // namespace

void RegisterSeedlm(Napi::Env env, Napi::Object exports) {
  exports.Set("seedlmEncode", Napi::Function::New(env, SeedlmSync<true>, "seedlmEncode"));
  exports.Set("seedlmDecode", Napi::Function::New(env, SeedlmSync<false>, "seedlmDecode"));
  exports.Set("seedlmEncodeAsync", Napi::Function::New(env, SeedlmAsync<true>, "seedlmEncodeAsync"));
  exports.Set("seedlmDecodeAsync", Napi::Function::New(env, SeedlmAsync<false>, "seedlmDecodeAsync"));
  exports.Set("seedlmTables", Napi::Function::New(env, Tables, "seedlmTables"));
  exports.Set("seedlmStates", Napi::Function::New(env, States, "seedlmStates"));
  exports.Set("seedlmExpMin", Napi::Function::New(env, ExpMin, "seedlmExpMin"));
}

}  // namespace tz
