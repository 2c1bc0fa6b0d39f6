// rtn entry points (definition in cpu/rtn.h), arguments by name; jobs run over whole groups.
//   rtnEncode({ weights, dtype?, bits, group, codes, scales, importance?, measure?, threads?,
//     device? }, onProgress): with importance (one f32 >= 0 per weight, as llama.cpp's quantize
//     takes an imatrix) each group's scale minimises the importance-weighted error
//     (cpu/rtn_weighted.h); decoding is the same. measure: the job also decodes, rounds to dtype
//     and resolves with the error sums against the weights (cpu_backend.h rtn_measure).
//   rtnDecode({ out, dtype?, bits, group, codes, scales, threads?, device? }, onProgress): refuses
//     codes and scales no encoder writes (cpu/rtn.h).
// dtype 'F32' (default: a Float32Array) or 'BF16' / 'F16' (a Uint16Array of raw bits): the job
// converts to and from f32 on its threads. device: where the job runs (backend_table.h).
// Rows rtn_encode and rtn_decode (kernel_row.h) take the same arguments, F32 only, without
// importance.
#include "args.h"
#include "backend_table.h"
#include "bindings.h"
#include "cpu/codec/ggml_blocks.h"
#include "cpu/codec/bitpack.h"
#include "cpu/quant/rtn.h"
#include "cpu_backend.h"
#include "kernel_row.h"

namespace tz {

namespace {

// A call and the weights as given: for 16-bit dtypes c.w is left null (the job fills it).
struct RtnArgs {
  RtnCall c;
  void* raw;
  FloatType type;
};

// Checks the sizes the packed layout implies (rtn.h).
RtnArgs ParseRtn(NamedArgs& a, bool encode, bool importance) {
  Napi::Env env = a.Env();
  const std::string dtype = a.has("dtype") ? a.string("dtype") : "F32";
  if (dtype != "F32" && dtype != "BF16" && dtype != "F16") throw Napi::TypeError::New(env, "dtype must be 'F32', 'BF16' or 'F16', got '" + dtype + "'");
  const FloatType type = dtype == "F32" ? FloatType::F32 : dtype == "BF16" ? FloatType::BF16 : FloatType::F16;
  Napi::TypedArray weights = a.array(encode ? "weights" : "out", type == FloatType::F32 ? napi_float32_array : napi_uint16_array);
  const unsigned bits = unsigned(a.integer("bits", 2, 8));
  const size_t group = size_t(a.integer("group", 8, 1 << 20));
  if (group % 8) throw Napi::RangeError::New(env, "group must be a multiple of 8");
  Napi::TypedArray codes = a.array("codes", napi_uint8_array);
  Napi::TypedArray scales = a.array("scales", napi_uint16_array);
  const size_t n = weights.ElementLength();
  const size_t wantCodes = packed_bytes(n, bits), wantScales = (n + group - 1) / group;
  if (codes.ByteLength() != wantCodes)
    throw Napi::RangeError::New(env, "codes must hold " + std::to_string(wantCodes) + " bytes, got " + std::to_string(codes.ByteLength()));
  if (scales.ElementLength() != wantScales)
    throw Napi::RangeError::New(env, "scales must hold " + std::to_string(wantScales) + " values, got " + std::to_string(scales.ElementLength()));
  RequireDisjoint(weights, codes, "weights and codes");
  RequireDisjoint(weights, scales, "weights and scales");
  RequireDisjoint(codes, scales, "codes and scales");
  void* raw = TypedArrayBytes(weights);
  const RtnCall c{type == FloatType::F32 ? static_cast<float*>(raw) : nullptr, TypedArrayBytes(codes), reinterpret_cast<uint16_t*>(TypedArrayBytes(scales)), n, group, bits,
                  importance ? a.nonNegative("importance", n, "weight") : nullptr};
  return {c, raw, type};
}

RtnCall F32Only(NamedArgs& a, bool encode) {
  const RtnArgs r = ParseRtn(a, encode, false);
  if (r.type != FloatType::F32) throw Napi::TypeError::New(a.Env(), "the rtn rows take F32 weights");
  return r.c;
}

template <bool Encode>
Napi::Value Rtn(const Napi::CallbackInfo& info) {
  NamedArgs a(info, 0);
  const RtnArgs r = ParseRtn(a, Encode, Encode);
  const bool measure = Encode && a.get("measure").ToBoolean();
  const Capability<RtnCall>* row = Encode ? &backend_table().rtnEncode : &backend_table().rtnDecode;
  const Placement p = Place(*row, DeviceRequest(a), r.c);
  const unsigned threads = a.threads();
  JobWork work = [row, p, r, measure, threads](JobContext& ctx) -> JobResult {
    RtnCall c = r.c;
    std::vector<float> wide(r.type == FloatType::F32 ? 0 : c.n);
    if (!wide.empty()) c.w = wide.data();
    if (Encode && !wide.empty()) cpu_backend::widen(kernels(), r.type, r.raw, c.w, c.n, threads, ctx);
    Run(*row, p, c, threads, ctx);
    if (!Encode && !wide.empty()) cpu_backend::narrow(kernels(), r.type, c.w, r.raw, c.n, threads, ctx);
    if (!measure) return nullptr;
    const ErrorSums s = cpu_backend::rtn_measure(kernels(), c, r.raw, r.type, threads, ctx);
    return [s](Napi::Env env) -> Napi::Value { return ErrorSumsObject(env, s); };
  };
  return StartJob(info.Env(), std::move(work), {info.Length() > 1 ? info[1] : info.Env().Undefined(), std::move(a.keep())});
}

}  // namespace

unsigned RunRow_rtn_encode(NamedArgs& a, const KernelTable& k) {
  const RtnCall c = F32Only(a, true);
  k.rtn_encode(c.w, c.n, c.bits, c.group, c.packed, c.scales);
  return 0;
}

unsigned RunRow_rtn_decode(NamedArgs& a, const KernelTable& k) {
  const RtnCall c = F32Only(a, false);
  return k.rtn_decode(c.packed, c.scales, c.n, c.bits, c.group, c.w);
}

// rtnGgmlBlocks({ bits: 4 | 5 | 8, codes, scales, out }): the codes and f16 scales of rtn groups of
// 32 as ggml Q4_0 / Q5_0 / Q8_0 blocks (cpu/codec/ggml_blocks.h), synchronous (one chunk at a time).
Napi::Value RtnGgmlBlocks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  NamedArgs a(info, 0);
  const unsigned bits = unsigned(a.integer("bits", 1, 8));
  const size_t blockBytes = ggml_block_bytes(bits);
  if (!blockBytes) throw Napi::RangeError::New(env, "bits must be 4, 5 or 8 (Q4_0, Q5_0, Q8_0)");
  Napi::TypedArray codes = a.array("codes", napi_uint8_array), scales = a.array("scales", napi_uint16_array), out = a.array("out", napi_uint8_array);
  const size_t groups = scales.ElementLength();
  if (codes.ByteLength() != groups * 32 * bits / 8) throw Napi::RangeError::New(env, "codes must hold 32 codes per scale");
  if (out.ByteLength() != groups * blockBytes) throw Napi::RangeError::New(env, "out must hold one block per scale");
  try {
    rtn_to_ggml_blocks(TypedArrayBytes(codes), reinterpret_cast<const uint16_t*>(TypedArrayBytes(scales)), groups, bits, TypedArrayBytes(out));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
  return env.Undefined();
}

void RegisterRtn(Napi::Env env, Napi::Object exports) {
  exports.Set("rtnGgmlBlocks", Napi::Function::New(env, RtnGgmlBlocks, "rtnGgmlBlocks"));
  exports.Set("rtnEncode", Napi::Function::New(env, Rtn<true>, "rtnEncode"));
  exports.Set("rtnDecode", Napi::Function::New(env, Rtn<false>, "rtnDecode"));
}

}  // namespace tz
