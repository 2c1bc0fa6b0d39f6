// seedlm entry points (definitions in cpu/seedlm.h), arguments by name:
//   seedlmEncode({ weights, C, P, eMin, keep?, seeds, fields, threads?, device? }, onProgress): the
//     seed search (keep 0, the default: exhaustive; keep K: the approximate mode's K best seeds by
//     least-squares error), parallel over blocks.
//   seedlmDecode({ out, C, P, eMin, seeds, fields, threads?, device? }, onProgress): the integer
//     decoder.
//   device: where the job runs (backend_table.h).
//   seedlmTables(C, P, absMax?) -> { worstInverseError, cycle, eMin? }: the tables' worst inverse
//   error, the LFSR's 65535 states in cycle order (the states after seed s follow s in it) and,
//   with absMax, the per-tensor exponent base.
// weights/out: Float32Array of n weights (the last block zero-padded); seeds: Uint16Array of
// ceil(n / C) blocks; fields: Uint8Array of (P + 1) bytes per block (e4, then q_p as int8).
// Row seedlm_search (kernel_row.h) takes the encoder's arguments.
#include <algorithm>
#include <cmath>

#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/quant/seedlm_tables.h"
#include "cpu_backend.h"
#include "kernel_row.h"

namespace tz {

namespace {

const SeedlmTables& Tables(Napi::Env env, int64_t C, int64_t P) {
  if (!((C == 8 && P == 3) || (C == 12 && P == 4))) throw Napi::RangeError::New(env, "seedlm supports C 8, P 3 and C 12, P 4");
  return seedlm_tables(unsigned(C), unsigned(P));
}

SeedlmCall ParseSeedlm(NamedArgs& a, bool encode) {
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

template <bool Encode>
Napi::Value Seedlm(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const SeedlmCall c = ParseSeedlm(a, Encode);
  return StartCapabilityJob(info, a, Encode ? backend_table().seedlmSearch : backend_table().seedlmDecode, c);
}

// seedlmTables(C, P, absMax?) -> { worstInverseError, cycle, eMin }: the tables' worst inverse
// error, the LFSR's states in cycle order, and with absMax the tensor's exponent base.
Napi::Value TablesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const SeedlmTables& t = Tables(env, RequireInt(info, 0, "C", 1, kSeedlmMaxC), RequireInt(info, 1, "P", 1, kSeedlmMaxP));
  Napi::Object out = Napi::Object::New(env);
  out.Set("worstInverseError", t.worstInverseError);
  Napi::Uint16Array cycle = Napi::Uint16Array::New(env, kSeedCount);
  std::copy(t.cycle.begin(), t.cycle.begin() + kSeedCount, cycle.Data());
  out.Set("cycle", cycle);
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    if (!info[2].IsNumber()) throw Napi::TypeError::New(env, "absMax must be a number");
    const float absMax = info[2].As<Napi::Number>().FloatValue();
    if (!(absMax >= 0) || !std::isfinite(absMax)) throw Napi::RangeError::New(env, "absMax must be finite and >= 0");
    out.Set("eMin", seedlm_exp_min(absMax));
  }
  return out;
}

}  // namespace

// The search capability's CPU implementation, on one thread, on the table given.
unsigned RunRow_seedlm_search(NamedArgs& a, const KernelTable& k) {
  const SeedlmCall c = ParseSeedlm(a, true);
  JobContext ctx;
  cpu_backend::seedlm_search(k, c, 1, ctx);
  return 0;
}

void RegisterSeedlm(Napi::Env env, Napi::Object exports) {
  exports.Set("seedlmEncode", Napi::Function::New(env, Seedlm<true>, "seedlmEncode"));
  exports.Set("seedlmDecode", Napi::Function::New(env, Seedlm<false>, "seedlmDecode"));
  exports.Set("seedlmTables", Napi::Function::New(env, TablesJs, "seedlmTables"));
}

}  // namespace tz
