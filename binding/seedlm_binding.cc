// seedlm entry points (definitions in cpu/seedlm.h), arguments by name:
//   seedlmEncode({ weights, C, P, eMin, keep?, seeds, fields, threads?, device?, cudaDevice? },
//     onProgress): the seed search (keep 0, the default: exhaustive; keep K: the approximate
//     mode's K best seeds by least-squares error), parallel over blocks. The exhaustive search
//     may run on the GPU ({ device: 'cuda', cudaDevice }) with the same result.
//   seedlmDecode({ out, C, P, eMin, seeds, fields, threads? }, onProgress): the integer decoder.
//   seedlmTables(C, P) -> { worstInverseError, cycle }: the tables' worst inverse error and the
//   LFSR's 65535 states in cycle order (the states after seed s follow s in it).
//   seedlmExpMin(absMax) -> the per-tensor exponent base.
// weights/out: Float32Array of n weights (the last block zero-padded); seeds: Uint16Array of
// ceil(n / C) blocks; fields: Uint8Array of (P + 1) bytes per block (e4, then q_p as int8).
// Row seedlm_search (kernel_row.h) takes the encoder's arguments.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "args.h"
#include "bindings.h"
#include "cpu/seedlm_tables.h"
#include "cuda_call.h"
#include "kernel_entry.h"
#include "kernel_row.h"

namespace tz {

namespace {

struct SeedlmRaw {
  float* w;
  uint16_t* seeds;
  uint8_t* fields;
  size_t n;  // blocks (the unit the kernel job iterates over)
  size_t weights;
  const SeedlmTables* t;
  int eMin;
  unsigned keep;
};

const SeedlmTables& Tables(Napi::Env env, int64_t C, int64_t P) {
  if (!((C == 8 && P == 3) || (C == 12 && P == 4))) throw Napi::RangeError::New(env, "seedlm supports C 8, P 3 and C 12, P 4");
  return seedlm_tables(unsigned(C), unsigned(P));
}

SeedlmRaw ParseSeedlm(NamedArgs& a, bool encode) {
  Napi::Env env = a.Env();
  Napi::TypedArray weights = a.array(encode ? "weights" : "out", napi_float32_array);
  const SeedlmTables& t = Tables(env, a.integer("C", 1, kSeedlmMaxC), a.integer("P", 1, kSeedlmMaxP));
  const int eMin = int(a.integer("eMin", kSeedlmMinExp, kSeedlmMaxExp));
  const unsigned shortlist = encode ? unsigned(a.optionalInteger("keep", 0, 0, SeedlmShortlist::kMax)) : 0;
  Napi::TypedArray seeds = a.array("seeds", napi_uint16_array);
  Napi::TypedArray fields = a.array("fields", napi_uint8_array);
  const size_t n = weights.ElementLength(), blocks = (n + t.C - 1) / t.C;
  if (seeds.ElementLength() != blocks)
    throw Napi::RangeError::New(env, "seeds must hold " + std::to_string(blocks) + " values, got " + std::to_string(seeds.ElementLength()));
  if (fields.ByteLength() != blocks * (t.P + 1))
    throw Napi::RangeError::New(env, "fields must hold " + std::to_string(blocks * (t.P + 1)) + " bytes, got " + std::to_string(fields.ByteLength()));
  RequireDisjoint(weights, seeds, "weights and seeds");
  RequireDisjoint(weights, fields, "weights and fields");
  RequireDisjoint(seeds, fields, "seeds and fields");
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

// The exhaustive search on the GPU (libtensorzip_cuda's tzc_seedlm_search gives each block's seed
// and exponent), then each block's fields on the CPU from them, as the CPU search derives them.
Napi::Value SeedlmEncodeCuda(const Napi::CallbackInfo& info, NamedArgs& a, const SeedlmRaw& c, int gpu) {
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
  return StartJob(env, std::move(work), {info.Length() > 1 ? info[1] : env.Undefined(), std::move(a.keep())});
}

template <bool Encode>
Napi::Value Seedlm(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const SeedlmRaw c = ParseSeedlm(a, Encode);
  if (Encode) {
    const int gpu = OptionalCudaDevice(info.Env(), a.object());
    if (gpu >= 0) return SeedlmEncodeCuda(info, a, c, gpu);
  }
  // Encode: 64 blocks per chunk (milliseconds each, so progress and cancellation stay prompt).
  return StartKernelJob(info, a, c, Encode ? 64 : size_t(1) << 16, RunSeedlm<Encode>);
}

Napi::Value TablesJs(const Napi::CallbackInfo& info) {
  const SeedlmTables& t = Tables(info.Env(), RequireInt(info, 0, "C", 1, kSeedlmMaxC), RequireInt(info, 1, "P", 1, kSeedlmMaxP));
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("worstInverseError", t.worstInverseError);
  Napi::Uint16Array cycle = Napi::Uint16Array::New(info.Env(), kSeedCount);
  std::copy(t.cycle.begin(), t.cycle.begin() + kSeedCount, cycle.Data());
  out.Set("cycle", cycle);
  return out;
}

Napi::Value ExpMin(const Napi::CallbackInfo& info) {
  if (!info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "absMax must be a number");
  const float absMax = info[0].As<Napi::Number>().FloatValue();
  if (!(absMax >= 0) || !std::isfinite(absMax)) throw Napi::RangeError::New(info.Env(), "absMax must be finite and >= 0");
  return Napi::Number::New(info.Env(), seedlm_exp_min(absMax));
}

}  // namespace

unsigned RunRow_seedlm_search(NamedArgs& a, const KernelTable& k) {
  const SeedlmRaw c = ParseSeedlm(a, true);
  RunSeedlm<true>(k, c, 0, c.n);
  return 0;
}

void RegisterSeedlm(Napi::Env env, Napi::Object exports) {
  exports.Set("seedlmEncode", Napi::Function::New(env, Seedlm<true>, "seedlmEncode"));
  exports.Set("seedlmDecode", Napi::Function::New(env, Seedlm<false>, "seedlmDecode"));
  exports.Set("seedlmTables", Napi::Function::New(env, TablesJs, "seedlmTables"));
  exports.Set("seedlmExpMin", Napi::Function::New(env, ExpMin, "seedlmExpMin"));
}

}  // namespace tz
